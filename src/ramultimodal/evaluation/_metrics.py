"""Discrimination and calibration metrics, with bootstrap confidence intervals.

Every metric takes ``(y_true, proba)`` with ``proba`` the predicted probability of the
positive class. Patients whose probability is missing (an image model for a patient without
a radiograph) are left out of that model's metrics and counted, never imputed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from numbers import Integral
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve
from sklearn.utils import check_random_state

from ramultimodal.evaluation import _replicates
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
    "sens_at_spec_0.61": partial(sensitivity_at_specificity, specificity=0.61),
    "sens_at_spec_0.95": partial(sensitivity_at_specificity, specificity=0.95),
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


class _Vectorised(NamedTuple):
    """A metric on all replicates at once, and how a replicate is scored again exactly."""

    all_replicates: Callable[..., np.ndarray]
    #: The metric's own operations without its input checks (bit for bit the metric, many
    #: times faster); None: the metric itself.
    one_replicate: Metric | None = None
    #: `all_replicates` is already bit for bit the metric.
    exact: bool = False


#: The metrics computed on all replicates at once, by their one-replicate function.
_VECTORISED: tuple[tuple[Callable, _Vectorised], ...] = (
    (roc_auc_score, _Vectorised(_replicates.roc_auc, _replicates.single_roc_auc)),
    (
        average_precision_score,
        _Vectorised(_replicates.average_precision, _replicates.single_average_precision),
    ),
    (brier_score_loss, _Vectorised(_replicates.brier_score)),
    (calibration_slope, _Vectorised(_replicates.calibration_slope)),
    (calibration_intercept, _Vectorised(_replicates.calibration_intercept)),
    (expected_calibration_error, _Vectorised(_replicates.expected_calibration_error)),
)


def _vectorised(function: Metric) -> _Vectorised | None:
    """The all-replicates version of a metric of `METRICS`, found by its function."""
    if (
        isinstance(function, partial)
        and function.func is sensitivity_at_specificity
        and not function.args
        and set(function.keywords) == {"specificity"}
    ):
        # Both divide the same integer counts.
        all_replicates = partial(_replicates.sensitivity_at_specificity, **function.keywords)
        return _Vectorised(all_replicates, exact=True)
    for one_replicate, vectorised in _VECTORISED:
        if function is one_replicate:
            return vectorised
    return None


def _bootstrap_indices(y: np.ndarray, n_boot: int, random_state) -> np.ndarray:
    """Resample positives and negatives separately so every replicate has both classes.

    One row of patient indices per replicate, positives then negatives: the same draws, in
    the same order from the seed's stream, as one ``rng.choice`` per class and replicate.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}.")
    rng = check_random_state(random_state)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    samples = np.empty((n_boot, positives.size + negatives.size), dtype=np.intp)
    for row in samples:
        for start, members in ((0, positives), (positives.size, negatives)):
            # RandomState.choice(members, size) with replacement is members[randint(0, size,
            # size)]: the same numbers from a stream numpy keeps frozen, without choice's
            # checks, which cost as much as the draw itself.
            if members.size:
                row[start : start + members.size] = members[
                    rng.randint(0, members.size, members.size)
                ]
    return samples


def _replicate_quantiles(
    function: Metric,
    y: np.ndarray,
    proba: np.ndarray,
    samples: np.ndarray,
    quantiles: list[float],
    *,
    skip_nan: bool,
    versus: np.ndarray | None = None,
) -> np.ndarray:
    """Quantiles of ``function`` over the replicates (of its difference to `versus`, if given).

    Bit for bit the quantiles of scoring every replicate with ``function``, which is what
    is done for a metric without a vectorised version, and for data where the vectorised
    one does not apply (one class only, a non-finite score): as before, whatever the metric
    makes of them (scikit-learn's AUROC of one class is NaN, with a warning).
    """
    vectorised = _vectorised(function)
    both_classes = bool((y == 1).any() and (y == 0).any())
    finite = np.isfinite(proba).all() and (versus is None or np.isfinite(versus).all())
    if vectorised is None or not both_classes or not finite:
        vectorised, replicates = None, None
    else:
        replicates = _replicates.in_blocks(vectorised.all_replicates, y, proba, samples)
        if versus is not None:
            replicates -= _replicates.in_blocks(vectorised.all_replicates, y, versus, samples)
    one_replicate = function if vectorised is None else vectorised.one_replicate or function

    def score(i: int) -> float:
        sample = samples[i]
        value = one_replicate(y[sample], proba[sample])
        return value if versus is None else value - one_replicate(y[sample], versus[sample])

    if replicates is None:
        replicates = np.array([score(i) for i in range(samples.shape[0])])
        return (np.nanquantile if skip_nan else np.quantile)(replicates, quantiles)
    return _replicates.percentile_interval(
        replicates, score, quantiles, skip_nan=skip_nan, exact=vectorised.exact
    )


def _scored(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """The truth and probability of the patients with a probability."""
    y_true, proba = np.asarray(y_true, float), np.asarray(proba, float)
    kept = ~np.isnan(proba)
    y_true, proba = y_true[kept].astype(int), proba[kept]
    if len(np.unique(y_true)) < 2:
        raise ValueError("Both classes are needed to estimate a metric with a bootstrap.")
    return y_true, proba


def _estimate(
    function: Metric, y: np.ndarray, proba: np.ndarray, samples: np.ndarray, confidence: float
) -> MetricEstimate:
    value = float(function(y, proba))
    alpha = (1 - confidence) / 2
    low, high = _replicate_quantiles(function, y, proba, samples, [alpha, 1 - alpha], skip_nan=True)
    return MetricEstimate(value, float(low), float(high), y.size)


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

    The metrics of `METRICS` are computed on all the replicates at once; the interval is
    the one that scoring each replicate with the metric's function gives, to the last bit.
    Any other function is called once per replicate.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
        Binary truth (1 = RA).
    proba : array-like of shape (n_patients,)
        Predicted probability of RA; NaN entries are left out (and not counted in ``n``).
    metric : str or callable, default "auroc"
        A name in `METRICS` or a function ``metric(y_true, proba) -> float``.
    n_boot : int, default 1000
        Bootstrap replicates (resampling patients within each class), at least 1.
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
    y_true, proba = _scored(y_true, proba)
    samples = _bootstrap_indices(y_true, n_boot, random_state)
    return _estimate(function, y_true, proba, samples, confidence)


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
    # A seed restarts the same stream for every metric, as one bootstrap_metric call per
    # metric would: draw its replicates once per model. Without one, each metric draws anew.
    seeded = isinstance(random_state, Integral)
    for name, proba in predictions.items():
        y, scored = _scored(y_true, proba)
        samples = _bootstrap_indices(y, n_boot, random_state) if seeded else None
        row: dict[str, float] = {}
        for metric in metrics:
            if not seeded:
                samples = _bootstrap_indices(y, n_boot, random_state)
            estimate = _estimate(METRICS[metric], y, scored, samples, 0.95)
            row["n"] = estimate.n
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
                estimate.value,
                estimate.low,
                estimate.high,
            )
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
