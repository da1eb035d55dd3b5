"""Discrimination and accuracy for time to RA, with patient-grouped bootstrap intervals.

Every metric takes each patient's follow-up ``time`` (days to RA, or to the end of
follow-up), ``event`` (1: RA at that time; 0: censored then) and a prediction, and is
computed by scikit-survival (Pölsterl, JMLR 2020;21:1), imported on first use:

- `harrell_c`: Harrell's C (Harrell et al., JAMA 1982;247:2543), the share of comparable
  pairs (the earlier time an event; an event and a censoring on the same day count, the
  censored patient being still free of RA) the risk orders right, ties in risk half;
- `uno_c`: Uno's C (Uno et al., Stat Med 2011;30:1105), the same pairs weighted by the
  inverse probability of remaining uncensored, so that it does not depend on the censoring,
  up to a truncation time ``tau``;
- `time_dependent_auc`: the cumulative/dynamic AUROC at each horizon t (Uno et al., JASA
  2007;102:527; Hung and Chiang, Can J Stat 2010;38:8): RA by t against still free of it
  after t, inverse-probability-of-censoring weighted;
- `integrated_brier_score`: the IPCW Brier score of predicted survival curves (Graf et al.,
  Stat Med 1999;18:2529), integrated over the times and divided by their span.

The censoring distribution (Kaplan-Meier of the censored times) is estimated on the
patients scored unless ``train=(time, event)`` gives the training cohort. A patient whose
prediction is missing (NaN) is left out, and counted, never imputed, as in `metric_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ramultimodal.evaluation._metrics import MetricEstimate
from ramultimodal.fusion._survival import survival_target

__all__ = [
    "SURVIVAL_METRICS",
    "bootstrap_survival_metric",
    "harrell_c",
    "integrated_brier_score",
    "survival_metric_table",
    "time_dependent_auc",
    "uno_c",
]

logger = logging.getLogger(__name__)

SurvivalMetric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def _sksurv() -> Any:
    """scikit-survival's metrics, imported on first use, or one clear error."""
    try:
        import sksurv.metrics
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The survival metrics need scikit-survival: pip install scikit-survival "
            "(a dependency of ramultimodal; it changes neither numpy, pandas nor "
            "scikit-learn)."
        ) from error
    return sksurv.metrics


def _scored(time, event, prediction) -> tuple[np.ndarray, np.ndarray]:
    """The target and the prediction of the patients with a prediction (no NaN)."""
    target = survival_target(time, event)
    prediction = np.asarray(prediction, dtype=np.float64)
    if prediction.shape[0] != target.size:
        raise ValueError(
            f"The prediction has {prediction.shape[0]} rows but there are {target.size} patients."
        )
    flat = prediction.reshape(target.size, -1)
    kept = ~np.isnan(flat).any(axis=1)
    return target[kept], prediction[kept]


def _train(train: tuple[Any, Any] | None, target: np.ndarray) -> np.ndarray:
    return target if train is None else survival_target(*train)


def harrell_c(time, event, risk) -> float:
    """Harrell's concordance index of a risk score (higher: RA sooner).

    Examples
    --------
    Of the 4 comparable pairs (an event before the other's time), the risk orders 3 right:

    >>> harrell_c(time=[1, 2, 3, 4], event=[1, 0, 1, 1], risk=[4, 3, 1, 2])
    0.75
    """
    target, risk = _scored(time, event, risk)
    value = _sksurv().concordance_index_censored(target["event"], target["time"], risk)[0]
    return float(value)


def uno_c(time, event, risk, *, tau: float | None = None, train=None) -> float:
    """Uno's IPCW concordance index of a risk score, up to the truncation time `tau`.

    Parameters
    ----------
    time, event : array-like of shape (n_patients,)
    risk : array-like of shape (n_patients,)
        Higher: RA sooner.
    tau : float, optional
        Only pairs whose earlier time is before `tau` count (give the longest horizon of
        interest: the censoring weights grow unstable where few patients remain followed);
        default the longest time.
    train : (time, event), optional
        The cohort the censoring distribution is estimated on; default these patients.

    Examples
    --------
    The censored patient at day 2 makes the event at day 3 count 1 / (2/3)^2 = 2.25 times:
    (1 + 1 + 1 + 0) / (1 + 1 + 1 + 2.25):

    >>> round(uno_c(time=[1, 2, 3, 4], event=[1, 0, 1, 1], risk=[4, 3, 1, 2], tau=3.5), 4)
    0.5714
    """
    target, risk = _scored(time, event, risk)
    result = _sksurv().concordance_index_ipcw(_train(train, target), target, risk, tau=tau)
    return float(result[0])


def time_dependent_auc(time, event, risk, horizons: Sequence[float], *, train=None) -> np.ndarray:
    """Cumulative/dynamic AUROC at each horizon: RA by t against free of RA after t.

    Parameters
    ----------
    time, event : array-like of shape (n_patients,)
    risk : array-like of shape (n_patients,) or (n_patients, n_horizons)
        A risk score (higher: RA sooner), or the predicted probability of RA by each
        horizon.
    horizons : sequence of float
        Times (in `time`'s unit), each within the follow-up (before the longest time).
    train : (time, event), optional
        The cohort the censoring distribution is estimated on; default these patients.

    Returns
    -------
    ndarray of shape (n_horizons,)

    Examples
    --------
    By day 2.5 the case (day 1) outranks both controls; by day 3.5 the case of day 3
    (weight 1 / (2/3) = 1.5) ranks below the control, the case of day 1 above it:
    (1 x 1 + 1.5 x 0) / (1 + 1.5) = 0.4.

    >>> time_dependent_auc([1, 2, 3, 4], [1, 0, 1, 1], [4, 3, 1, 2], [2.5, 3.5]).round(4)
    array([1. , 0.4])
    """
    target, risk = _scored(time, event, risk)
    times = np.asarray(horizons, dtype=np.float64)
    auc, _ = _sksurv().cumulative_dynamic_auc(_train(train, target), target, risk, times)
    return np.asarray(auc, dtype=np.float64)


def integrated_brier_score(time, event, survival, times: Sequence[float], *, train=None) -> float:
    """The IPCW Brier score of predicted survival curves, integrated over `times`.

    Parameters
    ----------
    time, event : array-like of shape (n_patients,)
    survival : array-like of shape (n_patients, n_times)
        Each patient's predicted probability of being free of RA at each of `times`.
    times : sequence of float
        At least two increasing times within the follow-up.
    train : (time, event), optional
        The cohort the censoring distribution is estimated on; default these patients.

    Examples
    --------
    At days 2.5 and 2.9 the Brier score is the same, (0.2^2 / 1 + 0 + 0.1^2 / (2/3) +
    0.2^2 / (2/3)) / 4 = 0.02875, and so is its mean over the interval:

    >>> survival = [[0.2, 0.2], [0.5, 0.5], [0.9, 0.9], [0.8, 0.8]]
    >>> round(integrated_brier_score([1, 2, 3, 4], [1, 0, 1, 1], survival, [2.5, 2.9]), 5)
    0.02875
    """
    target, survival = _scored(time, event, survival)
    times = np.asarray(times, dtype=np.float64)
    value = _sksurv().integrated_brier_score(_train(train, target), target, survival, times)
    return float(value)


#: The risk-score metrics `survival_metric_table` reports by default, by name.
SURVIVAL_METRICS: dict[str, SurvivalMetric] = {"harrell_c": harrell_c, "uno_c": uno_c}


def _bootstrap_samples(
    event: np.ndarray, groups: np.ndarray | None, n_boot: int, random_state
) -> list[np.ndarray]:
    """Row indices of each replicate: patients resampled with replacement.

    Without `groups`, patients with and without the event are resampled separately (every
    replicate keeps the observed number of events, as `bootstrap_metric` keeps both
    classes); with `groups`, whole groups (the rows of one patient) are resampled.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}.")
    rng = check_random_state(random_state)
    if groups is None:
        strata = [np.flatnonzero(event), np.flatnonzero(~event)]
        return [
            np.concatenate(
                [members[rng.randint(0, members.size, members.size)] for members in strata]
            )
            for _ in range(n_boot)
        ]
    labels, inverse = np.unique(groups, return_inverse=True)
    rows = [np.flatnonzero(inverse == g) for g in range(labels.size)]
    return [
        np.concatenate([rows[g] for g in rng.randint(0, labels.size, labels.size)])
        for _ in range(n_boot)
    ]


def bootstrap_survival_metric(
    time,
    event,
    prediction,
    metric: SurvivalMetric | str = "harrell_c",
    *,
    groups=None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> MetricEstimate:
    """A survival metric with a percentile-bootstrap interval, resampling patients.

    Parameters
    ----------
    time, event : array-like of shape (n_patients,)
    prediction : array-like of shape (n_patients,) or (n_patients, k)
        What `metric` scores (a risk score; survival curves for `integrated_brier_score`).
        Rows with a NaN are left out (not counted in ``n``).
    metric : str or callable, default "harrell_c"
        A name in `SURVIVAL_METRICS`, or ``metric(time, event, prediction) -> float``
        (``functools.partial(time_dependent_auc, horizons=[365])`` returns an array: give
        one horizon and take its value, or use `survival_metric_table`).
    groups : array-like of shape (n_patients,), optional
        Patient of each row, when a patient has several: whole patients are resampled.
    n_boot : int, default 1000
    confidence : float, default 0.95
    random_state : int or None, default 0

    Returns
    -------
    MetricEstimate
        A replicate the metric cannot score (no comparable pair; a horizon beyond its
        follow-up) is left out of the interval, and how many were is logged (NaN bounds
        when none could be scored).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.normal(size=200)
    >>> time = rng.exponential(365 * np.exp(-risk)) + 1
    >>> event = rng.uniform(size=200) < 0.7
    >>> estimate = bootstrap_survival_metric(time, event, risk, n_boot=100)
    >>> estimate.low < estimate.value < estimate.high, estimate.n
    (True, 200)
    """
    function = SURVIVAL_METRICS[metric] if isinstance(metric, str) else metric
    target = survival_target(time, event)
    prediction = np.asarray(prediction, dtype=np.float64)
    kept = ~np.isnan(prediction.reshape(target.size, -1)).any(axis=1)
    target, prediction = target[kept], prediction[kept]
    groups = None if groups is None else np.asarray(groups)[kept]
    value = float(function(target["time"], target["event"], prediction))
    samples = _bootstrap_samples(target["event"], groups, n_boot, random_state)
    replicates = np.array(
        [_replicate(function, target, prediction, sample) for sample in samples], dtype=float
    )
    failed = int(np.isnan(replicates).sum())
    if failed:
        logger.warning(
            "%d of %d bootstrap replicates could not be scored and are left out of the interval.",
            failed,
            n_boot,
        )
    alpha = (1 - confidence) / 2
    if failed == n_boot:
        return MetricEstimate(value, np.nan, np.nan, int(target.size))
    low, high = np.nanquantile(replicates, [alpha, 1 - alpha])
    return MetricEstimate(value, float(low), float(high), int(target.size))


def _replicate(
    function: SurvivalMetric, target: np.ndarray, prediction: np.ndarray, sample: np.ndarray
) -> float:
    """The metric on one replicate; NaN when it cannot be computed there."""
    try:
        # A replicate without a comparable pair is 0 / 0 in scikit-survival: NaN, quietly.
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(
                function(target["time"][sample], target["event"][sample], prediction[sample])
            )
    except (ValueError, ZeroDivisionError):
        # scikit-survival refuses a replicate without a comparable pair, or one whose
        # follow-up ends before a horizon (its censoring weights are undefined there).
        return np.nan


def survival_metric_table(
    time,
    event,
    predictions: Mapping[str, Any],
    *,
    horizons: Sequence[float] = (),
    tau: float | None = None,
    groups=None,
    n_boot: int = 1000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """One row per model: Harrell's and Uno's C and the AUROC at each horizon, with intervals.

    Parameters
    ----------
    time, event : array-like of shape (n_patients,)
    predictions : mapping of model name to risk scores of shape (n_patients,)
        Higher: RA sooner (a probability of RA by a horizon works, as any risk score).
        NaN where a model made no prediction.
    horizons : sequence of float, default ()
        Times at which to report the cumulative/dynamic AUROC (``auc_<t>``).
    tau : float, optional
        Uno's C truncation time; default the longest horizon, else the longest time.
    groups : array-like, optional
        Patient of each row (see `bootstrap_survival_metric`).
    n_boot : int, default 1000
    random_state : int or None, default 0

    Returns
    -------
    DataFrame
        Indexed by model: ``n``, ``events``, and per metric ``<metric>``, ``<metric>_low``,
        ``<metric>_high``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> risk = rng.normal(size=300)
    >>> time = rng.exponential(400 * np.exp(-risk)) + 1
    >>> event = time < 730
    >>> time = np.minimum(time, 730)  # two years of follow-up
    >>> table = survival_metric_table(time, event, {"model": risk, "coin": rng.normal(size=300)},
    ...                               horizons=[365], n_boot=50)
    >>> bool(table.loc["model", "harrell_c_low"] > table.loc["coin", "harrell_c_high"])
    True
    >>> list(table.columns[:5])
    ['n', 'events', 'harrell_c', 'harrell_c_low', 'harrell_c_high']
    """
    if tau is None and len(horizons):
        tau = float(max(horizons))
    metrics: dict[str, SurvivalMetric] = {
        "harrell_c": harrell_c,
        "uno_c": lambda t, e, r: uno_c(t, e, r, tau=tau),
    }
    for horizon in horizons:
        metrics[f"auc_{horizon:g}"] = lambda t, e, r, h=horizon: float(
            time_dependent_auc(t, e, r, [h])[0]
        )
    target = survival_target(time, event)
    rows = {}
    for name, risk in predictions.items():
        risk = np.asarray(risk, dtype=np.float64)
        scored = ~np.isnan(risk)
        row: dict[str, float] = {
            "n": int(scored.sum()),
            "events": int(target["event"][scored].sum()),
        }
        for metric, function in metrics.items():
            estimate = bootstrap_survival_metric(
                target["time"],
                target["event"],
                risk,
                function,
                groups=groups,
                n_boot=n_boot,
                random_state=random_state,
            )
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
                estimate.value,
                estimate.low,
                estimate.high,
            )
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
