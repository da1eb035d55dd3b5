"""``ramultimodal convert --to meds``: a cohort folder, FHIR or a CSV in; the same features
out of the MEDS folder as out of the CSV and FHIR it was made from."""

import json

import pandas as pd
import pytest

from ramultimodal import load_dataset
from ramultimodal.cli import main
from ramultimodal.io import read_cohort, read_events_csv, read_fhir, read_meds
from ramultimodal.synthetic import make_cohort, write_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    made = make_cohort(40, image_size=32, seed=11, image_missing_rate=0.2)
    return write_cohort(
        made, tmp_path_factory.mktemp("c") / "cohort", formats=["csv", "fhir-ndjson", "png"]
    )


@pytest.fixture(scope="module")
def converted(cohort):
    out = cohort.parent / "as-meds"
    assert main(["convert", str(cohort), "--to", "meds", str(out), "--n-shards", "3", "-q"]) == 0
    return out


def test_cohort_folder_becomes_a_cohort_with_meds(cohort, converted):
    names = sorted(p.name for p in converted.iterdir())
    assert names == [
        ".ramultimodal",
        "cohort.json",
        "images.csv",
        "labels.csv",
        "meds",
        "patients.csv",
    ]
    assert len(list((converted / "meds" / "data").iterdir())) == 3
    for name in ("patients.csv", "labels.csv", "cohort.json"):
        assert (converted / name).read_bytes() == (cohort / name).read_bytes()
    images = pd.read_csv(converted / "images.csv")
    assert images["path"].map(lambda p: p.startswith(str(cohort.resolve()))).all()


@pytest.mark.parametrize("source", ["csv", "fhir-ndjson"])
def test_meds_gives_the_same_features(cohort, converted, source):
    X, y = load_dataset(cohort, source=source)
    X_meds, y_meds = load_dataset(converted)  # auto: the converted folder has only meds/
    pd.testing.assert_frame_equal(X_meds, X)
    pd.testing.assert_series_equal(y_meds, y)


def test_meds_source_is_chosen_by_name(converted, cohort):
    records = read_cohort(converted, source="meds")
    pd.testing.assert_frame_equal(records.events, read_events_csv(cohort / "events.csv"))


def test_bare_csv_and_fhir_become_meds_folders(cohort, tmp_path, capsys):
    out = tmp_path / "from-csv"
    assert main(["convert", str(cohort / "events.csv"), "--to", "meds", str(out), "-q"]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_meds(out), read_events_csv(cohort / "events.csv"))
    dataset = json.loads((out / "metadata" / "dataset.json").read_text())
    assert dataset["dataset_name"] == "events.csv"
    out = tmp_path / "from-fhir"
    assert main(["convert", str(cohort / "fhir" / "ndjson"), "--to", "meds", str(out), "-q"]) == 0
    pd.testing.assert_frame_equal(read_meds(out), read_fhir(cohort / "fhir" / "ndjson"))
    # A MEDS folder in: sharded again.
    again = tmp_path / "again"
    assert main(["convert", str(out), "--to", "meds", str(again), "--n-shards", "5", "-q"]) == 0
    assert len(list((again / "data").iterdir())) == 5
    pd.testing.assert_frame_equal(read_meds(again), read_meds(out))


def _fails(argv, capsys, *fragments):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_mistakes_are_one_line(cohort, converted, tmp_path, capsys):
    out = str(tmp_path / "out")
    _fails(["convert", str(tmp_path / "nowhere"), "--to", "meds", out], capsys, "not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(["convert", str(empty), "--to", "meds", out], capsys, "FHIR")
    # An existing output: refused without --force; with it, only when ramultimodal wrote it.
    _fails(["convert", str(cohort), "--to", "meds", str(converted)], capsys, "already exists")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    _fails(
        ["convert", str(cohort), "--to", "meds", str(theirs), "--force"],
        capsys,
        "not written by ramultimodal",
    )
    assert (theirs / "notes.txt").read_text() == "mine"
    # A MEDS folder is not a cohort: --force will not turn one into the other.
    meds_only = tmp_path / "meds-only"
    assert main(["convert", str(cohort / "events.csv"), "--to", "meds", str(meds_only), "-q"]) == 0
    _fails(
        ["convert", str(cohort), "--to", "meds", str(meds_only), "--force"],
        capsys,
        "holds a ramultimodal meds, not a cohort",
    )
    _fails(
        ["convert", str(cohort), "--to", "meds", out, "--date-format", "%d/%m/%Y"],
        capsys,
        "events.json",
    )
    _fails(
        ["convert", str(cohort / "events.csv"), "--to", "meds", out, "--source", "wide-csv"],
        capsys,
        "not a cohort folder",
    )
    _fails(
        ["convert", str(cohort), "--to", "meds", str(cohort / "meds")], capsys, "inside the input"
    )
    assert main(["convert", str(cohort), "--to", "parquet", out]) == 2  # argparse's choices


def test_force_replaces_a_converted_cohort(cohort, tmp_path):
    out = tmp_path / "c"
    assert main(["convert", str(cohort), "--to", "meds", str(out), "-q"]) == 0
    argv = ["convert", str(cohort), "--to", "meds", str(out), "--force", "--n-shards", "2", "-q"]
    assert main(argv) == 0
    assert len(list((out / "meds" / "data").iterdir())) == 2


def test_a_scheduler_is_accepted_and_the_work_stays_here(cohort, tmp_path, capsys):
    out = tmp_path / "m"
    argv = ["convert", str(cohort / "events.csv"), "--to", "meds", str(out)]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 0
    assert "in this process" in capsys.readouterr().err
    pd.testing.assert_frame_equal(read_meds(out), read_events_csv(cohort / "events.csv"))


def test_skipped_rows_are_counted(cohort, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    lines = (cohort / "events.csv").read_text().splitlines()
    bad.write_text("\n".join([*lines[:5], "p9,not a date,LOINC/1988-5,3,,mg/L,"]) + "\n")
    _fails(["convert", str(bad), "--to", "meds", str(tmp_path / "o")], capsys, "line 6")
    assert main(["convert", str(bad), "--to", "meds", str(tmp_path / "o"), "--errors", "skip"]) == 0
    assert "warning: " in capsys.readouterr().err
    assert len(read_meds(tmp_path / "o")) == 4


def test_a_cohort_whose_meds_is_not_meds(converted, tmp_path, capsys):
    import shutil

    from ramultimodal.io import DatasetError

    folder = tmp_path / "cohort"
    shutil.copytree(converted, folder)
    shutil.rmtree(folder / "meds")
    (folder / "meds").write_text("not a folder")
    with pytest.raises(DatasetError, match="is not a folder"):
        read_cohort(folder)
    (folder / "meds").unlink()
    (folder / "meds").mkdir()
    with pytest.raises(DatasetError, match="no data/ folder"):
        read_cohort(folder, source="meds")
    _fails(["convert", str(folder), "--to", "meds", str(tmp_path / "o")], capsys, "no data/")


@pytest.mark.slow
def test_train_and_predict_read_the_converted_cohort(cohort, converted, tmp_path):
    # Trained on the CSV, applied to the MEDS copy: the same probabilities.
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16}})
    )
    model = tmp_path / "model"
    argv = ["train", "--data", str(cohort), "--source", "csv", "--model", "early", "-q"]
    assert main([*argv, "--config", str(config), "--out", str(model)]) == 0
    for name, data in (("csv", cohort), ("meds", converted)):
        out = tmp_path / f"{name}.csv"
        argv = ["predict", "--model", str(model), "--data", str(data), "--source", name, "-q"]
        assert main([*argv, "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "meds.csv"), pd.read_csv(tmp_path / "csv.csv")
    )
