"""The locator's second stage: each joint placed again on a crop at the file's resolution.

The coarse heatmap reads the whole hand at ``image_size`` pixels, a fraction of the file's:
a cell of it spans several file pixels, a sizeable share of the 10%-of-MCP2-MCP3 margin
a reader allows. Around each coarse position, a square crop ``REFINE_SPAN`` MCP2-MCP3
distances wide (so that a joint looks alike whatever the magnification) is sampled from the
full-resolution pixels and `RefineNet` gives that joint's heatmap on it; its soft-argmax is
the refined position. Trained on crops around the true joints, moved off them by about the
coarse stage's error, turned, mirrored and resized a little, so that it learns to come back
to the joint from wherever the coarse stage leaves it.
"""

from __future__ import annotations

import numpy as np
import torch

from ramultimodal.image._joint_crops import sample_crops
from ramultimodal.image._joint_nets import RefineNet, soft_argmax
from ramultimodal.image._joint_training import train_epochs

__all__ = ["REFINE_SPAN", "refine_points", "train_refiner"]

# Crop side, in MCP2-MCP3 distances: the joint and the ends of both bones, wide enough to
# come back from a coarse error of a third of the distance.
REFINE_SPAN = 1.0
_STRIDE = 2  # crop pixels per heatmap cell
# Training offsets from the true joint, in MCP2-MCP3 distances: most as small as the coarse
# stage's usual error, some as large as its misses.
_JITTER_SD, _JITTER_FAR = 0.08, 0.3


def _to_crop(points, centres, step, size, angle=None, mirror=None):
    """File coordinates ``(n, 2)`` -> the crop's pixel coordinates (inverse of the sampling)."""
    d = points - centres
    dx, dy = d[:, 0], d[:, 1]
    if angle is not None:
        cos, sin = torch.cos(angle), torch.sin(angle)
        dx, dy = cos * dx + sin * dy, -sin * dx + cos * dy
    if mirror is not None:
        dx = dx * mirror
    return torch.stack([dx, dy], -1) / step[:, None] + (size - 1) / 2


def _heatmap_loss(logits: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a Gaussian around the target cell, plus L1 of the soft-argmax."""
    b, h, w = logits.shape
    ys = torch.arange(h, dtype=logits.dtype)[:, None]
    xs = torch.arange(w, dtype=logits.dtype)[None, :]
    d2 = (xs - cells[:, 0, None, None]) ** 2 + (ys - cells[:, 1, None, None]) ** 2
    target = torch.exp(-d2 / 2.0)
    target = target / target.sum((1, 2), keepdim=True).clamp_min(1e-6)
    log_p = torch.log_softmax(logits.reshape(b, -1), -1).reshape(b, h, w)
    mean, _, _ = soft_argmax(logits[:, None])
    return (-(target * log_p).sum((1, 2)) + (mean[:, 0] - cells).abs().sum(-1)).mean()


def train_refiner(
    net: RefineNet,
    images: list[torch.Tensor],
    points: np.ndarray,
    present: np.ndarray,
    scales: np.ndarray,
    *,
    size: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
    verbose: int = 0,
) -> list[dict]:
    """Train `net` on crops around the joints of `images` (stretched full-resolution
    pixels); `points` ``(N, J, 2)`` in file pixels, `present` ``(N, J)``, `scales` ``(N,)``
    each hand's MCP2-MCP3 distance in pixels. Returns the loss of every epoch."""
    image_of, joint_of = np.nonzero(present)
    n = len(image_of)
    truth = torch.from_numpy(points[image_of, joint_of].astype(np.float32))
    scale = torch.from_numpy(scales[image_of].astype(np.float32))
    joints = torch.from_numpy(joint_of.astype(np.int64))
    epoch: dict[str, torch.Tensor] = {}

    def draw_crops() -> None:
        """Fresh offsets, turns, mirrors, sizes and contrasts every epoch."""
        far = rng.random(n) < 0.25
        offset = np.where(
            far[:, None],
            rng.uniform(-_JITTER_FAR, _JITTER_FAR, (n, 2)),
            rng.normal(0.0, _JITTER_SD, (n, 2)),
        )
        centres = truth + torch.from_numpy(offset.astype(np.float32)) * scale[:, None]
        resize = torch.from_numpy(np.exp(rng.uniform(-0.15, 0.15, n)).astype(np.float32))
        step = scale * REFINE_SPAN / size * resize
        angle = torch.from_numpy(rng.uniform(-0.3, 0.3, n).astype(np.float32))
        mirror = torch.from_numpy(np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32))
        crops = torch.empty((n, 1, size, size))
        for i in np.unique(image_of):
            rows = torch.from_numpy(np.flatnonzero(image_of == i))
            crops[rows] = sample_crops(
                images[i], centres[rows], step[rows], size, angle[rows], mirror[rows]
            )
        targets = _to_crop(truth, centres, step, size, angle, mirror)
        # Contrast varies between files: a random gamma per crop.
        gamma = torch.from_numpy(np.exp(rng.uniform(-0.3, 0.3, n)).astype(np.float32))
        epoch["crops"] = crops.clamp_min(0.0) ** gamma[:, None, None, None]
        epoch["cells"] = (targets + 0.5) / _STRIDE - 0.5

    def batch_loss(index: np.ndarray) -> torch.Tensor:
        index = torch.from_numpy(index)
        return _heatmap_loss(net(epoch["crops"][index], joints[index]), epoch["cells"][index])

    return train_epochs(
        net,
        n,
        batch_loss,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        rng=rng,
        name="Joint refiner",
        before_epoch=draw_crops,
        verbose=verbose,
    )


def refine_points(
    net: RefineNet,
    pixels: torch.Tensor,
    points: np.ndarray,
    joints: np.ndarray,
    scale: float,
    size: int,
) -> np.ndarray:
    """Refined file coordinates ``(n, 2)`` of one image's joints first placed by the coarse
    stage.

    Parameters
    ----------
    net : RefineNet
    pixels : Tensor, shape (H, W)
        The image's stretched full-resolution pixels.
    points : ndarray, shape (n, 2)
        The coarse positions (column, row).
    joints : ndarray, shape (n,)
        The joints' indices.
    scale : float
        The hand's MCP2-MCP3 distance in pixels.
    size : int
        The crop's side, as trained.
    """
    centres = torch.from_numpy(np.asarray(points, np.float32))
    step = torch.full((len(points),), float(scale) * REFINE_SPAN / size)
    crops = sample_crops(pixels, centres, step, size)
    with torch.no_grad():
        logits = net.eval()(crops, torch.from_numpy(np.asarray(joints, np.int64)))
        xy, _, _ = soft_argmax(logits[:, None])
    crop_xy = (xy[:, 0] + 0.5) * _STRIDE - 0.5
    return (centres + (crop_xy - (size - 1) / 2) * step[:, None]).numpy()
