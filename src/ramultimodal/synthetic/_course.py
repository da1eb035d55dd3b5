"""One patient's record: visits, labs, joint exams, PROs, symptoms, diagnosis and drugs.

`patient_events` writes, for one patient of `draw_patients`, the events a hospital EHR
would hold (docs/data-model.md): routine visits before the symptoms, the index visit
(the first visit with joint complaints) with serology, acute-phase reactants, a joint
exam and questionnaires, and follow-up visits after it at which the diagnosis is made
and, for RA, DMARDs are prescribed. Those post-index events are leakage bait: a model
that reads them predicts the label from the treatment.

`hand_findings` turns the same patient into radiographic findings per joint, growing with
symptom duration in RA (CLINICAL.md, "Radiographic RA signs").

Disease activity in RA rises over the first months of symptoms (`_ra_maturity`): early
RA has fewer involved joints, a lower CRP, more often no autoantibodies (`_patients`) and
almost no radiographic damage, which is what makes it hard to detect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ramultimodal.synthetic._hand_anatomy import JOINTS
from ramultimodal.terminology.codes import CONCEPTS, HAQ_DI_CATEGORIES, SMOKING_CODES

__all__ = ["Course", "hand_findings", "haq_di_total", "patient_events"]

#: An event row before it becomes the events table: (day or None, code, numeric value,
#: text value, unit).
Row = tuple[int | None, str, float, str | None, str | None]

_NAN = float("nan")


@dataclass(frozen=True)
class _Disease:
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


# RA scales its joints and CRP with `_ra_maturity`. Mimics (CLINICAL.md): osteoarthritis
# normal CRP and few tender hand joints; gout an acute monoarthritis with a high CRP;
# viral arthritis an acute polyarthritis; fibromyalgia many tender joints, none swollen,
# normal labs and high PROs; arthralgia pain only. The joint and swelling figures are
# tuned so that the 2010 ACR/EULAR criteria reach their pooled sensitivity 0.82 and
# specificity 0.61 (Radner et al., Ann Rheum Dis 2014) on the index visits. Fields in
# order: CRP, small and large joints, dispersion, tender/swollen split, pain, disability,
# morning stiffness, stiffness and swelling Conditions.
_DISEASES: dict[str, _Disease] = {
    "seropositive_ra": _Disease(
        (10.0, 1.0), 14.0, 2.0, 1.0, (0.50, 0.10, 0.40), 5.5, 1.0, 60, 0.5, 0.5
    ),
    "seronegative_ra": _Disease(
        (10.0, 1.0), 18.0, 3.0, 1.0, (0.50, 0.10, 0.40), 5.5, 1.0, 60, 0.5, 0.5
    ),
    "osteoarthritis": _Disease(
        (2.0, 0.7), 8.0, 1.2, 1.0, (0.50, 0.15, 0.35), 5.0, 0.7, 20, 0.3, 0.2
    ),
    "psoriatic_arthritis": _Disease(
        (5.0, 1.0), 10.0, 2.0, 1.0, (0.30, 0.15, 0.55), 5.0, 0.8, 45, 0.4, 0.5
    ),
    "gout": _Disease((25.0, 0.9), 1.0, 0.5, 1.0, (0.15, 0.10, 0.75), 7.0, 0.9, 20, 0.2, 0.7),
    "viral_arthritis": _Disease(
        (10.0, 0.9), 10.0, 2.0, 1.2, (0.35, 0.10, 0.55), 5.0, 0.7, 40, 0.4, 0.4
    ),
    "fibromyalgia": _Disease(
        (1.5, 0.6), 11.0, 3.0, 1.2, (1.00, 0.00, 0.00), 7.0, 1.3, 45, 0.5, 0.1
    ),
    "arthralgia": _Disease((2.2, 0.8), 6.0, 0.8, 0.8, (0.65, 0.10, 0.25), 4.0, 0.5, 25, 0.3, 0.1),
}

# 2010 ACR/EULAR joint sets: small = MCP 1-5, PIP 2-5, thumb IP, wrists, MTP 2-5 (30);
# large = shoulders, elbows, hips, knees, ankles (10). Of these the 28-joint count holds
# 22 small (MCP, PIP/IP, wrists) and 6 large (shoulders, elbows, knees).
_SMALL, _SMALL_28, _LARGE, _LARGE_28 = 30, 22, 10, 6

# Reference values (CLINICAL.md): ULNs and the detection limits that labs report as "<".
_RF_DETECTION, _CCP_DETECTION, _CCP_MEASURING_MAX, _CRP_DETECTION = 10.0, 7.0, 340.0, 1.0
_RF_ULN, _CCP_ULN = CONCEPTS["rf"].upper_normal, CONCEPTS["anti_ccp"].upper_normal

# DMARDs after an RA diagnosis: methotrexate is the anchor drug; biologics follow an
# inadequate response, months later. RxNorm codes from CLINICAL.md.
_CSDMARDS = (("6851", 0.75), ("27169", 0.08), ("9524", 0.08), ("5521", 0.09))
_BIOLOGICS = (("327361", 0.35), ("214555", 0.30), ("1357536", 0.10), ("709271", 0.10),
              ("819300", 0.10), ("1923319", 0.05))  # fmt: skip

_RA_DIAGNOSIS_CODES = {
    "seropositive_ra": ("SNOMED/239791005", "SNOMED/69896004"),
    "seronegative_ra": ("SNOMED/239792003", "SNOMED/69896004"),
}
_HAQ_ITEMS: tuple[tuple[str, str], ...] = tuple(
    (category, f"QR/haq-di-{category}-{n}")
    for category, items in HAQ_DI_CATEGORIES.items()
    for n in range(1, len(items) + 1)
)


class Course(NamedTuple):
    """What the images need to know of a patient's course."""

    maturity: float  # 0..1, see `_ra_maturity`
    small_joints: int  # involved small joints at index


def _ra_maturity(weeks: float) -> float:
    # 0 at onset, ~0.45 at 12 weeks, ~0.9 at a year: RA accrues joints and inflammation
    # over its first months.
    return 1.0 - float(np.exp(-weeks / 20.0))


def _clip(value: float, low: float, high: float) -> float:
    # np.clip costs microseconds on a scalar, and the generator clips thousands.
    return float(min(max(value, low), high))


def _code(name: str) -> str:
    return CONCEPTS[name].code


def _unit(name: str) -> str | None:
    return CONCEPTS[name].unit


def _day(value: Any) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def haq_di_total(items: dict[str, float]) -> float:
    """Score the HAQ-DI from its answered items (CLINICAL.md).

    A category scores its highest answered item; the total is the sum over the answered
    categories divided by their number, and needs at least 6 of the 8. (The generator
    records no aids or help, which would raise a category's 0 or 1 to 2.)

    Parameters
    ----------
    items : dict
        ``QR/haq-di-<category>-<n>`` code -> answer 0-3, unanswered items left out.

    Returns
    -------
    float
        The HAQ-DI, 0-3, or NaN with fewer than 6 categories answered.

    Examples
    --------
    >>> answers = {f"QR/haq-di-{c}-1": 1.0 for c in HAQ_DI_CATEGORIES}
    >>> answers["QR/haq-di-grip-2"] = 3.0
    >>> haq_di_total(answers)
    1.25
    >>> haq_di_total({"QR/haq-di-grip-1": 2.0})
    nan
    """
    best: dict[str, float] = {}
    for category, code in _HAQ_ITEMS:
        if code in items:
            best[category] = max(best.get(category, 0.0), items[code])
    if len(best) < 6:
        return _NAN
    return sum(best.values()) / len(best)


class _Patient:
    """Latent state of one patient, drawn once; visits read it at a given day."""

    def __init__(self, patient: Any, rng: np.random.Generator) -> None:
        self.p, self.rng = patient, rng
        self.disease = disease = _DISEASES[patient.diagnosis]
        self.is_ra = bool(patient.ra)
        weeks = patient.symptom_duration_weeks
        self.maturity = _ra_maturity(weeks) if self.is_ra else 1.0
        # RA: joints and CRP grow with maturity, from about half their established level.
        scale = 0.45 + 0.55 * self.maturity if self.is_ra else 1.0
        self.onset, self.index = _day(patient.symptom_onset), _day(patient.index_date)
        self.female = patient.sex == "female"
        self.age = patient.age
        self.log_crp = np.log(disease.crp[0] * scale**2) + disease.crp[1] * rng.standard_normal()
        self.log_esr_shift = 0.35 * rng.standard_normal()
        k = disease.dispersion
        # At least one involved joint: everyone came with joint complaints.
        small = 1 + rng.negative_binomial(k, k / (k + disease.small_joints * scale - 1))
        large = rng.negative_binomial(k, k / (k + disease.large_joints * scale))
        if patient.diagnosis == "gout":  # an acute monoarthritis, a large joint or a small one
            small, large = (0, 1) if rng.random() < 0.5 else (1, 0)
        self.small, self.large = min(int(small), _SMALL), min(int(large), _LARGE)
        # Symptoms overlap widely between diagnoses (long morning stiffness is common in
        # PsA, viral arthritis and fibromyalgia too), so PROs are weak evidence of RA.
        self.pain = _clip(disease.pain + 1.8 * rng.standard_normal(), 0, 10)
        self.disability = _clip(disease.disability * scale + 0.5 * rng.standard_normal(), 0, 3)
        self.stiffness = disease.stiffness_minutes * scale * np.exp(0.9 * rng.standard_normal())
        # Stable serology: a patient's titre is a trait, measured with a little noise.
        self.rf = self._titre(patient.rf_positive, _RF_ULN, (50.0, 1.0), (28.0, 0.5), 6.0)
        self.ccp = self._titre(patient.ccp_positive, _CCP_ULN, (150.0, 1.0), (45.0, 0.7), 3.0)
        self.rows: list[Row] = []

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

    def add(self, day: int | None, code: str, value: float = _NAN,
            text: str | None = None, unit: str | None = None) -> None:  # fmt: skip
        self.rows.append((day, code, value, text, unit))

    def activity(self, day: int) -> float:
        """Share of the index-visit disease activity present on a day (0..1)."""
        if day < self.onset:
            return 0.0
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

    # --- Observations -----------------------------------------------------------------

    def labs(self, day: int, orders: dict[str, float]) -> None:
        rng, activity = self.rng, self.activity(day)
        u = rng.random(len(orders))
        ordered = {name for name, draw in zip(orders, u, strict=True) if draw < orders[name]}
        # CRP falls back to a healthy level when the disease is quiet.
        log_crp = np.log(0.8) + activity * (self.log_crp - np.log(0.8))
        crp = float(np.exp(log_crp + 0.3 * rng.standard_normal()))
        if "rf" in ordered:
            rf = self._noisy_titre(self.rf, _RF_ULN)
            self._lab(day, "rf", *((rf, None) if rf >= _RF_DETECTION else (_RF_DETECTION, "<")), 0)
        if "anti_ccp" in ordered:
            ccp = self._noisy_titre(self.ccp, _CCP_ULN)
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
            log_esr = np.log(6.0) + 0.45 * np.log1p(crp) + 0.012 * (self.age - 50)
            log_esr += 0.25 * self.female + self.log_esr_shift + 0.15 * rng.standard_normal()
            self._lab(day, "esr", _clip(np.exp(log_esr), 1, 140), None, 0)
        if "hemoglobin" in ordered:
            # Anaemia of chronic inflammation.
            hb = (
                (13.4 if self.female else 15.0) - 0.35 * np.log1p(crp) + 0.8 * rng.standard_normal()
            )
            self._lab(day, "hemoglobin", _clip(hb, 7, 19), None, 1)
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
        rng, activity = self.rng, self.activity(day)
        # Joints involved on the day: the index-visit joints thinned by activity.
        small = rng.binomial(self.small, min(activity, 1.0))
        large = rng.binomial(self.large, min(activity, 1.0))
        small_28 = rng.hypergeometric(_SMALL_28, _SMALL - _SMALL_28, small) if small else 0
        large_28 = rng.hypergeometric(_LARGE_28, _LARGE - _LARGE_28, large) if large else 0
        tender_only, swollen_only, both = rng.multinomial(
            small_28 + large_28, self.disease.tender_swollen
        )
        tender, swollen = tender_only + both, swollen_only + both
        evaluator = _clip(
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
        rng = self.rng
        level = 0.3 + 0.7 * self.activity(day)
        u = rng.random(4)
        if u[0] < orders["pain"]:
            pain = _clip(round(self.pain * level + rng.normal(0, 0.8)), 0, 10)
            self.add(day, _code("pain"), float(pain), None, _unit("pain"))
        if u[1] < orders["patient_global"]:
            glob = _clip(round(self.pain * level + rng.normal(0, 1.2)), 0, 10)
            self.add(day, _code("patient_global"), float(glob), None, _unit("patient_global"))
        if u[2] < orders["morning_stiffness"]:
            minutes = 5 * round(self.stiffness * level * np.exp(0.3 * rng.normal()) / 5)
            self.add(day, _code("morning_stiffness"), float(min(minutes, 600)), None, "min")
        if u[3] < orders["haq_di"]:
            self._haq_di(day, self.disability * level)

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
        total = haq_di_total(items)
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
    state = _Patient(patient, rng)
    add = state.add
    add(_day(patient.birth_date), "MEDS_BIRTH")
    add(None, f"GENDER/{patient.sex}")

    # Routine visits in the three years before the index date, some after symptom onset.
    n_routine = min(int(rng.poisson(1.3)), 4)
    routine = sorted({state.index - int(d) for d in rng.integers(3, 3 * 365, size=n_routine)})
    follow_ups = _follow_up_days(state)
    first = routine[0] if routine else state.index
    for day in routine:
        add(day, "ENCOUNTER/AMB")
        state.labs(day, _ROUTINE_LABS)
        if day >= state.onset and rng.random() < 0.3:  # a GP examined the joints
            state.joint_exam(day)

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
    add(state.index, "ENCOUNTER/AMB")
    state.labs(state.index, _INDEX_LABS)
    if rng.random() < 0.98:
        state.joint_exam(state.index)
    state.questionnaires(state.index, _INDEX_PROS)

    # After the index date: follow-ups, the diagnosis, and for RA its drugs.
    for day in follow_ups:
        add(day, "ENCOUNTER/AMB")
        state.labs(day, _FOLLOW_UP_LABS)
        if rng.random() < 0.7:
            state.joint_exam(day)
        state.questionnaires(day, _FOLLOW_UP_PROS)
    _diagnosis_and_drugs(state, follow_ups)
    return state.rows, Course(state.maturity, state.small)


def _follow_up_days(state: _Patient) -> list[int]:
    rng = state.rng
    # The diagnosis visit 2-8 weeks after index; RA is then seen at 3, 6 and 12 months.
    days = [state.index + int(rng.integers(14, 57))]
    planned = (91, 182, 365) if state.is_ra else (182,)
    keep = 0.85 if state.is_ra else 0.3
    days += [state.index + p + int(rng.integers(-10, 11)) for p in planned if rng.random() < keep]
    return days


def _diagnosis_and_drugs(state: _Patient, follow_ups: list[int]) -> None:
    rng, diagnosis, add = state.rng, state.p.diagnosis, state.add
    diagnosed = follow_ups[0]
    if state.is_ra:
        specific, generic = _RA_DIAGNOSIS_CODES[diagnosis]
        add(diagnosed, specific if rng.random() < 0.7 else generic)
        codes, weights = zip(*_CSDMARDS, strict=True)
        drug = codes[rng.choice(len(codes), p=np.array(weights))]
        add(diagnosed, f"RXNORM/{drug}")
        if drug == "6851" and rng.random() < 0.25:  # methotrexate + hydroxychloroquine
            add(diagnosed, "RXNORM/5521")
        later = [day for day in follow_ups[1:] if day - state.index >= 150]
        if later and rng.random() < 0.2:
            codes, weights = zip(*_BIOLOGICS, strict=True)
            add(later[0], f"RXNORM/{codes[rng.choice(len(codes), p=np.array(weights))]}")
    elif diagnosis in CONCEPTS:  # arthralgia gets no diagnosis of its own
        add(diagnosed, _code(diagnosis))
        if diagnosis == "psoriatic_arthritis" and rng.random() < 0.4:
            add(diagnosed, "RXNORM/6851")  # methotrexate is a PsA drug too


# --- Radiographic findings -------------------------------------------------------------

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
        Keyword arguments of `_hand_findings.HandFindings` per hand: ``erosion`` (0-5) and
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
    swollen_share = min(0.9, 1.2 * course.small_joints / _SMALL)
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
                osteophytes[joint] = _clip(0.25 * grade + rng.uniform(0.1, 0.4), 0, 1)
        if patient.ra:
            osteopenia = 0.6 * (1 - np.exp(-patient.symptom_duration_weeks / 30.0))
            osteopenia = _clip(osteopenia * severity**0.5 + rng.normal(0, 0.05), 0, 1)
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
