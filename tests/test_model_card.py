"""Training facts saved with the model, and the TRIPOD+AI model card built from them."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ramultimodal.evaluation import (
    TRIPOD_AI_ITEMS,
    StudyFacts,
    evaluate_predictions,
    tripod_ai_table,
    write_report,
)
from ramultimodal.evaluation._model_card import TO_COMPLETE
from ramultimodal.evaluation._model_card_study import STUDY_ITEMS
from ramultimodal.fusion import ModelFolderError, load_model, read_training_facts, save_model
from ramultimodal.fusion._training_facts import hyperparameters
from ramultimodal.io import read_cohort
from ramultimodal.synthetic import make_cohort, write_cohort
from ramultimodal.workflows import evaluate_model, train_model

CONFIG = {
    "image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16},
    "fusion_params": {"cv": 2},
}
#: The items only the authors can fill.
AUTHORS_ONLY = ("1", "2", "3a", "3b", "3c", "4", "6a", "6b", "6c", "8b", "8c", "9c", "17",
                "18a", "18b", "18c", "18d", "18e", "18f", "19", "25", "27b", "27c")  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    cohort_dir = write_cohort(make_cohort(40, image_size=32, seed=5), root / "cohort")
    model_dir = train_model(cohort_dir, "late", root / "model", config=CONFIG)
    return cohort_dir, model_dir


@pytest.fixture(scope="module")
def evaluated(trained, tmp_path_factory):
    cohort_dir, model_dir = trained
    report = evaluate_model(
        model_dir, cohort_dir, tmp_path_factory.mktemp("eval") / "report", n_boot=20
    )
    return report.parent


def _rows(card: str) -> dict[str, list[str]]:
    """The TRIPOD+AI table of a model card: item -> its rows' cells."""
    rows: dict[str, list[str]] = {}
    for line in card.splitlines():
        match = re.match(r"\| (\w+) \| (.*) \|$", line)
        if match and match.group(1) not in ("item",):
            rows.setdefault(match.group(1), []).append(match.group(2))
    return rows


def test_training_facts_are_saved_hashed_and_read_back(trained):
    cohort_dir, model_dir = trained
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert "training.json" in manifest["files"]
    facts = read_training_facts(model_dir)
    records = read_cohort(cohort_dir)
    cohort = facts["cohort"]
    assert cohort["n_patients"] == 40
    assert cohort["n_outcome_events"] == int(records.labels.sum())
    assert cohort["index_date_first"] == str(records.patients["index_date"].min().date())
    assert cohort["source"] == "events.csv"
    assert facts["outcome"]["horizon_months"] == 12
    assert set(facts["modalities"]) == {"image", "ehr", "pro"}
    images = sum(len(paths) > 0 for paths in records.image_lists())
    assert facts["modalities"]["image"] == {"present": images, "missing": 40 - images}
    features = facts["predictors"]["features"]
    assert len(features) == facts["predictors"]["n_features"]
    windows = {f["name"]: f["window"] for f in features}
    assert windows["crp_last_90d"].startswith("90 days before the index date")
    assert facts["predictors"]["lookback_days"] == [90, 365, None]
    params = facts["model"]["parameters"]
    assert facts["model"]["kind"] == "LateFusionClassifier"
    assert params["model__cv"] == 2 and params["model__image__image_size"] == 32
    assert params["model__ehr"] == "LGBMClassifier" and "model__ehr__num_leaves" in params
    assert facts["versions"]["ramultimodal"]
    text = (model_dir / "training.json").read_text()
    assert not any(f'"{subject}"' in text for subject in records.subject_ids)


def test_hyperparameters_are_every_parameter_generically():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params = hyperparameters(make_pipeline(StandardScaler(), LogisticRegression(C=0.3)))
    assert params["logisticregression__C"] == 0.3
    assert params["logisticregression"] == "LogisticRegression"
    assert json.loads(json.dumps(params, allow_nan=False)) == params


def test_a_changed_training_json_is_refused(trained, tmp_path):
    copy = Path(shutil.copytree(trained[1], tmp_path / "model"))
    facts = json.loads((copy / "training.json").read_text())
    facts["cohort"]["n_patients"] = 4000
    (copy / "training.json").write_text(json.dumps(facts))
    with pytest.raises(ModelFolderError, match=r"training\.json does not match its sha256"):
        read_training_facts(copy)
    with pytest.raises(ModelFolderError, match="sha256"):
        load_model(copy)


def test_an_old_folder_without_training_facts_loads_and_says_not_recorded(trained, tmp_path):
    cohort_dir, model_dir = trained
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    (copy / "training.json").unlink()
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["training.json"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert load_model(copy) is not None
    assert read_training_facts(copy) is None
    report = evaluate_model(copy, cohort_dir, tmp_path / "report", n_boot=10)
    rows = _rows((report.parent / "model_card.md").read_text())
    assert "not recorded" in rows["9b"][0] and "not recorded" in rows["12c"][0]
    assert "Hyper-parameters: not recorded" in (report.parent / "model_card.md").read_text()


def test_save_model_writes_no_training_facts_unless_given(trained, tmp_path):
    model = load_model(trained[1])
    folder = save_model(model, tmp_path / "plain")
    assert not (folder / "training.json").exists()
    with pytest.raises(TypeError, match="plain JSON"):
        save_model(model, tmp_path / "bad", training={"when": object()})


def test_the_card_lists_every_item_once_with_the_real_numbers(trained, evaluated):
    card = (evaluated / "model_card.md").read_text()
    rows = _rows(card)
    assert list(rows) == [item.item for item in TRIPOD_AI_ITEMS]
    assert all(len(cells) == 1 for cells in rows.values())
    facts = read_training_facts(trained[1])
    n, events = facts["cohort"]["n_patients"], facts["cohort"]["n_outcome_events"]
    assert f"{n} patients, {events} with RA within 12 months" in rows["5a"][0]
    assert "90 days before the index date" in rows["9b"][0]
    assert "LateFusionClassifier" in rows["12c"][0] and "model__cv = 2" in card
    metrics = pd.read_csv(evaluated / "metrics.csv", index_col="model")
    row = metrics.loc["LateFusionClassifier"]
    auroc = f"AUROC {row.auroc:.3f} [{row.auroc_low:.3f}, {row.auroc_high:.3f}]"
    assert rows["23a"][0].split(" | ")[1] == "ramultimodal"
    assert rows["23a"][0].split(" | ")[2].startswith("LateFusionClassifier on 40 patients")
    assert auroc in rows["23a"][0]
    for item in AUTHORS_ONLY:
        assert rows[item][0].split(" | ")[1] == TO_COMPLETE, item
    table = pd.read_csv(evaluated / "tripod_ai.csv", dtype=str)
    assert table["item"].tolist() == [item.item for item in TRIPOD_AI_ITEMS]
    page = (evaluated / "report.html").read_text()
    assert "TRIPOD+AI checklist" in page and page.count("to be completed by the authors") >= 20
    # evaluate recalibrates each model's probabilities cross-fitted, in the report and card.
    recalibrated = pd.read_csv(evaluated / "recalibration.csv", index_col="model")
    assert set(recalibrated.index) == set(metrics.index)
    assert "Recalibration: can 0.8 be read as 80%?" in page


def test_study_facts_fill_the_authors_items(tmp_path):
    y = np.array([0, 1] * 25)
    rng = np.random.default_rng(1)
    evaluation = evaluate_predictions(
        y, {"model": np.clip(0.4 * y + rng.uniform(0, 0.6, 50), 0, 1)}, n_boot=10
    )
    study = StudyFacts(
        title="Development of a fused model for early RA",
        authors="A. Author, B. Author",
        ethics="Approved by the ethics committee (ref. 2024-17)",
        funding="Grant 123",
        data_sources="Two early-arthritis clinics, chosen for their imaging",
        items={"12d": "One centre: no clustering"},
    )
    table = tripod_ai_table(evaluation, study=study).set_index("item")
    assert table.loc["1", "content"] == study.title
    assert table.loc["17", "filled_by"] == "authors"
    assert table.loc["12d", "content"] == "One centre: no clustering"
    assert table.loc["5a", "filled_by"] == "ramultimodal + authors"
    assert table.loc["18b", "filled_by"] == TO_COMPLETE
    assert set(STUDY_ITEMS.values()) <= set(table.index)
    report = write_report(evaluation, tmp_path / "report", study=study)
    card = (report.parent / "model_card.md").read_text()
    assert "Authors: A. Author, B. Author" in card
    assert "| 17 | Ethical approval | authors | Approved by the ethics committee" in card
    assert "ref. 2024-17" in report.read_text()
    with pytest.raises(ValueError, match="not a TRIPOD\\+AI item"):
        StudyFacts(items={"99": "x"})


def test_the_card_quotes_the_recalibration_of_the_evaluated_model():
    from ramultimodal.evaluation import recalibration_table

    # Probabilities too timid (slope well above 1): recalibration brings the slope near 1,
    # and item 23a says so beside the calibration of the model as given.
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    proba = 1 / (1 + np.exp(-(0.3 * (2 * y - 1) + rng.normal(0, 0.3, 400))))
    evaluation = evaluate_predictions(y, {"model": proba}, n_boot=10)
    evaluation.recalibration = recalibration_table(y, {"model": proba})
    table = tripod_ai_table(evaluation).set_index("item")
    recalibrated = evaluation.recalibration.loc["model"]
    assert (
        f"calibration slope {recalibrated['slope']:.2f} -> {recalibrated['slope_after']:.2f}"
        in table.loc["23a", "content"]
    )
    assert recalibrated["slope"] > 2 and 0.8 < recalibrated["slope_after"] < 1.2
