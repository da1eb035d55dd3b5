"""FHIR files and their bytes: folders walked, JSON and NDJSON read, gzip and BOMs handled.

A folder is read recursively, its regular files with a FHIR suffix in name order; a file is
one JSON document (a Bundle or a resource) or NDJSON (a resource per line), either
optionally gzipped. Bytes that are not JSON, gzip data cut short or corrupt, and a file that
cannot be read are problems that name the file (and the line), never its content.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ramultimodal.io._file_kind import file_kind

if TYPE_CHECKING:
    from ramultimodal.io._fhir_positions import Cursor
    from ramultimodal.io._fhir_problems import ProblemLog

__all__ = ["fhir_files", "public_name", "read_file"]

# Compared with the lower-cased file name: exports write .JSON and .NDJSON.GZ too.
SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
CORRUPT_WHAT_TO_DO = (
    "Copy or export the file again, or pass errors='skip' to skip the rest of it and read on."
)
# Errors of reading a file's bytes: gzip.BadGzipFile is an OSError; a gzip stream cut
# short raises EOFError, and corrupt deflate data zlib.error.
UNREADABLE = (OSError, EOFError, zlib.error)
# Windows editors start UTF-8 files with one; RFC 8259 lets a reader ignore it.
BOM = b"\xef\xbb\xbf"
_SKIP = object()  # a line that gives no document


def fhir_files(directory: Path) -> tuple[list[Path], Counter[str]]:
    """The FHIR files under `directory`, and the others counted by suffix.

    Only regular files: a pipe or a device under a FHIR name would block the reader or
    never end (a link to /dev/zero); they are counted as ignored.
    """
    files, ignored = [], Counter()
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root) / name
            if file_kind(path) != "file":
                ignored["(not a regular file)"] += 1
            elif name.lower().endswith(SUFFIXES):
                files.append(path)
            else:
                ignored[Path(name).suffix.lower() or "(no suffix)"] += 1
    return sorted(files), ignored


def public_name(file: Path, directory: Path, number: int, total: int) -> str:
    """How messages name a file of a folder: NDJSON files by name (they are named after a
    resource type), JSON files by their place, since Bundles are often named after their
    patient (``<subject_id>.json``, Synthea's ``Given_Family_<uuid>.json``)."""
    if file.name.lower().endswith(NDJSON_SUFFIXES):
        return str(file.relative_to(directory))
    return f"{directory}, JSON file {number} of {total} in name order"


def read_file(
    path: Path, cursor: Cursor, problems: ProblemLog, read: Callable[[Any], None]
) -> None:
    """Give `read` each document of the file, with `cursor` at its NDJSON line.

    A JSON file holds one document; an NDJSON file one per line (blank lines allowed).
    What cannot be read is a problem: a line or file that is not JSON, or the rest of a
    corrupt file (the lines before it were read, and stay).
    """
    lower = path.name.lower()
    opener = gzip.open if lower.endswith(".gz") else open
    try:
        if lower.endswith(NDJSON_SUFFIXES):
            with opener(path, "rb") as lines:
                _read_lines(lines, cursor, problems, read)
            return
        with opener(path, "rb") as stream:
            text = stream.read()
    except UNREADABLE as error:
        corrupt_file(error, cursor.line, cursor, problems)
        return
    try:
        document = orjson.loads(text[3:] if text.startswith(BOM) else text)
    except orjson.JSONDecodeError as error:
        cursor.source = ""
        problems.add("malformed JSON", f"not valid JSON ({json_error(error)})")
        return
    read(document)


def corrupt_file(
    error: BaseException, lines_read: int | None, cursor: Cursor, problems: ProblemLog
) -> None:
    """The rest of a file cannot be read (`UNREADABLE`): a problem. The `lines_read`
    lines before it were read, and stay."""
    done = f"; lines 1 to {lines_read} were read" if lines_read else ""
    cursor.line, cursor.entry, cursor.source = None, None, ""
    problems.add("corrupt file", f"{unreadable(error)}{done}", what_to_do=CORRUPT_WHAT_TO_DO)


def _read_lines(
    lines: Iterable[bytes],
    cursor: Cursor,
    problems: ProblemLog,
    read: Callable[[Any], None],
    start: int = 1,
    file_start: bool = True,
) -> int:
    """Give `read` the document of each NDJSON line; return how many lines.

    `cursor` counts the lines from `start`; `file_start` says whether the first of them
    is the file's first line (where a BOM is allowed), as it is unless a byte range of the
    file or a later part of it is read.
    """
    loads = orjson.loads
    number = start - 1
    for number, line in enumerate(lines, start):
        cursor.line = number
        try:
            document = loads(line)
        except orjson.JSONDecodeError as error:
            if not line.strip():
                continue  # blank lines are allowed between resources
            document = _bad_line(line, error, cursor, problems, file_start and number == start)
            if document is _SKIP:
                continue
        read(document)
    return number - start + 1


def _bad_line(
    line: bytes,
    error: orjson.JSONDecodeError,
    cursor: Cursor,
    problems: ProblemLog,
    first_line: bool,
) -> Any:
    """The document of a line orjson refused (the file's first line, with a BOM), or
    `_SKIP`."""
    if first_line and line.startswith(BOM):
        try:
            return orjson.loads(line[3:])
        except orjson.JSONDecodeError as second:
            error = second
    cursor.source = ""
    problems.add("malformed JSON", f"not a JSON resource ({json_error(error)})")
    return _SKIP


def json_error(error: orjson.JSONDecodeError) -> str:
    """orjson's message, with what to do for the usual causes (it shows no content)."""
    message = str(error)
    if "UTF-8" in message:
        return f"it is not UTF-8 text, which FHIR JSON is: save it as UTF-8; {message}"
    if message.startswith("unexpected content after document"):
        return f"{message}; a file of one resource per line is NDJSON: name it .ndjson"
    return message


def unreadable(error: BaseException) -> str:
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
