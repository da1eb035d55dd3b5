"""``ramultimodal predict``: probabilities for every patient of a cohort directory."""

from __future__ import annotations

import argparse
from typing import Any

from ramultimodal.cli._common import add_data_options, data_options, user_mistakes

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
    parser.add_argument(
        "--force", action="store_true", help="replace FILE if it holds predictions written here"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict and write the CSV (complete or not at all)."""
    from ramultimodal._staging import staged_file
    from ramultimodal.workflows import predict_dataset

    with user_mistakes(), staged_file(args.out, header=_HEADER, overwrite=args.force) as partial:
        predictions = predict_dataset(
            args.model, args.data, verbose=int(args.progress), **data_options(args)
        )
        predictions.to_csv(partial, index_label="subject_id")
    print(f"Wrote {len(predictions)} predictions to {args.out}")
    return 0
