"""`LeidenRuleClassifier`: the Leiden prediction rule as a scikit-learn classifier."""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ramultimodal.ehr._binary_target import binary_classes
from ramultimodal.ehr._leiden_score import leiden_score
from ramultimodal.terminology.leiden import LEIDEN_HIGH_RISK, LEIDEN_ITEMS, LEIDEN_LOW_RISK

__all__ = ["LeidenRuleClassifier"]

logger = logging.getLogger(__name__)

#: Raw findings, named as `leiden_score`'s arguments.
RAW_COLUMNS: tuple[str, ...] = (
    "age", "sex", "small_joints_hands_feet", "symmetric", "upper_extremities",
    "lower_extremities", "morning_stiffness_vas", "morning_stiffness_minutes", "tender_joints",
    "swollen_joints", "crp", "rf", "anti_ccp", "rf_positive", "anti_ccp_positive",
)  # fmt: skip
#: Where the `EHRFeaturizer`'s output holds each finding: a column, or a concept whose last
#: value (``<concept>_last_<window>``, the longest window) is read. The rule's other findings
#: (symmetry, upper and lower extremities, the stiffness VAS) have no feature: our records
#: do not hold them.
FEATURIZER_SOURCES: dict[str, str] = {
    "age": "age_at_index",
    "sex": "sex_female",
    # The 2010 ACR/EULAR small joints (MCPs, PIPs, MTPs 2-5, thumb IPs, wrists): those of
    # the hands and feet, as the rule's "small joints of hands or feet".
    "small_joints_hands_feet": "involved_small_joints",
    "morning_stiffness_minutes": "morning_stiffness",
    # 28-joint counts: they leave out the feet, so a count of the rule's joints can only
    # be higher, and the points read from them are a lower bound.
    "tender_joints": "tender_joints_28",
    "swollen_joints": "swollen_joints_28",
    "crp": "crp",
    "rf": "rf",
    "anti_ccp": "anti_ccp",
}
_FEATURE_COLUMNS = {"age_at_index", "sex_female"}
_LAST = re.compile(r"^(?P<concept>.+)_last_(?P<window>all|\d+d)$")
_PROBA = ("logistic", "scaled")


class LeidenRuleClassifier(ClassifierMixin, BaseEstimator):
    """The Leiden prediction rule for RA within a year, as a classifier beside the criteria.

    van der Helm-van Mil et al., Arthritis Rheum 2007;56:433, validated in Arthritis Rheum
    2008;58:2241: in undifferentiated arthritis, nine findings (sex, age, localisation of
    complaints, morning stiffness, tender and swollen joint counts, CRP, RF, anti-CCP) add
    up to a score of 0-14 (`leiden_score`; the points and their sources in
    `ramultimodal.terminology.leiden`). A score of 6 or less is low risk, 8 or more high
    risk. `decision_function` is the score, `predict` is ``score >= threshold`` (8, the
    high-risk cut-off), `risk_group` names the group.

    Input, a DataFrame with any of

    - the raw findings, named as `leiden_score`'s arguments (``age``, ``sex``,
      ``small_joints_hands_feet``, ``symmetric``, ``upper_extremities``,
      ``lower_extremities``, ``morning_stiffness_vas``, ``tender_joints``,
      ``swollen_joints``, ``crp``, ``rf``, ``anti_ccp``...), and
    - the `EHRFeaturizer`'s columns for the findings our records hold (`FEATURIZER_SOURCES`):
      ``age_at_index``, ``sex_female``, and the last value (longest window) of
      ``involved_small_joints`` (> 0: small joints of hands or feet), ``tender_joints_28``,
      ``swollen_joints_28``, ``crp``, ``rf``, ``anti_ccp`` and ``morning_stiffness``
      (minutes). A raw column wins over the featurizer's.

    Missing items: our records hold no symmetry, no upper or lower extremities and no
    stiffness VAS, so from the featurizer's output 4 of the 11 components
    (`ramultimodal.terminology.leiden.LEIDEN_ITEMS`) can never be scored, up to 4 of the
    14 points. By default (``missing="zero"``) an item that cannot be scored adds 0 points,
    as a finding not recorded adds nothing, and is counted: `missing_items_` has, per item,
    the training patients it was missing for, and `fit` logs the items missing for all of
    them. The score is then a lower bound, and the published cut-offs (<= 6, >= 8) call
    fewer patients high risk than the full rule would. ``missing="nan"`` leaves a patient
    with a missing item without a score (and without a probability).

    Probability: ``proba="logistic"`` (the default) fits, in `fit`, a logistic regression of
    the labels on the score: ``expit(intercept_ + coef_ * score)``. It keeps the score's
    ranking (its AUROC is the score's) and is calibrated to the training cohort. Not the
    paper's table of risk per score: that table is the Leiden clinic's case mix (a third of
    its undifferentiated arthritis became RA), with every item recorded, and could not be
    checked here. ``proba="scaled"`` is score / 14 and learns nothing, as
    `ACREULARClassifier`'s score / 10.

    Parameters
    ----------
    threshold : float, default 8
        Score from which `predict` says RA (the paper's high-risk cut-off).
    missing : {"zero", "nan"}, default "zero"
        What an item that cannot be scored adds.
    stiffness : {"vas", "duration"}, default "vas"
        ``"vas"``: morning stiffness is scored from its severity on a 100 mm VAS (the 2007
        rule), which our records lack. ``"duration"``: where the VAS is missing, its
        duration in minutes (``morning_stiffness_minutes``, or the featurizer's
        ``morning_stiffness``) scores by the 2008 re-derivation (30-59 min 0.5, >= 60 min
        1; a secondary source, see `ramultimodal.terminology.leiden`).
    proba : {"logistic", "scaled"}, default "logistic"
        The mapping from score to probability (above).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The labels seen in `fit`; the second one is RA.
    sources_ : dict of str to str or None
        For each argument of `leiden_score`, the column of X it is read from (None: absent).
    missing_items_ : dict of str to int
        For each item, the number of training patients it could not be scored for.
    n_patients_ : int
        Patients in `fit`.
    intercept_, coef_ : float
        The logistic mapping (``proba="logistic"``).
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    See Also
    --------
    ACREULARClassifier : the 2010 classification criteria, the other clinical baseline.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [50, 30, 62, 45], "sex": ["female", "male", "female", "male"],
    ...                   "tender_joints": [12, 1, 5, 0], "swollen_joints": [11, 1, 4, 2],
    ...                   "crp": [60, 2, 12, 4], "rf": [40, 5, 20, 3],
    ...                   "anti_ccp": [90, 2, 3, 1]})
    >>> model = LeidenRuleClassifier().fit(X, [1, 0, 1, 0])
    >>> model.decision_function(X).round(2).tolist()  # 4 localisation/stiffness items: 0
    [8.5, 0.6, 4.74, 0.9]
    >>> model.risk_group(X).tolist(), model.predict(X).tolist()
    (['high', 'low', 'low', 'low'], [1, 0, 0, 0])
    >>> model.missing_items_["symmetric"], model.missing_items_["crp"]
    (4, 0)
    """

    def __init__(
        self,
        threshold: float = LEIDEN_HIGH_RISK,
        missing: str = "zero",
        stiffness: str = "vas",
        proba: str = "logistic",
    ) -> None:
        self.threshold = threshold
        self.missing = missing
        self.stiffness = stiffness
        self.proba = proba

    def fit(self, X: pd.DataFrame, y: Any) -> LeidenRuleClassifier:
        """Record the classes, the columns and the missing items; fit the probability map.

        Parameters
        ----------
        X : DataFrame
            Raw findings and/or the featurizer's columns (see the class docstring).
        y : array-like of shape (n_patients,)
            Binary labels; the greater one (after sorting) is RA.

        Returns
        -------
        self
        """
        for name, value, choices in (
            ("missing", self.missing, ("zero", "nan")),
            ("stiffness", self.stiffness, ("vas", "duration")),
            ("proba", self.proba, _PROBA),
        ):
            if value not in choices:
                raise ValueError(f"{name}={value!r}; use one of {choices}.")
        classes = binary_classes("LeidenRuleClassifier", y)
        y = np.asarray(y)
        self.sources_ = self._sources(X)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels.")
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        components = self._components(X, self.sources_)
        items = components.drop(columns="total")
        self.missing_items_ = {item: int(items[item].isna().sum()) for item in LEIDEN_ITEMS}
        self.n_patients_ = len(X)
        never = [item for item, count in self.missing_items_.items() if count == len(X)]
        if never:
            logger.warning(
                "Leiden rule: %d of %d items could not be scored for any of the %d patients "
                "(%s); with missing=%r they %s.",
                len(never),
                len(LEIDEN_ITEMS),
                len(X),
                ", ".join(never),
                self.missing,
                "add 0 points, so the scores are lower bounds"
                if self.missing == "zero"
                else "leave every patient without a score",
            )
        self.intercept_, self.coef_ = 0.0, 1.0 / 14.0
        if self.proba == "logistic":
            self._fit_logistic(self._total(components), y == classes[1])
        return self

    def _fit_logistic(self, score: np.ndarray, ra: np.ndarray) -> None:
        scored = ~np.isnan(score)
        if len(np.unique(ra[scored])) < 2:
            raise ValueError(
                "LeidenRuleClassifier(proba='logistic') needs patients of both classes with "
                f"a score; {int(scored.sum())} of {len(score)} have one. Use missing='zero' "
                "or proba='scaled'."
            )
        # Nearly unpenalised: the map keeps the score's order and only calibrates it; the
        # small penalty keeps a cohort the score separates perfectly from diverging.
        logistic = LogisticRegression(C=1e4).fit(score[scored, None], ra[scored])
        self.intercept_ = float(logistic.intercept_[0])
        self.coef_ = float(logistic.coef_[0, 0])

    def score_components(self, X: pd.DataFrame) -> pd.DataFrame:
        """The points of each item and the total, NaN where an item could not be scored.

        Returns
        -------
        DataFrame
            One column per item of `ramultimodal.terminology.leiden.LEIDEN_ITEMS` and
            ``total`` (here NaN whenever an item is; see `decision_function`), X's index.
        """
        check_is_fitted(self, "classes_")
        return self._components(X, self._sources(X))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The Leiden score (0-14) of each patient, under the `missing` policy."""
        check_is_fitted(self, "classes_")
        return self._total(self._components(X, self._sources(X)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The probability of RA (second column) from the score (see `proba`)."""
        score = self.decision_function(X)
        ra = expit(self.intercept_ + self.coef_ * score) if self.proba == "logistic" else score / 14
        return np.column_stack([1.0 - ra, ra])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The classes: RA when the score reaches `threshold`."""
        score = self.decision_function(X)
        return self.classes_[(score >= self.threshold).astype(int)]

    def risk_group(self, X: pd.DataFrame) -> np.ndarray:
        """``"low"`` (score <= 6), ``"intermediate"`` or ``"high"`` (>= 8); None unscored."""
        score = self.decision_function(X)
        groups = np.where(
            score <= LEIDEN_LOW_RISK,
            "low",
            np.where(score >= LEIDEN_HIGH_RISK, "high", "intermediate"),
        ).astype(object)
        groups[np.isnan(score)] = None
        return groups

    def _total(self, components: pd.DataFrame) -> np.ndarray:
        items = components.drop(columns="total").to_numpy(np.float64)
        if self.missing == "zero":
            return np.nan_to_num(items, nan=0.0).sum(axis=1)
        return items.sum(axis=1)

    def _components(self, X: pd.DataFrame, sources: dict[str, str | None]) -> pd.DataFrame:
        findings = {
            argument: pd.to_numeric(X[column], errors="coerce") if argument != "sex" else X[column]
            for argument, column in sources.items()
            if column is not None
        }
        if self.stiffness == "vas":
            findings.pop("morning_stiffness_minutes", None)
        findings = {name: pd.Series(values, index=X.index) for name, values in findings.items()}
        return leiden_score(**findings, return_components=True)

    def _sources(self, X: Any) -> dict[str, str | None]:
        """The column each finding is read from; a clear error when X offers none."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                "LeidenRuleClassifier needs a DataFrame with named columns, e.g. the "
                "EHRFeaturizer's output with set_output(transform='pandas'); arrays and "
                f"sparse input are not supported (got {type(X).__name__})."
            )
        last = _last_columns(X.columns)
        sources: dict[str, str | None] = {}
        for argument in RAW_COLUMNS:
            feature = FEATURIZER_SOURCES.get(argument)
            if argument in X.columns:
                sources[argument] = argument
            elif feature in _FEATURE_COLUMNS and feature in X.columns:
                sources[argument] = feature
            else:
                sources[argument] = last.get(feature) if feature else None
        if not any(sources.values()):
            raise ValueError(
                "LeidenRuleClassifier: X has none of the rule's findings; give raw columns "
                f"named {list(RAW_COLUMNS)} or the EHRFeaturizer's output "
                "(age_at_index, sex_female, crp_last_all, ...)."
            )
        return sources

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = False
        return tags


def _last_columns(columns: Any) -> dict[str, str]:
    """Per concept, its ``_last_`` column of the longest window (``all`` first)."""
    best: dict[str, tuple[float, str]] = {}
    for column in map(str, columns):
        match = _LAST.match(column)
        if match is None:
            continue
        window = match["window"]
        days = np.inf if window == "all" else float(window[:-1])
        concept = match["concept"]
        if concept not in best or days > best[concept][0]:
            best[concept] = (days, column)
    return {concept: column for concept, (_, column) in best.items()}
