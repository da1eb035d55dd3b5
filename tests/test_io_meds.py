"""MEDS parquet as the events store: write, check with the meds package, read back (also
with meds_reader), shard by subject, and refuse what is not MEDS."""

import json
import shutil
import subprocess

import meds
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ramultimodal.io import MEDSReadError, as_events, read_events_csv, read_meds, write_meds
from ramultimodal.io._meds import (
    SUBJECTS_FILE,
    read_meds_shard,
    read_meds_subjects,
    shard_of,
    shard_path,
    subject_table,
    write_meds_metadata,
    write_meds_shard,
)
from ramultimodal.synthetic import make_cohort


@pytest.fixture(scope="module")
def events():
    return as_events(make_cohort(40, seed=5, render_images=False).events)


@pytest.fixture(scope="module")
def written(events, tmp_path_factory):
    return write_meds(events, tmp_path_factory.mktemp("m") / "meds", n_shards=3)


def test_round_trip_gives_the_same_events(events, written):
    pd.testing.assert_frame_equal(read_meds(written), events)


def test_float32_values_come_back_as_their_decimals(tmp_path):
    events = as_events(
        [
            {"subject_id": "p", "time": "2020-01-01", "code": "LOINC/1988-5", "numeric_value": v}
            for v in (0.6, 12.3, 1e-4, 123456.0, np.nan)
        ]
    )
    back = read_meds(write_meds(events, tmp_path / "m"))
    pd.testing.assert_frame_equal(back, events, check_exact=True)


def test_layout_and_schemas_are_meds(events, written):
    shards = sorted(p.name for p in (written / "data").iterdir())
    assert shards == ["0.parquet", "1.parquet", "2.parquet"]
    subjects = read_meds_subjects(written)
    expected = sorted(events["subject_id"].unique())
    assert subjects["source_subject_id"].tolist() == expected
    assert subjects["subject_id"].tolist() == list(range(len(expected)))
    seen = []
    for shard in range(3):
        table = pq.read_table(shard_path(written, shard))
        meds.DataSchema.validate(table)
        assert table.schema.field("numeric_value").type == pa.float32()
        assert {"unit", "source"} <= set(table.column_names)
        frame = table.to_pandas()
        ids = frame["subject_id"].to_numpy()
        # Sorted by subject, then time (timeless facts first) within the subject.
        assert (np.diff(ids) >= 0).all()
        for _, rows in frame.groupby("subject_id"):
            times = rows["time"]
            assert times.isna().cummin().sum() == times.isna().sum()
            assert times.dropna().is_monotonic_increasing
        source = subjects.set_index("subject_id").loc[np.unique(ids), "source_subject_id"]
        assert (shard_of(source, 3) == shard).all()
        seen.extend(np.unique(ids))
    assert sorted(seen) == list(range(len(expected)))  # each subject in one shard
    codes = pq.read_table(written / meds.code_metadata_filepath)
    meds.CodeMetadataSchema.validate(codes)
    described = dict(zip(codes["code"].to_pylist(), codes["description"].to_pylist(), strict=True))
    assert set(described) == set(events["code"])
    assert described["LOINC/1988-5"].startswith("C reactive protein")
    splits = pq.read_table(written / meds.subject_splits_filepath)
    meds.SubjectSplitSchema.validate(splits)
    assert set(splits["split"].to_pylist()) == {"train"}
    dataset = json.loads((written / meds.dataset_metadata_filepath).read_text())
    meds.DatasetMetadataSchema.validate(dataset)
    assert dataset["etl_name"] == "ramultimodal"
    assert dataset["meds_version"] == meds.__version__
    assert dataset["code_modifier_columns"] == ["unit"]


def test_shard_of_is_stable_and_spread():
    # Pinned: a change here moves subjects between shards of existing datasets.
    assert shard_of(["P000001", "P000002", "P000003"], 8).tolist() == [5, 2, 2]
    assert shard_of(pd.Series([123, 456]), 4).tolist() == shard_of(["123", "456"], 4).tolist()
    counts = np.bincount(shard_of([f"P{i:06d}" for i in range(4000)], 4), minlength=4)
    assert counts.min() > 900
    with pytest.raises(ValueError, match="at least 1"):
        shard_of(["a"], 0)


def test_subject_table_does_not_depend_on_order():
    pd.testing.assert_frame_equal(
        subject_table(["b", "a", "c"]), subject_table(["c", "b", "a", "a"])
    )


def test_splits_are_written(events, tmp_path):
    ids = sorted(events["subject_id"].unique())
    splits = {sid: ("held_out" if i % 4 == 0 else "train") for i, sid in enumerate(ids)}
    out = write_meds(events, tmp_path / "m", splits=splits)
    table = pq.read_table(out / meds.subject_splits_filepath).to_pandas()
    subjects = read_meds_subjects(out).set_index("subject_id")["source_subject_id"]
    assert dict(zip(subjects[table["subject_id"]], table["split"], strict=True)) == splits
    with pytest.raises(ValueError, match="no split for 1"):
        write_meds(events, tmp_path / "m2", splits=dict(list(splits.items())[1:]))


def test_shard_by_shard_as_a_distributed_ingest_would(events, written, tmp_path):
    # The two steps of write_meds, one shard at a time: the same files' contents.
    subjects = subject_table(events["subject_id"])
    shards = shard_of(events["subject_id"], 3)
    out = tmp_path / "byhand"
    for shard in range(3):
        write_meds_shard(events[shards == shard], out, shard, subjects)
        assert pq.read_table(shard_path(out, shard)).equals(
            pq.read_table(shard_path(written, shard))
        )
    write_meds_metadata(out, subjects=subjects, dataset_name="x")  # codes: from the shards
    assert pq.read_table(out / meds.code_metadata_filepath).equals(
        pq.read_table(written / meds.code_metadata_filepath)
    )
    pd.testing.assert_frame_equal(read_meds(out), events)
    one = read_meds_shard(shard_path(out, 1), read_meds_subjects(out))
    pd.testing.assert_frame_equal(one, events[shards == 1].reset_index(drop=True))
    with pytest.raises(ValueError, match="not in the subject table"):
        write_meds_shard(events, out, 0, subjects.iloc[1:])


def test_empty_shards_and_meds_reader(events, tmp_path):
    meds_reader = pytest.importorskip("meds_reader")
    if shutil.which("meds_reader_convert") is None:
        pytest.skip("meds_reader_convert (the meds_reader package's command) is not on PATH")
    out = write_meds(events, tmp_path / "meds", n_shards=64)  # most shards empty
    assert len(list((out / "data").iterdir())) == 64
    pd.testing.assert_frame_equal(read_meds(out), events)
    database = tmp_path / "db"
    run = subprocess.run(
        ["meds_reader_convert", str(out), str(database)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    subjects = read_meds_subjects(out).set_index("subject_id")["source_subject_id"]
    with meds_reader.SubjectDatabase(str(database)) as db:
        assert len(db) == events["subject_id"].nunique()
        for subject_id in list(db)[:5]:
            mine = events[events["subject_id"] == subjects[subject_id]]
            theirs = list(db[subject_id].events)
            assert [e.code for e in theirs] == mine["code"].tolist()
            values = [np.nan if e.numeric_value is None else e.numeric_value for e in theirs]
            np.testing.assert_allclose(values, mine["numeric_value"], rtol=1e-6)


def test_integer_ids_of_another_etl(tmp_path):
    # A MEDS folder another ETL wrote: int ids, no subject table, no unit nor source.
    (tmp_path / "data").mkdir()
    table = pa.table(
        {
            "subject_id": pa.array([7, 7, 3], pa.int64()),
            "time": pa.array([None, "2020-01-02", "2021-05-06"], pa.string()).cast(
                pa.timestamp("us")
            ),
            "code": ["GENDER/male", "LOINC/1988-5", "LOINC/1988-5"],
            "numeric_value": pa.array([None, 3.5, 20.0], pa.float32()),
        }
    )
    pq.write_table(table, tmp_path / "data" / "train_0.parquet")
    events = read_meds(tmp_path)
    assert events["subject_id"].tolist() == ["3", "7", "7"]
    np.testing.assert_array_equal(events["numeric_value"], [20.0, np.nan, 3.5])
    assert events["unit"].isna().all()


def test_not_meds_is_one_clear_error(written, tmp_path):
    with pytest.raises(MEDSReadError, match="no data/ folder"):
        read_meds(tmp_path)
    (tmp_path / "data").mkdir()
    with pytest.raises(MEDSReadError, match=r"holds no \.parquet"):
        read_meds(tmp_path)
    pq.write_table(
        pa.table({"subject_id": ["a"], "time": [None], "code": ["x"]}),
        tmp_path / "data" / "0.parquet",
    )
    with pytest.raises(MEDSReadError, match=r"0.parquet is not a MEDS data shard.*subject_id"):
        read_meds(tmp_path)
    (tmp_path / "data" / "0.parquet").write_text("subject_id,time\n")
    with pytest.raises(MEDSReadError, match="is not a parquet file"):
        read_meds(tmp_path)
    # A subject in two shards.
    copy = tmp_path / "two"
    shutil.copytree(written, copy)
    first = pq.read_table(copy / "data" / "0.parquet")
    second = pq.read_table(copy / "data" / "1.parquet")
    pq.write_table(pa.concat_tables([second, first.slice(0, 1)]), copy / "data" / "1.parquet")
    with pytest.raises(MEDSReadError, match=r"in two shards \(data/0.parquet and data/1.parquet\)"):
        read_meds(copy)
    # A subject table that does not cover the shards.
    copy = tmp_path / "three"
    shutil.copytree(written, copy)
    subjects = pq.read_table(copy / SUBJECTS_FILE)
    pq.write_table(subjects.slice(1), copy / SUBJECTS_FILE)
    with pytest.raises(MEDSReadError, match=r"subject_id\(s\) that metadata/subjects\.parquet"):
        read_meds(copy)


def test_existing_output_is_not_replaced(events, tmp_path):
    from ramultimodal._staging import OutputError

    out = write_meds(events, tmp_path / "m", n_shards=3)
    with pytest.raises(OutputError, match="already exists"):
        write_meds(events, out)
    assert write_meds(events, out, overwrite=True, n_shards=2) == out
    assert len(list((out / "data").iterdir())) == 2
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not written by ramultimodal"):
        write_meds(events, tmp_path / "theirs", overwrite=True)


def test_csv_events_round_trip(tmp_path):
    from pathlib import Path

    import ramultimodal

    csv = Path(ramultimodal.__file__).parents[2] / "synthetic_data" / "cohort" / "events.csv"
    events = read_events_csv(csv)
    pd.testing.assert_frame_equal(read_meds(write_meds(events, tmp_path / "m")), events)
