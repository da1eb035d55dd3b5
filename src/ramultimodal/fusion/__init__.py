"""Fusion of the modalities: late fusion, stacking and early fusion behind one sklearn API.

Every estimator here takes ``modalities=[(name, estimator, columns), ...]`` and treats its
base estimators generically: it never imports torch nor knows what a radiograph is.
"""

from ramultimodal.fusion._early import EarlyFusionClassifier
from ramultimodal.fusion._late import LateFusionClassifier
from ramultimodal.fusion._persist import load_model, save_model
from ramultimodal.fusion._stacking import StackingFusionClassifier

__all__ = [
    "EarlyFusionClassifier",
    "LateFusionClassifier",
    "StackingFusionClassifier",
    "load_model",
    "save_model",
]
