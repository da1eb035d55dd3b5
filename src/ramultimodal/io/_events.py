"""The events table: one row per clinical fact, MEDS-style.

Every reader (FHIR, CSV) and the synthetic generator produce this table, and the
`EHRFeaturizer` consumes it. Keeping one definition here is what makes "the same cohort
read from FHIR bundles, NDJSON or CSV gives the same features" testable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EVENT_COLUMNS", "as_events", "empty_events", "parse_times"]

#: Columns of the events table, in order. ``subject_id``, ``time``, ``code``,
#: ``numeric_value`` and ``text_value`` follow MEDS; ``unit`` holds the normalised UCUM
#: unit; ``source`` names where the fact came from (``"Observation/abc"``, a CSV line, ...)
#: so that an odd value can be traced back to its resource.
EVENT_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "time",
    "code",
    "numeric_value",
    "text_value",
    "unit",
    "source",
)


def _offset_minutes(text: str | None) -> int:
    """The UTC offset that ends a time of day (``+02:00``, ``-0530``, ``+14``), in minutes.

    0 for a date (``2020-05`` ends with a month, not an offset), ``Z`` or no offset. A few
    character tests, not a regular expression: this runs for every time a reader reads.
    """
    if text is None or len(text) <= 10 or text[10] not in "T ":
        return 0
    for width in (6, 5, 3):  # +HH:MM, +HHMM, +HH
        sign = text[-width]
        if sign in "+-" and len(text) - width >= 13:
            digits = text[-width + 1 :].replace(":", "")
            if digits.isdigit() and len(digits) in (2, 4):
                minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
                return -minutes if sign == "-" else minutes
    return 0


def parse_times(values: pd.Series | Iterable[Any], *, time_format: str | None = None) -> pd.Series:
    """Times as the events table holds them, by the one date policy of docs/data-model.md.

    - ISO 8601 (``2020-03-01``, ``2020-03-01T10:30:00``), or `time_format` when given
      (a ``strftime`` format such as ``"%d/%m/%Y"``).
    - A partial date is known only at the end of its period: ``"2020"`` is 2020-12-31 and
      ``"2020-05"`` is 2020-05-31, so that a fact of "2020" cannot reach an index date in
      May 2020 (the first day would leak up to a year of the future).
    - A time is the wall-clock time where it was recorded: its offset (``+14:00``,
      ``-12:00``, ``Z``) is dropped, not converted. So an event belongs to the calendar day
      on which it happened there, as the index date is a calendar day of the clinic:
      ``2020-03-01T23:30:00-12:00`` falls on 1 March, not on 2 March in UTC.

    Parameters
    ----------
    values : Series or iterable
        Strings (or datetimes, whose time zone is dropped the same way); missing values
        stay missing.
    time_format : str, optional
        A fixed ``strftime`` format for every value instead of ISO 8601.

    Returns
    -------
    Series of datetime64[us]
        Naive times; ``NaT`` where a value was missing, is not a time, or lies outside
        1700-2200 (callers report those).

    Examples
    --------
    >>> parse_times(["2020", "2020-05", "2020-03-01T23:30:00-12:00", None]).tolist()
    [Timestamp('2020-12-31 00:00:00'), Timestamp('2020-05-31 00:00:00'), \
Timestamp('2020-03-01 23:30:00'), NaT]
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        times = series.dt.tz_localize(None) if series.dt.tz is not None else series
        return _plausible(times.astype("datetime64[us]"))
    text = series.astype("string").str.strip()
    if time_format is not None:
        return _plausible(_formatted(text, time_format))
    # In UTC, then back to the wall clock by each time's own offset: pandas parses mixed
    # offsets fast only this way (a regular expression that cut them cost 5x the parse).
    utc = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    lengths = text.str.len().fillna(0).to_numpy(dtype=int)
    offsets = np.zeros(len(text), dtype=np.int64)
    timed = np.flatnonzero(lengths > 10)  # a date alone has no offset
    if timed.size:
        items = text.to_numpy(dtype=object, na_value=None)[timed]
        offsets[timed] = [_offset_minutes(item) for item in items]
    times = (utc.dt.tz_localize(None) + pd.to_timedelta(offsets, unit="min")).astype(
        "datetime64[us]"
    )
    short = np.flatnonzero(lengths <= 7)  # "2020", "2020-05", "2020-5"
    if short.size:
        year = text.iloc[short].str.fullmatch(r"\d{4}").fillna(False).to_numpy(dtype=bool)
        month = text.iloc[short].str.fullmatch(r"\d{4}-\d{1,2}").fillna(False).to_numpy(bool)
        ends = pd.Series(times.iloc[short].to_numpy())
        ends[year] = ends[year] + pd.offsets.YearEnd(0)
        ends[month] = ends[month] + pd.offsets.MonthEnd(0)
        times.iloc[short] = ends.to_numpy()
    return _plausible(times)


def _formatted(text: pd.Series, time_format: str) -> pd.Series:
    """`text` read with a fixed format, by the same policy: an offset (``%z``) dropped, a
    format without the day (``%m/%Y``, ``%Y``) known at the end of its period."""
    try:
        times = pd.to_datetime(text, format=time_format, errors="coerce")
    except ValueError as error:
        if "%z" not in time_format:
            raise ValueError(f"{time_format!r} is not a strftime format ({error})") from None
        # Mixed offsets: each time to its own wall clock, one by one.
        parsed = []
        for item in text.to_numpy(dtype=object, na_value=None):
            try:
                parsed.append(datetime.strptime(item, time_format).replace(tzinfo=None))
            except (TypeError, ValueError):
                parsed.append(None)
        times = pd.Series(pd.to_datetime(parsed, errors="coerce"), index=text.index)
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_localize(None)
    times = times.astype("datetime64[us]")
    if not any(day in time_format for day in ("%d", "%j", "%e")):
        end = pd.offsets.MonthEnd(0) if "%m" in time_format or "%b" in time_format else None
        times = times + (end if end is not None else pd.offsets.YearEnd(0))
    return times


# No clinical fact is older than this or later than that; pandas cannot hold times outside
# them at nanosecond precision either (a mistyped "0960-05-01" would fail far from here).
_EARLIEST, _LATEST = pd.Timestamp("1700-01-01"), pd.Timestamp("2200-01-01")


def _plausible(times: pd.Series) -> pd.Series:
    """`times` with NaT where a time is outside `_EARLIEST`-`_LATEST` (reported as bad)."""
    return times.where((times >= _EARLIEST) & (times < _LATEST))


def empty_events() -> pd.DataFrame:
    """Return an events table with no rows and the right dtypes.

    Examples
    --------
    >>> list(empty_events().columns) == list(EVENT_COLUMNS)
    True
    """
    return as_events(pd.DataFrame({column: [] for column in EVENT_COLUMNS}))


def as_events(
    records: pd.DataFrame | Iterable[Mapping[str, Any]], *, sort: bool = True
) -> pd.DataFrame:
    """Coerce records to the canonical events table.

    Times become naive ``datetime64[us]`` by the date policy of `parse_times` (``NaT``
    for timeless facts such as sex); ``numeric_value`` becomes float64; the text columns
    become pandas' string dtype with missing values as ``NA``. Rows are sorted by subject,
    time and code so that two readers of the same data return equal tables.

    Parameters
    ----------
    records : DataFrame or iterable of mappings
        Rows with (a subset of) the `EVENT_COLUMNS`; missing columns are added empty.
    sort : bool, default True
        Sort rows by ``subject_id``, ``time``, ``code``, ``numeric_value``, ``text_value``.

    Returns
    -------
    DataFrame
        The events table with exactly the `EVENT_COLUMNS`.

    Examples
    --------
    >>> events = as_events([{"subject_id": "p1", "time": "2020-01-02", "code": "LOINC/1988-5",
    ...                      "numeric_value": 12.0, "unit": "mg/L"}])
    >>> events.loc[0, "time"]
    Timestamp('2020-01-02 00:00:00')
    """
    frame = (
        records
        if isinstance(records, pd.DataFrame)
        else pd.DataFrame.from_records(list(records), columns=list(EVENT_COLUMNS))
    )
    unknown = set(frame.columns) - set(EVENT_COLUMNS)
    if unknown:
        raise ValueError(
            f"Events table has unexpected columns {sorted(unknown)}; expected only "
            f"{list(EVENT_COLUMNS)}."
        )
    frame = frame.reindex(columns=list(EVENT_COLUMNS))
    time = parse_times(frame["time"])
    unparsed = time.isna().to_numpy() & frame["time"].notna().to_numpy()
    if unparsed.any():
        raise ValueError(
            f"{int(unparsed.sum())} event times are not ISO 8601 dates or times (the first "
            f"at row {int(np.flatnonzero(unparsed)[0])})."
        )
    events = pd.DataFrame(
        {
            "subject_id": frame["subject_id"].astype("string"),
            "time": time.to_numpy(),
            "code": frame["code"].astype("string"),
            "numeric_value": pd.to_numeric(frame["numeric_value"]).astype(np.float64),
            "text_value": frame["text_value"].astype("string"),
            "unit": frame["unit"].astype("string"),
            "source": frame["source"].astype("string"),
        }
    )
    if events["subject_id"].isna().any() or events["code"].isna().any():
        raise ValueError("Every event needs a subject_id and a code.")
    if sort:
        events = events.sort_values(
            ["subject_id", "time", "code", "numeric_value", "text_value"],
            na_position="first",
            kind="stable",
        ).reset_index(drop=True)
    return events
