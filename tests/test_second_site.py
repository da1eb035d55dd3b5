"""A second hospital's export of the same patients gives the same features and predictions.

Site A is the generator's folder. Site B holds the same facts the way another site writes
them: index dates day/month/year, events in a semicolon CSV with decimal commas and its own
column names, CRP in mg/dL and haemoglobin in mmol/L, RF and CRP under other equivalent
LOINC codes, times day-first with minutes, the radiographs in another folder. Read with the
options its export needs, it must give what site A gives; read without them, one line must
say which option to set.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ramultimodal.cli import main
from ramultimodal.fusion import save_model
from ramultimodal.io import DatasetError, read_cohort
from ramultimodal.models import make_pipeline
from ramultimodal.synthetic import make_cohort, write_cohort

pytestmark = pytest.mark.slow

# What site B writes instead of site A's codes, and its units (factor from A's values).
CODES = {"LOINC/11572-5": "LOINC/15205-8", "LOINC/1988-5": "LOINC/30522-7"}
UNITS = {"LOINC/1988-5": ("mg/dL", 0.1), "LOINC/718-7": ("mmol/L", 1 / 1.6114)}
COLUMNS = {"ipp": "subject_id", "date": "time", "test": "code", "result": "numeric_value",
           "units": "unit", "comment": "text_value"}  # fmt: skip


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    root = tmp_path_factory.mktemp("sites")
    a = write_cohort(make_cohort(40, image_size=32, seed=6), root / "a", formats=["csv", "dicom"])
    b = root / "b"
    b.mkdir()
    patients = pd.read_csv(a / "patients.csv", dtype=str)
    patients["index_date"] = pd.to_datetime(patients["index_date"]).dt.strftime("%d/%m/%Y")
    patients[["index_date", "subject_id", "sex"]].to_csv(b / "patients.csv", index=False)
    shutil.copy(a / "labels.csv", b / "labels.csv")

    events = pd.read_csv(a / "events.csv", dtype={"subject_id": str})
    value = events["numeric_value"].copy()
    unit = events["unit"].copy()
    for code, (their_unit, factor) in UNITS.items():
        rows = events["code"] == code
        value[rows], unit[rows] = value[rows] * factor, their_unit
    time = pd.to_datetime(events["time"]).dt.strftime("%d/%m/%Y %H:%M")
    site_b = pd.DataFrame(
        {
            "ipp": events["subject_id"],
            "date": time,
            "test": events["code"].replace(CODES),
            "result": [repr(v).replace(".", ",") if v == v else "" for v in value],
            "units": unit,
            "comment": events["text_value"],
        }
    )
    site_b.to_csv(b / "events.csv", sep=";", index=False)
    options = {"columns": COLUMNS, "sep": ";", "decimal": ",", "time_format": "%d/%m/%Y %H:%M"}
    (b / "events.json").write_text(json.dumps(options))

    images = pd.read_csv(a / "images.csv", dtype=str)
    (b / "radiology").mkdir()
    for path in images["path"]:
        shutil.copy(a / path, b / "radiology" / Path(path).name)
    images["path"] = "radiology/" + images["path"].map(lambda p: Path(p).name)
    images.to_csv(b / "images.csv", index=False)
    return a, b


@pytest.fixture(scope="module")
def pipeline(sites):
    records = read_cohort(sites[0])
    model = make_pipeline("early", image_params={"image_size": 32, "max_epochs": 2})
    return model.fit(records, records.labels.to_numpy())


def test_the_second_site_needs_its_date_format_said(sites, capsys):
    with pytest.raises(DatasetError, match=r"index_date is written day/month .*--date-format"):
        read_cohort(sites[1])
    assert main(["predict", "--model", "m", "--data", str(sites[1]), "--out", "p.csv"]) == 1


def test_the_second_site_gives_the_same_features_and_predictions(sites, pipeline, tmp_path):
    site_a = read_cohort(sites[0])
    site_b = read_cohort(sites[1], date_format="%d/%m/%Y")
    assert site_b.subject_ids.tolist() == site_a.subject_ids.tolist()
    features_a, features_b = pipeline.features(site_a), pipeline.features(site_b)
    numeric = features_a.columns.drop("image")
    np.testing.assert_allclose(
        features_b[numeric].to_numpy(), features_a[numeric].to_numpy(), rtol=1e-9, equal_nan=True
    )
    assert [len(i) for i in features_b["image"]] == [len(i) for i in features_a["image"]]
    np.testing.assert_allclose(
        pipeline.predict_proba(site_b), pipeline.predict_proba(site_a), atol=1e-6
    )
    # And from the command line, with the option the first run asked for.
    model = save_model(pipeline, tmp_path / "model")
    out = tmp_path / "b.csv"
    args = ["predict", "--model", str(model), "--data", str(sites[1]), "--out", str(out)]
    assert main([*args, "--date-format", "%d/%m/%Y"]) == 0
    written = pd.read_csv(out, index_col="subject_id")["proba"]
    expected = pipeline.predict_proba(site_a)[:, 1]
    np.testing.assert_allclose(written.loc[site_a.subject_ids], expected, atol=1e-6)
