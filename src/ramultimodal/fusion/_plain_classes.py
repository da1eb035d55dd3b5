"""The classes a model folder may hold, by the name the folder gives them.

A name read from a model file is a key into `CLASSES`, never something to import: each
entry says which module the class comes from and how it is stored (parameters that must
stay None, a class that saves itself). The helpers here look classes up without importing
them, and read what a class's signature accepts and what it computes itself.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass

__all__ = [
    "CLASSES",
    "Stored",
    "class_key",
    "defined_by_class",
    "init_parameters",
    "loaded_class",
    "saved_class",
]


@dataclass(frozen=True)
class Stored:
    """How one class is stored.

    ``module`` and ``name`` say where the class is imported from (from this table only);
    ``none_params`` are parameters a folder never holds, stored as None and refused
    otherwise: data (the featurizer's events) or a cache folder (a Pipeline's ``memory``,
    which joblib would fill with pickles on a refit); ``silent_params`` only say what to show
    while fitting (progress bars), and are stored as 0, so that a folder's bytes do not
    depend on them and a loaded model is silent; ``own_format`` classes save a fitted object
    themselves.
    """

    module: str
    name: str
    none_params: tuple[str, ...] = ()
    silent_params: tuple[str, ...] = ()
    own_format: bool = False
    attributes_are_params: bool = False  # no get_params: its attributes are its parameters

    def load(self) -> type:
        return getattr(importlib.import_module(self.module), self.name)


def _table(*entries: Stored) -> dict[str, Stored]:
    return {f"{entry.module}.{entry.name}": entry for entry in entries}


#: The classes a model folder may hold, by the name the folder gives them.
CLASSES: dict[str, Stored] = _table(
    Stored("ramultimodal.fusion", "CohortPipeline", none_params=("memory",)),
    Stored("ramultimodal.fusion", "CohortFeaturizer"),
    Stored("ramultimodal.fusion", "LateFusionClassifier"),
    Stored("ramultimodal.fusion", "StackingFusionClassifier"),
    Stored("ramultimodal.fusion", "EarlyFusionClassifier"),
    Stored("ramultimodal.fusion", "LateFusionSurvival"),
    # Its fitted state is arrays (coef_, alphas_, offset_...); no baseline model is kept
    # (fit_baseline_model=False: LateFusionSurvival keeps its own as arrays).
    Stored("sksurv.linear_model", "CoxnetSurvivalAnalysis"),
    # A bag's fold models are estimators like any other: each CNN its own folder.
    Stored("ramultimodal.fusion", "FoldBagClassifier"),
    Stored("ramultimodal.ehr", "EHRFeaturizer", none_params=("events",)),
    # A fitted CNN saves itself (image/_cnn_files.py, which also stores verbose as 0); an
    # unfitted one (a fusion's template) is stored here, as parameters.
    Stored("ramultimodal.image", "CNNImageClassifier", silent_params=("verbose",), own_format=True),
    # The joint models (docs/joints.md): a fitted JointScoreTransformer saves itself
    # (config.json + safetensors); the frozen wrapper a fusion reads it through is its one
    # parameter.
    Stored(
        "ramultimodal.image", "JointScoreTransformer", silent_params=("verbose",), own_format=True
    ),
    Stored("ramultimodal.image", "JointScoreFeatures"),
    Stored("sklearn.pipeline", "Pipeline", none_params=("memory",)),
    Stored("sklearn.linear_model", "LogisticRegression"),
    Stored("sklearn.impute", "SimpleImputer"),
    Stored("sklearn.impute", "MissingIndicator"),
    Stored("sklearn.preprocessing", "StandardScaler"),
    Stored("sklearn.preprocessing", "LabelEncoder"),
    Stored("sklearn.decomposition", "PCA"),
    Stored("sklearn.compose", "make_column_selector", attributes_are_params=True),
    Stored("lightgbm", "LGBMClassifier"),
    Stored("xgboost", "XGBClassifier"),
)


def class_key(cls: type) -> str:
    """The name of a class in a model file: its module and qualified name."""
    return f"{cls.__module__}.{cls.__qualname__}"


def saved_class(obj: object) -> type:
    """The class `obj` is saved as: its own, or the parent it names as ``_plain_parent``.

    A subclass that changes only where it is fitted (`ramultimodal.distributed`'s trees,
    trained on a Dask cluster) names its parent in `CLASSES` so, and adds no parameter or
    fitted state of its own: the model folder, and the training facts, then hold the parent,
    and the model loads as the parent.

    Examples
    --------
    >>> saved_class(3.0).__name__
    'float'
    """
    parent = getattr(type(obj), "_plain_parent", None)
    return parent if isinstance(parent, type) and isinstance(obj, parent) else type(obj)


def loaded_class(key: str) -> type | None:
    """The class of a table entry if its package is already imported (no import here)."""
    entry = CLASSES[key]
    module = sys.modules.get(entry.module)
    return getattr(module, entry.name, None) if module is not None else None


def init_parameters(cls: type) -> tuple[set[str], bool]:
    """The keyword parameters of ``cls.__init__``, and whether it takes ``**kwargs``."""
    signature = inspect.signature(cls.__init__)
    names = {
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    return names, takes_kwargs


def defined_by_class(cls: type, name: str) -> bool:
    """Whether `name` is a method, property or other descriptor of `cls`: fitted state
    may not shadow (or fail to set) what the class computes."""
    found = inspect.getattr_static(cls, name, None)
    return found is not None and (
        callable(found) or hasattr(found, "__get__") or hasattr(found, "__set__")
    )
