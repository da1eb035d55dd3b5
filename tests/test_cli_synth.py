"""The ``ramultimodal`` command: ``--version`` and ``synth``, with one-line user errors."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import ramultimodal
from ramultimodal.cli import main

SMALL = ["--n-patients", "4", "--seed", "1", "--image-size", "64", "--quiet"]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ramultimodal {ramultimodal.__version__}"


@pytest.mark.skipif(shutil.which("ramultimodal") is None, reason="package not installed")
def test_console_script_is_installed():
    done = subprocess.run(["ramultimodal", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"ramultimodal {ramultimodal.__version__}"


def test_synth_writes_a_cohort_then_refuses_to_overwrite_it(tmp_path, capsys):
    out = tmp_path / "cohort"
    assert main(["synth", str(out), *SMALL, "--formats", "csv", "dicom"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        ".ramultimodal",
        "cohort.json",
        "events.csv",
        "images",
        "images.csv",
        "joints.csv",
        "labels.csv",
        "patients.csv",
    ]
    first = (out / "events.csv").read_bytes()
    capsys.readouterr()

    assert main(["synth", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("ramultimodal synth: error:") and "--force" in err

    assert main(["synth", str(out), *SMALL, "--formats", "csv", "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".ramultimodal",
        "cohort.json",
        "events.csv",
        "labels.csv",
        "patients.csv",
    ]
    assert (out / "events.csv").read_bytes() == first  # same seed, same bytes


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--n-patients", "0"], "at least 1"),
        (["--n-patients", "many"], "whole number"),
        (["--formats", "jpeg"], "invalid choice"),
        (["--image-size", "-3"], "at least 1"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, arguments, message):
    assert main(["synth", str(tmp_path / "c"), *arguments]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "--help" in err
    assert not (tmp_path / "c").exists()


def test_unwritable_output_is_one_line(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    assert main(["synth", str(tmp_path / "a-file" / "cohort"), *SMALL]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err


def test_bad_generator_parameter_is_one_line(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "c"), *SMALL, "--prevalence", "1.5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "prevalence" in err
    assert not (tmp_path / "c").exists()
