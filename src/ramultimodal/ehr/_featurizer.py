"""`EHRFeaturizer`: the events table to one row of features per patient at the index date.

The estimator: its parameters, their checks and the names of its features. What is known
at the index date is in `_index_date`, the features themselves in `_aggregate`, and which
patients have each modality in `_modalities`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ramultimodal.ehr._aggregate import (
    AGGREGATIONS,
    HAQ_ITEM,
    SCORES,
    SMOKING_LEVELS,
    VALUE_AGGREGATIONS,
    clinical_scores,
    concept_aggregates,
    risk_factors,
)
from ramultimodal.ehr._index_date import LEAKAGE_CONCEPTS, index_days, usable_events
from ramultimodal.ehr._modalities import feature_modality, modality_presence
from ramultimodal.terminology.codes import CONCEPTS

__all__ = ["DEFAULT_CONCEPTS", "EHRFeaturizer"]

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

    def required_codes(self) -> list[str] | None:
        """The events-table codes this featurizer can use, for a reader to push down.

        `ramultimodal.io.read_omop` (``codes=``) reads only these from a database: the
        codes of every concept in `ramultimodal.terminology.codes.CONCEPTS` (the
        aggregated ones, and those the risk factors and scores read), the HAQ-DI items,
        birth and sex. RA diagnoses and treatments are left out while `exclude_leakage`
        holds; without it the answer is None (read everything), because RA diagnoses are
        ICD-10 patterns, not a list.

        Examples
        --------
        >>> codes = EHRFeaturizer().required_codes()
        >>> "LOINC/1988-5" in codes, "SNOMED/69896004" in codes
        (True, False)
        """
        if not self.exclude_leakage or self.max_time != "index":
            return None
        from ramultimodal.terminology.codes import HAQ_DI_CATEGORIES, haq_di_item_code
        from ramultimodal.terminology.events import BIRTH, gender_code

        codes = {
            code
            for name, concept in CONCEPTS.items()
            if name != "rheumatoid_arthritis"
            for code in concept.codes
        }
        codes |= {
            haq_di_item_code(category, number)
            for category, items in HAQ_DI_CATEGORIES.items()
            for number in range(1, len(items) + 1)
        }
        codes |= {BIRTH, *(gender_code(g) for g in ("female", "male", "other", "unknown"))}
        return sorted(codes)

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
        return events, index_days(patients, self.index_column)

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
        return usable_events(
            events,
            index_day,
            concepts=self._concept_names(),
            exclude_leakage=self.exclude_leakage,
            max_time=self.max_time,
        )

    # ------------------------------------------------------------------ features

    def _aggregated_names(self) -> list[str]:
        names = []
        for concept in self.concepts_:
            for window in self._window_names():
                for aggregation in self.aggregations:
                    if aggregation in VALUE_AGGREGATIONS and (concept not in self.valued_concepts_):
                        continue
                    names.append(f"{concept}_{aggregation}_{window}")
        return names

    def _feature_names(self) -> list[str]:
        names = [*self._at_index_names(), *self._aggregated_names()]
        if self.include_scores:
            names += SCORES
        if self.missing_indicators:
            names += self._indicators()
            names += [f"{concept}_missing" for concept in self._concepts_with_indicator()]
        return names

    @staticmethod
    def _at_index_names() -> list[str]:
        return [
            "age_at_index",
            "sex_female",
            *(f"smoking_{s}" for s in SMOKING_LEVELS),
            "bmi",
            "family_history_ra",
            "symptom_duration_weeks",
        ]

    def _indicators(self) -> dict[str, str]:
        """Indicators of the features at index, and the feature each one watches."""
        scores_ = {f"{name}_missing": name for name in SCORES} if self.include_scores else {}
        return {**_AT_INDEX_MISSING, **scores_}

    def _concepts_with_indicator(self) -> list[str]:
        # A concept that is also a feature at index (bmi) already has its indicator.
        return [c for c in self.concepts_ if f"{c}_missing" not in _AT_INDEX_MISSING]

    def _window_names(self) -> list[str]:
        return ["all" if days is None else f"{int(days)}d" for days in self.lookback_days]

    def _features(self, index_day: pd.Series, usable: pd.DataFrame) -> pd.DataFrame:
        subjects = pd.RangeIndex(len(index_day))  # `usable` numbers patients by row
        timed = usable.loc[usable["days_before"].notna()]
        codes = usable["code"].unique()
        columns, latest = risk_factors(usable, timed, codes, len(index_day))

        concept_events = timed.loc[timed["concept"].isin(self.concepts_)]
        windows = dict(zip(self._window_names(), self.lookback_days, strict=True))
        columns |= concept_aggregates(
            concept_events,
            windows,
            aggregations=self.aggregations,
            concepts=self.concepts_,
            valued_concepts=self.valued_concepts_,
        )

        features = pd.DataFrame(columns).reindex(subjects)
        counts = [c for c in features.columns if "_count_" in c]
        features[counts] = features[counts].fillna(0.0)

        if self.include_scores:
            haq_codes = [code for code in codes if HAQ_ITEM.search(code)]
            haq_items = timed.loc[timed["code"].isin(haq_codes)]
            features = pd.concat([features, clinical_scores(latest, haq_items, features)], axis=1)
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
        present = modality_presence(
            timed,
            codes,
            len(index_day),
            lookback_days=self.lookback_days,
            concepts=self.concepts_,
            valued_concepts=self.valued_concepts_,
        )
        for modality, has in present.items():
            columns = np.array([feature_modality(c) == modality for c in features.columns])
            values[np.ix_(~has, columns)] = np.nan
        return pd.DataFrame(values, index=index_day.index, columns=features.columns)


def _is_records(X: Any) -> bool:
    """Whether X is a `ramultimodal.io.CohortRecords` (imported lazily: io sits below)."""
    from ramultimodal.io import CohortRecords

    return isinstance(X, CohortRecords)
