"""synthetic_data/: the README's command regenerates the committed cohort file for file."""

from __future__ import annotations

import gzip
import hashlib
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ramultimodal.cli import main

FOLDER = Path(__file__).resolve().parents[1] / "synthetic_data"


def readme_command() -> list[str]:
    """The command under the ``synthetic-data-command`` marker of the README."""
    text = (FOLDER / "README.md").read_text()
    match = re.search(r"<!-- synthetic-data-command -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, "synthetic_data/README.md lost its command block"
    return shlex.split(match.group(1))


def content_digest(path: Path) -> str:
    """SHA-256 of what a file holds.

    Raw bytes, except for the two compressed kinds: PNG pixels and gzip contents. Their
    compressed bytes depend on the zlib build (zlib or zlib-ng, by Pillow or Python
    version), not on the generator.
    """
    data = path.read_bytes()
    if path.suffix == ".png":
        with Image.open(path) as image:
            data = image.mode.encode() + np.asarray(image).tobytes() + str(image.size).encode()
    elif path.suffix == ".gz":
        data = gzip.decompress(data)
    return hashlib.sha256(data).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): content_digest(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_readme_command_regenerates_the_committed_cohort(tmp_path):
    command = readme_command()
    assert command[:3] == ["ramultimodal", "synth", "synthetic_data/cohort"]
    committed = FOLDER / "cohort"
    if not committed.is_dir():
        pytest.fail("synthetic_data/cohort is missing: run the command in its README")
    out = tmp_path / "cohort"
    assert main(["synth", str(out), *command[3:], "--quiet"]) == 0
    expected, regenerated = digests(committed), digests(out)
    assert sorted(regenerated) == sorted(expected)
    changed = [name for name in expected if regenerated[name] != expected[name]]
    assert not changed, (
        f"{len(changed)} of {len(expected)} files differ (first: {changed[:3]}); if the "
        "generator changed on purpose, rerun the command in synthetic_data/README.md."
    )


def test_committed_cohort_is_small():
    size = sum(p.stat().st_size for p in (FOLDER / "cohort").rglob("*") if p.is_file())
    assert size < 6_000_000
