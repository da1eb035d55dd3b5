"""Versions of a FHIR resource read in different byte ranges: the one `read_fhir` keeps.

`read_fhir` compares every version of a resource (the same type and id) with the one it
kept (`ramultimodal.io._fhir_versions`); a range's reader does the same within its range.
Across ranges the events meet again when a subject's events are gathered (a shard, or the
whole table in this process), each row tagged with its range and its resource's
``meta.lastUpdated``; `resolve_versions` applies the same rule there, in reading order:
the same events, the first stands; else the later ``meta.lastUpdated``; else every version
is a problem ("conflicting duplicates").

Two versions meet only if their events do: a version dropped for its status (it gives no
events), and versions of different patients (in different shards), are not compared.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ramultimodal.io._fhir_problems import DUPLICATE_WHAT_TO_DO, ProblemLog
from ramultimodal.io._fhir_versions import _newer
from ramultimodal.io._read_report import ReadReport

__all__ = ["RANGE", "UPDATED", "part_id", "resolve_versions"]

#: Columns that tag the events of ranges until the versions are resolved: the part of the
#: input (`part_id`) and the resource's ``meta.lastUpdated``.
RANGE, UPDATED = "_range", "_updated"
#: Parts of one range at most: a gzip file, one range, is read in parts (`part_id`).
SEGMENTS = 2**20


def part_id(index: int, segment: int = 0) -> int:
    """The tag of part `segment` of range `index`: parts sort in reading order.

    Examples
    --------
    >>> part_id(3, 1) > part_id(3, 0) > part_id(2, 7)
    True
    """
    return index * SEGMENTS + segment


_FACTS = ["subject_id", "time", "code", "numeric_value", "text_value", "unit"]


def resolve_versions(
    events: pd.DataFrame,
    names: list[str],
    *,
    errors: str = "raise",
    report: ReadReport | None = None,
) -> pd.DataFrame:
    """`events` (of several ranges, in reading order) without the versions read_fhir drops.

    Parameters
    ----------
    events : DataFrame
        Events with the `RANGE` and `UPDATED` columns, rows of a range in reading order
        and ranges in reading order; Medication codes resolved.
    names : list of str
        The file name of each range (by range index), for messages.
    errors : {"raise", "skip"}
        Conflicting versions: raise `FHIRReadError`, or drop them all and count them.
    report : ReadReport, optional
        Where versions dropped or skipped are counted (and the resources uncounted).

    Returns
    -------
    DataFrame
        `events` without the rows of the versions that do not stand.
    """
    tagged = events[["source", RANGE]]
    pairs = tagged.drop_duplicates()
    repeated = pairs["source"][pairs["source"].duplicated()].unique()
    if not len(repeated):
        return events
    report = report if report is not None else ReadReport()
    keep = np.ones(len(events), dtype=bool)
    candidates = np.flatnonzero(events["source"].isin(repeated).to_numpy())
    subset = events.iloc[candidates]
    for source, rows in subset.groupby("source", sort=False).indices.items():
        positions = candidates[rows]
        _resolve(events, source, positions, keep, names, errors, report)
    return events[keep]


def _resolve(
    events: pd.DataFrame,
    source: str,
    positions: np.ndarray,
    keep: np.ndarray,
    names: list[str],
    errors: str,
    report: ReadReport,
) -> None:
    """Apply `read_fhir`'s rule to the versions of one resource, one per range."""
    kind = source.split("/")[0]
    ranges = events[RANGE].to_numpy()[positions]
    versions = [positions[ranges == value] for value in pd.unique(ranges)]
    kept = versions[0]
    conflict = False
    for version in versions[1:]:
        if conflict:  # versions found to conflict before: this one goes too
            _problem(source, version, kept, events, names, errors, report, "")
            _uncount(report.resources, kind)
            keep[version] = False
            continue
        if _facts(events, version).equals(_facts(events, kept)):
            report.dropped["duplicate (identical)"] += 1
            _uncount(report.resources, kind)
            keep[version] = False
            continue
        updated = events[UPDATED].to_numpy(dtype=object)
        newer, why = _newer(_value(updated[version[0]]), _value(updated[kept[0]]))
        if newer is None:
            _problem(source, version, kept, events, names, errors, report, why)
            report.skipped["conflicting duplicates"] += 1
            _uncount(report.resources, kind)
            _uncount(report.resources, kind)
            keep[version] = keep[kept] = False
            conflict = True
            continue
        report.dropped["duplicate (older version)"] += 1
        _uncount(report.resources, kind)
        if newer:
            keep[kept] = False
            kept = version
        else:
            keep[version] = False


def _facts(events: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    return events.iloc[rows][_FACTS].reset_index(drop=True)


def _value(updated: object) -> object:
    return None if updated is None or updated is pd.NA or updated != updated else updated


def _problem(
    source: str,
    version: np.ndarray,
    kept: np.ndarray,
    events: pd.DataFrame,
    names: list[str],
    errors: str,
    report: ReadReport,
    why: str,
) -> None:
    ranges = events[RANGE].to_numpy()
    here = names[int(ranges[version[0]]) // SEGMENTS]
    first = names[int(ranges[kept[0]]) // SEGMENTS]
    message = (
        f"another version of this resource (the same type and id) is in {first}, with other "
        f"content, and meta.lastUpdated does not tell which is the newer ({why})"
        if why
        else f"one more version of this resource (the same type and id), whose versions "
        f"conflict: the first is in {first}"
    )
    ProblemLog(errors, report).add(
        "conflicting duplicates", message, (here, None, None, source), DUPLICATE_WHAT_TO_DO
    )


def _uncount(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
