"""The gradient-boosted learner is a choice: LightGBM (the default) or XGBoost.

Every recipe trains with ``gbm="xgboost"``, is saved as XGBoost's JSON and loads back
to the same probabilities; ``train --config`` takes the choice; a wrong value or a damaged
XGBoost file is one clear error. The default (LightGBM) builds exactly what it did before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from lightgbm import LGBMClassifier
from sklearn.base import clone
from xgboost import XGBClassifier

from ramultimodal.cli import main
from ramultimodal.ehr import EHRFeaturizer
from ramultimodal.fusion import ModelFolderError, load_model, save_model
from ramultimodal.io import read_cohort
from ramultimodal.models import (
    GBM_CHOICES,
    META_LEARNERS,
    ConfigError,
    make_model,
    make_pipeline,
    modality_columns,
)
from ramultimodal.synthetic import make_cohort, write_cohort

CNN = {"image_size": 32, "max_epochs": 1, "batch_size": 16}
FUSIONS = ("late", "stacking", "early")


@pytest.fixture(scope="module")
def tabular():
    """150 patients' EHR and PRO features (no radiographs), and their labels."""
    cohort = make_cohort(150, seed=5, render_images=False)
    X = EHRFeaturizer(cohort.events).set_output(transform="pandas").fit_transform(cohort.patients)
    return X, cohort.patients["ra"].astype(int).to_numpy()


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    return write_cohort(make_cohort(60, image_size=32, seed=3), tmp_path_factory.mktemp("c") / "c")


@pytest.fixture(scope="module")
def records(cohort_dir):
    return read_cohort(cohort_dir, source="csv")


@pytest.fixture(scope="module")
def fitted(records):
    """Each fusion pipeline, with XGBoost, fitted once on the same 60 patients."""
    y = records.labels.to_numpy()
    pipelines = {}
    for kind in FUSIONS:
        params = {} if kind == "early" else {"cv": 2}
        pipeline = make_pipeline(kind, image_params=CNN, fusion_params=params, gbm="xgboost")
        pipelines[kind] = pipeline.fit(records, y)
    return pipelines


def boosters(estimator) -> list:
    """The gradient-boosted models inside a (possibly fitted) model, base models first."""
    found = []
    for value in estimator.get_params(deep=True).values():
        if isinstance(value, LGBMClassifier | XGBClassifier):
            found.append(value)
    for name in ("estimators_", "estimator_", "submodels_", "final_estimator_"):
        for part in np.atleast_1d(getattr(estimator, name, [])):
            found += [part] if isinstance(part, LGBMClassifier | XGBClassifier) else []
    return found


# -- the choice ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ehr", "pro", *FUSIONS])
@pytest.mark.parametrize("gbm", GBM_CHOICES)
def test_the_choice_sets_every_tabular_learner(kind, gbm):
    model = make_model(kind, ehr_columns=["crp_last_all"], pro_columns=["pain_last_all"], gbm=gbm)
    learners = boosters(model)
    expected = XGBClassifier if gbm == "xgboost" else LGBMClassifier
    assert learners and all(type(learner) is expected for learner in learners)


def test_lightgbm_stays_the_default_with_the_same_settings():
    columns = {"ehr_columns": ["crp_last_all"], "pro_columns": ["pain_last_all"]}
    for kind in ("ehr", *FUSIONS):
        default, chosen = make_model(kind, **columns), make_model(kind, **columns, gbm="lightgbm")
        assert repr(default.get_params(deep=True)) == repr(chosen.get_params(deep=True))
    lgbm = make_model("ehr", **columns)[-1]
    assert (lgbm.n_estimators, lgbm.learning_rate, lgbm.num_leaves) == (300, 0.03, 15)
    assert (lgbm.min_child_samples, lgbm.reg_lambda, lgbm.n_jobs) == (15, 1.0, 1)
    assert make_model("stacking", **columns).final_estimator is None  # logistic regression


def test_xgboost_mirrors_the_lightgbm_settings():
    xgb = make_model("ehr", ehr_columns=["crp_last_all"], gbm="xgboost", random_state=7)[-1]
    assert (xgb.n_estimators, xgb.learning_rate, xgb.max_depth) == (300, 0.03, 4)
    assert (xgb.subsample, xgb.colsample_bytree, xgb.n_jobs) == (0.8, 0.5, 1)
    assert (xgb.tree_method, xgb.random_state, xgb.min_child_weight) == ("hist", 7, 2.0)
    assert np.isnan(xgb.missing)  # NaN is routed by the trees, not imputed


def test_ehr_params_apply_to_the_chosen_learner():
    model = make_model("ehr", ehr_columns=["a"], gbm="xgboost", ehr_params={"max_depth": 2})
    assert model[-1].max_depth == 2
    model = make_model("ehr", ehr_columns=["a"], gbm="xgboost", ehr_params={"eta": 0.1})
    assert model[-1].get_params()["eta"] == 0.1  # XGBoost's own alias, passed through
    with pytest.raises(ConfigError, match="XGBClassifier has no parameter 'num_leaves'"):
        make_model("ehr", ehr_columns=["a"], gbm="xgboost", ehr_params={"num_leaves": 7})
    with pytest.raises(ConfigError, match="LGBMClassifier has no parameter 'max_depths'"):
        make_model("ehr", ehr_columns=["a"], ehr_params={"max_depths": 7})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gbm": "catboost"}, "gbm must be one of lightgbm, xgboost; got 'catboost'"),
        ({"meta_learner": "forest"}, "meta_learner must be one of logistic, gbm"),
    ],
)
def test_a_wrong_choice_is_a_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_pipeline("stacking", **kwargs)


def test_the_gradient_boosted_meta_learner_is_stacking_only():
    assert META_LEARNERS == ("logistic", "gbm")
    for gbm, expected in (("lightgbm", LGBMClassifier), ("xgboost", XGBClassifier)):
        model = make_model("stacking", ehr_columns=["a"], gbm=gbm, meta_learner="gbm")
        assert type(model.final_estimator) is expected
    with pytest.raises(ConfigError, match="meta_learner is stacking's"):
        make_model("late", ehr_columns=["a"], meta_learner="gbm")


# -- training --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ehr", "pro"])
def test_one_modality_trains_deterministically_with_xgboost(tabular, kind):
    X, y = tabular
    columns = modality_columns(X.columns)
    model = make_model(kind, ehr_columns=columns["ehr"], pro_columns=columns["pro"], gbm="xgboost")
    proba = clone(model).fit(X, y).predict_proba(X)[:, 1]
    again = clone(model).fit(X, y).predict_proba(X)[:, 1]
    np.testing.assert_array_equal(proba, again)
    assert type(model.fit(X, y)[-1]) is XGBClassifier
    # It learns: the training patients are ranked far better than by chance.
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, proba) > 0.8


@pytest.mark.parametrize(
    "gbm, meta_learner", [("xgboost", "logistic"), *((gbm, "gbm") for gbm in GBM_CHOICES)]
)
def test_tabular_stacking_trains_with_either_meta_learner(tabular, gbm, meta_learner):
    X, y = tabular
    columns = modality_columns(X.columns)
    model = make_model(
        "stacking",
        ehr_columns=columns["ehr"],
        pro_columns=columns["pro"],
        gbm=gbm,
        meta_learner=meta_learner,
        fusion_params={"cv": 3},
    ).set_params(image="drop")
    proba = model.fit(X, y).predict_proba(X)[:, 1]
    assert np.isfinite(proba).all()
    meta = model.final_estimator_
    expected = {"lightgbm": LGBMClassifier, "xgboost": XGBClassifier}[gbm]
    assert (type(meta) is expected) == (meta_learner == "gbm")


@pytest.mark.parametrize("kind", FUSIONS)
def test_every_fusion_trains_and_round_trips_with_xgboost(fitted, records, kind, tmp_path):
    pipeline = fitted[kind]
    fusion = pipeline[-1]
    learners = boosters(fusion)
    assert learners and all(type(learner) is XGBClassifier for learner in learners)
    if kind == "early":  # the patients without a radiograph have their pattern submodel
        assert fusion.submodels_ and all(type(m) is XGBClassifier for m in fusion.submodels_)
    folder = save_model(pipeline, tmp_path / "model")
    text = (folder / "model.json").read_text()
    assert '"xgboost.XGBClassifier"' in text and "lightgbm" not in text
    assert "pickle" not in text
    files = sorted(p.name for p in (folder / "estimators").iterdir())
    assert any(name.endswith("-booster.json") for name in files)
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(records), pipeline.predict_proba(records))


# -- a damaged XGBoost file ------------------------------------------------------------------


def rehash(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in manifest["files"]
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda text: text[: len(text) // 2], "not JSON"),
        (lambda text: text.replace('"base_score":"[', '"base_score":"[9'), "base_score"),
        (
            lambda text: text.replace('"attributes":{}', '"attributes":{"best_iteration":"999"}'),
            "best_iteration 999 is past the last",
        ),
        (lambda text: text.replace('"split_indices":[', '"split_indices":[99999,', 1), "tree 0"),
    ],
)
def test_a_damaged_xgboost_file_is_a_model_folder_error(fitted, tmp_path, damage, message):
    folder = save_model(fitted["late"][-1], tmp_path / "model")  # a bare fusion: no check run
    name = next(p for p in (folder / "estimators").iterdir() if p.name.endswith(".json"))
    text = name.read_text()
    damaged = damage(text)
    assert damaged != text
    name.write_text(damaged)
    rehash(folder)
    with pytest.raises(ModelFolderError, match=message) as caught:
        load_model(folder)
    assert "\n" not in str(caught.value) and "Stack trace" not in str(caught.value)


# -- the command -----------------------------------------------------------------------------


def test_train_takes_the_learner_from_its_config(cohort_dir, records, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"gbm": "xgboost", "image_params": CNN}))
    out = tmp_path / "model"
    args = ["train", "--data", str(cohort_dir), "--model", "early", "--config", str(config)]
    assert main([*args, "--out", str(out), "-q"]) == 0
    model = load_model(out)
    assert type(model[-1].estimator_) is XGBClassifier
    predictions = tmp_path / "predictions.csv"
    predict = ["predict", "--model", str(out), "--data", str(cohort_dir), "--out", str(predictions)]
    assert main([*predict, "-q"]) == 0
    assert predictions.read_text().count("\n") == len(records) + 1


@pytest.mark.parametrize(
    "config, message",
    [
        ({"gbm": "XGBoost"}, "gbm must be one of 'lightgbm', 'xgboost'; got 'XGBoost'"),
        ({"gbm": ["xgboost"]}, "gbm must be one of 'lightgbm', 'xgboost'"),
        ({"meta_learner": "lgbm"}, "meta_learner must be one of 'logistic', 'gbm'"),
        ({"gbm": "xgboost", "ehr_params": {"num_leaves": 3}}, "XGBClassifier has no parameter"),
    ],
)
def test_a_wrong_learner_in_the_config_is_one_line(cohort_dir, tmp_path, capsys, config, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    args = ["train", "--data", str(cohort_dir), "--model", "late", "--config", str(path)]
    assert main([*args, "--out", str(tmp_path / "model")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    if "must be one of" in message:
        assert str(path) in err  # the file is named
    assert not (tmp_path / "model").exists()
