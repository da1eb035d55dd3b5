"""CSV extracts as hospitals hand them out (issue 13): encodings, empty and ragged files,
decimal commas, units in the cells, inf and nan, words for sex and smoking.

Each is read right or refused in one line that names the file and line and says what to
do, and never shows a patient's id or birth date; with errors="skip" the rest is read and
the skipped rows are counted by reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ramultimodal.io import CSVReadError, read_events_csv, read_wide_csv

# What no message may show.
MRN, BORN = "MRN-4711", "1961-07-14"
LONG_HEADER = "subject_id,time,code,numeric_value,unit,text_value\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def refused(read, path: Path, where: str, **kwargs) -> str:
    """The error of ``read(path, **kwargs)``: one line, naming `where`, no patient data."""
    with pytest.raises(CSVReadError) as caught:
        read(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.name}, {where}") or message.startswith(where), message
    assert MRN not in message and BORN not in message
    return message


def skipped(events: pd.DataFrame) -> dict[str, int]:
    report = events.attrs["read_report"]
    assert not any(MRN in p or BORN in p for p in report.problems)
    return dict(report.skipped)


def test_1_latin1_files_are_refused_naming_the_line_or_read_with_encoding(tmp_path):
    text = (
        LONG_HEADER + f"{MRN},2020-01-02,LOINC/1988-5,3,µg/mL,\n"
        f"{MRN},2020-01-03,SNOMED/57676002,,,douleur à la main\n"
    )
    path = write(tmp_path / "latin.csv", text, "latin-1")
    message = refused(read_events_csv, path, "line 2")
    assert "encoding=" in message and "utf-8" in message
    # Not a bad row but a file in another encoding: errors="skip" cannot read past it.
    refused(read_events_csv, path, "line 2", errors="skip")
    events = read_events_csv(path, encoding="latin-1")
    assert events["numeric_value"].iloc[0] == 3.0 and events["unit"].iloc[0] == "mg/L"
    assert events["text_value"].iloc[1] == "douleur à la main"

    wide = write(tmp_path / "wide.csv", f"id,name\n{MRN},x\n{MRN},Ren\xe9e\n", "latin-1")
    assert "encoding=" in refused(read_wide_csv, wide, "line 3", subject_column="id", mapping={})
    # A byte order mark (Excel's "CSV UTF-8") is not part of the first column's name.
    bom = write(tmp_path / "bom.csv", "\ufeff" + LONG_HEADER + f"{MRN},,LOINC/1988-5,1,mg/L,\n")
    assert read_events_csv(bom)["subject_id"].tolist() == [MRN]
    with pytest.raises(ValueError, match="unknown encoding"):
        read_events_csv(bom, encoding="no-such-codec")


def test_2_empty_files_and_ragged_lines(tmp_path):
    empty = write(tmp_path / "empty.csv", "")
    assert "is empty" in refused(read_events_csv, empty, "empty.csv is empty")
    refused(read_wide_csv, empty, "empty.csv is empty", mapping={})
    # A header without rows is a valid extract of nobody.
    header = write(tmp_path / "header.csv", LONG_HEADER)
    assert len(read_events_csv(header)) == 0
    assert len(read_wide_csv(header, mapping={"numeric_value": "LOINC/1988-5"})) == 0

    ragged = write(
        tmp_path / "ragged.csv",
        LONG_HEADER
        + f"{MRN},2020-01-02,LOINC/1988-5,1,mg/L,\n"
        + f"{MRN},2020-01-03,LOINC/1988-5,1,5,mg/L,\n"  # an unquoted decimal comma
        + "\n"  # a blank line is no row, but a line
        + f"{MRN},2020-01-05,LOINC/1988-5,2,mg/L,\n",
    )
    assert "more fields than the header" in refused(read_events_csv, ragged, "line 3")
    events = read_events_csv(ragged, errors="skip")
    assert events["source"].tolist() == ["ragged.csv:2", "ragged.csv:5"]
    assert skipped(events) == {"ragged row": 1}
    assert events.attrs["read_report"].rows == 3

    # Every line one field longer than the header: pandas took the first column as the
    # index and shifted every other one.
    shifted = write(
        tmp_path / "shifted.csv",
        "subject_id,time,code\n" + f"{MRN},2020-01-02,LOINC/1988-5,1\n" * 2,
    )
    refused(read_events_csv, shifted, "line 2")
    # The same on line 2 alone, with an empty last field, which pandas dropped.
    first = write(
        tmp_path / "first.csv", LONG_HEADER + f"{MRN},2020-01-03,LOINC/1988-5,1,5,mg/L,\n"
    )
    refused(read_events_csv, first, "line 2", errors="skip")
    refused(read_wide_csv, shifted, "line 2", mapping={"code": "LOINC/1988-5"}, errors="skip")
    wide = write(tmp_path / "w.csv", f"subject_id,crp\n{MRN},1\n{MRN},1,5\n{MRN},2\n")
    refused(read_wide_csv, wide, "line 3", mapping={"crp": "LOINC/1988-5"})
    events = read_wide_csv(wide, mapping={"crp": "LOINC/1988-5"}, errors="skip")
    assert events["numeric_value"].tolist() == [1.0, 2.0] and skipped(events) == {"ragged row": 1}


def test_3_decimal_commas_are_read_with_decimal_or_refused(tmp_path):
    path = write(
        tmp_path / "eu.csv",
        f"id;born;visit;crp\n{MRN};{BORN};2020-01-02;12,5\n{MRN};{BORN};2020-02-03;positive\n",
    )
    mapping = {"born": "MEDS_BIRTH", "crp": "LOINC/1988-5"}
    kwargs = {"subject_column": "id", "time_column": "visit", "mapping": mapping, "sep": ";"}
    message = refused(read_wide_csv, path, "line 2", **kwargs)
    assert "column 'crp'" in message and "decimal=','" in message
    crp = read_wide_csv(path, decimal=",", **kwargs).set_index("code").loc["LOINC/1988-5"]
    assert crp["numeric_value"].tolist()[0] == 12.5 and crp["text_value"].tolist()[1] == "positive"
    events = read_wide_csv(path, errors="skip", **kwargs)
    assert events["text_value"].dropna().tolist() == ["positive"]
    assert skipped(events) == {"decimal comma": 1}

    # Long extracts: ";" separated, or "," with the value quoted.
    long = write(tmp_path / "long.csv", LONG_HEADER + f'{MRN},,LOINC/1988-5,"0,3",mg/dL,\n')
    assert "decimal=','" in refused(read_events_csv, long, "line 2")
    assert read_events_csv(long, decimal=",")["numeric_value"].item() == 3.0
    semicolons = LONG_HEADER.replace(",", ";") + f"{MRN};;LOINC/777-3;250.000;/uL;\n"
    path = write(tmp_path / "dots.csv", semicolons)
    # With decimal commas, a "." groups thousands: 250.000 is not 250.
    assert "thousands" in refused(read_events_csv, path, "line 2", sep=";", decimal=",")


def test_4_units_in_the_cells_are_converted_or_refused(tmp_path):
    path = write(
        tmp_path / "u.csv",
        "id,crp,esr\n"
        f"{MRN},3 mg/dl,30 mm/h\n{MRN},12.5 mg/L,\n{MRN},<5 mg/L,\n{MRN},7,12\n{MRN},0.3mg/dL,\n",
    )
    mapping = {"crp": "LOINC/1988-5", "esr": "LOINC/4537-7"}
    events = read_wide_csv(path, subject_column="id", mapping=mapping)
    crp = events[events["code"] == "LOINC/1988-5"].sort_values("source")
    assert crp["numeric_value"].tolist() == [30.0, 12.5, 5.0, 7.0, 3.0]
    assert crp["text_value"].tolist()[2] == "<"
    assert set(events["unit"]) == {"mg/L", "mm/h"}

    unknown = write(tmp_path / "x.csv", f"id,crp\n{MRN},3 mg/dL\n{MRN},3 furlong\n")
    kwargs = {"subject_column": "id", "mapping": {"crp": "LOINC/1988-5"}}
    message = refused(read_wide_csv, unknown, "line 3", **kwargs)
    assert "unknown unit" in message and "furlong" not in message  # a cell is never quoted
    events = read_wide_csv(unknown, errors="skip", **kwargs)
    assert events["numeric_value"].tolist() == [30.0] and skipped(events) == {"unknown unit": 1}
    # A unit in the cell and in units= must agree ("mg/l" is "mg/L").
    agree = write(tmp_path / "a.csv", f"id,crp\n{MRN},3 mg/l\n{MRN},4\n{MRN},3 mg/dL\n")
    kwargs = {"subject_column": "id", "mapping": {"crp": "LOINC/1988-5"}, "units": {"crp": "mg/L"}}
    assert "unit conflict" not in refused(read_wide_csv, agree, "line 4", **kwargs)
    events = read_wide_csv(agree, errors="skip", **kwargs)
    assert events["numeric_value"].tolist() == [3.0, 4.0] and skipped(events) == {
        "unit conflict": 1
    }

    # Long extracts: the cell's unit when the unit column is empty; else the two agree.
    long = write(
        tmp_path / "long.csv",
        LONG_HEADER
        + f"{MRN},,LOINC/1988-5,3 mg/dL,,\n{MRN},,LOINC/1988-5,4 mg/L,mg/L,\n"
        + f"{MRN},,LOINC/1988-5,3 mg/dL,mg/L,\n",
    )
    assert "'mg/dL'" in refused(read_events_csv, long, "line 4")
    events = read_events_csv(long, errors="skip")
    assert sorted(events["numeric_value"]) == [4.0, 30.0] and set(events["unit"]) == {"mg/L"}
    assert skipped(events) == {"unit conflict": 1}


@pytest.mark.parametrize("word", ["inf", "-inf", "nan", "NaN", "Infinity", "1e999", "< inf"])
def test_5_inf_and_nan_are_bad_numbers_and_empty_cells_missing(tmp_path, word):
    long = write(
        tmp_path / "l.csv",
        LONG_HEADER + f"{MRN},,LOINC/1988-5,1,mg/L,\n{MRN},,LOINC/1988-5,{word},mg/L,\n"
        f"{MRN},,LOINC/1988-5,,,\n",
    )
    assert "finite" in refused(read_events_csv, long, "line 3")
    events = read_events_csv(long, errors="skip")
    assert np.isnan(events["numeric_value"].iloc[0])  # the empty cell: missing, no error
    assert events["numeric_value"].iloc[1] == 1.0 and skipped(events) == {"bad number": 1}

    wide = write(tmp_path / "w.csv", f"id,crp\n{MRN},1\n{MRN},{word}\n{MRN},\n")
    kwargs = {"subject_column": "id", "mapping": {"crp": "LOINC/1988-5"}}
    assert "column 'crp'" in refused(read_wide_csv, wide, "line 3", **kwargs)
    events = read_wide_csv(wide, errors="skip", **kwargs)
    assert events["numeric_value"].tolist() == [1.0] and skipped(events) == {"bad number": 1}


def test_6_sex_and_smoking_words_become_the_codes_the_featurizer_reads(tmp_path):
    words = [
        ("M", "current", "GENDER/male", "SNOMED/77176002"),
        ("F", "Ex-Smoker", "GENDER/female", "SNOMED/8517006"),
        ("male", "never", "GENDER/male", "SNOMED/266919005"),
        ("Female", "No", "GENDER/female", "SNOMED/266919005"),
        ("m", "yes", "GENDER/male", "SNOMED/77176002"),
        (" w ", "former", "GENDER/female", "SNOMED/8517006"),
        ("other", "non-smoker", "GENDER/other", "SNOMED/266919005"),
        ("Unknown", "SNOMED/8517006", "GENDER/unknown", "SNOMED/8517006"),
    ]
    lines = [f"p{n},{sex},{smoking},2020-01-02,3" for n, (sex, smoking, _, _) in enumerate(words)]
    path = write(tmp_path / "d.csv", "id,sex,smoker,visit,crp\n" + "\n".join(lines) + "\n")
    mapping = {"sex": "GENDER", "smoker": "LOINC/72166-2", "crp": "LOINC/1988-5"}
    kwargs = {"subject_column": "id", "time_column": "visit", "mapping": mapping}
    events = read_wide_csv(path, **kwargs)
    by_subject = events.set_index("subject_id")
    for n, (_, _, sex, smoking) in enumerate(words):
        patient = by_subject.loc[f"p{n}"]
        assert sex in set(patient["code"])
        assert patient.loc[patient["code"] == "LOINC/72166-2", "text_value"].item() == smoking

    from ramultimodal.ehr import EHRFeaturizer

    index = pd.DataFrame({"index_date": pd.Timestamp("2020-06-01")}, index=by_subject.index)
    index = index[~index.index.duplicated()]
    featurizer = EHRFeaturizer(events=events, include_scores=False).fit(index)
    features = pd.DataFrame(
        featurizer.transform(index),
        index=index.index,
        columns=featurizer.get_feature_names_out(),
    )
    assert features["sex_female"].tolist()[:6] == [0, 1, 0, 1, 0, 1]
    assert features["smoking_former"].tolist() == [0, 1, 0, 0, 0, 1, 0, 1]
    assert features["smoking_current"].tolist() == [1, 0, 0, 0, 1, 0, 0, 0]

    for column, bad in (("sex", "X"), ("smoker", "sometimes")):
        cells = {"sex": "F", "smoker": "never"} | {column: bad}
        hostile = write(
            tmp_path / f"{column}.csv",
            "id,born,sex,smoker,visit\n"
            f"p0,1950-01-01,M,former,2020-01-02\n{MRN},{BORN},{cells['sex']},"
            f"{cells['smoker']},2020-01-02\n",
        )
        kwargs["mapping"] = mapping | {"born": "MEDS_BIRTH"}
        kwargs["mapping"].pop("crp")
        message = refused(read_wide_csv, hostile, "line 3", **kwargs)
        assert f"column {column!r}" in message and bad not in message
        events = read_wide_csv(hostile, errors="skip", **kwargs)
        assert set(events["subject_id"]) == {"p0"}
        assert skipped(events) == {"bad sex" if column == "sex" else "bad smoking status": 1}


def test_text_in_a_measured_column_is_not_a_fact(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("id,crp,rf\np1,N/A,positive\np2,4,negative\n")
    mapping = {"crp": "LOINC/1988-5", "rf": "LOINC/11572-5"}
    with pytest.raises(CSVReadError, match=r"line 2: column 'crp' holds text where"):
        read_wide_csv(path, mapping=mapping, subject_column="id")
    events = read_wide_csv(path, mapping=mapping, subject_column="id", na_values=["N/A"])
    crp = events[events["code"] == "LOINC/1988-5"]
    assert crp["subject_id"].tolist() == ["p2"]  # "N/A": missing, as said
    assert events[events["code"] == "LOINC/11572-5"]["text_value"].tolist() == [
        "positive", "negative",
    ]  # fmt: skip


def test_a_result_word_is_read_as_the_fhir_reader_reads_it(tmp_path):
    # One fold for every reader (terminology.words.fold_word): case, ends and inner runs
    # of white space do not matter, in a CSV cell as in a FHIR display.
    path = tmp_path / "w.csv"
    path.write_text("id,rf\np1,NOT   Detected\np2, Positive \n")
    events = read_wide_csv(path, mapping={"rf": "LOINC/11572-5"}, subject_column="id")
    assert events["subject_id"].tolist() == ["p1", "p2"]


def test_a_value_out_of_range_once_converted_is_a_bad_number(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("subject_id,code,numeric_value,unit\np,LOINC/1988-5,5e307,mg/dL\n")
    with pytest.raises(CSVReadError, match="out of range once converted"):
        read_events_csv(path)
