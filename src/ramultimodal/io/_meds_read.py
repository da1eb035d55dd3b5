"""Read a MEDS 0.4 dataset (ours or another ETL's) back as the events table.

Each shard is checked against ``meds.DataSchema`` (and cast to it where that loses
nothing), each subject must be in one shard only, and the int64 ``subject_id`` becomes the
string id of ``metadata/subjects.parquet`` (`ramultimodal.io._meds` writes it). A dataset
without that table (another ETL's) keeps its integer ids, written as text (``"123"``).

``numeric_value`` is a float32 in MEDS: it is read back as the float64 of its shortest
decimal (a CRP of 12.3 is 12.3, not 12.300000190734863), so the events of a MEDS folder
equal those of the CSV or FHIR it was made from for every value of up to 6 significant
digits, as laboratory values are, and give the same features.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ramultimodal._text import one_line
from ramultimodal.io._cohort_events import DatasetError
from ramultimodal.io._events import EVENT_COLUMNS, as_events

__all__ = [
    "SHARD_SUFFIX",
    "SUBJECTS_FILE",
    "MEDSReadError",
    "read_meds",
    "read_meds_shard",
    "read_meds_subjects",
]

#: The subject table of a MEDS folder: ``subject_id`` (int64), ``source_subject_id`` (string).
SUBJECTS_FILE = "metadata/subjects.parquet"
#: What a data shard's name ends with.
SHARD_SUFFIX = ".parquet"

_HOW = (
    "Write MEDS with `ramultimodal convert DATA --to meds OUT` or ramultimodal.io.write_meds; "
    "see docs/data-model.md, 'MEDS'."
)


class MEDSReadError(DatasetError):
    """A folder or file that is not a MEDS dataset as MEDS 0.4 defines it (names which)."""


def read_meds_subjects(path: str | os.PathLike) -> pd.DataFrame | None:
    """The subject table of the MEDS folder `path`, or None when it has none.

    Returns
    -------
    DataFrame or None
        ``subject_id`` (int64) and ``source_subject_id`` (string), one row per subject.

    Raises
    ------
    MEDSReadError
        When ``metadata/subjects.parquet`` is unreadable, has other columns or lists a
        subject twice.
    """
    import pyarrow.parquet as pq

    file = Path(path) / SUBJECTS_FILE
    if not file.exists():
        return None
    try:
        table = pq.read_table(file)
        table.validate(full=True)  # the ids' text is UTF-8
    except (OSError, ValueError) as error:
        raise MEDSReadError(f"Cannot read {file} ({one_line(error, 120)}). {_HOW}") from None
    types = {field.name: str(field.type) for field in table.schema}
    if types.get("subject_id") != "int64" or types.get("source_subject_id") not in (
        "string",
        "large_string",
    ):
        raise MEDSReadError(
            f"{file} must have the columns subject_id (int64) and source_subject_id "
            f"(string); it has {types}. {_HOW}"
        )
    subjects = pd.DataFrame(
        {
            "subject_id": table.column("subject_id").to_numpy(),
            "source_subject_id": pd.array(
                table.column("source_subject_id").to_pylist(), dtype="string"
            ),
        }
    )
    if subjects.isna().any().any() or subjects.duplicated("subject_id").any():
        raise MEDSReadError(f"{file} has an empty id or lists a subject_id twice. {_HOW}")
    if subjects["source_subject_id"].duplicated().any():
        raise MEDSReadError(f"{file} gives one source_subject_id two subject_ids. {_HOW}")
    return subjects


def _decimal(values: np.ndarray) -> np.ndarray:
    """float32 values as the float64 of their shortest decimal (NaN stays NaN)."""
    if values.dtype != np.float32:
        return values.astype(np.float64)
    # Through the text of each distinct value only: lab values repeat, and the text is slow.
    distinct, where = np.unique(values, return_inverse=True)
    return distinct.astype(str).astype(np.float64)[where.reshape(-1)]


def _shard_frame(path: Path, subjects: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of one shard as an events-like frame (string ids), unsorted, checked."""
    import meds
    import pyarrow.parquet as pq
    from flexible_schema.exceptions import SchemaValidationError, TableValidationError

    if not path.is_file():
        raise MEDSReadError(f"{path} is not a file: a MEDS data shard is a parquet file. {_HOW}")
    try:
        table = pq.read_table(path)
        # Also the text: a corrupt page can hold bytes that are not UTF-8, which pandas
        # would only find later, far from the file.
        table.validate(full=True)
    except (OSError, ValueError) as error:
        raise MEDSReadError(
            f"{path} is not a parquet file ({one_line(error, 120)}). {_HOW}"
        ) from None
    try:
        table = meds.DataSchema.align(table)
    except (SchemaValidationError, TableValidationError) as error:
        raise MEDSReadError(
            f"{path} is not a MEDS data shard ({one_line(error, 200)}): MEDS wants subject_id "
            "int64, time timestamp[us] (no time zone), code string, numeric_value float32, "
            f"text_value string. {_HOW}"
        ) from None
    ids = table.column("subject_id").to_numpy()
    if subjects is None:
        source = pd.array(ids.astype(str), dtype="string")
    else:
        positions = pd.Index(subjects["subject_id"]).get_indexer(ids)
        if (positions < 0).any():
            raise MEDSReadError(
                f"{path} holds {len(np.unique(ids[positions < 0]))} subject_id(s) that "
                f"{SUBJECTS_FILE} does not list. {_HOW}"
            )
        source = subjects["source_subject_id"].array[positions]
    columns = set(table.column_names)
    frame = pd.DataFrame(
        {
            "subject_id": source,
            "time": table.column("time").to_pandas().to_numpy(),
            "code": table.column("code").to_pandas(),
            "numeric_value": _decimal(table.column("numeric_value").to_numpy(zero_copy_only=False)),
        }
    )
    for column in ("text_value", "unit", "source"):
        # unit and source are ours: another ETL's dataset may lack them.
        frame[column] = (
            table.column(column).to_pandas().astype("string").to_numpy()
            if column in columns
            else pd.array([None] * len(frame), dtype="string")
        )
    return frame[list(EVENT_COLUMNS)]


def _events(frame: pd.DataFrame, where: Path) -> pd.DataFrame:
    try:
        return as_events(frame)
    except ValueError as error:
        raise MEDSReadError(f"{where}: {one_line(error, 200)} {_HOW}") from None


def read_meds_shard(path: str | os.PathLike, subjects: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read one data shard of a MEDS folder as the events table.

    Parameters
    ----------
    path : path-like
        A shard, ``MEDS/data/{k}.parquet``.
    subjects : DataFrame, optional
        The folder's subject table (`read_meds_subjects`), to give the events their string
        ids back; without it the int64 ids are written as text.

    Returns
    -------
    DataFrame
        The events table of the shard's subjects (`ramultimodal.io.EVENT_COLUMNS`, sorted
        as `ramultimodal.io.as_events` sorts).

    Raises
    ------
    MEDSReadError
        One line naming the file: not parquet, columns of the wrong types, an id the
        subject table lacks, an implausible time.
    """
    path = Path(path)
    return _events(_shard_frame(path, subjects), path)


def read_meds(path: str | os.PathLike) -> pd.DataFrame:
    """Read a MEDS 0.4 folder as the events table.

    Every ``data/**/*.parquet`` shard is read and checked against ``meds.DataSchema``; a
    subject found in two shards is refused. String subject ids come back from
    ``metadata/subjects.parquet`` when the folder has it (ramultimodal writes it); another
    ETL's integer ids become text. ``unit`` and ``source`` are read when present (ours),
    else empty; other extra columns are not read.

    Parameters
    ----------
    path : path-like
        The MEDS folder (the one that holds ``data/`` and ``metadata/``).

    Returns
    -------
    DataFrame
        The events table (`ramultimodal.io.EVENT_COLUMNS`).

    Raises
    ------
    MEDSReadError
        One line naming the folder or file and what is wrong: no ``data/`` of parquet
        shards, a shard of the wrong column types, a subject in two shards.

    Examples
    --------
    >>> import tempfile
    >>> read_meds(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ramultimodal.io._meds_read.MEDSReadError: ... is not a MEDS folder: it has no data/ ...
    """
    import meds

    root = Path(path)
    data = root / meds.data_subdirectory
    if not root.is_dir():
        raise MEDSReadError(f"{root} is not a folder. {_HOW}")
    if not data.is_dir():
        raise MEDSReadError(
            f"{root} is not a MEDS folder: it has no {meds.data_subdirectory}/ folder of "
            f"parquet shards. {_HOW}"
        )
    shards = sorted(data.rglob(f"*{SHARD_SUFFIX}"))
    if not shards:
        raise MEDSReadError(f"{data} holds no {SHARD_SUFFIX} shard. {_HOW}")
    subjects = read_meds_subjects(root)
    frames = [_shard_frame(shard, subjects) for shard in shards]
    # Each subject in one shard: the distinct subjects of each, with their shard's number.
    distinct = [frame["subject_id"].unique() for frame in frames]
    owners = pd.Series(
        np.repeat(np.arange(len(shards)), [len(ids) for ids in distinct]),
        index=pd.Index(np.concatenate([np.asarray(ids, dtype=object) for ids in distinct])),
    )
    twice = owners.index.duplicated(keep=False)
    if twice.any():
        first, second = owners[owners.index == owners.index[twice][0]].to_numpy()[:2]
        raise MEDSReadError(
            f"{root}: a subject is in two shards ({shards[first].relative_to(root)} and "
            f"{shards[second].relative_to(root)}); MEDS puts each subject in exactly one. {_HOW}"
        )
    return _events(pd.concat(frames, ignore_index=True), root)
