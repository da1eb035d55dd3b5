"""The featurizer's column names as a clinician reads them: "CRP, last in 90 days = 24 mg/L".

`EHRFeaturizer` names its features by rule (``<concept>_<aggregation>_<window>``,
``<feature>_missing``, the scores and the risk factors at the index date); this module
reads those names back and writes them, with a patient's value and its unit, in words.
Short names and printed units come from `ramultimodal.terminology.labels`, units and upper
limits of normal from `ramultimodal.terminology.codes.CONCEPTS`: no clinical fact is
written here. A name the featurizer does not make is printed as it is, underscores as
spaces.

Examples
--------
>>> feature_label("crp_last_90d")
'CRP, last in 90 days'
>>> describe_feature("anti_ccp_max_all", 340.0)
'anti-CCP, highest ever = 340 U/mL (high)'
>>> describe_feature("crp_missing", 1.0)
'CRP never recorded'
>>> describe_feature("acr_eular_total", 7.0)
'ACR/EULAR 2010 score = 7 of 10'
>>> describe_feature("erosion_mcp2_right", 2.0), describe_feature("narrowing_pip3_left", 1.0)
('erosion MCP2 right = 2 of 5', 'narrowing PIP3 left = 1 of 4')
"""

from __future__ import annotations

import re

from ramultimodal._missing import is_missing
from ramultimodal.ehr._aggregate import AGGREGATIONS, SCORES, VALUE_AGGREGATIONS
from ramultimodal.terminology.codes import CONCEPTS, upper_normal
from ramultimodal.terminology.joints import EROSION_MAX, HAND_SIDES, JOINT_NAMES, NARROWING_MAX
from ramultimodal.terminology.labels import (
    JOINT_SCORE_LABELS,
    SCORE_LABELS,
    concept_label,
    printed_unit,
)

__all__ = ["describe_feature", "feature_label"]

_AGGREGATED = re.compile(
    r"^(?P<concept>[a-z0-9_]+?)_(?P<aggregation>" + "|".join(AGGREGATIONS) + r")_"
    r"(?P<window>\d+d|all)$"
)
_AGGREGATION_WORDS = {
    "last": "last",
    "min": "lowest",
    "max": "highest",
    "mean": "mean",
    "count": "times recorded",
    "slope": "trend per year",
    "days_since_last": "days since last",
}
# The features at the index date: label, unit, and whether 1/0 means yes/no.
_AT_INDEX = {
    "age_at_index": ("age", "years", False),
    "sex_female": ("sex", "", False),
    "smoking_current": ("current smoker", "", True),
    "smoking_former": ("former smoker", "", True),
    "smoking_never": ("never smoked", "", True),
    "bmi": (concept_label("bmi"), printed_unit(CONCEPTS["bmi"].unit), False),
    "family_history_ra": (concept_label("family_history_ra"), "", True),
    "symptom_duration_weeks": ("symptom duration", "weeks", False),
}


# The joint models' per-joint grades: the expected grade of one joint on one hand
# (`ramultimodal.image.JointScoreFeatures`, ``erosion_mcp2_right``), or the worse of the
# hands imaged (`ramultimodal.image.JointScoreTransformer`, ``erosion_mcp2``).
_JOINT_GRADE = re.compile(
    r"^(?P<kind>erosion|narrowing)_(?P<joint>" + "|".join(JOINT_NAMES) + ")"
    r"(?:_(?P<side>" + "|".join(HAND_SIDES.values()) + "))?$"
)
_GRADE_TOP = {"erosion": EROSION_MAX, "narrowing": NARROWING_MAX}


def _window_words(window: str) -> str:
    return "ever" if window == "all" else f"in {window.removesuffix('d')} days"


def _number(value: float) -> str:
    """A value with the digits a clinician writes: 340, 24, 4.2, 0.35."""
    if float(value).is_integer():
        return str(int(value))
    magnitude = abs(value)
    digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _parse(name: str) -> tuple[str, dict[str, str]]:
    """What kind of feature `name` is, and its parts."""
    if name in _AT_INDEX:
        return "at_index", {}
    if name in SCORES:
        return "score", {}
    if name in JOINT_SCORE_LABELS:
        return "joint_score", {}
    joint = _JOINT_GRADE.match(name)
    if joint:
        return "joint_grade", joint.groupdict()
    if name.endswith("_missing"):
        return "missing", {"of": name.removesuffix("_missing")}
    match = _AGGREGATED.match(name)
    if match and match["concept"] in CONCEPTS:
        return "aggregated", match.groupdict()
    return "other", {}


def feature_label(name: str) -> str:
    """The words for a feature of `EHRFeaturizer`, without a value.

    Parameters
    ----------
    name : str
        A column name of the featurizer's output (``"crp_last_90d"``).

    Returns
    -------
    str
        E.g. ``"CRP, last in 90 days"``, ``"ACR/EULAR 2010 score"``, ``"age"``.

    Examples
    --------
    >>> feature_label("tender_joints_28_count_365d")
    'tender joints (of 28), times recorded in 365 days'
    """
    kind, parts = _parse(name)
    if kind == "at_index":
        return _AT_INDEX[name][0]
    if kind == "score":
        return SCORE_LABELS[name][0]
    if kind == "joint_score":
        return JOINT_SCORE_LABELS[name][0]
    if kind == "joint_grade":
        side = f" {parts['side']}" if parts["side"] else ""
        return f"{parts['kind']} {JOINT_NAMES[parts['joint']]}{side}"
    if kind == "missing":
        return f"{_label_of(parts['of'])} never recorded"
    if kind == "aggregated":
        concept, aggregation = parts["concept"], parts["aggregation"]
        return (
            f"{concept_label(concept)}, {_AGGREGATION_WORDS[aggregation]} "
            f"{_window_words(parts['window'])}"
        )
    return name.replace("_", " ")


def _label_of(feature_or_concept: str) -> str:
    """The label of what a missing-value indicator watches: a concept, score or feature."""
    if feature_or_concept in CONCEPTS:
        return concept_label(feature_or_concept)
    if feature_or_concept in SCORES:
        return SCORE_LABELS[feature_or_concept][0]
    if feature_or_concept in _AT_INDEX:
        return _AT_INDEX[feature_or_concept][0]
    return feature_or_concept.replace("_", " ")


def _flag(concept: str, value: float) -> str:
    """ " (high)" when a value of a concept with an upper limit of normal is above it."""
    limit = upper_normal(concept)
    if limit is None:
        return ""
    return " (high)" if value > limit else " (normal)"


def describe_feature(name: str, value: float | None) -> str:
    """A feature with a patient's value and unit, as a clinician reads it.

    Parameters
    ----------
    name : str
        A column name of the featurizer's output.
    value : float or None
        The patient's value; NaN or None when not recorded.

    Returns
    -------
    str
        E.g. ``"CRP, last in 90 days = 24 mg/L (high)"``, ``"sex = female"``,
        ``"CRP, last in 90 days: not recorded"``.

    Examples
    --------
    >>> describe_feature("sex_female", 1.0), describe_feature("smoking_current", 0.0)
    ('sex = female', 'current smoker = no')
    >>> describe_feature("esr_last_90d", float("nan"))
    'ESR, last in 90 days: not recorded'
    """
    label = feature_label(name)
    kind, parts = _parse(name)
    if is_missing(value):
        # A joint grade or total is missing when the joint was not found on the images, and
        # one hand's when that hand was not imaged.
        if kind.startswith("joint") and name.endswith(tuple(HAND_SIDES.values())):
            return f"{label}: no grade (hand not imaged or joint not found)"
        return f"{label}: not found" if kind.startswith("joint") else f"{label}: not recorded"
    value = float(value)
    if kind == "joint_grade":
        pooled = "" if parts["side"] else " (worse hand)"
        return f"{label} = {_number(round(value, 2))} of {_GRADE_TOP[parts['kind']]}{pooled}"
    if kind == "joint_score":
        if name == "joints_found":
            return f"{label} = {value:.0%}"
        top = JOINT_SCORE_LABELS[name][1]
        return f"{label} = {_number(round(value, 1))}" + (f" of {_number(top)}" if top else "")
    if kind == "missing":
        return label if value >= 0.5 else f"{_label_of(parts['of'])} recorded"
    if kind == "at_index":
        _, unit, yes_no = _AT_INDEX[name]
        if name == "sex_female":
            return f"{label} = {'female' if value >= 0.5 else 'male'}"
        if yes_no:
            return f"{label} = {'yes' if value >= 0.5 else 'no'}"
        return f"{label} = {_number(value)} {unit}".rstrip()
    if kind == "score":
        top = SCORE_LABELS[name][1]
        return f"{label} = {_number(value)}" + (f" of {_number(top)}" if top else "")
    if kind == "aggregated":
        concept, aggregation = parts["concept"], parts["aggregation"]
        unit = printed_unit(CONCEPTS[concept].unit)
        if aggregation in ("count", "days_since_last"):  # a number of times, of days
            return f"{label} = {_number(value)}"
        if aggregation == "slope":
            sign = "+" if value > 0 else ""
            return f"{label} = {sign}{_number(value)} {unit}".rstrip()
        text = f"{label} = {_number(value)} {unit}".rstrip()
        if aggregation in VALUE_AGGREGATIONS:
            text += _flag(concept, value)
        return text
    return f"{label} = {_number(value)}"
