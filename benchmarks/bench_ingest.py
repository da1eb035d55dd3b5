"""Benchmark the FHIR NDJSON ingest to MEDS: one process against two Dask worker processes.

On the same NDJSON (a synthetic cohort's Bulk Data export, replicated with fresh ids to
each size: one large ``Observation.ndjson`` cut into byte ranges, and six smaller files),
`ramultimodal.distributed.ingest_fhir` runs

- in one process (no cluster: the same tasks in a loop), and
- on a ``LocalCluster`` of 2 worker processes (1 thread each), started before the clock
  starts;

each in a fresh subprocess, with the same ``chunk_bytes`` and the default number of shards
(one per 128 MiB of input, so a task's share does not grow with the data). Printed side by
side per size: wall time, the speed-up, the peak RSS of the one process and of each worker
(``resource.getrusage`` in the worker, through ``client.run``), and whether the MEDS
folders of both runs hold the same events as `read_fhir` on the same files (row for row,
after sorting; checked for sizes up to ``--check-up-to`` resources, as read_fhir holds
everything in memory).

Goals (issue 16): speed-up >= 1.7x; peak memory per worker at the smallest and the largest
size within 20% of each other. On a shared machine the times are noisy: the load average is
printed before and after; compare within one run.

Measured 2026-12-06 on this shared 2-core AMD EPYC VM (load average 8 to 12: the run got
about one core, so wall times follow the load; see docs/scaling.md, "Ingest", for all rows).
16 MiB ranges, best of 2: 256k resources 6.2 s in one process against 4.3 s on 2 workers
(1.46x), 1M 19.6 s against 17.1 s (1.14x), events identical to read_fhir's at both; peak
per worker 366 and 415 MiB. One run each at 1M and 4M (2.7 GB): peak per worker 412 and
414 MiB (+0%), times 1.30x and 0.97x; with 64 MiB ranges 553 and 639 MiB (+16%), 1.05x and
1.07x. The memory goal holds; the speed-up goal is not shown on this machine (CPU time per
worker is about half the one process's plus 15-30%: see the docs for why).

Usage::

    python benchmarks/bench_ingest.py                       # 1M and 4M resources
    python benchmarks/bench_ingest.py --sizes 250000 1000000 --chunk-mb 16
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import json, os, resource, shutil, sys, time
source, out, chunk_bytes, mode, repeats = sys.argv[1:6]
from ramultimodal.distributed import ingest_fhir

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def cpu():
    return sum(os.times()[:2])

def warm():
    # What the first task of a worker imports, paid once per worker and not timed.
    import io, meds, orjson, pandas, pyarrow.parquet, tqdm.auto
    import ramultimodal.distributed._ingest
    pandas.DataFrame({"a": [1]}).to_parquet(io.BytesIO())

def timed(client):
    shutil.rmtree(out, ignore_errors=True)
    before = [cpu()] if client is None else list(client.run(cpu).values())
    start = time.perf_counter()
    report = ingest_fhir(source, out, chunk_bytes=int(chunk_bytes), client=client)
    seconds = time.perf_counter() - start
    after = [cpu()] if client is None else list(client.run(cpu).values())
    return seconds, [b - a for a, b in zip(before, after)], report

if __name__ == "__main__":
    warm()
    if mode == "local":
        runs = [timed(None) for _ in range(int(repeats))]
        peaks = [peak()]
    else:
        import dask
        from dask.distributed import Client, LocalCluster
        # The statistical profiler samples every worker's stack every 10 ms.
        dask.config.set({"distributed.worker.profile.enabled": False})
        with LocalCluster(n_workers=int(mode), threads_per_worker=1, processes=True,
                          dashboard_address=":0", memory_limit=0) as cluster, \
                Client(cluster) as client:
            client.run(warm)
            runs = [timed(client) for _ in range(int(repeats))]
            peaks = sorted(client.run(peak).values())
    seconds, cpus, report = min(runs, key=lambda run: run[0])
    resources = sum(report.resources.values()) + sum(report.ignored.values())
    print(json.dumps({"seconds": seconds, "cpu": cpus, "peaks": peaks, "events": report.events,
                      "resources": resources, "driver": peak()}))
"""


def synthetic_base(folder: Path, n_patients: int) -> Path:
    """A synthetic cohort's NDJSON export (no images)."""
    from ramultimodal.synthetic import make_cohort, write_cohort

    cohort = make_cohort(n_patients, image_size=32, seed=0)
    return write_cohort(cohort, folder, formats=["fhir-ndjson"]) / "fhir" / "ndjson"


def run_child(source: Path, out: Path, chunk_bytes: int, mode: str, repeats: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(source), str(out), str(chunk_bytes), mode, str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_events(source: Path, folders: list[Path]) -> bool:
    """Whether each MEDS folder holds read_fhir's events, row for row after sorting."""
    from ramultimodal.io import read_fhir, read_meds

    def rows(events):
        return events.sort_values(list(events.columns), na_position="first").reset_index(drop=True)

    expected = rows(read_fhir(source))
    return all(rows(read_meds(folder)).equals(expected) for folder in folders)


def main() -> None:
    from bench_fhir import replicate  # the same fresh-id replication as bench_fhir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--chunk-mb", type=float, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--base-patients", type=int, default=200)
    parser.add_argument("--check-up-to", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each; the fastest counts")
    args = parser.parse_args()
    chunk_bytes = int(args.chunk_mb * 2**20)
    print(f"{os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.1f}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        base = synthetic_base(Path(tmp) / "base", args.base_patients)
        for size in args.sizes:
            data = Path(tmp) / f"ndjson-{size}"
            started = time.perf_counter()
            n = replicate(base, data, size)
            megabytes = sum(p.stat().st_size for p in data.iterdir()) / 2**20
            print(
                f"{n:,} resources, {megabytes:,.0f} MiB in {len(list(data.iterdir()))} files "
                f"(made in {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            local = run_child(data, Path(tmp) / "local", chunk_bytes, "local", args.repeats)
            cluster = run_child(
                data, Path(tmp) / "dask", chunk_bytes, str(args.workers), args.repeats
            )
            assert local["events"] == cluster["events"], (local, cluster)
            same = (
                same_events(data, [Path(tmp) / "local", Path(tmp) / "dask"])
                if size <= args.check_up_to
                else None
            )
            rows.append((n, megabytes, local, cluster, same))
            shutil.rmtree(data)
            for name in ("local", "dask"):
                shutil.rmtree(Path(tmp) / name, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print(
        f"{'resources':>11} {'MiB':>6} {'events':>11} {'1 proc s':>9} "
        f"{f'{args.workers} workers s':>12} {'speed-up':>9} {'CPU s 1 proc':>13} "
        f"{'CPU s per worker':>17} {'1 proc MiB':>11} {'per worker MiB':>15} {'same events':>12}"
    )
    for n, megabytes, local, cluster, same in rows:
        workers = "/".join(f"{peak / 2**20:.0f}" for peak in cluster["peaks"])
        cpus = "/".join(f"{cpu:.1f}" for cpu in cluster["cpu"])
        print(
            f"{n:>11,} {megabytes:>6,.0f} {local['events']:>11,} {local['seconds']:>9.1f} "
            f"{cluster['seconds']:>12.1f} {local['seconds'] / cluster['seconds']:>8.2f}x "
            f"{local['cpu'][0]:>13.1f} {cpus:>17} "
            f"{local['peaks'][0] / 2**20:>11.0f} {workers:>15} "
            f"{'yes' if same else 'NO' if same is not None else 'not checked':>12}"
        )
    print(
        "(CPU s: user + system time of the one process, and of each worker; the driver's is "
        "not counted. On a busy machine, wall time follows the load more than the work.)"
    )
    print("\nGoals")
    for n, _, local, cluster, _ in rows:
        speed_up = local["seconds"] / cluster["seconds"]
        verdict = "met" if speed_up >= 1.7 else "NOT met"
        print(f"  {n:,} resources: speed-up {speed_up:.2f}x (goal >= 1.7x): {verdict}")
    if len(rows) > 1:
        small, large = max(rows[0][3]["peaks"]), max(rows[-1][3]["peaks"])
        growth = large / small - 1
        print(
            f"  peak per worker {small / 2**20:.0f} MiB at {rows[0][0]:,} against "
            f"{large / 2**20:.0f} MiB at {rows[-1][0]:,} resources: {growth:+.0%} "
            f"(goal within 20%): {'met' if abs(growth) <= 0.2 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
