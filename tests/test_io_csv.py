"""CSV readers: long extracts, wide extracts, errors with line numbers, and the synthetic
cohort's events.csv and FHIR files read back to the cohort's own events table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ramultimodal.io import CSVReadError, as_events, read_events_csv, read_fhir, read_wide_csv


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_long_extract_with_user_columns_system_column_and_units(tmp_path):
    path = write(
        tmp_path / "labs.csv",
        (
            "pid,when,sys,test,value,units,comment\n"
            "007,2020-01-02T10:00:00+01:00,http://loinc.org,1988-5,1.2,mg/dL,\n"
            "007,2020-01-03,LOINC,718-7,8,mmol/L,\n"
            "008,2020-02,,MEDS_BIRTH,,,\n"
            "008,,http://snomed.info/sct,57676002,,,left hand\n"
        ),
    )
    events = read_events_csv(
        path,
        columns={
            "pid": "subject_id",
            "when": "time",
            "sys": "system",
            "test": "code",
            "value": "numeric_value",
            "units": "unit",
            "comment": "text_value",
        },
    )
    assert list(events["subject_id"]) == ["007", "007", "008", "008"]  # zeros kept
    crp = events.iloc[0]
    assert (crp["code"], crp["numeric_value"], crp["unit"]) == ("LOINC/1988-5", 12.0, "mg/L")
    assert crp["time"] == pd.Timestamp("2020-01-02 10:00")  # the offset dropped
    assert crp["source"] == "labs.csv:2"
    hemoglobin = events.iloc[1]
    assert hemoglobin["code"] == "LOINC/718-7"
    assert hemoglobin["numeric_value"] == pytest.approx(8 * 1.6114)
    assert list(events["code"][2:]) == ["SNOMED/57676002", "MEDS_BIRTH"]
    assert events.loc[events["code"] == "MEDS_BIRTH", "time"].item() == pd.Timestamp("2020-02-29")
    assert events.loc[events["code"] == "SNOMED/57676002", "text_value"].item() == "left hand"


def test_system_code_tokens_and_time_format(tmp_path):
    path = write(
        tmp_path / "e.csv", "subject_id,time,code\np1,03/04/2021,http://loinc.org|4537-7\n"
    )
    events = read_events_csv(path, time_format="%d/%m/%Y")
    assert events.loc[0, "code"] == "LOINC/4537-7"
    assert events.loc[0, "time"] == pd.Timestamp("2021-04-03")


@pytest.mark.parametrize(
    ("row", "reason", "message"),
    [
        (",2020-01-01,LOINC/1988-5,1,mg/L", "no subject", "line 3: the row has no subject_id"),
        ("p1,yesterday,LOINC/1988-5,1,mg/L", "bad time", "line 3: the time is not a time"),
        ("p1,2020-01-01,LOINC/1988-5,high,mg/L", "bad number", "line 3: numeric_value"),
        ("p1,2020-01-01,LOINC/1988-5,1,furlong", "unknown unit", "line 3: LOINC/1988-5: an unkn"),
        ("p1,2020-01-01,,1,mg/L", "no code", "line 3: the row has no code"),
    ],
)
def test_bad_rows_name_file_and_line_or_are_counted(tmp_path, row, reason, message):
    path = write(
        tmp_path / "bad.csv",
        (
            "subject_id,time,code,numeric_value,unit\n"
            "p1,2020-01-01,LOINC/1988-5,0.5,mg/dL\n" + row + "\n"
        ),
    )
    with pytest.raises(CSVReadError, match=f"bad.csv, {message}"):
        read_events_csv(path)
    events = read_events_csv(path, errors="skip")
    assert len(events) == 1 and events.loc[0, "numeric_value"] == 5.0
    report = events.attrs["read_report"]
    assert report.skipped == {reason: 1} and report.rows == 2
    assert report.problems[0].startswith("bad.csv, line 3")


def test_missing_required_columns_say_how_to_map_them(tmp_path):
    path = write(tmp_path / "x.csv", "patient,test\np1,LOINC/1988-5\n")
    with pytest.raises(CSVReadError, match=r"no subject_id or code column .*columns=\{"):
        read_events_csv(path)
    events = read_events_csv(path, columns={"patient": "subject_id", "test": "code"})
    assert events.loc[0, "code"] == "LOINC/1988-5" and pd.isna(events.loc[0, "time"])


def test_wide_extract_with_mapping_units_and_demographics(tmp_path):
    path = write(
        tmp_path / "wide.csv",
        (
            "id,sex,born,visit,crp,esr,rf_status,notes\n"
            "p1,female,1960-05-01,2020-01-02,1.5,30,positive,x\n"
            "p2,male,1955-01-01,2020-03-04,<0.5,12,,y\n"
        ),
    )
    events = read_wide_csv(
        path,
        subject_column="id",
        time_column="visit",
        mapping={
            "sex": "GENDER",
            "born": "MEDS_BIRTH",
            "crp": "LOINC/1988-5",
            "esr": "LOINC/4537-7",
            "rf_status": "LOINC/11572-5",
        },
        units={"crp": "mg/dL"},
    )
    p1 = events[events["subject_id"] == "p1"].set_index("code")
    assert p1.loc["LOINC/1988-5", "numeric_value"] == 15.0
    assert p1.loc["LOINC/1988-5", "unit"] == "mg/L"
    assert p1.loc["LOINC/4537-7", "unit"] == "mm/h"  # no unit given: the canonical one
    assert p1.loc["LOINC/11572-5", "text_value"] == "positive"
    assert np.isnan(p1.loc["LOINC/11572-5", "numeric_value"])
    assert p1.loc["MEDS_BIRTH", "time"] == pd.Timestamp("1960-05-01")
    assert pd.isna(p1.loc["GENDER/female", "time"])
    assert p1.loc["LOINC/4537-7", "time"] == pd.Timestamp("2020-01-02")
    p2 = events[events["subject_id"] == "p2"]
    assert sorted(p2["code"]) == ["GENDER/male", "LOINC/1988-5", "LOINC/4537-7", "MEDS_BIRTH"]
    crp = p2.set_index("code").loc["LOINC/1988-5"]
    assert (crp["numeric_value"], crp["text_value"]) == (5.0, "<")
    assert set(p2["source"]) == {"wide.csv:3"}
    assert events.attrs["read_report"].columns_ignored == ["notes"]


def test_wide_extract_errors(tmp_path):
    path = write(tmp_path / "w.csv", "subject_id,visit,crp\np1,2020-01-02,1\np2,2020-01-02,2\n")
    with pytest.raises(CSVReadError, match=r"no column \['hb'\]"):
        read_wide_csv(path, mapping={"hb": "LOINC/718-7"})
    with pytest.raises(CSVReadError, match=r"w\.csv, line 2 \(and 1 more lines\): .*unknown unit"):
        read_wide_csv(path, mapping={"crp": "LOINC/1988-5"}, units={"crp": "furlong"})


def test_synthetic_cohort_reads_back_from_csv_bundles_and_ndjson(tmp_path):
    synthetic = pytest.importorskip("ramultimodal.synthetic")
    cohort = synthetic.make_cohort(12, seed=3, render_images=False)
    truth = as_events(cohort.events)
    out = synthetic.write_cohort(
        cohort, tmp_path / "cohort", formats=["csv", "fhir-bundles", "fhir-ndjson"], gzip=True
    )
    pd.testing.assert_frame_equal(read_events_csv(Path(out) / "events.csv"), truth)
    for folder in ("bundles", "ndjson"):
        events = read_fhir(Path(out) / "fhir" / folder)
        assert not events.attrs["read_report"].skipped
        # The source differs by design: the resource each fact came from.
        pd.testing.assert_frame_equal(events.drop(columns="source"), truth.drop(columns="source"))


def test_comparators_in_the_value_column_become_text_values(tmp_path):
    path = write(
        tmp_path / "c.csv",
        (
            "subject_id,time,code,numeric_value,unit\n"
            "p1,2020-01-01,LOINC/1988-5,<0.5,mg/dL\n"
            "p1,2020-01-02,LOINC/1988-5,>= 300,mg/L\n"
        ),
    )
    events = read_events_csv(path)
    assert events["numeric_value"].tolist() == [5.0, 300.0]
    assert events["text_value"].tolist() == ["<", ">="]


def test_any_events_table_written_by_to_csv_reads_back_identical(tmp_path):
    events = as_events(
        [
            {
                "subject_id": "001",
                "time": "2020-01-02T10:11:12.345678",
                "code": "LOINC/1988-5",
                "numeric_value": 0.1 + 0.2,
                "unit": "mg/L",
                "source": "Observation/a",
            },
            {"subject_id": "001", "code": "GENDER/female", "source": "Patient/001"},
            {
                "subject_id": "002",
                "time": "1960-01-01",
                "code": "LOINC/72166-2",
                "text_value": "NA",
                "source": "Observation/b",
            },
            {
                "subject_id": "002",
                "time": "2021-05-06 07:08:09",
                "code": "QR/note",
                "text_value": 'says "stiff, mornings"',
                "source": "QuestionnaireResponse/q",
            },
        ]
    )
    events.to_csv(tmp_path / "events.csv", index=False)
    pd.testing.assert_frame_equal(read_events_csv(tmp_path / "events.csv"), events)
