"""The report as a browser shows it: headless Chromium renders it, and every figure decodes.

A report is read in a browser, so a figure that does not decode (a truncated data URI, a
PNG a browser rejects) or a page that renders blank is a broken report even when every
number in it is right. Skipped where Chromium is not installed (``apt-get install
chromium``).
"""

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ramultimodal.evaluation import StudyFacts, evaluate_predictions, write_report


def _chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = _chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: apt-get install chromium (Debian) to run the browser "
    "test of the report.",
)

# Flags for a container: no sandbox (root), no GPU, no first-run prompts.
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--hide-scrollbars", "--no-first-run", "--mute-audio"]  # fmt: skip

# After the page has loaded, write each image's decoded size into the DOM, where
# --dump-dom can read it: a figure a browser could not decode has a natural width of 0.
_PROBE = """<script>
window.addEventListener("load", () => {
  const sizes = Array.from(document.images).map(
    (img) => [img.complete, img.naturalWidth, img.naturalHeight]);
  const out = document.createElement("pre");
  out.id = "image-probe";
  out.textContent = JSON.stringify(sizes);
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    predictions = {
        "criteria": np.clip(0.3 * y + rng.uniform(0, 0.7, 80), 0, 1),
        "model": np.clip(0.5 * y + rng.uniform(0, 0.5, 80), 0, 1),
    }
    evaluation = evaluate_predictions(y, predictions, baseline="criteria", n_boot=20)
    folder = tmp_path_factory.mktemp("report") / "report"
    return write_report(
        evaluation,
        folder,
        title="Browser check",
        synthetic=True,
        study=StudyFacts(title="A tiny study", ethics="Not needed: synthetic data"),
    )


def _run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *_FLAGS, *arguments], capture_output=True, text=True, timeout=180, check=False
    )


@needs_chromium
def test_the_report_renders_as_a_page_that_is_not_blank(report, tmp_path):
    screenshot = tmp_path / "report.png"
    done = _run(f"--screenshot={screenshot}", "--window-size=1200,2400", report.as_uri())
    assert screenshot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1200)
    not_white = (pixels < 240).mean()
    assert pixels.std() > 10, "the page rendered as one flat colour"
    assert 0.01 < not_white < 0.9, f"{not_white:.3f} of the page is not white"


@needs_chromium
def test_every_figure_decodes_in_the_browser(report, tmp_path):
    page = report.read_text()
    count = page.count("<img ")
    assert count >= 4
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", _PROBE + "</body>"))
    done = _run("--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="image-probe">(.*?)</pre>', done.stdout, re.S)
    assert match, done.stderr[-2000:]
    sizes = json.loads(match.group(1))
    assert len(sizes) == count
    assert all(complete and width > 0 and height > 0 for complete, width, height in sizes)


def test_every_embedded_figure_is_a_png_with_pixels(report):
    uris = re.findall(r"src='data:image/png;base64,([^']+)'", report.read_text())
    assert len(uris) >= 4
    for data in uris:
        image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
        image.load()
        assert image.format == "PNG" and min(image.size) > 0
        assert np.asarray(image.convert("L")).std() > 0, "a figure with one colour only"
