"""Train, evaluate and predict with a fused model stored in a folder.

These are the library functions behind ``ramultimodal train``, ``evaluate`` and
``predict``: the CLI only parses arguments and prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ramultimodal._dataset import DatasetError, load_dataset
from ramultimodal.models import make_model, modality_columns

__all__ = [
    "FUSION_KINDS",
    "align_features",
    "evaluate_model",
    "is_synthetic_cohort",
    "predict_dataset",
    "read_config",
    "train_model",
]

#: Model kinds that `train_model` saves (the fusions; single modalities are in the demo).
FUSION_KINDS: tuple[str, ...] = ("late", "stacking", "early")
_IMAGE_COLUMN = "image"
_CONFIG_KEYS = {"image_params", "ehr_params", "fusion_params", "random_state"}


def read_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """Read a JSON training configuration (``image_params``, ``ehr_params``,
    ``fusion_params``, ``random_state``), checking its keys."""
    if path is None:
        return {}
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read the configuration {path}: {error}.") from None
    if not isinstance(config, dict) or set(config) - _CONFIG_KEYS:
        got = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ValueError(
            f"{path}: a configuration is a JSON object with keys among "
            f"{sorted(_CONFIG_KEYS)}; got {got}."
        )
    return config


def align_features(X: pd.DataFrame, model) -> pd.DataFrame:
    """Give X the columns the model was fitted on, in order (missing ones as NaN).

    A featurizer fitted on another dataset can produce a slightly different feature set
    (an aggregation undefined for every patient there is left out); a missing feature is
    missing information, which every model here handles as NaN.
    """
    expected = list(model.feature_names_in_)
    missing = [column for column in expected if column not in X.columns]
    aligned = X.reindex(columns=expected)
    if _IMAGE_COLUMN in missing:
        aligned[_IMAGE_COLUMN] = [[] for _ in range(len(aligned))]
    return aligned


def train_model(
    data_dir: str | os.PathLike,
    kind: str,
    out_dir: str | os.PathLike,
    *,
    config: Mapping[str, Any] | None = None,
    source: str = "auto",
    overwrite: bool = False,
) -> Path:
    """Train a fusion model on a cohort directory and save it.

    Parameters
    ----------
    data_dir : path
        A cohort directory with labels (see `ramultimodal.load_dataset`).
    kind : {"late", "stacking", "early"}
    out_dir : path
        Folder to write the model to (`ramultimodal.fusion.save_model`).
    config : mapping, optional
        ``image_params``, ``ehr_params``, ``fusion_params``, ``random_state`` for
        `ramultimodal.models.make_model`.
    source : str, default "auto"
        Events source of the cohort directory.
    overwrite : bool, default False

    Returns
    -------
    Path
        `out_dir`.
    """
    from ramultimodal.fusion import save_model

    if kind not in FUSION_KINDS:
        raise ValueError(f"Unknown model {kind!r}; choose one of {', '.join(FUSION_KINDS)}.")
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; choose another folder or use --force.")
    X, y = load_dataset(data_dir, source=source)
    if y is None:
        raise DatasetError(f"{data_dir} has no labels.csv: training needs the labels.")
    columns = modality_columns(X.columns, image_column=_IMAGE_COLUMN)
    model = make_model(
        kind,
        ehr_columns=columns["ehr"],
        pro_columns=columns["pro"],
        image_column=_IMAGE_COLUMN,
        **dict(config or {}),
    )
    model.fit(X, y.to_numpy())
    save_model(model, out_dir, overwrite=overwrite)
    return out_dir


def predict_dataset(
    model_dir: str | os.PathLike, data_dir: str | os.PathLike, *, source: str = "auto"
) -> pd.DataFrame:
    """Predict every patient of a cohort directory with a saved fusion model.

    Returns
    -------
    DataFrame
        Indexed by ``subject_id``: ``proba`` (the fused probability of RA within 12
        months), each modality's probability ``proba_<name>`` where the fusion has one, and
        ``has_<name>``, whether the patient had that modality.
    """
    from ramultimodal.fusion import load_model

    model = load_model(model_dir)
    X, _ = load_dataset(data_dir, source=source)
    return model.predict_modalities(align_features(X, model))


def evaluate_model(
    model_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    report_dir: str | os.PathLike,
    *,
    source: str = "auto",
    n_boot: int = 1000,
    synthetic: bool | None = None,
    overwrite: bool = False,
) -> Path:
    """Evaluate a saved model on a labelled cohort directory and write the report.

    The model is compared with each of its modalities alone (the fusion's own base models)
    and with the 2010 ACR/EULAR criteria, on the same patients.

    Returns
    -------
    Path
        The report's ``report.html``.
    """
    from ramultimodal.ehr import ACREULARClassifier
    from ramultimodal.evaluation import clinical_subgroups, evaluate_predictions, write_report
    from ramultimodal.fusion import load_model

    model = load_model(model_dir)
    X, y = load_dataset(data_dir, source=source)
    if y is None:
        raise DatasetError(f"{data_dir} has no labels.csv: evaluation needs the labels.")
    explained = model.predict_modalities(align_features(X, model))
    criteria = ACREULARClassifier().fit(X, y)
    predictions = {"ACR/EULAR 2010": criteria.predict_proba(X)[:, 1]}
    for column in explained.columns:
        if column.startswith("proba_"):
            predictions[f"{column.removeprefix('proba_')} alone"] = explained[column].to_numpy()
    predictions[f"{type(model).__name__}"] = explained["proba"].to_numpy()
    evaluation = evaluate_predictions(
        y.to_numpy(),
        predictions,
        baseline="ACR/EULAR 2010",
        subgroups=clinical_subgroups(X),
        n_boot=n_boot,
    )
    if synthetic is None:
        synthetic = is_synthetic_cohort(data_dir)
    return write_report(
        evaluation,
        report_dir,
        title=f"ramultimodal: {type(model).__name__} on {Path(data_dir).name}",
        data_description=f"{len(y)} patients from {Path(data_dir).name}; model from "
        f"{Path(model_dir).name}. Held-out evaluation of a trained model.",
        synthetic=synthetic,
        overwrite=overwrite,
    )


def is_synthetic_cohort(data_dir: str | os.PathLike) -> bool:
    """Whether a cohort directory was written by the generator (its ``cohort.json`` says so)."""
    marker = Path(data_dir) / "cohort.json"
    if not marker.exists():
        return False
    try:
        return bool(json.loads(marker.read_text()).get("synthetic", False))
    except (OSError, json.JSONDecodeError):
        return False
