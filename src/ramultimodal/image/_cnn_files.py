"""The folder of a saved `CNNImageClassifier`: ``config.json`` and ``model.safetensors``.

No pickle: the configuration is plain JSON (the parameters, the classes, the training
history) and the weights are safetensors, tensors and nothing else. `write_cnn_folder`
stages the folder under a temporary name and renames it at the end, so an interrupted save
never looks complete; `read_cnn_folder` checks the configuration against the class's
parameters and the weights against the network it names before either is trusted.

The folder's bytes depend on the model alone, so that two saves of one model (or of two
fits with the same data, parameters and seed) have the same sha256: it holds no wall-clock
time, nor the session's ``verbose``, and the safetensors header's metadata is in a fixed
order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ramultimodal._staging import staged_folder
from ramultimodal.image._backbones import build_backbone

if TYPE_CHECKING:  # pragma: no cover
    from ramultimodal.image._classifier import CNNImageClassifier

__all__ = ["read_cnn_folder", "write_cnn_folder"]

# 2: the "small" backbone pools before its second BatchNorm of each stage (1: after it).
# 3: the "lean" backbone, the default, which a reader of format 2 does not know; folders of
# format 2 name their backbone ("small" or a torchvision one) and load as they are.
_FORMAT_VERSION = 3
# The largest image side a saved model may ask for (its preprocessing allocates side**2).
_MAX_IMAGE_SIZE = 4096


def write_cnn_folder(model: CNNImageClassifier, directory: str | os.PathLike[str]) -> Path:
    """Write the fitted `model` to `directory`; see `CNNImageClassifier.save`."""
    from safetensors.torch import save

    check_is_fitted(model, "module_")
    directory = Path(directory)
    params = model.get_params()
    # Progress bars are the fitting session's, not the model's: a loaded model is silent
    # until its user says otherwise (``set_params(verbose=1)``), and the bytes saved do
    # not depend on whether a bar was shown.
    params["verbose"] = 0
    if not isinstance(params["random_state"], int | type(None)):
        params["random_state"] = None  # a RandomState instance is not reproducible as JSON
    for key in ("weights", "cache_dir"):
        if params[key] is not None:
            params[key] = os.fspath(params[key])
    if isinstance(params["class_weight"], dict):
        items = params["class_weight"].items()
        params["class_weight"] = {"items": [[_jsonable(k), v] for k, v in items]}
    config = {
        "format": "ramultimodal.CNNImageClassifier",
        "format_version": _FORMAT_VERSION,
        "params": params,
        "classes": [_jsonable(c) for c in model.classes_],
        "classes_dtype": model.classes_.dtype.str if model.classes_.dtype != object else "O",
        # Each epoch but its wall-clock seconds, which differ from one fit to the next.
        "history": [_without(record, "seconds") for record in model.history_],
        "best_epoch": model.best_epoch_,
    }
    with staged_folder(directory, "cnn", overwrite=True) as staging:
        state = {k: v.contiguous().cpu() for k, v in model.module_.state_dict().items()}
        weights = _sorted_metadata(save(state, metadata=_METADATA))
        (staging / "model.safetensors").write_bytes(weights)
        (staging / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def read_cnn_folder(
    cls: type[CNNImageClassifier], directory: str | os.PathLike[str], *, device: str | None = None
) -> CNNImageClassifier:
    """A `cls` read from `directory` and checked; see `CNNImageClassifier.load`."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: {directory} is not a saved model.")
    try:
        config = json.loads(config_path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{config_path} is not valid JSON.") from None
    if not isinstance(config, dict) or config.get("format") != "ramultimodal.CNNImageClassifier":
        raise ValueError(f"{config_path} does not describe a CNNImageClassifier.")
    if not isinstance(config.get("format_version"), int) or not isinstance(
        config.get("params"), dict
    ):
        raise ValueError(f"{config_path} is not a CNNImageClassifier configuration.")
    if config["format_version"] > _FORMAT_VERSION:
        raise ValueError(
            f"{directory} was saved by a newer ramultimodal (format "
            f"{config['format_version']}); upgrade ramultimodal to load it."
        )
    params = config["params"]
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise ValueError(f"{config_path}: CNNImageClassifier has no parameter {unknown[0]!r}.")
    size = params.get("image_size")
    if not (isinstance(size, int) and 8 <= size <= _MAX_IMAGE_SIZE):
        raise ValueError(f"{config_path}: image_size is not a side of 8 to {_MAX_IMAGE_SIZE} px.")
    if config["format_version"] < 2 and params.get("backbone") == "small":
        raise ValueError(
            f"{directory} holds a 'small' network saved by an earlier ramultimodal "
            "(format 1), whose layers were in another order; this version would compute "
            "something else with its weights. Fit the model again."
        )
    if device is not None:
        params["device"] = device
    params["cache_dir"] = None
    try:
        if isinstance(params["class_weight"], dict) and "items" in params["class_weight"]:
            params["class_weight"] = {k: v for k, v in params["class_weight"]["items"]}
        model = cls(**params)
        dtype = object if config["classes_dtype"] == "O" else np.dtype(config["classes_dtype"])
        model.classes_ = np.asarray(config["classes"], dtype=dtype)
        model.history_ = list(config["history"])
        model.best_epoch_ = int(config["best_epoch"])
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{config_path}: a damaged configuration ({error}).") from None
    if model.classes_.shape != (2,):
        raise ValueError(f"{config_path}: a binary classifier needs two classes.")
    model.device_ = model._resolve_device()
    # The saved weights replace any pretrained ones: build without them.
    model.module_ = build_backbone(params["backbone"], weights=None, in_chans=1)
    model.module_.load_state_dict(_read_weights(directory / "model.safetensors", model.module_))
    model.module_.to(model.device_, memory_format=torch.channels_last).eval()
    model.n_embedding_features_ = model.module_.num_features
    return model


# What save() writes into the safetensors header; load() accepts this and nothing else.
_METADATA = {"format": "pt", "writer": "ramultimodal.CNNImageClassifier"}


def _read_weights(path: Path, module: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, if they are exactly `module`'s (names, shapes)."""
    from safetensors import SafetensorError, safe_open

    expected = {name: (tuple(t.shape), t.dtype) for name, t in module.state_dict().items()}
    try:
        with safe_open(path, framework="pt") as weights:
            metadata = weights.metadata()
            if metadata not in (None, {"format": "pt"}, _METADATA):
                raise ValueError(f"{path}: unexpected metadata in the weights' header.")
            names = set(weights.keys())
            if names != set(expected):
                missing = sorted(set(expected) - names) or sorted(names - set(expected))
                raise ValueError(f"{path}: the weights do not fit the network ({missing[0]}).")
            tensors = {name: weights.get_tensor(name) for name in names}
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{path}: not a safetensors file ({error}).") from None
    for name, tensor in tensors.items():
        if (tuple(tensor.shape), tensor.dtype) != expected[name]:
            raise ValueError(f"{path}: tensor {name} has the wrong shape or type.")
    return tensors


def _sorted_metadata(data: bytes) -> bytes:
    """A safetensors file's bytes, with the metadata of its header in sorted key order.

    safetensors writes the metadata from a Rust ``HashMap``, in an order drawn afresh for
    every file (safetensors issue #584), so two saves of the same weights differed in their
    header and in their sha256. Reordering the keys keeps the header's length, and every
    tensor's offset with it.
    """
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    if not isinstance(header.get("__metadata__"), dict):
        return data
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) > length:  # JSON written otherwise than safetensors does: leave it be
        return data
    # safetensors pads its header with spaces, to align the tensors that follow.
    return data[:8] + text.ljust(length) + data[8 + length :]


def _without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name != key}


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
