"""save_model / load_model: one call, safe formats only, identical predictions."""

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
from threadpoolctl import threadpool_limits
from xgboost import XGBClassifier

from ramultimodal.fusion import (
    EarlyFusionClassifier,
    LateFusionClassifier,
    StackingFusionClassifier,
    load_model,
    save_model,
)


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


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


def test_each_base_model_is_stored_in_its_own_safe_format(tmp_path):
    X, y = patients()
    model = clone(MODELS["stacking-pipeline-xgb-lgbm"]).fit(X, y)
    folder = save_model(model, tmp_path / "model")
    manifest = json.loads((folder / "manifest.json").read_text())
    bases = manifest["fitted_estimators"]["estimators_"]
    assert [entry["format"] for entry in bases] == ["skops", "xgboost"]
    assert bases[1]["class"] == "xgboost.sklearn.XGBClassifier"
    assert manifest["fitted_estimators"]["final_estimator_"]["format"] == "lightgbm"
    assert (folder / "estimators" / "final_estimator_.txt").read_text().startswith("tree")
    assert json.loads((folder / "estimators" / "estimators_1.json").read_text())["learner"]
    assert manifest["class"] == "StackingFusionClassifier"
    assert manifest["params"]["passthrough"] == ["crp"]
    assert [m["name"] for m in manifest["modalities"]] == ["ehr", "image"]
    # No pickle anywhere: every file is JSON, text, or a skops zip.
    suffixes = {path.suffix for path in folder.rglob("*") if path.is_file()}
    assert suffixes <= {".json", ".txt", ".skops"}


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
def test_functions_outside_the_allow_list_are_refused(function, tmp_path):
    X, y = patients()
    model = LateFusionClassifier([("ehr", LogisticRegression(), ["crp"])]).fit(X, y)
    # What a tampered file could hold: a pipeline step that calls an arbitrary function.
    # Even in numpy, only classes and ufuncs are allowed, not functions such as np.save.
    model.estimators_[0] = make_pipeline(FunctionTransformer(function), LogisticRegression())
    folder = save_model(model, tmp_path / "model")
    name = f"{function.__module__}.{function.__name__}"
    with pytest.raises(ValueError, match=rf"outside ramultimodal's allow-list: \['{name}'\]"):
        load_model(folder)


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    X, y = patients()
    model = clone(MODELS["early-xgb"]).fit(X, y)
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="choose a new folder"):
        save_model(model, tmp_path / "taken")
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
    with pytest.raises(FileNotFoundError, match="not a saved model"):
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
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["fitted_estimators"]["estimators_"][1]["format"] == "own"
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.predict_modalities(X)["has_image"].tolist() == [i % 4 != 0 for i in range(24)]
