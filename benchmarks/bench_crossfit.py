"""Cross-fitting benchmark: what keeping the CNN's fold models as its final model saves.

Late fusion and stacking fit their base models once per out-of-fold split and, without
``cross_fit``, once more on all patients: the CNN ``cv + 1`` times. With
``cross_fit=["image"]`` (their `make_model` recipes' default) the fold models are the final
image model (`FoldBagClassifier`, the mean of their probabilities): ``cv`` fits. Early
fusion fits the CNN once and gives its trees in-sample embeddings; cross-fitted (opt-in), it
fits the CNN ``cv`` times and its trees read the out-of-fold log-odds.

On one synthetic training cohort and a test cohort of another seed (25% of patients
without a radiograph in both), for each ``--cv`` and each fusion, before (``cross_fit=None``)
and after (``cross_fit=["image"]``), in one run: the fit time (wall and CPU), how many
times the CNN was fit, and the test AUROC with a bootstrap 95% interval. Then the goal:
stacking's fit at most 1.3x early fusion's, at the same AUROC or better. Last, the wall
time of ``ramultimodal train --model stacking`` against ``--model early`` on the training
cohort (the command's defaults), unless ``--no-cli``. Numbers: docs/scaling.md.

Run (a minute at the defaults with one torch thread, about 10 at the larger size, on a
2-core machine under load)::

    python benchmarks/bench_crossfit.py
    python benchmarks/bench_crossfit.py --n-train 700 --image-size 256 --max-epochs 15 --cv 2 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("early", "late", "stacking")


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children, all threads."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def load_split(n_patients: int, seed: int, image_size: int, root: Path):
    """A synthetic cohort written as a hospital export (CSV + PNG), read back as X, y."""
    from ramultimodal import load_dataset
    from ramultimodal.synthetic import make_cohort, write_cohort

    cohort = make_cohort(n_patients, seed=seed, image_size=image_size, image_missing_rate=0.25)
    folder = write_cohort(cohort, root / f"cohort-seed{seed}", formats=["csv", "png"])
    X, y = load_dataset(folder, source="csv")
    return folder, X, y.to_numpy()


class FitCounter:
    """Counts `CNNImageClassifier.fit` calls, and the patients they trained on, while
    installed: the CNN's work (times the epochs), which the machine's load does not blur."""

    def __init__(self) -> None:
        from ramultimodal.image import CNNImageClassifier

        self.cls, self.original = CNNImageClassifier, CNNImageClassifier.fit
        self.count = self.rows = 0
        counter = self

        def fit(model, *args, **kwargs):
            counter.count += 1
            counter.rows += len(args[1]) if len(args) > 1 else len(kwargs["y"])
            return counter.original(model, *args, **kwargs)

        CNNImageClassifier.fit = fit


def cpu_name() -> str:
    """The CPU's model name and whether it computes in bf16 (AVX512-BF16 or AMX): the CNN
    trains in bf16 where it does, so timings of two machines compare only with this."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), "unknown CPU")  # fmt: skip
    bf16 = "avx512_bf16" in info or "amx_bf16" in info
    return f"{name} (bf16: {'yes' if bf16 else 'no'})"


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def cli_train(folder: Path, kind: str, config: Path, out: Path) -> float:
    """Wall seconds of ``ramultimodal train --model KIND`` in a fresh process."""
    command = [
        sys.executable, "-c", "import sys; from ramultimodal.cli import main; sys.exit(main())",
        "train", "--data", str(folder), "--model", kind, "--config", str(config),
        "--out", str(out), "--force", "--quiet",
    ]  # fmt: skip
    tick = time.perf_counter()
    # The command's torch and OpenMP threads, as this process's.
    env = os.environ | {"OMP_NUM_THREADS": str(torch_threads())}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - tick
    if done.returncode != 0:
        print(f"ramultimodal train --model {kind} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=300)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--test-seed", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--cv", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--n-boot", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument(
        "--when", nargs="+", default=["before", "after"], choices=["before", "after"],
        help="without cross_fit (before), with it (after), or both",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch threads: 1, because on a loaded machine two threads that wait for each "
        "other's core made a fit 10 to 50 times slower (see docs/scaling.md, DDP)",
    )  # fmt: skip
    parser.add_argument("--no-cli", action="store_true", help="skip the train command timing")
    parser.add_argument("--workdir", default=None, help="keep the cohorts here (default: temp)")
    args = parser.parse_args()

    import torch

    from ramultimodal.evaluation import bootstrap_metric
    from ramultimodal.image._inputs import _shared_preprocessor
    from ramultimodal.models import make_model, modality_columns

    torch.set_num_threads(args.threads)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="bench_crossfit_"))
    started = time.perf_counter()
    train_folder, X_train, y_train = load_split(
        args.n_train, args.train_seed, args.image_size, root
    )
    _, X_test, y_test = load_split(args.n_test, args.test_seed, args.image_size, root)
    X_test = X_test.reindex(columns=X_train.columns)
    load = os.getloadavg()[0]
    print(
        f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} torch thread(s), load average "
        f"{load:.1f} at the start\n"
        f"train {len(y_train)} patients (seed {args.train_seed}), test {len(y_test)} "
        f"(seed {args.test_seed}), {args.image_size} px, {args.max_epochs} epochs; data ready "
        f"in {time.perf_counter() - started:.0f} s"
    )
    columns = modality_columns(X_train.columns)
    image_params = {"image_size": args.image_size, "max_epochs": args.max_epochs}
    # One untimed fit first, so that the first timed model does not pay torch's start-up.
    make_model("image", ehr_columns=[], image_params={**image_params, "max_epochs": 1}).fit(
        X_train.iloc[:40], y_train[:40]
    )
    counter = FitCounter()
    rows, rows_of = [], {}
    for cv in args.cv:
        for when in args.when:
            for kind in args.kinds:
                if when == "before" and kind == "early" and cv != args.cv[0]:
                    # Without cross_fit early fusion does not use cv: the same model again.
                    rows.append((cv, when, kind, *rows_of[(args.cv[0], when, kind)][3:]))
                    continue
                cross_fit = ["image"] if when == "after" else None
                model = make_model(
                    kind,
                    ehr_columns=columns["ehr"],
                    pro_columns=columns["pro"],
                    image_params=image_params,
                    fusion_params={"cv": cv, "cross_fit": cross_fit},
                    random_state=args.seed,
                )
                _shared_preprocessor.cache_clear()  # every fit decodes its images
                counter.count = counter.rows = 0
                tick, cpu_tick = time.perf_counter(), cpu_seconds()
                model.fit(X_train, y_train)
                wall, cpu = time.perf_counter() - tick, cpu_seconds() - cpu_tick
                proba = model.predict_proba(X_test)[:, 1]
                auroc = bootstrap_metric(
                    y_test, proba, "auroc", n_boot=args.n_boot, random_state=args.seed
                )
                fits = f"{counter.count} ({counter.rows})"
                rows.append((cv, when, kind, fits, wall, cpu, auroc))
                rows_of[(cv, when, kind)] = rows[-1]
                print(f"  cv={cv} {rows[-1][1]:<6} {kind:<8} {fits} CNN fits (patients) "
                      f"{wall:7.1f} s  AUROC {auroc}", flush=True)  # fmt: skip

    print(f"\n{'cv':>2} {'cross_fit':<9} {'fusion':<8} {'CNN fits (patients)':>19} {'fit s':>7} "
          f"{'CPU s':>7} {'x early':>7}  test AUROC [95% CI]")  # fmt: skip
    by = {(cv, when, kind): (fits, wall, cpu, auroc) for cv, when, kind, fits, wall, cpu, auroc
          in rows}  # fmt: skip
    for cv, when, kind, fits, wall, cpu, auroc in rows:
        early = by.get((cv, when, "early"))
        ratio = wall / early[1] if early else float("nan")
        print(f"{cv:>2} {when:<9} {kind:<8} {fits:>19} {wall:>7.1f} {cpu:>7.1f} "
              f"{ratio:>7.2f}  {auroc}")  # fmt: skip
    print()
    for cv in args.cv:
        if not all((cv, w, k) in by for w in ("before", "after") for k in ("early", "stacking")):
            continue
        stacking, early = by[(cv, "after", "stacking")], by[(cv, "after", "early")]
        before = by[(cv, "before", "stacking")]
        ratio = stacking[1] / early[1]
        same = stacking[3].value >= before[3].value - 0.005
        print(
            f"cv={cv}: stacking cross-fitted {stacking[1]:.0f} s = {ratio:.2f}x early fusion "
            f"cross-fitted (goal <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}); "
            f"{before[1] / stacking[1]:.2f}x faster than before; AUROC {stacking[3].value:.3f} "
            f"vs {before[3].value:.3f} before ({'same or better' if same else 'WORSE'}); early "
            f"fusion AUROC {early[3].value:.3f} vs {by[(cv, 'before', 'early')][3].value:.3f} "
            "before (in-sample embeddings)"
        )

    if not args.no_cli:
        config = root / "config.json"
        config.write_text(json.dumps({"image_params": image_params, "random_state": args.seed}))
        seconds = {
            kind: cli_train(train_folder, kind, config, root / f"model-{kind}")
            for kind in ("early", "stacking")
        }
        print(
            f"\nramultimodal train (its defaults) on the training cohort: "
            f"--model stacking {seconds['stacking']:.0f} s, --model early "
            f"{seconds['early']:.0f} s, ratio {seconds['stacking'] / seconds['early']:.2f} "
            "(goal <= 1.3)"
        )
    print(f"\ntotal {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f} "
          f"at the end; cohorts in {root}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
