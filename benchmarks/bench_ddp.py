"""Benchmark of the CNN trained with torch DDP: two gloo processes on the CPU against one.

Issue 16's "CNN: DDP on two CPU processes against one, images per second and AUROC": the
same ``CNNImageClassifier`` (the CPU default network, ``small``) trained on a synthetic
cohort's DICOM files (seed 1; the processes read them from the same folder, as they would
from a cluster's shared path) with ``n_processes=1`` and with ``n_processes=2``, then tested
on another cohort (seed 2). The DDP run and the first single-process run get the same
cores: one process of ``--threads`` threads, or two of ``--threads // 2`` (what
``n_processes`` does by itself); a third run is one process of ``--threads // 2``
threads, the share each DDP process has. On a loaded machine the threads of one process
that are descheduled spin (OpenMP), which makes one process of two threads slower than it
should be; the third row shows that. Printed side by side:

- ``fit s``: wall time of ``fit``, decoding (every run decodes afresh) and, for DDP,
  starting the processes included;
- ``train img/s``: training images per second over the epochs alone (the epochs' own
  clocks, process 0's for DDP), the figure DDP is meant to raise;
- the test AUROC of each.

Run (a few minutes; cohorts are cached under ``--workdir`` between runs)::

    python benchmarks/bench_ddp.py
    python benchmarks/bench_ddp.py --n-patients 800 --image-size 256 --epochs 15

Measured: see docs/scaling.md, "The CNN on several processes (torch DDP)".
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ramu-bench")
    args = parser.parse_args()

    import torch
    from bench_image import cohort_images
    from sklearn.metrics import roc_auc_score

    from ramultimodal.image import CNNImageClassifier
    from ramultimodal.image._classifier import _cpu_has_native_bf16
    from ramultimodal.image._inputs import _shared_preprocessor

    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"bf16 in hardware (AMX/AVX512-BF16): {_cpu_has_native_bf16()}; torch {torch.__version__}"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    train_images, train_patients = cohort_images(
        1, args.n_patients, args.image_size, 1, args.workdir
    )
    test_images, test_patients = cohort_images(2, args.n_test, args.image_size, 1, args.workdir)
    n_train_images = sum(len(images) for images in train_images)

    rows = []
    half = max(1, args.threads // 2)
    for n_processes, threads in ((1, args.threads), (2, args.threads), (1, half)):
        torch.set_num_threads(threads)  # n_processes=2 shares these out: threads // 2 each
        # Every run decodes the images (as the DDP processes must), none reuses another's.
        _shared_preprocessor.cache_clear()
        model = CNNImageClassifier(
            image_size=args.image_size, max_epochs=args.epochs, n_processes=n_processes,
            random_state=0, verbose=0,
        )  # fmt: skip
        start = time.perf_counter()
        model.fit(train_images, train_patients["ra"].to_numpy())
        fit_seconds = time.perf_counter() - start
        epoch_seconds = sum(record["seconds"] for record in model.history_)
        proba = model.predict_proba(test_images)[:, 1]
        has = ~np.isnan(proba)
        auroc = roc_auc_score(test_patients["ra"].to_numpy()[has], proba[has])
        rate = n_train_images * args.epochs / epoch_seconds
        rows.append((n_processes, threads // n_processes, fit_seconds, rate, auroc))

    print(
        f"\n{n_train_images} training images of {args.image_size} px, {args.epochs} epochs, "
        f"test: {args.n_test} patients"
    )
    print(
        f"{'processes':>9} {'threads each':>12} {'fit s':>8} {'train img/s':>12} {'test AUROC':>11}"
    )
    for n_processes, threads, fit_seconds, rate, auroc in rows:
        print(f"{n_processes:>9} {threads:>12} {fit_seconds:>8.1f} {rate:>12.1f} {auroc:>11.3f}")
    (_, _, fit1, rate1, _), (_, _, fit2, rate2, _), (_, _, fit3, rate3, _) = rows
    print(
        f"2 processes vs 1 of {args.threads} threads: {rate2 / rate1:.2f}x the training "
        f"images/s, fit {fit1 / fit2:.2f}x as fast; vs 1 of {half}: {rate2 / rate3:.2f}x, "
        f"{fit3 / fit2:.2f}x"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
