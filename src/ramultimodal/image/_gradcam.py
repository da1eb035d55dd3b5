"""Grad-CAM heat maps: where in a radiograph the CNN found its evidence.

Grad-CAM (Selvaraju et al., ICCV 2017, arXiv:1610.02391) weighs each channel of a
convolutional feature map by the spatial mean of the gradient of the positive-class logit
with respect to it, keeps the positive part of the weighted sum and upsamples it to the image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ramultimodal._staging import atomic_file
from ramultimodal.image._members import cnn_members

__all__ = ["grad_cam", "save_gradcam_overlay"]


def _preprocessed(estimator: Any, image: Any) -> np.ndarray:
    """The image as the estimator sees it: float32 (size, size) in [0, 1]."""
    pixels, _ = estimator._decode([[image]])
    return pixels[0, 0].numpy().astype(np.float32)


def grad_cam(estimator: Any, image: Any, *, target_layer: nn.Module | None = None) -> np.ndarray:
    """Grad-CAM heat map of the positive class for one image.

    Parameters
    ----------
    estimator : CNNImageClassifier or a bag of them
        A fitted estimator, or a bag of fitted ones (an estimator whose ``estimators_`` are
        CNNs, as `ramultimodal.fusion.FoldBagClassifier`, which predicts with their mean):
        the bag's map is the mean of its networks' maps, each scaled to a peak of 1 first
        (the networks' gradients are on scales of their own), then scaled again.
    image : str, path-like or 2-D array
        One radiograph; it is preprocessed exactly as for prediction.
    target_layer : torch.nn.Module, optional
        Layer whose activations are explained; by default the last layer of
        ``estimator.module_.features`` (the coarsest, most semantic feature map). Not for
        a bag: a layer belongs to one network.

    Returns
    -------
    ndarray of shape (image_size, image_size)
        Heat map in [0, 1] aligned with the preprocessed image; all zeros when no region
        raises the positive-class logit.

    Examples
    --------
    >>> import numpy as np
    >>> from ramultimodal.image import CNNImageClassifier
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.random((32, 32)).astype("float32") for _ in range(6)]
    >>> model = CNNImageClassifier(image_size=32, max_epochs=1,
    ...                            augment=False, random_state=0, verbose=0)
    >>> heat = grad_cam(model.fit(images, [0, 1] * 3), images[0])
    >>> heat.shape, bool(0 <= heat.min() and heat.max() <= 1)
    ((32, 32), True)
    """
    members = cnn_members(estimator)
    if members is not None:
        if target_layer is not None:
            raise ValueError(
                "grad_cam: a target_layer belongs to one network; a bag of CNNs is explained "
                "at each network's default layer. Pass one of its estimators_ instead."
            )
        return _peak_scaled(np.mean([grad_cam(member, image) for member in members], axis=0))
    check_is_fitted(estimator, "module_")
    module = estimator.module_
    layer = target_layer if target_layer is not None else list(module.features.children())[-1]
    pixels = torch.from_numpy(_preprocessed(estimator, image))[None, None]
    pixels = pixels.to(estimator.device_)

    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
    module.eval()
    try:
        with torch.enable_grad():
            pixels.requires_grad_(True)  # so the graph exists even if the trunk is frozen
            logit = module(pixels)[0, 0]
            (gradient,) = torch.autograd.grad(logit, captured[0])
    finally:
        hook.remove()
    activation = captured[0].detach()
    channel_weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((channel_weights * activation).sum(dim=1, keepdim=True))
    cam = nn.functional.interpolate(
        cam, size=pixels.shape[-2:], mode="bilinear", align_corners=False
    )[0, 0]
    return _peak_scaled(cam.float().cpu().numpy())


def _peak_scaled(cam: np.ndarray) -> np.ndarray:
    peak = cam.max()
    return (cam / peak if peak > 0 else np.zeros_like(cam)).astype(np.float32)


def save_gradcam_overlay(
    estimator: Any,
    path_or_array: Any,
    out_png: str | os.PathLike[str],
    *,
    alpha: float = 0.4,
    colormap: str = "jet",
    target_layer: nn.Module | None = None,
) -> Path:
    """Write a PNG of the Grad-CAM heat map over the grey radiograph.

    Parameters
    ----------
    estimator : CNNImageClassifier or a bag of them
        As in :func:`grad_cam`.
    path_or_array : str, path-like or 2-D array
        One radiograph.
    out_png : str or path-like
        Destination; written under a temporary name and renamed when complete.
    alpha : float, default=0.4
        Opacity of the heat map.
    colormap : str, default="jet"
        A matplotlib colormap name.
    target_layer : torch.nn.Module, optional
        As in :func:`grad_cam`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import matplotlib
    from PIL import Image

    heat = grad_cam(estimator, path_or_array, target_layer=target_layer)
    members = cnn_members(estimator)
    # A bag's networks are clones: they preprocess alike, so the first one's image it is.
    grey = _preprocessed(estimator if members is None else members[0], path_or_array)
    colours = matplotlib.colormaps[colormap](heat)[..., :3]
    # Only where the model looked is tinted: the opacity scales with the heat.
    weight = alpha * heat[..., None]
    overlay = (1 - weight) * grey[..., None] + weight * colours
    rgb = np.rint(np.clip(overlay, 0, 1) * 255).astype(np.uint8)

    out_png = Path(out_png)
    with atomic_file(out_png) as partial:
        Image.fromarray(rgb).save(partial, format="PNG")
    return out_png
