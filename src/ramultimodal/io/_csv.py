"""Read CSV extracts into the events table: long (one row per fact) and wide (one row per
patient, a column per code).

Hospitals hand out CSV as often as FHIR. A long extract maps onto the events table column
by column (`read_events_csv`); a wide one needs to be told which code each column holds
(`read_wide_csv`). Both give codes their system prefix, normalise units through
`ramultimodal.ehr.units` and name the file and line of every bad row.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ramultimodal.io._events import EVENT_COLUMNS, SYSTEM_PREFIXES, as_events
from ramultimodal.io._fhir_resources import ResourceProblem, unit_conversion

__all__ = ["CSVReadError", "CSVReadReport", "read_events_csv", "read_wide_csv"]

_FIRST_DATA_LINE = 2  # line 1 is the header
_COMPARATOR = r"^\s*(<=|>=|<|>)\s*(\S.*)$"
_WHAT_TO_DO = "Fix the file, or pass errors='skip' to skip and count such rows."


class CSVReadError(ValueError):
    """A CSV extract that cannot be turned into events (names the file and line)."""


@dataclass
class CSVReadReport:
    """What a CSV reader read and skipped; ``events.attrs["read_report"]``.

    Attributes
    ----------
    rows : int
        Data rows in the file.
    events : int
        Rows of the events table.
    skipped : Counter
        Rows skipped with ``errors="skip"``, by reason.
    problems : list of str
        ``"file, line N: what"`` for the first 100 skipped rows.
    columns_ignored : list of str
        Columns of the file that map to nothing.
    """

    rows: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    columns_ignored: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        skipped = ", ".join(f"{k} {n}" for k, n in self.skipped.most_common()) or "none"
        ignored = ", ".join(self.columns_ignored) or "none"
        return (
            f"{self.events} events from {self.rows} rows; skipped: {skipped}; "
            f"columns ignored: {ignored}"
        )


class _Rows:
    """Bad rows of one file: raise at the first, or drop and count them."""

    def __init__(self, path: Path, errors: str, n_rows: int) -> None:
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        self.path, self.errors = path, errors
        self.keep = np.ones(n_rows, dtype=bool)
        self.report = CSVReadReport(rows=n_rows)

    def bad(self, rows: np.ndarray, reason: str, message: str) -> None:
        rows = rows[self.keep[rows]]  # each row is reported once
        if not len(rows):
            return
        lines = rows + _FIRST_DATA_LINE
        if self.errors == "raise":
            more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
            raise CSVReadError(f"{self.path.name}, line {lines[0]}{more}: {message}. {_WHAT_TO_DO}")
        self.keep[rows] = False
        self.report.skipped[reason] += len(rows)
        room = 100 - len(self.report.problems)
        self.report.problems += [f"{self.path.name}, line {n}: {message}" for n in lines[:room]]


def _read_strings(path: Path, sep: str) -> pd.DataFrame:
    # Every cell as text, empty cells missing: "NA" or "None" in a text column stays text,
    # and subject ids such as "007" keep their zeros.
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])


def _times(column: pd.Series, time_format: str | None, rows: _Rows, what: str) -> pd.Series:
    times = pd.to_datetime(
        column, format=time_format or "ISO8601", utc=True, errors="coerce"
    ).dt.tz_localize(None)
    rows.bad(
        np.flatnonzero(times.isna().to_numpy() & column.notna().to_numpy()),
        "bad time",
        f"{what} is not a {'time' if time_format is None else repr(time_format)} "
        "(pass time_format= for other formats)",
    )
    return times


def _numbers(column: pd.Series, rows: _Rows, what: str) -> np.ndarray:
    try:
        # Python's float() per cell: values written by to_csv read back bit for bit.
        return column.astype("float64").to_numpy()
    except ValueError:
        numbers = pd.to_numeric(column, errors="coerce")
        rows.bad(
            np.flatnonzero(numbers.isna().to_numpy() & column.notna().to_numpy()),
            "bad number",
            f"{what} is not a number",
        )
        return numbers.to_numpy(dtype=np.float64)


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
        except ResourceProblem as problem:
            rows.bad(group.index.to_numpy(), "unknown unit", str(problem))
            continue
        index = group.index.to_numpy()
        if factor != 1.0:
            values[index] *= factor
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


def read_events_csv(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    time_format: str | None = None,
    sep: str = ",",
    errors: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """Read a long CSV extract (one row per fact) into the events table.

    Parameters
    ----------
    path : path-like
        The CSV file. Its header names the columns.
    columns : mapping, optional
        The file's column names to events columns (`ramultimodal.io.EVENT_COLUMNS`) or
        ``"system"``: ``{"patient": "subject_id", "date": "time", "loinc": "code",
        "result": "numeric_value"}``. Columns already named like events columns need no
        entry. ``subject_id`` and ``code`` are required.
    time_format : str, optional
        ``strftime`` format of the times (``"%d/%m/%Y"``); ISO 8601 by default. Times with
        an offset are converted to UTC.
    sep : str, default ","
        Field separator.
    errors : {"raise", "skip"}, default "raise"
        On a row without subject or code, an unparseable time or number, or a unit that
        does not fit its concept: raise `CSVReadError` naming the line, or skip the row
        and count it in ``events.attrs["read_report"]``.

    Returns
    -------
    DataFrame
        The events table. Codes take their system prefix from a ``system`` column (a URI
        from `ramultimodal.io.SYSTEM_PREFIXES` or a prefix such as ``LOINC``) or from a
        ``system|code`` token; values are converted to their concept's canonical unit;
        ``source`` is ``"<file>:<line>"`` unless the file has a source column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labs.csv"
    >>> _ = path.write_text("patient,date,system,loinc,result,units\\n"
    ...                     "p1,2020-01-02,http://loinc.org,1988-5,1.2,mg/dL\\n")
    >>> events = read_events_csv(path, columns={"patient": "subject_id", "date": "time",
    ...     "loinc": "code", "result": "numeric_value", "units": "unit"})
    >>> events[["code", "numeric_value", "unit", "source"]]
               code  numeric_value  unit      source
    0  LOINC/1988-5           12.0  mg/L  labs.csv:2
    """
    path = Path(path)
    table = _read_strings(path, sep).rename(columns=dict(columns or {}))
    wanted = (*EVENT_COLUMNS, "system")
    missing = [name for name in ("subject_id", "code") if name not in table.columns]
    if missing:
        raise CSVReadError(
            f"{path.name} has no {' or '.join(missing)} column (its columns: "
            f"{list(table.columns)}). Map yours with columns={{'your name': 'subject_id'}}."
        )
    if table.columns.duplicated().any():
        raise CSVReadError(f"{path.name}: two columns map to the same events column.")
    rows = _Rows(path, errors, len(table))
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
    # "<5": the number, and its comparator as the text value (docs/data-model.md).
    comparators = table["numeric_value"].str.extract(_COMPARATOR)
    has_comparator = comparators[0].notna() & table["text_value"].isna()
    table.loc[has_comparator, "text_value"] = comparators.loc[has_comparator, 0]
    table.loc[has_comparator, "numeric_value"] = comparators.loc[has_comparator, 1]
    values = _numbers(table["numeric_value"], rows, "numeric_value")
    values, units = _normalise_units(codes, values, table["unit"], rows)
    lines = np.arange(len(table)) + _FIRST_DATA_LINE
    sources = table["source"].where(
        table["source"].notna(), pd.Series([f"{path.name}:{n}" for n in lines], dtype=object)
    )
    events = pd.DataFrame(
        {
            "subject_id": table["subject_id"],
            "time": times,
            "code": codes,
            "numeric_value": values,
            "text_value": table["text_value"],
            "unit": units,
            "source": sources,
        }
    )[rows.keep]
    events = as_events(events)
    rows.report.events = len(events)
    events.attrs["read_report"] = rows.report
    return events


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
    errors: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """Read a wide CSV extract (one row per patient or visit) into the events table.

    Parameters
    ----------
    path : path-like
        The CSV file.
    mapping : mapping
        Column name to events code: ``{"crp": "LOINC/1988-5", "rf_positive":
        "LOINC/11572-5"}``. Two targets are special: ``"MEDS_BIRTH"`` (the cell is the
        birth date) and ``"GENDER"`` (the cell is the sex: ``GENDER/<cell>``, no time).
        Columns not in the mapping are ignored (listed in the report).
    subject_column : str, default "subject_id"
        The column holding the patient id.
    time_column : str, optional
        The column holding each row's time; without it, events have no time (``NaT``).
    units : mapping, optional
        Column name to the unit of its values. A column without one is taken to be in its
        concept's canonical unit (`ramultimodal.ehr.codes.CONCEPTS`), or to have no unit.
    time_format : str, optional
        ``strftime`` format of the times; ISO 8601 by default.
    sep : str, default ","
        Field separator.
    errors : {"raise", "skip"}, default "raise"
        On a row without subject, or a bad time or unit: raise `CSVReadError`, or skip the
        row and count it.

    Returns
    -------
    DataFrame
        The events table: one event per non-empty mapped cell, numeric when the cell is a
        number, else ``text_value``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "visits.csv"
    >>> _ = path.write_text("id,sex,born,visit,crp_mg_dl,smoker\\n"
    ...                     "p1,female,1960-05-01,2020-01-02,1.5,former\\n")
    >>> events = read_wide_csv(path, subject_column="id", time_column="visit",
    ...     mapping={"sex": "GENDER", "born": "MEDS_BIRTH", "crp_mg_dl": "LOINC/1988-5",
    ...              "smoker": "LOINC/72166-2"}, units={"crp_mg_dl": "mg/dL"})
    >>> events[["time", "code", "numeric_value", "text_value", "unit"]]
            time           code  numeric_value text_value  unit
    0        NaT  GENDER/female            NaN       <NA>  <NA>
    1 1960-05-01     MEDS_BIRTH            NaN       <NA>  <NA>
    2 2020-01-02   LOINC/1988-5           15.0       <NA>  mg/L
    3 2020-01-02  LOINC/72166-2            NaN     former  <NA>
    """
    path = Path(path)
    table = _read_strings(path, sep)
    needed = [subject_column, *mapping, *([time_column] if time_column else [])]
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise CSVReadError(
            f"{path.name} has no column {missing} (its columns: {list(table.columns)})."
        )
    rows = _Rows(path, errors, len(table))
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
    blocks = []
    for column, code in mapping.items():
        cells = table[column]
        present = cells.notna().to_numpy()
        block = pd.DataFrame({"row": np.flatnonzero(present)})
        if code == _BIRTH:
            block["time"] = _times(cells, time_format, rows, column).to_numpy()[present]
            block["code"], block["numeric_value"], block["text_value"] = _BIRTH, np.nan, None
        elif code == _GENDER:
            block["time"] = pd.NaT
            block["code"] = (_GENDER + "/" + cells[present]).to_numpy()
            block["numeric_value"], block["text_value"] = np.nan, None
        else:
            # A number (its comparator, as in "<5", is the text value), else text.
            comparators = cells.str.extract(_COMPARATOR)
            numbers = pd.to_numeric(comparators[1].fillna(cells), errors="coerce")
            texts = comparators[0].where(numbers.notna(), cells)
            block["time"] = row_times.to_numpy()[present]
            block["code"] = code
            block["numeric_value"] = numbers.to_numpy(dtype=np.float64)[present]
            block["text_value"] = texts.to_numpy(dtype=object)[present]
        block["unit"] = (units or {}).get(column) or _canonical_unit(code)
        blocks.append(block)
    events = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame({"row": []})
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
            "source": [f"{path.name}:{n}" for n in row_index + _FIRST_DATA_LINE],
        }
    )[rows.keep[row_index]]
    events = as_events(events)
    rows.report.events = len(events)
    events.attrs["read_report"] = rows.report
    return events


def _canonical_unit(code: str) -> str | None:
    from ramultimodal.ehr.codes import CONCEPTS, concept_of  # io sits below ehr

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
