"""The main job: a synthetic clinic, every model, patient-grouped CV, one report."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ramultimodal._staging import staged_folder

__all__ = ["DemoResult", "run_demo"]

logger = logging.getLogger(__name__)

#: The demo's models, by the names its report gives them, and their `make_model` kinds.
DEMO_MODELS = {
    "ACR/EULAR 2010": "criteria",
    "radiograph CNN": "image",
    "EHR (LightGBM)": "ehr",
    "PROs (LightGBM)": "pro",
    "late fusion": "late",
    "stacking fusion": "stacking",
    "early fusion": "early",
}


@dataclass
class DemoResult:
    """What `run_demo` made.

    Attributes
    ----------
    report : Path
        The self-contained ``report.html``.
    cohort_dir : Path
        The generated cohort directory (FHIR, CSV, DICOM), usable with ``ramultimodal
        train`` and `ramultimodal.load_dataset`.
    summary : DataFrame
        One row per model: patients scored, AUROC with its 95% interval, sensitivity at the
        criteria's published specificity.
    seconds : float
        Wall-clock time of the whole run.
    recalibration : DataFrame or None
        One row per model: calibration slope, intercept and ECE of its out-of-fold
        probabilities, before and after a cross-fitted sigmoid recalibration
        (`ramultimodal.evaluation.recalibration_table`).
    """

    report: Path
    cohort_dir: Path
    summary: pd.DataFrame
    seconds: float
    recalibration: pd.DataFrame | None = None


def run_demo(
    out_dir: str | os.PathLike = "ramultimodal-demo",
    *,
    n_patients: int = 300,
    image_size: int = 128,
    max_epochs: int = 12,
    cv: int = 3,
    n_boot: int = 500,
    seed: int = 0,
    overwrite: bool = False,
    verbose: int = 1,
) -> DemoResult:
    """Generate a cohort, cross-validate every model against the criteria, write the report.

    Models: the radiograph CNN alone, the EHR (labs, joints, risk factors) alone, the
    patient-reported outcomes alone, the 2010 ACR/EULAR criteria, and late, stacking and
    early fusion of the three; all on the same patient-grouped, label-stratified folds. The
    early fusion is also refitted with each modality dropped in turn (the ablation), and is
    explained out of fold: the report's global importance and modality contributions, and
    Grad-CAM overlays drawn by its own CNN on radiographs its fold did not see.

    Parameters
    ----------
    out_dir : path, default "ramultimodal-demo"
        Gets ``cohort/`` (the generated data) and ``report/`` (HTML, JSON, CSV, model card).
    n_patients : int, default 300
    image_size : int, default 128
        Side of the rendered radiographs and of the CNN's input.
    max_epochs : int, default 12
        CNN training epochs.
    cv : int, default 3
        Cross-validation folds.
    n_boot : int, default 500
        Bootstrap replicates for the intervals.
    seed : int, default 0
    overwrite : bool, default False
        Replace an existing `out_dir` written by an earlier demo (and nothing else).
    verbose : int, default 1
        Progress bars on stderr: over the folds of every cross-validation and the CNN's
        epochs when > 0, and also over the generation of the cohort and the CNN's batches
        when > 1 (0: none). They change no number. Each stage is logged at INFO level
        (`logging`, under the ``ramultimodal`` logger), whatever `verbose`.

    Returns
    -------
    DemoResult
    """
    from ramultimodal._dataset import load_dataset
    from ramultimodal.evaluation import (
        ablation_table,
        clinical_subgroups,
        cross_validate_models,
        evaluate_predictions,
        flag_shortfalls,
        recalibration_table,
        write_report,
    )
    from ramultimodal.evaluation._explain_report import out_of_fold_explanations
    from ramultimodal.models import FUSION_KINDS, MODALITY_KINDS, make_model, modality_columns
    from ramultimodal.synthetic import make_cohort, write_cohort

    started = time.perf_counter()
    out_dir = Path(out_dir)
    # Written under a temporary name and renamed at the end, as every output: an
    # interrupted demo leaves nothing, and --force replaces an earlier one only then.
    with staged_folder(out_dir, "demo", overwrite=overwrite) as staging:
        logger.info("1/5 Generating a synthetic clinic of %d patients ...", n_patients)
        cohort = make_cohort(
            n_patients,
            seed=seed,
            image_size=image_size,
            image_missing_rate=0.25,
            verbose=verbose > 1,
        )
        cohort_dir = write_cohort(cohort, staging / "cohort", verbose=int(verbose > 1))

        logger.info("2/5 Reading the FHIR export and the radiographs, features at the index date")
        X, y = load_dataset(cohort_dir, source="fhir-ndjson", verbose=int(verbose > 1))
        y = y.to_numpy()
        columns = modality_columns(X.columns)
        image_params = {"image_size": image_size, "max_epochs": max_epochs}
        models = {
            name: make_model(
                kind,
                ehr_columns=columns["ehr"],
                pro_columns=columns["pro"],
                image_params=image_params,
                fusion_params=_fusion_params(kind, cv),
                random_state=seed,
                verbose=verbose,
            )
            for name, kind in DEMO_MODELS.items()
        }

        logger.info(
            "3/5 Cross-validating %d models (%d folds, grouped by patient)", len(models), cv
        )
        # The early fusion's fold models are kept for the report's explanations and
        # Grad-CAM: the evaluated model's own CNN, on patients its fold did not see.
        results = cross_validate_models(
            models,
            X,
            y,
            cv=cv,
            random_state=seed,
            verbose=verbose,
            keep_estimators=("early fusion",),
        )
        predictions = {name: result.proba.to_numpy() for name, result in results.items()}

        # Early fusion: usually the best model here, and it fits the CNN once per fold where
        # late fusion fits it cv times (cross-fitted: models.CROSS_FIT).
        logger.info("4/5 Ablation: early fusion without each modality in turn")
        ablation = ablation_table(
            models["early fusion"],
            X,
            y,
            cv=cv,
            random_state=seed,
            full=results["early fusion"],
            verbose=verbose,
        )

        logger.info("5/5 Metrics, subgroups, Grad-CAM and the report")
        evaluation = evaluate_predictions(
            y,
            predictions,
            baseline="ACR/EULAR 2010",
            subgroups=clinical_subgroups(X),
            n_boot=n_boot,
            random_state=seed,
        )
        evaluation.ablation = ablation
        # A fused model clearly worse than a modality alone is flagged, in the report and here.
        flag_shortfalls(
            evaluation,
            fusions=[name for name, kind in DEMO_MODELS.items() if kind in FUSION_KINDS],
            modalities=[name for name, kind in DEMO_MODELS.items() if kind in MODALITY_KINDS],
        )
        # Cheap (no model is refitted): recalibrates the out-of-fold probabilities above.
        evaluation.recalibration = recalibration_table(y, predictions, random_state=seed)
        evaluation.notes.append(
            f"Out-of-fold predictions from {cv}-fold cross-validation stratified by label and "
            "grouped by patient; the radiograph CNN scores only the patients with a radiograph."
        )
        figures, overlays = out_of_fold_explanations(
            results["early fusion"], X, y, staging / "gradcam"
        )
        write_report(
            evaluation,
            staging / "report",
            title="ramultimodal demo: early RA detection on a synthetic clinic",
            data_description=(
                f"{len(y)} synthetic patients of an early-arthritis clinic (seed {seed}), "
                f"{int(X['image'].map(len).gt(0).sum())} with a hand radiograph; EHR read from "
                "the FHIR Bulk Data export, radiographs from DICOM."
            ),
            synthetic=True,
            gradcam_images=overlays,
            training=_development_facts(X, y, models, cohort, cv, seed),
            explanation_figures=figures,
        )
        summary = _summary(evaluation.metrics)
    report, cohort_dir = out_dir / "report" / "report.html", out_dir / "cohort"
    return DemoResult(
        report, cohort_dir, summary, time.perf_counter() - started, evaluation.recalibration
    )


def _development_facts(
    X: pd.DataFrame, y: np.ndarray, models: dict, cohort, cv: int, seed: int
) -> dict:
    """The model card's training facts: the cohort, predictors and every model's parameters."""
    from ramultimodal.fusion import development_facts

    return development_facts(
        X,
        y,
        models,
        primary="early fusion",
        index_dates=cohort.patients["index_date"],
        source="fhir/ndjson",
        data_name=f"synthetic clinic, seed {seed}",
        validation=(
            f"Internal validation: every model's out-of-fold predictions from {cv}-fold "
            "cross-validation stratified by label and grouped by patient, on the same folds; "
            "no separate evaluation cohort."
        ),
    )


def _fusion_params(kind: str, cv: int) -> dict:
    # Inner folds for the stacking meta-features and the late-fusion weights.
    return {"cv": cv} if kind in ("late", "stacking") else {}


def _summary(metrics: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patients": metrics["n"].astype(int),
            "AUROC": metrics["auroc"].round(3),
            "95% CI": [
                f"{low:.3f}-{high:.3f}"
                for low, high in zip(metrics["auroc_low"], metrics["auroc_high"], strict=True)
            ],
            "sens@spec0.61": metrics["sens_at_spec_0.61"].round(3),
        }
    ).sort_values("AUROC", ascending=False)
