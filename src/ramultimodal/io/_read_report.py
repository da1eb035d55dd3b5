"""The read report: what a reader of the events table read, dropped and skipped.

Every reader of the events table (`read_fhir`, `read_events_csv`, `read_wide_csv`) leaves
one `ReadReport` in ``events.attrs["read_report"]``, so that a caller (`read_cohort`, the
command line, a notebook) finds the same counts under the same names whichever format the
data came in. Each reader fills the fields that apply to its format; ``str(report)`` shows
them, as counts and locations only: never a patient's id or a value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ramultimodal.io._fhir_problems import ReadProblem

__all__ = ["MAX_PROBLEMS", "ReadReport", "check_errors", "left_out", "said_counts"]

#: Problems kept in a report with their details; the rest are only counted.
MAX_PROBLEMS = 100


@dataclass
class ReadReport:
    """What a reader read, ignored, dropped and skipped; ``events.attrs["read_report"]``.

    Attributes
    ----------
    resources : Counter
        FHIR: resources turned into events (or used, as Medication), by type.
    ignored : Counter
        FHIR: resources of types that give no events (Claim, Immunization...), by type.
    dropped : Counter
        FHIR: resources left out by rule, not by error: by status (``"Observation
        entered-in-error"``, ``"Condition refuted"``: the fact did not happen or was an
        error), and second versions of a resource (same type and id):
        ``"duplicate (identical)"`` when they give the same events, ``"duplicate (older
        version)"`` when another one has a later ``meta.lastUpdated``.
    skipped : Counter
        Resources, lines or rows skipped with ``errors="skip"``, by reason.
    problems : list of ReadProblem or str
        The first `MAX_PROBLEMS` problems: for FHIR a `ReadProblem` with file, line and
        resource; for CSV ``"file, line N: what"``.
    values_unread : Counter
        FHIR: values of types the rules do not read (``valueRange``,
        ``valueAttachment``...), by type: their event is kept without a value.
    files : int
        FHIR: files read.
    files_ignored : int
        FHIR: files in a directory without a FHIR suffix (.json, .ndjson, .jsonl, and .gz).
    events : int
        Rows of the events table.
    rows : int
        CSV: data rows in the file (blank lines and lines of empty fields are not rows).
    columns_ignored : list of str
        CSV: columns of the file that map to nothing.
    format : {"fhir", "csv"}
        The format read, which decides the counts that ``str(report)`` shows.
    """

    resources: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[ReadProblem | str] = field(default_factory=list)
    values_unread: Counter[str] = field(default_factory=Counter)
    files: int = 0
    files_ignored: int = 0
    events: int = 0
    rows: int = 0
    columns_ignored: list[str] = field(default_factory=list)
    format: Literal["fhir", "csv"] = "fhir"

    def __str__(self) -> str:
        # Counts and locations only: no patient identifiers, no resource ids, no cells.
        if self.format == "csv":
            return (
                f"{self.events} events from {self.rows} rows; skipped: {_counts(self.skipped)}; "
                f"columns ignored: {', '.join(self.columns_ignored) or 'none'}"
            )
        by_status = Counter(
            {key: n for key, n in self.dropped.items() if not key.startswith("duplicate")}
        )
        duplicates = Counter(
            {
                key.removeprefix("duplicate (").removesuffix(")"): n
                for key, n in self.dropped.items()
                if key.startswith("duplicate (")
            }
        )
        lines = [
            f"{self.events} events from {sum(self.resources.values())} resources in "
            f"{self.files} files",
            f"read: {_counts(self.resources)}",
            f"ignored by type: {_counts(self.ignored)}",
            f"dropped by status: {_counts(by_status)}",
        ]
        if duplicates:
            lines.append(f"duplicates dropped: {_counts(duplicates)}")
        lines.append(f"skipped: {_counts(self.skipped)}")
        if self.values_unread:
            lines.append(f"values not read (the fact is kept): {_counts(self.values_unread)}")
        if self.files_ignored:
            lines.append(f"files ignored (not .json/.ndjson/.jsonl[.gz]): {self.files_ignored}")
        if self.problems:
            # File names are left out too: Synthea names bundles after the patient.
            lines.append(f"{len(self.problems)} problems with file, line and resource in .problems")
        return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    """``"key n, key n"``, the most common first; ``"none"`` when empty."""
    return ", ".join(f"{key} {n}" for key, n in counter.most_common()) or "none"


def left_out(report: object, prefix: str = "") -> Counter[str]:
    """What a reader's report (``events.attrs["read_report"]``, or None) says it left
    out: its skipped and dropped counts by reason, each reason after `prefix`.

    Examples
    --------
    >>> left_out(ReadReport(skipped=Counter({"bad time": 2})), "events: ")
    Counter({'events: bad time': 2})
    """
    counts: Counter[str] = Counter()
    for counter in (getattr(report, "skipped", None), getattr(report, "dropped", None)):
        counts.update({f"{prefix}{why}": n for why, n in (counter or {}).items()})
    return counts


def said_counts(counter: Counter[str] | dict[str, int]) -> str:
    """``"why n, why n"`` in the counter's order, as warnings say what was left out."""
    return ", ".join(f"{why} {n}" for why, n in counter.items())


def check_errors(errors: str) -> None:
    """Refuse an `errors` policy other than ``"raise"`` or ``"skip"``, the readers' two."""
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
