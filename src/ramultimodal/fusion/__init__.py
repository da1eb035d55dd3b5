"""Fusion of the modalities: late fusion, stacking and early fusion behind one sklearn API.

Every estimator here takes ``modalities=[(name, estimator, columns), ...]`` and treats its
base estimators generically: it never imports torch nor knows what a radiograph is.
`CohortPipeline` puts the feature extraction in front of a fusion, and `save_model` /
`load_model` keep the whole as plain data (docs/model-folder.md).
"""

from ramultimodal.fusion._base import NoModalityWarning
from ramultimodal.fusion._diagnosis import FusionWarning
from ramultimodal.fusion._early import EarlyFusionClassifier
from ramultimodal.fusion._fold_bag import FoldBagClassifier
from ramultimodal.fusion._late import LateFusionClassifier
from ramultimodal.fusion._persist import ModelVersionWarning, load_model, save_model
from ramultimodal.fusion._pipeline import CohortFeaturizer, CohortPipeline, ImageGuardWarning
from ramultimodal.fusion._plain import ModelFolderError
from ramultimodal.fusion._recalibrated import RecalibratedClassifier
from ramultimodal.fusion._stacking import StackingFusionClassifier
from ramultimodal.fusion._survival import LateFusionSurvival, survival_y
from ramultimodal.fusion._training_facts import (
    cohort_facts,
    development_facts,
    read_training_facts,
    training_facts,
)

__all__ = [
    "CohortFeaturizer",
    "CohortPipeline",
    "EarlyFusionClassifier",
    "FoldBagClassifier",
    "FusionWarning",
    "ImageGuardWarning",
    "LateFusionClassifier",
    "LateFusionSurvival",
    "ModelFolderError",
    "ModelVersionWarning",
    "NoModalityWarning",
    "RecalibratedClassifier",
    "StackingFusionClassifier",
    "cohort_facts",
    "development_facts",
    "load_model",
    "read_training_facts",
    "save_model",
    "survival_y",
    "training_facts",
]
