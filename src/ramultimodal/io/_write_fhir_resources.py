"""One event as a FHIR R4 resource, as the reading rules read it back.

The writing side of `ramultimodal.io._fhir_resources`: an Observation (``valueQuantity`` in
its canonical UCUM unit with the comparator, ``referenceRange`` and ``interpretation`` where
the concept has an upper limit of normal, ``valueCodeableConcept``, ``valueBoolean`` or
``valueString``), a Condition (with the ICD-10-CM equivalent of a SNOMED concept), a
MedicationRequest, an ImagingStudy with its series and instances, or a day's answers as a
QuestionnaireResponse. The event's own coding comes first in every ``code``, so that it is
the one read back. An event that a resource cannot hold without losing part of it is a
ValueError naming its code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from ramultimodal.terminology.codes import (
    CONCEPTS,
    DRUG_NAMES,
    HAQ_DI_CATEGORIES,
    ICD10CM_EQUIVALENTS,
    RESULT_CODES,
    SMOKING_DISPLAYS,
    concept_of,
    haq_di_item,
    upper_normal,
)
from ramultimodal.terminology.dicom import BODY_SITES, LATERALITIES, SOP_CLASSES
from ramultimodal.terminology.events import IMAGING_PREFIX
from ramultimodal.terminology.systems import (
    DICOM_SYSTEM,
    HL7_TERMINOLOGY,
    PREFIX_SYSTEMS,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
)

__all__ = [
    "HAQ_DI_QUESTIONNAIRE",
    "EventRow",
    "condition_resource",
    "has_no_value",
    "imaging_study_resource",
    "medication_request_resource",
    "observation_resource",
    "questionnaire_response_resource",
    "require_no_value",
    "series_by_study",
]

#: Canonical URL of the HAQ-DI Questionnaire that the QuestionnaireResponses answer.
HAQ_DI_QUESTIONNAIRE = "https://ramultimodal.readthedocs.io/fhir/Questionnaire/haq-di"

_COMPARATORS = frozenset({"<", "<=", ">=", ">"})

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


class EventRow(NamedTuple):
    """One row of the events table, as plain Python values (None when missing)."""

    code: str
    numeric_value: float | None
    text_value: str | None
    unit: str | None
    time: str | None  # a FHIR date or dateTime

    @property
    def day(self) -> str | None:
        return None if self.time is None else self.time[:10]


def observation_resource(
    rid: str, row: EventRow, context: dict[str, Any], gender: str | None
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


def condition_resource(rid: str, row: EventRow, context: dict[str, Any]) -> dict[str, Any]:
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
    if code in ICD10CM_EQUIVALENTS:
        return ICD10CM_EQUIVALENTS[code]
    name = concept_of(code)
    icd = [c for c in CONCEPTS[name].codes if c.startswith("ICD10CM/")] if name else []
    return icd[0] if icd else None


def medication_request_resource(rid: str, row: EventRow, context: dict[str, Any]) -> dict[str, Any]:
    require_no_value(row, "a MedicationRequest")
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


def questionnaire_response_resource(
    rid: str, time: str | None, rows: list[EventRow], context: dict[str, Any]
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
    categories = list(HAQ_DI_CATEGORIES)
    item = haq_di_item(code)
    if item is None:
        return len(categories) * 100, code
    return categories.index(item[0]) * 100 + item[1], code


def imaging_study_resource(
    rid: str, row: EventRow, context: dict[str, Any], studies: Mapping[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    modality = row.code.removeprefix(IMAGING_PREFIX)
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


def series_by_study(images: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
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


def has_no_value(row: EventRow) -> bool:
    return row.numeric_value is None and row.text_value is None


def require_no_value(row: EventRow, what: str) -> None:
    if not has_no_value(row):
        raise ValueError(f"{row.code}: {what} cannot hold a value; it would be lost.")


def _number(value: float) -> int | float:
    """A FHIR decimal: integral values without a fraction, as most servers write them."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
