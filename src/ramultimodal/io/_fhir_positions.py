"""Where the FHIR reader is: the file, NDJSON line, Bundle entry and resource it reads.

Messages name that place. The events keep only their resource (``source``, ``Type/id``) and,
through where each file's events start, their file: a problem found after reading (a time
that does not parse, a reference that resolves to nothing, a version that conflicts with a
later one) finds its line and entry by reading the file again (`locate`), which costs a
parse, so only for the problems shown in detail.
"""

from __future__ import annotations

import gzip
from bisect import bisect_right
from pathlib import Path
from typing import Any

import orjson

from ramultimodal.io._fhir_files import BOM, NDJSON_SUFFIXES, UNREADABLE

__all__ = ["Cursor", "Position", "locate"]

#: Where a problem is: (file, line, entry, resource as ``Type/id``).
Position = tuple[str, int | None, int | None, str]


class Cursor:
    """The reader's place in its input, and the files read so far.

    Attributes
    ----------
    file : str
        The file being read, as messages name it (``"<input>"`` for Python objects).
    line, entry : int or None
        NDJSON line (1-based, or the item of an iterable), Bundle entry (0-based).
    source : str
        The resource being read, ``Type/id`` (``""`` for a document that is none).
    file_starts, file_paths : list
        Where each file's events start, and its path (None for Python objects) and name:
        to name the file (and, read again, the line) of an event found bad later.
    file_index : int
        The file being read, in `file_paths`.
    """

    def __init__(self) -> None:
        self.file = "<input>"
        self.line: int | None = None
        self.entry: int | None = None
        self.source = ""
        self.file_starts: list[int] = []
        self.file_paths: list[tuple[Path | None, str]] = []
        self.file_index = -1

    def here(self) -> Position:
        """Where the reader is, as a problem's position."""
        return (self.file, self.line, self.entry, self.source)

    def start_file(self, path: Path | None, name: str, first_event: int) -> None:
        """A new file (or iterable) begins, whose events start at `first_event`."""
        self.file_starts.append(first_event)
        self.file_paths.append((path, name))
        self.file_index = len(self.file_paths) - 1

    def file_index_of(self, event: int) -> int:
        """The index in `file_paths` of the file that gave `event`."""
        return bisect_right(self.file_starts, event) - 1

    def file_of(self, event: int) -> tuple[Path | None, str]:
        """The path and name of the file that gave `event`."""
        return self.file_paths[self.file_index_of(event)]


def locate(path: Path, source: str) -> tuple[int | None, int | None]:
    """(NDJSON line, Bundle entry) of the first resource named `source` in `path`."""

    def name_of(resource: Any) -> str | None:
        if resource.__class__ is not dict:
            return None
        return resource_name(resource.get("resourceType"), resource.get("id"))

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
            if not lower.endswith(NDJSON_SUFFIXES):
                document = orjson.loads(stream.read().removeprefix(BOM))
                if document.__class__ is dict and document.get("resourceType") == "Bundle":
                    return None, entry_of(document)
                return None, None
            for number, line in enumerate(stream, 1):
                try:
                    document = orjson.loads(line.removeprefix(BOM) if number == 1 else line)
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
    except (*UNREADABLE, orjson.JSONDecodeError):
        pass  # the read found this already; the message goes without the line
    return None, None


def resource_name(kind: Any, identifier: Any) -> str:
    """``Type/id``: a resource's `source` in the events table."""
    return f"{kind}/{identifier}" if identifier is not None else f"{kind}/"
