"""A fusion is never silently worse than its best modality (issue 15).

Small cohorts make degenerate out-of-fold predictions: inner folds too small for LightGBM's
leaf size to split, a modality that says nothing. The fusion adapts where that is sound
and warns otherwise; the evaluation flags a fused model clearly worse than a modality alone.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ramultimodal.fusion import (
    FusionWarning,
    LateFusionClassifier,
    StackingFusionClassifier,
    load_model,
    save_model,
)

# Tiny models: BLAS threads fighting a busy CPU only slow them (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def synthetic_features(n: int, seed: int, folder) -> tuple[pd.DataFrame, np.ndarray]:
    """EHR and PRO features of a synthetic clinic (no radiographs: no CNN to train)."""
    from ramultimodal import load_dataset
    from ramultimodal.synthetic import make_cohort, write_cohort

    cohort = make_cohort(n, seed=seed, image_size=32, render_images=False)
    X, y = load_dataset(write_cohort(cohort, folder, formats=("csv",)), source="csv")
    return X.drop(columns="image"), y.to_numpy()


@pytest.fixture(scope="module")
def small_clinic(tmp_path_factory):
    """40 patients to train on (12 with RA), 300 others to test on."""
    X, y = synthetic_features(40, 0, tmp_path_factory.mktemp("train"))
    X_test, y_test = synthetic_features(300, 1, tmp_path_factory.mktemp("test"))
    return X, y, X_test.reindex(columns=X.columns), y_test


def recipe_modalities(X):
    """The EHR and PRO modalities as `make_model` builds them (LightGBM, min_child_samples=15)."""
    from ramultimodal.models import _ehr_model, modality_columns

    columns = modality_columns(X.columns)
    return [(name, _ehr_model(0, {}), columns[name]) for name in ("ehr", "pro")]


def caught(function):
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = function()
    return result, [str(r.message) for r in records if issubclass(r.category, FusionWarning)]


def test_40_patients_with_inner_cv_2_fuse_as_well_as_the_ehr_alone(small_clinic):
    # The reported bug: 20-patient inner folds, where min_child_samples=15 cannot split, gave
    # constant out-of-fold EHR logits; the meta-model learned from the folds' base rates and
    # scored 0.18 held out against the EHR's 0.85.
    from ramultimodal.models import make_model, modality_columns

    X, y, X_test, y_test = small_clinic
    ehr = make_model("ehr", ehr_columns=modality_columns(X.columns)["ehr"]).fit(X, y)
    ehr_auroc = roc_auc_score(y_test, ehr.predict_proba(X_test)[:, 1])
    assert ehr_auroc > 0.8
    for fusion in (
        StackingFusionClassifier(recipe_modalities(X), cv=2, random_state=0),
        LateFusionClassifier(
            recipe_modalities(X), method="mean_logit", weights="auto", cv=2, random_state=0
        ),
    ):
        fitted, messages = caught(lambda fusion=fusion: fusion.fit(X, y))
        # Each inner fold's trees cut their 20 patients as finely as the final model its 40.
        assert fitted.inner_fold_params_ == {
            "ehr": {"min_child_samples": 7},
            "pro": {"min_child_samples": 7},
        }
        assert fitted.estimators_[0].get_params()["min_child_samples"] == 15
        fused_auroc = roc_auc_score(y_test, fitted.predict_proba(X_test)[:, 1])
        assert fused_auroc > ehr_auroc - 0.05 or messages, type(fusion).__name__
        assert fitted.degenerate_modalities_ == []
        assert 0.5 < fitted.oof_auroc_[0] <= 1 and 0 <= fitted.fused_oof_auroc_ <= 1


def test_too_few_patients_even_for_the_final_model_warns_with_the_reason(small_clinic):
    X, y, _, _ = small_clinic
    fusion = StackingFusionClassifier(recipe_modalities(X), cv=2, random_state=0)
    fitted, messages = caught(lambda: fusion.fit(X.iloc[:30], y[:30]))
    assert fitted.inner_fold_params_ == {}  # scaling would show a model the fusion lacks
    assert fitted.degenerate_modalities_ == ["ehr", "pro"]
    ehr = next(m for m in messages if "'ehr'" in m)
    assert "constant within every fold" in ehr
    assert "min_child_samples=15 needs about 38 training patients" in ehr
    assert "the inner folds have 15 and all the data 30" in ehr
    assert "more patients, a larger cv" in ehr


def two_modalities(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = pd.DataFrame({"crp": rng.normal(2 * y, 1), "noise": rng.normal(size=n), "flat": 1.0})
    return X, y


def test_a_constant_modality_is_named_degenerate():
    X, y = two_modalities()
    fusion = LateFusionClassifier(
        [("ehr", LogisticRegression(), ["crp"]), ("flat", LogisticRegression(), ["flat"])],
        weights="auto",
        method="weighted_mean",
        cv=3,
        random_state=0,
    )
    with pytest.warns(FusionWarning, match="modality 'flat' tells the fusion nothing: its"):
        fusion.fit(X, y)
    assert fusion.degenerate_modalities_ == ["flat"]
    assert fusion.oof_auroc_[0] > 0.8 and fusion.weights_[0] > fusion.weights_[1]


@pytest.mark.filterwarnings("ignore:The least populated class:UserWarning")  # scikit-learn's
def test_a_class_rarer_than_the_folds_warns():
    X, y = two_modalities(60)
    y = y.copy()
    y[np.flatnonzero(y == 1)[2:]] = 0  # two patients with RA
    fusion = StackingFusionClassifier([("ehr", LogisticRegression(), ["crp"])], cv=3)
    with pytest.warns(FusionWarning, match="class 1 has 2, fewer than the 3 folds"):
        fusion.fit(X, y)


def test_a_fusion_worse_than_a_modality_out_of_fold_warns():
    X, y = two_modalities()
    # A meta-model that ignores its inputs stands in for one that learned from noise.
    fusion = StackingFusionClassifier(
        [("ehr", LogisticRegression(), ["crp"]), ("noise", LogisticRegression(), ["noise"])],
        final_estimator=DummyClassifier(strategy="prior"),
        cv=3,
        random_state=0,
    )
    _, messages = caught(lambda: fusion.fit(X, y))
    assert fusion.fused_oof_auroc_ == 0.5 and fusion.oof_auroc_[0] > 0.8
    assert any(
        "out of fold, the fused model's AUROC is 0.500 on the 120 patients who have "
        "modality 'ehr'" in message
        for message in messages
    )


def test_a_normal_size_cohort_is_left_alone():
    X, y = two_modalities(300)
    from lightgbm import LGBMClassifier

    lgbm = LGBMClassifier(n_estimators=20, min_child_samples=15, verbose=-1, random_state=0)
    fusion = StackingFusionClassifier(
        [("ehr", lgbm, ["crp"]), ("noise", LogisticRegression(), ["noise"])], cv=3, random_state=0
    )
    _, messages = caught(lambda: fusion.fit(X, y))
    assert messages == [] and fusion.inner_fold_params_ == {}
    assert fusion.degenerate_modalities_ == []


@pytest.mark.parametrize("kind", ["stacking", "late"])
def test_the_diagnosis_survives_the_model_folder(tmp_path, kind):
    from lightgbm import LGBMClassifier

    X, y = two_modalities(40)
    X["flat"] = 0.0
    modalities = [
        ("ehr", LGBMClassifier(n_estimators=10, min_child_samples=15, verbose=-1), ["crp"]),
        ("flat", LogisticRegression(), ["flat"]),
    ]
    if kind == "stacking":
        fusion = StackingFusionClassifier(modalities, cv=2, random_state=0)
    else:
        fusion = LateFusionClassifier(
            modalities, method="weighted_mean", weights="auto", cv=2, random_state=0
        )
    fusion, _ = caught(lambda: fusion.fit(X, y))
    assert fusion.inner_fold_params_ == {"ehr": {"min_child_samples": 7}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FusionWarning)
        loaded = load_model(save_model(fusion, tmp_path / "model"))
    for name in ("degenerate_modalities_", "inner_fold_params_", "fused_oof_auroc_"):
        assert getattr(loaded, name) == getattr(fusion, name), name
    np.testing.assert_array_equal(loaded.oof_auroc_, fusion.oof_auroc_)
    assert loaded.degenerate_modalities_ == ["flat"]
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert "oof_auroc_" in json.dumps(model)


def shortfall_case(fused_noise: float):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    predictions = {
        "ACR/EULAR 2010": y + rng.normal(0, 1.0, 200),
        "EHR alone": y + rng.normal(0, 0.4, 200),
        "image alone": np.where(rng.uniform(size=200) < 0.25, np.nan, y + rng.normal(0, 1, 200)),
        "stacking": y + rng.normal(0, fused_noise, 200),
    }
    return y, {name: 1 / (1 + np.exp(-2 * (p - 0.5))) for name, p in predictions.items()}


def test_the_report_flags_a_fusion_worse_than_a_modality(tmp_path, caplog):
    from ramultimodal.evaluation import evaluate_predictions, flag_shortfalls, write_report

    y, predictions = shortfall_case(fused_noise=1.5)
    evaluation = evaluate_predictions(y, predictions, baseline="ACR/EULAR 2010", n_boot=50)
    with caplog.at_level("WARNING", logger="ramultimodal"):
        messages = flag_shortfalls(
            evaluation, fusions=["stacking"], modalities=["EHR alone", "image alone"]
        )
    row = evaluation.shortfalls.iloc[0]
    assert (row["modality"], bool(row["flagged"]), int(row["n"])) == ("EHR alone", True, 200)
    assert row["fused_auroc"] < row["modality_auroc"] - 0.2
    assert len(messages) == 1 and messages[0] in caplog.text
    assert f"AUROC {row['fused_auroc']:.3f} against {row['modality_auroc']:.3f}" in messages[0]
    report = write_report(evaluation, tmp_path / "report").read_text()
    assert "Fusion worse than a modality alone" in report
    assert f"{row['fused_auroc']:.3f} against {row['modality_auroc']:.3f}" in report
    numbers = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert numbers["shortfalls"][0]["flagged"] is True


def test_a_fusion_as_good_as_its_modalities_is_not_flagged(tmp_path, caplog):
    from ramultimodal.evaluation import evaluate_predictions, flag_shortfalls, write_report

    y, predictions = shortfall_case(fused_noise=0.4)
    evaluation = evaluate_predictions(y, predictions, n_boot=50)
    with caplog.at_level("WARNING", logger="ramultimodal"):
        assert flag_shortfalls(evaluation, fusions=["stacking"], modalities=["EHR alone"]) == []
    assert caplog.text == "" and not evaluation.shortfalls["flagged"].any()
    report = write_report(evaluation, tmp_path / "report").read_text()
    assert "Fused models against their modalities alone" in report
    assert "Fusion worse than a modality alone" not in report
