import json
import warnings

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


def reference_bootstrap(y, proba, metric, n_boot, random_state, versus=None):
    """The bootstrap as it was before issue 15, kept as the slow reference: one
    ``rng.choice`` per class and replicate, one call of the metric per replicate."""
    from sklearn.utils import check_random_state

    from ramultimodal.evaluation import METRICS

    function = METRICS[metric] if isinstance(metric, str) else metric
    rng = check_random_state(random_state)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    samples = [
        np.concatenate(
            [rng.choice(positives, positives.size), rng.choice(negatives, negatives.size)]
        )
        for _ in range(n_boot)
    ]
    alpha = (1 - 0.95) / 2  # not quite 0.025
    if versus is None:
        return np.nanquantile([function(y[s], proba[s]) for s in samples], [alpha, 1 - alpha])
    differences = [function(y[s], proba[s]) - function(y[s], versus[s]) for s in samples]
    return np.quantile(differences, [alpha, 1 - alpha])


def bootstrap_case(kind: str, seed: int):
    """Truth and probabilities of a small cohort of one kind, NaN where unscored."""
    rng = np.random.default_rng(seed)
    n = 25 if kind == "small" else 90
    y = (np.arange(n) % 3 == 0).astype(int)
    proba = np.clip(0.35 * y + rng.uniform(0, 0.75, n), 0, 1)
    if kind == "ties":  # scores in tenths, as the criteria's
        proba = np.round(proba, 1)
    elif kind == "separated":  # most replicates have no logistic maximum
        proba = np.where(y == 1, 0.6 + 0.4 * proba, 0.5 * proba)
    elif kind == "missing":
        proba[rng.uniform(size=n) < 0.2] = np.nan
    return y, proba


CASES = [("continuous", 0), ("ties", 1), ("separated", 2), ("small", 3), ("missing", 4)]


def test_bootstrap_draws_the_replicates_it_drew_before():
    from ramultimodal.evaluation._metrics import _bootstrap_indices

    for seed in range(4):
        y = (np.random.default_rng(seed).uniform(size=37) < 0.3).astype(int)
        before = np.random.RandomState(seed)
        positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        expected = [
            np.r_[
                before.choice(positives, positives.size), before.choice(negatives, negatives.size)
            ]
            for _ in range(50)
        ]
        stream = np.random.RandomState(seed)
        np.testing.assert_array_equal(_bootstrap_indices(y, 50, stream), expected)
        # A generator handed in is left where one choice per class and replicate left it.
        assert stream.randint(10**9) == before.randint(10**9)


@pytest.mark.parametrize("kind, seed", CASES)
def test_bootstrap_intervals_are_bit_for_bit_those_of_one_call_per_replicate(kind, seed):
    from ramultimodal.evaluation import METRICS

    y, proba = bootstrap_case(kind, seed)
    scored = ~np.isnan(proba)
    for metric in METRICS:
        estimate = bootstrap_metric(y, proba, metric, n_boot=120, random_state=seed)
        low, high = reference_bootstrap(y[scored], proba[scored], metric, 120, seed)
        assert (estimate.low, estimate.high) == (low, high), metric
        assert estimate.value == METRICS[metric](y[scored], proba[scored]), metric
        assert estimate.n == scored.sum()


@pytest.mark.parametrize("kind, seed", CASES[:3])
def test_paired_bootstrap_is_bit_for_bit_that_of_one_call_per_replicate(kind, seed):
    y, proba = bootstrap_case(kind, seed)
    other = np.clip(0.15 * y + np.random.default_rng(seed + 10).uniform(size=y.size), 0, 1)
    for metric in ("auroc", "auprc", "brier", "calibration_slope", "ece"):
        difference = paired_bootstrap(y, proba, other, metric, n_boot=120, random_state=seed)
        expected = reference_bootstrap(y, proba, metric, 120, seed, versus=other)
        assert (difference.low, difference.high) == tuple(expected), metric


def test_a_metric_undefined_on_the_replicates_is_handled_as_before():
    # One class only: scikit-learn's AUROC of every replicate is NaN (with a warning), and
    # so is the paired interval, as before; bootstrap_metric refuses, as before.
    y = np.ones(12, int)
    a, b = np.linspace(0, 1, 12), np.linspace(1, 0, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        difference = paired_bootstrap(y, a, b, n_boot=30)
        expected = reference_bootstrap(y, a, "auroc", 30, 0, versus=b)
    np.testing.assert_array_equal([difference.low, difference.high], expected)
    assert np.isnan(difference.low)
    with pytest.raises(ValueError, match="Both classes"):
        bootstrap_metric(y, a, n_boot=30)
    with pytest.raises(ValueError, match="n_boot must be at least 1"):
        bootstrap_metric([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], n_boot=0)


def test_a_function_of_ones_own_is_still_called_per_replicate():
    y, proba = bootstrap_case("continuous", 5)

    def accuracy(y_true, p):
        return float(np.mean((p > 0.5) == y_true))

    estimate = bootstrap_metric(y, proba, accuracy, n_boot=80, random_state=1)
    assert (estimate.low, estimate.high) == tuple(reference_bootstrap(y, proba, accuracy, 80, 1))


def test_metric_table_without_a_seed_draws_anew_for_every_metric_as_before():
    y, proba = bootstrap_case("ties", 6)
    metrics = ("auroc", "brier")
    table = metric_table(
        y, {"m": proba}, metrics=metrics, n_boot=60, random_state=np.random.RandomState(3)
    )
    stream = np.random.RandomState(3)
    for metric in metrics:
        low, high = reference_bootstrap(y, proba, metric, 60, stream)
        assert (table.loc["m", f"{metric}_low"], table.loc["m", f"{metric}_high"]) == (low, high)


def test_every_replicate_at_once_matches_one_call_per_replicate():
    from ramultimodal.evaluation import METRICS, _replicates
    from ramultimodal.evaluation._metrics import _bootstrap_indices, _vectorised

    for kind, seed in CASES:
        y, proba = bootstrap_case(kind, seed)
        y, proba = y[~np.isnan(proba)], proba[~np.isnan(proba)]
        samples = _bootstrap_indices(y, 60, seed)
        for metric, function in METRICS.items():
            vectorised = _vectorised(function)
            fast = vectorised.all_replicates(y, proba, samples)
            slow = np.array([function(y[s], proba[s]) for s in samples])
            if metric == "calibration_slope":
                # A fit with no maximum (the score separates the replicate's classes, and
                # the slope runs away) is left to the one-replicate fit: NaN here.
                gave_up = np.isnan(fast)
                assert gave_up.all() if kind == "separated" else (abs(slow[gave_up]) > 10).all()
                fast, slow = fast[~gave_up], slow[~gave_up]
            np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12, err_msg=metric)
            if vectorised.exact:
                np.testing.assert_array_equal(fast, slow, err_msg=metric)
            if vectorised.one_replicate is not None:
                again = [vectorised.one_replicate(y[s], proba[s]) for s in samples]
                np.testing.assert_array_equal(again, slow, err_msg=metric)
        ranks = _replicates.roc_auc(y, proba, samples)
        assert ((ranks >= 0) & (ranks <= 1)).all()


# Computed with the code before issue 15 (main at 2817e14, one scikit-learn call per
# replicate), on the cohort `defaults_cohort` makes: the intervals of `ramultimodal
# evaluate` (n_boot 1000) and of the demo (n_boot 500), and the demo's printed table.
BEFORE = {
    1000: {
        "auroc": {
            "ACR/EULAR 2010": (0.6519704433497536, 0.8078863346104725),
            "image alone": (0.7373264540337712, 0.8998499061913696),
            "EarlyFusion": (0.9821154898741105, 0.9987274220032841),
        },
        "calibration_slope": {
            "ACR/EULAR 2010": (0.3770452599417823, 0.9170938309969658),
            "image alone": (0.934389263250991, 2.031246892865847),
            "EarlyFusion": (5.555464902950233, 23.424610043002083),
        },
        "ece": {
            "ACR/EULAR 2010": (0.13198333333332501, 0.24003333333332497),
            "image alone": (0.191296570069725, 0.29268487286609995),
            "EarlyFusion": (0.16744820306117503, 0.227390988721575),
        },
        "versus": {
            "image alone": (-0.05441369606003761, 0.18875234521575993),
            "EarlyFusion": (0.18536535303776674, 0.3398399014778325),
        },
        "subgroups": [
            (0.6367420014880952, 0.8250604538690477),
            (0.5501811594202899, 0.8541407867494824),
            (0.7433333333333334, 0.92),
            (0.5786363636363636, 0.9575757575757576),
            (0.9819475446428572, 0.9996279761904762),
            (0.9834368530020704, 1.0),
        ],
        "summary": """\
                patients  AUROC       95% CI  sens@spec0.61
EarlyFusion          150  0.992  0.982-0.999          1.000
image alone          106  0.826  0.737-0.900          0.805
ACR/EULAR 2010       150  0.732  0.652-0.808          0.476""",
    },
    500: {
        "auroc": {
            "ACR/EULAR 2010": (0.6531153074256523, 0.8043491151249771),
            "image alone": (0.7371388367729832, 0.8994559099437148),
            "EarlyFusion": (0.9817551541689472, 0.9986361977741288),
        },
        "calibration_slope": {
            "ACR/EULAR 2010": (0.3787750019690431, 0.9013619441482303),
            "image alone": (0.9290675956797908, 2.0369641231350015),
            "EarlyFusion": (5.6836797517096125, 24.6218397736355),
        },
        "ece": {
            "ACR/EULAR 2010": (0.132666666667, 0.24069999999982497),
            "image alone": (0.192934484230225, 0.29006463472482497),
            "EarlyFusion": (0.1691973252599, 0.227079708124775),
        },
        "versus": {
            "image alone": (-0.056393058161350866, 0.18962945590994373),
            "EarlyFusion": (0.18620917715745303, 0.3389983579638751),
        },
        "subgroups": [
            (0.6339750744047619, 0.8245861235119049),
            (0.5551242236024846, 0.8334368530020705),
            (0.7428166666666667, 0.9210333333333334),
            (0.6, 0.9575757575757576),
            (0.9813988095238095, 1.0),
            (0.9834368530020704, 1.0),
        ],
        "summary": """\
                patients  AUROC       95% CI  sens@spec0.61
EarlyFusion          150  0.992  0.982-0.999          1.000
image alone          106  0.826  0.737-0.899          0.805
ACR/EULAR 2010       150  0.732  0.653-0.804          0.476""",
    },
}


def defaults_cohort():
    rng = np.random.default_rng(3)
    y = (rng.uniform(size=150) < 0.4).astype(int)

    def model(strength):
        return np.clip(strength * y + rng.uniform(0, 1 - strength / 2, 150), 0, 1)

    image = model(0.4)
    image[rng.uniform(size=150) < 0.25] = np.nan
    predictions = {
        "ACR/EULAR 2010": np.round(model(0.3) * 10) / 10,
        "image alone": image,
        "EarlyFusion": model(0.6),
    }
    sex = pd.DataFrame({"sex": np.where(rng.uniform(size=150) < 0.7, "female", "male")})
    return y, predictions, sex


@pytest.mark.parametrize("n_boot", [1000, 500])
def test_evaluate_and_demo_defaults_give_the_intervals_of_before(n_boot):
    from ramultimodal.evaluation import evaluate_predictions
    from ramultimodal.workflows._demo import _summary

    y, predictions, sex = defaults_cohort()
    evaluation = evaluate_predictions(
        y, predictions, baseline="ACR/EULAR 2010", subgroups=sex, n_boot=n_boot, random_state=0
    )
    before = BEFORE[n_boot]
    # The printed table, character for character; the numbers to 1e-12 here (bit for bit
    # on the machine that computed them: a calibration fit goes through LAPACK).
    assert _summary(evaluation.metrics).to_string() == before["summary"]
    for metric in ("auroc", "calibration_slope", "ece"):
        for model, (low, high) in before[metric].items():
            got = evaluation.metrics.loc[model, [f"{metric}_low", f"{metric}_high"]].tolist()
            assert got == pytest.approx([low, high], rel=1e-12, abs=1e-12), (metric, model)
    versus = evaluation.versus_baseline
    for model, bounds in before["versus"].items():
        got = versus.loc[model, ["auroc_difference_low", "auroc_difference_high"]].tolist()
        assert got == pytest.approx(bounds, rel=1e-12, abs=1e-12), model
    got = evaluation.subgroups[["low", "high"]].to_numpy()
    np.testing.assert_allclose(got, before["subgroups"], rtol=1e-12, atol=1e-12)
