"""Every script in examples/ runs in its tiny configuration and says what it did.

Each runs as a user would run it (``python examples/<name>.py --tiny``), in a subprocess
with one thread per library, since the machine running the suite is often shared; the tiny
configurations (40-80 patients, 48-64 px radiographs, one epoch) keep each to seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# One thread per library: on a shared 2-core machine, torch's and OpenMP's spinning threads
# cost more than they give to these small models.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def run_example(name: str, *args: str | os.PathLike) -> str:
    """Run ``examples/<name>.py --tiny`` and return its standard output."""
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--tiny", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **ONE_THREAD, "MPLBACKEND": "Agg"},
    )
    assert completed.returncode == 0, (
        f"examples/{name}.py --tiny exited {completed.returncode}\n"
        f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr[-4000:]}"
    )
    return completed.stdout


def test_every_example_is_tested():
    tested = {"quickstart", "fhir_pipeline", "image_model_gradcam", "fusion_comparison",
              "bring_your_own_data", "survival", "joints", "omop_pacs"}  # fmt: skip
    assert {path.stem for path in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.stem)
def test_example_has_docstring_and_tiny_flag(path):
    source = path.read_text()
    assert source.startswith('"""'), f"{path.name} needs a module docstring saying what it shows"
    assert '"--tiny"' in source and '"--out"' in source


@pytest.mark.slow
def test_quickstart(tmp_path):
    out = run_example("quickstart", "--out", tmp_path)
    assert "2. load_dataset: X has 60 patients" in out
    assert "late fusion (image + EHR)" in out and "2010 ACR/EULAR criteria" in out
    assert (tmp_path / "cohort" / "patients.csv").is_file()


@pytest.mark.slow
def test_fhir_pipeline():
    out = run_example("fhir_pipeline")
    # The Bundles and the NDJSON.gz of one cohort give the same events.
    assert "same codes: True" in out
    assert "no validation error" in out
    leaked = next(line for line in out.splitlines() if "guard off" in line)
    guarded = next(line for line in out.splitlines() if "guard on" in line)
    assert float(leaked.split("AUROC")[1]) > 0.97
    assert float(guarded.split("AUROC")[1]) < float(leaked.split("AUROC")[1])
    assert "check_leakage" in out


@pytest.mark.slow
def test_image_model_gradcam(tmp_path):
    out = run_example("image_model_gradcam", "--out", tmp_path)
    assert "held-out AUROC" in out
    overlays = sorted((tmp_path / "gradcam").glob("*.png"))
    assert overlays and all(path.stat().st_size > 1000 for path in overlays)
    assert overlays[0].read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_joints(tmp_path):
    out = run_example("joints", "--out", tmp_path)
    assert "$ ramultimodal joints predict" in out and "--figures" in out
    assert "4. Held-out (14 radiographs): joints found" in out
    assert "--image-model joints --joint-model" in out and "--explain" in out
    assert "the radiograph's part" in out
    assert "the most damaged patient" in out
    drawn = pd.read_csv(tmp_path / "figures" / "figures.csv")
    assert sorted(set(drawn["kind"])) == ["hands", "radiograph"]
    assert all((tmp_path / "figures" / name).is_file() for name in drawn["figure"])


@pytest.mark.slow
def test_fusion_comparison():
    out = run_example("fusion_comparison")
    table = out.split("4. out-of-fold performance")[1]
    for model in ("ACR/EULAR 2010", "image alone", "EHR alone", "late fusion",
                  "stacking fusion", "early fusion"):  # fmt: skip
        assert model in table


@pytest.mark.slow
def test_bring_your_own_data(tmp_path):
    out = run_example("bring_your_own_data", "--out", tmp_path)
    assert "5. load_dataset: X 40 patients" in out
    cohort = tmp_path / "cohort"
    assert sorted(path.name for path in cohort.iterdir()) == [
        "events.csv",
        "images.csv",
        "labels.csv",
        "patients.csv",
    ]


@pytest.mark.slow
def test_survival(tmp_path):
    out = run_example("survival", "--out", tmp_path)
    assert "1. 120 patients with undifferentiated arthritis" in out
    assert "survival fusion  Harrell's C" in out and "Leiden rule      Harrell's C" in out
    assert "fusion minus Leiden rule" in out
    assert (tmp_path / "kaplan_meier_fusion.png").is_file()
    assert (tmp_path / "kaplan_meier_leiden.png").is_file()


@pytest.mark.slow
def test_omop_pacs(tmp_path):
    out = run_example("omop_pacs", "--out", tmp_path)
    assert "concept 3020460 = LOINC 1988-5" in out
    assert "0 after an index date; features equal to those from events.csv: True" in out
    assert "from the database and from the files the same: True" in out
    assert (tmp_path / "cohort" / "omop.duckdb").is_file() and (tmp_path / "model").is_dir()
    # Orthanc runs where it is installed (tests/test_dicomweb.py says how to install it).
    pacs = next(line for line in out.splitlines() if "Orthanc:" in line)
    assert "the same predictions: True" in pacs or "skipped" in pacs
