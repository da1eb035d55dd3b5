"""The FHIR reader: each resource to its events by the rules, or to a problem or a count.

`FHIRReader` is the `EventSink` of the extractors (`ramultimodal.io._fhir_resources`): it
hands each resource to its extractor, and the events to the columns, after the checks that
come before the rules (a status that says the fact did not happen, validation when asked)
and with those after them (another version of the same resource). It walks Bundles, whose
``urn:uuid`` references resolve through their own entries. When all is read, `events`
looks up the Medications, parses the times and makes the events table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.io._events import as_events, parse_times
from ramultimodal.io._fhir_columns import EventColumns
from ramultimodal.io._fhir_datatypes import ResourceProblem, code_of, json_type, malformed
from ramultimodal.io._fhir_files import read_file
from ramultimodal.io._fhir_positions import Cursor, Position, locate
from ramultimodal.io._fhir_problems import (
    UNRESOLVED_MEDICATION,
    FHIRReadError,
    ProblemLog,
    not_fhir,
)
from ramultimodal.io._fhir_references import References, bundle_references
from ramultimodal.io._fhir_resources import DROPPED_STATUSES, EXTRACTORS, dropped_status
from ramultimodal.io._fhir_validation import validation_problem
from ramultimodal.io._fhir_versions import Versions
from ramultimodal.io._read_report import ReadReport

__all__ = ["FHIRReader"]

# What a field of an unexpected JSON type raises in an extractor (the last line of defence
# behind the extractors' own checks, which name the field).
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)
_ANY_DROPPED_STATUS = frozenset().union(*DROPPED_STATUSES.values())


class FHIRReader:
    """Reads resources into event columns, and counts what it reads in a `ReadReport`.

    Parameters
    ----------
    validate : bool
        Validate each resource with ``fhir.resources`` first.
    errors : {"raise", "skip"}
        What a problem does (`ProblemLog`).
    """

    def __init__(self, validate: bool, errors: str) -> None:
        self.validate = validate
        self.report = ReadReport()
        self.columns = EventColumns()
        self.cursor = Cursor()
        self.problems = ProblemLog(errors, self.report, self.cursor)
        self.references = References()
        self.versions = Versions(
            self.columns, self.cursor, self.report, self.problems, self.references
        )

    # -- the EventSink protocol -------------------------------------------------------
    def patient_id(self, resource: dict[str, Any]) -> str:
        return self.references.patient_id(resource)

    def subject(self, resource: dict[str, Any]) -> str:
        return self.references.subject(resource)

    def add(
        self,
        subject: str,
        time: str | None,
        code: str | None,
        numeric: float | None,
        text: str | None,
        unit: str | None,
    ) -> None:
        if time.__class__ is not str and time is not None:
            # A number would pass for a year ("2020") in the table: refused instead.
            raise malformed("time", time, "a FHIR dateTime string")
        self.columns.add(subject, time, code, numeric, text, unit, self.cursor.source)

    def add_medication(self, subject: str, time: str | None, reference: str) -> None:
        key = self.references.medication_key(reference)
        self.columns.pending.append((len(self.columns), key, self.cursor.here()))
        self.add(subject, time, None, None, None, None)

    def unread(self, value_type: str) -> None:
        self.report.values_unread[value_type] += 1

    # -- resources --------------------------------------------------------------------
    def resource(self, resource: Any, own_id: str | None = None) -> None:
        """Read one parsed document: a resource, a Bundle of them, or a problem."""
        cursor = self.cursor
        kind = resource.get("resourceType") if type(resource) is dict else None
        if type(kind) is not str:
            cursor.source = ""
            self.problems.add("not FHIR", not_fhir(resource))
            return
        identifier = resource.get("id")
        # As resource_name, inlined: this runs for every resource.
        cursor.source = f"{kind}/{identifier}" if identifier is not None else kind + "/"
        if self.validate and not self.is_valid(resource):
            return
        if kind == "Bundle":
            self.bundle(resource)
            return
        extract = EXTRACTORS.get(kind)
        if extract is None:
            if kind == "Medication":
                self.medication(resource, own_id)
            else:
                self.report.ignored[kind] += 1
            return
        start = len(self.columns.codes)
        # One set lookup for most resources; a Condition's is its verificationStatus.
        status = resource.get("status")
        if (status.__class__ is str and status in _ANY_DROPPED_STATUS) or kind == "Condition":
            status = dropped_status(kind, resource)
        else:
            status = None
        if status is not None:
            # Not an error: the record says the fact did not happen. A version all the same,
            # which may replace an earlier one of the same id.
            reason = f"{kind} {status}"
            if not identifier or self.versions.keep(resource, start, status=reason):
                self.report.dropped[reason] += 1
            return
        self.references.own_id = own_id
        try:
            extract(resource, self)
        except ResourceProblem as problem:
            self.columns.discard(start)
            self.problems.add(problem.reason, str(problem))
            return
        except FHIRReadError:
            raise
        except _SHAPE_ERRORS as error:
            self.columns.discard(start)
            self.problems.add(
                "malformed resource",
                f"a field holds another JSON type than FHIR R4 gives it ({type(error).__name__} "
                f"reading the {kind}); read it with validate=True to name the field",
            )
            return
        if identifier and not self.versions.keep_events(resource, start):
            self.columns.discard(start)
            return
        self.report.resources[kind] += 1

    def medication(self, resource: dict[str, Any], own_id: str | None) -> None:
        """A Medication gives no events: its code is what requests refer to."""
        try:
            code = code_of(resource.get("code"))
        except ResourceProblem as problem:
            self.problems.add(problem.reason, str(problem))
            return
        except _SHAPE_ERRORS as error:
            self.problems.add(
                "malformed resource",
                f"a field holds another JSON type than FHIR R4 gives it ({type(error).__name__} "
                "reading the Medication); read it with validate=True to name the field",
            )
            return
        identifier = resource.get("id")
        if identifier and not self.versions.keep(resource, len(self.columns.codes), code=code):
            return
        self.report.resources["Medication"] += 1
        self.references.medication(identifier or own_id, code)

    def bundle(self, bundle: dict[str, Any]) -> None:
        """Read a Bundle's entries, urn:uuid references resolving through them."""
        entries = bundle.get("entry")
        if entries is None:
            entries = []
        elif entries.__class__ is not list:
            self.problems.add("malformed resource", str(malformed("entry", entries, "a list")))
            return
        references = bundle_references(entries)
        cursor = self.cursor
        outer_entry = cursor.entry
        try:
            with self.references.within(references):
                for index, item in enumerate(entries):
                    cursor.entry = index
                    if item.__class__ is not dict:
                        cursor.source = ""
                        self.problems.add(
                            "malformed resource",
                            f"the entry is a JSON {json_type(item)}, not an object with a resource",
                        )
                        continue
                    if "resource" not in item:
                        self.report.ignored["Bundle entry without resource"] += 1
                        continue
                    full_url = item.get("fullUrl")
                    own = (
                        references[full_url][1]
                        if full_url.__class__ is str and full_url in references
                        else None
                    )
                    self.resource(item["resource"], own)
        finally:
            cursor.entry = outer_entry

    def is_valid(self, resource: dict[str, Any]) -> bool:
        problem = validation_problem(resource)
        if problem is None:
            return True
        self.problems.add_invalid(problem)
        return False

    # -- files ------------------------------------------------------------------------
    def path(self, path: Path, name: str) -> None:
        """Read a file, named `name` in messages."""
        self.enter_file(path, name)
        self.report.files += 1
        read_file(path, self.cursor, self.problems, self.resource)

    def enter_file(self, path: Path, name: str) -> None:
        """Begin reading the file `path` (or a part of it), named `name` in messages."""
        cursor = self.cursor
        cursor.file, cursor.line, cursor.entry = name, None, None
        self.start_file(path, name)

    def start_file(self, path: Path | None, name: str) -> None:
        self.cursor.start_file(path, name, len(self.columns))
        self.versions.compact = path is not None  # a version in a file can be found again

    # -- the table --------------------------------------------------------------------
    def resource_at(self, index: int) -> tuple[int, int, Position]:
        """The event range of the resource that gave event `index`, and its position.

        Its line or entry is found by reading its file again: this runs only for bad input.
        """
        start, end = self.columns.span(index)
        source = self.columns.sources[index]
        path, name = self.cursor.file_of(index)
        # Reading the file again costs a parse: only for the problems shown in detail (a
        # million bad times with errors="skip" would read it a million times).
        found = path is not None and self.problems.detailed()
        line, entry = locate(path, source) if found else (None, None)
        return start, end, (name, line, entry, source)

    def events(self) -> pd.DataFrame:
        """The events table of all that was read, with the report in its attrs."""
        self.problems.raise_invalid()
        self.versions.kept = {}  # not needed any more: its memory goes before the table's
        columns = self.columns
        keep = np.ones(len(columns), dtype=bool)
        for start, end in self.versions.superseded:
            keep[start:end] = False
        for index, key, position in columns.pending:
            code = self.references.medications.get(key)
            columns.codes[index] = code
            if code is None and keep[index]:
                self.problems.add(
                    "unresolved reference",
                    UNRESOLVED_MEDICATION,
                    position,
                )
                start, end = self.resource_at(index)[:2]
                keep[start:end] = False
        raw_times = columns.raw_times()
        times = parse_times(raw_times)
        bad = times.isna().to_numpy() & raw_times.notna().to_numpy() & keep
        for index in np.flatnonzero(bad):
            if keep[index]:  # else its resource is dropped already
                start, end, position = self.resource_at(int(index))
                self.problems.add("bad time", "a time is not a FHIR date or dateTime", position)
                keep[start:end] = False
        del raw_times
        frame = columns.table(times)
        if not keep.all():
            frame = frame[keep]
        events = as_events(frame)
        self.report.events = len(events)
        events.attrs["read_report"] = self.report
        return events
