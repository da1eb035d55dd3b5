"""Benchmark of the EHR pipeline: EHRFeaturizer + LightGBM against the 2010 ACR/EULAR criteria.

Issue 4's goal, measured in one run on the same test patients: the EHR-only model
(`EHRFeaturizer` + LightGBM), trained on one synthetic cohort (seed 0) and tested on
another (seed 1), beats the `ACREULARClassifier` (the criteria, score / 10). Prints AUROC
with a stratified bootstrap 95% CI for each, their paired-bootstrap difference, the
criteria's sensitivity and specificity at 6 points beside the published 0.82 / 0.61
(Radner et al., Ann Rheum Dis 2014), the same model without the leakage guard (what a
leak looks like), and the featurizer's speed.

Run (about a minute on 2 cores)::

    python benchmarks/bench_ehr.py
    python benchmarks/bench_ehr.py --n-train 600 --n-test 400 --n-boot 200
"""

from __future__ import annotations

import argparse
import os
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args()

    import pandas as pd
    from lightgbm import LGBMClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline

    from ramultimodal.ehr import ACREULARClassifier, EHRFeaturizer
    from ramultimodal.evaluation import bootstrap_metric, delong_test, paired_bootstrap
    from ramultimodal.synthetic import make_cohort

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_ehr: train {args.n_train} (seed 0), test {args.n_test} (seed 1), "
          f"{os.cpu_count()} CPUs, load {load:.1f}")  # fmt: skip

    train = make_cohort(args.n_train, seed=0, render_images=False)
    test = make_cohort(args.n_test, seed=1, render_images=False)
    events = pd.concat([train.events, test.events], ignore_index=True)
    y_train, y_test = train.patients["ra"].astype(int), test.patients["ra"].astype(int)
    print(f"events: {len(events):,} ({len(events) / (args.n_train + args.n_test):.0f} a patient)"
          f"; RA {y_train.mean():.2f} train, {y_test.mean():.2f} test")  # fmt: skip

    def lightgbm() -> LGBMClassifier:
        return LGBMClassifier(
            n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=20,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.5, n_jobs=2, verbose=-1,
            random_state=0,
        )  # fmt: skip

    # Featurizer speed: fit on the training patients, transform the test patients.
    featurizer = EHRFeaturizer(events).set_output(transform="pandas")
    start = time.perf_counter()
    X_train = featurizer.fit_transform(train.patients)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    X_test = featurizer.transform(test.patients)
    transform_seconds = time.perf_counter() - start
    print(f"EHRFeaturizer: {X_train.shape[1]} features; fit_transform {args.n_train} patients "
          f"{fit_seconds:.2f} s ({args.n_train / fit_seconds:,.0f} patients/s), transform "
          f"{args.n_test} {transform_seconds:.2f} s ({args.n_test / transform_seconds:,.0f}"
          " patients/s)")  # fmt: skip

    model = lightgbm().fit(X_train, y_train)
    proba_model = model.predict_proba(X_test)[:, 1]
    criteria = ACREULARClassifier().fit(X_train, y_train)
    proba_criteria = criteria.predict_proba(X_test)[:, 1]

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "EHRFeaturizer\\(exclude_leakage=False\\)")
        leaky = make_pipeline(
            EHRFeaturizer(events, exclude_leakage=False, max_time="all"), lightgbm()
        ).fit(train.patients, y_train)
    proba_leaky = leaky.predict_proba(test.patients)[:, 1]

    print(f"\nAUROC on the {args.n_test} test patients (95% CI, {args.n_boot} bootstraps):")
    rows = [("EHRFeaturizer + LightGBM", proba_model),
            ("ACR/EULAR 2010 (score / 10)", proba_criteria),
            ("  no leakage guard (for contrast)", proba_leaky)]  # fmt: skip
    for name, proba in rows:
        estimate = bootstrap_metric(y_test, proba, "auroc", n_boot=args.n_boot)
        print(f"  {name:<34} {estimate}")
    difference = paired_bootstrap(y_test, proba_model, proba_criteria, n_boot=args.n_boot)
    delong = delong_test(y_test, proba_model, proba_criteria)
    print(f"  model - criteria (paired)          {difference}; DeLong p = {delong.p_value:.2g}")

    classified = criteria.predict(X_test) == 1
    sensitivity = classified[y_test.to_numpy() == 1].mean()
    specificity = (~classified)[y_test.to_numpy() == 0].mean()
    print(f"\nACR/EULAR >= 6: sensitivity {sensitivity:.2f}, specificity {specificity:.2f} "
          "(published 0.82 / 0.61, Radner 2014)")  # fmt: skip
    early = test.patients["early"].to_numpy()
    for name, proba in rows[:2]:
        print(f"  symptoms < 12 weeks only, {name.strip():<28} AUROC "
              f"{roc_auc_score(y_test[early], proba[early]):.3f}")  # fmt: skip
    verdict = "beats" if difference.low > 0 else "does not clearly beat"
    print(
        f"\nGoal: the EHR model {verdict} the criteria (AUROC ratio "
        f"{roc_auc_score(y_test, proba_model) / roc_auc_score(y_test, proba_criteria):.2f})."
    )
    importance = pd.Series(model.booster_.feature_importance("gain"), index=X_train.columns)
    top = (importance / importance.sum()).sort_values(ascending=False).head(8)
    print("Top features by gain: " + ", ".join(f"{k} {v:.2f}" for k, v in top.items()))


if __name__ == "__main__":
    main()
