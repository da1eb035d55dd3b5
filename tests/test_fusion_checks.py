"""The fusion estimators are scikit-learn citizens: estimator checks, clone, grid search, CV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ramultimodal.fusion import (
    EarlyFusionClassifier,
    LateFusionClassifier,
    StackingFusionClassifier,
)

# Tiny models: BLAS threads fighting a busy CPU only slow them (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def two_tabular_modalities():
    """Two modalities = the first two columns of a numeric array, one classifier each."""
    return [("a", LogisticRegression(), [0]), ("b", LogisticRegression(), [1])]


# The checks' data sets have 1 to 10 numeric columns; columns 0 and 1 are the modalities.
# No expected failures: every check passes. check_fit2d_1feature passes because a modality
# reading a column that a 1-column X lacks is refused with "X has 1 feature(s)".
@parametrize_with_checks(
    [
        LateFusionClassifier(two_tabular_modalities()),
        LateFusionClassifier(two_tabular_modalities(), method="mean_logit", weights="auto", cv=3),
        StackingFusionClassifier(two_tabular_modalities(), cv=3),
        EarlyFusionClassifier(
            [("a", "passthrough", [0]), ("b", StandardScaler(), [1])],
            estimator=LogisticRegression(),
        ),
        # Cross-fitted: the fold models of "b" are its final model.
        LateFusionClassifier(
            two_tabular_modalities(), method="mean_logit", weights="auto", cv=3, cross_fit=["b"]
        ),
        StackingFusionClassifier(two_tabular_modalities(), cv=3, cross_fit=["b"]),
        EarlyFusionClassifier(
            [("a", "passthrough", [0]), ("b", LogisticRegression(), [1])],
            estimator=LogisticRegression(),
            cv=3,
            cross_fit=["b"],
        ),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def patients(n=120, seed=0):
    """A cohort with two modalities; the second is missing for a quarter of the patients."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = pd.DataFrame(
        {
            "crp": rng.normal(y, 1.0),
            "esr": rng.normal(y, 1.5),
            "erosions": rng.normal(2 * y, 1.0),
            "jsn": rng.normal(y, 1.0),
        },
        index=pd.Index([f"p{i}" for i in range(n)], name="subject_id"),
    )
    X.iloc[::4, 2:] = np.nan
    return X, y


def fusion_models():
    ehr = ("ehr", make_pipeline(StandardScaler(), LogisticRegression()), ["crp", "esr"])
    image = ("image", LogisticRegression(), ["erosions", "jsn"])
    embedding = ("image", StandardScaler(), ["erosions", "jsn"])
    return [
        LateFusionClassifier([ehr, image], method="weighted_mean", cv=3, random_state=0),
        StackingFusionClassifier([ehr, image], cv=3, random_state=0),
        EarlyFusionClassifier([("ehr", "passthrough", ["crp", "esr"]), embedding], random_state=0),
    ]


@pytest.mark.parametrize("model", fusion_models(), ids=lambda m: type(m).__name__)
def test_clone_gives_an_unfitted_equal_copy(model):
    X, y = patients()
    model.fit(X, y)
    copy = clone(model)
    assert not hasattr(copy, "classes_")
    assert copy.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    np.testing.assert_allclose(copy.fit(X, y).predict_proba(X), model.predict_proba(X))


def test_named_modality_parameters_are_addressable():
    late, stacking, _ = fusion_models()
    params = stacking.get_params()
    assert params["image__C"] == 1.0
    assert params["ehr__logisticregression__C"] == 1.0
    stacking.set_params(image__C=0.1, ehr__logisticregression__C=3.0)
    assert stacking.modalities[1][1].C == 0.1
    assert stacking.modalities[0][1][-1].C == 3.0
    # A name alone replaces the modality's estimator, keeping its columns.
    late.set_params(image="drop")
    assert late.modalities[1] == ("image", "drop", ["erosions", "jsn"])


def test_grid_search_over_a_named_modality_parameter():
    X, y = patients()
    late = fusion_models()[0]
    search = GridSearchCV(late, {"image__C": [1e-4, 1.0]}, cv=3, scoring="roc_auc").fit(X, y)
    assert search.best_params_ == {"image__C": 1.0}
    assert search.best_estimator_.named_estimators_["image"].C == 1.0
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > 0.75


@pytest.mark.parametrize("model", fusion_models(), ids=lambda m: type(m).__name__)
def test_cross_val_score_with_patient_groups(model):
    X, y = patients()
    # Two rows per patient (e.g. two visits): a patient's rows must stay on one side.
    groups = np.arange(len(y)) // 2
    scores = cross_val_score(
        model, X, y, groups=groups, cv=StratifiedGroupKFold(n_splits=3), scoring="roc_auc"
    )
    assert scores.shape == (3,)
    assert scores.min() > 0.7


def test_groups_keep_a_patients_rows_in_one_out_of_fold_split():
    X, y = patients()
    groups = np.arange(len(y)) // 2
    model = StackingFusionClassifier(fusion_models()[1].modalities, cv=3, random_state=0)
    for train, test in model._splits(X, y, groups):
        assert not set(groups[train]) & set(groups[test])
