"""synthetic stage of ramultimodal (see docs/data-model.md)."""

from ramultimodal.synthetic._cohort import DIAGNOSES, POPULATIONS, Cohort, make_cohort
from ramultimodal.synthetic._hand_anatomy import JOINTS
from ramultimodal.synthetic._hand_findings import HandFindings
from ramultimodal.synthetic._radiograph import render_hand
from ramultimodal.synthetic._write import DEFAULT_FORMATS, FORMATS, write_cohort

__all__ = [
    "DEFAULT_FORMATS",
    "DIAGNOSES",
    "FORMATS",
    "JOINTS",
    "POPULATIONS",
    "Cohort",
    "HandFindings",
    "make_cohort",
    "render_hand",
    "write_cohort",
]
