"""Read FHIR R4 files (Bundles, single resources, Bulk Data NDJSON) into the events table.

The fast path parses with orjson and pulls out only the fields the rules of
docs/data-model.md name (`ramultimodal.io._fhir_resources`), appending to one list per
column, one NDJSON line or one Bundle at a time: memory holds the events, never the JSON.
Validation against the ``fhir.resources`` R4B models is about 25x slower than parsing
(../shared/LEADS.md), so it runs only when asked.
"""

from __future__ import annotations

import gzip
import os
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd

from ramultimodal.io._events import as_events
from ramultimodal.io._fhir_resources import EXTRACTORS, ResourceProblem, code_of

__all__ = ["FHIRReadError", "ReadProblem", "ReadReport", "read_fhir"]

_SUFFIXES = (".json", ".ndjson", ".json.gz", ".ndjson.gz")
_NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
#: Problems kept in a report with their details; the rest are only counted.
MAX_PROBLEMS = 100
_WHAT_TO_DO = "Fix the input, or pass errors='skip' to skip and count such resources."


class FHIRReadError(ValueError):
    """Input that `read_fhir` cannot turn into events.

    Attributes
    ----------
    problems : list of ReadProblem
        Every problem found (all validation failures, or the one that stopped reading).
    """

    def __init__(self, message: str, problems: list[ReadProblem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class ReadProblem:
    """One resource or line that could not be read.

    ``line`` is the NDJSON line (1-based); ``entry`` the Bundle entry index (0-based);
    ``resource`` is ``"Type/id"`` (only ``"Patient"`` for patients: their id identifies
    the person).
    """

    file: str
    line: int | None
    entry: int | None
    resource: str | None
    reason: str
    message: str

    @property
    def where(self) -> str:
        """``file, line 3, entry 7, Observation/abc``: where to look."""
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.entry is not None:
            parts.append(f"entry {self.entry}")
        if self.resource:
            parts.append(self.resource)
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ReadReport:
    """What `read_fhir` read, ignored and skipped; ``events.attrs["read_report"]``.

    Attributes
    ----------
    resources : Counter
        Resources turned into events (or used, as Medication), by type.
    ignored : Counter
        Resources of types that give no events (Claim, Immunization...), by type.
    skipped : Counter
        Resources or lines skipped with ``errors="skip"``, by reason.
    values_unread : Counter
        Values of types the rules do not read (``valueRange``, ``valueAttachment``...),
        by type: their event is kept without a value.
    problems : list of ReadProblem
        The first `MAX_PROBLEMS` problems, with file, line and resource.
    files : int
        Files read.
    files_ignored : int
        Files in a directory without a FHIR suffix (.json, .ndjson, and .gz).
    events : int
        Rows of the events table.
    """

    resources: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[ReadProblem] = field(default_factory=list)
    values_unread: Counter[str] = field(default_factory=Counter)
    files: int = 0
    files_ignored: int = 0
    events: int = 0

    def __str__(self) -> str:
        # Counts and locations only: no patient identifiers, no resource ids.
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{key} {n}" for key, n in counter.most_common()) or "none"

        lines = [
            f"{self.events} events from {sum(self.resources.values())} resources in "
            f"{self.files} files",
            f"read: {counts(self.resources)}",
            f"ignored by type: {counts(self.ignored)}",
            f"skipped: {counts(self.skipped)}",
        ]
        if self.values_unread:
            lines.append(f"values not read (the fact is kept): {counts(self.values_unread)}")
        if self.files_ignored:
            lines.append(f"files ignored (not .json/.ndjson[.gz]): {self.files_ignored}")
        if self.problems:
            # File names are left out too: Synthea names bundles after the patient.
            lines.append(f"{len(self.problems)} problems with file, line and resource in .problems")
        return "\n".join(lines)


class _Reader:
    """Collects events column by column, and the report (the `EventSink` of extractors)."""

    def __init__(self, validate: bool, errors: str) -> None:
        self.validate = validate
        self.errors = errors
        self.report = ReadReport()
        self.subjects: list[str] = []
        self.times: list[str | None] = []
        self.codes: list[str | None] = []
        self.numerics: list[float | None] = []
        self.texts: list[str | None] = []
        self.units: list[str | None] = []
        self.sources: list[str] = []
        # Where each file's events start: to name the file (and, read again, the line) of
        # an event whose time turns out to be unparseable when all are converted at once.
        self.file_starts: list[int] = []
        self.file_paths: list[tuple[Path | None, str]] = []
        self.invalid: list[ReadProblem] = []
        # Medication references resolved at the end: Medications may come later.
        self.medications: dict[str, str] = {}
        self.pending: list[tuple[int, str, tuple[str, int | None, int | None, str]]] = []
        # Current position, for messages.
        self.file = "<input>"
        self.line: int | None = None
        self.entry: int | None = None
        self.source = ""
        self.refs: Mapping[str, tuple[str, str]] = {}
        self.subject_cache: dict[str, str] = {}
        self.own_uuid: str | None = None

    # -- the EventSink protocol -------------------------------------------------------
    def patient_id(self, resource: dict[str, Any]) -> str:
        subject = resource.get("id") or self.own_uuid
        if not subject:
            raise ResourceProblem("no subject", "the Patient has no id")
        return subject

    def subject(self, resource: dict[str, Any]) -> str:
        reference = resource.get("subject") or resource.get("patient")
        try:  # the usual case: a reference seen before
            return self.subject_cache[reference["reference"]]
        except (KeyError, TypeError):
            pass
        reference = reference.get("reference") if isinstance(reference, dict) else None
        if not reference:
            raise ResourceProblem(
                "no subject", "it has no subject reference, so its events belong to no patient"
            )
        if reference.startswith("urn:"):
            # Bundle-local; with no entry of that fullUrl, Synthea's uuid is the id.
            kind, subject = self.refs.get(reference, ("Patient", reference.rsplit(":")[-1]))
        else:
            # "Patient/id", "http://server/fhir/Patient/id", ".../_history/2"
            parts = reference.split("/_history/")[0].rstrip("/").split("/")
            kind, subject = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
        if kind != "Patient" or not subject:
            raise ResourceProblem(
                "no subject", f"its subject is a {kind or 'malformed'} reference, not a Patient"
            )
        if not reference.startswith("urn:") or reference in self.refs:
            self.subject_cache[reference] = subject
        return subject

    def add(
        self,
        subject: str,
        time: str | None,
        code: str | None,
        numeric: float | None,
        text: str | None,
        unit: str | None,
    ) -> None:
        self.subjects.append(subject)
        self.times.append(time)
        self.codes.append(code)
        self.numerics.append(numeric)
        self.texts.append(text)
        self.units.append(unit)
        self.sources.append(self.source)

    def add_medication(self, subject: str, time: str | None, reference: str) -> None:
        self.pending.append((len(self.codes), self.medication_key(reference), self.position()))
        self.add(subject, time, None, None, None, None)

    # -- problems ---------------------------------------------------------------------
    def position(self) -> tuple[str, int | None, int | None, str]:
        return (self.file, self.line, self.entry, self.source)

    def problem(self, reason: str, message: str, position: tuple | None = None) -> None:
        file, line, entry, source = position or self.position()
        found = ReadProblem(file, line, entry, _public(source) or None, reason, message)
        if self.errors == "raise":
            earlier = (
                f" ({len(self.invalid)} resources before it fail R4B validation: see "
                "error.problems)"
                if self.invalid
                else ""
            )
            raise FHIRReadError(
                f"{found.where}: {message}{earlier}. {_WHAT_TO_DO}", [*self.invalid, found]
            )
        self.report.skipped[reason] += 1
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(found)

    # -- resources --------------------------------------------------------------------
    def resource(self, resource: Any, own_uuid: str | None = None) -> None:
        kind = resource.get("resourceType") if type(resource) is dict else None
        if type(kind) is not str:
            self.source = ""
            self.problem("not FHIR", "not a FHIR resource (no resourceType)")
            return
        self.source = f"{kind}/{resource.get('id', '')}"
        if self.validate and not self.is_valid(resource):
            return
        if kind == "Bundle":
            self.bundle(resource)
            return
        extract = EXTRACTORS.get(kind)
        if extract is None:
            if kind == "Medication":
                self.medication(resource, own_uuid)
            else:
                self.report.ignored[kind] += 1
            return
        self.own_uuid = own_uuid
        start = len(self.codes)
        try:
            extract(resource, self)
        except ResourceProblem as problem:
            del self.subjects[start:], self.times[start:], self.codes[start:]
            del self.numerics[start:], self.texts[start:], self.units[start:]
            del self.sources[start:]
            self.pending = [p for p in self.pending if p[0] < start] if self.pending else []
            self.problem(problem.reason, str(problem))
            return
        self.report.resources[kind] += 1

    def unread(self, value_type: str) -> None:
        self.report.values_unread[value_type] += 1

    def medication(self, resource: dict[str, Any], own_uuid: str | None) -> None:
        self.report.resources["Medication"] += 1
        code = code_of(resource.get("code"))
        identifier = resource.get("id") or own_uuid
        if code is not None and identifier:  # else a reference to it is reported
            self.medications["Medication/" + identifier] = code

    def medication_key(self, reference: str) -> str:
        """``Medication/<id>`` for a reference (urn:uuid through the Bundle, or a URL)."""
        if reference in self.refs:
            kind, identifier = self.refs[reference]
            return f"{kind}/{identifier}"
        if reference.startswith("urn:"):
            return "Medication/" + reference.rsplit(":")[-1]  # Synthea: the uuid is the id
        return "/".join(reference.split("/_history/")[0].rstrip("/").split("/")[-2:])

    def bundle(self, bundle: dict[str, Any]) -> None:
        entries = bundle.get("entry") or ()
        # fullUrl -> (type, id) for urn:uuid references (Synthea: the uuid equals the id;
        # a resource without an id is known by its fullUrl's uuid).
        refs: dict[str, tuple[str, str]] = {}
        for item in entries:
            full_url, resource = item.get("fullUrl"), item.get("resource")
            if full_url and isinstance(resource, dict):
                refs[full_url] = (
                    resource.get("resourceType", ""),
                    resource.get("id") or full_url.rsplit(":")[-1].rsplit("/")[-1],
                )
        outer_refs, outer_entry = self.refs, self.entry
        self.refs = refs
        try:
            for index, item in enumerate(entries):
                if "resource" not in item:
                    self.report.ignored["Bundle entry without resource"] += 1
                    continue
                self.entry = index
                full_url = item.get("fullUrl")
                own = refs[full_url][1] if full_url in refs else None
                self.resource(item["resource"], own)
        finally:
            self.refs, self.entry = outer_refs, outer_entry

    def is_valid(self, resource: dict[str, Any]) -> bool:
        problem = _validation_problem(resource)
        if problem is None:
            return True
        found = ReadProblem(
            self.file, self.line, self.entry, _public(self.source) or None, "invalid", problem
        )
        # errors="raise" reads on, to report every failure at the end.
        self.invalid.append(found)
        if self.errors == "skip":
            self.report.skipped["invalid"] += 1
            if len(self.report.problems) < MAX_PROBLEMS:
                self.report.problems.append(found)
        return False

    # -- files ------------------------------------------------------------------------
    def path(self, path: Path, name: str) -> None:
        self.file, self.line, self.entry = name, None, None
        self.start_file(path, name)
        self.report.files += 1
        opener = gzip.open if path.name.endswith(".gz") else open
        if path.name.endswith(_NDJSON_SUFFIXES):
            with opener(path, "rb") as lines:
                self.ndjson(lines)
            return
        with opener(path, "rb") as stream:
            text = stream.read()
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            self.problem("malformed JSON", f"not valid JSON ({error})")
            return
        self.resource(document)

    def ndjson(self, lines: Iterable[bytes]) -> None:
        loads, resource = orjson.loads, self.resource
        for number, line in enumerate(lines, 1):
            self.line = number
            try:
                document = loads(line)
            except orjson.JSONDecodeError as error:
                if not line.strip():
                    continue  # blank lines are allowed between resources
                self.source = ""
                self.problem("malformed JSON", f"not a JSON resource ({error})")
                continue
            resource(document)

    def start_file(self, path: Path | None, name: str) -> None:
        self.file_starts.append(len(self.codes))
        self.file_paths.append((path, name))

    # -- the table --------------------------------------------------------------------
    def resource_at(self, index: int) -> tuple[int, int, tuple]:
        """The event range of the resource that gave event `index`, and its position.

        A resource's events are contiguous and share one `source` string object. Its line
        or entry is found by reading its file again: this runs only for bad input.
        """
        sources, source = self.sources, self.sources[index]
        start, end = index, index + 1
        while start > 0 and sources[start - 1] is source:
            start -= 1
        while end < len(sources) and sources[end] is source:
            end += 1
        path, name = self.file_paths[bisect_right(self.file_starts, index) - 1]
        line, entry = _locate(path, source) if path is not None else (None, None)
        return start, end, (name, line, entry, source)

    def events(self) -> pd.DataFrame:
        if self.invalid and self.errors == "raise":
            listed = "\n".join(f"  {problem}" for problem in self.invalid[:50])
            more = len(self.invalid) - 50
            raise FHIRReadError(
                f"{len(self.invalid)} resources fail FHIR R4B validation:\n{listed}"
                + (f"\n  ... and {more} more (see error.problems)" if more > 0 else "")
                + f"\n{_WHAT_TO_DO}",
                self.invalid,
            )
        dropped: list[tuple[int, int]] = []  # event ranges of resources skipped late
        for index, key, position in self.pending:
            code = self.medications.get(key)
            self.codes[index] = code
            if code is None:
                self.problem(
                    "unresolved reference",
                    "its Medication reference is not in the input (or that Medication has no code)",
                    position,
                )
                dropped.append(self.resource_at(index)[:2])
        raw_times = pd.Series(self.times, dtype=object)
        self.times.clear()
        times = pd.to_datetime(raw_times, utc=True, format="ISO8601", errors="coerce")
        for index in np.flatnonzero(times.isna().to_numpy() & raw_times.notna().to_numpy()):
            start, end, position = self.resource_at(int(index))
            if (start, end) not in dropped:
                self.problem("bad time", "a time is not a FHIR date or dateTime", position)
                dropped.append((start, end))
        del raw_times
        frame = pd.DataFrame(
            {
                "subject_id": self.subjects,
                "time": times,
                "code": self.codes,
                "numeric_value": np.array(self.numerics, dtype=np.float64),
                "text_value": self.texts,
                "unit": self.units,
                "source": self.sources,
            }
        )
        for column in (
            self.subjects,
            self.codes,
            self.numerics,
            self.texts,
            self.units,
            self.sources,
        ):
            column.clear()
        if dropped:
            keep = np.ones(len(frame), dtype=bool)
            for start, end in dropped:
                keep[start:end] = False
            frame = frame[keep]
        events = as_events(frame)
        self.report.events = len(events)
        events.attrs["read_report"] = self.report
        return events


def _locate(path: Path, source: str) -> tuple[int | None, int | None]:
    """(NDJSON line, Bundle entry) of the first resource named `source` in `path`."""

    def entry_of(document: Any) -> int | None:
        for index, item in enumerate(document.get("entry") or ()):
            resource = item.get("resource") or {}
            if f"{resource.get('resourceType')}/{resource.get('id', '')}" == source:
                return index
        return None

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as stream:
        if not path.name.endswith(_NDJSON_SUFFIXES):
            document = orjson.loads(stream.read())
            return None, entry_of(document) if document.get("resourceType") == "Bundle" else None
        for number, line in enumerate(stream, 1):
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if f"{document.get('resourceType')}/{document.get('id', '')}" == source:
                return number, None
            if (
                document.get("resourceType") == "Bundle"
                and (found := entry_of(document)) is not None
            ):
                return number, found
    return None, None


def _public(source: str) -> str:
    """A resource's name for messages: a Patient's id identifies the person."""
    return "Patient" if source.startswith("Patient/") else source


_models: dict[str, Any] = {}


def _validation_problem(resource: dict[str, Any]) -> str | None:
    """Validate one resource with its ``fhir.resources.R4B`` model; a message or None.

    A Bundle is validated without its entries' resources, which are validated one by one
    so that each failure names its entry.
    """
    from pydantic import ValidationError

    kind = resource["resourceType"]
    model = _models.get(kind)
    if model is None:
        # Imported lazily: the R4B models cost ~0.2 s to import (../shared/LEADS.md).
        from fhir.resources.R4B import get_fhir_model_class

        try:
            model = _models[kind] = get_fhir_model_class(kind)
        except (KeyError, ValueError):
            return f"{kind!r} is not an R4 resource type"
    if kind == "Bundle":
        resource = {
            **resource,
            "entry": [
                {key: value for key, value in item.items() if key != "resource"}
                for item in resource.get("entry") or ()
            ],
        }
        if not resource["entry"]:
            del resource["entry"]
    try:
        model.model_validate(resource)
    except ValidationError as error:
        # Locations and messages only: the offending values may identify the patient.
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()[:5]
        )
        return f"fails R4B validation ({error.error_count()} errors): {details}"
    return None


def _files(directory: Path) -> tuple[list[Path], int]:
    files, ignored = [], 0
    for root, _, names in os.walk(directory):
        for name in names:
            if name.endswith(_SUFFIXES):
                files.append(Path(root) / name)
            else:
                ignored += 1
    return sorted(files), ignored


def read_fhir(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    validate: bool = False,
    errors: Literal["raise", "skip"] = "raise",
    verbose: int = 0,
) -> pd.DataFrame:
    """Read FHIR R4 resources into the events table.

    Follows docs/data-model.md, "From FHIR R4 resources to events": Patient, Observation
    (values in their concept's canonical unit, components), Condition, Procedure,
    Encounter, DiagnosticReport, MedicationRequest/Statement (code or referenced
    Medication), QuestionnaireResponse (``QR/<linkId>``) and ImagingStudy
    (``DICOM/<modality>``). Other resource types are counted in the report as ignored.

    Parameters
    ----------
    source : path, mapping or iterable of mappings
        A file (a Bundle of any type, a single resource, or NDJSON: ``.ndjson``), each
        optionally gzipped (``.gz``); a directory, read recursively (``*.json``,
        ``*.ndjson``, and their ``.gz``); a resource as a dict; or an iterable of them.
    validate : bool, default False
        Also validate each resource with its ``fhir.resources.R4B`` model (about 25x
        slower). Every failure is reported with file, line or entry, and resource id.
    errors : {"raise", "skip"}, default "raise"
        On a malformed line, a non-FHIR document, a resource without a subject, an
        unknown unit or an unresolved reference: raise `FHIRReadError` at once, or skip
        the resource and count it in the report. Validation failures are all collected
        before raising.
    verbose : int, default 0
        Show a progress bar over files (or resources of an iterable) when > 0.

    Returns
    -------
    DataFrame
        The events table (`ramultimodal.io.EVENT_COLUMNS`); ``events.attrs["read_report"]``
        holds a `ReadReport`: resources read and ignored by type, skipped by reason.

    Raises
    ------
    FHIRReadError
        Naming the file, line (or Bundle entry) and resource, and what to do.

    Examples
    --------
    >>> events = read_fhir([
    ...     {"resourceType": "Patient", "id": "p1", "gender": "female",
    ...      "birthDate": "1960-04"},
    ...     {"resourceType": "Observation", "id": "o1", "status": "final",
    ...      "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-02",
    ...      "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
    ...      "valueQuantity": {"value": 1.2, "system": "http://unitsofmeasure.org",
    ...                        "code": "mg/dL"}},
    ... ])
    >>> events[["time", "code", "numeric_value", "unit"]]
            time           code  numeric_value  unit
    0        NaT  GENDER/female            NaN  <NA>
    1 1960-04-01     MEDS_BIRTH            NaN  <NA>
    2 2020-01-02   LOINC/1988-5           12.0  mg/L
    >>> print(events.attrs["read_report"].resources)
    Counter({'Patient': 1, 'Observation': 1})
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    from tqdm.auto import tqdm

    reader = _Reader(validate, errors)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files, reader.report.files_ignored = _files(path)
            for file in tqdm(files, disable=verbose <= 0, unit="file", desc="read_fhir"):
                reader.path(file, str(file.relative_to(path)))
        elif path.is_file():
            reader.path(path, path.name)
        else:
            raise FileNotFoundError(f"No FHIR file or directory at {path}")
    else:
        items: Iterator[Any] = iter([source] if isinstance(source, Mapping) else source)
        reader.start_file(None, "<input>")
        for number, item in enumerate(
            tqdm(items, disable=verbose <= 0, unit="resource", desc="read_fhir"), 1
        ):
            reader.file, reader.line = "<input>", number
            reader.resource(dict(item) if isinstance(item, Mapping) else item)
    return reader.events()
