"""Read a wide CSV extract, one row per patient or visit and a column per code, into events.

A wide extract needs to be told which code each column holds (``mapping=``); each non-empty
mapped cell becomes an event at its row's time. Demographic columns (birth date, sex) and a
smoking status read words; a column of a concept measured in a unit reads numbers only.
Cells are read as in `read_events_csv` (`ramultimodal.io._csv_cells`), and every bad row is
named by its file and line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ramultimodal.io._csv_cells import (
    normalise_units,
    read_quantities,
    read_sexes,
    read_smoking_statuses,
    read_times,
    value_units,
)
from ramultimodal.io._csv_rows import (
    CSVReadError,
    Rows,
    check_options,
    checked_na_values,
    ragged_message,
    read_strings,
)
from ramultimodal.io._events import as_events
from ramultimodal.terminology.codes import concept_of
from ramultimodal.terminology.events import BIRTH, GENDER_PREFIX
from ramultimodal.terminology.units import canonical_unit
from ramultimodal.terminology.words import result_value

__all__ = ["read_wide_csv"]

#: Special targets of `read_wide_csv`'s mapping, for demographics.
# The mapping target of a sex column: GENDER_PREFIX without its "/".
_GENDER = GENDER_PREFIX.rstrip("/")


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
    check_options(errors, decimal, encoding)
    if not isinstance(mapping, Mapping):
        raise TypeError(
            "read_wide_csv's mapping is a mapping of columns to codes, e.g. "
            f"{{'crp_mg_l': 'LOINC/1988-5'}}; got a {type(mapping).__name__}"
        )
    table, lines, ragged = read_strings(path, sep, encoding, checked_na_values(na_values))
    needed = [subject_column, *mapping, *([time_column] if time_column else [])]
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise CSVReadError(
            f"{path.name} has no column {missing} on its header line (line 1); pass the "
            "names as the header writes them."
        )
    rows = Rows(path, errors, lines)
    rows.bad_lines(ragged, "ragged row", ragged_message(sep))
    rows.report.columns_ignored = [name for name in table.columns if name not in needed]
    rows.bad(
        np.flatnonzero(table[subject_column].isna().to_numpy()),
        "no subject",
        f"the row has no {subject_column}",
    )
    row_times = (
        read_times(table[time_column], time_format, rows, f"the {time_column}")
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
    values, unit_column = normalise_units(
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
    rows: Rows,
    *,
    time_format: str | None,
    decimal: str,
) -> pd.DataFrame:
    """The events of one mapped column of a wide extract, one per non-empty cell."""
    what = f"column {column!r}"
    times, texts = row_times, pd.Series(None, index=cells.index, dtype=object)
    values = np.full(len(cells), np.nan)
    units = pd.Series(unit or canonical_unit(code), index=cells.index, dtype=object)
    if code == BIRTH:
        times, codes = read_times(cells, time_format, rows, what), BIRTH
        units[:] = None
    elif code == _GENDER:
        sexes = read_sexes(cells, rows, what)
        times, codes, cells = pd.Series(pd.NaT, index=cells.index), GENDER_PREFIX + sexes, sexes
        units[:] = None
    elif concept_of(code) == "smoking":
        codes = code
        texts = cells = read_smoking_statuses(cells, rows, what)
    else:
        codes = code
        values, comparators, cell_units = read_quantities(cells, decimal, rows, what)
        # A number (its comparator, as in "<5", is the text value), else text; but a
        # concept measured in a unit has numbers only: "N/A" or "pending" there is not a
        # fact (declare the export's words for missing with na_values=).
        number = ~np.isnan(values)
        if canonical_unit(code) is not None:
            # A qualitative result of a measured concept is a fact ("RF positive").
            qualitative = cells.map(result_value, na_action="ignore").notna().to_numpy()
            rows.bad(
                np.flatnonzero(cells.notna().to_numpy() & ~number & ~qualitative & rows.keep),
                "bad number",
                f"{what} holds text where its concept has numbers (leave the cell empty, or "
                "pass na_values= with the export's words for a missing value)",
            )
        texts = comparators.where(number, cells)
        given = pd.Series(unit, index=cells.index, dtype=object)
        where = f"units={{{column!r}: ...}}"
        stated = value_units(
            pd.Series(code, index=cells.index), cell_units, given, rows, what, where
        )
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


class _EventRows:
    """`Rows` seen through events: a bad event marks its CSV row bad."""

    def __init__(self, rows: Rows, row_index: np.ndarray) -> None:
        self.rows, self.row_index = rows, row_index

    @property
    def keep(self) -> np.ndarray:
        return self.rows.keep[self.row_index]

    def bad(self, events: np.ndarray, reason: str, message: str) -> None:
        self.rows.bad(np.unique(self.row_index[events]), reason, message)
