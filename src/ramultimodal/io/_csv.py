"""Read CSV extracts into the events table: long (one row per fact) and wide (one row per
patient, a column per code).

Hospitals hand out CSV as often as FHIR. A long extract maps onto the events table column
by column (`read_events_csv`); a wide one needs to be told which code each column holds
(`read_wide_csv`). Both give codes their system prefix, read numbers with their comparator
and unit ("<5 mg/L"), normalise units through `ramultimodal.terminology.units` and name the file
and line of every bad row. What they cannot read they refuse in one line that never quotes
a cell, so that an error message cannot carry a patient's id or birth date into a log.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ramultimodal.io._events import EVENT_COLUMNS, as_events, parse_times
from ramultimodal.io._fhir_datatypes import ResourceProblem, unit_conversion
from ramultimodal.io._read_report import MAX_PROBLEMS, ReadReport
from ramultimodal.terminology.codes import CONCEPTS, concept_of
from ramultimodal.terminology.systems import SYSTEM_PREFIXES
from ramultimodal.terminology.words import RESULT_WORDS, SEX_WORDS, SMOKING_WORDS

__all__ = ["CSVReadError", "read_events_csv", "read_wide_csv"]

_FIRST_DATA_LINE = 2  # line 1 is the header
_WHAT_TO_DO = (
    "Fix the file, or pass errors='skip' (--errors skip on the command line) to skip and "
    "count such rows."
)

# A number as extracts write it: an optional comparator, the number, an optional unit
# ("12.5", "<5", ">= 300", "3 mg/dl", "5%", "250 10*9/L"). Only ASCII digits and one "." or
# "," (decimal= says which is the decimal separator): float() would also take "inf", "1_000"
# and Arabic-Indic digits, none of which a lab writes. A unit right after the number must
# start with a letter, "%", "[" or "{", so that "1:160" (a titre), "2+" (a dipstick) and
# "2020-01-02" stay text; after a space it may start with a digit ("10*9/L").
_QUANTITY = (
    r"^\s*(?P<comparator><=|>=|<|>)?\s*"
    r"(?P<number>[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"(?:\s*(?P<unit>(?:[^\W\d_]|[%\[{])\S*|(?<=\s)[0-9/*]\S*))?\s*\Z"
)
# What float() reads as a number but no clinical value is.
_NOT_FINITE = r"^\s*(?:<=|>=|<|>)?\s*[+-]?(?:inf(?:inity)?|nan)(?:\s.*)?\Z"
# pandas' warning for a line it skipped with on_bad_lines="warn".
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected \d+ fields, saw \d+")
_DECOMPRESS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


class CSVReadError(ValueError):
    """A CSV extract that cannot be turned into events (names the file and line)."""


class _Rows:
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


def _check_options(errors: str, decimal: str, encoding: str) -> None:
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}; pass a Python codec name") from None


def _na_values(na_values: Iterable[str]) -> list[str]:
    if isinstance(na_values, str) or not all(isinstance(v, str) for v in na_values):
        raise TypeError(f"na_values must be a list of words, got {na_values!r}")
    return list(na_values)


def _read_strings(
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


def _times(column: pd.Series, time_format: str | None, rows: _Rows, what: str) -> pd.Series:
    times = parse_times(column, time_format=time_format)
    rows.bad(
        np.flatnonzero(times.isna().to_numpy() & column.notna().to_numpy()),
        "bad time",
        f"{what} is not a {'time' if time_format is None else repr(time_format)} "
        "(pass time_format= for other formats)",
    )
    return times


def _quantities(
    cells: pd.Series, decimal: str, rows: _Rows, what: str
) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """The number, comparator and unit of each cell that is a number ("<5 mg/L").

    Reports the cells that look like numbers but are not (``inf``, ``nan``, an overflow, a
    decimal separator other than `decimal`); other text is left to the caller.

    Returns
    -------
    values : ndarray of float64
        NaN where a cell is not a finite number.
    comparators, units : Series
        Missing where the cell has none.
    """
    parts = cells.str.extract(_QUANTITY)
    not_finite = f"{what} is not a finite number (leave the cell empty for a missing value)"
    rows.bad(
        np.flatnonzero(cells.str.match(_NOT_FINITE, flags=re.IGNORECASE, na=False).to_numpy()),
        "bad number",
        not_finite,
    )
    number = parts["number"]
    if decimal == ".":
        # "12,5" is a decimal comma (or a thousands separator: "1,500"); either way
        # reading it as text or as 125 would be wrong, so the user must say.
        wrong = number.str.contains(",", regex=False, na=False).to_numpy(dtype=bool)
        rows.bad(
            np.flatnonzero(wrong),
            "decimal comma",
            f"{what} has a decimal comma (pass decimal=',' if the file writes them; a ',' "
            "between thousands must go)",
        )
    else:
        # With decimal commas a "." groups thousands ("250.000" platelets per uL): not
        # a decimal point to guess at.
        wrong = number.str.contains(".", regex=False, na=False).to_numpy(dtype=bool)
        rows.bad(
            np.flatnonzero(wrong),
            "bad number",
            f"{what} has a '.' in a number read with decimal=',' (write it without "
            "thousands separators)",
        )
        number = number.str.replace(",", ".", regex=False)
    # Python's float() per cell: values written by to_csv read back bit for bit.
    values = number.where(~wrong).astype("float64").to_numpy(copy=True)
    overflow = np.isinf(values)
    rows.bad(np.flatnonzero(overflow), "bad number", not_finite)
    values[overflow] = np.nan
    return values, parts["comparator"], parts["unit"]


def _same_unit(code: str, first: str, second: str) -> bool:
    if first.strip() == second.strip():
        return True
    try:  # "mg/dl" and "mg/dL" agree: the same factor to the same canonical unit
        return unit_conversion(code, first) == unit_conversion(code, second)
    except ResourceProblem:
        return False


def _units(
    codes: pd.Series, in_cells: pd.Series, given: pd.Series, rows: _Rows, what: str, where: str
) -> pd.Series:
    """The unit of each value: `given` (a unit column, ``units=``), else the cell's own."""
    both = (in_cells.notna() & given.notna()).to_numpy()
    pairs = pd.DataFrame({"code": codes[both], "cell": in_cells[both], "given": given[both]})
    for (code, cell, unit), group in pairs.groupby(["code", "cell", "given"], sort=False):
        if not _same_unit(code, cell, unit):
            rows.bad(
                group.index.to_numpy(),
                "unit conflict",
                f"{what} writes the unit {cell!r} where {where} gives {unit!r} (write the "
                "unit in one place, or make them agree)",
            )
    return given.where(given.notna(), in_cells).astype(object)


def _normalise_units(
    codes: pd.Series, values: np.ndarray, units: pd.Series, rows: _Rows
) -> tuple[np.ndarray, pd.Series]:
    """Convert each value to its concept's canonical unit, one (code, unit) pair at a time."""
    values, units = values.copy(), units.astype(object).copy()
    has_value = ~np.isnan(values) & rows.keep
    pairs = pd.DataFrame({"code": codes[has_value], "unit": units[has_value]})
    for (code, unit), group in pairs.groupby(["code", "unit"], dropna=False, sort=False):
        unit = None if pd.isna(unit) else unit
        try:
            factor, canonical = unit_conversion(code, unit)
        except ResourceProblem:
            # The unit is not quoted: in a CSV it is whatever the cell held (a name, a date).
            expected = _canonical_unit(code)
            rows.bad(
                group.index.to_numpy(),
                "unknown unit",
                f"{code}: an unknown unit, not one its concept is measured in"
                + (f" (such as {expected})" if expected else ""),
            )
            continue
        index = group.index.to_numpy()
        if factor != 1.0:
            values[index] *= factor
            # 5e307 mg/dL is finite; in mg/L it is not.
            overflow = index[~np.isfinite(values[index])]
            rows.bad(overflow, "bad number", f"{code}: a value out of range once converted")
            values[overflow] = np.nan
        units.iloc[index] = canonical
    return values, units


def _prefixed(codes: pd.Series, systems: pd.Series | None) -> pd.Series:
    """``PREFIX/code`` from a system column (URI or prefix) or a ``system|code`` token."""
    if systems is not None:
        prefixes = systems.map(lambda s: SYSTEM_PREFIXES.get(s, s), na_action="ignore")
        return (prefixes + "/" + codes).where(systems.notna(), codes)
    token = codes.str.contains("|", regex=False, na=False)
    if token.any():
        split = codes[token].str.split("|", n=1, expand=True)
        prefixes = split[0].map(lambda s: SYSTEM_PREFIXES.get(s, s))
        codes = codes.copy()
        codes[token] = prefixes + "/" + split[1]
    return codes


def _words(cells: pd.Series, words: Mapping[str, str]) -> pd.Series:
    """What each cell's word means in `words`; missing where it is none of them."""
    return cells.str.strip().str.casefold().str.replace(r"\s+", " ", regex=True).map(words)


def _sexes(cells: pd.Series, rows: _Rows, what: str) -> pd.Series:
    sexes = _words(cells, SEX_WORDS)
    rows.bad(
        np.flatnonzero((cells.notna() & sexes.isna()).to_numpy()),
        "bad sex",
        f"{what} is not a sex (write M/F, male/female, w/weiblich, other or unknown, in any case)",
    )
    return sexes


def _smoking_statuses(cells: pd.Series, rows: _Rows, what: str) -> pd.Series:
    codes = _prefixed(cells.str.strip(), None)
    snomed = codes.str.fullmatch(r"SNOMED/\d+", case=False, na=False)
    statuses = _words(cells, SMOKING_WORDS)
    statuses = statuses.where(statuses.notna(), ("SNOMED/" + codes.str[7:]).where(snomed))
    rows.bad(
        np.flatnonzero((cells.notna() & statuses.isna()).to_numpy()),
        "bad smoking status",
        f"{what} is not a smoking status (write current/smoker/yes, former/ex-smoker/ex, "
        "never/no/non-smoker, unknown, or a SNOMED code such as SNOMED/8517006)",
    )
    return statuses


def read_events_csv(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    time_format: str | None = None,
    sep: str = ",",
    decimal: Literal[".", ","] = ".",
    encoding: str = "utf-8",
    na_values: Iterable[str] = (),
    errors: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """Read a long CSV extract (one row per fact) into the events table.

    Parameters
    ----------
    path : path-like
        The CSV file. Its header names the columns; a header without rows gives no events.
    columns : mapping, optional
        The file's column names to events columns (`ramultimodal.io.EVENT_COLUMNS`) or
        ``"system"``: ``{"patient": "subject_id", "date": "time", "loinc": "code",
        "result": "numeric_value"}``. Columns already named like events columns need no
        entry. ``subject_id`` and ``code`` are required.
    time_format : str, optional
        ``strftime`` format of the times (``"%d/%m/%Y"``); ISO 8601 by default, read by
        the date policy of `ramultimodal.io.parse_times` (a partial date at the end of its
        period, an offset dropped: the wall-clock time where it was recorded).
    sep : str, default ","
        Field separator. A value holding it must be quoted.
    decimal : {".", ","}, default "."
        Decimal separator of the numbers. With ``","`` (European exports, usually with
        ``sep=";"``) ``12,5`` reads as 12.5 and a number with a ``"."`` is refused (a
        thousands separator?); with ``"."`` a number with a ``","`` is refused.
    encoding : str, default "utf-8"
        The file's text encoding (``"cp1252"``, ``"latin-1"``). A UTF-8 byte order mark is
        skipped.
    na_values : iterable of str, default ()
        The export's words for a missing value (``"NA"``, ``"n.d."``): such cells are
        empty. Nothing is taken for missing unless said: "NA" may be a text value.
    errors : {"raise", "skip"}, default "raise"
        On a row without subject or code, an unparseable time or number, a line with more
        fields than the header, or a unit that does not fit its concept: raise
        `CSVReadError` naming the line, or skip the row and count it in
        ``events.attrs["read_report"]``. A file that cannot be read at all (empty, not in
        `encoding`, a first data line longer than the header) always raises.

    Returns
    -------
    DataFrame
        The events table. Codes take their system prefix from a ``system`` column (a URI
        from `ramultimodal.terminology.SYSTEM_PREFIXES` or a prefix such as ``LOINC``) or from a
        ``system|code`` token. A ``numeric_value`` may carry a comparator (``<5``: 5, and
        ``"<"`` as the text value) and, when the row's unit is empty, its unit (``3
        mg/dL``); ``inf`` and ``nan`` are not numbers. Values are converted to their
        concept's canonical unit; ``source`` is ``"<file>:<line>"`` unless the file has a
        source column.

    Raises
    ------
    CSVReadError
        One line naming the file, the line and what to do; it never quotes a cell.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labs.csv"
    >>> _ = path.write_text("patient,date,system,loinc,result,units\\n"
    ...                     "p1,2020-01-02,http://loinc.org,1988-5,1.2,mg/dL\\n"
    ...                     "p1,2020-01-03,http://loinc.org,1988-5,<5 mg/L,\\n")
    >>> events = read_events_csv(path, columns={"patient": "subject_id", "date": "time",
    ...     "loinc": "code", "result": "numeric_value", "units": "unit"})
    >>> events[["code", "numeric_value", "text_value", "unit", "source"]]
               code  numeric_value text_value  unit      source
    0  LOINC/1988-5           12.0       <NA>  mg/L  labs.csv:2
    1  LOINC/1988-5            5.0          <  mg/L  labs.csv:3
    """
    path = Path(path)
    _check_options(errors, decimal, encoding)
    table, lines, ragged = _read_strings(path, sep, encoding, _na_values(na_values))
    table = table.rename(columns=dict(columns or {}))
    wanted = (*EVENT_COLUMNS, "system")
    missing = [name for name in ("subject_id", "code") if name not in table.columns]
    if missing:
        # The header's names are not listed: in a file without a header line they would
        # be a patient's id and birth date.
        raise CSVReadError(
            f"{path.name} has no {' or '.join(missing)} column on its header line (line 1). "
            "Map yours with columns={'your name': 'subject_id'}."
        )
    if table.columns.duplicated().any():
        raise CSVReadError(f"{path.name}: two columns map to the same events column.")
    rows = _Rows(path, errors, lines)
    rows.bad_lines(ragged, "ragged row", _ragged(sep))
    rows.report.columns_ignored = [name for name in table.columns if name not in wanted]
    table = table.reindex(columns=list(wanted)).astype("str")  # absent columns: all NaN
    rows.bad(
        np.flatnonzero(table["subject_id"].isna().to_numpy()),
        "no subject",
        "the row has no subject_id",
    )
    rows.bad(np.flatnonzero(table["code"].isna().to_numpy()), "no code", "the row has no code")
    codes = _prefixed(table["code"], table["system"] if table["system"].notna().any() else None)
    times = _times(table["time"], time_format, rows, "the time")
    named = {target: name for name, target in (columns or {}).items()}.get("numeric_value")
    what = "numeric_value" + (
        f" (column {named!r})" if named not in (None, "numeric_value") else ""
    )
    values, comparators, cell_units = _quantities(table["numeric_value"], decimal, rows, what)
    rows.bad(
        np.flatnonzero(np.isnan(values) & table["numeric_value"].notna().to_numpy()),
        "bad number",
        f"{what} is not a number",
    )
    # "<5": the number, and its comparator as the text value (docs/data-model.md).
    has_comparator = comparators.notna()
    rows.bad(
        np.flatnonzero((has_comparator & table["text_value"].notna()).to_numpy()),
        "bad number",
        f"{what} has a comparator, which becomes the text_value, but the row has a text_value too",
    )
    text_values = table["text_value"].where(~has_comparator, comparators)
    units = _units(codes, cell_units, table["unit"], rows, what, "the unit column")
    values, units = _normalise_units(codes, values, units, rows)
    sources = table["source"].where(
        table["source"].notna(), pd.Series([f"{path.name}:{n}" for n in lines], dtype=object)
    )
    events = pd.DataFrame(
        {
            "subject_id": table["subject_id"],
            "time": times,
            "code": codes,
            "numeric_value": values,
            "text_value": text_values,
            "unit": units,
            "source": sources,
        }
    )[rows.keep]
    events = as_events(events)
    rows.report.events = len(events)
    events.attrs["read_report"] = rows.report
    return events


def _ragged(sep: str) -> str:
    return f"the line has more fields than the header line (quote values that hold {sep!r})"


#: Special targets of `read_wide_csv`'s mapping, for demographics.
_BIRTH, _GENDER = "MEDS_BIRTH", "GENDER"


def read_wide_csv(
    path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str],
    subject_column: str = "subject_id",
    time_column: str | None = None,
    units: Mapping[str, str] | None = None,
    time_format: str | None = None,
    sep: str = ",",
    decimal: Literal[".", ","] = ".",
    encoding: str = "utf-8",
    na_values: Iterable[str] = (),
    errors: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """Read a wide CSV extract (one row per patient or visit) into the events table.

    Parameters
    ----------
    path : path-like
        The CSV file; a header without rows gives no events.
    mapping : mapping
        Column name to events code: ``{"crp": "LOINC/1988-5", "rf_positive":
        "LOINC/11572-5"}``. Columns not in the mapping are ignored (listed in the report).
        Some targets read words:

        - ``"MEDS_BIRTH"``: the cell is the birth date.
        - ``"GENDER"``: the cell is the sex, ``GENDER/male``, ``GENDER/female``,
          ``GENDER/other`` or ``GENDER/unknown`` (no time), from ``M``/``F``,
          ``male``/``female``, ``man``/``woman``, ``w``/``weiblich``, ``other``,
          ``unknown`` in any case; any other word is a bad row.
        - A smoking-status code (``"LOINC/72166-2"``): the text value is the SNOMED CT
          answer the featurizer reads, from ``current``/``smoker``/``yes``,
          ``former``/``ex-smoker``/``ex``, ``never``/``no``/``non-smoker`` or ``unknown``
          in any case, or a SNOMED code as given (``SNOMED/8517006``); any other word is a
          bad row.
    subject_column : str, default "subject_id"
        The column holding the patient id.
    time_column : str, optional
        The column holding each row's time; without it, events have no time (``NaT``).
    units : mapping, optional
        Column name to the unit of its values. Else a cell may give its own (``3 mg/dL``;
        given in both places, the two must agree), else a value is taken to be in its
        concept's canonical unit (`ramultimodal.terminology.codes.CONCEPTS`), or to have no unit.
    time_format : str, optional
        ``strftime`` format of the times; ISO 8601 by default.
    sep : str, default ","
        Field separator. A value holding it must be quoted.
    decimal : {".", ","}, default "."
        Decimal separator of the numbers, as in `read_events_csv`.
    encoding : str, default "utf-8"
        The file's text encoding; a UTF-8 byte order mark is skipped.
    na_values : iterable of str, default ()
        The export's words for a missing value (``"NA"``, ``"n.d."``, ``"-"``): such cells
        are empty. A column of a concept measured in a unit holds numbers only, so any
        other text there is a bad row.
    errors : {"raise", "skip"}, default "raise"
        On a row without subject; a bad time, number, unit, sex or smoking status; or a
        line with more fields than the header: raise `CSVReadError`, or skip the row and
        count it.

    Returns
    -------
    DataFrame
        The events table: one event per non-empty mapped cell, numeric when the cell is a
        number (its comparator, as in ``<5``, the text value), else ``text_value``.

    Raises
    ------
    CSVReadError
        One line naming the file, the line, the column and what to do; it never quotes a
        cell.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "visits.csv"
    >>> _ = path.write_text("id;sex;born;visit;crp;smoker\\n"
    ...                     "p1;F;1960-05-01;2020-01-02;1,5 mg/dL;former\\n")
    >>> events = read_wide_csv(path, subject_column="id", time_column="visit",
    ...     mapping={"sex": "GENDER", "born": "MEDS_BIRTH", "crp": "LOINC/1988-5",
    ...              "smoker": "LOINC/72166-2"}, sep=";", decimal=",")
    >>> events[["time", "code", "numeric_value", "text_value", "unit"]]
            time           code  numeric_value      text_value  unit
    0        NaT  GENDER/female            NaN            <NA>  <NA>
    1 1960-05-01     MEDS_BIRTH            NaN            <NA>  <NA>
    2 2020-01-02   LOINC/1988-5           15.0            <NA>  mg/L
    3 2020-01-02  LOINC/72166-2            NaN  SNOMED/8517006  <NA>
    """
    path = Path(path)
    _check_options(errors, decimal, encoding)
    if not isinstance(mapping, Mapping):
        raise TypeError(
            "read_wide_csv's mapping is a mapping of columns to codes, e.g. "
            f"{{'crp_mg_l': 'LOINC/1988-5'}}; got a {type(mapping).__name__}"
        )
    table, lines, ragged = _read_strings(path, sep, encoding, _na_values(na_values))
    needed = [subject_column, *mapping, *([time_column] if time_column else [])]
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise CSVReadError(
            f"{path.name} has no column {missing} on its header line (line 1); pass the "
            "names as the header writes them."
        )
    rows = _Rows(path, errors, lines)
    rows.bad_lines(ragged, "ragged row", _ragged(sep))
    rows.report.columns_ignored = [name for name in table.columns if name not in needed]
    rows.bad(
        np.flatnonzero(table[subject_column].isna().to_numpy()),
        "no subject",
        f"the row has no {subject_column}",
    )
    row_times = (
        _times(table[time_column], time_format, rows, f"the {time_column}")
        if time_column
        else pd.Series(pd.NaT, index=table.index, dtype="datetime64[us]")
    )
    blocks = [
        _wide_column(
            table[column],
            column,
            code,
            row_times,
            (units or {}).get(column),
            rows,
            time_format=time_format,
            decimal=decimal,
        )
        for column, code in mapping.items()
    ]
    columns = ["row", "time", "code", "numeric_value", "text_value", "unit"]
    events = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=columns)
    events = events.sort_values("row", kind="stable", ignore_index=True)
    row_index = events["row"].to_numpy(dtype=np.int64)
    values, unit_column = _normalise_units(
        events["code"],
        events["numeric_value"].to_numpy(dtype=np.float64),
        events["unit"],
        _EventRows(rows, row_index),
    )
    events = pd.DataFrame(
        {
            "subject_id": table[subject_column].to_numpy()[row_index],
            "time": events["time"],
            "code": events["code"],
            "numeric_value": values,
            "text_value": events["text_value"],
            "unit": unit_column,
            "source": [f"{path.name}:{n}" for n in lines[row_index]],
        }
    )[rows.keep[row_index]]
    events = as_events(events)
    rows.report.events = len(events)
    events.attrs["read_report"] = rows.report
    return events


def _wide_column(
    cells: pd.Series,
    column: str,
    code: str,
    row_times: pd.Series,
    unit: str | None,
    rows: _Rows,
    *,
    time_format: str | None,
    decimal: str,
) -> pd.DataFrame:
    """The events of one mapped column of a wide extract, one per non-empty cell."""
    what = f"column {column!r}"
    times, texts = row_times, pd.Series(None, index=cells.index, dtype=object)
    values = np.full(len(cells), np.nan)
    units = pd.Series(unit or _canonical_unit(code), index=cells.index, dtype=object)
    if code == _BIRTH:
        times, codes = _times(cells, time_format, rows, what), _BIRTH
        units[:] = None
    elif code == _GENDER:
        sexes = _sexes(cells, rows, what)
        times, codes, cells = pd.Series(pd.NaT, index=cells.index), _GENDER + "/" + sexes, sexes
        units[:] = None
    elif concept_of(code) == "smoking":
        codes = code
        texts = cells = _smoking_statuses(cells, rows, what)
    else:
        codes = code
        values, comparators, cell_units = _quantities(cells, decimal, rows, what)
        # A number (its comparator, as in "<5", is the text value), else text; but a
        # concept measured in a unit has numbers only: "N/A" or "pending" there is not a
        # fact (declare the export's words for missing with na_values=).
        number = ~np.isnan(values)
        if _canonical_unit(code) is not None:
            # A qualitative result of a measured concept is a fact ("RF positive").
            qualitative = cells.str.strip().str.casefold().isin(list(RESULT_WORDS)).to_numpy()
            rows.bad(
                np.flatnonzero(cells.notna().to_numpy() & ~number & ~qualitative & rows.keep),
                "bad number",
                f"{what} holds text where its concept has numbers (leave the cell empty, or "
                "pass na_values= with the export's words for a missing value)",
            )
        texts = comparators.where(number, cells)
        given = pd.Series(unit, index=cells.index, dtype=object)
        where = f"units={{{column!r}: ...}}"
        stated = _units(pd.Series(code, index=cells.index), cell_units, given, rows, what, where)
        units = units.mask(number & stated.notna().to_numpy(), stated)
    present = cells.notna().to_numpy()
    codes = pd.Series(codes, index=cells.index)
    return pd.DataFrame(
        {
            "row": np.flatnonzero(present),
            "time": times.to_numpy()[present],
            "code": codes.to_numpy(dtype=object)[present],
            "numeric_value": values[present],
            "text_value": texts.to_numpy(dtype=object)[present],
            "unit": units.to_numpy(dtype=object)[present],
        }
    )


def _canonical_unit(code: str) -> str | None:
    concept = concept_of(code)
    return None if concept is None else CONCEPTS[concept].unit


class _EventRows:
    """`_Rows` seen through events: a bad event marks its CSV row bad."""

    def __init__(self, rows: _Rows, row_index: np.ndarray) -> None:
        self.rows, self.row_index = rows, row_index

    @property
    def keep(self) -> np.ndarray:
        return self.rows.keep[self.row_index]

    def bad(self, events: np.ndarray, reason: str, message: str) -> None:
        self.rows.bad(np.unique(self.row_index[events]), reason, message)
