"""Explanations: TreeSHAP sums to the margin, fusion contributions sum to the fused logit."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from scipy.special import logit
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from xgboost import XGBClassifier

from ramultimodal.ehr._feature_text import describe_feature, feature_label
from ramultimodal.evaluation._contributions import explain_fusion
from ramultimodal.evaluation._reasons import importance, reasons
from ramultimodal.evaluation._tree_shap import model_contributions
from ramultimodal.fusion import (
    EarlyFusionClassifier,
    LateFusionClassifier,
    NoModalityWarning,
    StackingFusionClassifier,
)


def _lgbm():
    return LGBMClassifier(n_estimators=25, min_child_samples=5, verbose=-1, n_jobs=1)


def _xgb():
    return XGBClassifier(n_estimators=25, max_depth=3, n_jobs=1)


@pytest.fixture(scope="module")
def cohort():
    """120 patients: no radiograph for a quarter, no PRO for some, one with nothing."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 60)
    X = pd.DataFrame(
        {
            "crp_last_90d": rng.normal(5 + 10 * y, 5),
            "anti_ccp_max_all": rng.normal(10 + 30 * y, 15),
            "pain_last_90d": rng.normal(3 + 2 * y, 2),
            "jsn": rng.normal(y, 1.0),
            "erosions": rng.normal(y, 1.0),
        }
    )
    X.loc[::4, ["jsn", "erosions"]] = np.nan
    X.loc[1::7, "pain_last_90d"] = np.nan
    X.loc[5, :] = np.nan
    return X, y


COLUMNS = {"ehr": ["crp_last_90d", "anti_ccp_max_all"], "pro": ["pain_last_90d"]}


def _classifiers(tree=_lgbm):
    return [
        ("ehr", tree(), COLUMNS["ehr"]),
        ("pro", tree(), COLUMNS["pro"]),
        ("image", LogisticRegression(), ["jsn", "erosions"]),
    ]


def _early(estimator, **params):
    modalities = [
        ("ehr", "passthrough", COLUMNS["ehr"]),
        ("pro", "passthrough", COLUMNS["pro"]),
        ("image", PCA(1), ["jsn", "erosions"]),
    ]
    return EarlyFusionClassifier(modalities, estimator=estimator, random_state=0, **params)


FUSIONS = {
    "late-mean_logit": lambda: LateFusionClassifier(
        _classifiers(), method="mean_logit", weights="auto", cv=3, random_state=0
    ),
    "late-mean": lambda: LateFusionClassifier(_classifiers(), method="mean"),
    "stacking": lambda: StackingFusionClassifier(_classifiers(), cv=3, random_state=0),
    "stacking-proba-passthrough": lambda: StackingFusionClassifier(
        _classifiers(), cv=3, random_state=0, scale="proba", passthrough=["crp_last_90d"]
    ),
    "stacking-tree-meta": lambda: StackingFusionClassifier(
        _classifiers(), cv=3, random_state=0, final_estimator=_lgbm()
    ),
    "early-submodels": lambda: _early(_lgbm()),
    "early-one-model": lambda: _early(_lgbm(), pattern_submodels=False),
    "early-xgboost": lambda: _early(_xgb()),
    "late-xgboost": lambda: LateFusionClassifier(
        _classifiers(_xgb), method="mean_logit", weights={"ehr": 2, "pro": 1, "image": 1}
    ),
}


@pytest.fixture(scope="module")
def explained(cohort):
    X, y = cohort
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoModalityWarning)
        for name, build in FUSIONS.items():
            model = build().fit(X, y)
            out[name] = (model, explain_fusion(model, X), model.predict_proba(X)[:, 1])
    return out


@pytest.mark.parametrize(
    "model",
    [
        _lgbm(),
        _xgb(),
        LogisticRegression(),
        make_pipeline(SimpleImputer(keep_empty_features=True), LogisticRegression()),
    ],
    ids=["lightgbm", "xgboost", "linear", "pipeline"],
)
def test_contributions_sum_to_the_raw_margin(cohort, model):
    X, y = cohort
    X = X.drop(index=5)
    y = np.delete(y, 5)
    if not isinstance(model, LGBMClassifier | XGBClassifier):
        X = X.fillna(X.mean()) if isinstance(model, LogisticRegression) else X
    model.fit(X, y)
    contributions, bias = model_contributions(model, X)
    assert contributions.shape == X.shape
    margin = logit(np.clip(model.predict_proba(X)[:, 1], 1e-12, 1 - 1e-12))
    np.testing.assert_allclose(contributions.sum(axis=1) + bias, margin, atol=1e-4)


def test_booster_alone_and_unknown_models():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    model = _lgbm().fit(X, y)
    direct, _ = model_contributions(model.booster_, X)
    np.testing.assert_allclose(direct, model_contributions(model, X)[0])
    with pytest.raises(TypeError, match="LightGBM or XGBoost"):
        model_contributions(object(), X)


@pytest.mark.parametrize("name", list(FUSIONS))
def test_fusion_contributions_sum_to_the_fused_logit(explained, name):
    _, explanation, proba = explained[name]
    table = explanation.modalities
    parts = table.filter(like="contribution_")
    assert "contribution_baseline" in parts
    np.testing.assert_allclose(parts.sum(axis=1, skipna=False), table["logit"], atol=1e-9)
    scored = np.isfinite(proba)
    fused = logit(np.clip(proba[scored], 1e-6, 1 - 1e-6))
    np.testing.assert_allclose(table["logit"][scored], fused, atol=1e-4)
    # The patient with no modality: no probability, no explanation.
    assert not scored[5] and table.loc[5].drop("explained").isna().all()
    assert (table["explained"] == "fused logit").all()


@pytest.mark.parametrize("name", ["late-mean_logit", "late-mean", "early-submodels"])
def test_an_absent_modality_has_no_say(explained, name, cohort):
    X, _ = cohort
    _, explanation, _ = explained[name]
    no_image = X["jsn"].isna() & X["crp_last_90d"].notna()
    assert no_image.sum() > 20
    np.testing.assert_array_equal(explanation.modalities.loc[no_image, "contribution_image"], 0)


@pytest.mark.filterwarnings("ignore::ramultimodal.fusion.NoModalityWarning")
def test_stacking_absent_modality_is_what_the_model_learned_for_absent(explained, cohort):
    X, _ = cohort
    model, explanation, _ = explained["stacking"]
    no_image = X["jsn"].isna() & X["crp_last_90d"].notna()
    # Everyone without a radiograph gets the same, learned offset.
    assert explanation.modalities.loc[no_image, "contribution_image"].nunique() == 1
    # ... and a patient with one: the meta-coefficient times the image model's logit.
    coef = model.final_estimator_[-1].coef_.ravel()
    row = int(np.flatnonzero(~X["jsn"].isna())[0])
    image_logit = logit(model.predict_modalities(X)["proba_image"].iloc[row])
    assert explanation.modalities.loc[row, "contribution_image"] == pytest.approx(
        coef[2] * image_logit, abs=1e-6
    )


@pytest.mark.filterwarnings("ignore::ramultimodal.fusion.NoModalityWarning")
def test_feature_contributions_add_up_within_a_late_fusion_modality(explained, cohort):
    model, explanation, _ = explained["late-mean_logit"]
    # mean_logit: each feature's TreeSHAP times the modality's weight; with the weighted
    # model bias, a modality's features add up to its contribution.
    ehr = explanation.features[COLUMNS["ehr"]].sum(axis=1)
    weight = model.predict_modalities(cohort[0])["weight_ehr"]
    bias = model_contributions(model.named_estimators_["ehr"], cohort[0][COLUMNS["ehr"]])[1]
    rows = explanation.presence["ehr"].to_numpy()
    np.testing.assert_allclose(
        (ehr + weight * bias)[rows],
        explanation.modalities.loc[rows, "contribution_ehr"],
        atol=1e-5,
    )


@pytest.mark.parametrize("name", ["late-mean_logit", "stacking", "early-submodels"])
def test_sigmoid_calibration_keeps_the_identity_and_isotonic_says_so(cohort, explained, name):
    X, _ = cohort
    model, plain, _ = explained[name]
    model.calibrator_ = {"method": "sigmoid", "slope": 0.5, "intercept": -0.25}
    try:
        calibrated = explain_fusion(model, X).modalities
        model.calibrator_ = {"method": "isotonic", "x": [0, 1], "y": [0, 1]}
        isotonic = explain_fusion(model, X).modalities
    finally:
        del model.calibrator_
    parts = calibrated.filter(like="contribution_").sum(axis=1, skipna=False)
    np.testing.assert_allclose(parts, calibrated["logit"], atol=1e-9)
    np.testing.assert_allclose(calibrated["logit"], 0.5 * plain.modalities["logit"] - 0.25)
    assert (calibrated["explained"] == "calibrated logit").all()
    assert (isotonic["explained"] == "logit before isotonic calibration").all()
    np.testing.assert_allclose(isotonic["logit"], plain.modalities["logit"])


def test_reasons_are_signed_sentences_with_values(explained):
    _, explanation, _ = explained["early-submodels"]
    table = reasons(explanation)
    assert list(table.columns) == [f"reason_{i}" for i in range(1, 6)]
    first = table.loc[0, "reason_1"]
    assert re.match(r"^[+-]\d+\.\d\d \S", first), first
    assert (table.loc[5] == "").all()  # no modality, no reasons
    texts = " ".join(table.to_numpy().ravel())
    assert "anti-CCP, highest ever = " in texts and "U/mL" in texts
    assert "crp_last_90d" not in texts
    sizes = importance(explanation)
    assert sizes.index[0] in {"CRP, last in 90 days", "anti-CCP, highest ever"}


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("crp_last_90d", 24.0, "CRP, last in 90 days = 24 mg/L (high)"),
        ("anti_ccp_max_all", 340.0, "anti-CCP, highest ever = 340 U/mL (high)"),
        ("rf_min_365d", 8.0, "RF, lowest in 365 days = 8 IU/mL (normal)"),
        ("esr_count_90d", 3.0, "ESR, times recorded in 90 days = 3"),
        ("tender_joints_28_last_all", 4.0, "tender joints (of 28), last ever = 4"),
        ("crp_slope_365d", 4.12, "CRP, trend per year in 365 days = +4.12 mg/L"),
        ("age_at_index", 54.3, "age = 54.3 years"),
        ("sex_female", 0.0, "sex = male"),
        ("family_history_ra", 1.0, "family history of RA = yes"),
        ("acr_eular_serology", 3.0, "ACR/EULAR 2010 serology (B) = 3 of 3"),
        ("haq_di_score", 1.25, "HAQ-DI = 1.25 of 3"),
        ("anti_ccp_missing", 1.0, "anti-CCP never recorded"),
        ("smoking_missing", 0.0, "smoking recorded"),
        ("crp_last_90d", np.nan, "CRP, last in 90 days: not recorded"),
        ("something_else", 2.0, "something else = 2"),
    ],
)
def test_feature_names_read_as_a_clinician_writes_them(name, value, text):
    assert describe_feature(name, value) == text


def test_every_featurizer_column_has_words():
    from ramultimodal.ehr import EHRFeaturizer
    from ramultimodal.io import as_events

    events = as_events(
        [{"subject_id": "a", "time": "2021-01-01", "code": "LOINC/1988-5", "numeric_value": 3.0}]
    )
    patients = pd.DataFrame(
        {"index_date": pd.to_datetime(["2021-03-01"])}, index=pd.Index(["a"], name="subject_id")
    )
    names = EHRFeaturizer(events).fit(patients).get_feature_names_out()
    for name in names:
        assert "_" not in feature_label(name).replace("(B)", ""), name


def test_out_of_fold_explanations_use_each_fold_model(cohort, tmp_path):
    from ramultimodal.evaluation import patient_cross_validate
    from ramultimodal.evaluation._explain_report import out_of_fold_explanations

    X, y = cohort
    X, y = X.drop(index=5), np.delete(y, 5)
    result = patient_cross_validate(_early(_lgbm()), X, y, cv=3, keep_estimators=True)
    assert len(result.estimators) == len(result.test_rows) == 3
    figures, overlays = out_of_fold_explanations(result, X, y, tmp_path)
    assert len(figures) == 2 and overlays == []  # no CNN here: nothing to overlay


def test_only_binary_fusions_are_explained(cohort):
    X, _ = cohort
    X = X.drop(index=5)
    y = np.arange(len(X)) % 3
    model = LateFusionClassifier(_classifiers(), method="mean").fit(X, y)
    with pytest.raises(ValueError, match="binary"):
        explain_fusion(model, X)
    with pytest.raises(TypeError, match="fusion classifiers"):
        explain_fusion(LogisticRegression(max_iter=2000).fit(X.fillna(0), y), X.fillna(0))


@pytest.mark.parametrize(
    "build",
    [
        lambda: LateFusionClassifier(
            _classifiers(), method="mean_logit", cv=3, random_state=0, calibration="sigmoid"
        ),
        lambda: StackingFusionClassifier(
            _classifiers(), cv=3, random_state=0, calibration="sigmoid"
        ),
        lambda: _early(_lgbm(), cv=3, calibration="sigmoid"),
        lambda: _early(_xgb(), cv=3, calibration="sigmoid"),
    ],
    ids=["late", "stacking", "early", "early-xgboost"],
)
def test_a_fitted_sigmoid_calibrator_is_explained_on_the_probability_given(cohort, build):
    # Not a calibrator set by hand: the one the fusion fitted, so the explanation's logit is
    # the logit of what predict_proba gives, and the parts still add up to it.
    X, y = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoModalityWarning)
        model = build().fit(X, y)
        explained = explain_fusion(model, X).modalities
        proba = model.predict_proba(X)[:, 1]
    assert model.calibrator_["method"] == "sigmoid"
    answered = ~np.isnan(proba)
    # Within float32 rounding: the trees and the clip work in single precision.
    np.testing.assert_allclose(explained["logit"][answered], logit(proba[answered]), atol=1e-4)
    parts = explained.filter(like="contribution_").sum(axis=1, skipna=False)
    np.testing.assert_allclose(parts[answered], explained["logit"][answered], atol=1e-9)
