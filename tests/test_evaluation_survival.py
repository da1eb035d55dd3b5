"""Survival metrics for time to RA: hand-checked values, brute force, and the bootstrap."""

from __future__ import annotations

import itertools
from functools import partial

import numpy as np
import pytest

from ramultimodal.evaluation import (
    SURVIVAL_METRICS,
    bootstrap_survival_metric,
    harrell_c,
    horizon_calibration,
    integrated_brier_score,
    kaplan_meier_at,
    plot_kaplan_meier,
    survival_metric_table,
    time_dependent_auc,
    uno_c,
)

TIME = np.array([1.0, 2.0, 3.0, 4.0])
EVENT = np.array([1, 0, 1, 1])
RISK = np.array([4.0, 3.0, 1.0, 2.0])


def _brute_harrell(time, event, risk) -> float:
    """Every pair once: comparable when the earlier time is an event (or an event and a
    censoring on the same day: the censored patient was still free of RA); ties in risk half.
    """
    concordant = comparable = 0.0
    for i, j in itertools.permutations(range(len(time)), 2):
        if event[i] and (time[i] < time[j] or (time[i] == time[j] and not event[j])):
            comparable += 1
            concordant += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return concordant / comparable


def test_harrell_c_by_hand_and_by_brute_force():
    assert harrell_c(TIME, EVENT, RISK) == 0.75
    assert harrell_c(TIME, EVENT, -RISK) == 0.25
    # A tie in risk counts half: the pair (day 3, day 4) tied: (3 + 0.5) / 4.
    assert harrell_c(TIME, EVENT, [4.0, 3.0, 2.0, 2.0]) == 0.875
    rng = np.random.default_rng(0)
    time = rng.integers(1, 60, 80).astype(float)  # ties in time too
    event = rng.uniform(size=80) < 0.6
    risk = rng.integers(0, 5, 80).astype(float)  # and in risk
    assert harrell_c(time, event, risk) == pytest.approx(_brute_harrell(time, event, risk))


def _brute_uno(time, event, risk, tau) -> float:
    """Uno's C: pairs weighted by 1 / G(T_i)^2, G the Kaplan-Meier of the censoring."""

    def censoring_survival(t):  # G(t): Kaplan-Meier with the censored times as events
        value = 1.0
        for u in np.unique(time[(~event) & (time <= t)]):
            at_risk = np.sum(time >= u)
            # an event at the same time is not censored at it (events come first)
            value *= 1 - np.sum((time == u) & ~event) / at_risk
        return value

    numerator = denominator = 0.0
    for i, j in itertools.permutations(range(len(time)), 2):
        if event[i] and time[i] < time[j] and time[i] < tau:
            weight = censoring_survival(time[i]) ** -2
            denominator += weight
            numerator += weight * (1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0)
    return numerator / denominator


def test_uno_c_by_hand_and_by_brute_force():
    # The censored patient at day 2 weighs the event at day 3 by 1 / (2/3)^2 = 2.25.
    assert uno_c(TIME, EVENT, RISK, tau=3.5) == pytest.approx(3 / 5.25)
    # Without censoring the weights are all 1: Harrell's C.
    rng = np.random.default_rng(1)
    time = rng.permutation(np.arange(1.0, 51.0))
    risk = rng.normal(size=50) - time / 20
    everyone = np.ones(50, bool)
    assert uno_c(time, everyone, risk, tau=51) == pytest.approx(harrell_c(time, everyone, risk))
    event = rng.uniform(size=50) < 0.7
    assert uno_c(time, event, risk, tau=40) == pytest.approx(_brute_uno(time, event, risk, 40))


def test_time_dependent_auc_by_hand():
    # By day 2.5: case day 1 above both controls (days 3, 4). By day 3.5: cases day 1
    # (weight 1) above and day 3 (weight 1.5) below the control: 1 / 2.5.
    np.testing.assert_allclose(time_dependent_auc(TIME, EVENT, RISK, [2.5, 3.5]), [1.0, 0.4])
    # A probability per horizon: its own column at each.
    per_horizon = np.column_stack([RISK, [3.0, 1.0, 3.0, 2.0]])
    np.testing.assert_allclose(time_dependent_auc(TIME, EVENT, per_horizon, [2.5, 3.5]), [1, 1])
    with pytest.raises(ValueError):
        time_dependent_auc(TIME, EVENT, RISK, [5.0])  # beyond the follow-up


def test_integrated_brier_score_by_hand():
    survival = np.array([[0.2, 0.2], [0.5, 0.5], [0.9, 0.9], [0.8, 0.8]])
    # (0.2^2 / G(1) + 0 (censored before) + 0.1^2 / G(2.5) + 0.2^2 / G(2.5)) / 4, G(2.5) = 2/3
    expected = (0.04 + 0.01 * 1.5 + 0.04 * 1.5) / 4
    assert integrated_brier_score(TIME, EVENT, survival, [2.5, 2.9]) == pytest.approx(expected)
    perfect = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0], [1.0, 1.0]])
    assert integrated_brier_score(TIME, EVENT, perfect, [2.5, 2.9]) == 0.0


def test_missing_predictions_are_left_out_and_inputs_checked():
    risk = np.array([4.0, 3.0, np.nan, 1.0, 2.0])
    time, event = np.array([1.0, 2.0, 2.5, 3.0, 4.0]), np.array([1, 0, 1, 1, 1])
    assert harrell_c(time, event, risk) == 0.75
    estimate = bootstrap_survival_metric(time, event, risk, n_boot=20)
    assert estimate.n == 4 and estimate.value == 0.75
    with pytest.raises(ValueError, match="finite and positive"):
        harrell_c([1.0, -2.0], [1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"1 .* or 0"):
        harrell_c([1.0, 2.0], [1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="4 patients but event has 3"):
        harrell_c(TIME, EVENT[:3], RISK)
    with pytest.raises(ValueError, match="3 rows but there are 4"):
        harrell_c(TIME, EVENT, RISK[:3])


def _cohort(n: int, seed: int):
    """Exponential time to RA with hazard exp(risk) / 400 per day; censored at 2 years."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    latent = rng.exponential(400 * np.exp(-risk))
    time = np.minimum(latent, 730.0) + 0.5
    return time, latent < 730.0, risk


def test_bootstrap_is_grouped_by_patient():
    time, event, risk = _cohort(120, 2)
    alone = bootstrap_survival_metric(time, event, risk, n_boot=200, random_state=3)
    assert alone.low < alone.value < alone.high
    assert alone == bootstrap_survival_metric(time, event, risk, n_boot=200, random_state=3)
    # Every patient twice: rows of a patient are resampled together, so the interval is
    # that of 120 patients (ungrouped it would be that of 240 and too narrow).
    twice = np.tile(np.arange(120), 2)
    grouped = bootstrap_survival_metric(
        time[twice], event[twice], risk[twice], groups=twice, n_boot=200, random_state=3
    )
    ungrouped = bootstrap_survival_metric(
        time[twice], event[twice], risk[twice], n_boot=200, random_state=3
    )
    assert grouped.value == pytest.approx(alone.value, abs=0.01)
    width = {name: e.high - e.low for name, e in (("g", grouped), ("u", ungrouped), ("a", alone))}
    assert width["g"] > 1.2 * width["u"] and width["g"] == pytest.approx(width["a"], rel=0.35)
    # A custom metric: the AUROC at one year.
    at_year = bootstrap_survival_metric(
        time, event, risk, lambda t, e, r: time_dependent_auc(t, e, r, [365])[0], n_boot=50
    )
    assert 0.6 < at_year.value < 0.9
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_survival_metric(time, event, risk, n_boot=0)


def test_metric_table_and_names():
    assert set(SURVIVAL_METRICS) == {"harrell_c", "uno_c"}
    time, event, risk = _cohort(200, 4)
    noise = np.random.default_rng(5).normal(size=200)
    noise[:20] = np.nan
    table = survival_metric_table(
        time, event, {"model": risk, "noise": noise}, horizons=[182, 365], n_boot=50
    )
    assert list(table.columns) == [
        "n", "events",
        "harrell_c", "harrell_c_low", "harrell_c_high",
        "uno_c", "uno_c_low", "uno_c_high",
        "auc_182", "auc_182_low", "auc_182_high",
        "auc_365", "auc_365_low", "auc_365_high",
    ]  # fmt: skip
    assert table.loc["model", "n"] == 200 and table.loc["noise", "n"] == 180
    assert table.loc["model", "events"] == event.sum()
    assert table.loc["model", "harrell_c"] == pytest.approx(harrell_c(time, event, risk))
    assert table.loc["model", "uno_c"] == pytest.approx(uno_c(time, event, risk, tau=365))
    assert table.loc["model", "harrell_c_low"] > table.loc["noise", "harrell_c_high"]
    for column in ("harrell_c", "uno_c", "auc_365"):
        assert 0.35 < table.loc["noise", column] < 0.65


def test_calibration_at_the_horizon():
    time, event, risk = _cohort(2000, 6)
    # The true risk of RA by a year under the generating model, and a doubled one.
    truth = 1 - np.exp(-365 * np.exp(risk) / 400)
    table = horizon_calibration(time, event, truth, 365, n_groups=5)
    assert table.index.tolist() == [1, 2, 3, 4, 5] and table["n"].tolist() == [400] * 5
    assert table["predicted"].is_monotonic_increasing
    inside = (table["observed_low"] <= table["predicted"]) & (
        table["predicted"] <= table["observed_high"]
    )
    assert inside.sum() >= 4  # a 95% interval: at most one miss by chance here
    too_high = horizon_calibration(time, event, np.minimum(2 * truth, 1), 365, n_groups=5)
    assert (too_high["predicted"] > too_high["observed_high"]).sum() >= 4
    # Kaplan-Meier by hand: events at days 2 and 5, censored at 3, 6, 7, 8.
    survival, _, _ = kaplan_meier_at([2, 3, 5, 6, 7, 8], [1, 0, 1, 0, 0, 0], 6)
    assert survival == pytest.approx(5 / 6 * 3 / 4)
    assert kaplan_meier_at([2, 3], [1, 0], 20)[0] == pytest.approx(0.5)  # held after the end
    with pytest.raises(ValueError, match="n_groups"):
        horizon_calibration(time, event, truth, 365, n_groups=0)


def test_uno_c_with_a_training_cohort_and_partial_metrics():
    time, event, risk = _cohort(150, 7)
    test_rows, train_rows = np.arange(100), np.arange(100, 150)
    value = uno_c(
        time[test_rows], event[test_rows], risk[test_rows], tau=365,
        train=(time[train_rows], event[train_rows]),
    )  # fmt: skip
    assert 0.6 < value < 0.9
    metric = partial(uno_c, tau=365)
    assert bootstrap_survival_metric(time, event, risk, metric, n_boot=30).value == pytest.approx(
        uno_c(time, event, risk, tau=365)
    )


def test_kaplan_meier_plot_by_risk_or_by_named_group():
    time, event, risk = _cohort(300, 8)
    figure = plot_kaplan_meier(time, event, risk, n_groups=3, horizons=[182, 365])
    axes = figure.axes[0]
    curves = [line for line in axes.get_lines() if line.get_label().startswith("risk group")]
    assert [c.get_label() for c in curves] == [
        "risk group 1 of 3 (lowest), n=100", "risk group 2 of 3, n=100", "risk group 3 of 3, n=100"
    ]  # fmt: skip
    # The higher the predicted risk, the fewer free of RA at two years.
    last = [c.get_ydata()[-1] for c in curves]
    assert last[0] > last[1] > last[2] and all(c.get_ydata()[0] == 1.0 for c in curves)
    named = np.where(risk > 1, "high", np.where(risk < -1, "low", "intermediate")).astype(object)
    named[:10] = None
    figure = plot_kaplan_meier(time, event, groups=named)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert [label.split(",")[0] for label in labels] == ["high", "intermediate", "low"]
    assert sum(int(label.split("n=")[1]) for label in labels) == 290
    with pytest.raises(ValueError, match="either risk"):
        plot_kaplan_meier(time, event)
