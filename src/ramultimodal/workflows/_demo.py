"""The main job: a synthetic clinic, every model, patient-grouped CV, one report."""

from __future__ import annotations

import logging
import os
import time
import warnings
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
    "Leiden rule": "leiden",
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
    survival : DataFrame or None
        The models' risk scores against time to RA (`survival_metric_table`): Harrell's
        and Uno's C, time-dependent AUROC, with intervals.
    """

    report: Path
    cohort_dir: Path
    summary: pd.DataFrame
    seconds: float
    recalibration: pd.DataFrame | None = None
    survival: pd.DataFrame | None = None


def run_demo(
    out_dir: str | os.PathLike = "ramultimodal-demo",
    *,
    n_patients: int = 300,
    image_size: int = 128,
    max_epochs: int = 12,
    cv: int = 3,
    n_boot: int = 500,
    seed: int = 0,
    horizon: str | int | None = None,
    population: str | dict[str, float] = "clinic",
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
    horizon : {"6m", "12m", "24m"} or int, optional
        The binary label is RA within this horizon (`ramultimodal.io.horizon_labels`;
        patients censored before it are left out of the classifiers' evaluation, and kept
        in the survival one). None: labels.csv's ``ra`` (12 months).
    population : str or mapping, default "clinic"
        Who the synthetic cohort follows (`ramultimodal.synthetic.make_cohort`):
        ``"clinic"``, ``"undifferentiated"``, ``"arthralgia"`` or a mix.
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
        cross_validate_survival,
        evaluate_predictions,
        flag_shortfalls,
        recalibration_table,
        write_report,
    )
    from ramultimodal.evaluation._explain_report import out_of_fold_explanations
    from ramultimodal.fusion import survival_y
    from ramultimodal.io import horizon_labels
    from ramultimodal.io._horizon import label_horizon_days
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
            population=population,
            verbose=verbose > 1,
        )
        cohort_dir = write_cohort(cohort, staging / "cohort", verbose=int(verbose > 1))

        logger.info("2/5 Reading the FHIR export and the radiographs, features at the index date")
        X_all, y = load_dataset(cohort_dir, source="fhir-ndjson", verbose=int(verbose > 1))
        follow_up = cohort.patients.loc[X_all.index, ["time_to_ra_days", "event"]]
        days = label_horizon_days(horizon)
        if horizon is not None:  # the classifiers' label: RA by the horizon, where known
            y = horizon_labels(follow_up, horizon, censored="exclude")
        X = X_all.loc[y.index]
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
        logger.info("3b/5 Cross-validating the survival fusion on time to RA (%d folds)", cv)
        survival_model = make_model(
            "survival-late",
            ehr_columns=columns["ehr"],
            pro_columns=columns["pro"],
            image_params=image_params,
            fusion_params={"horizon_days": days, "cv": cv},
            random_state=seed,
            verbose=verbose,
        )
        with warnings.catch_warnings():
            # A penalised Cox model on a small fold may keep no feature: a weak modality.
            warnings.filterwarnings("ignore", "all coefficients are zero")
            survival_oof = cross_validate_survival(
                survival_model, X_all, survival_y(follow_up), cv=cv, random_state=seed
            )
        predictions["survival fusion"] = survival_oof.loc[X.index, "proba"].to_numpy()

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
        evaluation.horizon_days = days
        evaluation.survival, evaluation.survival_figures = _time_to_ra(
            X_all, X, y, follow_up, survival_oof, predictions, days, n_boot, seed
        )
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
                f"{len(y)} synthetic patients ({_population(population)}, seed {seed}), "
                f"{int(X['image'].map(len).gt(0).sum())} with a hand radiograph; EHR read from "
                "the FHIR Bulk Data export, radiographs from DICOM."
            ),
            synthetic=True,
            gradcam_images=overlays,
            training=_development_facts(
                X, y, {**models, "survival fusion": survival_model}, cohort, cv, seed
            ),
            explanation_figures=figures,
        )
        summary = _summary(evaluation.metrics)
    report, cohort_dir = out_dir / "report" / "report.html", out_dir / "cohort"
    return DemoResult(
        report,
        cohort_dir,
        summary,
        time.perf_counter() - started,
        evaluation.recalibration,
        evaluation.survival,
    )


def _population(population: str | dict[str, float]) -> str:
    names = {"clinic": "an early-arthritis clinic", "undifferentiated":
             "undifferentiated arthritis", "arthralgia": "seropositive arthralgia"}  # fmt: skip
    if isinstance(population, str):
        return names.get(population, population)
    return "a mix of " + ", ".join(f"{names.get(k, k)} ({v:g})" for k, v in population.items())


def _time_to_ra(
    X_all: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    follow_up: pd.DataFrame,
    survival_oof: pd.DataFrame,
    predictions: dict[str, np.ndarray],
    days: int,
    n_boot: int,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """The risk scores against time to RA, and Kaplan-Meier curves by predicted risk."""
    from ramultimodal.ehr import LeidenRuleClassifier
    from ramultimodal.evaluation import time_to_ra_evaluation

    # The Leiden score as a risk score: points, nothing fitted to this cohort's outcome.
    leiden = LeidenRuleClassifier().fit(X, y)
    risks = {
        "survival fusion": survival_oof["risk"].to_numpy(),
        "Leiden rule": leiden.decision_function(X_all),
    }
    # The classifiers' out-of-fold probabilities, for the patients they were evaluated on.
    for name in ("early fusion", "ACR/EULAR 2010"):
        if name in predictions:
            risks[name] = pd.Series(predictions[name], index=X.index).reindex(X_all.index)
    return time_to_ra_evaluation(
        follow_up,
        risks,
        horizon_days=days,
        groups={"the Leiden rule's risk group": leiden.risk_group(X_all)},
        n_boot=n_boot,
        random_state=seed,
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
