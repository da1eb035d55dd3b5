"""A cohort folder the way real hospitals export it: read right, or refused in one line.

Each case below gave a confident wrong answer, a raw traceback or a hang before issue 13.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ramultimodal.cli import main
from ramultimodal.ehr import EHRFeaturizer
from ramultimodal.fusion import ImageGuardWarning, NoModalityWarning, save_model
from ramultimodal.io import CohortRecords, DatasetError, as_events, read_cohort
from ramultimodal.models import make_pipeline
from ramultimodal.synthetic import make_cohort, write_cohort

CNN = {"image_size": 32, "max_epochs": 1}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    cohort = make_cohort(40, image_size=32, seed=4, image_missing_rate=0.0)
    return write_cohort(cohort, tmp_path_factory.mktemp("c") / "cohort", formats=["csv", "png"])


@pytest.fixture
def folder(pristine, tmp_path):
    return Path(shutil.copytree(pristine, tmp_path / "cohort"))


@pytest.fixture(scope="module")
def model(pristine, tmp_path_factory):
    records = read_cohort(pristine)
    pipeline = make_pipeline("late", image_params=CNN, fusion_params={"cv": 2})
    pipeline.fit(records, records.labels.to_numpy())
    return save_model(pipeline, tmp_path_factory.mktemp("m") / "model")


def edit(folder: Path, name: str, change) -> pd.DataFrame:
    table = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    table = change(table)
    table.to_csv(folder / name, index=False)
    return table


def one_line_error(args: list[str], capsys) -> str:
    assert main(args) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# -- presence -----------------------------------------------------------------------------


def test_a_patient_with_no_data_gets_no_probability(folder, model):
    from ramultimodal.workflows import predict_dataset

    edit(folder, "patients.csv", lambda t: pd.concat([t, pd.DataFrame({
        "subject_id": ["nobody"], "sex": [""], "birth_date": [""], "index_date": ["2021-06-01"]
    })]))  # fmt: skip
    edit(folder, "labels.csv", lambda t: pd.concat([t, pd.DataFrame({
        "subject_id": ["nobody"], "ra": ["0"], "diagnosis": [""]})]))  # fmt: skip
    with pytest.warns(NoModalityWarning, match="1 of 41 patients have none of the modalities"):
        predictions = predict_dataset(model, folder)
    nobody = predictions.loc["nobody"]
    assert np.isnan(nobody["proba"])
    assert not nobody[["has_image", "has_ehr", "has_pro"]].any()
    assert predictions.drop("nobody")["proba"].notna().all()
    assert predictions.drop("nobody")["has_ehr"].all()


def test_events_of_other_patients_are_an_error_that_says_why(folder, model, capsys):
    edit(folder, "patients.csv", lambda t: t.assign(subject_id="site-" + t["subject_id"]))
    for name in ("labels.csv", "images.csv"):
        edit(folder, name, lambda t: t.assign(subject_id="site-" + t["subject_id"]))
    with pytest.raises(
        DatasetError, match=r"only 0 of the 40 patients .* have any event"
    ) as caught:
        read_cohort(folder)
    assert "40 other subject_ids" in str(caught.value)
    assert not any(
        s in str(caught.value) for s in pd.read_csv(folder / "patients.csv")["subject_id"]
    )
    err = one_line_error(
        ["predict", "--model", str(model), "--data", str(folder), "--out", "p.csv"], capsys
    )
    assert "identifiers" in err


# -- the leakage guard covers the radiographs ------------------------------------------------


def test_radiographs_after_the_index_date_or_of_another_body_part_are_not_used(folder):
    patients = pd.read_csv(folder / "patients.csv", dtype=str)
    first, second = patients["subject_id"].iloc[:2]
    late = patients.set_index("subject_id").loc[first, "index_date"]

    def change(table):
        table.loc[table["subject_id"] == first, "study_time"] = str(
            pd.Timestamp(late) + pd.Timedelta(days=400)
        )[:10]
        table.loc[table["subject_id"] == second, "body_part"] = "KNEE"
        return table

    edit(folder, "images.csv", change)
    records = read_cohort(folder)
    featurizer = make_pipeline("late").named_steps["features"]
    with pytest.warns(ImageGuardWarning) as warned:
        features = featurizer.fit_transform(records)
    message = str(warned[0].message)
    assert "1 dated after the index date" in message and "KNEE 1" in message
    assert features.loc[first, "image"] == [] and features.loc[second, "image"] == []
    assert all(len(images) == 1 for images in features["image"].drop([first, second]))
    # The same switch as the events' guard turns it off, and warns.
    leaky = make_pipeline("late", featurizer_params={"max_time": "all"}).named_steps["features"]
    with pytest.warns(UserWarning, match="max_time='all'"):
        assert len(leaky.fit_transform(records).loc[first, "image"]) == 1


# -- dates --------------------------------------------------------------------------------


def european(table: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(table["index_date"])
    return table.assign(index_date=dates.dt.strftime("%d/%m/%Y"))


def test_day_month_index_dates_are_refused_until_their_format_is_given(
    folder, pristine, model, capsys
):
    edit(folder, "patients.csv", european)
    with pytest.raises(DatasetError, match=r"patients.csv, line 2: index_date is written day/mon"):
        read_cohort(folder)
    err = one_line_error(
        ["predict", "--model", str(model), "--data", str(folder), "--out", "p.csv"], capsys
    )
    assert "--date-format" in err and "date_format=" in err
    read = read_cohort(folder, date_format="%d/%m/%Y")
    assert read.patients["index_date"].equals(read_cohort(pristine).patients["index_date"])


@pytest.mark.parametrize(
    "value, message",
    [("", "line 4: index_date is empty"), ("soon", "line 4: index_date is not an ISO 8601")],
)
def test_an_empty_or_unreadable_index_date_is_one_line(folder, model, value, message, capsys):
    edit(
        folder,
        "patients.csv",
        lambda t: t.assign(index_date=t["index_date"].where(t.index != 2, value)),
    )
    with pytest.raises(DatasetError, match=message):
        read_cohort(folder)
    with pytest.warns(UserWarning, match="skipped patients.csv"):
        assert len(read_cohort(folder, errors="skip")) == 39
    one_line_error(
        ["predict", "--model", str(model), "--data", str(folder), "--out", "p.csv"], capsys
    )


def test_a_partial_date_is_known_only_at_the_end_of_its_period():
    events = as_events([
        {"subject_id": "p", "time": "2020", "code": "LOINC/1988-5", "numeric_value": 50.0},
        {"subject_id": "p", "time": "2020-02", "code": "LOINC/1988-5", "numeric_value": 7.0},
    ])  # fmt: skip
    patients = pd.DataFrame(
        {"index_date": pd.to_datetime(["2020-03-15"])}, index=pd.Index(["p"], name="subject_id")
    )
    features = EHRFeaturizer(events, lookback_days=(None,), aggregations=("last", "count"))
    features = features.set_output(transform="pandas").fit_transform(patients)
    # "2020" is known on 31 December, after the index date; "2020-02" on 29 February.
    assert features.loc["p", ["crp_last_all", "crp_count_all"]].tolist() == [7.0, 1.0]


@pytest.mark.parametrize(
    "time, used",
    [
        ("2020-03-01T23:59:00+14:00", True),  # 1 March where it happened (09:59 UTC)
        ("2020-03-02T00:30:00+14:00", False),  # 2 March there, although 1 March in UTC
        ("2020-03-01T23:30:00-12:00", True),  # 1 March there, although 2 March in UTC
        ("2020-03-02T00:00:00-12:00", False),
    ],
)
def test_an_offset_follows_the_wall_clock_around_midnight_of_the_index_day(time, used):
    events = as_events([{"subject_id": "p", "time": time, "code": "LOINC/1988-5",
                         "numeric_value": 9.0}])  # fmt: skip
    patients = pd.DataFrame(
        {"index_date": pd.to_datetime(["2020-03-01"])}, index=pd.Index(["p"], name="subject_id")
    )
    featurizer = EHRFeaturizer(events, lookback_days=(90,), aggregations=("count",))
    features = featurizer.set_output(transform="pandas").fit_transform(patients)
    assert bool(features.get("crp_count_90d", pd.Series([0.0])).iloc[0] == 1.0) is used


# -- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0.7", "2", "yes", ""])
def test_a_label_that_is_not_0_or_1_is_one_line(folder, value, capsys):
    edit(folder, "labels.csv", lambda t: t.assign(ra=t["ra"].where(t.index != 0, value)))
    with pytest.raises(DatasetError, match=r"labels.csv, line 2: ra must be 0 or 1"):
        read_cohort(folder)
    one_line_error(["train", "--data", str(folder), "--model", "late", "--out", "m"], capsys)
    with pytest.warns(UserWarning, match="bad label 1"):
        assert len(read_cohort(folder, errors="skip")) == 39


def test_a_patient_labelled_twice_is_refused(folder):
    edit(folder, "labels.csv", lambda t: pd.concat([t, t.iloc[[3]]]))
    with pytest.raises(DatasetError, match="line 42: a second label for a subject_id"):
        read_cohort(folder, errors="skip")  # not a row to skip: which label is right?


# -- image paths ---------------------------------------------------------------------------


def test_bad_image_paths_are_one_line_and_never_hang(folder, model, capsys, tmp_path):
    fifo = tmp_path / "scan.fifo"
    os.mkfifo(fifo)
    for path, message in (
        ("", "line 3: the path is empty"),
        ("/dev/zero", "line 3: the path is not a regular file"),
        (str(fifo), "line 3: the path is not a regular file"),
        ("images/nowhere.dcm", "line 3: the image file does not exist"),
    ):
        original = pd.read_csv(folder / "images.csv", dtype=str, keep_default_na=False)
        edit(
            folder, "images.csv", lambda t, p=path: t.assign(path=t["path"].where(t.index != 1, p))
        )
        with pytest.raises(DatasetError, match=message):
            read_cohort(folder)
        one_line_error(
            ["predict", "--model", str(model), "--data", str(folder), "--out", "p.csv"], capsys
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            records = read_cohort(folder, errors="skip")
        assert len(records.images) == len(original) - 1
        assert any("skipped images.csv: " in str(w.message) for w in caught)
        original.to_csv(folder / "images.csv", index=False)


def test_records_built_by_hand_need_index_dates():
    with pytest.raises(TypeError, match="index_date"):
        CohortRecords(pd.DataFrame(index=pd.Index(["a"])), as_events([]))


# -- every reader's refusals reach the command line as one line -------------------------------


def _replace_events(folder: Path, data: bytes, name: str = "events.csv") -> None:
    (folder / "events.csv").unlink()
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("events.csv", "subject_id,time,code\nbé,2020-01-01,x\n".encode("latin-1"), "encoding="),
        ("events.csv", b"subject_id,time,code\np,2020-01-01,x,extra,more\n", "line 2"),
        ("events.csv", b"subject_id,time,code,numeric_value\np,2020-01-01,LOINC/1988-5,inf\n",
         "line 2"),
        ("events.csv", b"subject_id,time,code,numeric_value\np,2020-01-01,LOINC/1988-5,12,5\n",
         "line 2"),
        ("fhir/ndjson/Observation.ndjson.gz", b"\x1f\x8b\x08\x00 not gzip",
         "Observation.ndjson.gz"),
        ("fhir/ndjson/Observation.ndjson", b'{"resourceType": "Observation", "code": "crp"}\n',
         "line 1"),
        ("fhir/ndjson/notes.txt", b"hello", "no .json/.ndjson files"),
        ("events.csv", b"", "is empty"),
        ("fhir/ndjson/Patient.ndjson",
         b'{"resourceType": "Patient", "id": "x", "gender": "male"}\n'
         b'{"resourceType": "Patient", "id": "x", "gender": "female"}\n', "line 2"),
    ],
)  # fmt: skip
def test_each_reader_refusal_is_one_line_on_the_command_line(
    folder, model, name, data, expected, capsys
):
    _replace_events(folder, data, name)
    err = one_line_error(
        ["predict", "--model", str(model), "--data", str(folder), "--out", "p.csv"], capsys
    )
    assert expected in err and "error:" in err


def test_a_patients_table_in_latin_1_is_one_line(folder, model, capsys):
    text = (folder / "patients.csv").read_text().replace("female", "féminin", 1)
    (folder / "patients.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(DatasetError, match=r"patients\.csv is not UTF-8 text"):
        read_cohort(folder)
    one_line_error(["predict", "--model", str(model), "--data", str(folder), "--out", "p.csv"],
                   capsys)  # fmt: skip


def test_a_wide_csv_is_a_source_of_a_cohort_folder(folder):
    patients = pd.read_csv(folder / "patients.csv", dtype=str)
    (folder / "events.csv").unlink()
    wide = pd.DataFrame(
        {
            "ipp": patients["subject_id"],
            "sexe": patients["sex"].str[0].str.upper(),  # F / M
            "visite": patients["index_date"],
            "pcr": "1,5 mg/dL",  # a decimal comma and a unit in the cell
            "tabac": "ex",
        }
    )
    wide.to_csv(folder / "wide.csv", sep=";", index=False)
    with pytest.raises(DatasetError, match=r"wide\.json not found: a wide CSV needs its mapping"):
        read_cohort(folder)
    options = {
        "mapping": {"sexe": "GENDER", "pcr": "LOINC/1988-5", "tabac": "LOINC/72166-2"},
        "subject_column": "ipp", "time_column": "visite", "sep": ";", "decimal": ",",
    }  # fmt: skip
    (folder / "wide.json").write_text(json.dumps({**options, "seperator": ";"}))
    with pytest.raises(DatasetError, match=r"keys among .* got \[.*'seperator'"):
        read_cohort(folder)
    (folder / "wide.json").write_text(json.dumps(options))
    records = read_cohort(folder)
    features = EHRFeaturizer(lookback_days=(90,)).set_output(transform="pandas")
    features = features.fit_transform(records)
    first = patients["subject_id"].iloc[0]
    assert features.loc[first, "crp_last_90d"] == 15.0  # 1.5 mg/dL is 15 mg/L
    assert features.loc[first, "smoking_former"] == 1.0
    assert features["sex_female"].notna().all()


# -- the review of this change: each case gave a wrong answer, a traceback or a hang ------------


@contextlib.contextmanager
def no_hang(seconds: int = 20):
    def expire(signum, frame):
        raise TimeoutError("the reader hung")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)


@pytest.mark.parametrize("where", ["events.csv", "fhir/ndjson/Observation.ndjson", "link"])
def test_pipes_and_devices_among_the_inputs_are_refused_without_hanging(folder, where):
    if where == "link":
        (folder / "events.csv").unlink()
        (folder / "events.csv").symlink_to("/dev/zero")
    else:
        if where != "events.csv":
            (folder / "fhir" / "ndjson").mkdir(parents=True)
            (folder / "events.csv").rename(folder / "fhir" / "ndjson" / "Patient.ndjson.txt")
        else:
            (folder / "events.csv").unlink()
        os.mkfifo(folder / where)
    refused = pytest.raises((DatasetError, ValueError), match=r"not a regular file|no \.json")
    with no_hang(), refused:
        read_cohort(folder)


def test_skipped_events_are_counted_in_the_cohorts_warning(folder):
    with (folder / "events.csv").open("a") as handle:
        handle.write(f"{pd.read_csv(folder / 'patients.csv')['subject_id'][0]},soon,x,,,,\n")
    with pytest.warns(UserWarning, match="skipped events: bad time 1"):
        read_cohort(folder, errors="skip")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"time_format": 5}, "time_format must be a string"),
        ({"columns": ["a"]}, "columns must be an object of names"),
        ({"encoding": "cp-1252x"}, "encoding names no Python codec"),
        ({"decimal": ";"}, "decimal is '.' or ','"),
        ({"sep": 5}, "sep must be a string"),
    ],
)
def test_bad_reader_options_are_one_line(folder, options, message):
    (folder / "events.json").write_text(json.dumps(options))
    with pytest.raises(DatasetError, match=message):
        read_cohort(folder)


def test_a_wide_csv_needs_the_time_of_its_facts(folder):
    (folder / "events.csv").unlink()
    (folder / "wide.csv").write_text("subject_id,crp\nx,1\n")
    (folder / "wide.json").write_text(json.dumps({"mapping": {"crp": "LOINC/1988-5"}}))
    with pytest.raises(DatasetError, match=r"time_column required"):
        read_cohort(folder)


@pytest.mark.parametrize(
    "date_format, message",
    [("%Q", "is not a strftime format"), ("%d/%m/%Y", "is not '%d/%m/%Y'")],
)
def test_a_bad_date_format_is_one_line(folder, date_format, message):
    with pytest.raises(DatasetError, match=message):
        read_cohort(folder, date_format=date_format)


def test_dates_with_a_time_are_still_ambiguous_day_month(folder):
    edit(
        folder, "patients.csv", lambda t: t.assign(index_date=european(t)["index_date"] + " 09:30")
    )
    with pytest.raises(DatasetError, match="day/month or month/day"):
        read_cohort(folder, errors="skip")  # a whole column's reading: never skipped


def test_every_patient_skipped_is_an_error_not_an_empty_cohort(folder):
    edit(folder, "labels.csv", lambda t: t.assign(ra="maybe"))
    with pytest.raises(DatasetError, match="no patient left to read"):
        read_cohort(folder, errors="skip")


def test_a_nul_byte_in_an_image_path_is_one_line(folder):
    edit(folder, "images.csv", lambda t: t.assign(path=t["path"].where(t.index != 0, "a\0b.dcm")))
    with pytest.raises(DatasetError, match="line 2: the path is not a regular file"):
        read_cohort(folder)
    # Skipped on request, not a ValueError from resolving the name (found by the fuzz suite).
    with pytest.warns(UserWarning, match="not a file"):
        records = read_cohort(folder, errors="skip")
    assert records.images["path"].notna().all()


def test_the_image_guard_reads_study_times_by_the_date_policy(folder):
    records = read_cohort(folder)
    first = records.subject_ids[0]
    index_day = records.patients.loc[first, "index_date"]
    month = f"{index_day:%Y-%m}"  # known only at the end of the index date's month
    images = records.images.assign(study_time=records.images["study_time"].astype(object))
    images.loc[images["subject_id"] == first, "study_time"] = month
    edited = CohortRecords(records.patients, records.events, images, records.labels)
    featurizer = make_pipeline("late").named_steps["features"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = featurizer.fit_transform(edited)
    expected = [] if index_day < pd.Timestamp(month) + pd.offsets.MonthEnd(0) else [1]
    assert len(features.loc[first, "image"]) == len(expected)


# -- line numbers: a blank line or an empty row is no row, but a line of the file -------------


def insert_lines(folder: Path, name: str, before: int, lines: list[str]) -> None:
    """Write `lines` into the table as they are, before its line `before` (1 is the header)."""
    text = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
    text[before - 1 : before - 1] = lines
    (folder / name).write_text("".join(text), encoding="utf-8")


def skipped_warning(folder: Path) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_cohort(folder, errors="skip")
    return next(str(w.message) for w in caught if ": skipped " in str(w.message))


@pytest.mark.parametrize(
    "name, column, value, problem, reason",
    [
        ("patients.csv", "index_date", "soon", "index_date is not an ISO", "bad index date"),
        ("labels.csv", "ra", "7", "ra must be 0 or 1", "bad label"),
        ("images.csv", "path", "images/nowhere.dcm", "the image file does not exist",
         "image not found"),
    ],
)  # fmt: skip
def test_a_blank_line_and_an_empty_row_keep_the_line_numbers(
    folder, name, column, value, problem, reason
):
    edit(folder, name, lambda t: t.assign(**{column: t[column].where(t.index != 3, value)}))
    header = (folder / name).read_text(encoding="utf-8").splitlines()[0]
    # Before line 3: a blank line and a spreadsheet's empty row. The bad row (line 5) moves
    # to line 7, and neither is a row with an empty subject_id.
    insert_lines(folder, name, 3, ["\n", "," * header.count(",") + "\n"])
    with pytest.raises(DatasetError, match=re.escape(f"{name}, line 7: {problem}")):
        read_cohort(folder)
    message = skipped_warning(folder)
    assert f"{name}: {reason} 1" in message and "no subject" not in message, message


def test_problems_of_the_whole_file_name_their_line_after_blank_lines(folder):
    # Never skipped (which label, which reading of the dates is right?), and named at the
    # line of the file.
    lines = (folder / "labels.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "labels.csv").write_text("".join([*lines[:2], "\n", *lines[2:], lines[3]]), "utf-8")
    with pytest.raises(DatasetError, match=rf"labels\.csv, line {len(lines) + 2}: a second"):
        read_cohort(folder, errors="skip")
    edit(folder, "patients.csv", lambda t: t.assign(index_date=european(t)["index_date"]))
    header = (folder / "patients.csv").read_text(encoding="utf-8").splitlines()[0]
    insert_lines(folder, "patients.csv", 2, ["   \n", "," * header.count(",") + "\n"])
    with pytest.raises(DatasetError, match=r"patients\.csv, line 4: index_date is written day/"):
        read_cohort(folder, errors="skip")


@pytest.mark.parametrize("line", [2, 5])
def test_a_line_with_more_fields_than_the_header_is_refused_at_its_line(folder, line):
    # On line 2 pandas would take the first column as the index and shift every other one.
    text = (folder / "patients.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    text[line - 1] = text[line - 1].rstrip("\n") + ",extra\n"
    (folder / "patients.csv").write_text("".join(text), encoding="utf-8")
    for errors in ("raise", "skip"):
        with pytest.raises(DatasetError, match=rf"patients\.csv, line {line}: the line has more"):
            read_cohort(folder, errors=errors)


def test_a_row_with_two_problems_is_skipped_and_counted_once(folder):
    edit(
        folder,
        "images.csv",
        lambda t: t.assign(
            subject_id=t["subject_id"].where(t.index != 1, "nobody"),
            path=t["path"].where(t.index != 1, "images/nowhere.dcm"),
        ),
    )
    with pytest.raises(DatasetError, match=r"images\.csv, line 3: an image of a patient"):
        read_cohort(folder)
    message = skipped_warning(folder)
    assert "images.csv: unknown patient 1." in message and "image not found" not in message
