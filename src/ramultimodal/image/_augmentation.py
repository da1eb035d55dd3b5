"""The random transforms a CNN trains on, drawn for every image and applied to a whole batch.

The ranges are those of positioning, exposure and detector differences between radiographs:
small rotations, shifts and zooms, brightness, contrast and gamma jitter, Gaussian noise.
torch is imported inside the methods only, so that this module imports without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["train_augmentation"]


@dataclass(frozen=True)
class TrainAugmentation:
    """The random transforms of `train_augmentation`, applied to a whole batch at once.

    Every image gets its own draw; the batch is transformed by a few tensor operations
    (``affine_grid`` + ``grid_sample`` for the geometry), cheaper on the CPU than
    torchvision's ``RandomAffine`` + ``ColorJitter`` + ``GaussianNoise`` image by image (see
    ``benchmarks/bench_image.py``), and it runs on the batch's device.
    """

    degrees: float
    translate: float
    scale: tuple[float, float]
    brightness: float
    contrast: float
    gamma: tuple[float, float]
    noise_sigma: float

    def __call__(self, images):
        """Augment ``(C, H, W)`` or ``(batch, C, H, W)`` float images in [0, 1]."""
        if images.ndim == 3:
            return self(images[None])[0]
        images = self._geometry(images)
        images = images * self._per_image(images, 1 - self.brightness, 1 + self.brightness)
        images = images.clamp(0.0, 1.0)
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        contrast = self._per_image(images, 1 - self.contrast, 1 + self.contrast)
        images = ((images - mean) * contrast + mean).clamp(0.0, 1.0)
        log_gamma = self._per_image(images, math.log(self.gamma[0]), math.log(self.gamma[1]))
        images = images ** log_gamma.exp()
        if self.noise_sigma:
            images = images + self.noise_sigma * self._normal(images)
        return images.clamp(0.0, 1.0)

    def _geometry(self, images):
        """Rotation, zoom and shift about the centre, bilinear, black outside the image."""
        import torch
        import torch.nn.functional as F

        if not self.degrees and not self.translate and self.scale[0] == self.scale[1] == 1:
            return images
        n = len(images)
        angle = self._uniform(images, -math.radians(self.degrees), math.radians(self.degrees))
        zoom = self._uniform(images, *self.scale)
        # affine_grid maps output to input coordinates in [-1, 1]: the inverse transform,
        # so a zoom of 1.1 samples a 1/1.1 smaller window. A shift of a fraction f of the
        # side is 2 f in these coordinates.
        cos, sin = angle.cos() / zoom, angle.sin() / zoom
        shift_x, shift_y = self._uniform(images, -2 * self.translate, 2 * self.translate, (2, n))
        theta = torch.stack([cos, -sin, shift_x, sin, cos, shift_y], 1).reshape(n, 2, 3)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)

    def _per_image(self, images, low: float, high: float):
        """One uniform draw per image, shaped to broadcast over it."""
        return self._uniform(images, low, high, (len(images), 1, 1, 1))

    @staticmethod
    def _uniform(images, low: float, high: float, shape=None):
        import torch

        shape = (len(images),) if shape is None else shape
        # Drawn on the CPU from torch's global generator (what torch.manual_seed sets), then
        # moved: the same seed gives the same draws on every device. _normal does the same.
        return torch.empty(shape).uniform_(low, high).to(images.device, images.dtype)

    @staticmethod
    def _normal(images):
        import torch

        return torch.randn(images.shape).to(images.device, images.dtype)


def train_augmentation(
    *,
    degrees: float = 10.0,
    translate: float = 0.05,
    scale: tuple[float, float] = (0.9, 1.1),
    brightness: float = 0.1,
    contrast: float = 0.1,
    gamma: tuple[float, float] = (0.8, 1.25),
    noise_sigma: float = 0.02,
) -> TrainAugmentation:
    """Random training transforms for float images in [0, 1], one image or a batch.

    Small rotation, shift and scale (padding with black), brightness and contrast jitter, a
    random gamma, and Gaussian noise, drawn afresh for every image from torch's random
    generator: `torch.manual_seed` makes a run repeatable. Ranges are those of positioning,
    exposure and detector differences between radiographs, not larger: hands are always
    imaged the same way up. `CNNImageClassifier` applies it to each training batch.

    Parameters
    ----------
    degrees : float, default 10.0
        Rotation drawn from [-degrees, degrees].
    translate : float, default 0.05
        Shift, as a fraction of the side, in each direction.
    scale : (float, float), default (0.9, 1.1)
        Zoom range.
    brightness, contrast : float, default 0.1
        Jitter strengths: brightness multiplies by a factor in [1 - x, 1 + x]; contrast
        scales the distance from the image's mean by such a factor.
    gamma : (float, float), default (0.8, 1.25)
        Gamma range (log-uniform).
    noise_sigma : float, default 0.02
        Standard deviation of the additive Gaussian noise; results are clipped to [0, 1].

    Returns
    -------
    TrainAugmentation
        A callable on ``(C, H, W)`` or ``(batch, C, H, W)`` tensors.

    Examples
    --------
    >>> import torch
    >>> augment = train_augmentation()
    >>> _ = torch.manual_seed(0)
    >>> first = augment(torch.full((1, 32, 32), 0.5))
    >>> _ = torch.manual_seed(0)
    >>> bool(torch.equal(first, augment(torch.full((1, 32, 32), 0.5))))
    True
    >>> first.shape, bool(first.min() >= 0), bool(first.max() <= 1)
    (torch.Size([1, 32, 32]), True, True)
    >>> augment(torch.rand(8, 1, 32, 32)).shape
    torch.Size([8, 1, 32, 32])
    """
    return TrainAugmentation(degrees, translate, scale, brightness, contrast, gamma, noise_sigma)
