"""Write the events table as a MEDS 0.4 dataset: parquet shards by subject, and its metadata.

The layout (https://github.com/Medical-Event-Data-Standard/meds, release 0.4)::

    OUT/data/{k}.parquet              the events of the subjects of shard k, k = 0..n_shards-1
    OUT/metadata/dataset.json         name, versions, when; `unit` and `source` declared
    OUT/metadata/codes.parquet        one row per code: code, description, parent_codes
    OUT/metadata/subject_splits.parquet   subject_id, split (train / tuning / held_out)
    OUT/metadata/subjects.parquet     subject_id (int64), source_subject_id (our string id)

MEDS wants 64-bit integer subject ids; our cohorts have strings (``"P000123"``, UUIDs). The
subject table holds both: the string ids, sorted (Python's code-point order, as the events
table sorts them), are numbered 0..n-1, so the same set of subjects always gets the same
numbers and the rows of a shard, sorted by ``subject_id`` and ``time``, are in the order of
the events table. A subject's shard is `shard_of` its *string* id, a hash that is the same
in every process and on every machine, so that a worker ingesting one part of an export
knows where each subject goes without asking the others.

The columns of a shard are MEDS's (``subject_id`` int64, ``time`` timestamp[us], ``code``,
``numeric_value`` float32, ``text_value``) and two more of ours: ``unit`` (a code modifier
in MEDS's words) and ``source`` (where the fact came from, a raw source id). Both are named
in ``dataset.json`` so MEDS tools know what they are. Every table is checked against the
`meds` package's own schema before it is written.

`write_meds` writes a whole dataset in this process; `write_meds_shard` and
`write_meds_metadata` (`ramultimodal.io._meds_metadata`) are its two steps, for a caller
that writes the shards one at a time elsewhere (``ramultimodal.distributed``). Reading back
is `ramultimodal.io._meds_read`; all of them can be imported from here.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal._staging import atomic_file, staged_folder
from ramultimodal.io._events import EVENT_COLUMNS, as_events
from ramultimodal.io._meds_metadata import check_subject_table, write_meds_metadata
from ramultimodal.io._meds_read import (
    SHARD_SUFFIX,
    SUBJECTS_FILE,
    MEDSReadError,
    read_meds,
    read_meds_shard,
    read_meds_subjects,
)

__all__ = [
    "SUBJECTS_FILE",
    "SUBJECTS_PER_SHARD",
    "MEDSReadError",
    "read_meds",
    "read_meds_shard",
    "read_meds_subjects",
    "shard_of",
    "shard_path",
    "subject_table",
    "write_meds",
    "write_meds_metadata",
    "write_meds_shard",
]

logger = logging.getLogger(__name__)

#: Subjects per shard when `write_meds` is not told how many shards to write: a shard is
#: the unit of work of a worker, and 10,000 patients' records are a few hundred MB in memory.
SUBJECTS_PER_SHARD = 10_000

# The key of the subject hash (16 bytes, as pandas' SipHash wants): fixed here, so that a
# change of pandas' default key could never move a subject to another shard.
_HASH_KEY = "ramultimodal-mds"


def _string_ids(subject_ids: Iterable[Any], what: str) -> np.ndarray:
    """The ids as an object array of Python strings (an int id 123 is ``"123"``)."""
    ids = pd.Series(subject_ids if isinstance(subject_ids, pd.Series) else list(subject_ids))
    text = ids.astype("string").to_numpy(dtype=object, na_value=None)
    if any(item is None for item in text):
        raise ValueError(f"{what} has a missing subject id; every subject needs one.")
    return text


def shard_of(subject_ids: Iterable[Any], n_shards: int) -> np.ndarray:
    """The shard (0..n_shards-1) of each subject, from a hash of its string id.

    The same id gives the same shard in every process, on every machine and in every run
    (pandas' SipHash of the UTF-8 text with a key fixed here), so workers that each read a
    part of an export agree where every subject goes. Integer ids are hashed as their
    decimal text.

    Parameters
    ----------
    subject_ids : iterable
        The subjects' source ids (``"P000123"``), one per subject or one per event.
    n_shards : int
        How many shards, at least 1.

    Returns
    -------
    ndarray of int64
        The shard of each id, in the order given.

    Examples
    --------
    >>> shard_of(["P000001", "P000002", "P000001"], 4).tolist()
    [1, 2, 1]
    """
    if int(n_shards) < 1:
        raise ValueError(f"n_shards must be at least 1; got {n_shards}.")
    ids = _string_ids(subject_ids, "subject_ids")
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    hashes = pd.util.hash_array(ids, encoding="utf8", hash_key=_HASH_KEY, categorize=True)
    return (hashes % np.uint64(n_shards)).astype(np.int64)


def shard_path(out: str | os.PathLike, shard: int) -> Path:
    """Where shard `shard` of the MEDS folder `out` lives: ``out/data/{shard}.parquet``.

    Examples
    --------
    >>> shard_path("meds", 3).as_posix()
    'meds/data/3.parquet'
    """
    import meds

    return Path(out) / meds.data_subdirectory / f"{int(shard)}{SHARD_SUFFIX}"


def subject_table(subject_ids: Iterable[Any]) -> pd.DataFrame:
    """The subject table of a set of subjects: int64 ``subject_id`` for each string id.

    The distinct ids, sorted in code-point order (as the events table sorts them), are
    numbered 0..n-1: the same subjects always get the same numbers, whatever the order or
    the repeats in which they are given. Written as ``metadata/subjects.parquet``.

    Parameters
    ----------
    subject_ids : iterable
        Source ids, with repeats allowed (an events table's ``subject_id`` column will do).

    Returns
    -------
    DataFrame
        Columns ``subject_id`` (int64) and ``source_subject_id`` (string), one row per
        subject, sorted.

    Examples
    --------
    >>> subject_table(["b", "a", "b"])
       subject_id source_subject_id
    0           0                 a
    1           1                 b
    """
    ids = np.unique(_string_ids(subject_ids, "subject_ids"))
    return pd.DataFrame(
        {
            "subject_id": np.arange(len(ids), dtype=np.int64),
            "source_subject_id": pd.array(ids, dtype="string"),
        }
    )


def write_meds_shard(
    events: pd.DataFrame, out: str | os.PathLike, shard: int, subjects: pd.DataFrame
) -> Path:
    """Write the events of the subjects of one shard as ``out/data/{shard}.parquet``.

    The caller gives the events of the subjects of that shard only (`shard_of` their ids
    is `shard`; not checked here, as the other subjects are not known here): each subject
    must be in exactly one shard of a dataset, and `ramultimodal.io.read_meds` refuses a
    dataset where one is in two. Rows are sorted by ``subject_id``, ``time`` (timeless
    facts first), ``code``, ``numeric_value``, ``text_value``; the table is aligned to and
    checked by ``meds.DataSchema``, and written whole or not at all.

    Parameters
    ----------
    events : DataFrame
        An events table (`ramultimodal.io.EVENT_COLUMNS`), possibly empty.
    out : path-like
        The MEDS folder (its ``data/`` is created when missing).
    shard : int
        The shard number.
    subjects : DataFrame
        The subject table of the whole dataset (`subject_table`): how each string id
        becomes an int64 ``subject_id``.

    Returns
    -------
    Path
        The shard file written.

    Raises
    ------
    ValueError
        For an event whose subject is not in `subjects`.
    """
    import meds
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = check_subject_table(subjects)
    events = as_events(events, sort=False)
    positions = source.get_indexer(events["subject_id"])
    if (positions < 0).any():
        missing = events["subject_id"][positions < 0].nunique()
        raise ValueError(
            f"{missing} subject(s) of the events are not in the subject table; build it "
            "from every subject of the dataset (subject_table)."
        )
    frame = pd.DataFrame(
        {
            "subject_id": subjects["subject_id"].to_numpy(dtype=np.int64)[positions],
            "time": events["time"].to_numpy(),
            "code": events["code"],
            "numeric_value": events["numeric_value"].astype(np.float32),
            "text_value": events["text_value"],
            "unit": events["unit"],
            "source": events["source"],
        }
    ).sort_values(
        ["subject_id", "time", "code", "numeric_value", "text_value"],
        na_position="first",
        kind="stable",
    )
    arrow = pa.schema(
        [
            ("subject_id", pa.int64()),
            ("time", pa.timestamp("us")),
            ("code", pa.string()),
            ("numeric_value", pa.float32()),
            ("text_value", pa.large_string()),
            ("unit", pa.string()),
            ("source", pa.string()),
        ]
    )
    table = meds.DataSchema.align(pa.Table.from_pandas(frame, schema=arrow, preserve_index=False))
    path = shard_path(out, shard)
    with atomic_file(path) as partial:
        pq.write_table(table, partial)
    return path


def write_meds(
    events: pd.DataFrame,
    out: str | os.PathLike,
    *,
    n_shards: int | None = None,
    dataset_name: str = "ramultimodal",
    dataset_version: str | None = None,
    splits: Mapping[str, str] | pd.Series | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an events table as a MEDS 0.4 dataset (parquet shards by subject + metadata).

    Every subject is in exactly one shard, ``data/{k}.parquet`` with k = `shard_of` its
    string id; rows are sorted by subject and time. The string ids are kept in
    ``metadata/subjects.parquet`` (`subject_table`), so `ramultimodal.io.read_meds` gives
    back the same events table. The folder is written under a temporary name and renamed
    into place when complete, with the marker of a ramultimodal ``meds`` output.

    Parameters
    ----------
    events : DataFrame
        The events table (`ramultimodal.io.EVENT_COLUMNS`).
    out : path-like
        The MEDS folder to create; it must not exist or be empty, unless `overwrite`.
    n_shards : int, optional
        How many shards (files) to write, all of them even when some hold no subject.
        Default: one per `SUBJECTS_PER_SHARD` subjects, at least one.
    dataset_name, dataset_version : str
        What ``metadata/dataset.json`` calls the dataset.
    splits : mapping or Series, optional
        Each subject's MEDS split by source id (default: all ``train``); see
        `write_meds_metadata`.
    overwrite : bool, default False
        Replace an existing MEDS folder that ramultimodal wrote (never another folder).

    Returns
    -------
    Path
        `out`.

    Examples
    --------
    >>> import tempfile
    >>> from ramultimodal.io import as_events, read_meds
    >>> events = as_events([
    ...     {"subject_id": "P2", "time": "2021-03-01", "code": "LOINC/1988-5",
    ...      "numeric_value": 12.3, "unit": "mg/L"},
    ...     {"subject_id": "P1", "time": None, "code": "GENDER/female"}])
    >>> out = write_meds(events, tempfile.mkdtemp() + "/meds", n_shards=2)
    >>> sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    ['data/0.parquet', 'data/1.parquet', 'metadata/codes.parquet', \
'metadata/subject_splits.parquet', 'metadata/subjects.parquet']
    >>> read_meds(out).equals(events)
    True
    """
    unknown = set(events.columns) - set(EVENT_COLUMNS)
    if unknown:
        raise ValueError(f"events has columns {sorted(unknown)} that are not event columns.")
    events = as_events(events, sort=False)
    subjects = subject_table(events["subject_id"])
    if n_shards is None:
        n_shards = max(1, math.ceil(len(subjects) / SUBJECTS_PER_SHARD))
    if int(n_shards) < 1:
        raise ValueError(f"n_shards must be at least 1; got {n_shards}.")
    # The shard of each event, through its subject's (one hash per subject, not per event).
    positions = pd.Index(subjects["source_subject_id"]).get_indexer(events["subject_id"])
    event_shards = shard_of(subjects["source_subject_id"], n_shards)[positions]
    order = np.argsort(event_shards, kind="stable")
    bounds = np.searchsorted(event_shards[order], np.arange(n_shards + 1))
    with staged_folder(out, "meds", overwrite=overwrite) as folder:
        for shard in range(n_shards):
            rows = order[bounds[shard] : bounds[shard + 1]]
            write_meds_shard(events.iloc[rows], folder, shard, subjects)
        write_meds_metadata(
            folder,
            codes=events["code"].unique(),
            subjects=subjects,
            splits=splits,
            dataset_name=dataset_name,
            dataset_version=dataset_version,
        )
    logger.info(
        "Wrote %d events of %d subjects in %d MEDS shards.", len(events), len(subjects), n_shards
    )
    return Path(out)
