"""LightGBM against XGBoost as the recipes' gradient-boosted learner (``gbm=``).

On one synthetic cohort (no radiographs: the tabular models only, so that it runs in a few
minutes), each recipe is cross-validated twice on the same patient-grouped, label-
stratified folds (`ramultimodal.evaluation.patient_cross_validate`), once with
``gbm="lightgbm"`` and once with ``gbm="xgboost"``:

- ``ehr``: the EHR model alone (`make_model("ehr")`, the record's features without PROs);
- ``early``: early fusion of the EHR and PRO features (`make_model("early")` with its image
  modality dropped), with its pattern submodels.

Printed side by side: the out-of-fold AUROC of each with a stratified bootstrap 95%
interval, the paired bootstrap difference XGBoost - LightGBM with its 95% interval (the
same resampled patients for both), and the time to fit and predict the five folds with
the ratio XGBoost / LightGBM (CPU time too: this machine is shared).

The EHR features are extracted once from the whole cohort (`EHRFeaturizer` learns which
concepts exist, not the labels), so both learners read the same table.

Run (about two minutes on 2 cores)::

    python benchmarks/bench_gbm.py
    python benchmarks/bench_gbm.py --n-patients 1000 --repeats 2 --n-boot 2000

Measured 2026-12-06 on this shared 2-core machine (load 9 to 10, so times vary from run to
run: compare within a run). Defaults (400 patients, 395 features, 5 folds, 1000
replicates): EHR model LightGBM 0.860 [0.817, 0.898], XGBoost 0.865 [0.824, 0.904],
difference +0.006 [-0.001, +0.013], fit time ratio XGBoost / LightGBM 1.85 (2.5 s against
4.6 s); early fusion 0.861 [0.818, 0.900] against 0.861 [0.820, 0.900], -0.000 [-0.008,
+0.007], ratio 0.74. With 1000 patients, 2 repeats and 2000 replicates: EHR model 0.926
[0.906, 0.943] against 0.928 [0.909, 0.944], +0.002 [-0.001, +0.005], ratio 1.21 (CPU
1.42); early fusion 0.929 [0.910, 0.945] against 0.930 [0.912, 0.946], +0.001 [-0.001,
+0.004], ratio 0.52 (CPU 0.97). The two learners are interchangeable on these cohorts:
every interval holds 0. XGBoost's ``min_child_weight=2`` for the EHR model was chosen
here: 1, 2 and 4 gave 0.864, 0.865 and 0.858 at 400 patients.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0, help="the cohort's seed")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="repeated cross-validation")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--ehr-params", type=json.loads, default={}, help="JSON, for both")
    args = parser.parse_args()

    from ramultimodal.ehr import EHRFeaturizer
    from ramultimodal.evaluation import bootstrap_metric, paired_bootstrap, patient_cross_validate
    from ramultimodal.models import GBM_CHOICES, make_model, modality_columns
    from ramultimodal.synthetic import make_cohort

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bench_gbm: {args.n_patients} patients (seed {args.seed}), {args.folds}-fold "
        f"patient-grouped CV x {args.repeats}, {os.cpu_count()} CPUs, load {load:.1f}"
    )
    cohort = make_cohort(args.n_patients, seed=args.seed, render_images=False)
    X = EHRFeaturizer(cohort.events).set_output(transform="pandas").fit_transform(cohort.patients)
    y = cohort.patients["ra"].astype(int).to_numpy()
    columns = modality_columns(X.columns)
    print(
        f"{X.shape[1]} features ({len(columns['ehr'])} EHR, {len(columns['pro'])} PRO), "
        f"RA {y.mean():.2f}"
    )

    def recipe(kind: str, gbm: str):
        if kind == "ehr":
            return make_model(
                "ehr", ehr_columns=columns["ehr"], gbm=gbm, ehr_params=args.ehr_params
            )
        model = make_model(
            "early",
            ehr_columns=columns["ehr"],
            pro_columns=columns["pro"],
            gbm=gbm,
            ehr_params=args.ehr_params,
        )
        return model.set_params(image="drop")

    rows = []
    for kind in ("ehr", "early"):
        proba, wall, cpu = {}, {}, {}
        for gbm in GBM_CHOICES:
            start, start_cpu = time.perf_counter(), time.process_time()
            result = patient_cross_validate(
                recipe(kind, gbm), X, y, cv=args.folds, n_repeats=args.repeats, random_state=0
            )
            wall[gbm] = time.perf_counter() - start
            cpu[gbm] = time.process_time() - start_cpu
            proba[gbm] = result.proba.to_numpy()
        auroc = {
            gbm: bootstrap_metric(y, proba[gbm], "auroc", n_boot=args.n_boot) for gbm in GBM_CHOICES
        }
        difference = paired_bootstrap(
            y, proba["xgboost"], proba["lightgbm"], "auroc", n_boot=args.n_boot
        )
        rows.append((kind, auroc, difference, wall, cpu))

    print()
    header = (
        f"{'model':<7}{'LightGBM AUROC':>24}{'XGBoost AUROC':>24}{'XGBoost - LightGBM':>27}"
        f"{'fit s LGBM':>12}{'fit s XGB':>11}{'ratio':>7}{'CPU ratio':>11}"
    )
    print(header)
    print("-" * len(header))
    for kind, auroc, difference, wall, cpu in rows:
        difference_text = f"{difference.value:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}]"
        print(
            f"{kind:<7}{auroc['lightgbm']!s:>24}{auroc['xgboost']!s:>24}"
            f"{difference_text:>27}{wall['lightgbm']:>12.1f}{wall['xgboost']:>11.1f}"
            f"{wall['xgboost'] / wall['lightgbm']:>7.2f}{cpu['xgboost'] / cpu['lightgbm']:>11.2f}"
        )


if __name__ == "__main__":
    main()
