"""image stage of ramultimodal (see docs/data-model.md)."""

from ramultimodal.image._backbones import BACKBONES, build_backbone
from ramultimodal.image._classifier import CNNImageClassifier
from ramultimodal.image._gradcam import grad_cam, save_gradcam_overlay
from ramultimodal.image._preprocess import (
    ImagePreprocessor,
    equalize,
    letterbox,
    train_augmentation,
)

__all__ = [
    "BACKBONES",
    "CNNImageClassifier",
    "ImagePreprocessor",
    "build_backbone",
    "equalize",
    "grad_cam",
    "letterbox",
    "save_gradcam_overlay",
    "train_augmentation",
]
