"""`ACREULARClassifier`: the 2010 ACR/EULAR criteria as a scikit-learn classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ramultimodal.ehr._binary_target import binary_classes
from ramultimodal.ehr.scores import acr_eular_2010_score
from ramultimodal.terminology.codes import ACR_EULAR_DEFINITE_RA

__all__ = ["ACREULARClassifier", "criteria_points"]

#: Columns of the `EHRFeaturizer` output that hold the four categories' points.
FEATURIZER_COLUMNS: tuple[str, ...] = (
    "acr_eular_joints",
    "acr_eular_serology",
    "acr_eular_acute_phase",
    "acr_eular_duration",
)
#: Raw findings, named as `acr_eular_2010_score`'s arguments (``sex`` is optional).
RAW_COLUMNS: tuple[str, ...] = (
    "small_joints",
    "large_joints",
    "rf",
    "anti_ccp",
    "crp",
    "esr",
    "symptom_duration_weeks",
)


def criteria_points(
    X: pd.DataFrame, columns: tuple[str, ...] = FEATURIZER_COLUMNS, *, missing: str = "zero"
) -> np.ndarray:
    """The 2010 ACR/EULAR score of each row of `X`, as `ACREULARClassifier` scores it.

    Parameters
    ----------
    X : DataFrame
        The `EHRFeaturizer`'s category columns (`FEATURIZER_COLUMNS`) or the raw findings
        (`RAW_COLUMNS`, and optionally ``sex``).
    columns : tuple of str, default FEATURIZER_COLUMNS
        Which of the two sets to read.
    missing : {"zero", "nan"}, default "zero"
        What a category that cannot be scored adds (see `ACREULARClassifier`).

    Returns
    -------
    ndarray of shape (n_rows,)

    Examples
    --------
    >>> X = pd.DataFrame({"acr_eular_joints": [3.0, 2.0], "acr_eular_serology": [3.0, None],
    ...                   "acr_eular_acute_phase": [1.0, 1.0], "acr_eular_duration": [1, 1]})
    >>> criteria_points(X).tolist(), criteria_points(X, missing="nan").tolist()
    ([8.0, 4.0], [8.0, nan])
    """
    if columns == FEATURIZER_COLUMNS:
        components = X.loc[:, list(columns)].apply(pd.to_numeric).to_numpy(np.float64)
    else:
        raw = {name: X[name] for name in RAW_COLUMNS}
        table = acr_eular_2010_score(**raw, sex=X.get("sex"), return_components=True)
        components = table.drop(columns="total").to_numpy(np.float64)
    if missing == "zero":
        components = np.nan_to_num(components, nan=0.0)
    return components.sum(axis=1)


class ACREULARClassifier(ClassifierMixin, BaseEstimator):
    """The 2010 ACR/EULAR classification criteria for RA, as a classifier that learns nothing.

    The clinical baseline every model is compared with (Aletaha et al., Arthritis Rheum
    2010;62:2569): `decision_function` is the score (0-10), `predict_proba` is score / 10
    for the positive class, and `predict` is ``score >= threshold`` (6 in the paper).

    Input, a DataFrame with either

    - the `EHRFeaturizer`'s category columns ``acr_eular_joints``,
      ``acr_eular_serology``, ``acr_eular_acute_phase``, ``acr_eular_duration`` (use
      ``set_output(transform="pandas")`` on the featurizer or its pipeline), or
    - the raw findings ``small_joints``, ``large_joints``, ``rf`` (IU/mL), ``anti_ccp``
      (U/mL), ``crp`` (mg/L), ``esr`` (mm/h), ``symptom_duration_weeks`` and optionally
      ``sex`` (sets the ESR upper limit; see `acr_eular_2010_score`).

    The category columns win when both are present. Other columns are ignored.

    Missing values: the paper cannot classify a patient with no serology or no
    acute-phase reactant, but a baseline must answer for every patient, so by default
    (``missing="zero"``) a category that cannot be scored adds 0 points, as a test that
    was not done adds nothing. ``missing="nan"`` keeps NaN scores and probabilities.

    Parameters
    ----------
    threshold : float, default 6
        Score from which a patient is classified as RA (6 of 10 in the paper).
    missing : {"zero", "nan"}, default "zero"
        What a category that cannot be scored adds.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The labels seen in `fit`; the second one is RA.
    feature_names_in_ : ndarray of str
        Columns of `X` in `fit`.
    n_features_in_ : int

    Examples
    --------
    >>> X = pd.DataFrame({"small_joints": [5, 0], "large_joints": [0, 2], "rf": [50, 3],
    ...                   "anti_ccp": [None, 4], "crp": [12, 2], "esr": [None, 10],
    ...                   "symptom_duration_weeks": [8, 3]})
    >>> model = ACREULARClassifier().fit(X, [1, 0])
    >>> model.decision_function(X).tolist()  # 3 + 3 + 1 + 1 and 1 + 0 + 0 + 0
    [8.0, 1.0]
    >>> model.predict_proba(X)[:, 1].tolist(), model.predict(X).tolist()
    ([0.8, 0.1], [1, 0])
    """

    def __init__(self, threshold: float = ACR_EULAR_DEFINITE_RA, missing: str = "zero") -> None:
        self.threshold = threshold
        self.missing = missing

    def fit(self, X: pd.DataFrame, y: Any) -> ACREULARClassifier:
        """Record the classes and the columns; the criteria themselves are fixed.

        Parameters
        ----------
        X : DataFrame
            Category or raw columns (see the class docstring).
        y : array-like of shape (n_patients,)
            Binary labels; the greater one (after sorting) is RA.

        Returns
        -------
        self
        """
        if self.missing not in ("zero", "nan"):
            raise ValueError(f"missing={self.missing!r}; use 'zero' or 'nan'.")
        classes = binary_classes("ACREULARClassifier", y)
        y = np.asarray(y)
        self._columns(X)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels.")
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The 2010 ACR/EULAR score (0-10) of each patient."""
        check_is_fitted(self, "classes_")
        return criteria_points(X, self._columns(X), missing=self.missing)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Score / 10 as the probability of RA (second column)."""
        ra = self.decision_function(X) / 10.0
        return np.column_stack([1.0 - ra, ra])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The classes: RA when the score reaches `threshold`."""
        score = self.decision_function(X)
        return self.classes_[(score >= self.threshold).astype(int)]

    def _columns(self, X: Any) -> tuple[str, ...]:
        """Which set of columns `X` offers; a clear error when neither is complete."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                "ACREULARClassifier needs a DataFrame with named columns, e.g. the "
                "EHRFeaturizer's output with set_output(transform='pandas'); arrays and "
                f"sparse input are not supported (got {type(X).__name__})."
            )
        if all(column in X.columns for column in FEATURIZER_COLUMNS):
            return FEATURIZER_COLUMNS
        if all(column in X.columns for column in RAW_COLUMNS):
            return RAW_COLUMNS
        raise ValueError(
            "ACREULARClassifier: X lacks the EHRFeaturizer columns "
            f"{[c for c in FEATURIZER_COLUMNS if c not in X.columns]} and the raw columns "
            f"{[c for c in RAW_COLUMNS if c not in X.columns]}; give either set "
            "(EHRFeaturizer(include_scores=True) makes the first)."
        )

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = False
        return tags
