"""Benchmark of the synthetic cohort: generation and writing speed.

Issue 2's goal, measured in one run: 1,000 patients with one 512 x 512 hand radiograph
each, generated (``make_cohort``) and written in the default formats (``write_cohort``:
FHIR bundles, FHIR NDJSON, CSV, DICOM, PNG) in under 60 s on a 2-core machine. The
script prints patients per second for each step, the time of each writer on its own, and
the total against the goal as a ratio (goal / measured: >= 1 meets it).

Run (about a minute or two on 2 cores)::

    python benchmarks/bench_synthetic.py
    python benchmarks/bench_synthetic.py --n-patients 200 --image-size 256
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 60.0  # issue 2: 1,000 patients, one 512 x 512 hand each, 2 cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-breakdown", action="store_true", help="skip timing each format on its own"
    )
    args = parser.parse_args()

    from ramultimodal.synthetic import FORMATS, make_cohort, write_cohort

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f}; {args.n_patients} patients, "
        f"one {args.image_size} x {args.image_size} hand each"
    )

    started = time.perf_counter()
    cohort = make_cohort(
        args.n_patients, seed=args.seed, image_size=args.image_size, image_missing_rate=0.0
    )
    make_seconds = time.perf_counter() - started
    n_images = len(cohort.images)

    workdir = Path(tempfile.mkdtemp(prefix="bench-synthetic-"))
    try:
        started = time.perf_counter()
        write_cohort(cohort, workdir / "all")
        write_seconds = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in (workdir / "all").rglob("*") if p.is_file())
        size_mb /= 1e6
        breakdown = {}
        if not args.no_breakdown:
            # Each writer alone (patients.csv and labels.csv come with every one of them).
            for fmt in FORMATS:
                started = time.perf_counter()
                write_cohort(cohort, workdir / fmt, formats=[fmt])
                breakdown[fmt] = time.perf_counter() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    total = make_seconds + write_seconds
    n = args.n_patients
    print()
    print(f"{'step':<32}{'seconds':>10}{'patients/s':>12}")
    print(f"{'make_cohort':<32}{make_seconds:>10.1f}{n / make_seconds:>12.1f}")
    print(f"{'write_cohort (all formats)':<32}{write_seconds:>10.1f}{n / write_seconds:>12.1f}")
    for fmt, seconds in breakdown.items():
        print(f"{'  ' + fmt + ' alone':<32}{seconds:>10.1f}{n / seconds:>12.1f}")
    print(f"{'total':<32}{total:>10.1f}{n / total:>12.1f}")
    print(f"\nwrote {n_images} images, {size_mb:.0f} MB in all")
    if (n, args.image_size) == (1000, 512):
        verdict = "meets" if total <= GOAL_SECONDS else "misses"
        print(
            f"goal: 1,000 patients in {GOAL_SECONDS:.0f} s on 2 cores; measured "
            f"{total:.1f} s; ratio goal/measured = {GOAL_SECONDS / total:.2f} ({verdict})"
        )
    else:
        print(
            "(the goal is stated for 1,000 patients at 512 px: run without options to "
            "compare with it)"
        )


if __name__ == "__main__":
    main()
