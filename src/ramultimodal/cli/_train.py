"""``ramultimodal train``: fit a fusion model on a cohort directory and save it."""

from __future__ import annotations

import argparse
from typing import Any

from ramultimodal.cli._common import (
    LibraryChoices,
    add_data_options,
    add_horizon_options,
    add_scheduler_argument,
    data_options,
    horizon_options,
    user_mistakes,
)


def register(subparsers: Any) -> None:
    """Add the ``train`` parser."""
    parser = subparsers.add_parser(
        "train",
        help="train a fusion model on a cohort directory",
        description="Train a fusion model (radiograph CNN + EHR + PROs) on the patients of a "
        "cohort directory (docs/data-model.md, 'A cohort directory') and save it to "
        "MODEL_DIR as plain data: JSON, LightGBM text and safetensors, with a sha256 of "
        "every file (docs/model-folder.md).",
    )
    parser.add_argument("--data", required=True, metavar="DIR", help="cohort directory")
    parser.add_argument(
        "--model",
        required=True,
        choices=LibraryChoices("ramultimodal.workflows", "TRAIN_KINDS"),
        metavar="KIND",
        help="fusion method, one of %(choices)s (survival-late: a model of time to RA, "
        "from labels.csv's time_to_ra_days and event; its probability is RA by --horizon)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="JSON with featurizer_params, image_params, ehr_params, fusion_params, "
        "random_state, gbm (lightgbm or xgboost), meta_learner (logistic or gbm), "
        'calibration (null, "sigmoid" or "isotonic"), image_model, joint_model, joint_params',
    )
    parser.add_argument(
        "--image-model",
        choices=LibraryChoices("ramultimodal.models", "IMAGE_MODELS"),
        metavar="HOW",
        help="how the radiographs are read, one of %(choices)s (default: cnn, or the "
        "config's image_model): cnn, the whole-image CNN; joints, each joint's erosion and "
        "narrowing grade and the SvdH totals (docs/joints.md); both",
    )
    parser.add_argument(
        "--joint-model",
        metavar="JOINTS_DIR",
        help="trained joint models for --image-model joints or both (from 'ramultimodal "
        "joints train'); default: train them first on DIR's radiographs and joints.csv",
    )
    parser.add_argument("--out", required=True, metavar="MODEL_DIR", help="folder to create")
    add_data_options(parser)
    add_horizon_options(parser)
    add_scheduler_argument(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace MODEL_DIR if it holds a model saved by ramultimodal",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train and save."""
    from ramultimodal.workflows import read_config, train_model

    with user_mistakes():
        config = read_config(args.config)
        if args.image_model is not None:
            config["image_model"] = args.image_model
        if args.joint_model is not None:
            config["joint_model"] = args.joint_model
        out = train_model(
            args.data,
            args.model,
            args.out,
            config=config,
            overwrite=args.force,
            verbose=int(args.progress),
            scheduler=args.scheduler,
            **data_options(args),
            **horizon_options(args),
        )
    print(f"Saved the model to {out}")
    return 0
