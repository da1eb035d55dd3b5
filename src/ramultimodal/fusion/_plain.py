"""Fitted estimators as plain data: JSON that can name a class only from a fixed table.

A saved model folder holds no pickle and nothing that runs code when read. Every fitted
object is written as a JSON *node*: numbers, strings, lists, and objects with one tag that
says what they are::

    {"tuple": [...]}          {"dict": {...}}           {"items": [[key, value], ...]}
    {"float": "nan"}          {"ndarray": {"dtype": "<f8", "shape": [2], "data": [...]}}
    {"scalar": {"dtype": "<i8", "value": 3}}            {"dtype": "<f8"}
    {"slice": [start, stop, step]}                      {"ref": 3}
    {"estimator": {"class": "sklearn.linear_model.LogisticRegression", "id": 3,
                   "params": {...}, "state": {...}}}
    {"estimator": {"class": "ramultimodal.image.CNNImageClassifier", "id": 4,
                   "folder": "estimators/4-CNNImageClassifier"}}
    {"lightgbm_booster": "estimators/5-booster.txt"}    {"xgboost_booster": "...json"}

An estimator is rebuilt as ``cls(**params)`` followed by setting its fitted ``state``
attributes to plain values. ``cls`` comes from `CLASSES`, the table of the exact classes
this project saves, keyed by their public names; a name from the file is a key into that
table, never something to import. Parameters are checked against the class's signature.
Boosters are LightGBM's text and XGBoost's JSON models, checked before their library reads
them (`ramultimodal.fusion._boosters`); the CNN stores itself as safetensors + JSON.

This module holds what the writer and the reader share: the tags and the plain values.
The table of classes is `ramultimodal.fusion._plain_classes`, the writer
`_plain_encoder.Encoder` and the reader, with its bounds, `_plain_decoder.Decoder`.
"""

from __future__ import annotations

import math
from typing import Any

from ramultimodal._errors import InputError

__all__ = ["ARRAY_KINDS", "TAGS", "ModelFolderError", "is_plain_scalar", "non_finite"]


class ModelFolderError(InputError):
    """A model folder that cannot be trusted or read; the message names the file and why."""


#: The tags of a node: an object with one of these as its only key.
TAGS = {
    "tuple", "dict", "items", "float", "ndarray", "scalar", "dtype", "slice", "ref",
    "estimator", "lightgbm_booster", "xgboost_booster",
}  # fmt: skip
ARRAY_KINDS = "biufUO"  # bool, int, uint, float, str, object (of plain scalars)


def is_plain_scalar(value: Any) -> bool:
    """Whether `value` is a JSON scalar (None, a string, a number or a bool)."""
    return value is None or isinstance(value, str | int | float | bool)


def non_finite(value: float) -> str:
    """The ``float`` tag's text of a non-finite number."""
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
