"""``ramultimodal joints``: train the joint models on a cohort folder, or grade radiographs."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from ramultimodal._errors import InputError
from ramultimodal.cli import CommandError
from ramultimodal.cli._common import one_line, positive_int

#: What `ramultimodal joints train` writes (the marker `--force` checks).
_KIND = "JointScoreTransformer"
#: How every scores file begins; --force replaces only a file that does.
_HEADER = "image_id,joint"


def register(subparsers: Any) -> None:
    """Add the ``joints`` parser with its ``train`` and ``predict`` actions."""
    parser = subparsers.add_parser(
        "joints",
        help="locate and grade each Sharp/van der Heijde joint (train, predict)",
        description="Joint by joint (docs/joints.md): 'train' learns to locate and grade the "
        "joints from a cohort folder with joints.csv (ramultimodal synth writes one); "
        "'predict' writes every joint's place and grades for radiograph files.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="fit on DATA_DIR's images.csv and joints.csv")
    train.add_argument("--data", required=True, type=Path, metavar="DATA_DIR",
                       help="a cohort folder with images.csv and joints.csv")  # fmt: skip
    train.add_argument("--out", required=True, type=Path, metavar="MODEL_DIR",
                       help="folder to create")  # fmt: skip
    train.add_argument("--image-size", type=positive_int, default=128, metavar="PIXELS",
                       help="side of the locator's input (default: %(default)s)")  # fmt: skip
    train.add_argument("--epochs", type=positive_int, default=40, metavar="N",
                       help="locator epochs (default: %(default)s)")  # fmt: skip
    train.add_argument("--grader-epochs", type=positive_int, default=30, metavar="N",
                       help="epochs of each grader, the finger joints' and the wrist's "
                       "(default: %(default)s)")  # fmt: skip
    train.add_argument("--force", action="store_true",
                       help="replace MODEL_DIR if it holds joint models "
                       "ramultimodal saved")  # fmt: skip
    train.set_defaults(run=run_train)
    predict = actions.add_parser("predict", help="grade the joints of radiograph files")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                         help="radiograph files (DICOM, PNG, JPEG, TIFF)")  # fmt: skip
    predict.add_argument("--model", required=True, type=Path, metavar="MODEL_DIR",
                         help="joint models from 'ramultimodal joints train'")  # fmt: skip
    predict.add_argument("--out", required=True, type=Path, metavar="SCORES_CSV",
                         help="file to create: one row per image and joint")  # fmt: skip
    predict.add_argument("--figures", type=Path, metavar="FIG_DIR",
                         help="also draw each radiograph's joints and each patient's hand "
                         "diagram as PNGs, with an index.html (docs/joints.md)")  # fmt: skip
    predict.add_argument("--manifest", type=Path, metavar="IMAGES_CSV",
                         help="with --figures: an images.csv (subject_id, path, laterality) "
                         "saying whose and which hand each image is")  # fmt: skip
    predict.add_argument("--truth", type=Path, metavar="JOINTS_CSV",
                         help="with --figures: true grades (a synthetic cohort's joints.csv) "
                         "to draw beside the predicted ones")  # fmt: skip
    predict.add_argument("--force", action="store_true",
                         help="replace SCORES_CSV and FIG_DIR "
                         "(if ramultimodal wrote them)")  # fmt: skip
    predict.set_defaults(run=run_predict)


def run_train(args: argparse.Namespace) -> int:
    """Fit a `JointScoreTransformer` on a cohort folder and save it."""
    import pandas as pd

    from ramultimodal._staging import check_output, output_lock
    from ramultimodal.image import JointScoreTransformer
    from ramultimodal.io import read_joints_csv

    started = time.perf_counter()
    images_csv, joints_csv = args.data / "images.csv", args.data / "joints.csv"
    for path in (images_csv, joints_csv):
        if not path.is_file():
            raise CommandError(
                f"{path} not found: write a cohort with 'ramultimodal synth' (which writes "
                "joints.csv with its images) or bring a joints.csv (docs/joints.md)."
            )
    try:
        # Before the minutes of training: an output that may not be replaced is said now.
        check_output(args.out, _KIND, overwrite=args.force)
        images = pd.read_csv(images_csv)
        joints = read_joints_csv(joints_csv)
        X = [[str(args.data / p)] for p in images["path"]]
        model = JointScoreTransformer(
            image_size=args.image_size,
            locator_epochs=args.epochs,
            epochs=args.grader_epochs,
            verbose=int(args.progress),
        ).fit(X, joints=joints)
        with output_lock(args.out):
            check_output(args.out, _KIND, overwrite=args.force)
            model.save(args.out)
    except (KeyError, ValueError, OSError, InputError) as error:
        raise CommandError(one_line(error)) from None
    if args.log_level <= logging.INFO:
        print(
            f"Trained the joint models on {len(X)} images in "
            f"{time.perf_counter() - started:.0f} s; saved to {args.out}."
        )
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Grade every joint of the given files with a saved model; write a CSV."""
    from ramultimodal._staging import check_output, staged_file
    from ramultimodal.image import JointScoreTransformer

    if (args.manifest or args.truth) and not args.figures:
        raise CommandError("--manifest and --truth only serve the pictures: add --figures DIR.")
    try:
        if args.figures:  # before the images are read
            check_output(args.figures, "joint-figures", overwrite=args.force)
        with staged_file(args.out, header=_HEADER, overwrite=args.force) as partial:
            model = JointScoreTransformer.load(args.model)
            scores = model.score_images([str(p) for p in args.images])
            scores.to_csv(partial, index=False, lineterminator="\n")
            if args.figures:
                _write_figures(args, scores)
    except (KeyError, ValueError, OSError, InputError) as error:
        raise CommandError(one_line(error)) from None
    if args.log_level <= logging.INFO:
        found = int(scores["found"].sum())
        print(f"Found {found} of {len(scores)} joints in {len(args.images)} images; "
              f"wrote {args.out}.")  # fmt: skip
        if args.figures:
            print(f"Drew the joints found and the hand diagrams in {args.figures} "
                  "(index.html).")  # fmt: skip
    return 0


def _write_figures(args: argparse.Namespace, scores: Any) -> None:
    """The pictures of `scores`: whose and which hand from --manifest, truth from --truth."""
    import pandas as pd

    from ramultimodal.evaluation import write_joint_figures
    from ramultimodal.io import read_joints_csv

    truth = read_joints_csv(args.truth) if args.truth else None
    patients = sides = None
    if args.manifest:
        manifest = pd.read_csv(args.manifest, dtype=str)
        missing = {"subject_id", "path"} - set(manifest.columns)
        if missing:
            raise ValueError(f"{args.manifest} lacks column(s) {sorted(missing)}; it needs "
                             "subject_id and path (as a cohort's images.csv).")  # fmt: skip
        stems = manifest["path"].map(lambda path: Path(path).stem)
        patients = dict(zip(stems, manifest["subject_id"], strict=True))
        if "laterality" in manifest.columns:
            sides = {
                stem: side
                for stem, side in zip(stems, manifest["laterality"], strict=True)
                if side in ("L", "R")
            }
    write_joint_figures(
        scores, [str(p) for p in args.images], args.figures,
        truth=truth, patients=patients, sides=sides, overwrite=args.force,
    )  # fmt: skip
