"""FHIR NDJSON read in byte ranges: one huge file spread over many workers, same events.

A range ``[start, end)`` of a file owns every line that *starts* inside it: a reader seeks
to ``start - 1`` and skips to the next newline (the line that began before ``start`` is
its predecessor's), then reads lines while they start before ``end``. Ranges are planned
from the file size alone, without reading it; a boundary may fall anywhere, inside a line
or inside a multi-byte UTF-8 character (a newline byte never occurs inside one), and every
line is read by exactly one range. A gzip file cannot be entered in the middle (deflate
data has no seek points), so it is one range, read whole, as is a JSON file (a Bundle).

Each range is read by `FHIRReader`, the reader of `read_fhir`, so the events are the same.
What `read_fhir` decides over the whole input is left for the merge (`merge_ranges`):

- a request's Medication may be in another range: its event keeps a pending code
  (`PENDING`), resolved by `resolve_medications` with the Medications of every range;
- problems name the file and its true line: the lines before a range are counted (a
  read of the bytes before it, at disk speed) only when a problem is reported;
- versions of a resource (the same type and id) are compared within a range by the
  reader, and across ranges when their events meet (`resolve_versions`), each event tagged
  with its range and its resource's ``meta.lastUpdated`` until then.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ramultimodal.io._events import as_events, empty_events
from ramultimodal.io._fhir import _no_files
from ramultimodal.io._fhir_files import (
    _SKIP,
    BOM,
    NDJSON_SUFFIXES,
    SUFFIXES,
    _bad_line,
    fhir_files,
    json_error,
    public_name,
)
from ramultimodal.io._fhir_positions import Cursor, Position, locate
from ramultimodal.io._fhir_problems import FHIRReadError, ProblemLog, ReadProblem, public
from ramultimodal.io._fhir_reader import FHIRReader
from ramultimodal.io._fhir_versions import Versions
from ramultimodal.io._range_versions import RANGE, UPDATED, resolve_versions
from ramultimodal.io._read_report import MAX_PROBLEMS, ReadReport, check_errors

__all__ = [
    "PENDING",
    "ByteRange",
    "RangeRead",
    "line_offset",
    "merge_events",
    "merge_reports",
    "ndjson_ranges",
    "read_range",
    "read_ranges",
    "resolve_medications",
]

#: The code of an event whose Medication is not resolved yet: ``PENDING + "Medication/<id>"
#: + PENDING + "<range index>"``. NUL starts no real code.
PENDING = "\x00"
#: Bytes per range unless told: a worker holds one range's events at a time (about 3x the
#: range's bytes as Python lists, see docs/scaling.md, "Ingest").
DEFAULT_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ByteRange:
    """A part of a FHIR file read by one task.

    Attributes
    ----------
    path : str
        The file.
    name : str
        The file as messages name it (as `read_fhir` names it: its path under the folder).
    start, end : int
        The bytes whose lines this range owns; ``end`` is None for a file read whole (a
        gzip or JSON file).
    index : int
        The range's place in the input, in reading order (files by name, then bytes).
    """

    path: str
    name: str
    start: int
    end: int | None
    index: int

    @property
    def whole(self) -> bool:
        """Whether the file is read whole (gzip, JSON): not splittable."""
        return self.end is None


def ndjson_ranges(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> list[ByteRange]:
    """The byte ranges of a FHIR file, a folder of them (read as `read_fhir` reads it), or
    a list of files.

    Plain NDJSON files are cut every `chunk_bytes` bytes (the cut need not be at a line:
    see the module's docstring); gzip and JSON files are one range each.

    Parameters
    ----------
    source : path or iterable of paths
        A FHIR file, a folder (read recursively, files in name order) or files.
    chunk_bytes : int
        The nominal size of a range.

    Returns
    -------
    list of ByteRange
        In reading order.

    Raises
    ------
    FHIRReadError
        For a folder without FHIR files.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "Patient.ndjson").write_bytes(b'{"resourceType": "Patient"}\\n' * 100)
    >>> [(r.start, r.end) for r in ndjson_ranges(folder, chunk_bytes=1000)]
    [(0, 1000), (1000, 2000), (2000, 2800)]
    """
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be a positive number of bytes, got {chunk_bytes}")
    named: list[tuple[Path, str]]
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files, ignored = fhir_files(path)
            if not files:
                raise _no_files(path, ignored)
            named = [
                (file, public_name(file, path, number, len(files)))
                for number, file in enumerate(files, 1)
            ]
        elif path.is_file():
            named = [(path, path.name)]
        else:
            raise FileNotFoundError(f"No FHIR file or directory at {path}")
    else:
        named = [(Path(file), Path(file).name) for file in source]
    ranges: list[ByteRange] = []
    for path, name in named:
        lower = path.name.lower()
        if not lower.endswith(SUFFIXES):
            raise FHIRReadError(
                f"{name}: not a FHIR file (.json, .ndjson, .jsonl, optionally .gz)", []
            )
        if lower.endswith(".gz") or not lower.endswith(NDJSON_SUFFIXES):
            ranges.append(ByteRange(str(path), name, 0, None, len(ranges)))
            continue
        size = path.stat().st_size
        for start in range(0, max(size, 1), chunk_bytes):
            end = min(start + chunk_bytes, size)
            ranges.append(ByteRange(str(path), name, start, end, len(ranges)))
    return ranges


@dataclass
class RangeRead:
    """What one range gave: its events, and what the merge needs from it.

    Attributes
    ----------
    events : DataFrame
        The events table of the range; a request's Medication code is `PENDING`.
    medications : dict
        ``Medication/<id>`` -> code, of the Medications in the range.
    report : ReadReport
        Its counts (``files`` counts a file once, in its first range).
    lines : int
        Lines read (owned by the range).
    updated : dict
        ``Type/id`` -> ``meta.lastUpdated`` of the resources that have one: to compare
        with versions in other ranges (`resolve_versions`).
    """

    events: pd.DataFrame
    medications: dict[str, str] = field(default_factory=dict)
    report: ReadReport = field(default_factory=ReadReport)
    lines: int = 0
    updated: dict[str, str] = field(default_factory=dict)

    def tagged(self, index: int) -> pd.DataFrame:
        """The events with their range (`RANGE`) and resource's lastUpdated (`UPDATED`)."""
        events = self.events.copy()
        events[RANGE] = np.int32(index)
        updated = events["source"].map(self.updated) if self.updated else None
        events[UPDATED] = pd.array(
            updated if updated is not None else [None] * len(events), dtype="string"
        )
        return events


def read_range(
    byte_range: ByteRange, *, validate: bool = False, errors: str = "raise"
) -> RangeRead:
    """Read the lines of one range (or a whole gzip or JSON file) by `read_fhir`'s rules.

    Parameters
    ----------
    byte_range : ByteRange
        What to read (`ndjson_ranges`).
    validate, errors
        As `read_fhir`'s.

    Returns
    -------
    RangeRead

    Raises
    ------
    FHIRReadError
        As `read_fhir`, naming the file and the line in it (not in the range).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Patient.ndjson"
    >>> line = b'{"resourceType": "Patient", "id": "p%d", "gender": "female"}\\n'
    >>> _ = path.write_bytes(b"".join(line % i for i in range(10)))
    >>> first, second = ndjson_ranges(path, chunk_bytes=300)
    >>> read_range(first).lines, read_range(second).lines
    (5, 5)
    """
    check_errors(errors)
    reader = _RangeReader(validate, errors, byte_range)
    path = Path(byte_range.path)
    if byte_range.whole:
        reader.path(path, byte_range.name)
    else:
        cursor = reader.cursor
        cursor.file, cursor.line, cursor.entry = byte_range.name, None, None
        reader.start_file(path, byte_range.name)
        reader.report.files += byte_range.start == 0
        reader.lines = _read_lines(byte_range, cursor, reader.problems, reader.resource)
    return reader.range_read()


def read_ranges(
    ranges: Iterable[ByteRange], *, validate: bool = False, errors: str = "raise"
) -> pd.DataFrame:
    """The events table of all `ranges`, in this process: `read_fhir`'s, range by range.

    Parameters
    ----------
    ranges : iterable of ByteRange
        In reading order (`ndjson_ranges`).
    validate, errors
        As `read_fhir`'s.

    Returns
    -------
    DataFrame
        The events table, with the merged `ReadReport` in ``attrs["read_report"]``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from ramultimodal.io import read_fhir
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Patient.ndjson"
    >>> line = b'{"resourceType": "Patient", "id": "p%d", "gender": "female"}\\n'
    >>> _ = path.write_bytes(b"".join(line % i for i in range(10)))
    >>> read_ranges(ndjson_ranges(path, chunk_bytes=100)).equals(read_fhir(path))
    True
    """
    ranges = list(ranges)
    reads = [read_range(byte_range, validate=validate, errors=errors) for byte_range in ranges]
    medications: dict[str, str] = {}
    for read in reads:
        medications.update(read.medications)
    report = merge_reports(read.report for read in reads)
    frames = [read.tagged(r.index) for read, r in zip(reads, ranges, strict=True)]
    del reads
    events = merge_events(frames, ranges, medications, errors=errors, report=report)
    del frames
    report = merge_reports([report])  # without the counts the merge took to zero
    events = as_events(events)
    report.events = len(events)
    events.attrs["read_report"] = report
    return events


def merge_events(
    frames: list[pd.DataFrame],
    ranges: list[ByteRange],
    medications: dict[str, str],
    *,
    errors: str = "raise",
    report: ReadReport | None = None,
) -> pd.DataFrame:
    """The tagged events of some ranges (`RangeRead.tagged`), in reading order, made one
    table as `read_fhir` would: Medications resolved, other versions across ranges
    dropped (`resolve_versions`), the tags removed. Unsorted.
    """
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_events()
    events = pd.concat(frames, ignore_index=True)
    events = resolve_medications(events, medications, ranges, errors=errors, report=report)
    names = [byte_range.name for byte_range in ranges]
    events = resolve_versions(events, names, errors=errors, report=report)
    return events.drop(columns=[RANGE, UPDATED])


def resolve_medications(
    events: pd.DataFrame,
    medications: dict[str, str],
    ranges: list[ByteRange],
    *,
    errors: str = "raise",
    report: ReadReport | None = None,
) -> pd.DataFrame:
    """`events` with each `PENDING` code replaced by its Medication's code.

    A reference to a Medication that no range holds is a problem, as in `read_fhir`:
    raised, or (``errors="skip"``) its event dropped and counted in `report`.

    Parameters
    ----------
    events : DataFrame
        Events of some ranges (unsorted or sorted).
    medications : dict
        ``Medication/<id>`` -> code, of every range.
    ranges : list of ByteRange
        Every range, by index: to name the file and line of a problem.
    errors : {"raise", "skip"}
    report : ReadReport, optional
        Where a skipped reference is counted.

    Returns
    -------
    DataFrame
        The events, with no pending code left.
    """
    codes = events["code"]
    pending = codes.str.startswith(PENDING).fillna(False).to_numpy(dtype=bool)
    if not pending.any():
        return events
    events = events.copy()
    keep = pd.Series(True, index=events.index)
    resolved = []
    for index, code in zip(events.index[pending], codes[pending], strict=True):
        key, range_index = code[1:].split(PENDING)
        found = medications.get(key)
        resolved.append(found)
        if found is not None:
            continue
        keep[index] = False
        byte_range = ranges[int(range_index)]
        source = str(events.at[index, "source"])
        # Found as read_fhir finds a resource named by an event: the first of its name.
        line, entry = locate(Path(byte_range.path), source)
        problem = ReadProblem(
            byte_range.name,
            line,
            entry,
            public(source) or None,
            "unresolved reference",
            "its Medication reference is not in the input (or that Medication has no code, "
            "or versions that conflict)",
        )
        if errors == "raise":
            raise FHIRReadError(
                f"{problem.where}: {problem.message}. Fix the input, or pass errors='skip' "
                "(--errors skip on the command line) to skip and count such resources.",
                [problem],
            )
        if report is not None:
            report.skipped["unresolved reference"] += 1
            if len(report.problems) < MAX_PROBLEMS:
                report.problems.append(problem)
    events.loc[pending, "code"] = pd.array(resolved, dtype="string")
    return events[keep.to_numpy()]


def merge_reports(reports: Iterable[ReadReport]) -> ReadReport:
    """One `ReadReport` of the reports of the ranges, in reading order."""
    merged = ReadReport()
    for report in reports:
        for name in ("resources", "ignored", "dropped", "skipped", "values_unread"):
            getattr(merged, name).update(getattr(report, name))
        room = MAX_PROBLEMS - len(merged.problems)
        merged.problems.extend(report.problems[: max(room, 0)])
        merged.files += report.files
        merged.events += report.events
    for name in ("resources", "dropped"):
        counter: Counter[str] = getattr(merged, name)
        for key in [key for key, n in counter.items() if n <= 0]:
            del counter[key]
    return merged


def line_offset(byte_range: ByteRange) -> int:
    """The lines of the file before the first line of `byte_range`.

    Reads the bytes before it (at disk speed): called only to name a problem's line.
    """
    if byte_range.whole or byte_range.start == 0:
        return 0
    count = 0
    with open(byte_range.path, "rb") as stream:
        remaining = byte_range.start
        while remaining > 0:
            block = stream.read(min(remaining, 2**24))
            if not block:
                break
            count += block.count(b"\n")
            remaining -= len(block)
        if not _at_line_start(stream, byte_range.start):
            count += 1  # the line that began before the range, ended inside it
    return count


def _at_line_start(stream: Any, start: int) -> bool:
    stream.seek(start - 1)
    return stream.read(1) == b"\n"


def _read_lines(byte_range: ByteRange, cursor: Cursor, problems: ProblemLog, read: Any) -> int:
    """Give `read` each document of the lines the range owns; return how many lines."""
    loads = orjson.loads
    end = byte_range.end
    with open(byte_range.path, "rb", buffering=2**20) as stream:
        if byte_range.start > 0:
            stream.seek(byte_range.start - 1)
            stream.readline()  # the line that began before the range belongs to the one before
        position = stream.tell()
        number = 0
        while position < end:
            line = stream.readline()
            if not line:
                break
            position += len(line)
            number += 1
            cursor.line = number
            try:
                document = loads(line)
            except orjson.JSONDecodeError as error:
                if not line.strip():
                    continue  # blank lines are allowed between resources
                if byte_range.start > 0 and line.startswith(BOM):
                    # A BOM is allowed only at the start of the file (`_bad_line`).
                    cursor.source = ""
                    problems.add("malformed JSON", f"not a JSON resource ({json_error(error)})")
                    continue
                document = _bad_line(line, error, cursor, problems)
                if document is _SKIP:
                    continue
            read(document)
    return number


class _RangeCursor(Cursor):
    """A cursor whose lines count within a range, named in the file's own count."""

    def __init__(self, byte_range: ByteRange) -> None:
        super().__init__()
        self.byte_range = byte_range
        self._offset: int | None = None

    def offset(self) -> int:
        if self._offset is None:
            self._offset = line_offset(self.byte_range)
        return self._offset

    def true_line(self, line: Any) -> Any:
        return line + self.offset() if line.__class__ is int else line

    def here(self) -> Position:
        return (self.file, self.true_line(self.line), self.entry, self.source)


class _RangeVersions(Versions):
    """Versions, whose messages name the file's line, not the range's."""

    def where(self, version: tuple[Any, ...]) -> str:
        line = version[3]
        if line.__class__ is int:
            version = (*version[:3], self.cursor.true_line(line), *version[4:])
        return super().where(version)


class _RangeReader(FHIRReader):
    """`FHIRReader` for one range: lines named in their file, Medications left pending."""

    def __init__(self, validate: bool, errors: str, byte_range: ByteRange) -> None:
        super().__init__(validate, errors)
        self.byte_range = byte_range
        self.lines = 0
        self.cursor = _RangeCursor(byte_range)
        self.problems.cursor = self.cursor
        self.versions = _RangeVersions(
            self.columns, self.cursor, self.report, self.problems, self.references
        )

    def add_medication(self, subject: str, time: str | None, reference: str) -> None:
        # The Medication may be in another range: resolved by `resolve_medications`.
        key = self.references.medication_key(reference)
        code = f"{PENDING}{key}{PENDING}{self.byte_range.index}"
        self.add(subject, time, code, None, None, None)

    def range_read(self) -> RangeRead:
        # The kept versions' lastUpdated, before events() forgets them (a version kept as
        # its first event alone has none).
        updated = {
            source: version[5]
            for source, version in self.versions.kept.items()
            if version.__class__ is tuple and version[0] is not None and version[5] is not None
        }
        events = self.events()
        return RangeRead(
            events,
            dict(self.references.medications),
            events.attrs.pop("read_report"),
            self.lines,
            updated,
        )
