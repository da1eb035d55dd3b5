"""Is a fused model worse than one of its modalities alone? Compared on the same patients.

A fusion should do at least as well as its best modality; when it does clearly worse,
something went wrong (out-of-fold predictions too poor to learn the weights from, see
`ramultimodal.fusion.FusionWarning`) and the report must say so beside the numbers rather
than let a reader take the fused row on trust (Folle et al., Rheumatology 2022: fusion does
not always help). Each fused model is compared with every single-modality model on the
patients both scored, with DeLong's test; it is flagged when it falls short by more than
`SHORTFALL_TOLERANCE` of AUROC and beyond chance (p < `SHORTFALL_ALPHA`).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ramultimodal.evaluation._compare import delong_test

if TYPE_CHECKING:
    from ramultimodal.evaluation._clinical import ClinicalEvaluation

__all__ = [
    "SHORTFALL_ALPHA",
    "SHORTFALL_TOLERANCE",
    "flag_shortfalls",
    "fusion_shortfalls",
    "shortfall_html",
    "shortfall_messages",
    "training_shortfall_notes",
]

logger = logging.getLogger(__name__)

#: A fused model this much below a modality alone (AUROC) is worth a flag; less is the
#: price of learning the weights, within the noise of a few hundred patients.
SHORTFALL_TOLERANCE = 0.02
#: ... and only when DeLong's test says the shortfall is beyond chance.
SHORTFALL_ALPHA = 0.05

_COLUMNS = [
    "fusion",
    "modality",
    "n",
    "fused_auroc",
    "modality_auroc",
    "difference",
    "difference_low",
    "difference_high",
    "delong_p",
    "flagged",
]


def fusion_shortfalls(
    y_true: Any,
    predictions: Mapping[str, np.ndarray],
    *,
    fusions: Sequence[str],
    modalities: Sequence[str],
) -> pd.DataFrame:
    """Each fused model beside the single modality that beats it most, on the same patients.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
    predictions : mapping of model name to probabilities of shape (n_patients,)
        NaN where a model made no prediction (the CNN for a patient without a radiograph).
    fusions : sequence of str
        The keys of `predictions` that are fused models.
    modalities : sequence of str
        The keys that are one modality alone (the fusions' parts).

    Returns
    -------
    DataFrame
        One row per fused model (in the order of `fusions`, those present in
        `predictions`): ``fusion``, ``modality`` (the one with the largest shortfall, or the
        smallest lead), ``n`` (patients both scored), ``fused_auroc``, ``modality_auroc``,
        ``difference`` (fused minus modality) with its 95% DeLong interval
        ``difference_low``/``difference_high``, ``delong_p``, and ``flagged``: short by
        more than `SHORTFALL_TOLERANCE` with p < `SHORTFALL_ALPHA`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> ehr = y + rng.normal(0, 0.5, 200)
    >>> fused = y + rng.normal(0, 2.0, 200)  # a fusion that lost the EHR's signal
    >>> table = fusion_shortfalls(y, {"EHR": ehr, "stacking": fused},
    ...                           fusions=["stacking"], modalities=["EHR"])
    >>> table[["fusion", "modality", "flagged"]].to_dict("records")
    [{'fusion': 'stacking', 'modality': 'EHR', 'flagged': True}]
    """
    y_true = np.asarray(y_true).astype(int)
    rows = []
    for fusion in fusions:
        if fusion not in predictions:
            continue
        fused = np.asarray(predictions[fusion], float)
        compared = [
            _compare(y_true, fused, np.asarray(predictions[name], float), fusion, name)
            for name in modalities
            if name in predictions
        ]
        compared = [row for row in compared if row is not None]
        if compared:
            rows.append(min(compared, key=lambda row: row["difference"]))
    return pd.DataFrame(rows, columns=_COLUMNS)


def _compare(
    y_true: np.ndarray, fused: np.ndarray, alone: np.ndarray, fusion: str, name: str
) -> dict[str, Any] | None:
    both = ~(np.isnan(fused) | np.isnan(alone))
    if np.unique(y_true[both]).size < 2:
        return None
    result = delong_test(y_true[both], fused[both], alone[both])
    half = stats.norm.ppf(0.975) * result.se  # DeLong's standard error of the difference
    flagged = result.difference < -SHORTFALL_TOLERANCE and result.p_value < SHORTFALL_ALPHA
    return {
        "fusion": fusion,
        "modality": name,
        "n": int(both.sum()),
        "fused_auroc": result.auc_a,
        "modality_auroc": result.auc_b,
        "difference": result.difference,
        "difference_low": result.difference - half,
        "difference_high": result.difference + half,
        "delong_p": result.p_value,
        "flagged": bool(flagged),
    }


def shortfall_messages(shortfalls: pd.DataFrame | None) -> list[str]:
    """One sentence per flagged fused model, with its numbers.

    Examples
    --------
    >>> table = pd.DataFrame([{"fusion": "stacking", "modality": "EHR alone", "n": 40,
    ...     "fused_auroc": 0.45, "modality_auroc": 0.97, "difference": -0.52,
    ...     "difference_low": -0.7, "difference_high": -0.34, "delong_p": 1e-6,
    ...     "flagged": True}])
    >>> print(shortfall_messages(table)[0])
    stacking is worse than EHR alone: AUROC 0.450 against 0.970 on the same 40 patients \
(difference -0.520, 95% CI -0.700 to -0.340, DeLong p < 0.001). Use EHR alone instead, or see the \
fusion's warnings: its out-of-fold predictions may have been too poor to learn from (more \
patients, a larger cv, fewer modalities).
    """
    if shortfalls is None:
        return []
    messages = []
    for row in shortfalls[shortfalls["flagged"]].itertuples(index=False):
        p = "< 0.001" if row.delong_p < 0.001 else f"= {row.delong_p:.3f}"
        messages.append(
            f"{row.fusion} is worse than {row.modality}: AUROC {row.fused_auroc:.3f} "
            f"against {row.modality_auroc:.3f} on the same {row.n} patients (difference "
            f"{row.difference:.3f}, 95% CI {row.difference_low:.3f} to "
            f"{row.difference_high:.3f}, DeLong p {p}). Use {row.modality} instead, or see the "
            "fusion's warnings: its out-of-fold predictions may have been too poor to learn "
            "from (more patients, a larger cv, fewer modalities)."
        )
    return messages


def training_shortfall_notes(fusion: Any, tolerance: float = SHORTFALL_TOLERANCE) -> list[str]:
    """What a fitted fusion recorded of its own out-of-fold predictions, as report notes.

    Reads ``oof_auroc_``, ``fused_oof_auroc_``, ``degenerate_modalities_`` and
    ``inner_fold_params_`` (kept in the model folder); nothing when the fusion made no
    out-of-fold predictions (early fusion, fixed weights). The first note says whether the
    fused AUROC fell below the best modality's by more than `tolerance`.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fusion = SimpleNamespace(modality_names_=["image", "ehr"],
    ...     oof_auroc_=np.array([0.62, 0.97]), fused_oof_auroc_=0.45,
    ...     degenerate_modalities_=["ehr"], inner_fold_params_={})
    >>> notes = training_shortfall_notes(fusion)
    >>> print(notes[0])
    At training, out of fold, the fused model's AUROC was 0.450, below that of ehr alone \
(0.970; image 0.620).
    >>> print(notes[1])
    At training, the out-of-fold predictions of ehr said nothing (constant, or one class): \
the fusion could not learn its weight.
    """
    names = list(getattr(fusion, "modality_names_", []))
    aurocs = getattr(fusion, "oof_auroc_", None)
    fused = getattr(fusion, "fused_oof_auroc_", None)
    notes = []
    if aurocs is not None and fused is not None and len(aurocs) == len(names):
        shown = [(name, float(a)) for name, a in zip(names, aurocs, strict=True)]
        defined = [(name, a) for name, a in shown if np.isfinite(a)]
        if defined:
            best, best_auroc = max(defined, key=lambda item: item[1])
            others = "; ".join(f"{name} {a:.3f}" for name, a in shown if name != best)
            others = f"; {others}" if others else ""
            below = np.isfinite(fused) and fused < best_auroc - tolerance
            notes.append(
                f"At training, out of fold, the fused model's AUROC was {fused:.3f}, "
                + (f"below that of {best} alone" if below else f"beside {best} alone's")
                + f" ({best_auroc:.3f}{others})."
            )
    degenerate = list(getattr(fusion, "degenerate_modalities_", []) or [])
    if degenerate:
        notes.append(
            f"At training, the out-of-fold predictions of {', '.join(degenerate)} said nothing "
            "(constant, or one class): the fusion could not learn "
            + ("its weight." if len(degenerate) == 1 else "their weights.")
        )
    for name, params in (getattr(fusion, "inner_fold_params_", None) or {}).items():
        shown = ", ".join(f"{key}={value}" for key, value in params.items())
        notes.append(
            f"At training, the inner folds were too small for {name}'s trees to split: its "
            f"out-of-fold refits used {shown} (the saved model keeps the given values)."
        )
    return notes


def flag_shortfalls(
    evaluation: ClinicalEvaluation, *, fusions: Sequence[str], modalities: Sequence[str]
) -> list[str]:
    """Set ``evaluation.shortfalls`` (`fusion_shortfalls`) and log each flag as a warning.

    Parameters
    ----------
    evaluation : ClinicalEvaluation
        From `evaluate_predictions`; `write_report` shows its ``shortfalls``.
    fusions, modalities : sequence of str
        Which of its models are fused, and which are one modality alone.

    Returns
    -------
    list of str
        The messages logged (`shortfall_messages`), empty when no fused model is flagged.
    """
    evaluation.shortfalls = fusion_shortfalls(
        evaluation.y_true, evaluation.predictions, fusions=fusions, modalities=modalities
    )
    messages = shortfall_messages(evaluation.shortfalls)
    for message in messages:
        logger.warning("%s", message)
    return messages


def shortfall_html(shortfalls: pd.DataFrame) -> list[str]:
    """The report's section: a warning per flagged fused model, then the table."""
    parts = ["<h2>Fused models against their modalities alone</h2>"]
    parts.extend(
        f"<p class='warning'><b>Fusion worse than a modality alone.</b> {html.escape(message)}</p>"
        for message in shortfall_messages(shortfalls)
    )
    parts.append(
        "<p>Each fused model beside the single-modality model that beats it most (or trails "
        "it least), on the patients both scored; DeLong's test. Flagged: short by more than "
        f"{SHORTFALL_TOLERANCE} AUROC with p &lt; {SHORTFALL_ALPHA}.</p>"
    )
    parts.append(shortfalls.round(4).to_html(index=False, classes="shortfalls"))
    return parts
