"""Code systems: the URIs of FHIR codings and the prefixes they take in the events table.

An events-table code is ``"PREFIX/code"`` (``"LOINC/1988-5"``); `SYSTEM_PREFIXES` maps a
coding's ``system`` URI to its prefix and `PREFIX_SYSTEMS` back. Codings from other systems
keep their URI as the prefix, so nothing is lost.
"""

from __future__ import annotations

__all__ = [
    "DICOM_SYSTEM",
    "HL7_TERMINOLOGY",
    "ICD10CM_SYSTEM",
    "ICD10_SYSTEM",
    "LOINC_SYSTEM",
    "PREFIX_SYSTEMS",
    "RAMULTIMODAL_SYSTEM",
    "RXNORM_SYSTEM",
    "SNOMED_SYSTEM",
    "SYSTEM_PREFIXES",
    "UCUM_SYSTEM",
    "code_from_coding",
]

LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM_SYSTEM = "http://unitsofmeasure.org"
#: The project's own CodeSystem (documented in docs/data-model.md), for concepts with no
#: confirmed LOINC code: morning stiffness, DAS28, joint counts by size, HAQ-DI items.
RAMULTIMODAL_SYSTEM = "https://ramultimodal.readthedocs.io/fhir/CodeSystem/ra"
#: Base of HL7's own code systems (``observation-category``, ``v3-ActCode``...).
HL7_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
#: DICOM's controlled terminology (modalities such as CR and DX).
DICOM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"

#: FHIR code-system URIs and the prefix they take in the ``code`` column
#: (``"LOINC/1988-5"``). Codings from other systems keep their URI as the prefix.
SYSTEM_PREFIXES: dict[str, str] = {
    LOINC_SYSTEM: "LOINC",
    SNOMED_SYSTEM: "SNOMED",
    ICD10CM_SYSTEM: "ICD10CM",
    ICD10_SYSTEM: "ICD10",
    RXNORM_SYSTEM: "RXNORM",
    UCUM_SYSTEM: "UCUM",
    RAMULTIMODAL_SYSTEM: "RAMULTIMODAL",
}
#: The system URI of each events-table prefix (the inverse of `SYSTEM_PREFIXES`).
PREFIX_SYSTEMS: dict[str, str] = {prefix: system for system, prefix in SYSTEM_PREFIXES.items()}


def code_from_coding(system: str | None, code: str) -> str:
    """Return the events-table code for a FHIR coding.

    Parameters
    ----------
    system : str or None
        The coding's ``system`` URI.
    code : str
        The coding's ``code``.

    Returns
    -------
    str
        ``"PREFIX/code"``, with the prefix from `SYSTEM_PREFIXES`, the URI itself for an
        unknown system, or ``"UNKNOWN"`` when the system is missing.

    Examples
    --------
    >>> code_from_coding("http://loinc.org", "1988-5")
    'LOINC/1988-5'
    >>> code_from_coding(None, "abc")
    'UNKNOWN/abc'
    """
    prefix = SYSTEM_PREFIXES.get(system or "", system or "UNKNOWN")
    return f"{prefix}/{code}"
