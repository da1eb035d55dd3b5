"""save_model / load_model: one call, plain data only, identical predictions.

Hostile and damaged folders are in tests/test_model_folder.py.
"""

from __future__ import annotations

import json
import operator

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from xgboost import XGBClassifier

from ramultimodal.fusion import (
    EarlyFusionClassifier,
    LateFusionClassifier,
    ModelFolderError,
    StackingFusionClassifier,
    load_model,
    save_model,
)

# Tiny models: BLAS threads fighting a busy CPU only slow them (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def patients(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1, 1], n // 3)
    X = pd.DataFrame(
        {name: rng.normal(y, 1.0) for name in ("crp", "esr", "erosions", "jsn")},
        index=pd.Index([f"p{i}" for i in range(n)], name="subject_id"),
    )
    X.iloc[::4, 2:] = np.nan
    return X, y


def xgb():
    return XGBClassifier(n_estimators=8, max_depth=2, n_jobs=1)


def lgbm():
    return LGBMClassifier(n_estimators=8, min_child_samples=5, verbose=-1, n_jobs=1)


def pipeline():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.5))


MODELS = {
    "late-lr-lgbm": LateFusionClassifier(
        [
            ("ehr", LogisticRegression(), ["crp", "esr"]),
            ("image", lgbm(), make_column_selector(pattern="erosions|jsn")),
            ("unused", "drop", "crp"),
        ],
        method="weighted_mean",
        cv=3,
        random_state=0,
    ),
    "stacking-pipeline-xgb-lgbm": StackingFusionClassifier(
        [("ehr", pipeline(), ["crp", "esr"]), ("image", xgb(), ["erosions", "jsn"])],
        final_estimator=lgbm(),
        passthrough=["crp"],
        cv=3,
        random_state=0,
    ),
    "stacking-default-meta": StackingFusionClassifier(
        [("ehr", pipeline(), ["crp", "esr"]), ("image", LogisticRegression(), ["erosions"])],
        cv=3,
        random_state=0,
    ),
    "early-xgb": EarlyFusionClassifier(
        [("ehr", "passthrough", ["crp", "esr"]), ("image", StandardScaler(), ["erosions", "jsn"])],
        estimator=xgb(),
    ),
}


@pytest.mark.parametrize("key", MODELS)
def test_loaded_model_predicts_identically(key, tmp_path):
    X, y = patients()
    model = clone(MODELS[key]).fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "model"))
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    pd.testing.assert_frame_equal(loaded.predict_modalities(X), model.predict_modalities(X))
    # The parameters come back as given, so the loaded model can be cloned and refit.
    given, back = model.get_params(deep=False), loaded.get_params(deep=False)
    assert [(n, repr(e)) for n, e, _ in back.pop("modalities")] == [
        (n, repr(e)) for n, e, _ in given.pop("modalities")
    ]
    assert repr(back) == repr(given)


def test_each_part_is_plain_data_in_its_own_format(tmp_path):
    X, y = patients()
    model = clone(MODELS["stacking-pipeline-xgb-lgbm"]).fit(X, y)
    folder = save_model(model, tmp_path / "model")
    root = json.loads((folder / "model.json").read_text())["estimator"]
    assert root["class"] == "ramultimodal.fusion.StackingFusionClassifier"
    assert root["params"]["passthrough"] == ["crp"]
    fitted = root["state"]["estimators_"]
    assert [node["estimator"]["class"] for node in fitted] == [
        "sklearn.pipeline.Pipeline",
        "xgboost.XGBClassifier",
    ]
    # The logistic regression's coefficients are numbers in the JSON, not a pickle.
    steps = fitted[0]["estimator"]["params"]["steps"]
    regression = steps[1]["tuple"][1]["estimator"]
    assert regression["class"] == "sklearn.linear_model.LogisticRegression"
    assert regression["state"]["coef_"]["ndarray"]["shape"] == [1, 2]
    # Boosters in their libraries' own formats.
    xgb_file = fitted[1]["estimator"]["state"]["_Booster"]["xgboost_booster"]
    assert json.loads((folder / xgb_file).read_text())["learner"]
    meta = root["state"]["final_estimator_"]["estimator"]
    assert meta["class"] == "lightgbm.LGBMClassifier"
    assert (folder / meta["state"]["_Booster"]["lightgbm_booster"]).read_text().startswith("tree")
    # No pickle anywhere: every file is JSON, text or the marker, each with its sha256.
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {p.rpartition(".")[2] for p in files} <= {"json", "txt", "ramultimodal"}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == files - {"manifest.json", ".ramultimodal"}
    assert manifest["format_version"] == 2 and manifest["model"] == "StackingFusionClassifier"


def test_prefit_base_models_stay_fitted_in_the_loaded_parameters(tmp_path):
    X, y = patients()
    ehr = pipeline().fit(X[["crp", "esr"]], y)
    image = LogisticRegression().fit(X[["erosions"]].dropna(), y[X["erosions"].notna()])
    model = StackingFusionClassifier(
        [("ehr", ehr, ["crp", "esr"]), ("image", image, ["erosions"])], cv="prefit"
    ).fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.modalities[1][1].coef_, image.coef_)


@pytest.mark.parametrize("function", [np.save, operator.neg], ids=["numpy.save", "operator.neg"])
def test_a_part_that_is_not_plain_data_is_refused_when_saving(function, tmp_path):
    X, y = patients()
    model = LateFusionClassifier([("ehr", LogisticRegression(), ["crp"])]).fit(X, y)
    # A pipeline step that calls a function: code, which a model folder never holds.
    model.estimators_[0] = make_pipeline(FunctionTransformer(function), LogisticRegression())
    with pytest.raises(TypeError, match=r"estimators_\[0\].*FunctionTransformer cannot be saved"):
        save_model(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()
    assert list(tmp_path.iterdir()) == []  # nothing half-written, no lock left


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    X, y = patients()
    model = clone(MODELS["early-xgb"]).fit(X, y)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        save_model(model, tmp_path / "taken")
    with pytest.raises(FileExistsError, match="not written by ramultimodal"):
        save_model(model, tmp_path / "taken", overwrite=True)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    folder = save_model(model, tmp_path / "model")
    with pytest.raises(FileExistsError):
        save_model(model, folder)
    save_model(model, folder, overwrite=True)
    # Nothing half-written is left next to the model.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "taken"]


def test_clear_errors_for_unfitted_models_and_foreign_folders(tmp_path):
    with pytest.raises(NotFittedError):
        save_model(clone(MODELS["early-xgb"]), tmp_path / "model")
    with pytest.raises(TypeError, match="saves fusion classifiers"):
        save_model(LogisticRegression(), tmp_path / "model")
    with pytest.raises(ModelFolderError, match="not a saved model"):
        load_model(tmp_path)


@pytest.mark.slow
def test_cnn_base_model_round_trips_through_its_own_format(tmp_path):
    # The real CNNImageClassifier (torch), on 32-pixel arrays: the own-format path and the
    # NaN answers for patients without an image, as the fusion package assumes them.
    pytest.importorskip("torch")
    from ramultimodal.image import CNNImageClassifier

    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 12)
    images = [
        [] if i % 4 == 0 else [(rng.random((32, 32)) + y[i]).astype("float32")]
        for i in range(len(y))
    ]
    X = pd.DataFrame({"crp": rng.normal(y, 1.0), "image": images})
    cnn = CNNImageClassifier(
        image_size=32, max_epochs=1, augment=False, validation_fraction=0, random_state=0,
        verbose=0,
    )  # fmt: skip
    model = StackingFusionClassifier(
        [("ehr", LogisticRegression(), ["crp"]), ("image", cnn, "image")], cv=2, random_state=0
    ).fit(X, y)
    folder = save_model(model, tmp_path / "model")
    root = json.loads((folder / "model.json").read_text())["estimator"]
    cnn = root["state"]["estimators_"][1]["estimator"]
    assert set(cnn) == {"class", "id", "folder"}  # safetensors + JSON, in its own folder
    assert (folder / cnn["folder"] / "model.safetensors").is_file()
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.predict_modalities(X)["has_image"].tolist() == [i % 4 != 0 for i in range(24)]
