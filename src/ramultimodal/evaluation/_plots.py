"""Figures for the report: ROC, precision-recall, calibration, decision curve, subgroups.

Each function returns a matplotlib ``Figure`` drawn without a display (the Agg canvas), so
the report can be written on a server or in CI.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from ramultimodal.evaluation._decision_curve import net_benefit

__all__ = [
    "plot_calibration",
    "plot_decision_curve",
    "plot_precision_recall",
    "plot_roc",
    "plot_subgroups",
]


def _figure(width: float = 5.0, height: float = 4.5) -> tuple[Figure, object]:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _scored(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    y_true, proba = np.asarray(y_true).astype(int), np.asarray(proba, float)
    kept = ~np.isnan(proba)
    return y_true[kept], proba[kept]


def plot_roc(y_true, predictions: Mapping[str, np.ndarray], *, operating_points=None) -> Figure:
    """ROC curves, one per model, with published operating points marked.

    `operating_points` maps a label to ``(sensitivity, specificity)``, e.g.
    ``{"2010 ACR/EULAR (Radner 2014)": (0.82, 0.61)}``.

    Examples
    --------
    >>> figure = plot_roc([0, 1, 0, 1], {"model": [0.2, 0.7, 0.4, 0.9]})
    >>> figure.axes[0].get_xlabel()
    '1 - specificity'
    """
    figure, axes = _figure()
    for name, proba in predictions.items():
        y, p = _scored(y_true, proba)
        fpr, tpr, _ = roc_curve(y, p)
        axes.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(y, p):.2f}, n={y.size})")
    markers = ("*", "D", "s", "^", "v")  # one shape per published operating point
    for (label, (sensitivity, specificity)), marker in zip(
        (operating_points or {}).items(), markers, strict=False
    ):
        axes.plot(1 - specificity, sensitivity, marker, color="black", markersize=8, label=label)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axes.set(
        xlabel="1 - specificity", ylabel="sensitivity", title="ROC", xlim=(0, 1), ylim=(0, 1.01)
    )
    axes.legend(loc="lower right", fontsize=7)
    return figure


def plot_precision_recall(y_true, predictions: Mapping[str, np.ndarray]) -> Figure:
    """Precision-recall curves, one per model, with the prevalence as the reference line.

    Examples
    --------
    >>> figure = plot_precision_recall([0, 1, 0, 1], {"model": [0.2, 0.7, 0.4, 0.9]})
    >>> figure.axes[0].get_title()
    'Precision-recall'
    """
    figure, axes = _figure()
    for name, proba in predictions.items():
        y, p = _scored(y_true, proba)
        precision, recall, _ = precision_recall_curve(y, p)
        axes.plot(recall, precision, label=name)
    prevalence = np.mean(np.asarray(y_true).astype(int))
    axes.axhline(prevalence, color="grey", linestyle=":", linewidth=1, label="prevalence")
    axes.set(
        xlabel="recall (sensitivity)",
        ylabel="precision (PPV)",
        title="Precision-recall",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    axes.legend(loc="lower left", fontsize=7)
    return figure


def plot_calibration(y_true, predictions: Mapping[str, np.ndarray], *, n_bins: int = 10) -> Figure:
    """Reliability diagram: observed RA frequency against predicted probability (deciles).

    Examples
    --------
    >>> figure = plot_calibration([0, 1] * 20, {"model": np.linspace(0.1, 0.9, 40)})
    >>> figure.axes[0].get_ylabel()
    'observed frequency'
    """
    figure, axes = _figure()
    for name, proba in predictions.items():
        y, p = _scored(y_true, proba)
        # Quantile bins keep every point backed by the same number of patients.
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
        bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
        frame = pd.DataFrame({"bin": bins, "p": p, "y": y}).groupby("bin").mean()
        axes.plot(frame["p"], frame["y"], marker="o", markersize=3, label=name)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="ideal")
    axes.set(
        xlabel="predicted probability",
        ylabel="observed frequency",
        title="Calibration",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(loc="upper left", fontsize=7)
    return figure


def plot_decision_curve(y_true, predictions: Mapping[str, np.ndarray]) -> Figure:
    """Net benefit against threshold probability, with "treat all" and "treat none".

    Examples
    --------
    >>> figure = plot_decision_curve([0, 1] * 20, {"model": np.linspace(0.1, 0.9, 40)})
    >>> figure.axes[0].get_xlabel()
    'threshold probability'
    """
    figure, axes = _figure()
    curves = net_benefit(y_true, predictions)
    for name in curves.columns:
        style = {"color": "grey", "linestyle": "--"} if name.startswith("treat_") else {}
        axes.plot(curves.index, curves[name], label=name.replace("_", " "), **style)
    prevalence = np.mean(np.asarray(y_true).astype(int))
    axes.set(
        xlabel="threshold probability",
        ylabel="net benefit",
        title="Decision curve",
        ylim=(-0.05, max(prevalence, 0.05) * 1.1),
    )
    axes.legend(loc="upper right", fontsize=7)
    return figure


def plot_subgroups(table: pd.DataFrame, *, model: str | None = None) -> Figure:
    """Forest plot of a `subgroup_table`: one row per subgroup, point and interval.

    Examples
    --------
    >>> table = pd.DataFrame({"model": ["m", "m"], "variable": ["sex", "sex"],
    ...                       "level": ["female", "male"], "n": [70, 30],
    ...                       "value": [0.8, 0.7], "low": [0.7, 0.55], "high": [0.9, 0.85]})
    >>> len(plot_subgroups(table).axes[0].get_yticklabels())
    2
    """
    if model is not None:
        table = table[table["model"] == model]
    table = table.reset_index(drop=True)
    figure, axes = _figure(6.0, 0.35 * len(table) + 1.2)
    positions = np.arange(len(table))[::-1]
    known = table["value"].notna().to_numpy()
    axes.errorbar(
        table.loc[known, "value"],
        positions[known],
        xerr=[
            (table.loc[known, "value"] - table.loc[known, "low"]).to_numpy(),
            (table.loc[known, "high"] - table.loc[known, "value"]).to_numpy(),
        ],
        fmt="o",
        color="black",
        capsize=3,
    )
    labels = [
        f"{row.model}: {row.variable} = {row.level} (n={row.n})"
        if model is None
        else f"{row.variable} = {row.level} (n={row.n})"
        for row in table.itertuples()
    ]
    axes.set_yticks(positions, labels, fontsize=7)
    axes.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    axes.set(xlabel="AUROC (95% CI)", title="Subgroups", xlim=(0.3, 1.0))
    return figure


def png_data_uri(figure_or_path: Figure | str | Path) -> str:
    """A figure, or a PNG file, as a ``data:`` URI for a self-contained HTML page."""
    if isinstance(figure_or_path, str | Path):
        data = Path(figure_or_path).read_bytes()
    else:
        buffer = io.BytesIO()
        figure_or_path.savefig(buffer, format="png")
        data = buffer.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
