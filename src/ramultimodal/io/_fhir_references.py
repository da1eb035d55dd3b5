"""What a FHIR reference points at: a resource's patient, a request's Medication.

A reference is REST-style (``Patient/id``, a full URL, ``.../_history/2``) or a
``urn:uuid:`` that names a ``fullUrl`` of its own Bundle. A urn is local to its Bundle:
two Bundles may give the same urn to two patients, so only REST references are remembered
across the input. Synthea writes the uuid as the resource's id, so a urn without an entry
of that ``fullUrl`` is taken to name the resource of that id.

Medications may come after the requests that refer to them: their codes are collected
here and looked up once everything is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ramultimodal.io._fhir_datatypes import ResourceProblem, malformed

__all__ = ["References", "bundle_references"]


class References:
    """The references of the input, resolved.

    Attributes
    ----------
    bundle : mapping
        ``fullUrl`` -> (type, id) of the Bundle being read (`bundle_references`).
    own_id : str or None
        The id that the resource being read has by its ``fullUrl``, when it has none.
    medications : dict
        ``Medication/<id>`` -> the Medication's events code.
    """

    def __init__(self) -> None:
        self.bundle: Mapping[str, tuple[str, str]] = {}
        self.subjects: dict[str, str] = {}
        self.own_id: str | None = None
        self.medications: dict[str, str] = {}

    def patient_id(self, resource: dict[str, Any]) -> str:
        """A Patient's subject_id: its id, else its ``fullUrl``'s."""
        subject = resource.get("id") or self.own_id
        if not subject:
            raise ResourceProblem("no subject", "the Patient has no id")
        if subject.__class__ is not str:
            raise malformed("id", subject, "a string")
        return subject

    def subject(self, resource: dict[str, Any]) -> str:
        """The subject_id of the patient a resource's ``subject`` (or ``patient``) names."""
        reference = resource.get("subject") or resource.get("patient")
        try:  # the usual case: a reference seen before
            return self.subjects[reference["reference"]]
        except (KeyError, TypeError):
            pass
        if reference.__class__ is not dict and reference:
            raise malformed("subject", reference, "a Reference object")
        reference = reference.get("reference") if reference else None
        if not reference:
            raise ResourceProblem(
                "no subject", "it has no subject reference, so its events belong to no patient"
            )
        if reference.__class__ is not str:
            raise malformed("subject.reference", reference, "a string")
        if reference.startswith("urn:"):
            # Bundle-local; with no entry of that fullUrl, Synthea's uuid is the id.
            kind, subject = self.bundle.get(reference, ("Patient", reference.rsplit(":")[-1]))
        else:
            # "Patient/id", "http://server/fhir/Patient/id", ".../_history/2"
            parts = reference.split("/_history/")[0].rstrip("/").split("/")
            kind, subject = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
        if kind != "Patient" or not subject:
            raise ResourceProblem(
                "no subject", f"its subject is a {kind or 'malformed'} reference, not a Patient"
            )
        # A urn:uuid reference is local to its Bundle: another Bundle may give the same urn
        # to another patient, so only REST references are remembered across Bundles.
        if not reference.startswith("urn:"):
            self.subjects[reference] = subject
        return subject

    def medication_key(self, reference: str) -> str:
        """``Medication/<id>`` for a reference (urn:uuid through the Bundle, or a URL)."""
        if reference in self.bundle:
            kind, identifier = self.bundle[reference]
            return f"{kind}/{identifier}"
        if reference.startswith("urn:"):
            return "Medication/" + reference.rsplit(":")[-1]  # Synthea: the uuid is the id
        return "/".join(reference.split("/_history/")[0].rstrip("/").split("/")[-2:])

    def medication(self, identifier: Any, code: str | None) -> None:
        """Remember the code of the Medication `identifier`; None forgets an earlier one."""
        if identifier.__class__ is str and identifier:
            if code is not None:
                self.medications["Medication/" + identifier] = code
            else:  # a reference to it is reported (a newer version may have lost its code)
                self.medications.pop("Medication/" + identifier, None)

    @contextmanager
    def within(self, bundle: Mapping[str, tuple[str, str]]) -> Iterator[None]:
        """urn:uuid references resolve through `bundle` while its entries are read."""
        outer, self.bundle = self.bundle, bundle
        try:
            yield
        finally:
            self.bundle = outer


def bundle_references(entries: list[Any]) -> dict[str, tuple[str, str]]:
    """``fullUrl`` -> (type, id) of a Bundle's entries, for urn:uuid references.

    Synthea: the uuid equals the id; a resource without an id is known by its fullUrl's
    uuid. Entries that are not objects with a resource are left out (reported by the
    reader).
    """
    references: dict[str, tuple[str, str]] = {}
    for item in entries:
        if item.__class__ is not dict:
            continue  # reported by the reader
        full_url, resource = item.get("fullUrl"), item.get("resource")
        if full_url and full_url.__class__ is str and resource.__class__ is dict:
            references[full_url] = (
                resource.get("resourceType", ""),
                resource.get("id") or full_url.rsplit(":")[-1].rsplit("/")[-1],
            )
    return references
