"""Batch scoring by row chunks on the Dask workers: the same answers as in this process.

A patient's features and probabilities depend on that patient's records and the model
only (DESIGN.md, Persistence), so a cohort can be cut into blocks of patients, each block
scored on a worker, and the blocks put back in order: the table is the one that
``model.predict_modalities(records)`` gives here. The fitted model goes to the workers in
memory, once per worker (`Client.scatter` with ``broadcast``); nothing is written, and the
model folder stays plain data. Radiographs are read by the workers from their paths, so
the paths must be visible to the workers (a shared file system or object store).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["records_chunk", "score_in_chunks"]

logger = logging.getLogger(__name__)

#: Blocks per worker: a few, so that a slow block does not leave the other workers idle.
CHUNKS_PER_WORKER = 4


def records_chunk(records: Any, rows: np.ndarray) -> Any:
    """The `CohortRecords` of the patients at positions `rows`, with only their events and
    radiographs (what a worker needs, not the whole cohort's).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from ramultimodal.io import CohortRecords, as_events
    >>> patients = pd.DataFrame({"index_date": pd.to_datetime(["2021-03-01"] * 2)},
    ...                         index=pd.Index(["a", "b"], name="subject_id"))
    >>> events = as_events([{"subject_id": s, "time": "2021-02-01", "code": "LOINC/1988-5",
    ...                      "numeric_value": 1.0} for s in "ab"])
    >>> records_chunk(CohortRecords(patients, events), np.array([1]))
    CohortRecords(1 patients, 1 events, 0 images, no labels)
    """
    from dataclasses import replace

    chunk = records[rows]
    ids = set(chunk.subject_ids.astype(str))
    events = chunk.events[chunk.events["subject_id"].astype(str).isin(ids)]
    images = chunk.images
    if images is not None:
        images = images[images["subject_id"].astype(str).isin(ids)]
    return replace(chunk, events=events, images=images)


def _chunk(data: Any, rows: np.ndarray) -> Any:
    if isinstance(data, pd.DataFrame):
        return data.iloc[rows]
    return records_chunk(data, rows)


def _score(model: Any, method: str, chunk: Any) -> Any:
    return getattr(model, method)(chunk)


def score_in_chunks(
    model: Any, method: str, data: Any, *, client: Any = None, n_chunks: int | None = None
) -> Any:
    """``getattr(model, method)(data)``, computed by blocks of patients on the workers.

    Parameters
    ----------
    model : fitted estimator
        A `~ramultimodal.fusion.CohortPipeline` or a fusion.
    method : str
        A method of `model` that answers each patient (row) on its own and returns a
        DataFrame or an array with a row per patient: ``predict_modalities``,
        ``predict_proba``, ``features``.
    data : CohortRecords or DataFrame
        The patients.
    client : dask.distributed.Client, optional
        None: in this process, as ``getattr(model, method)(data)``.
    n_chunks : int, optional
        Blocks of patients; default `CHUNKS_PER_WORKER` per worker.

    Returns
    -------
    DataFrame or ndarray
        What the method returns for all of `data`, rows in `data`'s order.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}); y = [0, 0, 1, 1]
    >>> model = LogisticRegression().fit(X, y)
    >>> score_in_chunks(model, "predict", X).tolist()
    [0, 0, 1, 1]
    """
    if client is None:
        return getattr(model, method)(data)
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    n_chunks = n_chunks or CHUNKS_PER_WORKER * n_workers
    blocks = [rows for rows in np.array_split(np.arange(len(data)), n_chunks) if len(rows)]
    if len(blocks) <= 1:
        return getattr(model, method)(data)
    logger.info(
        "scoring %d patients in %d blocks on %d Dask workers", len(data), len(blocks), n_workers
    )
    shipped = client.scatter(model, broadcast=True, hash=False)
    chunks = client.scatter([_chunk(data, rows) for rows in blocks], hash=False)
    futures = client.map(_score, [shipped] * len(chunks), [method] * len(chunks), chunks)
    parts = client.gather(futures)
    if isinstance(parts[0], pd.DataFrame | pd.Series):
        return pd.concat(parts)
    return np.concatenate(parts)
