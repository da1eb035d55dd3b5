"""The README's commands are the ones CI runs, and the public names are the ones exported."""

import re
from pathlib import Path

import ramultimodal

REPO = Path(__file__).resolve().parents[1]


def readme_command(marker: str) -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, f"README.md has no block after <!-- {marker} -->"
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert readme_command("test-command") in ci_lines


def test_readme_main_command_is_the_demo():
    assert readme_command("main-command").endswith("ramultimodal demo")


def test_top_level_all_lists_every_lazy_name():
    assert set(ramultimodal.__all__) == {"__version__", *ramultimodal._LAZY}
