"""Missing modalities, hand-checked fusion arithmetic, explanations and clear errors.

A tiny image-like modality stands in for the CNN: a column whose cells are lists of small
arrays (empty when the patient has no radiograph), read by ``FakeImageClassifier``, so the
list-of-paths path is covered without torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ramultimodal.fusion import (
    EarlyFusionClassifier,
    LateFusionClassifier,
    NoModalityWarning,
    StackingFusionClassifier,
    load_model,
    save_model,
)
from ramultimodal.fusion._presence import modality_presence

# Tiny models: BLAS threads fighting a busy CPU only slow them (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


class FakeImageClassifier(ClassifierMixin, BaseEstimator):
    """A CNN stand-in: each patient's cell is a list of 'images' (arrays), maybe empty.

    Like ``CNNImageClassifier`` it takes a Series of lists, answers NaN for a patient with
    no image, embeds with ``transform`` and saves itself to a folder as JSON.
    """

    def __init__(self, C=1.0):
        self.C = C

    @staticmethod
    def _brightness(X):
        cells = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(list(X))
        return np.array(
            [np.mean([im.mean() for im in ims]) if len(ims) else np.nan for ims in cells]
        )

    def fit(self, X, y):
        brightness = self._brightness(X)
        assert not np.isnan(brightness).any(), "fusion must give only the patients with images"
        self.n_fit_rows_ = len(brightness)
        self.model_ = LogisticRegression(C=self.C).fit(brightness[:, None], y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        brightness = self._brightness(X)
        proba = np.full((len(brightness), 2), np.nan)
        has = ~np.isnan(brightness)
        if has.any():
            proba[has] = self.model_.predict_proba(brightness[has, None])
        return proba

    def transform(self, X):
        brightness = self._brightness(X)
        return np.column_stack([brightness, 2 * brightness])

    def save(self, directory):
        Path(directory).mkdir()
        state = {
            "C": self.C,
            "coef": self.model_.coef_.tolist(),
            "intercept": self.model_.intercept_.tolist(),
            "classes": self.classes_.tolist(),
        }
        (Path(directory) / "model.json").write_text(json.dumps(state))

    @classmethod
    def load(cls, directory):
        state = json.loads((Path(directory) / "model.json").read_text())
        model = cls(C=state["C"])
        model.model_ = LogisticRegression(C=state["C"])
        model.model_.coef_ = np.array(state["coef"])
        model.model_.intercept_ = np.array(state["intercept"])
        model.classes_ = model.model_.classes_ = np.array(state["classes"])
        model.n_fit_rows_ = None
        return model


class ColumnAsProba(ClassifierMixin, BaseEstimator):
    """Reads its one column as P(class 1): fusion arithmetic can be checked by hand."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.n_fit_rows_ = len(y)
        return self

    def predict_proba(self, X):
        p = np.asarray(X, dtype=float).reshape(-1)
        return np.column_stack([1 - p, p])


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """A final estimator that keeps what it was fit on (and takes NaN, as boosting does)."""

    def fit(self, X, y):
        self.X_fit_ = np.asarray(X)
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def cohort(n=80, seed=0):
    """EHR columns and an image column of lists of 4x4 arrays; every 4th patient has none."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    images = [
        [] if i % 4 == 0 else [rng.normal(y[i], 0.7, (4, 4)) for _ in range(1 + i % 3)]
        for i in range(n)
    ]
    X = pd.DataFrame(
        {"crp": rng.normal(y, 1.0), "ccp": rng.normal(y, 1.0), "image": images},
        index=pd.Index([f"p{i:03d}" for i in range(n)], name="subject_id"),
    )
    return X, y


EHR = ("ehr", LogisticRegression(), ["crp", "ccp"])
IMAGE = ("image", FakeImageClassifier(), "image")


# -- presence ------------------------------------------------------------------------------


def test_presence_rule_covers_every_kind_of_missing_cell():
    cells = pd.Series([["a.dcm"], [], None, np.nan, "", "b.png", np.array([]), np.zeros(2)])
    assert modality_presence(cells).tolist() == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        True,
    ]
    frame = pd.DataFrame({"crp": [1.0, np.nan, np.nan], "note": ["", "x", None]})
    assert modality_presence(frame).tolist() == [True, True, False]
    assert modality_presence(np.array([[np.nan, 1], [np.nan, np.nan]])).tolist() == [True, False]


# -- late fusion: hand-checked numbers -----------------------------------------------------


def hand_checked_late(method, weights):
    X = pd.DataFrame({"ehr": [0.8, 0.8, np.nan, np.nan], "img": [0.2, np.nan, 0.2, np.nan]})
    y = np.array([1, 0, 0, 0])
    model = LateFusionClassifier(
        [("ehr", ColumnAsProba(), ["ehr"]), ("img", ColumnAsProba(), ["img"])],
        method=method,
        weights=weights,
    )
    return model.fit(X, y), X


def test_late_fusion_renormalises_weights_over_the_modalities_present():
    model, X = hand_checked_late("weighted_mean", {"ehr": 3, "img": 1})
    # both: (3 * 0.8 + 1 * 0.2) / 4; no image: EHR alone; no EHR: image alone;
    # nothing at all: no probability (not the training prior, which would look like one).
    with pytest.warns(NoModalityWarning, match="1 of 4 patients have none of the modalities"):
        np.testing.assert_allclose(model.predict_proba(X)[:, 1], [0.65, 0.8, 0.2, np.nan])
    assert model.predict(X)[3] != model.predict(X)[3]  # NaN: no class either
    np.testing.assert_allclose(model.weights_, [0.75, 0.25])
    explained = model.predict_modalities(X)
    assert explained.index.equals(X.index)
    np.testing.assert_allclose(explained["weight_ehr"], [0.75, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(explained["weight_img"], [0.25, 0.0, 1.0, 0.0])
    assert explained["has_img"].tolist() == [True, False, True, False]
    np.testing.assert_allclose(explained["proba_img"], [0.2, np.nan, 0.2, np.nan])
    np.testing.assert_allclose(explained["proba"], model.predict_proba(X)[:, 1])


def test_late_fusion_on_the_logit_scale():
    model, X = hand_checked_late("mean_logit", [3, 1])
    # 0.75 * logit(0.8) + 0.25 * logit(0.2) = 0.5 * ln 4 = ln 2, and sigmoid(ln 2) = 2/3.
    with pytest.warns(NoModalityWarning):
        np.testing.assert_allclose(model.predict_proba(X)[:, 1], [2 / 3, 0.8, 0.2, np.nan])


def test_plain_mean_uses_equal_weights():
    model, X = hand_checked_late("mean", None)
    with pytest.warns(NoModalityWarning):
        np.testing.assert_allclose(model.predict_proba(X)[:, 1], [0.5, 0.8, 0.2, np.nan])


def test_auto_weights_follow_out_of_fold_auroc():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    X = pd.DataFrame(
        {
            "ehr": 0.25 + 0.5 * y,  # perfect: AUROC 1, skill 0.5
            "img": [0.1, 0.2, 0.6, 0.7, 0.4, 0.5, 0.8, 0.9],  # 12 of 16 pairs: AUROC 0.75
        }
    )
    model = LateFusionClassifier(
        [("ehr", ColumnAsProba(), ["ehr"]), ("img", ColumnAsProba(), ["img"])],
        weights="auto",
        method="weighted_mean",
        cv=2,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(model.oof_auroc_, [1.0, 0.75])
    np.testing.assert_allclose(model.weights_, [2 / 3, 1 / 3])


# -- stacking and early fusion see NaN and presence ----------------------------------------


def test_stacking_meta_features_are_logits_nan_and_presence_flags():
    y = np.tile([0, 1], 6)
    X = pd.DataFrame({"ehr": np.linspace(0.1, 0.9, 12), "img": np.linspace(0.8, 0.2, 12)})
    X.loc[[1, 3], "img"] = np.nan
    model = StackingFusionClassifier(
        [("ehr", ColumnAsProba(), ["ehr"]), ("img", ColumnAsProba(), ["img"])],
        final_estimator=RecordingClassifier(),
        cv=2,
        passthrough=["ehr"],
        random_state=0,
    ).fit(X, y)
    meta = model.final_estimator_.X_fit_
    logit = np.log(X.to_numpy() / (1 - X.to_numpy()))
    np.testing.assert_allclose(meta[:, :2], logit)  # NaN where there is no image
    np.testing.assert_array_equal(meta[:, 2], np.ones(12))
    np.testing.assert_array_equal(meta[:, 3], [1, 0, 1, 0] + [1] * 8)
    np.testing.assert_allclose(meta[:, 4], X["ehr"])
    assert model.get_feature_names_out().tolist() == [
        "logit_ehr",
        "logit_img",
        "has_ehr",
        "has_img",
        "ehr",
    ]
    # Refit on the rows that have the modality: 10 of 12 have an image.
    assert model.named_estimators_["img"].n_fit_rows_ == 10


def test_default_stacking_meta_learner_imputes_the_missing_modality():
    X, y = cohort()
    model = StackingFusionClassifier([EHR, IMAGE], cv=3, random_state=0).fit(X, y)
    assert model.final_estimator_.steps[0][0] == "simpleimputer"
    proba = model.predict_proba(X)
    assert np.isfinite(proba).all()


def test_early_fusion_gives_nan_embeddings_to_patients_without_images():
    X, y = cohort()
    model = EarlyFusionClassifier(
        [("ehr", "passthrough", ["crp", "ccp"]), ("image", FakeImageClassifier(), "image")],
        estimator=RecordingClassifier(),
    ).fit(X, y)
    features = model.estimator_.X_fit_
    no_image = np.array([len(images) == 0 for images in X["image"]])
    assert features.shape == (80, 4)
    assert np.isnan(features[no_image, 2:]).all()
    assert not np.isnan(features[~no_image]).any()
    np.testing.assert_allclose(features[:, :2], X[["crp", "ccp"]])
    assert model.get_feature_names_out().tolist() == [
        "ehr__crp",
        "ehr__ccp",
        "image__0",
        "image__1",
    ]
    assert model.named_estimators_["image"].n_fit_rows_ == 60


def test_early_fusion_scores_patients_without_an_image_with_a_submodel_of_the_rest(tmp_path):
    X, y = cohort()
    no_image = np.array([len(images) == 0 for images in X["image"]])
    modalities = [("ehr", "passthrough", ["crp", "ccp"]), ("image", FakeImageClassifier(), "image")]
    model = EarlyFusionClassifier(modalities, estimator=LogisticRegression()).fit(X, y)
    assert model.submodel_patterns_ == [("ehr",)]
    # The submodel is the EHR model of every patient, as an EHR-only model would be...
    ehr_only = LogisticRegression().fit(X[["crp", "ccp"]], y)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba[no_image], ehr_only.predict_proba(X[["crp", "ccp"]])[no_image])
    # ...and the patients with an image get the model of both modalities.
    both = model.estimator_.predict_proba(np.hstack(model._features(X)[0]))
    np.testing.assert_allclose(proba[~no_image], both[~no_image])
    np.testing.assert_allclose(model.predict_modalities(X)["proba"], proba[:, 1])

    single = EarlyFusionClassifier(
        modalities, estimator=LogisticRegression(), pattern_submodels=False
    )
    single.fit(X, y)
    assert single.submodels_ == []
    np.testing.assert_allclose(single.predict_proba(X), both)

    loaded = load_model(save_model(model, tmp_path / "model"), trusted=[FakeImageClassifier])
    assert loaded.submodel_patterns_ == [("ehr",)]
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)


def test_early_fusion_leaves_an_unseen_pattern_to_the_full_model():
    X, y = cohort()
    modalities = [("ehr", "passthrough", ["crp", "ccp"]), ("image", FakeImageClassifier(), "image")]
    model = EarlyFusionClassifier(modalities, estimator=RecordingClassifier())
    model.fit(X[[len(images) > 0 for images in X["image"]]], y[X["image"].map(len).gt(0)])
    assert model.submodels_ == []  # everyone in fit had an image
    assert np.isfinite(model.predict_proba(X)).all()  # no image: the full model, NaN features


def test_early_fusion_submodels_with_three_modalities_and_a_patient_with_none():
    X, y = cohort()
    X["pain"] = np.where(np.arange(len(X)) % 5 == 0, np.nan, y + np.arange(len(X)) % 3)
    modalities = [
        ("ehr", "passthrough", ["crp", "ccp"]),
        ("pro", "passthrough", ["pain"]),
        ("image", FakeImageClassifier(), "image"),
    ]
    model = EarlyFusionClassifier(modalities, estimator=LogisticRegression()).fit(X, y)
    # Patients lack the image (every 4th), the PROs (every 5th) or both (every 20th).
    assert sorted(model.submodel_patterns_) == [("ehr",), ("ehr", "image"), ("ehr", "pro")]
    # The EHR-only submodel learns from every patient, whatever else they lack.
    both_missing = (np.arange(len(X)) % 20 == 0).nonzero()[0]
    ehr_only = LogisticRegression().fit(X[["crp", "ccp"]], y)
    np.testing.assert_allclose(
        model.predict_proba(X)[both_missing],
        ehr_only.predict_proba(X[["crp", "ccp"]].iloc[both_missing]),
    )
    # A patient with no modality at all has no probability, in every fusion.
    nobody = X.iloc[:2].copy()
    nobody[["crp", "ccp", "pain"]] = np.nan
    nobody.at[nobody.index[0], "image"] = []
    stacking = StackingFusionClassifier(
        [(name, LogisticRegression(), columns) for name, columns in
         (("ehr", ["crp", "ccp"]), ("pro", ["pain"]))] + [modalities[2]],
        cv=3, random_state=0,
    ).fit(X, y)  # fmt: skip
    late = LateFusionClassifier(stacking.modalities, cv=3, random_state=0).fit(X, y)
    for fusion in (model, stacking, late):
        with pytest.warns(NoModalityWarning, match="1 of 2 patients"):
            proba = fusion.predict_proba(nobody)
        assert np.isnan(proba[0]).all() and np.isfinite(proba[1]).all()
        assert np.isnan(fusion.predict_modalities(nobody)["proba"].iloc[0])
    # Fitting the full model and the three submodels in threads changes nothing.
    threaded = clone(model).set_params(n_jobs=2).fit(X, y)
    assert threaded.submodel_patterns_ == model.submodel_patterns_
    np.testing.assert_array_equal(threaded.predict_proba(X), model.predict_proba(X))


def test_early_fusion_skips_a_submodel_whose_patients_lack_a_class():
    X, y = cohort()
    y = np.where(X["image"].map(len).eq(0), 0, y)
    X.loc[X["image"].map(len).gt(0), ["crp", "ccp"]] = np.nan  # only imageless have EHR
    modalities = [("ehr", "passthrough", ["crp", "ccp"]), ("image", FakeImageClassifier(), "image")]
    model = EarlyFusionClassifier(modalities, estimator=RecordingClassifier()).fit(X, y)
    # Every patient with EHR data is of class 0: no EHR submodel, the full model answers.
    assert ("ehr",) not in model.submodel_patterns_


# -- the image-like modality end to end ----------------------------------------------------


@pytest.mark.parametrize("fusion", [LateFusionClassifier, StackingFusionClassifier])
def test_image_modality_is_trained_and_explained_on_patients_with_images(fusion):
    X, y = cohort()
    model = fusion([EHR, IMAGE], cv=3, random_state=0).fit(X, y)
    assert model.named_estimators_["image"].n_fit_rows_ == 60
    explained = model.predict_modalities(X)
    no_image = np.array([len(images) == 0 for images in X["image"]])
    assert explained["has_image"].tolist() == (~no_image).tolist()
    assert explained["proba_image"][no_image].isna().all()
    assert explained["proba_image"][~no_image].notna().all()
    assert explained["has_ehr"].all()
    np.testing.assert_allclose(explained["proba"], model.predict_proba(X)[:, 1])
    if fusion is LateFusionClassifier:
        # Without an image, late fusion is the EHR model's own answer.
        np.testing.assert_allclose(
            explained["proba"][no_image], explained["proba_ehr"][no_image], rtol=1e-12
        )


def test_own_format_base_model_round_trips_when_its_class_is_trusted(tmp_path):
    X, y = cohort()
    model = StackingFusionClassifier([EHR, IMAGE], cv=3, random_state=0).fit(X, y)
    folder = save_model(model, tmp_path / "model")
    root = json.loads((folder / "model.json").read_text())["estimator"]
    own = root["state"]["estimators_"][1]["estimator"]
    assert own["class"].endswith("FakeImageClassifier")
    assert (folder / own["folder"] / "model.json").is_file()
    with pytest.raises(ValueError, match="which a model folder may not hold"):
        load_model(folder)
    loaded = load_model(folder, trusted=[FakeImageClassifier])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


# -- clear errors --------------------------------------------------------------------------


def test_a_modality_missing_for_everyone_is_refused():
    X, y = cohort()
    X["image"] = [[] for _ in range(len(X))]
    with pytest.raises(ValueError, match="modality 'image' is missing for every row"):
        LateFusionClassifier([EHR, IMAGE]).fit(X, y)


def test_a_single_class_is_refused():
    X, y = cohort()
    with pytest.raises(ValueError, match="one class"):
        StackingFusionClassifier([EHR, IMAGE]).fit(X, np.ones_like(y))
    # One class among the patients who have the modality.
    X["image"] = [images if label == 1 else [] for images, label in zip(X["image"], y, strict=True)]
    with pytest.raises(ValueError, match=r"rows that have modality 'image'.*one class"):
        LateFusionClassifier([EHR, IMAGE]).fit(X, y)


def test_mismatched_columns_are_refused():
    X, y = cohort()
    with pytest.raises(ValueError, match=r"columns of modality 'ehr' do not match X.*esr"):
        LateFusionClassifier([("ehr", LogisticRegression(), ["crp", "esr"]), IMAGE]).fit(X, y)
    model = LateFusionClassifier([EHR, IMAGE]).fit(X, y)
    with pytest.raises(ValueError, match="ccp"):
        model.predict_proba(X.drop(columns="ccp"))


def test_roles_are_checked_with_a_pointer_to_the_right_class():
    X, y = cohort()
    with pytest.raises(TypeError, match=r"through predict_proba.*EarlyFusionClassifier"):
        StackingFusionClassifier([("ehr", StandardScaler(), ["crp"]), IMAGE]).fit(X, y)
    with pytest.raises(TypeError, match=r"through transform.*StackingFusionClassifier"):
        EarlyFusionClassifier([("ehr", LogisticRegression(), ["crp"])]).fit(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"method": "median"}, "method must be one of"),
        ({"method": "mean", "weights": [1, 2]}, "method='mean' averages with equal weights"),
        ({"method": "weighted_mean", "weights": [1]}, "1 values for 2 modalities"),
        ({"method": "weighted_mean", "weights": {"eye": 1}}, "not used"),
        ({"method": "weighted_mean", "weights": [0, 0]}, "not all 0"),
    ],
)
def test_bad_late_fusion_parameters_are_refused(params, message):
    X, y = cohort()
    with pytest.raises(ValueError, match=message):
        LateFusionClassifier([EHR, IMAGE], **params).fit(X, y)


def test_every_modality_dropped_is_refused():
    X, y = cohort()
    with pytest.raises(ValueError, match="every modality is 'drop'"):
        LateFusionClassifier([("ehr", "drop", ["crp"])]).fit(X, y)


def test_prediction_uses_the_fitted_routing_not_later_parameters():
    X, y = cohort()
    model = StackingFusionClassifier([EHR, IMAGE], cv=3, random_state=0).fit(X, y)
    before = model.predict_proba(X)
    model.set_params(image="drop", ehr=LogisticRegression(C=1e-6))
    np.testing.assert_array_equal(model.predict_proba(X), before)
