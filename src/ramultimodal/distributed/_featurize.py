"""Features of a MEDS folder, one subject shard at a time: on the workers or in this process.

A fitted `~ramultimodal.ehr.EHRFeaturizer` computes each patient's features from that
patient's events alone, and a MEDS folder keeps each subject in one shard, so a shard's
features need only that shard: each task reads one shard (``read_meds_shard``), computes
the features of the cohort's patients found in it, and writes them as a parquet file
beside the others. Memory per task is one shard's, whatever the size of the folder. With a
`dask.distributed.Client` the shards are spread over its workers (``client.map``; the
fitted featurizer and the patient table go to each worker once, in memory); without one
the same function runs shard after shard here. Either way the files hold the same numbers
as ``featurizer.transform`` on the whole events table.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["NO_EVENTS", "featurize_meds", "read_features"]

logger = logging.getLogger(__name__)

#: The file (under `out`) of the patients that no shard holds: features of no event.
NO_EVENTS = "no-events.parquet"


def _shards(meds_dir: Path) -> list[Path]:
    from ramultimodal.io._meds_read import MEDSReadError

    shards = sorted((meds_dir / "data").rglob("*.parquet"))
    if not shards:
        raise MEDSReadError(
            f"{meds_dir} has no data/*.parquet shard: give the MEDS folder that holds data/ "
            "and metadata/ (ramultimodal convert DATA --to meds OUT writes one)."
        )
    return shards


def _write(features: pd.DataFrame, file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(file, index=True)


def _featurize_shard(
    featurizer: Any, subjects: Any, patients: pd.DataFrame, shard: Path, file: Path
) -> list[str]:
    """Write the features of `patients` found in `shard` to `file`; return their ids."""
    from ramultimodal.io import CohortRecords
    from ramultimodal.io._meds_read import read_meds_shard

    events = read_meds_shard(shard, subjects)
    held = patients[patients.index.astype(str).isin(set(events["subject_id"].astype(str)))]
    features = featurizer.transform(CohortRecords(held, events))
    _write(features, file)
    return list(held.index.astype(str))


def featurize_meds(
    featurizer: Any,
    meds_dir: str | os.PathLike,
    patients: pd.DataFrame,
    out: str | os.PathLike,
    *,
    client: Any = None,
) -> Path:
    """Compute the features of `patients` from a MEDS folder, shard by shard, as parquet.

    Parameters
    ----------
    featurizer : EHRFeaturizer
        Fitted (a saved pipeline's ``pipeline[0].featurizer_``, or one fitted here).
    meds_dir : path
        A MEDS folder (``data/*.parquet``, ``metadata/subjects.parquet``).
    patients : DataFrame
        Indexed by the string ``subject_id``, with each patient's ``index_date``.
    out : path
        Folder to write: one ``.parquet`` per shard (the shard's path under ``data/``),
        indexed by ``subject_id``, a column per feature, and `NO_EVENTS` for the patients
        no shard holds (all NaN but what the featurizer says of no event).
    client : dask.distributed.Client, optional
        Spread the shards over its workers, which must see `meds_dir` and `out` (a shared
        file system). None: shard after shard in this process.

    Returns
    -------
    Path
        `out`; `read_features` reads it back in `patients`' order.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from ramultimodal.ehr import EHRFeaturizer
    >>> from ramultimodal.io import CohortRecords, as_events, write_meds
    >>> events = as_events([{"subject_id": s, "time": "2021-02-01", "code": "LOINC/1988-5",
    ...                      "numeric_value": v} for s, v in (("a", 3.0), ("b", 30.0))])
    >>> patients = pd.DataFrame({"index_date": pd.to_datetime(["2021-03-01"] * 3)},
    ...                         index=pd.Index(["a", "b", "c"], name="subject_id"))
    >>> meds = write_meds(events, tempfile.mkdtemp() + "/meds", n_shards=2)
    >>> featurizer = EHRFeaturizer().fit(CohortRecords(patients, events))
    >>> out = featurize_meds(featurizer, meds, patients, tempfile.mkdtemp() + "/features")
    >>> read_features(out, patients)["crp_last_all"].tolist()
    [3.0, 30.0, nan]
    """
    from ramultimodal.io import CohortRecords
    from ramultimodal.io._events import as_events
    from ramultimodal.io._meds_read import read_meds_subjects

    meds_dir, out = Path(meds_dir), Path(out)
    shards = _shards(meds_dir)
    subjects = read_meds_subjects(meds_dir)
    files = [out / shard.relative_to(meds_dir / "data") for shard in shards]
    if client is None:
        held = [
            _featurize_shard(featurizer, subjects, patients, shard, file)
            for shard, file in zip(shards, files, strict=True)
        ]
    else:
        logger.info("features of %d MEDS shards on the Dask workers", len(shards))
        shared = [client.scatter(v, broadcast=True) for v in (featurizer, subjects, patients)]
        futures = client.map(
            _featurize_shard,
            *([item] * len(shards) for item in shared),
            shards,
            files,
            pure=False,
        )
        held = client.gather(futures)
    found = {subject for ids in held for subject in ids}
    rest = patients[~patients.index.astype(str).isin(found)]
    _write(featurizer.transform(CohortRecords(rest, as_events([]))), out / NO_EVENTS)
    return out


def read_features(out: str | os.PathLike, patients: pd.DataFrame | None = None) -> pd.DataFrame:
    """The features `featurize_meds` wrote, in `patients`' order (or the files' order).

    Returns
    -------
    DataFrame
        Indexed by ``subject_id``, a column per feature.
    """
    files = sorted(Path(out).rglob("*.parquet"))
    features = pd.concat([pd.read_parquet(file) for file in files])
    if patients is not None:
        features = features.loc[patients.index.astype(str)]
    return features
