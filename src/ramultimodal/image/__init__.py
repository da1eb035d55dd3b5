"""image stage of ramultimodal (see docs/data-model.md)."""

from ramultimodal.image._preprocess import (
    ImagePreprocessor,
    equalize,
    letterbox,
    train_augmentation,
)

__all__ = [
    "ImagePreprocessor",
    "equalize",
    "letterbox",
    "train_augmentation",
]
