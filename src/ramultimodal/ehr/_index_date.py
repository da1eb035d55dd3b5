"""What is known at the index date: each patient's index day, and the events up to it.

The leakage guard of `EHRFeaturizer` lives here: only events dated on or before the index
day are used (the whole index day included: an index visit's labs are known at the end of
the visit), and with ``exclude_leakage`` RA diagnoses and DMARD or biologic prescriptions
(`ramultimodal.terminology.codes.is_leakage_code`) are dropped, wherever they are dated.
Each code is mapped once to the concept it is aggregated under: a concept of
`ramultimodal.terminology.codes.CONCEPTS`, or one of the `LEAKAGE_CONCEPTS`.

A qualitative result of a measured concept ("RF positive", with no titre) is a fact, but
not a value in the concept's unit: its number is set aside (the FHIR reader's 1.0 for
"positive" is not 1 IU/mL) and kept as the event's ``result`` (1 positive, 0 negative),
which the scores read (`ramultimodal.ehr.scores.acr_eular_2010_score`).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from ramultimodal.terminology.codes import (
    BIOLOGIC_CODES,
    CONCEPTS,
    DMARD_CODES,
    RA_DIAGNOSIS_PATTERNS,
    concept_of,
    is_leakage_code,
)
from ramultimodal.terminology.words import result_value

__all__ = ["LEAKAGE_CONCEPTS", "aggregated_concept", "index_days", "usable_events"]

#: Pseudo-concepts for the codes that leak the label; features only with
#: ``exclude_leakage=False`` (to show what leakage does).
LEAKAGE_CONCEPTS: tuple[str, ...] = ("ra_diagnosis", "dmard", "biologic")


def index_days(patients: pd.DataFrame, index_column: str) -> pd.Series:
    """Index day of each patient, keyed by subject_id as a string."""
    if not isinstance(patients, pd.DataFrame) or index_column not in patients.columns:
        raise ValueError(
            f"EHRFeaturizer expects a DataFrame indexed by subject_id with a "
            f"{index_column!r} column (one row per patient)."
        )
    if not patients.index.is_unique:
        raise ValueError("X has duplicated subject_ids; give one row per patient.")
    # By the events' date policy (ramultimodal.io.parse_times): an offset is dropped
    # (the clinic's wall clock), and strings must be ISO 8601, never guessed month-first.
    from ramultimodal.io import parse_times

    index_date = parse_times(patients[index_column])
    if index_date.isna().any():
        raise ValueError(
            f"{int(index_date.isna().sum())} patients have no {index_column} (or one "
            "that is not an ISO 8601 date); every patient needs an index date: parse "
            "other formats first, e.g. pd.to_datetime(..., format='%d/%m/%Y')."
        )
    return pd.Series(
        index_date.dt.normalize().to_numpy(), index=patients.index.astype(str), name="index_day"
    )


def usable_events(
    events: pd.DataFrame,
    index_day: pd.Series,
    *,
    concepts: Collection[str],
    exclude_leakage: bool,
    max_time: str,
) -> pd.DataFrame:
    """Events of the patients dated on or before their index day, with their concept.

    Parameters
    ----------
    events : DataFrame
        The events table.
    index_day : Series
        From `index_days`.
    concepts : collection of str
        The concepts aggregated; other codes get no ``concept``.
    exclude_leakage : bool
        Drop RA diagnoses and treatments.
    max_time : {"index", "all"}
        ``"all"`` keeps the events after the index day too.

    Returns
    -------
    DataFrame
        Columns: ``row`` (the patient's row in `X`, in place of its subject_id),
        ``concept`` (the aggregated concept or NaN), ``clinical`` (the concept in
        `CONCEPTS`, aggregated or not: for scores and risk factors), ``days_before`` (whole
        days from the event's day to the index day) and ``years`` (exact time from the
        index day, negative before it, for slopes), ``result`` (a qualitative result of a
        measured concept: 1.0 positive, 0.0 negative, its ``numeric_value`` then NaN; NaN
        for every other event). Timeless events (sex) are kept.
    """
    # Patients as row numbers of X: grouping by integers is much faster than by ids.
    position = index_day.index.get_indexer(events["subject_id"].astype(str))
    keep = position >= 0
    codes = pd.Series(events["code"].unique())
    if exclude_leakage:
        leaking = codes[codes.map(is_leakage_code).astype(bool)]
        keep &= ~events["code"].isin(leaking).to_numpy(dtype=bool)
        codes = codes[~codes.isin(leaking)]
    events, position = events.loc[keep], position[keep]
    wanted = set(concepts)
    concept_by_code = {code: aggregated_concept(code) for code in codes}
    concept_by_code = {k: v for k, v in concept_by_code.items() if v in wanted}
    day = index_day.to_numpy()[position]
    time = pd.to_datetime(events["time"]).to_numpy()
    days_before = (day - time.astype("datetime64[D]").astype(day.dtype)) / np.timedelta64(1, "D")
    usable = pd.DataFrame(
        {
            "row": position,
            "time": time,
            "code": events["code"].to_numpy(dtype=object),
            "concept": events["code"].map(concept_by_code).to_numpy(dtype=object),
            # Lookups per distinct code, not per event: a table has few codes.
            "clinical": events["code"]
            .map({c: concept_of(c) for c in codes})
            .to_numpy(dtype=object),
            "numeric_value": pd.to_numeric(events["numeric_value"]).to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            "text_value": events["text_value"].to_numpy(dtype=object, na_value=None),
            "days_before": days_before,
            "years": (time - day) / np.timedelta64(1, "D") / 365.25,
        }
    )
    usable["result"] = _qualitative_results(usable)
    usable.loc[usable["result"].notna(), "numeric_value"] = np.nan
    if max_time == "index":
        usable = usable.loc[~(usable["days_before"] < 0)]  # timeless events (NaN) stay
    # Stable sort by time so that "last" is the most recent value.
    return usable.sort_values(["row", "time"], kind="stable", na_position="first")


def _qualitative_results(usable: pd.DataFrame) -> np.ndarray:
    """1.0 / 0.0 for a positive / negative result of a concept measured in a unit, else NaN.

    Read from the text (a word or a SNOMED CT result code): the readers keep it there.
    """
    measured = [name for name, concept in CONCEPTS.items() if concept.unit is not None]
    texts = usable["text_value"].where(usable["clinical"].isin(measured).to_numpy())
    words = texts.dropna().unique()
    results = {word: result_value(word) for word in words if isinstance(word, str)}
    return texts.map(results).to_numpy(dtype=np.float64, na_value=np.nan)


def aggregated_concept(code: str) -> str | None:
    """Aggregated concept of a code, the leakage pseudo-concepts included."""
    if code in DMARD_CODES:
        return "dmard"
    if code in BIOLOGIC_CODES:
        return "biologic"
    if any(pattern.match(code) for pattern in RA_DIAGNOSIS_PATTERNS):
        return "ra_diagnosis"
    return concept_of(code)
