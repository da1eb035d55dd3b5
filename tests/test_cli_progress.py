"""Progress of ``ramultimodal train``: its stages on stderr, the CNN's epoch bar on a terminal,
nothing with -q, and the same model files either way."""

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from ramultimodal.cli import main
from ramultimodal.workflows import predict_dataset

CONFIG = {"image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16}}
STAGES = ("1/4 Read 16 patients (", "2/4 Features", "3/4 Fitting the early fusion", "4/4 Saving")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("progress")
    small = ["--n-patients", "16", "--seed", "1", "--image-size", "32", "--formats", "csv", "png"]
    assert main(["-q", "synth", str(root / "cohort"), *small]) == 0
    (root / "config.json").write_text(json.dumps(CONFIG))
    return root


def train(cohort: Path, out: str, *flags: str) -> list[str]:
    data, config = str(cohort / "cohort"), str(cohort / "config.json")
    args = ["train", "--data", data, "--model", "early", "--config", config, *flags]
    return [*args, "--out", str(cohort / out)]


def digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_train_tells_its_stages_and_q_hides_them_and_the_bar(cohort, monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a person is watching
    assert main(train(cohort, "shown")) == 0
    out, err = capsys.readouterr()
    assert out == f"Saved the model to {cohort / 'shown'}\n"
    lines = err.splitlines()
    for stage in STAGES:
        assert any(line.startswith(f"ramultimodal train: {stage}") for line in lines), err
    assert "ramultimodal train:     image: CNNImageClassifier, " in err  # each part, counted
    assert "Training: 100%" in err  # the CNN's epoch bar
    # Counts only: no patient identifier in any message.
    ids = pd.read_csv(cohort / "cohort" / "patients.csv")["subject_id"]
    assert not [subject for subject in ids if subject in err]

    assert main(["-q", *train(cohort, "quiet")]) == 0
    out, err = capsys.readouterr()
    assert out == f"Saved the model to {cohort / 'quiet'}\n"
    assert err == ""  # no stage, no bar

    # The bar is no parameter of the model: every file is the same, byte for byte.
    shown, quiet = digests(cohort / "shown"), digests(cohort / "quiet")
    assert any(name.endswith("model.safetensors") for name in shown)
    assert shown == quiet
    data = cohort / "cohort"
    pd.testing.assert_frame_equal(
        predict_dataset(cohort / "shown", data), predict_dataset(cohort / "quiet", data)
    )


def test_train_shows_no_bar_when_stderr_is_no_terminal(cohort, capsys):
    # A log file or a pipe gets the stages, never a bar.
    assert main(train(cohort, "piped")) == 0
    err = capsys.readouterr().err
    assert "ramultimodal train: 4/4 Saving the model to " in err
    assert "Training" not in err and "%|" not in err


def test_predict_shows_the_reading_bar_on_a_terminal_only(cohort, monkeypatch, capsys):
    if not (cohort / "shown").exists():
        assert main(["-q", *train(cohort, "shown")]) == 0
    data, model = str(cohort / "cohort"), str(cohort / "shown")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown, quiet = cohort / "shown.csv", cohort / "quiet.csv"
    assert main(["predict", "--model", model, "--data", data, "--out", str(shown)]) == 0
    assert "read_cohort: 100%" in capsys.readouterr().err  # the reading bar
    assert main(["-q", "predict", "--model", model, "--data", data, "--out", str(quiet)]) == 0
    assert capsys.readouterr().err == ""
    assert shown.read_bytes() == quiet.read_bytes()
