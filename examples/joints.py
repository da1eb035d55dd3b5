"""Joint by joint: locate and grade every Sharp/van der Heijde joint, and draw what was found.

What it shows, with the ``ramultimodal`` commands a user types (run here in-process):

1. ``ramultimodal synth --images-per-patient 2`` writes two synthetic cohorts (a training
   one and a held-out one of another seed) with both hands of each imaged patient and
   ``joints.csv``: each joint's place on the image and its true erosion and narrowing.
2. ``ramultimodal joints train`` learns to locate the joints and to grade each one.
3. ``ramultimodal joints predict ... --figures`` grades the held-out radiographs and draws,
   per radiograph, the joints found on it and, per patient, a hand diagram of the
   predicted grades with the true ones beside them.
4. How well it did on the held-out cohort: joints found, how far from the true place,
   and the grades against the truth.
5. ``ramultimodal train --image-model joints --joint-model ...`` fuses the grades, per
   hand, with the EHR, and ``ramultimodal predict --explain`` says why, in words
   ("erosion MCP2 right = 2 of 5"), for the held-out patient the radiograph moved most.

Run it with ``python examples/joints.py --out joints``; ``--tiny`` shrinks it to seconds.
Without ``--out`` everything goes to a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import shlex
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ramultimodal.cli import main as ramultimodal
from ramultimodal.terminology.joints import EROSION_JOINTS, NARROWING_JOINTS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds, for the tests")
    parser.add_argument("--out", type=Path, help="folder for the cohorts, model and figures")
    parser.add_argument("--n-patients", type=int, help="training patients (default 80)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def run(*argv: str | Path, shown: dict[str, str] | None = None) -> None:
    """Run one ``ramultimodal`` command, printed as a user would type it.

    `shown` replaces a run of arguments by what a shell would expand into them (a glob).
    """
    words = [str(word) for word in argv]
    printed = shlex.join(words)
    for expanded, typed in (shown or {}).items():
        printed = printed.replace(expanded, typed)
    print("   $ ramultimodal " + printed)
    status = ramultimodal(words)
    if status != 0:
        raise SystemExit(f"ramultimodal {words[0]} failed with status {status}")


def svdh_total(joints: pd.DataFrame) -> float:
    """The true SvdH total of a patient's joints: erosion and narrowing of the SvdH joints."""
    erosion = joints.loc[joints["joint"].isin(EROSION_JOINTS), "erosion"].sum()
    return float(erosion + joints.loc[joints["joint"].isin(NARROWING_JOINTS), "narrowing"].sum())


def held_out_agreement(scores: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Found share, place error in MCP2-MCP3 distances, and the grades against the truth."""
    both = truth.merge(scores, on=["image_id", "joint"], suffixes=("_true", ""))
    places = truth.pivot(index="image_id", columns="joint", values=["x", "y"])
    span = np.hypot(places["x"]["mcp2"] - places["x"]["mcp3"],
                    places["y"]["mcp2"] - places["y"]["mcp3"])  # fmt: skip
    found = both[both["found"]]
    error = np.hypot(found["x"] - found["x_true"], found["y"] - found["y_true"])
    error = error / found["image_id"].map(span).astype(float)
    result = {
        "found": float(both["found"].mean()),
        "within_10pct": float((error <= 0.10).mean()),
        "median_error": float(error.median()),
    }
    for kind in ("narrowing", "erosion"):
        predicted, true = found[kind], found[f"{kind}_true"]
        result[f"{kind}_exact"] = float((predicted.round() == true).mean())
        result[f"{kind}_r"] = float(predicted.corr(true)) if true.nunique() > 1 else np.nan
    # A patient's SvdH narrowing: expected grades of the found joints, against the truth.
    counted = both[both["joint"].isin(NARROWING_JOINTS)]
    per_patient = counted.groupby("subject_id")[["narrowing", "narrowing_true"]].sum()
    result["svdh_narrowing_r"] = float(per_patient.corr().iloc[0, 1])
    return result


def main() -> int:
    args = parse_args()
    n_patients = args.n_patients or (12 if args.tiny else 80)
    if args.tiny:
        size, locator, epochs, grader_epochs = "64", "64", "2", "1"
    else:
        size, locator, epochs, grader_epochs = "256", "128", "40", "25"
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        train, test = out / "cohort", out / "held-out"
        print("1. Two synthetic cohorts, both hands of every imaged patient:")
        # 70% with RA, so that there is damage to learn and to see.
        for folder, patients, seed in ((train, n_patients, args.seed),
                                       (test, 8, args.seed + 100)):  # fmt: skip
            run("synth", folder, "--n-patients", str(patients), "--seed", str(seed),
                "--image-size", size, "--images-per-patient", "2", "--prevalence", "0.7",
                "--formats", "csv", "png", "dicom", "-q")  # fmt: skip
        images = pd.read_csv(train / "images.csv")
        print(f"   {len(images)} training radiographs, {len(pd.read_csv(train / 'joints.csv'))} "
              "graded joints in joints.csv")  # fmt: skip

        print("2. Train the locator and the grader:")
        model = out / "joint-model"
        run("joints", "train", "--data", train, "--out", model, "--image-size", locator,
            "--epochs", epochs, "--grader-epochs", grader_epochs)  # fmt: skip

        print("3. Grade the held-out radiographs and draw them:")
        held_out = sorted((test / "images").glob("*.dcm"))
        scores_csv, figures = out / "scores.csv", out / "figures"
        run("joints", "predict", *held_out, "--model", model, "--out", scores_csv,
            "--figures", figures, "--manifest", test / "images.csv",
            "--truth", test / "joints.csv",
            shown={shlex.join(map(str, held_out)): f"{test}/images/*.dcm"})  # fmt: skip
        drawn = pd.read_csv(figures / "figures.csv")
        print(f"   {(drawn['kind'] == 'hands').sum()} hand diagrams and "
              f"{(drawn['kind'] == 'radiograph').sum()} radiographs in {figures}")  # fmt: skip
        truth = pd.read_csv(test / "joints.csv", dtype={"image_id": str})
        damage = truth.groupby("subject_id").apply(svdh_total, include_groups=False)
        worst = drawn[(drawn["kind"] == "hands") & (drawn["patient"] == damage.idxmax())]
        print(f"   the most damaged patient (true SvdH {damage.max():.0f}): "
              f"{figures / worst['figure'].iloc[0]}")  # fmt: skip

        measured = held_out_agreement(pd.read_csv(scores_csv), truth)
        print(f"4. Held-out ({len(held_out)} radiographs): joints found "
              f"{measured['found']:.2f}, within 10% of the MCP2-MCP3 distance "
              f"{measured['within_10pct']:.2f} "
              f"(median error {measured['median_error']:.2f})")  # fmt: skip
        print(f"   narrowing: exact {measured['narrowing_exact']:.2f}, "
              f"r {measured['narrowing_r']:.2f}; erosion: exact "
              f"{measured['erosion_exact']:.2f}, r {measured['erosion_r']:.2f}; "
              f"patients' SvdH narrowing r {measured['svdh_narrowing_r']:.2f}")  # fmt: skip

        print("5. The joint grades, per hand, in a fusion with the EHR, and why it said so:")
        fusion, config = out / "fusion", out / "fusion-config.json"
        # Two folds: the tiny cohort has too few patients without RA for more.
        config.write_text(json.dumps({"fusion_params": {"cv": 2 if args.tiny else 5}}))
        run("train", "--data", train, "--model", "late", "--image-model", "joints",
            "--joint-model", model, "--config", config, "--out", fusion, "-q")  # fmt: skip
        explained_csv = out / "explained.csv"
        run("predict", "--model", fusion, "--data", test, "--out", explained_csv, "--explain",
            "-q")  # fmt: skip
        explained = pd.read_csv(explained_csv)
        imaged = explained[explained["has_joints"]]
        patient = imaged.loc[imaged["contribution_joints"].abs().idxmax()]
        print(f"   held-out patient {patient.name + 1}: P(RA) {patient['proba']:.2f}, the "
              f"radiograph's part {patient['contribution_joints']:+.2f} (log-odds)")  # fmt: skip
        for reason in patient.filter(like="reason_").dropna():
            print(f"     {reason}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
