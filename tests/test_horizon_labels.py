"""Labels at a horizon, derived from time to RA without leakage: reader, CLI, model folder."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from ramultimodal import load_dataset
from ramultimodal.cli import main
from ramultimodal.io import DatasetError, HorizonError, horizon_days, horizon_labels, read_cohort
from ramultimodal.synthetic import make_cohort, write_cohort


@pytest.fixture(scope="module")
def followed(tmp_path_factory):
    """An undifferentiated-arthritis cohort: RA comes months after index, some censored."""
    cohort = make_cohort(80, seed=7, image_size=32, population="undifferentiated")
    return write_cohort(cohort, tmp_path_factory.mktemp("h") / "ua", formats=["csv", "png"])


def test_horizon_days():
    assert [horizon_days(h) for h in ("6m", "12m", "24m", 90, "90d", "1y")] == [
        183, 365, 730, 90, 90, 365,
    ]  # fmt: skip
    for bad in ("soon", "0", -3, True, "12 months"):
        with pytest.raises(HorizonError):
            horizon_days(bad)


def test_labels_at_each_horizon_follow_time_and_event(followed, caplog):
    truth = pd.read_csv(followed / "labels.csv").set_index("subject_id")
    with caplog.at_level(logging.INFO, logger="ramultimodal"):
        records = read_cohort(followed, horizon="12m")
    censored = (truth["event"].eq(0) & truth["time_to_ra_days"].lt(365)).sum()
    assert censored > 0  # the cohort has patients lost before a year
    assert len(records) == len(truth) - censored
    assert f"{censored} of {len(truth)} patients were censored before it" in caplog.text
    # At 12 months the derived label is labels.csv's ra wherever the label is known.
    assert records.labels.equals(truth.loc[records.labels.index, "ra"].rename("ra"))
    assert records.follow_up.index.equals(records.patients.index)
    # Longer horizons see more RA (on the patients followed that long), never less.
    six = read_cohort(followed, horizon="6m").labels
    two_years = read_cohort(followed, horizon="24m").labels
    common = six.index.intersection(two_years.index)
    assert (two_years.loc[common] >= six.loc[common]).all()
    assert two_years.mean() > six.mean()
    # "negative" keeps everyone; a censored patient is 0.
    negative = read_cohort(followed, horizon="12m", censored="negative").labels
    assert len(negative) == len(truth) and negative.equals(truth["ra"].loc[negative.index])


def test_horizon_labels_by_hand():
    follow_up = pd.DataFrame(
        {"time_to_ra_days": [30, 365, 366, 100, 400], "event": [1, 1, 1, 0, 0]},
        index=list("abcde"),
    )
    assert horizon_labels(follow_up, 365).to_dict() == {"a": 1, "b": 1, "c": 0, "e": 0}
    assert horizon_labels(follow_up, 30).to_dict() == {"a": 1, "b": 0, "c": 0, "d": 0, "e": 0}


def test_load_dataset_with_a_horizon(followed):
    X, y = load_dataset(followed, horizon="6m")
    assert X.index.equals(y.index) and set(y) <= {0, 1}
    # Nothing after the index date reaches the features (no DMARD, no diagnosis).
    assert not any("methotrexate" in c or "dmard" in c.lower() for c in X.columns)


def test_a_horizon_needs_time_to_ra(tmp_path, followed):
    folder = tmp_path / "old"
    folder.mkdir()
    for name in ("patients.csv", "events.csv"):
        (folder / name).write_bytes((followed / name).read_bytes())
    pd.read_csv(followed / "labels.csv")[["subject_id", "ra", "diagnosis"]].to_csv(
        folder / "labels.csv", index=False
    )
    assert len(read_cohort(folder)) == 80  # without a horizon, ra as written
    with pytest.raises(HorizonError, match="no time_to_ra_days and event"):
        read_cohort(folder, horizon="12m")
    with pytest.raises(HorizonError, match="censored="):
        read_cohort(folder, horizon="12m", censored="zero")
    labels = pd.read_csv(followed / "labels.csv")
    labels.loc[3, "time_to_ra_days"] = -4
    labels.to_csv(folder / "labels.csv", index=False)
    with pytest.raises(DatasetError, match="line 5: time_to_ra_days must be a whole number"):
        read_cohort(folder)


def test_train_records_the_horizon_and_evaluate_refuses_another(followed, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16},
                "ehr_params": {"n_estimators": 20},
                "fusion_params": {"cv": 2},
            }
        )
    )
    model = tmp_path / "model"
    train = ["train", "--data", str(followed), "--model", "late", "--config", str(config)]
    assert main([*train, "--out", str(model), "--horizon", "6m", "-q"]) == 0
    outcome = json.loads((model / "training.json").read_text())["outcome"]
    assert outcome["horizon_days"] == 183 and outcome["censored"] == "exclude"
    report = ["evaluate", "--data", str(followed), "--model", str(model), "--n-boot", "20"]
    assert main([*report, "--report", str(tmp_path / "r12"), "--horizon", "12m"]) == 1
    assert "trained for RA within 183 days" in capsys.readouterr().err
