"""The reader of plain model files: JSON nodes back to objects, within bounds.

Every node is checked before anything is built from it: its tag, the shape and size of
an array (`_MAX_ARRAY_BYTES`), a dtype, a class from `CLASSES` (or one the caller trusts),
parameters that the class's signature accepts, a sane thread count, fitted attributes
that do not shadow what the class computes, and files that the manifest lists. Every
problem is a `ModelFolderError` that names the file and where in it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ramultimodal._text import one_line
from ramultimodal.fusion._boosters import check_lightgbm_text, check_xgboost_json
from ramultimodal.fusion._plain import ARRAY_KINDS, TAGS, ModelFolderError, is_plain_scalar
from ramultimodal.fusion._plain_classes import CLASSES, class_key, defined_by_class, init_parameters

__all__ = ["Decoder"]

_ATTRIBUTE = re.compile(r"_?[A-Za-z][A-Za-z0-9_]*")
# Thread counts reach the libraries' C++ code at prediction: LightGBM crashes on 10**5.
_THREAD_PARAMS = {"n_jobs", "num_threads", "nthread", "nthreads", "num_thread", "n_threads"}
_MAX_THREADS = 1024
# Arrays a model holds are small (coefficients, feature names); these bound what a file can
# ask numpy to allocate.
_MAX_ARRAY_BYTES = 1 << 30
_MAX_ITEM_BYTES = 4096


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
        self.trusted = {class_key(cls): cls for cls in trusted}
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
        if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in TAGS:
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
        if dtype is None or dtype.kind not in ARRAY_KINDS or dtype.itemsize > _MAX_ITEM_BYTES:
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
            if not all(is_plain_scalar(v) for v in items):
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
            _smoke_predict(booster)
        except (ValueError, xgboost.core.XGBoostError) as error:
            # XGBoost's messages end in a C++ stack trace, of no use to whoever reads this.
            reason = one_line(str(error).split("Stack trace:")[0].strip(), 200)
            raise ModelFolderError(
                f"{path}: not an XGBoost model this version saves ({reason})."
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
        names, takes_kwargs = init_parameters(cls)
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
                or defined_by_class(cls, name)
            ):
                raise self.error(where, f"{cls.__name__} may not hold the attribute {name[:60]!r}")
            setattr(obj, name, self.value(node, f"{where}.{name}"))
        return obj


def _smoke_predict(booster: Any) -> None:
    """Predict one patient with every feature missing: XGBoost checks what it reads only
    when it predicts (a base score outside (0, 1), a vector base score, a tree count that
    disagrees with the trees), and then raises XGBoostError, which the caller turns into
    a ModelFolderError at load time rather than at the first prediction."""
    import scipy.sparse
    import xgboost

    empty = scipy.sparse.csr_matrix((1, booster.num_features()), dtype=np.float32)
    booster.predict(xgboost.DMatrix(empty), validate_features=False)
