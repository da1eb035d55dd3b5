"""The events table as FHIR R4 resources, grouped by patient (`events_to_fhir`).

`events_to_fhir` is the inverse of the reading rules in docs/data-model.md ("From FHIR R4
resources to events"): for every event it writes exactly what those rules read back, so
``read_fhir`` on the files returns the same events table (the ``source`` column aside).
Hence the choices below: values keep their canonical UCUM unit, and a time is written as a
date when it is midnight and as a UTC dateTime otherwise (a date never drifts to another
day). Each patient's events become a Patient, its Encounters (every other resource of the
same day refers to one) and a resource per event (`ramultimodal.io._write_fhir_resources`).

Resource ids are UUIDs derived from the patient, the resource type and the facts the
resource holds (`uuid.uuid5`), never from the clock, so the same events give the same files.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ramultimodal.io._events import as_events
from ramultimodal.io._write_fhir_resources import (
    EventRow,
    condition_resource,
    has_no_value,
    imaging_study_resource,
    medication_request_resource,
    observation_resource,
    questionnaire_response_resource,
    require_no_value,
    series_by_study,
)
from ramultimodal.terminology.events import (
    BIRTH,
    DEATH,
    ENCOUNTER_PREFIX,
    GENDER_PREFIX,
    IMAGING_PREFIX,
    QUESTIONNAIRE_PREFIX,
)
from ramultimodal.terminology.systems import HL7_TERMINOLOGY

__all__ = ["ID_NAMESPACE", "events_to_fhir"]

_CONDITION_PREFIXES = ("SNOMED", "ICD10CM", "ICD10")

_PATIENT_IDENTIFIER_SYSTEM = "https://ramultimodal.readthedocs.io/fhir/sid/patient"
# UUIDv5 namespace of every id the FHIR writers make: uuid5(NAMESPACE_URL, <project>).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ramultimodal.readthedocs.io/fhir")


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
    studies = series_by_study(images)
    subjects = events["subject_id"].tolist()
    records = list(
        map(
            EventRow._make,
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


def _patient_resources(
    subject_id: str, rows: list[EventRow], studies: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": subject_id,
        "identifier": [{"system": _PATIENT_IDENTIFIER_SYSTEM, "value": subject_id}],
    }
    subject = {"reference": f"Patient/{subject_id}"}
    encounters: list[dict[str, Any]] = []
    encounter_of_day: dict[str | None, dict[str, str]] = {}
    others: list[EventRow] = []  # the events of the resources that hold one each
    answers: dict[str | None, list[EventRow]] = defaultdict(list)
    seen: Counter[str] = Counter()

    def new_id(resource_type: str, key: str) -> str:
        # A repeated fact (same code, same time) gets its own id from its rank.
        name = f"{subject_id}|{resource_type}|{key}"
        seen[name] += 1
        return str(uuid.uuid5(ID_NAMESPACE, f"{name}|{seen[name]}"))

    for row in rows:
        code, time = row.code, row.time
        if code in (BIRTH, DEATH) or code.startswith(GENDER_PREFIX):
            _set_patient_fact(patient, code, time)
        elif code.startswith(ENCOUNTER_PREFIX):
            require_no_value(row, "an Encounter")
            encounter = {
                "resourceType": "Encounter",
                "id": new_id("Encounter", f"{_key_time(time)}|{code}"),
                "status": "finished",
                "class": {
                    "system": HL7_TERMINOLOGY + "v3-ActCode",
                    "code": code.removeprefix(ENCOUNTER_PREFIX),
                },
                "subject": subject,
                **({"period": {"start": time}} if time is not None else {}),
            }
            encounters.append(encounter)
            if time is not None:
                encounter_of_day.setdefault(row.day, {"reference": f"Encounter/{encounter['id']}"})
        elif code.startswith(QUESTIONNAIRE_PREFIX):
            answers[time].append(row)
        else:
            others.append(row)

    resources: list[dict[str, Any]] = [patient, *encounters]

    def context(time: str | None) -> dict[str, Any]:
        encounter = None if time is None else encounter_of_day.get(time[:10])
        return {"subject": subject, **({"encounter": encounter} if encounter else {})}

    for time, items in answers.items():
        resources.append(
            questionnaire_response_resource(
                new_id("QuestionnaireResponse", _key_time(time)), time, items, context(time)
            )
        )
    for row in others:
        resource_type = _resource_type(row)
        rid = new_id(resource_type, f"{_key_time(row.time)}|{row.code}")
        if resource_type == "ImagingStudy":
            resources.append(imaging_study_resource(rid, row, context(row.time), studies))
        elif resource_type == "MedicationRequest":
            resources.append(medication_request_resource(rid, row, context(row.time)))
        elif resource_type == "Condition":
            resources.append(condition_resource(rid, row, context(row.time)))
        else:
            gender = patient.get("gender")
            resources.append(observation_resource(rid, row, context(row.time), gender))
    return resources


def _resource_type(row: EventRow) -> str:
    if row.code.startswith(IMAGING_PREFIX):
        return "ImagingStudy"
    prefix = row.code.split("/", 1)[0]
    if prefix == "RXNORM":
        return "MedicationRequest"
    if prefix in _CONDITION_PREFIXES and has_no_value(row):
        return "Condition"
    return "Observation"


def _set_patient_fact(patient: dict[str, Any], code: str, time: str | None) -> None:
    if code.startswith(GENDER_PREFIX):
        field, value = "gender", code.removeprefix(GENDER_PREFIX)
    elif time is None:
        raise ValueError(f"{code} has no time.")
    elif code == BIRTH:
        if len(time) != len("2000-01-01"):
            raise ValueError(f"{BIRTH} has a time of day; Patient.birthDate is a date.")
        field, value = "birthDate", time
    else:
        field, value = "deceasedDateTime", time
    if patient.get(field, value) != value:
        raise ValueError(f"Two different values for Patient.{field} ({code}).")
    patient[field] = value


def _key_time(time: str | None) -> str:
    return time or ""
