"""Unit normalisation: every value of a concept in its canonical UCUM unit.

Labs report the same quantity in different units (CRP in mg/L or mg/dL, haemoglobin in g/dL,
g/L or mmol/L, platelets in 10*3/uL or 10*9/L). A model that sees "CRP 1.2" must know
whether that is 1.2 or 12 mg/L, so readers convert each value of a concept in
`ramultimodal.terminology.codes.CONCEPTS` to the concept's ``unit``.

Conversion is UCUM-aware rather than a table of spellings: a unit is parsed into a scale
and a dimension (``mg/dL`` is 1e-3 g / 1e-4 m3 = 10 g/m3 of mass/volume), so any prefix
works (``ug/mL``, ``g/L``, ``nmol/L``...). Two things need clinical knowledge beyond UCUM
and live in `_CONCEPT_RULES`: a molar mass (haemoglobin in mmol/L) and which arbitrary
units a concept's assays treat as interchangeable (see there). Common non-UCUM spellings
seen in lab extracts (``mm/hr``, ``IU/mL``, ``K/uL``, ``10^9/L``) are accepted.

Codes outside the concept sets keep their value and unit as given.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from ramultimodal.terminology.codes import CONCEPTS, concept_of

__all__ = [
    "UnitError",
    "canonical_conversion",
    "canonical_unit",
    "conversion_factor",
    "normalise_quantity",
]


class UnitError(ValueError):
    """A unit that cannot be converted to its concept's canonical unit."""


# Dimensions are exponent vectors over these base quantities. UCUM's "arbitrary units"
# ([arb'U], kit-specific U/mL) and international units ([IU]) are dimensions of their own:
# they never convert to grams, and only a concept rule may equate them.
_BASES = ("g", "m", "s", "mol", "[IU]", "[arb'U]")


@dataclass(frozen=True)
class _Unit:
    scale: float
    dims: tuple[int, ...]

    def __mul__(self, other: _Unit) -> _Unit:
        dims = tuple(a + b for a, b in zip(self.dims, other.dims, strict=True))
        return _Unit(self.scale * other.scale, dims)

    def __pow__(self, exponent: int) -> _Unit:
        return _Unit(self.scale**exponent, tuple(a * exponent for a in self.dims))


def _base(name: str, scale: float = 1.0) -> _Unit:
    return _Unit(scale, tuple(int(base == name) for base in _BASES))


_ONE = _Unit(1.0, (0,) * len(_BASES))

#: Atoms (UCUM codes, plus spellings labs use). "U" is read as an arbitrary unit, not
#: UCUM's enzyme unit (umol/min): in RA serology "U/mL" is always a kit's arbitrary unit.
_ATOMS: dict[str, _Unit] = {
    "g": _base("g"),
    "m": _base("m"),
    "L": _base("m") ** 3 * _Unit(1e-3, _ONE.dims),
    "l": _base("m") ** 3 * _Unit(1e-3, _ONE.dims),
    "s": _base("s"),
    "min": _base("s", 60.0),
    "h": _base("s", 3600.0),
    "hr": _base("s", 3600.0),
    "d": _base("s", 86400.0),
    "mol": _base("mol"),
    "[IU]": _base("[IU]"),
    "IU": _base("[IU]"),
    "[arb'U]": _base("[arb'U]"),
    "U": _base("[arb'U]"),
    "[U]": _base("[arb'U]"),
    "EU": _base("[arb'U]"),  # ELISA units
    "%": _Unit(0.01, _ONE.dims),
    "K": _Unit(1e3, _ONE.dims),  # "K/uL", a common lab spelling of 10*3/uL
}
_PREFIXES = {
    "k": 1e3,
    "d": 1e-1,
    "c": 1e-2,
    "m": 1e-3,
    "u": 1e-6,
    "μ": 1e-6,
    "µ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
}
_POWER_OF_TEN = re.compile(r"^(?:10[*^]|[xX]10[eE^*]?)([+-]?\d+)$")
_EXPONENT = re.compile(r"^(.*?)\^?([+-]?\d+)$")


def _parse_atom(text: str) -> _Unit:
    text = re.sub(r"\{[^}]*\}", "", text)  # UCUM annotations ({score}, {#}) mean 1
    if text in ("", "1"):
        return _ONE
    if match := _POWER_OF_TEN.match(text):
        return _Unit(10.0 ** int(match.group(1)), _ONE.dims)
    if text.isdigit():
        return _Unit(float(text), _ONE.dims)
    exponent = 1
    if text not in _ATOMS and (match := _EXPONENT.match(text)) and match.group(1):
        text, exponent = match.group(1), int(match.group(2))  # "m2", "mm3"
    if text in _ATOMS:
        return _ATOMS[text] ** exponent
    if text[:1] in _PREFIXES and text[1:] in _ATOMS and text[1:] not in ("%", "K"):
        return (_Unit(_PREFIXES[text[0]], _ONE.dims) * _ATOMS[text[1:]]) ** exponent
    raise UnitError(f"unknown unit atom {text!r}")


def _parse_term(tokens: list[str]) -> _Unit:
    """Parse ``a.b/c.(d/e)`` (UCUM's ``.`` multiplies, ``/`` divides, left to right)."""
    unit, sign = _ONE, 1
    while tokens and tokens[0] != ")":
        token = tokens.pop(0)
        if token in (".", "/"):
            sign = -1 if token == "/" else 1
            continue
        if token == "(":
            factor = _parse_term(tokens)
            if not tokens or tokens.pop(0) != ")":
                raise UnitError("unbalanced parentheses")
        else:
            factor = _parse_atom(token)
        unit = unit * factor**sign
    return unit


@lru_cache(maxsize=1024)
def _parse(text: str) -> _Unit:
    text = text.strip()
    tokens = [token for token in re.split(r"([./()])", text.replace(" ", "")) if token]
    unit = _parse_term(tokens)
    if tokens:
        raise UnitError("unbalanced parentheses")
    return unit


@dataclass(frozen=True)
class _ConceptRule:
    #: g/mol, to convert an amount of substance (mol) to a mass.
    molar_mass: float | None = None
    #: (source, target) bases taken as equal, factor 1 (arbitrary units of one analyte).
    equivalent: tuple[tuple[str, str], ...] = ()


_CONCEPT_RULES: dict[str, _ConceptRule] = {
    # Haemoglobin in mmol/L counts the haem monomer (Hb(Fe)), 16 114 g/mol, so
    # 1 mmol/L = 1.611 g/dL (ICSH/IFCC convention used by Dutch and Danish labs).
    "hemoglobin": _ConceptRule(molar_mass=16114.0),
    # RF is calibrated against the WHO international reference preparation, so its units
    # are IU; labs that write "U/mL" or "kU/L" for RF mean those same IU.
    "rf": _ConceptRule(equivalent=(("[arb'U]", "[IU]"),)),
    # Anti-CCP has no international standard: each kit's units (U/mL, EU/mL) are its own
    # and cannot be converted into another kit's. Taking them 1:1 is the only choice short
    # of dropping the value; kits are calibrated so that their positivity cut-offs lie in
    # the same range (CLINICAL.md: ULN 20 U/mL). kU/L = U/mL exactly.
    "anti_ccp": _ConceptRule(equivalent=(("[IU]", "[arb'U]"),)),
}


def _fold(dims: tuple[int, ...], source: str, target: str) -> tuple[int, ...]:
    """Count the `source` base as the `target` base (an equivalence of arbitrary units)."""
    folded = list(dims)
    folded[_BASES.index(target)] += folded[_BASES.index(source)]
    folded[_BASES.index(source)] = 0
    return tuple(folded)


@lru_cache(maxsize=4096)
def conversion_factor(concept: str, unit: str | None) -> float:
    """Return the factor that takes a value of `concept` in `unit` to the canonical unit.

    Parameters
    ----------
    concept : str
        A concept name in `ramultimodal.terminology.codes.CONCEPTS` (``"crp"``).
    unit : str or None
        The unit as reported (UCUM code or a common lab spelling). A missing unit is
        accepted only for dimensionless concepts (counts, scores).

    Returns
    -------
    float
        Multiply the value by it.

    Raises
    ------
    UnitError
        When the unit is unknown or measures something else.

    Examples
    --------
    >>> conversion_factor("crp", "mg/dL")
    10.0
    >>> conversion_factor("platelets", "10*9/L")
    1.0
    >>> round(conversion_factor("hemoglobin", "mmol/L"), 4)
    1.6114
    """
    canonical_text = CONCEPTS[concept].unit
    if canonical_text is None:
        return 1.0
    canonical = _parse(canonical_text)
    if unit is None or not unit.strip():
        if any(canonical.dims):
            raise UnitError(f"a {concept} value has no unit; expected {canonical_text}")
        return 1.0 / canonical.scale
    try:
        given = _parse(unit)
    except UnitError as error:
        raise UnitError(
            f"unknown unit {unit!r} for {concept} ({error}); expected {canonical_text} or a "
            "convertible UCUM unit"
        ) from None
    rule = _CONCEPT_RULES.get(concept, _ConceptRule())
    if rule.molar_mass is not None and given.dims != canonical.dims:
        per_mole = _Unit(rule.molar_mass, _base("g").dims) * _base("mol") ** -1
        given = given * per_mole
    dims = given.dims
    for source, target in rule.equivalent:
        dims = _fold(dims, source, target)
    if dims != canonical.dims:
        raise UnitError(
            f"unit {unit!r} does not measure {concept} (expected {canonical_text} or a "
            "convertible UCUM unit)"
        )
    factor = given.scale / canonical.scale
    # Round off the binary noise of prefix arithmetic (1e-3 / 1e-4 = 9.999999999999998).
    return float(f"{factor:.12g}") if math.isfinite(factor) else factor


def canonical_unit(code: str) -> str | None:
    """The unit the values of an events-table code are kept in; None outside concepts.

    Examples
    --------
    >>> canonical_unit("LOINC/1988-5")
    'mg/L'
    >>> canonical_unit("LOINC/29463-7") is None
    True
    """
    concept = concept_of(code)
    return None if concept is None else CONCEPTS[concept].unit


@lru_cache(maxsize=4096)
def canonical_conversion(code: str, unit: str | None) -> tuple[float, str | None]:
    """The factor that takes a value of an events-table code in `unit` to its canonical
    unit, and that unit.

    The readers call it once per quantity, so it is cached: a file has few distinct
    (code, unit) pairs, and the cache's bound keeps a hostile one from growing it.

    Parameters
    ----------
    code : str
        Events-table code (``"LOINC/1988-5"``).
    unit : str or None
        The unit as reported.

    Returns
    -------
    (factor, unit)
        Multiply the value by the factor; the unit is `canonical_unit`. A code outside
        the concepts, or of a concept without a unit, keeps its value and unit: (1.0, `unit`).

    Raises
    ------
    UnitError
        When the code belongs to a concept and the unit cannot be converted.

    Examples
    --------
    >>> canonical_conversion("LOINC/1988-5", "mg/dL")
    (10.0, 'mg/L')
    >>> canonical_conversion("LOINC/29463-7", "kg")
    (1.0, 'kg')
    """
    canonical = canonical_unit(code)
    if canonical is None:
        return 1.0, unit
    return conversion_factor(concept_of(code), unit), canonical


def normalise_quantity(
    code: str, value: float | None, unit: str | None
) -> tuple[float | None, str | None]:
    """Convert a value of an events-table code to its concept's canonical unit.

    Parameters
    ----------
    code : str
        Events-table code (``"LOINC/1988-5"``).
    value : float or None
        The value as reported.
    unit : str or None
        The unit as reported.

    Returns
    -------
    (value, unit)
        In the canonical unit for codes of a concept with one; as given otherwise.

    Raises
    ------
    UnitError
        When the code belongs to a concept and the unit cannot be converted.

    Examples
    --------
    >>> normalise_quantity("LOINC/1988-5", 1.2, "mg/dL")
    (12.0, 'mg/L')
    >>> normalise_quantity("LOINC/4537-7", 30.0, "mm/hr")
    (30.0, 'mm/h')
    >>> normalise_quantity("LOINC/29463-7", 80.0, "kg")
    (80.0, 'kg')
    """
    factor, unit = canonical_conversion(code, unit)
    if value is not None and factor != 1.0:
        value = value * factor
    return value, unit
