"""Calibration at a horizon: predicted risk of RA by then, against Kaplan-Meier, per risk group.

Patients are split into groups of equal size by their predicted probability of RA by the
horizon; in each group the mean prediction is set beside the observed risk, one minus the
Kaplan-Meier estimate of remaining free of RA at the horizon (which counts the patients
censored before it for the time they were followed), with its 95% interval (log-log,
Kalbfleisch and Prentice). This is the grouped calibration plot of D'Agostino and Nam
(Handbook of Statistics 2004;23:1) without its chi-squared test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ramultimodal.evaluation._survival import survival_target
from ramultimodal.io._horizon import horizon_outcome

__all__ = ["horizon_calibration", "kaplan_meier_at", "risk_groups"]


def kaplan_meier_at(time, event, horizon: float) -> tuple[float, float, float]:
    """The Kaplan-Meier probability of remaining free of the event at `horizon`, and its
    95% log-log interval (scikit-survival's estimator).

    At or before the first event the probability is 1 (interval 1 to 1). Beyond the last
    follow-up it stays at its last value: say so when you report such a horizon.

    Examples
    --------
    Six patients, events at days 2 and 5, censored at 3, 6, 7 and 8: at day 6 the
    estimate is (5/6) x (3/4) = 0.625.

    >>> survival, low, high = kaplan_meier_at([2, 3, 5, 6, 7, 8], [1, 0, 1, 0, 0, 0], 6)
    >>> round(survival, 4), bool(low < survival < high)
    (0.625, True)
    >>> kaplan_meier_at([2, 3, 5, 6, 7, 8], [1, 0, 1, 0, 0, 0], 1)
    (1.0, 1.0, 1.0)
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    target = survival_target(time, event)
    times, survival, interval = kaplan_meier_estimator(
        target["event"], target["time"], conf_type="log-log"
    )
    at = int(np.searchsorted(times, horizon, side="right")) - 1
    if at < 0 or survival[at] >= 1.0:
        return 1.0, 1.0, 1.0
    return float(survival[at]), float(interval[0, at]), float(interval[1, at])


def risk_groups(risk, n_groups: int) -> np.ndarray:
    """Groups of (nearly) equal size by rank of `risk`: 0 the lowest, ``n_groups - 1`` the
    highest. Ties are split by order, so that a score with few distinct values (a clinical
    rule) still gives the groups asked for.

    Examples
    --------
    >>> risk_groups([0.9, 0.1, 0.5, 0.5, 0.2, 0.7], 3).tolist()
    [2, 0, 1, 1, 0, 2]
    """
    if n_groups < 1:
        raise ValueError(f"n_groups must be at least 1, got {n_groups}.")
    risk = np.asarray(risk, dtype=np.float64)
    order = np.argsort(risk, kind="stable")
    group = np.empty(risk.size, dtype=int)
    group[order] = np.arange(risk.size) * n_groups // max(risk.size, 1)
    return group


def horizon_calibration(time, event, risk, horizon: float, *, n_groups: int = 4) -> pd.DataFrame:
    """Predicted against observed risk of RA by `horizon`, in groups of predicted risk.

    Parameters
    ----------
    time, event : array-like of shape (n_patients,)
        Follow-up time (days to RA or censoring) and event (1: RA).
    risk : array-like of shape (n_patients,)
        Each patient's predicted probability of RA by `horizon` (0-1). NaN rows are left out.
    horizon : float
        In `time`'s unit.
    n_groups : int, default 4
        Groups of (nearly) equal size, lowest predicted risk first.

    Returns
    -------
    DataFrame
        One row per group (``group`` 1 = lowest risk): ``n``, ``events`` (RA by the
        horizon), ``censored`` (followed less than the horizon without RA), ``predicted``
        (mean predicted risk), ``observed`` (1 - Kaplan-Meier at the horizon),
        ``observed_low``, ``observed_high`` (its 95% interval).

    Examples
    --------
    >>> time = [2, 3, 5, 6, 7, 8, 1, 2, 3, 4, 9, 9]
    >>> event = [1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0]
    >>> risk = [0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.6, 0.7, 0.7, 0.8, 0.9, 0.9]
    >>> table = horizon_calibration(time, event, risk, 6, n_groups=2)
    >>> table[["n", "events", "censored", "predicted", "observed"]].round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
           n  events  censored  predicted  observed
    group
    1      6       2         1      0.200     0.375
    2      6       3         1      0.767     0.500
    """
    target = survival_target(time, event)
    risk = np.asarray(risk, dtype=np.float64)
    kept = ~np.isnan(risk)
    target, risk = target[kept], risk[kept]
    group = risk_groups(risk, n_groups)
    rows = []
    for g in range(n_groups):
        members = group == g
        if not members.any():
            continue
        times, events = target["time"][members], target["event"][members]
        survival, low, high = kaplan_meier_at(times, events, horizon)
        ra, known = horizon_outcome(times, events, horizon)
        rows.append(
            {
                "group": g + 1,
                "n": int(members.sum()),
                "events": int(ra.sum()),
                "censored": int((~known).sum()),  # before the horizon, without RA
                "predicted": float(risk[members].mean()),
                "observed": 1.0 - survival,
                "observed_low": 1.0 - high,
                "observed_high": 1.0 - low,
            }
        )
    return pd.DataFrame(rows).set_index("group")
