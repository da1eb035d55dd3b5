"""What "no data" is in one cell of X: the rule the fusions' presence and the CNN share.

A cell is missing when it is ``None``, NaN/NaT/``pd.NA``, an empty string, or an empty
container (the empty list of image paths of a patient without a radiograph); anything else
is data.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["is_missing"]


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
