"""The target check the clinical rules share: RA or not, both present."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target


def binary_classes(estimator: str, y: Any) -> np.ndarray:
    """The two sorted classes of a rule's training target, or a ValueError.

    The rules (`ACREULARClassifier`, `LeidenRuleClassifier`) score RA against not-RA, so
    they refuse a missing, continuous, multiclass or one-class `y`, with the wording
    scikit-learn's estimator checks expect of a binary-only classifier.

    Parameters
    ----------
    estimator : str
        The class name, for the messages.
    y : array-like of shape (n_patients,)
        The labels; the greater one (after sorting) is RA.

    Returns
    -------
    ndarray of shape (2,)
        The classes, sorted.

    Examples
    --------
    >>> binary_classes("ACREULARClassifier", [0, 1, 1])
    array([0, 1])
    >>> binary_classes("ACREULARClassifier", [1, 1])
    Traceback (most recent call last):
    ...
    ValueError: ACREULARClassifier needs 2 classes in y; got 1.
    """
    if y is None:
        raise ValueError(f"{estimator} requires y to be passed, but the target y is None.")
    y = np.asarray(y)
    check_classification_targets(y)
    target = type_of_target(y, input_name="y")
    if target != "binary":
        raise ValueError(
            "Only binary classification is supported (RA or not). The type of the "
            f"target is {target}."
        )
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"{estimator} needs 2 classes in y; got {len(classes)}.")
    return classes
