"""Who walks into the early-arthritis clinic: diagnosis mix, demographics, risk factors.

Every patient has a latent diagnosis, RA (seropositive or seronegative) or one of the
mimics that an early-arthritis clinic sees, and everything else is drawn given it: sex and
age at onset, symptom duration at the first visit with joint complaints (the index date),
smoking, family history, BMI, and the patient's true serostatus (RF, anti-CCP), from which
the lab values in `_record` follow. Numbers come from ../shared/CLINICAL.md unless a
comment says otherwise; the rest are plausible clinic figures, tuned so that the cohort
reproduces the published test characteristics (see tests/test_synthetic_cohort.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ramultimodal.terminology.codes import EARLY_ARTHRITIS_WEEKS

__all__ = ["DIAGNOSES", "EARLY_WEEKS", "RA_DIAGNOSES", "draw_patients"]

#: Latent diagnoses, RA first.
DIAGNOSES: tuple[str, ...] = (
    "seropositive_ra",
    "seronegative_ra",
    "osteoarthritis",
    "psoriatic_arthritis",
    "gout",
    "viral_arthritis",
    "fibromyalgia",
    "arthralgia",
)
RA_DIAGNOSES: tuple[str, ...] = DIAGNOSES[:2]

#: Symptom duration (weeks) under which RA counts as *early*: the window in which the
#: clinical picture is least developed (`ramultimodal.terminology.codes`).
EARLY_WEEKS = EARLY_ARTHRITIS_WEEKS

#: Share of each mimic among the non-RA patients of an early-arthritis clinic. Most
#: referrals without RA have arthralgia only or osteoarthritis.
MIMIC_MIX: dict[str, float] = {
    "osteoarthritis": 0.22,
    "psoriatic_arthritis": 0.13,
    "gout": 0.10,
    "viral_arthritis": 0.12,
    "fibromyalgia": 0.15,
    "arthralgia": 0.28,
}


@dataclass(frozen=True)
class _Profile:
    female: float  # share of women
    onset_age: tuple[float, float]  # mean, sd (years)
    duration_weeks: tuple[float, float]  # median, log-sd of symptom duration at index
    smoking: tuple[float, float, float]  # never, former, current
    family_history: float  # share with a first-degree relative with RA
    bmi_shift: float  # added to the population BMI
    rf_only: float  # share RF+ / anti-CCP- (mimics; RA below)


#: Per-diagnosis profiles. RA: 3 women to 1 man and onset at 40-60 (CLINICAL.md); smoking
#: and a family history raise the risk, most for seropositive RA (CLINICAL.md). Mimics:
#: osteoarthritis older, gout mostly men with a short acute flare, viral arthritis short
#: and self-limiting, fibromyalgia mostly women with long-standing pain.
_PROFILES: dict[str, _Profile] = {
    "seropositive_ra": _Profile(0.75, (52, 12), (16, 0.9), (0.42, 0.30, 0.28), 0.15, 0.0, 0.0),
    "seronegative_ra": _Profile(0.75, (54, 13), (16, 0.9), (0.52, 0.28, 0.20), 0.12, 0.5, 0.0),
    "osteoarthritis": _Profile(0.68, (62, 9), (26, 0.9), (0.55, 0.28, 0.17), 0.06, 2.0, 0.15),
    "psoriatic_arthritis": _Profile(0.50, (45, 12), (18, 0.9), (0.50, 0.25, 0.25), 0.06, 2.0, 0.06),
    "gout": _Profile(0.15, (58, 13), (3, 1.0), (0.50, 0.30, 0.20), 0.05, 3.5, 0.08),
    "viral_arthritis": _Profile(0.60, (40, 13), (4, 0.7), (0.60, 0.22, 0.18), 0.05, 0.0, 0.18),
    "fibromyalgia": _Profile(0.85, (47, 11), (30, 0.9), (0.55, 0.25, 0.20), 0.06, 1.5, 0.08),
    "arthralgia": _Profile(0.65, (48, 14), (14, 1.0), (0.58, 0.25, 0.17), 0.07, 0.5, 0.11),
}

# Serology of RA over all RA patients (Nishimura et al., Ann Intern Med 2007): RF
# sensitivity 0.69, anti-CCP 0.67, both 0.57, so RF or anti-CCP in 0.79. Seropositive RA
# is therefore 79% of RA (not the often-quoted 70%, which cannot reach these
# sensitivities), split within it as both / RF only / anti-CCP only:
_RA_BOTH, _RA_RF_ONLY = 0.57 / 0.79, 0.12 / 0.79
# Early RA is more often seronegative; the two levels average to 0.79 over the duration
# distribution of RA.
_SEROPOSITIVE_EARLY, _SEROPOSITIVE_ESTABLISHED = 0.70, 0.845
# Mimics: anti-CCP specificity 0.95 and both-positive specificity 0.96 (Nishimura 2007):
# anti-CCP is positive in 5% of mimics, nearly always with RF. RF-only shares per
# mimic (`_Profile.rf_only`) average to 0.11, so that RF specificity is 0.85.
_MIMIC_BOTH, _MIMIC_CCP_ONLY = 0.04, 0.01

_INDEX_START, _INDEX_DAYS = np.datetime64("2015-01-01"), 10 * 365
_POPULATION_BMI = (26.5, 4.5)  # mean, sd (kg/m2)


def _subject_ids(rng: np.random.Generator, n: int) -> list[str]:
    # Random UUID4s drawn from the seed, as Synthea's ids look.
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    return [str(uuid.UUID(bytes=row.tobytes(), version=4)) for row in raw]


def draw_patients(
    n_patients: int,
    prevalence: float,
    rng: np.random.Generator,
    *,
    mimic_mix: dict[str, float] | None = None,
    duration_factor: float = 1.0,
) -> pd.DataFrame:
    """Draw the patients of a cohort.

    Parameters
    ----------
    n_patients : int
        Number of patients.
    prevalence : float
        Share of RA (seropositive and seronegative).
    rng : numpy.random.Generator
        Source of randomness.
    mimic_mix : dict, optional
        Share of each mimic among those without RA; default `MIMIC_MIX` (the clinic's).
    duration_factor : float, default 1.0
        Scales RA's symptom duration at index: below 1, RA is seen earlier in its course
        (undifferentiated arthritis, `ramultimodal.synthetic._progression`).

    Returns
    -------
    DataFrame
        Indexed by ``subject_id``: the public `Cohort.patients` columns plus the latent
        ``rf_positive`` and ``ccp_positive`` (true serostatus) and ``age`` (at index).

    Examples
    --------
    >>> patients = draw_patients(5, 0.4, np.random.default_rng(0))
    >>> bool(patients["diagnosis"].isin(DIAGNOSES).all()), patients.index.name
    (True, 'subject_id')
    """
    n = n_patients
    ra = rng.random(n) < prevalence
    mix = MIMIC_MIX if mimic_mix is None else mimic_mix
    mimics = list(mix)
    mimic = rng.choice(len(mimics), size=n, p=np.array(list(mix.values())))
    diagnosis = np.where(ra, "seropositive_ra", np.array(mimics, dtype=object)[mimic])

    # Duration first: seropositivity of RA depends on it.
    median = np.array([_PROFILES[d].duration_weeks[0] for d in diagnosis])
    if duration_factor != 1.0:
        median = median * np.where(ra, duration_factor, 1.0)
    log_sd = np.array([_PROFILES[d].duration_weeks[1] for d in diagnosis])
    weeks = np.clip(median * np.exp(log_sd * rng.standard_normal(n)), 0.5, 520.0)
    weeks = np.round(weeks * 7) / 7  # whole days
    early = weeks < EARLY_WEEKS
    p_seropositive = np.where(early, _SEROPOSITIVE_EARLY, _SEROPOSITIVE_ESTABLISHED)
    seronegative = ra & (rng.random(n) >= p_seropositive)
    diagnosis = np.where(seronegative, "seronegative_ra", diagnosis)

    # True serostatus: one categorical draw per patient (both, RF only, anti-CCP only, none).
    profiles = [_PROFILES[d] for d in diagnosis]
    rf_only = np.array([p.rf_only for p in profiles])
    u = rng.random(n)
    seropositive_ra = diagnosis == "seropositive_ra"
    both = np.where(seropositive_ra, u < _RA_BOTH, ~ra & (u < _MIMIC_BOTH))
    rf_alone = np.where(
        seropositive_ra,
        (u >= _RA_BOTH) & (u < _RA_BOTH + _RA_RF_ONLY),
        ~ra & (u >= _MIMIC_BOTH) & (u < _MIMIC_BOTH + rf_only),
    )
    ccp_alone = np.where(
        seropositive_ra,
        u >= _RA_BOTH + _RA_RF_ONLY,
        ~ra & (u >= _MIMIC_BOTH + rf_only) & (u < _MIMIC_BOTH + rf_only + _MIMIC_CCP_ONLY),
    )

    female = rng.random(n) < np.array([p.female for p in profiles])
    onset_age = np.clip(
        np.array([p.onset_age[0] for p in profiles])
        + np.array([p.onset_age[1] for p in profiles]) * rng.standard_normal(n),
        18.0,
        92.0,
    )
    smoking_p = np.array([p.smoking for p in profiles])
    smoking = np.array(["never", "former", "current"], dtype=object)[
        (rng.random(n)[:, None] > np.cumsum(smoking_p, axis=1)[:, :2]).sum(axis=1)
    ]
    family_history = rng.random(n) < np.array([p.family_history for p in profiles])
    bmi = np.round(
        np.clip(
            _POPULATION_BMI[0]
            + np.array([p.bmi_shift for p in profiles])
            + _POPULATION_BMI[1] * rng.standard_normal(n),
            16.0,
            55.0,
        ),
        1,
    )

    index_date = _INDEX_START + rng.integers(0, _INDEX_DAYS, size=n).astype("timedelta64[D]")
    onset = index_date - np.round(weeks * 7).astype("timedelta64[D]")
    birth = onset - np.round(onset_age * 365.25).astype("timedelta64[D]")
    age = (index_date - birth).astype(np.float64) / 365.25

    patients = pd.DataFrame(
        {
            "sex": np.where(female, "female", "male"),
            "birth_date": birth.astype("datetime64[us]"),
            "index_date": index_date.astype("datetime64[us]"),
            "symptom_onset": onset.astype("datetime64[us]"),
            "diagnosis": diagnosis.astype(object),
            "ra": ra,
            "symptom_duration_weeks": weeks,
            "early": early,
            "smoking": smoking,
            "family_history_ra": family_history,
            "bmi": bmi,
            "rf_positive": both | rf_alone,
            "ccp_positive": both | ccp_alone,
            "age": age,
        },
        index=pd.Index(_subject_ids(rng, n), name="subject_id"),
    )
    return patients
