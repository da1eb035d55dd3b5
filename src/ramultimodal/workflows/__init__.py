"""Workflows behind the ``ramultimodal`` command: the demo, train, evaluate, predict.

Each is a library function, so that everything the command does can be done from Python.
"""

from ramultimodal.workflows._demo import DemoResult, run_demo
from ramultimodal.workflows._explain import ExplainedCohort, explain_dataset
from ramultimodal.workflows._model_dir import (
    FUSION_KINDS,
    evaluate_model,
    is_synthetic_cohort,
    predict_dataset,
    read_config,
    train_model,
)

__all__ = [
    "FUSION_KINDS",
    "DemoResult",
    "ExplainedCohort",
    "evaluate_model",
    "explain_dataset",
    "is_synthetic_cohort",
    "predict_dataset",
    "read_config",
    "run_demo",
    "train_model",
]
