"""Fusion benchmark: does fusing the radiograph with the EHR beat each alone, and the criteria?

Trains on one synthetic cohort and tests on another (different seeds), 25% of patients
without a radiograph in both, and prints for each model the test AUROC with a stratified
bootstrap 95% interval and its fit time:

- image only (the CNN; scored on the patients with a radiograph), EHR only (LightGBM on all
  EHR and PRO features), the 2010 ACR/EULAR criteria;
- late fusion, stacking and early fusion of the two modalities;
- pytorch-widedeep (tabular MLP + image CNN, a blank image for patients without one, as its
  users are told to do) on the same patients, in its own virtual environment because it pins
  numpy<2. Build it once with::

      python -m venv /tmp/wd-venv && /tmp/wd-venv/bin/pip install pytorch-widedeep

Then the paired bootstrap of the best fusion minus the best single modality (goal: at least
+0.02 AUROC with the lower bound above 0), and the AUROC on the patients without a
radiograph, fusion against EHR only (goal: no worse).

Run (about 8 minutes on 2 CPU cores)::

    python benchmarks/bench_fusion.py
    python benchmarks/bench_fusion.py --image-size 128 --max-epochs 8  # quicker
    python benchmarks/bench_fusion.py --float32 --models image,early  # a CPU without bf16
    python benchmarks/bench_fusion.py --backbone small  # the CNN of before 2026-12-06

The header says the CPU, whether it computes bf16 in hardware (AVX512-BF16, AMX), the torch
version, its threads and the load average: the CNN trains in bf16 where the CPU has it and
about 2x slower in float32 elsewhere, so fit times of two machines are never compared blind.

Measured 2026-11-26 on this 2-core machine (Xeon with AMX, so the CNN trains in bf16, on
random 192 px crops of the 256 px images, augmented batch by batch, with the small network
pooling before its second BatchNorm of each stage), defaults (700 / 400 patients, 256 px,
15 epochs, --cv 2), two runs with identical AUROCs: image only 0.948 (289 patients), EHR
only 0.930, criteria 0.841, late fusion 0.961, stacking 0.967, early fusion 0.973,
pytorch-widedeep 0.896. Early fusion minus image only +0.033 [0.016, 0.055], minus EHR only
+0.044 [0.024, 0.067] (goal met), minus criteria +0.132 [0.096, 0.169], minus widedeep
+0.077 [0.048, 0.110]. Without a radiograph (111 patients) all three fusions equal EHR only
(0.940; goal met). Fit times of the two runs (this shared machine's speed varies from run
to run, so compare within a run): early fusion 36 / 33 s, late fusion 70 / 68 s, stacking
64 / 68 s, pytorch-widedeep 84 / 74 s. Early fusion took 0.43 and 0.44 of widedeep's time
(CPU time: 0.43 and 0.45), against a goal of at most 0.5: met. Our CNN costs about 5x
widedeep's per image (264 M against 53 M multiply-adds at 256 px), and that is what makes
the radiograph worth having: widedeep's fused AUROC stays at its tabular level (0.891 on the
patients without a radiograph, 0.896 overall).

Float32, 2026-12-06 (issue 16: the goal must hold on a CPU without bf16). An AMD EPYC
without AMX or AVX512-BF16 had measured early fusion at 105 s against widedeep's 98 s
(1.07x). On this 2-core AMD EPYC (AVX512-BF16, no AMX), ``--float32``, shared with five
other jobs (load average 5 to 14, so the wall times below are inflated several-fold and
only ratios within a run mean anything), ``--models image,early``:

- the ``small`` network (the default until then), run under load 8 to 14: image only 0.948,
  early fusion 0.975 [0.962, 0.986], widedeep 0.883; early fusion took 1736 s against
  widedeep's 821 s (ratio 2.12; CPU time 378 s against 252 s, 1.50). Again under load 3 to
  5, just before the two ``lean`` runs: the same AUROCs, 261 s against 332 s (ratio 0.79;
  CPU 0.86);
- the ``lean`` network (the default since), twice, load 2 to 5: image only 0.915 [0.877,
  0.948], early fusion 0.969 [0.953, 0.983] (0.006 below ``small``'s), widedeep 0.883;
  early fusion fit 35 s against 61 s (ratio 0.58; CPU 0.52), then 23 s against 151 s
  (ratio 0.15; CPU 0.24): met in the second run, not in the first. Both runs fitted the
  image-only CNN (the same network and seed) in 146 to 159 s, far more than early
  fusion's whole fit: why, not yet found. Not float32 denormals: in a quieter moment (load
  2) one process fitted the image-only CNN in 20 s with ``torch.set_flush_denormal(True)``
  and 21 s without; another fitted ``lean``, ``small``, ``lean`` in 25, 37 and 18 s (epochs
  of 1.1 to 1.5 s against 2.35 s: ``lean`` at 0.5 to 0.65x ``small``'s time). So the
  ratios above need a quiet machine to be trusted.
- bf16 (``mixed_precision="auto"``, this CPU having AVX512-BF16), ``lean``, load 3: image
  only 0.938 in 16 s, early fusion 0.968 in 15 s against widedeep's 50 s (ratio 0.29;
  CPU 0.30).

What was tried, in float32 on the same cohorts (1 thread, CPU time per training image at
192 px, batch 32, the machine loaded; test AUROC of one seed, image only / early fusion):
``small`` 5.7 to 7.1 ms, 0.948 / 0.975 (2 threads); ``lean`` with a 3x3 stem 3.1 ms,
0.905 / 0.960; with the 7x7 stem (kept) 3.2 ms, 0.930 / 0.958; the 3x3 stem pooled at once
but two convolutions in every later stage 5.0 ms, 0.913; narrower stages (16-24-48-96-192)
3.4 ms, 0.903 / 0.966; ``small``'s first stage kept, the next two single 4.9 ms, 0.938 /
0.973; ``small`` trained 10 epochs 0.947 / 0.969, 8 epochs 0.890 / 0.957 (fewer epochs
would not move the ratio here anyway: widedeep is given the same ``--max-epochs``); the
first 10 of 15 epochs on images halved in resolution, 0.778 image only (dropped). Batches
of 64 cost as much per image as 32. Channels-last, already the default, was faster than
contiguous for the convolutions and BatchNorms of every stage in float32 (1 thread: 24.6
against 35.5 ms for a 16-channel 96 px convolution forward and backward, 14.6 against 17.4
ms for its BatchNorm). Decoded radiographs are already kept in the process's memory cache
across folds and fits (``_image_cache.py``); the benchmark empties it before each fit, as
widedeep reads its files too, and decoding costs about 1 s of a fit.

The CNN's defaults were chosen on these cohorts (700 training patients, so 525 training
radiographs, at 256 px), with its parameters changed by hand (the script has no flag for
them); measured 2026-11-26 on this 2-core machine, and quoted in ``CNNImageClassifier``'s
docstring until the image package was split into files:

- ``mixed_precision``: bf16 autocast, the CPU having AMX, trained the image model in 57 s
  against 116 s in float32, test AUROC 0.935 against 0.940.
- ``validation_fraction``: in float32, a 0.15 validation split for early stopping kept epoch
  8 of 15, test AUROC 0.776, against 0.940 training on every patient for 15 epochs.
- ``train_crop``: in bf16, over four seeds, random crops of 0.75 of the side trained in 0.66x
  the time of whole images with the same test AUROC (0.934 against 0.930 on average); 0.625
  was faster still but less stable (0.875 to 0.934).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WIDEDEEP_HELPER = HERE / "bench_fusion_widedeep.py"
SINGLE = ("image only", "EHR only")
FUSIONS = ("late fusion", "stacking", "early fusion")


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (DataLoader workers), all threads."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def machine_header() -> str:
    """The CPU, its bf16 hardware and torch's settings: what makes two runs' times comparable.

    The CNN trains in bf16 where the CPU computes it in hardware (AMX or AVX512-BF16) and in
    float32 elsewhere, about 2x slower: fit times from two machines mean nothing without it.
    """
    import torch

    model = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", "x86_64", platform.processor()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:  # not Linux: torch's probes below still answer
        pass
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: "avx512_bf16" in flags)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: "amx_tile" in flags)
    load = (
        ", ".join(f"{value:.1f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    )
    return (
        f"CPU: {model}, {os.cpu_count()} logical cores, AVX512-BF16 {'yes' if probe() else 'no'}, "
        f"AMX {'yes' if amx() else 'no'}; torch {torch.__version__} "
        f"({torch.backends.cpu.get_cpu_capability()}), {torch.get_num_threads()} threads, "
        f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}; "
        f"load average {load}"
    )


def load_split(n_patients: int, seed: int, image_size: int, root: Path):
    """A synthetic cohort written as a hospital export (CSV + DICOM + PNG), read back as X, y.

    The folder is written once and reused by later runs with the same ``--workdir``.
    """
    from ramultimodal import load_dataset
    from ramultimodal.synthetic import make_cohort, write_cohort

    folder = root / f"cohort-seed{seed}-n{n_patients}-{image_size}px"
    if not (folder / "images.csv").is_file():
        cohort = make_cohort(n_patients, seed=seed, image_size=image_size, image_missing_rate=0.25)
        write_cohort(cohort, folder, formats=["csv", "dicom", "png"], overwrite=True)
    X, y = load_dataset(folder, source="csv")
    return X, y.to_numpy()


def build_models(ehr_columns: list[str], args: argparse.Namespace) -> dict:
    """The recipes of `ramultimodal.models`, with the EHR modality holding EHR and PRO columns."""
    from ramultimodal.models import make_model

    image_params = {
        "image_size": args.image_size,
        "max_epochs": args.max_epochs,
        "backbone": args.backbone,
    }
    if args.float32:
        image_params["mixed_precision"] = False
    kinds = {
        "image only": "image",
        "EHR only": "ehr",
        "ACR/EULAR 2010": "criteria",
        "late fusion": "late",
        "stacking": "stacking",
        "early fusion": "early",
    }
    if args.models:
        kinds = {name: kind for name, kind in kinds.items() if kind in args.models}
    return {
        name: make_model(
            kind,
            ehr_columns=ehr_columns,
            image_params=image_params,
            fusion_params={"cv": args.cv} if kind in ("late", "stacking") else {},
            random_state=args.seed,
        )
        for name, kind in kinds.items()
    }


def run_widedeep(X_train, y_train, X_test, ehr_columns, args, folder: Path) -> dict | None:
    """Fit pytorch-widedeep in its own venv on the same patients; its test probabilities."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, X in (("train", X_train), ("test", X_test)):
        np.save(folder / f"{split}_tabular.npy", X[ehr_columns].to_numpy(dtype=np.float32))
        # The PNG twin of each patient's first DICOM ("" when the patient has no image).
        pngs = [str(Path(paths[0]).with_suffix(".png")) if paths else "" for paths in X["image"]]
        (folder / f"{split}_images.json").write_text(json.dumps(pngs))
    np.save(folder / "train_y.npy", y_train)
    python = Path(args.widedeep_python)
    if not python.is_file():
        print(f"\npytorch-widedeep: skipped, {python} not found. Build it with:\n"
              "  python -m venv /tmp/wd-venv && /tmp/wd-venv/bin/pip install pytorch-widedeep\n"
              f"and run: {python} {WIDEDEEP_HELPER} {folder}")  # fmt: skip
        return None
    command = [
        str(python), str(WIDEDEEP_HELPER), str(folder),
        "--image-size", str(args.image_size), "--epochs", str(args.max_epochs),
        "--seed", str(args.seed),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"\npytorch-widedeep failed:\n{done.stderr[-3000:]}")
        return None
    return json.loads((folder / "result.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=700)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--test-seed", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--cv", type=int, default=2, help="inner folds of late fusion/stacking")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--backbone", default="lean", help="the CNN's network ('small': the default before)"
    )
    parser.add_argument(
        "--float32",
        action="store_true",
        help="train the CNN in float32 (mixed_precision=False), as on a CPU without bf16",
    )
    parser.add_argument(
        "--models",
        type=lambda text: text.split(","),
        default=None,
        help="comma-separated kinds to fit (image,ehr,criteria,late,stacking,early; "
        "default all); the comparisons that need a missing one are left out",
    )
    parser.add_argument("--widedeep-python", default="/tmp/wd-venv/bin/python")
    parser.add_argument("--workdir", default=None, help="keep the cohorts here (default: temp)")
    args = parser.parse_args()

    import torch

    from ramultimodal.evaluation import bootstrap_metric, paired_bootstrap
    from ramultimodal.image._classifier import _cpu_has_native_bf16
    from ramultimodal.image._inputs import _shared_preprocessor
    from ramultimodal.models import modality_columns

    torch.set_num_threads(2)
    print(machine_header())
    if args.float32:
        precision = "float32 (--float32)"
    else:
        native = _cpu_has_native_bf16()
        precision = f"{'bf16' if native else 'float32'} (mixed_precision='auto')"
    print(f"CNN: backbone {args.backbone!r}, precision {precision}")
    root = Path(args.workdir or tempfile.mkdtemp(prefix="bench_fusion_"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    X_train, y_train = load_split(args.n_train, args.train_seed, args.image_size, root)
    X_test, y_test = load_split(args.n_test, args.test_seed, args.image_size, root)
    # load_dataset featurizes each cohort on its own, so a rare feature (a lab slope) may
    # exist in one only: the test set gets the training columns, NaN where it lacks one.
    X_test = X_test.reindex(columns=X_train.columns)
    no_image = X_test["image"].map(len).eq(0).to_numpy()
    print(
        f"train: {len(y_train)} patients (seed {args.train_seed}), "
        f"{X_train['image'].map(len).eq(0).mean():.0%} without a radiograph, "
        f"{y_train.mean():.0%} RA; test: {len(y_test)} (seed {args.test_seed}), "
        f"{no_image.mean():.0%} without a radiograph, {y_test.mean():.0%} RA; "
        f"data ready in {time.perf_counter() - started:.0f} s"
    )
    columns = modality_columns(X_train.columns)
    ehr_columns = columns["ehr"] + columns["pro"]

    probas, seconds, cpu = {}, {}, {}
    for name, model in build_models(ehr_columns, args).items():
        print(f"  fitting {name} ...", flush=True)
        # Every fit starts from the files, as pytorch-widedeep's does: no radiograph
        # decoded by an earlier fit is kept in memory (decoding them takes about 1 s).
        _shared_preprocessor.cache_clear()
        tick, cpu_tick = time.perf_counter(), cpu_seconds()
        model.fit(X_train, y_train)
        seconds[name] = time.perf_counter() - tick
        cpu[name] = cpu_seconds() - cpu_tick
        probas[name] = model.predict_proba(X_test)[:, 1]

    # Kept next to the cohorts, so the numbers can be looked at again without refitting.
    table = pd.DataFrame(probas, index=X_test.index).assign(ra=y_test, no_image=no_image)
    table.to_csv(root / "test_predictions.csv")
    (root / "fit_seconds.json").write_text(json.dumps({"wall": seconds, "cpu": cpu}))

    widedeep = run_widedeep(X_train, y_train, X_test, ehr_columns, args, root / "widedeep")
    if widedeep is not None:
        probas["pytorch-widedeep"] = np.asarray(widedeep["proba"], dtype=float)
        seconds["pytorch-widedeep"] = widedeep["fit_seconds"]
        cpu["pytorch-widedeep"] = widedeep["fit_cpu_seconds"]

    def auroc(name, rows=slice(None)):
        return bootstrap_metric(
            y_test[rows], probas[name][rows], "auroc", n_boot=args.n_boot, random_state=args.seed
        )

    print(f"\n{'model':<18} {'patients':>8}  {'AUROC [95% CI]':<22} {'fit s':>7} {'CPU s':>7}")
    estimates = {name: auroc(name) for name in probas}
    for name, estimate in estimates.items():
        print(
            f"{name:<18} {estimate.n:>8}  {estimate!s:<22} {seconds[name]:>7.1f} {cpu[name]:>7.1f}"
        )

    # The image model scores only the patients with a radiograph, the EHR model everyone:
    # the best fusion is compared with each on the patients both score, and must beat both.
    fusions = [name for name in FUSIONS if name in probas]
    best_fusion = max(fusions, key=lambda name: estimates[name].value) if fusions else None
    print()
    for single in (name for name in SINGLE if best_fusion and name in probas):
        gain = paired_bootstrap(
            y_test, probas[best_fusion], probas[single], n_boot=args.n_boot,
            random_state=args.seed,
        )  # fmt: skip
        met = "met" if gain.value >= 0.02 and gain.low > 0 else "NOT met"
        print(
            f"best fusion ({best_fusion}) - {single}, paired bootstrap on the {gain.n} "
            f"patients both score: {gain}  [goal: >= +0.02 with lower bound > 0: {met}]"
        )
    if best_fusion and "ACR/EULAR 2010" in probas:
        criteria = paired_bootstrap(
            y_test, probas[best_fusion], probas["ACR/EULAR 2010"], n_boot=args.n_boot,
            random_state=args.seed,
        )  # fmt: skip
        print(f"best fusion - ACR/EULAR 2010: {criteria}")

    print(f"\nthe {int(no_image.sum())} test patients without a radiograph:")
    for name in ("EHR only", *FUSIONS, "pytorch-widedeep"):
        if name in probas:
            print(f"  {name:<18} AUROC {auroc(name, no_image)!s}")
    for name in (name for name in fusions if "EHR only" in probas):
        difference = paired_bootstrap(
            y_test[no_image], probas[name][no_image], probas["EHR only"][no_image],
            n_boot=args.n_boot, random_state=args.seed,
        )  # fmt: skip
        print(f"  {name} - EHR only: {difference}")

    # The goal is early fusion's: it fits the CNN once, as widedeep fits its network once.
    for name in (name for name in ("early fusion", best_fusion) if name in probas):
        if widedeep is None:
            break
        ratio = seconds[name] / seconds["pytorch-widedeep"]
        cpu_ratio = cpu[name] / cpu["pytorch-widedeep"]
        versus = paired_bootstrap(
            y_test, probas[name], probas["pytorch-widedeep"], n_boot=args.n_boot,
            random_state=args.seed,
        )  # fmt: skip
        met = "met" if ratio <= 0.5 and versus.value > 0 else "NOT met"
        print(
            f"\n{name} vs pytorch-widedeep ({widedeep['description']}): AUROC "
            f"difference {versus}; fit time {seconds[name]:.0f} s vs "
            f"{seconds['pytorch-widedeep']:.0f} s (ratio {ratio:.2f}); CPU time "
            f"(all threads and workers) {cpu[name]:.0f} s vs "
            f"{cpu['pytorch-widedeep']:.0f} s (ratio {cpu_ratio:.2f})  "
            f"[goal: fit time ratio <= 0.5 and AUROC ahead, {precision}: {met}]"
        )
        if name == best_fusion:
            break
    print(f"\ntotal {time.perf_counter() - started:.0f} s; cohorts in {root}")


if __name__ == "__main__":
    sys.exit(main())
