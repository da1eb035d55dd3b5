"""One patient's record: visits, labs, joint exams, PROs, symptoms, diagnosis and drugs.

`patient_events` writes, for one patient of `draw_patients`, the events a hospital EHR
would hold (docs/data-model.md) of its `PatientCourse`: routine visits before the
symptoms, the index visit (the first visit with joint complaints) with serology,
acute-phase reactants, a joint exam and questionnaires, and follow-up visits after it at
which the diagnosis is made and, for RA, DMARDs are prescribed. Those post-index events
are leakage bait: a model that reads them predicts the label from the treatment. Codes,
units and reference limits come from `ramultimodal.terminology`, the HAQ-DI total from
`ramultimodal.ehr.scores.haq_di`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ramultimodal.ehr.scores import haq_di
from ramultimodal.synthetic._course import (
    LARGE_JOINTS,
    LARGE_JOINTS_28,
    SMALL_JOINTS,
    SMALL_JOINTS_28,
    Course,
    PatientCourse,
    clip,
    day_number,
)
from ramultimodal.terminology.codes import (
    CONCEPTS,
    DRUG_NAMES,
    HAQ_DI_CATEGORIES,
    SERONEGATIVE_RA,
    SEROPOSITIVE_RA,
    SMOKING_CODES,
    haq_di_item_code,
    upper_normal,
)
from ramultimodal.terminology.events import AMBULATORY_VISIT, BIRTH, gender_code

__all__ = ["Row", "patient_events"]

#: An event row before it becomes the events table: (day or None, code, numeric value,
#: text value, unit).
Row = tuple[int | None, str, float, str | None, str | None]

_NAN = float("nan")

# Detection limits that labs report as "<" (and anti-CCP's top of the measuring range,
# reported as ">"), CLINICAL.md.
_RF_DETECTION, _CCP_DETECTION, _CCP_MEASURING_MAX, _CRP_DETECTION = 10.0, 7.0, 340.0, 1.0

# DMARDs after an RA diagnosis: methotrexate is the anchor drug; biologics follow an
# inadequate response, months later. Shares of the prescriptions, by ingredient.
_RXNORM = {name: code for code, name in DRUG_NAMES.items()}
_CSDMARD_SHARES = {
    "methotrexate": 0.75,
    "leflunomide": 0.08,
    "sulfasalazine": 0.08,
    "hydroxychloroquine": 0.09,
}
_BIOLOGIC_SHARES = {
    "adalimumab": 0.35,
    "etanercept": 0.30,
    "tofacitinib": 0.10,
    "certolizumab pegol": 0.10,
    "golimumab": 0.10,
    "sarilumab": 0.05,
}
_METHOTREXATE, _HYDROXYCHLOROQUINE = _RXNORM["methotrexate"], _RXNORM["hydroxychloroquine"]

# RA's diagnosis codes: the specific (sero)positive or negative code, or the generic one.
_RA = CONCEPTS["rheumatoid_arthritis"].code
_RA_DIAGNOSIS_CODES = {
    "seropositive_ra": (SEROPOSITIVE_RA, _RA),
    "seronegative_ra": (SERONEGATIVE_RA, _RA),
}
_HAQ_ITEMS: tuple[tuple[str, str], ...] = tuple(
    (category, haq_di_item_code(category, n))
    for category, items in HAQ_DI_CATEGORIES.items()
    for n in range(1, len(items) + 1)
)


def _code(name: str) -> str:
    return CONCEPTS[name].code


def _unit(name: str) -> str | None:
    return CONCEPTS[name].unit


class _Record:
    """The events of one patient's record, written visit by visit from its course."""

    def __init__(self, course: PatientCourse) -> None:
        self.course, self.rng = course, course.rng
        self.rows: list[Row] = []

    def add(self, day: int | None, code: str, value: float = _NAN,
            text: str | None = None, unit: str | None = None) -> None:  # fmt: skip
        self.rows.append((day, code, value, text, unit))

    # --- Observations -----------------------------------------------------------------

    def labs(self, day: int, orders: dict[str, float]) -> None:
        course = self.course
        rng, activity = self.rng, course.activity(day)
        u = rng.random(len(orders))
        ordered = {name for name, draw in zip(orders, u, strict=True) if draw < orders[name]}
        # CRP falls back to a healthy level when the disease is quiet.
        log_crp = np.log(0.8) + activity * (course.log_crp - np.log(0.8))
        crp = float(np.exp(log_crp + 0.3 * rng.standard_normal()))
        if "rf" in ordered:
            rf = self._noisy_titre(course.rf, upper_normal("rf"))
            self._lab(day, "rf", *((rf, None) if rf >= _RF_DETECTION else (_RF_DETECTION, "<")), 0)
        if "anti_ccp" in ordered:
            ccp = self._noisy_titre(course.ccp, upper_normal("anti_ccp"))
            if ccp < _CCP_DETECTION:
                self._lab(day, "anti_ccp", _CCP_DETECTION, "<", 0)
            elif ccp > _CCP_MEASURING_MAX:
                self._lab(day, "anti_ccp", _CCP_MEASURING_MAX, ">", 0)
            else:
                self._lab(day, "anti_ccp", ccp, None, 0)
        if "crp" in ordered:
            self._lab(day, "crp", *((crp, None) if crp >= _CRP_DETECTION else (1.0, "<")), 1)
        if "esr" in ordered:
            # ESR follows CRP, and rises with age and in women (Miller et al., BMJ 1983).
            log_esr = np.log(6.0) + 0.45 * np.log1p(crp) + 0.012 * (course.age - 50)
            log_esr += 0.25 * course.female + course.log_esr_shift + 0.15 * rng.standard_normal()
            self._lab(day, "esr", clip(np.exp(log_esr), 1, 140), None, 0)
        if "hemoglobin" in ordered:
            # Anaemia of chronic inflammation.
            hb = (
                (13.4 if course.female else 15.0)
                - 0.35 * np.log1p(crp)
                + 0.8 * rng.standard_normal()
            )
            self._lab(day, "hemoglobin", clip(hb, 7, 19), None, 1)
        if "platelets" in ordered:
            plt = 250 * np.exp(0.08 * np.log1p(crp) + 0.2 * rng.standard_normal())
            self._lab(day, "platelets", float(plt), None, 0)
        if "leukocytes" in ordered:
            wbc = 6.5 * np.exp(0.06 * np.log1p(crp) + 0.22 * rng.standard_normal())
            self._lab(day, "leukocytes", float(wbc), None, 1)

    def _noisy_titre(self, titre: float, uln: float) -> float:
        value = titre * float(np.exp(0.1 * self.rng.standard_normal()))
        # Assay noise does not flip a patient's serostatus, even after rounding to a unit.
        return max(value, uln + 1) if titre > uln else min(value, uln - 1)

    def _lab(self, day: int, name: str, value: float, comparator: str | None,
             decimals: int) -> None:  # fmt: skip
        self.add(day, _code(name), round(value, decimals), comparator, _unit(name))

    def joint_exam(self, day: int) -> None:
        course = self.course
        rng, activity = self.rng, course.activity(day)
        # Joints involved on the day: the index-visit joints thinned by activity.
        small = rng.binomial(course.small, min(activity, 1.0))
        large = rng.binomial(course.large, min(activity, 1.0))
        small_28 = (
            rng.hypergeometric(SMALL_JOINTS_28, SMALL_JOINTS - SMALL_JOINTS_28, small)
            if small
            else 0
        )
        large_28 = (
            rng.hypergeometric(LARGE_JOINTS_28, LARGE_JOINTS - LARGE_JOINTS_28, large)
            if large
            else 0
        )
        tender_only, swollen_only, both = rng.multinomial(
            small_28 + large_28, course.tender_swollen(day)
        )
        tender, swollen = tender_only + both, swollen_only + both
        evaluator = clip(
            round(0.3 * swollen + 0.1 * tender + 1.0 * (swollen > 0) + rng.normal(0, 1)), 0, 10
        )
        for name, value in (
            ("tender_joints_28", tender),
            ("swollen_joints_28", swollen),
            ("involved_small_joints", small),
            ("involved_large_joints", large),
            ("evaluator_global", evaluator),
        ):
            self.add(day, _code(name), float(value), None, _unit(name))

    def questionnaires(self, day: int, orders: dict[str, float]) -> None:
        rng, course = self.rng, self.course
        level = 0.3 + 0.7 * course.activity(day)
        u = rng.random(4)
        if u[0] < orders["pain"]:
            pain = clip(round(course.pain * level + rng.normal(0, 0.8)), 0, 10)
            self.add(day, _code("pain"), float(pain), None, _unit("pain"))
        if u[1] < orders["patient_global"]:
            glob = clip(round(course.pain * level + rng.normal(0, 1.2)), 0, 10)
            self.add(day, _code("patient_global"), float(glob), None, _unit("patient_global"))
        if u[2] < orders["morning_stiffness"]:
            minutes = 5 * round(course.stiffness * level * np.exp(0.3 * rng.normal()) / 5)
            minutes = float(min(minutes, 600))
            self.add(day, _code("morning_stiffness"), minutes, None, _unit("morning_stiffness"))
        if u[3] < orders["haq_di"]:
            self._haq_di(day, course.disability * level)

    def _haq_di(self, day: int, disability: float) -> None:
        rng = self.rng
        n = len(_HAQ_ITEMS)
        scores = np.clip(np.rint(disability + 0.6 * rng.standard_normal(n)), 0, 3)
        answered = rng.random(n) >= 0.03
        if rng.random() < 0.15:  # a page left blank: several categories unanswered
            skipped = rng.choice(len(HAQ_DI_CATEGORIES), size=rng.integers(1, 5), replace=False)
            names = [list(HAQ_DI_CATEGORIES)[i] for i in skipped]
            answered &= np.array([category not in names for category, _ in _HAQ_ITEMS])
        items = {}
        for (_, code), score, ok in zip(_HAQ_ITEMS, scores, answered, strict=True):
            if ok:
                items[code] = float(score)
                self.add(day, code, float(score))
        total = haq_di(items)
        if not np.isnan(total):
            self.add(day, _code("haq_di"), round(total, 3), None, _unit("haq_di"))


_INDEX_LABS = {"rf": 0.9, "anti_ccp": 0.85, "crp": 0.9, "esr": 0.75, "hemoglobin": 0.8,
               "platelets": 0.6, "leukocytes": 0.6}  # fmt: skip
_ROUTINE_LABS = {"rf": 0.03, "anti_ccp": 0.01, "crp": 0.35, "esr": 0.25, "hemoglobin": 0.5,
                 "platelets": 0.4, "leukocytes": 0.4}  # fmt: skip
_FOLLOW_UP_LABS = {"rf": 0.05, "anti_ccp": 0.03, "crp": 0.85, "esr": 0.6, "hemoglobin": 0.6,
                   "platelets": 0.4, "leukocytes": 0.4}  # fmt: skip
_INDEX_PROS = {"pain": 0.85, "patient_global": 0.8, "morning_stiffness": 0.75, "haq_di": 0.7}
_FOLLOW_UP_PROS = {"pain": 0.7, "patient_global": 0.65, "morning_stiffness": 0.5, "haq_di": 0.55}


def patient_events(patient: Any, rng: np.random.Generator) -> tuple[list[Row], Course]:
    """Write one patient's record.

    Parameters
    ----------
    patient : namedtuple
        A row of `draw_patients` (``itertuples``).
    rng : numpy.random.Generator
        The patient's own generator.

    Returns
    -------
    rows : list of tuple
        ``(day, code, numeric_value, text_value, unit)``, day as days since 1970-01-01
        (None for timeless facts).
    course : Course
        What the radiograph findings depend on.

    Examples
    --------
    >>> from ramultimodal.synthetic._patients import draw_patients
    >>> patients = draw_patients(3, 0.5, np.random.default_rng(0))
    >>> rows, course = patient_events(next(patients.itertuples()), np.random.default_rng(1))
    >>> rows[0][1], rows[1][1]
    ('MEDS_BIRTH', 'GENDER/female')
    """
    state = PatientCourse(patient, rng)
    record = _Record(state)
    add = record.add
    add(day_number(patient.birth_date), BIRTH)
    add(None, gender_code(patient.sex))

    # Routine visits in the three years before the index date, some after symptom onset.
    n_routine = min(int(rng.poisson(1.3)), 4)
    routine = sorted({state.index - int(d) for d in rng.integers(3, 3 * 365, size=n_routine)})
    follow_ups = _follow_up_days(state)
    first = routine[0] if routine else state.index
    for day in routine:
        add(day, AMBULATORY_VISIT)
        record.labs(day, _ROUTINE_LABS)
        if day >= state.onset and rng.random() < 0.3:  # a GP examined the joints
            record.joint_exam(day)

    # Risk factors, recorded at the first visit.
    u = rng.random(3)
    if u[0] < 0.9:
        add(first, _code("smoking"), _NAN, SMOKING_CODES[patient.smoking])
    if u[1] < 0.85:
        add(first, _code("bmi"), float(patient.bmi), None, _unit("bmi"))
    if u[2] < 0.7:
        add(first, _code("family_history_ra"), float(patient.family_history_ra))

    # Symptoms, reported at the index visit with their onset.
    d = state.disease
    add(state.onset, _code("joint_pain"))
    span = max(state.index - state.onset, 1)
    u = rng.random(4)
    if u[0] < d.stiffness_condition:
        add(state.onset + int(u[1] * span), _code("joint_stiffness"))
    if u[2] < d.swelling_condition:
        add(state.onset + int(u[3] * span), _code("joint_swelling"))

    # The index visit.
    add(state.index, AMBULATORY_VISIT)
    record.labs(state.index, _INDEX_LABS)
    if rng.random() < 0.98:
        record.joint_exam(state.index)
    record.questionnaires(state.index, _INDEX_PROS)

    # After the index date: follow-ups, the diagnosis, and for RA its drugs.
    if state.follow_up_end is not None:
        follow_ups = _followed_visits(state)  # the diagnosis visit first
    for day in sorted(follow_ups):
        add(day, AMBULATORY_VISIT)
        record.labs(day, _FOLLOW_UP_LABS)
        if rng.random() < 0.7:
            record.joint_exam(day)
        record.questionnaires(day, _FOLLOW_UP_PROS)
    diagnosed = _diagnosis_and_drugs(state, record, follow_ups)
    last = max([state.index, *follow_ups])
    return record.rows, Course(state.maturity, state.small, diagnosed, last)


# Visits of a followed population (`_progression`): every 3 months in the first year, then
# every 6, until RA is diagnosed or follow-up ends; RA is then seen 3, 6 and 12 months on.
_FOLLOWED_MONTHS = (3, 6, 9, 12, 18, 24, 30, 36, 42, 48, 54, 60)


def _followed_visits(state: PatientCourse) -> list[int]:
    rng, end = state.rng, state.follow_up_end
    assert end is not None
    stop = end if state.ra_day is None else min(end, state.ra_day)
    days = [state.index + int(30.44 * m) + int(rng.integers(-10, 11)) for m in _FOLLOWED_MONTHS]
    days = [day for day in days if day < stop and rng.random() < 0.85]
    if state.ra_day is not None and state.ra_day <= end:
        # The diagnosis visit comes first in the list (`_diagnosis_and_drugs`).
        after = [state.ra_day + p for p in (91, 182, 365) if state.ra_day + p <= end]
        return [state.ra_day, *days, *after]
    return days


def _follow_up_days(state: PatientCourse) -> list[int]:
    rng = state.rng
    # The diagnosis visit 2-8 weeks after index; RA is then seen at 3, 6 and 12 months.
    days = [state.index + int(rng.integers(14, 57))]
    planned = (91, 182, 365) if state.is_ra else (182,)
    keep = 0.85 if state.is_ra else 0.3
    days += [state.index + p + int(rng.integers(-10, 11)) for p in planned if rng.random() < keep]
    return days


def _prescription(rng: np.random.Generator, shares: dict[str, float]) -> str:
    """The RxNorm code of one drug drawn by its share of the prescriptions."""
    names = list(shares)
    return _RXNORM[names[rng.choice(len(names), p=np.array(list(shares.values())))]]


def _diagnosis_and_drugs(
    state: PatientCourse, record: _Record, follow_ups: list[int]
) -> int | None:
    """Write the diagnosis (at the first follow-up) and drugs; the day RA was diagnosed."""
    rng, diagnosis, add = state.rng, state.p.diagnosis, record.add
    if state.follow_up_end is not None:
        # A followed patient: RA only when it came within follow-up; a mimic's diagnosis
        # at the first visit after index, if there was one.
        if state.ra_day is None or state.ra_day > state.follow_up_end:
            if follow_ups and not state.is_ra and diagnosis in CONCEPTS:
                add(follow_ups[0], _code(diagnosis))
            return None
    if not follow_ups:
        return None
    diagnosed = follow_ups[0]
    if state.is_ra:
        specific, generic = _RA_DIAGNOSIS_CODES[diagnosis]
        add(diagnosed, specific if rng.random() < 0.7 else generic)
        drug = _prescription(rng, _CSDMARD_SHARES)
        add(diagnosed, drug)
        if drug == _METHOTREXATE and rng.random() < 0.25:  # methotrexate + hydroxychloroquine
            add(diagnosed, _HYDROXYCHLOROQUINE)
        later = [day for day in follow_ups[1:] if day - state.index >= 150 and day > diagnosed]
        if later and rng.random() < 0.2:
            add(later[0], _prescription(rng, _BIOLOGIC_SHARES))
        return diagnosed
    elif diagnosis in CONCEPTS:  # arthralgia gets no diagnosis of its own
        add(diagnosed, _code(diagnosis))
        if diagnosis == "psoriatic_arthritis" and rng.random() < 0.4:
            add(diagnosed, _METHOTREXATE)  # methotrexate is a PsA drug too
    return None
