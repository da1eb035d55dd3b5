"""Where joblib runs its tasks: the workers of a Dask client, or this process.

The library's loops over independent fits (the folds of
`ramultimodal.evaluation.patient_cross_validate`, early fusion's submodels) go through
joblib; joblib's Dask backend sends each task to a worker, and the results come back in
the order they were asked for, so the numbers are those of the loop in this process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["on_workers"]


@contextlib.contextmanager
def on_workers(client: Any = None) -> Iterator[None]:
    """Run joblib's tasks inside the block on `client`'s workers (None: in this process).

    Parameters
    ----------
    client : dask.distributed.Client, optional
        As `dask_client` yields it.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.datasets import make_classification
    >>> from ramultimodal.evaluation import patient_cross_validate
    >>> X, y = make_classification(100, random_state=0)
    >>> with on_workers(None):  # no client: this process, as without the block
    ...     result = patient_cross_validate(LogisticRegression(), X, y, cv=2)
    >>> len(result.fold_scores)
    2
    """
    if client is None:
        yield
        return
    import joblib

    # n_jobs=-1: every worker; a Parallel(n_jobs=None) inside takes this default.
    with joblib.parallel_config(backend="dask", n_jobs=-1):
        yield
