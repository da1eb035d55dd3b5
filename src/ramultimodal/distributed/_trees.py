"""Gradient-boosted trees trained on the Dask cluster, saved as the plain trees they are.

`ClusterLGBMClassifier` and `ClusterXGBClassifier` are LightGBM's and XGBoost's
scikit-learn classifiers whose ``fit`` runs on the active `dask.distributed` client
(`ramultimodal.distributed.active_client`) when there is one: the rows are split into one
partition per worker and trained with ``lightgbm.dask.DaskLGBMClassifier`` (data-parallel
LightGBM) or ``xgboost.dask.DaskXGBClassifier``; the fitted booster then comes back to this
process (LightGBM's ``to_local()``, XGBoost's booster) and everything else about the object
is its parent's. Without a client they are their parent, to the bit.

They add no parameter and no fitted state of their own, and say so with the class
attribute ``_plain_parent``: the model-folder writer (`ramultimodal.fusion.save_model`)
stores them as that parent, so a model trained on a cluster is the same folder of LightGBM
text (or XGBoost JSON) as one trained on a laptop, and loads as the plain class.

`trees_on_cluster` swaps the tree learners of an unfitted model (a pipeline, a fusion, its
modalities, early fusion's final estimator) for these, which is all ``train --scheduler``
changes about the model.
"""

from __future__ import annotations

import inspect
import logging
import threading
import warnings
from typing import Any

from ramultimodal.distributed._client import active_client

__all__ = ["cluster_class", "trees_on_cluster"]

logger = logging.getLogger(__name__)

# LightGBM keeps one network per process: two distributed trainings at once on the same
# workers (early fusion fits its pattern submodels side by side in threads) would share
# it. One at a time from this process; each still uses every worker.
_ONE_TRAINING = threading.Lock()
# Attributes the Dask classes keep about their client, not about the trees.
_CLIENT_STATE = {"_client", "_asynchronous", "client"}


#: Fewer rows than this per worker are fitted in this process: starting LightGBM's network
#: costs about a second, more than a fit of a few thousand rows, and a worker's histograms
#: of a few hundred rows stray from the whole's (so would the trees).
MIN_ROWS_PER_WORKER = 1000


def _cluster_here(n_rows: int) -> Any:
    """The active client, unless the data are small for it (`MIN_ROWS_PER_WORKER`) or this
    code runs in a task on a worker (a cross-validation fold sent there by joblib's Dask
    backend): a worker fits its trees itself."""
    client = active_client()
    if client is None:
        return None
    n_workers = len(client.scheduler_info().get("workers", {}))
    if n_rows < MIN_ROWS_PER_WORKER * max(n_workers, 1):
        logger.debug("%d rows: fitted here, not on %d workers", n_rows, n_workers)
        return None
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not on a worker
        return client
    return None


def _partitions(client: Any, X: Any, y: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """X, y (and the weights) as Dask collections of one row block per worker, each block
    sent to its worker first (`Client.scatter`), not embedded in the task graph."""
    import dask.array as da
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    workers = sorted(client.scheduler_info().get("workers", {}))
    blocks = [rows for rows in np.array_split(np.arange(len(y)), max(len(workers), 1)) if len(rows)]
    frame = isinstance(X, pd.DataFrame)
    X = X.reset_index(drop=True) if frame else np.asarray(X)

    def collection(values: Any) -> Any:
        parts = [values.iloc[rows] if frame else values[rows] for rows in blocks]
        sent = [
            client.scatter(part, workers=[worker] if worker else None, hash=False)
            for part, worker in zip(parts, workers or [None], strict=False)
        ]
        if frame:
            return dd.from_delayed(sent, meta=parts[0].iloc[:0], verify_meta=False)
        return da.concatenate(
            [
                da.from_delayed(future, shape=part.shape, dtype=part.dtype)
                for future, part in zip(sent, parts, strict=True)
            ]
        )

    def like_rows(values: Any) -> Any:
        values = np.asarray(values)
        return collection(pd.Series(values, index=X.index) if frame else values)

    weights = None if sample_weight is None else like_rows(sample_weight)
    return collection(X), like_rows(y), weights


# The network settings a distributed LightGBM writes among its model text's parameters (the
# workers' addresses and ports), and what a fit in one process writes there instead.
_SERIAL_PARAMS = {
    "tree_learner": "serial",
    "num_machines": "1",
    "local_listen_port": "12400",
    "machines": "",
}


def _serial_booster(booster: Any) -> Any:
    """`booster` with the network settings of its parameters those of a fit in one
    process: the model folder then names no worker's address, and is the text a local
    fit of these trees would write. The trees are untouched (the text is reparsed)."""
    import re

    from lightgbm import Booster

    head, marker, params = booster.model_to_string().partition("\nparameters:\n")
    for name, value in _SERIAL_PARAMS.items():
        params = re.sub(rf"^\[{name}: [^\n]*\]$", f"[{name}: {value}]", params, flags=re.M)
    return Booster(model_str=head + marker + params)


def _quiet_lightgbm_dask() -> None:
    """Each worker trains with Dask's threads (``--nthreads``), not n_jobs, as lightgbm.dask
    warns on every fit: filtered for good, not inside ``catch_warnings``, which is not
    thread-safe (early fusion fits its submodels in threads, which scikit-learn's Parallel
    gives the filters of the moment it dispatched them: hence also in `trees_on_cluster`)."""
    warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored", UserWarning, "lightgbm")


def _fitted_state(fitted: Any, plain_class: type) -> dict[str, Any]:
    """What a fit left on `fitted` that a plain `plain_class` fit leaves too: its fitted
    (``name_``) and private (``_name``) attributes, but not the client, the parameters
    (``_other_params``: the Dask fit adds its machines and ports there) or what the class
    computes itself (XGBoost's ``classes_`` is a property)."""
    return {
        name: value
        for name, value in vars(fitted).items()
        if (name.startswith("_") or name.endswith("_"))
        and name not in _CLIENT_STATE | {"_other_params"}
        and inspect.getattr_static(plain_class, name, None) is None
    }


def _lightgbm_class() -> type:
    from lightgbm import LGBMClassifier

    class ClusterLGBMClassifier(LGBMClassifier):
        """LightGBM's classifier, trained with ``lightgbm.dask`` when a client is active.

        Saved as `lightgbm.LGBMClassifier` (``_plain_parent``); see the module docstring.

        Examples
        --------
        >>> from ramultimodal.distributed import ClusterLGBMClassifier
        >>> ClusterLGBMClassifier(n_estimators=5, verbose=-1).fit([[0], [1]] * 10, [0, 1] * 10)
        ClusterLGBMClassifier(n_estimators=5, verbose=-1)
        """

        _plain_parent = LGBMClassifier

        def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
            client = _cluster_here(len(y))
            if client is None or kwargs:  # eval sets and callbacks: as LightGBM does it
                return super().fit(X, y, sample_weight=sample_weight, **kwargs)
            from lightgbm.dask import DaskLGBMClassifier

            _quiet_lightgbm_dask()
            with _ONE_TRAINING:
                data, target, weights = _partitions(client, X, y, sample_weight)
                model = DaskLGBMClassifier(client=client, **self.get_params(deep=False))
                fitted = model.fit(data, target, sample_weight=weights).to_local()
            logger.debug("LightGBM trained on the cluster: %d rows", len(y))
            state = _fitted_state(fitted, LGBMClassifier)
            state["_Booster"] = _serial_booster(state["_Booster"])
            self.__dict__.update(state)
            return self

    return ClusterLGBMClassifier


def _xgboost_class() -> type:
    from xgboost import XGBClassifier

    class ClusterXGBClassifier(XGBClassifier):
        """XGBoost's classifier, trained with ``xgboost.dask`` when a client is active.

        Saved as `xgboost.XGBClassifier` (``_plain_parent``); see the module docstring.
        """

        _plain_parent = XGBClassifier

        def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
            client = _cluster_here(len(y))
            if client is None or kwargs:
                return super().fit(X, y, sample_weight=sample_weight, **kwargs)
            from xgboost.dask import DaskXGBClassifier

            with _ONE_TRAINING:
                data, target, weights = _partitions(client, X, y, sample_weight)
                model = DaskXGBClassifier(**self.get_params(deep=False))
                model.client = client
                model.fit(data, target, sample_weight=weights)
            self.__dict__.update(_fitted_state(model, XGBClassifier))
            return self

    return ClusterXGBClassifier


_MADE: dict[str, type] = {}


def cluster_class(name: str) -> type:
    """The class `name` (``"ClusterLGBMClassifier"`` or ``"ClusterXGBClassifier"``),
    made once, on first use, so that LightGBM and XGBoost load only when needed."""
    if name not in _MADE:
        made = _lightgbm_class() if name == "ClusterLGBMClassifier" else _xgboost_class()
        made.__module__ = __name__
        made.__qualname__ = name
        _MADE[name] = made
    return _MADE[name]


def __getattr__(name: str) -> type:
    # The classes subclass LightGBM's and XGBoost's, made on first use (`cluster_class`);
    # pickle (Dask sends estimators to the workers) finds them here by name.
    if name in ("ClusterLGBMClassifier", "ClusterXGBClassifier"):
        return cluster_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _on_cluster(estimator: Any) -> Any:
    """The cluster class of a plain LightGBM or XGBoost classifier, same parameters; None
    for anything else."""
    import sys

    lightgbm, xgboost = sys.modules.get("lightgbm"), sys.modules.get("xgboost")
    if lightgbm is not None and type(estimator) is lightgbm.LGBMClassifier:
        return cluster_class("ClusterLGBMClassifier")(**estimator.get_params(deep=False))
    if xgboost is not None and type(estimator) is xgboost.XGBClassifier:
        return cluster_class("ClusterXGBClassifier")(**estimator.get_params(deep=False))
    return None


def trees_on_cluster(model: Any) -> Any:
    """Swap the LightGBM and XGBoost classifiers among `model`'s parameters for their
    cluster classes, in place; return `model`.

    Every estimator that ``model.get_params(deep=True)`` reaches is looked at: a
    pipeline's steps, a fusion's modalities, early fusion's ``estimator``, stacking's
    ``final_estimator``. Nothing else changes: without an active client the swapped model
    fits exactly as before.

    Parameters
    ----------
    model : estimator
        Unfitted.

    Returns
    -------
    estimator
        `model`, whose tree learners now train on the active client.

    Examples
    --------
    >>> from ramultimodal.models import make_pipeline
    >>> pipeline = trees_on_cluster(make_pipeline("early"))
    >>> type(pipeline.get_params()["model__estimator"]).__name__
    'ClusterLGBMClassifier'
    """
    _quiet_lightgbm_dask()
    if (swapped := _on_cluster(model)) is not None:
        return swapped
    # Deepest first, so that a parent set later holds the swapped children.
    params = model.get_params(deep=True)
    for key in sorted(params, key=lambda key: -key.count("__")):
        swapped = _on_cluster(params[key])
        if swapped is not None:
            model.set_params(**{key: swapped})
    return model
