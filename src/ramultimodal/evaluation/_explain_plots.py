"""Figures that explain a fusion over a cohort: what it leans on, and each modality's say.

`plot_importance` draws the mean absolute contribution of each feature (in words, see
`ramultimodal.evaluation._reasons.importance`), `plot_modality_contributions` the spread
of each modality's contribution to the log-odds, by outcome. Like the other figures of the
report they are drawn without a display (the Agg canvas).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ramultimodal.evaluation._plots import _figure
from ramultimodal.evaluation._reasons import MODALITY_LABELS

__all__ = ["plot_importance", "plot_modality_contributions"]


def plot_importance(sizes: pd.Series) -> Figure:
    """Horizontal bars: mean absolute contribution to the log-odds per feature, largest on top.

    Parameters
    ----------
    sizes : Series
        Indexed by the feature's words, as `importance` returns.

    Returns
    -------
    Figure

    Examples
    --------
    >>> figure = plot_importance(pd.Series({"CRP, last in 90 days": 0.8, "age": 0.1}))
    >>> figure.axes[0].get_xlabel()
    'mean |contribution| to the log-odds'
    """
    figure, axes = _figure(6.5, 0.8 + 0.3 * max(len(sizes), 1))
    ordered = sizes.sort_values()
    axes.barh(range(len(ordered)), ordered.to_numpy(), color="#4477aa")
    axes.set_yticks(range(len(ordered)), [str(label) for label in ordered.index], fontsize=8)
    axes.set_xlabel("mean |contribution| to the log-odds")
    axes.set_title("What the model leans on (all patients)")
    return figure


def plot_modality_contributions(modalities: pd.DataFrame, y_true=None) -> Figure:
    """Box plots of each modality's contribution to the log-odds, split by outcome.

    Parameters
    ----------
    modalities : DataFrame
        `FusionExplanation.modalities` (its ``contribution_<name>`` columns are drawn,
        the baseline aside).
    y_true : array-like, optional
        The outcome of each patient (1 = RA), to draw the two groups side by side.

    Returns
    -------
    Figure

    Examples
    --------
    >>> table = pd.DataFrame({"contribution_ehr": [1.0, -1.0], "contribution_image": [0.2, 0],
    ...                       "contribution_baseline": [0.1, 0.1]})
    >>> figure = plot_modality_contributions(table, [1, 0])
    >>> figure.axes[0].get_ylabel()
    'contribution to the log-odds'
    """
    columns = [
        c
        for c in modalities.columns
        if c.startswith("contribution_") and c != "contribution_baseline"
    ]
    names = [c.removeprefix("contribution_") for c in columns]
    figure, axes = _figure(6.0, 4.0)
    groups = [("all patients", np.ones(len(modalities), dtype=bool))]
    if y_true is not None:
        y_true = np.asarray(y_true)
        groups = [("RA", y_true == 1), ("no RA", y_true != 1)]
    width = 0.8 / len(groups)
    colours = ("#cc6677", "#4477aa")
    for g, ((label, rows), colour) in enumerate(zip(groups, colours, strict=False)):
        data = [modalities.loc[rows, c].dropna().to_numpy() for c in columns]
        positions = np.arange(len(columns)) + (g - (len(groups) - 1) / 2) * width
        boxes = axes.boxplot(
            [d if d.size else np.array([np.nan]) for d in data],
            positions=positions,
            widths=width * 0.9,
            patch_artist=True,
            showfliers=False,
        )
        for box in boxes["boxes"]:
            box.set_facecolor(colour)
        axes.plot([], [], color=colour, linewidth=6, label=label)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_xticks(range(len(columns)), [MODALITY_LABELS.get(n, n) for n in names], fontsize=8)
    axes.set_ylabel("contribution to the log-odds")
    axes.set_title("Each modality's say, per patient")
    axes.legend(fontsize=8)
    return figure
