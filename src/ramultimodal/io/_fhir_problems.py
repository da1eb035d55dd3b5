"""Problems of reading FHIR: each is raised at once or counted, and names where it is.

A problem names the file, NDJSON line, Bundle entry and resource (a Patient by its type
alone: its id identifies the person) and says what to do. With ``errors="raise"`` the first
one raises `FHIRReadError`; with ``errors="skip"`` each is counted in the read report by
reason, the first `MAX_PROBLEMS` with their place. Validation failures are the exception:
they are all collected, so that one run names every invalid resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ramultimodal._errors import InputError
from ramultimodal.io._fhir_datatypes import json_type
from ramultimodal.io._read_report import MAX_PROBLEMS, ReadReport

if TYPE_CHECKING:
    from ramultimodal.io._fhir_positions import Cursor, Position

__all__ = ["FHIRReadError", "ProblemLog", "ReadProblem"]

WHAT_TO_DO = (
    "Fix the input, or pass errors='skip' (--errors skip on the command line) to skip and "
    "count such resources."
)
#: Why a request's event is dropped when its Medication is not found (`read_fhir` and the
#: merge of byte ranges say it alike).
UNRESOLVED_MEDICATION = (
    "its Medication reference is not in the input (or that Medication has no code, or "
    "versions that conflict)"
)
DUPLICATE_WHAT_TO_DO = (
    "Keep one version, or give each its meta.lastUpdated (the latest is kept); or pass "
    "errors='skip' to drop every version and count them."
)


class FHIRReadError(InputError):
    """Input that `read_fhir` cannot turn into events.

    Attributes
    ----------
    problems : list of ReadProblem
        Every problem found (all validation failures, or the one that stopped reading).
    """

    def __init__(self, message: str, problems: list[ReadProblem]) -> None:
        super().__init__(message)
        self.problems = problems

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised on a Dask worker, it is pickled to the client: with its problems.
        return (type(self), (str(self), self.problems))


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


class ProblemLog:
    """The problems found so far: raised at once (``errors="raise"``) or counted.

    Parameters
    ----------
    errors : {"raise", "skip"}
        What `add` does.
    report : ReadReport
        Where skipped problems are counted.
    cursor : Cursor, optional
        Where the reader is: the place of a problem unless another is given (without
        one, every problem is given its place).
    """

    def __init__(self, errors: str, report: ReadReport, cursor: Cursor | None = None) -> None:
        self.errors = errors
        self.report = report
        self.cursor = cursor
        # Validation failures, reported all together at the end with errors="raise".
        self.invalid: list[ReadProblem] = []

    def add(
        self,
        reason: str,
        message: str,
        position: Position | None = None,
        what_to_do: str = WHAT_TO_DO,
    ) -> None:
        """A problem at `position` (where the reader is by default): raise
        `FHIRReadError`, or count it and read on."""
        file, line, entry, source = position or self.cursor.here()
        found = ReadProblem(file, line, entry, public(source) or None, reason, message)
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

    def add_invalid(self, message: str) -> None:
        """The resource read fails validation: kept to raise at the end, or counted."""
        file, line, entry, source = self.cursor.here()
        found = ReadProblem(file, line, entry, public(source) or None, "invalid", message)
        # errors="raise" reads on, to report every failure at the end.
        self.invalid.append(found)
        if self.errors == "skip":
            self.report.skipped["invalid"] += 1
            if len(self.report.problems) < MAX_PROBLEMS:
                self.report.problems.append(found)

    def raise_invalid(self) -> None:
        """Raise `FHIRReadError` listing the validation failures, if any, with errors="raise"."""
        if self.invalid and self.errors == "raise":
            listed = "\n".join(f"  {problem}" for problem in self.invalid[:50])
            more = len(self.invalid) - 50
            raise FHIRReadError(
                f"{len(self.invalid)} resources fail FHIR R4B validation:\n{listed}"
                + (f"\n  ... and {more} more (see error.problems)" if more > 0 else "")
                + f"\n{WHAT_TO_DO}",
                self.invalid,
            )

    def detailed(self) -> bool:
        """Whether the next problem's message is shown: worth a search for a position."""
        return self.errors == "raise" or len(self.report.problems) < MAX_PROBLEMS


def public(source: str) -> str:
    """A resource's name for messages: a Patient's id identifies the person."""
    return "Patient" if source.startswith("Patient/") else source


def not_fhir(document: Any) -> str:
    """Why a parsed document is not a FHIR resource, without its content."""
    if document.__class__ is not dict:
        return (
            f"not a FHIR resource (a JSON {json_type(document)}, where a resource is an "
            "object with a resourceType)"
        )
    if "resourceType" not in document:
        return "not a FHIR resource (no resourceType)"
    return f"not a FHIR resource (its resourceType is a JSON {json_type(document['resourceType'])})"
