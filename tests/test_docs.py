"""The documentation builds with warnings as errors, and the API reference is complete.

The build runs on a copy of docs/ and examples/ (the tutorials include the scripts), so
that the stubs autosummary generates never land in the working tree of a test run.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
#: Packages whose public names (``__all__``) the API reference must list.
DOCUMENTED = (
    "ramultimodal.terminology",
    "ramultimodal.terminology.codes",
    "ramultimodal.io",
    "ramultimodal.ehr",
    "ramultimodal.image",
    "ramultimodal.fusion",
    "ramultimodal.models",
    "ramultimodal.evaluation",
    "ramultimodal.workflows",
    "ramultimodal.synthetic",
)
MAIN_ESTIMATORS = (
    "ramultimodal.fusion.LateFusionClassifier",
    "ramultimodal.fusion.StackingFusionClassifier",
    "ramultimodal.fusion.EarlyFusionClassifier",
    "ramultimodal.image.CNNImageClassifier",
    "ramultimodal.ehr.EHRFeaturizer",
    "ramultimodal.ehr.ACREULARClassifier",
)


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    """The HTML build of a copy of the docs, with warnings as errors."""
    root = tmp_path_factory.mktemp("docs")
    shutil.copytree(DOCS, root / "docs", ignore=shutil.ignore_patterns("_build", "generated"))
    shutil.copytree(REPO / "examples", root / "examples")
    out = root / "html"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(root / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, f"Sphinx warnings or errors:\n{completed.stderr}"
    return out


@pytest.mark.slow
def test_docs_build_without_warnings(html):
    for page in ("index", "concepts", "data-model", "tutorials", "clinical", "limitations",
                 "api"):  # fmt: skip
        assert (html / f"{page}.html").is_file(), page


@pytest.mark.slow
@pytest.mark.parametrize("name", MAIN_ESTIMATORS)
def test_api_page_of_each_main_estimator(html, name):
    page = (html / "api" / "generated" / f"{name}.html").read_text()
    # The class with its numpydoc sections, and its own methods documented below it.
    assert f'id="{name}"' in page
    assert "Parameters" in page and "Examples" in page
    assert f'id="{name}.fit"' in page


@pytest.mark.slow
def test_tutorials_include_their_scripts(html):
    for script in sorted((REPO / "examples").glob("*.py")):
        page = (html / "tutorials" / f"{script.stem}.html").read_text()
        # Pygments marks the function name of ``def main():`` in the included source.
        assert '<span class="nf">main</span>' in page, f"{script.stem} lacks {script.name}"


def test_api_reference_lists_every_public_name():
    listed = set(re.findall(r"^\s+([A-Za-z_]\w*)\s*$", (DOCS / "api.rst").read_text(), re.M))
    listed |= set(re.findall(r"^\.\. py:data:: (\w+)", (DOCS / "api.rst").read_text(), re.M))
    missing = {
        f"{package}.{name}"
        for package in DOCUMENTED
        for name in importlib.import_module(package).__all__
        if name not in listed
        and not isinstance(getattr(importlib.import_module(package), name), types.ModuleType)
    }
    assert not missing, f"add these to docs/api.rst: {sorted(missing)}"
