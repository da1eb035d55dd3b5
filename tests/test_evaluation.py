import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

from ramultimodal.evaluation import (
    bootstrap_metric,
    calibration_intercept,
    calibration_slope,
    delong_test,
    expected_calibration_error,
    metric_table,
    net_benefit,
    paired_bootstrap,
    patient_cross_validate,
    sensitivity_at_specificity,
    subgroup_table,
)


@pytest.fixture(scope="module")
def calibrated():
    rng = np.random.default_rng(1)
    true_logit = rng.normal(0, 1.5, 40_000)
    y = rng.uniform(size=true_logit.size) < 1 / (1 + np.exp(-true_logit))
    return y.astype(int), true_logit


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_calibration_slope_and_intercept_recover_known_miscalibration(calibrated):
    y, true_logit = calibrated
    # Predictions twice as extreme as the truth need a slope of 1/2 to be recalibrated.
    assert calibration_slope(y, sigmoid(2 * true_logit)) == pytest.approx(0.5, abs=0.03)
    # Predictions shifted down by 1 on the logit scale under-predict: intercept about +1.
    assert calibration_intercept(y, sigmoid(true_logit - 1)) == pytest.approx(1.0, abs=0.05)
    assert calibration_slope(y, sigmoid(true_logit)) == pytest.approx(1.0, abs=0.03)
    assert expected_calibration_error(y, sigmoid(true_logit)) < 0.02
    assert expected_calibration_error(y, sigmoid(true_logit - 1)) > 0.1


def test_sensitivity_at_specificity_by_hand():
    y = np.array([0] * 10 + [1] * 10)
    proba = np.r_[np.arange(10) / 10, np.arange(10) / 10 + 0.35]
    # Negatives score 0.0..0.9; positives 0.35..1.25. At specificity 0.6 the threshold is
    # 0.55 (6 negatives below it): positives from 0.55 to 1.25 -> 8 of 10.
    assert sensitivity_at_specificity(y, proba, 0.6) == pytest.approx(0.8)
    # At specificity 1 the threshold is above 0.9: positives 0.95..1.25 -> 4 of 10.
    assert sensitivity_at_specificity(y, proba, 1.0) == pytest.approx(0.4)


def test_bootstrap_interval_covers_and_skips_missing_predictions():
    X, y = make_classification(400, random_state=0)
    proba = LogisticRegression().fit(X, y).predict_proba(X)[:, 1]
    proba_missing = proba.copy()
    proba_missing[:50] = np.nan
    estimate = bootstrap_metric(y, proba_missing, n_boot=200)
    assert estimate.n == 350
    assert estimate.value == pytest.approx(roc_auc_score(y[50:], proba[50:]))
    assert estimate.low < estimate.value < estimate.high
    table = metric_table(y, {"a": proba, "b": proba_missing}, n_boot=100)
    assert table.loc["b", "n"] == 350 and table.loc["a", "n"] == 400


def test_delong_and_paired_bootstrap_agree():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    strong = y + rng.normal(0, 0.8, y.size)
    weak = y + rng.normal(0, 2.0, y.size)
    comparison = delong_test(y, strong, weak)
    assert comparison.auc_a == pytest.approx(roc_auc_score(y, strong))
    assert comparison.auc_b == pytest.approx(roc_auc_score(y, weak))
    assert comparison.p_value < 1e-4
    difference = paired_bootstrap(y, strong, weak, n_boot=300)
    assert difference.value == pytest.approx(comparison.difference)
    assert difference.low > 0
    same = delong_test(y, strong, strong)
    assert same.difference == 0 and same.p_value == pytest.approx(1.0)


def test_net_benefit_matches_hand_computation():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    proba = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    curve = net_benefit(y, {"model": proba}, thresholds=[0.25, 0.5])
    # pt = 0.5: treated = 0.9, 0.6, 0.7 -> TP 2, FP 1 -> 2/10 - 1/10 * 1 = 0.1
    assert curve.loc[0.5, "model"] == pytest.approx(0.1)
    # treat all at pt = 0.25: 0.3 - 0.7 * (1/3)
    assert curve.loc[0.25, "treat_all"] == pytest.approx(0.3 - 0.7 / 3)
    assert (curve["treat_none"] == 0).all()


def test_patient_cross_validate_keeps_patients_together():
    X, y = make_classification(300, random_state=0)
    patients = np.repeat(np.arange(100), 3)  # three rows (e.g. visits) per patient
    frame = pd.DataFrame(X, index=pd.Index(patients, name="subject_id"))
    y = np.repeat(y[:100], 3)
    result = patient_cross_validate(LogisticRegression(), frame, y, cv=5, keep_estimators=True)
    assert result.oof_proba.notna().all().all()
    assert len(result.estimators) == 5
    # Every fold's held-out rows are whole patients: no patient is split.
    counts = result.fold_scores["n_test"].sum()
    assert counts == 300


def test_nested_cross_validation_with_grid_search():
    X, y = make_classification(150, random_state=0)
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3)
    result = patient_cross_validate(search, X, y, cv=3, n_repeats=2, keep_estimators=True)
    assert result.fold_scores.shape[0] == 6
    assert all(hasattr(model, "best_params_") for model in result.estimators)


def test_subgroups_report_gaps_and_refuse_tiny_groups():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    sex = np.where(rng.uniform(size=600) < 0.75, "female", "male")
    # The model is informative for women only.
    proba = np.where(sex == "female", 0.6 * y + rng.uniform(0, 0.5, 600), rng.uniform(size=600))
    tiny = np.where(np.arange(600) < 10, "rare", "common")
    table = subgroup_table(
        y, {"model": proba}, pd.DataFrame({"sex": sex, "group": tiny}), n_boot=100
    )
    by_level = table.set_index("level")
    assert by_level.loc["female", "value"] > 0.85
    assert by_level.loc["male", "value"] < 0.65
    assert by_level.loc["male", "gap"] < -0.1
    assert np.isnan(by_level.loc["rare", "value"]) and by_level.loc["rare", "n"] == 10


def test_check_leakage_warns_on_a_near_perfect_feature():
    from ramultimodal.evaluation import LeakageWarning, check_leakage

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    features = pd.DataFrame(
        {
            "methotrexate_count": y * rng.integers(1, 4, 300),
            "crp": y * 5 + rng.normal(10, 5, 300),
            "rare": np.where(np.arange(300) < 5, y, np.nan),
        }
    )
    with pytest.warns(LeakageWarning, match="methotrexate_count"):
        suspects = check_leakage(features, y)
    assert list(suspects.index) == ["methotrexate_count"]


def test_report_is_self_contained_and_never_half_written(tmp_path, monkeypatch):
    from ramultimodal.evaluation import _report, evaluate_predictions, write_report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    image = np.clip(0.5 * y + rng.uniform(0, 0.6, 200), 0, 1)
    image[:40] = np.nan  # patients without a radiograph
    predictions = {
        "ACR/EULAR 2010": np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0, 1),
        "image": image,
        "fusion": np.clip(0.6 * y + rng.uniform(0, 0.5, 200), 0, 1),
    }
    subgroups = pd.DataFrame({"has_image": np.where(np.isnan(image), "no", "yes")})
    evaluation = evaluate_predictions(
        y, predictions, baseline="ACR/EULAR 2010", subgroups=subgroups, n_boot=100
    )
    assert evaluation.metrics.loc["image", "n"] == 160
    report = write_report(evaluation, tmp_path / "report", synthetic=True)
    text = report.read_text()
    assert text.count("data:image/png;base64,") >= 5
    assert "Synthetic data" in text and "src='http" not in text
    numbers = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert numbers["synthetic_data"] is True
    assert numbers["metrics"]["fusion"]["auroc"] == pytest.approx(
        roc_auc_score(y, predictions["fusion"])
    )
    assert "synthetic" in (tmp_path / "report" / "model_card.md").read_text()
    with pytest.raises(FileExistsError):
        write_report(evaluation, tmp_path / "report")

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_report, "plot_decision_curve", crash)
    with pytest.raises(RuntimeError):
        write_report(evaluation, tmp_path / "second")
    assert not (tmp_path / "second").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
