"""OMOP CDM v5.4 vocabulary: how OMOP concepts map to events-table codes, and back.

An OMOP database codes every fact with a ``concept_id``; its ``concept`` table gives the
concept's ``vocabulary_id`` and ``concept_code`` (LOINC 1988-5 is concept 3020460,
vocabulary ``LOINC``, code ``1988-5``). The reader (`ramultimodal.io.read_omop`) maps a
concept through that table and `VOCABULARY_PREFIXES` to the events-table code
(``LOINC/1988-5``), so the ids below are needed only where a fact has no code of its own
in our tables (sex, visit type, comparators) and where the generator writes OMOP.

Concept ids marked *verified* were seen in published OHDSI material (ATLAS cohort
definitions and Data Quality Dashboard checks, see each comment); *unverified* ones are
the ids we believe Athena gives but could not confirm here; *placeholder* ones are local
concepts in the range OMOP reserves for a site's own concepts (``>= 2_000_000_000``),
for codes of the project's own system and codes whose OMOP id we did not look up. The
reader never depends on an id being right: it maps by vocabulary and code.
"""

from __future__ import annotations

from ramultimodal.terminology.codes import CONCEPTS, HAQ_DI_CATEGORIES, haq_di_item_code

__all__ = [
    "DMARD_INGREDIENT_CONCEPT_IDS",
    "GENDER_CONCEPTS",
    "LOCAL_CONCEPT_BASE",
    "OPERATOR_CONCEPTS",
    "PREFIX_VOCABULARIES",
    "RA_CONDITION_CONCEPT_IDS",
    "STANDARD_CONCEPT_IDS",
    "UNIT_CONCEPT_IDS",
    "VISIT_CONCEPTS",
    "VOCABULARY_PREFIXES",
    "code_of_concept",
]

#: OMOP's range for a site's own concepts ("2-billion concepts", Book of OHDSI ch. 5).
LOCAL_CONCEPT_BASE = 2_000_000_000

#: ``vocabulary_id`` -> events-table prefix. Vocabularies not listed keep their id as the
#: prefix (``"CPT4/73130"``), as FHIR codings of unknown systems keep their URI.
#: ``RAMULTIMODAL`` and ``RAMULTIMODAL QR`` are the project's own vocabularies (local
#: concepts) for the codes of `ramultimodal.terminology.systems.RAMULTIMODAL_SYSTEM` and
#: the HAQ-DI items (``QR/haq-di-grip-2``).
VOCABULARY_PREFIXES: dict[str, str] = {
    "LOINC": "LOINC",
    "SNOMED": "SNOMED",
    "RxNorm": "RXNORM",
    "ICD10CM": "ICD10CM",
    "ICD10": "ICD10",
    "UCUM": "UCUM",
    "DICOM": "DICOM",
    "RAMULTIMODAL": "RAMULTIMODAL",
    "RAMULTIMODAL QR": "QR",
}
#: Events-table prefix -> ``vocabulary_id`` (the inverse of `VOCABULARY_PREFIXES`).
PREFIX_VOCABULARIES: dict[str, str] = {p: v for v, p in VOCABULARY_PREFIXES.items()}

#: ``person.gender_concept_id`` -> FHIR administrative gender (vocabulary ``Gender``).
GENDER_CONCEPTS: dict[int, str] = {
    8507: "male",  # MALE (verified: every OMOP CDM ETL guide)
    8532: "female",  # FEMALE (verified: as above)
    8521: "other",  # OTHER (unverified)
    8551: "unknown",  # UNKNOWN (unverified)
}

#: ``visit_occurrence.visit_concept_id`` -> HL7 v3 ActCode encounter class (vocabulary
#: ``Visit``), so that a visit reads as FHIR's Encounter.class does (``ENCOUNTER/AMB``).
VISIT_CONCEPTS: dict[int, str] = {
    9202: "AMB",  # Outpatient Visit (verified: OMOP CDM documentation, visit_concept_id)
    9201: "IMP",  # Inpatient Visit (verified: as above)
    9203: "EMER",  # Emergency Room Visit (verified: as above)
}

#: ``measurement.operator_concept_id`` -> the FHIR Quantity comparator the events table
#: keeps in ``text_value`` (vocabulary ``Meas Value Operator``; verified: the OHDSI
#: i2b2-to-OMOP and OMOP-to-FHIR mappings list these five).
OPERATOR_CONCEPTS: dict[int, str] = {
    4172703: "=",
    4171756: "<",
    4172704: ">",
    4171754: "<=",
    4171755: ">=",
}

#: RA condition concepts for the label (never a feature): 80809 "Rheumatoid arthritis"
#: (SNOMED 69896004; verified: OHDSI phenotype library RA cohorts list it as the root of
#: their RA concept set, with descendants through ``concept_ancestor``).
RA_CONDITION_CONCEPT_IDS: tuple[int, ...] = (80809,)

#: RxNorm ingredient concepts of the conventional DMARDs of the label.
DMARD_INGREDIENT_CONCEPT_IDS: dict[str, int] = {
    "methotrexate": 1305058,  # verified: OHDSI RA cohort DMARD concept set
    "leflunomide": 1101898,  # verified: as above
    "hydroxychloroquine": 1777087,  # verified: as above
    "sulfasalazine": 964339,  # unverified (Athena id from memory; check before use)
}

#: Concept ids of the codes the generator writes: real OMOP ids where known, else local
#: placeholders (see `_placeholders`). Keys are events-table codes.
STANDARD_CONCEPT_IDS: dict[str, int] = {
    "SNOMED/69896004": 80809,  # Rheumatoid arthritis (verified, above)
    "RXNORM/6851": 1305058,  # methotrexate (verified, above)
    "RXNORM/27169": 1101898,  # leflunomide (verified, above)
    "RXNORM/5521": 1777087,  # hydroxychloroquine (verified, above)
    "RXNORM/9524": 964339,  # sulfasalazine (unverified)
    # C reactive protein [Mass/volume] in Serum or Plasma (verified: OHDSI concept mapping
    # tables of MIMIC and phenotype prompts list 3020460 for LOINC 1988-5).
    "LOINC/1988-5": 3020460,
    # Hemoglobin [Mass/volume] in Blood (verified: OHDSI Data Quality Dashboard plausible-
    # unit check for concept 3000963, units 8713 g/dL and 8636 g/L).
    "LOINC/718-7": 3000963,
}

#: UCUM unit -> ``unit_concept_id`` (vocabulary ``UCUM``). 8713 g/dL and 8636 g/L are
#: verified (Data Quality Dashboard, above); the others are placeholders.
UNIT_CONCEPT_IDS: dict[str, int] = {"g/dL": 8713, "g/L": 8636}


def _placeholders() -> None:
    """Give every other code the generator may write a local (placeholder) concept id.

    Deterministic: the codes are numbered in a fixed order, so the same code gets the same
    id in every generated database.
    """
    codes = [code for concept in CONCEPTS.values() for code in concept.codes]
    codes += [
        haq_di_item_code(category, number)
        for category, items in HAQ_DI_CATEGORIES.items()
        for number in range(1, len(items) + 1)
    ]
    from ramultimodal.terminology.codes import DRUG_NAMES, SMOKING_CODES, SMOKING_DISPLAYS

    codes += [*DRUG_NAMES, *SMOKING_CODES.values(), *SMOKING_DISPLAYS, "DICOM/CR", "DICOM/DX"]
    for number, code in enumerate(dict.fromkeys(codes), start=1):
        STANDARD_CONCEPT_IDS.setdefault(code, LOCAL_CONCEPT_BASE + number)
    units = sorted({c.unit for c in CONCEPTS.values() if c.unit is not None})
    for number, unit in enumerate(units, start=1):
        UNIT_CONCEPT_IDS.setdefault(unit, LOCAL_CONCEPT_BASE + 100_000 + number)


_placeholders()


def code_of_concept(vocabulary_id: str, concept_code: str) -> str:
    """The events-table code of an OMOP concept, from its vocabulary and code.

    Parameters
    ----------
    vocabulary_id : str
        The concept's ``vocabulary_id`` (``"LOINC"``, ``"RxNorm"``...).
    concept_code : str
        The concept's ``concept_code``.

    Returns
    -------
    str
        ``"PREFIX/code"``, with the prefix from `VOCABULARY_PREFIXES`.

    Examples
    --------
    >>> code_of_concept("LOINC", "1988-5")
    'LOINC/1988-5'
    >>> code_of_concept("RxNorm", "6851")
    'RXNORM/6851'
    >>> code_of_concept("CPT4", "73130")
    'CPT4/73130'
    """
    prefix = VOCABULARY_PREFIXES.get(vocabulary_id, vocabulary_id)
    return f"{prefix}/{concept_code}"
