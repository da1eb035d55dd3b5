"""One byte range of a FHIR file read by `read_fhir`'s own reader, with what it leaves open.

Each range (`ramultimodal.io._ndjson_chunks`) is read by `FHIRReader`, the reader of
`read_fhir`, so its events are the same. What `read_fhir` decides over the whole input is
left for the merge (`ramultimodal.io._range_merge`):

- a request's Medication may be in another range: its event keeps a pending code
  (`PENDING`), resolved with the Medications of every range;
- versions of a resource (the same type and id) are compared within the range by the
  reader, and across ranges when their events meet, each event tagged with its range and
  its resource's ``meta.lastUpdated`` until then (`RangeRead.tagged`);
- problems name the file and its line. With ``errors="skip"`` a range's problems keep
  their line within the range (`RangeLine`), shifted once where the ranges meet by the
  lines of the ranges before it (`true_lines`); only the problem raised with
  ``errors="raise"``, and a version named in a message, count the lines before the range
  (a read of the bytes before it, at disk speed).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.io._fhir_files import NDJSON_SUFFIXES, UNREADABLE, _read_lines, corrupt_file
from ramultimodal.io._fhir_positions import Cursor, Position
from ramultimodal.io._fhir_reader import FHIRReader
from ramultimodal.io._fhir_versions import Versions
from ramultimodal.io._ndjson_chunks import DEFAULT_CHUNK_BYTES, ByteRange, line_offset
from ramultimodal.io._range_versions import RANGE, UPDATED, part_id
from ramultimodal.io._read_report import ReadReport, check_errors

__all__ = ["PENDING", "RangeLine", "RangeRead", "read_range", "read_range_parts", "true_lines"]

#: The code of an event whose Medication is not resolved yet: ``PENDING + "Medication/<id>"
#: + PENDING + "<range index>"``. NUL starts no real code.
PENDING = "\x00"


class RangeLine(int):
    """A problem's line counted within its range, not yet in its file (`true_lines`)."""

    __slots__ = ()


def true_lines(report: ReadReport, offset: int) -> None:
    """Name the lines of a range's problems in their file: `offset` is the lines of the file
    before the range (the lines of the ranges before it, `RangeRead.lines`).

    Examples
    --------
    >>> from ramultimodal.io._fhir_problems import ReadProblem
    >>> report = ReadReport(problems=[ReadProblem("a.ndjson", RangeLine(2), None, None, "", "")])
    >>> true_lines(report, 40)
    >>> report.problems[0].line, type(report.problems[0].line).__name__
    (42, 'int')
    """
    report.problems = [
        replace(problem, line=int(problem.line) + offset)
        if getattr(problem, "line", None).__class__ is RangeLine
        else problem
        for problem in report.problems
    ]


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
        Its counts (``files`` counts a file once, in its first range). With
        ``errors="skip"`` a problem's line may be a `RangeLine`, to shift by `true_lines`.
    lines : int
        Lines read (owned by the range).
    updated : dict
        ``Type/id`` -> ``meta.lastUpdated`` of the resources that have one: to compare
        with versions in other ranges (`resolve_versions`).
    segment : int
        Which part of its range (a gzip file is read in parts: `read_range_parts`).
    """

    events: pd.DataFrame
    medications: dict[str, str] = field(default_factory=dict)
    report: ReadReport = field(default_factory=ReadReport)
    lines: int = 0
    updated: dict[str, str] = field(default_factory=dict)
    segment: int = 0

    def tagged(self, index: int) -> pd.DataFrame:
        """The events with their part of range `index` (`RANGE`, a `part_id`) and their
        resource's lastUpdated (`UPDATED`)."""
        events = self.events.copy()
        events[RANGE] = np.int64(part_id(index, self.segment))
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
    >>> from ramultimodal.io._ndjson_chunks import ndjson_ranges
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
        reader.enter_file(path, byte_range.name)
        reader.report.files += byte_range.start == 0
        reader.lines = _read_lines(
            _owned_lines(byte_range),
            reader.cursor,
            reader.problems,
            reader.resource,
            file_start=byte_range.start == 0,
        )
    return reader.range_read()


def read_range_parts(
    byte_range: ByteRange,
    *,
    validate: bool = False,
    errors: str = "raise",
    part_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[RangeRead]:
    """Read a range as `read_range` does, in parts of about `part_bytes` of lines.

    A plain NDJSON range is one part (its size is bounded already). A gzip NDJSON file,
    which cannot be cut into ranges, is read by one task from start to end, and gives a
    part every `part_bytes` of its (uncompressed) lines, so that the task holds the events
    of one part at a time. A JSON file (a Bundle) is one document: one part.

    Examples
    --------
    >>> import gzip, pathlib, tempfile
    >>> from ramultimodal.io._ndjson_chunks import ndjson_ranges
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Patient.ndjson.gz"
    >>> line = b'{"resourceType": "Patient", "id": "p%d", "gender": "female"}\\n'
    >>> _ = path.write_bytes(gzip.compress(b"".join(line % i for i in range(10))))
    >>> (whole,) = ndjson_ranges(path)
    >>> [part.lines for part in read_range_parts(whole, part_bytes=300)]
    [5, 5]
    """
    lower = byte_range.path.lower()
    if not (byte_range.whole and lower.endswith(".gz") and lower.endswith(NDJSON_SUFFIXES)):
        yield read_range(byte_range, validate=validate, errors=errors)
        return
    check_errors(errors)
    path, name = Path(byte_range.path), byte_range.name

    def fresh() -> _RangeReader:
        reader = _RangeReader(validate, errors, byte_range)
        reader.enter_file(path, name)
        return reader

    reader, segment, number = fresh(), 0, 0
    reader.report.files = 1
    try:
        with gzip.open(path, "rb") as stream:
            while True:
                # Lines of a file read from its start: the cursor counts them as the file.
                reader.lines = _read_lines(
                    _part_lines(stream, part_bytes),
                    reader.cursor,
                    reader.problems,
                    reader.resource,
                    start=number + 1,
                    file_start=number == 0,
                )
                if not reader.lines:
                    break
                number += reader.lines
                yield _part(reader, segment)
                reader, segment = fresh(), segment + 1
    except UNREADABLE as error:
        read = reader.cursor.line or number  # the lines read before it, which stay
        reader.lines = read - number
        corrupt_file(error, read, reader.cursor, reader.problems)
    if reader.lines or segment == 0 or reader.report.skipped:  # not an empty last part
        yield _part(reader, segment)


def _part_lines(lines: Iterator[bytes], part_bytes: int) -> Iterator[bytes]:
    """The next lines of `lines`, up to the first that makes `part_bytes` bytes."""
    size = 0
    for line in lines:
        yield line
        size += len(line)
        if size >= part_bytes:
            return


def _part(reader: _RangeReader, segment: int) -> RangeRead:
    part = reader.range_read()
    part.segment = segment
    return part


def _owned_lines(byte_range: ByteRange) -> Iterator[bytes]:
    """The lines the range owns: those that start in it."""
    end = byte_range.end
    with open(byte_range.path, "rb", buffering=2**20) as stream:
        if byte_range.start > 0:
            stream.seek(byte_range.start - 1)
            stream.readline()  # the line that began before the range belongs to the one before
        position = stream.tell()
        while position < end:
            line = stream.readline()
            if not line:
                break
            position += len(line)
            yield line


class _RangeCursor(Cursor):
    """A cursor whose lines count within a range, named in the file's own count."""

    def __init__(self, byte_range: ByteRange, errors: str) -> None:
        super().__init__()
        self.byte_range = byte_range
        self._offset: int | None = None
        # Counting the lines before the range reads all its bytes before it: with
        # errors="skip" every range with a problem would, quadratic in the file. Its
        # problems keep the range's line instead, shifted once by the driver.
        self.relative = errors == "skip" and not (byte_range.whole or byte_range.start == 0)

    def offset(self) -> int:
        if self._offset is None:
            self._offset = line_offset(self.byte_range)
        return self._offset

    def true_line(self, line: Any) -> Any:
        return line + self.offset() if line.__class__ is int else line

    def here(self) -> Position:
        line = self.line
        if line.__class__ is int:
            line = RangeLine(line) if self.relative else self.true_line(line)
        return (self.file, line, self.entry, self.source)


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
        self.cursor = _RangeCursor(byte_range, errors)
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
