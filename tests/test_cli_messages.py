"""Messages and progress: `logging` and tqdm on stderr, set by ``-q`` and ``-v``; what a
command prints on stdout is its result alone, and the library prints nothing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

import ramultimodal
from ramultimodal.cli import _synth, main
from ramultimodal.evaluation import ablation_table, cross_validate_models, patient_cross_validate
from ramultimodal.fusion import LateFusionClassifier
from ramultimodal.io import EVENT_SOURCES, read_cohort
from ramultimodal.synthetic import FORMATS, make_cohort, write_cohort
from ramultimodal.workflows import FUSION_KINDS

LINES = {
    "debug": "ramultimodal synth: debug: a debug line",
    "info": "ramultimodal synth: an info line",
    "warning": "ramultimodal synth: warning: a warning line",
}


def chatty(args) -> int:
    """In place of synth's run: a message at each level, a warning, a bar and a result."""
    log = logging.getLogger("ramultimodal.synthetic")
    log.debug("a debug line")
    log.info("an info line")
    log.warning("a warning line")
    warnings.warn("a library warning", UserWarning, stacklevel=1)
    for _ in tqdm(range(3), desc="steps", disable=not args.progress):
        pass
    print("the result")
    return 0


@pytest.mark.parametrize(
    "arguments, shown",
    [
        (["synth", "out"], {"info", "warning"}),
        (["-q", "synth", "out"], {"warning"}),
        (["synth", "out", "--quiet"], {"warning"}),
        (["-v", "synth", "out"], {"debug", "info", "warning"}),
        (["synth", "out", "-v"], {"debug", "info", "warning"}),
    ],
)
def test_q_and_v_set_which_messages_stderr_shows(arguments, shown, monkeypatch, capsys):
    monkeypatch.setattr(_synth, "run", chatty)
    assert main(arguments) == 0
    out, err = capsys.readouterr()
    assert out == "the result\n"
    lines = err.splitlines()
    for level, line in LINES.items():
        assert (line in lines) == (level in shown), err
    assert "ramultimodal synth: warning: a library warning" in lines  # -q keeps warnings
    assert ("ramultimodal synth: debug: ramultimodal " in err) == ("debug" in shown)
    assert "steps" not in err  # stderr is no terminal here: no bar


def test_q_and_v_together_are_refused(capsys):
    assert main(["-q", "-v", "synth", "out"]) == 2
    assert "not allowed" in capsys.readouterr().err


@pytest.mark.parametrize("flags, bar", [([], True), (["-v"], True), (["-q"], False)])
def test_progress_bars_on_a_terminal_unless_q(flags, bar, monkeypatch, capsys):
    monkeypatch.setattr(_synth, "run", chatty)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main([*flags, "synth", "out"]) == 0
    out, err = capsys.readouterr()
    assert out == "the result\n"
    assert ("steps: 100%" in err) == bar


def test_synth_bars_go_to_stderr_and_q_writes_the_same_files_silently(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    small = ["--n-patients", "4", "--seed", "1", "--image-size", "32", "--formats", "csv", "png"]
    assert main(["synth", str(tmp_path / "a"), *small]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Wrote 4 patients") and out.count("\n") == 1
    assert "patients: 100%" in err and "images: 100%" in err
    assert main(["-q", "synth", str(tmp_path / "b"), *small]) == 0
    assert capsys.readouterr() == ("", "")
    for name in ("events.csv", "patients.csv", "labels.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_version_imports_no_library_module():
    # The options' choices are the library's own lists, read only when argparse needs them.
    code = (
        "import sys; from ramultimodal.cli import main; main(['--version']); "
        "print(sorted(m for m in ('numpy', 'ramultimodal.io', 'ramultimodal.workflows', "
        "'ramultimodal.synthetic') if m in sys.modules))"
    )
    src = str(Path(ramultimodal.__file__).parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "arguments, names",
    [
        (["train", "--data", "d", "--out", "o", "--model"], FUSION_KINDS),
        (["predict", "--model", "m", "--data", "d", "--out", "o", "--source"], EVENT_SOURCES),
        (["synth", "o", "--formats"], FORMATS),
    ],
)
def test_the_options_accept_the_library_s_names_and_no_other(arguments, names, monkeypatch):
    from ramultimodal.cli import build_parser

    parser = build_parser()
    for name in names:
        assert getattr(parser.parse_args([*arguments, name]), arguments[-1][2:]) in (name, [name])
    with pytest.raises(SystemExit):
        parser.parse_args([*arguments, "jpeg"])


def test_the_package_logger_has_a_null_handler():
    handlers = logging.getLogger("ramultimodal").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


@pytest.fixture
def cohort():
    features, y = make_classification(60, n_features=6, random_state=0)
    ids = [f"patient-{i:04d}" for i in range(60)]
    return pd.DataFrame(features, index=ids, columns=[f"x{i}" for i in range(6)]), y


def test_cross_validation_prints_nothing_and_logs_no_patient(cohort, capsys, caplog):
    X, y = cohort
    caplog.set_level(logging.DEBUG, logger="ramultimodal")
    cross_validate_models({"linear": LogisticRegression()}, X, y, cv=3, verbose=1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "cross-validation: 100%" in err  # the bar, on stderr
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "cross-validating linear (3 folds x 1)"
    assert sum(message.startswith("repeat 0, fold ") for message in messages) == 3
    assert not any("patient-" in message for message in messages)

    patient_cross_validate(LogisticRegression(), X, y, cv=3)  # verbose=0: no bar
    assert capsys.readouterr() == ("", "")


def test_ablation_logs_each_variant_and_prints_nothing(cohort, capsys, caplog):
    X, y = cohort
    fusion = LateFusionClassifier(
        [("a", LogisticRegression(), ["x0", "x1", "x2"]), ("b", LogisticRegression(), ["x3"])],
        cv=2,
    )
    caplog.set_level(logging.INFO, logger="ramultimodal")
    table = ablation_table(fusion, X, y, cv=2)
    assert list(table.index) == ["all modalities", "without a", "without b"]
    assert capsys.readouterr() == ("", "")
    assert [record.getMessage() for record in caplog.records] == [
        "ablation: all modalities",
        "ablation: without a",
        "ablation: without b",
    ]


@pytest.fixture(scope="module")
def cohort_folder(tmp_path_factory):
    cohort = make_cohort(12, image_size=32, seed=3, image_missing_rate=0.0)
    folder = tmp_path_factory.mktemp("c") / "cohort"
    return write_cohort(cohort, folder, formats=["csv", "fhir-ndjson", "png"])


@pytest.mark.parametrize("source, where", [("csv", "events.csv"), ("fhir-ndjson", "fhir/ndjson")])
def test_read_cohort_shows_bars_when_verbose_and_logs_counts(
    cohort_folder, source, where, capsys, caplog
):
    caplog.set_level(logging.INFO, logger="ramultimodal")
    quiet = read_cohort(cohort_folder, source=source)
    assert capsys.readouterr() == ("", "")  # verbose=0: no bar
    loud = read_cohort(cohort_folder, source=source, verbose=1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "read_cohort: 100%" in err and "4/4" in err and "images: " in err  # on stderr
    assert ("read_fhir: 100%" in err) == (source == "fhir-ndjson")
    for name in ("patients", "events", "images", "labels"):
        assert getattr(loud, name).equals(getattr(quiet, name)), name
    # What was read, in counts, once it was all read; never a patient's identifier.
    messages = [r.getMessage() for r in caplog.records if r.name == "ramultimodal.io._cohort"]
    counts = (
        f"12 patients, {len(quiet.events)} events from {where}, {len(quiet.images)} images, "
        "12 labels."
    )
    assert len(messages) == 2 and all(message.endswith(counts) for message in messages)
    assert not any(subject in err + "".join(messages) for subject in quiet.subject_ids)
