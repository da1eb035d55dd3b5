"""Fusion comparison: stacking vs late vs early fusion vs each modality alone vs the criteria.

What it shows:

1. A synthetic cohort loaded with ``load_dataset`` (EHR features and radiograph paths).
2. Six models from ``make_model``: the 2010 ACR/EULAR criteria, the CNN on radiographs alone,
   LightGBM on the EHR alone, and the three fusions of the two (late: a weighted mean of the
   modalities' log-odds; stacking: a logistic meta-model on their out-of-fold log-odds and
   presence flags; early: one gradient-boosting model on the CNN's embeddings and the EHR
   features).
3. ``cross_validate_models`` scores all of them on the same patient-grouped, stratified
   folds, so every model predicts each patient from a model that never saw that patient.
4. ``evaluate_predictions`` turns the out-of-fold probabilities into one table with
   bootstrap confidence intervals, and compares each model with the criteria (paired
   bootstrap and DeLong on the patients both scored). The image model scores only the
   patients who have a radiograph; its ``n`` says so.

Run it with ``python examples/fusion_comparison.py``; ``--tiny`` shrinks it to seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

import ramultimodal
from ramultimodal.evaluation import cross_validate_models, evaluate_predictions
from ramultimodal.models import make_model
from ramultimodal.synthetic import make_cohort, write_cohort

CRITERIA = "ACR/EULAR 2010"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds, for the tests")
    parser.add_argument("--out", type=Path, help="keep the cohort and table.csv here")
    parser.add_argument("--n-patients", type=int, help="cohort size (default 300; tiny 60)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def with_interval(metrics: pd.DataFrame, name: str) -> pd.Series:
    """``0.81 [0.76, 0.86]`` from a value column and its ``_low``/``_high`` columns."""
    return metrics.apply(
        lambda row: f"{row[name]:.2f} [{row[f'{name}_low']:.2f}, {row[f'{name}_high']:.2f}]",
        axis=1,
    )


def main() -> int:
    args = parse_args()
    n_patients = args.n_patients or (60 if args.tiny else 300)
    image_size, cnn_size, epochs = (64, 48, 1) if args.tiny else (96, 96, 4)
    folds, inner_folds, n_boot = (3, 2, 50) if args.tiny else (3, 2, 300)
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        cohort = make_cohort(n_patients, image_size=image_size, seed=args.seed)
        cohort_dir = write_cohort(cohort, out / "cohort", formats=["csv", "dicom"])
        X, y = ramultimodal.load_dataset(cohort_dir)
        print(f"1. {cohort}; X: {X.shape[0]} patients x {X.shape[1]} columns")

        recipe = {
            "ehr_columns": [column for column in X.columns if column != "image"],
            "image_params": {
                "image_size": cnn_size,
                "max_epochs": epochs,
            },
            "random_state": args.seed,
        }
        inner_cv = {"cv": inner_folds}  # the late weights' and stacking's out-of-fold splits
        models = {
            CRITERIA: make_model("criteria", **recipe),
            "image alone (CNN)": make_model("image", **recipe),
            "EHR alone (LightGBM)": make_model("ehr", **recipe),
            "late fusion": make_model("late", fusion_params=inner_cv, **recipe),
            "stacking fusion": make_model("stacking", fusion_params=inner_cv, **recipe),
            "early fusion": make_model("early", **recipe),
        }
        print(f"2. {len(models)} models: {', '.join(models)}")

        results = cross_validate_models(models, X, y, cv=folds, random_state=args.seed)
        print(f"3. cross-validated on the same {folds} patient-grouped folds")

        evaluation = evaluate_predictions(
            y,
            {name: result.proba.to_numpy() for name, result in results.items()},
            baseline=CRITERIA,
            n_boot=n_boot,
            random_state=args.seed,
        )
        metrics, versus = evaluation.metrics, evaluation.versus_baseline
        table = pd.DataFrame(
            {
                "n": metrics["n"].astype(int),
                "AUROC [95% CI]": with_interval(metrics, "auroc"),
                "AUPRC": metrics["auprc"].round(2),
                "Brier": metrics["brier"].round(3),
                "sens@spec0.61": metrics["sens_at_spec_0.61"].round(2),
                "dAUROC vs criteria": versus["auroc_difference"].round(3),
                "DeLong p": versus["delong_p"].round(3),
            }
        ).loc[metrics["auroc"].sort_values(ascending=False).index]
        print("4. out-of-fold performance, best AUROC first:")
        print(table.to_string(na_rep=""))
        if args.out:
            table.to_csv(out / "table.csv")
            print(f"   table written to {out / 'table.csv'}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
