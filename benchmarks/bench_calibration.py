"""Calibration benchmark: does calibration="sigmoid" bring every demo model's slope to 0.9-1.1?

Issue 15 asks "can I take 0.8 as 80%?": the demo's out-of-fold calibration slopes were 0.68
(EHR), 0.72 (early fusion), 1.24 (late fusion) and 2.28 (CNN). This script builds the demo's
cohort (``ramultimodal demo`` defaults: 300 patients, seed 0, a quarter without a
radiograph, 128 px, the CNN trained 12 epochs, 3 patient-grouped folds), and
cross-validates each demo model twice on the same folds, as ``make_model`` builds it and
with ``calibration="sigmoid"`` (a fusion's own parameter; the other models wrapped in
``RecalibratedClassifier``, cross-fitted on ``--inner-cv`` folds inside each training
fold). For each it prints the out-of-fold AUROC, calibration slope, intercept and ECE
before and after, whether the slope after is within the goal of 0.9-1.1, and the slope
that `recalibration_table` (the demo report's cross-fitted estimate, which refits no
model) predicted.

Run::

    python benchmarks/bench_calibration.py            # the demo's settings
    python benchmarks/bench_calibration.py --quick    # 64 px, 4 epochs: minutes, not hours
    python benchmarks/bench_calibration.py --models ehr late --json results.json

Results are logged model by model and, with ``--json``, written after each model, so an
interrupted run keeps what it measured.

Measured 2026-12-06 on a 2-core machine, the demo's settings (128 px, 12 epochs, 3 outer
folds) and the library's default inner folds (``--inner-cv 5``: ``RecalibratedClassifier``
and ``EarlyFusionClassifier`` cross-fit on 5; late fusion and stacking reuse their own
3 out-of-fold splits, as the demo sets them). About 2 minutes on an idle machine (40 on one
shared with four other jobs). Out-of-fold slope as built -> with ``calibration="sigmoid"``:

==================  =====  ============  ===============  ======================  ======
model               AUROC  slope         ECE              recalibration_table     goal
==================  =====  ============  ===============  ======================  ======
ACR/EULAR 2010      0.837  1.52 -> 0.94  0.214 -> 0.030   0.99                    met
radiograph CNN      0.739  1.69 -> 0.97  0.103 -> 0.034   0.92                    met
EHR (LightGBM)      0.887  0.68 -> 0.93  0.069 -> 0.035   0.97                    met
PROs (LightGBM)     0.560  0.16 -> 0.25  0.159 -> 0.059   0.09                    missed
late fusion         0.897  1.24 -> 0.97  0.044 -> 0.040   0.97                    met
stacking fusion     0.889  0.88 -> 0.94  0.050 -> 0.063   0.97                    met
early fusion        0.900  0.67 -> 0.91  0.053 -> 0.043   0.97                    met
==================  =====  ============  ===============  ======================  ======

Six of seven meet the goal. The PROs model is barely above chance (AUROC 0.56): its slope is
mostly noise, and recalibration can only pull its probabilities towards the prevalence (ECE
0.159 -> 0.059, which is what "0.8 means 80%" asks of it). With 3 inner folds
(``--inner-cv 3``) the models recalibrated by cross-fitting themselves missed: the CNN went
1.69 -> 0.74 and early fusion 0.67 -> 0.89 (the others as above within 0.06): the inner
models, trained on 4/9 of the patients rather than 8/15, are less sure of themselves than
the model refitted on all of them (a CNN trained for a fixed number of epochs takes more
steps on more patients), so the calibrator stretches too much. ``--quick`` (64 px, 4
epochs; 45 s idle): 5 of 7 met; the fusions 0.94-0.98, the tabular models as above, and
the undertrained CNN (AUROC 0.65) missed either way, 2.74 -> 3.10 (inner 5 folds) or 1.33
(inner 3): a model that weak and that dependent on how many patients it was trained on has
no stable slope to correct. ``recalibration_table``, the report's estimate (the calibrator
cross-fitted on the same out-of-fold probabilities, no refit), is close to the refitted
result for every model but the PROs. AUROC moves by at most 0.013: a sigmoid is monotone,
but each outer fold has its own calibrator, which reorders patients across folds.

How reachable the goal is on 300 patients (``reach_if_calibrated``: labels drawn from the
recalibrated probabilities themselves, 400 draws, so the probabilities are exactly right by
construction): ACR/EULAR 0.55, EHR 0.69, PROs 0.24 of the draws measure a slope within
0.9-1.1 (2026-12-06, ``--models criteria ehr pro``). Even a perfectly calibrated model
misses the goal often at this size; for the PROs, whose probabilities hardly vary, three
times in four. The PROs' miss is the slope's sampling error, not a calibrator's fault.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ramultimodal.evaluation._recalibration import SLOPE_GOAL as GOAL
from ramultimodal.workflows._demo import DEMO_MODELS

logger = logging.getLogger("ramultimodal.bench_calibration")


def demo_dataset(n_patients: int, image_size: int, seed: int, folder: Path):
    """The demo's cohort and feature table (``run_demo``'s steps 1 and 2)."""
    from ramultimodal._dataset import load_dataset
    from ramultimodal.synthetic import make_cohort, write_cohort

    cohort = make_cohort(n_patients, seed=seed, image_size=image_size, image_missing_rate=0.25)
    cohort_dir = write_cohort(cohort, folder / "cohort")
    X, y = load_dataset(cohort_dir, source="fhir-ndjson")
    return X, y.to_numpy()


def build(kind: str, calibration: str | None, columns, args) -> object:
    """The demo's recipe of `kind`, with `calibration` (inner folds: ``--inner-cv``)."""
    from ramultimodal.fusion import RecalibratedClassifier
    from ramultimodal.models import make_model
    from ramultimodal.workflows._demo import _fusion_params

    fusion_params = _fusion_params(kind, args.cv)
    if calibration is not None and kind == "early":
        fusion_params = {**fusion_params, "cv": args.inner_cv}
    model = make_model(
        kind,
        ehr_columns=columns["ehr"],
        pro_columns=columns["pro"],
        image_params={"image_size": args.image_size, "max_epochs": args.max_epochs},
        fusion_params=fusion_params,
        random_state=args.seed,
        calibration=calibration,
    )
    if isinstance(model, RecalibratedClassifier):
        model.set_params(cv=args.inner_cv)
    return model


def calibration_numbers(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """AUROC, slope, intercept and ECE on the patients with a probability."""
    from sklearn.metrics import roc_auc_score

    from ramultimodal.evaluation import (
        calibration_intercept,
        calibration_slope,
        expected_calibration_error,
    )

    scored = ~np.isnan(proba)
    y, proba = y[scored], proba[scored]
    return {
        "n": int(scored.sum()),
        "auroc": float(roc_auc_score(y, proba)),
        "slope": calibration_slope(y, proba),
        "intercept": calibration_intercept(y, proba),
        "ece": expected_calibration_error(y, proba),
    }


def reach_if_calibrated(proba: np.ndarray, seed: int, n_draws: int = 400) -> float:
    """How often the goal is met if `proba` were exactly right: the share of label draws
    ``y ~ Bernoulli(proba)`` on these patients whose measured slope is within `GOAL`.

    The measured slope is an estimate with its own sampling error, which is large when the
    probabilities hardly vary (a model near chance): then even a perfect calibrator misses
    the goal most of the time, and the goal says more about the cohort's size than about
    the model.
    """
    from ramultimodal.evaluation import calibration_slope

    rng = np.random.default_rng(seed)
    proba = proba[~np.isnan(proba)]
    slopes = [
        calibration_slope(rng.uniform(size=proba.size) < proba, proba) for _ in range(n_draws)
    ]
    return float(np.mean([GOAL[0] <= slope <= GOAL[1] for slope in slopes]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 px, 4 epochs")
    parser.add_argument("--n-patients", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=None, help="default 128 (64 quick)")
    parser.add_argument("--max-epochs", type=int, default=None, help="default 12 (4 quick)")
    parser.add_argument("--cv", type=int, default=3, help="outer folds, as the demo")
    parser.add_argument(
        "--inner-cv", type=int, default=5, help="folds of the recalibration (library default)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="*", default=list(DEMO_MODELS.values()))
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    args.image_size = args.image_size or (64 if args.quick else 128)
    args.max_epochs = args.max_epochs or (4 if args.quick else 12)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("ramultimodal").setLevel(logging.WARNING)
    logger.setLevel(logging.INFO)

    from ramultimodal.evaluation import patient_cross_validate, recalibration_table
    from ramultimodal.models import modality_columns

    started = time.perf_counter()
    # The feature table names the radiographs' files: the folder lives as long as the run.
    folder = tempfile.TemporaryDirectory()
    X, y = demo_dataset(args.n_patients, args.image_size, args.seed, Path(folder.name))
    logger.info(
        "cohort: %d patients, %d with RA, %d with a radiograph (%.0f s); %d px, %d epochs",
        len(y),
        int(y.sum()),
        int(X["image"].map(len).gt(0).sum()),
        time.perf_counter() - started,
        args.image_size,
        args.max_epochs,
    )
    columns = modality_columns(X.columns)
    rows = {}
    for name, kind in DEMO_MODELS.items():
        if kind not in args.models:
            continue
        row: dict[str, object] = {}
        for label, calibration in (("before", None), ("after", "sigmoid")):
            tic = time.perf_counter()
            result = patient_cross_validate(
                build(kind, calibration, columns, args),
                X,
                y,
                cv=args.cv,
                random_state=args.seed,
            )
            proba = result.proba.to_numpy()
            numbers = calibration_numbers(y, proba)
            row.update({f"{key}_{label}": value for key, value in numbers.items()})
            row[f"seconds_{label}"] = time.perf_counter() - tic
            if calibration is None:
                table = recalibration_table(y, {name: proba}, random_state=args.seed)
                row["table_slope_after"] = float(table.loc[name, "slope_after"])
        row["goal_met"] = bool(GOAL[0] <= row["slope_after"] <= GOAL[1])
        row["reach_if_calibrated"] = reach_if_calibrated(proba, args.seed)
        rows[name] = row
        logger.info(
            "%s: AUROC %.3f -> %.3f, slope %.2f -> %.2f (goal %s), intercept %.2f -> %.2f, "
            "ECE %.3f -> %.3f (%.0f s + %.0f s)",
            name,
            row["auroc_before"],
            row["auroc_after"],
            row["slope_before"],
            row["slope_after"],
            "met" if row["goal_met"] else "missed",
            row["intercept_before"],
            row["intercept_after"],
            row["ece_before"],
            row["ece_after"],
            row["seconds_before"],
            row["seconds_after"],
        )
        if args.json is not None:
            settings = {k: v for k, v in vars(args).items() if k != "json"}
            args.json.write_text(json.dumps({"settings": settings, "results": rows}, indent=1))
    table = pd.DataFrame.from_dict(rows, orient="index")
    shown = table[
        [
            "n_before",
            "auroc_before",
            "auroc_after",
            "slope_before",
            "slope_after",
            "table_slope_after",
            "goal_met",
            "reach_if_calibrated",
            "intercept_before",
            "intercept_after",
            "ece_before",
            "ece_after",
            "seconds_before",
            "seconds_after",
        ]
    ].rename(columns=lambda column: column.removesuffix("_before"))
    print()
    print(
        f"Out-of-fold calibration on the demo cohort ({args.n_patients} patients, seed "
        f"{args.seed}, {args.cv} patient-grouped folds, {args.image_size} px, "
        f'{args.max_epochs} epochs): as built ("before") and with calibration="sigmoid" '
        f'("_after"); goal: slope within {GOAL[0]}-{GOAL[1]}. "table_slope_after" is the '
        "recalibration_table's cross-fitted estimate (no refit); "
        '"reach_if_calibrated": how often the goal would be met if the recalibrated '
        "probabilities were exactly right (labels drawn from them)."
    )
    print(shown.round(3).to_string())
    print(f"\n{int(table['goal_met'].sum())} of {len(table)} models meet the goal.")
    folder.cleanup()


if __name__ == "__main__":
    main()
