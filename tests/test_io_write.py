"""FHIR, DICOM and PNG writers: valid R4 resources, the reading rules' inverse, real files."""

from __future__ import annotations

import gzip
import importlib

import numpy as np
import orjson
import pandas as pd
import pydicom
import pytest
from PIL import Image

from ramultimodal.io import (
    as_events,
    events_to_fhir,
    write_dicom,
    write_fhir_bundles,
    write_fhir_ndjson,
    write_png,
)

ANA = "0b0e6d50-1111-4000-8000-000000000001"
BEN = "0b0e6d50-2222-4000-8000-000000000002"
STUDY = "1.2.826.0.1.3680043.8.498.1"


def small_events() -> pd.DataFrame:
    """Two patients with one event of every kind the generator emits."""
    rows = [
        (ANA, None, "GENDER/female", None, None, None),
        (ANA, "1968-05-01", "MEDS_BIRTH", None, None, None),
        (ANA, "2020-01-10", "ENCOUNTER/AMB", None, None, None),
        (ANA, "2020-01-10", "SNOMED/57676002", None, None, None),
        (ANA, "2020-03-02T09:30:00", "ENCOUNTER/AMB", None, None, None),
        (ANA, "2020-03-02T09:30:00", "LOINC/1988-5", 12.5, None, "mg/L"),
        (ANA, "2020-03-02T09:30:00", "LOINC/1988-5", 3.0, "<", "mg/L"),
        (ANA, "2020-03-02T09:30:00", "LOINC/4537-7", 18.0, None, "mm/h"),
        (ANA, "2020-03-02T09:30:00", "LOINC/11572-5", 40.0, None, "[IU]/mL"),
        (ANA, "2020-03-02T09:30:00", "LOINC/88981-6", 7.0, None, "{#}"),
        (ANA, "2020-03-02T09:30:00", "LOINC/72514-3", 6.0, None, "{score}"),
        (ANA, "2020-03-02T09:30:00", "RAMULTIMODAL/morning-stiffness", 45.0, None, "min"),
        (ANA, "2020-03-02T09:30:00", "LOINC/72166-2", None, "SNOMED/8517006", None),
        (ANA, "2020-03-02T09:30:00", "RAMULTIMODAL/family-history-ra", 1.0, None, None),
        (ANA, "2020-03-02T09:30:00", "QR/haq-di-grip-2", 2.0, None, None),
        (ANA, "2020-03-02T09:30:00", "QR/haq-di-dressing-1", 1.0, None, None),
        (ANA, "2020-03-02T09:30:00", "DICOM/CR", None, STUDY, None),
        (ANA, "2020-05-04", "ENCOUNTER/AMB", None, None, None),
        (ANA, "2020-05-04", "SNOMED/239791005", None, None, None),
        (ANA, "2020-05-04", "ICD10CM/M06.4", None, None, None),
        (ANA, "2020-05-04", "RXNORM/6851", None, None, None),
        (BEN, None, "GENDER/male", None, None, None),
        (BEN, "1955-11-20", "MEDS_BIRTH", None, None, None),
        (BEN, "2021-07-01", "LOINC/4537-7", 18.0, None, "mm/h"),
        (BEN, "2021-07-01", "RAMULTIMODAL/family-history-ra", 0.0, None, None),
    ]
    columns = ["subject_id", "time", "code", "numeric_value", "text_value", "unit"]
    return as_events(pd.DataFrame(rows, columns=columns).assign(source="test"))


def small_images() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject_id": [ANA],
            "body_part": ["HAND"],
            "laterality": ["L"],
            "study_time": [pd.Timestamp("2020-03-02T09:30:00")],
            "pixel_spacing_mm": [0.2],
            "monochrome1": [True],
            "study_uid": [STUDY],
            "series_uid": [STUDY + ".1"],
            "sop_uid": [STUDY + ".1.1"],
        },
        index=pd.Index(["img-1"], name="image_id"),
    )


def by_type(resources: list[dict], resource_type: str) -> list[dict]:
    return [r for r in resources if r["resourceType"] == resource_type]


@pytest.fixture(scope="module")
def resources() -> dict[str, list[dict]]:
    return events_to_fhir(small_events(), images=small_images())


def test_every_resource_validates_as_r4(resources):
    for patient_resources in resources.values():
        for resource in patient_resources:
            module = importlib.import_module(
                f"fhir.resources.R4B.{resource['resourceType'].lower()}"
            )
            model = getattr(module, resource["resourceType"])
            model.model_validate(resource)  # raises on anything R4 does not allow


def test_resources_per_patient(resources):
    assert list(resources) == [ANA, BEN]
    kinds = [r["resourceType"] for r in resources[ANA]]
    assert kinds[0] == "Patient"
    assert kinds.count("Encounter") == 3
    assert kinds.count("Observation") == 9
    assert kinds.count("QuestionnaireResponse") == 1
    assert kinds.count("Condition") == 3
    assert kinds.count("MedicationRequest") == 1
    assert kinds.count("ImagingStudy") == 1
    patient = resources[ANA][0]
    assert patient["id"] == ANA
    assert (patient["gender"], patient["birthDate"]) == ("female", "1968-05-01")


def test_ids_are_deterministic_and_unique(resources):
    again = events_to_fhir(small_events(), images=small_images())
    assert again == resources
    ids = [r["id"] for rs in resources.values() for r in rs]
    assert len(ids) == len(set(ids))


def test_observation_values_follow_the_reading_rules(resources):
    observations = by_type(resources[ANA], "Observation")
    crp_low, crp_high = [o for o in observations if o["code"]["coding"][0]["code"] == "1988-5"]
    assert crp_high["valueQuantity"] == {
        "value": 12.5,
        "unit": "mg/L",
        "system": "http://unitsofmeasure.org",
        "code": "mg/L",
    }
    assert crp_high["interpretation"][0]["coding"][0]["code"] == "H"
    assert crp_high["referenceRange"][0]["high"]["value"] == 5
    assert crp_high["effectiveDateTime"] == "2020-03-02T09:30:00Z"
    assert crp_high["category"][0]["coding"][0]["code"] == "laboratory"
    assert crp_low["valueQuantity"]["comparator"] == "<"
    assert crp_low["interpretation"][0]["coding"][0]["code"] == "N"
    # ESR's upper limit of normal is 20 mm/h in women and 15 mm/h in men (CLINICAL.md).
    esr_ana = next(o for o in observations if o["code"]["coding"][0]["code"] == "4537-7")
    esr_ben = next(
        o
        for o in by_type(resources[BEN], "Observation")
        if o["code"]["coding"][0]["code"] == "4537-7"
    )
    assert esr_ana["interpretation"][0]["coding"][0]["code"] == "N"
    assert esr_ben["interpretation"][0]["coding"][0]["code"] == "H"
    smoking = next(o for o in observations if o["code"]["coding"][0]["code"] == "72166-2")
    assert smoking["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "8517006",
        "display": "Ex-smoker",
    }
    family = next(o for o in observations if "family-history-ra" in o["code"]["coding"][0]["code"])
    assert family["valueBoolean"] is True
    pain = next(o for o in observations if o["code"]["coding"][0]["code"] == "72514-3")
    assert pain["category"][0]["coding"][0]["code"] == "survey"
    assert "referenceRange" not in pain


def test_same_day_resources_refer_to_their_encounter(resources):
    encounters = {e["period"]["start"][:10]: e["id"] for e in by_type(resources[ANA], "Encounter")}
    for resource in resources[ANA][1:]:
        if resource["resourceType"] == "Encounter":
            continue
        day = next(
            resource[k]
            for k in ("effectiveDateTime", "onsetDateTime", "authoredOn", "authored", "started")
            if k in resource
        )[:10]
        assert resource["encounter"]["reference"] == f"Encounter/{encounters[day]}"
    # Ben has no Encounter: his Observations have none either.
    assert all("encounter" not in r for r in resources[BEN])


def test_condition_medication_questionnaire_imaging(resources):
    conditions = by_type(resources[ANA], "Condition")
    codes = [
        [c["system"].rsplit("/", 1)[-1] + "|" + c["code"] for c in r["code"]["coding"]]
        for r in conditions
    ]
    assert codes == [
        ["sct|57676002", "icd-10-cm|M25.50"],
        ["icd-10-cm|M06.4"],
        ["sct|239791005", "icd-10-cm|M05.79"],
    ]
    assert conditions[0]["onsetDateTime"] == "2020-01-10"
    assert conditions[0]["clinicalStatus"]["coding"][0]["code"] == "active"
    [request] = by_type(resources[ANA], "MedicationRequest")
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "6851"
    assert (request["status"], request["intent"], request["authoredOn"]) == (
        "active",
        "order",
        "2020-05-04",
    )
    [response] = by_type(resources[ANA], "QuestionnaireResponse")
    assert response["questionnaire"].endswith("/Questionnaire/haq-di")
    assert response["item"] == [  # questionnaire order, not alphabetical
        {"linkId": "haq-di-dressing-1", "answer": [{"valueInteger": 1}]},
        {"linkId": "haq-di-grip-2", "answer": [{"valueInteger": 2}]},
    ]
    [study] = by_type(resources[ANA], "ImagingStudy")
    assert study["identifier"][0]["value"] == f"urn:oid:{STUDY}"
    [series] = study["series"]
    assert series["uid"] == STUDY + ".1"
    assert series["instance"][0]["uid"] == STUDY + ".1.1"
    assert (series["bodySite"]["code"], series["laterality"]["code"]) == ("85562004", "7771000")


def test_values_that_would_be_lost_are_refused():
    events = small_events()
    bad = pd.concat(
        [
            events,
            as_events(
                [
                    {
                        "subject_id": ANA,
                        "time": "2020-01-10",
                        "code": "RXNORM/6851",
                        "numeric_value": 7.5,
                    }
                ]
            ),
        ]
    )
    with pytest.raises(ValueError, match="MedicationRequest cannot hold a value"):
        events_to_fhir(bad)
    unknown = as_events([{"subject_id": ANA, "time": "2020-01-10", "code": "FOO/1"}])
    with pytest.raises(ValueError, match="no known code system"):
        events_to_fhir(unknown)


def test_bundles_use_urn_uuid_references(resources, tmp_path):
    paths = write_fhir_bundles(resources, tmp_path)
    assert [p.name for p in paths] == [f"{ANA}.json", f"{BEN}.json"]
    bundle = orjson.loads(paths[0].read_bytes())
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    assert bundle["type"] == "transaction"
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    references = _references(bundle)
    assert references and references <= full_urls
    assert all(
        e["request"] == {"method": "POST", "url": e["resource"]["resourceType"]}
        for e in bundle["entry"]
    )


def test_ndjson_one_file_per_type_with_rest_references(resources, tmp_path):
    paths = write_fhir_ndjson(resources, tmp_path / "plain")
    names = [p.name for p in paths]
    assert names == sorted(names) and "Observation.ndjson" in names
    lines = (tmp_path / "plain" / "Observation.ndjson").read_bytes().splitlines()
    assert len(lines) == 11
    observation = orjson.loads(lines[0])
    assert observation["subject"]["reference"] == f"Patient/{ANA}"
    zipped = write_fhir_ndjson(resources, tmp_path / "gz", gzip=True)
    assert zipped[0].name.endswith(".ndjson.gz")
    assert gzip.decompress(zipped[0].read_bytes()) == paths[0].read_bytes()
    # No time stamp in the gzip header: the same resources give the same bytes.
    again = write_fhir_ndjson(resources, tmp_path / "gz2", gzip=True)
    assert again[0].read_bytes() == zipped[0].read_bytes()


def _references(value) -> set[str]:
    if isinstance(value, dict):
        found = {value["reference"]} if "reference" in value else set()
        return found.union(*(_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value))
    return set()


def test_read_fhir_gives_the_events_back(resources, tmp_path):
    """The writers are the inverse of docs/data-model.md's reading rules."""
    io = importlib.import_module("ramultimodal.io")
    if not hasattr(io, "read_fhir"):
        pytest.skip("ramultimodal.io.read_fhir is not there yet")
    expected = small_events().drop(columns="source")
    write_fhir_bundles(resources, tmp_path / "bundles")
    write_fhir_ndjson(resources, tmp_path / "ndjson")
    for folder in ("bundles", "ndjson"):
        read = io.read_fhir(tmp_path / folder).drop(columns="source")
        pd.testing.assert_frame_equal(read, expected)


@pytest.mark.parametrize("monochrome1", [False, True])
def test_dicom_opens_with_the_pixels_and_the_tags(tmp_path, monochrome1):
    pixels = np.random.default_rng(0).integers(0, 4096, size=(40, 30), dtype=np.uint16)
    path = tmp_path / "hand.dcm"
    write_dicom(
        path,
        pixels,
        patient_id=ANA,
        study_date=pd.Timestamp("2020-03-02 09:30"),
        study_uid=STUDY,
        series_uid=STUDY + ".1",
        sop_uid=STUDY + ".1.1",
        laterality="R",
        pixel_spacing_mm=0.15,
        monochrome1=monochrome1,
        patient_sex="F",
        patient_birth_date="1968-05-01",
    )
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == STUDY + ".1.1"
    assert (ds.PatientID, ds.StudyDate, ds.StudyTime) == (ANA, "20200302", "093000")
    assert (ds.BodyPartExamined, ds.ImageLaterality, ds.Modality) == ("HAND", "R", "CR")
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
    assert [float(v) for v in ds.PixelSpacing] == [0.15, 0.15]
    assert ds.PhotometricInterpretation == ("MONOCHROME1" if monochrome1 else "MONOCHROME2")
    expected = 4095 - pixels if monochrome1 else pixels
    np.testing.assert_array_equal(ds.pixel_array, expected)
    # The window covers the stored values.
    assert float(ds.WindowWidth) == expected.max() - expected.min() + 1


def test_dicom_bytes_do_not_depend_on_the_clock(tmp_path):
    pixels = np.full((8, 8), 1000, dtype=np.uint16)
    arguments = dict(
        patient_id=ANA,
        study_date="2020-03-02",
        study_uid=STUDY,
        series_uid=STUDY + ".1",
        sop_uid=STUDY + ".1.1",
        laterality="L",
        pixel_spacing_mm=0.2,
    )
    write_dicom(tmp_path / "a.dcm", pixels, **arguments)
    write_dicom(tmp_path / "b.dcm", pixels, **arguments)
    assert (tmp_path / "a.dcm").read_bytes() == (tmp_path / "b.dcm").read_bytes()


def test_dicom_refuses_values_beyond_12_bits(tmp_path):
    with pytest.raises(ValueError, match=r"0\.\.4095"):
        write_dicom(
            tmp_path / "x.dcm",
            np.full((4, 4), 5000, dtype=np.uint16),
            patient_id=ANA,
            study_date="2020-03-02",
            study_uid=STUDY,
            series_uid=STUDY + ".1",
            sop_uid=STUDY + ".1.1",
            laterality="L",
            pixel_spacing_mm=0.2,
        )


def test_png_is_16_bit_grey_bone_bright(tmp_path):
    pixels = np.array([[0, 1, 2048, 4095]], dtype=np.uint16)
    write_png(tmp_path / "hand.png", pixels)
    with Image.open(tmp_path / "hand.png") as image:
        assert image.mode.startswith("I")
        values = np.asarray(image)
    assert values.tolist() == [[0, 16, 32776, 65535]]
    np.testing.assert_array_equal(values >> 4, pixels)
