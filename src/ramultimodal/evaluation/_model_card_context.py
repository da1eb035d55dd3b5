"""What the model card's items are filled from: the evaluation and the saved training facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ramultimodal.evaluation._clinical import ClinicalEvaluation

__all__ = ["NOT_RECORDED", "CardContext"]

#: What the card says of a training fact that a model folder does not hold.
NOT_RECORDED = (
    "not recorded (the model folder has no training.json: it was saved before ramultimodal "
    "kept its training facts, or by save_model without them)"
)


@dataclass
class CardContext:
    """The facts one model card is written from.

    Attributes
    ----------
    evaluation : ClinicalEvaluation
    training : mapping or None
        ``training.json`` (`ramultimodal.fusion.read_training_facts`); None: not recorded.
    cohort : mapping or None
        The evaluation cohort in counts (`ramultimodal.fusion.cohort_facts`), when it is
        another cohort than the training one.
    synthetic : bool
    data_description : str
    """

    evaluation: ClinicalEvaluation
    training: Mapping[str, Any] | None = None
    cohort: Mapping[str, Any] | None = None
    synthetic: bool = False
    data_description: str = ""

    def fact(self, *keys: str) -> Any:
        """A training fact by its path of keys (None when absent)."""
        value: Any = self.training
        for key in keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    @property
    def parameters(self) -> dict[str, Any]:
        params = self.fact("model", "parameters")
        return dict(params) if isinstance(params, Mapping) else {}

    @property
    def primary(self) -> str:
        """The model the card is about: the saved model's, else the best AUROC."""
        metrics = self.evaluation.metrics
        for name in (self.fact("model", "evaluated_as"), self.fact("model", "kind")):
            if isinstance(name, str) and name in metrics.index:
                return name
        candidates = metrics.drop(index=[self.evaluation.baseline], errors="ignore")
        return str((candidates if len(candidates) else metrics)["auroc"].idxmax())


def cohort_line(cohort: Mapping[str, Any] | None) -> str | None:
    """One cohort in a sentence: patients, outcome events, index dates, source."""
    if not isinstance(cohort, Mapping):
        return None
    parts = [f"{cohort.get('n_patients')} patients"]
    if cohort.get("n_outcome_events") is not None:
        parts[0] += (
            f", {cohort['n_outcome_events']} with RA within 12 months "
            f"(prevalence {float(cohort.get('prevalence') or 0):.2f})"
        )
    if cohort.get("index_date_first"):
        parts.append(f"index dates {cohort['index_date_first']} to {cohort.get('index_date_last')}")
    if cohort.get("source"):
        parts.append(f"events from {cohort['source']}")
    for key, what in (("n_events_read", "events"), ("n_radiographs_read", "radiographs")):
        if cohort.get(key) is not None:
            parts.append(f"{cohort[key]} {what} read")
    name = f" ({cohort['name']})" if cohort.get("name") else ""
    return "; ".join(parts) + name
