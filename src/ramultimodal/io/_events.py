"""The events table: one row per clinical fact, MEDS-style.

Every reader (FHIR, CSV) and the synthetic generator produce this table, and the
`EHRFeaturizer` consumes it. Keeping one definition here is what makes "the same cohort
read from FHIR bundles, NDJSON or CSV gives the same features" testable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EVENT_COLUMNS",
    "SYSTEM_PREFIXES",
    "as_events",
    "code_from_coding",
    "empty_events",
]

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

#: FHIR code-system URIs and the prefix they take in the ``code`` column
#: (``"LOINC/1988-5"``). Codings from other systems keep their URI as the prefix.
SYSTEM_PREFIXES: dict[str, str] = {
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM",
    "http://unitsofmeasure.org": "UCUM",
    # The project's own CodeSystem, for concepts with no confirmed LOINC code
    # (morning stiffness, DAS28, joint counts by size, HAQ-DI items); see ehr/codes.py.
    "https://ramultimodal.readthedocs.io/fhir/CodeSystem/ra": "RAMULTIMODAL",
}


def code_from_coding(system: str | None, code: str) -> str:
    """Return the events-table code for a FHIR coding.

    Parameters
    ----------
    system : str or None
        The coding's ``system`` URI.
    code : str
        The coding's ``code``.

    Returns
    -------
    str
        ``"PREFIX/code"``, with the prefix from `SYSTEM_PREFIXES`, the URI itself for an
        unknown system, or ``"UNKNOWN"`` when the system is missing.

    Examples
    --------
    >>> code_from_coding("http://loinc.org", "1988-5")
    'LOINC/1988-5'
    >>> code_from_coding(None, "abc")
    'UNKNOWN/abc'
    """
    prefix = SYSTEM_PREFIXES.get(system or "", system or "UNKNOWN")
    return f"{prefix}/{code}"


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

    Times become timezone-naive UTC ``datetime64[us]`` (``NaT`` for timeless facts such
    as sex); ``numeric_value`` becomes float64; the text columns become pandas' string
    dtype with missing values as ``NA``. Rows are sorted by subject, time and code so that
    two readers of the same data return equal tables.

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
    time = pd.to_datetime(frame["time"], utc=True, format="mixed")
    events = pd.DataFrame(
        {
            "subject_id": frame["subject_id"].astype("string"),
            "time": time.dt.tz_localize(None).astype("datetime64[us]"),
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
