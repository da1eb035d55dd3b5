"""train / evaluate / predict / demo from the command line, on generated cohort folders."""

import json

import numpy as np
import pandas as pd
import pytest

from ramultimodal.cli import main

pytestmark = pytest.mark.slow

CONFIG = {
    "image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16},
    "fusion_params": {"cv": 2},
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    small = ["--image-size", "32", "-q"]
    assert main(["synth", str(root / "train"), "--n-patients", "60", "--seed", "1", *small]) == 0
    assert (
        main(
            [
                "synth",
                str(root / "test"),
                "--n-patients",
                "30",
                "--seed",
                "2",
                *small,
                "--formats",
                "fhir-ndjson",
                "dicom",
                "--gzip",
            ]
        )
        == 0
    )
    (root / "config.json").write_text(json.dumps(CONFIG))
    return root


def test_train_predict_evaluate_round_trip(folders, capsys):
    # Stacking: the fusion with the most parts (OOF base models, meta-learner). The three
    # fusions' save/load round trips are in tests/test_fusion_persist.py.
    kind = "stacking"
    from ramultimodal.fusion import load_model
    from ramultimodal.io import read_cohort

    model_dir, predictions = folders / f"model-{kind}", folders / f"{kind}.csv"
    assert (
        main(
            [
                "train",
                "--data",
                str(folders / "train"),
                "--model",
                kind,
                "--config",
                str(folders / "config.json"),
                "--out",
                str(model_dir),
            ]
        )
        == 0
    )
    # The test folder has only NDJSON.gz and DICOM: read through the FHIR path.
    assert (
        main(
            [
                "predict",
                "--model",
                str(model_dir),
                "--data",
                str(folders / "test"),
                "--out",
                str(predictions),
            ]
        )
        == 0
    )
    written = pd.read_csv(predictions, index_col="subject_id")
    records = read_cohort(folders / "test")
    model = load_model(model_dir)  # the whole pipeline: records in, probabilities out
    expected = model.predict_proba(records)[:, 1]
    np.testing.assert_allclose(written.loc[records.subject_ids, "proba"], expected, rtol=1e-6)
    assert {"has_image", "has_ehr", "has_pro"} <= set(written.columns)
    assert written["has_image"].sum() == sum(len(images) > 0 for images in records.image_lists())

    report_dir = folders / f"report-{kind}"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(folders / "test"),
                "--model",
                str(model_dir),
                "--report",
                str(report_dir),
            ]
        )
        == 0
    )
    numbers = json.loads((report_dir / "metrics.json").read_text())
    assert numbers["synthetic_data"] is True  # cohort.json says so
    assert "ACR/EULAR 2010" in numbers["metrics"]
    # The Leiden rule beside the criteria, its items absent from the record noted.
    assert "Leiden rule" in numbers["metrics"]
    report = (report_dir / "report.html").read_text()
    assert "Leiden rule: 3 of 11 of its items" in report
    assert "(symmetric, extremities, morning_stiffness)" in report
    assert numbers["n_patients"] == 30


def test_commands_refuse_to_overwrite_and_report_bad_paths(folders, capsys):
    out = folders / "model-refuse"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert (
        main(["train", "--data", str(folders / "train"), "--model", "late", "--out", str(out)]) == 1
    )
    assert "--force" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--data",
                str(folders / "nowhere"),
                "--model",
                "late",
                "--out",
                str(folders / "m2"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere" in err and "Traceback" not in err
    bad_config = folders / "bad.json"
    bad_config.write_text('{"learning_rate": 1}')
    assert (
        main(
            [
                "train",
                "--data",
                str(folders / "train"),
                "--model",
                "late",
                "--config",
                str(bad_config),
                "--out",
                str(folders / "m3"),
            ]
        )
        == 1
    )
    assert "image_params" in capsys.readouterr().err
    assert (
        main(
            [
                "predict",
                "--model",
                str(folders / "nowhere"),
                "--data",
                str(folders / "test"),
                "--out",
                str(folders / "p.csv"),
            ]
        )
        == 1
    )
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "synth", "train", "evaluate", "predict"])
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "usage: ramultimodal " + command in capsys.readouterr().out


def test_demo_writes_the_report_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    args = [
        "demo",
        "--out",
        str(out),
        "--n-patients",
        "60",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--folds",
        "2",
        "-q",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "ACR/EULAR 2010" in printed and "stacking fusion" in printed
    report = (out / "report" / "report.html").read_text()
    assert "Synthetic data" in report and report.count("data:image/png;base64,") >= 6
    numbers = json.loads((out / "report" / "metrics.json").read_text())
    assert set(numbers["metrics"]) == {
        "ACR/EULAR 2010",
        "Leiden rule",
        "survival fusion",
        "radiograph CNN",
        "EHR (LightGBM)",
        "PROs (LightGBM)",
        "late fusion",
        "stacking fusion",
        "early fusion",
    }
    assert set(numbers["ablation"]) == {
        "all modalities",
        "without image",
        "without ehr",
        "without pro",
    }
    # Each model's calibration, before and after a cross-fitted sigmoid recalibration.
    assert set(numbers["recalibration"]) == set(numbers["metrics"])
    # The generated cohort has time to RA: the report scores the risks against it.
    assert {"survival fusion", "Leiden rule"} <= set(numbers["survival"])
    assert "Time to RA" in printed and "Time to RA" in report
    assert "slope_after" in printed and "Recalibration" in report
    assert main(args) == 1  # never overwrites without --force
