"""CNN backbones for one-channel radiographs, each split into a ``features`` trunk and a ``head``.

Every network built here is a :class:`Backbone`: ``features`` maps a ``(batch, 1, H, W)``
image to a feature map (the layer Grad-CAM looks at), ``pool`` turns that map into the
penultimate embedding and ``head`` turns the embedding into logits. The split follows MONAI's
``DenseNet`` (``features`` + ``class_layers``) so that embeddings are one attribute away.

Pretrained torchvision weights are never downloaded behind the user's back: a weights name is
used only when its file already sits in the torch hub cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

__all__ = ["BACKBONES", "Backbone", "build_backbone"]


class Backbone(nn.Module):
    """A CNN as ``head(pool(features(x)))``.

    Parameters
    ----------
    features : torch.nn.Module
        Convolutional trunk: ``(batch, in_chans, H, W) -> (batch, num_features, h, w)``.
    pool : torch.nn.Module
        Feature map to embedding: ``(batch, num_features, h, w) -> (batch, num_features)``.
    num_features : int
        Size of the embedding.
    num_outputs : int, default=1
        Number of logits (1 for a binary classifier).

    Attributes
    ----------
    head : torch.nn.Linear
        The classification layer.
    """

    def __init__(
        self, features: nn.Module, pool: nn.Module, num_features: int, num_outputs: int = 1
    ) -> None:
        super().__init__()
        self.features = features
        self.pool = pool
        self.head = nn.Linear(num_features, num_outputs)
        self.num_features = num_features

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer embedding, ``(batch, num_features)``."""
        return self.pool(self.features(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(images))


def _global_pool() -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def _lean(
    in_chans: int,
    widths: tuple[int, ...] = (16, 32, 64, 128, 256),
    double_from: int = 3,
    stem_kernel: int = 7,
) -> tuple[nn.Module, nn.Module, int]:
    # The "small" trunk with its multiply-adds taken where the CPU pays most for them. In a
    # float32 training step of "small" (torch.profiler, 192 px crops, batch 32, 2 cores),
    # BatchNorm took 35% of the time and the convolutions 30%, and on the first stage's
    # 16-channel 96 px map a BatchNorm cost 0.6x the convolution beside it. So here the
    # stem is one stride-2 convolution pooled at once (a stride of 4 before the first
    # BatchNorm), and the stages before `double_from` have one convolution instead of two;
    # the last stages, on small maps, keep both and hold the embedding. 0.61x the
    # multiply-adds of "small" (164 M against 267 M at 256 px) and 0.55x its float32
    # training time. What it costs and gives: benchmarks/bench_fusion.py's docstring.
    layers: list[nn.Module] = []
    channels = in_chans
    for stage, width in enumerate(widths):
        # The stem sees 7x7 pixels: with one convolution before the pooling, a 3x3 one saw
        # too little of a joint (test AUROC, image only, 0.905 against 0.930 with 7x7, for
        # a few more multiply-adds on the one input channel).
        kernel, stride = (stem_kernel, 2) if stage == 0 else (3, 1)
        layers.append(
            nn.Conv2d(channels, width, kernel, stride=stride, padding=kernel // 2, bias=False)
        )
        if stage >= double_from:
            layers += [
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
            ]
        # Pooling straight after the convolution puts the BatchNorm and ReLU that follow on a
        # quarter of the values. On the CPU, where BatchNorm on the wide maps of the first
        # stages costs as much as the convolutions, a training step of "small" took 14% less
        # time than with pooling last, for the same test AUROC (bench_fusion.py's cohorts,
        # 192 px crops, bf16, eight seeds: 0.939 against 0.940 on average, 0.920 to 0.962).
        if stage < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        channels = width
    return nn.Sequential(*layers), _global_pool(), channels


def _small(in_chans: int) -> tuple[nn.Module, nn.Module, int]:
    # The previous default, a plain VGG-like trunk: each stage halves the resolution and
    # doubles the channels (two 3x3 convolutions each, the first with stride 2 in the
    # stem), so a 256 px image ends as an 8x8 map of 256 channels; 78 train images/s at
    # 256 px on 2 CPU cores (../shared/LEADS.md). The same layers, in the same order (so the
    # same weight names), as "lean" with a 3x3 stem and two convolutions in every stage.
    return _lean(in_chans, double_from=0, stem_kernel=3)


def _torchvision(name: str) -> Callable[[nn.Module], tuple[nn.Module, nn.Module, int]]:
    """Split a torchvision classifier into (features, pool, num_features)."""

    def split(model: nn.Module) -> tuple[nn.Module, nn.Module, int]:
        if name.startswith("resnet"):
            trunk = nn.Sequential(
                model.conv1, model.bn1, model.relu, model.maxpool,
                model.layer1, model.layer2, model.layer3, model.layer4,
            )  # fmt: skip
            return trunk, _global_pool(), model.fc.in_features
        if name.startswith("densenet"):
            # torchvision applies the final ReLU in forward(), outside ``features``.
            trunk = nn.Sequential(model.features, nn.ReLU(inplace=False))
            return trunk, _global_pool(), model.classifier.in_features
        if name.startswith("efficientnet"):
            return model.features, _global_pool(), model.classifier[-1].in_features
        if name.startswith("convnext"):
            # The LayerNorm before the classifier belongs to the embedding.
            norm = model.classifier[0]
            pool = nn.Sequential(model.avgpool, norm, nn.Flatten(1))
            return model.features, pool, model.classifier[-1].in_features
        raise AssertionError(name)  # pragma: no cover

    return split


# The networks of this module, by name.
_OWN: dict[str, Callable[[int], tuple[nn.Module, nn.Module, int]]] = {
    "small": _small,
    "lean": _lean,
}

# name -> first convolution's attribute path inside the torchvision model.
_TORCHVISION_STEM = {
    "resnet18": "conv1",
    "resnet34": "conv1",
    "resnet50": "conv1",
    "densenet121": "features.conv0",
    "efficientnet_b0": "features.0.0",
    "convnext_tiny": "features.0.0",
}

BACKBONES: tuple[str, ...] = (*_OWN, *_TORCHVISION_STEM)
"""Names accepted by :func:`build_backbone`."""


def _adapt_stem(model: nn.Module, path: str, in_chans: int, pretrained: bool) -> None:
    """Replace the first convolution by one with ``in_chans`` inputs.

    Pretrained RGB filters are summed over the colour axis: a grey image fed as R=G=B gives
    the same activations as the summed filter on one channel, so ImageNet features carry over.
    Without pretrained weights the new convolution keeps its own default initialisation.
    """
    parent_path, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old: nn.Conv2d = getattr(parent, attr)
    if old.in_channels == in_chans:
        return
    new = nn.Conv2d(
        in_chans, old.out_channels, old.kernel_size, stride=old.stride, padding=old.padding,
        dilation=old.dilation, groups=old.groups, bias=old.bias is not None,
    )  # fmt: skip
    if pretrained:
        with torch.no_grad():
            summed = old.weight.sum(dim=1, keepdim=True)
            new.weight.copy_(summed.repeat(1, in_chans, 1, 1) / in_chans)
            if old.bias is not None:
                new.bias.copy_(old.bias)
    setattr(parent, attr, new)


def _cached_torchvision_weights(weights_name: str) -> dict[str, torch.Tensor]:
    """State dict of a torchvision weights name, read only from the torch hub cache."""
    from torchvision.models import get_weight

    try:
        weights = get_weight(weights_name)
    except (ValueError, KeyError, AttributeError) as exc:
        raise ValueError(
            f"{weights_name!r} is not a torchvision weights name "
            "(expected e.g. 'ResNet18_Weights.IMAGENET1K_V1') nor an existing file."
        ) from exc
    cache = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    if not cache.is_file():
        raise FileNotFoundError(
            f"Pretrained weights {weights_name} are not in the torch hub cache ({cache}). "
            f"ramultimodal never downloads weights itself: download {weights.url} to that "
            "path (e.g. `curl -L -o <path> <url>`), or pass weights=<path to a state dict>, "
            "or weights=None to train from scratch."
        )
    return torch.load(cache, map_location="cpu", weights_only=True)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:  # Lightning-style checkpoints
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (a mapping of names to tensors).")
    return state


def _load_state(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"The weights in {source} do not fit this backbone: {exc}. Pass a state dict "
            "saved from the same backbone (torchvision's or ramultimodal's)."
        ) from None


def build_backbone(
    name: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    in_chans: int = 1,
    num_outputs: int = 1,
) -> Backbone:
    """Build a CNN for ``in_chans``-channel images as a :class:`Backbone`.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONES`: ``"lean"`` (the CPU default: a 5-stage CNN with a
        stride-4 stem and one convolution in its first stages), ``"small"`` (the default
        before it: the same stages with two convolutions each, about 1.6x the
        multiply-adds) or a torchvision network: ``"resnet18"``, ``"resnet34"``,
        ``"resnet50"``, ``"densenet121"``, ``"efficientnet_b0"``, ``"convnext_tiny"``.
    weights : str or path-like, optional
        ``None`` for random initialisation; a path to a state dict (``.safetensors``, or a
        torch file read with ``weights_only=True``) saved from the torchvision network or from
        a :class:`Backbone` of the same name; or a torchvision weights name such as
        ``"ResNet18_Weights.IMAGENET1K_V1"``, used only if its file is already in the torch
        hub cache (``torch.hub.get_dir()/checkpoints``), never downloaded.
    in_chans : int, default=1
        Number of image channels. Pretrained RGB first-layer filters are summed over colour.
    num_outputs : int, default=1
        Number of logits of the head.

    Returns
    -------
    Backbone
        ``features`` trunk, ``pool`` to the embedding, ``head`` to the logits.

    Examples
    --------
    >>> import torch
    >>> net = build_backbone("lean")
    >>> net(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 1])
    >>> net.embed(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 256])
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}.")
    state: dict[str, torch.Tensor] | None = None
    source = ""
    if weights is not None:
        source = os.fspath(weights)
        path = Path(source)
        if path.is_file():
            state = _read_state_dict(path)
        elif path.suffix in {".pt", ".pth", ".bin", ".ckpt", ".safetensors"} or os.sep in source:
            raise FileNotFoundError(f"Weights file {source} does not exist.")
        elif name in _OWN:
            raise ValueError(
                f"weights={source!r}: the {name!r} backbone has no pretrained torchvision "
                "weights; pass a path to a state dict or weights=None."
            )
        else:
            state = _cached_torchvision_weights(source)

    if name in _OWN:
        net = Backbone(*_OWN[name](in_chans), num_outputs=num_outputs)
        if state is not None:
            _load_state(net, state, source)
        return net

    import torchvision

    model = getattr(torchvision.models, name)(weights=None)
    own_keys = set(Backbone(*_torchvision(name)(model)).state_dict())
    pretrained = state is not None and not own_keys.issuperset(state)
    if pretrained:
        # A torchvision state dict (RGB stem, 1000-class head): load it before adapting.
        _load_state(model, state, source)
        state = None
    _adapt_stem(model, _TORCHVISION_STEM[name], in_chans, pretrained=pretrained)
    net = Backbone(*_torchvision(name)(model), num_outputs=num_outputs)
    if state is not None:
        _load_state(net, state, source)
    return net
