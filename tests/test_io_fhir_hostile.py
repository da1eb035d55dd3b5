"""read_fhir on hostile input (issue 13): every input is read by the rules, or refused with
one line that names the file, NDJSON line or Bundle entry, and what to do; with
errors="skip" the rest is read and what was left out is counted. No message and no report
shows a patient's id."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ramultimodal.io import FHIRReadError, read_fhir

LOINC = "http://loinc.org"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SECRET = "secret-patient-7"  # a patient id: must never reach a message or a report


def crp(id_: str | None = "o1", value: float = 5.0, **fields) -> dict:
    resource = {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "subject": {"reference": f"Patient/{SECRET}"},
        "code": {"coding": [{"system": LOINC, "code": "1988-5"}]},
        "effectiveDateTime": "2020-01-02",
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": "mg/L"},
    }
    resource.update(fields)
    return {key: item for key, item in resource.items() if item is not None}


def patient(gender: str = "female", **fields) -> dict:
    return {"resourceType": "Patient", "id": SECRET, "gender": gender, **fields}


def write_ndjson(path: Path, lines: list) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def refused(source, *where: str, reason: str, **options) -> FHIRReadError:
    """The FHIRReadError of `source`: one line naming `where`, no patient id."""
    with pytest.raises(FHIRReadError) as caught:
        read_fhir(source, **options)
    message = str(caught.value)
    assert "\n" not in message, message
    for part in where:
        assert part in message, (part, message)
    assert SECRET not in message, message
    assert caught.value.problems[-1].reason == reason
    return caught.value


def report_of(events: pd.DataFrame):
    report = events.attrs["read_report"]
    assert SECRET not in str(report) and SECRET not in repr(report.problems)
    return report


# -- 1. statuses that say the fact did not happen ------------------------------------------


def test_entered_in_error_crp_is_dropped_and_counted_whatever_errors():
    resources = [crp("o1", 5.0), crp("o2", 999.0, status="entered-in-error")]
    for errors in ("raise", "skip"):
        events = read_fhir(resources, errors=errors)
        assert events["numeric_value"].tolist() == [5.0]
        report = report_of(events)
        assert report.dropped == {"Observation entered-in-error": 1}
        assert not report.skipped and report.resources == {"Observation": 1}
        assert "dropped by status: Observation entered-in-error 1" in str(report)


def fact(kind: str, status: str | None = None, **fields) -> dict:
    resource = {
        "resourceType": kind,
        "id": "r1",
        "subject": {"reference": f"Patient/{SECRET}"},
        "code": {"coding": [{"system": LOINC, "code": "1988-5"}]},
        **fields,
    }
    if status is not None:
        resource["status"] = status
    return resource


def medication_request(status: str) -> dict:
    request = fact("MedicationRequest", status, authoredOn="2020-01-01")
    request["medicationCodeableConcept"] = request.pop("code")
    return request


def medication_statement(status: str) -> dict:
    statement = fact("MedicationStatement", status, dateAsserted="2020-01-01")
    statement["medicationCodeableConcept"] = statement.pop("code")
    return statement


def encounter(status: str) -> dict:
    resource = fact("Encounter", status, period={"start": "2020-01-01"})
    del resource["code"]
    resource["class"] = {"code": "AMB"}
    return resource


def imaging_study(status: str) -> dict:
    resource = fact("ImagingStudy", status, started="2020-01-01")
    del resource["code"]
    resource["modality"] = [{"code": "CR"}]
    return resource


def questionnaire_response(status: str) -> dict:
    resource = fact("QuestionnaireResponse", status, authored="2020-01-01")
    del resource["code"]
    resource["item"] = [{"linkId": "pain", "answer": [{"valueInteger": 6}]}]
    return resource


def condition(verification: str | dict) -> dict:
    if isinstance(verification, str):
        verification = {"coding": [{"system": VERIFICATION, "code": verification}]}
    return fact("Condition", verificationStatus=verification, onsetDateTime="2020-01-01")


DROPPED = [
    (crp(status="entered-in-error"), "Observation entered-in-error"),
    (crp(status="cancelled"), "Observation cancelled"),
    (condition("refuted"), "Condition refuted"),
    (condition("entered-in-error"), "Condition entered-in-error"),
    (condition({"coding": [{"code": "refuted"}]}), "Condition refuted"),  # no system
    (fact("Condition", verificationStatus="refuted"), "Condition refuted"),  # as STU3 wrote it
    (fact("Procedure", "not-done"), "Procedure not-done"),
    (fact("Procedure", "entered-in-error"), "Procedure entered-in-error"),
    (medication_request("entered-in-error"), "MedicationRequest entered-in-error"),
    (medication_request("cancelled"), "MedicationRequest cancelled"),
    (medication_request("draft"), "MedicationRequest draft"),
    (medication_statement("entered-in-error"), "MedicationStatement entered-in-error"),
    (medication_statement("not-taken"), "MedicationStatement not-taken"),
    (fact("DiagnosticReport", "cancelled"), "DiagnosticReport cancelled"),
    (fact("DiagnosticReport", "entered-in-error"), "DiagnosticReport entered-in-error"),
    (encounter("cancelled"), "Encounter cancelled"),
    (encounter("entered-in-error"), "Encounter entered-in-error"),
    (imaging_study("cancelled"), "ImagingStudy cancelled"),
    (imaging_study("entered-in-error"), "ImagingStudy entered-in-error"),
    (questionnaire_response("entered-in-error"), "QuestionnaireResponse entered-in-error"),
]


@pytest.mark.parametrize(("resource", "reason"), DROPPED, ids=[reason for _, reason in DROPPED])
def test_statuses_that_say_the_fact_did_not_happen_give_no_events(resource, reason):
    events = read_fhir(resource)
    assert events.empty
    report = report_of(events)
    assert report.dropped == {reason: 1} and not report.resources and not report.skipped


def test_other_statuses_are_kept():
    kept = [
        crp("o1", status="final"),
        crp("o2", status="amended"),
        crp("o3", status="corrected"),
        crp("o4", status="preliminary"),
        medication_request("active"),
        medication_request("stopped") | {"id": "r2"},
        condition("confirmed") | {"id": "c1"},
        condition("provisional") | {"id": "c2"},
        fact("Procedure", "completed") | {"id": "p1"},
        encounter("finished") | {"id": "e1"},
    ]
    events = read_fhir([*kept, crp("o9", status="cancelled")])
    assert len(events) == len(kept)
    report = report_of(events)
    assert report.dropped == {"Observation cancelled": 1}


# -- 2. duplicate resources: the same type and id --------------------------------------------


def test_identical_duplicates_are_read_once(tmp_path):
    write_ndjson(tmp_path / "a.ndjson", [patient(), crp("o1")])
    write_ndjson(tmp_path / "b.ndjson", [crp("o1"), crp("o2", 7.0)])
    events = read_fhir(tmp_path)
    assert sorted(events["numeric_value"].dropna()) == [5.0, 7.0]
    report = report_of(events)
    assert report.dropped == {"duplicate (identical)": 1}
    assert report.resources == {"Patient": 1, "Observation": 2}
    assert "duplicates dropped: identical 1" in str(report)


@pytest.mark.parametrize("newer_first", [False, True])
def test_the_version_with_the_latest_last_updated_stands(tmp_path, newer_first):
    older = crp("o1", 5.0, meta={"lastUpdated": "2021-06-01T10:00:00+02:00"})
    newer = crp("o1", 7.0, meta={"lastUpdated": "2021-06-01T09:00:00Z"})  # 1 h later
    versions = [newer, older] if newer_first else [older, newer]
    events = read_fhir(write_ndjson(tmp_path / "o.ndjson", versions))
    assert events["numeric_value"].tolist() == [7.0]
    report = report_of(events)
    assert report.dropped == {"duplicate (older version)": 1}
    assert report.resources == {"Observation": 1}


def test_a_newer_entered_in_error_version_takes_the_fact_back():
    final = crp("o1", 999.0, meta={"lastUpdated": "2021-01-01T00:00:00Z"})
    retracted = crp("o1", 999.0, status="entered-in-error")
    retracted["meta"] = {"lastUpdated": "2021-01-02T00:00:00Z"}
    events = read_fhir([final, retracted])
    assert events.empty
    report = report_of(events)
    assert report.dropped == {"duplicate (older version)": 1, "Observation entered-in-error": 1}
    assert not report.resources


def test_a_patient_given_twice_with_two_sexes_is_refused_naming_both_places(tmp_path):
    write_ndjson(tmp_path / "a.ndjson", [crp("o1"), patient("female", birthDate="1960")])
    write_ndjson(tmp_path / "b.ndjson", [patient("male", birthDate="1960")])
    error = refused(
        tmp_path,
        "b.ndjson, line 1, Patient: ",
        "another version of this resource (the same type and id) is at a.ndjson, line 2,",
        "neither has one",
        "meta.lastUpdated",
        reason="conflicting duplicates",
    )
    assert SECRET not in repr(error.problems)
    # errors="skip": neither sex is believed; the other facts stay.
    events = read_fhir(tmp_path, errors="skip")
    assert events["code"].tolist() == ["LOINC/1988-5"]
    report = report_of(events)
    assert report.skipped == {"conflicting duplicates": 2}
    assert report.resources == {"Observation": 1}
    assert (report.problems[0].file, report.problems[0].line) == ("b.ndjson", 1)


def test_versions_with_equal_last_updated_in_a_bundle_are_refused_naming_entries(tmp_path):
    meta = {"lastUpdated": "2021-01-01T00:00:00Z"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": crp("o1", 5.0, meta=meta)},
            {"resource": crp("o2", 6.0)},
            {"resource": crp("o1", 7.0, meta=meta)},
            {"resource": crp("o1", 8.0)},  # a third version goes with the others
        ],
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    refused(
        path,
        "b.json, entry 2, Observation/o1: ",
        "is at b.json, entry 0,",
        "they are equal",
        reason="conflicting duplicates",
    )
    events = read_fhir(path, errors="skip")
    assert events["numeric_value"].tolist() == [6.0]
    assert report_of(events).skipped == {"conflicting duplicates": 3}


def test_resources_without_an_id_are_never_duplicates():
    events = read_fhir([crp(None), crp(None), crp("")])
    assert len(events) == 3
    assert not report_of(events).dropped


def test_duplicates_in_an_iterable_name_its_items():
    refused(
        [crp("o1", 5.0), patient(), crp("o1", 6.0)],
        "<input>, line 3, Observation/o1",
        "is at <input>, line 1,",
        reason="conflicting duplicates",
    )


def test_conflicting_medications_leave_their_references_unresolved():
    medication = {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"code": "1"}]}}
    other = {**medication, "code": {"coding": [{"code": "2"}]}}
    request = medication_request("active")
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "Medication/m1"}
    refused([medication, other, request], "Medication/m1", reason="conflicting duplicates")
    events = read_fhir([medication, other, request], errors="skip")
    assert events.empty
    report = report_of(events)
    assert report.skipped == {"conflicting duplicates": 2, "unresolved reference": 1}
    events = read_fhir([medication, dict(medication), request])  # identical: one
    assert events["code"].tolist() == ["UNKNOWN/1"]


# -- 3. malformed JSON shapes ------------------------------------------------------------


def without(resource: dict, key: str) -> dict:
    return {name: value for name, value in resource.items() if name != key}


MALFORMED = {
    "code as a string": (crp("o2", code="1988-5"), "its code is a JSON string"),
    "coding as an object": (
        crp("o2", code={"coding": {"system": LOINC, "code": "1988-5"}}),
        "its code.coding is a JSON object, not a list",
    ),
    "coding holding a string": (
        crp("o2", code={"coding": ["1988-5", "x"]}),
        "its code.coding[0] is a JSON string, not a Coding object",
    ),
    "valueQuantity as a number": (crp("o2", valueQuantity=5.0), "valueQuantity is a JSON number"),
    "subject as a string": (crp("o2", subject=f"Patient/{SECRET}"), "its subject is a JSON string"),
    "subject.reference as an object": (
        crp("o2", subject={"reference": {"id": SECRET}}),
        "its subject.reference is a JSON object",
    ),
    "component holding a string": (
        crp("o2", component=["8480-6"]),
        "its component[0] is a JSON string, not an object",
    ),
    "component as an object": (
        crp("o2", component={"code": {}}),
        "its component is a JSON object, not a list",
    ),
    "effectivePeriod as a string": (
        without(crp("o2", effectivePeriod="2020"), "effectiveDateTime"),
        "its effectivePeriod is a JSON string, not a Period object",
    ),
    "time as a number": (crp("o2", effectiveDateTime=2020), "its time is a JSON number"),
    "valueCodeableConcept as a string": (
        without(crp("o2", valueCodeableConcept="positive"), "valueQuantity"),
        "its valueCodeableConcept is a JSON string",
    ),
    "Encounter type as an object": (
        encounter("finished") | {"type": {"coding": []}},
        "its type is a JSON object, not a list",
    ),
    "medicationReference as a string": (
        without(medication_request("active"), "medicationCodeableConcept")
        | {"medicationReference": "Medication/m1"},
        "its medicationReference is a JSON string",
    ),
    "QuestionnaireResponse item as a string": (
        questionnaire_response("completed") | {"item": ["pain"]},
        "its item is a JSON string",
    ),
    "ImagingStudy modality holding a string": (
        imaging_study("available") | {"modality": ["CR"]},
        "its modality is a JSON string, not a Coding object",
    ),
    "Patient id as a number": (
        {"resourceType": "Patient", "id": 7, "gender": "male"},
        "its id is a JSON number",
    ),
    # The generic guard, behind the specific checks: it names the type, not the field.
    "gender as a list": (
        {"resourceType": "Patient", "id": SECRET, "gender": ["male"]},
        "read it with validate=True to name the field",
    ),
}


@pytest.mark.parametrize(("resource", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_shapes_are_problems_naming_the_field(tmp_path, resource, message):
    path = write_ndjson(tmp_path / "x.ndjson", [crp("o1"), resource, crp("o3", 6.0)])
    refused(path, "x.ndjson, line 2", message, "errors='skip'", reason="malformed resource")
    events = read_fhir(path, errors="skip")
    assert sorted(events["source"]) == ["Observation/o1", "Observation/o3"]
    report = report_of(events)
    assert report.skipped == {"malformed resource": 1}
    assert report.problems[0].line == 2


@pytest.mark.parametrize(
    ("entries", "where", "message", "skipped"),
    [
        (["an entry", None, {"resource": crp()}], "b.json, entry 0: ", "entry is a JSON string", 2),
        ([None, {"resource": crp()}], "b.json, entry 0: ", "entry is a JSON null", 1),
        ({"resource": crp()}, "b.json, Bundle/: ", "its entry is a JSON object, not a list", 1),
        ("entries", "b.json, Bundle/: ", "its entry is a JSON string, not a list", 1),
    ],
)
def test_malformed_bundles_are_problems_naming_the_entry(
    tmp_path, entries, where, message, skipped
):
    path = tmp_path / "b.json"
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    path.write_text(json.dumps(bundle))
    refused(path, where, message, reason="malformed resource")
    events = read_fhir(path, errors="skip")
    assert report_of(events).skipped == {"malformed resource": skipped}
    # With validation, a malformed entry is a validation failure, not a crash.
    events = read_fhir(path, errors="skip", validate=True)
    assert report_of(events).skipped["invalid"] >= 1


# -- 4. files ----------------------------------------------------------------------------


def gzip_lines(resources: list[dict]) -> bytes:
    return gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in resources))


def test_a_corrupt_gzip_file_is_refused_by_name_and_skipped_on_request(tmp_path):
    many = [crp(f"o{i}", float(i)) for i in range(2000)]
    data = gzip_lines(many)
    (tmp_path / "cut.ndjson.gz").write_bytes(data[: len(data) // 2])  # an interrupted copy
    bad_block = bytearray(gzip_lines(many[:5]))
    bad_block[10] |= 0b110  # an invalid deflate block type: zlib.error
    (tmp_path / "block.ndjson.gz").write_bytes(bytes(bad_block))
    (tmp_path / "plain.json.gz").write_text(json.dumps(crp("x")))  # not gzip at all
    write_ndjson(tmp_path / "good.ndjson", [crp("g1", 1.0)])
    refused(tmp_path / "cut.ndjson.gz", "cut.ndjson.gz: it is cut short", reason="corrupt file")
    refused(
        tmp_path / "block.ndjson.gz",
        "block.ndjson.gz: its gzip data is corrupt",
        reason="corrupt file",
    )
    refused(tmp_path / "plain.json.gz", "plain.json.gz: it is not gzip data", reason="corrupt file")
    events = read_fhir(tmp_path, errors="skip")
    report = report_of(events)
    assert report.skipped == {"corrupt file": 3}
    assert report.files == 4
    cut = next(problem for problem in report.problems if problem.file == "cut.ndjson.gz")
    # The lines before the cut are read, and the message says how many.
    read = int(cut.message.rsplit("lines 1 to ", 1)[1].split()[0])
    assert 0 < read < len(many) and report.resources == {"Observation": read + 1}


def test_a_folder_without_fhir_files_says_what_it_holds(tmp_path):
    for name in ("notes.txt", "README.TXT", "export.xml"):
        (tmp_path / name).write_text("not FHIR")
    error = refused(
        tmp_path,
        f"no .json/.ndjson files in {tmp_path} (it holds 3 files: .txt 2, .xml 1)",
        reason="no FHIR files",
        errors="skip",
    )
    assert "read_fhir" in str(error)
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(empty, "(it is empty)", reason="no FHIR files")


def test_suffixes_in_any_case_and_jsonl(tmp_path):
    (tmp_path / "A.JSON").write_text(json.dumps(crp("o1", 1.0)))
    write_ndjson(tmp_path / "B.NDJSON", [crp("o2", 2.0)])
    (tmp_path / "C.NDJSON.GZ").write_bytes(gzip_lines([crp("o3", 3.0)]))
    write_ndjson(tmp_path / "d.jsonl", [crp("o4", 4.0), crp("o5", 5.0)])
    (tmp_path / "e.JSONL.gz").write_bytes(gzip_lines([crp("o6", 6.0)]))
    events = read_fhir(tmp_path)
    assert sorted(events["numeric_value"]) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    report = report_of(events)
    assert report.files == 5 and report.files_ignored == 0
    assert len(read_fhir(tmp_path / "e.JSONL.gz")) == 1


def test_a_file_that_is_not_utf8_json_is_malformed_json_by_name(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(
        json.dumps(patient(), ensure_ascii=False).replace("female", "fémale").encode("latin-1")
    )
    refused(path, "latin1.json: not valid JSON", "save it as UTF-8", reason="malformed JSON")
    utf16 = tmp_path / "utf16.ndjson"
    utf16.write_bytes(json.dumps(crp()).encode("utf-16"))
    refused(utf16, "utf16.ndjson, line 1: ", "not UTF-8", reason="malformed JSON")
    ndjson = tmp_path / "lines.json"
    ndjson.write_text(json.dumps(crp("o1")) + "\n" + json.dumps(crp("o2")) + "\n")
    refused(ndjson, "lines.json: not valid JSON", "name it .ndjson", reason="malformed JSON")
    # A UTF-8 byte order mark is allowed (RFC 8259), on a file or a first line.
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(crp()).encode())
    assert len(read_fhir(bom)) == 1
    bom_lines = tmp_path / "bom.ndjson"
    bom_lines.write_bytes(b"\xef\xbb\xbf" + json.dumps(crp()).encode() + b"\n")
    assert len(read_fhir(bom_lines)) == 1


@pytest.mark.parametrize(
    ("text", "found"), [("42", "number"), ("[1, 2]", "list"), ('"x"', "string")]
)
def test_valid_json_that_is_not_an_object_is_not_fhir(tmp_path, text, found):
    path = tmp_path / "value.json"
    path.write_text(text)
    refused(path, f"value.json: not a FHIR resource (a JSON {found}", reason="not FHIR")
    lines = write_ndjson(tmp_path / "v.ndjson", [crp(), text])
    refused(lines, f"v.ndjson, line 2: not a FHIR resource (a JSON {found}", reason="not FHIR")
    report = report_of(read_fhir(lines, errors="skip"))
    assert report.skipped == {"not FHIR": 1} and report.resources == {"Observation": 1}


# -- real data ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_exports_read_twice_give_each_resource_once(real_data, tmp_path):
    fhir = real_data / "fhir"
    bundle = next(iter(sorted((fhir / "synthea-bundles").glob("*.json"))))
    shutil.copy(bundle, tmp_path / "one.json")
    shutil.copy(bundle, tmp_path / "two.JSON")
    shutil.copy(fhir / "bulk-ndjson-10-patients" / "Condition.ndjson", tmp_path / "c.ndjson")
    with gzip.open(tmp_path / "c-again.ndjson.gz", "wb") as stream:
        stream.write((fhir / "bulk-ndjson-10-patients" / "Condition.ndjson").read_bytes())
    once = pd.concat(
        [read_fhir(bundle), read_fhir(tmp_path / "c.ndjson")], ignore_index=True
    ).sort_values(["subject_id", "time", "code"], kind="stable", ignore_index=True)
    events = read_fhir(tmp_path)
    pd.testing.assert_frame_equal(
        events.sort_values(["subject_id", "time", "code"], kind="stable", ignore_index=True), once
    )
    report = report_of(events)
    single = read_fhir(bundle).attrs["read_report"]
    assert report.dropped == {
        "duplicate (identical)": sum(single.resources.values()) + 555  # Conditions
    }
    assert not report.skipped


# -- the review of this change ---------------------------------------------------------------


def test_a_urn_reference_belongs_to_its_own_bundle(tmp_path):
    # Two Bundles that reuse one urn for two patients: each CRP stays with its patient.
    for name, patient, value in (("1.json", "A", 1.0), ("2.json", "B", 99.0)):
        urn = "urn:uuid:11111111-1111-1111-1111-111111111111"
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": urn, "resource": {"resourceType": "Patient", "id": patient,
                                          "gender": "female"}},
            {"resource": {"resourceType": "Observation", "status": "final",
                          "subject": {"reference": urn},
                          "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
                          "effectiveDateTime": "2020-01-01",
                          "valueQuantity": {"value": value, "unit": "mg/L"}}},
        ]}  # fmt: skip
        (tmp_path / name).write_text(json.dumps(bundle))
    events = read_fhir(tmp_path)
    crp = events[events["code"] == "LOINC/1988-5"].set_index("subject_id")["numeric_value"]
    assert crp.to_dict() == {"A": 1.0, "B": 99.0}


def test_a_bundle_file_is_named_by_its_place_not_its_name(tmp_path):
    # Bundles are named after their patient (<subject_id>.json, Synthea's Given_Family_id).
    name = "Jane_Doe_123e4567.json"
    (tmp_path / name).write_text(json.dumps({"resourceType": "Bundle", "entry": [None]}))
    with pytest.raises(FHIRReadError) as caught:
        read_fhir(tmp_path)
    assert "Jane" not in str(caught.value) and "JSON file 1 of 1" in str(caught.value)


def test_a_value_out_of_range_once_converted_is_refused():
    observation = {"resourceType": "Observation", "status": "final",
                   "subject": {"reference": "Patient/p"},
                   "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
                   "valueQuantity": {"value": 5e307, "unit": "mg/dL"}}  # fmt: skip
    with pytest.raises(FHIRReadError, match="out of range"):
        read_fhir([observation])
