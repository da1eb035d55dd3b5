"""`JointLocator`: where each scored joint of a hand radiograph lies, or that it is not there.

A small heatmap keypoint network (`HeatmapNet`) reads the letterboxed image at
``image_size`` pixels; each joint's position is the soft-argmax of its heatmap, mapped back
to the file's own pixels. A joint is reported found only when the presence head is
confident *and* the heatmap is one sharp peak; otherwise ``found`` is False and x/y are NaN
(a joint cut off by the field of view, an image that is not a hand), never a guess.

Training augments every batch on the fly: rotation, scale, shift (joints pushed out of
the image are labelled absent), left-right mirroring (a mirrored right hand is a left
hand, and the joint names stay), and a share of blank and noise images labelled "no
joint", so that the presence head learns what is not a hand.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ramultimodal.image._joint_crops import at_stored_size, hand_scale, load_stretched
from ramultimodal.image._joint_files import (
    check_params,
    read_joint_config,
    read_joint_folder,
    write_joint_folder,
)
from ramultimodal.image._joint_inputs import _load, image_key, load_square, on_image
from ramultimodal.image._joint_nets import HeatmapNet, RefineNet, soft_argmax
from ramultimodal.image._joint_refine import refine_points, train_refiner
from ramultimodal.image._joint_training import train_epochs
from ramultimodal.terminology.joints import JOINTS

__all__ = ["JointLocator"]

logger = logging.getLogger("ramultimodal.image.joints")

_STRIDE = 4  # input pixels per heatmap cell
PREDICTION_COLUMNS = ["image_id", "joint", "x", "y", "confidence", "found"]


def _sources(X: Any) -> list[Any]:
    if isinstance(X, pd.DataFrame):
        X = X.iloc[:, 0]
    if isinstance(X, str | os.PathLike | np.ndarray) and not (
        isinstance(X, np.ndarray) and X.dtype == object
    ):
        if isinstance(X, np.ndarray) and X.ndim == 3:
            return list(X)
        raise TypeError("X must be a list of image paths (or of 2-D arrays), one per image.")
    return list(X)


class JointLocator(BaseEstimator):
    """Find the Sharp/van der Heijde joints of hand radiographs (heatmap keypoints).

    Parameters
    ----------
    image_size : int, default 128
        Side of the square the network reads (the image is letterboxed into it).
    width : int, default 16
        Channels of the network's first stage (later stages have 2, 3, 4 times as many).
    epochs : int, default 40
    batch_size : int, default 16
    learning_rate : float, default 3e-3
        Peak of a one-cycle schedule (AdamW).
    threshold : float, default 0.5
        Presence probability below which a joint is "not found".
    max_spread : float, default 2.5
        Largest spread of a joint's heatmap (its standard deviation, in heatmap cells of 4
        input pixels; a sharp peak is about 1.4, the training target's) for it to count as
        found: a blurred or split heatmap is not a location.
    negatives : float, default 0.1
        Share of each training batch replaced by blank or noise images (no joint).
    refine : bool, default True
        Place each found joint again on a crop at the file's own resolution
        (`RefineNet`, the second stage): the coarse heatmap's cell spans several file
        pixels. Models saved before this parameter existed load with it False.
    refine_size : int, default 32
        Side of the refinement crop in pixels (a multiple of 8); the crop spans one
        MCP2-MCP3 distance of the hand.
    refine_width : int, default 8
        Channels of the refinement network's first stage.
    refine_epochs : int, default 20
    random_state : int, default 0
    verbose : int, default 0
        Log the loss of every epoch when positive.

    Attributes
    ----------
    joints_ : list of str
        The joints located, `ramultimodal.terminology.joints.JOINTS`.
    net_ : HeatmapNet
    refiner_ : RefineNet or None
        The second stage, when `refine`.
    history_ : list of dict
        Loss of every epoch.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from ramultimodal.synthetic import make_cohort
    >>> cohort = make_cohort(4, image_size=64, seed=0, image_missing_rate=0)
    >>> images = [cohort.pixels[i] for i in cohort.images.index]
    >>> truth = cohort.joint_places.assign(image_id=lambda t: t["image_id"].map(
    ...     {i: str(n) for n, i in enumerate(cohort.images.index)}))
    >>> locator = JointLocator(image_size=64, width=4, epochs=1).fit(images, truth)
    >>> found = locator.predict(images)
    >>> found.columns.tolist(), len(found) == 4 * 17
    (['image_id', 'joint', 'x', 'y', 'confidence', 'found'], True)
    """

    def __init__(
        self,
        image_size: int = 128,
        width: int = 16,
        epochs: int = 40,
        batch_size: int = 16,
        learning_rate: float = 3e-3,
        threshold: float = 0.5,
        max_spread: float = 2.5,
        negatives: float = 0.1,
        refine: bool = True,
        refine_size: int = 32,
        refine_width: int = 8,
        refine_epochs: int = 20,
        random_state: int = 0,
        verbose: int = 0,
    ) -> None:
        self.image_size = image_size
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.threshold = threshold
        self.max_spread = max_spread
        self.negatives = negatives
        self.refine = refine
        self.refine_size = refine_size
        self.refine_width = refine_width
        self.refine_epochs = refine_epochs
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- training
    def fit(self, X: Any, joints: pd.DataFrame) -> JointLocator:
        """Learn where the joints lie from images and their joint table.

        Parameters
        ----------
        X : list of path-like or 2-D arrays
            One radiograph each. A file's image id is its stem (``synth`` names its images
            ``images/<image_id>.dcm``), an array's its position in `X` as text.
        joints : DataFrame
            ``image_id``, ``joint``, ``x``, ``y`` in the pixels of each image, as
            ``joints.csv`` (`ramultimodal.io.read_joints_csv`); a joint missing, or with
            NaN x/y, is taken as outside the image.

        Returns
        -------
        self
        """
        size = self._checked_size()
        sources = _sources(X)
        if not sources:
            raise ValueError("JointLocator.fit needs at least one image.")
        missing = {"image_id", "joint", "x", "y"} - set(joints.columns)
        if missing:
            raise ValueError(f"The joints table lacks column(s) {sorted(missing)}.")
        keys = [image_key(s, n) for n, s in enumerate(sources)]
        known = set(joints["image_id"].astype(str))
        if not known & set(keys):
            raise ValueError(
                "No image of X is in the joints table: its image_id must be each file's "
                f"stem (first image: {keys[0]!r}; first image_id: {sorted(known)[:1]})."
            )
        squares, points, present = self._targets(sources, keys, joints, size)
        torch.manual_seed(int(self.random_state))
        rng = np.random.default_rng(self.random_state)
        self.joints_ = list(JOINTS)
        self.net_ = HeatmapNet(len(JOINTS), int(self.width))
        self.history_ = []
        self._train(squares, points, present, rng)
        self.refiner_ = None
        if self.refine:
            self._fit_refiner(sources, keys, joints, rng)
        return self

    def _fit_refiner(self, sources, keys, joints, rng) -> None:
        """Train the second stage on crops of the full-resolution images."""
        started = time.perf_counter()
        table = joints.assign(image_id=joints["image_id"].astype(str))
        by_image = dict(tuple(table.groupby("image_id")))
        images, points, present, scales = [], [], [], []
        for source, key in zip(sources, keys, strict=True):
            rows = by_image.get(key)
            if rows is None:
                continue
            pixels = load_stretched(source)
            xy = np.full((len(JOINTS), 2), np.nan, np.float32)
            for joint, x, y in zip(rows["joint"], rows["x"], rows["y"], strict=True):
                if joint in JOINTS:
                    xy[JOINTS.index(joint)] = (x, y)
            height, width = pixels.shape
            seen = np.isfinite(xy).all(1) & on_image(xy[:, 0], xy[:, 1], height, width)
            places = {j: tuple(xy[i]) for i, j in enumerate(JOINTS) if seen[i]}
            images.append(torch.from_numpy(pixels))
            points.append(np.nan_to_num(xy))
            present.append(seen)
            scales.append(hand_scale(places, pixels.shape))
        self.refiner_ = RefineNet(len(JOINTS), int(self.refine_width))
        self.refiner_history_ = train_refiner(
            self.refiner_,
            images,
            np.stack(points),
            np.stack(present),
            np.asarray(scales, np.float32),
            size=int(self.refine_size),
            epochs=int(self.refine_epochs),
            batch_size=64,
            learning_rate=float(self.learning_rate),
            rng=rng,
            verbose=self.verbose,
        )
        logger.info("Joint refiner trained in %.1f s", time.perf_counter() - started)

    def _checked_size(self) -> int:
        size = int(self.image_size)
        if size < 32 or size % 16:
            raise ValueError(f"image_size must be a multiple of 16, at least 32; got {size}.")
        crop = int(self.refine_size)
        if self.refine and (crop < 16 or crop % 8):
            raise ValueError(f"refine_size must be a multiple of 8, at least 16; got {crop}.")
        return size

    def _targets(self, sources, keys, joints, size):
        table = joints.assign(image_id=joints["image_id"].astype(str)).set_index(
            ["image_id", "joint"]
        )
        squares = np.empty((len(sources), 1, size, size), np.float32)
        points = np.zeros((len(sources), len(JOINTS), 2), np.float32)
        present = np.zeros((len(sources), len(JOINTS)), np.float32)
        for n, (source, key) in enumerate(zip(sources, keys, strict=True)):
            squares[n, 0], placement = load_square(source, size)
            for j, joint in enumerate(JOINTS):
                if (key, joint) not in table.index:
                    continue
                row = table.loc[(key, joint)]
                x, y = float(row["x"]), float(row["y"])
                if math.isnan(x) or math.isnan(y):
                    continue
                points[n, j] = placement.to_square(np.float32(x), np.float32(y))
                present[n, j] = float(
                    -0.5 <= points[n, j].min() and points[n, j].max() <= size - 0.5
                )
        return torch.from_numpy(squares), torch.from_numpy(points), torch.from_numpy(present)

    def _train(self, squares, points, present, rng) -> None:
        def batch_loss(index):
            images, xy, seen = _augment(squares[index], points[index], present[index], rng)
            images, seen = _add_negatives(images, seen, float(self.negatives), rng)
            logits, presence = self.net_(images)
            return _locator_loss(logits, presence, xy, seen)

        self.history_ = train_epochs(
            self.net_,
            len(squares),
            batch_loss,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            rng=rng,
            name="JointLocator",
            verbose=self.verbose,
        )

    # ---------------------------------------------------------------- prediction
    def predict(self, X: Any) -> pd.DataFrame:
        """Each joint of each image: where it lies, how sure the model is, or not found.

        Parameters
        ----------
        X : list of path-like or 2-D arrays
            One radiograph each (DICOM, PNG, ... as `ramultimodal.io.read_image` reads).

        Returns
        -------
        DataFrame
            One row per image and joint: ``image_id`` (a file's stem, an array's position),
            ``joint``, ``x`` and ``y`` (column and row in the file's own pixels, NaN when
            not found), ``confidence`` (0-1) and ``found``. A file that cannot be read
            raises `ramultimodal.io.ImageReadError` naming it.
        """
        rows = []
        for key, xy, confidence, found, *_ in self._locate(_sources(X)):
            rows += self._records(key, xy, confidence, found)
        return pd.DataFrame.from_records(rows, columns=PREDICTION_COLUMNS)

    def _records(self, key: str, xy, confidence, found) -> list[tuple]:
        """`predict`'s rows of one image."""
        rows = []
        for j, joint in enumerate(self.joints_):
            x, y = xy[j] if found[j] else (np.nan, np.nan)
            rows.append((key, joint, float(x), float(y), float(confidence[j]), bool(found[j])))
        return rows

    def _locate(self, sources: list[Any], keep_pixels: bool = False):
        """Per image: key, file coordinates (J, 2), confidence, found, placement, and its
        stretched pixels at the stored size when `keep_pixels` (else None).

        One image at a time through the networks: an image's places must not depend on the
        images located with it (batched convolutions differ in the last bits, which the
        second stage carries into the places), and on CPU a batch saves little.
        """
        check_is_fitted(self, "net_")
        size = int(self.image_size)
        net = self.net_.eval()
        refiner = getattr(self, "refiner_", None)
        for position, source in enumerate(sources):
            square, placement, stretched, stored = _load(source, size)
            with torch.no_grad():
                logits, presence = net(torch.from_numpy(square)[None, None])
                xy, spread, _ = soft_argmax(logits)
            xy = (xy[0].numpy() + 0.5) * _STRIDE - 0.5  # cells -> square pixels
            spread, confidence = spread[0].numpy(), torch.sigmoid(presence)[0].numpy()
            fx, fy = placement.to_file(xy[:, 0], xy[:, 1])
            found = (confidence >= self.threshold) & (spread <= self.max_spread)
            # A joint placed on the padding is not on the image.
            found &= placement.inside(xy[:, 0], xy[:, 1])
            places = np.stack([fx, fy], 1)
            pixels = None
            if refiner is not None or keep_pixels:
                pixels = at_stored_size(stretched, stored)
            if refiner is not None:
                found = self._refine(refiner, places, found, pixels)
            yield image_key(source, position), places, confidence, found, placement, pixels

    def _refine(self, refiner, places: np.ndarray, found: np.ndarray, pixels: np.ndarray):
        """Place an image's found joints again with the second stage (`places` in place);
        returns which are still found."""
        index = np.flatnonzero(found)
        if not len(index):
            return found
        scale = hand_scale({self.joints_[i]: tuple(places[i]) for i in index}, pixels.shape)
        places[index] = refine_points(
            refiner, torch.from_numpy(pixels), places[index], index, scale, int(self.refine_size)
        )
        # A joint the second stage moves off the image is not on it.
        return found & on_image(places[:, 0], places[:, 1], *pixels.shape)

    # --------------------------------------------------------------- persistence
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the model to `directory` as ``config.json`` and ``heatmaps.safetensors``.

        Examples
        --------
        >>> import tempfile  # doctest: +SKIP
        >>> JointLocator.load(locator.save(tempfile.mkdtemp() + "/m"))  # doctest: +SKIP
        """
        check_is_fitted(self, "net_")
        config = {
            "params": {**self.get_params(), "verbose": 0},
            "joints": self.joints_,
            "history": [{k: v for k, v in r.items() if k != "seconds"} for r in self.history_],
        }
        return write_joint_folder(directory, "JointLocator", config, self._networks())

    def _networks(self) -> dict[str, torch.nn.Module]:
        """The networks a saved folder holds, by file name."""
        networks = {"heatmaps": self.net_}
        if getattr(self, "refiner_", None) is not None:
            networks["refine"] = self.refiner_
        return networks

    def _build_networks(self) -> None:
        """Untrained networks of this configuration, for `load` to fill."""
        self.net_ = HeatmapNet(len(JOINTS), int(self.width))
        self.refiner_ = RefineNet(len(JOINTS), int(self.refine_width)) if self.refine else None

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> JointLocator:
        """Read a model written by `save`; nothing in it is executed or unpickled."""
        config = read_joint_config(directory, "JointLocator")
        path = Path(directory) / "config.json"
        if config.get("joints") != list(JOINTS):
            raise ValueError(f"{path}: the joints are not this version's {list(JOINTS)}.")
        model = cls._unfitted(path, config["params"])
        read_joint_folder(directory, model._networks())
        model.history_ = list(config.get("history", []))
        return model

    @classmethod
    def _unfitted(cls, path: Path, params: Any) -> JointLocator:
        """A locator of saved parameters with untrained networks, for a loader to fill;
        `path` names the configuration in errors."""
        if not isinstance(params, dict):
            raise ValueError(f"{path}: no locator parameters; the folder is damaged.")
        check_params(path, params, cls().get_params(), "JointLocator")
        try:
            # Saved before the second stage existed: none to load.
            model = cls(**{"refine": False, **params})
            model._checked_size()
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: a damaged configuration ({error}).") from None
        model._build_networks()
        model.joints_, model.history_ = list(JOINTS), []
        return model


def _augment(images, points, present, rng):
    """Random rotation, scale, shift and mirror of a batch, and its joints moved alike."""
    b, _, size, _ = images.shape
    angle = torch.from_numpy(rng.uniform(-0.35, 0.35, b)).float()
    scale = torch.from_numpy(np.exp(rng.uniform(-0.2, 0.3, b))).float()  # > 1 zooms out
    shift = torch.from_numpy(rng.uniform(-0.25, 0.25, (b, 2))).float()
    mirror = torch.from_numpy(np.where(rng.random(b) < 0.5, -1.0, 1.0)).float()
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Output grid point p maps to input point M p + t (normalised coordinates).
    m = (
        torch.stack(
            [torch.stack([cos * mirror, -sin], -1), torch.stack([sin * mirror, cos], -1)], -2
        )
        * scale[:, None, None]
    )
    theta = torch.cat([m, shift[:, :, None]], dim=2)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")
    normalised = (2 * points + 1) / size - 1
    back = torch.linalg.solve(m[:, None], (normalised - shift[:, None])[..., None])[..., 0]
    inside = (back.abs() <= 1 - 1 / size).all(-1).float()
    return moved, (back + 1) * size / 2 - 0.5, present * inside


def _add_negatives(images, present, share, rng):
    """Replace a share of the batch by blank or noise images, with no joint present."""
    b, _, size, _ = images.shape
    chosen = np.flatnonzero(rng.random(b) < share)
    if not len(chosen):
        return images, present
    images, present = images.clone(), present.clone()
    for n in chosen:
        if rng.random() < 0.5:
            images[n] = float(rng.uniform(0, 1))
        else:
            noise = torch.from_numpy(rng.random((1, 1, size, size), dtype=np.float32))
            blur = int(rng.integers(0, 3))
            if blur:
                noise = F.avg_pool2d(noise, 2 * blur + 1, stride=1, padding=blur)
                noise = (noise - noise.min()) / (noise.max() - noise.min() + 1e-6)
            images[n] = noise[0]
        present[n] = 0.0
    return images, present


def _locator_loss(logits, presence, xy, seen):
    """Cross-entropy of each present joint's heatmap against a Gaussian around its
    position, an L1 loss on the soft-argmax, and the presence head's binary cross-entropy."""
    b, j, h, w = logits.shape
    cells = (xy + 0.5) / _STRIDE - 0.5
    mean, _, _ = soft_argmax(logits)
    ys = torch.arange(h, dtype=logits.dtype)[:, None]
    xs = torch.arange(w, dtype=logits.dtype)[None, :]
    d2 = (xs - cells[..., 0, None, None]) ** 2 + (ys - cells[..., 1, None, None]) ** 2
    target = torch.exp(-d2 / 2.0)
    target = target / target.sum((2, 3), keepdim=True).clamp_min(1e-6)
    log_p = torch.log_softmax(logits.reshape(b, j, -1), -1).reshape(b, j, h, w)
    weight = seen / seen.sum().clamp_min(1.0)
    heatmap = -(target * log_p).sum((2, 3))
    coordinate = (mean - cells).abs().sum(-1)
    located = (weight * (heatmap + coordinate)).sum()
    return located + F.binary_cross_entropy_with_logits(presence, seen)
