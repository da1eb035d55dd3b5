"""Clinical scores against worked examples computed by hand from CLINICAL.md's formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ramultimodal.ehr.scores import (
    acr_eular_2010_score,
    cdai,
    das28_category,
    das28_crp,
    das28_esr,
    haq_di,
    rapid3,
    rapid3_category,
    sdai,
)
from ramultimodal.terminology.codes import HAQ_DI_CATEGORIES

NORMAL_LABS = {"rf": 5.0, "anti_ccp": 5.0, "crp": 1.0, "esr": 5.0}


def acr(**kwargs):
    arguments = {
        "small_joints": 0,
        "large_joints": 0,
        "symptom_duration_weeks": 1,
        **NORMAL_LABS,
        **kwargs,
    }
    return acr_eular_2010_score(**arguments, return_components=True).iloc[0]


@pytest.mark.parametrize(
    ("small", "large", "points"),
    [
        (0, 0, 0),
        (0, 1, 0),  # 0-1 large joint
        (0, 2, 1),
        (0, 10, 1),  # 2-10 large joints
        (1, 0, 2),
        (3, 9, 2),  # 1-3 small joints (3 + 9 = 12 > 10 joints -> see below)
        (4, 0, 3),
        (10, 0, 3),  # 4-10 small joints
        (11, 0, 5),
        (1, 10, 5),  # > 10 joints, at least 1 small
        (0, 11, 1),  # > 10 joints, none small: the table's 2-10 large row is the closest
    ],
)
def test_acr_eular_joint_category(small, large, points):
    expected = 5 if small >= 1 and small + large > 10 else points
    assert acr(small_joints=small, large_joints=large)["joints"] == expected


@pytest.mark.parametrize(
    ("rf", "anti_ccp", "points"),
    [
        (14.0, 20.0, 0),  # both exactly at the ULN: negative
        (14.1, None, 2),  # RF just above ULN 14, anti-CCP not measured
        (42.0, 5.0, 2),  # RF 42 = 3 x 14: still low positive
        (42.1, 5.0, 3),  # above 3 x ULN: high positive
        (5.0, 60.1, 3),  # anti-CCP above 3 x 20 = 60
        (30.0, 61.0, 3),  # the higher of the two counts
        (None, None, np.nan),  # no serology at all: not classifiable
    ],
)
def test_acr_eular_serology(rf, anti_ccp, points):
    got = acr(rf=rf, anti_ccp=anti_ccp)["serology"]
    assert (np.isnan(got) and np.isnan(points)) or got == points


@pytest.mark.parametrize(
    ("crp", "esr", "sex", "points"),
    [
        (5.0, 20.0, "female", 0),  # both at the ULN
        (5.1, 5.0, "female", 1),  # CRP above 5 mg/L
        (1.0, 20.0, "male", 1),  # ESR 20 > 15 mm/h, the men's ULN
        (1.0, 20.0, None, 0),  # sex unknown: women's ULN 20
        (None, 25.0, "F", 1),  # one test measured suffices
        (None, None, "F", np.nan),
    ],
)
def test_acr_eular_acute_phase(crp, esr, sex, points):
    got = acr(crp=crp, esr=esr, sex=sex)["acute_phase"]
    assert (np.isnan(got) and np.isnan(points)) or got == points


def test_acr_eular_duration_and_total():
    # 6 small joints (3) + anti-CCP 45 U/mL = 2.25 x ULN (2) + ESR 22 > 20 (1) + 6 weeks (1)
    row = acr(small_joints=6, anti_ccp=45.0, esr=22.0, symptom_duration_weeks=6)
    assert row.tolist() == [3.0, 2.0, 1.0, 1.0, 7.0]
    assert acr(symptom_duration_weeks=5.9)["duration"] == 0
    assert np.isnan(acr(symptom_duration_weeks=None)["total"])


def test_acr_eular_vectorised_keeps_series_index():
    index = pd.Index(["a", "b"], name="subject_id")
    total = acr_eular_2010_score(
        small_joints=pd.Series([12, 0], index=index),
        large_joints=0,
        rf=[50, np.nan],
        anti_ccp=np.nan,
        crp=[10, np.nan],
        esr=np.nan,
        symptom_duration_weeks=8,
    )
    # a: 5 + 3 (50 > 42) + 1 + 1 = 10; b: no serology nor acute phase -> NaN
    assert total.index.equals(index)
    assert total["a"] == 10 and np.isnan(total["b"])


def test_das28():
    # 0.56*sqrt(9) + 0.28*sqrt(4) + 0.70*ln(40) + 0.014*60 = 1.68 + 0.56 + 2.58222 + 0.84
    assert das28_esr(9, 4, 40, 60) == pytest.approx(1.68 + 0.56 + 0.70 * math.log(40) + 0.84)
    assert das28_esr(9, 4, 40, 60) == pytest.approx(5.66222, abs=1e-5)
    # 0.56*sqrt(9) + 0.28*sqrt(4) + 0.36*ln(19 + 1) + 0.014*60 + 0.96 = 5.11846
    assert das28_crp(9, 4, 19, 60) == pytest.approx(1.68 + 0.56 + 0.36 * math.log(20) + 0.84 + 0.96)
    assert das28_crp(9, 4, 19, 60) == pytest.approx(5.11846, abs=1e-5)
    assert np.isnan(das28_crp(9, 4, np.nan, 60))
    assert das28_category([2.59, 2.6, 3.2, 3.21, 5.1, 5.11]).tolist() == [
        "remission",
        "low",
        "low",
        "moderate",
        "moderate",
        "high",
    ]


def test_cdai_sdai():
    # CDAI = 9 + 4 + 6 + 5 = 24; SDAI = 24 + 19 mg/L / 10 = 25.9
    assert cdai(9, 4, 6, 5) == 24
    assert sdai(9, 4, 6, 5, crp=19) == pytest.approx(25.9)
    assert np.isnan(sdai(9, 4, 6, 5, crp=np.nan))


def haq_items(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([values], dtype=float)


def test_haq_di_category_is_max_item_and_mean_over_answered():
    items = haq_items(
        {
            "QR/haq-di-dressing-1": 1,
            "QR/haq-di-dressing-2": 2,  # 2
            "QR/haq-di-arising-1": 0,
            "QR/haq-di-arising-2": 1,  # 1
            "QR/haq-di-eating-1": 3,
            "QR/haq-di-eating-2": 0,
            "QR/haq-di-eating-3": np.nan,  # 3
            "QR/haq-di-walking-1": 0,  # 0
            "QR/haq-di-hygiene-1": 1,  # 1
            "QR/haq-di-reach-1": 2,  # 2
            "QR/haq-di-grip-1": np.nan,
            "QR/haq-di-grip-2": np.nan,  # not answered
            "QR/haq-di-activities-1": 1,  # 1
        }
    )
    # 7 categories answered: (2 + 1 + 3 + 0 + 1 + 2 + 1) / 7 = 10 / 7
    assert haq_di(items).iloc[0] == pytest.approx(10 / 7)
    # Aids for walking (0 -> 2) and eating (3 stays 3): (10 + 2) / 7
    aids = pd.DataFrame([{"walking": True, "eating": True}])
    assert haq_di(items, aids_or_help=aids).iloc[0] == pytest.approx(12 / 7)


def test_haq_di_needs_six_categories():
    five = haq_items(
        {f"{category}-1": 1 for category in ["dressing", "arising", "eating", "walking", "hygiene"]}
    )
    six = five.assign(**{"reach-1": 3.0})
    assert np.isnan(haq_di(five).iloc[0])
    assert haq_di(six).iloc[0] == pytest.approx((5 * 1 + 3) / 6)
    with pytest.raises(ValueError, match="not a HAQ-DI item"):
        haq_di(six.assign(age=40))


def test_haq_di_of_one_questionnaire_as_a_mapping_scores_like_a_table():
    # The generator scores one questionnaire at a time: the same rule as for a table.
    rng = np.random.default_rng(0)
    codes = [f"QR/haq-di-{c}-{n + 1}" for c, items in HAQ_DI_CATEGORIES.items()
             for n in range(len(items))]  # fmt: skip
    for _ in range(50):
        answers = {code: float(rng.integers(0, 4)) for code in codes if rng.random() < 0.6}
        aids = {category: bool(rng.random() < 0.3) for category in HAQ_DI_CATEGORIES}
        table = pd.DataFrame([answers]) if answers else pd.DataFrame(index=[0])
        expected = haq_di(table, aids_or_help=pd.DataFrame([aids])).iloc[0]
        got = haq_di(answers, aids_or_help=aids)
        assert isinstance(got, float)
        assert got == expected or (np.isnan(got) and np.isnan(expected))
    with pytest.raises(ValueError, match="not a HAQ-DI item"):
        haq_di({"age": 40})


def test_rapid3():
    assert rapid3(function=2.5, pain=7, patient_global=4) == 13.5
    assert rapid3_category([0, 3, 3.1, 6, 6.1, 12, 12.1, np.nan]).tolist()[:7] == [
        "remission",
        "remission",
        "low",
        "low",
        "moderate",
        "moderate",
        "high",
    ]
    assert np.isnan(rapid3_category([np.nan])[0])
