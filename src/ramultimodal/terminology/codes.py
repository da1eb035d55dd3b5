"""Clinical code sets for RA, with equivalence groups.

Every code is an events-table code (``"LOINC/1988-5"``, see
`ramultimodal.terminology.code_from_coding`). A *concept* (``"rf"``, ``"crp"``) groups the codes
that mean the same thing for a model: every RF LOINC variant is ``"rf"``, high-sensitivity
CRP is ``"crp"``, both ESR methods are ``"esr"``. Sources: ../shared/CLINICAL.md (LOINC,
SNOMED CT, ICD-10-CM, RxNorm). Concepts with no confirmed LOINC code use the project's own
CodeSystem, `RAMULTIMODAL_SYSTEM` (prefix ``RAMULTIMODAL/``).

The generator writes the first code of each concept (its *preferred* code); readers map
any code of the group back to the concept with `concept_of`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass

from ramultimodal.terminology.events import questionnaire_code
from ramultimodal.terminology.systems import RAMULTIMODAL_SYSTEM

__all__ = [
    "ACR_EULAR_DEFINITE_RA",
    "BIOLOGIC_CODES",
    "CONCEPTS",
    "DMARD_CODES",
    "DRUG_NAMES",
    "EARLY_ARTHRITIS_WEEKS",
    "ESR_UPPER_NORMAL_MEN",
    "HAQ_DI_CATEGORIES",
    "ICD10CM_EQUIVALENTS",
    "LEAKAGE_PATTERNS",
    "PRO_CONCEPTS",
    "RAMULTIMODAL_SYSTEM",
    "RA_DIAGNOSIS_PATTERNS",
    "RESULT_CODES",
    "SERONEGATIVE_RA",
    "SEROPOSITIVE_RA",
    "SMOKING_CODES",
    "SMOKING_DISPLAYS",
    "SMOKING_STATUS",
    "Concept",
    "concept_of",
    "haq_di_item",
    "haq_di_item_code",
    "is_leakage_code",
    "terminology_fingerprint",
    "upper_normal",
]


@dataclass(frozen=True)
class Concept:
    """A clinical concept and the events-table codes that express it.

    Attributes
    ----------
    name : str
        Short name used in feature names (``"crp"``).
    codes : tuple of str
        Events-table codes; the first is the preferred one, written by the generator.
    unit : str or None
        Canonical UCUM unit after normalisation.
    display : str
        Human-readable name, used as FHIR ``display``.
    upper_normal : float or None
        Upper limit of normal, where "positive"/"abnormal" is defined by one (CLINICAL.md).
    """

    name: str
    codes: tuple[str, ...]
    unit: str | None
    display: str
    upper_normal: float | None = None

    @property
    def code(self) -> str:
        """The preferred code."""
        return self.codes[0]


_P = "RAMULTIMODAL/"

CONCEPTS: dict[str, Concept] = {
    concept.name: concept
    for concept in [
        # Serology. ULNs: RF 14 IU/mL, anti-CCP 20 U/mL (CLINICAL.md, "Reference ranges").
        Concept(
            "rf",
            (
                "LOINC/11572-5",
                "LOINC/15205-8",
                "LOINC/6928-6",
                "LOINC/15204-1",
                "LOINC/17857-4",
                "LOINC/5299-3",
                "LOINC/5300-9",
            ),
            "[IU]/mL",
            "Rheumatoid factor [Units/volume] in Serum or Plasma",
            14.0,
        ),
        Concept(
            "anti_ccp",
            ("LOINC/33935-8", "LOINC/32218-0", "LOINC/57093-7", "LOINC/63375-0"),
            "[U]/mL",
            "Cyclic citrullinated peptide IgG Ab [Units/volume] in Serum",
            20.0,
        ),
        # Acute phase. CRP ULN 5 mg/L; ESR ULN 20 mm/h (women), 15 mm/h (men).
        Concept(
            "crp",
            ("LOINC/1988-5", "LOINC/30522-7"),
            "mg/L",
            "C reactive protein [Mass/volume] in Serum or Plasma",
            5.0,
        ),
        Concept(
            "esr",
            ("LOINC/4537-7", "LOINC/30341-2"),
            "mm/h",
            "Erythrocyte sedimentation rate by Westergren method",
            20.0,
        ),
        Concept("hemoglobin", ("LOINC/718-7",), "g/dL", "Hemoglobin [Mass/volume] in Blood"),
        Concept("platelets", ("LOINC/777-3",), "10*3/uL", "Platelets [#/volume] in Blood"),
        Concept("leukocytes", ("LOINC/6690-2",), "10*3/uL", "Leukocytes [#/volume] in Blood"),
        # Joint exam (28-joint counts) and the counts by joint size that the 2010 ACR/EULAR
        # criteria need (category A), which have no LOINC code.
        Concept("tender_joints_28", ("LOINC/88981-6",), "{#}", "Tender joint count (28)"),
        Concept("swollen_joints_28", ("LOINC/88980-8",), "{#}", "Swollen joint count (28)"),
        Concept(
            "involved_small_joints",
            (_P + "involved-small-joints",),
            "{#}",
            "Involved small joints (tender or swollen), 2010 ACR/EULAR",
        ),
        Concept(
            "involved_large_joints",
            (_P + "involved-large-joints",),
            "{#}",
            "Involved large joints (tender or swollen), 2010 ACR/EULAR",
        ),
        Concept(
            "evaluator_global",
            (_P + "evaluator-global",),
            "{score}",
            "Evaluator global assessment of disease activity 0-10",
        ),
        # Patient-reported outcomes.
        Concept("pain", ("LOINC/72514-3",), "{score}", "Pain severity 0-10, reported"),
        Concept(
            "patient_global",
            ("LOINC/75894-6",),
            "{score}",
            "Patient global assessment of disease activity 0-10",
        ),
        Concept("haq_di", ("LOINC/75874-8",), "{score}", "HAQ-DI total score"),
        Concept("rapid3", ("LOINC/90028-2",), "{score}", "RAPID3 total score 0-30"),
        Concept(
            "morning_stiffness", (_P + "morning-stiffness",), "min", "Morning stiffness duration"
        ),
        # Risk factors and vitals.
        Concept("smoking", ("LOINC/72166-2",), None, "Tobacco smoking status"),
        Concept("bmi", ("LOINC/39156-5",), "kg/m2", "Body mass index"),
        Concept(
            "family_history_ra",
            (_P + "family-history-ra",),
            None,
            "Family history of rheumatoid arthritis",
        ),
        # Symptoms, usable before the index date.
        Concept("joint_pain", ("SNOMED/57676002", "ICD10CM/M25.50"), None, "Joint pain"),
        Concept("joint_stiffness", ("SNOMED/84445001",), None, "Joint stiffness"),
        Concept("joint_swelling", ("SNOMED/271771009",), None, "Joint swelling"),
        Concept(
            "inflammatory_polyarthropathy", ("ICD10CM/M06.4",), None, "Inflammatory polyarthropathy"
        ),
        # Diagnoses of the mimics (they are diagnoses, made at or after the index visit).
        Concept("osteoarthritis", ("SNOMED/396275006", "ICD10CM/M19.90"), None, "Osteoarthritis"),
        Concept(
            "psoriatic_arthritis",
            ("SNOMED/33339001", "ICD10CM/L40.50"),
            None,
            "Psoriatic arthritis",
        ),
        Concept("gout", ("SNOMED/90560007", "ICD10CM/M10.9"), None, "Gout"),
        Concept("viral_arthritis", ("SNOMED/240534000", "ICD10CM/M01.X0"), None, "Viral arthritis"),
        Concept("fibromyalgia", ("SNOMED/203082005", "ICD10CM/M79.7"), None, "Fibromyalgia"),
        # RA itself: the label, never a feature.
        Concept(
            "rheumatoid_arthritis",
            (
                "SNOMED/69896004",
                "SNOMED/239791005",
                "SNOMED/239792003",
                "ICD10CM/M06.9",
                "ICD10CM/M05.79",
            ),
            None,
            "Rheumatoid arthritis",
        ),
    ]
}

#: The concepts the patient reports: the patient-reported-outcome (``pro``) modality, beside
#: the record's (``ehr``) and the radiographs. HAQ-DI's item codes belong to it too.
PRO_CONCEPTS: tuple[str, ...] = ("pain", "patient_global", "morning_stiffness", "haq_di", "rapid3")

#: HAQ-DI's 8 categories, each with its items (20 in all), in questionnaire order
#: (Fries et al., 1980). An item's events-table code is ``QR/haq-di-<category>-<n>`` (the
#: QuestionnaireResponse item's linkId, `haq_di_item_code`).
HAQ_DI_CATEGORIES: dict[str, tuple[str, ...]] = {
    "dressing": ("dress yourself", "shampoo your hair"),
    "arising": ("stand up from a chair", "get in and out of bed"),
    "eating": ("cut your meat", "lift a full cup to your mouth", "open a new milk carton"),
    "walking": ("walk outdoors on flat ground", "climb up five steps"),
    "hygiene": ("wash and dry your body", "take a tub bath", "get on and off the toilet"),
    "reach": ("reach and get down a 5-pound object", "bend down to pick up clothing"),
    "grip": (
        "open car doors",
        "open jars which have been previously opened",
        "turn faucets on and off",
    ),
    "activities": (
        "run errands and shop",
        "get in and out of a car",
        "do chores such as vacuuming",
    ),
}

#: The RxNorm ingredients of RA treatment and their names (CLINICAL.md).
DRUG_NAMES: dict[str, str] = {
    # Conventional synthetic DMARDs.
    "RXNORM/6851": "methotrexate",
    "RXNORM/27169": "leflunomide",
    "RXNORM/9524": "sulfasalazine",
    "RXNORM/5521": "hydroxychloroquine",
    "RXNORM/1256": "azathioprine",
    # Biologic and targeted synthetic DMARDs.
    "RXNORM/214555": "etanercept",
    "RXNORM/327361": "adalimumab",
    "RXNORM/819300": "golimumab",
    "RXNORM/709271": "certolizumab pegol",
    "RXNORM/121191": "rituximab",
    "RXNORM/1357536": "tofacitinib",
    "RXNORM/1923319": "sarilumab",
}
#: Conventional synthetic DMARDs (RxNorm ingredients; CLINICAL.md).
DMARD_CODES: frozenset[str] = frozenset(
    f"RXNORM/{code}" for code in ("6851", "27169", "9524", "5521", "1256")
)
#: Biologic and targeted synthetic DMARDs (RxNorm ingredients; CLINICAL.md).
BIOLOGIC_CODES: frozenset[str] = frozenset(
    f"RXNORM/{code}"
    for code in ("214555", "327361", "819300", "709271", "121191", "1357536", "1923319")
)

#: The SNOMED CT codes of RA by serostatus (CLINICAL.md), and their ICD-10-CM equivalents
#: where they differ from the concept's first ICD-10-CM code (seronegative RA is M06.9 too).
SEROPOSITIVE_RA, SERONEGATIVE_RA = "SNOMED/239791005", "SNOMED/239792003"
ICD10CM_EQUIVALENTS: dict[str, str] = {SEROPOSITIVE_RA: "ICD10CM/M05.79"}

#: Smoking status answers (SNOMED CT, as Synthea and US Core use them) and the status
#: each one means. "Unknown if ever smoked" (266927001) means none and is left out.
SMOKING_STATUS: dict[str, str] = {
    "SNOMED/449868002": "current",  # current every day smoker
    "SNOMED/428041000124106": "current",  # current some day smoker
    "SNOMED/77176002": "current",  # smoker, current status unknown
    "SNOMED/428071000124103": "current",  # current heavy tobacco smoker
    "SNOMED/428061000124105": "current",  # current light tobacco smoker
    "SNOMED/8517006": "former",  # ex-smoker
    "SNOMED/266919005": "never",  # never smoked tobacco
}
#: The answer the generator writes for each status.
SMOKING_CODES: dict[str, str] = {
    "current": "SNOMED/449868002",
    "former": "SNOMED/8517006",
    "never": "SNOMED/266919005",
}
#: SNOMED CT displays of the smoking answers.
SMOKING_DISPLAYS: dict[str, str] = {
    "SNOMED/449868002": "Smokes tobacco daily",
    "SNOMED/428041000124106": "Occasional tobacco smoker",
    "SNOMED/8517006": "Ex-smoker",
    "SNOMED/266919005": "Never smoked tobacco",
    "SNOMED/77176002": "Smoker",
}

#: Qualitative results as numbers: SNOMED CT 10828004 Positive is 1, 260385009 Negative 0.
RESULT_CODES: dict[str, float] = {"SNOMED/10828004": 1.0, "SNOMED/260385009": 0.0}
#: The 2010 ACR/EULAR score (of 10) from which a patient with at least one swollen joint
#: is classified as definite RA (Aletaha et al., Arthritis Rheum 2010; CLINICAL.md).
ACR_EULAR_DEFINITE_RA = 6.0
#: Symptom duration (weeks) under which arthritis counts as *early*: the "very early RA"
#: window in which treatment is most effective (van Nies et al., Ann Rheum Dis 2014).
EARLY_ARTHRITIS_WEEKS = 12.0

#: ESR's upper limit of normal in men (mm/h); the concept's, 20 mm/h, is for women and
#: patients of unknown sex (CLINICAL.md, "Reference ranges").
ESR_UPPER_NORMAL_MEN = 15.0

#: RA diagnoses: SNOMED RA codes, ICD-10-CM M05.* and M06.* except M06.4
#: (inflammatory polyarthropathy, a symptom code).
RA_DIAGNOSIS_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^SNOMED/(69896004|239791005|239792003)$"),
    re.compile(r"^ICD10CM/M05(\..*)?$"),
    re.compile(r"^ICD10CM/M06(\.(?!4)[^/]*)?$"),
    re.compile(r"^ICD10/M0[56](\.(?!4)[^/]*)?$"),
)

#: Everything that follows an RA diagnosis in a real record and so would leak the label.
LEAKAGE_PATTERNS: tuple[re.Pattern[str], ...] = (
    *RA_DIAGNOSIS_PATTERNS,
    re.compile(
        r"^RXNORM/("
        + "|".join(sorted(c.split("/")[1] for c in DMARD_CODES | BIOLOGIC_CODES))
        + r")$"
    ),
)

_CODE_TO_CONCEPT: dict[str, str] = {
    code: concept.name for concept in CONCEPTS.values() for code in concept.codes
}


# What `haq_di_item_code` writes, read back.
_HAQ_DI_ITEM = re.compile(
    re.escape(questionnaire_code("haq-di-")) + r"(?P<category>[a-z]+)-(?P<number>[0-9]+)"
)


def haq_di_item_code(category: str, number: int) -> str:
    """The events-table code of a HAQ-DI item: its QuestionnaireResponse linkId after ``QR/``.

    Examples
    --------
    >>> haq_di_item_code("grip", 2)
    'QR/haq-di-grip-2'
    """
    return questionnaire_code(f"haq-di-{category}-{number}")


def haq_di_item(code: str) -> tuple[str, int] | None:
    """The category and number of a HAQ-DI item's code; None for any other code.

    The inverse of `haq_di_item_code`.

    Examples
    --------
    >>> haq_di_item("QR/haq-di-grip-2")
    ('grip', 2)
    >>> haq_di_item("QR/pain-vas") is None
    True
    """
    match = _HAQ_DI_ITEM.fullmatch(code)
    if match is None or match["category"] not in HAQ_DI_CATEGORIES:
        return None
    return match["category"], int(match["number"])


def concept_of(code: str) -> str | None:
    """Return the concept name of an events-table code, or None when it is not in a set.

    Examples
    --------
    >>> concept_of("LOINC/15205-8")
    'rf'
    >>> concept_of("LOINC/30522-7")
    'crp'
    >>> concept_of("LOINC/0000-0") is None
    True
    """
    return _CODE_TO_CONCEPT.get(code)


def is_leakage_code(code: str) -> bool:
    """Tell whether a code is an RA diagnosis or an RA treatment (DMARD or biologic).

    Examples
    --------
    >>> is_leakage_code("ICD10CM/M06.9"), is_leakage_code("ICD10CM/M06.4")
    (True, False)
    >>> is_leakage_code("RXNORM/6851")
    True
    """
    return any(pattern.match(code) for pattern in LEAKAGE_PATTERNS)


def upper_normal(concept: str, sex: str | None = None) -> float | None:
    """Return a concept's upper limit of normal for a patient of this sex, if it has one.

    Parameters
    ----------
    concept : str
        A concept name in `CONCEPTS` (``"esr"``).
    sex : str, optional
        The patient's administrative gender (``"male"``, ``"female"``...); only ESR's
        limit depends on it.

    Examples
    --------
    >>> upper_normal("esr", "male"), upper_normal("esr", "female"), upper_normal("rf")
    (15.0, 20.0, 14.0)
    """
    if concept == "esr" and sex == "male":
        return ESR_UPPER_NORMAL_MEN
    return CONCEPTS[concept].upper_normal


def terminology_fingerprint() -> str:
    """A short hash of every code set here: it changes whenever a code changes meaning.

    A saved model records it, so that loading the model with another terminology (a code
    added to a concept, a new DMARD) says that the features may now be computed otherwise.

    Examples
    --------
    >>> len(terminology_fingerprint())
    16
    """
    tables = {
        "concepts": [dataclasses.asdict(concept) for concept in CONCEPTS.values()],
        "haq_di": HAQ_DI_CATEGORIES,
        "dmard": sorted(DMARD_CODES),
        "biologic": sorted(BIOLOGIC_CODES),
        "leakage": [pattern.pattern for pattern in LEAKAGE_PATTERNS],
    }
    text = json.dumps(tables, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
