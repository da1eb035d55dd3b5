"""FHIR R4 data types read from parsed JSON: the parts every extractor reads the same way.

A CodeableConcept becomes an events code (`code_of`: the first coding of the first system in
`CODING_ORDER`), a Quantity a value in its concept's canonical unit (`read_quantity`), a Period
its start, a coded result its positivity. A part whose JSON type is not FHIR's is a
`ResourceProblem` (`malformed`) that names the field and the type found, never the value,
which may identify the patient. Codes and unit conversions are cached: a few dozen of each
recur across millions of resources.
"""

from __future__ import annotations

import math
from typing import Any

from ramultimodal.terminology.codes import RESULT_CODES
from ramultimodal.terminology.systems import (
    ICD10_SYSTEM,
    ICD10CM_SYSTEM,
    LOINC_SYSTEM,
    RAMULTIMODAL_SYSTEM,
    RXNORM_SYSTEM,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
    code_from_coding,
)
from ramultimodal.terminology.units import UnitError, canonical_conversion
from ramultimodal.terminology.words import result_value

Resource = dict[str, Any]

#: The coding chosen for a resource's code: the first coding of the first system here.
CODING_ORDER: tuple[str, ...] = (
    LOINC_SYSTEM,
    SNOMED_SYSTEM,
    ICD10CM_SYSTEM,
    ICD10_SYSTEM,
    RXNORM_SYSTEM,
    RAMULTIMODAL_SYSTEM,
)
_RANK = {system: rank for rank, system in enumerate(CODING_ORDER)}

# valueCodeableConcept positive / negative, by SNOMED CT code.
_RESULT_SNOMED = {code.split("/", 1)[1]: value for code, value in RESULT_CODES.items()}

_codes: dict[tuple[str | None, str], str] = {}


class ResourceProblem(Exception):
    """A resource that cannot be turned into events, with a short reason for the report."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages.

    Examples
    --------
    >>> json_type("abc"), json_type(3), json_type({}), json_type(None)
    ('string', 'number', 'object', 'null')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__  # an iterable of Python dicts may hold anything


def malformed(field: str, value: Any, expected: str) -> ResourceProblem:
    """The problem of a field whose JSON type is not the one FHIR R4 gives it.

    It names the field and the type found, not the value (which may identify the patient).

    Examples
    --------
    >>> str(malformed("valueQuantity", 3.5, "a Quantity object"))
    'its valueQuantity is a JSON number, not a Quantity object'
    """
    return ResourceProblem(
        "malformed resource", f"its {field} is a JSON {json_type(value)}, not {expected}"
    )


def as_list(value: Any, field: str) -> list[Any] | tuple[()]:
    """`value` as a list of elements (absent: empty); a problem if it is not a JSON list."""
    if value is None:
        return ()
    if value.__class__ is not list:
        raise malformed(field, value, "a list")
    return value


def as_object(value: Any, field: str, expected: str) -> Resource:
    """`value` if it is a JSON object; a problem naming `field` if not."""
    if value.__class__ is not dict:
        raise malformed(field, value, expected)
    return value


def events_code(system: str | None, code: str) -> str:
    key = (system, code)
    cached = _codes.get(key)
    if cached is None:
        cached = _codes[key] = code_from_coding(system, code)
    return cached


def choose_coding(codings: list[Resource] | None, field: str = "code") -> Resource | None:
    """Return the first coding of the first system in `CODING_ORDER`, else the first one.

    Codings without a ``code`` are passed over. A ``coding`` that is not a list of objects
    raises `ResourceProblem` naming ``<field>.coding``.

    Examples
    --------
    >>> choose_coding([{"system": "http://snomed.info/sct", "code": "1"},
    ...                {"system": "http://loinc.org", "code": "2"}])["code"]
    '2'
    """
    best, best_rank = None, len(CODING_ORDER)
    for index, coding in enumerate(as_list(codings, f"{field}.coding")):
        if coding.__class__ is not dict:
            raise malformed(f"{field}.coding[{index}]", coding, "a Coding object")
        if "code" not in coding:
            continue
        rank = _RANK.get(coding.get("system"), len(CODING_ORDER))
        if best is None or rank < best_rank:
            best, best_rank = coding, rank
    return best


def code_of(concept: Resource | None, field: str = "code") -> str | None:
    """Return the events code of a CodeableConcept (`choose_coding`), or None.

    `field` names the concept in the `ResourceProblem` raised when it is not a
    CodeableConcept object (a string, say).
    """
    if not concept:
        return None
    if concept.__class__ is not dict:
        raise malformed(field, concept, "a CodeableConcept object")
    codings = concept.get("coding")
    coding = codings[0] if codings.__class__ is list and len(codings) == 1 else None
    if coding.__class__ is not dict or "code" not in coding:  # not the usual case
        coding = choose_coding(codings, field)
        if coding is None:
            return None
    key = (coding.get("system"), coding["code"])
    code = _codes.get(key)
    return code if code is not None else events_code(*key)


def required_code(concept: Resource | None, what: str = "code") -> str:
    code = code_of(concept, what)
    if code is None:
        raise ResourceProblem("no code", f"its {what} has no coding with a code")
    return code


def period_start(period: Resource | None, field: str) -> str | None:
    if not period:
        return None
    if period.__class__ is not dict:
        raise malformed(field, period, "a Period object")
    return period.get("start")


def read_quantity(
    code: str, quantity: Resource, field: str = "valueQuantity"
) -> tuple[float | None, str | None, str | None]:
    """(numeric, comparator, unit) of a Quantity, in the canonical unit of `code`'s concept."""
    if quantity.__class__ is not dict:
        raise malformed(field, quantity, "a Quantity object")
    value = quantity.get("value")
    # The UCUM code is preferred over the human-readable unit text.
    unit = quantity.get("code") if quantity.get("system", UCUM_SYSTEM) == UCUM_SYSTEM else None
    if unit is None:
        unit = quantity.get("unit")
    try:
        factor, unit = canonical_conversion(code, unit)
    except UnitError as error:
        raise ResourceProblem("unknown unit", f"{code}: {error}") from None
    if value is not None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ResourceProblem("bad value", f"{code}: its value is not a number")
        value = value * factor if factor != 1.0 else float(value)
        if not math.isfinite(value):  # 5e307 mg/dL is finite; in mg/L it is not
            raise ResourceProblem("bad value", f"{code}: its value is out of range in {unit}")
    return value, quantity.get("comparator"), unit


def positivity(concept: Resource) -> float | None:
    # After code_of: the codings are a list of objects.
    for coding in concept.get("coding") or ():
        if coding.get("system") == SNOMED_SYSTEM and coding.get("code") in _RESULT_SNOMED:
            return _RESULT_SNOMED[coding["code"]]
    for coding in concept.get("coding") or ():
        word = coding.get("display")
        if word.__class__ is str and (value := result_value(word)) is not None:
            return value
    text = concept.get("text")
    return result_value(text) if text.__class__ is str else None
