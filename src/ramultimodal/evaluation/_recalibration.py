"""How well each model is calibrated, and how well a sigmoid recalibration would make it.

"Can I take 0.8 as 80%?" Per model: the calibration slope, intercept and expected
calibration error of its (out-of-fold) probabilities, then the same after a sigmoid (Platt)
recalibration fitted on *other* patients' probabilities: the calibrator of each fold is
fitted on the remaining folds' patients, grouped by patient and stratified by label, so the
"after" column is what a recalibrated model would show on patients it did not see, not the
calibrator's fit to its own training data. It trains no model: it recalibrates the given
probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from ramultimodal.evaluation._metrics import (
    calibration_intercept,
    calibration_slope,
    expected_calibration_error,
)
from ramultimodal.fusion._calibration import calibrated, fit_calibrator

__all__ = ["SLOPE_GOAL", "cross_fitted_recalibration", "recalibration_table"]

#: The calibration slope that counts as calibrated here (issue 15: within 0.9-1.1).
SLOPE_GOAL: tuple[float, float] = (0.9, 1.1)


def cross_fitted_recalibration(
    y_true,
    proba,
    *,
    method: str = "sigmoid",
    groups=None,
    cv: int = 5,
    random_state: int | None = 0,
) -> np.ndarray:
    """Each patient's probability recalibrated by a calibrator fitted on the other folds.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
        Binary truth (1 = RA).
    proba : array-like of shape (n_patients,)
        Predicted probability of RA (out of fold); NaN stays NaN.
    method : {"sigmoid", "isotonic"}, default "sigmoid"
    groups : array-like of shape (n_patients,), optional
        Patient of each row (default: each row its own patient).
    cv : int, default 5
        Folds, stratified by label and grouped by patient.
    random_state : int or None, default 0

    Returns
    -------
    ndarray of shape (n_patients,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> true_logit = rng.normal(0, 1.5, 2000)
    >>> y = (rng.uniform(size=2000) < 1 / (1 + np.exp(-true_logit))).astype(int)
    >>> overconfident = 1 / (1 + np.exp(-3 * true_logit))
    >>> round(calibration_slope(y, overconfident), 2)
    0.33
    >>> round(calibration_slope(y, cross_fitted_recalibration(y, overconfident)), 1)
    1.0
    """
    y_true, proba = np.asarray(y_true).astype(int), np.asarray(proba, float)
    scored = np.flatnonzero(~np.isnan(proba))
    groups = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    recalibrated = np.full(len(y_true), np.nan)
    splitter = StratifiedGroupKFold(cv, shuffle=True, random_state=random_state)
    for train, test in splitter.split(scored, y_true[scored], groups[scored]):
        train, test = scored[train], scored[test]
        calibrator = fit_calibrator(proba[train], y_true[train], method)
        recalibrated[test] = calibrated(calibrator, proba[test])
    return recalibrated


def _calibration(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    return {
        "slope": calibration_slope(y, proba),
        "intercept": calibration_intercept(y, proba),
        "ece": expected_calibration_error(y, proba),
    }


def recalibration_table(
    y_true,
    predictions: Mapping[str, np.ndarray],
    *,
    groups=None,
    cv: int = 5,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Calibration of each model before and after a cross-fitted sigmoid recalibration.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
    predictions : mapping of model name to probabilities of shape (n_patients,)
        Out-of-fold or held-out probabilities; NaN where a model made no prediction.
    groups, cv, random_state
        As for `cross_fitted_recalibration`.

    Returns
    -------
    DataFrame
        Indexed by model: ``n``, ``slope``, ``intercept``, ``ece`` (as given), then
        ``slope_after``, ``intercept_after``, ``ece_after`` (recalibrated, cross-fitted),
        and ``slope_goal_met`` (``slope_after`` within `SLOPE_GOAL`). The metrics are
        `calibration_slope`, `calibration_intercept` and `expected_calibration_error`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 1000)
    >>> timid = np.where(y == 1, 0.6, 0.4) + rng.normal(0, 0.05, 1000)
    >>> table = recalibration_table(y, {"timid": timid})
    >>> bool(table.loc["timid", "slope"] > 5), bool(table.loc["timid", "slope_goal_met"])
    (True, True)
    """
    y_true = np.asarray(y_true).astype(int)
    rows = {}
    for name, proba in predictions.items():
        proba = np.asarray(proba, float)
        scored = ~np.isnan(proba)
        row = {"n": int(scored.sum()), **_calibration(y_true[scored], proba[scored])}
        try:
            after = cross_fitted_recalibration(
                y_true, proba, groups=groups, cv=cv, random_state=random_state
            )[scored]
            row |= {f"{k}_after": v for k, v in _calibration(y_true[scored], after).items()}
        except ValueError:  # too few patients of a class for the folds: no "after"
            row |= dict.fromkeys(("slope_after", "intercept_after", "ece_after"), np.nan)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    low, high = SLOPE_GOAL
    table["slope_goal_met"] = table["slope_after"].between(low, high)
    return table
