"""The Leiden prediction rule's published items, points and risk cut-offs, written once.

van der Helm-van Mil AHM, le Cessie S, van Dongen H, Breedveld FC, Toes REM, Huizinga TWJ.
A prediction rule for disease outcome in patients with recent-onset undifferentiated
arthritis: how to guide individual treatment decisions. Arthritis Rheum 2007;56:433-440
(derived in 570 patients of the Leiden Early Arthritis Clinic with undifferentiated
arthritis; outcome: RA (1987 ACR criteria) within one year). Validated in three external
cohorts in Arthritis Rheum 2008;58:2241-2247 (AUC 0.83 UK, 0.82 Germany, 0.95 the
Netherlands), where the rule was re-derived with the *duration* of morning stiffness because
its severity was not recorded everywhere.

Where each number was checked (the 2007 paper's own table was not reachable here):

- age x 0.02, female 1, localisation (small joints of hands or feet 0.5, symmetric 0.5,
  upper extremities 1, upper and lower extremities 1.5), morning stiffness on a 100 mm VAS
  (26-90 mm 1, > 90 mm 2): the structured abstract of the paper in Evid Based Med
  2007;12:154 (ebm.bmj.com/content/12/5/154);
- tender and swollen joint counts (4-10: 0.5, >= 11: 1), CRP (5-50 mg/L 0.5, >= 51 mg/L
  1.5), RF positive 1, anti-CCP positive 2, and the cut-offs (<= 6 low risk, >= 8 high
  risk): public calculators of the rule that cite the 2007 paper; the cut-offs also in the
  2008 validation's abstract (Nat Clin Pract Rheumatol 2009, ncprheum0914). Note: CRP
  >= 51 mg/L scores **1.5** in every source found here, not 1;
- morning-stiffness *duration* (the 2008 re-derivation): 30-59 min 0.5, >= 60 min 1, from a
  public calculator only (secondary source, not checked against the 2008 paper's table).

The score is 0-14 (age alone adds up to 2 at 100 years).
"""

from __future__ import annotations

__all__ = [
    "LEIDEN_AGE_POINTS_PER_YEAR",
    "LEIDEN_COUNT_POINTS",
    "LEIDEN_CRP_POINTS",
    "LEIDEN_HIGH_RISK",
    "LEIDEN_ITEMS",
    "LEIDEN_LOCALISATION_POINTS",
    "LEIDEN_LOW_RISK",
    "LEIDEN_SEROLOGY_POINTS",
    "LEIDEN_SEX_POINTS",
    "LEIDEN_STIFFNESS_MINUTES_POINTS",
    "LEIDEN_STIFFNESS_VAS_POINTS",
]

#: The components of the score, in the paper's order: its nine items, with localisation
#: in its three parts (each may be known or not on its own). The score's components and the
#: unit of the missing-item count (`ramultimodal.ehr.LeidenRuleClassifier`).
LEIDEN_ITEMS: tuple[str, ...] = (
    "age",
    "sex",
    "small_joints_hands_feet",  # localisation
    "symmetric",  # localisation
    "extremities",  # localisation: upper, or upper and lower
    "morning_stiffness",
    "tender_joints",
    "swollen_joints",
    "crp",
    "rf",
    "anti_ccp",
)

LEIDEN_AGE_POINTS_PER_YEAR = 0.02
LEIDEN_SEX_POINTS = 1.0  # female
#: Localisation of complaints: each present finding adds its points; the extremities'
#: points are exclusive (upper and lower 1.5, else upper only 1, lower only 0).
LEIDEN_LOCALISATION_POINTS: dict[str, float] = {
    "small_joints_hands_feet": 0.5,
    "symmetric": 0.5,
    "upper_extremities": 1.0,
    "upper_and_lower_extremities": 1.5,
}
#: Points by thresholds: ``(bound, points, inclusive)``, ascending; a value reaching a bound
#: (at or above it when inclusive, above it otherwise) scores its points, below the first 0.
LEIDEN_STIFFNESS_VAS_POINTS: tuple[tuple[float, float, bool], ...] = (
    (26.0, 1.0, True),  # 26-90 mm
    (90.0, 2.0, False),  # > 90 mm
)
LEIDEN_STIFFNESS_MINUTES_POINTS: tuple[tuple[float, float, bool], ...] = (
    (30.0, 0.5, True),  # 30-59 min
    (60.0, 1.0, True),  # 60 min or more
)
#: Tender and swollen joint counts alike: 4-10 joints 0.5, 11 or more 1.
LEIDEN_COUNT_POINTS: tuple[tuple[float, float, bool], ...] = ((4.0, 0.5, True), (11.0, 1.0, True))
#: CRP in mg/L: 5-50 0.5, 51 or more 1.5 (and any value above 50, between the published rows).
LEIDEN_CRP_POINTS: tuple[tuple[float, float, bool], ...] = ((5.0, 0.5, True), (50.0, 1.5, False))
#: A positive test (above its upper limit of normal, `ramultimodal.terminology.upper_normal`).
LEIDEN_SEROLOGY_POINTS: dict[str, float] = {"rf": 1.0, "anti_ccp": 2.0}

#: Risk groups: a score at or below 6 is low risk, at or above 8 high risk (NPV 83-86% and
#: PPV 93-100% in the 2008 validation cohorts); between them, intermediate.
LEIDEN_LOW_RISK = 6.0
LEIDEN_HIGH_RISK = 8.0
