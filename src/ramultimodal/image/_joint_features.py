"""`JointScoreFeatures`: a trained `JointScoreTransformer` as a fusion's image modality.

A fusion fits each modality on y, and clones it for every fold. The joint models learn
from ``joints.csv`` (each joint's grades), not from the diagnosis, and they take minutes to
train: refitting them per fold would cost the most and learn nothing new. So the fusion
gets them trained and frozen: cloning returns the same object, ``fit`` learns nothing,
and ``transform`` gives the per-joint grades and SvdH totals of
`JointScoreTransformer.transform`, one patient at a time, so that a patient's numbers do
not depend on who else is scored with them. The fusion's folds ask about the same radiographs
again and again; the answers are remembered per file (its path, size and modification
time) for as long as the object lives, never saved with it.

In a model folder it is plain data: its one parameter is the fitted transformer, which
saves itself (``config.json`` and safetensors, `JointScoreTransformer.save`).
"""

from __future__ import annotations

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

__all__ = ["JointScoreFeatures", "joint_score_features"]

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


class JointScoreFeatures(TransformerMixin, BaseEstimator):
    """Per-joint grades and SvdH totals of a trained `JointScoreTransformer`, frozen.

    Parameters
    ----------
    model : JointScoreTransformer
        Fitted (``fit`` on a joints table, or `JointScoreTransformer.load`).

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
    ((5, 41), True)
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

    def fit(self, X: Any = None, y: Any = None) -> JointScoreFeatures:
        """Learn nothing: the joint model is trained already.

        Parameters
        ----------
        X, y : ignored

        Returns
        -------
        self
        """
        self._check_model()
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """`JointScoreTransformer.transform`'s columns, one row per patient.

        Parameters
        ----------
        X : Series, one-column DataFrame or sequence
            One item per patient: an image path, a list of them, or nothing.

        Returns
        -------
        DataFrame
            Indexed like X (when it is a Series or DataFrame); NaN rows for patients
            without a radiograph.
        """
        self._check_model()
        index = X.index if isinstance(X, pd.Series | pd.DataFrame) else None
        items = list(X.iloc[:, 0] if isinstance(X, pd.DataFrame) else X)
        names = self.get_feature_names_out()
        rows = np.full((len(items), len(names)), np.nan)
        remembered = _REMEMBERED.setdefault(self, {})
        keys = [_file_key(item) for item in items]
        todo = [n for n, key in enumerate(keys) if key is None or key not in remembered]
        for n in todo:
            # One patient at a time: the networks' float sums depend on how many images
            # share a batch (about 1e-7), and a patient's numbers must not depend on who
            # else is scored with them.
            rows[n] = self.model.transform(pd.Series([items[n]], dtype=object)).to_numpy(float)
            if keys[n] is not None:
                remembered[keys[n]] = rows[n]
        for n, key in enumerate(keys):
            if key is not None and n not in todo:
                rows[n] = remembered[key]
        return pd.DataFrame(rows, columns=names, index=index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The columns of `transform`: ``erosion_<joint>``, ``narrowing_<joint>``, the
        ``svdh_*`` totals and their SDs, and ``joints_found``."""
        self._check_model()
        return self.model.get_feature_names_out()

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
