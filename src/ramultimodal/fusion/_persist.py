"""Save and load a fitted fusion model in one call, without unpickling anything.

A saved model is a folder::

    manifest.json        what the model is: class, JSON-able parameters, each modality,
                         and where each fitted base model lives and in which format
    state.skops          the rest of the fitted state (classes, weights, column choices...)
    estimators/          one entry per fitted base model, each in its own safe format

Formats of the base models:

- ``own``: objects with their own ``save(directory)`` / classmethod ``load(directory)`` (the
  ``CNNImageClassifier``: safetensors + JSON);
- ``xgboost``: the booster as XGBoost's JSON model, the scikit-learn wrapper (its
  parameters) with skops;
- ``lightgbm``: the booster as LightGBM's text model, the wrapper (parameters, label
  encoding) with skops;
- ``skops``: any other scikit-learn object, Pipelines and the meta-learner included.

skops files are loaded only after ``skops.io.get_untrusted_types`` has listed their types and
each one has passed an allow-list: classes of scikit-learn, numpy, scipy, ramultimodal,
XGBoost and LightGBM (whose boosters skops restores from the library's own model string or
buffer, not from pickle), plus the types the caller names in ``trusted``. Nothing is trusted
blindly, and a class named in the manifest is only imported from ramultimodal.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ramultimodal._staging import staged_folder
from ramultimodal.fusion._early import EarlyFusionClassifier
from ramultimodal.fusion._late import LateFusionClassifier
from ramultimodal.fusion._stacking import StackingFusionClassifier

FORMAT = "ramultimodal.fusion"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STATE = "state.skops"

_FUSION_CLASSES = {
    cls.__name__: cls
    for cls in (LateFusionClassifier, StackingFusionClassifier, EarlyFusionClassifier)
}
_TRUSTED_PACKAGES = {"sklearn", "numpy", "scipy", "ramultimodal", "xgboost", "lightgbm"}
_TRUSTED_EXTRA = {"builtins.slice", "collections.OrderedDict", "collections.defaultdict"}


def _qualified_name(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_json(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged (tuples and numpy types do not)."""
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


# -- the allow-list ------------------------------------------------------------------------


def _resolve(name: str) -> Any:
    """The object a dotted name refers to, importing only from trusted packages."""
    module_name, _, attribute = name.rpartition(".")
    if module_name.split(".")[0] not in _TRUSTED_PACKAGES:
        return None
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return None


def _is_allowed(name: str, trusted: set[str]) -> bool:
    """A type may be loaded if the caller trusts it or it is a class of a trusted package.

    Functions are not allowed by package (a FunctionTransformer could call any of them);
    numpy ufuncs are, as they compute and nothing else.
    """
    if name in trusted or name in _TRUSTED_EXTRA:
        return True
    obj = _resolve(name)
    return isinstance(obj, type) or isinstance(obj, np.ufunc)


def _trusted_names(trusted: Iterable[Any] | None) -> set[str]:
    return {item if isinstance(item, str) else _qualified_name(item) for item in trusted or ()}


def _skops() -> Any:
    """skops.io, imported on first use: importing it lists every scikit-learn estimator,
    which costs seconds (and imports torch where installed)."""
    import skops.io

    return skops.io


def _load_skops(path: Path, trusted: set[str]) -> Any:
    """Load a skops file whose every type has passed the allow-list."""
    skops = _skops()
    found = skops.get_untrusted_types(file=path)
    refused = sorted(name for name in found if not _is_allowed(name, trusted))
    if refused:
        raise ValueError(
            f"{path} holds types outside ramultimodal's allow-list: {refused}. If you trust "
            "this file, name them in load_model(..., trusted=[...])."
        )
    return skops.load(path, trusted=found)


# -- one base model ------------------------------------------------------------------------


def _save_estimator(estimator: Any, folder: Path, key: str) -> dict[str, Any]:
    """Write one fitted base model in its own safe format; return its manifest entry."""
    entry: dict[str, Any] = {"class": _qualified_name(estimator)}
    xgboost = sys.modules.get("xgboost")
    lightgbm = sys.modules.get("lightgbm")
    if xgboost is not None and isinstance(estimator, xgboost.XGBModel):
        # XGBoost's JSON model holds the trees but not the wrapper's parameters.
        estimator.save_model(folder / f"{key}.json")
        _skops().dump(clone(estimator), folder / f"{key}.skops")
        entry.update(format="xgboost", file=f"{key}.json", wrapper=f"{key}.skops")
    elif lightgbm is not None and isinstance(estimator, lightgbm.LGBMModel):
        estimator.booster_.save_model(folder / f"{key}.txt")
        wrapper = copy.copy(estimator)
        wrapper._Booster = None  # the trees go to the text model, not to skops
        _skops().dump(wrapper, folder / f"{key}.skops")
        entry.update(format="lightgbm", file=f"{key}.txt", wrapper=f"{key}.skops")
    elif callable(getattr(estimator, "save", None)) and callable(
        getattr(type(estimator), "load", None)
    ):
        estimator.save(folder / key)
        entry.update(format="own", file=key)
    else:
        _skops().dump(estimator, folder / f"{key}.skops")
        entry.update(format="skops", file=f"{key}.skops")
    return entry


def _own_format_class(name: str, trusted: Iterable[Any] | None) -> type:
    """The class that loads an ``own``-format model: one the caller gave, or ramultimodal's."""
    for item in trusted or ():
        if isinstance(item, type) and _qualified_name(item) == name:
            return item
    cls = _resolve(name) if name.startswith("ramultimodal.") else None
    if not isinstance(cls, type) or not callable(getattr(cls, "load", None)):
        raise ValueError(
            f"The saved model names {name!r} as a base model with its own format; only "
            "ramultimodal classes are loaded by name. If you trust it, pass the class itself "
            "in load_model(..., trusted=[TheClass])."
        )
    return cls


def _load_estimator(
    entry: dict[str, Any], folder: Path, trusted: Iterable[Any] | None, names: set[str]
) -> tuple[Any, Any]:
    """The fitted base model and its unfitted template (the parameters it was given)."""
    file = folder / entry["file"]
    if entry["format"] == "skops":
        fitted = _load_skops(file, names)
    elif entry["format"] == "own":
        fitted = _own_format_class(entry["class"], trusted).load(file)
    elif entry["format"] == "xgboost":
        fitted = _load_skops(folder / entry["wrapper"], names)
        # load_model fills parameters such as base_score from the trees: keep the given ones.
        template = clone(fitted)
        fitted.load_model(file)
        return fitted, template
    elif entry["format"] == "lightgbm":
        import lightgbm

        fitted = _load_skops(folder / entry["wrapper"], names)
        fitted._Booster = lightgbm.Booster(model_file=file)
    else:
        raise ValueError(f"{folder}: unknown base model format {entry['format']!r}.")
    return fitted, clone(fitted)


# -- the whole model -----------------------------------------------------------------------


def save_model(model: Any, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Save a fitted fusion model, base models included, to a folder.

    Parameters
    ----------
    model : LateFusionClassifier, StackingFusionClassifier or EarlyFusionClassifier
        A fitted fusion model.
    directory : str or path-like
        Folder to create. It is written under a temporary name and renamed at the end, so
        an interrupted save never looks complete.
    overwrite : bool, default=False
        Replace ``directory`` if it holds a saved model.

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ramultimodal.fusion import LateFusionClassifier, load_model, save_model
    >>> X, y = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [3.0, 2.0]]), np.array([0, 0, 1, 1])
    >>> model = LateFusionClassifier(
    ...     [("a", LogisticRegression(), [0]), ("b", LogisticRegression(), [1])]
    ... ).fit(X, y)
    >>> folder = save_model(model, tempfile.mkdtemp() + "/model")
    >>> bool((load_model(folder).predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    if type(model).__name__ not in _FUSION_CLASSES:
        raise TypeError(f"save_model saves fusion classifiers; got {type(model).__name__}.")
    check_is_fitted(model)
    directory = Path(directory)
    if directory.exists() and not (overwrite and (directory / MANIFEST).is_file()):
        raise FileExistsError(
            f"{directory} exists; choose a new folder, or pass overwrite=True to replace a "
            "saved model."
        )
    with staged_folder(directory) as staging:
        _write(model, staging)
    return directory


def _write(model: Any, folder: Path) -> None:
    estimators_folder = folder / "estimators"
    estimators_folder.mkdir()
    fitted_entries: dict[str, Any] = {}
    for attr in model._fitted_estimator_attrs:
        value = getattr(model, attr)
        if isinstance(value, list):
            fitted_entries[attr] = [
                item
                if isinstance(item, str)
                else _save_estimator(item, estimators_folder, f"{attr}{i}")
                for i, item in enumerate(value)
            ]
        else:
            fitted_entries[attr] = _save_estimator(value, estimators_folder, attr)

    params = model.get_params(deep=False)
    json_params = {k: v for k, v in params.items() if k != "modalities" and _is_json(v)}
    other_params = {k: v for k, v in params.items() if k != "modalities" and not _is_json(v)}
    base_attr = model._fitted_estimator_attrs[0]
    modalities, other_columns, position = [], {}, 0
    for name, estimator, columns in params["modalities"]:
        spec: dict[str, Any] = {"name": name}
        if isinstance(estimator, str) and estimator == "drop":
            spec["estimator"] = "drop"
        else:
            spec["estimator"] = {"fitted": base_attr, "index": position}
            position += 1
        if _is_json(columns):
            spec["columns"] = columns
        else:
            other_columns[name] = columns
        modalities.append(spec)

    state = {
        "params": other_params,
        "columns": other_columns,
        "fitted": {
            k: v
            for k, v in vars(model).items()
            if k.endswith("_") and not k.startswith("__") and k not in fitted_entries
        },
    }
    _skops().dump(state, folder / STATE)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "params": json_params,
        "params_in_state": sorted(other_params),
        "modalities": modalities,
        "fitted_estimators": fitted_entries,
        "versions": {
            package: getattr(sys.modules[package], "__version__", None)
            for package in ("ramultimodal", "sklearn", "numpy", "xgboost", "lightgbm")
            if package in sys.modules
        },
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))


def load_model(directory: str | os.PathLike[str], *, trusted: Iterable[Any] | None = None) -> Any:
    """Load a fusion model written by :func:`save_model`; it predicts as the saved one did.

    Parameters
    ----------
    directory : str or path-like
        Folder written by :func:`save_model`.
    trusted : iterable of classes or "module.Name" strings, default=None
        Types you trust beyond the allow-list: classes outside ramultimodal that load
        themselves (pass the class), or types inside skops files (pass the class or its
        name). Only trust what you know.

    Returns
    -------
    LateFusionClassifier, StackingFusionClassifier or EarlyFusionClassifier
        The fitted model. Its ``modalities`` hold unfitted clones of the fitted base models
        (the fitted ones themselves with ``cv="prefit"``), so ``clone`` and ``set_params``
        work as before saving.

    Examples
    --------
    See :func:`save_model`.
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: {directory} is not a saved model.")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{manifest_path} does not describe a ramultimodal fusion model.")
    if manifest.get("format_version", math.inf) > FORMAT_VERSION:
        raise ValueError(
            f"{directory} was saved by a newer ramultimodal (format "
            f"{manifest.get('format_version')}); upgrade ramultimodal to load it."
        )
    cls = _FUSION_CLASSES.get(manifest.get("class"))
    if cls is None:
        raise ValueError(f"{manifest_path} names an unknown class {manifest.get('class')!r}.")
    names = _trusted_names(trusted)
    state = _load_skops(directory / STATE, names)
    estimators_folder = directory / "estimators"
    fitted: dict[str, Any] = {}
    templates: dict[str, list[Any]] = {}
    for attr, entry in manifest["fitted_estimators"].items():
        if isinstance(entry, list):
            pairs = [
                (item, item)
                if isinstance(item, str)
                else _load_estimator(item, estimators_folder, trusted, names)
                for item in entry
            ]
            fitted[attr] = [model for model, _ in pairs]
            templates[attr] = [template for _, template in pairs]
        else:
            fitted[attr] = _load_estimator(entry, estimators_folder, trusted, names)[0]

    # With cv="prefit" the parameters are the fitted models themselves.
    given = fitted if manifest["params"].get("cv") == "prefit" else templates
    modalities = []
    for spec in manifest["modalities"]:
        estimator = spec["estimator"]
        if isinstance(estimator, dict):
            estimator = given[estimator["fitted"]][estimator["index"]]
        columns = spec["columns"] if "columns" in spec else state["columns"][spec["name"]]
        modalities.append((spec["name"], estimator, columns))
    model = cls(modalities=modalities, **manifest["params"], **state["params"])
    for attr, value in {**state["fitted"], **fitted}.items():
        setattr(model, attr, value)
    if cls is EarlyFusionClassifier and "submodels_" not in fitted:
        # Saved before early fusion had pattern submodels: it scored everyone with one model.
        model.submodels_, model.submodel_patterns_ = [], []
    return model
