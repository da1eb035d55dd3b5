"""`EHRFeaturizer`: the events table to one row of features per patient at the index date."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ramultimodal.ehr import scores
from ramultimodal.terminology.codes import (
    BIOLOGIC_CODES,
    CONCEPTS,
    DMARD_CODES,
    HAQ_DI_CATEGORIES,
    PRO_CONCEPTS,
    RA_DIAGNOSIS_PATTERNS,
    SMOKING_STATUS,
    concept_of,
    is_leakage_code,
)

__all__ = ["DEFAULT_CONCEPTS", "PRO_FEATURE", "EHRFeaturizer", "feature_modality"]

#: Concepts aggregated over the look-back windows by default: labs, the joint exam,
#: patient-reported outcomes and the symptom conditions. Smoking, BMI and family history
#: are risk factors with features of their own; the mimics' diagnoses are left out
#: because they are made at the index visit, as the outcome is.
DEFAULT_CONCEPTS: tuple[str, ...] = (
    "rf", "anti_ccp", "crp", "esr", "hemoglobin", "platelets", "leukocytes",
    "tender_joints_28", "swollen_joints_28", "involved_small_joints", "involved_large_joints",
    "evaluator_global", "pain", "patient_global", "haq_di", "rapid3", "morning_stiffness",
    "joint_pain", "joint_stiffness", "joint_swelling", "inflammatory_polyarthropathy",
)  # fmt: skip

#: Pseudo-concepts for the codes that leak the label; features only with
#: ``exclude_leakage=False`` (to show what leakage does).
LEAKAGE_CONCEPTS: tuple[str, ...] = ("ra_diagnosis", "dmard", "biologic")

AGGREGATIONS: tuple[str, ...] = ("last", "min", "max", "mean", "count", "slope", "days_since_last")
# Aggregations of a value; concepts without values (conditions) get only the others.
_VALUE_AGGREGATIONS = frozenset({"last", "min", "max", "mean", "slope"})

_SMOKING_LEVELS = ("current", "former", "never")
# Symptom duration counts from the earliest of these conditions.
_SYMPTOM_CODES = frozenset(
    code
    for name in ("joint_pain", "joint_stiffness", "joint_swelling")
    for code in CONCEPTS[name].codes
)
_HAQ_ITEM = re.compile(r"haq-di-(?:" + "|".join(HAQ_DI_CATEGORIES) + r")-\d+$")
_SCORES = (
    "acr_eular_joints", "acr_eular_serology", "acr_eular_acute_phase", "acr_eular_duration",
    "acr_eular_total", "das28_esr", "das28_crp", "cdai", "sdai", "haq_di_score", "rapid3_score",
)  # fmt: skip
# Missing-value indicators of the features at index: indicator -> the feature it watches.
_AT_INDEX_MISSING = {
    "age_at_index_missing": "age_at_index",
    "sex_female_missing": "sex_female",
    "smoking_missing": "smoking_current",
    "bmi_missing": "bmi",
    "family_history_ra_missing": "family_history_ra",
    "symptom_duration_weeks_missing": "symptom_duration_weeks",
}
_REQUIRED_EVENT_COLUMNS = ("subject_id", "time", "code", "numeric_value", "text_value")

#: Feature names of the patient-reported outcomes: those that start with a PRO concept
#: (``pain_last_90d``, ``haq_di_score``, ``morning_stiffness_missing``).
PRO_FEATURE = re.compile(rf"^(?:{'|'.join(PRO_CONCEPTS)})(?:_|$)")


def feature_modality(name: str) -> str:
    """The modality of one of the featurizer's features: ``"pro"`` or ``"ehr"``.

    Examples
    --------
    >>> feature_modality("haq_di_score"), feature_modality("crp_last_90d")
    ('pro', 'ehr')
    """
    return "pro" if PRO_FEATURE.search(name) else "ehr"


class EHRFeaturizer(TransformerMixin, BaseEstimator):
    """Turn the events table into one row of features per patient, as known at the index date.

    `X` is either a `ramultimodal.io.CohortRecords` (patients with their index dates, and
    their events: what `ramultimodal.io.read_cohort` returns), or a DataFrame with one row
    per patient, indexed by ``subject_id``, with the index date (prediction time) in column
    `index_column`, the events then coming from the `events` parameter. Other columns
    (images, labels) are ignored. Either way the transformer fits in a
    `~sklearn.pipeline.Pipeline` with a classifier and per-patient ``y``; with records, the
    data travel with X and the fitted featurizer holds no patient data.

    Leakage guard: only events dated on or before the index day are used (the whole
    index day included: an index visit's labs are known at the end of the visit); events
    without a time serve only for sex. With `exclude_leakage` (the default), RA diagnoses
    and DMARD or biologic prescriptions (`ramultimodal.terminology.codes.is_leakage_code`) are
    dropped, wherever they are dated.

    Features, in this order (see `get_feature_names_out`):

    - ``age_at_index`` (years, from ``MEDS_BIRTH``), ``sex_female`` (1/0 from
      ``GENDER/*``), ``smoking_current``/``_former``/``_never`` (one-hot of the last
      smoking status, LOINC 72166-2), ``bmi`` (last), ``family_history_ra`` (last; an
      event without a value counts as yes), ``symptom_duration_weeks`` (days from the
      earliest joint pain, stiffness or swelling condition to the index day, / 7).
    - ``<concept>_<aggregation>_<window>`` for each concept seen in `fit` and each
      window: ``last``, ``min``, ``max``, ``mean`` of the values; ``count`` of the events;
      ``slope`` (least-squares, units per year, from two distinct times on);
      ``days_since_last`` (whole days from the last event to the index day). Windows are
      named ``90d`` (events at most 90 days before the index day) or ``all``. Concepts
      without values (conditions) get only ``count`` and ``days_since_last``, and an
      aggregation that is NaN for every patient in `fit` (the slope of a questionnaire
      asked once) is dropped.
    - Scores at the index date from the last value of each input (`ramultimodal.ehr.scores`):
      ``acr_eular_joints``, ``acr_eular_serology``, ``acr_eular_acute_phase``,
      ``acr_eular_duration``, ``acr_eular_total`` (NaN when not classifiable),
      ``das28_esr``, ``das28_crp`` (patient global x 10 as the 0-100 mm GH), ``cdai``,
      ``sdai``, ``haq_di_score`` (the recorded total, else from the 20 items of the last
      questionnaire), ``rapid3_score`` (the recorded total, else function + pain +
      patient global with function = HAQ-DI x 10/3, an approximation of the MDHAQ).
    - Missing-value indicators (1.0 = missing): ``<feature>_missing`` for each feature of
      the first and third groups, and ``<concept>_missing`` when a concept was never
      recorded before the index.

    Presence: the features belong to two modalities, the record (``ehr``) and the
    patient-reported outcomes (``pro``: the features of `PRO_CONCEPTS`, see
    `feature_modality`). A patient has a modality when at least one usable fact of it is
    dated within the longest look-back window: an event of one of the aggregated concepts,
    with its value when the concept has values (HAQ-DI items with their answers count for
    the PROs). Every feature of a modality the patient lacks is NaN,
    its missing indicators too: nothing was recorded, so nothing is "missing" in the
    record, and the fusion models see the modality as absent. Age and sex alone are not a
    record: a patient known only by them has no ``ehr`` modality.

    Parameters
    ----------
    events : DataFrame, optional
        The events table (`ramultimodal.io.EVENT_COLUMNS`; ``subject_id``, ``time``,
        ``code``, ``numeric_value``, ``text_value`` are used), when X is a DataFrame of
        index dates. Leave it None when X is a `~ramultimodal.io.CohortRecords`.
    lookback_days : sequence of int or None, default (90, 365, None)
        Look-back windows in days before the index day; None is the whole history.
    aggregations : sequence of str, default all of
        ``("last", "min", "max", "mean", "count", "slope", "days_since_last")``.
    concepts : sequence of str, optional
        Names from `ramultimodal.terminology.codes.CONCEPTS` to aggregate; default
        `DEFAULT_CONCEPTS`, plus the leakage pseudo-concepts ``ra_diagnosis``, ``dmard``
        and ``biologic`` when `exclude_leakage` is False.
    include_scores : bool, default True
        Add the clinical scores at the index date.
    missing_indicators : bool, default True
        Add the missing-value indicators.
    exclude_leakage : bool, default True
        Drop RA diagnoses and RA treatments. Turning it off warns: they follow the
        diagnosis in a real record, so a model learns the label from them.
    max_time : {"index", "all"}, default "index"
        ``"all"`` disables the index-date cut: events after the index date are used too
        (and, in a `~ramultimodal.fusion.CohortFeaturizer`, radiographs too); it warns.
        Only for showing what leakage does.
    index_column : str, default "index_date"
        Column of `X` with each patient's index date.

    Attributes
    ----------
    concepts_ : list of str
        Concepts seen before the index date in `fit`, in `concepts` order.
    valued_concepts_ : list of str
        Those of them with numeric values.
    feature_names_in_ : ndarray of str
        Columns of `X` in `fit` (of its ``patients`` table when X is a CohortRecords).
    n_features_in_ : int
    feature_names_out_ : ndarray of str

    Examples
    --------
    >>> from ramultimodal.io import as_events
    >>> events = as_events([
    ...     {"subject_id": "p1", "time": "1970-05-01", "code": "MEDS_BIRTH"},
    ...     {"subject_id": "p1", "time": None, "code": "GENDER/female"},
    ...     {"subject_id": "p1", "time": "2020-01-01", "code": "LOINC/1988-5",
    ...      "numeric_value": 4.0},
    ...     {"subject_id": "p1", "time": "2020-03-01", "code": "LOINC/1988-5",
    ...      "numeric_value": 12.0},
    ...     {"subject_id": "p1", "time": "2020-03-02", "code": "LOINC/1988-5",
    ...      "numeric_value": 80.0},  # after the index date: never used
    ... ])
    >>> patients = pd.DataFrame({"index_date": pd.to_datetime(["2020-03-01", "2020-03-01"])},
    ...                         index=pd.Index(["p1", "p2"], name="subject_id"))
    >>> featurizer = EHRFeaturizer(events, lookback_days=(90,), aggregations=("last", "count"),
    ...                            include_scores=False).set_output(transform="pandas")
    >>> features = featurizer.fit_transform(patients)
    >>> features[["age_at_index", "sex_female", "crp_last_90d", "crp_count_90d",
    ...           "crp_missing"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
                age_at_index  sex_female  crp_last_90d  crp_count_90d  crp_missing
    subject_id
    p1                 49.83         1.0          12.0            2.0          0.0
    p2                   NaN         NaN           NaN            NaN          NaN
    """

    def __init__(
        self,
        events: pd.DataFrame | None = None,
        *,
        lookback_days: Sequence[int | None] = (90, 365, None),
        aggregations: Sequence[str] = AGGREGATIONS,
        concepts: Sequence[str] | None = None,
        include_scores: bool = True,
        missing_indicators: bool = True,
        exclude_leakage: bool = True,
        max_time: str = "index",
        index_column: str = "index_date",
    ) -> None:
        self.events = events
        self.lookback_days = lookback_days
        self.aggregations = aggregations
        self.concepts = concepts
        self.include_scores = include_scores
        self.missing_indicators = missing_indicators
        self.exclude_leakage = exclude_leakage
        self.max_time = max_time
        self.index_column = index_column

    # ------------------------------------------------------------------ scikit-learn API

    def fit(self, X: pd.DataFrame, y: Any = None) -> EHRFeaturizer:
        """Check the parameters and learn which concepts the events hold.

        Parameters
        ----------
        X : CohortRecords or DataFrame
            The patients: records, or one row per patient, indexed by ``subject_id``, with
            `index_column`.
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def fit_transform(self, X: pd.DataFrame, y: Any = None) -> np.ndarray:
        """Fit, and return the features of `X` (computed once).

        Parameters
        ----------
        X : CohortRecords or DataFrame
            As in `fit`.
        y : ignored

        Returns
        -------
        ndarray of shape (n_patients, n_features)
            As `transform`.
        """
        return self._output(self._fit(X), X)

    def _fit(self, X: pd.DataFrame) -> pd.DataFrame:
        """Learn the feature set; return the features of `X` (all candidate columns)."""
        events, patients = self._inputs(X)
        if self.max_time == "all":
            warnings.warn(
                "EHRFeaturizer(max_time='all') uses events (and, in a pipeline, radiographs) "
                "dated after the index date: what a model learns from them is not known at "
                "the index date, and its scores overstate what it can do. Use it only to "
                "demonstrate leakage.",
                UserWarning,
                stacklevel=3,
            )
        if not self.exclude_leakage:
            warnings.warn(
                "EHRFeaturizer(exclude_leakage=False) keeps RA diagnoses and DMARD/biologic "
                "prescriptions as features. In a real record they follow the diagnosis, so "
                "a model learns the label from them and its scores overstate what it can "
                "do at the index date. Use it only to demonstrate leakage.",
                UserWarning,
                stacklevel=3,  # the caller of fit / fit_transform
            )
        usable = self._usable_events(events, patients)
        seen = usable.loc[usable["concept"].notna()]
        present = set(seen["concept"].unique())
        valued = set(seen.loc[seen["numeric_value"].notna(), "concept"].unique())
        self.concepts_ = [c for c in self._concept_names() if c in present]
        self.valued_concepts_ = [c for c in self.concepts_ if c in valued]
        table = X.patients if _is_records(X) else X
        self.feature_names_in_ = np.asarray(table.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.feature_names_out_ = np.asarray(self._feature_names(), dtype=object)
        features = self._features(patients, usable)
        # An aggregation never defined in the fit data (the slope of a PRO asked once)
        # carries nothing, and some learners fail on an all-NaN column: drop it.
        aggregated = set(self._aggregated_names())
        empty = {name for name in features.columns[features.isna().all()] if name in aggregated}
        self.feature_names_out_ = np.asarray(
            [name for name in self.feature_names_out_ if name not in empty], dtype=object
        )
        return features

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Compute the features of the patients in `X` at their index dates.

        Patients without a usable fact of a modality get NaN for its features; patients
        absent from the events get a row of NaN.

        Parameters
        ----------
        X : CohortRecords or DataFrame
            As in `fit`.

        Returns
        -------
        ndarray of shape (n_patients, n_features)
            Float features in `X`'s row order; a DataFrame indexed by ``subject_id`` when X
            is CohortRecords, or after ``set_output(transform="pandas")``.
        """
        check_is_fitted(self, "feature_names_out_")
        events, patients = self._inputs(X)
        features = self._features(patients, self._usable_events(events, patients))
        return self._output(features, X)

    def _output(self, features: pd.DataFrame, X: Any) -> np.ndarray | pd.DataFrame:
        """The features in `feature_names_out_` order: an array, or for records a DataFrame
        indexed by ``subject_id`` (scikit-learn's pandas output keeps only a DataFrame's
        index, and records are not one)."""
        values = features.reindex(columns=self.feature_names_out_)
        if _is_records(X):
            return values.astype(np.float64).rename_axis("subject_id")
        return values.to_numpy(dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output features (see the class docstring for what they mean)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    # ------------------------------------------------------------------ validation

    def _inputs(self, X: Any) -> tuple[pd.DataFrame, pd.Series]:
        """The events table and each patient's index day, from records or (X, `events`)."""
        if _is_records(X):
            if self.events is not None:
                raise ValueError(
                    "EHRFeaturizer got CohortRecords, which carry their own events, and an "
                    "events parameter too; leave events=None."
                )
            events, patients = X.events, X.patients
        else:
            events, patients = self.events, X
        self._check_params(events)
        return events, self._index_dates(patients)

    def _check_params(self, events: pd.DataFrame | None) -> None:
        if events is None:
            raise ValueError(
                "EHRFeaturizer needs the events table: give it CohortRecords "
                "(ramultimodal.io.read_cohort), or EHRFeaturizer(events=...) with a table "
                "such as ramultimodal.io.read_fhir(...) or a synthetic cohort's .events."
            )
        missing = [c for c in _REQUIRED_EVENT_COLUMNS if c not in events.columns]
        if missing:
            raise ValueError(
                f"EHRFeaturizer: the events table lacks columns {missing}; build it with "
                "ramultimodal.io.as_events."
            )
        unknown = set(self.aggregations) - set(AGGREGATIONS)
        if unknown:
            raise ValueError(f"Unknown aggregations {sorted(unknown)}; use {AGGREGATIONS}.")
        for days in self.lookback_days:
            if days is not None and not (isinstance(days, (int, np.integer)) and days > 0):
                raise ValueError(f"lookback_days holds {days!r}; use positive ints or None.")
        if len(set(self.lookback_days)) != len(self.lookback_days):
            raise ValueError(f"lookback_days={self.lookback_days!r} repeats a window.")
        if self.concepts is not None:
            unknown = set(self.concepts) - set(CONCEPTS) - set(LEAKAGE_CONCEPTS)
            if unknown:
                raise ValueError(
                    f"Unknown concepts {sorted(unknown)}; see "
                    "ramultimodal.terminology.codes.CONCEPTS."
                )
            leaking = set(self.concepts) & {*LEAKAGE_CONCEPTS, "rheumatoid_arthritis"}
            if leaking and self.exclude_leakage:
                raise ValueError(
                    f"concepts {sorted(leaking)} are the label or its treatment, which the "
                    "leakage guard removes; drop them, or set exclude_leakage=False to "
                    "demonstrate leakage."
                )
        if self.max_time not in ("index", "all"):
            raise ValueError(f"max_time={self.max_time!r}; use 'index' or 'all'.")

    def _index_dates(self, X: pd.DataFrame) -> pd.Series:
        """Index day of each patient, keyed by subject_id as a string."""
        if not isinstance(X, pd.DataFrame) or self.index_column not in X.columns:
            raise ValueError(
                f"EHRFeaturizer expects a DataFrame indexed by subject_id with a "
                f"{self.index_column!r} column (one row per patient)."
            )
        if not X.index.is_unique:
            raise ValueError("X has duplicated subject_ids; give one row per patient.")
        # By the events' date policy (ramultimodal.io.parse_times): an offset is dropped
        # (the clinic's wall clock), and strings must be ISO 8601, never guessed month-first.
        from ramultimodal.io import parse_times

        index_date = parse_times(X[self.index_column])
        if index_date.isna().any():
            raise ValueError(
                f"{int(index_date.isna().sum())} patients have no {self.index_column} (or one "
                "that is not an ISO 8601 date); every patient needs an index date: parse "
                "other formats first, e.g. pd.to_datetime(..., format='%d/%m/%Y')."
            )
        return pd.Series(
            index_date.dt.normalize().to_numpy(), index=X.index.astype(str), name="index_day"
        )

    # ------------------------------------------------------------------ events

    def _concept_names(self) -> list[str]:
        if self.concepts is not None:
            names = list(self.concepts)
        else:
            names = list(DEFAULT_CONCEPTS)
            if not self.exclude_leakage:
                names += LEAKAGE_CONCEPTS
        if self.exclude_leakage:
            names = [name for name in names if name not in LEAKAGE_CONCEPTS]
        return names

    def _usable_events(self, events: pd.DataFrame, index_day: pd.Series) -> pd.DataFrame:
        """Events of the patients dated on or before their index day, with their concept.

        Columns: ``row`` (the patient's row in `X`, in place of its subject_id),
        ``concept`` (the aggregated concept or NaN), ``clinical`` (the concept in
        `CONCEPTS`, aggregated or not: for scores and risk factors), ``days_before`` (whole
        days from the event's day to the index day) and ``years`` (exact time from the
        index day, negative before it, for slopes). Timeless events (sex) are kept.
        """
        # Patients as row numbers of X: grouping by integers is much faster than by ids.
        position = index_day.index.get_indexer(events["subject_id"].astype(str))
        keep = position >= 0
        codes = pd.Series(events["code"].unique())
        if self.exclude_leakage:
            leaking = codes[codes.map(is_leakage_code).astype(bool)]
            keep &= ~events["code"].isin(leaking).to_numpy(dtype=bool)
            codes = codes[~codes.isin(leaking)]
        events, position = events.loc[keep], position[keep]
        wanted = set(self._concept_names())
        concept_by_code = {code: _concept(code) for code in codes}
        concept_by_code = {k: v for k, v in concept_by_code.items() if v in wanted}
        day = index_day.to_numpy()[position]
        time = pd.to_datetime(events["time"]).to_numpy()
        days_before = (day - time.astype("datetime64[D]").astype(day.dtype)) / np.timedelta64(
            1, "D"
        )
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
        if self.max_time == "index":
            usable = usable.loc[~(usable["days_before"] < 0)]  # timeless events (NaN) stay
        # Stable sort by time so that "last" is the most recent value.
        return usable.sort_values(["row", "time"], kind="stable", na_position="first")

    # ------------------------------------------------------------------ features

    def _aggregated_names(self) -> list[str]:
        names = []
        for concept in self.concepts_:
            for window in self._window_names():
                for aggregation in self.aggregations:
                    if aggregation in _VALUE_AGGREGATIONS and (
                        concept not in self.valued_concepts_
                    ):
                        continue
                    names.append(f"{concept}_{aggregation}_{window}")
        return names

    def _feature_names(self) -> list[str]:
        names = [*self._at_index_names(), *self._aggregated_names()]
        if self.include_scores:
            names += _SCORES
        if self.missing_indicators:
            names += self._indicators()
            names += [f"{concept}_missing" for concept in self._concepts_with_indicator()]
        return names

    @staticmethod
    def _at_index_names() -> list[str]:
        return [
            "age_at_index",
            "sex_female",
            *(f"smoking_{s}" for s in _SMOKING_LEVELS),
            "bmi",
            "family_history_ra",
            "symptom_duration_weeks",
        ]

    def _indicators(self) -> dict[str, str]:
        """Indicators of the features at index, and the feature each one watches."""
        scores_ = {f"{name}_missing": name for name in _SCORES} if self.include_scores else {}
        return {**_AT_INDEX_MISSING, **scores_}

    def _concepts_with_indicator(self) -> list[str]:
        # A concept that is also a feature at index (bmi) already has its indicator.
        return [c for c in self.concepts_ if f"{c}_missing" not in _AT_INDEX_MISSING]

    def _window_names(self) -> list[str]:
        return ["all" if days is None else f"{int(days)}d" for days in self.lookback_days]

    def _features(self, index_day: pd.Series, usable: pd.DataFrame) -> pd.DataFrame:
        subjects = pd.RangeIndex(len(index_day))  # `usable` numbers patients by row
        timed = usable.loc[usable["days_before"].notna()]
        columns: dict[str, pd.Series] = {}

        # Demographics and risk factors.
        birth = timed.loc[timed["code"] == "MEDS_BIRTH"].groupby("row")["days_before"]
        columns["age_at_index"] = birth.max() / 365.25
        codes = usable["code"].unique()
        gender_codes = [code for code in codes if code.startswith("GENDER/")]
        gender = usable.loc[usable["code"].isin(gender_codes)].groupby("row")
        sex = gender["code"].last().map({"GENDER/female": 1.0, "GENDER/male": 0.0})
        columns["sex_female"] = sex
        smoking = timed.loc[timed["code"].isin(CONCEPTS["smoking"].codes)]
        status = smoking.assign(status=smoking["text_value"].map(SMOKING_STATUS)).dropna(
            subset=["status"]
        )
        last_status = status.groupby("row")["status"].last()
        for level in _SMOKING_LEVELS:
            columns[f"smoking_{level}"] = (last_status == level).astype(np.float64)
        clinical = timed.loc[timed["clinical"].notna()]
        latest = clinical.groupby(["row", "clinical"])["numeric_value"].last().unstack()
        latest = latest.reindex(index=subjects, columns=list(CONCEPTS))
        columns["bmi"] = latest["bmi"]
        family = clinical.loc[clinical["clinical"] == "family_history_ra"]
        columns["family_history_ra"] = (
            family["numeric_value"].fillna(1.0).groupby(family["row"]).last()
        )
        symptoms = timed.loc[timed["code"].isin(_SYMPTOM_CODES)]
        columns["symptom_duration_weeks"] = symptoms.groupby("row")["days_before"].max() / 7.0

        # Concepts over the look-back windows.
        concept_events = timed.loc[timed["concept"].isin(self.concepts_)]
        for days, window in zip(self.lookback_days, self._window_names(), strict=True):
            in_window = (
                concept_events
                if days is None
                else concept_events.loc[concept_events["days_before"] <= days]
            )
            columns.update(self._aggregate(in_window, window))

        features = pd.DataFrame(columns).reindex(subjects)
        counts = [c for c in features.columns if "_count_" in c]
        features[counts] = features[counts].fillna(0.0)

        if self.include_scores:
            haq_codes = [code for code in codes if _HAQ_ITEM.search(code)]
            haq_items = timed.loc[timed["code"].isin(haq_codes)]
            features = pd.concat([features, self._scores(latest, haq_items, features)], axis=1)
        if self.missing_indicators:
            watched = self._indicators()
            indicators = features.reindex(columns=list(watched.values())).isna()
            indicators.columns = list(watched)
            with_indicator = self._concepts_with_indicator()
            ever = concept_events.groupby(["row", "concept"]).size().unstack()
            concept_missing = ever.reindex(index=subjects, columns=with_indicator).isna()
            concept_missing.columns = [f"{concept}_missing" for concept in with_indicator]
            features = pd.concat(
                [features, indicators.astype(np.float64), concept_missing.astype(np.float64)],
                axis=1,
            )
        # A modality without a usable fact is absent: nothing is known, not even "missing".
        values = features.to_numpy(dtype=np.float64, copy=True)
        present = self._presence(timed, codes, len(index_day))
        for modality, has in present.items():
            columns = np.array([feature_modality(c) == modality for c in features.columns])
            values[np.ix_(~has, columns)] = np.nan
        return pd.DataFrame(values, index=index_day.index, columns=features.columns)

    def _presence(self, timed: pd.DataFrame, codes: np.ndarray, n: int) -> dict[str, np.ndarray]:
        """Which patients (rows) have a usable fact of each modality in the longest window.

        A usable fact is an event that a feature reads: of one of the aggregated concepts
        (`concepts_`), with a value when the concept has values (a CRP without a result
        tells nothing), or a HAQ-DI item with its answer. The mimics' diagnoses, a smoking
        status the featurizer cannot read, age and sex are not facts of a modality here.
        """
        longest = None if None in self.lookback_days else max(self.lookback_days)
        facts = timed if longest is None else timed.loc[timed["days_before"] <= longest]
        concept = facts["concept"]
        valued = concept.isin(self.valued_concepts_).to_numpy(dtype=bool)
        has_value = facts["numeric_value"].notna().to_numpy(dtype=bool)
        usable = concept.isin(self.concepts_).to_numpy(dtype=bool) & (~valued | has_value)
        haq_items = [code for code in codes if _HAQ_ITEM.search(code)]
        answered = facts["code"].isin(haq_items).to_numpy(dtype=bool) & has_value
        reported = concept.isin(PRO_CONCEPTS).to_numpy(dtype=bool)
        rows = facts["row"].to_numpy()
        present = {}
        for modality, mask in (
            ("ehr", usable & ~reported),
            ("pro", (usable & reported) | answered),
        ):
            has = np.zeros(n, dtype=bool)
            has[rows[mask]] = True
            present[modality] = has
        return present

    def _aggregate(self, events: pd.DataFrame, window: str) -> dict[str, pd.Series]:
        """The aggregations of every concept within one window, as named columns."""
        groups = events.groupby(["row", "concept"], sort=False)
        values = groups["numeric_value"]
        table: dict[str, pd.Series] = {}
        for aggregation in self.aggregations:
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
            for concept in self.concepts_:
                if aggregation in _VALUE_AGGREGATIONS and concept not in self.valued_concepts_:
                    continue
                name = f"{concept}_{aggregation}_{window}"
                columns[name] = (
                    wide[concept] if concept in wide.columns else pd.Series(dtype=np.float64)
                )
        return columns

    def _scores(
        self, latest: pd.DataFrame, haq_items: pd.DataFrame, features: pd.DataFrame
    ) -> pd.DataFrame:
        """The clinical scores from the last value of each input at the index date."""

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
            crp=last("crp"),
            esr=last("esr"),
            symptom_duration_weeks=features["symptom_duration_weeks"],
            sex=sex,
            return_components=True,
        )
        tender, swollen = last("tender_joints_28"), last("swollen_joints_28")
        patient_global, evaluator_global = last("patient_global"), last("evaluator_global")
        haq = last("haq_di").fillna(_haq_di_from_items(haq_items).reindex(features.index))
        rapid3 = last("rapid3").fillna(
            scores.rapid3(haq * 10.0 / 3.0, last("pain"), patient_global)
        )
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


def _is_records(X: Any) -> bool:
    """Whether X is a `ramultimodal.io.CohortRecords` (imported lazily: io sits below)."""
    from ramultimodal.io import CohortRecords

    return isinstance(X, CohortRecords)


def _concept(code: str) -> str | None:
    """Aggregated concept of a code, the leakage pseudo-concepts included."""
    if code in DMARD_CODES:
        return "dmard"
    if code in BIOLOGIC_CODES:
        return "biologic"
    if any(pattern.match(code) for pattern in RA_DIAGNOSIS_PATTERNS):
        return "ra_diagnosis"
    return concept_of(code)


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
