"""A CSV extract as rows of text, each with its line in the file, and the bad ones among them.

Every cell is read as text, so that ids such as "007" keep their zeros and "NA" stays text
unless ``na_values=`` says it means missing; in the file's encoding, compressed or not. A
line with more fields than the header is a ragged row. `Rows` keeps each row's line, so
that every problem names it, and raises at the first bad row or drops and counts them in
the read report. Messages never quote a cell, so that an error cannot carry a patient's id
or birth date into a log.
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
    """Bad rows of one file: raise at the first, or drop and count them."""

    def __init__(self, path: Path, errors: str, lines: np.ndarray) -> None:
        self.path, self.errors, self.lines = path, errors, lines
        self.keep = np.ones(len(lines), dtype=bool)
        self.report = ReadReport(rows=len(lines), format="csv")

    def bad(self, rows: np.ndarray, reason: str, message: str) -> None:
        rows = rows[self.keep[rows]]  # each row is reported once
        if len(rows):
            self._problem(self.lines[rows], reason, message)
            self.keep[rows] = False

    def bad_lines(self, lines: np.ndarray, reason: str, message: str) -> None:
        """Lines that never became rows (pandas skipped them)."""
        if len(lines):
            self.report.rows += len(lines)
            self._problem(lines, reason, message)

    def _problem(self, lines: np.ndarray, reason: str, message: str) -> None:
        if self.errors == "raise":
            more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
            raise CSVReadError(f"{self.path.name}, line {lines[0]}{more}: {message}. {_WHAT_TO_DO}")
        self.report.skipped[reason] += len(lines)
        room = MAX_PROBLEMS - len(self.report.problems)
        self.report.problems += [f"{self.path.name}, line {n}: {message}" for n in lines[:room]]


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
    # A byte order mark (Excel writes one) is not part of the first column's name.
    utf8 = codecs.lookup(encoding).name == "utf-8"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            table = pd.read_csv(
                path,
                sep=sep,
                encoding="utf-8-sig" if utf8 else encoding,
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
    except UnicodeDecodeError:
        raise _undecodable(path, "utf-8-sig" if utf8 else encoding, encoding) from None
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
    # A first data line longer than the header sets the number of fields pandas expects:
    # later lines as long pass unflagged, their last fields dropped (index_col=False).
    too_long = _first_line_too_long(path, sep, "utf-8-sig" if utf8 else encoding)
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
                warnings.warn(text, pd.errors.ParserWarning, stacklevel=3)
    if too_long:
        raise CSVReadError(
            f"{path.name}, line {_FIRST_DATA_LINE}: more fields than the {len(table.columns)} "
            f"names of the header line. Quote values that hold {sep!r}, or name every column "
            "on line 1."
        )
    ragged_lines = np.array(sorted(ragged), dtype=np.int64)
    records = np.arange(len(table) + len(ragged_lines)) + _FIRST_DATA_LINE
    lines = records[~np.isin(records, ragged_lines)]
    if len(lines) != len(table):  # pandas counted lines otherwise: number the rows
        lines = np.arange(len(table)) + _FIRST_DATA_LINE
    empty = table.isna().all(axis=1).to_numpy()
    return table[~empty].reset_index(drop=True), lines[~empty], ragged_lines


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
