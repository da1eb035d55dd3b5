"""Unit normalisation: each concept's values end up in its canonical UCUM unit."""

from __future__ import annotations

import pytest

from ramultimodal.terminology.codes import CONCEPTS
from ramultimodal.terminology.units import (
    UnitError,
    canonical_conversion,
    conversion_factor,
    normalise_quantity,
)


@pytest.mark.parametrize(
    ("concept", "unit", "factor"),
    [
        ("crp", "mg/L", 1.0),
        ("crp", "mg/dL", 10.0),  # CLINICAL.md: CRP mg/dL x10 = mg/L
        ("crp", "ug/mL", 1.0),
        ("crp", "g/L", 1000.0),
        ("hemoglobin", "g/dL", 1.0),
        ("hemoglobin", "g/L", 0.1),
        ("hemoglobin", "mmol/L", 1.6114),  # Hb(Fe) monomer, 16 114 g/mol
        ("esr", "mm/h", 1.0),
        ("esr", "mm/hr", 1.0),
        ("esr", "mm/(1.h)", 1.0),
        ("rf", "[IU]/mL", 1.0),
        ("rf", "IU/mL", 1.0),
        ("rf", "kIU/L", 1.0),
        ("rf", "kU/L", 1.0),
        ("rf", "U/mL", 1.0),
        ("anti_ccp", "U/mL", 1.0),
        ("anti_ccp", "[U]/mL", 1.0),
        ("anti_ccp", "EU/mL", 1.0),
        ("anti_ccp", "kU/L", 1.0),
        ("anti_ccp", "IU/mL", 1.0),
        ("platelets", "10*3/uL", 1.0),
        ("platelets", "10*9/L", 1.0),
        ("platelets", "10^9/L", 1.0),
        ("platelets", "K/uL", 1.0),
        ("platelets", "/uL", 0.001),
        ("platelets", "/mm3", 0.001),
        ("leukocytes", "10*3/uL", 1.0),
        ("leukocytes", "x10E3/uL", 1.0),
        ("leukocytes", "10*9/L", 1.0),
        ("morning_stiffness", "min", 1.0),
        ("morning_stiffness", "h", 60.0),
        ("bmi", "kg/m2", 1.0),
        ("bmi", "kg/m^2", 1.0),
        ("tender_joints_28", "{#}", 1.0),
        ("tender_joints_28", None, 1.0),  # a count needs no unit
        ("pain", "{score}", 1.0),
        ("pain", "1", 1.0),
    ],
)
def test_conversion_factors(concept, unit, factor):
    assert conversion_factor(concept, unit) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize(
    ("concept", "unit", "message"),
    [
        ("crp", "furlong", "unknown unit 'furlong' for crp"),
        ("crp", "mm/h", "does not measure crp"),
        ("crp", None, "has no unit"),
        ("crp", "mmol/L", "does not measure crp"),  # no molar mass for CRP
        ("rf", "mg/L", "does not measure rf"),
        ("esr", "mm", "does not measure esr"),
        ("platelets", "mg/dL", "does not measure platelets"),
        ("esr", "mm/(h", "unknown unit"),
    ],
)
def test_unknown_or_wrong_units_are_errors(concept, unit, message):
    with pytest.raises(UnitError, match=message):
        conversion_factor(concept, unit)


def test_every_canonical_unit_converts_to_itself():
    for concept in CONCEPTS.values():
        if concept.unit is not None:
            assert conversion_factor(concept.name, concept.unit) == 1.0


def test_normalise_quantity_uses_the_code_and_keeps_other_codes_as_given():
    assert normalise_quantity("LOINC/30522-7", 0.35, "mg/dL") == (pytest.approx(3.5), "mg/L")
    assert normalise_quantity("LOINC/718-7", 8.0, "mmol/L") == (pytest.approx(12.8912), "g/dL")
    assert normalise_quantity("LOINC/2345-7", 5.5, "mmol/L") == (5.5, "mmol/L")
    assert normalise_quantity("LOINC/72166-2", None, None) == (None, None)  # unitless concept
    with pytest.raises(UnitError):
        normalise_quantity("LOINC/1988-5", 1.0, "mm/h")


def test_one_canonical_conversion_serves_every_reader():
    assert canonical_conversion("LOINC/1988-5", "mg/dL") == (10.0, "mg/L")
    assert canonical_conversion("LOINC/29463-7", "[lb_av]") == (1.0, "[lb_av]")  # no concept
    with pytest.raises(UnitError, match="does not measure crp"):
        canonical_conversion("LOINC/1988-5", "mm/h")
    # Cached with a bound: a file of a million distinct units cannot grow it without end.
    assert canonical_conversion.cache_info().maxsize == 4096
