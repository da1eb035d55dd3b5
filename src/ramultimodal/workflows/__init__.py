"""Workflows behind the ``ramultimodal`` command: the demo, convert, train, evaluate, predict.

Each is a library function, so that everything the command does can be done from Python.
"""

from ramultimodal.workflows._convert import CONVERT_FORMATS, convert_dataset
from ramultimodal.workflows._demo import DemoResult, run_demo
from ramultimodal.workflows._explain import ExplainedCohort, explain_dataset
from ramultimodal.workflows._model_dir import (
    FUSION_KINDS,
    TRAIN_KINDS,
    evaluate_model,
    is_synthetic_cohort,
    predict_dataset,
    read_config,
    train_model,
)

__all__ = [
    "CONVERT_FORMATS",
    "FUSION_KINDS",
    "TRAIN_KINDS",
    "DemoResult",
    "ExplainedCohort",
    "convert_dataset",
    "evaluate_model",
    "explain_dataset",
    "is_synthetic_cohort",
    "predict_dataset",
    "read_config",
    "run_demo",
    "train_model",
]
