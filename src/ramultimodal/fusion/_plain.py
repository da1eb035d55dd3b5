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
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ramultimodal._text import one_line
from ramultimodal.fusion._boosters import check_lightgbm_text, check_xgboost_json

__all__ = ["CLASSES", "Decoder", "Encoder", "ModelFolderError"]


class ModelFolderError(ValueError):
    """A model folder that cannot be trusted or read; the message names the file and why."""


@dataclass(frozen=True)
class _Stored:
    """How one class is stored.

    ``module`` and ``name`` say where the class is imported from (from this table only);
    ``none_params`` are parameters a folder never holds, stored as None and refused
    otherwise: data (the featurizer's events) or a cache folder (a Pipeline's ``memory``,
    which joblib would fill with pickles on a refit); ``own_format`` classes save a fitted
    object themselves.
    """

    module: str
    name: str
    none_params: tuple[str, ...] = ()
    own_format: bool = False
    attributes_are_params: bool = False  # no get_params: its attributes are its parameters

    def load(self) -> type:
        return getattr(importlib.import_module(self.module), self.name)


def _table(*entries: _Stored) -> dict[str, _Stored]:
    return {f"{entry.module}.{entry.name}": entry for entry in entries}


#: The classes a model folder may hold, by the name the folder gives them.
CLASSES: dict[str, _Stored] = _table(
    _Stored("ramultimodal.fusion", "CohortPipeline", none_params=("memory",)),
    _Stored("ramultimodal.fusion", "CohortFeaturizer"),
    _Stored("ramultimodal.fusion", "LateFusionClassifier"),
    _Stored("ramultimodal.fusion", "StackingFusionClassifier"),
    _Stored("ramultimodal.fusion", "EarlyFusionClassifier"),
    _Stored("ramultimodal.ehr", "EHRFeaturizer", none_params=("events",)),
    _Stored("ramultimodal.image", "CNNImageClassifier", own_format=True),
    _Stored("sklearn.pipeline", "Pipeline", none_params=("memory",)),
    _Stored("sklearn.linear_model", "LogisticRegression"),
    _Stored("sklearn.impute", "SimpleImputer"),
    _Stored("sklearn.preprocessing", "StandardScaler"),
    _Stored("sklearn.preprocessing", "LabelEncoder"),
    _Stored("sklearn.decomposition", "PCA"),
    _Stored("sklearn.compose", "make_column_selector", attributes_are_params=True),
    _Stored("lightgbm", "LGBMClassifier"),
    _Stored("xgboost", "XGBClassifier"),
)

_TAGS = {
    "tuple", "dict", "items", "float", "ndarray", "scalar", "dtype", "slice", "ref",
    "estimator", "lightgbm_booster", "xgboost_booster",
}  # fmt: skip
_ARRAY_KINDS = "biufUO"  # bool, int, uint, float, str, object (of plain scalars)
_ATTRIBUTE = re.compile(r"_?[A-Za-z][A-Za-z0-9_]*")
# Thread counts reach the libraries' C++ code at prediction: LightGBM crashes on 10**5.
_THREAD_PARAMS = {"n_jobs", "num_threads", "nthread", "nthreads", "num_thread", "n_threads"}
_MAX_THREADS = 1024
# Arrays a model holds are small (coefficients, feature names); these bound what a file can
# ask numpy to allocate.
_MAX_ARRAY_BYTES = 1 << 30
_MAX_ITEM_BYTES = 4096


def _is_plain_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _non_finite(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _class_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _loaded_class(key: str) -> type | None:
    """The class of a table entry if its package is already imported (no import here)."""
    entry = CLASSES[key]
    module = sys.modules.get(entry.module)
    return getattr(module, entry.name, None) if module is not None else None


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
                return {"float": _non_finite(value)}
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
        if isinstance(value, np.generic) and value.dtype.kind in _ARRAY_KINDS:
            item = value.item()
            if isinstance(item, float) and not math.isfinite(item):
                item = _non_finite(item)
            return {"scalar": {"dtype": value.dtype.str, "value": item}}
        if isinstance(value, np.dtype) and value.kind in _ARRAY_KINDS:
            return {"dtype": value.str}
        booster = self._booster(value)
        if booster is not None:
            return booster
        return self.estimator(value, where)

    def _array(self, array: np.ndarray, where: str) -> dict[str, Any]:
        if array.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"{where}: an array of {array.dtype} cannot be saved as plain data.")
        data = array.ravel().tolist()
        if array.dtype.kind == "f":
            data = [v if math.isfinite(v) else _non_finite(v) for v in data]
        elif array.dtype.kind == "O":
            if not all(_is_plain_scalar(v) for v in data):
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
        for key in CLASSES:
            if type(obj) is _loaded_class(key):
                return key
        # A class of the user's that saves and loads itself: stored, but loaded back only
        # when the caller of load_model passes the class in `trusted`.
        if callable(getattr(obj, "save", None)) and callable(getattr(type(obj), "load", None)):
            return _class_key(type(obj))
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


def _parameters(cls: type) -> tuple[set[str], bool]:
    """The keyword parameters of ``cls.__init__``, and whether it takes ``**kwargs``."""
    signature = inspect.signature(cls.__init__)
    names = {
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    return names, takes_kwargs


class Decoder:
    """Rebuilds objects from nodes; every problem is a `ModelFolderError` naming the file.

    Parameters
    ----------
    folder : Path
        The model folder, whose files have been checked against the manifest.
    file : str
        The JSON file the nodes come from, for messages.
    known_files : set of str
        Files that the manifest lists (and whose hashes matched); nodes may point only
        at these.
    trusted : iterable of classes
        As for `Encoder`.
    load_own : callable
        ``load_own(cls, path)``: loads an own-format model (lets the caller choose a device).
    """

    def __init__(
        self,
        folder: Path,
        file: str,
        known_files: set[str],
        trusted: Iterable[type] = (),
        load_own: Callable[[type, Path], Any] | None = None,
    ) -> None:
        self.folder = folder
        self.file = file
        self.known_files = known_files
        self.trusted = {_class_key(cls): cls for cls in trusted}
        self.load_own = load_own or (lambda cls, path: cls.load(path))
        self._objects: dict[int, Any] = {}

    def error(self, where: str, message: str) -> ModelFolderError:
        return ModelFolderError(f"{self.folder / self.file}: {where}: {message}")

    def value(self, node: Any, where: str) -> Any:
        if node is None or isinstance(node, bool | str | int):
            return node
        if isinstance(node, float):
            if not math.isfinite(node):
                raise self.error(where, "a non-finite number outside a 'float' tag")
            return node
        if isinstance(node, list):
            return [self.value(item, f"{where}[{i}]") for i, item in enumerate(node)]
        if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in _TAGS:
            shown = sorted(node)[:3] if isinstance(node, dict) else type(node).__name__
            raise self.error(where, f"an unknown kind of value ({shown}); the file is damaged")
        tag, body = next(iter(node.items()))
        return getattr(self, f"_{tag}")(body, where)

    # -- the tags ---------------------------------------------------------------------------

    def _tuple(self, body: Any, where: str) -> tuple:
        if not isinstance(body, list):
            raise self.error(where, "a tuple that is not a list")
        return tuple(self.value(item, f"{where}[{i}]") for i, item in enumerate(body))

    def _dict(self, body: Any, where: str) -> dict:
        if not isinstance(body, dict):
            raise self.error(where, "a dict that is not an object")
        return {key: self.value(value, f"{where}.{key}") for key, value in body.items()}

    def _items(self, body: Any, where: str) -> dict:
        if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 for p in body):
            raise self.error(where, "items that are not [key, value] pairs")
        pairs = [(self.value(k, where), self.value(v, where)) for k, v in body]
        try:
            return dict(pairs)
        except TypeError:
            raise self.error(where, "a dict key that is not a plain value") from None

    def _float(self, body: Any, where: str) -> float:
        if body not in ("nan", "inf", "-inf"):
            raise self.error(where, f"an unknown float {str(body)[:20]!r}")
        return float(body)

    def _dtype(self, body: Any, where: str) -> np.dtype:
        try:
            dtype = np.dtype(body) if isinstance(body, str) and len(body) < 8 else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in _ARRAY_KINDS or dtype.itemsize > _MAX_ITEM_BYTES:
            raise self.error(where, f"an unknown dtype {str(body)[:20]!r}")
        return dtype

    def _scalar(self, body: Any, where: str) -> np.generic:
        if not isinstance(body, dict) or set(body) != {"dtype", "value"}:
            raise self.error(where, "a malformed scalar")
        dtype = self._dtype(body["dtype"], where)
        value = body["value"]
        if dtype.kind == "f" and value in ("nan", "inf", "-inf"):
            value = float(value)
        if not isinstance(value, bool | int | float | str) or dtype.kind == "O":
            raise self.error(where, "a malformed scalar")
        try:
            return dtype.type(value)
        except (TypeError, ValueError, OverflowError):
            raise self.error(where, "a scalar that does not fit its dtype") from None

    def _ndarray(self, body: Any, where: str) -> np.ndarray:
        if not isinstance(body, dict) or set(body) != {"dtype", "shape", "data"}:
            raise self.error(where, "a malformed array")
        dtype = self._dtype(body["dtype"], where)
        shape, data = body["shape"], body["data"]
        if (
            not isinstance(shape, list)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
            or not isinstance(data, list)
            or len(shape) > 8
            or math.prod(shape) != len(data)
        ):
            raise self.error(where, "an array whose shape does not match its data")
        if len(data) * dtype.itemsize > _MAX_ARRAY_BYTES:
            raise self.error(where, "an array too large for a model")
        if dtype.kind == "O":
            items = [self.value(item, where) for item in data]
            if not all(_is_plain_scalar(v) for v in items):
                raise self.error(where, "an object array of non-scalars")
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(shape)
        if not all(
            isinstance(v, int | float)
            or (dtype.kind == "f" and v in ("nan", "inf", "-inf"))
            or (dtype.kind == "U" and isinstance(v, str))
            for v in data
        ):
            raise self.error(where, f"an array of {dtype} holding other values")
        try:
            return np.asarray(data, dtype=dtype).reshape(shape)
        except (TypeError, ValueError, OverflowError):
            raise self.error(where, f"an array whose values do not fit {dtype}") from None

    def _slice(self, body: Any, where: str) -> slice:
        if not isinstance(body, list) or len(body) != 3:
            raise self.error(where, "a malformed slice")
        parts = [self.value(part, where) for part in body]
        if not all(p is None or isinstance(p, int | str) for p in parts):
            raise self.error(where, "a slice of other than whole numbers or names")
        return slice(*parts)

    def _ref(self, body: Any, where: str) -> Any:
        if not isinstance(body, int) or body not in self._objects:
            raise self.error(where, f"a reference to an unknown object {str(body)[:20]}")
        return self._objects[body]

    def listed_file(self, name: Any, where: str) -> Path:
        """A file of the model that the manifest lists (and whose hash matched)."""
        if not isinstance(name, str) or name not in self.known_files:
            raise self.error(where, f"points at {str(name)[:80]!r}, which the manifest lacks")
        return self.folder / name

    def listed_folder(self, name: Any, where: str) -> Path:
        """A folder of the model whose every file the manifest lists (its loader reads them)."""
        from ramultimodal._staging import MARKER

        prefix = f"{name}/" if isinstance(name, str) else None
        listed = {f for f in self.known_files if prefix and f.startswith(prefix)}
        if not listed:
            raise self.error(where, f"points at {str(name)[:80]!r}, which the manifest lacks")
        path = self.folder / name
        present = {
            item.relative_to(self.folder).as_posix()
            for item in path.rglob("*")
            if not item.is_dir() and item.name != MARKER
        }
        if present - listed:
            extra = sorted(present - listed)[0]
            raise ModelFolderError(f"{self.folder / extra}: a file the manifest does not list.")
        return path

    def _lightgbm_booster(self, body: Any, where: str) -> Any:
        import lightgbm

        path = self.listed_file(body, where)
        try:
            text = path.read_text(encoding="utf-8")
            check_lightgbm_text(text)
            return lightgbm.Booster(model_str=text)
        except (UnicodeDecodeError, ValueError, lightgbm.basic.LightGBMError) as error:
            raise ModelFolderError(
                f"{path}: not a LightGBM model this version saves ({error})."
            ) from None

    def _xgboost_booster(self, body: Any, where: str) -> Any:
        import xgboost

        path = self.listed_file(body, where)
        raw = path.read_bytes()
        try:
            check_xgboost_json(raw)
            booster = xgboost.Booster()
            booster.load_model(bytearray(raw))
        except (ValueError, xgboost.core.XGBoostError) as error:
            raise ModelFolderError(
                f"{path}: not an XGBoost model this version saves ({one_line(error, 200)})."
            ) from None
        return booster

    def _estimator(self, body: Any, where: str) -> Any:
        if not isinstance(body, dict) or not isinstance(body.get("class"), str):
            raise self.error(where, "an estimator without a class")
        key, node_id = body["class"], body.get("id")
        if not isinstance(node_id, int) or node_id in self._objects:
            raise self.error(where, "an estimator without a unique id")
        entry = CLASSES.get(key)
        if entry is None and key not in self.trusted:
            raise self.error(
                where,
                f"names the class {key[:100]!r}, which a model folder may not hold; only "
                "ramultimodal's own table of classes is loaded (a class of your own that "
                "loads itself can be passed in trusted=[...])",
            )
        cls = entry.load() if entry is not None else self.trusted[key]
        if "folder" in body:
            if set(body) != {"class", "id", "folder"} or not (entry is None or entry.own_format):
                raise self.error(where, f"a malformed {cls.__name__}")
            path = self.listed_folder(body["folder"], where)
            try:
                obj = self.load_own(cls, path)
            except ModelFolderError:
                raise
            except Exception as error:  # the class's own loader, on hostile files: one line
                raise ModelFolderError(
                    f"{path}: cannot load {cls.__name__}: {one_line(error, 300)}"
                ) from None
            self._objects[node_id] = obj
            return obj
        if set(body) != {"class", "id", "params", "state"}:
            raise self.error(where, f"a malformed {cls.__name__}")
        if not isinstance(body["params"], dict) or not isinstance(body["state"], dict):
            raise self.error(where, f"a malformed {cls.__name__}")
        names, takes_kwargs = _parameters(cls)
        unknown = [
            name
            for name in body["params"]
            if name not in names and not (takes_kwargs and _ATTRIBUTE.fullmatch(name))
        ]
        if unknown:
            raise self.error(
                where,
                f"{cls.__name__} has no parameter {unknown[0][:60]!r} (saved by another version?)",
            )
        params = {k: self.value(v, f"{where}.{k}") for k, v in body["params"].items()}
        for name in entry.none_params if entry is not None else ():
            if params.get(name) is not None:
                raise self.error(where, f"{cls.__name__}.{name} must be None in a model folder")
        for name in _THREAD_PARAMS & set(params):
            threads = params[name]
            if threads is not None and not (
                isinstance(threads, int) and -_MAX_THREADS <= threads <= _MAX_THREADS
            ):
                raise self.error(where, f"{cls.__name__}.{name} is not a sane thread count")
        try:
            obj = cls(**params)
        except (TypeError, ValueError) as error:
            raise self.error(where, f"{cls.__name__}({one_line(error, 200)})") from None
        self._objects[node_id] = obj
        for name, node in body["state"].items():
            if (
                not _ATTRIBUTE.fullmatch(name)
                or name.startswith("__")
                or name in names
                or _defined_by_class(cls, name)
            ):
                raise self.error(where, f"{cls.__name__} may not hold the attribute {name[:60]!r}")
            setattr(obj, name, self.value(node, f"{where}.{name}"))
        return obj


def _defined_by_class(cls: type, name: str) -> bool:
    """Whether `name` is a method, property or other descriptor of `cls`: fitted state
    may not shadow (or fail to set) what the class computes."""
    found = inspect.getattr_static(cls, name, None)
    return found is not None and (
        callable(found) or hasattr(found, "__get__") or hasattr(found, "__set__")
    )
