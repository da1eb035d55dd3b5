"""read_fhir: every rule of docs/data-model.md on small hand-written resources, the error
cases, and the real FHIR files in ../shared/real-data/fhir."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ramultimodal.io import EVENT_COLUMNS, FHIRReadError, read_fhir

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


def coding(system: str, code: str, display: str | None = None) -> dict:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def observation(id_: str = "o1", subject: str = "Patient/p1", **fields) -> dict:
    resource = {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "subject": {"reference": subject},
        "code": {"coding": [coding(LOINC, "1988-5")]},
        "effectiveDateTime": "2020-01-02",
    }
    resource.update(fields)
    return {key: value for key, value in resource.items() if value is not None}


def quantity(value: float, code: str, **extra) -> dict:
    return {"value": value, "system": UCUM, "code": code, **extra}


def one(events: pd.DataFrame) -> pd.Series:
    assert len(events) == 1, events
    return events.iloc[0]


def write_ndjson(path: Path, resources: list[dict]) -> Path:
    path.write_text("".join(json.dumps(resource) + "\n" for resource in resources))
    return path


# -- coding choice and time --------------------------------------------------------------


def test_code_is_first_coding_of_first_system_in_order():
    code = {
        "coding": [
            coding("http://acme.org", "x"),
            coding(SNOMED, "1"),
            coding(LOINC, "2"),
            coding(LOINC, "3"),
        ]
    }
    assert one(read_fhir(observation(code=code)))["code"] == "LOINC/2"
    code = {"coding": [coding("http://acme.org", "x"), coding("http://other.org", "y")]}
    assert one(read_fhir(observation(code=code)))["code"] == "http://acme.org/x"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # A partial date is known at the end of its period; an offset is dropped (the
        # wall-clock time where it was recorded).
        ({"effectiveDateTime": "2019-04"}, "2019-04-30"),
        ({"effectiveDateTime": "2019"}, "2019-12-31"),
        ({"effectiveDateTime": "2019-04-05T10:00:00+02:00"}, "2019-04-05 10:00:00"),
        ({"effectiveDateTime": "2019-04-05T23:30:00-05:00"}, "2019-04-05 23:30:00"),
        ({"effectiveDateTime": None, "effectivePeriod": {"start": "2018-02-03"}}, "2018-02-03"),
        ({"effectiveDateTime": None, "effectiveInstant": "2018-02-04T00:00:00Z"}, "2018-02-04"),
        ({"effectiveDateTime": None, "issued": "2018-02-05T12:00:00Z"}, "2018-02-05 12:00"),
        ({"effectiveDateTime": "2017-01-01", "issued": "2018-02-05T12:00:00Z"}, "2017-01-01"),
    ],
)
def test_observation_time_rules(fields, expected):
    events = read_fhir(observation(valueQuantity=quantity(3, "mg/L"), **fields))
    assert one(events)["time"] == pd.Timestamp(expected)
    assert events["time"].dtype == "datetime64[us]"


def test_patient_gives_birth_gender_and_death():
    events = read_fhir(
        {
            "resourceType": "Patient",
            "id": "p1",
            "gender": "female",
            "birthDate": "1950-06",
            "deceasedDateTime": "2020-03-04",
        }
    )
    by_code = events.set_index("code")["time"]
    assert by_code["MEDS_BIRTH"] == pd.Timestamp("1950-06-30")  # the end of the month
    assert pd.isna(by_code["GENDER/female"])
    assert by_code["MEDS_DEATH"] == pd.Timestamp("2020-03-04")
    assert set(events["subject_id"]) == {"p1"} and set(events["source"]) == {"Patient/p1"}
    assert list(events.columns) == list(EVENT_COLUMNS)


# -- Observation values ------------------------------------------------------------------


def test_value_quantity_is_normalised_and_keeps_its_comparator():
    event = one(read_fhir(observation(valueQuantity=quantity(1.2, "mg/dL", unit="mg/dl"))))
    assert (event["numeric_value"], event["unit"]) == (pytest.approx(12.0), "mg/L")
    assert pd.isna(event["text_value"])
    event = one(read_fhir(observation(valueQuantity=quantity(5, "mg/L", comparator="<"))))
    assert (event["numeric_value"], event["text_value"]) == (5.0, "<")


def test_ucum_code_is_preferred_over_unit_text():
    value = {"value": 10, "unit": "mg/L", "system": UCUM, "code": "mg/dL"}
    assert one(read_fhir(observation(valueQuantity=value)))["numeric_value"] == 100.0
    value = {"value": 10, "unit": "mg/dL"}  # no code: the text is all there is
    assert one(read_fhir(observation(valueQuantity=value)))["numeric_value"] == 100.0


def test_codes_outside_concepts_keep_their_unit():
    event = one(
        read_fhir(
            observation(
                code={"coding": [coding(LOINC, "29463-7")]}, valueQuantity=quantity(185, "[lb_av]")
            )
        )
    )
    assert (event["numeric_value"], event["unit"]) == (185.0, "[lb_av]")


@pytest.mark.parametrize(
    ("value", "numeric", "text"),
    [
        ({"coding": [coding(SNOMED, "10828004", "Positive")]}, 1.0, "SNOMED/10828004"),
        ({"coding": [coding(SNOMED, "260385009", "Negative")]}, 0.0, "SNOMED/260385009"),
        ({"coding": [coding("http://lab.org", "P", "Detected")]}, 1.0, "http://lab.org/P"),
        ({"text": "Not detected"}, 0.0, "Not detected"),
        ({"text": "negative"}, 0.0, "negative"),
        # Words are folded as the CSV readers fold them (terminology.words.fold_word).
        ({"text": " Not\u00a0 DETECTED "}, 0.0, " Not\u00a0 DETECTED "),
        ({"coding": [coding("http://lab.org", "N", "not  detected")]}, 0.0, "http://lab.org/N"),
        ({"coding": [coding(SNOMED, "266919005", "Never smoker")]}, np.nan, "SNOMED/266919005"),
    ],
)
def test_value_codeable_concept(value, numeric, text):
    event = one(read_fhir(observation(valueCodeableConcept=value)))
    assert event["text_value"] == text
    np.testing.assert_equal(event["numeric_value"], numeric)


@pytest.mark.parametrize(
    ("field", "value", "numeric", "text", "unit"),
    [
        ("valueBoolean", True, 1.0, None, None),
        ("valueBoolean", False, 0.0, None, None),
        ("valueString", "mild", np.nan, "mild", None),
    ],
)
def test_boolean_and_string_values(field, value, numeric, text, unit):
    event = one(read_fhir(observation(**{field: value})))
    np.testing.assert_equal(event["numeric_value"], numeric)
    assert (None if pd.isna(event["text_value"]) else event["text_value"]) == text


def test_value_integer_takes_the_concepts_unit_when_dimensionless():
    joints = {"coding": [coding(LOINC, "88981-6")]}  # tender joint count, unit {#}
    event = one(read_fhir(observation(code=joints, valueInteger=7)))
    assert (event["numeric_value"], event["unit"]) == (7.0, "{#}")
    other = {"coding": [coding(LOINC, "9999-9")]}
    event = one(read_fhir(observation(code=other, valueInteger=3)))
    assert event["numeric_value"] == 3.0 and pd.isna(event["unit"])


def test_components_are_events_and_parent_only_with_a_value_of_its_own():
    components = [
        {"code": {"coding": [coding(LOINC, "8480-6")]}, "valueQuantity": quantity(120, "mm[Hg]")},
        {"code": {"coding": [coding(LOINC, "8462-4")]}, "valueQuantity": quantity(80, "mm[Hg]")},
    ]
    panel = {"coding": [coding(LOINC, "85354-9")]}
    events = read_fhir(observation(code=panel, component=components))
    assert events.set_index("code")["numeric_value"].to_dict() == {
        "LOINC/8462-4": 80.0,
        "LOINC/8480-6": 120.0,
    }
    events = read_fhir(observation(code=panel, component=components, valueString="done"))
    assert sorted(events["code"]) == ["LOINC/8462-4", "LOINC/8480-6", "LOINC/85354-9"]
    event = one(read_fhir(observation(code=panel)))  # neither value nor components
    assert pd.isna(event["numeric_value"]) and pd.isna(event["text_value"])


# -- other resources ---------------------------------------------------------------------


def fact(kind: str, **fields) -> dict:
    return {
        "resourceType": kind,
        "id": "r1",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [coding(SNOMED, "57676002")]},
        **fields,
    }


@pytest.mark.parametrize(
    ("resource", "time"),
    [
        (fact("Condition", onsetDateTime="2019-05-06", recordedDate="2019-06-01"), "2019-05-06"),
        (fact("Condition", onsetPeriod={"start": "2019-05-07"}), "2019-05-07"),
        (fact("Condition", recordedDate="2019-06-01"), "2019-06-01"),
        (fact("Procedure", performedDateTime="2019-05-08"), "2019-05-08"),
        (fact("Procedure", performedPeriod={"start": "2019-05-09T10:00:00Z"}), "2019-05-09 10:00"),
        (
            fact("DiagnosticReport", effectiveDateTime="2019-05-10", issued="2019-06-01T00:00:00Z"),
            "2019-05-10",
        ),
        (fact("DiagnosticReport", issued="2019-06-01T00:00:00Z"), "2019-06-01"),
    ],
)
def test_coded_facts_have_a_code_and_no_value(resource, time):
    event = one(read_fhir(resource))
    assert event["code"] == "SNOMED/57676002" and event["time"] == pd.Timestamp(time)
    assert pd.isna(event["numeric_value"]) and pd.isna(event["text_value"])
    assert event["source"] == f"{resource['resourceType']}/r1"


def test_encounter_type_coding_else_class():
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "subject": {"reference": "Patient/p1"},
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "period": {"start": "2019-01-02T08:00:00+01:00"},
    }
    event = one(read_fhir(encounter))
    assert (event["code"], event["time"]) == ("ENCOUNTER/AMB", pd.Timestamp("2019-01-02 08:00"))
    typed = {**encounter, "type": [{"coding": [coding(SNOMED, "185349003")]}]}
    assert one(read_fhir(typed))["code"] == "SNOMED/185349003"


RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
METHOTREXATE = {"coding": [coding(RXNORM, "6851")]}


def medication_request(reference: str | None = None, **fields) -> dict:
    resource = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2020-02-03",
        **fields,
    }
    if reference:
        resource["medicationReference"] = {"reference": reference}
    return resource


def test_medication_code_or_referenced_medication(tmp_path):
    event = one(read_fhir(medication_request(medicationCodeableConcept=METHOTREXATE)))
    assert (event["code"], event["time"]) == ("RXNORM/6851", pd.Timestamp("2020-02-03"))
    # NDJSON: the Medication may come after the request that references it.
    medication = {"resourceType": "Medication", "id": "med1", "code": METHOTREXATE}
    (tmp_path / "nd").mkdir()
    write_ndjson(
        tmp_path / "nd" / "MedicationRequest.ndjson", [medication_request("Medication/med1")]
    )
    write_ndjson(tmp_path / "nd" / "Medication.ndjson", [medication])
    assert one(read_fhir(tmp_path / "nd"))["code"] == "RXNORM/6851"
    # A Bundle, by urn:uuid.
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:r1", "resource": medication_request("urn:uuid:m-1")},
            {"fullUrl": "urn:uuid:m-1", "resource": {**medication, "id": "m-1"}},
        ],
    }
    assert one(read_fhir(bundle))["code"] == "RXNORM/6851"
    # A contained Medication, and a MedicationStatement.
    contained = medication_request("#c1", contained=[{**medication, "id": "c1"}])
    assert one(read_fhir(contained))["code"] == "RXNORM/6851"
    statement = {
        "resourceType": "MedicationStatement",
        "id": "s1",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "dateAsserted": "2020-04-05",
        "medicationCodeableConcept": METHOTREXATE,
    }
    assert one(read_fhir(statement))["time"] == pd.Timestamp("2020-04-05")


def test_questionnaire_response_items_nested():
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": "q1",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "authored": "2021-03-04T09:00:00Z",
        "item": [
            {"linkId": "pain", "answer": [{"valueInteger": 6}]},
            {
                "linkId": "haq",
                "item": [
                    {"linkId": "haq-1", "answer": [{"valueCoding": coding("http://x.org", "2")}]},
                    {
                        "linkId": "haq-2",
                        "answer": [
                            {
                                "valueDecimal": 1.5,
                                "item": [
                                    {
                                        "linkId": "haq-2-note",
                                        "answer": [{"valueString": "with aid"}],
                                    }
                                ],
                            }
                        ],
                    },
                ],
            },
            {"linkId": "stiff", "answer": [{"valueBoolean": True}]},
            {"linkId": "grade", "answer": [{"valueCoding": coding("http://x.org", "mild")}]},
            {"linkId": "unanswered"},
        ],
    }
    events = read_fhir(response).set_index("code")
    assert events.loc["QR/pain", "numeric_value"] == 6.0
    assert events.loc["QR/haq-1", "text_value"] == "http://x.org/2"
    assert events.loc["QR/haq-1", "numeric_value"] == 2.0
    assert events.loc["QR/haq-2", "numeric_value"] == 1.5
    assert events.loc["QR/haq-2-note", "text_value"] == "with aid"
    assert events.loc["QR/stiff", "numeric_value"] == 1.0
    assert events.loc["QR/grade", "text_value"] == "http://x.org/mild"
    assert np.isnan(events.loc["QR/grade", "numeric_value"])
    assert "QR/unanswered" not in events.index and "QR/haq" not in events.index
    assert (events["time"] == pd.Timestamp("2021-03-04 09:00")).all()


def test_imaging_study_links_the_study_uid():
    study = {
        "resourceType": "ImagingStudy",
        "id": "i1",
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "started": "2021-01-01T10:00:00Z",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4"}],
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CR"}],
    }
    event = one(read_fhir(study))
    assert (event["code"], event["text_value"]) == ("DICOM/CR", "1.2.3.4")
    del study["modality"]
    study["series"] = [{"uid": "1.2.3.4.5", "modality": {"code": "DX"}}]
    assert one(read_fhir(study))["code"] == "DICOM/DX"


# -- references, sources, containers -----------------------------------------------------


def test_urn_uuid_references_resolve_through_full_urls():
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:aaaa",
                "resource": {"resourceType": "Patient", "id": "p-42", "gender": "male"},
            },
            {
                "fullUrl": "urn:uuid:bbbb",
                "resource": observation(subject="urn:uuid:aaaa", valueQuantity=quantity(3, "mg/L")),
            },
        ],
    }
    assert set(read_fhir(bundle)["subject_id"]) == {"p-42"}
    # Synthea: a uuid absent from the Bundle is the patient's id.
    assert one(read_fhir(observation(subject="urn:uuid:cccc")))["subject_id"] == "cccc"
    url = "https://fhir.example.org/r4/Patient/p7/_history/2"
    assert one(read_fhir(observation(subject=url)))["subject_id"] == "p7"


def test_files_gzip_directories_and_iterables_give_the_same_events(tmp_path):
    resources = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01"},
        observation(valueQuantity=quantity(1.0, "mg/dL")),
    ]
    expected = read_fhir(iter(resources))
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    write_ndjson(nested / "Patient.ndjson", resources[:1])
    with gzip.open(tmp_path / "a" / "Observation.ndjson.gz", "wt") as stream:
        stream.write(json.dumps(resources[1]) + "\n\n")  # a blank line is allowed
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": resource} for resource in resources],
    }
    (tmp_path / "bundle.json.gz").write_bytes(gzip.compress(json.dumps(bundle).encode()))
    (tmp_path / "notes.txt").write_text("not FHIR")
    pd.testing.assert_frame_equal(read_fhir(tmp_path / "a"), expected)
    pd.testing.assert_frame_equal(read_fhir(tmp_path / "bundle.json.gz"), expected)
    # The same resources twice (NDJSON and a Bundle): each is read once.
    events = read_fhir(tmp_path)
    pd.testing.assert_frame_equal(events, expected)
    report = events.attrs["read_report"]
    assert report.files == 3 and report.files_ignored == 1
    assert report.resources == {"Patient": 1, "Observation": 1}
    assert report.dropped == {"duplicate (identical)": 2}


# -- errors and the report ---------------------------------------------------------------


def test_malformed_ndjson_line_names_file_and_line(tmp_path):
    path = tmp_path / "Observation.ndjson"
    path.write_text(
        json.dumps(observation()) + "\n{not json\n" + json.dumps(observation("o2")) + "\n"
    )
    with pytest.raises(FHIRReadError, match=r"Observation\.ndjson, line 2: not a JSON") as error:
        read_fhir(path)
    assert "errors='skip'" in str(error.value)
    events = read_fhir(path, errors="skip")
    assert len(events) == 2
    report = events.attrs["read_report"]
    assert report.skipped == {"malformed JSON": 1}
    assert (report.problems[0].file, report.problems[0].line) == ("Observation.ndjson", 2)


def test_resource_without_subject(tmp_path):
    path = write_ndjson(tmp_path / "o.ndjson", [observation(), observation("o2", subject=None)])
    with pytest.raises(FHIRReadError, match=r"o\.ndjson, line 2, Observation/o2: .*no subject"):
        read_fhir(path)
    report = read_fhir(path, errors="skip").attrs["read_report"]
    assert report.skipped == {"no subject": 1} and report.resources == {"Observation": 1}
    group = observation(subject="Group/g1")
    with pytest.raises(FHIRReadError, match="a Group reference, not a Patient"):
        read_fhir(group)


def test_unknown_unit_names_the_resource(tmp_path):
    bad = observation("o9", valueQuantity=quantity(3, "furlongs"))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": observation()}, {"resource": bad}],
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(FHIRReadError, match=r"b\.json, entry 1, Observation/o9: .*'furlongs'"):
        read_fhir(path)
    events = read_fhir(path, errors="skip")
    assert len(events) == 1 and events.attrs["read_report"].skipped == {"unknown unit": 1}


def test_non_fhir_json_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"name": "not a resource"}')
    with pytest.raises(FHIRReadError, match=r"config\.json: not a FHIR resource"):
        read_fhir(path)
    path.write_text("{broken")
    with pytest.raises(FHIRReadError, match=r"config\.json: not valid JSON"):
        read_fhir(path)


def test_non_numeric_quantity_is_reported():
    with pytest.raises(FHIRReadError, match=r"Observation/o1: .*not a number"):
        read_fhir(observation(valueQuantity=quantity("high", "mg/L")))


def test_unresolved_medication_and_bad_time_are_reported(tmp_path):
    path = write_ndjson(
        tmp_path / "m.ndjson",
        [
            medication_request("Medication/absent"),
            observation("o5", effectiveDateTime="2020-13-45"),
            observation("o6"),
        ],
    )
    with pytest.raises(FHIRReadError, match=r"m\.ndjson, line 1, MedicationRequest/m1"):
        read_fhir(path)
    events = read_fhir(path, errors="skip")
    assert list(events["source"]) == ["Observation/o6"]
    report = events.attrs["read_report"]
    assert report.skipped == {"unresolved reference": 1, "bad time": 1}
    assert [problem.line for problem in report.problems] == [1, 2]


def test_ignored_types_are_counted_and_report_hides_patient_ids():
    resources = [
        {"resourceType": "Patient", "id": "secret-id", "gender": "male"},
        {"resourceType": "Claim", "id": "c1"},
        {"resourceType": "Claim", "id": "c2"},
        {"resourceType": "Immunization", "id": "i1"},
        observation("o3", subject="Patient/secret-id", valueQuantity=quantity(1, "x")),
    ]
    events = read_fhir(resources, errors="skip")
    report = events.attrs["read_report"]
    assert report.ignored == {"Claim": 2, "Immunization": 1}
    assert report.skipped == {"unknown unit": 1}
    assert "secret-id" not in str(report)
    assert "Claim 2" in str(report) and "unknown unit" in str(report)
    with pytest.raises(FHIRReadError) as error:
        read_fhir(
            [
                {
                    "resourceType": "Patient",
                    "id": "secret-id",
                    "gender": "unknown",
                    "birthDate": "not a date",
                }
            ]
        )
    assert "secret-id" not in str(error.value) and "Patient" in str(error.value)


def test_validate_reports_every_failure_with_file_line_and_id(tmp_path):
    invalid = observation("bad1", valueQuantity=quantity(1, "mg/L"))
    invalid["subject"]["display"] = ["a list where R4 wants a string"]
    also_invalid = observation("bad2", category="lab", valueQuantity=quantity(1, "mg/L"))
    path = write_ndjson(tmp_path / "o.ndjson", [observation(), invalid, also_invalid])
    assert len(read_fhir(path)) == 3  # the fast path reads only what it needs
    with pytest.raises(FHIRReadError, match="2 resources fail FHIR R4B validation") as error:
        read_fhir(path, validate=True)
    assert "o.ndjson, line 2, Observation/bad1" in str(error.value)
    assert "o.ndjson, line 3, Observation/bad2" in str(error.value)
    assert [problem.line for problem in error.value.problems] == [2, 3]
    events = read_fhir(path, validate=True, errors="skip")
    assert len(events) == 1 and events.attrs["read_report"].skipped == {"invalid": 2}


def test_errors_argument_is_checked():
    with pytest.raises(ValueError, match="errors must be"):
        read_fhir([], errors="ignore")
    with pytest.raises(FileNotFoundError):
        read_fhir("/nonexistent/fhir")


# -- real data ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_synthea_and_bulk_data_parse_and_validate(real_data):
    fhir = real_data / "fhir"
    for folder in ("synthea-bundles", "synthea-bundles-2", "bulk-ndjson-10-patients"):
        events = read_fhir(fhir / folder, validate=True)
        report = events.attrs["read_report"]
        assert not report.skipped and report.events == len(events) > 0
        births = events[events["code"] == "MEDS_BIRTH"]
        assert births["subject_id"].is_unique
        assert len(births) == report.resources["Patient"]
        # Every event belongs to a patient of the export.
        assert set(events["subject_id"]) == set(births["subject_id"])
    bulk = read_fhir(fhir / "bulk-ndjson-10-patients").attrs["read_report"]
    assert bulk.resources == {
        "Procedure": 2056,
        "MedicationRequest": 1745,
        "Encounter": 1215,
        "Condition": 555,
        "Patient": 13,
    }
    assert bulk.ignored == {"Immunization": 161, "AllergyIntolerance": 11}
    imaging = read_fhir(fhir / "synthea-bundles")
    study = one(imaging[imaging["code"].str.startswith("DICOM/")])
    assert study["text_value"] == "1.2.840.99999999.88471334.1568644974502"


@pytest.mark.realdata
def test_real_hl7_examples_parse_and_validate(real_data):
    folder = real_data / "fhir" / "hl7-r4-examples"
    # HL7's two QuestionnaireResponse examples have no subject: their answers belong to
    # no patient, which is an error by default and a counted skip on request.
    with pytest.raises(FHIRReadError, match=r"QuestionnaireResponse.*no subject"):
        read_fhir(folder)
    events = read_fhir(folder, validate=True, errors="skip")
    report = events.attrs["read_report"]
    assert report.skipped == {"no subject": 2}
    assert report.ignored == {"Questionnaire": 2}
    weight = one(events[events["code"] == "LOINC/29463-7"])
    assert (weight["numeric_value"], weight["unit"]) == (185.0, "[lb_av]")


def test_unread_value_types_are_counted_and_bad_times_located_in_bundles(tmp_path):
    ranged = observation("o7", valueRange={"low": {"value": 1}, "high": {"value": 2}})
    events = read_fhir(ranged)
    assert pd.isna(one(events)["numeric_value"])
    assert events.attrs["read_report"].values_unread == {"valueRange": 1}
    assert "valueRange 1" in str(events.attrs["read_report"])
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": observation()},
            {"request": {"method": "DELETE", "url": "Patient/x"}},
            {"resource": observation("o9", effectiveDateTime="2020-02-30")},
        ],
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(FHIRReadError, match=r"b\.json, entry 2, Observation/o9: a time"):
        read_fhir(path)
    report = read_fhir(path, errors="skip").attrs["read_report"]
    assert report.ignored == {"Bundle entry without resource": 1}
    assert report.skipped == {"bad time": 1}
    assert "b.json" not in str(report)  # file names may name the patient (Synthea)
