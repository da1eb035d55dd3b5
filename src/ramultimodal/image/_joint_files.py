"""The folder of a saved joint model: ``config.json`` and one safetensors file per network.

Plain data only, as for the CNN (`_cnn_files`): the parameters and what was learnt besides
the weights in JSON, the weights in safetensors, nothing unpickled or executed. Reading
checks the format, the parameters against the class's and the tensors against the
networks they are loaded into, and says in one line which file is wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ramultimodal._staging import staged_folder
from ramultimodal.image._cnn_files import _read_weights, _sorted_metadata

__all__ = ["check_params", "read_joint_config", "read_joint_folder", "write_joint_folder"]

FORMAT_VERSION = 1
# What `_cnn_files._read_weights` accepts besides its own writer name.
_METADATA = {"format": "pt"}


def write_joint_folder(
    directory: str | os.PathLike[str],
    kind: str,
    config: dict[str, Any],
    networks: dict[str, nn.Module],
) -> Path:
    """Write `config` (JSON-able) and each network's weights to `directory`."""
    from safetensors.torch import save

    directory = Path(directory)
    document = {"format": f"ramultimodal.{kind}", "format_version": FORMAT_VERSION, **config}
    with staged_folder(directory, kind, overwrite=True) as staging:
        for name, module in networks.items():
            state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
            (staging / f"{name}.safetensors").write_bytes(
                _sorted_metadata(save(state, metadata=_METADATA))
            )
        (staging / "config.json").write_text(json.dumps(document, indent=2, sort_keys=True))
    return directory


def read_joint_config(directory: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """The checked ``config.json`` of a saved `kind` (``JointLocator``, ...)."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {directory} is not a saved {kind}.")
    try:
        config = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{path} is not valid JSON: the folder is damaged.") from None
    if not isinstance(config, dict) or config.get("format") != f"ramultimodal.{kind}":
        raise ValueError(f"{path} does not describe a {kind}.")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: format {version!r} is not one this ramultimodal reads; upgrade it."
        )
    if not isinstance(config.get("params"), dict):
        raise ValueError(f"{path}: no parameters; the folder is damaged.")
    return config


def check_params(path: Path, params: dict[str, Any], allowed: dict[str, Any], kind: str) -> None:
    """Raise ValueError when a saved parameter is not one of the class's."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: {kind} has no parameter {unknown[0]!r}.")


def read_joint_folder(directory: str | os.PathLike[str], networks: dict[str, nn.Module]) -> None:
    """Load each network's weights from `directory`, checked against the network."""
    for name, module in networks.items():
        state = _read_weights(Path(directory) / f"{name}.safetensors", module)
        module.load_state_dict(state)
        module.to(torch.device("cpu")).eval()
