"""A patient's disease course: the latent state drawn once, read by the record and the images.

Each diagnosis has its `Disease` profile (CRP, involved joints, PROs, morning stiffness);
a patient's `PatientCourse` draws its own levels from it once, and `activity` says how much
of the index-visit disease is present on a given day: building up from the onset to the
index visit, then falling on treatment, or healing in the self-limiting mimics.

Disease activity in RA rises over the first months of symptoms (`ra_maturity`): early
RA has fewer involved joints, a lower CRP, more often no autoantibodies (`_patients`) and
almost no radiographic damage, which is what makes it hard to detect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ramultimodal.terminology.codes import upper_normal

__all__ = [
    "DISEASES",
    "LARGE_JOINTS",
    "LARGE_JOINTS_28",
    "SMALL_JOINTS",
    "SMALL_JOINTS_28",
    "Course",
    "Disease",
    "PatientCourse",
    "clip",
    "day_number",
    "ra_maturity",
]


@dataclass(frozen=True)
class Disease:
    crp: tuple[float, float]  # median (mg/L), patient log-sd
    small_joints: float  # mean involved small joints (2010 ACR/EULAR sense) at index
    large_joints: float  # mean involved large joints at index
    dispersion: float  # negative-binomial shape of the joint counts (smaller: wider)
    tender_swollen: tuple[float, float, float]  # involved joints: tender only, swollen only, both
    pain: float  # mean pain 0-10
    disability: float  # mean HAQ-DI level 0-3
    stiffness_minutes: float  # median morning stiffness
    stiffness_condition: float  # share with a joint-stiffness Condition
    swelling_condition: float  # share with a joint-swelling Condition


# RA scales its joints and CRP with `ra_maturity`. Mimics (CLINICAL.md): osteoarthritis
# normal CRP and few tender hand joints; gout an acute monoarthritis with a high CRP;
# viral arthritis an acute polyarthritis; fibromyalgia many tender joints, none swollen,
# normal labs and high PROs; arthralgia pain only. The joint and swelling figures are
# tuned so that the 2010 ACR/EULAR criteria reach their pooled sensitivity 0.82 and
# specificity 0.61 (Radner et al., Ann Rheum Dis 2014) on the index visits. Fields in
# order: CRP, small and large joints, dispersion, tender/swollen split, pain, disability,
# morning stiffness, stiffness and swelling Conditions.
DISEASES: dict[str, Disease] = {
    "seropositive_ra": Disease(
        (10.0, 1.0), 14.0, 2.0, 1.0, (0.50, 0.10, 0.40), 5.5, 1.0, 60, 0.5, 0.5
    ),
    "seronegative_ra": Disease(
        (10.0, 1.0), 18.0, 3.0, 1.0, (0.50, 0.10, 0.40), 5.5, 1.0, 60, 0.5, 0.5
    ),
    "osteoarthritis": Disease(
        (2.0, 0.7), 8.0, 1.2, 1.0, (0.50, 0.15, 0.35), 5.0, 0.7, 20, 0.3, 0.2
    ),
    "psoriatic_arthritis": Disease(
        (5.0, 1.0), 10.0, 2.0, 1.0, (0.30, 0.15, 0.55), 5.0, 0.8, 45, 0.4, 0.5
    ),
    "gout": Disease((25.0, 0.9), 1.0, 0.5, 1.0, (0.15, 0.10, 0.75), 7.0, 0.9, 20, 0.2, 0.7),
    "viral_arthritis": Disease(
        (10.0, 0.9), 10.0, 2.0, 1.2, (0.35, 0.10, 0.55), 5.0, 0.7, 40, 0.4, 0.4
    ),
    "fibromyalgia": Disease((1.5, 0.6), 11.0, 3.0, 1.2, (1.00, 0.00, 0.00), 7.0, 1.3, 45, 0.5, 0.1),
    "arthralgia": Disease((2.2, 0.8), 6.0, 0.8, 0.8, (0.65, 0.10, 0.25), 4.0, 0.5, 25, 0.3, 0.1),
}

# 2010 ACR/EULAR joint sets: small = MCP 1-5, PIP 2-5, thumb IP, wrists, MTP 2-5 (30);
# large = shoulders, elbows, hips, knees, ankles (10). Of these the 28-joint count holds
# 22 small (MCP, PIP/IP, wrists) and 6 large (shoulders, elbows, knees).
SMALL_JOINTS, SMALL_JOINTS_28, LARGE_JOINTS, LARGE_JOINTS_28 = 30, 22, 10, 6


class Course(NamedTuple):
    """What the images (and the follow-up) need to know of a patient's course."""

    maturity: float  # 0..1, see `ra_maturity`
    small_joints: int  # involved small joints at index
    diagnosis_day: int | None = None  # the day RA is diagnosed in the record, if it is
    last_visit_day: int | None = None  # the last visit of the record


def ra_maturity(weeks: float) -> float:
    # 0 at onset, ~0.45 at 12 weeks, ~0.9 at a year: RA accrues joints and inflammation
    # over its first months.
    return 1.0 - float(np.exp(-weeks / 20.0))


def clip(value: float, low: float, high: float) -> float:
    # np.clip costs microseconds on a scalar, and the generator clips thousands.
    return float(min(max(value, low), high))


def day_number(value: Any) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


class PatientCourse:
    """Latent state of one patient, drawn once; visits read it at a given day."""

    def __init__(self, patient: Any, rng: np.random.Generator) -> None:
        self.p, self.rng = patient, rng
        self.disease = disease = DISEASES[patient.diagnosis]
        self.is_ra = bool(patient.ra)
        weeks = patient.symptom_duration_weeks
        self.maturity = ra_maturity(weeks) if self.is_ra else 1.0
        # RA: joints and CRP grow with maturity, from about half their established level.
        scale = 0.45 + 0.55 * self.maturity if self.is_ra else 1.0
        self.onset, self.index = day_number(patient.symptom_onset), day_number(patient.index_date)
        self.female = patient.sex == "female"
        self.age = patient.age
        # Followed populations (`_progression`) say when RA comes and when follow-up ends;
        # the clinic's patients (NaN or no such column) keep the clinic's course.
        end = getattr(patient, "follow_up_end", float("nan"))
        self.follow_up_end = None if end != end else self.index + int(end)
        to_ra = getattr(patient, "days_to_ra", float("nan"))
        self.ra_day = None if to_ra != to_ra or not self.is_ra else self.index + int(to_ra)
        # Arthralgia: tender joints only, no swelling, until RA (and its arthritis) comes.
        self.swelling_from: float = self.onset
        if not getattr(patient, "arthritis_at_index", True):
            self.swelling_from = self.ra_day if self.ra_day is not None else float("inf")
        self.log_crp = np.log(disease.crp[0] * scale**2) + disease.crp[1] * rng.standard_normal()
        self.log_esr_shift = 0.35 * rng.standard_normal()
        k = disease.dispersion
        # At least one involved joint: everyone came with joint complaints.
        small = 1 + rng.negative_binomial(k, k / (k + disease.small_joints * scale - 1))
        large = rng.negative_binomial(k, k / (k + disease.large_joints * scale))
        if patient.diagnosis == "gout":  # an acute monoarthritis, a large joint or a small one
            small, large = (0, 1) if rng.random() < 0.5 else (1, 0)
        self.small, self.large = min(int(small), SMALL_JOINTS), min(int(large), LARGE_JOINTS)
        # Symptoms overlap widely between diagnoses (long morning stiffness is common in
        # PsA, viral arthritis and fibromyalgia too), so PROs are weak evidence of RA.
        self.pain = clip(disease.pain + 1.8 * rng.standard_normal(), 0, 10)
        self.disability = clip(disease.disability * scale + 0.5 * rng.standard_normal(), 0, 3)
        self.stiffness = disease.stiffness_minutes * scale * np.exp(0.9 * rng.standard_normal())
        # Stable serology: a patient's titre is a trait, measured with a little noise.
        self.rf = self._titre(
            patient.rf_positive, upper_normal("rf"), (50.0, 1.0), (28.0, 0.5), 6.0
        )
        self.ccp = self._titre(
            patient.ccp_positive, upper_normal("anti_ccp"), (150.0, 1.0), (45.0, 0.7), 3.0
        )

    def _titre(
        self,
        positive: bool,
        uln: float,
        ra_median: tuple[float, float],
        mimic_median: tuple[float, float],
        negative_median: float,
    ) -> float:
        rng = self.rng
        if positive:
            median, log_sd = ra_median if self.is_ra else mimic_median
            return max(median * np.exp(log_sd * rng.standard_normal()), uln * 1.08)
        return min(negative_median * np.exp(0.6 * rng.standard_normal()), uln * 0.92)

    def tender_swollen(self, day: int) -> tuple[float, float, float]:
        """Involved joints that are tender only, swollen only, both, on a day."""
        if day < self.swelling_from:
            return (1.0, 0.0, 0.0)
        return self.disease.tender_swollen

    def activity(self, day: int) -> float:
        """Share of the index-visit disease activity present on a day (0..1)."""
        if day < self.onset:
            return 0.0
        if self.ra_day is not None:
            # RA still building up at the index visit: it peaks when it is diagnosed, then
            # falls on treatment.
            if day <= self.ra_day:
                return 0.4 + 0.6 * (day - self.onset) / max(self.ra_day - self.onset, 1)
            return 0.35 + 0.65 * float(np.exp(-(day - self.ra_day) / 30.4 / 3.0))
        if day <= self.index:
            if not self.is_ra:
                return 1.0
            # RA builds up from onset to index.
            return 0.4 + 0.6 * (day - self.onset) / max(self.index - self.onset, 1)
        months = (day - self.index) / 30.4
        if self.is_ra:  # treatment response: most RA improves on DMARDs
            return 0.35 + 0.65 * float(np.exp(-months / 3.0))
        if self.p.diagnosis in ("gout", "viral_arthritis"):  # self-limiting
            return float(np.exp(-months / 0.7))
        return 0.9
