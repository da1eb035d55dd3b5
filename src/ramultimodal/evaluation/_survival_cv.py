"""Out-of-fold predictions of a model of time to RA, folds grouped by patient.

The survival counterpart of `patient_cross_validate`: each patient's risk score and
probability of RA by the model's horizon come from a model that never saw the patient, on
folds stratified by event (so that every training fold has RA) and grouped by patient (all
rows of a patient in one fold). Score them with `survival_metric_table` (Harrell's and
Uno's C, time-dependent AUROC, patient bootstrap intervals) and `plot_kaplan_meier`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils import _safe_indexing

__all__ = ["cross_validate_survival"]

logger = logging.getLogger(__name__)


def cross_validate_survival(
    estimator: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    groups: Any = None,
    cv: int = 5,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Out-of-fold ``risk`` (and ``proba`` by the horizon, when it has one) per row of X.

    Parameters
    ----------
    estimator : survival estimator
        ``fit(X, y)`` on the structured target, ``predict(X)`` a risk score; cloned per
        fold (`ramultimodal.fusion.LateFusionSurvival`, or any scikit-survival estimator).
    X : DataFrame
    y : structured array
        ``ramultimodal.fusion.survival_y``'s target.
    groups : array-like, optional
        Patient of each row; default X's index (one row per patient).
    cv : int, default 5
    random_state : int or None, default 0

    Returns
    -------
    DataFrame
        Indexed as X: ``risk`` (higher: RA sooner), ``proba`` (RA by the horizon, NaN for
        an estimator without ``predict_proba``), ``fold``.

    Examples
    --------
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> from ramultimodal.fusion import survival_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"crp": rng.normal(size=120)})
    >>> time = np.ceil(rng.exponential(400 * np.exp(-X["crp"]))) + 1
    >>> oof = cross_validate_survival(CoxPHSurvivalAnalysis(), X, survival_y(time, time < 900),
    ...                               cv=3)
    >>> oof.columns.tolist(), bool(oof["risk"].notna().all())
    (['risk', 'proba', 'fold'], True)
    """
    groups = np.asarray(X.index if groups is None else groups)
    folds = StratifiedGroupKFold(cv, shuffle=True, random_state=random_state)
    risk, proba = np.full(len(X), np.nan), np.full(len(X), np.nan)
    fold = np.full(len(X), -1)
    for number, (train, test) in enumerate(folds.split(np.zeros(len(y)), y["event"], groups)):
        model = clone(estimator).fit(_safe_indexing(X, train), y[train])
        held_out = _safe_indexing(X, test)
        risk[test] = model.predict(held_out)
        if hasattr(model, "predict_proba"):
            proba[test] = model.predict_proba(held_out)[:, 1]
        fold[test] = number
        logger.info("survival fold %d of %d fitted on %d patients", number + 1, cv, len(train))
    return pd.DataFrame({"risk": risk, "proba": proba, "fold": fold}, index=X.index)
