"""Kaplan-Meier curves of remaining free of RA, one per group of predicted risk.

Drawn as the other report figures (`ramultimodal.evaluation.plot_roc`): a matplotlib
``Figure`` on the Agg canvas, no display needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ramultimodal.evaluation._plots import _figure
from ramultimodal.evaluation._survival import survival_target
from ramultimodal.evaluation._survival_calibration import risk_groups

__all__ = ["plot_kaplan_meier"]


def plot_kaplan_meier(
    time,
    event,
    risk=None,
    *,
    groups=None,
    n_groups: int = 3,
    horizons: Sequence[float] = (),
    title: str = "Free of RA, by predicted risk",
) -> Figure:
    """Kaplan-Meier curves (with 95% log-log bands) per risk group, horizons marked.

    Parameters
    ----------
    time, event : array-like of shape (n_patients,)
        Follow-up (days to RA or censoring) and event (1: RA).
    risk : array-like of shape (n_patients,), optional
        A risk score: patients are split into `n_groups` groups of equal size by it.
    groups : array-like of shape (n_patients,), optional
        Named groups instead (the Leiden rule's ``risk_group``: "low", "intermediate",
        "high"), drawn in sorted order; None or NaN leaves a patient out.
    n_groups : int, default 3
    horizons : sequence of float, default ()
        Times to mark with a dotted line (the prediction horizons).
    title : str

    Returns
    -------
    Figure

    Examples
    --------
    >>> figure = plot_kaplan_meier([2, 3, 5, 6, 7, 8], [1, 0, 1, 0, 1, 0],
    ...                            risk=[0.9, 0.1, 0.8, 0.2, 0.7, 0.3], n_groups=2,
    ...                            horizons=[4])
    >>> [line.get_label() for line in figure.axes[0].get_lines()][:2]
    ['risk group 1 of 2 (lowest), n=3', 'risk group 2 of 2, n=3']
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    if (risk is None) == (groups is None):
        raise ValueError("Give either risk (a score to split into groups) or groups.")
    target = survival_target(time, event)
    if groups is None:
        risk = np.asarray(risk, dtype=np.float64)
        kept = ~np.isnan(risk)
        number = risk_groups(risk[kept], n_groups)
        names = [
            f"risk group {g + 1} of {n_groups}" + (" (lowest)" if g == 0 else "")
            for g in range(n_groups)
        ]
        labels = np.array(names, dtype=object)[number]
    else:
        labels = np.asarray(groups, dtype=object)
        kept = np.array([label is not None and label == label for label in labels])
        labels = labels[kept]
        names = sorted({str(label) for label in labels})
        labels = labels.astype(str)
    target = target[kept]
    figure, axes = _figure(6.0, 4.5)
    for name in names:
        members = labels == name
        if not members.any():
            continue
        times, survival, band = kaplan_meier_estimator(
            target["event"][members], target["time"][members], conf_type="log-log"
        )
        # Start every curve at 1 at time 0: nobody has RA at the index date.
        times = np.concatenate([[0.0], times])
        survival = np.concatenate([[1.0], survival])
        band = np.concatenate([[[1.0], [1.0]], band], axis=1)
        (line,) = axes.step(times, survival, where="post", label=f"{name}, n={members.sum()}")
        axes.fill_between(
            times, band[0], band[1], step="post", alpha=0.15, color=line.get_color(), linewidth=0
        )
    for horizon in horizons:
        axes.axvline(horizon, color="grey", linestyle=":", linewidth=1)
    axes.set(xlabel="days since the index date", ylabel="free of RA", title=title, ylim=(0, 1.02))
    axes.legend(loc="lower left", fontsize=7)
    return figure
