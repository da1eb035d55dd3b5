"""Radiographs per second through Orthanc's DICOMweb (cold and warm cache) against the disk.

Issue 17: "DICOMweb: images per second through Orthanc against reading the same files from
disk, cold and warm cache". One run starts a real Orthanc (``/usr/sbin/Orthanc`` with the
DICOMweb plugin, as the tests do: ``tests/_orthanc.py``) on a loopback port, stores a
synthetic cohort's DICOM files in it with STOW-RS, and reads every radiograph with
``read_image``:

- ``disk``: the files themselves (in the OS page cache after a warm-up read);
- ``orthanc, cold, 1 thread``: ``read_image(dicomweb://...)`` one after another, the cache
  folder empty: each read is a WADO-RS request, a write into the cache, and a decode;
- ``orthanc, cold, prefetch``: what ``read_cohort`` does: ``prefetch_instances`` (4
  threads) into an empty cache, then every ``read_image``;
- ``orthanc, warm``: ``read_image(dicomweb://...)`` again, every instance in the cache
  (no request; a stat, then the same decode as from disk).

Each row is the best of ``--repeats`` runs; the ratio column is against the disk row.
Loopback only: a hospital network adds its round trip to every cold request (which is what
the prefetch's threads hide).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_dicomweb.py [--images 40] [--size 512]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ramultimodal.io import prefetch_instances, read_image
from ramultimodal.io._dicomweb import forget_clients
from ramultimodal.synthetic import make_cohort, write_cohort

_HELPER = Path(__file__).resolve().parents[1] / "tests" / "_orthanc.py"


def _orthanc_helper():
    spec = importlib.util.spec_from_file_location("ramultimodal_tests_orthanc", _HELPER)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def _best(run, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40, help="patients (one radiograph each)")
    parser.add_argument("--size", type=int, default=512, help="synthetic image side, pixels")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    orthanc = _orthanc_helper()
    missing = orthanc.missing_reason()
    if missing:
        sys.exit(missing)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        cohort = make_cohort(args.images, image_size=args.size, image_missing_rate=0.0, seed=0)
        folder = write_cohort(cohort, scratch / "cohort", formats=["csv", "dicom"])
        files = sorted((folder / "images").glob("*.dcm"))
        cache = scratch / "cache"
        os.environ["RAMULTIMODAL_DICOMWEB_CACHE"] = str(cache)
        os.environ["RAMULTIMODAL_DICOMWEB_USER"] = orthanc.USER
        os.environ["RAMULTIMODAL_DICOMWEB_PASSWORD"] = orthanc.PASSWORD
        with orthanc.running_orthanc(scratch / "orthanc") as server:
            orthanc.upload(server, files)
            images = cohort.images
            urls = [
                f"{server.dicomweb}/studies/{row.study_uid}/series/{row.series_uid}"
                f"/instances/{row.sop_uid}"
                for row in images.itertuples()
            ]
            n = len(urls)

            def empty_cache() -> None:
                shutil.rmtree(cache, ignore_errors=True)
                forget_clients()

            def read_all(paths) -> None:
                for path in paths:
                    read_image(path)

            read_all(files)  # warm-up: imports, decoders, page cache
            rows = [
                ("disk", _best(lambda: read_all(files), args.repeats)),
                (
                    "orthanc, cold, 1 thread",
                    _best(lambda: read_all(urls), args.repeats, before=empty_cache),
                ),
                (
                    "orthanc, cold, prefetch (4 threads)",
                    _best(
                        lambda: (prefetch_instances(urls), read_all(urls)),
                        args.repeats,
                        before=empty_cache,
                    ),
                ),
                ("orthanc, warm", _best(lambda: read_all(urls), args.repeats)),
            ]
    disk = rows[0][1]
    print(
        f"{n} radiographs of {args.size} x {args.size}, uncompressed 12-bit CR; best of "
        f"{args.repeats}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n"
    )
    print(f"{'source':<38}{'seconds':>9}{'images/s':>10}{'vs disk':>9}")
    for name, seconds in rows:
        print(f"{name:<38}{seconds:>9.3f}{n / seconds:>10.1f}{disk / seconds:>9.2f}")


if __name__ == "__main__":
    main()
