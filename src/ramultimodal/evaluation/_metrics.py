"""Discrimination and calibration metrics, with bootstrap confidence intervals.

Every metric takes ``(y_true, proba)`` with ``proba`` the predicted probability of the
positive class. Patients whose probability is missing (an image model for a patient without
a radiograph) are left out of that model's metrics and counted, never imputed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve
from sklearn.utils import check_random_state

from ramultimodal.fusion._base import logit

__all__ = [
    "METRICS",
    "MetricEstimate",
    "bootstrap_metric",
    "calibration_intercept",
    "calibration_slope",
    "expected_calibration_error",
    "metric_table",
    "sensitivity_at_specificity",
]

Metric = Callable[[np.ndarray, np.ndarray], float]


def sensitivity_at_specificity(y_true, proba, specificity: float) -> float:
    """Sensitivity at the threshold that reaches at least `specificity`.

    Used to compare a model with a published comparator at the comparator's own
    operating point (the 2010 ACR/EULAR criteria: specificity 0.61, Radner et al. 2014;
    anti-CCP alone: 0.95, Nishimura et al. 2007).

    Examples
    --------
    >>> sensitivity_at_specificity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.5)
    1.0
    >>> sensitivity_at_specificity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 1.0)
    0.5
    """
    fpr, tpr, _ = roc_curve(y_true, proba, drop_intermediate=False)
    reachable = (1 - fpr) >= specificity - 1e-12
    return float(tpr[reachable].max())


def calibration_slope(y_true, proba) -> float:
    """Calibration slope: the coefficient of logit(proba) in a logistic recalibration.

    1 is ideal; below 1 the predictions are too extreme (overfitting), above 1 too timid
    (Van Calster et al., J Clin Epidemiol 2016;74:167).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> proba = rng.uniform(0.01, 0.99, 20000)
    >>> y = rng.uniform(size=proba.size) < proba
    >>> round(calibration_slope(y, proba), 1)
    1.0
    """
    _, slope = _logistic_fit(np.asarray(y_true, float), logit(np.asarray(proba)))
    return slope


def calibration_intercept(y_true, proba) -> float:
    """Calibration-in-the-large: the intercept with logit(proba) as an offset (slope 1).

    0 is ideal; above 0 the model under-predicts the risk on average.

    Examples
    --------
    >>> round(calibration_intercept([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 6)
    0.0
    """
    intercept, _ = _logistic_fit(
        np.asarray(y_true, float), logit(np.asarray(proba)), fixed_slope=True
    )
    return intercept


def _logistic_fit(
    y: np.ndarray, x: np.ndarray, *, fixed_slope: bool = False, n_iter: int = 50
) -> tuple[float, float]:
    """Unpenalised logistic regression of y on x by Newton's method (two parameters)."""
    beta = np.zeros(2)
    design = np.column_stack([np.ones_like(x), x])
    offset = x if fixed_slope else 0.0
    for _ in range(n_iter):
        eta = design[:, 0] * beta[0] + (0.0 if fixed_slope else design[:, 1] * beta[1]) + offset
        mu = expit(eta)
        weight = mu * (1 - mu) + 1e-12
        if fixed_slope:
            step = np.array([np.sum(y - mu) / np.sum(weight), 0.0])
        else:
            hessian = design.T @ (design * weight[:, None])
            step = np.linalg.solve(hessian + 1e-9 * np.eye(2), design.T @ (y - mu))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[0]), float(1.0 if fixed_slope else beta[1])


def expected_calibration_error(y_true, proba, n_bins: int = 10) -> float:
    """Expected calibration error over `n_bins` equal-width probability bins.

    Examples
    --------
    >>> expected_calibration_error([0, 1], [0.0, 1.0])
    0.0
    >>> expected_calibration_error([0, 0], [0.3, 0.3])
    0.3
    """
    y_true, proba = np.asarray(y_true, float), np.asarray(proba, float)
    bins = np.minimum((proba * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        error += in_bin.mean() * abs(proba[in_bin].mean() - y_true[in_bin].mean())
    return float(round(error, 12))


#: The metrics reported by default, by name.
METRICS: dict[str, Metric] = {
    "auroc": roc_auc_score,
    "auprc": average_precision_score,
    "brier": brier_score_loss,
    "sens_at_spec_0.61": lambda y, p: sensitivity_at_specificity(y, p, 0.61),
    "sens_at_spec_0.95": lambda y, p: sensitivity_at_specificity(y, p, 0.95),
    "calibration_slope": calibration_slope,
    "calibration_intercept": calibration_intercept,
    "ece": expected_calibration_error,
}


@dataclass(frozen=True)
class MetricEstimate:
    """A metric's value on the data and its percentile bootstrap interval."""

    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _bootstrap_indices(y: np.ndarray, n_boot: int, random_state) -> list[np.ndarray]:
    """Resample positives and negatives separately so every replicate has both classes."""
    rng = check_random_state(random_state)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    return [
        np.concatenate(
            [rng.choice(positives, positives.size), rng.choice(negatives, negatives.size)]
        )
        for _ in range(n_boot)
    ]


def bootstrap_metric(
    y_true,
    proba,
    metric: Metric | str = "auroc",
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> MetricEstimate:
    """Estimate a metric with a stratified percentile-bootstrap confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
        Binary truth (1 = RA).
    proba : array-like of shape (n_patients,)
        Predicted probability of RA; NaN entries are left out (and not counted in ``n``).
    metric : str or callable, default "auroc"
        A name in `METRICS` or a function ``metric(y_true, proba) -> float``.
    n_boot : int, default 1000
        Bootstrap replicates (resampling patients within each class).
    confidence : float, default 0.95
        Coverage of the interval.
    random_state : int or None, default 0
        Seed of the resampling.

    Returns
    -------
    MetricEstimate

    Examples
    --------
    >>> y = np.array([0, 0, 0, 1, 1, 1] * 20)
    >>> proba = np.array([0.1, 0.3, 0.6, 0.4, 0.7, 0.9] * 20)
    >>> estimate = bootstrap_metric(y, proba, "auroc", n_boot=200)
    >>> round(estimate.value, 3), estimate.low < estimate.value < estimate.high, estimate.n
    (0.889, True, 120)
    """
    function = METRICS[metric] if isinstance(metric, str) else metric
    y_true, proba = np.asarray(y_true, float), np.asarray(proba, float)
    kept = ~np.isnan(proba)
    y_true, proba = y_true[kept].astype(int), proba[kept]
    if len(np.unique(y_true)) < 2:
        raise ValueError("Both classes are needed to estimate a metric with a bootstrap.")
    replicates = np.array(
        [function(y_true[i], proba[i]) for i in _bootstrap_indices(y_true, n_boot, random_state)]
    )
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(replicates, [alpha, 1 - alpha])
    return MetricEstimate(float(function(y_true, proba)), float(low), float(high), int(kept.sum()))


def metric_table(
    y_true,
    predictions: Mapping[str, np.ndarray],
    *,
    metrics: tuple[str, ...] = (
        "auroc",
        "auprc",
        "brier",
        "sens_at_spec_0.61",
        "calibration_slope",
        "ece",
    ),
    n_boot: int = 1000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """One row per model, a value and a 95% interval per metric, on the same patients.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
    predictions : mapping of model name to probabilities of shape (n_patients,)
        NaN where a model made no prediction (it is then scored on fewer patients: see ``n``).
    metrics : tuple of str
        Names in `METRICS`.
    n_boot : int, default 1000
    random_state : int or None, default 0

    Returns
    -------
    DataFrame
        Indexed by model; columns ``n`` and, per metric, ``<metric>``, ``<metric>_low``,
        ``<metric>_high``.

    Examples
    --------
    >>> y = np.array([0, 1] * 50)
    >>> table = metric_table(y, {"perfect": y * 0.8 + 0.1, "coin": np.full(100, 0.5)},
    ...                      metrics=("auroc",), n_boot=50)
    >>> table["auroc"].round(2).to_dict()
    {'perfect': 1.0, 'coin': 0.5}
    """
    rows = {}
    for name, proba in predictions.items():
        row: dict[str, float] = {}
        for metric in metrics:
            estimate = bootstrap_metric(
                y_true, proba, metric, n_boot=n_boot, random_state=random_state
            )
            row["n"] = estimate.n
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
                estimate.value,
                estimate.low,
                estimate.high,
            )
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
