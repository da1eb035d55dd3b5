"""The metadata of a MEDS 0.4 dataset: dataset.json, codes, splits, and our subject table.

`write_meds_metadata` writes ``OUT/metadata/`` once the shards are written (by
`ramultimodal.io._meds`, here or one at a time elsewhere); every table is checked with the
`meds` package's schema first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ramultimodal._staging import atomic_file
from ramultimodal.io._meds_read import SUBJECTS_FILE

__all__ = ["check_subject_table", "write_meds_metadata"]

# Our extra columns, as dataset.json declares them to MEDS tools.
_CODE_MODIFIERS = ["unit"]
_RAW_SOURCE_IDS = ["source"]


def check_subject_table(subjects: pd.DataFrame) -> pd.Index:
    """The source ids of a subject table, as an index of strings, after checking it."""
    if not {"subject_id", "source_subject_id"} <= set(subjects.columns):
        raise ValueError(
            "subjects must have the columns subject_id and source_subject_id (see subject_table)."
        )
    source = pd.Index(subjects["source_subject_id"].astype("string"))
    if source.has_duplicates or subjects["subject_id"].duplicated().any():
        raise ValueError("subjects lists a subject twice (a source id or a subject_id).")
    return source


def _descriptions() -> dict[str, str]:
    """What each code of the terminology means, for ``codes.parquet``."""
    from ramultimodal.terminology import events as event_codes
    from ramultimodal.terminology.codes import CONCEPTS, DRUG_NAMES, SMOKING_DISPLAYS

    described = {event_codes.BIRTH: "Birth", event_codes.DEATH: "Death"}
    described |= {code: name for code, name in DRUG_NAMES.items()}
    described |= dict(SMOKING_DISPLAYS)
    for concept in CONCEPTS.values():
        described |= dict.fromkeys(concept.codes, concept.display)
    return described


def _split_column(subjects: pd.DataFrame, splits: Mapping[str, str] | pd.Series | None) -> list:
    """The split of each subject of the table: from `splits`, or ``train`` for all."""
    import meds

    if splits is None:
        return [meds.train_split] * len(subjects)
    given = pd.Series(splits, dtype="string") if not isinstance(splits, pd.Series) else splits
    given.index = given.index.astype("string")
    chosen = given.reindex(subjects["source_subject_id"].astype("string"))
    if chosen.isna().any():
        raise ValueError(
            f"splits gives no split for {int(chosen.isna().sum())} subject(s); give one for "
            f"every subject ({meds.train_split}, {meds.tuning_split}, {meds.held_out_split})."
        )
    return chosen.astype(str).tolist()


def _written_codes(out: Path) -> set[str]:
    """The distinct codes of the shards under ``out/data/``."""
    import meds
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    codes: set[str] = set()
    for shard in sorted((out / meds.data_subdirectory).rglob("*.parquet")):
        codes.update(pc.unique(pq.read_table(shard, columns=["code"])["code"]).to_pylist())
    return codes


def write_meds_metadata(
    out: str | os.PathLike,
    *,
    codes: Iterable[str] | None = None,
    subjects: pd.DataFrame,
    splits: Mapping[str, str] | pd.Series | None = None,
    dataset_name: str = "ramultimodal",
    dataset_version: str | None = None,
) -> Path:
    """Write ``out/metadata/``: dataset.json, codes.parquet, subject_splits.parquet, subjects.

    Each table is checked with the `meds` package's schema (``CodeMetadataSchema``,
    ``SubjectSplitSchema``, ``DatasetMetadataSchema``) and each file written whole.

    Parameters
    ----------
    out : path-like
        The MEDS folder.
    codes : iterable of str, optional
        The codes of the dataset (repeats allowed); each gets a row of ``codes.parquet``
        with its description from `ramultimodal.terminology` where known (else null) and no
        parent codes. Default: the codes of the shards already written in ``out/data/``
        (their ``code`` column only is read).
    subjects : DataFrame
        The subject table (`subject_table`), written as ``metadata/subjects.parquet``.
    splits : mapping or Series, optional
        The split of each subject, by source id: MEDS's ``train``, ``tuning`` and
        ``held_out``. Default: every subject in ``train`` (a cohort has no split of its
        own; the models split it by cross-validation).
    dataset_name : str, default "ramultimodal"
        ``dataset.json``'s ``dataset_name``.
    dataset_version : str, optional
        ``dataset.json``'s ``dataset_version``.

    Returns
    -------
    Path
        The metadata folder.
    """
    import meds
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ramultimodal import __version__

    check_subject_table(subjects)
    folder = Path(out) / Path(meds.code_metadata_filepath).parent
    described = _descriptions()
    if codes is None:
        codes = _written_codes(Path(out))
    distinct = sorted(set(map(str, codes)))
    tables = {
        meds.code_metadata_filepath: meds.CodeMetadataSchema.align(
            pa.table(
                {
                    "code": pa.array(distinct, pa.string()),
                    "description": pa.array([described.get(c) for c in distinct], pa.string()),
                    "parent_codes": pa.array([[] for _ in distinct], pa.list_(pa.string())),
                }
            )
        ),
        meds.subject_splits_filepath: meds.SubjectSplitSchema.align(
            pa.table(
                {
                    "subject_id": pa.array(subjects["subject_id"].to_numpy(), pa.int64()),
                    "split": pa.array(_split_column(subjects, splits), pa.string()),
                }
            )
        ),
        SUBJECTS_FILE: pa.table(
            {
                "subject_id": pa.array(subjects["subject_id"].to_numpy(), pa.int64()),
                "source_subject_id": pa.array(
                    subjects["source_subject_id"].astype(str).tolist(), pa.string()
                ),
            }
        ),
    }
    for relative, table in tables.items():
        with atomic_file(Path(out) / relative) as partial:
            pq.write_table(table, partial)
    described_dataset = meds.DatasetMetadataSchema(
        dataset_name=dataset_name,
        dataset_version=dataset_version,
        etl_name="ramultimodal",
        etl_version=__version__,
        meds_version=meds.__version__,
        created_at=datetime.now(UTC).replace(microsecond=0),
        code_modifier_columns=_CODE_MODIFIERS,
        raw_source_id_columns=_RAW_SOURCE_IDS,
    ).to_dict()
    described_dataset["created_at"] = described_dataset["created_at"].isoformat()
    meds.DatasetMetadataSchema.validate(described_dataset)
    with atomic_file(Path(out) / meds.dataset_metadata_filepath) as partial:
        partial.write_text(json.dumps(described_dataset, indent=1) + "\n", encoding="utf-8")
    return folder
