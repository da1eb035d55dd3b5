"""The model card's Methods items (TRIPOD+AI 5-16) that the pipeline can fill itself.

Each function answers one item from the saved training facts and the evaluation, or returns
None when the pipeline does not know it (the card then asks the authors). What the
library always does (the leakage guard, no imputation, the outcome's definition) is stated
from the code's own constants, never guessed from the data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ramultimodal.evaluation._model_card_context import NOT_RECORDED, CardContext, cohort_line

__all__ = ["METHODS_ITEMS"]


def _data_sources(ctx: CardContext) -> str | None:
    training = cohort_line(ctx.fact("cohort"))
    parts = [f"Development data: {training or NOT_RECORDED}."]
    if ctx.cohort is not None:
        parts.append(f"Evaluation data: {cohort_line(ctx.cohort)}.")
    if ctx.data_description:
        parts.append(ctx.data_description)
    if ctx.synthetic:
        parts.append("The data are synthetic (ramultimodal's generator), not patients.")
    return " ".join(parts)


def _dates(ctx: CardContext) -> str | None:
    def span(cohort: Any) -> str:
        if not isinstance(cohort, dict) or not cohort.get("index_date_first"):
            return NOT_RECORDED
        return f"{cohort['index_date_first']} to {cohort['index_date_last']}"

    parts = [f"Index dates of the development data: {span(ctx.fact('cohort'))}."]
    if ctx.cohort is not None:
        parts.append(f"Index dates of the evaluation data: {span(dict(ctx.cohort))}.")
    parts.append("Follow-up: 12 months after each index date (the outcome's horizon).")
    return " ".join(parts)


def _preparation(ctx: CardContext) -> str | None:
    image_size = ctx.parameters.get("model__image__image_size")
    cut = ctx.fact("predictors", "index_cut")
    return (
        "Events read from FHIR R4 or CSV, units converted to one unit per concept "
        "(ramultimodal.ehr.units), unreadable rows refused or skipped and counted; "
        "radiographs read from DICOM or PNG and checked (a radiograph guard refuses "
        "photographs and other modalities)"
        + (f", letterboxed to {image_size} px" if image_size else "")
        + ". Leakage guard: "
        + (cut or "events and radiographs dated on or before the index day")
        + "; RA diagnoses and DMARD or biologic prescriptions are dropped "
        + (
            "(exclude_leakage on)."
            if ctx.fact("predictors", "exclude_leakage") is not False
            else "unless exclude_leakage is off: it was OFF for this model (leakage)."
        )
    )


def _outcome(ctx: CardContext) -> str | None:
    from ramultimodal.fusion._training_facts import OUTCOME

    outcome = ctx.fact("outcome") or OUTCOME
    return (
        f"{outcome.get('label')} in {outcome.get('file')}: {outcome.get('definition')}. "
        f"Horizon: {outcome.get('horizon_months')} months from the prediction time, "
        f"{outcome.get('prediction_time')}. How the diagnosis was made and confirmed: to be "
        "completed by the authors."
    )


def _initial_predictors(ctx: CardContext) -> str | None:
    predictors = ctx.fact("predictors")
    if not predictors:
        return f"Predictors: {NOT_RECORDED}."
    concepts = ", ".join(predictors.get("concepts") or [])
    return (
        f"Concepts recorded before the index date in the development data and aggregated: "
        f"{concepts}; aggregations {', '.join(predictors.get('aggregations') or [])}; "
        "age, sex, smoking, BMI, family history and symptom duration at the index date; "
        "clinical scores (2010 ACR/EULAR, DAS28, CDAI, SDAI, HAQ-DI, RAPID3); missing-value "
        f"indicators; hand and foot radiographs ({', '.join(predictors.get('body_parts') or [])}"
        "). No data-driven pre-selection: a concept is kept when it was recorded in the "
        "development data."
    )


def _predictor_timing(ctx: CardContext) -> str | None:
    predictors = ctx.fact("predictors")
    if not predictors:
        return f"Predictors and their timing: {NOT_RECORDED}."
    windows = "; ".join(
        f"{count} {window}" for window, count in (predictors.get("n_by_window") or {}).items()
    )
    days = ", ".join("all" if d is None else f"{d} days" for d in predictors["lookback_days"])
    return (
        f"{predictors.get('n_features')} features, each measured relative to the index date: "
        f"{windows}. Look-back windows: {days}. Every feature with its window is listed in "
        "the model folder's training.json."
    )


def _sample_size(ctx: CardContext) -> str | None:
    cohort = ctx.fact("cohort")
    if not isinstance(cohort, dict):
        return None
    n_features = ctx.fact("predictors", "n_features")
    events = cohort.get("n_outcome_events")
    per = (
        f"; {events / n_features:.2f} outcome events per candidate feature"
        if events and n_features
        else ""
    )
    return (
        f"Development: {cohort.get('n_patients')} patients, {events} outcome events{per}. "
        "How the size was arrived at: to be completed by the authors."
    )


def _missing(ctx: CardContext) -> str | None:
    missing = ctx.fact("missing_data")
    modalities = ctx.fact("modalities") or {}
    if not missing:
        return f"Missing data in the development data: {NOT_RECORDED}."
    without = ", ".join(
        f"{name}: {counts.get('missing')} of {counts.get('present', 0) + counts.get('missing', 0)}"
        for name, counts in modalities.items()
    )
    handling = str(missing.get("handling", ""))
    text = handling[:1].upper() + handling[1:] + "."
    share = missing.get("mean_missing_share")
    if share is not None:
        text += f" Mean share of missing values per feature: {share:.2f}."
    if without:
        text += f" Patients without each modality at development: {without}."
    return text


def _data_use(ctx: CardContext) -> str | None:
    validation = ctx.fact("validation")
    if validation:
        return str(validation)
    if ctx.cohort is not None:
        return (
            "Developed on the development data (all of it); evaluated on a separate, "
            "held-out cohort (above) with the saved model, unchanged."
        )
    return None


def _predictor_handling(ctx: CardContext) -> str | None:
    return (
        "Predictors enter the models as computed: no rescaling or transformation for the "
        "gradient-boosted trees; radiographs are cropped to the hand, letterboxed and "
        "normalised for the CNN; each modality (radiographs, EHR, PROs) has its own base "
        "model, combined by the fusion."
    )


def _model_type(ctx: CardContext) -> str | None:
    model = ctx.fact("model")
    if not isinstance(model, dict):
        return f"Model: {NOT_RECORDED}."
    params = ctx.parameters
    inner = params.get("model__cv")
    parts = [
        f"{model.get('kind')}"
        + (
            f" in a {model.get('pipeline')}"
            if model.get("pipeline") not in (None, "feature table")
            else " on the feature table"
        )
        + f": {len(params)} hyper-parameters, all listed below (Hyper-parameters) and in "
        "training.json"
    ]
    bases = [f"{key.removeprefix('model__')}: {value}" for key, value in params.items()
             if key.count("__") == 1 and key.startswith("model__") and isinstance(value, str)
             and value[:1].isupper()]  # fmt: skip
    if bases:
        parts.append("base models " + ", ".join(bases))
    if inner:
        parts.append(f"out-of-fold predictions of the base models from {inner}-fold inner CV")
    others = model.get("others")
    if others:
        parts.append(f"also compared: {', '.join(others)}")
    parts.append(
        "hyper-parameters fixed (library defaults or the configuration), not tuned, "
        "unless the authors say otherwise"
    )
    return "; ".join(parts) + "."


def _measures(ctx: CardContext) -> str | None:
    baseline = ctx.evaluation.baseline
    return (
        "AUROC, AUPRC, Brier score, sensitivity at specificity 0.61 (the 2010 ACR/EULAR "
        "criteria's pooled specificity, Radner 2014) and 0.95, calibration slope and "
        "intercept, expected calibration error, each with a 95% percentile bootstrap "
        "interval; decision curves (net benefit)"
        + (
            f"; each model against {baseline}: paired-bootstrap AUROC difference and "
            "DeLong's test on the patients both scored."
            if baseline
            else "."
        )
    )


def _calibration_params(ctx: CardContext) -> dict[str, Any]:
    return {
        key: value
        for key, value in ctx.parameters.items()
        if key.rsplit("__", 1)[-1].startswith("calibrat") and value not in (None, False, "none")
    }


def _updating(ctx: CardContext) -> str | None:
    calibration = _calibration_params(ctx)
    if calibration:
        shown = ", ".join(f"{key}={value}" for key, value in calibration.items())
        return f"Calibration fitted as part of the model at development ({shown})."
    return "No model updating: the evaluated model is the saved one, unchanged."


def _how_predicted(ctx: CardContext) -> str | None:
    commit = ctx.fact("git_commit")
    version = ctx.fact("versions", "ramultimodal")
    return (
        "With the saved model folder (ramultimodal predict / evaluate, or "
        "ramultimodal.fusion.load_model), whose files are checked against their sha256 "
        "before loading; features are computed at each patient's index date with the "
        "feature extraction fitted at development"
        + (f"; trained with ramultimodal {version}" if version else "")
        + (f", commit {commit}" if commit else "")
        + "."
    )


def _imbalance(ctx: CardContext) -> str | None:
    weights = {
        key: value
        for key, value in ctx.parameters.items()
        if key.endswith("class_weight") and value is not None
    }
    prevalence = ctx.fact("cohort", "prevalence")
    if ctx.training is None:
        return f"Class weights and development prevalence: {NOT_RECORDED}."
    parts = []
    if prevalence is not None:
        parts.append(f"Development prevalence {prevalence:.2f}")
    parts.append(
        "class weights: " + ", ".join(f"{k}={v}" for k, v in weights.items())
        if weights
        else "no class weights"
    )
    parts[0] = parts[0][0].upper() + parts[0][1:]
    parts.append("no resampling; probabilities are reported as fitted")
    return "; ".join(parts) + "."


def _fairness(ctx: CardContext) -> str | None:
    subgroups = ctx.evaluation.subgroups
    if subgroups is None or subgroups.empty:
        return None
    variables = ", ".join(dict.fromkeys(subgroups["variable"].astype(str)))
    return (
        f"Performance is reported by subgroup ({variables}) with intervals, and the gap to "
        "all patients (23a). Other approaches to fairness: to be completed by the authors."
    )


def _output(ctx: CardContext) -> str | None:
    return (
        "A probability (0-1) of RA within 12 months per patient, with each modality's own "
        "probability and which modalities the patient had; no decision threshold is set by "
        "the model (the report shows sensitivity at the criteria's specificity and net "
        "benefit across thresholds). A patient with no modality gets no probability."
    )


def _differences(ctx: CardContext) -> str | None:
    training, evaluation = ctx.fact("cohort"), ctx.cohort
    if evaluation is None:
        return None
    if not isinstance(training, dict):
        return f"Evaluation: {cohort_line(evaluation)}. Development data: {NOT_RECORDED}."
    return (
        f"Development: {cohort_line(training)}. Evaluation: {cohort_line(evaluation)}. Same "
        "outcome definition and predictors (the saved feature extraction). Differences in "
        "setting and eligibility: to be completed by the authors."
    )


#: The Methods items the pipeline fills, by item number.
METHODS_ITEMS: dict[str, Callable[[CardContext], str | None]] = {
    "5a": _data_sources,
    "5b": _dates,
    "7": _preparation,
    "8a": _outcome,
    "9a": _initial_predictors,
    "9b": _predictor_timing,
    "10": _sample_size,
    "11": _missing,
    "12a": _data_use,
    "12b": _predictor_handling,
    "12c": _model_type,
    "12e": _measures,
    "12f": _updating,
    "12g": _how_predicted,
    "13": _imbalance,
    "14": _fairness,
    "15": _output,
    "16": _differences,
}
