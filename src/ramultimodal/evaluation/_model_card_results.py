"""The model card's Results and Discussion items (TRIPOD+AI 20-27) the pipeline can fill.

The numbers come from the evaluation (metrics with their bootstrap intervals, the
comparison with the baseline, subgroups, decision curves) and the saved training facts;
an item the pipeline cannot know returns None and is left to the authors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ramultimodal.evaluation._model_card_context import NOT_RECORDED, CardContext, cohort_line

__all__ = ["RESULTS_ITEMS", "interval"]

#: Thresholds at which the card quotes the decision curve (probability of RA).
_DECISION_THRESHOLDS = (0.1, 0.2, 0.3)


def interval(metrics: pd.DataFrame, model: str, metric: str) -> str:
    """``value [low, high]`` of one metric of one model, to 3 decimals.

    Examples
    --------
    >>> table = pd.DataFrame({"auroc": [0.8], "auroc_low": [0.7], "auroc_high": [0.9]},
    ...                      index=["m"])
    >>> interval(table, "m", "auroc")
    '0.800 [0.700, 0.900]'
    """
    row = metrics.loc[model]
    value = row.get(metric)
    if value is None or pd.isna(value):
        return "not computed"
    low, high = row.get(f"{metric}_low"), row.get(f"{metric}_high")
    if low is None or pd.isna(low):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _flow(ctx: CardContext) -> str | None:
    y = np.asarray(ctx.evaluation.y_true)
    metrics = ctx.evaluation.metrics
    scored = ", ".join(f"{name} {int(n)}" for name, n in metrics["n"].items())
    return (
        f"Evaluation: {y.size} patients, {int(y.sum())} with RA within 12 months and "
        f"{int(y.size - y.sum())} without. Patients each model could score: {scored}."
    )


def _characteristics(ctx: CardContext) -> str | None:
    parts = [f"Development: {cohort_line(ctx.fact('cohort')) or NOT_RECORDED}"]
    modalities = ctx.fact("modalities") or {}
    if modalities:
        parts.append(
            "with each modality: "
            + ", ".join(f"{name} {c.get('present')}" for name, c in modalities.items())
        )
    subgroups = ctx.evaluation.subgroups
    if subgroups is not None and not subgroups.empty:
        first = subgroups[subgroups["model"] == subgroups["model"].iloc[0]]
        levels = ", ".join(
            f"{row.level} {int(row.n)} ({int(row.n_positive)} RA)" for row in first.itertuples()
        )
        parts.append(f"evaluation subgroups: {levels}")
    return "; ".join(parts) + "."


def _versus_development(ctx: CardContext) -> str | None:
    if ctx.cohort is None:
        return None
    training = ctx.fact("cohort")
    if not isinstance(training, dict):
        return f"Development data: {NOT_RECORDED}."
    rows = [("patients", "n_patients"), ("prevalence", "prevalence")]
    shown = "; ".join(
        f"{what}: {_number(training.get(key))} at development, "
        f"{_number(ctx.cohort.get(key))} at evaluation"
        for what, key in rows
    )
    return (
        shown[:1].upper()
        + shown[1:]
        + ". Key predictors by cohort: to be completed by the authors."
    )


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _development(ctx: CardContext) -> str | None:
    cohort = ctx.fact("cohort")
    modalities = ctx.fact("modalities") or {}
    if not isinstance(cohort, dict):
        return f"Development analysis: {NOT_RECORDED}."
    parts = [
        f"The model: {cohort.get('n_patients')} patients, "
        f"{cohort.get('n_outcome_events')} outcome events"
    ]
    parts.extend(
        f"{name} model on the {c.get('present')} patients with that modality"
        for name, c in modalities.items()
    )
    return "; ".join(parts) + "."


def _specification(ctx: CardContext) -> str | None:
    return (
        "The whole model (feature extraction, base models, fusion) is the model folder: "
        "model.json (plain data), LightGBM/XGBoost boosters in their own text formats, CNN "
        "weights in safetensors, and a manifest with every file's sha256 "
        "(docs/model-folder.md); load it with ramultimodal.fusion.load_model."
    )


def _performance(ctx: CardContext) -> str | None:
    evaluation = ctx.evaluation
    metrics, model = evaluation.metrics, ctx.primary
    parts = [
        f"{model} on {int(metrics.loc[model, 'n'])} patients: AUROC "
        f"{interval(metrics, model, 'auroc')}, AUPRC {interval(metrics, model, 'auprc')}, "
        f"Brier {interval(metrics, model, 'brier')}, calibration slope "
        f"{interval(metrics, model, 'calibration_slope')}, expected calibration error "
        f"{interval(metrics, model, 'ece')}"
    ]
    versus = evaluation.versus_baseline
    if evaluation.baseline and model in versus.index:
        row = versus.loc[model]
        low, high = row.get("auroc_difference_low"), row.get("auroc_difference_high")
        p_value = row.get("delong_p")
        parts.append(
            f"against {evaluation.baseline}: AUROC difference {row['auroc_difference']:.3f}"
            + (f" [{low:.3f}, {high:.3f}]" if low is not None and pd.notna(low) else "")
            + (f", DeLong p = {p_value:.3g}" if p_value is not None and pd.notna(p_value) else "")
        )
    subgroups = evaluation.subgroups
    if subgroups is not None and not subgroups.empty:
        own = subgroups[(subgroups["model"] == model) & subgroups["value"].notna()]
        if not own.empty:
            worst = own.loc[own["value"].idxmin()]
            best = own.loc[own["value"].idxmax()]
            parts.append(
                f"subgroup AUROC from {worst['value']:.3f} ({worst['variable']} "
                f"{worst['level']}, n {int(worst['n'])}) to {best['value']:.3f} "
                f"({best['variable']} {best['level']}, n {int(best['n'])})"
            )
    curve = evaluation.decision_curve
    if curve is not None and model in getattr(curve, "columns", ()):
        quoted = []
        for threshold in _DECISION_THRESHOLDS:
            nearest = curve.index[np.argmin(np.abs(curve.index.to_numpy(float) - threshold))]
            quoted.append(
                f"{nearest:.2f}: {curve.loc[nearest, model]:.3f} "
                f"(treat all {curve.loc[nearest, 'treat_all']:.3f})"
            )
        parts.append("net benefit at thresholds " + "; ".join(quoted))
    recalibrated = getattr(evaluation, "recalibration", None)
    if recalibrated is not None and model in recalibrated.index:
        row = recalibrated.loc[model]
        if pd.notna(row["slope_after"]):
            parts.append(
                f"after a cross-fitted sigmoid recalibration (report's recalibration table): "
                f"calibration slope {row['slope']:.2f} -> {row['slope_after']:.2f}, "
                f"ECE {row['ece']:.3f} -> {row['ece_after']:.3f}"
            )
    others = [name for name in metrics.index if name != model]
    if others:
        parts.append(
            "other models: "
            + ", ".join(f"{name} {interval(metrics, name, 'auroc')}" for name in others)
        )
    return "; ".join(parts) + ". The full tables are in the report."


def _updating_results(ctx: CardContext) -> str | None:
    from ramultimodal.evaluation._model_card_methods import METHODS_ITEMS

    return METHODS_ITEMS["12f"](ctx)


def _limitations(ctx: CardContext) -> str | None:
    parts = [
        "validated only on the data described here; another clinic, scanner or population "
        "needs its own evaluation",
        "the 2010 ACR/EULAR criteria are a classification, not a diagnostic, instrument",
        "subgroup estimates on few patients have wide intervals",
    ]
    if ctx.synthetic:
        parts.insert(0, "the data are synthetic: the numbers show that the pipeline works")
    if ctx.training is None:
        parts.append("the training data are not recorded with the model")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _inputs_in_use(ctx: CardContext) -> str | None:
    return (
        "A patient without a radiograph is scored from the EHR and PROs (and so on for each "
        "modality); a patient with no modality gets no probability; radiographs dated after "
        "the index date or of another body part are left out and counted; unreadable rows "
        "and files are refused with the file and line, or skipped and counted (errors='skip')."
    )


#: The Results and Discussion items the pipeline fills, by item number.
RESULTS_ITEMS: dict[str, Callable[[CardContext], str | None]] = {
    "20a": _flow,
    "20b": _characteristics,
    "20c": _versus_development,
    "21": _development,
    "22": _specification,
    "23a": _performance,
    "24": _updating_results,
    "26": _limitations,
    "27a": _inputs_in_use,
}
