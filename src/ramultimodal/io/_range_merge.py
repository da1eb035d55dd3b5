"""The events of many byte ranges made one table, as `read_fhir` makes it of the whole input.

The parts of ranges (`ramultimodal.io._range_reader`) meet in reading order, in a shard
of the Dask ingest or in this process (`read_ranges`): Medications are resolved against
those of every range, versions of a resource in different ranges compared
(`ramultimodal.io._range_versions`), and the reports summed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from ramultimodal.io._events import as_events, empty_events
from ramultimodal.io._fhir_positions import locate
from ramultimodal.io._fhir_problems import UNRESOLVED_MEDICATION, ProblemLog
from ramultimodal.io._ndjson_chunks import DEFAULT_CHUNK_BYTES, ByteRange
from ramultimodal.io._range_reader import PENDING, read_range_parts, true_lines
from ramultimodal.io._range_versions import RANGE, UPDATED, resolve_versions
from ramultimodal.io._read_report import MAX_PROBLEMS, ReadReport

__all__ = [
    "line_offsets",
    "merge_events",
    "merge_reports",
    "read_ranges",
    "resolve_medications",
]


def read_ranges(
    ranges: Iterable[ByteRange],
    *,
    validate: bool = False,
    errors: str = "raise",
    part_bytes: int = DEFAULT_CHUNK_BYTES,
) -> pd.DataFrame:
    """The events table of all `ranges`, in this process: `read_fhir`'s, range by range.

    Parameters
    ----------
    ranges : iterable of ByteRange
        In reading order (`ndjson_ranges`).
    validate, errors
        As `read_fhir`'s.
    part_bytes : int
        The part of a gzip file read at a time (`read_range_parts`).

    Returns
    -------
    DataFrame
        The events table, with the merged `ReadReport` in ``attrs["read_report"]``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from ramultimodal.io import read_fhir
    >>> from ramultimodal.io._ndjson_chunks import ndjson_ranges
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Patient.ndjson"
    >>> line = b'{"resourceType": "Patient", "id": "p%d", "gender": "female"}\\n'
    >>> _ = path.write_bytes(b"".join(line % i for i in range(10)))
    >>> read_ranges(ndjson_ranges(path, chunk_bytes=100)).equals(read_fhir(path))
    True
    """
    ranges = list(ranges)
    reads = [
        (byte_range.index, part)
        for byte_range in ranges
        for part in read_range_parts(
            byte_range, validate=validate, errors=errors, part_bytes=part_bytes
        )
    ]
    medications: dict[str, str] = {}
    lines = [0] * len(ranges)
    for index, read in reads:
        medications.update(read.medications)
        lines[index] += read.lines
    offsets = line_offsets(ranges, lines)
    for index, read in reads:
        true_lines(read.report, offsets[index])
    report = merge_reports(read.report for _, read in reads)
    frames = [read.tagged(index) for index, read in reads]
    del reads
    events = merge_events(frames, ranges, medications, errors=errors, report=report)
    del frames
    report = merge_reports([report])  # without the counts the merge took to zero
    events = as_events(events)
    report.events = len(events)
    events.attrs["read_report"] = report
    return events


def line_offsets(ranges: Sequence[ByteRange], lines: Sequence[int]) -> list[int]:
    """The lines of its file before each range: those of the ranges before it in the file.

    Parameters
    ----------
    ranges : sequence of ByteRange
        In reading order (`ndjson_ranges`).
    lines : sequence of int
        The lines each range read (`RangeRead.lines`).

    Examples
    --------
    >>> a = [ByteRange("a", "a", 0, 10, 0), ByteRange("a", "a", 10, 20, 1)]
    >>> line_offsets([*a, ByteRange("b", "b", 0, 5, 2)], [3, 4, 5])
    [0, 3, 0]
    """
    offsets: list[int] = []
    before: dict[str, int] = {}
    for byte_range, count in zip(ranges, lines, strict=True):
        offset = before.get(byte_range.path, 0) if byte_range.start else 0
        offsets.append(offset)
        before[byte_range.path] = offset + count
    return offsets


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
    problems = ProblemLog(errors, report if report is not None else ReadReport())
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
        problems.add(
            "unresolved reference", UNRESOLVED_MEDICATION, (byte_range.name, line, entry, source)
        )
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
