"""``ramultimodal evaluate``: a saved model against the criteria, as an HTML report."""

from __future__ import annotations

import argparse
from typing import Any

from ramultimodal.cli._common import (
    add_data_options,
    add_horizon_options,
    add_scheduler_argument,
    data_options,
    horizon_options,
    positive_int,
    user_mistakes,
)


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` parser."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a saved model on a labelled cohort directory",
        description="Score a saved fusion model on a labelled cohort directory, beside each "
        "of its modalities alone and the 2010 ACR/EULAR criteria, and write the report "
        "(HTML with the figures embedded, JSON, CSV, model card).",
    )
    parser.add_argument("--data", required=True, metavar="DIR", help="cohort directory")
    parser.add_argument("--model", required=True, metavar="MODEL_DIR", help="a saved model")
    parser.add_argument(
        "--report", required=True, metavar="REPORT_DIR", help="folder to create for the report"
    )
    add_data_options(parser)
    add_horizon_options(parser)
    add_scheduler_argument(parser)
    parser.add_argument(
        "--n-boot",
        type=positive_int,
        default=1000,
        metavar="N",
        help="bootstrap replicates for the confidence intervals (default: %(default)s)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace REPORT_DIR if it holds a report written by ramultimodal",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the report."""
    from ramultimodal.workflows import evaluate_model

    with user_mistakes():
        report = evaluate_model(
            args.model,
            args.data,
            args.report,
            n_boot=args.n_boot,
            overwrite=args.force,
            verbose=int(args.progress),
            scheduler=args.scheduler,
            **data_options(args),
            **horizon_options(args),
        )
    print(f"Report: {report}")
    return 0
