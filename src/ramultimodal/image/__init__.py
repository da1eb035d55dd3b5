"""image stage of ramultimodal (see docs/data-model.md)."""

from ramultimodal.image._augmentation import train_augmentation
from ramultimodal.image._backbones import BACKBONES, build_backbone
from ramultimodal.image._classifier import CNNImageClassifier
from ramultimodal.image._contrast import equalize
from ramultimodal.image._gradcam import grad_cam, save_gradcam_overlay
from ramultimodal.image._inference import INFERENCE_BATCH, exact_inference
from ramultimodal.image._letterbox import letterbox
from ramultimodal.image._preprocess import ImagePreprocessor

__all__ = [
    "BACKBONES",
    "INFERENCE_BATCH",
    "CNNImageClassifier",
    "ImagePreprocessor",
    "build_backbone",
    "equalize",
    "exact_inference",
    "grad_cam",
    "letterbox",
    "save_gradcam_overlay",
    "train_augmentation",
]
