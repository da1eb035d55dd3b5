"""Per-resource rules from FHIR R4 resources to events (docs/data-model.md).

Each extractor takes a parsed resource (a dict straight from orjson) and an `EventSink`
and adds the resource's events to it. They read only the fields the rules name, so that
reading stays close to the speed of parsing the JSON, and read the data types they share
(CodeableConcept, Quantity, Period) through `ramultimodal.io._fhir_datatypes`. The sink
(`ramultimodal.io._fhir_reader`) knows where the resource came from, resolves subjects and
medication references, and records problems; an extractor raises `ResourceProblem` for a
resource it cannot turn into events, including one whose JSON has another shape than
FHIR's (`malformed`): such a problem names the field and the JSON type found, never the
value, which may identify the patient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ramultimodal.io._fhir_datatypes import (
    Resource,
    ResourceProblem,
    as_list,
    as_object,
    code_of,
    events_code,
    malformed,
    period_start,
    positivity,
    read_quantity,
    required_code,
)
from ramultimodal.terminology.events import (
    BIRTH,
    DEATH,
    encounter_code,
    gender_code,
    imaging_code,
    questionnaire_code,
)

_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

#: Statuses saying that a resource's fact did not happen or was recorded in error (the R4
#: value sets observation-status, event-status, request-status, medication-statement-status
#: ...): such a resource gives no events, and is counted in the read report's ``dropped``.
#: Every other status (final, amended, corrected, preliminary, active, completed, stopped...)
#: is kept. A Condition's is its ``verificationStatus``, not its ``clinicalStatus``: a
#: resolved condition did happen.
DROPPED_STATUSES: dict[str, frozenset[str]] = {
    "Observation": frozenset({"entered-in-error", "cancelled"}),
    "Condition": frozenset({"refuted", "entered-in-error"}),
    "Procedure": frozenset({"not-done", "entered-in-error"}),
    "MedicationRequest": frozenset({"entered-in-error", "cancelled", "draft"}),
    "MedicationStatement": frozenset({"entered-in-error", "not-taken"}),
    "DiagnosticReport": frozenset({"cancelled", "entered-in-error"}),
    "Encounter": frozenset({"cancelled", "entered-in-error"}),
    "ImagingStudy": frozenset({"cancelled", "entered-in-error"}),
    "QuestionnaireResponse": frozenset({"entered-in-error"}),
}


def dropped_status(kind: str, resource: Resource) -> str | None:
    """The status for which `resource` gives no events (`DROPPED_STATUSES`), else None.

    A status of the wrong JSON type says nothing, and the resource is kept.

    Examples
    --------
    >>> dropped_status("Observation", {"status": "entered-in-error"})
    'entered-in-error'
    >>> dropped_status("Observation", {"status": "amended"}) is None
    True
    >>> dropped_status("Condition", {"verificationStatus": {"coding": [
    ...     {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    ...      "code": "refuted"}]}})
    'refuted'
    """
    statuses = DROPPED_STATUSES.get(kind)
    if statuses is None:
        return None
    if kind != "Condition":
        status = resource.get("status")
        return status if status.__class__ is str and status in statuses else None
    concept = resource.get("verificationStatus")
    if concept.__class__ is str:  # STU3 wrote the code itself
        return concept if concept in statuses else None
    codings = concept.get("coding") if concept.__class__ is dict else None
    for coding in codings if codings.__class__ is list else ():
        if coding.__class__ is dict and coding.get("system", _VERIFICATION) == _VERIFICATION:
            code = coding.get("code")
            if code.__class__ is str and code in statuses:
                return code
    return None


class EventSink(Protocol):
    """What an extractor writes to (implemented by the reader in ``_fhir_reader.py``)."""

    def subject(self, resource: Resource) -> str: ...

    def patient_id(self, resource: Resource) -> str: ...

    def add(
        self,
        subject: str,
        time: str | None,
        code: str,
        numeric: float | None,
        text: str | None,
        unit: str | None,
    ) -> None: ...

    def add_medication(self, subject: str, time: str | None, reference: str) -> None: ...

    def unread(self, value_type: str) -> None: ...


def _value(
    code: str, element: Resource, sink: EventSink
) -> tuple[float | None, str | None, str | None] | None:
    """(numeric, text, unit) of an Observation's or component's ``value[x]``; None if absent."""
    if "valueQuantity" in element:
        return read_quantity(code, element["valueQuantity"])
    if "valueCodeableConcept" in element:
        concept = element["valueCodeableConcept"]
        text = code_of(concept, "valueCodeableConcept")  # first: it checks the shape
        return positivity(concept), text or concept.get("text"), None
    if "valueBoolean" in element:
        return (1.0 if element["valueBoolean"] else 0.0), None, None
    if "valueInteger" in element:
        return read_quantity(code, {"value": element["valueInteger"]})
    if "valueString" in element:
        return None, element["valueString"], None
    for key in ("valueDateTime", "valueTime"):
        if key in element:
            return None, element[key], None
    for key in element:
        if key.startswith("value"):  # valueRange, valueRatio...: the fact, no value
            sink.unread(key)
            return None, None, None
    return None


def observation(resource: Resource, sink: EventSink) -> None:
    """Observation: one event per value, one per component (docs/data-model.md)."""
    subject = sink.subject(resource)
    time = (
        resource.get("effectiveDateTime")
        or period_start(resource.get("effectivePeriod"), "effectivePeriod")
        or resource.get("effectiveInstant")
        or resource.get("issued")
    )
    code = required_code(resource.get("code"))
    components = as_list(resource.get("component"), "component")
    value = _value(code, resource, sink)
    if value is not None or not components:
        sink.add(subject, time, code, *(value or (None, None, None)))
    for index, component in enumerate(components):
        if component.__class__ is not dict:
            raise malformed(f"component[{index}]", component, "an object")
        component_code = required_code(component.get("code"), f"component[{index}].code")
        sink.add(
            subject,
            time,
            component_code,
            *(_value(component_code, component, sink) or (None, None, None)),
        )


def _first_time(resource: Resource, fields: tuple[tuple[str, bool], ...]) -> str | None:
    for field, is_period in fields:
        value = resource.get(field)
        if value:
            if not is_period:
                return value
            if value.__class__ is not dict:
                raise malformed(field, value, "a Period object")
            return value.get("start")
    return None


def _time_fields(names: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """``("onsetDateTime", "onsetPeriod")`` -> pairs (name, holds a Period)."""
    return tuple((name, name.endswith("Period") or name == "period") for name in names)


def _fact(*time_fields: str) -> Callable[[Resource, EventSink], None]:
    """Extractor for resources that give one event with their code and no value.

    A time field that holds a Period (``onsetPeriod``) contributes its start.
    """
    fields = _time_fields(time_fields)

    def extract(resource: Resource, sink: EventSink) -> None:
        code = code_of(resource.get("code"))
        if code is None:
            raise ResourceProblem("no code", "its code has no coding with a code")
        sink.add(sink.subject(resource), _first_time(resource, fields), code, None, None, None)

    return extract


def _medication(*time_fields: str) -> Callable[[Resource, EventSink], None]:
    """MedicationRequest / MedicationStatement: the code, or the referenced Medication's."""
    fields = _time_fields(time_fields)

    def extract(resource: Resource, sink: EventSink) -> None:
        subject = sink.subject(resource)
        time = _first_time(resource, fields)
        if "medicationCodeableConcept" in resource:
            code = required_code(resource["medicationCodeableConcept"], "medicationCodeableConcept")
            sink.add(subject, time, code, None, None, None)
            return
        medication = resource.get("medicationReference") or {}
        reference = as_object(medication, "medicationReference", "a Reference object").get(
            "reference"
        )
        if not reference:
            raise ResourceProblem(
                "no code", "it has neither medicationCodeableConcept nor a medicationReference"
            )
        if reference.__class__ is not str:
            raise malformed("medicationReference.reference", reference, "a string")
        if reference.startswith("#"):  # a contained Medication
            for contained in as_list(resource.get("contained"), "contained"):
                if contained.__class__ is dict and contained.get("id") == reference[1:]:
                    code = required_code(contained.get("code"), "Medication code")
                    sink.add(subject, time, code, None, None, None)
                    return
            raise ResourceProblem(
                "unresolved reference", f"contained Medication {reference} is missing"
            )
        sink.add_medication(subject, time, reference)

    return extract


def encounter(resource: Resource, sink: EventSink) -> None:
    """Encounter: its type coding, else ``ENCOUNTER/<class code>``, at ``period.start``."""
    subject = sink.subject(resource)
    code = None
    for index, concept in enumerate(as_list(resource.get("type"), "type")):
        code = code_of(concept, f"type[{index}]")
        if code:
            break
    if code is None:
        klass = resource.get("class")
        if isinstance(klass, list):  # R5 CodeableConcepts, tolerated
            klass = ((klass[0] if klass else {}).get("coding") or [{}])[0]
        if not klass or "code" not in as_object(klass, "class", "a Coding object"):
            raise ResourceProblem("no code", "it has neither a type coding nor a class code")
        code = encounter_code(klass["code"])
    sink.add(subject, period_start(resource.get("period"), "period"), code, None, None, None)


def _answers(items: list[Resource] | None, subject: str, time: str | None, sink: EventSink) -> None:
    for item in as_list(items, "item"):
        code = questionnaire_code(as_object(item, "item", "an object").get("linkId", ""))
        for answer in as_list(item.get("answer"), f"{code} answer"):
            as_object(answer, f"{code} answer", "an object")
            numeric, text, unit = None, None, None
            if "valueInteger" in answer or "valueDecimal" in answer:
                numeric = answer.get("valueInteger", answer.get("valueDecimal"))
                if not isinstance(numeric, (int, float)) or isinstance(numeric, bool):
                    raise ResourceProblem("bad value", f"{code}: its answer is not a number")
                numeric = float(numeric)
            elif "valueCoding" in answer:
                coding = as_object(answer["valueCoding"], f"{code} valueCoding", "a Coding object")
                if "code" in coding:
                    text = events_code(coding.get("system"), coding["code"])
                    numeric = _as_number(coding["code"])
                else:
                    text = coding.get("display")
            elif "valueBoolean" in answer:
                numeric = 1.0 if answer["valueBoolean"] else 0.0
            elif "valueQuantity" in answer:
                numeric, _, unit = read_quantity(
                    code, answer["valueQuantity"], f"{code} valueQuantity"
                )
            else:
                for key in ("valueString", "valueDate", "valueDateTime", "valueTime", "valueUri"):
                    if key in answer:
                        text = answer[key]
                        break
                else:
                    for key in answer:
                        if key.startswith("value"):  # valueAttachment, valueReference
                            sink.unread(key)
            sink.add(subject, time, code, numeric, text, unit)
            _answers(answer.get("item"), subject, time, sink)
        _answers(item.get("item"), subject, time, sink)


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def questionnaire_response(resource: Resource, sink: EventSink) -> None:
    """QuestionnaireResponse: one ``QR/<linkId>`` event per answer, nested items included."""
    subject = sink.subject(resource)
    _answers(resource.get("item"), subject, resource.get("authored"), sink)


def imaging_study(resource: Resource, sink: EventSink) -> None:
    """ImagingStudy: ``DICOM/<modality>`` with the Study Instance UID as ``text_value``."""
    subject = sink.subject(resource)
    modality = next(iter(as_list(resource.get("modality"), "modality")), None)
    if modality is None:
        series = as_list(resource.get("series"), "series")
        modality = next(
            (s["modality"] for s in series if s.__class__ is dict and "modality" in s), None
        )
    if not modality or "code" not in as_object(modality, "modality", "a Coding object"):
        raise ResourceProblem(
            "no code", "it has no modality (ImagingStudy.modality or series.modality)"
        )
    # R4 names the Study Instance UID by system urn:dicom:uid; Synthea writes it as an
    # RFC 3986 URI, "urn:oid:<uid>".
    uid = None
    for identifier in as_list(resource.get("identifier"), "identifier"):
        value = as_object(identifier, "identifier", "an Identifier object").get("value") or ""
        if identifier.get("system") == "urn:dicom:uid" or value.startswith("urn:oid:"):
            uid = value.removeprefix("urn:oid:")
            break
    sink.add(subject, resource.get("started"), imaging_code(modality["code"]), None, uid, None)


def patient(resource: Resource, sink: EventSink) -> None:
    """Patient: ``MEDS_BIRTH``, ``GENDER/<gender>`` (no time), ``MEDS_DEATH``.

    A Patient with none of these facts needs no id (HL7's search-result examples).
    """
    if not ("birthDate" in resource or "gender" in resource or "deceasedDateTime" in resource):
        return
    subject = sink.patient_id(resource)
    if "birthDate" in resource:
        sink.add(subject, resource["birthDate"], BIRTH, None, None, None)
    if "gender" in resource:
        sink.add(subject, None, gender_code(resource["gender"]), None, None, None)
    if "deceasedDateTime" in resource:
        sink.add(subject, resource["deceasedDateTime"], DEATH, None, None, None)


#: resourceType -> extractor. Every other type is counted as "ignored" in the read report.
EXTRACTORS: dict[str, Callable[[Resource, EventSink], None]] = {
    "Patient": patient,
    "Observation": observation,
    "Condition": _fact("onsetDateTime", "onsetPeriod", "recordedDate"),
    "Procedure": _fact("performedDateTime", "performedPeriod"),
    "DiagnosticReport": _fact("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
    "MedicationRequest": _medication("authoredOn"),
    "MedicationStatement": _medication("effectiveDateTime", "effectivePeriod", "dateAsserted"),
    "Encounter": encounter,
    "QuestionnaireResponse": questionnaire_response,
    "ImagingStudy": imaging_study,
}
