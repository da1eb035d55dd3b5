"""Radiographs as the joint models see them, and the way back to the file's pixels.

The joint models work on a letterboxed square (`letterbox`), contrast-stretched per image
between robust percentiles so that exposure and windowing differ little between files.
Left hands are not flipped: a joint model must find the joints of either hand, and a PNG
does not say which hand it shows. `Placement` maps a point of the square back to the
file's own pixels (column, row, 0 at the centre of the first pixel), undoing the padding,
the resize and any reduced-resolution decoding of `read_image`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ramultimodal.image._letterbox import _fit_within, _pad_square

__all__ = ["Placement", "image_key", "load_square"]


def on_image(x: np.ndarray, y: np.ndarray, height: int, width: int) -> np.ndarray:
    """Whether pixel coordinates (pixel centres at integers) fall on a height x width image."""
    return (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)


@dataclass(frozen=True)
class Placement:
    """How a file's pixels were put in the square: per-axis scale and padding offsets."""

    scale_x: float  # square pixels per file pixel
    scale_y: float
    left: int
    top: int
    width: int  # columns and rows of the image inside the square, without the padding
    height: int
    spacing_mm: float  # millimetres per file pixel (NaN when the file does not say)

    def to_file(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Square coordinates -> the file's pixel coordinates (pixel centres at integers)."""
        return (x - self.left + 0.5) / self.scale_x - 0.5, (y - self.top + 0.5) / self.scale_y - 0.5

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether square coordinates fall on the image rather than on its padding."""
        return on_image(x - self.left, y - self.top, self.height, self.width)

    def to_square(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The file's pixel coordinates -> square coordinates."""
        return (x + 0.5) * self.scale_x - 0.5 + self.left, (y + 0.5) * self.scale_y - 0.5 + self.top


def image_key(source: Any, position: int) -> str:
    """The image id of a source: a file's stem (as ``synth`` names images), else its place."""
    if isinstance(source, str | os.PathLike):
        return Path(source).stem
    return str(position)


def _read(source: Any) -> tuple[np.ndarray, tuple[int, int], float]:
    """Pixels in [0, 1], the file's stored shape, and its millimetres per stored pixel."""
    if isinstance(source, np.ndarray):
        pixels = np.asarray(source, dtype=np.float32)
        if pixels.ndim != 2 or pixels.size == 0:
            raise ValueError(f"expected a non-empty 2-D grey image, got shape {pixels.shape}")
        return pixels, pixels.shape, float("nan")
    from ramultimodal.io import read_image

    pixels, meta = read_image(source)
    spacing = float("nan")
    if meta.pixel_spacing:
        # Spacing of the returned array; stored pixels are finer by the decoding reduction.
        spacing = float(meta.pixel_spacing[1]) * pixels.shape[1] / meta.original_shape[1]
    return pixels, tuple(meta.original_shape), spacing


def _stretch(pixels: np.ndarray) -> np.ndarray:
    """Contrast between the 1st and 99.5th percentiles, to [0, 1]; flat images become 0."""
    finite = np.nan_to_num(pixels.astype(np.float32))
    low, high = np.percentile(finite, [1.0, 99.5])
    if high - low < 1e-6:  # a blank image: nothing to see
        return np.zeros_like(finite)
    return np.clip((finite - low) / (high - low), 0.0, 1.0)


def load_square(source: Any, size: int) -> tuple[np.ndarray, Placement]:
    """One image as a ``size x size`` float32 square in [0, 1], and where its pixels went.

    Parameters
    ----------
    source : path-like or ndarray
        An image file `ramultimodal.io.read_image` reads, or a 2-D grey array.
    size : int
        Side of the square.

    Returns
    -------
    square : ndarray of float32, shape (size, size)
    placement : Placement

    Examples
    --------
    >>> square, placement = load_square(np.ones((40, 20), np.float32), 8)
    >>> square.shape, placement.left, placement.scale_x
    ((8, 8), 2, 0.2)
    >>> placement.to_file(np.array([2.0]), np.array([0.0]))
    (array([2.]), array([2.]))
    """
    return _load(source, size)[:2]


def _load(source: Any, size: int) -> tuple[np.ndarray, Placement, np.ndarray, tuple[int, int]]:
    """`load_square`'s square and placement, the stretched pixels as read and the file's
    stored shape, from one read."""
    pixels, stored, spacing = _read(source)
    stretched = _stretch(pixels)
    fitted = _fit_within(stretched, size)
    rows, columns = fitted.shape
    placement = Placement(
        scale_x=columns / stored[1],
        scale_y=rows / stored[0],
        left=(size - columns) // 2,
        top=(size - rows) // 2,
        width=columns,
        height=rows,
        spacing_mm=spacing,
    )
    return _pad_square(fitted, size, 0.0), placement, stretched, tuple(stored)
