"""Cross-fitting: the fold models of the out-of-fold splits are the final model (cv fits, not
cv + 1), and early fusion's trees learn from out-of-fold outputs of the image model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from ramultimodal.fusion import (
    EarlyFusionClassifier,
    FoldBagClassifier,
    LateFusionClassifier,
    StackingFusionClassifier,
    load_model,
    save_model,
)
from ramultimodal.models import make_model

pytestmark = [
    pytest.mark.usefixtures("one_blas_thread"),
    # The memorizing stand-in says 0.5 to everyone it did not see: that is its point.
    pytest.mark.filterwarnings("ignore::ramultimodal.fusion.FusionWarning"),
]

FITS: list[np.ndarray] = []  # the patient ids each Memorizer was fit on, in order


class Memorizer(ClassifierMixin, BaseEstimator):
    """A stand-in for the CNN that remembers its training patients: probability y (clipped)
    for a patient it saw, 0.5 for one it did not. Logs each fit in `FITS`."""

    def fit(self, X, y):
        ids = np.asarray(X, dtype=float).reshape(len(y), -1)[:, 0]
        FITS.append(ids)
        self.classes_ = np.unique(y)
        self.memory_ = dict(zip(ids.tolist(), np.asarray(y, float).tolist(), strict=True))
        return self

    def predict_proba(self, X):
        ids = np.asarray(X, dtype=float).reshape(len(X), -1)[:, 0]
        positive = np.array([self.memory_.get(i, 0.5) for i in ids.tolist()])
        positive = np.clip(positive, 0.01, 0.99)
        return np.column_stack([1 - positive, positive])


class Recorder(LogisticRegression):
    """Early fusion's classifier, keeping the features it was trained on."""

    def fit(self, X, y, sample_weight=None):
        self.training_features_ = np.array(X, copy=True)
        return super().fit(X, y, sample_weight)


def patients(n=60, seed=0):
    """`image_id` is what the fake image model reads: the patient's number (NaN: no image)."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = pd.DataFrame({"crp": rng.normal(y, 1.0), "image_id": np.arange(n, dtype=float)})
    X.loc[::5, "image_id"] = np.nan
    return X, y


def modalities():
    return [("ehr", LogisticRegression(), ["crp"]), ("image", Memorizer(), ["image_id"])]


FUSIONS = {
    "late": lambda cross_fit: LateFusionClassifier(
        modalities(), method="mean_logit", weights="auto", cv=3, random_state=0,
        cross_fit=cross_fit,
    ),
    "stacking": lambda cross_fit: StackingFusionClassifier(
        modalities(), cv=3, random_state=0, cross_fit=cross_fit
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(FUSIONS))
def test_the_image_model_is_fit_cv_times_not_cv_plus_one(kind):
    X, y = patients()
    FITS.clear()
    FUSIONS[kind](None).fit(X, y)
    assert len(FITS) == 4  # three folds and the refit on all
    FITS.clear()
    model = FUSIONS[kind](["image"]).fit(X, y)
    assert len(FITS) == 3
    bag = model.named_estimators_["image"]
    assert isinstance(bag, FoldBagClassifier) and len(bag.estimators_) == 3
    # The bag's members are the very fold models: each saw two folds, none saw everyone.
    seen = [set(model.memory_) for model in bag.estimators_]
    assert [set(ids.tolist()) for ids in FITS] == seen
    present = set(X["image_id"].dropna().tolist())
    assert all(s < present for s in seen) and set.union(*seen) == present
    # The EHR model, not cross-fitted, is still refit on everyone.
    assert isinstance(model.named_estimators_["ehr"], LogisticRegression)


@pytest.mark.parametrize("kind", sorted(FUSIONS))
def test_a_bag_predicts_the_mean_of_its_fold_models(kind):
    X, y = patients()
    model = FUSIONS[kind](["image"]).fit(X, y)
    bag = model.named_estimators_["image"]
    rows = X["image_id"].notna().to_numpy()
    data = X.loc[rows, ["image_id"]]
    mean = np.mean([m.predict_proba(data) for m in bag.estimators_], axis=0)
    np.testing.assert_allclose(bag.predict_proba(data), mean, rtol=0, atol=1e-15)
    frame = model.predict_modalities(X)
    np.testing.assert_allclose(frame.loc[rows, "proba_image"], mean[:, 1], rtol=0, atol=1e-15)


def test_early_fusion_learns_from_out_of_fold_image_outputs():
    X, y = patients()
    FITS.clear()
    model = EarlyFusionClassifier(
        [("ehr", "passthrough", ["crp"]), ("image", Memorizer(), ["image_id"])],
        estimator=Recorder(),
        pattern_submodels=False,
        cv=3,
        random_state=0,
        cross_fit=["image"],
    ).fit(X, y)
    assert len(FITS) == 3
    assert model.get_feature_names_out().tolist() == ["ehr__crp", "image__logit"]
    image = model.estimator_[-1].training_features_[:, 1]
    has_image = X["image_id"].notna().to_numpy()
    # A fold model that had seen the patient would say logit(0.01) or logit(0.99); the one
    # that did not says 0.5, log-odds 0. A patient without an image gets the imputer's mean.
    np.testing.assert_allclose(image[has_image], 0.0, atol=1e-12)
    # In sample (what early fusion learned from before cross_fit), the bag remembers them.
    in_sample = model.transformers_[1].transform(X.loc[has_image, ["image_id"]])[:, 0]
    assert np.all(np.abs(in_sample) > 1.0)


def test_early_fusion_with_cross_fit_and_calibration_fits_the_image_model_cv_times():
    X, y = patients()
    FITS.clear()
    model = EarlyFusionClassifier(
        [("ehr", "passthrough", ["crp"]), ("image", Memorizer(), ["image_id"])],
        estimator=LogisticRegression(),
        cv=3,
        random_state=0,
        cross_fit=["image"],
        calibration="sigmoid",
    ).fit(X, y)
    assert len(FITS) == 3  # the calibrator's folds refit the classifiers, not the image model
    assert model.calibrator_["method"] == "sigmoid"
    assert np.isfinite(model.predict_proba(X)).all()


def test_cross_fit_errors_name_what_to_do():
    X, y = patients()
    with pytest.raises(ValueError, match="cross_fit names \\['scan'\\]"):
        FUSIONS["stacking"](["scan"]).fit(X, y)
    with pytest.raises(ValueError, match="list of modality names"):
        FUSIONS["stacking"]("image").fit(X, y)
    with pytest.raises(ValueError, match="cv='prefit' has none"):
        StackingFusionClassifier(modalities(), cv="prefit", cross_fit=["image"]).fit(X, y)
    with pytest.raises(ValueError, match="'passthrough' and in cross_fit"):
        EarlyFusionClassifier(
            [("ehr", "passthrough", ["crp"]), ("image", Memorizer(), ["image_id"])],
            cross_fit=["ehr", "image"],
        ).fit(X, y)


def test_fold_bag_alone_fits_cv_models_and_gives_out_of_fold_features():
    X, y = patients()
    data = X[["crp"]]
    bag = FoldBagClassifier(LogisticRegression(), cv=4, random_state=0)
    oof = bag.fit_transform(data, y)
    assert len(bag.estimators_) == 4 and oof.shape == (len(y), 1)
    np.testing.assert_allclose(oof[:, 0], np.log(bag.oof_proba_[:, 1] / bag.oof_proba_[:, 0]))
    assert not hasattr(clone(bag), "estimators_")
    assert bag.get_feature_names_out().tolist() == ["logit"]


@pytest.mark.parametrize("kind", ["stacking", "late"])
def test_a_saved_bag_loads_with_identical_predictions(kind, tmp_path):
    X, y = patients()
    X = X.assign(image_id=X["image_id"] / 60 + np.random.default_rng(1).normal(y, 0.5))
    image = ("image", LogisticRegression(), ["image_id"])
    ehr = ("ehr", LogisticRegression(), ["crp"])
    fusion = {"stacking": StackingFusionClassifier, "late": LateFusionClassifier}[kind]
    extra = {"method": "mean_logit", "weights": "auto"} if kind == "late" else {}
    model = fusion([ehr, image], cv=3, random_state=0, cross_fit=["image"], **extra).fit(X, y)
    folder = save_model(model, tmp_path / "model")
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    bag = json.loads((folder / "model.json").read_text())["estimator"]["state"]["estimators_"][1]
    assert bag["estimator"]["class"] == "ramultimodal.fusion.FoldBagClassifier"
    assert len(bag["estimator"]["state"]["estimators_"]) == 3


def test_a_bag_of_cnns_saves_each_network_in_its_own_folder(tmp_path):
    pytest.importorskip("torch")
    from ramultimodal.image import CNNImageClassifier, grad_cam

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
        [("ehr", LogisticRegression(), ["crp"]), ("image", cnn, "image")],
        cv=2,
        random_state=0,
        cross_fit=["image"],
    ).fit(X, y)
    folder = save_model(model, tmp_path / "model")
    manifest = json.loads((folder / "manifest.json").read_text())["files"]
    weights = sorted(name for name in manifest if name.endswith("model.safetensors"))
    assert len(weights) == 2  # one per fold network, each hashed in the manifest
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    bag = model.named_estimators_["image"]
    heat = grad_cam(bag, images[1][0])
    members = [grad_cam(member, images[1][0]) for member in bag.estimators_]
    mean = np.mean(members, axis=0)
    np.testing.assert_allclose(heat, mean / mean.max() if mean.max() > 0 else mean, atol=1e-6)


def test_make_model_cross_fits_the_image_model_of_late_fusion_and_stacking():
    for kind in ("late", "stacking"):
        model = make_model(kind, ehr_columns=["crp"])
        assert model.get_params()["cross_fit"] == ["image"], kind
    assert make_model("early", ehr_columns=["crp"]).cross_fit is None
    model = make_model("stacking", ehr_columns=["crp"], fusion_params={"cross_fit": None})
    assert model.cross_fit is None
