"""Read + preprocess throughput: ``ImagePreprocessor.load`` against MONAI, side by side.

Issue 3, "done when" (b): reading and preprocessing DICOM radiographs should be at least 1.5x
faster than MONAI's ``LoadImage`` + ``ScaleIntensity`` + ``Resize`` on the same files.

Files: the real hand CR (JPEG 2000 lossless, 2500 x 2048), the real hip CR in its three
encodings (JPEG lossless, JPEG-LS near-lossless, JPEG extended lossy; 2140 x 1760), all from
``../shared/real-data`` when present, plus synthetic uncompressed 12-bit CR files written
here. Ours: ``ImagePreprocessor(size, memory_cache=False).load(path)`` (decode, window,
shrink keeping the aspect ratio by area, pad). MONAI: ``LoadImage(PydicomReader)`` +
``ScaleIntensity()`` + ``Resize(size, size_mode="longest", mode="area")`` (decode, min-max
scale, shrink keeping the aspect ratio by area; no padding). Each file is timed as the best
of ``--repeats`` runs after one warm-up; throughput is files over the sum of best times.

MONAI is a benchmark-only dependency: ``pip install monai``. Without it, only our column is
printed.

Run: ``python benchmarks/bench_image_io.py [--size 256] [--repeats 3] [--synthetic 3]``

Why the preprocessing caches, as its docstring put it until the image package was split into
files: decoding one compressed radiograph costs 50-1000 ms; this script's "ms per file"
column measures it, preprocessing included, on the files at hand.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ramultimodal.image import ImagePreprocessor
from ramultimodal.io import write_dicom

GOAL = 1.5  # ours / MONAI throughput, issue 3
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "dicom"
REAL_FILES = [
    "cr_hand_pa_mono2_j2k_lossless.dcm",
    "cr_hip_mono2_jpeg_lossless_sv1_RG2_JPLL.dcm",
    "cr_hip_mono2_jpegls_nearlossless_RG2_JLSN.dcm",
    "cr_hip_mono2_jpeg_extended_lossy_RG2_JPLY.dcm",
]


def write_synthetic_cr(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Uncompressed 12-bit CR files (2048 x 1680, a smooth 'hand' over noise), windowed."""
    from pydicom.uid import generate_uid

    rng = np.random.default_rng(seed)
    rows, columns = 2048, 1680
    y, x = np.mgrid[0:rows, 0:columns]
    paths = []
    for index in range(count):
        blob = np.exp(
            -(((y - rows / 2) / (rows / 3)) ** 2 + ((x - columns / 2) / (columns / 4)) ** 2)
        )
        stored = 600 + 2800 * blob + rng.normal(0, 60, size=(rows, columns))
        path = folder / f"synthetic_cr_{index}.dcm"
        write_dicom(
            path,
            np.clip(stored, 0, 4095).astype(np.uint16),
            patient_id=f"bench-{index}",
            study_date="2020-01-01",
            study_uid=generate_uid(),
            series_uid=generate_uid(),
            sop_uid=generate_uid(),
            laterality="L",
            pixel_spacing_mm=0.1,
        )
        paths.append(path)
    return paths


def best_times(function, path, repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time (this process, all threads) of `repeats` runs."""
    function(path)  # warm-up: imports, plugin discovery, file cache
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        function(path)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def monai_pipeline(size: int):
    """MONAI's load + scale + resize, or None (with a message) when MONAI is not installed."""
    try:
        from monai.transforms import Compose, LoadImage, Resize, ScaleIntensity
    except ImportError:
        print("MONAI is not installed (pip install monai): its column is skipped.\n")
        return None
    pipeline = Compose(
        [
            LoadImage(reader="PydicomReader", image_only=True, ensure_channel_first=True),
            ScaleIntensity(),
            Resize(spatial_size=size, size_mode="longest", mode="area"),
        ]
    )
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=3, help="synthetic uncompressed files")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (MONAI's resize)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        files = [REAL_DATA / name for name in REAL_FILES if (REAL_DATA / name).exists()]
        if not files:
            print(f"{REAL_DATA} is absent: synthetic files only.\n")
        files += write_synthetic_cr(Path(scratch), args.synthetic)
        compare_with_monai(files, size=args.size, repeats=args.repeats)


def compare_with_monai(files: list[Path], *, size: int = 256, repeats: int = 3) -> None:
    """Print read + preprocess times of ours and MONAI's pipeline on the same files."""
    ours = ImagePreprocessor(size=size, memory_cache=False)
    theirs = monai_pipeline(size)
    print(f"read + preprocess to {size} px, best of {repeats}, ms per file")
    print(f"{'':<48} {'--- wall clock ---':>26} {'--- CPU time ---':>26}")
    print(f"{'file':<48}" + f" {'ours':>8} {'MONAI':>8} {'ratio':>8}" * 2)
    rows = []
    for path in files:
        mine = best_times(ours.load, path, repeats)
        other = best_times(theirs, path, repeats) if theirs else (np.nan, np.nan)
        rows.append((path.name, *mine, *other))
        print(
            f"{path.name:<48} {mine[0] * 1e3:8.1f} {other[0] * 1e3:8.1f} "
            f"{other[0] / mine[0]:7.2f}x {mine[1] * 1e3:8.1f} {other[1] * 1e3:8.1f} "
            f"{other[1] / mine[1]:7.2f}x"
        )

    def summary(label: str, selected: list) -> None:
        if not selected:
            return
        totals = np.sum([row[1:] for row in selected], axis=0)  # ours wall, cpu, MONAI wall, cpu
        rates = len(selected) / totals
        print(
            f"{label:<26} wall: ours {rates[0]:5.1f} vs MONAI {rates[2]:5.1f} images/s "
            f"({rates[0] / rates[2]:4.2f}x)   CPU: ours {rates[1]:5.1f} vs MONAI "
            f"{rates[3]:5.1f} images/s ({rates[1] / rates[3]:4.2f}x)"
        )

    print()
    summary("all files", rows)
    real = {path.name for path in files if path.parent == REAL_DATA}
    summary("compressed (real)", [row for row in rows if row[0] in real])
    summary("uncompressed (synthetic)", [row for row in rows if row[0] not in real])
    if theirs is not None:
        totals = np.sum([row[1:] for row in rows], axis=0)
        for clock, ratio in (
            ("wall clock", totals[2] / totals[0]),
            ("CPU time", totals[3] / totals[1]),
        ):
            verdict = "met" if ratio >= GOAL else "NOT met"
            print(f"goal, ours >= {GOAL}x MONAI on all files, {clock}: {ratio:.2f}x, {verdict}")
        print(
            "(CPU time is the steadier measure on a shared machine; both pipelines run on one "
            "thread.)"
        )


if __name__ == "__main__":
    main()
