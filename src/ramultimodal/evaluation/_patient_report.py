"""One HTML page per patient: the probability, its reasons, the criteria and the radiograph.

`write_patient_reports` writes ``patient-0001.html``, ``patient-0002.html``... (numbered in
the order of the predictions file, so that no identifier is in a file name, a path or a
log line) and ``index.html``, which lists them with the ``subject_id`` each belongs to.
The pages are the user's own output, as the predictions file is: the identifier appears
inside them, never in a message. Each page is self-contained (the Grad-CAM overlay is
embedded), and the folder is written whole or not at all (`staged_folder`).
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal import __version__
from ramultimodal._staging import staged_folder
from ramultimodal.ehr._acr_eular import FEATURIZER_COLUMNS
from ramultimodal.ehr._feature_text import describe_feature
from ramultimodal.evaluation._contributions import SURVIVAL_SCORE
from ramultimodal.evaluation._plots import png_data_uri
from ramultimodal.evaluation._reasons import MODALITY_LABELS
from ramultimodal.image._members import cnn_members

__all__ = ["explain_joints", "page_name", "write_patient_reports"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 860px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: .9em; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
td.num { text-align: right; } .up { color: #a11; } .down { color: #15a; }
.note { color: #555; font-size: .85em; } img.gradcam { max-width: 320px; }
img.hands { max-width: 640px; }
.warning { background: #fff4e5; border-left: 4px solid #f0a030; padding: .5em 1em; }
"""


def page_name(number: int) -> str:
    """The file name of the `number`-th patient's page (1-based).

    Examples
    --------
    >>> page_name(1)
    'patient-0001.html'
    """
    return f"patient-{number:04d}.html"


def _contribution_cell(value: float) -> str:
    if not np.isfinite(value):
        return "<td class='num'>-</td>"
    css = "up" if value > 0 else "down" if value < 0 else ""
    return f"<td class='num {css}'>{value:+.2f}</td>"


def _acr_eular_table(features: pd.Series) -> str:
    """The 2010 ACR/EULAR score with its four categories, as the featurizer computed them."""
    if not all(column in features.index for column in FEATURIZER_COLUMNS):
        return "<p class='note'>The ACR/EULAR 2010 score was not computed by this model.</p>"
    rows = [
        f"<tr><td>{html.escape(describe_feature(column, features[column]))}</td></tr>"
        for column in (*FEATURIZER_COLUMNS, "acr_eular_total")
        if column in features.index
    ]
    total = features.get("acr_eular_total", np.nan)
    verdict = (
        "not classifiable from the record (a category could not be scored)"
        if not np.isfinite(total)
        else "meets the criteria (6 or more of 10)"
        if total >= 6
        else "below the criteria's threshold of 6"
    )
    return (
        "<table>" + "".join(rows) + "</table>"
        f"<p>Classification: {html.escape(verdict)} (Aletaha et al., Arthritis Rheum 2010).</p>"
    )


def _page(
    number: int,
    subject: str,
    row: pd.Series,
    features: pd.Series,
    modality_names: list[str],
    gradcam: Path | None,
    synthetic: bool,
    hands: Any = None,
) -> str:
    escape = html.escape
    proba = row.get("proba", np.nan)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Patient {number:04d}</title><style>{_STYLE}</style></head><body>",
        "<p><a href='index.html'>All patients</a></p>",
        f"<h1>Patient {number:04d}</h1>",
        f"<p>Identifier in your data: <code>{escape(subject)}</code></p>",
    ]
    if synthetic:
        parts.append("<p class='warning'>Synthetic patient (ramultimodal's generator).</p>")
    explained = str(row.get("explained", "fused logit"))
    # A survival fusion explains its risk score (a log hazard ratio), not a log-odds.
    scale = "risk score" if explained == SURVIVAL_SCORE else "log-odds"
    if np.isfinite(proba):
        parts.append(
            f"<p><b>Probability of RA within 12 months: {proba:.2f}</b> "
            f"({scale} {row['logit']:+.2f}"
            + ("" if explained == "fused logit" else f", the {escape(explained)}")
            + ").</p>"
        )
    else:
        parts.append("<p><b>No probability</b>: the patient has none of the modalities.</p>")
    present = [
        MODALITY_LABELS.get(name, name) for name in modality_names if bool(row.get(f"has_{name}"))
    ]
    absent = [
        MODALITY_LABELS.get(name, name)
        for name in modality_names
        if not bool(row.get(f"has_{name}"))
    ]
    parts.append(
        f"<p>Modalities present: {escape(', '.join(present) or 'none')}"
        + (f"; absent: {escape(', '.join(absent))}" if absent else "")
        + ".</p>"
    )
    reasons = [row[c] for c in row.index if c.startswith("reason_") and row[c]]
    parts.append("<h2>Why: the largest contributions</h2>")
    if reasons:
        parts.append("<ol>" + "".join(f"<li>{escape(str(r))}</li>" for r in reasons) + "</ol>")
    parts.append(
        f"<p class='note'>Each number is a share of the {scale}: positive raises the "
        "probability of RA, negative lowers it. They explain what the model computed, not "
        "what causes the disease.</p>"
    )
    parts.append("<h2>By modality</h2><table><tr><th>part</th><th>contribution</th></tr>")
    for column in row.index:
        if column.startswith("contribution_"):
            name = column.removeprefix("contribution_")
            label = "baseline" if name == "baseline" else MODALITY_LABELS.get(name, name)
            parts.append(f"<tr><td>{escape(label)}</td>{_contribution_cell(row[column])}</tr>")
    parts.append(
        f"<tr><td><b>{scale}</b></td>{_contribution_cell(row.get('logit', np.nan))}</tr></table>"
    )
    parts.append("<h2>2010 ACR/EULAR criteria</h2>")
    parts.append(_acr_eular_table(features))
    if gradcam is not None:
        parts.append("<h2>Where the image model looked (Grad-CAM)</h2>")
        parts.append(
            f"<img class='gradcam' alt='Grad-CAM overlay' src='{png_data_uri(gradcam)}'>"
            "<p class='note'>The first radiograph, tinted where the model's own CNN found "
            "evidence for RA. A hint of where it looked, not a finding.</p>"
        )
    if hands is not None:
        parts.append("<h2>Joint by joint</h2>")
        parts.append(
            f"<img class='hands' alt='Hand diagram' src='{png_data_uri(hands)}'>"
            "<p class='note'>Each joint's expected erosion and narrowing as the joint models "
            "read the patient's radiographs; n.f.: not found (docs/joints.md).</p>"
        )
    parts.append(
        f"<p class='note'>ramultimodal {escape(__version__)}. Research software, not a "
        "medical device.</p></body></html>"
    )
    return "\n".join(parts)


def _index(table: pd.DataFrame, names: list[str], synthetic: bool) -> str:
    escape = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Patients</title><style>{_STYLE}</style></head><body>",
        f"<h1>{len(table)} patients</h1>",
    ]
    if synthetic:
        parts.append("<p class='warning'>Synthetic patients (ramultimodal's generator).</p>")
    parts.append(
        "<table><tr><th>page</th><th>identifier</th><th>probability</th><th>first reason</th></tr>"
    )
    for number, (subject, row) in enumerate(table.iterrows(), start=1):
        proba = row.get("proba", np.nan)
        shown = f"{proba:.2f}" if np.isfinite(proba) else "-"
        parts.append(
            f"<tr><td><a href='{names[number - 1]}'>{number:04d}</a></td>"
            f"<td><code>{escape(str(subject))}</code></td><td class='num'>{shown}</td>"
            f"<td>{escape(str(row.get('reason_1', '')))}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts)


def write_patient_reports(
    table: pd.DataFrame,
    features: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    modality_names: list[str],
    cnn: Any = None,
    image_column: str = "image",
    synthetic: bool = False,
    overwrite: bool = False,
    joints: Any = None,
) -> Path:
    """Write one page per patient of `table` and an ``index.html``, whole or not at all.

    Parameters
    ----------
    table : DataFrame
        The explained predictions, indexed by ``subject_id``: ``proba``, ``has_<name>``,
        ``logit``, ``contribution_<name>``, ``explained``, ``reason_<i>``.
    features : DataFrame
        The patients' features (`CohortPipeline.features`), same index: the ACR/EULAR
        columns and `image_column`.
    out_dir : path
        The folder to write (it must not exist, or be an earlier one with `overwrite`).
    modality_names : list of str
    cnn : CNNImageClassifier, optional
        The model's own CNN, for a Grad-CAM overlay of each patient's first radiograph.
    image_column : str, default "image"
    synthetic : bool, default False
        Say on every page that the patients are synthetic.
    overwrite : bool, default False
        Replace an existing patient report written by ramultimodal.
    joints : JointScoreTransformer, optional
        A fitted joint model: each page then shows the patient's hand diagram
        (`plot_hand_diagram`) of the radiographs in `image_column`.

    Returns
    -------
    Path
        The ``index.html``.
    """
    out_dir = Path(out_dir)
    names = [page_name(number) for number in range(1, len(table) + 1)]
    with staged_folder(out_dir, "patient-report", overwrite=overwrite) as staging:
        with tempfile.TemporaryDirectory() as scratch:
            for number, (subject, row) in enumerate(table.iterrows(), start=1):
                patient = features.iloc[number - 1]
                gradcam = _gradcam(cnn, patient.get(image_column), Path(scratch) / "g.png")
                hands = _hands(joints, patient.get(image_column), number)
                page = _page(number, str(subject), row, patient, modality_names, gradcam,
                             synthetic, hands)  # fmt: skip
                (staging / names[number - 1]).write_text(page, encoding="utf-8")
        (staging / "index.html").write_text(_index(table, names, synthetic), encoding="utf-8")
    return out_dir / "index.html"


def _gradcam(cnn: Any, images: Any, out_png: Path) -> Path | None:
    """The Grad-CAM overlay of a patient's first radiograph, if they have one and a CNN."""
    if cnn is None or not isinstance(images, list | tuple) or not images:
        return None
    from ramultimodal.image import save_gradcam_overlay

    return save_gradcam_overlay(cnn, images[0], out_png)


def _hands(joints: Any, images: Any, number: int) -> Any:
    """The hand diagram of a patient's radiographs, if they have one and a joint model."""
    if joints is None:
        return None
    if isinstance(images, str | os.PathLike):
        images = [images]
    if not isinstance(images, list | tuple) or not images:
        return None
    from ramultimodal.evaluation._hand_diagram import plot_hand_diagram
    from ramultimodal.image._hand_sides import score_by_place

    # A DICOM's Image Laterality first, else the thumb's side (as the fusion's features).
    scores, sides = score_by_place(joints, list(images))
    return plot_hand_diagram(scores, sides=sides, title=f"Patient {number:04d}")


def explain_joints(fusion: Any) -> Any:
    """The fitted joint model (`JointScoreTransformer`) inside a fusion, or None.

    It may be a modality's estimator or a step of one (a pipeline, a column transformer).
    """
    seen: list[Any] = list(getattr(fusion, "estimators_", []))
    while seen:
        estimator = seen.pop(0)
        if hasattr(estimator, "score_images") and hasattr(estimator, "grader_"):
            return estimator
        wrapped = getattr(estimator, "model", None)  # JointScoreFeatures wraps it, frozen
        if wrapped is not None:
            seen.append(wrapped)
        for attribute in ("steps", "transformers_"):
            for part in getattr(estimator, attribute, None) or []:
                seen.append(part[1] if isinstance(part, tuple) else part)
        members = getattr(estimator, "estimators_", None)
        if isinstance(members, list | tuple):  # not a boosting's array of trees
            seen.extend(members)
    return None


def explain_cnn(fusion: Any) -> tuple[str, Any] | None:
    """The fusion's own CNN (a fitted estimator with a torch ``module_``), by modality: or
    the bag of fold CNNs of a cross-fitted image model, whose Grad-CAM is their mean map."""
    estimators: Mapping[str, Any] = dict(
        zip(fusion.modality_names_, fusion.estimators_, strict=True)
    )
    for name, estimator in estimators.items():
        if hasattr(estimator, "module_") or cnn_members(estimator):
            return name, estimator
    return None
