"""A prediction's reasons in words: its largest contributions, signed, with the values.

`reasons` turns a `FusionExplanation` into ``reason_1`` .. ``reason_k`` per patient, the
features and modalities that moved the fused log-odds most, largest first, each as
``"+0.84 anti-CCP, highest ever = 340 U/mL (high)"``: the contribution (positive raises
the probability of RA, negative lowers it), then what the patient had. `importance`
averages their sizes over a cohort, by the same words, for the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ramultimodal.ehr._feature_text import describe_feature, feature_label
from ramultimodal.evaluation._contributions import FusionExplanation

__all__ = ["MODALITY_LABELS", "importance", "item_label", "reasons"]

#: How the modalities are named in explanations.
MODALITY_LABELS: dict[str, str] = {
    "image": "radiographs (CNN)",
    "joints": "radiographs (joint grades)",
    "ehr": "health record",
    "pro": "patient-reported outcomes",
}
_ITEM = "modality:"


def _modality_label(name: str) -> str:
    return MODALITY_LABELS.get(name, name)


def item_label(item: str) -> str:
    """The words for a column of `FusionExplanation.features`, without a value.

    Examples
    --------
    >>> item_label("crp_last_90d"), item_label("modality:image")
    ('CRP, last in 90 days', 'radiographs (CNN)')
    """
    if item.startswith(_ITEM):
        return _modality_label(item.removeprefix(_ITEM))
    return feature_label(item)


def _describe_item(explanation: FusionExplanation, item: str, row: int) -> str:
    if not item.startswith(_ITEM):
        value = explanation.values[item].iloc[row] if item in explanation.values else np.nan
        return describe_feature(item, float(value))
    name = item.removeprefix(_ITEM)
    label = _modality_label(name)
    if name in explanation.presence and not bool(explanation.presence[name].iloc[row]):
        return f"{label}: none"
    column = f"proba_{name}"
    if column in explanation.probabilities:
        proba = explanation.probabilities[column].iloc[row]
        if np.isfinite(proba):
            return f"{label}: P(RA) = {proba:.2f}"
    return label


def reasons(explanation: FusionExplanation, k: int = 5) -> pd.DataFrame:
    """The `k` largest contributions of each patient, in words, largest first.

    Parameters
    ----------
    explanation : FusionExplanation
        From `explain_fusion`.
    k : int, default 5
        How many reasons per patient.

    Returns
    -------
    DataFrame
        Indexed like the explanation: ``reason_1`` .. ``reason_k``, each
        ``"<signed contribution> <feature> = <value> <unit>"``; empty where a patient has
        fewer contributions, or none (no modality).
    """
    contributions = explanation.features
    values = contributions.to_numpy(dtype=float)
    magnitude = np.where(np.isfinite(values), np.abs(values), -1.0)
    order = np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
    rows = []
    for row in range(len(contributions)):
        texts = []
        for column in order[row]:
            value = values[row, column]
            if not np.isfinite(value) or value == 0:
                continue
            item = contributions.columns[column]
            texts.append(f"{value:+.2f} {_describe_item(explanation, item, row)}")
        rows.append(texts + [""] * (k - len(texts)))
    return pd.DataFrame(
        rows, index=contributions.index, columns=[f"reason_{i + 1}" for i in range(k)]
    )


def importance(explanation: FusionExplanation, top: int = 15) -> pd.Series:
    """Mean absolute contribution of each feature over the patients, by its words.

    Parameters
    ----------
    explanation : FusionExplanation
    top : int, default 15
        How many of the largest to keep.

    Returns
    -------
    Series
        Indexed by the feature's words (`item_label`), largest first; a patient's missing
        contribution counts as 0.
    """
    sizes = explanation.features.abs().fillna(0.0).mean(axis=0)
    sizes.index = [item_label(item) for item in sizes.index]
    sizes = sizes.groupby(level=0).sum()
    return sizes.sort_values(ascending=False).head(top)
