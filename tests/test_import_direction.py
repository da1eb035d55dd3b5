"""Imports run one way, the way ../shared/DESIGN.md draws the house.

``cli`` -> ``workflows`` -> (``distributed``, ``evaluation``) -> ``models`` -> ``fusion`` ->
(``image``, ``ehr``) -> ``io`` -> ``terminology``; ``synthetic`` uses ``ehr``, ``io`` and
``terminology``, and only the workflows and the CLI use it. The private helpers at the top
of the package (``_errors``, ``_missing``, ``_text``, ``_staging``) sit at the bottom with
``terminology`` and import nothing of the project. Every import is read from the source,
the ones inside functions (lazy, for a fast ``import ramultimodal``) included.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "ramultimodal"

_BOTTOM = {"terminology", "_errors", "_missing", "_text", "_staging"}
_READERS = _BOTTOM | {"io"}
_MODALITIES = _READERS | {"ehr", "image"}
_FUSION = _MODALITIES | {"fusion"}
_RECIPES = _FUSION | {"models", "_dataset"}
_ANALYSIS = _RECIPES | {"evaluation", "distributed"}
#: What each part of the package may import (itself aside).
ALLOWED: dict[str, set[str]] = {
    "terminology": set(),
    "_errors": set(),
    "_missing": set(),
    "_text": set(),
    "_staging": set(),
    "io": _BOTTOM,
    "ehr": _READERS,
    "image": _READERS,
    "fusion": _MODALITIES,
    "models": _FUSION,
    "_dataset": _FUSION,
    "evaluation": _RECIPES,
    "distributed": _RECIPES,
    "synthetic": _READERS | {"ehr"},
    "workflows": _ANALYSIS | {"synthetic"},
    "cli": _ANALYSIS | {"synthetic", "workflows"},
    # The package's front door re-exports the main names, lazily (PEP 562).
    "__init__": _ANALYSIS | {"synthetic", "workflows"},
}


def _part(module: Path) -> str:
    """The part of the package a source file belongs to: its folder, or its own name."""
    relative = module.relative_to(SOURCE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_parts(module: Path) -> list[tuple[str, int]]:
    """(part of ramultimodal, line) of every import of the project in a source file."""
    package = list(module.relative_to(SOURCE).parent.parts)
    found = []
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            names = [".".join(["ramultimodal", *base, *([node.module] if node.module else [])])]
            if not base and not node.module:  # ``from .. import io`` names the parts itself
                names = [f"ramultimodal.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "ramultimodal":  # a part, or the package's __version__
                names = [f"ramultimodal.{a.name}" for a in node.names if a.name != "__version__"]
        else:
            continue
        found += [(n.split(".")[1], node.lineno) for n in names if n.startswith("ramultimodal.")]
    return sorted(found, key=lambda item: item[1])


def test_every_part_of_the_package_is_placed():
    parts = {_part(module) for module in SOURCE.rglob("*.py")}
    assert parts <= set(ALLOWED), f"place these in ALLOWED and DESIGN.md: {parts - set(ALLOWED)}"


def test_imports_run_the_way_design_md_says():
    wrong = [
        f"{module.relative_to(SOURCE)}:{line} imports ramultimodal.{target}"
        for module in sorted(SOURCE.rglob("*.py"))
        for target, line in _imported_parts(module)
        if target != _part(module) and target not in ALLOWED[_part(module)]
    ]
    assert not wrong, "imports against DESIGN.md's order:\n" + "\n".join(wrong)


def test_the_check_sees_an_import_against_the_order(tmp_path, monkeypatch):
    # A reader that imported a model, in a function as lazy imports are written.
    fake = tmp_path / "ramultimodal"
    (fake / "io").mkdir(parents=True)
    (fake / "io" / "_reader.py").write_text(
        "def read():\n    from ramultimodal.fusion import LateFusionClassifier\n"
        "from ..ehr import scores\nfrom . import _events\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SOURCE", fake)
    assert _imported_parts(fake / "io" / "_reader.py") == [("fusion", 2), ("ehr", 3), ("io", 4)]


@pytest.mark.parametrize("part", ["terminology", "io", "ehr"])
def test_importing_a_lower_part_loads_nothing_above_it(part):
    # What the source says, checked at run time too: importing a part of the house loads
    # only what it may import (and so never torch, for these three).
    code = (
        f"import sys, ramultimodal.{part}; "
        "print(sorted({m.split('.')[1] for m in sys.modules"
        " if m.startswith('ramultimodal.') and m.count('.') >= 1}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    parts = set(ast.literal_eval(loaded)) - {part}
    assert parts <= ALLOWED[part], parts - ALLOWED[part]
    assert "torch" not in subprocess.run(
        [sys.executable, "-c", f"import sys, ramultimodal.{part}; print(list(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("'")


@pytest.mark.parametrize("module", ["ramultimodal.fusion", "ramultimodal.image"])
def test_the_fusions_and_the_image_package_import_torch_on_first_use(module):
    # The fusions use the image package's radiograph guard, not its CNN: loading them must
    # not pay for torch (seconds), nor must a look at the image package's names.
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(list(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("'")
    assert "torch" not in loaded


def test_the_readers_import_requests_on_first_dicomweb_use():
    # requests (and with it urllib3, charset_normalizer: tens of milliseconds) serves only
    # the DICOMweb readers; a cohort of files, FHIR or OMOP never reaches a server. This
    # checkout's src comes first, so that an installed copy is not the one checked.
    src = str(Path(__file__).resolve().parents[1] / "src")
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    loaded = subprocess.run(
        [sys.executable, "-c", "import ramultimodal.io, sys; print('requests' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    ).stdout
    assert loaded.strip() == "False"
