"""write_cohort: the exact folder layout, readable contents, determinism, no half-written output."""

from __future__ import annotations

import gzip
import importlib
import json
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pydicom
import pytest
from PIL import Image

from ramultimodal.io import as_events
from ramultimodal.synthetic import FORMATS, make_cohort, write_cohort
from ramultimodal.synthetic import _write as write_module

RESOURCE_TYPES = {
    "Patient",
    "Encounter",
    "Observation",
    "QuestionnaireResponse",
    "Condition",
    "MedicationRequest",
    "ImagingStudy",
}


@pytest.fixture(scope="module")
def cohort():
    return make_cohort(12, image_size=64, seed=3, monochrome1_rate=0.5)


@pytest.fixture(scope="module")
def written(cohort, tmp_path_factory) -> Path:
    return write_cohort(cohort, tmp_path_factory.mktemp("w") / "cohort")


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_layout_is_exactly_the_documented_one(cohort, written):
    subjects = cohort.patients.index
    expected = {".ramultimodal", "cohort.json", "patients.csv", "labels.csv", "events.csv"}
    expected |= {"images.csv", "joints.csv"}
    expected |= {f"fhir/bundles/{s}.json" for s in subjects}
    expected |= {f"fhir/ndjson/{t}.ndjson" for t in RESOURCE_TYPES}
    expected |= {f"images/{i}.{suffix}" for i in cohort.images.index for suffix in ("dcm", "png")}
    assert files(written) == expected
    # Nothing left beside it: the temporary folder was renamed into place.
    assert [p.name for p in written.parent.iterdir()] == ["cohort"]


def test_tables(cohort, written):
    patients = pd.read_csv(written / "patients.csv")
    assert patients.columns.tolist() == ["subject_id", "sex", "birth_date", "index_date"]
    assert patients["subject_id"].tolist() == cohort.patients.index.tolist()
    assert patients["index_date"].tolist() == (
        cohort.patients["index_date"].dt.strftime("%Y-%m-%d").tolist()
    )
    labels = pd.read_csv(written / "labels.csv")
    assert labels.columns.tolist() == [
        "subject_id", "ra", "diagnosis", "time_to_ra_days", "event", "time_to_acr_eular_days",
        "acr_eular_event",
    ]  # fmt: skip
    assert labels["ra"].tolist() == cohort.labels["ra"].astype(int).tolist()
    assert labels["acr_eular_event"].tolist() == (
        cohort.labels["acr_eular_event"].astype(int).tolist()
    )
    events = as_events(pd.read_csv(written / "events.csv"))
    pd.testing.assert_frame_equal(events, as_events(cohort.events))
    images = pd.read_csv(written / "images.csv")
    assert images.columns.tolist() == [
        "subject_id",
        "path",
        "body_part",
        "laterality",
        "study_time",
    ]
    assert images["path"].str.endswith(".dcm").all()
    assert all((written / path).is_file() for path in images["path"])
    assert images["subject_id"].tolist() == cohort.images["subject_id"].tolist()


def test_dicom_and_png_hold_the_cohort_pixels(cohort, written):
    assert cohort.images["monochrome1"].any()
    for image_id, image in cohort.images.iterrows():
        ds = pydicom.dcmread(written / "images" / f"{image_id}.dcm")
        assert ds.PatientID == image["subject_id"]
        assert (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID) == (
            image["study_uid"],
            image["series_uid"],
            image["sop_uid"],
        )
        assert ds.ImageLaterality == image["laterality"]
        assert ds.StudyDate == image["study_time"].strftime("%Y%m%d")
        pixels = cohort.pixels[image_id]
        stored = 4095 - pixels if image["monochrome1"] else pixels
        assert ds.PhotometricInterpretation == (
            "MONOCHROME1" if image["monochrome1"] else "MONOCHROME2"
        )
        np.testing.assert_array_equal(ds.pixel_array, stored)
        with Image.open(written / "images" / f"{image_id}.png") as png:
            np.testing.assert_array_equal(np.asarray(png) >> 4, pixels)


def test_fhir_patient_is_the_dicom_patient(cohort, written):
    image = cohort.images.iloc[0]
    bundle = orjson.loads(
        (written / "fhir" / "bundles" / f"{image['subject_id']}.json").read_bytes()
    )
    patient = bundle["entry"][0]["resource"]
    assert patient["resourceType"] == "Patient" and patient["id"] == image["subject_id"]
    [study] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ImagingStudy"
    ]
    assert study["identifier"][0]["value"] == f"urn:oid:{image['study_uid']}"
    assert study["series"][0]["instance"][0]["uid"] == image["sop_uid"]


def test_every_resource_validates_as_r4(written):
    for path in sorted((written / "fhir" / "ndjson").iterdir()):
        resource_type = path.name.split(".")[0]
        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
        model = getattr(module, resource_type)
        for line in path.read_bytes().splitlines():
            model.model_validate_json(line)
    from fhir.resources.R4B.bundle import Bundle

    for path in sorted((written / "fhir" / "bundles").iterdir())[:3]:
        Bundle.model_validate_json(path.read_bytes())


def test_read_fhir_gives_the_cohort_events_back(cohort, written):
    io = importlib.import_module("ramultimodal.io")
    if not hasattr(io, "read_fhir"):
        pytest.skip("ramultimodal.io.read_fhir is not there yet")
    expected = as_events(cohort.events).drop(columns="source")
    for folder in ("bundles", "ndjson"):
        read = io.read_fhir(written / "fhir" / folder).drop(columns="source")
        pd.testing.assert_frame_equal(read, expected)


def test_same_cohort_same_bytes(cohort, written, tmp_path):
    again = write_cohort(cohort, tmp_path / "again")
    assert files(again) == files(written)
    for name in sorted(files(written)):
        assert (again / name).read_bytes() == (written / name).read_bytes(), name


def test_formats_gzip_and_png_only_manifest(cohort, tmp_path):
    out = write_cohort(cohort, tmp_path / "c", formats=["fhir-ndjson", "png"], gzip=True)
    assert {p.split("/")[0] for p in files(out)} == {
        ".ramultimodal",
        "cohort.json",
        "patients.csv",
        "labels.csv",
        "images.csv",
        "joints.csv",
        "fhir",
        "images",
    }
    assert not (out / "fhir" / "bundles").exists()
    patients = gzip.decompress((out / "fhir" / "ndjson" / "Patient.ndjson.gz").read_bytes())
    assert len(patients.splitlines()) == len(cohort.patients)
    assert pd.read_csv(out / "images.csv")["path"].str.endswith(".png").all()
    with pytest.raises(ValueError, match="Unknown format"):
        write_cohort(cohort, tmp_path / "d", formats=["jpeg"])


def test_refuses_to_overwrite_unless_asked(cohort, tmp_path):
    out = write_cohort(cohort, tmp_path / "c", formats=["csv", "fhir-ndjson"])
    with pytest.raises(FileExistsError, match="already exists"):
        write_cohort(cohort, out, formats=["csv"])
    write_cohort(cohort, out, formats=["csv"], overwrite=True)
    assert files(out) == {".ramultimodal", "cohort.json", "patients.csv", "labels.csv"} | {
        "events.csv"
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_overwrite_never_replaces_a_folder_of_the_users(cohort, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not written by ramultimodal"):
        write_cohort(cohort, mine, formats=["csv"], overwrite=True)
    assert files(mine) == {"notes.txt"}
    # Nor another kind of ramultimodal output.
    report = tmp_path / "report"
    report.mkdir()
    (report / ".ramultimodal").write_text('{"written_by": "ramultimodal", "kind": "report"}')
    with pytest.raises(FileExistsError, match="holds a ramultimodal report, not a cohort"):
        write_cohort(cohort, report, formats=["csv"], overwrite=True)
    # An empty folder is fine.
    (tmp_path / "empty").mkdir()
    write_cohort(cohort, tmp_path / "empty", formats=["csv"])


def test_a_crash_leaves_nothing_that_looks_complete(cohort, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(write_module, "write_png", broken)
    with pytest.raises(OSError, match="disk full"):
        write_cohort(cohort, tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


def test_formats_constant():
    from ramultimodal.synthetic import DEFAULT_FORMATS

    assert FORMATS == ("fhir-bundles", "fhir-ndjson", "csv", "dicom", "png", "omop")
    assert DEFAULT_FORMATS == FORMATS[:-1]  # the OMOP database only when asked for


def test_both_hands_are_two_series_of_one_study(tmp_path):
    both = make_cohort(4, image_size=32, seed=2, images_per_patient=2, image_missing_rate=0)
    out = write_cohort(both, tmp_path / "c", formats=["fhir-ndjson", "dicom"])
    studies = [
        orjson.loads(line)
        for line in (out / "fhir" / "ndjson" / "ImagingStudy.ndjson").read_bytes().splitlines()
    ]
    assert len(studies) == 4 and len(both.images) == 8
    for study in studies:
        assert study["numberOfSeries"] == study["numberOfInstances"] == 2
        assert sorted(s["laterality"]["code"] for s in study["series"]) == ["24028007", "7771000"]


def test_cohort_json_marks_the_folder_synthetic(cohort, written):
    from ramultimodal.workflows import is_synthetic_cohort

    description = json.loads((written / "cohort.json").read_text())
    assert description["synthetic"] is True
    assert description["params"]["n_patients"] == len(cohort.patients)
    assert is_synthetic_cohort(written)
