"""The same answers with and without a Dask cluster: trees, scoring, the command line.

One `LocalCluster` of two worker processes serves the whole module. The command-line round
trip is written one step a function (`train_step`, `predict_step`), so that a step before
them (``convert``) can be added in front without touching the others.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ramultimodal.cli import main

pytestmark = pytest.mark.slow

CONFIG = {
    "image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16},
    "fusion_params": {"cv": 2},
}


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    from distributed import Client

    with Client(cluster) as client:
        yield client


@pytest.fixture
def small_data_on_the_cluster(monkeypatch):
    """Send even these tiny tables to the workers (by default a few hundred rows are fitted
    in this process: `MIN_ROWS_PER_WORKER`)."""
    monkeypatch.setattr("ramultimodal.distributed._trees.MIN_ROWS_PER_WORKER", 0)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    small = ["--image-size", "32", "-q"]
    assert main(["synth", str(root / "train"), "--n-patients", "60", "--seed", "1", *small]) == 0
    assert main(["synth", str(root / "test"), "--n-patients", "30", "--seed", "2", *small]) == 0
    (root / "config.json").write_text(json.dumps(CONFIG))
    return root


def _table(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"lab_{i}" for i in range(6)])
    X.iloc[rng.random(n) < 0.2, 1] = np.nan  # LightGBM routes NaN, on a cluster too
    y = (X["lab_0"] + X["lab_2"] * X["lab_3"] + rng.normal(size=n) > 0).astype(int).to_numpy()
    return X, y


@pytest.mark.usefixtures("small_data_on_the_cluster")
@pytest.mark.parametrize("gbm", ["lightgbm", "xgboost"])
def test_ehr_trees_on_the_cluster_save_as_the_plain_model(client, tmp_path, gbm):
    """An EHR model (the recipe's tree learner, as a one-modality late fusion) trained on the
    cluster is saved as the plain class, loads as it, and scores as an in-process fit."""
    from ramultimodal.distributed import trees_on_cluster
    from ramultimodal.fusion import LateFusionClassifier, load_model, save_model
    from ramultimodal.models import make_model

    X, y = _table(600, 0)
    X_test, y_test = _table(600, 1)
    columns = list(X.columns)

    def ehr_model():
        ehr = make_model("ehr", ehr_columns=columns, gbm=gbm)[-1]
        return LateFusionClassifier([("ehr", ehr, columns)], cv=2, random_state=0)

    local = ehr_model().fit(X, y)
    model = trees_on_cluster(ehr_model())
    assert type(model.modalities[0][1]).__name__.startswith("Cluster")
    model.fit(X, y)
    folder = save_model(model, tmp_path / "model")
    text = (folder / "model.json").read_text()
    assert "Cluster" not in text and "machines" not in text
    for booster in (folder / "estimators").iterdir():  # no worker's address, as a local fit
        assert "127.0.0.1" not in booster.read_text()
    loaded = load_model(folder)
    plain = "LGBMClassifier" if gbm == "lightgbm" else "XGBClassifier"
    assert type(loaded.estimators_[0]).__name__ == plain
    np.testing.assert_allclose(loaded.predict_proba(X_test), model.predict_proba(X_test))
    # Distributed training bins and samples rows per worker: close, not bit-equal.
    auroc = [roc_auc_score(y_test, m.predict_proba(X_test)[:, 1]) for m in (local, loaded)]
    assert abs(auroc[0] - auroc[1]) < 0.03, auroc


def test_without_a_client_the_cluster_trees_are_their_parent():
    from lightgbm import LGBMClassifier

    from ramultimodal.distributed import ClusterLGBMClassifier

    X, y = _table(200, 0)
    params = {"n_estimators": 20, "verbose": -1, "n_jobs": 1}
    np.testing.assert_array_equal(
        ClusterLGBMClassifier(**params).fit(X, y).predict_proba(X),
        LGBMClassifier(**params).fit(X, y).predict_proba(X),
    )


@pytest.mark.usefixtures("small_data_on_the_cluster")
def test_early_fusion_trained_on_the_cluster(client, folders, tmp_path):
    """train_model with a Client: the folder holds the plain classes and predicts like an
    in-process fit. On 60 patients (30 rows a worker, where LightGBM's per-worker bins and
    row samples weigh most) only loosely: the bound is on the ranking."""
    from scipy.stats import spearmanr

    from ramultimodal.workflows import predict_dataset, train_model

    def train(out, scheduler):
        return train_model(
            folders / "train", "early", tmp_path / out, config=CONFIG, scheduler=scheduler
        )

    here = predict_dataset(train("here", None), folders / "test")
    folder = train("there", client)
    for name in ("model.json", "training.json"):
        assert "Cluster" not in (folder / name).read_text()
    there = predict_dataset(folder, folders / "test")
    assert list(there.index) == list(here.index)
    assert spearmanr(there["proba"], here["proba"], nan_policy="omit").statistic > 0.7


def test_scoring_in_blocks_on_the_workers_is_exact(client, folders, tmp_path):
    from ramultimodal.workflows import predict_dataset, train_model

    model = train_model(folders / "train", "early", tmp_path / "model", config=CONFIG)
    here = predict_dataset(model, folders / "test")
    there = predict_dataset(model, folders / "test", scheduler=client)
    pd.testing.assert_frame_equal(there, here, rtol=1e-12)


# -- the command line, one step a function ------------------------------------------------


def train_step(data, out, config, scheduler):
    argv = ["train", "--data", str(data), "--model", "early", "--config", str(config)]
    assert main([*argv, "--out", str(out), "--scheduler", scheduler]) == 0
    return out


def predict_step(model, data, out, scheduler):
    argv = ["predict", "--model", str(model), "--data", str(data), "--out", str(out)]
    assert main([*argv, "--scheduler", scheduler]) == 0
    return pd.read_csv(out, index_col="subject_id")


def test_train_and_predict_with_scheduler(cluster, folders, tmp_path, capsys):
    from ramultimodal.fusion import load_model
    from ramultimodal.io import read_cohort

    address = cluster.scheduler_address
    model = train_step(folders / "train", tmp_path / "model", folders / "config.json", address)
    predictions = predict_step(model, folders / "test", tmp_path / "p.csv", address)
    # Scored in blocks on the workers, as the loaded model scores the cohort here.
    here = load_model(model).predict_modalities(read_cohort(folders / "test"))
    np.testing.assert_allclose(predictions["proba"], here["proba"], rtol=1e-9)


def test_scheduler_from_the_environment(cluster, folders, tmp_path, monkeypatch):
    from ramultimodal.workflows import predict_dataset, train_model

    model = train_model(folders / "train", "early", tmp_path / "model", config=CONFIG)
    monkeypatch.setenv("RAMULTIMODAL_SCHEDULER", cluster.scheduler_address)
    there = predict_dataset(model, folders / "test")
    monkeypatch.delenv("RAMULTIMODAL_SCHEDULER")
    pd.testing.assert_frame_equal(there, predict_dataset(model, folders / "test"), rtol=1e-12)


def test_a_bad_scheduler_is_one_line(folders, tmp_path, capsys):
    argv = ["predict", "--model", str(tmp_path / "none"), "--data", str(folders / "test")]
    status = main([*argv, "--out", str(tmp_path / "p.csv"), "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert len(err.splitlines()) == 1 and "tcp://127.0.0.1:9" in err and "Dask" in err


def test_cross_validation_folds_on_the_workers(client):
    """The folds fitted on the workers (joblib's Dask backend) give the in-process numbers."""
    from lightgbm import LGBMClassifier

    from ramultimodal.distributed import on_workers
    from ramultimodal.evaluation import patient_cross_validate

    X, y = _table(300, 0)
    model = LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1)
    here = patient_cross_validate(model, X, y, cv=4)
    with on_workers(client):
        there = patient_cross_validate(model, X, y, cv=4)
    pd.testing.assert_frame_equal(there.oof_proba, here.oof_proba, rtol=1e-12)


def _meds_cohort(folders, tmp_path):
    """The training cohort's records, its events written as a MEDS folder of 3 shards, and
    a featurizer fitted on it."""
    from ramultimodal.ehr import EHRFeaturizer
    from ramultimodal.io import read_cohort, write_meds

    records = read_cohort(folders / "train")
    meds = write_meds(records.events, tmp_path / "meds", n_shards=3)
    return records, meds, EHRFeaturizer().fit(records)


@pytest.mark.parametrize("on_cluster", [False, True], ids=["here", "workers"])
def test_features_per_meds_shard_equal_the_whole(request, folders, tmp_path, on_cluster):
    from ramultimodal.distributed import featurize_meds, read_features
    from ramultimodal.io import CohortRecords, read_meds

    records, meds, featurizer = _meds_cohort(folders, tmp_path)
    # Two patients without a single event: they come back too, from no event.
    patients = pd.concat(
        [
            records.patients,
            pd.DataFrame(
                {"index_date": pd.to_datetime(["2020-01-01"] * 2)},
                index=pd.Index(["nobody-1", "nobody-2"], name="subject_id"),
            ),
        ]
    )
    client = request.getfixturevalue("client") if on_cluster else None
    out = featurize_meds(featurizer, meds, patients, tmp_path / "features", client=client)
    whole = featurizer.transform(CohortRecords(patients, read_meds(meds)))
    assert len(list(out.rglob("*.parquet"))) == 4  # three shards and the patients of none
    pd.testing.assert_frame_equal(read_features(out, patients), whole, rtol=1e-9)


def test_the_local_cluster_example_of_the_scaling_page(folders, tmp_path, monkeypatch, capsys):
    """docs/scaling.md's Python block, run as it is written, on cohort folders of its names."""
    import re
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "scaling.md").read_text()
    section = page.split("## Pointing ramultimodal at a cluster")[1].split("\n## ")[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    (tmp_path / "cohort").symlink_to(folders / "train")
    (tmp_path / "new-patients").symlink_to(folders / "test")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/scaling.md", "exec"), {"__name__": "__main__"})
    assert "proba" in capsys.readouterr().out
    assert (tmp_path / "model" / "manifest.json").is_file()


def test_evaluate_with_scheduler_gives_the_same_metrics(cluster, folders, tmp_path):
    from ramultimodal.workflows import evaluate_model, train_model

    model = train_model(folders / "train", "early", tmp_path / "model", config=CONFIG)
    reports = {}
    for name, scheduler in (("here", None), ("there", cluster.scheduler_address)):
        report = evaluate_model(
            model, folders / "test", tmp_path / name, n_boot=20, scheduler=scheduler
        )
        reports[name] = pd.read_csv(report.parent / "metrics.csv", index_col="model")
    pd.testing.assert_frame_equal(reports["there"], reports["here"], rtol=1e-9)
