"""A CSV extract as rows of text, each with its line in the file, and the bad ones among them.

Every cell is read as text, so that ids such as "007" keep their zeros and "NA" stays text
unless ``na_values=`` says it means missing; in the file's encoding, compressed or not. A
line with more fields than the header is a ragged row. `Rows` keeps each row's line, so
that every problem names it, and raises at the first bad row or drops and counts them in
the read report; the cohort folder's tables (`ramultimodal.io._cohort`) keep their rows the
same way, in their own words. Messages never quote a cell, so that an error cannot carry a
patient's id or birth date into a log.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ramultimodal._errors import InputError
from ramultimodal.io._read_report import MAX_PROBLEMS, ReadReport, check_errors

__all__ = [
    "CSVReadError",
    "Rows",
    "check_options",
    "checked_na_values",
    "parse_strings",
    "ragged_message",
    "read_strings",
]

_FIRST_DATA_LINE = 2  # line 1 is the header
_WHAT_TO_DO = (
    "Fix the file, or pass errors='skip' (--errors skip on the command line) to skip and "
    "count such rows."
)
# pandas' warning for a line it skipped with on_bad_lines="warn".
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected \d+ fields, saw \d+")
_DECOMPRESS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


class CSVReadError(InputError):
    """A CSV extract that cannot be turned into events (names the file and line)."""


class Rows:
    """Bad rows of one file: raise at the first, or drop and count them.

    ``keep`` marks the rows found good so far; ``report.skipped`` counts the others by
    reason, each row once, under its first problem. A reader that words its errors in
    another way (the cohort folder's tables) overrides `error`.
    """

    def __init__(self, path: Path, errors: str, lines: np.ndarray) -> None:
        self.path, self.errors, self.lines = path, errors, lines
        self.keep = np.ones(len(lines), dtype=bool)
        self.report = ReadReport(rows=len(lines), format="csv")

    def bad(self, rows: np.ndarray, reason: str, message: str, *, skippable: bool = True) -> None:
        """Rows (positions, or a mask of them) with a problem: raise at the first, or skip.

        A problem that is not `skippable` raises whatever ``errors`` says, at the first of
        `rows` even when it was skipped already: it is a problem of the whole file (one
        patient twice, dates that read two ways), which dropping rows cannot fix.
        """
        if not len(rows):  # of any dtype: a list comprehension of no rows gives floats
            return
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows
        if skippable:
            rows = rows[self.keep[rows]]  # each row is reported once
        if len(rows):
            self._problem(self.lines[rows], reason, message, skippable)
            self.keep[rows] = False

    def bad_lines(
        self, lines: np.ndarray, reason: str, message: str, *, skippable: bool = True
    ) -> None:
        """Lines that never became rows (pandas skipped them)."""
        if len(lines):
            self.report.rows += len(lines)
            self._problem(lines, reason, message, skippable)

    def _problem(self, lines: np.ndarray, reason: str, message: str, skippable: bool) -> None:
        if self.errors == "raise" or not skippable:
            raise self.error(lines, message, skippable=skippable)
        self.report.skipped[reason] += len(lines)
        room = MAX_PROBLEMS - len(self.report.problems)
        self.report.problems += [f"{self.path.name}, line {n}: {message}" for n in lines[:room]]

    def error(self, lines: np.ndarray, message: str, *, skippable: bool = True) -> InputError:
        """The error that names the first of `lines`: errors="raise", or not `skippable`."""
        more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
        what_to_do = f" {_WHAT_TO_DO}" if skippable else ""
        return CSVReadError(f"{self.path.name}, line {lines[0]}{more}: {message}.{what_to_do}")


def check_options(errors: str, decimal: str, encoding: str) -> None:
    check_errors(errors)
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}; pass a Python codec name") from None


def checked_na_values(na_values: Iterable[str]) -> list[str]:
    if isinstance(na_values, str) or not all(isinstance(v, str) for v in na_values):
        raise TypeError(f"na_values must be a list of words, got {na_values!r}")
    return list(na_values)


def read_strings(
    path: Path, sep: str, encoding: str, na_values: Iterable[str] = ()
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The file's cells as text, the line of each row, and the lines with too many fields.

    Every cell is text and empty cells are missing: "NA" or "None" in a text column stays
    text, and subject ids such as "007" keep their zeros. Lines of only empty fields (a
    spreadsheet's empty rows) are dropped. Line numbers count records: a value quoted over
    two lines makes the later numbers one short.
    """
    codec = _codec(encoding)
    try:
        table, lines, ragged, too_long = parse_strings(path, sep, codec, na_values)
    except UnicodeDecodeError:
        raise _undecodable(path, codec, encoding) from None
    except pd.errors.EmptyDataError:
        raise CSVReadError(
            f"{path.name} is empty: it has no header line. Export it again with the column "
            "names on line 1."
        ) from None
    except pd.errors.ParserError as error:
        # pandas' tokenizer messages name a line or row, never a cell.
        what = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CSVReadError(
            f"{path.name} cannot be read as CSV ({what}). Check sep= and that every quote "
            "is closed."
        ) from None
    if too_long:
        raise CSVReadError(
            f"{path.name}, line {_FIRST_DATA_LINE}: more fields than the {len(table.columns)} "
            f"names of the header line. Quote values that hold {sep!r}, or name every column "
            "on line 1."
        )
    return table, lines, ragged


def _codec(encoding: str) -> str:
    # A byte order mark (Excel writes one) is not part of the first column's name.
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def parse_strings(
    path: Path, sep: str, codec: str, na_values: Iterable[str] = ()
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, bool]:
    """`read_strings`, leaving the refusal of the file to the caller, in its own words.

    Returns the same three, and whether line 2 has more fields than the header line (the
    columns are then shifted: refuse the file). Raises what pandas raises:
    ``UnicodeDecodeError``, ``pandas.errors.EmptyDataError`` (no header line),
    ``pandas.errors.ParserError`` (an unclosed quote), ``OSError``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        table = pd.read_csv(
            path,
            sep=sep,
            encoding=codec,
            dtype=str,
            keep_default_na=False,
            na_values=["", *na_values],
            # Without index_col=False pandas takes the first column as the index when
            # line 2 has one field more than the header, shifting every column; "warn"
            # lets errors="skip" skip and count a longer line; blank lines kept as
            # rows keep the line count.
            index_col=False,
            on_bad_lines="warn",
            skip_blank_lines=False,
        )
    # A first data line longer than the header sets the number of fields pandas expects:
    # later lines as long pass unflagged, their last fields dropped (index_col=False).
    too_long = _first_line_too_long(path, sep, codec)
    ragged = []
    for warning in caught:
        if not issubclass(warning.category, pd.errors.ParserWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
            continue
        for text in str(warning.message).splitlines():
            if match := _SKIPPED_LINE.match(text):
                ragged.append(int(match.group(1)))
            elif text.startswith("Length of header"):
                too_long = True
            elif text.strip():
                warnings.warn(text, pd.errors.ParserWarning, stacklevel=4)
    ragged_lines = np.array(sorted(ragged), dtype=np.int64)
    records = np.arange(len(table) + len(ragged_lines)) + _FIRST_DATA_LINE
    lines = records[~np.isin(records, ragged_lines)]
    if len(lines) != len(table):  # pandas counted lines otherwise: number the rows
        lines = np.arange(len(table)) + _FIRST_DATA_LINE
    empty = table.isna().all(axis=1).to_numpy()
    return table[~empty].reset_index(drop=True), lines[~empty], ragged_lines, too_long


def _first_line_too_long(path: Path, sep: str, encoding: str) -> bool:
    """Whether line 2 has more fields than the header line, split as pandas splits it."""
    if len(sep) != 1:  # a regular expression, which the csv module cannot split on
        return False
    opener = _DECOMPRESS.get(path.suffix.lower(), open)
    with opener(path, "rt", encoding=encoding, newline="") as file:
        reader = csv.reader(file, delimiter=sep)
        header, record = next(reader, []), next(reader, [])
    return len(record) > len(header)


def _undecodable(path: Path, codec: str, encoding: str) -> CSVReadError:
    """The error for a file that is not in `encoding`, at the line of the first bad byte."""
    with _DECOMPRESS.get(path.suffix.lower(), open)(path, "rb") as file:
        data = file.read()
    try:
        data.decode(codec)
        where = f"{path.name}: its bytes are"  # pandas read it otherwise; no line to name
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        where = f"{path.name}, line {line}: byte 0x{data[error.start]:02x} is"
    return CSVReadError(
        f"{where} not {encoding} text. Pass the file's encoding=, such as "
        "encoding='cp1252' or encoding='latin-1' for many exports from Windows."
    )


def ragged_message(sep: str) -> str:
    return f"the line has more fields than the header line (quote values that hold {sep!r})"
