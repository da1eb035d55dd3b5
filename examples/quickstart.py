"""Quickstart: from a synthetic cohort to a fused model, next to the 2010 ACR/EULAR criteria.

What it shows:

1. ``make_cohort`` draws a synthetic early-arthritis clinic and ``write_cohort`` writes it as
   a hospital would export it (events CSV, DICOM radiographs) into a cohort directory.
2. ``load_dataset`` reads that directory back as ``(X, y)``: one row per patient with the EHR
   features at the index date and a column of radiograph paths.
3. ``make_model("late", ...)`` builds a late-fusion model: a CNN on the radiographs and
   LightGBM on the EHR features, averaged on the log-odds scale with AUROC-based weights.
4. The model is trained on 70% of the patients and scored on the other 30%, next to each
   modality alone and the ``ACREULARClassifier`` (the criteria rheumatologists use).

Run it with ``python examples/quickstart.py``; ``--tiny`` shrinks it to seconds (the test
suite uses it), ``--out DIR`` keeps the cohort directory instead of a temporary one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import ramultimodal
from ramultimodal.ehr import ACREULARClassifier
from ramultimodal.evaluation import sensitivity_at_specificity
from ramultimodal.models import make_model
from ramultimodal.synthetic import make_cohort, write_cohort

# Pooled specificity of the 2010 ACR/EULAR criteria (Radner et al., Ann Rheum Dis 2014).
CRITERIA_SPECIFICITY = 0.61


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds, for the tests")
    parser.add_argument("--out", type=Path, help="keep the cohort here (default: a temp dir)")
    parser.add_argument("--n-patients", type=int, help="cohort size (default 300; tiny 60)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    n_patients = args.n_patients or (60 if args.tiny else 300)
    # Radiographs are rendered at `image_size` pixels and the CNN sees them at `cnn_size`.
    image_size, cnn_size, epochs = (64, 48, 1) if args.tiny else (128, 128, 10)
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        cohort = make_cohort(n_patients, image_size=image_size, seed=args.seed)
        cohort_dir = write_cohort(cohort, out / "cohort", formats=["csv", "dicom"])
        print(f"1. {cohort} written to {cohort_dir}")

        X, y = ramultimodal.load_dataset(cohort_dir)
        n_images = int(X["image"].map(len).gt(0).sum())
        print(
            f"2. load_dataset: X has {X.shape[0]} patients x {X.shape[1] - 1} EHR features "
            f"+ an image column ({n_images} patients with a radiograph); {int(y.sum())} with RA"
        )

        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=args.seed
        )
        ehr_columns = [column for column in X.columns if column != "image"]
        model = make_model(
            "late",
            ehr_columns=ehr_columns,
            image_params={
                "image_size": cnn_size,
                "max_epochs": epochs,
            },
            fusion_params={"cv": 2 if args.tiny else 3},
            random_state=args.seed,
        )
        model.fit(X_train, y_train)
        weights = {
            name: round(float(weight), 2)
            for name, weight in zip(model.modality_names_, model.weights_, strict=True)
        }
        print(f"3. late fusion trained on {len(X_train)} patients; modality weights {weights}")

        # Every column of predict_modalities is scored on the same held-out patients.
        scores = model.predict_modalities(X_test)
        criteria = ACREULARClassifier().fit(X_train, y_train)
        held_out = {
            "late fusion (image + EHR)": scores["proba"].to_numpy(),
            "EHR alone (LightGBM)": scores["proba_ehr"].to_numpy(),
            "image alone (CNN)": scores["proba_image"].to_numpy(),
            "2010 ACR/EULAR criteria": criteria.predict_proba(X_test)[:, 1],
        }
        y_test = y_test.to_numpy()
        print(f"4. held-out patients: {len(y_test)} ({int(y_test.sum())} with RA)")
        print(f"   {'model':<28} {'AUROC':>6} {'sens@spec0.61':>14} {'n':>4}")
        for name, proba in held_out.items():
            # The image model scores only the patients who have a radiograph.
            scored = ~np.isnan(proba)
            y_scored, proba = y_test[scored], proba[scored]
            auroc = roc_auc_score(y_scored, proba)
            sensitivity = sensitivity_at_specificity(y_scored, proba, CRITERIA_SPECIFICITY)
            print(f"   {name:<28} {auroc:6.3f} {sensitivity:14.2f} {scored.sum():4d}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
