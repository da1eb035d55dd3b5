"""The featurizer's features, from the events usable at the index date.

Each group is computed for every patient at once, from one groupby over the events:

- `risk_factors`: age, sex, smoking status, BMI, family history and symptom duration at
  the index date;
- `concept_aggregates`: each concept's ``last``, ``min``, ``max``, ``mean``, ``count``,
  ``slope`` and ``days_since_last`` within each look-back window;
- `clinical_scores`: the 2010 ACR/EULAR criteria, DAS28, CDAI, SDAI, HAQ-DI and RAPID3
  from the last value of each input (`ramultimodal.ehr.scores`).

Patients are numbered by their row in `X` (the ``row`` column of the usable events).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ramultimodal.ehr import scores
from ramultimodal.terminology.codes import CONCEPTS, HAQ_DI_CATEGORIES, SMOKING_STATUS
from ramultimodal.terminology.events import BIRTH, GENDER_PREFIX, gender_code

__all__ = [
    "AGGREGATIONS",
    "HAQ_ITEM",
    "SCORES",
    "SMOKING_LEVELS",
    "VALUE_AGGREGATIONS",
    "clinical_scores",
    "concept_aggregates",
    "risk_factors",
]

AGGREGATIONS: tuple[str, ...] = ("last", "min", "max", "mean", "count", "slope", "days_since_last")
# Aggregations of a value; concepts without values (conditions) get only the others.
VALUE_AGGREGATIONS = frozenset({"last", "min", "max", "mean", "slope"})

SMOKING_LEVELS = ("current", "former", "never")
# Symptom duration counts from the earliest of these conditions.
_SYMPTOM_CODES = frozenset(
    code
    for name in ("joint_pain", "joint_stiffness", "joint_swelling")
    for code in CONCEPTS[name].codes
)
HAQ_ITEM = re.compile(r"haq-di-(?:" + "|".join(HAQ_DI_CATEGORIES) + r")-\d+$")
SCORES = (
    "acr_eular_joints", "acr_eular_serology", "acr_eular_acute_phase", "acr_eular_duration",
    "acr_eular_total", "das28_esr", "das28_crp", "cdai", "sdai", "haq_di_score", "rapid3_score",
)  # fmt: skip


def risk_factors(
    usable: pd.DataFrame, timed: pd.DataFrame, codes: np.ndarray, n: int
) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    """Demographics and risk factors at the index date, and the last value of each concept.

    Parameters
    ----------
    usable : DataFrame
        The usable events (`ramultimodal.ehr._index_date.usable_events`).
    timed : DataFrame
        Those of them with a time.
    codes : ndarray of str
        The codes of `usable`.
    n : int
        The number of patients.

    Returns
    -------
    columns : dict of str to Series
        ``age_at_index``, ``sex_female``, ``smoking_<level>``, ``bmi``,
        ``family_history_ra`` and ``symptom_duration_weeks``, by row.
    latest : DataFrame
        The last value of each concept of `CONCEPTS` (columns), and its last qualitative
        result (``<concept>_result``: 1.0 positive, 0.0 negative), one row per patient.
    """
    subjects = pd.RangeIndex(n)
    columns: dict[str, pd.Series] = {}
    birth = timed.loc[timed["code"] == BIRTH].groupby("row")["days_before"]
    columns["age_at_index"] = birth.max() / 365.25
    gender_codes = [code for code in codes if code.startswith(GENDER_PREFIX)]
    gender = usable.loc[usable["code"].isin(gender_codes)].groupby("row")
    sex = gender["code"].last().map({gender_code("female"): 1.0, gender_code("male"): 0.0})
    columns["sex_female"] = sex
    smoking = timed.loc[timed["code"].isin(CONCEPTS["smoking"].codes)]
    status = smoking.assign(status=smoking["text_value"].map(SMOKING_STATUS)).dropna(
        subset=["status"]
    )
    last_status = status.groupby("row")["status"].last()
    for level in SMOKING_LEVELS:
        columns[f"smoking_{level}"] = (last_status == level).astype(np.float64)
    clinical = timed.loc[timed["clinical"].notna()]
    latest = clinical.groupby(["row", "clinical"])["numeric_value"].last().unstack()
    latest = latest.reindex(index=subjects, columns=list(CONCEPTS))
    # A qualitative result stands for its concept where no value was measured.
    results = clinical.groupby(["row", "clinical"])["result"].last().unstack()
    results = results.reindex(index=subjects, columns=list(CONCEPTS))
    latest = latest.join(results.add_suffix("_result"))
    columns["bmi"] = latest["bmi"]
    family = clinical.loc[clinical["clinical"] == "family_history_ra"]
    columns["family_history_ra"] = family["numeric_value"].fillna(1.0).groupby(family["row"]).last()
    symptoms = timed.loc[timed["code"].isin(_SYMPTOM_CODES)]
    columns["symptom_duration_weeks"] = symptoms.groupby("row")["days_before"].max() / 7.0
    return columns, latest


def concept_aggregates(
    events: pd.DataFrame,
    windows: Mapping[str, int | None],
    *,
    aggregations: Sequence[str],
    concepts: Sequence[str],
    valued_concepts: Sequence[str],
) -> dict[str, pd.Series]:
    """Every aggregation of every concept within each look-back window, as named columns.

    Parameters
    ----------
    events : DataFrame
        The usable events of `concepts`, with a time.
    windows : mapping of str to int or None
        A window's name in the columns (``crp_last_90d``) -> its days before the index
        day (None: the whole history).
    aggregations : sequence of str
        Of `AGGREGATIONS`.
    concepts, valued_concepts : sequence of str
        The concepts aggregated, and those of them with values (the others get only
        ``count`` and ``days_since_last``).
    """
    columns: dict[str, pd.Series] = {}
    for window, days in windows.items():
        in_window = events if days is None else events.loc[events["days_before"] <= days]
        columns |= _window_aggregates(
            in_window,
            window,
            aggregations=aggregations,
            concepts=concepts,
            valued_concepts=valued_concepts,
        )
    return columns


def _window_aggregates(
    events: pd.DataFrame,
    window: str,
    *,
    aggregations: Sequence[str],
    concepts: Sequence[str],
    valued_concepts: Sequence[str],
) -> dict[str, pd.Series]:
    """The aggregations of every concept within one window, as named columns."""
    groups = events.groupby(["row", "concept"], sort=False)
    values = groups["numeric_value"]
    table: dict[str, pd.Series] = {}
    for aggregation in aggregations:
        if aggregation == "count":
            table[aggregation] = groups.size().astype(np.float64)
        elif aggregation == "days_since_last":
            table[aggregation] = groups["days_before"].min()
        elif aggregation == "slope":
            table[aggregation] = _slope(events)
        else:
            table[aggregation] = getattr(values, aggregation)()
    columns: dict[str, pd.Series] = {}
    for aggregation, series in table.items():
        wide = series.unstack("concept") if len(series) else pd.DataFrame()
        for concept in concepts:
            if aggregation in VALUE_AGGREGATIONS and concept not in valued_concepts:
                continue
            name = f"{concept}_{aggregation}_{window}"
            columns[name] = (
                wide[concept] if concept in wide.columns else pd.Series(dtype=np.float64)
            )
    return columns


def clinical_scores(
    latest: pd.DataFrame, haq_items: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """The clinical scores from the last value of each input at the index date.

    `latest` is from `risk_factors`, `haq_items` the HAQ-DI item events, and `features`
    the features so far (for sex and symptom duration).
    """

    def last(name: str) -> pd.Series:
        return latest[name]

    female = features["sex_female"]
    sex = pd.Series(
        np.where(female == 1, "female", np.where(female == 0, "male", None)),
        index=features.index,
    )
    acr = scores.acr_eular_2010_score(
        small_joints=last("involved_small_joints"),
        large_joints=last("involved_large_joints"),
        rf=last("rf"),
        anti_ccp=last("anti_ccp"),
        rf_positive=last("rf_result"),
        anti_ccp_positive=last("anti_ccp_result"),
        crp=last("crp"),
        esr=last("esr"),
        symptom_duration_weeks=features["symptom_duration_weeks"],
        sex=sex,
        return_components=True,
    )
    tender, swollen = last("tender_joints_28"), last("swollen_joints_28")
    patient_global, evaluator_global = last("patient_global"), last("evaluator_global")
    haq = last("haq_di").fillna(_haq_di_from_items(haq_items).reindex(features.index))
    rapid3 = last("rapid3").fillna(scores.rapid3(haq * 10.0 / 3.0, last("pain"), patient_global))
    return pd.DataFrame(
        {
            **{f"acr_eular_{name}": acr[name] for name in acr.columns},
            "das28_esr": scores.das28_esr(tender, swollen, last("esr"), patient_global * 10),
            "das28_crp": scores.das28_crp(tender, swollen, last("crp"), patient_global * 10),
            "cdai": scores.cdai(tender, swollen, patient_global, evaluator_global),
            "sdai": scores.sdai(tender, swollen, patient_global, evaluator_global, last("crp")),
            "haq_di_score": haq,
            "rapid3_score": rapid3,
        },
        index=features.index,
    )


def _slope(events: pd.DataFrame) -> pd.Series:
    """Least-squares slope of value on time (units per year) per (subject, concept).

    From the sums of t, v, t*t and t*v, so one groupby does it; NaN when the times do
    not differ.
    """
    valued = events.loc[events["numeric_value"].notna()]
    t, v = valued["years"], valued["numeric_value"]
    sums = (
        pd.DataFrame({"n": 1.0, "t": t, "v": v, "tt": t * t, "tv": t * v})
        .groupby([valued["row"], valued["concept"]], sort=False)
        .sum()
    )
    spread = sums["n"] * sums["tt"] - sums["t"] ** 2
    slope = (sums["n"] * sums["tv"] - sums["t"] * sums["v"]) / spread
    # Relative threshold: same-time values leave only rounding error in `spread`.
    return slope.where(spread > 1e-12 * sums["n"] * sums["tt"].clip(lower=1e-12))


def _haq_di_from_items(items: pd.DataFrame) -> pd.Series:
    """HAQ-DI from the 20 item events of each subject's last questionnaire day."""
    if items.empty:
        return pd.Series(dtype=np.float64)
    latest = items.groupby("row")["days_before"].transform("min")
    items = items.loc[items["days_before"] == latest]
    wide = items.pivot_table(index="row", columns="code", values="numeric_value", aggfunc="last")
    return scores.haq_di(wide)
