"""Stored pixel values to [0, 1]: windows, percentiles, colour to grey, the final scaling.

Every reader ends with a float32 image in [0, 1] (`scale_to_unit`); DICOM files get there
through their window (`apply_window`, PS3.3 C.11.2.1.2) or a robust `PERCENTILE_WINDOW`,
colour images through BT.601 luma (`LUMA`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LUMA", "PERCENTILE_WINDOW", "apply_window", "percentiles", "scale_to_unit"]

#: Robust window used when a DICOM file carries no VOI LUT and no window: the 0.5th and
#: 99.5th percentiles, so that a few burnt-in labels or dead pixels do not set the contrast.
PERCENTILE_WINDOW = (0.5, 99.5)

# ITU-R BT.601 luma weights (the ones Pillow's convert("L") uses), for colour to grey.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def apply_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 window, normalised to [0, 1].

    Equals pydicom's ``apply_windowing`` divided by its output range, but in float32 and
    without boolean masks (about 5x faster on a 2000 x 2000 radiograph).
    """
    if function == "SIGMOID":
        scaled = np.float32(-4.0 / width) * (values - np.float32(center))
        return (1.0 / (1.0 + np.exp(scaled))).astype(np.float32, copy=False)
    if function == "LINEAR":
        center, width = center - 0.5, width - 1.0
    pixels = values - np.float32(center - width / 2)
    pixels *= np.float32(1.0 / width)
    return np.clip(pixels, 0.0, 1.0, out=pixels)


def percentiles(values: np.ndarray) -> tuple[float, float]:
    """`PERCENTILE_WINDOW` of the image, from about 250,000 evenly spread pixels.

    Subsampling keeps the cost of a 2000 x 2500 radiograph to a few milliseconds; the
    percentiles of a quarter of a million pixels are within a grey level of the full ones.
    """
    step = max(1, int(math.sqrt(values.size / 250_000)))
    sample = values[::step, ::step]
    lo, hi = np.percentile(sample, PERCENTILE_WINDOW)
    return float(lo), float(hi)


def scale_to_unit(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] linearly to [0, 1] in float32, clipping outside; zeros when lo == hi."""
    pixels = np.array(values, dtype=np.float32)  # a copy: the caller's array stays intact
    if lo:
        pixels -= np.float32(lo)
    if hi > lo:
        pixels /= np.float32(hi - lo)
    else:
        pixels[...] = 0.0  # a constant image holds no contrast to stretch
    np.nan_to_num(pixels, copy=False, nan=0.0)
    return np.clip(pixels, 0.0, 1.0, out=pixels)
