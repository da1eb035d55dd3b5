"""FHIR R4 writers: the events table as resources, as transaction Bundles, as Bulk Data NDJSON.

`events_to_fhir` is the inverse of the reading rules in docs/data-model.md ("From FHIR R4
resources to events"): for every event it writes exactly what those rules read back, so
``read_fhir`` on the files returns the same events table (the ``source`` column aside).
Hence the choices below: the event's own coding comes first in every ``code``, values keep
their canonical UCUM unit, and a time is written as a date when it is midnight and as a
UTC dateTime otherwise (a date never drifts to another day).

Resource ids are UUIDs derived from the patient, the resource type and the facts the
resource holds (`uuid.uuid5`), never from the clock, so the same events give the same files.
"""

from __future__ import annotations

import functools
import gzip as gzip_module
import os
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pandas as pd

from ramultimodal.io._events import as_events
from ramultimodal.terminology.codes import (
    CONCEPTS,
    DRUG_NAMES,
    HAQ_DI_CATEGORIES,
    RESULT_CODES,
    SMOKING_DISPLAYS,
    concept_of,
    upper_normal,
)
from ramultimodal.terminology.dicom import BODY_SITES, LATERALITIES, SOP_CLASSES
from ramultimodal.terminology.systems import (
    DICOM_SYSTEM,
    HL7_TERMINOLOGY,
    PREFIX_SYSTEMS,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
)

__all__ = [
    "HAQ_DI_QUESTIONNAIRE",
    "events_to_fhir",
    "write_fhir_bundles",
    "write_fhir_ndjson",
]

#: Canonical URL of the HAQ-DI Questionnaire that the QuestionnaireResponses answer.
HAQ_DI_QUESTIONNAIRE = "https://ramultimodal.readthedocs.io/fhir/Questionnaire/haq-di"

_CONDITION_PREFIXES = ("SNOMED", "ICD10CM", "ICD10")
_COMPARATORS = frozenset({"<", "<=", ">=", ">"})

_PATIENT_IDENTIFIER_SYSTEM = "https://ramultimodal.readthedocs.io/fhir/sid/patient"
# UUIDv5 namespace of every resource id this module makes: uuid5(NAMESPACE_URL, <project>).
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ramultimodal.readthedocs.io/fhir")

_OBSERVATION_CATEGORIES = {
    **dict.fromkeys(
        ("rf", "anti_ccp", "crp", "esr", "hemoglobin", "platelets", "leukocytes"),
        ("laboratory", "Laboratory"),
    ),
    **dict.fromkeys(
        (
            "tender_joints_28",
            "swollen_joints_28",
            "involved_small_joints",
            "involved_large_joints",
            "evaluator_global",
        ),
        ("exam", "Exam"),
    ),
    **dict.fromkeys(
        ("pain", "patient_global", "haq_di", "rapid3", "morning_stiffness"),
        ("survey", "Survey"),
    ),
    **dict.fromkeys(("smoking", "family_history_ra"), ("social-history", "Social History")),
    "bmi": ("vital-signs", "Vital Signs"),
}
# Concepts whose 1/0 values are yes/no answers, written as valueBoolean.
_BOOLEAN_CONCEPTS = frozenset({"family_history_ra"})

# ICD-10-CM equivalents that differ from a concept's first ICD-10-CM code.
_ICD10CM_EQUIVALENTS = {"SNOMED/239791005": "ICD10CM/M05.79"}  # seropositive RA


def events_to_fhir(
    events: pd.DataFrame, *, images: pd.DataFrame | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Express an events table as FHIR R4 resources, grouped by patient.

    Each patient gets a Patient (id = ``subject_id``; gender, birth and death dates from
    ``GENDER/*``, ``MEDS_BIRTH`` and ``MEDS_DEATH``), and then, by event code:

    - ``ENCOUNTER/<class>``: an Encounter; every other resource of the same day refers to it;
    - ``QR/<linkId>``: one QuestionnaireResponse per time, an item per event;
    - ``DICOM/<modality>`` (``text_value`` = Study Instance UID): an ImagingStudy, with its
      series and instances from `images` when given;
    - ``RXNORM/*``: a MedicationRequest (active order);
    - SNOMED / ICD-10 codes without a value: a Condition (with the ICD-10-CM equivalent
      of a SNOMED concept where one is known);
    - anything else: an Observation (``valueQuantity`` in UCUM with the comparator,
      ``referenceRange`` and ``interpretation`` where the concept has an upper limit of
      normal; ``valueCodeableConcept`` for coded values; ``valueBoolean`` for yes/no
      concepts; ``valueString`` for free text).

    References have the REST form ``ResourceType/id``; `write_fhir_bundles` turns them
    into ``urn:uuid:`` references.

    Parameters
    ----------
    events : DataFrame
        An events table (`ramultimodal.io.as_events` is applied).
    images : DataFrame, optional
        The image table of a cohort (index ``image_id``; ``study_uid``, ``series_uid``,
        ``sop_uid``, ``body_part``, ``laterality``, optional ``modality``), for the series
        and instances of each ImagingStudy.

    Returns
    -------
    dict of str to list of dict
        Resources (JSON-ready dicts) per ``subject_id``, in sorted subject order, the
        Patient first.

    Raises
    ------
    ValueError
        When an event cannot be written without losing part of it (a value on a
        Condition, an unknown code prefix, a birth time that is not a date, ...); the
        message names the code and the patient's position in the table, never the id.

    Examples
    --------
    >>> events = pd.DataFrame({
    ...     "subject_id": ["p1", "p1", "p1"],
    ...     "time": [None, "2020-03-01", "2020-03-01"],
    ...     "code": ["GENDER/female", "ENCOUNTER/AMB", "LOINC/1988-5"],
    ...     "numeric_value": [None, None, 12.5], "unit": [None, None, "mg/L"]})
    >>> resources = events_to_fhir(events)["p1"]
    >>> [r["resourceType"] for r in resources]
    ['Patient', 'Encounter', 'Observation']
    >>> crp = resources[2]
    >>> crp["valueQuantity"]["value"], crp["interpretation"][0]["coding"][0]["code"]
    (12.5, 'H')
    >>> crp["encounter"]["reference"] == "Encounter/" + resources[1]["id"]
    True
    """
    events = as_events(events)  # sorted by subject, then time
    studies = _series_by_study(images)
    subjects = events["subject_id"].tolist()
    records = list(
        map(
            _Event._make,
            zip(
                *(_plain(events[name]) for name in ("code", "numeric_value", "text_value", "unit")),
                _fhir_times(events["time"]),
                strict=True,
            ),
        )
    )
    resources: dict[str, list[dict[str, Any]]] = {}
    start = 0
    for position, end in enumerate(_group_ends(subjects)):
        subject_id = subjects[start]
        try:
            resources[subject_id] = _patient_resources(subject_id, records[start:end], studies)
        except ValueError as error:
            raise ValueError(f"Patient #{position} (in sorted order): {error}") from None
        start = end
    return resources


class _Event(NamedTuple):
    """One row of the events table, as plain Python values (None when missing)."""

    code: str
    numeric_value: float | None
    text_value: str | None
    unit: str | None
    time: str | None  # a FHIR date or dateTime

    @property
    def day(self) -> str | None:
        return None if self.time is None else self.time[:10]


def _plain(column: pd.Series) -> list[Any]:
    return column.astype(object).where(column.notna(), None).tolist()


def _group_ends(values: list[str]) -> list[int]:
    """End positions of the runs of equal values of a sorted list."""
    ends = [i for i in range(1, len(values)) if values[i] != values[i - 1]]
    return [*ends, len(values)] if values else []


def _fhir_times(times: pd.Series) -> list[str | None]:
    """FHIR dates at midnight, UTC dateTimes otherwise (the times are naive UTC)."""
    text = times.dt.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = times.dt.microsecond != 0
    text = text.where(~fraction, times.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")) + "Z"
    text = text.where(times != times.dt.normalize(), times.dt.strftime("%Y-%m-%d"))
    return _plain(text.where(times.notna()))


def write_fhir_bundles(
    resources_by_patient: Mapping[str, Iterable[dict[str, Any]]],
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Write one FHIR R4 transaction Bundle per patient, ``<subject_id>.json``.

    Each entry has ``fullUrl`` ``urn:uuid:<id>`` and a ``POST`` request, and every
    reference to a resource of the Bundle becomes that ``urn:uuid:``, as Synthea writes.

    Parameters
    ----------
    resources_by_patient : mapping of str to iterable of dict
        What `events_to_fhir` returns.
    out_dir : path-like
        Folder to write to (created if needed).

    Returns
    -------
    list of Path
        The files written, in patient order.

    Examples
    --------
    >>> import tempfile
    >>> resources = {"0b0e6d50-0000-4000-8000-000000000001": [
    ...     {"resourceType": "Patient", "id": "0b0e6d50-0000-4000-8000-000000000001"}]}
    >>> [path] = write_fhir_bundles(resources, tempfile.mkdtemp())
    >>> bundle = orjson.loads(path.read_bytes())
    >>> entry = bundle["entry"][0]
    >>> bundle["type"], entry["fullUrl"][:17], entry["request"]
    ('transaction', 'urn:uuid:0b0e6d50', {'method': 'POST', 'url': 'Patient'})
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for subject_id, resources in resources_by_patient.items():
        resources = list(resources)
        local = {f"{r['resourceType']}/{r['id']}".encode(): f"urn:uuid:{r['id']}".encode()
                 for r in resources}  # fmt: skip
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid5(_ID_NAMESPACE, f"{subject_id}|Bundle")),
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{resource['id']}",
                    "resource": resource,
                    "request": {"method": "POST", "url": resource["resourceType"]},
                }
                for resource in resources
            ],
        }
        path = out_dir / f"{_safe_file_stem(subject_id)}.json"
        path.write_bytes(_replace_references(orjson.dumps(bundle), local) + b"\n")
        paths.append(path)
    return paths


def write_fhir_ndjson(
    resources_by_patient: Mapping[str, Iterable[dict[str, Any]]],
    out_dir: str | os.PathLike[str],
    *,
    gzip: bool = False,
) -> list[Path]:
    """Write FHIR Bulk Data NDJSON: one ``<ResourceType>.ndjson`` file per resource type.

    One resource per line, patients in the order given, references ``ResourceType/id``.

    Parameters
    ----------
    resources_by_patient : mapping of str to iterable of dict
        What `events_to_fhir` returns.
    out_dir : path-like
        Folder to write to (created if needed).
    gzip : bool, default False
        Write ``<ResourceType>.ndjson.gz`` instead. The gzip header carries no time or
        file name, so the bytes stay the same from run to run.

    Returns
    -------
    list of Path
        The files written, sorted by resource type.

    Examples
    --------
    >>> import tempfile
    >>> resources = {"p1": [{"resourceType": "Patient", "id": "p1"},
    ...                     {"resourceType": "Condition", "id": "c1",
    ...                      "subject": {"reference": "Patient/p1"}}]}
    >>> [path.name for path in write_fhir_ndjson(resources, tempfile.mkdtemp())]
    ['Condition.ndjson', 'Patient.ndjson']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[bytes]] = defaultdict(list)
    for resources in resources_by_patient.values():
        for resource in resources:
            lines[resource["resourceType"]].append(orjson.dumps(resource))
    paths = []
    for resource_type in sorted(lines):
        content = b"\n".join(lines[resource_type]) + b"\n"
        path = out_dir / f"{resource_type}.ndjson{'.gz' if gzip else ''}"
        if gzip:
            with (
                open(path, "wb") as raw,
                gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
            ):
                compressed.write(content)
        else:
            path.write_bytes(content)
        paths.append(path)
    return paths


# --- one patient ---------------------------------------------------------------------


def _patient_resources(
    subject_id: str, rows: list[_Event], studies: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": subject_id,
        "identifier": [{"system": _PATIENT_IDENTIFIER_SYSTEM, "value": subject_id}],
    }
    subject = {"reference": f"Patient/{subject_id}"}
    encounters: list[dict[str, Any]] = []
    encounter_of_day: dict[str | None, dict[str, str]] = {}
    others: list[_Event] = []  # the events of the resources that hold one each
    answers: dict[str | None, list[_Event]] = defaultdict(list)
    seen: Counter[str] = Counter()

    def new_id(resource_type: str, key: str) -> str:
        # A repeated fact (same code, same time) gets its own id from its rank.
        name = f"{subject_id}|{resource_type}|{key}"
        seen[name] += 1
        return str(uuid.uuid5(_ID_NAMESPACE, f"{name}|{seen[name]}"))

    for row in rows:
        code, time = row.code, row.time
        if code in ("MEDS_BIRTH", "MEDS_DEATH") or code.startswith("GENDER/"):
            _set_patient_fact(patient, code, time)
        elif code.startswith("ENCOUNTER/"):
            _no_value(row, "an Encounter")
            encounter = {
                "resourceType": "Encounter",
                "id": new_id("Encounter", f"{_key_time(time)}|{code}"),
                "status": "finished",
                "class": {
                    "system": HL7_TERMINOLOGY + "v3-ActCode",
                    "code": code.split("/", 1)[1],
                },
                "subject": subject,
                **({"period": {"start": time}} if time is not None else {}),
            }
            encounters.append(encounter)
            if time is not None:
                encounter_of_day.setdefault(row.day, {"reference": f"Encounter/{encounter['id']}"})
        elif code.startswith("QR/"):
            answers[time].append(row)
        else:
            others.append(row)

    resources: list[dict[str, Any]] = [patient, *encounters]

    def context(time: str | None) -> dict[str, Any]:
        encounter = None if time is None else encounter_of_day.get(time[:10])
        return {"subject": subject, **({"encounter": encounter} if encounter else {})}

    for time, items in answers.items():
        resources.append(
            _questionnaire_response(
                new_id("QuestionnaireResponse", _key_time(time)), time, items, context(time)
            )
        )
    for row in others:
        resource_type = _resource_type(row)
        rid = new_id(resource_type, f"{_key_time(row.time)}|{row.code}")
        if resource_type == "ImagingStudy":
            resources.append(_imaging_study(rid, row, context(row.time), studies))
        elif resource_type == "MedicationRequest":
            resources.append(_medication_request(rid, row, context(row.time)))
        elif resource_type == "Condition":
            resources.append(_condition(rid, row, context(row.time)))
        else:
            gender = patient.get("gender")
            resources.append(_observation(rid, row, context(row.time), gender))
    return resources


def _resource_type(row: _Event) -> str:
    prefix = row.code.split("/", 1)[0]
    if prefix == "DICOM":
        return "ImagingStudy"
    if prefix == "RXNORM":
        return "MedicationRequest"
    if prefix in _CONDITION_PREFIXES and _has_no_value(row):
        return "Condition"
    return "Observation"


def _set_patient_fact(patient: dict[str, Any], code: str, time: str | None) -> None:
    if code.startswith("GENDER/"):
        field, value = "gender", code.split("/", 1)[1]
    elif time is None:
        raise ValueError(f"{code} has no time.")
    elif code == "MEDS_BIRTH":
        if len(time) != len("2000-01-01"):
            raise ValueError("MEDS_BIRTH has a time of day; Patient.birthDate is a date.")
        field, value = "birthDate", time
    else:
        field, value = "deceasedDateTime", time
    if patient.get(field, value) != value:
        raise ValueError(f"Two different values for Patient.{field} ({code}).")
    patient[field] = value


def _observation(
    rid: str, row: _Event, context: dict[str, Any], gender: str | None
) -> dict[str, Any]:
    concept_name = concept_of(row.code)
    concept = CONCEPTS.get(concept_name) if concept_name else None
    observation: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": "final"}
    if concept_name in _OBSERVATION_CATEGORIES:
        category, display = _OBSERVATION_CATEGORIES[concept_name]
        observation["category"] = [
            {
                "coding": [
                    {
                        "system": HL7_TERMINOLOGY + "observation-category",
                        "code": category,
                        "display": display,
                    }
                ]
            }
        ]
    observation["code"] = _codeable_concept(row.code)
    observation.update(context)
    if row.time is not None:
        observation["effectiveDateTime"] = row.time

    value, text, unit = row.numeric_value, row.text_value, row.unit
    has_value, has_text = value is not None, text is not None
    if has_text and text not in _COMPARATORS and _is_code(text):
        expected = RESULT_CODES.get(text)
        if has_value and expected != value:
            raise ValueError(
                f"{row.code}: a coded value ({text}) with a number is not "
                "expressible in FHIR unless it is positive (1) / negative (0)."
            )
        observation["valueCodeableConcept"] = _codeable_concept(text)
    elif has_text and text not in _COMPARATORS:
        if has_value:
            raise ValueError(f"{row.code}: free text with a number is not expressible.")
        observation["valueString"] = text
    elif has_value and concept_name in _BOOLEAN_CONCEPTS and unit is None:
        if value not in (0.0, 1.0):
            raise ValueError(f"{row.code}: a yes/no concept needs 1 or 0, got {value}.")
        observation["valueBoolean"] = bool(value)
    elif has_value:
        quantity: dict[str, Any] = {"value": _number(value)}
        if has_text:
            quantity["comparator"] = text
        if unit is not None:
            quantity.update(unit=unit, system=UCUM_SYSTEM, code=unit)
        observation["valueQuantity"] = quantity
        upper = upper_normal(concept_name, gender) if concept_name else None
        if upper is not None and concept is not None and unit == concept.unit:
            high = value > upper or (value == upper and has_text and text in (">", ">="))
            observation["interpretation"] = [
                {
                    "coding": [
                        {
                            "system": HL7_TERMINOLOGY + "v3-ObservationInterpretation",
                            "code": "H" if high else "N",
                            "display": "High" if high else "Normal",
                        }
                    ]
                }
            ]
            observation["referenceRange"] = [
                {
                    "high": {
                        "value": _number(upper),
                        "unit": unit,
                        "system": UCUM_SYSTEM,
                        "code": unit,
                    }
                }
            ]
    elif has_text:
        raise ValueError(f"{row.code}: a comparator ({text}) without a number.")
    return observation


def _condition(rid: str, row: _Event, context: dict[str, Any]) -> dict[str, Any]:
    codings = [_coding(row.code)]
    equivalent = _icd10cm_equivalent(row.code)
    if equivalent is not None:
        # The equivalent means the whole concept, so it takes the concept's display.
        display = codings[0].get("display")
        codings.append({**_coding(equivalent), **({"display": display} if display else {})})
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": _terminology_concept("condition-clinical", "active", "Active"),
        "verificationStatus": _terminology_concept(
            "condition-ver-status", "confirmed", "Confirmed"
        ),
        "category": [
            _terminology_concept("condition-category", "encounter-diagnosis", "Encounter Diagnosis")
        ],
        "code": {"coding": codings, **_text_of(row.code)},
        **context,
    }
    if row.time is not None:
        condition["onsetDateTime"] = row.time
    return condition


def _icd10cm_equivalent(code: str) -> str | None:
    """The ICD-10-CM code of a SNOMED concept, or None.

    Only SNOMED codes get one: the readers take the first coding of the first system in
    the order LOINC, SNOMED, ICD-10-CM, ... (docs/data-model.md), so an ICD-10-CM coding
    after a SNOMED one is read past, while a SNOMED coding added to an ICD-10-CM event
    would be read instead of it.
    """
    if not code.startswith("SNOMED/"):
        return None
    if code in _ICD10CM_EQUIVALENTS:
        return _ICD10CM_EQUIVALENTS[code]
    name = concept_of(code)
    icd = [c for c in CONCEPTS[name].codes if c.startswith("ICD10CM/")] if name else []
    return icd[0] if icd else None


def _medication_request(rid: str, row: _Event, context: dict[str, Any]) -> dict[str, Any]:
    _no_value(row, "a MedicationRequest")
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": _codeable_concept(row.code),
        **context,
    }
    if row.time is not None:
        request["authoredOn"] = row.time
    return request


def _questionnaire_response(
    rid: str, time: str | None, rows: list[_Event], context: dict[str, Any]
) -> dict[str, Any]:
    items = []
    for row in sorted(rows, key=lambda row: _item_order(row.code)):
        link_id = row.code.split("/", 1)[1]
        has_value, has_text = row.numeric_value is not None, row.text_value is not None
        if has_value and has_text:
            raise ValueError(f"{row.code}: an answer with both a number and a text.")
        if has_value:
            value = _number(row.numeric_value)
            answer = {"valueInteger" if isinstance(value, int) else "valueDecimal": value}
        elif has_text and _is_code(row.text_value):
            answer = {"valueCoding": _coding(row.text_value)}
        elif has_text:
            answer = {"valueString": row.text_value}
        else:
            raise ValueError(f"{row.code}: a questionnaire item with no answer.")
        items.append({"linkId": link_id, "answer": [answer]})
    response: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "id": rid}
    if all(item["linkId"].startswith("haq-di-") for item in items):
        response["questionnaire"] = HAQ_DI_QUESTIONNAIRE
    response.update(status="completed", **context)
    if time is not None:
        response["authored"] = time
    response["item"] = items
    return response


def _item_order(code: str) -> tuple[int, str]:
    """HAQ-DI items in questionnaire order (category, then item), other items after."""
    parts = code.removeprefix("QR/haq-di-").rsplit("-", 1)
    categories = list(HAQ_DI_CATEGORIES)
    if len(parts) == 2 and parts[0] in categories and parts[1].isdigit():
        return categories.index(parts[0]) * 100 + int(parts[1]), code
    return len(categories) * 100, code


def _imaging_study(
    rid: str, row: _Event, context: dict[str, Any], studies: Mapping[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    modality = row.code.split("/", 1)[1]
    if row.text_value is None or row.numeric_value is not None:
        raise ValueError(
            f"{row.code}: an imaging event needs the Study Instance UID as "
            "text_value and no number."
        )
    study_uid = row.text_value.removeprefix("urn:oid:")
    modality_coding = {"system": DICOM_SYSTEM, "code": modality}
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": rid,
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}],
        "status": "available",
        "modality": [modality_coding],
        **context,
    }
    if row.time is not None:
        study["started"] = row.time
    series = studies.get(study_uid, [])
    if series:
        study["numberOfSeries"] = len(series)
        study["numberOfInstances"] = sum(s["numberOfInstances"] for s in series)
        study["series"] = series
    return study


def _series_by_study(images: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
    """ImagingStudy.series (with instances) for each Study Instance UID of `images`."""
    if images is None or len(images) == 0:
        return {}
    studies: dict[str, list[dict[str, Any]]] = {}
    for study_uid, study_rows in images.groupby("study_uid", sort=True):
        series = []
        for number, (series_uid, series_rows) in enumerate(
            study_rows.groupby("series_uid", sort=True), start=1
        ):
            first = series_rows.iloc[0]
            modality = str(first.get("modality", "CR"))
            sop_class = SOP_CLASSES.get(modality, SOP_CLASSES["CR"])
            entry: dict[str, Any] = {
                "uid": str(series_uid),
                "number": number,
                "modality": {"system": DICOM_SYSTEM, "code": modality},
                "numberOfInstances": len(series_rows),
            }
            body_part = str(first["body_part"])
            if body_part in BODY_SITES:
                code, display = BODY_SITES[body_part]
                entry["bodySite"] = {"system": SNOMED_SYSTEM, "code": code, "display": display}
            if first["laterality"] in LATERALITIES:
                code, display = LATERALITIES[first["laterality"]]
                entry["laterality"] = {"system": SNOMED_SYSTEM, "code": code, "display": display}
            entry["instance"] = [
                {
                    "uid": str(sop_uid),
                    "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{sop_class}"},
                    "number": instance,
                }
                for instance, sop_uid in enumerate(sorted(series_rows["sop_uid"]), start=1)
            ]
            series.append(entry)
        studies[str(study_uid)] = series
    return studies


# --- small pieces ----------------------------------------------------------------------


def _coding(code: str) -> dict[str, str]:
    prefix, _, value = code.partition("/")
    system = PREFIX_SYSTEMS.get(prefix, prefix if ":" in prefix else None)
    if system is None or not value:
        raise ValueError(
            f"Code {code!r} has no known code system: use a prefix of "
            f"ramultimodal.terminology.SYSTEM_PREFIXES ({sorted(PREFIX_SYSTEMS)}) or a system URI."
        )
    coding = {"system": system, "code": value}
    display = _display(code)
    if display:
        coding["display"] = display
    return coding


def _codeable_concept(code: str) -> dict[str, Any]:
    return {"coding": [_coding(code)], **_text_of(code)}


def _text_of(code: str) -> dict[str, str]:
    display = _display(code)
    return {"text": display} if display else {}


@functools.cache  # a few dozen codes, looked up for every resource
def _display(code: str) -> str | None:
    if code in SMOKING_DISPLAYS or code in DRUG_NAMES:  # values and drugs, not concepts
        return SMOKING_DISPLAYS.get(code) or DRUG_NAMES[code]
    name = concept_of(code)
    # Only the preferred code has the concept's display; variants mean something narrower.
    if name and CONCEPTS[name].code == code:
        return CONCEPTS[name].display
    return None


def _terminology_concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": HL7_TERMINOLOGY + system, "code": code, "display": display}]}


def _is_code(text: str) -> bool:
    prefix, slash, value = text.partition("/")
    return bool(slash and value) and (prefix in PREFIX_SYSTEMS or ":" in prefix)


def _has_no_value(row: _Event) -> bool:
    return row.numeric_value is None and row.text_value is None


def _no_value(row: _Event, what: str) -> None:
    if not _has_no_value(row):
        raise ValueError(f"{row.code}: {what} cannot hold a value; it would be lost.")


def _number(value: float) -> int | float:
    """A FHIR decimal: integral values without a fraction, as most servers write them."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _key_time(time: str | None) -> str:
    return time or ""


# A reference as orjson writes it (compact, no escapes in our ids).
_REFERENCE = re.compile(rb'"reference":"([A-Za-z]+/[^"]+)"')


def _replace_references(document: bytes, local: Mapping[bytes, bytes]) -> bytes:
    """`document` with every ``reference`` to a resource in `local` replaced.

    Done on the serialised JSON: walking the dicts took a third of the writing time.
    """
    return _REFERENCE.sub(
        lambda match: b'"reference":"' + local.get(match[1], match[1]) + b'"', document
    )


def _safe_file_stem(subject_id: str) -> str:
    if not subject_id or subject_id.startswith(".") or any(c in subject_id for c in "/\\\0"):
        raise ValueError(
            "A subject_id cannot be used as a file name (empty, leading dot, or a path "
            "separator); use UUID-like ids."
        )
    return subject_id
