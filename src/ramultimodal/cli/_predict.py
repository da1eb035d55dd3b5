"""``ramultimodal predict``: probabilities for every patient of a cohort directory."""

from __future__ import annotations

import argparse
from typing import Any

from ramultimodal.cli import CommandError
from ramultimodal.cli._common import user_mistakes


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
    parser.add_argument(
        "--source",
        default="auto",
        choices=("auto", "csv", "fhir-ndjson", "fhir-bundles"),
        help="where to read the EHR from (default: %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict and write the CSV (complete or not at all)."""
    import os
    from pathlib import Path

    from ramultimodal.workflows import predict_dataset

    out = Path(args.out)
    if out.exists() and not args.force:
        raise CommandError(f"{out} already exists; choose another file or use --force.")
    with user_mistakes():
        predictions = predict_dataset(args.model, args.data, source=args.source)
        partial = out.with_name(f".{out.name}.partial")
        predictions.to_csv(partial, index_label="subject_id")
        os.replace(partial, out)
    print(f"Wrote {len(predictions)} predictions to {out}")
    return 0
