"""Cross-validation built for clinical data: stratified by label, grouped by patient."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed
from tqdm.auto import tqdm

from ramultimodal.evaluation._metrics import METRICS
from ramultimodal.fusion._base import fit_accepts_groups

__all__ = ["PatientCVResult", "patient_cross_validate"]

logger = logging.getLogger(__name__)


@dataclass
class PatientCVResult:
    """Out-of-fold predictions and per-fold scores of a patient-grouped cross-validation.

    Attributes
    ----------
    oof_proba : DataFrame
        One row per sample (X's index), one column per repeat: the probability of the
        positive class predicted by the model that did not see that patient.
    fold_scores : DataFrame
        One row per (repeat, fold) with the metrics on that fold's held-out patients.
    """

    oof_proba: pd.DataFrame
    fold_scores: pd.DataFrame
    estimators: list = field(default_factory=list, repr=False)
    #: With ``keep_estimators``: the held-out rows (positions) of each kept estimator.
    test_rows: list = field(default_factory=list, repr=False)

    @property
    def proba(self) -> pd.Series:
        """Out-of-fold probability averaged over repeats."""
        return self.oof_proba.mean(axis=1, skipna=True)


def patient_cross_validate(
    estimator,
    X,
    y,
    *,
    groups=None,
    cv: int = 5,
    n_repeats: int = 1,
    metrics: tuple[str, ...] = ("auroc", "brier"),
    random_state: int | None = 0,
    keep_estimators: bool = False,
    verbose: int = 0,
    n_jobs: int | None = None,
) -> PatientCVResult:
    """Cross-validate a classifier with folds stratified by label and grouped by patient.

    All rows of a patient stay in the same fold, so a patient's second radiograph or visit
    never helps to predict the first. For nested cross-validation, pass a ``GridSearchCV``
    as `estimator`: its inner search runs inside each outer training fold (and receives
    `groups` when its ``fit`` accepts them, as do the fusion estimators).

    Parameters
    ----------
    estimator : classifier
        Cloned for every fold.
    X : DataFrame or array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,)
    groups : array-like of shape (n_samples,), optional
        Patient of each row; default: X's index when X is a DataFrame (one row per
        patient), else each row its own patient.
    cv : int, default 5
        Number of folds.
    n_repeats : int, default 1
        Repeats with different shuffles (repeated cross-validation).
    metrics : tuple of str
        Names in `ramultimodal.evaluation.METRICS`, computed per fold on patients with a
        prediction.
    random_state : int or None, default 0
    keep_estimators : bool, default False
        Keep the fitted estimator of every fold, and its held-out rows (``test_rows``).
    verbose : int, default 0
        Show a progress bar over folds (on stderr) when > 0. Each fold's scores are logged
        at DEBUG level, whatever `verbose`.
    n_jobs : int, optional
        Folds fitted at once, by joblib (None: one at a time, unless a
        ``joblib.parallel_config`` says otherwise). Under
        ``joblib.parallel_config(backend="dask", n_jobs=-1)`` the folds are fitted on the
        workers of the active Dask client (docs/scaling.md). The same folds, the same
        numbers, however they run.

    Returns
    -------
    PatientCVResult

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(200, random_state=0)
    >>> result = patient_cross_validate(LogisticRegression(), X, y, cv=4, n_repeats=2)
    >>> result.oof_proba.shape, len(result.fold_scores)
    ((200, 2), 8)
    >>> bool(result.fold_scores["auroc"].min() > 0.8)
    True
    """
    y = np.asarray(y)
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(y))
    if groups is None:
        groups = np.asarray(index)
    groups = np.asarray(groups)
    oof = pd.DataFrame(np.nan, index=index, columns=[f"repeat_{r}" for r in range(n_repeats)])
    scores, fitted, held_out = [], [], []
    total = n_repeats * cv
    splits = []
    for repeat in range(n_repeats):
        seed = None if random_state is None else random_state + repeat
        splitter = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
            splits.append((repeat, fold, train, test))
    fits = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_fit_fold)(estimator, X, y, groups, train, test) for _, _, train, test in splits
    )
    with tqdm(total=total, desc="cross-validation", disable=verbose <= 0) as progress:
        for (repeat, fold, _, test), (model, proba) in zip(splits, fits, strict=True):
            oof.iloc[test, repeat] = proba
            scored = ~np.isnan(proba)
            row = {"repeat": repeat, "fold": fold, "n_test": int(scored.sum())}
            for metric in metrics:
                both_classes = len(np.unique(y[test][scored])) == 2
                row[metric] = (
                    METRICS[metric](y[test][scored], proba[scored]) if both_classes else np.nan
                )
            scores.append(row)
            logger.debug(
                "repeat %d, fold %d: %d held-out patients scored, %s",
                repeat,
                fold,
                row["n_test"],
                ", ".join(f"{metric} {row[metric]:.3f}" for metric in metrics),
            )
            if keep_estimators:
                fitted.append(model)
                held_out.append(test)
            progress.update()
    return PatientCVResult(oof, pd.DataFrame(scores), fitted, held_out)


def _fit_fold(
    estimator, X, y: np.ndarray, groups: np.ndarray, train: np.ndarray, test: np.ndarray
) -> tuple[object, np.ndarray]:
    """A clone of `estimator` fitted on `train`, and its probabilities of `test`."""
    model = clone(estimator)
    fit_params = {"groups": groups[train]} if fit_accepts_groups(model) else {}
    model.fit(_safe_indexing(X, train), y[train], **fit_params)
    return model, np.asarray(model.predict_proba(_safe_indexing(X, test)))[:, 1]
