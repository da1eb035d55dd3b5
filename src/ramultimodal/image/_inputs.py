"""What ``X`` holds, read into each patient's images and decoded once into a ``float16`` tensor.

One item of ``X`` is one patient: a path, a list of paths, a 2-D array, a stack or a list of
arrays, or None / NaN / ``[]`` for a patient without an image. `_patient_images` turns ``X``
(a list, an array, a Series or a one-column DataFrame) into a list of images per patient;
`_ImageInputs._decode` preprocesses every image once (`ImagePreprocessor`, shared between
the clones of cross-validation) into one tensor, with the patient row of each image.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ramultimodal._missing import is_missing


def _images_of(item: Any, row: int) -> list[Any]:
    """The images (paths or 2-D arrays) of one patient; ``[]`` for "no image"."""
    if is_missing(item):
        return []
    if isinstance(item, str | os.PathLike):
        return [item]
    if isinstance(item, np.ndarray) and item.dtype != object:
        if item.ndim == 2:
            return [item]
        if item.ndim == 3:  # a stack of images of one patient
            return list(item)
        raise ValueError(f"X row {row}: an image array must be 2-D, got shape {item.shape}.")
    if isinstance(item, Sequence | np.ndarray):
        images = list(item)
        for image in images:
            is_pixels = isinstance(image, np.ndarray) and image.ndim == 2
            if not (is_pixels or isinstance(image, str | os.PathLike)):
                raise ValueError(
                    f"X row {row}: a list of images may hold only paths and 2-D arrays, "
                    f"found {type(image).__name__}. Use an empty list for a patient without "
                    "images."
                )
        return images
    raise TypeError(
        f"X row {row}: expected a path, a list of paths, a 2-D array or a list of arrays "
        f"(or None/NaN/[] for no image), got {type(item).__name__}."
    )


def _patient_images(X: Any) -> list[list[Any]]:
    """Turn ``X`` (one item per patient) into a list of per-patient image lists."""
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"X is a DataFrame with {X.shape[1]} columns; CNNImageClassifier takes one "
                "column of images (select it, e.g. X['image'], or route it with a "
                "ColumnTransformer)."
            )
        X = X.iloc[:, 0]
    if isinstance(X, pd.Series):
        X = X.tolist()
    elif isinstance(X, np.ndarray):
        if X.dtype != object and X.ndim == 3:  # a stack of single images
            X = list(X)
        elif X.ndim == 2 and X.shape[1] == 1:
            X = list(X[:, 0])
        elif X.ndim == 1:
            X = list(X)
        else:
            raise ValueError(
                f"X has shape {X.shape}; expected one item per patient (a 1-D object array) "
                "or a stack of 2-D images (n_patients, height, width)."
            )
    elif isinstance(X, str | os.PathLike) or not isinstance(X, Sequence):
        raise TypeError(
            "X must be a sequence with one item per patient (list, array, Series or one-column "
            f"DataFrame), got {type(X).__name__}; wrap a single image in a list."
        )
    return [_images_of(item, row) for row, item in enumerate(X)]


@functools.lru_cache(maxsize=4)
def _shared_preprocessor(size: int, contrast: str | None, flip_left: bool, cache_dir: str | None):
    """One preprocessor (and so one memory cache) per setting, shared by every estimator.

    Cross-validation clones the estimator for every fold; sharing the preprocessor means a
    file is decoded once per process, not once per fold. ``cache_clear()`` drops the caches.
    """
    from ramultimodal.image._preprocess import ImagePreprocessor

    return ImagePreprocessor(size=size, contrast=contrast, flip_left=flip_left, cache_dir=cache_dir)


class _ImageInputs:
    """The decoding step of `CNNImageClassifier`, by its ``image_size``, ``contrast``,
    ``flip_left`` and ``cache_dir``."""

    def _preprocessor(self):
        cache_dir = os.fspath(self.cache_dir) if self.cache_dir is not None else None
        return _shared_preprocessor(int(self.image_size), self.contrast, self.flip_left, cache_dir)

    def _decode(self, patients: list[list[Any]]) -> tuple[torch.Tensor, np.ndarray]:
        """All images once, as ``float16 (n_images, 1, size, size)``, and each one's patient row."""
        from tqdm.auto import tqdm

        preprocessor = self._preprocessor()
        owner = np.array([row for row, images in enumerate(patients) for _ in images], dtype=int)
        size = int(self.image_size)
        # float16 keeps 11 significant bits (more than 8-bit images, enough for 12-bit
        # detectors) at half the memory of float32.
        pixels = np.empty((len(owner), 1, size, size), dtype=np.float16)
        items = (image for images in patients for image in images)
        # A step before training or predicting: cleared when done, as the batches' bar is.
        progress = tqdm(
            items,
            total=len(owner),
            desc="Decoding images",
            leave=False,
            disable=not self.verbose,
        )
        for index, image in enumerate(progress):
            pixels[index, 0] = preprocessor.load(image)
        return torch.from_numpy(pixels), owner
