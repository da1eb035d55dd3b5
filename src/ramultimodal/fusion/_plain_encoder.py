"""The writer of plain model files: fitted objects to JSON nodes, boosters to their files.

Every value becomes a node of `ramultimodal.fusion._plain`'s format; an estimator of
`CLASSES` its parameters and fitted state, a LightGBM or XGBoost booster a file of its own
library's format, and a class that saves itself (the CNN) a folder. Anything else is a
TypeError that names where in the model it sits.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ramultimodal.fusion._plain import ARRAY_KINDS, is_plain_scalar, non_finite
from ramultimodal.fusion._plain_classes import CLASSES, class_key, loaded_class, saved_class

__all__ = ["Encoder"]


class Encoder:
    """Turns fitted objects into nodes, writing boosters and own-format models to files.

    Parameters
    ----------
    folder : Path
        The model folder being written.

    Objects of classes outside `CLASSES` that save and load themselves (``save(directory)``
    and classmethod ``load(directory)``) are stored in their own format; `Decoder` loads
    them only when the caller names their class in ``trusted``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ids: dict[int, int] = {}
        self._kept: list[Any] = []  # so that ids stay unique while encoding

    def _file(self, stem: str, suffix: str) -> str:
        (self.folder / "estimators").mkdir(exist_ok=True)
        return f"estimators/{len(self._kept)}-{stem}{suffix}"

    def value(self, value: Any, where: str) -> Any:
        """The node of `value`; TypeError naming `where` for what cannot be plain data."""
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | float) and not isinstance(value, np.generic):
            if isinstance(value, float) and not math.isfinite(value):
                return {"float": non_finite(value)}
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, list):
            return [self.value(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, tuple):
            return {"tuple": [self.value(item, f"{where}[{i}]") for i, item in enumerate(value)]}
        if isinstance(value, dict):
            if all(isinstance(key, str) for key in value):
                return {"dict": {k: self.value(v, f"{where}.{k}") for k, v in value.items()}}
            return {
                "items": [
                    [self.value(k, f"{where} key"), self.value(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        if isinstance(value, slice):
            return {
                "slice": [self.value(part, where) for part in (value.start, value.stop, value.step)]
            }
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
            item = value.item()
            if isinstance(item, float) and not math.isfinite(item):
                item = non_finite(item)
            return {"scalar": {"dtype": value.dtype.str, "value": item}}
        if isinstance(value, np.dtype) and value.kind in ARRAY_KINDS:
            return {"dtype": value.str}
        booster = self._booster(value)
        if booster is not None:
            return booster
        return self.estimator(value, where)

    def _array(self, array: np.ndarray, where: str) -> dict[str, Any]:
        if array.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"{where}: an array of {array.dtype} cannot be saved as plain data.")
        data = array.ravel().tolist()
        if array.dtype.kind == "f":
            data = [v if math.isfinite(v) else non_finite(v) for v in data]
        elif array.dtype.kind == "O":
            if not all(is_plain_scalar(v) for v in data):
                raise TypeError(f"{where}: an object array of non-scalars cannot be saved.")
            data = [self.value(v, where) for v in data]
        return {"ndarray": {"dtype": array.dtype.str, "shape": list(array.shape), "data": data}}

    def _booster(self, value: Any) -> dict[str, str] | None:
        lightgbm, xgboost = sys.modules.get("lightgbm"), sys.modules.get("xgboost")
        if lightgbm is not None and isinstance(value, lightgbm.Booster):
            name = self._file("booster", ".txt")
            self._kept.append(value)
            (self.folder / name).write_text(value.model_to_string(), encoding="utf-8")
            return {"lightgbm_booster": name}
        if xgboost is not None and isinstance(value, xgboost.Booster):
            name = self._file("booster", ".json")
            self._kept.append(value)
            (self.folder / name).write_bytes(bytes(value.save_raw("json")))
            return {"xgboost_booster": name}
        return None

    def _key(self, obj: Any) -> str | None:
        # saved_class: a subclass that only changes where it is fitted (distributed's trees)
        # is stored as the parent it names, with the same parameters and fitted state.
        cls = saved_class(obj)
        for key in CLASSES:
            if cls is loaded_class(key):
                return key
        # A class of the user's that saves and loads itself: stored, but loaded back only
        # when the caller of load_model passes the class in `trusted`.
        if callable(getattr(obj, "save", None)) and callable(getattr(type(obj), "load", None)):
            return class_key(type(obj))
        return None

    def estimator(self, obj: Any, where: str) -> dict[str, Any]:
        """The node of an object of a class in `CLASSES` (or a trusted own-format one)."""
        if id(obj) in self._ids:
            return {"ref": self._ids[id(obj)]}
        key = self._key(obj)
        if key is None:
            names = ", ".join(sorted(name.rpartition(".")[2] for name in CLASSES))
            raise TypeError(
                f"{where}: {type(obj).__name__} cannot be saved as plain data. A model folder "
                f"holds only {names}, and classes of your own that save themselves "
                "(save(directory) and a classmethod load(directory))."
            )
        node_id = len(self._kept)
        self._ids[id(obj)] = node_id
        self._kept.append(obj)
        entry = CLASSES.get(key)
        own_format = entry.own_format if entry is not None else True
        if own_format and _is_fitted(obj):
            folder = self._file(type(obj).__name__, "")
            obj.save(self.folder / folder)
            return {"estimator": {"class": key, "id": node_id, "folder": folder}}
        if entry is not None and entry.attributes_are_params:
            params, state = dict(vars(obj)), {}
        else:
            params = obj.get_params(deep=False)
            state = {k: v for k, v in vars(obj).items() if k not in params}
            for name in entry.none_params if entry is not None else ():
                params[name] = None
            for name in entry.silent_params if entry is not None else ():
                params[name] = 0
        for name, value in params.items():
            if isinstance(value, np.random.RandomState):
                raise TypeError(
                    f"{where}: parameter {name} of {type(obj).__name__} is a RandomState, "
                    "which cannot be saved as data; give an int seed."
                )
        return {
            "estimator": {
                "class": key,
                "id": node_id,
                "params": {k: self.value(v, f"{where}.{k}") for k, v in params.items()},
                "state": {k: self.value(v, f"{where}.{k}") for k, v in state.items()},
            }
        }


def _is_fitted(obj: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except (NotFittedError, TypeError):
        return False
    return True
