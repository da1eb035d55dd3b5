"""Square crops around joints, at the hand's own scale, for grading each joint.

A crop's side is a multiple of the hand's MCP2-MCP3 distance on that image, so that a joint
fills the crop alike whatever the magnification, detector or resolution; it is sampled
bilinearly from the file's full-resolution pixels (contrast-stretched as the locator's).
`sample_crops` samples them, turned and mirrored where training asks (the locator's second
stage, the wrist's grader); `crop_joints` is its upright form for one image's joints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ramultimodal.image._joint_inputs import _read, _stretch

__all__ = ["crop_joints", "hand_scale", "sample_crops"]

# Crop side, in MCP2-MCP3 distances: the joint, both bone ends and the soft tissue.
CROP_SPAN = 1.6
# MCP2-MCP3 distance over the longest image side on a typical PA hand radiograph, for
# images where either joint was not found.
_TYPICAL_SCALE = 0.07


def hand_scale(xy: dict[str, tuple[float, float]], shape: tuple[int, int]) -> float:
    """The MCP2-MCP3 distance in pixels, or a typical share of the image when unknown.

    Examples
    --------
    >>> hand_scale({"mcp2": (10.0, 10.0), "mcp3": (13.0, 14.0)}, (100, 100))
    5.0
    >>> hand_scale({}, (100, 200))
    14.000000000000002
    """
    a, b = xy.get("mcp2"), xy.get("mcp3")
    if a is not None and b is not None and np.all(np.isfinite([*a, *b])):
        distance = float(np.hypot(a[0] - b[0], a[1] - b[1]))
        if distance > 1.0:
            return distance
    return _TYPICAL_SCALE * max(shape)


def crop_joints(
    source: Any,
    points: np.ndarray,
    scale: float | None,
    size: int,
    *,
    pixels: np.ndarray | None = None,
    span: float | np.ndarray = CROP_SPAN,
) -> np.ndarray:
    """Crops ``(n, size, size)`` float32 centred on `points` (column, row; file pixels).

    Parameters
    ----------
    source : path-like or ndarray
        The image (read with `ramultimodal.io.read_image`, or a 2-D array).
    points : ndarray, shape (n, 2)
        Crop centres in the file's pixel coordinates.
    scale : float or None
        The hand's MCP2-MCP3 distance in pixels (`hand_scale`); None: a typical one.
    size : int
        Side of each crop in pixels.
    pixels : ndarray, optional
        The already stretched pixels of `source`, to read a file once for many crops.
    span : float or ndarray of shape (n,), default 1.6
        The crop's side in MCP2-MCP3 distances, for all crops or each.

    Examples
    --------
    >>> image = np.zeros((50, 50), np.float32); image[20:30, 20:30] = 1.0
    >>> crops = crop_joints(image, np.array([[24.5, 24.5]]), 10.0, 8)
    >>> crops.shape, float(crops[0, 4, 4])
    ((1, 8, 8), 1.0)
    """
    if pixels is None:
        pixels = load_stretched(source)
    if scale is None:
        scale = _TYPICAL_SCALE * max(pixels.shape)
    # The file's stored shape may exceed the decoded one (reduced JPEG 2000 decoding): the
    # caller's points are in stored pixels, as the locator returns them.
    points = np.asarray(points, np.float32).reshape(-1, 2)
    if not len(points):
        return np.empty((0, size, size), np.float32)
    steps = np.broadcast_to(np.asarray(span, np.float32) * scale / size, (len(points),))
    crops = sample_crops(
        torch.from_numpy(np.asarray(pixels, np.float32)),
        torch.from_numpy(points),
        torch.from_numpy(np.array(steps, np.float32)),
        size,
    )
    return crops[:, 0].numpy()


def load_stretched(source: Any) -> np.ndarray:
    """An image's pixels at its stored size, contrast-stretched to [0, 1]."""
    pixels, stored, _ = _read(source)
    return at_stored_size(_stretch(pixels), stored)


def at_stored_size(pixels: np.ndarray, stored: tuple[int, int]) -> np.ndarray:
    """Stretched pixels decoded at a reduced resolution, resized back to the stored size."""
    if pixels.shape != tuple(stored):  # decoded at a reduced resolution: back to stored size
        from PIL import Image

        resized = Image.fromarray(pixels).resize((stored[1], stored[0]), Image.Resampling.BILINEAR)
        pixels = np.asarray(resized, dtype=np.float32)
    return pixels


def sample_crops(
    pixels: torch.Tensor,
    centres: torch.Tensor,
    step: torch.Tensor,
    size: int,
    angle: torch.Tensor | None = None,
    mirror: torch.Tensor | None = None,
) -> torch.Tensor:
    """Crops ``(n, 1, size, size)`` of `pixels` ``(H, W)``, centred on `centres` ``(n, 2)``
    (column, row in file pixels), `step` file pixels apart ``(n,)``, turned by `angle`
    (radians) and mirrored left-right where `mirror` is -1; zeros outside the image."""
    n = len(centres)
    pixels, centres, step = pixels.float(), centres.float(), step.float()
    height, width = pixels.shape
    offsets = (torch.arange(size, dtype=torch.float32) - (size - 1) / 2)[None] * step[:, None]
    ox = offsets[:, None, :].expand(n, size, size)
    oy = offsets[:, :, None].expand(n, size, size)
    if mirror is not None:
        ox = ox * mirror[:, None, None]
    if angle is not None:
        cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
        ox, oy = cos * ox - sin * oy, sin * ox + cos * oy
    x = centres[:, 0, None, None] + ox
    y = centres[:, 1, None, None] + oy
    grid = torch.stack([(2 * x + 1) / width - 1, (2 * y + 1) / height - 1], dim=-1)
    image = pixels[None, None].expand(n, 1, height, width)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
