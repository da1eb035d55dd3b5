"""Read FHIR R4 files (Bundles, single resources, Bulk Data NDJSON) into the events table.

The fast path parses with orjson and pulls out only the fields the rules of
docs/data-model.md name (`ramultimodal.io._fhir_resources`), appending to one list per
column, one NDJSON line or one Bundle at a time: memory holds the events, never the JSON.
Validation against the ``fhir.resources`` R4B models is about 25x slower than parsing
(../shared/LEADS.md), so it runs only when asked.

Every input is either read by the rules, or refused with one line that names the file,
NDJSON line or Bundle entry, and what to do: malformed JSON shapes, corrupt gzip files and
conflicting versions of a resource included. Resources whose status says that the fact did
not happen, and duplicates of a resource, are dropped and counted (`ReadReport.dropped`).
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd

from ramultimodal.io._events import as_events, parse_times
from ramultimodal.io._fhir_resources import (
    DROPPED_STATUSES,
    EXTRACTORS,
    ResourceProblem,
    code_of,
    dropped_status,
    json_type,
    malformed,
)
from ramultimodal.io._read_report import MAX_PROBLEMS, ReadReport

__all__ = ["FHIRReadError", "ReadProblem", "read_fhir"]

# Compared with the lower-cased file name: exports write .JSON and .NDJSON.GZ too.
_SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
_NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
_WHAT_TO_DO = (
    "Fix the input, or pass errors='skip' (--errors skip on the command line) to skip and "
    "count such resources."
)
_CORRUPT_WHAT_TO_DO = (
    "Copy or export the file again, or pass errors='skip' to skip the rest of it and read on."
)
_DUPLICATE_WHAT_TO_DO = (
    "Keep one version, or give each its meta.lastUpdated (the latest is kept); or pass "
    "errors='skip' to drop every version and count them."
)
# Errors of reading a file's bytes: gzip.BadGzipFile is an OSError; a gzip stream cut
# short raises EOFError, and corrupt deflate data zlib.error.
_UNREADABLE = (OSError, EOFError, zlib.error)
# What a field of an unexpected JSON type raises in an extractor (the last line of defence
# behind the extractors' own checks, which name the field).
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)
# Windows editors start UTF-8 files with one; RFC 8259 lets a reader ignore it.
_BOM = b"\xef\xbb\xbf"
_SKIP = object()  # a line that gives no document
_LOCATE = object()  # a version's line and entry, to be found in its file
_ANY_DROPPED_STATUS = frozenset().union(*DROPPED_STATUSES.values())


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
        self.file_index = -1
        self.invalid: list[ReadProblem] = []
        # Medication references resolved at the end: Medications may come later.
        self.medications: dict[str, str] = {}
        self.pending: list[tuple[int, str, tuple[str, int | None, int | None, str]]] = []
        # "Type/id" -> the version kept so far, rather than the resource: a tuple (first
        # event, number of events, file index, line, entry, meta.lastUpdated, the status it
        # was dropped for, a Medication's code), compared with another version by its
        # events, still in the columns, only when one comes. A first event of None marks
        # versions found to conflict, all dropped. The usual version (read from a file,
        # with events, without lastUpdated) is only its first event: the rest is found
        # from it when needed (`expand`), which keeps the fast path fast and memory small.
        self.versions: dict[str, tuple[Any, ...] | int] = {}
        self.compact = False
        # Event ranges of versions replaced by a later one, dropped from the table.
        self.superseded: list[tuple[int, int]] = []
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
        if subject.__class__ is not str:
            raise malformed("id", subject, "a string")
        return subject

    def subject(self, resource: dict[str, Any]) -> str:
        reference = resource.get("subject") or resource.get("patient")
        try:  # the usual case: a reference seen before
            return self.subject_cache[reference["reference"]]
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
            kind, subject = self.refs.get(reference, ("Patient", reference.rsplit(":")[-1]))
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
        if time.__class__ is not str and time is not None:
            # A number would pass for a year ("2020") in the table: refused instead.
            raise malformed("time", time, "a FHIR dateTime string")
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

    def problem(
        self,
        reason: str,
        message: str,
        position: tuple | None = None,
        what_to_do: str = _WHAT_TO_DO,
    ) -> None:
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
                f"{found.where}: {message}{earlier}. {what_to_do}", [*self.invalid, found]
            )
        self.report.skipped[reason] += 1
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(found)

    # -- resources --------------------------------------------------------------------
    def resource(self, resource: Any, own_uuid: str | None = None) -> None:
        kind = resource.get("resourceType") if type(resource) is dict else None
        if type(kind) is not str:
            self.source = ""
            self.problem("not FHIR", _not_fhir(resource))
            return
        identifier = resource.get("id")
        # As _name, inlined: this runs for every resource.
        self.source = f"{kind}/{identifier}" if identifier is not None else kind + "/"
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
        start = len(self.codes)
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
            if not identifier or self.keep_version(resource, start, status=reason):
                self.report.dropped[reason] += 1
            return
        self.own_uuid = own_uuid
        try:
            extract(resource, self)
        except ResourceProblem as problem:
            self.discard(start)
            self.problem(problem.reason, str(problem))
            return
        except FHIRReadError:
            raise
        except _SHAPE_ERRORS as error:
            self.discard(start)
            self.problem(
                "malformed resource",
                f"a field holds another JSON type than FHIR R4 gives it ({type(error).__name__} "
                f"reading the {kind}); read it with validate=True to name the field",
            )
            return
        if identifier:
            meta = resource.get("meta")
            if (
                self.compact
                and start < len(self.codes)
                and (meta.__class__ is not dict or "lastUpdated" not in meta)
            ):
                # The usual case, kept as its first event (see __init__).
                kept = self.versions.setdefault(self.source, start)
                keep = kept == start or self.other_version(kept, self.version(resource, start))
            else:
                keep = self.keep_version(resource, start)
            if not keep:
                self.discard(start)
                return
        self.report.resources[kind] += 1

    def discard(self, start: int) -> None:
        """Remove the events from `start` on: those of the resource being read."""
        del self.subjects[start:], self.times[start:], self.codes[start:]
        del self.numerics[start:], self.texts[start:], self.units[start:]
        del self.sources[start:]
        while self.pending and self.pending[-1][0] >= start:
            self.pending.pop()

    def keep_version(
        self,
        resource: dict[str, Any],
        start: int,
        status: str | None = None,
        code: str | None = None,
    ) -> bool:
        """Whether the resource just read (events from `start`) stands against its other
        versions: those of the same type and id.

        Identical events: the first stands. Else the latest ``meta.lastUpdated`` stands;
        when it does not tell, every version is a problem ("conflicting duplicates").
        """
        version = self.version(resource, start, status, code)
        kept = self.versions.setdefault(self.source, version)
        return kept is version or self.other_version(kept, version)  # the first: usual

    def version(
        self,
        resource: dict[str, Any],
        start: int,
        status: str | None = None,
        code: str | None = None,
    ) -> tuple[Any, ...]:
        """The resource just read as a version (see `versions` in __init__)."""
        meta = resource.get("meta")
        return (
            start,
            len(self.codes) - start,
            self.file_index,
            self.line,
            self.entry,
            meta.get("lastUpdated") if meta.__class__ is dict else None,
            status,
            code,
        )

    def expand(self, start: int) -> tuple[Any, ...]:
        """The version kept as its first event `start` (read from a file, with events and
        without lastUpdated), as a tuple; its line and entry are found when needed."""
        sources = self.sources
        source, end = sources[start], start + 1
        while end < len(sources) and sources[end] is source:
            end += 1
        file_index = bisect_right(self.file_starts, start) - 1
        return (start, end - start, file_index, _LOCATE, _LOCATE, None, None, None)

    def other_version(self, kept: tuple[Any, ...] | int, version: tuple[Any, ...]) -> bool:
        if kept.__class__ is int:
            kept = self.expand(kept)
        source = self.source
        dropped = self.report.dropped
        if kept[0] is None:  # versions found to conflict before: this one goes too
            self.problem(
                "conflicting duplicates",
                f"one more version of this resource (the same type and id), whose versions "
                f"conflict: the first is at {self.where(kept)}"
                if self.detailed()
                else "",
                what_to_do=_DUPLICATE_WHAT_TO_DO,
            )
            return False
        if self.facts(version) == self.facts(kept):
            dropped["duplicate (identical)"] += 1
            return False
        newer, why = _newer(version[5], kept[5])
        if newer is False:
            dropped["duplicate (older version)"] += 1
            return False
        if newer is None:
            # With errors="raise" this raises; else every version is dropped.
            self.problem(
                "conflicting duplicates",
                f"another version of this resource (the same type and id) is at "
                f"{self.where(kept)}, with other content, and meta.lastUpdated does not tell "
                f"which is the newer ({why})"
                if self.detailed()
                else "",
                what_to_do=_DUPLICATE_WHAT_TO_DO,
            )
            self.drop_version(kept)
            self.report.skipped["conflicting duplicates"] += 1
            self.medications.pop(source, None)
            self.versions[source] = (None, *kept[1:])
            return False
        self.drop_version(kept)
        dropped["duplicate (older version)"] += 1
        self.versions[source] = version
        return True

    def facts(self, version: tuple[Any, ...]) -> tuple[Any, ...]:
        """What a version says, to compare versions: its events (or the status it was
        dropped for, or a Medication's code).

        Versions are compared by the events they give, not by their JSON: the same facts
        in a Bundle (``urn:uuid`` references) and in NDJSON (``Patient/id``) are one.
        """
        start, count, *_, status, code = version
        end = start + count
        # Medication references resolve at the end: their keys are part of the content.
        low = bisect_left(self.pending, start, key=_first)
        high = bisect_left(self.pending, end, lo=low, key=_first)
        return (
            status,
            code,
            self.subjects[start:end],
            self.times[start:end],
            self.codes[start:end],
            self.numerics[start:end],
            self.texts[start:end],
            self.units[start:end],
            [key for _, key, _ in self.pending[low:high]],
        )

    def drop_version(self, version: tuple[Any, ...]) -> None:
        """Take back the events and the count of a version kept so far."""
        start, count, *_, status, _ = version
        if count:
            self.superseded.append((start, start + count))
        if status is None:
            _uncount(self.report.resources, self.source.split("/")[0])
        else:
            _uncount(self.report.dropped, status)

    def where(self, version: tuple[Any, ...]) -> str:
        """``file, line 3, entry 2`` of a version."""
        _, _, file_index, line, entry, *_ = version
        path, name = self.file_paths[file_index]
        if line is _LOCATE and path is not None:
            # The first resource of that name in the file: the version kept, unless one
            # before it was skipped for a problem.
            line, entry = _locate(path, self.source)
        return ReadProblem(name, line, entry, None, "", "").where

    def detailed(self) -> bool:
        """Whether the next problem's message is shown: worth a search for a position."""
        return self.errors == "raise" or len(self.report.problems) < MAX_PROBLEMS

    def unread(self, value_type: str) -> None:
        self.report.values_unread[value_type] += 1

    def medication(self, resource: dict[str, Any], own_uuid: str | None) -> None:
        try:
            code = code_of(resource.get("code"))
        except ResourceProblem as problem:
            self.problem(problem.reason, str(problem))
            return
        except _SHAPE_ERRORS as error:
            self.problem(
                "malformed resource",
                f"a field holds another JSON type than FHIR R4 gives it ({type(error).__name__} "
                "reading the Medication); read it with validate=True to name the field",
            )
            return
        identifier = resource.get("id")
        if identifier and not self.keep_version(resource, len(self.codes), code=code):
            return
        self.report.resources["Medication"] += 1
        identifier = identifier or own_uuid
        if identifier.__class__ is str and identifier:
            if code is not None:
                self.medications["Medication/" + identifier] = code
            else:  # a reference to it is reported (a newer version may have lost its code)
                self.medications.pop("Medication/" + identifier, None)

    def medication_key(self, reference: str) -> str:
        """``Medication/<id>`` for a reference (urn:uuid through the Bundle, or a URL)."""
        if reference in self.refs:
            kind, identifier = self.refs[reference]
            return f"{kind}/{identifier}"
        if reference.startswith("urn:"):
            return "Medication/" + reference.rsplit(":")[-1]  # Synthea: the uuid is the id
        return "/".join(reference.split("/_history/")[0].rstrip("/").split("/")[-2:])

    def bundle(self, bundle: dict[str, Any]) -> None:
        entries = bundle.get("entry")
        if entries is None:
            entries = []
        elif entries.__class__ is not list:
            self.problem("malformed resource", str(malformed("entry", entries, "a list")))
            return
        # fullUrl -> (type, id) for urn:uuid references (Synthea: the uuid equals the id;
        # a resource without an id is known by its fullUrl's uuid).
        refs: dict[str, tuple[str, str]] = {}
        for item in entries:
            if item.__class__ is not dict:
                continue  # reported below
            full_url, resource = item.get("fullUrl"), item.get("resource")
            if full_url and full_url.__class__ is str and resource.__class__ is dict:
                refs[full_url] = (
                    resource.get("resourceType", ""),
                    resource.get("id") or full_url.rsplit(":")[-1].rsplit("/")[-1],
                )
        outer_refs, outer_entry = self.refs, self.entry
        self.refs = refs
        try:
            for index, item in enumerate(entries):
                self.entry = index
                if item.__class__ is not dict:
                    self.source = ""
                    self.problem(
                        "malformed resource",
                        f"the entry is a JSON {json_type(item)}, not an object with a resource",
                    )
                    continue
                if "resource" not in item:
                    self.report.ignored["Bundle entry without resource"] += 1
                    continue
                full_url = item.get("fullUrl")
                own = refs[full_url][1] if full_url.__class__ is str and full_url in refs else None
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
        lower = path.name.lower()
        opener = gzip.open if lower.endswith(".gz") else open
        try:
            if lower.endswith(_NDJSON_SUFFIXES):
                with opener(path, "rb") as lines:
                    self.ndjson(lines)
                return
            with opener(path, "rb") as stream:
                text = stream.read()
        except _UNREADABLE as error:
            # The lines before it were read, and stay.
            read = f"; lines 1 to {self.line} were read" if self.line else ""
            self.line, self.entry, self.source = None, None, ""
            self.problem(
                "corrupt file", f"{_unreadable(error)}{read}", what_to_do=_CORRUPT_WHAT_TO_DO
            )
            return
        try:
            document = orjson.loads(text[3:] if text.startswith(_BOM) else text)
        except orjson.JSONDecodeError as error:
            self.source = ""
            self.problem("malformed JSON", f"not valid JSON ({_json_error(error)})")
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
                document = self.bad_line(line, error)
                if document is _SKIP:
                    continue
            resource(document)

    def bad_line(self, line: bytes, error: orjson.JSONDecodeError) -> Any:
        """The document of a line orjson refused (a first line with a BOM), or `_SKIP`."""
        if self.line == 1 and line.startswith(_BOM):
            try:
                return orjson.loads(line[3:])
            except orjson.JSONDecodeError as second:
                error = second
        self.source = ""
        self.problem("malformed JSON", f"not a JSON resource ({_json_error(error)})")
        return _SKIP

    def start_file(self, path: Path | None, name: str) -> None:
        self.file_starts.append(len(self.codes))
        self.file_paths.append((path, name))
        self.file_index = len(self.file_paths) - 1
        self.compact = path is not None  # a version in a file can be found again

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
        # Reading the file again costs a parse: only for the problems shown in detail (a
        # million bad times with errors="skip" would read it a million times).
        found = path is not None and self.detailed()
        line, entry = _locate(path, source) if found else (None, None)
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
        self.versions = {}  # not needed any more: its memory goes before the table's
        keep = np.ones(len(self.codes), dtype=bool)
        for start, end in self.superseded:
            keep[start:end] = False
        for index, key, position in self.pending:
            code = self.medications.get(key)
            self.codes[index] = code
            if code is None and keep[index]:
                self.problem(
                    "unresolved reference",
                    "its Medication reference is not in the input (or that Medication has no "
                    "code, or versions that conflict)",
                    position,
                )
                start, end = self.resource_at(index)[:2]
                keep[start:end] = False
        raw_times = pd.Series(self.times, dtype=object)
        self.times.clear()
        times = parse_times(raw_times)
        bad = times.isna().to_numpy() & raw_times.notna().to_numpy() & keep
        for index in np.flatnonzero(bad):
            if keep[index]:  # else its resource is dropped already
                start, end, position = self.resource_at(int(index))
                self.problem("bad time", "a time is not a FHIR date or dateTime", position)
                keep[start:end] = False
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
        if not keep.all():
            frame = frame[keep]
        events = as_events(frame)
        self.report.events = len(events)
        events.attrs["read_report"] = self.report
        return events


def _first(pending: tuple[Any, ...]) -> Any:
    return pending[0]


def _uncount(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]  # reports compare equal to plain dicts


def _newer(updated: Any, other: Any) -> tuple[bool | None, str]:
    """Whether `updated` is a later ``meta.lastUpdated`` than `other`; None and why if
    that cannot be told."""
    if updated is None and other is None:
        return None, "neither has one"
    if updated is None or other is None:
        return None, "only one has one"
    instants = []
    for value in (updated, other):
        try:
            instant = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return None, "one is not a FHIR instant"
        # An instant carries its offset; one without is taken as UTC to compare.
        instants.append(instant if instant.tzinfo else instant.replace(tzinfo=UTC))
    if instants[0] == instants[1]:
        return None, "they are equal"
    return instants[0] > instants[1], ""


def _not_fhir(document: Any) -> str:
    if document.__class__ is not dict:
        return (
            f"not a FHIR resource (a JSON {json_type(document)}, where a resource is an "
            "object with a resourceType)"
        )
    if "resourceType" not in document:
        return "not a FHIR resource (no resourceType)"
    return f"not a FHIR resource (its resourceType is a JSON {json_type(document['resourceType'])})"


def _json_error(error: orjson.JSONDecodeError) -> str:
    """orjson's message, with what to do for the usual causes (it shows no content)."""
    message = str(error)
    if "UTF-8" in message:
        return f"it is not UTF-8 text, which FHIR JSON is: save it as UTF-8; {message}"
    if message.startswith("unexpected content after document"):
        return f"{message}; a file of one resource per line is NDJSON: name it .ndjson"
    return message


def _unreadable(error: BaseException) -> str:
    """Why a file's bytes could not be read, without its bytes (they may name a patient)."""
    if isinstance(error, EOFError):
        return "it is cut short: its gzip data ends early (an interrupted copy or download?)"
    if isinstance(error, gzip.BadGzipFile):
        if str(error).startswith("Not a gzipped file"):
            return "it is not gzip data, although its name ends in .gz"
        return f"its gzip data is corrupt ({error})"
    if isinstance(error, zlib.error):
        return f"its gzip data is corrupt ({error})"
    reason = getattr(error, "strerror", None) or type(error).__name__
    return f"it cannot be read ({reason})"


def _locate(path: Path, source: str) -> tuple[int | None, int | None]:
    """(NDJSON line, Bundle entry) of the first resource named `source` in `path`."""

    def name_of(resource: Any) -> str | None:
        if resource.__class__ is not dict:
            return None
        return _name(resource.get("resourceType"), resource.get("id"))

    def entry_of(document: Any) -> int | None:
        entries = document.get("entry")
        for index, item in enumerate(entries if entries.__class__ is list else ()):
            if item.__class__ is dict and name_of(item.get("resource")) == source:
                return index
        return None

    lower = path.name.lower()
    opener = gzip.open if lower.endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            if not lower.endswith(_NDJSON_SUFFIXES):
                document = orjson.loads(stream.read().removeprefix(_BOM))
                if document.__class__ is dict and document.get("resourceType") == "Bundle":
                    return None, entry_of(document)
                return None, None
            for number, line in enumerate(stream, 1):
                try:
                    document = orjson.loads(line.removeprefix(_BOM) if number == 1 else line)
                except orjson.JSONDecodeError:
                    continue
                if name_of(document) == source:
                    return number, None
                if (
                    document.__class__ is dict
                    and document.get("resourceType") == "Bundle"
                    and (found := entry_of(document)) is not None
                ):
                    return number, found
    except (*_UNREADABLE, orjson.JSONDecodeError):
        pass  # the read found this already; the message goes without the line
    return None, None


def _name(kind: Any, identifier: Any) -> str:
    """``Type/id``: a resource's `source` in the events table."""
    return f"{kind}/{identifier}" if identifier is not None else f"{kind}/"


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
    if kind == "Bundle" and resource.get("entry").__class__ is list:
        # An entry of another JSON type is left for the model to name.
        resource = {
            **resource,
            "entry": [
                {key: value for key, value in item.items() if key != "resource"}
                if item.__class__ is dict
                else item
                for item in resource["entry"]
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


def _files(directory: Path) -> tuple[list[Path], Counter[str]]:
    """The FHIR files under `directory`, and the others counted by suffix.

    Only regular files: a pipe or a device under a FHIR name would block the reader or
    never end (a link to /dev/zero); they are counted as ignored.
    """
    files, ignored = [], Counter()
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root) / name
            if not _regular(path):
                ignored["(not a regular file)"] += 1
            elif name.lower().endswith(_SUFFIXES):
                files.append(path)
            else:
                ignored[Path(name).suffix.lower() or "(no suffix)"] += 1
    return sorted(files), ignored


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _public_name(file: Path, directory: Path, number: int, total: int) -> str:
    """How messages name a file of a folder: NDJSON files by name (they are named after a
    resource type), JSON files by their place, since Bundles are often named after their
    patient (``<subject_id>.json``, Synthea's ``Given_Family_<uuid>.json``)."""
    if file.name.lower().endswith(_NDJSON_SUFFIXES):
        return str(file.relative_to(directory))
    return f"{directory}, JSON file {number} of {total} in name order"


def _no_files(directory: Path, ignored: Counter[str]) -> FHIRReadError:
    total = ignored.total()
    found = (
        f"it holds {total} file{'s' if total > 1 else ''}: "
        + ", ".join(f"{suffix} {n}" for suffix, n in ignored.most_common())
        if ignored
        else "it is empty"
    )
    message = (
        f"no .json/.ndjson files in {directory} ({found}). Give read_fhir a FHIR file, or a "
        "folder of them: .json (a Bundle or a resource), .ndjson or .jsonl (a resource per "
        "line), each optionally .gz."
    )
    return FHIRReadError(
        message, [ReadProblem(str(directory), None, None, None, "no FHIR files", message)]
    )


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

    A resource whose status says that its fact did not happen or was an error
    (``entered-in-error``, ``cancelled``, ``not-done``, a ``refuted`` Condition...: see
    `ramultimodal.io._fhir_resources.DROPPED_STATUSES`) gives no events, and is counted in
    the report's ``dropped``, whatever `errors`. So is a second version of a resource (the
    same type and id) that gives the same events, or one older (``meta.lastUpdated``) than
    another version; versions with other events whose ``meta.lastUpdated`` does not tell
    which is the newer are a problem, as below.

    Parameters
    ----------
    source : path, mapping or iterable of mappings
        A file (a Bundle of any type, a single resource, or NDJSON: ``.ndjson`` or
        ``.jsonl``), each optionally gzipped (``.gz``); a directory, read recursively
        (``*.json``, ``*.ndjson``, ``*.jsonl``, and their ``.gz``, in any case); a resource
        as a dict; or an iterable of them.
    validate : bool, default False
        Also validate each resource with its ``fhir.resources.R4B`` model (about 25x
        slower). Every failure is reported with file, line or entry, and resource id.
    errors : {"raise", "skip"}, default "raise"
        On a malformed line, a non-FHIR document, a field of another JSON type than FHIR's
        ("malformed resource"), a resource without a subject, an unknown unit, an
        unresolved reference, conflicting versions of a resource (all of them are skipped)
        or a corrupt file (the rest of it): raise `FHIRReadError` at once, or skip and
        count it in the report. Validation failures are all collected before raising.
    verbose : int, default 0
        Show a progress bar over files (or resources of an iterable) when > 0.

    Returns
    -------
    DataFrame
        The events table (`ramultimodal.io.EVENT_COLUMNS`); ``events.attrs["read_report"]``
        holds a `ReadReport`: resources read and ignored by type, dropped and skipped by
        reason.

    Raises
    ------
    FHIRReadError
        In one line, naming the file, line (or Bundle entry) and resource (a Patient by
        its type alone), and what to do; also for a directory without FHIR files.

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
    1 1960-04-30     MEDS_BIRTH            NaN  <NA>
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
            files, ignored = _files(path)
            if not files:
                raise _no_files(path, ignored)
            reader.report.files_ignored = ignored.total()
            for number, file in enumerate(
                tqdm(files, disable=verbose <= 0, unit="file", desc="read_fhir"), 1
            ):
                reader.path(file, _public_name(file, path, number, len(files)))
        elif path.is_file():
            reader.path(path, path.name)
        elif path.exists():
            raise FHIRReadError(
                f"{path} is not a regular file (a device or a pipe), which cannot be read.", []
            )
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
