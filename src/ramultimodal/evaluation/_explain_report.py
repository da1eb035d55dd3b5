"""The report's explanation of a fusion over the evaluated cohort, and its own CNN's Grad-CAM.

`explanation_figures` draws, from `explain_fusion` on the evaluated patients, the global
importance of the features (mean absolute contribution per feature, in words) and each modality's
contribution by outcome; `gradcam_overlays` draws Grad-CAM overlays with the CNN *of the
evaluated model* (not one trained apart), on the RA patients whose radiograph moved the
prediction most. `write_report` shows both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.evaluation._contributions import FusionExplanation, explain_fusion
from ramultimodal.evaluation._explain_plots import plot_importance, plot_modality_contributions
from ramultimodal.evaluation._plots import png_data_uri
from ramultimodal.evaluation._reasons import importance

__all__ = ["explanation_figures", "gradcam_overlays", "out_of_fold_explanations"]


def explanation_figures(
    fusion: Any, features: pd.DataFrame, y_true: Any = None, *, top: int = 15
) -> tuple[dict[str, Any], FusionExplanation]:
    """The report's figures that explain `fusion` on `features`, and the explanation.

    Parameters
    ----------
    fusion : fitted fusion classifier
    features : DataFrame
        The evaluated patients as the fusion reads them.
    y_true : array-like, optional
        Their outcomes, to split the modality plot by outcome.
    top : int, default 15
        How many features the importance plot shows.

    Returns
    -------
    figures : dict of str to Figure
    explanation : FusionExplanation
    """
    explanation = explain_fusion(fusion, features)
    return _figures(explanation, y_true, top=top), explanation


def _figures(
    explanation: FusionExplanation, y_true: Any, *, top: int = 15, out_of_fold: bool = False
) -> dict[str, Any]:
    """The global importance and modality contribution plots of an explanation."""
    where = ", out of fold" if out_of_fold else ""
    return {
        f"Global importance (mean |contribution| per feature{where})": plot_importance(
            importance(explanation, top=top)
        ),
        f"Contribution of each modality to the log-odds{' (out of fold)' if out_of_fold else ''}": (
            plot_modality_contributions(explanation.modalities, y_true)
        ),
    }


def gradcam_overlays(
    cnn: Any,
    modality: str,
    features: pd.DataFrame,
    contributions: pd.DataFrame,
    y_true: Any,
    folder: Path,
    *,
    n: int = 4,
    image_column: str = "image",
    prefix: str = "gradcam",
) -> list[Path]:
    """Grad-CAM overlays of the model's own CNN on up to `n` RA patients' first radiograph.

    The patients are those with RA and a radiograph whose image contribution raised the
    log-odds most: where the model says the image helped, the overlay shows where it
    looked. Files are named ``<prefix>_<k>.png`` (no identifier).
    """
    from ramultimodal.image import save_gradcam_overlay

    images = features[image_column].map(lambda p: list(p) if isinstance(p, list | tuple) else [])
    contribution = contributions.get(f"contribution_{modality}")
    if contribution is None:
        return []
    y_true = np.asarray(y_true)
    candidates = np.flatnonzero((y_true == 1) & (images.map(len).to_numpy() > 0))
    order = candidates[np.argsort(-np.nan_to_num(contribution.to_numpy()[candidates]))]
    return [
        save_gradcam_overlay(cnn, images.iloc[row][0], folder / f"{prefix}_{k}.png")
        for k, row in enumerate(order[:n])
    ]


def _explanation_section(figures: Mapping[str, Any]) -> list[str]:
    """The report's HTML section of the explanation figures."""
    import html

    parts = [
        "<h2>Why the model said what it said</h2>",
        "<p>Each patient's log-odds split into contributions (TreeSHAP for the gradient "
        "boosting models, the fusion's own weights and coefficients above them; see "
        "docs/explanations.md). They explain the model, not the disease. "
        "<code>ramultimodal predict --explain</code> gives them patient by patient.</p>",
        "<div class='figures'>",
    ]
    for name, figure in figures.items():
        parts.append(
            f"<figure><img alt='{html.escape(name)}' src='{png_data_uri(figure)}'>"
            f"<figcaption>{html.escape(name)}</figcaption></figure>"
        )
    parts.append("</div>")
    return parts


def out_of_fold_explanations(
    result: Any, X: pd.DataFrame, y_true: Any, folder: Path, *, n: int = 4
) -> tuple[dict[str, Any], list[Path]]:
    """The report's figures and Grad-CAM overlays from a cross-validated fusion's folds.

    Each patient is explained by the fold model that did not see them (kept with
    ``keep_estimators``), as their out-of-fold probability was made; the overlays are drawn
    by that fold model's own CNN, on the RA patients whose radiograph raised the log-odds
    most.

    Parameters
    ----------
    result : PatientCVResult
        With ``estimators`` and ``test_rows`` (one repeat).
    X : DataFrame
        The cross-validated patients.
    y_true : array-like
    folder : Path
        Where to write ``gradcam_<k>.png``.
    n : int, default 4
        How many overlays.

    Returns
    -------
    figures : dict of str to Figure
    overlays : list of Path
    """
    from ramultimodal.evaluation._patient_report import explain_cnn

    y_true = np.asarray(y_true)
    parts, fold_of_row = [], np.full(len(X), -1)
    for fold, (model, rows) in enumerate(zip(result.estimators, result.test_rows, strict=True)):
        parts.append(explain_fusion(model, X.iloc[rows]))
        fold_of_row[rows] = fold
    order = np.concatenate(result.test_rows)
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))

    def joined(attribute: str) -> pd.DataFrame:
        table = pd.concat([getattr(part, attribute) for part in parts])
        return table.iloc[position]

    explanation = FusionExplanation(
        *(joined(a) for a in ("modalities", "features", "values", "probabilities", "presence"))
    )
    figures = _figures(explanation, y_true, out_of_fold=True)
    overlays: list[Path] = []
    for fold, model in enumerate(result.estimators):
        cnn = explain_cnn(model)
        rows = fold_of_row == fold
        if cnn is None or len(overlays) >= n:
            continue
        drawn = gradcam_overlays(
            cnn[1],
            cnn[0],
            X.iloc[np.flatnonzero(rows)],
            explanation.modalities.iloc[np.flatnonzero(rows)],
            y_true[rows],
            folder,
            n=-(-n // len(result.estimators)),
            prefix=f"gradcam_fold{fold}",
        )
        overlays.extend(drawn[: n - len(overlays)])
    return figures, overlays
