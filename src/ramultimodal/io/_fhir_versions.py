"""Versions of a FHIR resource: which one stands when the same type and id come again.

Exports repeat resources: an NDJSON export beside the Bundles of the same patients, a
resource updated between two exports. Versions are compared by the events they give, not
by their JSON, so the same facts in a Bundle (``urn:uuid`` references) and in NDJSON
(``Patient/id``) are one. Identical events: the first stands and the others are dropped
(``"duplicate (identical)"``). Else the latest ``meta.lastUpdated`` stands (``"duplicate
(older version)"``); when it does not tell, every version is a problem ("conflicting
duplicates").
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ramultimodal.io._fhir_columns import EventColumns
from ramultimodal.io._fhir_positions import Cursor, locate
from ramultimodal.io._fhir_problems import DUPLICATE_WHAT_TO_DO, ProblemLog, ReadProblem
from ramultimodal.io._fhir_references import References
from ramultimodal.io._read_report import ReadReport

__all__ = ["Versions"]

_LOCATE = object()  # a version's line and entry, to be found in its file


class Versions:
    """The version of each resource kept so far, and the events of those replaced.

    Parameters
    ----------
    columns : EventColumns
        The events read, where a version's events are (and are compared).
    cursor : Cursor
        Where the reader is: the resource being read, its file, line and entry.
    report : ReadReport
        Where dropped versions are counted.
    problems : ProblemLog
        Where conflicting versions are reported.
    references : References
        Whose Medication codes a conflict takes back.
    """

    def __init__(
        self,
        columns: EventColumns,
        cursor: Cursor,
        report: ReadReport,
        problems: ProblemLog,
        references: References,
    ) -> None:
        self.columns = columns
        self.cursor = cursor
        self.report = report
        self.problems = problems
        self.references = references
        # "Type/id" -> the version kept so far, rather than the resource: a tuple (first
        # event, number of events, file index, line, entry, meta.lastUpdated, the status it
        # was dropped for, a Medication's code), compared with another version by its
        # events, still in the columns, only when one comes. A first event of None marks
        # versions found to conflict, all dropped. The usual version (read from a file,
        # with events, without lastUpdated) is only its first event: the rest is found
        # from it when needed (`expand`), which keeps the fast path fast and memory small.
        self.kept: dict[str, tuple[Any, ...] | int] = {}
        # Whether a version read now can be found again in its file (not so for Python
        # objects): set for each file by the reader.
        self.compact = False
        # Event ranges of versions replaced by a later one, dropped from the table.
        self.superseded: list[tuple[int, int]] = []

    def keep_events(self, resource: dict[str, Any], start: int) -> bool:
        """Whether the resource just read, with events from `start`, stands against its
        other versions (see `keep`); the usual one is kept as its first event only."""
        meta = resource.get("meta")
        if (
            self.compact
            and start < len(self.columns.codes)
            and (meta.__class__ is not dict or "lastUpdated" not in meta)
        ):
            # The usual case, kept as its first event (see __init__).
            kept = self.kept.setdefault(self.cursor.source, start)
            return kept == start or self.other_version(kept, self.version(resource, start))
        return self.keep(resource, start)

    def keep(
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
        kept = self.kept.setdefault(self.cursor.source, version)
        return kept is version or self.other_version(kept, version)  # the first: usual

    def version(
        self,
        resource: dict[str, Any],
        start: int,
        status: str | None = None,
        code: str | None = None,
    ) -> tuple[Any, ...]:
        """The resource just read as a version (see `kept` in __init__)."""
        meta = resource.get("meta")
        cursor = self.cursor
        return (
            start,
            len(self.columns.codes) - start,
            cursor.file_index,
            cursor.line,
            cursor.entry,
            meta.get("lastUpdated") if meta.__class__ is dict else None,
            status,
            code,
        )

    def expand(self, start: int) -> tuple[Any, ...]:
        """The version kept as its first event `start` (read from a file, with events and
        without lastUpdated), as a tuple; its line and entry are found when needed."""
        end = self.columns.end_of(start)
        file_index = self.cursor.file_index_of(start)
        return (start, end - start, file_index, _LOCATE, _LOCATE, None, None, None)

    def other_version(self, kept: tuple[Any, ...] | int, version: tuple[Any, ...]) -> bool:
        if kept.__class__ is int:
            kept = self.expand(kept)
        source = self.cursor.source
        dropped = self.report.dropped
        if kept[0] is None:  # versions found to conflict before: this one goes too
            self.problems.add(
                "conflicting duplicates",
                f"one more version of this resource (the same type and id), whose versions "
                f"conflict: the first is at {self.where(kept)}"
                if self.problems.detailed()
                else "",
                what_to_do=DUPLICATE_WHAT_TO_DO,
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
            self.problems.add(
                "conflicting duplicates",
                f"another version of this resource (the same type and id) is at "
                f"{self.where(kept)}, with other content, and meta.lastUpdated does not tell "
                f"which is the newer ({why})"
                if self.problems.detailed()
                else "",
                what_to_do=DUPLICATE_WHAT_TO_DO,
            )
            self.drop(kept)
            self.report.skipped["conflicting duplicates"] += 1
            self.references.medications.pop(source, None)
            self.kept[source] = (None, *kept[1:])
            return False
        self.drop(kept)
        dropped["duplicate (older version)"] += 1
        self.kept[source] = version
        return True

    def facts(self, version: tuple[Any, ...]) -> tuple[Any, ...]:
        """What a version says, to compare versions: its events (or the status it was
        dropped for, or a Medication's code)."""
        start, count, *_, status, code = version
        return (status, code, *self.columns.facts(start, start + count))

    def drop(self, version: tuple[Any, ...]) -> None:
        """Take back the events and the count of a version kept so far."""
        start, count, *_, status, _ = version
        if count:
            self.superseded.append((start, start + count))
        if status is None:
            _uncount(self.report.resources, self.cursor.source.split("/")[0])
        else:
            _uncount(self.report.dropped, status)

    def where(self, version: tuple[Any, ...]) -> str:
        """``file, line 3, entry 2`` of a version."""
        _, _, file_index, line, entry, *_ = version
        path, name = self.cursor.file_paths[file_index]
        if line is _LOCATE and path is not None:
            # The first resource of that name in the file: the version kept, unless one
            # before it was skipped for a problem.
            line, entry = locate(path, self.cursor.source)
        return ReadProblem(name, line, entry, None, "", "").where


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
