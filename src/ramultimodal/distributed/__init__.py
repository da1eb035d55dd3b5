"""Spreading the stages over a Dask cluster and the CNN over torch DDP processes.

The glue only: every stage (ingest, featurize, trees, scoring, the CNN) runs the same
without it, in this process; this package hands the same work to the workers of a
`dask.distributed` cluster when the user points at one (``--scheduler tcp://HOST:8786``,
the ``RAMULTIMODAL_SCHEDULER`` variable, or a `dask.distributed.Client` made in Python).
Dask and torch are imported on first use, so that ``import ramultimodal`` stays fast.
"""

from ramultimodal.distributed._client import (
    SCHEDULER_ENV,
    ClusterError,
    active_client,
    dask_client,
    scheduler_address,
)
from ramultimodal.distributed._featurize import featurize_meds, read_features
from ramultimodal.distributed._joblib import on_workers
from ramultimodal.distributed._scoring import score_in_chunks
from ramultimodal.distributed._trees import trees_on_cluster

__all__ = [
    "SCHEDULER_ENV",
    "ClusterError",
    "ClusterLGBMClassifier",
    "ClusterXGBClassifier",
    "active_client",
    "dask_client",
    "featurize_meds",
    "on_workers",
    "read_features",
    "scheduler_address",
    "score_in_chunks",
    "trees_on_cluster",
]


def __getattr__(name: str) -> type:
    # The cluster trees subclass LightGBM's and XGBoost's classifiers, imported on first use.
    if name in ("ClusterLGBMClassifier", "ClusterXGBClassifier"):
        from ramultimodal.distributed import _trees

        return getattr(_trees, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
