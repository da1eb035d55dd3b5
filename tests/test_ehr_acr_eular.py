"""ACREULARClassifier: the 2010 criteria as a scikit-learn classifier."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from ramultimodal.ehr import ACREULARClassifier, EHRFeaturizer
from ramultimodal.io import as_events

RAW = pd.DataFrame(
    {
        # 1: 12 joints with small ones (5) + anti-CCP 70 > 60 (3) + ESR 25 (1) + 10 w (1) = 10
        # 2: 2 small (2) + RF 20, low positive (2) + CRP 6 (1) + 6 w (1) = 6
        # 3: 3 large (1) + RF 20 (2) + normal CRP/ESR (0) + 6 w (1) = 4
        # 4: 1 large (0) + no serology (NaN -> 0) + ESR 16 in a man > 15 (1) + 2 w (0) = 1
        "small_joints": [10, 2, 0, 0],
        "large_joints": [2, 0, 3, 1],
        "rf": [5.0, 20.0, 20.0, np.nan],
        "anti_ccp": [70.0, 5.0, 5.0, np.nan],
        "crp": [2.0, 6.0, 2.0, 1.0],
        "esr": [25.0, 10.0, 10.0, 16.0],
        "symptom_duration_weeks": [10.0, 6.0, 6.0, 2.0],
        "sex": ["female", "female", "female", "male"],
    },
    index=pd.Index(["p1", "p2", "p3", "p4"], name="subject_id"),
)
Y = np.array([1, 1, 0, 0])


def test_score_proba_and_class_from_raw_columns():
    model = ACREULARClassifier().fit(RAW, Y)
    assert model.decision_function(RAW).tolist() == [10, 6, 4, 1]
    np.testing.assert_allclose(model.predict_proba(RAW)[:, 1], [1.0, 0.6, 0.4, 0.1])
    np.testing.assert_allclose(model.predict_proba(RAW).sum(axis=1), 1.0)
    assert model.predict(RAW).tolist() == [1, 1, 0, 0]  # score >= 6
    assert model.set_params(threshold=5).predict(RAW).tolist() == [1, 1, 0, 0]
    assert model.set_params(threshold=4).predict(RAW).tolist() == [1, 1, 1, 0]


def test_missing_policy():
    model = ACREULARClassifier(missing="nan").fit(RAW, Y)
    assert np.isnan(model.decision_function(RAW)[3])  # no serology: not classifiable
    with pytest.raises(ValueError, match="missing="):
        ACREULARClassifier(missing="drop").fit(RAW, Y)


def test_string_labels_keep_their_classes():
    labels = np.array(["ra", "ra", "other", "other"])
    model = ACREULARClassifier().fit(RAW, labels)
    assert model.classes_.tolist() == ["other", "ra"]
    assert model.predict(RAW).tolist() == ["ra", "ra", "other", "other"]


def test_category_columns_win_and_clear_error():
    categories = pd.DataFrame(
        {"acr_eular_joints": [5.0, 0.0], "acr_eular_serology": [3.0, np.nan],
         "acr_eular_acute_phase": [1.0, 0.0], "acr_eular_duration": [1.0, 0.0],
         "unused": [0, 0]}
    )  # fmt: skip
    model = ACREULARClassifier().fit(categories, [1, 0])
    assert model.decision_function(categories).tolist() == [10.0, 0.0]
    with pytest.raises(ValueError, match=r"lacks .*'acr_eular_serology'.*'anti_ccp'"):
        model.decision_function(RAW.drop(columns="anti_ccp").assign(acr_eular_joints=1))
    with pytest.raises(TypeError, match="needs a DataFrame"):
        model.decision_function(categories.to_numpy())


def test_estimator_contract_on_dataframes():
    with pytest.raises(NotFittedError):
        ACREULARClassifier().predict(RAW)
    model = ACREULARClassifier(threshold=5)
    assert clone(model).get_params() == {"threshold": 5, "missing": "zero"}
    assert model.fit(RAW, Y) is model
    assert model.n_features_in_ == 8 and model.feature_names_in_[0] == "small_joints"
    restored = pickle.loads(pickle.dumps(model))  # our own object: safe here
    np.testing.assert_array_equal(restored.decision_function(RAW), model.decision_function(RAW))
    shuffled = RAW.iloc[[2, 0, 3, 1]]
    np.testing.assert_array_equal(
        model.decision_function(shuffled), model.decision_function(RAW)[[2, 0, 3, 1]]
    )
    assert roc_auc_score(Y, model.predict_proba(RAW)[:, 1]) == 1.0
    with pytest.raises(ValueError, match="Only binary"):
        model.fit(RAW, [0, 1, 2, 0])


def test_after_the_featurizer():
    # The featurizer's category columns feed the classifier in a pandas pipeline.
    events = as_events([
        {"subject_id": "a", "time": "2020-01-01", "code": "RAMULTIMODAL/involved-small-joints",
         "numeric_value": 6.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "RAMULTIMODAL/involved-large-joints",
         "numeric_value": 0.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "LOINC/33935-8",
         "numeric_value": 30.0},
        {"subject_id": "a", "time": "2020-01-01", "code": "LOINC/1988-5", "numeric_value": 8.0},
        {"subject_id": "a", "time": "2019-11-01", "code": "SNOMED/57676002"},
        {"subject_id": "b", "time": "2020-01-01", "code": "LOINC/1988-5", "numeric_value": 1.0},
    ])  # fmt: skip
    patients = pd.DataFrame(
        {"index_date": pd.to_datetime(["2020-01-01", "2020-01-01"])},
        index=pd.Index(["a", "b"], name="subject_id"),
    )
    pipeline = make_pipeline(EHRFeaturizer(events), ACREULARClassifier())
    pipeline.set_output(transform="pandas").fit(patients, [1, 0])
    # a: 6 small (3) + anti-CCP 30 low positive (2) + CRP 8 (1) + 61 days >= 6 weeks (1) = 7
    # b: only a normal CRP: 0 (unscored categories add nothing)
    assert pipeline.decision_function(patients).tolist() == [7.0, 0.0]
    assert pipeline.predict(patients).tolist() == [1, 0]
