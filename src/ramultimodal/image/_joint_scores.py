"""`JointScoreTransformer`: each joint's erosion and narrowing, and the patient's SvdH totals.

`JointLocator` finds the joints; a crop around each found joint (`crop_joints`) goes
through `GradeNet`, one small network for every finger joint with an embedding of which
joint it is, whose cumulative-logit (CORAL) heads give P(grade > k). By default
(`wrist_crop_span`) the wrist, whose erosions lie anywhere on the carpus and the distal
radius, has a `GradeNet` of its own that reads a wider crop at more pixels. From those
ordered probabilities come the grade's distribution, its expected value and its standard
deviation; the patient's Sharp/van der Heijde totals add the expected grades of the SvdH
joints of every hand imaged (`terminology.joints`), their SD the variances (taking the
joints' errors as independent, which makes it a lower bound).

As a scikit-learn transformer it takes the image column of a fusion (one item per patient:
a path, a list of paths, or nothing) and gives per-joint and total columns, so that a
model can say "erosion MCP2 2" instead of "the image said 0.7". `fit` learns from a joints
table (``joints.csv``); with ``pretrained`` set it loads a saved model instead and learns
nothing from y, so that cloning it inside a fusion costs no training.
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
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ramultimodal._missing import is_missing
from ramultimodal.image._joint_crops import (
    CROP_SPAN,
    crop_joints,
    hand_scale,
    load_stretched,
    sample_crops,
)
from ramultimodal.image._joint_files import (
    check_params,
    read_joint_config,
    read_joint_folder,
    write_joint_folder,
)
from ramultimodal.image._joint_inputs import image_key
from ramultimodal.image._joint_locator import PREDICTION_COLUMNS, JointLocator
from ramultimodal.image._joint_nets import GradeNet
from ramultimodal.image._joint_training import train_epochs
from ramultimodal.terminology.joints import (
    EROSION_JOINTS,
    EROSION_MAX,
    JOINTS,
    NARROWING_JOINTS,
    NARROWING_MAX,
)

__all__ = ["JointScoreTransformer", "grade_distribution"]

logger = logging.getLogger("ramultimodal.image.joints")

_LOCATOR_PARAMS = ("image_size", "width", "epochs", "batch_size", "learning_rate", "threshold")
# The wrist's grader sees each training wrist this many times, moved, turned and resized a
# little: a hand has one wrist for sixteen other joints, too few crops to learn the carpus's
# grades from one view of each.
_WRIST_VIEWS = 6
_WRIST_TURN = math.radians(10.0)
# The parameters that say how the graders read a joint: kept with the fitted graders
# (`crop_geometry_`), so that a model loaded through `pretrained=` reads as it was trained.
_GEOMETRY = ("crop_size", "crop_span", "wrist_crop_span", "wrist_crop_size")
#: The totals `svdh_totals` gives, last in `transform`'s columns.
TOTAL_NAMES = (
    "svdh_erosion", "svdh_erosion_sd", "svdh_narrowing", "svdh_narrowing_sd", "svdh_total",
    "svdh_total_sd", "joints_found",
)  # fmt: skip
SCORE_COLUMNS = [
    "image_id", "joint", "found", "x", "y", "confidence", "erosion", "erosion_sd", "narrowing",
    "narrowing_sd",
]  # fmt: skip


def grade_distribution(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From cumulative logits (P(grade > k)) to each grade's probability, mean and SD.

    Parameters
    ----------
    logits : ndarray, shape (n, K)
        Logits of P(grade > k), k = 0..K-1, for grades 0..K.

    Returns
    -------
    probabilities : ndarray, shape (n, K + 1)
    expected : ndarray, shape (n,)
    sd : ndarray, shape (n,)

    Examples
    --------
    >>> p, mean, sd = grade_distribution(np.array([[10.0, -10.0]]))
    >>> p.round(3).tolist(), round(float(mean[0]), 3), round(float(sd[0]), 1)
    ([[0.0, 1.0, 0.0]], 1.0, 0.0)
    """
    above = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
    above = np.minimum.accumulate(above, axis=1)  # ordered already; guards rounding
    edges = np.concatenate([np.ones((len(above), 1)), above, np.zeros((len(above), 1))], 1)
    probabilities = np.clip(edges[:, :-1] - edges[:, 1:], 0.0, 1.0)
    grades = np.arange(probabilities.shape[1])
    expected = above.sum(1)
    variance = (probabilities * (grades - expected[:, None]) ** 2).sum(1)
    return probabilities, expected, np.sqrt(variance)


def _patient_images(X: Any) -> list[list[Any]]:
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"X has {X.shape[1]} columns; JointScoreTransformer takes one column of images."
            )
        X = X.iloc[:, 0]
    items = list(X)
    patients = []
    for row, item in enumerate(items):
        if is_missing(item):
            patients.append([])
        elif isinstance(item, str | os.PathLike) or (
            isinstance(item, np.ndarray) and item.ndim == 2 and item.dtype != object
        ):
            patients.append([item])
        elif isinstance(item, list | tuple | np.ndarray):
            patients.append(list(item))
        else:
            raise TypeError(
                f"X row {row}: expected a path, a list of paths or nothing, got "
                f"{type(item).__name__}."
            )
    return patients


class JointScoreTransformer(TransformerMixin, BaseEstimator):
    """Per-joint erosion and narrowing grades and SvdH totals from hand radiographs.

    Parameters
    ----------
    pretrained : str or Path, optional
        A folder written by `save`: `fit` loads it and learns nothing.
    image_size, locator_width, locator_epochs : int
        The `JointLocator`'s ``image_size``, ``width`` and ``epochs``.
    max_spread : float, default 2.5
        The `JointLocator`'s ``max_spread``: how blurred a heatmap may be for its joint to
        count as found.
    refine_epochs : int, default 20
        The `JointLocator`'s ``refine_epochs`` (its second stage).
    crop_size : int, default 32
        Side of the crop the grader reads.
    crop_span : float, default 1.6
        Side of that crop in MCP2-MCP3 distances of the hand (a narrower crop shows the
        joint's margins, where erosions bite, at a finer resolution). Models saved before
        this parameter existed load with 1.6.
    wrist_crop_span : float or None, default 2.0
        The wrist has a grader of its own (`wrist_grader_`) that reads a crop this many
        MCP2-MCP3 distances wide: the wrist's erosions lie anywhere on the carpus and the
        distal radius, wider than a finger joint's margins. None with `wrist_crop_size`
        None: the wrist goes through the finger joints' grader at their crop, as models
        saved before the wrist's grader load. None alone: `crop_span`.
    wrist_crop_size : int or None, default 64
        Side in pixels of the wrist's crop, so that the small bites on the carpal rims
        keep about the file's resolution at 512 pixels. None alone: `crop_size`.
    erosion_weighting : {None, "inverse_sqrt_frequency"}, default None
        How the erosion loss weighs each training crop: None alike; "inverse_sqrt_frequency"
        by one over the square root of its true grade's share among the training crops
        (weights averaging 1), so that the rare high grades, which the RA2-DREAM weighted
        RMSE counts as much as the many zeros, weigh more (the square root keeps the
        handful of grade 4-5 crops from dominating). Models saved before this parameter
        existed load with None.
    width : int, default 16
        Channels of each grader's first stage.
    epochs : int, default 30
        Epochs of each grader.
    batch_size : int, default 64
    learning_rate : float, default 3e-3
    random_state : int, default 0
    verbose : int, default 0

    Attributes
    ----------
    locator_ : JointLocator
    grader_ : GradeNet
        The finger joints' grader (the wrist's too when it has none of its own).
    wrist_grader_ : GradeNet or None
        The wrist's own grader; None when `wrist_crop_span` and `wrist_crop_size` are None.
    crop_geometry_ : dict
        `crop_size`, `crop_span`, `wrist_crop_span` and `wrist_crop_size` as the graders
        were trained (with `pretrained`, the saved model's).

    Examples
    --------
    >>> import tempfile
    >>> from ramultimodal.synthetic import make_cohort, write_cohort
    >>> folder = write_cohort(make_cohort(4, image_size=64, seed=0, image_missing_rate=0),
    ...                       tempfile.mkdtemp() + "/c", formats=["png"])
    >>> images = pd.read_csv(folder / "images.csv")
    >>> X = [[str(folder / p)] for p in images["path"]]
    >>> joints = pd.read_csv(folder / "joints.csv")
    >>> model = JointScoreTransformer(image_size=64, locator_epochs=1, epochs=1)
    >>> scores = model.fit(X, joints=joints).transform(X)
    >>> scores.shape[0], "svdh_erosion" in scores.columns
    (4, True)
    """

    def __init__(
        self,
        pretrained: str | os.PathLike[str] | None = None,
        image_size: int = 128,
        locator_width: int = 16,
        locator_epochs: int = 40,
        max_spread: float = 2.5,
        refine_epochs: int = 20,
        crop_size: int = 32,
        crop_span: float = CROP_SPAN,
        wrist_crop_span: float | None = 2.0,
        wrist_crop_size: int | None = 64,
        erosion_weighting: str | None = None,
        width: int = 16,
        epochs: int = 30,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        random_state: int = 0,
        verbose: int = 0,
    ) -> None:
        self.pretrained = pretrained
        self.image_size = image_size
        self.locator_width = locator_width
        self.locator_epochs = locator_epochs
        self.max_spread = max_spread
        self.refine_epochs = refine_epochs
        self.crop_size = crop_size
        self.crop_span = crop_span
        self.wrist_crop_span = wrist_crop_span
        self.wrist_crop_size = wrist_crop_size
        self.erosion_weighting = erosion_weighting
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- training
    def fit(
        self, X: Any, y: Any = None, *, joints: pd.DataFrame | None = None
    ) -> JointScoreTransformer:
        """Learn to locate and grade the joints, or load the `pretrained` model.

        Parameters
        ----------
        X : sequence
            One item per patient: an image path, a list of them, or nothing.
        y : ignored
            The grades come from `joints`, not from the diagnosis.
        joints : DataFrame, optional
            ``image_id`` (each file's stem), ``joint``, ``x``, ``y``, ``erosion`` and
            ``narrowing``, as ``joints.csv``. Required unless `pretrained` is set.

        Returns
        -------
        self
        """
        if self.pretrained is not None:
            loaded = type(self).load(self.pretrained)
            self.locator_, self.grader_ = loaded.locator_, loaded.grader_
            self.wrist_grader_ = loaded.wrist_grader_
            self.crop_geometry_ = loaded.crop_geometry_
            self._set_feature_names()
            return self
        if joints is None:
            raise ValueError(
                "JointScoreTransformer.fit needs joints= (a joints.csv table with erosion "
                "and narrowing), or pretrained= a folder saved by JointScoreTransformer.save."
            )
        missing = {"image_id", "joint", "x", "y", "erosion", "narrowing"} - set(joints.columns)
        if missing:
            raise ValueError(f"The joints table lacks column(s) {sorted(missing)}.")
        # Before the locator's minutes of training, not after.
        _checked_geometry({name: getattr(self, name) for name in _GEOMETRY})
        images = [image for patient in _patient_images(X) for image in patient]
        started = time.perf_counter()
        self.locator_ = JointLocator(
            image_size=self.image_size,
            width=self.locator_width,
            epochs=self.locator_epochs,
            max_spread=self.max_spread,
            refine_epochs=self.refine_epochs,
            random_state=self.random_state,
            verbose=self.verbose,
        ).fit(images, joints)
        logger.info("Joint locator trained in %.1f s", time.perf_counter() - started)
        self._fit_grader(images, joints)
        return self

    def _fit_grader(self, images: list[Any], joints: pd.DataFrame) -> None:
        """Train the graders alone (the locator as it is), e.g. to compare graders on one
        locator in `benchmarks/bench_joints.py`."""
        self.crop_geometry_ = _checked_geometry({name: getattr(self, name) for name in _GEOMETRY})
        fingers, wrists = self._training_crops(images, joints)
        torch.manual_seed(int(self.random_state))
        self.grader_ = GradeNet(len(JOINTS), EROSION_MAX, NARROWING_MAX, int(self.width))
        self.grader_history_ = self._train_grader(self.grader_, *fingers, name="Joint grader")
        self.wrist_grader_, self.wrist_grader_history_ = None, None
        if self._wrist_apart():
            self.wrist_grader_ = GradeNet(1, EROSION_MAX, NARROWING_MAX, int(self.width))
            self.wrist_grader_history_ = self._train_grader(
                self.wrist_grader_, *wrists, name="Wrist grader"
            )
        self._set_feature_names()

    def _training_crops(self, images, joints):
        """Crops at the true joints, jittered by about the locator's error: the finger
        joints' (crops, joint index, grades), and the wrists' in `_WRIST_VIEWS` views each
        when the wrist has a grader of its own; grades ``(n, 2)`` are erosion and
        narrowing."""
        rng = np.random.default_rng(self.random_state)
        table = joints.assign(image_id=joints["image_id"].astype(str))
        table = table.dropna(subset=["x", "y", "erosion", "narrowing"])
        by_image = dict(tuple(table.groupby("image_id")))
        fingers: list[tuple] = []
        wrists: list[tuple] = []
        for n, source in enumerate(images):
            rows = by_image.get(image_key(source, n))
            if rows is None:
                continue
            pixels = load_stretched(source)
            names = rows["joint"].to_numpy()
            truth = rows[["x", "y"]].to_numpy(np.float32)
            scale = hand_scale(dict(zip(names, map(tuple, truth), strict=True)), pixels.shape)
            own = self._own_grader(names)
            grades = rows[["erosion", "narrowing"]].to_numpy(np.int64)
            points = truth[~own] + rng.normal(0.0, 0.05 * scale, (int((~own).sum()), 2))
            crops = self._finger_crops(pixels, points, scale)
            index = np.array([JOINTS.index(j) for j in names[~own]], np.int64)
            fingers.append((torch.from_numpy(crops)[:, None], index, grades[~own]))
            if own.any():
                views = self._wrist_crops(pixels, truth[own], scale, rng)
                index = np.zeros(len(views), np.int64)
                wrists.append((views, index, np.repeat(grades[own], _WRIST_VIEWS, 0)))
        if not sum(len(index) for _, index, _ in fingers):
            raise ValueError("No image of X has graded finger joints in the joints table.")
        if self._wrist_apart() and not wrists:
            raise ValueError(
                "The joints table grades no wrist: add each image's wrist, with its erosion "
                "and narrowing, to the table (joints.csv)."
            )
        return _stacked(fingers), _stacked(wrists)

    def _own_grader(self, joints: np.ndarray) -> np.ndarray:
        """Which of `joints` the wrist's own grader reads."""
        return (np.asarray(joints) == "wrist") & self._wrist_apart()

    def _wrist_apart(self) -> bool:
        """Whether the wrist has a grader of its own (not for models saved before it)."""
        geometry = self.crop_geometry_
        return geometry["wrist_crop_span"] is not None or geometry["wrist_crop_size"] is not None

    def _finger_crops(self, pixels, points, scale) -> np.ndarray:
        """The finger joints' crops ``(n, S, S)`` for their grader."""
        geometry = self.crop_geometry_
        size, span = int(geometry["crop_size"]), float(geometry["crop_span"])
        return crop_joints(pixels, points, scale, size, pixels=pixels, span=span)

    def _wrist_crops(self, pixels, points, scale, rng=None) -> torch.Tensor:
        """The wrist's crops ``(n, 1, S, S)`` for its grader: one upright crop per point,
        or (training, with `rng`) `_WRIST_VIEWS` per point, moved, turned and resized a
        little."""
        geometry = self.crop_geometry_
        size, span = geometry["wrist_crop_size"], geometry["wrist_crop_span"]
        size = int(geometry["crop_size"] if size is None else size)
        span = float(geometry["crop_span"] if span is None else span)
        centres = np.asarray(points, np.float64).reshape(-1, 2)
        step = np.full(len(centres), span * scale / size)
        angle = None
        if rng is not None:
            centres = np.repeat(centres, _WRIST_VIEWS, 0)
            n = len(centres)
            centres = centres + rng.normal(0.0, 0.05 * scale, (n, 2))
            step = np.repeat(step, _WRIST_VIEWS) * np.exp(rng.uniform(-0.1, 0.1, n))
            angle = torch.from_numpy(rng.uniform(-_WRIST_TURN, _WRIST_TURN, n).astype(np.float32))
        return sample_crops(
            torch.from_numpy(np.asarray(pixels, np.float32)),
            torch.from_numpy(centres.astype(np.float32)),
            torch.from_numpy(step.astype(np.float32)),
            size,
            angle,
        )

    def _train_grader(self, net, crops, joint_index, grades, *, name: str) -> list[dict]:
        rng = np.random.default_rng(self.random_state)
        erosion, narrowing = grades[:, 0], grades[:, 1]
        erosion_targets = (erosion[:, None] > torch.arange(EROSION_MAX)).float()
        narrowing_targets = (narrowing[:, None] > torch.arange(NARROWING_MAX)).float()
        weights = _grade_weights(erosion, self.erosion_weighting)[:, None]

        def batch_loss(index):
            index = torch.from_numpy(index)
            # Either hand, and a joint's damage on either margin: mirror at random.
            flip = torch.from_numpy(rng.random(len(index)) < 0.5)[:, None, None, None]
            images = crops[index]
            images = torch.where(flip, images.flip(-1), images)
            e_logits, n_logits = net(images, joint_index[index])
            return F.binary_cross_entropy_with_logits(
                e_logits, erosion_targets[index], weight=weights[index]
            ) + F.binary_cross_entropy_with_logits(n_logits, narrowing_targets[index])

        return train_epochs(
            net,
            len(crops),
            batch_loss,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            rng=rng,
            name=name,
            verbose=self.verbose,
        )

    # ---------------------------------------------------------------- prediction
    def score_images(self, images: Any) -> pd.DataFrame:
        """Every joint of every image: found or not, where, expected grades and their SD.

        Parameters
        ----------
        images : list of path-like or 2-D arrays

        Returns
        -------
        DataFrame
            ``image_id``, ``joint``, ``found``, ``x``, ``y`` (file pixels), ``confidence``
            (the locator's), ``erosion`` and
            ``narrowing`` (expected grades, NaN when not found), ``erosion_sd`` and
            ``narrowing_sd``, and ``erosion_p0``...``erosion_p5``, ``narrowing_p0``...
            ``narrowing_p4``: each grade's probability.
        """
        check_is_fitted(self, "grader_")
        images = list(images)
        tables = []
        # One read of each file: the locator keeps the pixels the grader crops from.
        for key, xy, confidence, found, _, pixels in self.locator_._locate(
            images, keep_pixels=True
        ):
            rows = pd.DataFrame.from_records(
                self.locator_._records(key, xy, confidence, found), columns=PREDICTION_COLUMNS
            )
            tables.append(self._grade(pixels, rows))
        if not tables:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return pd.concat(tables, ignore_index=True)

    def _grade(self, pixels: np.ndarray, rows: pd.DataFrame) -> pd.DataFrame:
        """Grades of one image's found joints; `pixels` stretched, at the stored size."""
        table = rows[["image_id", "joint", "found", "x", "y", "confidence"]].copy()
        grades = {}
        for kind, top in (("erosion", EROSION_MAX), ("narrowing", NARROWING_MAX)):
            for name in (kind, f"{kind}_sd", *(f"{kind}_p{g}" for g in range(top + 1))):
                grades[name] = np.full(len(table), np.nan)
        seen = table["found"].to_numpy(bool)
        if not seen.any():
            return pd.concat([table, pd.DataFrame(grades, index=table.index)], axis=1)
        places = {
            j: (x, y)
            for j, x, y, f in zip(table["joint"], table["x"], table["y"], seen, strict=True)
            if f
        }
        scale = hand_scale(places, pixels.shape)
        points = table.loc[seen, ["x", "y"]].to_numpy(np.float32)
        outputs = self._logits(pixels, points, scale, table.loc[seen, "joint"].to_numpy())
        for kind, logits in zip(("erosion", "narrowing"), outputs, strict=True):
            probabilities, expected, sd = grade_distribution(logits)
            grades[kind][seen] = expected
            grades[f"{kind}_sd"][seen] = sd
            for grade in range(probabilities.shape[1]):
                grades[f"{kind}_p{grade}"][seen] = probabilities[:, grade]
        return pd.concat([table, pd.DataFrame(grades, index=table.index)], axis=1)

    def _logits(self, pixels, points, scale, joints: np.ndarray):
        """Erosion and narrowing logits of the joints at `points`, each from its grader."""
        own = self._own_grader(joints)
        erosion = np.empty((len(joints), EROSION_MAX), np.float32)
        narrowing = np.empty((len(joints), NARROWING_MAX), np.float32)
        with torch.no_grad():
            if (~own).any():
                crops = self._finger_crops(pixels, points[~own], scale)
                index = torch.tensor([JOINTS.index(j) for j in joints[~own]])
                e, n = self.grader_.eval()(torch.from_numpy(crops)[:, None], index)
                erosion[~own], narrowing[~own] = e.numpy(), n.numpy()
            if own.any():
                crops = self._wrist_crops(pixels, points[own], scale)
                e, n = self.wrist_grader_.eval()(crops, torch.zeros(len(crops), dtype=torch.long))
                erosion[own], narrowing[own] = e.numpy(), n.numpy()
        return erosion, narrowing

    def transform(self, X: Any) -> pd.DataFrame:
        """Per-patient features: each joint's worst grade over the hands imaged, and totals.

        Returns
        -------
        DataFrame
            One row per patient (NaN without a radiograph): ``erosion_<joint>`` and
            ``narrowing_<joint>`` (the highest expected grade over the patient's images),
            ``svdh_erosion``, ``svdh_narrowing`` and ``svdh_total`` (sums of expected
            grades of the SvdH joints over the images), their ``_sd``, and
            ``joints_found`` (share of the SvdH joints found).
        """
        check_is_fitted(self, "grader_")
        patients = _patient_images(X)
        images = [image for patient in patients for image in patient]
        scores = self.score_images(images)
        rows = np.full((len(patients), len(self.feature_names_out_)), np.nan)
        position = 0
        for p, patient in enumerate(patients):
            if not patient:
                continue
            part = scores.iloc[position * len(JOINTS) : (position + len(patient)) * len(JOINTS)]
            position += len(patient)
            rows[p] = self._patient_row(part)
        return pd.DataFrame(
            rows,
            columns=self.feature_names_out_,
            index=X.index if isinstance(X, pd.Series | pd.DataFrame) else None,
        )

    def _patient_row(self, part: pd.DataFrame) -> np.ndarray:
        worst = part.groupby("joint", sort=False)[["erosion", "narrowing"]].max()
        values = [worst.loc[j, "erosion"] for j in JOINTS] + [
            worst.loc[j, "narrowing"] for j in JOINTS
        ]
        return np.asarray([*values, *svdh_totals(part)], dtype=float)

    def _set_feature_names(self) -> None:
        names = [f"erosion_{j}" for j in JOINTS] + [f"narrowing_{j}" for j in JOINTS]
        self.feature_names_out_ = np.asarray([*names, *TOTAL_NAMES], dtype=object)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The columns `transform` gives.

        Examples
        --------
        >>> JointScoreTransformer().get_feature_names_out()  # doctest: +SKIP
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    # --------------------------------------------------------------- persistence
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` and the networks' ``heatmaps``, ``refine``, ``grades`` and
        ``wrist_grades`` ``.safetensors``."""
        check_is_fitted(self, "grader_")
        # The geometry the graders were trained with (a model fitted through `pretrained=`
        # keeps the saved model's, whatever its own parameters say).
        params = {**self.get_params(), **self.crop_geometry_, "verbose": 0, "pretrained": None}
        config = {
            "params": params,
            "locator_params": {**self.locator_.get_params(), "verbose": 0},
            "joints": list(JOINTS),
        }
        return write_joint_folder(directory, "JointScoreTransformer", config, self._networks())

    def _networks(self) -> dict[str, torch.nn.Module]:
        networks = {**self.locator_._networks(), "grades": self.grader_}
        if self.wrist_grader_ is not None:
            networks["wrist_grades"] = self.wrist_grader_
        return networks

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> JointScoreTransformer:
        """Read a model written by `save`; nothing in it is executed or unpickled."""
        config = read_joint_config(directory, "JointScoreTransformer")
        path = Path(directory) / "config.json"
        check_params(path, config["params"], cls().get_params(), "JointScoreTransformer")
        locator = JointLocator._unfitted(path, config.get("locator_params"))
        if config.get("joints") != list(JOINTS):
            raise ValueError(f"{path}: the joints are not this version's {list(JOINTS)}.")
        try:
            # Saved before these parameters existed: the crop span then fixed, and the
            # wrist graded with the finger joints.
            before = {"crop_span": CROP_SPAN, "wrist_crop_span": None, "wrist_crop_size": None}
            model = cls(**{**before, **config["params"], "pretrained": None})
            model.locator_ = locator
            model.grader_ = GradeNet(len(JOINTS), EROSION_MAX, NARROWING_MAX, int(model.width))
            model.crop_geometry_ = {name: getattr(model, name) for name in _GEOMETRY}
            model.wrist_grader_ = None
            if model._wrist_apart():
                model.wrist_grader_ = GradeNet(1, EROSION_MAX, NARROWING_MAX, int(model.width))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: a damaged configuration ({error}).") from None
        if (
            model.wrist_grader_ is not None
            and not (path.parent / "wrist_grades.safetensors").exists()
        ):
            raise ValueError(
                f"{path} asks for a wrist grader that {path.parent} lacks "
                "(wrist_grades.safetensors): a development version's model, whose wrist "
                "shared the finger joints' grader. Train it again (ramultimodal joints train)."
            )
        read_joint_folder(directory, model._networks())
        model._set_feature_names()
        return model


def _grade_weights(grades: torch.Tensor, weighting: str | None) -> torch.Tensor:
    """Each training crop's loss weight from its true grade (see `erosion_weighting`).

    Examples
    --------
    >>> _grade_weights(torch.tensor([0, 0, 0, 1]), "inverse_sqrt_frequency").round(decimals=2)
    tensor([0.8500, 0.8500, 0.8500, 1.4600])
    """
    if weighting is None:
        return torch.ones(len(grades))
    if weighting != "inverse_sqrt_frequency":
        raise ValueError(f"erosion_weighting={weighting!r}: use None or 'inverse_sqrt_frequency'.")
    _, inverse, counts = torch.unique(grades, return_inverse=True, return_counts=True)
    weights = (counts.double() / len(grades)).rsqrt()[inverse]
    return (weights / weights.mean()).float()


def svdh_totals(scores: pd.DataFrame) -> list[float]:
    """`TOTAL_NAMES` over a patient's `score_images` rows: the SvdH totals of the expected
    grades over every image, their SDs (variances added) and the share of SvdH joints
    found; no totals (NaN) when none is found (not a hand?), rather than totals of 0."""
    sums, variances = {}, {}
    for kind, counted in (("erosion", EROSION_JOINTS), ("narrowing", NARROWING_JOINTS)):
        part = scores[scores["joint"].isin(counted)]
        sums[kind], variances[kind] = part[kind].sum(), (part[f"{kind}_sd"] ** 2).sum()
    counted = scores[scores["joint"].isin(set(EROSION_JOINTS) | set(NARROWING_JOINTS))]
    found = float(counted["found"].astype(bool).mean())
    if not found:
        return [math.nan] * 6 + [found]
    total_variance = variances["erosion"] + variances["narrowing"]
    return [
        sums["erosion"], math.sqrt(variances["erosion"]),
        sums["narrowing"], math.sqrt(variances["narrowing"]),
        sums["erosion"] + sums["narrowing"], math.sqrt(total_variance), found,
    ]  # fmt: skip


def _checked_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    """The crop parameters, refused in one line when a grader could not read such a crop.

    Examples
    --------
    >>> _checked_geometry({"crop_size": 32, "crop_span": 1.6, "wrist_crop_span": 0,
    ...                    "wrist_crop_size": None})
    Traceback (most recent call last):
    ...
    ValueError: wrist_crop_span=0 must be a positive number of MCP2-MCP3 distances (or None).
    """
    for name, value in geometry.items():
        optional = name.startswith("wrist")
        if value is None and optional:
            continue
        if name.endswith("size"):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 8:
                also = " (or None)" if optional else ""
                raise ValueError(
                    f"{name}={value!r} must be a whole number of pixels, at least 8{also}."
                )
        elif isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            also = " (or None)" if optional else ""
            raise ValueError(
                f"{name}={value!r} must be a positive number of MCP2-MCP3 distances{also}."
            )
    return geometry


def _stacked(parts: list[tuple]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-image (crops, joint index, grades) -> one (crops, index, grades) of tensors."""
    if not parts:
        empty = torch.empty(0, dtype=torch.int64)
        return torch.empty((0, 1, 1, 1)), empty, torch.empty((0, 2), dtype=torch.int64)
    crops, index, grades = zip(*parts, strict=True)
    return (
        torch.cat(crops),
        torch.from_numpy(np.concatenate(index)),
        torch.from_numpy(np.concatenate(grades)),
    )
