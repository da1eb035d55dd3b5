"""Comparing two models on the same patients: DeLong's test and a paired bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ramultimodal.evaluation._metrics import (
    METRICS,
    Metric,
    MetricEstimate,
    _bootstrap_indices,
    _replicate_quantiles,
)

__all__ = ["AUCComparison", "delong_test", "paired_bootstrap"]


@dataclass(frozen=True)
class AUCComparison:
    """Two correlated AUROCs, their difference, its standard error and DeLong's two-sided
    p-value."""

    auc_a: float
    auc_b: float
    difference: float
    z: float
    p_value: float
    se: float = 0.0


def _midranks(values: np.ndarray) -> np.ndarray:
    return stats.rankdata(values, method="average")


def delong_test(y_true, proba_a, proba_b) -> AUCComparison:
    """DeLong's test for two correlated ROC curves (same patients, two models).

    Uses the fast algorithm of Sun & Xu (IEEE Signal Process Lett 2014;21:1389), which is
    exact and O(n log n).

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
    proba_a, proba_b : array-like of shape (n_patients,)
        The two models' scores for the same patients (no NaN).

    Returns
    -------
    AUCComparison

    Examples
    --------
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1] * 10)
    >>> good = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9] * 10)
    >>> weak = np.array([0.5, 0.2, 0.6, 0.6, 0.4, 0.5, 0.3, 0.9] * 10)
    >>> result = delong_test(y, good, weak)
    >>> round(result.auc_a, 4), result.p_value < 0.05
    (0.9375, True)
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.vstack([np.asarray(proba_a, float), np.asarray(proba_b, float)])
    if np.isnan(scores).any():
        raise ValueError("DeLong's test needs both models' scores for every patient (no NaN).")
    positives, negatives = scores[:, y_true], scores[:, ~y_true]
    m, n = positives.shape[1], negatives.shape[1]
    if m == 0 or n == 0:
        raise ValueError("DeLong's test needs both classes.")
    tx = np.array([_midranks(row) for row in positives])
    ty = np.array([_midranks(row) for row in negatives])
    tz = np.array([_midranks(row) for row in np.hstack([positives, negatives])])
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    v01 = (tz[:, :m] - tx) / n
    v10 = 1 - (tz[:, m:] - ty) / m
    covariance = np.cov(v01) / m + np.cov(v10) / n
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = aucs[0] - aucs[1]
    se = float(np.sqrt(variance)) if variance > 0 else 0.0
    z = difference / se if se > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    return AUCComparison(float(aucs[0]), float(aucs[1]), float(difference), float(z), p_value, se)


def paired_bootstrap(
    y_true,
    proba_a,
    proba_b,
    metric: Metric | str = "auroc",
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> MetricEstimate:
    """Difference ``metric(a) - metric(b)`` with a paired, class-stratified bootstrap interval.

    Both models are scored on the same resampled patients in each replicate, so the interval
    reflects the difference, not two independent uncertainties. A lower bound above 0 says
    model a is better (for metrics where higher is better). The metrics of `METRICS` are
    computed on all the replicates at once, with the interval that scoring each replicate
    gives (see `bootstrap_metric`).

    Examples
    --------
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1] * 10)
    >>> good = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9] * 10)
    >>> weak = np.array([0.5, 0.2, 0.6, 0.6, 0.4, 0.5, 0.3, 0.9] * 10)
    >>> difference = paired_bootstrap(y, good, weak, n_boot=200)
    >>> round(difference.value, 4), difference.low > 0
    (0.4688, True)
    """
    function = METRICS[metric] if isinstance(metric, str) else metric
    y_true = np.asarray(y_true).astype(int)
    proba_a, proba_b = np.asarray(proba_a, float), np.asarray(proba_b, float)
    kept = ~(np.isnan(proba_a) | np.isnan(proba_b))
    y_true, proba_a, proba_b = y_true[kept], proba_a[kept], proba_b[kept]
    samples = _bootstrap_indices(y_true, n_boot, random_state)
    value = function(y_true, proba_a) - function(y_true, proba_b)
    alpha = (1 - confidence) / 2
    low, high = _replicate_quantiles(
        function, y_true, proba_a, samples, [alpha, 1 - alpha], skip_nan=False, versus=proba_b
    )
    return MetricEstimate(float(value), float(low), float(high), int(kept.sum()))
