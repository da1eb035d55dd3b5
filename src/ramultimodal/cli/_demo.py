"""``ramultimodal demo``: the main job, from a synthetic clinic to the HTML report."""

from __future__ import annotations

import argparse
from typing import Any

from ramultimodal.cli._common import add_horizon_options, positive_int, user_mistakes


def register(subparsers: Any) -> None:
    """Add the ``demo`` parser."""
    parser = subparsers.add_parser(
        "demo",
        help="generate a synthetic clinic, train and compare every model, write the report",
        description="Generate a synthetic early-arthritis clinic; cross-validate (grouped by "
        "patient) the radiograph CNN, the EHR model, the PRO model, the 2010 ACR/EULAR "
        "criteria and late, stacking and early fusion; write an HTML report with ROC, "
        "calibration, decision curves, subgroups and Grad-CAM overlays.",
    )
    parser.add_argument(
        "--out",
        default="ramultimodal-demo",
        metavar="DIR",
        help="folder for the cohort and the report (default: %(default)s)",
    )
    parser.add_argument(
        "--n-patients",
        type=positive_int,
        default=300,
        metavar="N",
        help="patients in the synthetic clinic (default: %(default)s)",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        default=128,
        metavar="PIXELS",
        help="radiograph and CNN input size (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=12,
        help="CNN training epochs (default: %(default)s)",
    )
    parser.add_argument(
        "--folds",
        type=positive_int,
        default=3,
        help="cross-validation folds (default: %(default)s)",
    )
    parser.add_argument(
        "--n-boot",
        type=positive_int,
        default=500,
        metavar="N",
        help="bootstrap replicates for the confidence intervals (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    add_horizon_options(parser, censored=False)
    parser.add_argument(
        "--population",
        type=population,
        default="clinic",
        metavar="POPULATION",
        help="who the synthetic cohort follows: clinic, undifferentiated, arthralgia, or a "
        "mix such as clinic=0.5,arthralgia=0.5 (default: %(default)s)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace DIR if an earlier demo wrote it"
    )
    parser.set_defaults(run=run)


def population(text: str):
    """``--population``: as ``synth`` reads it."""
    from ramultimodal.cli._synth import _population

    return _population(text)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the summary table and where the report is."""
    from ramultimodal.workflows import run_demo

    with user_mistakes():
        result = run_demo(
            args.out,
            n_patients=args.n_patients,
            image_size=args.image_size,
            max_epochs=args.epochs,
            cv=args.folds,
            n_boot=args.n_boot,
            seed=args.seed,
            horizon=args.horizon,
            population=args.population,
            overwrite=args.force,
            verbose=int(args.progress),
        )
    print()
    print(result.summary.to_string())
    print()
    if result.recalibration is not None:
        print("Calibration slope (goal 0.9-1.1), intercept and ECE; after: a cross-fitted")
        print('sigmoid recalibration, as calibration="sigmoid" gives:')
        print(result.recalibration.round(3).to_string())
        print()
    if result.survival is not None:
        print("Time to RA (out of fold; Harrell's C, Uno's C, AUROC at each horizon in days):")
        columns = [c for c in result.survival.columns if not c.endswith(("_low", "_high"))]
        print(result.survival[columns].round(3).to_string())
        print()
    print(f"Report: {result.report.resolve()}")
    print(
        f"Cohort: {result.cohort_dir.resolve()} (try: ramultimodal train --data "
        f"{result.cohort_dir} --model stacking --out my-model)"
    )
    print(f"Done in {result.seconds / 60:.1f} min.")
    return 0
