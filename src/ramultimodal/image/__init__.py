"""The radiograph model: preprocessing, CNN backbones, `CNNImageClassifier`, Grad-CAM,
and the leakage guard of radiographs.

Names are loaded on first use (PEP 562), so that what needs only the guard (the cohort
featurizer) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> module that defines it.
_LAZY: dict[str, str] = {
    "BACKBONES": "_backbones",
    "build_backbone": "_backbones",
    "CNNImageClassifier": "_classifier",
    "equalize": "_contrast",
    "JointLocator": "_joint_locator",
    "JointScoreTransformer": "_joint_scores",
    "JointScoreFeatures": "_joint_features",
    "joint_score_features": "_joint_features",
    "grad_cam": "_gradcam",
    "save_gradcam_overlay": "_gradcam",
    "INFERENCE_BATCH": "_inference",
    "exact_inference": "_inference",
    "letterbox": "_letterbox",
    "ImagePreprocessor": "_preprocess",
    "train_augmentation": "_augmentation",
    "ImageGuardWarning": "_radiograph_guard",
    "usable_radiographs": "_radiograph_guard",
}

__all__ = [
    "BACKBONES",
    "INFERENCE_BATCH",
    "CNNImageClassifier",
    "ImageGuardWarning",
    "ImagePreprocessor",
    "JointLocator",
    "JointScoreFeatures",
    "JointScoreTransformer",
    "build_backbone",
    "equalize",
    "exact_inference",
    "grad_cam",
    "joint_score_features",
    "letterbox",
    "save_gradcam_overlay",
    "train_augmentation",
    "usable_radiographs",
]

if TYPE_CHECKING:  # pragma: no cover
    from ramultimodal.image._augmentation import train_augmentation
    from ramultimodal.image._backbones import BACKBONES, build_backbone
    from ramultimodal.image._classifier import CNNImageClassifier
    from ramultimodal.image._contrast import equalize
    from ramultimodal.image._gradcam import grad_cam, save_gradcam_overlay
    from ramultimodal.image._inference import INFERENCE_BATCH, exact_inference
    from ramultimodal.image._joint_features import JointScoreFeatures, joint_score_features
    from ramultimodal.image._joint_locator import JointLocator
    from ramultimodal.image._joint_scores import JointScoreTransformer
    from ramultimodal.image._letterbox import letterbox
    from ramultimodal.image._preprocess import ImagePreprocessor
    from ramultimodal.image._radiograph_guard import ImageGuardWarning, usable_radiographs


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # resolve once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
