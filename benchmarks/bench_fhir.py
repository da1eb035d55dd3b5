"""Benchmark `read_fhir` on Bulk Data NDJSON against its limit and its peers (issue 4).

Side by side, on the same NDJSON files (the Synthea Bulk Data export in
../shared/real-data/fhir/bulk-ndjson-10-patients, replicated with fresh ids):

- ``read_fhir``'s fast path (orjson + direct field extraction) to the events table;
- a bare ``orjson.loads`` of every line: the limit for any Python reader;
- fhiry (``pip install fhiry``; not a dependency, its column is skipped when absent):
  its NDJSON reader, and its Bundle reader on the same resources wrapped in Bundles;
- ``fhir.resources`` R4B validation (what ``validate=True`` adds).

fhiry and validation are timed on a subsample and extrapolated (said in the output).
Peak memory of ``read_fhir`` on 1 million resources is measured in a fresh subprocess
with ``resource.getrusage``. Goals: >= 0.3 of orjson, >= 5x fhiry, peak < 1 GB.

Usage::

    python benchmarks/bench_fhir.py [--resources 300000] [--memory-resources 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "fhir"
BULK = REAL / "bulk-ndjson-10-patients"
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-([0-9a-f]{12})")


def replicate(source: Path, target: Path, n_resources: int) -> int:
    """Write copies of the NDJSON export under `target` until it holds `n_resources`.

    Every UUID of copy k has its last 12 hex digits XOR-ed with k << 32: ids are fresh,
    and references still point at the right resources.
    """
    target.mkdir(parents=True, exist_ok=True)
    originals = {path.name: path.read_bytes() for path in sorted(source.glob("*.ndjson"))}
    per_copy = sum(text.count(b"\n") for text in originals.values())
    copies = -(-n_resources // per_copy)
    handles = {name: (target / name).open("wb") for name in originals}
    try:
        for copy in range(copies):

            def fresh(match: re.Match[bytes], copy: int = copy) -> bytes:
                tail = int(match.group(1), 16) ^ (copy << 32)
                return match.group(0)[:24] + b"%012x" % tail

            for name, text in originals.items():
                handles[name].write(_UUID.sub(fresh, text) if copy else text)
    finally:
        for handle in handles.values():
            handle.close()
    return copies * per_copy


def lines_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ndjson"))


def time_orjson(folder: Path) -> tuple[int, float]:
    start, count = time.perf_counter(), 0
    for path in lines_of(folder):
        with path.open("rb") as lines:
            for line in lines:
                orjson.loads(line)
                count += 1
    return count, time.perf_counter() - start


def time_read_fhir(folder: Path) -> tuple[int, float, int]:
    from ramultimodal.io import read_fhir

    start = time.perf_counter()
    events = read_fhir(folder)
    seconds = time.perf_counter() - start
    report = events.attrs["read_report"]
    return sum(report.resources.values()) + sum(report.ignored.values()), seconds, len(events)


def subsample(folder: Path, target: Path, per_file: int) -> list[bytes]:
    """The first `per_file` lines of each file, written to `target`; returns the lines."""
    target.mkdir(parents=True, exist_ok=True)
    kept = []
    for path in lines_of(folder):
        with path.open("rb") as lines:
            head = list(itertools.islice(lines, per_file))
        (target / path.name).write_bytes(b"".join(head))
        kept += head
    return kept


def time_fhiry(
    sample: Path, lines: list[bytes], bundle_lines: list[bytes]
) -> dict[str, float] | None:
    try:
        import fhiry.fhirndjson
        import fhiry.fhiry
    except ImportError:
        return None
    rates = {}
    reader = fhiry.fhirndjson.Fhirndjson()
    reader.folder = str(sample)
    with contextlib.redirect_stderr(io.StringIO()):  # fhiry's progress bars
        start = time.perf_counter()
        for path in lines_of(sample):
            reader.process_file(path.name)
        rates["fhiry NDJSON reader"] = len(lines) / (time.perf_counter() - start)
        # Its Bundle reader (pandas.json_normalize of all entries at once) is much faster:
        # give fhiry that chance on the same resources (`bundle_lines`), written as Bundle
        # files of 1000 entries, which it reads with `process_file` (parsing included, as
        # for the others).
        for i in range(0, len(bundle_lines), 1000):
            entries = b",".join(
                b'{"resource":' + line.rstrip() + b"}" for line in bundle_lines[i : i + 1000]
            )
            (sample / f"bundle-{i}.json").write_bytes(
                b'{"resourceType":"Bundle","type":"collection","entry":[' + entries + b"]}"
            )
        start = time.perf_counter()
        for path in sorted(sample.glob("bundle-*.json")):
            fhiry.fhiry.Fhiry().process_file(str(path))
        rates["fhiry Bundle reader"] = len(bundle_lines) / (time.perf_counter() - start)
    return rates


def time_validation(lines: list[bytes]) -> float:
    from fhir.resources.R4B import get_fhir_model_class

    resources = [orjson.loads(line) for line in lines]
    models = {r["resourceType"]: get_fhir_model_class(r["resourceType"]) for r in resources}
    start = time.perf_counter()
    for resource in resources:
        models[resource["resourceType"]].model_validate(resource)
    return len(resources) / (time.perf_counter() - start)


_MEMORY_PROBE = """
import resource, sys, time
from ramultimodal.io import read_fhir
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
events = read_fhir(sys.argv[1])
seconds = time.perf_counter() - start
report = events.attrs["read_report"]
n = sum(report.resources.values()) + sum(report.ignored.values())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, len(events), seconds, before * 1024, peak * 1024)
"""


def peak_memory(folder: Path) -> tuple[int, int, float, int, int]:
    output = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    n, events, seconds, before, peak = output
    return int(n), int(events), float(seconds), int(before), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=300_000)
    parser.add_argument("--memory-resources", type=int, default=1_000_000)
    parser.add_argument(
        "--fhiry-lines",
        type=int,
        default=60,
        help="lines per file for fhiry's NDJSON reader (it is slow)",
    )
    parser.add_argument(
        "--validation-lines",
        type=int,
        default=600,
        help="lines per file validated with fhir.resources R4B",
    )
    args = parser.parse_args()
    if not BULK.is_dir():
        sys.exit(f"{BULK} is absent: this benchmark needs the Synthea Bulk Data export.")

    with tempfile.TemporaryDirectory(prefix="bench_fhir_") as tmp:
        folder = Path(tmp) / "ndjson"
        n = replicate(BULK, folder, args.resources)
        size = sum(path.stat().st_size for path in lines_of(folder)) / 1e6
        print(
            f"{n} resources in {len(lines_of(folder))} NDJSON files ({size:.0f} MB), "
            f"from {BULK.name} with fresh ids\n"
        )

        # Best of two, interleaved, on a shared machine.
        orjson_s = min(time_orjson(folder)[1] for _ in range(2))
        runs = [time_read_fhir(folder) for _ in range(2)]
        read_s, events = min(run[1] for run in runs), runs[0][2]
        orjson_rate, read_rate = n / orjson_s, n / read_s

        rows = [
            ("orjson.loads of every line (the limit)", orjson_rate, ""),
            (f"read_fhir fast path ({events} events)", read_rate, ""),
        ]
        fhiry_lines = subsample(folder, Path(tmp) / "fhiry", args.fhiry_lines)
        validation_lines = subsample(folder, Path(tmp) / "validate", args.validation_lines)
        fhiry_rates = time_fhiry(Path(tmp) / "fhiry", fhiry_lines, validation_lines)
        if fhiry_rates is None:
            print("fhiry is not installed (pip install fhiry): its rows are skipped.\n")
        else:
            sizes = {
                "fhiry NDJSON reader": len(fhiry_lines),
                "fhiry Bundle reader": len(validation_lines),
            }
            rows += [
                (name, rate, f"on {sizes[name]} resources, extrapolated")
                for name, rate in fhiry_rates.items()
            ]
        validation_rate = time_validation(validation_lines)
        rows.append(
            (
                "fhir.resources R4B validation",
                validation_rate,
                f"on {len(validation_lines)} resources, extrapolated",
            )
        )

        print(f"{'reader':48} {'resources/s':>12} {'vs orjson':>10}  note")
        for name, rate, note in rows:
            print(f"{name:48} {rate:12,.0f} {rate / orjson_rate:10.3f}  {note}")

        print("\nGoals")
        ratio = read_rate / orjson_rate
        print(
            f"  read_fhir / orjson = {ratio:.2f} (goal >= 0.3): "
            f"{'met' if ratio >= 0.3 else 'NOT met'}"
        )
        if fhiry_rates is not None:
            best_fhiry = max(fhiry_rates.values())
            print(
                f"  read_fhir / fastest fhiry reader = {read_rate / best_fhiry:.1f}x "
                f"(goal >= 5x): {'met' if read_rate >= 5 * best_fhiry else 'NOT met'}"
            )
        print(f"  read_fhir / R4B validation = {read_rate / validation_rate:.0f}x")

        big = Path(tmp) / "memory"
        shutil.rmtree(folder)  # disk: the 1M-resource copy is ~1 GB
        n_big = replicate(BULK, big, args.memory_resources)
        n_read, n_events, seconds, before, peak = peak_memory(big)
        assert n_read == n_big, (n_read, n_big)
        print(
            f"  peak RSS reading {n_read:,} resources ({n_events:,} events, "
            f"{n_read / seconds:,.0f} resources/s): {peak / 2**30:.2f} GiB "
            f"({before / 2**20:.0f} MiB after imports) (goal < 1 GB): "
            f"{'met' if peak < 1e9 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
