"""`JointScoreFeatures`: a trained `JointScoreTransformer` as a fusion's image modality.

A fusion fits each modality on y, and clones it for every fold. The joint models learn
from ``joints.csv`` (each joint's grades), not from the diagnosis, and they take minutes to
train: refitting them per fold would cost the most and learn nothing new. So the fusion
gets them trained and frozen: cloning returns the same object, ``fit`` learns nothing,
and ``transform`` grades each patient's radiographs (`JointScoreTransformer.score_images`),
one patient at a time, so that a patient's numbers do not depend on who else is scored
with them. The fusion's folds ask about the same radiographs again and again; the answers
are remembered per file (its path, size and modification time) for as long as the object
lives, never saved with it.

The features are per hand, so that an explanation can say "erosion MCP2 right = 2 of 5":
each joint's expected erosion and narrowing grade on the right and on the left hand (NaN
when that hand was not imaged or the joint not found there), the SvdH totals of each hand,
and the totals over every radiograph with their SDs and the share of joints found. Which
hand an image shows is its DICOM Image Laterality, else the thumb's side on the image
(`ramultimodal.image._hand_sides`, as the hand diagrams read it); an image neither
settles counts in the totals only.

In a model folder it is plain data: its one parameter is the fitted transformer, which
saves itself (``config.json`` and safetensors, `JointScoreTransformer.save`), and its
fitted state is the list of its columns, which also tells a folder of this version from
one saved when the modality pooled the hands (refused, with what to do).
"""

from __future__ import annotations

import logging
import math
import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ramultimodal._missing import is_missing
from ramultimodal.image._hand_sides import hand_sides, score_by_place
from ramultimodal.image._joint_scores import TOTAL_NAMES, svdh_totals
from ramultimodal.terminology.joints import EROSION_JOINTS, HAND_SIDES, JOINTS, NARROWING_JOINTS

__all__ = ["JointScoreFeatures", "joint_score_features", "per_hand_feature_names"]

logger = logging.getLogger("ramultimodal.image.joints")

_KINDS = ("erosion", "narrowing")

# Remembered rows, per JointScoreFeatures object; outside the object, so that a model
# folder (which stores an estimator's attributes) never holds them.
_REMEMBERED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _file_key(item: Any) -> tuple | None:
    """What identifies one patient's radiographs on disk, or None (arrays: not remembered)."""
    if is_missing(item):
        return ()
    paths = [item] if isinstance(item, str | os.PathLike) else item
    if not isinstance(paths, list | tuple | np.ndarray):
        return None
    key = []
    for path in paths:
        if not isinstance(path, str | os.PathLike):
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None  # the transformer says what is wrong with it
        key.append((os.fspath(path), stat.st_size, stat.st_mtime_ns))
    return tuple(key)


def per_hand_feature_names() -> np.ndarray:
    """The columns of `JointScoreFeatures.transform`, in order.

    Per side (``right``, then ``left``): ``erosion_<joint>_<side>`` and
    ``narrowing_<joint>_<side>`` for every joint of `terminology.joints.JOINTS`, then
    ``svdh_erosion_<side>``, ``svdh_narrowing_<side>`` and ``svdh_total_<side>``; then the
    totals over every radiograph, ``svdh_erosion``, ``svdh_narrowing``, ``svdh_total``
    with their ``_sd``, and ``joints_found``.

    Examples
    --------
    >>> names = per_hand_feature_names()
    >>> len(names), names[2], names[-1]
    (81, 'erosion_mcp2_right', 'joints_found')
    """
    names = []
    for side in HAND_SIDES.values():
        names += [f"{kind}_{joint}_{side}" for kind in _KINDS for joint in JOINTS]
        names += [f"svdh_{what}_{side}" for what in ("erosion", "narrowing", "total")]
    return np.asarray([*names, *TOTAL_NAMES], dtype=object)


def _hand_columns(rows: pd.DataFrame) -> list[float]:
    """One hand's per-joint grades (the worse over its images) and SvdH totals."""
    found = rows[rows["found"].astype(bool)]
    # Two radiographs of one hand (a follow-up): each joint's worse grade, as the diagrams.
    worst = found.groupby("joint")[list(_KINDS)].max().reindex(list(JOINTS))
    values = [float(v) for kind in _KINDS for v in worst[kind]]
    if found.empty:  # not one joint found (not a hand?): no total, rather than a total of 0
        return [*values, math.nan, math.nan, math.nan]
    erosion = float(worst.loc[list(EROSION_JOINTS), "erosion"].sum())
    narrowing = float(worst.loc[list(NARROWING_JOINTS), "narrowing"].sum())
    return [*values, erosion, narrowing, erosion + narrowing]


class JointScoreFeatures(TransformerMixin, BaseEstimator):
    """Per-hand joint grades and SvdH totals of a trained `JointScoreTransformer`, frozen.

    Parameters
    ----------
    model : JointScoreTransformer
        Fitted (``fit`` on a joints table, or `JointScoreTransformer.load`).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        The columns of `transform` (`per_hand_feature_names`), set by `fit`.

    Notes
    -----
    ``clone`` returns the object itself and ``fit`` learns nothing (as scikit-learn's
    ``FrozenEstimator``), so a fusion that clones and fits it per fold uses the one
    trained model. Train the joint model on other patients than the fusion's when you
    can: on its own training images its grades are better than on new ones, and the
    fusion would then trust the radiograph a little more than it should.

    Examples
    --------
    >>> import tempfile
    >>> from ramultimodal.image import JointScoreTransformer
    >>> from ramultimodal.synthetic import make_cohort, write_cohort
    >>> folder = write_cohort(make_cohort(4, image_size=64, seed=0, image_missing_rate=0),
    ...                       tempfile.mkdtemp() + "/c", formats=["png"])
    >>> images = pd.read_csv(folder / "images.csv")
    >>> X = pd.Series([[str(folder / p)] for p in images["path"]] + [[]])
    >>> joints = JointScoreTransformer(image_size=64, locator_epochs=1, epochs=1).fit(
    ...     X[:4], joints=pd.read_csv(folder / "joints.csv"))
    >>> features = JointScoreFeatures(joints)
    >>> from sklearn.base import clone
    >>> clone(features) is features
    True
    >>> table = features.fit(X).transform(X)
    >>> table.shape, bool(table.iloc[4].isna().all())  # no radiograph: no grades
    ((5, 81), True)
    """

    # The explanation (ramultimodal.evaluation) names these features one by one: each
    # is a grade or a total a reader can check, not an embedding.
    readable_features = True

    def __init__(self, model: Any = None) -> None:
        self.model = model

    def __sklearn_clone__(self) -> JointScoreFeatures:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        try:
            check_is_fitted(self.model, "grader_")
        except (NotFittedError, TypeError):
            return False
        return True

    def _check_model(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                "JointScoreFeatures needs a trained JointScoreTransformer (fit it on a joints "
                "table, or JointScoreTransformer.load a folder that 'ramultimodal joints "
                "train' wrote)."
            )

    def _check_columns(self) -> None:
        """Refuse a fitted state of another version (a folder saved with pooled hands)."""
        self._check_model()
        names = getattr(self, "feature_names_out_", None)
        if names is None or list(names) != per_hand_feature_names().tolist():
            raise NotFittedError(
                "JointScoreFeatures has no per-hand columns: call fit (it learns nothing), "
                "or, for a model folder saved before the joint features were per hand (41 "
                "columns, each joint's worse hand), train the fusion again: 'ramultimodal "
                "train --image-model joints --joint-model FOLDER/...' reuses its joint model "
                "(the JointScoreTransformer folder inside it)."
            )

    def fit(self, X: Any = None, y: Any = None) -> JointScoreFeatures:
        """Learn nothing: the joint model is trained already; set `feature_names_out_`.

        Parameters
        ----------
        X, y : ignored

        Returns
        -------
        self
        """
        self._check_model()
        self.feature_names_out_ = per_hand_feature_names()
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """Each patient's per-hand grades and totals (see `per_hand_feature_names`).

        Parameters
        ----------
        X : Series, one-column DataFrame or sequence
            One item per patient: an image path, a list of them, or nothing.

        Returns
        -------
        DataFrame
            Indexed like X (when it is a Series or DataFrame); NaN rows for patients
            without a radiograph, NaN for a hand not imaged or a joint not found on it.
        """
        self._check_columns()
        index = X.index if isinstance(X, pd.Series | pd.DataFrame) else None
        items = list(X.iloc[:, 0] if isinstance(X, pd.DataFrame) else X)
        names = self.feature_names_out_
        rows = np.full((len(items), len(names)), np.nan)
        remembered = _REMEMBERED.setdefault(self, {})
        unsided = [0, 0]
        for n, item in enumerate(items):
            key = _file_key(item)
            if key is not None and key in remembered:
                rows[n] = remembered[key]
                continue
            # One patient at a time: the networks' float sums depend on how many images
            # share a batch (about 1e-7), and a patient's numbers must not depend on who
            # else is scored with them.
            rows[n] = self._patient_row(item, unsided)
            if key is not None:
                remembered[key] = rows[n]
        if unsided[0]:
            logger.info(
                "%d of %d radiographs show a hand whose side neither the DICOM nor the "
                "thumb's place tells: they count in the totals over every radiograph only.",
                *unsided,
            )
        return pd.DataFrame(rows, columns=names, index=index)

    def _patient_row(self, item: Any, unsided: list[int]) -> np.ndarray:
        from ramultimodal.image._joint_scores import _patient_images

        images = _patient_images(pd.Series([item], dtype=object))[0]
        if not images:
            return np.full(len(self.feature_names_out_), np.nan)
        scores, given = score_by_place(self.model, images)
        known = hand_sides(scores, given)
        values: list[float] = []
        for code in HAND_SIDES:
            shown = [image for image, (side, _) in known.items() if side == code]
            if shown:
                values += _hand_columns(scores[scores["image_id"].isin(shown)])
            else:  # this hand was not imaged
                values += [math.nan] * (2 * len(JOINTS) + 3)
        unsided[0] += sum(side is None for side, _ in known.values())
        unsided[1] += len(images)
        return np.asarray(values + svdh_totals(scores), dtype=float)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The columns of `transform` (`per_hand_feature_names`): per side
        ``erosion_<joint>_<side>``, ``narrowing_<joint>_<side>`` and the side's
        ``svdh_*_<side>`` totals, then the ``svdh_*`` totals over every radiograph, their
        SDs, and ``joints_found``."""
        self._check_model()
        return per_hand_feature_names()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # paths to radiographs
        tags.input_tags.allow_nan = True
        return tags


def joint_score_features(model: Any) -> JointScoreFeatures:
    """A fusion's frozen joint modality from a trained joint model or its folder.

    Parameters
    ----------
    model : JointScoreTransformer, JointScoreFeatures, str or path-like
        A fitted transformer, one already frozen, or a folder that
        `JointScoreTransformer.save` (``ramultimodal joints train``) wrote.

    Returns
    -------
    JointScoreFeatures

    Raises
    ------
    ValueError
        For a folder that does not hold a joint model, or an unfitted transformer.

    Examples
    --------
    >>> joint_score_features("/nowhere")
    Traceback (most recent call last):
    ...
    FileNotFoundError: /nowhere/config.json not found: /nowhere is not a saved \
JointScoreTransformer.
    """
    from ramultimodal.image._joint_scores import JointScoreTransformer

    if isinstance(model, JointScoreFeatures):
        return model
    if isinstance(model, str | os.PathLike):
        model = JointScoreTransformer.load(Path(model))
    if not isinstance(model, JointScoreTransformer):
        raise TypeError(
            "a joint model is a fitted JointScoreTransformer or the folder it was saved to; "
            f"got {type(model).__name__}."
        )
    features = JointScoreFeatures(model)
    if not features.__sklearn_is_fitted__():
        raise ValueError(
            "the JointScoreTransformer is not trained: fit it on a joints table first (or "
            "give the folder 'ramultimodal joints train' wrote)."
        )
    return features
