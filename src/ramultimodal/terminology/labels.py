"""Short names a clinician reads, for concepts, scores and units: "anti-CCP", "U/mL".

A concept's ``display`` (`ramultimodal.terminology.codes.CONCEPTS`) is the long FHIR display
("Cyclic citrullinated peptide IgG Ab [Units/volume] in Serum"), right in an export and too
long in a sentence that explains a prediction. These tables give the short forms that
explanations print. They change no feature and no code's meaning, so they are not part of
`ramultimodal.terminology.codes.terminology_fingerprint`.

Examples
--------
>>> concept_label("anti_ccp"), printed_unit("[U]/mL"), printed_unit("{score}")
('anti-CCP', 'U/mL', '')
>>> concept_label("gout")  # no short form: the concept's display
'Gout'
"""

from __future__ import annotations

from ramultimodal.terminology.codes import CONCEPTS
from ramultimodal.terminology.joints import HAND_SIDES, SVDH_MAX

__all__ = [
    "CONCEPT_LABELS",
    "JOINT_SCORE_LABELS",
    "SCORE_LABELS",
    "concept_label",
    "printed_unit",
]

#: Short names of the concepts, as a rheumatologist writes them in a note.
CONCEPT_LABELS: dict[str, str] = {
    "rf": "RF",
    "anti_ccp": "anti-CCP",
    "crp": "CRP",
    "esr": "ESR",
    "hemoglobin": "hemoglobin",
    "platelets": "platelets",
    "leukocytes": "white cell count",
    "tender_joints_28": "tender joints (of 28)",
    "swollen_joints_28": "swollen joints (of 28)",
    "involved_small_joints": "involved small joints",
    "involved_large_joints": "involved large joints",
    "evaluator_global": "evaluator global (0-10)",
    "pain": "pain (0-10)",
    "patient_global": "patient global (0-10)",
    "haq_di": "HAQ-DI",
    "rapid3": "RAPID3",
    "morning_stiffness": "morning stiffness",
    "smoking": "smoking",
    "bmi": "BMI",
    "family_history_ra": "family history of RA",
    "joint_pain": "joint pain",
    "joint_stiffness": "joint stiffness",
    "joint_swelling": "joint swelling",
    "inflammatory_polyarthropathy": "inflammatory polyarthropathy",
}

#: The clinical scores the featurizer computes at the index date: short name and the
#: greatest value the score can take (None where it has no fixed top), as published
#: (ACR/EULAR 2010: Aletaha et al. 2010; HAQ-DI 0-3; RAPID3 0-30; CLINICAL.md "Scores").
SCORE_LABELS: dict[str, tuple[str, float | None]] = {
    "acr_eular_joints": ("ACR/EULAR 2010 joints (A)", 5.0),
    "acr_eular_serology": ("ACR/EULAR 2010 serology (B)", 3.0),
    "acr_eular_acute_phase": ("ACR/EULAR 2010 acute phase (C)", 1.0),
    "acr_eular_duration": ("ACR/EULAR 2010 duration (D)", 1.0),
    "acr_eular_total": ("ACR/EULAR 2010 score", 10.0),
    "das28_esr": ("DAS28-ESR", None),
    "das28_crp": ("DAS28-CRP", None),
    "cdai": ("CDAI", None),
    "sdai": ("SDAI", None),
    "haq_di_score": ("HAQ-DI", 3.0),
    "rapid3_score": ("RAPID3", 30.0),
}

#: The joint models' patient totals (`ramultimodal.image.JointScoreTransformer`; their
#: per-joint grades are named from `ramultimodal.terminology.joints`): short name and the
#: greatest value (None: no fixed top, as it grows with the hands imaged). The totals add
#: the expected grades of the SvdH joints of every hand imaged; ``_sd`` is their SD.
JOINT_SCORE_LABELS: dict[str, tuple[str, float | None]] = {
    "svdh_erosion": ("SvdH erosion total (hands imaged)", None),
    "svdh_erosion_sd": ("SD of the SvdH erosion total", None),
    "svdh_narrowing": ("SvdH narrowing total (hands imaged)", None),
    "svdh_narrowing_sd": ("SD of the SvdH narrowing total", None),
    "svdh_total": ("SvdH total (hands imaged)", None),
    "svdh_total_sd": ("SD of the SvdH total", None),
    "joints_found": ("share of the SvdH joints found on the radiographs", 1.0),
    # The fusion's per-hand features (`ramultimodal.image.JointScoreFeatures`): one hand's
    # totals, of the greatest one hand can reach here (`SVDH_MAX`).
    **{
        f"svdh_{kind}_{side}": (f"SvdH {kind} total, {side} hand", float(SVDH_MAX[kind]))
        for side in HAND_SIDES.values()
        for kind in ("erosion", "narrowing")
    },
    **{
        f"svdh_total_{side}": (f"SvdH total, {side} hand", float(sum(SVDH_MAX.values())))
        for side in HAND_SIDES.values()
    },
}

# UCUM units as printed beside a value; annotations ({score}, {#}) print as nothing.
_PRINTED_UNITS = {
    "[IU]/mL": "IU/mL",
    "[U]/mL": "U/mL",
    "10*3/uL": "x10^3/uL",
    "kg/m2": "kg/m2",
}


def concept_label(concept: str) -> str:
    """The short name of a concept of `CONCEPTS`; its display when it has none.

    Parameters
    ----------
    concept : str
        A concept name (``"crp"``).

    Returns
    -------
    str
    """
    if concept in CONCEPT_LABELS:
        return CONCEPT_LABELS[concept]
    if concept in CONCEPTS:
        return CONCEPTS[concept].display
    return concept.replace("_", " ")


def printed_unit(unit: str | None) -> str:
    """A UCUM unit as a reader expects to see it after a value ("" for none or counts).

    Parameters
    ----------
    unit : str or None
        A canonical unit of a concept (``"[IU]/mL"``, ``"{score}"``).

    Returns
    -------
    str
    """
    if not unit or (unit.startswith("{") and unit.endswith("}")):
        return ""
    return _PRINTED_UNITS.get(unit, unit)
