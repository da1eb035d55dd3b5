"""No data in, no answer out: what a missing cell of X is, and the label of a patient not scored.

The fusions' presence and the CNN's inputs share the first rule, their ``predict`` the second.

A cell is missing when it is ``None``, NaN/NaT/``pd.NA``, an empty string, or an empty
container (the empty list of image paths of a patient without a radiograph); anything else
is data.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["is_missing", "with_no_answer"]


def is_missing(value: Any) -> bool:
    """Whether one cell holds no data.

    Parameters
    ----------
    value : object
        A cell of the modality's columns: a number, a string, a list of image paths, an
        array...

    Returns
    -------
    bool
        True for ``None``, NaN, NaT, ``pd.NA``, ``""`` and empty containers.

    Examples
    --------
    >>> [is_missing(v) for v in (None, float("nan"), "", [], 0.0, ["hand.dcm"])]
    [True, True, True, True, False, False]
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, np.ndarray):
        return value.size == 0
    if isinstance(value, Sized):
        return len(value) == 0
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # an object pandas cannot judge is data
        return False


def with_no_answer(labels: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Predicted labels with no answer where `unknown`: NaN for numeric classes, else None.

    What a classifier predicts for a patient it cannot score (no radiograph, no modality):
    not a guessed class.

    Examples
    --------
    >>> with_no_answer(np.array([0, 1, 1]), np.array([False, True, False]))
    array([ 0., nan,  1.])
    >>> with_no_answer(np.array(["no", "ra"]), np.array([True, False]))
    array([None, 'ra'], dtype=object)
    """
    if not unknown.any():
        return labels
    numeric = np.issubdtype(labels.dtype, np.number)
    labels = labels.astype(float if numeric else object)
    labels[unknown] = np.nan if numeric else None
    return labels
