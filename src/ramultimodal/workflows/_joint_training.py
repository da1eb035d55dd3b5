"""The joint models a fusion reads the radiographs with (``train --image-model joints``).

`train_model` needs a trained `~ramultimodal.image.JointScoreTransformer` for the
``joints`` modality. Given one (``joint_model``: the folder ``ramultimodal joints train``
wrote) it is used as it is; otherwise `joint_model_for` trains one on the training
cohort's own radiographs and their ``joints.csv``, before the fusion, which then reads it
frozen. Either way it ends up in the model folder.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ramultimodal.io import DatasetError
from ramultimodal.models import ConfigError, check_params

__all__ = ["joint_model_for", "needs_joint_model"]

logger = logging.getLogger("ramultimodal.workflows")


def needs_joint_model(config: Mapping[str, Any]) -> bool:
    """Whether a training configuration reads the radiographs through the joint models."""
    return config.get("image_model", "cnn") in ("joints", "both")


def joint_model_for(
    config: Mapping[str, Any], records: Any, data_dir: str | os.PathLike, verbose: int = 0
) -> Any:
    """The trained joint model of a configuration: its ``joint_model`` folder, loaded, or
    one trained on `records`' radiographs and `data_dir`'s ``joints.csv`` with its
    ``joint_params``.

    Parameters
    ----------
    config : mapping
        A training configuration (`read_config`), with ``image_model`` ``joints`` or
        ``both``.
    records : CohortRecords
        The training cohort, as `ramultimodal.io.read_cohort` read it.
    data_dir : path
        Its folder, where ``joints.csv`` is.
    verbose : int, default 0
        The joint models' progress messages.

    Returns
    -------
    JointScoreTransformer
        Fitted.

    Raises
    ------
    DatasetError
        When there is no joint model to load and no ``joints.csv`` (or no radiograph it
        grades) to train one on.
    """
    from ramultimodal.image import JointScoreTransformer
    from ramultimodal.io import read_joints_csv

    if config.get("joint_model") is not None:
        if config.get("joint_params"):
            raise ConfigError(
                "joint_params train the joint models, and joint_model gives trained ones: "
                "give one or the other."
            )
        return config["joint_model"]  # make_model loads and checks it
    params = dict(config.get("joint_params") or {})
    check_params("joint_params", JointScoreTransformer(), params)
    path = Path(data_dir) / "joints.csv"
    if not path.is_file():
        raise DatasetError(
            f"{path} not found: --image-model {config.get('image_model')} reads the "
            "radiographs joint by joint, and training the joint models needs each joint's "
            "place and grades (ramultimodal synth --images-per-patient 2 writes them). "
            "Give --joint-model MODEL_DIR (from 'ramultimodal joints train') instead, or "
            "train with --image-model cnn."
        )
    images = records.images
    if images is None or images.empty:
        raise DatasetError(f"{data_dir} has no radiographs to train the joint models on.")
    joints = read_joints_csv(path)
    graded = set(joints["image_id"].astype(str))
    paths = [p for p in images["path"] if isinstance(p, str | os.PathLike)]
    paths = [p for p in paths if Path(p).stem in graded]
    if not paths:
        raise DatasetError(
            f"{path} grades none of the radiographs of images.csv (its image_id is each "
            "file's name without its extension)."
        )
    started = time.perf_counter()
    logger.info("    Training the joint models on %d graded radiographs ...", len(paths))
    model = JointScoreTransformer(**{"verbose": verbose, **params})
    try:
        model.fit([[p] for p in paths], joints=joints)
    except ValueError as error:
        raise DatasetError(f"{path}: {error}") from None
    logger.info("    Joint models trained in %.0f s", time.perf_counter() - started)
    return model
