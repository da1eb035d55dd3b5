"""Models of time to RA: LateFusionSurvival, the survival-late kind, its model folder."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from ramultimodal.cli import main
from ramultimodal.ehr import EHRFeaturizer, LeidenRuleClassifier
from ramultimodal.evaluation import harrell_c
from ramultimodal.fusion import LateFusionSurvival, load_model, save_model, survival_y
from ramultimodal.models import make_model, modality_columns
from ramultimodal.synthetic import make_cohort, write_cohort

pytestmark = pytest.mark.filterwarnings("ignore:all coefficients are zero")


def _features(seed: int, featurizer=None):
    cohort = make_cohort(300, seed=seed, render_images=False, population="undifferentiated")
    if featurizer is None:
        featurizer = EHRFeaturizer(cohort.events).set_output(transform="pandas")
        featurizer.fit(cohort.patients)
    featurizer.set_params(events=cohort.events)
    X = pd.DataFrame(featurizer.transform(cohort.patients), index=cohort.patients.index)
    return X, cohort.patients, featurizer


@pytest.fixture(scope="module")
def fitted():
    X, patients, featurizer = _features(21)
    X_test, test_patients, _ = _features(22, featurizer)
    columns = modality_columns(X.columns)
    model = make_model("survival-late", ehr_columns=columns["ehr"], pro_columns=columns["pro"])
    model.set_params(modalities=[m for m in model.modalities if m[0] != "image"])
    model.fit(X, survival_y(patients[["time_to_ra_days", "event"]]))
    return model, X, patients, X_test, test_patients


def test_survival_fusion_ranks_time_to_ra_better_than_the_leiden_score(fitted):
    model, X, patients, X_test, test = fitted
    target = survival_y(test[["time_to_ra_days", "event"]])
    fused = model.score(X_test, target)
    leiden = LeidenRuleClassifier().fit(X, patients["ra"].astype(int))
    rule = harrell_c(target["time"], target["event"], leiden.decision_function(X_test))
    assert fused > 0.68 and fused > rule
    assert model.modality_names_ == ["ehr", "pro"]
    assert model.weights_[0] > model.weights_[1] > -0.2  # the labs and joints carry most


def test_survival_predictions_follow_conventions(fitted):
    model, _, _, X_test, _ = fitted
    survival = model.predict_survival(X_test, [0, 183, 365, 730])
    assert survival.shape == (len(X_test), 4)
    assert np.all(np.diff(survival, axis=1) <= 1e-12)  # never rises with time
    np.testing.assert_allclose(survival[:, 0], 1.0)
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba[:, 1], 1 - survival[:, 2])
    # A higher risk score is RA sooner: the order of the risk is that of RA by a year.
    risk = model.predict(X_test)
    assert np.corrcoef(np.argsort(np.argsort(risk)), np.argsort(np.argsort(proba[:, 1])))[
        0, 1
    ] == pytest.approx(1.0)
    explained = model.predict_modalities(X_test)
    assert {"risk_ehr", "risk_pro", "has_ehr", "risk", "proba"} <= set(explained.columns)
    assert clone(model).get_params()["horizon_days"] == 365


def test_each_cox_penalty_is_chosen_by_its_out_of_fold_ranking(fitted):
    model, X, patients, X_test, _ = fitted
    from ramultimodal.models import SURVIVAL_PENALTIES

    assert model.penalties == SURVIVAL_PENALTIES
    assert set(model.penalties_) == {"ehr", "pro"}
    for name, estimator in zip(model.modality_names_, model.estimators_, strict=True):
        assert model.penalties_[name] in SURVIVAL_PENALTIES
        assert estimator.get_params()["cox__alphas"] == [model.penalties_[name]]
    # Without penalties each model keeps its own; the folds, and so the fit, are the same.
    fixed = clone(model).set_params(penalties=None)
    one = clone(model).set_params(penalties=(0.1,))
    y = survival_y(patients[["time_to_ra_days", "event"]])
    fixed.fit(X, y), one.fit(X, y)
    assert fixed.penalties_ == {"ehr": None, "pro": None}
    assert one.penalties_ == {"ehr": 0.1, "pro": 0.1}
    np.testing.assert_allclose(fixed.predict(X_test), one.predict(X_test))


def test_a_patient_without_any_modality_gets_nan(fitted):
    model, _, _, X_test, _ = fitted
    empty = X_test.iloc[:2].copy()
    empty.loc[:, :] = np.nan
    assert np.isnan(model.predict(empty)).all()


def test_survival_y_refuses_bad_times():
    with pytest.raises(ValueError, match="finite and positive"):
        survival_y(pd.DataFrame({"time_to_ra_days": [0, 10], "event": [1, 0]}))
    with pytest.raises(ValueError, match="at least one event"):
        LateFusionSurvival([("a", None, ["x"])]).fit(
            pd.DataFrame({"x": [1.0, 2.0]}), survival_y([5, 6], [0, 0])
        )


def test_saved_as_plain_data_and_loaded_back(fitted, tmp_path):
    model, _, _, X_test, _ = fitted
    folder = save_model(model, tmp_path / "model")
    text = (folder / "model.json").read_text()
    assert "CoxnetSurvivalAnalysis" in text and "LateFusionSurvival" in text
    assert not list(folder.rglob("*.pkl"))
    loaded = load_model(folder)
    np.testing.assert_allclose(loaded.predict(X_test), model.predict(X_test))


def _two_modalities_and_an_image():
    """200 patients whose time to RA follows the CRP; a Cox model per tabular modality and
    a classifier of RA by the horizon on a radiograph score."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["crp", "pain", "erosions"])
    time = np.ceil(rng.exponential(500 * np.exp(-X["crp"]))) + 1
    y = survival_y(np.minimum(time, 700), time <= 700)
    cox = Pipeline([("scale", StandardScaler()), ("cox", CoxnetSurvivalAnalysis(alphas=[0.05]))])
    modalities = [
        ("ehr", cox, ["crp"]),
        ("pro", clone(cox), ["pain"]),
        ("image", LogisticRegression(), ["erosions"]),
    ]
    return X, y, modalities


def test_a_modality_is_named_and_dropped_as_in_the_classifier_fusions(tmp_path):
    # As test_fusion_checks' test_named_modality_parameters_are_addressable: a modality's
    # model is a parameter by its name, and "drop" leaves the modality out of the fit.
    X, y, modalities = _two_modalities_and_an_image()
    model = LateFusionSurvival(modalities, random_state=0)
    assert model.get_params()["image__C"] == 1.0
    assert model.get_params()["ehr__cox__alphas"] == [0.05]
    model.set_params(image__C=0.1, ehr__cox__alphas=[0.1])
    assert model.modalities[2][1].C == 0.1 and model.modalities[0][1][-1].alphas == [0.1]
    model.set_params(image="drop")
    assert model.modalities[2] == ("image", "drop", ["erosions"])
    model.fit(X, y)
    assert model.modality_names_ == ["ehr", "pro"] and set(model.penalties_) == {"ehr", "pro"}
    without = LateFusionSurvival(modalities[:2], random_state=0).set_params(ehr__cox__alphas=[0.1])
    np.testing.assert_array_equal(model.predict(X), without.fit(X, y).predict(X))
    # Prediction follows the fitted modalities, not parameters set after the fit.
    before = model.predict_proba(X)
    model.set_params(pro="drop", image=modalities[2][1])
    np.testing.assert_array_equal(model.predict_proba(X), before)
    loaded = load_model(save_model(clone(model).fit(X, y), tmp_path / "model"))
    assert loaded.modalities[1] == ("pro", "drop", ["pain"])
    assert loaded.modality_names_ == ["ehr", "image"]
    with pytest.raises(ValueError, match="every modality is 'drop'"):
        model.set_params(ehr="drop", image="drop").fit(X, y)


def _small_cohort(tmp_path, seed: int):
    """70 patients with undifferentiated arthritis and tiny radiographs, and a config whose
    CNN trains one epoch: a folder and a config for ``ramultimodal train``."""
    cohort = make_cohort(70, seed=seed, image_size=32, population="undifferentiated")
    data = write_cohort(cohort, tmp_path / "ua", formats=["csv", "png"])
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"image_params": {"image_size": 32, "max_epochs": 1,
                                                    "batch_size": 16}}))  # fmt: skip
    return data, config


def test_train_survival_late_and_evaluate_at_its_horizon(tmp_path, capsys):
    data, config = _small_cohort(tmp_path, 23)
    model = tmp_path / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(data), "--model", "survival-late", "--config",
                     str(config), "--out", str(model), "--horizon", "12m", "-q"]) == 0  # fmt: skip
        loaded = load_model(model)
        assert loaded[-1].horizon_days == 365
        assert main(["evaluate", "--data", str(data), "--model", str(model), "--report",
                     str(tmp_path / "report"), "--horizon", "12m", "--n-boot", "20",
                     "-q"]) == 0  # fmt: skip
    metrics = pd.read_csv(tmp_path / "report" / "metrics.csv")
    assert "LateFusionSurvival" in metrics.iloc[:, 0].tolist()
    # labels.csv has time to RA: the report scores every model against it, beside Leiden.
    survival = pd.read_csv(tmp_path / "report" / "survival.csv", index_col="model")
    assert {"LateFusionSurvival", "Leiden rule", "ACR/EULAR 2010"} <= set(survival.index)
    assert survival["harrell_c"].between(0, 1).all()
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Time to RA" in html and "Free of RA, by the Leiden rule" in html


def test_demo_at_a_horizon_reports_time_to_ra(tmp_path):
    from ramultimodal.workflows import run_demo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_demo(tmp_path / "demo", n_patients=90, image_size=32, max_epochs=1, cv=2,
                          n_boot=20, horizon="12m", population="undifferentiated",
                          verbose=0)  # fmt: skip
    assert {"Leiden rule", "survival fusion", "ACR/EULAR 2010"} <= set(result.summary.index)
    assert {"survival fusion", "Leiden rule", "early fusion"} <= set(result.survival.index)
    html = result.report.read_text()
    assert "RA within 12 months" in html and "Free of RA, by thirds of survival fusion" in html


def test_predict_explain_splits_the_survival_risk_score(tmp_path, capsys):
    from ramultimodal.evaluation._contributions import SURVIVAL_SCORE

    data, config = _small_cohort(tmp_path, 24)
    model, pages = tmp_path / "model", tmp_path / "pages"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(data), "--model", "survival-late", "--config",
                     str(config), "--out", str(model), "-q"]) == 0  # fmt: skip
        capsys.readouterr()
        assert main(["predict", "--model", str(model), "--data", str(data), "--out",
                     str(tmp_path / "explained.csv"), "--explain", "--patient-report",
                     str(pages)]) == 0  # fmt: skip
    table = pd.read_csv(tmp_path / "explained.csv", index_col="subject_id", keep_default_na=False)
    assert set(table["explained"]) == {SURVIVAL_SCORE}
    # The modalities' terms add up to the fused risk score, which the model predicts.
    parts = table[["contribution_image", "contribution_ehr", "contribution_pro"]].astype(float)
    np.testing.assert_allclose(parts.sum(axis=1), table["logit"].astype(float), atol=1e-9)
    np.testing.assert_allclose(table["logit"].astype(float), table["risk"].astype(float))
    assert (table["contribution_baseline"].astype(float) == 0).all()
    no_image = ~table["has_image"].astype(str).eq("True")
    assert no_image.any() and (parts.loc[no_image, "contribution_image"] == 0).all()
    # Reasons in words: the record's features by name, the radiograph as the CNN's say.
    assert table["reason_1"].str.match(r"^[+-]\d+\.\d\d \S").all()
    assert table["reason_1"].str.contains("ACR/EULAR|anti-CCP|RF|CRP|joint").any()
    # The radiograph is one item, said with the CNN's probability, among all the reasons.
    from ramultimodal.workflows import explain_dataset

    everything = explain_dataset(model, data, n_reasons=600).table.filter(like="reason_")
    words = " ".join(everything.to_numpy().ravel())
    assert "radiographs (CNN): P(RA) = " in words
    page = (pages / "patient-0001.html").read_text()
    assert "risk score" in page and "log-odds" not in page
