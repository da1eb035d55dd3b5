"""Any binary classifier, recalibrated on its own cross-fitted, patient-grouped predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import get_tags
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ramultimodal.fusion._base import fit_accepts_groups, out_of_fold_splits
from ramultimodal.fusion._calibration import (
    apply_calibrator,
    calibrated,
    check_calibration,
    fit_calibrator,
)

__all__ = ["RecalibratedClassifier"]


def _fit_with_groups(model: Any, X: Any, y: np.ndarray, groups: np.ndarray | None) -> Any:
    """``model.fit(X, y)``, passing the patients' `groups` where its fit takes them."""
    if groups is not None and fit_accepts_groups(model):
        return model.fit(X, y, groups=groups)
    return model.fit(X, y)


def _estimator_explains(self: RecalibratedClassifier) -> bool:
    return hasattr(self.estimator, "predict_modalities")


class RecalibratedClassifier(ClassifierMixin, BaseEstimator):
    """Recalibrate any binary classifier of the project: the CNN, the EHR and PRO models,
    the ACR/EULAR criteria, a fusion.

    ``fit`` cross-fits `estimator` on patient-grouped, label-stratified folds, so that each
    patient gets a probability from a model that did not see them; fits a calibrator on
    those probabilities (`ramultimodal.fusion._calibration`); and refits `estimator` on
    every patient. ``predict_proba`` is the refitted estimator's probability through the
    calibrator. A patient the estimator gives no probability (NaN: the CNN for a patient
    without a radiograph) keeps NaN.

    For a fusion, prefer its own ``calibration=`` parameter: it reuses the out-of-fold
    predictions the fusion makes anyway, and it is saved with the model.
    ``RecalibratedClassifier`` cannot be saved to a model folder (`save_model` refuses it).

    Parameters
    ----------
    estimator : classifier
        A binary classifier with ``predict_proba``; cloned, never changed.
    method : {"sigmoid", "isotonic"}, default="sigmoid"
        Platt scaling on the log-odds (slope and intercept), or isotonic regression.
    cv : int or cross-validation splitter, default=5
        Folds of the cross-fitting. An int gives ``StratifiedGroupKFold``, grouped by
        ``groups`` (by default X's index, one row per patient), shuffled with
        `random_state`.
    random_state : int or None, default=0
        Seeds the shuffling of the folds.

    Attributes
    ----------
    estimator_ : classifier
        `estimator` fitted on every patient.
    calibrator_ : dict
        ``{"method": "sigmoid", "slope": a, "intercept": b}`` or ``{"method": "isotonic",
        "x": [...], "y": [...]}`` (see `LateFusionClassifier`'s ``calibrator_``).
    oof_proba_ : ndarray of shape (n_patients,)
        The cross-fitted probabilities of the positive class the calibrator was fitted on.
    classes_ : ndarray of shape (2,)

    Examples
    --------
    A model whose probabilities are twice too extreme on the log-odds scale:

    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ramultimodal.evaluation import calibration_slope
    >>> from ramultimodal.fusion import RecalibratedClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"crp": rng.normal(0, 1, 2000)})
    >>> y = (rng.uniform(size=2000) < 1 / (1 + np.exp(-X["crp"]))).astype(int)
    >>> overconfident = LogisticRegression().fit(X, y)
    >>> overconfident.coef_ *= 2
    >>> from sklearn.frozen import FrozenEstimator  # already trained: cross-fitting refits nothing
    >>> model = RecalibratedClassifier(FrozenEstimator(overconfident)).fit(X, y)
    >>> round(model.calibrator_["slope"], 1)
    0.5
    >>> round(calibration_slope(y, model.predict_proba(X)[:, 1]), 1)
    1.0
    """

    def __init__(
        self, estimator: Any, method: str = "sigmoid", cv: Any = 5, random_state: Any = 0
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: Any, y: Any, groups: Any = None) -> RecalibratedClassifier:
        """Cross-fit the estimator, fit the calibrator on its out-of-fold probabilities, refit.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, ...)
        y : array-like of shape (n_patients,)
            Two classes.
        groups : array-like of shape (n_patients,), default=None
            Patient of each row; default: X's index when X is a DataFrame, else each row
            its own patient. Passed on to the estimator's ``fit`` where it takes them.

        Returns
        -------
        self : RecalibratedClassifier
        """
        if check_calibration(self.method, "method") is None:
            raise ValueError("method must be 'sigmoid' or 'isotonic'; got None.")
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                f"RecalibratedClassifier recalibrates binary classifiers; y has "
                f"{len(self.classes_)} classes."
            )
        if groups is None:
            index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(y))
            groups = np.asarray(index)
        groups = np.asarray(groups)
        positive = np.full(len(y), np.nan)
        splits = out_of_fold_splits(self.cv, np.zeros((len(y), 1)), y, groups, self.random_state)
        for train, test in splits:
            model = _fit_with_groups(
                clone(self.estimator), _safe_indexing(X, train), y[train], groups[train]
            )
            positive[test] = self._positive(model, _safe_indexing(X, test))
        self.oof_proba_ = positive
        self.calibrator_ = fit_calibrator(positive, y == self.classes_[1], self.method)
        self.estimator_ = _fit_with_groups(clone(self.estimator), X, y, groups)
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def _positive(self, model: Any, X: Any) -> np.ndarray:
        """The probability of ``classes_[1]`` from a fitted model (NaN where it gives none)."""
        proba = np.asarray(model.predict_proba(X), dtype=float)
        return proba[:, list(model.classes_).index(self.classes_[1])]

    def predict_proba(self, X: Any) -> np.ndarray:
        """The estimator's class probabilities, recalibrated (NaN rows stay NaN).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, ...)

        Returns
        -------
        ndarray of shape (n_patients, 2)
        """
        check_is_fitted(self)
        positive = self._positive(self.estimator_, X)
        return apply_calibrator(self.calibrator_, np.column_stack([1 - positive, positive]))

    def predict(self, X: Any) -> np.ndarray:
        """The class with the higher recalibrated probability (a NaN row gives ``classes_[0]``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, ...)

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        positive = self.predict_proba(X)[:, 1]
        return self.classes_[(positive > 0.5).astype(int)]

    @available_if(_estimator_explains)
    def predict_modalities(self, X: Any) -> pd.DataFrame:
        """The estimator's explanation frame with ``proba`` recalibrated (a fusion's).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, ...)

        Returns
        -------
        DataFrame
            As the fusion's ``predict_modalities``; the ``proba_<name>`` columns of the
            modalities are left as their models gave them.
        """
        check_is_fitted(self)
        frame = self.estimator_.predict_modalities(X)
        frame["proba"] = calibrated(self.calibrator_, frame["proba"].to_numpy(float))
        return frame

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            inner = get_tags(self.estimator)
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            tags.input_tags.string = inner.input_tags.string
        except (TypeError, ValueError, AttributeError):
            pass
        return tags
