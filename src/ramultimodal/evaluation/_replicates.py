"""The metrics on every bootstrap replicate at once, and the interval they give, exactly.

A replicate is a row of ``samples``: indices into the scored patients, drawn with
replacement. Scoring 1,000 replicates one call at a time spends nearly all its time in
scikit-learn's input validation; here each metric is computed for all rows together in
numpy, from per-patient quantities computed once (the distinct scores, their logits, their
calibration bins).

The vectorised values agree with the per-replicate functions to about 1e-13, not always to
the last bit (a sum taken in another order). `percentile_interval` makes the interval exact
anyway: a percentile depends on two order statistics only, so the few replicates near them
are scored again with the per-replicate function, and the interval is bit for bit the one
that scoring every replicate that way gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.integrate import trapezoid

from ramultimodal.fusion._base import logit

__all__ = [
    "average_precision",
    "brier_score",
    "calibration_intercept",
    "calibration_slope",
    "expected_calibration_error",
    "in_blocks",
    "percentile_interval",
    "roc_auc",
    "sensitivity_at_specificity",
    "single_average_precision",
    "single_roc_auc",
]

#: Relative distance within which a vectorised value may sit on the wrong side of an order
#: statistic, and is scored again. The vectorised values differ from the per-replicate ones
#: by less than 1e-12 (tests/test_evaluation.py); any margin above twice that is exact.
RESCORE_TOLERANCE = 1e-9

#: Newton steps a replicate's calibration fit may take before it is left to the
#: one-replicate fit (50 steps). A fit still moving after 40 has no maximum (the score
#: separates the classes) or nearly none: where it stops depends on every rounding of its
#: path, so it is computed the way the interval's definition computes it.
_NEWTON_ITERATIONS = 40

#: Patients x replicates per block of the calibration fits (1 MB a working array).
_BLOCK_SIZE = 2**17


def in_blocks(
    all_replicates: Callable[..., np.ndarray],
    y: np.ndarray,
    proba: np.ndarray,
    samples: np.ndarray,
) -> np.ndarray:
    """``all_replicates(y, proba, samples)``, a block of replicates at a time.

    The working arrays hold a number per patient and replicate: blocks of at most 4
    million (32 MB an array) keep a cohort of 10,000 patients from needing gigabytes.
    """
    n_blocks = -(-samples.size // 2**22)
    return np.concatenate(
        [all_replicates(y, proba, block) for block in np.array_split(samples, n_blocks)]
    )


def _score_levels(
    y: np.ndarray, proba: np.ndarray, samples: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate, the resampled positives and negatives at each distinct score.

    Levels are the distinct scores, highest first, as scikit-learn's curves walk the
    thresholds: tied scores are one level. Returns two integer arrays of shape
    ``(n_replicates, n_levels)``.
    """
    # One ranking of the patients serves every replicate.
    _, level = np.unique(-proba, return_inverse=True)
    n_levels = int(level.max()) + 1
    cell = level[samples] + n_levels * np.arange(samples.shape[0])[:, None]
    positive = y[samples] == 1

    def counts(mask: np.ndarray) -> np.ndarray:
        size = samples.shape[0] * n_levels
        return np.bincount(cell[mask], minlength=size).reshape(-1, n_levels)

    return counts(positive), counts(~positive)


def roc_auc(y: np.ndarray, proba: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """AUROC of each replicate: the share of (positive, negative) pairs ranked right, ties half.

    The same number as the area under scikit-learn's ROC curve, computed exactly on
    integer counts (the area is summed in floating point and may differ in the last bits).

    Examples
    --------
    >>> y, proba = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    >>> roc_auc(y, proba, np.array([[0, 1, 2, 3], [0, 0, 3, 3]]))
    array([0.75, 1.  ])
    """
    positives, negatives = _score_levels(y, proba, samples)
    # Negatives scored strictly lower than the level, and (twice the half of) those tied.
    below = negatives.sum(axis=1, keepdims=True) - np.cumsum(negatives, axis=1)
    twice_ranked_right = (positives * (2 * below + negatives)).sum(axis=1)
    return twice_ranked_right / (2.0 * positives.sum(axis=1) * negatives.sum(axis=1))


def average_precision(y: np.ndarray, proba: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Average precision of each replicate, as ``sklearn.metrics.average_precision_score``.

    The step integral of precision over recall, thresholds at every distinct score.

    Examples
    --------
    >>> y, proba = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    >>> average_precision(y, proba, np.array([[0, 1, 2, 3]])).round(4)
    array([0.8333])
    """
    positives, negatives = _score_levels(y, proba, samples)
    true_positives = np.cumsum(positives, axis=1)
    flagged = true_positives + np.cumsum(negatives, axis=1)
    # Above the highest resampled score nothing is flagged: precision 0, as scikit-learn's,
    # where recall does not move anyway.
    precision = true_positives / np.maximum(flagged, 1)
    recall = true_positives / true_positives[:, -1:]
    gained = np.diff(recall, axis=1, prepend=0.0)
    return np.maximum(0.0, (gained * precision).sum(axis=1))


def _curve_counts(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positives at each distinct score, highest first, as floats.

    The points of scikit-learn's ROC and precision-recall curves, before their first.
    """
    order = np.argsort(proba, kind="stable")[::-1]
    score, outcome = proba[order], y[order]
    last_of_level = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]
    true_positives = np.cumsum(outcome, dtype=float)[last_of_level]
    return last_of_level + 1.0 - true_positives, true_positives


def single_roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """``sklearn.metrics.roc_auc_score`` of one replicate with both classes, bit for bit.

    The same curve (``roc_curve`` keeps only its corners) and the same trapezoid sum,
    without the input checks that make a call cost a millisecond.

    Examples
    --------
    >>> single_roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    false_positives, true_positives = _curve_counts(y, proba)
    if false_positives.size > 2:
        corner = np.r_[
            True,
            np.logical_or(np.diff(false_positives, 2), np.diff(true_positives, 2)),
            True,
        ]
        false_positives, true_positives = false_positives[corner], true_positives[corner]
    false_positives = np.r_[0.0, false_positives]
    true_positives = np.r_[0.0, true_positives]
    return float(
        trapezoid(true_positives / true_positives[-1], false_positives / false_positives[-1])
    )


def single_average_precision(y: np.ndarray, proba: np.ndarray) -> float:
    """``sklearn.metrics.average_precision_score`` of one replicate with both classes, bit for
    bit, without the input checks.

    Examples
    --------
    >>> single_average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.8333333333333333
    """
    false_positives, true_positives = _curve_counts(y, proba)
    precision = np.r_[(true_positives / (true_positives + false_positives))[::-1], 1.0]
    recall = np.r_[(true_positives / true_positives[-1])[::-1], 0.0]
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def brier_score(y: np.ndarray, proba: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Brier score of each replicate, as ``sklearn.metrics.brier_score_loss``.

    Examples
    --------
    >>> brier_score(np.array([0, 1]), np.array([0.2, 0.6]), np.array([[0, 1], [1, 1]]))
    array([0.1 , 0.16])
    """
    outcome = y.astype(float)
    # scikit-learn's two-column form, halved: the same operations, so the same rounding.
    per_patient = ((1 - outcome) - (1 - proba)) ** 2 + (outcome - proba) ** 2
    return per_patient[samples].mean(axis=1) * 0.5


def sensitivity_at_specificity(
    y: np.ndarray, proba: np.ndarray, samples: np.ndarray, specificity: float
) -> np.ndarray:
    """Sensitivity of each replicate at the threshold that reaches `specificity`.

    As ``ramultimodal.evaluation.sensitivity_at_specificity``, and bit for bit: both divide
    the same integer counts.

    Examples
    --------
    >>> y, proba = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    >>> sensitivity_at_specificity(y, proba, np.array([[0, 1, 2, 3]]), 0.5)
    array([1.])
    """
    positives, negatives = _score_levels(y, proba, samples)
    true_positives = np.cumsum(positives, axis=1).astype(float)
    false_positives = np.cumsum(negatives, axis=1).astype(float)
    false_positive_rate = false_positives / false_positives[:, -1:]
    reachable = (1 - false_positive_rate) >= specificity - 1e-12
    sensitivity = true_positives / true_positives[:, -1:]
    # The curve starts at (0, 0), reachable at any specificity up to 1.
    return np.where(reachable, sensitivity, 0.0).max(axis=1, initial=0.0)


def calibration_slope(y: np.ndarray, proba: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Calibration slope of each replicate: the logistic recalibration, all fitted together.

    Newton's method as ``ramultimodal.evaluation.calibration_slope`` (same start, same
    damping, same stopping rule) on every replicate at once. A replicate whose fit has not
    converged after 40 steps (its classes separated, or nearly, by the score) gets NaN,
    for the caller to fit alone.

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1, 1, 0])
    >>> proba = np.array([0.2, 0.7, 0.4, 0.6, 0.3, 0.5])
    >>> calibration_slope(y, proba, np.array([[0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 2, 3]])).round(3)
    array([1.557,   nan])
    """
    return _logistic_fits(y, proba, samples, fixed_slope=False)


def calibration_intercept(y: np.ndarray, proba: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Calibration-in-the-large of each replicate (slope fixed at 1), all fitted together.

    Examples
    --------
    >>> y, proba = np.array([0, 1, 0, 1]), np.full(4, 0.5)
    >>> calibration_intercept(y, proba, np.array([[0, 1, 2, 3]])).round(6)
    array([0.])
    """
    return _logistic_fits(y, proba, samples, fixed_slope=True)


def _logistic_fits(
    y: np.ndarray, proba: np.ndarray, samples: np.ndarray, *, fixed_slope: bool
) -> np.ndarray:
    """`_metrics._logistic_fit` on every replicate: the intercept, or the slope."""
    x_all = logit(proba)
    fitted = np.empty(samples.shape[0])
    # A block of replicates at a time: arrays that stay in the cache run several times
    # faster than one pass over all of them per Newton step.
    n_blocks = -(-samples.size // _BLOCK_SIZE)
    for block in np.array_split(np.arange(samples.shape[0]), n_blocks):
        x, outcome = x_all[samples[block]], y[samples[block]].astype(float)
        fitted[block] = _newton(x, outcome, fixed_slope=fixed_slope)
    return fitted


def _newton(x: np.ndarray, outcome: np.ndarray, *, fixed_slope: bool) -> np.ndarray:
    """Logistic fits of each row's outcome on its x (or with x as offset): slope or intercept."""
    intercept, slope = np.zeros(x.shape[0]), np.zeros(x.shape[0])
    # Converged fits leave the working set, as the one-replicate fit stops.
    fitting = np.arange(x.shape[0])
    for _ in range(_NEWTON_ITERATIONS):
        eta = intercept[fitting, None] + (x if fixed_slope else x * slope[fitting, None])
        # The logistic function as 1 / (1 + e^-eta): scipy's expit is ten times slower
        # here, and the two differ in the last bit only.
        with np.errstate(over="ignore"):
            mu = 1.0 / (1.0 + np.exp(-eta))
        weight = mu * (1 - mu) + 1e-12
        residual = outcome - mu
        if fixed_slope:
            step_intercept = residual.sum(axis=1) / weight.sum(axis=1)
            step_slope = np.zeros_like(step_intercept)
        else:
            # The 2 x 2 Newton system, damped as the one-replicate fit, solved in closed form.
            weighted_x = weight * x
            h00, h01 = weight.sum(axis=1) + 1e-9, weighted_x.sum(axis=1)
            h11 = (weighted_x * x).sum(axis=1) + 1e-9
            g0, g1 = residual.sum(axis=1), (residual * x).sum(axis=1)
            determinant = h00 * h11 - h01 * h01
            step_intercept = (h11 * g0 - h01 * g1) / determinant
            step_slope = (h00 * g1 - h01 * g0) / determinant
        intercept[fitting] += step_intercept
        slope[fitting] += step_slope
        converging = np.maximum(np.abs(step_intercept), np.abs(step_slope)) >= 1e-10
        if not converging.all():
            fitting, x, outcome = fitting[converging], x[converging], outcome[converging]
        if fitting.size == 0:
            break
    fitted = intercept if fixed_slope else slope
    fitted[fitting] = np.nan
    return fitted


def expected_calibration_error(
    y: np.ndarray, proba: np.ndarray, samples: np.ndarray, n_bins: int = 10
) -> np.ndarray:
    """Expected calibration error of each replicate over `n_bins` equal-width bins.

    Examples
    --------
    >>> y, proba = np.array([0, 1, 0]), np.array([0.0, 1.0, 0.3])
    >>> expected_calibration_error(y, proba, np.array([[0, 1], [2, 2]]))
    array([0. , 0.3])
    """
    bins = np.minimum((proba * n_bins).astype(int), n_bins - 1)
    # Bins counted from the lowest used, in order, as the one-replicate loop adds them.
    bins -= bins.min()
    n_used = int(bins.max()) + 1
    n_boot, n_patients = samples.shape
    cell = (bins[samples] + n_used * np.arange(n_boot)[:, None]).ravel()

    def per_bin(weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(cell, weights, minlength=n_boot * n_used).reshape(n_boot, n_used)

    count = per_bin(None)
    proba_sum, outcome_sum = per_bin(proba[samples].ravel()), per_bin(y[samples].ravel() * 1.0)
    error = np.zeros(n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        for b in range(n_used):
            in_bin = count[:, b]
            gap = np.abs(proba_sum[:, b] / in_bin - outcome_sum[:, b] / in_bin)
            error = error + np.where(in_bin > 0, in_bin / n_patients * gap, 0.0)
    return np.round(error, 12)


def percentile_interval(
    replicates: np.ndarray,
    rescore: Callable[[int], float],
    quantiles: Sequence[float],
    *,
    skip_nan: bool,
    exact: bool = False,
) -> np.ndarray:
    """Quantiles of the replicates as the per-replicate metric would give them, bit for bit.

    Parameters
    ----------
    replicates : ndarray of shape (n_replicates,)
        The vectorised values; NaN or infinite where the vectorised path gave up.
    rescore : callable
        ``rescore(i)`` scores replicate ``i`` with the per-replicate metric.
    quantiles : sequence of float
    skip_nan : bool
        Leave NaN replicates out (`numpy.nanquantile`), or let them make the result NaN
        (`numpy.quantile`).
    exact : bool, default False
        The vectorised values are already bit for bit the per-replicate ones.

    Returns
    -------
    ndarray
        ``numpy.(nan)quantile`` of the per-replicate values (linear interpolation).

    Examples
    --------
    >>> values = np.array([0.1, 0.2, 0.3 + 1e-16, 0.4])
    >>> percentile_interval(values, lambda i: [0.1, 0.2, 0.3, 0.4][i], [0.5], skip_nan=True)
    array([0.25])
    """
    values = np.array(replicates, dtype=float)
    rescored = ~np.isfinite(values)
    for i in np.flatnonzero(rescored):
        values[i] = rescore(i)
    quantile = np.nanquantile if skip_nan else np.quantile
    n_values = int((~np.isnan(values)).sum())
    if exact or n_values == 0 or (not skip_nan and n_values < values.size):
        return quantile(values, quantiles)
    # numpy interpolates between the order statistics at floor(h) and floor(h) + 1, with
    # h = q * (n - 1); where h is within rounding of a whole number, both neighbours count.
    positions = set()
    for q in quantiles:
        h = q * (n_values - 1)
        for k in range(int(np.floor(h - 1e-6)), int(np.floor(h + 1e-6)) + 2):
            positions.add(min(max(k, 0), n_values - 1))
    for k in sorted(positions):
        statistic = np.partition(values, k)[k]
        if not np.isfinite(statistic):
            continue
        # Values farther than the tolerance are on the right side of the exact statistic
        # whatever their last bits; those within it are scored again.
        near = ~rescored & (
            np.abs(values - statistic) <= RESCORE_TOLERANCE * max(1.0, abs(statistic))
        )
        for i in np.flatnonzero(near):
            values[i] = rescore(i)
        rescored |= near
    return quantile(values, quantiles)
