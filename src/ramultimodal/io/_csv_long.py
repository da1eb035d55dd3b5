"""Read a long CSV extract, one row per fact, into the events table.

Hospitals hand out CSV as often as FHIR. A long extract maps onto the events table column
by column, named as the events table names them or mapped with ``columns=``; its cells are
read as in `read_wide_csv` (`ramultimodal.io._csv_cells`), and every bad row is named by
its file and line.
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
    prefixed_codes,
    read_quantities,
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
from ramultimodal.io._events import EVENT_COLUMNS, as_events

__all__ = ["read_events_csv"]


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
    check_options(errors, decimal, encoding)
    table, lines, ragged = read_strings(path, sep, encoding, checked_na_values(na_values))
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
    rows = Rows(path, errors, lines)
    rows.bad_lines(ragged, "ragged row", ragged_message(sep))
    rows.report.columns_ignored = [name for name in table.columns if name not in wanted]
    table = table.reindex(columns=list(wanted)).astype("str")  # absent columns: all NaN
    rows.bad(
        np.flatnonzero(table["subject_id"].isna().to_numpy()),
        "no subject",
        "the row has no subject_id",
    )
    rows.bad(np.flatnonzero(table["code"].isna().to_numpy()), "no code", "the row has no code")
    codes = prefixed_codes(
        table["code"], table["system"] if table["system"].notna().any() else None
    )
    times = read_times(table["time"], time_format, rows, "the time")
    named = {target: name for name, target in (columns or {}).items()}.get("numeric_value")
    what = "numeric_value" + (
        f" (column {named!r})" if named not in (None, "numeric_value") else ""
    )
    values, comparators, cell_units = read_quantities(table["numeric_value"], decimal, rows, what)
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
    units = value_units(codes, cell_units, table["unit"], rows, what, "the unit column")
    values, units = normalise_units(codes, values, units, rows)
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
