"""Optional validation of FHIR resources against the ``fhir.resources`` R4B models.

Validation is about 25x slower than reading by the rules (../shared/LEADS.md), so
`read_fhir` runs it only with ``validate=True``, and imports the models only then. A
failure is told by the fields' locations and the models' messages, never the values, which
may identify the patient.
"""

from __future__ import annotations

from typing import Any

__all__ = ["validation_problem"]

_models: dict[str, Any] = {}


def validation_problem(resource: dict[str, Any]) -> str | None:
    """Validate one resource with its ``fhir.resources.R4B`` model; a message or None.

    A Bundle is validated without its entries' resources, which are validated one by one
    so that each failure names its entry.
    """
    from pydantic import ValidationError

    kind = resource["resourceType"]
    model = _models.get(kind)
    if model is None:
        # Imported lazily: the R4B models cost ~0.2 s to import (../shared/LEADS.md).
        from fhir.resources.R4B import get_fhir_model_class

        try:
            model = _models[kind] = get_fhir_model_class(kind)
        except (KeyError, ValueError):
            return f"{kind!r} is not an R4 resource type"
    if kind == "Bundle" and resource.get("entry").__class__ is list:
        # An entry of another JSON type is left for the model to name.
        resource = {
            **resource,
            "entry": [
                {key: value for key, value in item.items() if key != "resource"}
                if item.__class__ is dict
                else item
                for item in resource["entry"]
            ],
        }
        if not resource["entry"]:
            del resource["entry"]
    try:
        model.model_validate(resource)
    except ValidationError as error:
        # Locations and messages only: the offending values may identify the patient.
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()[:5]
        )
        return f"fails R4B validation ({error.error_count()} errors): {details}"
    return None
