"""Fusion with the joint grades against fusion with the whole-image CNN, and with both.

Issue 18 ("Into fusion"): the radiograph read joint by joint (`JointScoreFeatures` of a
`JointScoreTransformer`: each joint's erosion and narrowing grade per hand and the SvdH
totals per hand and in all, behind a logistic regression where the fusion reads
probabilities) as the image modality of a fusion, against the CNN's reading of the whole
image, and the two side by side
(``make_model(..., image_model="cnn" | "joints" | "both")``).

- The joint models are trained on a cohort of their own (seed 100, both hands), as
  ``ramultimodal joints train`` would, then frozen; the fusions on another (seed 1), and
  all are tested on held-out cohorts of other seeds (2, 3, ...), pooled.
- Every cohort has both hands per patient and 25% of patients without a radiograph.
- AUROC of each fusion with a stratified bootstrap 95% interval, and the paired bootstrap
  of the differences (joints - CNN, both - CNN, both - joints) on the same patients.
- "Early RA" apart: the RA patients with little radiographic damage, a true SvdH total
  (joints.csv: erosion of the SvdH erosion joints plus narrowing of the SvdH narrowing
  joints, both hands) of at most ``--early-svdh`` (default 2), against every patient
  without RA who has a radiograph. The question there is whether reading joints helps
  where there is little to read.
- Each radiograph model alone (the late fusion's base models: the CNN, the grades'
  logistic regression) on the patients with a radiograph.

Run (about 6 minutes on one thread of a busy shared 2-core machine: 256 px radiographs,
the locator and the CNN at 128 px, 10 CNN epochs; the CNN is then well short of
bench_fusion's, which reads 700 patients at 256 px for 15 epochs)::

    OMP_NUM_THREADS=1 python benchmarks/bench_joint_fusion.py
    OMP_NUM_THREADS=1 python benchmarks/bench_joint_fusion.py --image-size 128 \
        --locator-size 96 --cnn-size 96 --max-epochs 6 --n-joint-train 80 --n-train 240 \
        --n-test 150 --locator-epochs 25 --grader-epochs 15   # about 3 minutes

Measured results are in docs/joints.md ("Benchmark", "In a fusion").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ramultimodal import load_dataset
from ramultimodal.evaluation import bootstrap_metric, paired_bootstrap
from ramultimodal.image import JointScoreTransformer, joint_score_features
from ramultimodal.io import read_joints_csv
from ramultimodal.models import make_model, modality_columns
from ramultimodal.synthetic import make_cohort, write_cohort
from ramultimodal.terminology.joints import EROSION_JOINTS, NARROWING_JOINTS

IMAGE_MODELS = {"CNN": "cnn", "joints": "joints", "both": "both"}


def _cohort(root: Path, n: int, seed: int, args: argparse.Namespace) -> Path:
    cohort = make_cohort(n, seed=seed, image_size=args.image_size, images_per_patient=2,
                         image_missing_rate=0.25)  # fmt: skip
    return write_cohort(cohort, root / f"seed{seed}", formats=["csv", "dicom"], overwrite=True)


def _true_svdh(folder: Path) -> pd.Series:
    """Each imaged patient's true SvdH total (both hands), from joints.csv."""
    joints = read_joints_csv(folder / "joints.csv")
    erosion = joints["erosion"].where(joints["joint"].isin(EROSION_JOINTS), 0)
    narrowing = joints["narrowing"].where(joints["joint"].isin(NARROWING_JOINTS), 0)
    return (erosion + narrowing).groupby(joints["subject_id"].astype(str)).sum()


def _joint_model(root: Path, args: argparse.Namespace):
    folder = _cohort(root, args.n_joint_train, 100, args)
    images = pd.read_csv(folder / "images.csv")
    paths = [[str(folder / p)] for p in images["path"]]
    started = time.perf_counter()
    model = JointScoreTransformer(
        image_size=args.locator_size,
        locator_epochs=args.locator_epochs,
        epochs=args.grader_epochs,
        random_state=args.seed,
    ).fit(paths, joints=read_joints_csv(folder / "joints.csv"))
    seconds = time.perf_counter() - started
    print(f"joint models: trained on {len(paths)} radiographs ({args.n_joint_train} patients, "
          f"seed 100) in {seconds:.0f} s", flush=True)  # fmt: skip
    # One frozen object for every fusion, so that each radiograph is graded once.
    return joint_score_features(model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-joint-train", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=300)
    parser.add_argument("--n-test", type=int, default=200, help="patients per held-out cohort")
    parser.add_argument("--held-out", type=int, default=2, help="held-out cohorts (seeds 2..)")
    parser.add_argument("--image-size", type=int, default=256, help="radiograph side, px")
    parser.add_argument("--cnn-size", type=int, default=128, help="the CNN's input, px")
    parser.add_argument("--locator-size", type=int, default=128, help="joint locator input, px")
    parser.add_argument("--locator-epochs", type=int, default=30)
    parser.add_argument("--grader-epochs", type=int, default=20)
    parser.add_argument("--max-epochs", type=int, default=10, help="CNN epochs")
    parser.add_argument("--cv", type=int, default=2, help="late fusion's inner folds")
    parser.add_argument("--kinds", default="late,early", help="fusions, comma-separated")
    parser.add_argument("--early-svdh", type=float, default=2.0,
                        help="early RA: true SvdH total at most this")  # fmt: skip
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"torch threads: {torch.get_num_threads()}")
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        joints = _joint_model(root, args)
        train = _cohort(root, args.n_train, 1, args)
        X_train, y_train = load_dataset(train, source="csv")
        tests = [_cohort(root, args.n_test, 2 + k, args) for k in range(args.held_out)]
        loaded = [load_dataset(folder, source="csv") for folder in tests]
        # The features a cohort's records give, in the columns the training ones gave.
        X_test = pd.concat([X.reindex(columns=X_train.columns) for X, _ in loaded])
        y_test = np.concatenate([y.to_numpy() for _, y in loaded]).astype(int)
        svdh = pd.concat([_true_svdh(folder) for folder in tests])
        columns = modality_columns(X_train.columns)
        has_image = X_test["image"].map(len).to_numpy() > 0
        true_total = X_test.index.astype(str).map(svdh).to_numpy(dtype=float)
        early = has_image & ((y_test == 0) | (true_total <= args.early_svdh))
        print(f"fusions: trained on {len(y_train)} patients (seed 1, {int(y_train.sum())} RA); "
              f"tested on {len(y_test)} (seeds 2-{1 + args.held_out}, {int(y_test.sum())} RA, "
              f"{int(has_image.sum())} with radiographs); early RA (true SvdH total <= "
              f"{args.early_svdh:g}): {int((early & (y_test == 1)).sum())} of "
              f"{int((has_image & (y_test == 1)).sum())} RA patients with radiographs, against "
              f"{int((early & (y_test == 0)).sum())} without RA", flush=True)  # fmt: skip

        probas, alone, seconds = {}, {}, {}
        for kind in kinds:
            for label, image_model in IMAGE_MODELS.items():
                name = f"{kind} / {label}"
                model = make_model(
                    kind,
                    ehr_columns=columns["ehr"],
                    pro_columns=columns["pro"],
                    image_model=image_model,
                    joint_model=joints,
                    image_params={"image_size": args.cnn_size, "max_epochs": args.max_epochs}
                    if image_model != "joints"
                    else None,
                    fusion_params={"cv": args.cv} if kind != "early" else None,
                    random_state=args.seed,
                )
                tick = time.perf_counter()
                model.fit(X_train, y_train)
                seconds[name] = time.perf_counter() - tick
                table = model.predict_modalities(X_test)
                probas[name] = table["proba"].to_numpy(dtype=float)
                for modality, what in (("image", "CNN"), ("joints", "joint grades")):
                    if f"proba_{modality}" in table and f"{what} alone" not in alone:
                        alone[f"{what} alone"] = table[f"proba_{modality}"].to_numpy(float)
                print(f"  fitted {name} in {seconds[name]:.0f} s", flush=True)

    def auroc(values, rows):
        return bootstrap_metric(y_test[rows], values[rows], "auroc", n_boot=args.n_boot,
                                random_state=args.seed)  # fmt: skip

    def difference(a, b, rows):
        return paired_bootstrap(y_test[rows], a[rows], b[rows], n_boot=args.n_boot,
                                random_state=args.seed)  # fmt: skip

    everyone = np.ones(len(y_test), dtype=bool)
    print(f"\n{'model':<22} {'all patients':<24} {'with radiograph':<24} "
          f"{'early RA':<24} {'fit s':>6}")  # fmt: skip
    for name, values in {**probas, **alone}.items():
        cells = [str(auroc(values, rows)) for rows in (everyone, has_image, early)]
        fit = f"{seconds[name]:>6.0f}" if name in seconds else ""
        print(f"{name:<22} {cells[0]:<24} {cells[1]:<24} {cells[2]:<24} {fit}")

    print("\npaired bootstrap of the AUROC difference (95% interval):")
    pairs = [("joints", "CNN"), ("both", "CNN"), ("both", "joints")]
    for kind in kinds:
        for a, b in pairs:
            first, second = probas[f"{kind} / {a}"], probas[f"{kind} / {b}"]
            cells = [difference(first, second, rows) for rows in (everyone, early)]
            print(f"  {kind}: {a} - {b:<7} all {cells[0]!s:<26} early RA {cells[1]!s}")
    if len(alone) == 2:
        a, b = alone["joint grades alone"], alone["CNN alone"]
        cells = [difference(a, b, rows) for rows in (has_image, early)]
        print(f"  alone: joint grades - CNN  with radiograph {cells[0]!s:<26} "
              f"early RA {cells[1]!s}")  # fmt: skip
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
