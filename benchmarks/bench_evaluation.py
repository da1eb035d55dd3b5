"""Benchmark of the evaluation: every bootstrap replicate at once against one call per replicate.

Issue 15's goal, measured in one run: `evaluate_predictions` (the evaluation that
``ramultimodal evaluate`` and the demo run: each model's metrics with intervals, the paired
comparison with the criteria, the subgroups) on 1,000 patients with 1,000 replicates in
under 10 s on 2 cores, with the same intervals as before for the same seed. Before is kept
below (``reference_*``: the code as it was, one scikit-learn call per replicate and metric)
and run on the same predictions, so both times come from the same machine and load; the
tables of both are then compared number by number.

The predictions are drawn around the truth for five models as ``evaluate`` scores them (the
criteria, in tenths and so with many ties; an image model missing for a quarter of the
patients; two other modalities; a fusion), with the five subgroup variables of
`clinical_subgroups`. Writing the report (unchanged) is timed on its own line.

Run (about three minutes on 2 cores, nearly all of it the reference)::

    python benchmarks/bench_evaluation.py
    python benchmarks/bench_evaluation.py --sizes 60 --n-boot 200

Measured 2026-12-05 on this 2-core VM (no GPU; numpy 2.4, scikit-learn 1.9): 1,000
patients, 1,000 replicates: 102.6 s today, 2.3 s all replicates at once (45x; goal met);
60 patients: 77.8 s and 0.9 s (86x); the intervals of both the same, bit for bit.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ramultimodal.evaluation import METRICS, MetricEstimate

GOAL_SECONDS = 10.0


# Today's code path before issue 15, as it was: one call of the metric per replicate.
def reference_bootstrap_indices(y, n_boot, random_state):
    rng = check_random_state(random_state)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    return [
        np.concatenate(
            [rng.choice(positives, positives.size), rng.choice(negatives, negatives.size)]
        )
        for _ in range(n_boot)
    ]


def reference_bootstrap_metric(
    y_true, proba, metric="auroc", *, n_boot=1000, confidence=0.95, random_state=0
):
    function = METRICS[metric] if isinstance(metric, str) else metric
    y_true, proba = np.asarray(y_true, float), np.asarray(proba, float)
    kept = ~np.isnan(proba)
    y_true, proba = y_true[kept].astype(int), proba[kept]
    if len(np.unique(y_true)) < 2:
        raise ValueError("Both classes are needed to estimate a metric with a bootstrap.")
    replicates = np.array(
        [
            function(y_true[i], proba[i])
            for i in reference_bootstrap_indices(y_true, n_boot, random_state)
        ]
    )
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(replicates, [alpha, 1 - alpha])
    return MetricEstimate(float(function(y_true, proba)), float(low), float(high), int(kept.sum()))


def reference_metric_table(
    y_true,
    predictions,
    *,
    metrics=("auroc", "auprc", "brier", "sens_at_spec_0.61", "calibration_slope", "ece"),
    n_boot=1000,
    random_state=0,
):
    rows = {}
    for name, proba in predictions.items():
        row = {}
        for metric in metrics:
            estimate = reference_bootstrap_metric(
                y_true, proba, metric, n_boot=n_boot, random_state=random_state
            )
            row["n"] = estimate.n
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
                estimate.value,
                estimate.low,
                estimate.high,
            )
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def reference_paired_bootstrap(
    y_true, proba_a, proba_b, metric="auroc", *, n_boot=1000, confidence=0.95, random_state=0
):
    function = METRICS[metric] if isinstance(metric, str) else metric
    y_true = np.asarray(y_true).astype(int)
    proba_a, proba_b = np.asarray(proba_a, float), np.asarray(proba_b, float)
    kept = ~(np.isnan(proba_a) | np.isnan(proba_b))
    y_true, proba_a, proba_b = y_true[kept], proba_a[kept], proba_b[kept]
    differences = np.array(
        [
            function(y_true[sample], proba_a[sample]) - function(y_true[sample], proba_b[sample])
            for sample in reference_bootstrap_indices(y_true, n_boot, random_state)
        ]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(differences, [alpha, 1 - alpha])
    value = function(y_true, proba_a) - function(y_true, proba_b)
    return MetricEstimate(float(value), float(low), float(high), int(kept.sum()))


@contextmanager
def todays_code_path():
    """`evaluate_predictions` calling the reference bootstrap, as before issue 15."""
    from ramultimodal.evaluation import _clinical, _subgroups

    saved = _clinical.metric_table, _clinical.paired_bootstrap, _subgroups.bootstrap_metric
    _clinical.metric_table = reference_metric_table
    _clinical.paired_bootstrap = reference_paired_bootstrap
    _subgroups.bootstrap_metric = reference_bootstrap_metric
    try:
        yield
    finally:
        _clinical.metric_table, _clinical.paired_bootstrap, _subgroups.bootstrap_metric = saved


def synthetic_predictions(n_patients: int, seed: int):
    """Truth, five models' probabilities and the subgroup variables of `n_patients`."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n_patients) < 0.4).astype(int)

    def model(strength: float) -> np.ndarray:
        return np.clip(strength * y + rng.uniform(0, 1 - strength / 2, n_patients), 0, 1)

    image = model(0.4)
    image[rng.uniform(size=n_patients) < 0.25] = np.nan
    predictions = {
        "ACR/EULAR 2010": np.round(model(0.3) * 10) / 10,
        "image alone": image,
        "ehr alone": model(0.5),
        "pro alone": model(0.35),
        "EarlyFusion": model(0.6),
    }
    subgroups = pd.DataFrame(
        {
            "sex": np.where(rng.uniform(size=n_patients) < 0.7, "female", "male"),
            "age_band": rng.choice(["<40", "40-60", ">60"], n_patients),
            "serostatus": rng.choice(["seropositive", "seronegative"], n_patients),
            "image": np.where(np.isnan(image), "without image", "with image"),
            "disease_stage": rng.choice(["early", "established"], n_patients),
        }
    )
    return y, predictions, subgroups


def compare(ours, today) -> str:
    """Whether the three tables of intervals are the same, number by number."""
    numbers, unequal, largest = 0, [], 0.0
    for table in ("metrics", "versus_baseline", "subgroups"):
        a, b = getattr(ours, table), getattr(today, table)
        numeric = a.select_dtypes("number").columns
        numbers += a[numeric].size
        if not a.equals(b):
            unequal.append(table)
            gap = (a[numeric] - b[numeric]).abs().to_numpy(float)
            largest = max(largest, float(np.nanmax(gap, initial=0.0)))
    if not unequal:
        return f"yes, all {numbers:,} numbers of the three tables, bit for bit"
    return f"NO: {', '.join(unequal)} differ (largest gap {largest:.2g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 60], metavar="N")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from ramultimodal.evaluation import evaluate_predictions, write_report

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_evaluation: {args.n_boot} replicates, {os.cpu_count()} CPUs, "
          f"load {load:.1f}")  # fmt: skip

    for n_patients in args.sizes:
        y, predictions, subgroups = synthetic_predictions(n_patients, args.seed)

        evaluate = partial(
            evaluate_predictions, y, predictions, baseline="ACR/EULAR 2010",
            subgroups=subgroups, n_boot=args.n_boot, random_state=args.seed,
        )  # fmt: skip

        ours_seconds = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            ours = evaluate()
            ours_seconds = min(ours_seconds, time.perf_counter() - start)
        with todays_code_path():
            start = time.perf_counter()
            today = evaluate()
            today_seconds = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            write_report(ours, Path(folder) / "report", synthetic=True)
            report_seconds = time.perf_counter() - start

        print(f"\n{n_patients} patients, {len(predictions)} models, "
              f"{subgroups.shape[1]} subgroup variables:")  # fmt: skip
        print(f"  {'today (a call per replicate)':<32}{today_seconds:7.2f} s")
        print(f"  {'all replicates at once':<32}{ours_seconds:7.2f} s   "
              f"({today_seconds / ours_seconds:.0f}x faster)")  # fmt: skip
        if n_patients == 1000 and args.n_boot == 1000:
            verdict = "met" if ours_seconds < GOAL_SECONDS else "NOT met"
            print(f"  {f'goal: under {GOAL_SECONDS:.0f} s':<32}{verdict}")
        print(f"  {'writing the report (unchanged)':<32}{report_seconds:7.2f} s")
        print(f"  same intervals as today: {compare(ours, today)}")


if __name__ == "__main__":
    main()
