"""How much radiographic damage each joint of a patient's hands shows, by diagnosis.

`hand_findings` turns a patient and its `Course` into radiographic findings per joint
(the keyword arguments of `HandFindings`), growing with symptom duration in RA
(CLINICAL.md, "Radiographic RA signs"): marginal erosions and joint-space narrowing at
the MCP, PIP and wrist joints, symmetric; age-related osteoarthritis in everyone; DIP
disease in psoriatic arthritis; an occasional tophus erosion in gout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ramultimodal.synthetic._course import SMALL_JOINTS, Course, clip
from ramultimodal.synthetic._hand_anatomy import JOINTS

__all__ = ["hand_findings"]

# Where RA erodes first and most (CLINICAL.md: marginal erosions at MCP 2-3 and the ulnar
# styloid), and where it narrows the joint space (MCP, PIP, wrist), as relative weights.
_RA_EROSION = {"mcp2": 1.0, "mcp3": 0.9, "ulnar_styloid": 0.9, "wrist": 0.7, "mcp5": 0.6,
               "mcp1": 0.3, "mcp4": 0.4, "pip2": 0.3, "pip3": 0.3, "pip4": 0.2, "pip5": 0.2,
               "ip1": 0.2}  # fmt: skip
_RA_NARROWING = {"mcp1": 0.5, "mcp2": 1.0, "mcp3": 1.0, "mcp4": 0.8, "mcp5": 0.8, "ip1": 0.4,
                 "pip2": 0.7, "pip3": 0.7, "pip4": 0.6, "pip5": 0.6, "wrist": 1.0}  # fmt: skip
_RA_SWELLING = ("mcp1", "mcp2", "mcp3", "mcp4", "mcp5", "ip1", "pip2", "pip3", "pip4", "pip5",
                "wrist")  # fmt: skip
# Osteoarthritis: DIP, PIP and the first CMC (CLINICAL.md).
_OA_NARROWING = {"dip2": 1.2, "dip3": 1.2, "dip4": 1.0, "dip5": 1.0, "pip2": 0.6, "pip3": 0.6,
                 "pip4": 0.4, "pip5": 0.4, "cmc1": 1.0, "ip1": 0.3}  # fmt: skip
_PSA = {"dip2": 1.0, "dip3": 1.0, "dip4": 0.9, "dip5": 0.9, "pip2": 0.4, "pip3": 0.4,
        "pip4": 0.3, "pip5": 0.3, "mcp2": 0.2}  # fmt: skip
_GOUT_SITES = ("mcp1", "mcp2", "mcp3", "pip2", "pip3", "ip1", "wrist")


def hand_findings(
    patient: Any, course: Course, lateralities: tuple[str, ...], rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Draw the radiographic findings of a patient's hands.

    Parameters
    ----------
    patient : namedtuple
        A row of `draw_patients`.
    course : Course
        From `patient_events`.
    lateralities : tuple of str
        ``"L"`` and/or ``"R"``: one findings dict per hand.
    rng : numpy.random.Generator
        The patient's image generator.

    Returns
    -------
    list of dict
        Keyword arguments of `_radiograph.HandFindings` per hand: ``erosion`` (0-5) and
        ``narrowing`` (0-4) as whole Sharp/van der Heijde grades, ``osteophytes`` and
        ``swelling`` (0-1) per joint, ``osteopenia`` (0-1).

    Examples
    --------
    >>> from ramultimodal.synthetic._patients import draw_patients
    >>> patient = next(draw_patients(1, 1.0, np.random.default_rng(0)).itertuples())
    >>> (left,) = hand_findings(patient, Course(0.9, 6), ("L",), np.random.default_rng(0))
    >>> sorted(left), len(left["erosion"]) == len(JOINTS)
    (['erosion', 'narrowing', 'osteopenia', 'osteophytes', 'swelling'], True)
    """
    diagnosis, years = patient.diagnosis, patient.symptom_duration_weeks / 52.0
    zeros = dict.fromkeys(JOINTS, 0.0)
    # Per-joint propensities are drawn once per patient, so that RA is symmetric and
    # both hands differ only by per-hand noise; the mimics' hands are drawn per hand.
    severity = float(np.exp(0.9 * rng.standard_normal()))
    if diagnosis == "seropositive_ra":
        severity *= 1.4  # ACPA-positive RA is the more erosive (van der Helm-van Mil 2005)
    # Rates tuned so that about 3% of RA is erosive (in the imaged hand) in the first 12
    # weeks, a quarter at 3-6 months, half at a year and most after two, as in
    # early-arthritis cohorts; narrowing follows the same clock.
    erosion_rate = {j: w * severity * 0.11 * max(years - 0.15, 0.0) ** 0.8 * rng.gamma(2, 0.5)
                    for j, w in _RA_EROSION.items()}  # fmt: skip
    narrowing_rate = {j: w * severity * 0.5 * max(years - 0.1, 0.0) ** 0.8 * rng.gamma(2, 0.5)
                      for j, w in _RA_NARROWING.items()}  # fmt: skip
    swollen_share = min(0.9, 1.2 * course.small_joints / SMALL_JOINTS)
    # A list, not a set: set order changes between processes and would reorder the draws.
    swollen = [j for j in _RA_SWELLING if rng.random() < swollen_share]
    # Age-related hand osteoarthritis in everyone, heavier in the osteoarthritis patients.
    oa_load = max(patient.age - 50.0, 0.0) / 40.0
    if diagnosis == "osteoarthritis":
        oa_load = 0.8 + 1.2 * max(patient.age - 40.0, 0.0) / 30.0

    hands = []
    for _ in lateralities:
        erosion, narrowing = dict(zeros), dict(zeros)
        osteophytes, swelling = dict(zeros), dict(zeros)
        osteopenia = 0.0
        for joint, weight in _OA_NARROWING.items():  # asymmetric: drawn per hand
            grade = rng.poisson(0.5 * weight * oa_load)
            narrowing[joint] = float(min(grade, 4))
            if grade:
                osteophytes[joint] = clip(0.25 * grade + rng.uniform(0.1, 0.4), 0, 1)
        if patient.ra:
            osteopenia = 0.6 * (1 - np.exp(-patient.symptom_duration_weeks / 30.0))
            osteopenia = clip(osteopenia * severity**0.5 + rng.normal(0, 0.05), 0, 1)
            for joint, rate in erosion_rate.items():
                erosion[joint] = float(min(rng.poisson(rate), 5))
            for joint, rate in narrowing_rate.items():
                narrowing[joint] = float(min(max(narrowing[joint], rng.poisson(rate)), 4))
            for joint in swollen:
                if rng.random() < 0.85:
                    swelling[joint] = float(rng.uniform(0.3, 1.0))
        elif diagnosis == "psoriatic_arthritis":
            for joint, weight in _PSA.items():
                if rng.random() < 0.5:  # asymmetric, ray by ray
                    erosion[joint] = float(min(rng.poisson(0.25 * weight * (0.2 + years)), 5))
                    grade = rng.poisson(0.25 * weight * (0.2 + years))
                    narrowing[joint] = float(min(max(narrowing[joint], grade), 4))
                    swelling[joint] = float(rng.uniform(0.2, 0.9) * (rng.random() < 0.5))
        elif diagnosis == "gout" and rng.random() < 0.2:
            # An occasional punched-out erosion from a tophus.
            erosion[_GOUT_SITES[rng.integers(len(_GOUT_SITES))]] = float(rng.integers(1, 4))
        hands.append({"erosion": erosion, "narrowing": narrowing, "osteophytes": osteophytes,
                      "swelling": swelling, "osteopenia": osteopenia})  # fmt: skip
    return hands
