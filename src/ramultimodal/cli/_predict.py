"""``ramultimodal predict``: probabilities for every patient of a cohort directory."""

from __future__ import annotations

import argparse
from typing import Any

from ramultimodal.cli import CommandError
from ramultimodal.cli._common import (
    add_data_options,
    add_scheduler_argument,
    data_options,
    user_mistakes,
)

# How every predictions file begins; --force replaces only a file that does.
_HEADER = "subject_id,proba"


def register(subparsers: Any) -> None:
    """Add the ``predict`` parser."""
    parser = subparsers.add_parser(
        "predict",
        help="predict the patients of a cohort directory with a saved model",
        description="Write one row per patient: the fused probability of RA within 12 "
        "months, each modality's probability and which modalities the patient had.",
    )
    parser.add_argument("--model", required=True, metavar="MODEL_DIR", help="a saved model")
    parser.add_argument("--data", required=True, metavar="DIR", help="cohort directory")
    parser.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    add_data_options(parser)
    add_scheduler_argument(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace FILE (and the --patient-report folder) if written here before",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="add why: the log-odds, each modality's contribution, the baseline and "
        "reason_1..reason_5, the largest contributions in words (docs/explanations.md)",
    )
    parser.add_argument(
        "--patient-report",
        metavar="DIR",
        help="with --explain: also write one HTML page per patient (patient-0001.html...) "
        "and index.html to DIR",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict and write the CSV (complete or not at all)."""
    from ramultimodal._staging import staged_file
    from ramultimodal.workflows import predict_dataset

    if args.patient_report is not None and not args.explain:
        raise CommandError("--patient-report writes the reasons of each prediction: add --explain.")
    if args.explain:
        return _run_explained(args)
    with user_mistakes(), staged_file(args.out, header=_HEADER, overwrite=args.force) as partial:
        predictions = predict_dataset(
            args.model,
            args.data,
            verbose=int(args.progress),
            scheduler=args.scheduler,
            **data_options(args),
        )
        predictions.to_csv(partial, index_label="subject_id")
    print(f"Wrote {len(predictions)} predictions to {args.out}")
    return 0


def _run_explained(args: argparse.Namespace) -> int:
    """Predict with reasons; the CSV and the patient pages are written whole or not at all."""
    from ramultimodal._staging import check_output, staged_file
    from ramultimodal.workflows import explain_dataset, is_synthetic_cohort

    with user_mistakes():
        if args.patient_report is not None:  # before the work, not after
            check_output(args.patient_report, "patient-report", overwrite=args.force)
        with staged_file(args.out, header=_HEADER, overwrite=args.force) as partial:
            explained = explain_dataset(
                args.model, args.data, verbose=int(args.progress), **data_options(args)
            )
            if args.patient_report is not None:
                explained.write_patient_reports(
                    args.patient_report,
                    synthetic=is_synthetic_cohort(args.data),
                    overwrite=args.force,
                )
            explained.table.to_csv(partial, index_label="subject_id")
    print(f"Wrote {len(explained.table)} explained predictions to {args.out}")
    if args.patient_report is not None:
        print(f"Wrote {len(explained.table)} patient pages to {args.patient_report}")
    return 0
