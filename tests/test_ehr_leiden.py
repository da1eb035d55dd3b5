"""The Leiden prediction rule: its points item by item, and LeidenRuleClassifier."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from ramultimodal.ehr import EHRFeaturizer, LeidenRuleClassifier, leiden_score
from ramultimodal.io import as_events
from ramultimodal.terminology.leiden import LEIDEN_ITEMS

# A full set of findings with every item at 0 points but age: a man of 0 years.
NOTHING = {
    "age": 0, "sex": "male", "small_joints_hands_feet": 0, "symmetric": 0,
    "upper_extremities": 0, "lower_extremities": 0, "morning_stiffness_vas": 0,
    "tender_joints": 0, "swollen_joints": 0, "crp": 0, "rf": 0, "anti_ccp": 0,
}  # fmt: skip


def _item(**changes) -> float:
    return leiden_score(**{**NOTHING, **changes})


@pytest.mark.parametrize(
    ("changes", "points"),
    [
        ({"age": 50}, 1.0), ({"age": 73}, 1.46), ({"sex": "female"}, 1.0), ({"sex": 1}, 1.0),
        ({"sex": "Male"}, 0.0),
        ({"small_joints_hands_feet": 1}, 0.5), ({"small_joints_hands_feet": 7}, 0.5),
        ({"symmetric": 1}, 0.5),
        ({"upper_extremities": 1}, 1.0), ({"lower_extremities": 1}, 0.0),
        ({"upper_extremities": 1, "lower_extremities": 1}, 1.5),
        ({"morning_stiffness_vas": 25}, 0.0), ({"morning_stiffness_vas": 26}, 1.0),
        ({"morning_stiffness_vas": 90}, 1.0), ({"morning_stiffness_vas": 91}, 2.0),
        ({"morning_stiffness_vas": 100}, 2.0),
        ({"tender_joints": 3}, 0.0), ({"tender_joints": 4}, 0.5), ({"tender_joints": 10}, 0.5),
        ({"tender_joints": 11}, 1.0), ({"tender_joints": 68}, 1.0),
        ({"swollen_joints": 3}, 0.0), ({"swollen_joints": 4}, 0.5),
        ({"swollen_joints": 10}, 0.5), ({"swollen_joints": 11}, 1.0),
        ({"crp": 4.9}, 0.0), ({"crp": 5}, 0.5), ({"crp": 50}, 0.5), ({"crp": 51}, 1.5),
        ({"crp": 200}, 1.5),
        ({"rf": 14}, 0.0), ({"rf": 14.1}, 1.0), ({"rf": None, "rf_positive": 1}, 1.0),
        ({"anti_ccp": 20}, 0.0), ({"anti_ccp": 21}, 2.0),
        ({"anti_ccp": None, "anti_ccp_positive": 1}, 2.0),
        ({"anti_ccp": None, "anti_ccp_positive": 0}, 0.0),
        # The 2008 re-derivation's duration, read only where the VAS is missing.
        ({"morning_stiffness_vas": None, "morning_stiffness_minutes": 29}, 0.0),
        ({"morning_stiffness_vas": None, "morning_stiffness_minutes": 30}, 0.5),
        ({"morning_stiffness_vas": None, "morning_stiffness_minutes": 59}, 0.5),
        ({"morning_stiffness_vas": None, "morning_stiffness_minutes": 60}, 1.0),
        ({"morning_stiffness_vas": 10, "morning_stiffness_minutes": 120}, 0.0),
    ],
)  # fmt: skip
def test_each_item_at_its_boundaries(changes, points):
    assert _item(**changes) == pytest.approx(points)


# Patients built by hand from the item table (no worked example of the paper could be read
# here), with their totals and risk groups.
PATIENTS = pd.DataFrame(
    [
        # the most points the items can give at 100 years: 2 + 1 + 2.5 + 2 + 1 + 1 + 1.5 + 1 + 2
        dict(age=100, sex="female", small_joints_hands_feet=1, symmetric=1,
             upper_extremities=1, lower_extremities=1, morning_stiffness_vas=95,
             tender_joints=20, swollen_joints=15, crp=80, rf=100, anti_ccp=300),
        # 1.0 + 1 + 0.5 + 0.5 + 1 (upper only) + 1 (VAS 40) + 0.5 + 0.5 + 0.5 + 0 + 0 = 6.5
        dict(age=50, sex="female", small_joints_hands_feet=1, symmetric=1,
             upper_extremities=1, lower_extremities=0, morning_stiffness_vas=40,
             tender_joints=6, swollen_joints=4, crp=12, rf=10, anti_ccp=5),
        # 0.8 + 0 + 0.5 + 0 + 1.5 + 0 + 0 + 0 + 0 + 1 + 2 = 5.8, low risk: score <= 6
        dict(age=40, sex="male", small_joints_hands_feet=1, symmetric=0,
             upper_extremities=1, lower_extremities=1, morning_stiffness_vas=10,
             tender_joints=2, swollen_joints=1, crp=3, rf=30, anti_ccp=25),
        # 1.2 + 1 + 0.5 + 0.5 + 1.5 + 2 + 1 + 0 + 0.5 + 0 + 0 = 8.2, high risk
        dict(age=60, sex="female", small_joints_hands_feet=1, symmetric=1,
             upper_extremities=1, lower_extremities=1, morning_stiffness_vas=91,
             tender_joints=11, swollen_joints=2, crp=5, rf=3, anti_ccp=2),
    ],
    index=pd.Index(["a", "b", "c", "d"], name="subject_id"),
)  # fmt: skip


def test_hand_built_patients():
    components = leiden_score(**PATIENTS, return_components=True)
    assert list(components.columns) == [*LEIDEN_ITEMS, "total"]
    np.testing.assert_allclose(components["total"], [14.0, 6.5, 5.8, 8.2])
    model = LeidenRuleClassifier().fit(PATIENTS, [1, 0, 0, 1])
    np.testing.assert_allclose(model.decision_function(PATIENTS), [14.0, 6.5, 5.8, 8.2])
    assert model.risk_group(PATIENTS).tolist() == ["high", "intermediate", "low", "high"]
    assert model.predict(PATIENTS).tolist() == [1, 0, 0, 1]
    assert model.set_params(threshold=6.5).predict(PATIENTS).tolist() == [1, 1, 0, 1]
    assert all(count == 0 for count in model.missing_items_.values())
    # Boundaries of the groups: 6 is low, 8 high, between them intermediate.
    edge = PATIENTS.iloc[[1]].assign(age=[25.0])  # 6.5 - 1.0 + 0.5 = 6.0
    assert model.decision_function(edge).tolist() == pytest.approx([6.0])
    assert model.risk_group(edge).tolist() == ["low"]


def test_missing_items_are_counted_never_silently_zero(caplog):
    partial = PATIENTS.drop(columns=["symmetric", "morning_stiffness_vas"]).copy()
    partial.loc["b", "crp"] = np.nan
    with caplog.at_level(logging.WARNING, logger="ramultimodal.ehr._leiden"):
        model = LeidenRuleClassifier().fit(partial, [1, 0, 0, 1])
    assert "2 of 11 items" in caplog.text and "symmetric, morning_stiffness" in caplog.text
    assert model.missing_items_["symmetric"] == 4 and model.missing_items_["crp"] == 1
    assert model.sources_["symmetric"] is None and model.sources_["crp"] == "crp"
    # By default a missing item adds 0: a lower bound of the full score.
    np.testing.assert_allclose(
        model.decision_function(partial), [14.0 - 0.5 - 2, 6.5 - 0.5 - 1 - 0.5, 5.8, 8.2 - 2.5]
    )
    components = model.score_components(partial)
    assert components["symmetric"].isna().all() and np.isnan(components.loc["b", "crp"])
    nan_model = LeidenRuleClassifier(missing="nan", proba="scaled").fit(partial, [1, 0, 0, 1])
    assert np.isnan(nan_model.decision_function(partial)).all()
    assert nan_model.risk_group(partial).tolist() == [None] * 4
    with pytest.raises(ValueError, match="both classes with a score"):
        LeidenRuleClassifier(missing="nan").fit(partial, [1, 0, 0, 1])
    for bad in ({"missing": "drop"}, {"stiffness": "minutes"}, {"proba": "table"}):
        with pytest.raises(ValueError, match="use one of"):
            LeidenRuleClassifier(**bad).fit(partial, [1, 0, 0, 1])


def test_probability_mappings():
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({
        "age": rng.uniform(20, 80, n), "sex": rng.integers(0, 2, n),
        "tender_joints": rng.integers(0, 20, n), "swollen_joints": rng.integers(0, 15, n),
        "crp": rng.gamma(1.5, 10, n), "rf": rng.gamma(1.0, 15, n),
        "anti_ccp": rng.gamma(1.0, 25, n),
    })  # fmt: skip
    # Four items are absent here: scored 0 (missing="zero").
    score = leiden_score(**X, return_components=True).drop(columns="total").fillna(0).sum(axis=1)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(score - 4)))).astype(int)
    model = LeidenRuleClassifier().fit(X, y)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.coef_ > 0  # more points, more risk
    # A monotone map: the probability ranks patients as the score does.
    assert roc_auc_score(y, proba[:, 1]) == pytest.approx(roc_auc_score(y, score))
    # Calibrated to the training cohort on average (logistic regression's score equation).
    assert proba[:, 1].mean() == pytest.approx(y.mean(), abs=0.01)
    scaled = LeidenRuleClassifier(proba="scaled").fit(X, y)
    np.testing.assert_allclose(scaled.predict_proba(X)[:, 1], score / 14)


def test_estimator_contract_on_dataframes():
    with pytest.raises(NotFittedError):
        LeidenRuleClassifier().predict(PATIENTS)
    model = LeidenRuleClassifier(threshold=7, stiffness="duration")
    assert clone(model).get_params() == {
        "threshold": 7, "missing": "zero", "stiffness": "duration", "proba": "logistic"
    }  # fmt: skip
    assert model.fit(PATIENTS, [1, 0, 0, 1]) is model
    assert model.n_features_in_ == 12 and model.n_patients_ == 4
    restored = pickle.loads(pickle.dumps(model))  # our own object: safe here
    np.testing.assert_array_equal(restored.predict_proba(PATIENTS), model.predict_proba(PATIENTS))
    shuffled = PATIENTS.iloc[[2, 0, 3, 1]]
    np.testing.assert_array_equal(
        model.decision_function(shuffled), model.decision_function(PATIENTS)[[2, 0, 3, 1]]
    )
    labels = np.array(["ra", "other", "other", "ra"])
    assert model.fit(PATIENTS, labels).predict(PATIENTS).tolist() == ["ra", "other", "other", "ra"]
    with pytest.raises(ValueError, match="Only binary"):
        model.fit(PATIENTS, [0, 1, 2, 0])
    with pytest.raises(ValueError, match="none of the rule's findings"):
        model.fit(pd.DataFrame({"unused": [1, 2]}), [0, 1])
    with pytest.raises(TypeError, match="needs a DataFrame"):
        model.decision_function(PATIENTS.to_numpy())


def test_after_the_featurizer():
    # The findings our records hold, read from the featurizer's columns in a pipeline.
    events = as_events([
        {"subject_id": "a", "time": "1970-01-01", "code": "MEDS_BIRTH"},
        {"subject_id": "a", "time": None, "code": "GENDER/female"},
        {"subject_id": "a", "time": "2020-01-01", "code": "RAMULTIMODAL/involved-small-joints",
         "numeric_value": 6.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "LOINC/88981-6", "numeric_value": 12.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "LOINC/88980-8", "numeric_value": 5.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "LOINC/33935-8",
         "numeric_value": 30.0},
        {"subject_id": "a", "time": "2019-06-01", "code": "LOINC/1988-5", "numeric_value": 80.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "LOINC/1988-5", "numeric_value": 8.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "RAMULTIMODAL/morning-stiffness",
         "numeric_value": 90.0},
        {"subject_id": "b", "time": "1990-01-01", "code": "MEDS_BIRTH"},
        {"subject_id": "b", "time": None, "code": "GENDER/male"},
        {"subject_id": "b", "time": "2020-01-01", "code": "LOINC/1988-5", "numeric_value": 1.0},
    ])  # fmt: skip
    patients = pd.DataFrame(
        {"index_date": pd.to_datetime(["2020-01-01", "2020-01-01"])},
        index=pd.Index(["a", "b"], name="subject_id"),
    )
    pipeline = make_pipeline(EHRFeaturizer(events), LeidenRuleClassifier(proba="scaled"))
    pipeline.set_output(transform="pandas").fit(patients, [1, 0])
    rule = pipeline[-1]
    assert rule.sources_["crp"] == "crp_last_all" and rule.sources_["age"] == "age_at_index"
    assert rule.sources_["symmetric"] is None and rule.sources_["morning_stiffness_vas"] is None
    # a: 50 years (1.0, a little less: the featurizer's age is days / 365.25) + female (1)
    #    + small joints (0.5) + 12 tender (1) + 5 swollen (0.5)
    #    + last CRP 8 (0.5) + anti-CCP 30 (2); RF never measured, stiffness VAS absent: 6.5
    # b: 30 years (0.6), male, CRP 1: 0.6
    np.testing.assert_allclose(pipeline.decision_function(patients), [6.5, 0.6], atol=1e-3)
    # With the 2008 duration item, a's 90 minutes of stiffness add 1.
    pipeline.set_params(leidenruleclassifier__stiffness="duration").fit(patients, [1, 0])
    np.testing.assert_allclose(pipeline.decision_function(patients), [7.5, 0.6], atol=1e-3)
    assert pipeline[-1].missing_items_["rf"] == 2
