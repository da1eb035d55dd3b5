"""Recalibration: the calibrators, calibration= on the fusions (saved as plain data), the
RecalibratedClassifier wrapper, the recipes' and the configuration's ``calibration``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from ramultimodal.evaluation import (
    calibration_slope,
    cross_fitted_recalibration,
    expected_calibration_error,
    recalibration_table,
)
from ramultimodal.fusion import (
    EarlyFusionClassifier,
    LateFusionClassifier,
    ModelFolderError,
    RecalibratedClassifier,
    StackingFusionClassifier,
    load_model,
    save_model,
)
from ramultimodal.fusion._base import logit
from ramultimodal.fusion._calibration import apply_calibrator, fit_calibrator
from ramultimodal.models import ConfigError, make_model, make_pipeline

# Tiny models: BLAS threads fighting a busy CPU only slow them (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def patients(n=120, seed=0):
    """Two modalities; the second (two columns) is missing for a quarter of the patients."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = pd.DataFrame(
        {
            "crp": rng.normal(y, 1.0),
            "esr": rng.normal(y, 1.5),
            "erosions": rng.normal(y, 1.0),
            "jsn": rng.normal(y, 1.0),
        },
        index=pd.Index([f"p{i}" for i in range(n)], name="subject_id"),
    )
    X.iloc[::4, 2:] = np.nan
    return X, y


def tabular():
    return [
        ("ehr", LogisticRegression(), ["crp", "esr"]),
        ("image", LogisticRegression(), ["erosions", "jsn"]),
    ]


def fusion(kind, calibration):
    if kind == "late":
        return LateFusionClassifier(
            tabular(), method="mean_logit", cv=3, random_state=0, calibration=calibration
        )
    if kind == "stacking":
        return StackingFusionClassifier(tabular(), cv=3, random_state=0, calibration=calibration)
    return EarlyFusionClassifier(
        [("ehr", "passthrough", ["crp", "esr"]), ("image", PCA(1), ["erosions", "jsn"])],
        estimator=LogisticRegression(),
        cv=3,
        random_state=0,
        calibration=calibration,
    )


# -- the calibrators ------------------------------------------------------------------------


def test_sigmoid_recovers_a_known_slope_and_intercept():
    rng = np.random.default_rng(0)
    score = rng.normal(0, 2, 40000)
    y = rng.uniform(size=score.size) < expit(0.6 * score + 0.4)
    calibrator = fit_calibrator(expit(score), y, "sigmoid")
    assert set(calibrator) == {"method", "slope", "intercept"}
    assert calibrator["slope"] == pytest.approx(0.6, abs=0.03)
    assert calibrator["intercept"] == pytest.approx(0.4, abs=0.04)
    # p = expit(slope * logit(proba) + intercept), the contract the explanations rely on.
    proba = np.array([[0.9, 0.1], [0.3, 0.7]])
    expected = expit(calibrator["slope"] * logit(proba[:, 1]) + calibrator["intercept"])
    np.testing.assert_allclose(apply_calibrator(calibrator, proba)[:, 1], expected)
    np.testing.assert_allclose(apply_calibrator(calibrator, proba).sum(axis=1), 1.0)


def test_isotonic_is_monotone_and_plain():
    rng = np.random.default_rng(1)
    proba = rng.uniform(size=3000)
    y = rng.uniform(size=proba.size) < proba**2  # too high everywhere but at the ends
    calibrator = fit_calibrator(proba, y, "isotonic")
    assert calibrator["method"] == "isotonic"
    assert all(isinstance(v, float) for v in calibrator["x"] + calibrator["y"])
    assert np.all(np.diff(calibrator["x"]) >= 0) and np.all(np.diff(calibrator["y"]) >= 0)
    grid = np.linspace(-0.1, 1.1, 500)
    mapped = apply_calibrator(calibrator, np.column_stack([1 - grid, grid]))[:, 1]
    assert np.all(np.diff(mapped) >= 0) and mapped.min() >= 0 and mapped.max() <= 1
    recalibrated = apply_calibrator(calibrator, np.column_stack([1 - proba, proba]))[:, 1]
    assert expected_calibration_error(y, recalibrated) < expected_calibration_error(y, proba) / 3


def test_nan_stays_nan_and_one_class_is_refused():
    calibrator = fit_calibrator([0.2, 0.8, np.nan, 0.3, 0.6], [0, 1, 1, 1, 0], "sigmoid")
    out = apply_calibrator(calibrator, np.array([[np.nan, np.nan], [0.5, 0.5]]))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
    with pytest.raises(ValueError, match="both classes"):
        fit_calibrator([0.2, 0.8], [1, 1])


# -- calibration= on the fusions ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["late", "stacking", "early"])
@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrated_fusion_round_trips_through_a_model_folder(kind, method, tmp_path):
    X, y = patients()
    model = fusion(kind, method).fit(X, y, groups=X.index)
    assert model.calibrator_["method"] == method
    proba = model.predict_proba(X)
    # The calibrator changes the fused probability, not what each modality said.
    plain = fusion(kind, None).fit(X, y)
    assert plain.calibrator_ is None
    assert not np.allclose(proba, plain.predict_proba(X))
    explained, plain_explained = model.predict_modalities(X), plain.predict_modalities(X)
    np.testing.assert_allclose(explained["proba"], proba[:, 1])
    for column in [c for c in explained.columns if c != "proba"]:
        pd.testing.assert_series_equal(explained[column], plain_explained[column])

    loaded = load_model(save_model(model, tmp_path / "model"))
    assert loaded.calibrator_ == model.calibrator_
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    saved = json.loads((tmp_path / "model" / "model.json").read_text())
    assert "calibrator_" in json.dumps(saved)  # plain data, in model.json


def test_sigmoid_calibration_brings_a_miscalibrated_fusion_near_slope_1():
    # Late fusion by the mean of the logits of a weak, overfitted model and a good one:
    # too timid (slope about 1.6 on new patients).
    X, y = patients(n=600, seed=3)
    X_test, y_test = patients(n=2000, seed=4)
    rng = np.random.default_rng(5)
    for frame in (X, X_test):  # many noise columns make the models overfit
        for i in range(30):
            frame[f"noise{i}"] = rng.normal(size=len(frame))
    noisy = [c for c in X.columns if c.startswith("noise")]
    modalities = [
        ("ehr", LogisticRegression(C=100, max_iter=2000), ["crp", "esr", *noisy]),
        ("image", LogisticRegression(C=100, max_iter=2000), ["erosions", "jsn"]),
    ]
    slopes = {}
    for calibration in (None, "sigmoid"):
        model = LateFusionClassifier(
            modalities, method="mean_logit", cv=5, random_state=0, calibration=calibration
        ).fit(X, y)
        slopes[calibration] = calibration_slope(y_test, model.predict_proba(X_test)[:, 1])
    assert abs(slopes[None] - 1) > 0.4, slopes
    assert abs(slopes["sigmoid"] - 1) < abs(slopes[None] - 1), slopes
    assert 0.8 < slopes["sigmoid"] < 1.25, slopes  # 600 training patients: +-0.1 or so


def test_a_wrong_calibration_is_one_clear_error(tmp_path):
    X, y = patients()
    for kind in ("late", "stacking", "early"):
        with pytest.raises(ValueError, match="calibration must be None, 'sigmoid' or 'isotonic'"):
            fusion(kind, "platt").fit(X, y)
    with pytest.raises(ValueError, match="binary"):
        fusion("stacking", "sigmoid").fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ConfigError, match="'platt'"):
        make_model("late", ehr_columns=["crp"], calibration="platt")
    with pytest.raises(ConfigError, match="calibration"):
        make_pipeline("early", calibration=True)


def test_a_damaged_calibrator_is_refused_when_loading(tmp_path):
    X, y = patients()
    folder = save_model(fusion("late", "sigmoid").fit(X, y), tmp_path / "model")
    model_json = folder / "model.json"
    text = model_json.read_text().replace('"slope"', '"slop"')
    model_json.write_text(text)
    manifest = json.loads((folder / "manifest.json").read_text())
    import hashlib

    manifest["files"]["model.json"] = hashlib.sha256(text.encode()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFolderError, match="calibrator_"):
        load_model(folder)


# -- RecalibratedClassifier -----------------------------------------------------------------


class Overconfident(ClassifierMixin, BaseEstimator):
    """A logistic regression whose log-odds are tripled (NaN for a patient without crp)."""

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X[["crp"]].fillna(0), y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        positive = expit(3 * self.model_.decision_function(X[["crp"]].fillna(0)))
        positive[X["crp"].isna().to_numpy()] = np.nan
        return np.column_stack([1 - positive, positive])


def test_recalibrated_classifier_improves_a_miscalibrated_model(tmp_path):
    X, y = patients(n=600, seed=1)
    X_test, y_test = patients(n=3000, seed=2)
    before = Overconfident().fit(X, y).predict_proba(X_test)[:, 1]
    model = RecalibratedClassifier(Overconfident(), cv=5).fit(X, y)
    after = model.predict_proba(X_test)[:, 1]
    assert calibration_slope(y_test, before) < 0.5
    assert 0.85 < calibration_slope(y_test, after) < 1.15
    assert model.calibrator_["slope"] == pytest.approx(1 / 3, abs=0.1)
    assert model.oof_proba_.shape == (600,)
    X_test.iloc[0, 0] = np.nan
    assert np.isnan(model.predict_proba(X_test)[0]).all()  # no answer stays no answer
    with pytest.raises(TypeError, match="cannot save a RecalibratedClassifier"):
        save_model(model, tmp_path / "model")


def test_recalibrated_fusion_explains_with_the_recalibrated_proba():
    X, y = patients()
    model = RecalibratedClassifier(fusion("late", None), method="isotonic", cv=3).fit(X, y)
    explained = model.predict_modalities(X)
    np.testing.assert_allclose(explained["proba"], model.predict_proba(X)[:, 1])
    plain = fusion("late", None).fit(X, y).predict_modalities(X)
    pd.testing.assert_series_equal(explained["proba_ehr"], plain["proba_ehr"])
    assert not hasattr(RecalibratedClassifier(LogisticRegression()), "predict_modalities")


def test_recipes_take_calibration():
    late = make_model("late", ehr_columns=["crp"], calibration="sigmoid")
    assert late.calibration == "sigmoid"
    ehr = make_model("ehr", ehr_columns=["crp"], calibration="isotonic")
    assert isinstance(ehr, RecalibratedClassifier) and ehr.method == "isotonic"
    criteria = make_model("criteria", ehr_columns=["crp"], calibration="sigmoid")
    assert isinstance(criteria, RecalibratedClassifier)
    pipeline = make_pipeline("early", calibration="sigmoid")
    assert pipeline.get_params()["model__calibration"] == "sigmoid"
    assert make_model("stacking", ehr_columns=["crp"]).calibration is None


# -- the evaluation's table -----------------------------------------------------------------


def test_recalibration_table_is_cross_fitted_and_reuses_the_metrics():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    score = rng.normal(np.where(y == 1, 1.0, -1.0), 1.5)
    predictions = {"extreme": expit(4 * score), "fine": expit(score * 4 / 3), "none": np.nan * y}
    predictions["none"][:400] = expit(score[:400])
    table = recalibration_table(y, predictions, cv=4)
    assert table.loc["none", "n"] == 400
    assert table.loc["extreme", "slope"] < 0.5
    assert table["slope_after"].between(0.8, 1.2).all()
    assert table.loc["extreme", "ece_after"] < table.loc["extreme", "ece"]
    after = cross_fitted_recalibration(y, predictions["extreme"], cv=4)
    assert table.loc["extreme", "slope_after"] == calibration_slope(y, after)
    assert np.isnan(cross_fitted_recalibration(y, predictions["none"], cv=4)[400:]).all()


def test_read_config_checks_calibration(tmp_path):
    from ramultimodal.workflows import read_config

    good = tmp_path / "good.json"
    good.write_text('{"calibration": "sigmoid"}')
    assert read_config(good) == {"calibration": "sigmoid"}
    bad = tmp_path / "bad.json"
    bad.write_text('{"calibration": "platt"}')
    with pytest.raises(ConfigError, match='"calibration" must be null') as error:
        read_config(bad)
    assert "bad.json" in str(error.value) and "\n" not in str(error.value)


def test_cli_train_refuses_a_wrong_calibration_in_one_line(tmp_path, capsys):
    from ramultimodal.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text('{"calibration": "platt"}')
    arguments = ["train", "--data", str(tmp_path), "--model", "late", "--config", str(bad)]
    assert main([*arguments, "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "calibration" in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_train_saves_the_calibrator_from_the_config(tmp_path):
    from ramultimodal.cli import main

    small = ["--image-size", "32", "-q"]
    assert (
        main(["synth", str(tmp_path / "cohort"), "--n-patients", "40", "--seed", "3", *small]) == 0
    )
    config = {
        "image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16},
        "fusion_params": {"cv": 2},
        "calibration": "sigmoid",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    arguments = ["train", "--data", str(tmp_path / "cohort"), "--model", "late"]
    arguments += ["--config", str(tmp_path / "config.json"), "--out", str(tmp_path / "model")]
    assert main(arguments) == 0
    model = load_model(tmp_path / "model")
    fused = model._final_estimator
    assert fused.calibration == "sigmoid"
    assert set(fused.calibrator_) == {"method", "slope", "intercept"}


def test_report_shows_the_recalibration_table(tmp_path):
    from ramultimodal.evaluation import evaluate_predictions, write_report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    predictions = {"criteria": expit(rng.normal(y, 1.0)), "model": expit(3 * rng.normal(y, 1))}
    evaluation = evaluate_predictions(y, predictions, baseline="criteria", n_boot=20)
    evaluation.recalibration = recalibration_table(y, predictions)
    report = write_report(evaluation, tmp_path / "report")
    page = report.read_text()
    assert "Recalibration" in page and "slope_after" in page
    assert (tmp_path / "report" / "recalibration.csv").is_file()
    numbers = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert set(numbers["recalibration"]) == {"criteria", "model"}
