"""Byte ranges of FHIR files: one huge NDJSON file spread over many tasks, line by line.

A range ``[start, end)`` of a file owns every line that *starts* inside it: a reader seeks
to ``start - 1`` and skips to the next newline (the line that began before ``start`` is
its predecessor's), then reads lines while they start before ``end``. Ranges are planned
from the file size alone, without reading it; a boundary may fall anywhere, inside a line
or inside a multi-byte UTF-8 character (a newline byte never occurs inside one), and every
line is read by exactly one range. A gzip file cannot be entered in the middle (deflate
data has no seek points), so it is one range, read whole by one task (in parts of
``chunk_bytes`` of its lines, `ramultimodal.io._range_reader.read_range_parts`), as is a
JSON file (a Bundle).

Reading a range: `ramultimodal.io._range_reader`; the ranges made one table as
`read_fhir` makes it: `ramultimodal.io._range_merge`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ramultimodal.io._fhir import _named_files
from ramultimodal.io._fhir_files import NDJSON_SUFFIXES, SUFFIXES
from ramultimodal.io._fhir_problems import FHIRReadError

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "ByteRange",
    "file_ranges",
    "input_files",
    "line_offset",
    "ndjson_ranges",
]

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
        For a folder without FHIR files, or a path that is not a regular file (as
        `read_fhir`).
    FileNotFoundError
        For a path where nothing is.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "Patient.ndjson").write_bytes(b'{"resourceType": "Patient"}\\n' * 100)
    >>> [(r.start, r.end) for r in ndjson_ranges(folder, chunk_bytes=1000)]
    [(0, 1000), (1000, 2000), (2000, 2800)]
    """
    return file_ranges(input_files(source)[0], chunk_bytes)


def input_files(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> tuple[list[tuple[Path, str]], Counter[str]]:
    """The files of `source` (a file, a folder read as `read_fhir` reads it, or files),
    each with its name in messages, and the other files of a folder by suffix."""
    if isinstance(source, (str, os.PathLike)):
        return _named_files(source)
    return [(Path(file), Path(file).name) for file in source], Counter()


def file_ranges(named: Iterable[tuple[Path, str]], chunk_bytes: int) -> list[ByteRange]:
    """The byte ranges of files (`input_files`), in their order: see `ndjson_ranges`."""
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be a positive number of bytes, got {chunk_bytes}")
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
