"""``predict --explain``, ``--patient-report`` and the explanations in evaluate's report."""

import json

import numpy as np
import pandas as pd
import pytest

from ramultimodal.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    small = ["--image-size", "32", "-q"]
    assert main(["synth", str(root / "train"), "--n-patients", "50", "--seed", "3", *small]) == 0
    assert main(["synth", str(root / "test"), "--n-patients", "12", "--seed", "4", *small]) == 0
    config = {"image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16}}
    (root / "config.json").write_text(json.dumps(config))
    args = ["train", "--data", str(root / "train"), "--model", "early"]
    args += ["--config", str(root / "config.json"), "--out", str(root / "model"), "-q"]
    assert main(args) == 0
    return root


def _predict(root, *extra):
    args = ["predict", "--model", str(root / "model"), "--data", str(root / "test")]
    return main([*args, "--out", str(root / "explained.csv"), *extra])


def test_predict_explain_writes_contributions_and_reasons(trained, capsys):
    pages = trained / "pages"
    assert _predict(trained, "--explain", "--patient-report", str(pages)) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(trained / "explained.csv", index_col="subject_id", keep_default_na=False)
    expected = {"proba", "logit", "contribution_baseline", "explained", "reason_1", "reason_5"}
    assert expected | {f"contribution_{m}" for m in ("image", "ehr", "pro")} <= set(table.columns)
    parts = table.filter(like="contribution_").astype(float).sum(axis=1)
    np.testing.assert_allclose(parts, table["logit"].astype(float), atol=1e-9)
    proba = 1 / (1 + np.exp(-table["logit"].astype(float)))
    np.testing.assert_allclose(proba, table["proba"].astype(float), atol=1e-9)
    assert table["reason_1"].str.match(r"^[+-]\d+\.\d\d ").all()
    # One page per patient, numbered; the identifiers are inside, never in a name or a message.
    names = sorted(path.name for path in pages.iterdir() if not path.name.startswith("."))
    assert names == ["index.html"] + [f"patient-{i:04d}.html" for i in range(1, 13)]
    first = (pages / "patient-0001.html").read_text()
    assert table.index[0] in first and "ACR/EULAR 2010 score" in first
    assert table["reason_1"].iloc[0].split(" ", 1)[1][:20] in first.replace("&#x27;", "'")
    assert any("Grad-CAM" in (pages / name).read_text() for name in names[1:])
    for subject in table.index:
        assert subject not in out + err


def test_patient_report_needs_explain_and_respects_force(trained, capsys):
    assert _predict(trained, "--patient-report", str(trained / "elsewhere"), "--force") == 1
    err = capsys.readouterr().err
    assert "--explain" in err and err.count("\n") == 1
    assert not (trained / "elsewhere").exists()
    mine = trained / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert _predict(trained, "--explain", "--patient-report", str(mine), "--force") == 1
    assert "not written by ramultimodal" in capsys.readouterr().err
    assert (mine / "notes.txt").exists()


def test_evaluate_report_explains_the_model(trained):
    report = trained / "report"
    args = ["evaluate", "--model", str(trained / "model"), "--data", str(trained / "test")]
    assert main([*args, "--report", str(report), "--n-boot", "20", "-q"]) == 0
    html = (report / "report.html").read_text()
    assert "Why the model said what it said" in html
    assert "Global importance" in html and "Contribution of each modality" in html
    assert "Where the image model looked (Grad-CAM)" in html
