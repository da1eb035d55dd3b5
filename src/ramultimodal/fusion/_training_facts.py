"""What a model was trained on and how, kept beside it as ``training.json``.

A model card (TRIPOD+AI, Collins et al., BMJ 2024;385:e078378) asks for facts that only the
training run knows: how many patients and outcome events, the index dates, where the data
came from, which predictors were measured when, how often each modality was missing, the
model's every hyper-parameter and the versions that fitted it. `training_facts` gathers
them as plain JSON (counts and dates, never a patient identifier); `save_model(...,
training=facts)` writes them into the model folder, hashed in its manifest like every other
file; `read_training_facts` reads them back after checking that hash. A folder saved
without them (older ones) says so: `read_training_facts` returns None.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.fusion._persist import TRAINING, _read_manifest, _sha256, _versions
from ramultimodal.fusion._plain import ModelFolderError
from ramultimodal.fusion._plain_classes import saved_class

__all__ = [
    "OUTCOME",
    "cohort_facts",
    "development_facts",
    "hyperparameters",
    "missing_data_facts",
    "outcome_facts",
    "predictor_facts",
    "read_training_facts",
    "training_facts",
]

logger = logging.getLogger(__name__)

FORMAT = "ramultimodal.training"
FORMAT_VERSION = 1

#: The outcome every ramultimodal model predicts: ``labels.csv``'s ``ra`` (docs/data-model.md).
OUTCOME: dict[str, Any] = {
    "label": "ra",
    "file": "labels.csv",
    "definition": (
        "1 = rheumatoid arthritis diagnosed within 12 months of the index date (the "
        "prediction time), 0 = not; RA diagnoses and DMARD or biologic prescriptions are "
        "the label's evidence and are never features"
    ),
    "horizon_months": 12,
    "horizon_days": 365,
    "prediction_time": "the index date (patients.csv index_date)",
}


def outcome_facts(horizon_days: int | None = None, censored: str | None = None) -> dict:
    """`OUTCOME`, or RA within another horizon derived from time to RA (`horizon_labels`).

    Examples
    --------
    >>> outcome_facts(183, "exclude")["horizon_months"]
    6
    """
    if horizon_days is None:
        return dict(OUTCOME)
    return dict(
        OUTCOME,
        label=f"RA within {horizon_days} days",
        definition=(
            f"1 = rheumatoid arthritis diagnosed within {horizon_days} days of the index date "
            "(labels.csv event = 1 and time_to_ra_days <= the horizon), 0 = followed past it "
            "free of RA; patients censored before it "
            + ("left out" if censored == "exclude" else "counted free of RA")
            + "; RA diagnoses and DMARD or biologic prescriptions are the label's evidence "
            "and are never features"
        ),
        horizon_months=round(horizon_days / (365.25 / 12)),
        horizon_days=int(horizon_days),
        censored=censored,
    )


_WINDOW = re.compile(r"_(\d+)d$")
_AT_INDEX = ("age_at_index", "sex_female", "smoking_", "bmi", "family_history_ra")


def training_facts(
    pipeline: Any,
    records: Any,
    features: pd.DataFrame | None = None,
    *,
    source: str | None = None,
    data_name: str | None = None,
) -> dict[str, Any]:
    """The facts of a training run, as plain JSON data for ``training.json``.

    Parameters
    ----------
    pipeline : CohortPipeline or fusion classifier
        The fitted model.
    records : CohortRecords
        The training records, with their labels.
    features : DataFrame, optional
        ``pipeline[:-1].transform(records)`` when already computed (a pipeline only).
    source : str, optional
        Where the events came from (``"fhir/ndjson"``, ``"events.csv"``...).
    data_name : str, optional
        The cohort folder's name (not its whole path).

    Returns
    -------
    dict
        ``format``, ``format_version``, ``date`` (the UTC day), ``cohort`` (patients, outcome
        events, index-date range, source, events and radiographs read), ``outcome``,
        ``modalities`` (patients with and without each), ``predictors`` (each feature with
        its modality and look-back window), ``missing_data``, ``model`` (kind and every
        hyper-parameter), ``versions`` and ``git_commit``.

    Examples
    --------
    >>> from ramultimodal.fusion._training_facts import OUTCOME
    >>> OUTCOME["horizon_months"]
    12
    """
    from ramultimodal.fusion._pipeline import CohortPipeline

    fusion = pipeline._final_estimator if isinstance(pipeline, CohortPipeline) else pipeline
    if features is None and isinstance(pipeline, CohortPipeline):
        features = pipeline[:-1].transform(records)
    predictors = {}
    if isinstance(pipeline, CohortPipeline):
        featurizer = pipeline[0]
        predictors = predictor_facts(
            featurizer.get_feature_names_out(), featurizer.ehr_, featurizer.image_column,
            featurizer.body_parts,
        )  # fmt: skip
    facts: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "date": _today(),
        "cohort": cohort_facts(
            records.labels,
            records.patients["index_date"],
            source=source,
            data_name=data_name,
            n_events_read=len(records.events),
            n_radiographs_read=0 if records.images is None else len(records.images),
        ),
        "outcome": dict(OUTCOME),
        "modalities": _modalities(fusion, features) if features is not None else {},
        "predictors": predictors,
        "missing_data": missing_data_facts(features) if features is not None else {},
        "model": {
            "pipeline": type(pipeline).__name__,
            "kind": type(fusion).__name__,
            "parameters": hyperparameters(pipeline),
        },
        "versions": _versions(),
        "git_commit": _git_commit(),
    }
    return _plain(facts)


def development_facts(
    features: pd.DataFrame,
    y: Any,
    models: Mapping[str, Any],
    *,
    primary: str,
    index_dates: Any,
    image_column: str = "image",
    source: str | None = None,
    data_name: str | None = None,
    validation: str | None = None,
) -> dict[str, Any]:
    """Training facts for models developed on a feature table (cross-validated, say).

    What `training_facts` gives for a saved pipeline, for the models of a study that
    compares several on one feature table (the demo): the cohort, the modalities, the
    predictors and their windows, missing data, and every model's hyper-parameters.

    Parameters
    ----------
    features : DataFrame
        The feature table (`ramultimodal.load_dataset`).
    y : array-like
        The outcome.
    models : mapping of name to estimator
        The models developed; `primary` is the one the card is about.
    primary : str
    index_dates : array-like
        Each patient's index date.
    image_column : str, default "image"
    source, data_name : str, optional
        Where the events came from, and the cohort folder's name.
    validation : str, optional
        How the data were used (``"3-fold cross-validation..."``), for TRIPOD+AI item 12a.

    Returns
    -------
    dict
        As `training_facts`, with ``models`` (every other model's kind and parameters)
        and ``validation``.
    """
    from ramultimodal.ehr._modalities import feature_modality
    from ramultimodal.fusion._presence import modality_presence

    names = [str(c) for c in features.columns]
    groups: dict[str, list[str]] = {}
    for name in names:
        modality = "image" if name == image_column else feature_modality(name)
        groups.setdefault(modality, []).append(name)
    modalities = {}
    for modality, columns in groups.items():
        data = features[columns[0]] if modality == "image" else features[columns]
        present = int(modality_presence(data).sum())
        modalities[modality] = {"present": present, "missing": len(features) - present}
    model = models[primary]
    facts: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "date": _today(),
        "cohort": cohort_facts(y, index_dates, source=source, data_name=data_name),
        "outcome": dict(OUTCOME),
        "modalities": modalities,
        "predictors": predictor_facts(names, image_column=image_column),
        "missing_data": missing_data_facts(features),
        "model": {
            "pipeline": "feature table",
            "kind": type(model).__name__,
            "evaluated_as": primary,
            "parameters": hyperparameters(model),
            "others": [name for name in models if name != primary],
        },
        "models": {
            name: {"kind": type(other).__name__, "parameters": hyperparameters(other)}
            for name, other in models.items()
            if name != primary
        },
        "validation": validation,
        "versions": _versions(),
        "git_commit": _git_commit(),
    }
    return _plain(facts)


def cohort_facts(
    labels: Any,
    index_dates: Any,
    *,
    source: str | None = None,
    data_name: str | None = None,
    **counts: int,
) -> dict[str, Any]:
    """A cohort in counts: patients, outcome events, prevalence, index-date range.

    Examples
    --------
    >>> facts = cohort_facts([0, 1, 1], ["2020-01-05", "2021-03-01", "2020-07-01"])
    >>> facts["n_patients"], facts["n_outcome_events"], facts["index_date_last"]
    (3, 2, '2021-03-01')
    """
    y = np.asarray(labels if labels is not None else [], dtype=float)
    dates = pd.to_datetime(pd.Series(np.asarray(index_dates, dtype=object)))
    return {
        "name": data_name,
        "source": source,
        "n_patients": len(dates),
        "n_outcome_events": int(np.nansum(y)) if y.size else None,
        "prevalence": float(np.nanmean(y)) if y.size else None,
        "index_date_first": _day(dates.min()),
        "index_date_last": _day(dates.max()),
        **{name: int(value) for name, value in counts.items()},
    }


def hyperparameters(estimator: Any) -> dict[str, Any]:
    """Every parameter of `estimator` (``get_params(deep=True)``), as plain JSON values.

    Generic on purpose: a parameter added to any part of the model later appears here
    with no change. A part that is itself an estimator is named by its class. ``verbose``
    (progress bars, log output) is left out: it changes no prediction.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> hyperparameters(LogisticRegression(C=0.5))["C"]
    0.5
    """
    params = estimator.get_params(deep=True)
    return {
        str(name): _plain(value)
        for name, value in sorted(params.items())
        # Progress bars and log output change no number (the model folder saves a CNN's
        # as 0): kept out, so that a quiet and a verbose training save the same bytes.
        if not str(name).rsplit("__", 1)[-1] == "verbose"
    }


def read_training_facts(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The training facts saved with a model, after checking their sha256; None if absent.

    Parameters
    ----------
    directory : str or path-like
        A model folder (`save_model`, ``ramultimodal train``).

    Returns
    -------
    dict or None
        As `training_facts` made them; None for a folder saved without them (the model
        card then says "not recorded").

    Raises
    ------
    ModelFolderError
        When the folder is not a model, or ``training.json`` is listed but missing,
        changed after saving, a symbolic link or not a JSON object.
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    digest = manifest["files"].get(TRAINING)
    path = directory / TRAINING
    if digest is None:
        if path.exists():
            logger.warning("%s is not listed in the manifest: it is not read.", path)
        return None
    if path.is_symlink() or not path.is_file():
        raise ModelFolderError(f"{path} is listed in the manifest but is not a plain file.")
    if _sha256(path) != digest:
        raise ModelFolderError(
            f"{path} does not match its sha256 in the manifest: it was changed or damaged "
            "after saving; do not trust it."
        )
    try:
        facts = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ModelFolderError(f"{path} is not valid JSON.") from None
    if not isinstance(facts, dict) or facts.get("format") != FORMAT:
        raise ModelFolderError(f"{path} does not hold ramultimodal training facts.")
    return facts


def _today() -> str:
    """The UTC day of training (or of ``SOURCE_DATE_EPOCH``, for reproducible builds).

    A day, not a time: the same model trained twice the same day saves the same bytes
    (docs/model-folder.md), training.json included.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    now = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return now.date().isoformat()


def _day(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _modalities(fusion: Any, features: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Patients with and without each of the fusion's modalities (as it is fitted)."""
    counts = {}
    for name, _, columns in fusion._used_modalities():
        present = int(fusion._modality_data(features, columns)[1].sum())
        counts[str(name)] = {"present": present, "missing": len(features) - present}
    return counts


def _window(name: str, image_column: str) -> str:
    """When a feature is measured, relative to the index date (EHRFeaturizer's names)."""
    if name == image_column:
        return "radiographs dated on or before the index date"
    if name.endswith("_missing"):
        return "indicator: not recorded on or before the index date"
    match = _WINDOW.search(name)
    if match:
        return f"{match.group(1)} days before the index date, up to the index day"
    if name.endswith("_all"):
        return "whole history up to the index day"
    if name.startswith(_AT_INDEX):
        return "last value on or before the index day"
    if name == "symptom_duration_weeks":
        return "from the first joint symptom to the index day"
    return "at the index date, from the last value of each input"


def predictor_facts(
    feature_names: Any,
    ehr: Any = None,
    image_column: str = "image",
    body_parts: Any = ("HAND", "FOOT"),
) -> dict[str, Any]:
    """Each predictor with its modality and when it is measured relative to the index date.

    Parameters
    ----------
    feature_names : sequence of str
        The feature table's columns (`EHRFeaturizer`'s names and `image_column`).
    ehr : EHRFeaturizer, optional
        The fitted featurizer, for its look-back windows, aggregations and concepts.
    image_column : str, default "image"
    body_parts : sequence of str, default ("HAND", "FOOT")

    Examples
    --------
    >>> facts = predictor_facts(["crp_last_90d", "haq_di_score", "image"])
    >>> [(f["name"], f["modality"]) for f in facts["features"]]
    [('crp_last_90d', 'ehr'), ('haq_di_score', 'pro'), ('image', 'image')]
    >>> facts["features"][0]["window"]
    '90 days before the index date, up to the index day'
    """
    from ramultimodal.ehr import EHRFeaturizer
    from ramultimodal.ehr._modalities import feature_modality

    ehr = ehr if ehr is not None else EHRFeaturizer()
    names = [str(name) for name in feature_names]
    windows = [_window(name, image_column) for name in names]
    listed = [
        {
            "name": name,
            "modality": "image" if name == image_column else feature_modality(name),
            "window": window,
        }
        for name, window in zip(names, windows, strict=True)
    ]
    return {
        "index_cut": (
            "events and radiographs dated on or before the index day"
            if ehr.max_time != "all"
            else "none (max_time='all'): events after the index date were used (leakage)"
        ),
        "exclude_leakage": bool(ehr.exclude_leakage),
        "lookback_days": list(ehr.lookback_days),
        "aggregations": list(getattr(ehr, "aggregations", ()) or ()),
        "concepts": sorted(str(c) for c in getattr(ehr, "concepts_", ehr.concepts or ())),
        "body_parts": [str(part) for part in body_parts],
        "n_features": len(names),
        "n_by_window": {window: windows.count(window) for window in dict.fromkeys(windows)},
        "features": listed,
    }


def missing_data_facts(features: pd.DataFrame) -> dict[str, Any]:
    """How much of the feature table is missing, and how the models handle it.

    Examples
    --------
    >>> missing_data_facts(pd.DataFrame({"a": [1.0, None], "b": [1.0, 2.0]}))["mean_missing_share"]
    0.25
    """
    numeric = features.select_dtypes("number")
    share = numeric.isna().mean() if numeric.shape[1] else pd.Series(dtype=float)
    return {
        "handling": (
            "no imputation: missing values stay NaN, which the gradient-boosted trees route "
            "at each split; missing-value indicators are features; a patient without a "
            "modality gets no prediction from that modality's model, and the fusion "
            "combines the modalities the patient has"
        ),
        "mean_missing_share": float(share.mean()) if len(share) else None,
        "features_never_missing": int((share == 0).sum()),
        "features_always_missing": int((share == 1).sum()),
    }


def _git_commit() -> str | None:
    """The commit of the ramultimodal source, when it runs from a git checkout."""
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _plain(value: Any) -> Any:
    """`value` as JSON data: estimators by class name, NaN as None, arrays as lists."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray) and value.size <= 1000:
        return _plain(value.tolist())
    if isinstance(value, Path):
        return value.name
    name = getattr(value, "__name__", None)
    return name if isinstance(name, str) else saved_class(value).__name__
