"""``--n-boot`` of evaluate and demo: a positive whole number, handed to the workflow."""

from __future__ import annotations

import pandas as pd
import pytest

import ramultimodal.workflows
from ramultimodal.cli import main
from ramultimodal.workflows import DemoResult

EVALUATE = ["evaluate", "--data", "cohort", "--model", "model", "--report", "report"]
DEMO = ["demo", "--out", "demo"]


@pytest.fixture
def workflows(monkeypatch, tmp_path):
    """evaluate_model and run_demo replaced by recorders of their keyword arguments."""
    calls: dict[str, dict] = {}

    def evaluate_model(*args, **kwargs):
        calls["evaluate"] = kwargs
        return tmp_path / "report.html"

    def run_demo(*args, **kwargs):
        calls["demo"] = kwargs
        return DemoResult(tmp_path / "report.html", tmp_path / "cohort", pd.DataFrame(), 1.0)

    monkeypatch.setattr(ramultimodal.workflows, "evaluate_model", evaluate_model)
    monkeypatch.setattr(ramultimodal.workflows, "run_demo", run_demo)
    return calls


@pytest.mark.parametrize(
    "command, arguments, n_boot",
    [
        ("evaluate", EVALUATE, 1000),  # evaluate_model's default
        ("evaluate", [*EVALUATE, "--n-boot", "200"], 200),
        ("demo", DEMO, 500),  # run_demo's default
        ("demo", [*DEMO, "--n-boot", "2000"], 2000),
    ],
)
def test_n_boot_reaches_the_workflow(workflows, capsys, command, arguments, n_boot):
    assert main(arguments) == 0
    assert workflows[command]["n_boot"] == n_boot


@pytest.mark.parametrize("arguments", [EVALUATE, DEMO])
@pytest.mark.parametrize(
    "value, message",
    [("0", "at least 1"), ("-5", "at least 1"), ("many", "whole number"), ("2.5", "whole number")],
)
def test_a_bad_n_boot_is_one_line_and_exit_2(workflows, capsys, arguments, value, message):
    assert main([*arguments, "--n-boot", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--n-boot" in err and message in err
    assert not workflows  # refused before any work


def test_help_names_the_option(capsys):
    for command in ("evaluate", "demo"):
        assert main([command, "--help"]) == 0
        assert "--n-boot N" in capsys.readouterr().out


def test_the_defaults_are_the_workflows_own():
    # The command line states its defaults for --help; they must stay the workflows'.
    import inspect

    from ramultimodal.cli import build_parser
    from ramultimodal.workflows import evaluate_model, run_demo

    parser = build_parser()
    for arguments, workflow in ((EVALUATE, evaluate_model), (DEMO, run_demo)):
        expected = inspect.signature(workflow).parameters["n_boot"].default
        assert parser.parse_args(arguments).n_boot == expected
