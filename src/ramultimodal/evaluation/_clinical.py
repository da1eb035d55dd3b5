"""All models side by side on the same patients, against the clinical baseline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ramultimodal.evaluation._compare import delong_test, paired_bootstrap
from ramultimodal.evaluation._decision_curve import net_benefit
from ramultimodal.evaluation._metrics import metric_table
from ramultimodal.evaluation._subgroups import subgroup_table

__all__ = ["ClinicalEvaluation", "evaluate_predictions"]

#: Published operating points to mark on ROC curves (CLINICAL.md).
PUBLISHED_OPERATING_POINTS: dict[str, tuple[float, float]] = {
    # (sensitivity, specificity)
    "2010 ACR/EULAR, pooled (Radner 2014)": (0.82, 0.61),
    "anti-CCP alone (Nishimura 2007)": (0.67, 0.95),
}


@dataclass
class ClinicalEvaluation:
    """The numbers of a clinical evaluation, ready for `write_report`.

    Attributes
    ----------
    y_true : ndarray
    predictions : dict of str to ndarray
        Probabilities per model, NaN where a model made no prediction.
    metrics : DataFrame
        `metric_table` output: one row per model.
    versus_baseline : DataFrame
        Per model: AUROC difference to the baseline with a paired-bootstrap interval and
        DeLong's p-value, on the patients both scored.
    decision_curve : DataFrame
        `net_benefit` output on the patients every model scored.
    subgroups : DataFrame or None
        `subgroup_table` output.
    baseline : str or None
        Name of the baseline model (the 2010 ACR/EULAR criteria).
    ablation : DataFrame or None
        Optional table of AUROCs with each modality dropped in turn.
    shortfalls : DataFrame or None
        Optional: each fused model beside the modality alone that beats it most
        (`fusion_shortfalls`, set by `flag_shortfalls`).
    recalibration : DataFrame or None
        Optional `recalibration_table`: each model's calibration before and after a
        cross-fitted sigmoid recalibration.
    horizon_days : int, default 365
        The label's horizon: RA within so many days of the index date.
    survival : DataFrame or None
        Optional `survival_metric_table` of the models' risk scores against time to RA.
    survival_figures : dict of str to Figure
        Optional figures of time to RA (`plot_kaplan_meier`), shown beside `survival`.
    """

    y_true: np.ndarray
    predictions: dict[str, np.ndarray]
    metrics: pd.DataFrame
    versus_baseline: pd.DataFrame
    decision_curve: pd.DataFrame
    subgroups: pd.DataFrame | None = None
    baseline: str | None = None
    ablation: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    shortfalls: pd.DataFrame | None = None
    recalibration: pd.DataFrame | None = None
    horizon_days: int = 365
    survival: pd.DataFrame | None = None
    survival_figures: dict = field(default_factory=dict)


def evaluate_predictions(
    y_true,
    predictions: Mapping[str, np.ndarray],
    *,
    baseline: str | None = None,
    subgroups: pd.DataFrame | None = None,
    n_boot: int = 1000,
    random_state: int | None = 0,
) -> ClinicalEvaluation:
    """Score every model on the same patients and compare each with the baseline.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
    predictions : mapping of model name to probabilities of shape (n_patients,)
        Out-of-fold or held-out probabilities; NaN where a model made no prediction
        (an image model for a patient without a radiograph).
    baseline : str, optional
        Key of `predictions` that every other model is compared with (usually the
        ``ACREULARClassifier``).
    subgroups : DataFrame, optional
        Grouping variables aligned with `y_true` (see `subgroup_table`).
    n_boot : int, default 1000
    random_state : int or None, default 0

    Returns
    -------
    ClinicalEvaluation

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300)
    >>> predictions = {"criteria": np.clip(0.5 * y + rng.uniform(0, 0.6, 300), 0, 1),
    ...                "model": np.clip(0.7 * y + rng.uniform(0, 0.5, 300), 0, 1)}
    >>> result = evaluate_predictions(y, predictions, baseline="criteria", n_boot=100)
    >>> bool(result.versus_baseline.loc["model", "auroc_difference_low"] > 0)
    True
    """
    y_true = np.asarray(y_true).astype(int)
    predictions = {name: np.asarray(proba, float) for name, proba in predictions.items()}
    if baseline is not None and baseline not in predictions:
        raise ValueError(f"Baseline {baseline!r} is not one of the models {list(predictions)}.")
    metrics = metric_table(y_true, predictions, n_boot=n_boot, random_state=random_state)
    rows = {}
    if baseline is not None:
        for name, proba in predictions.items():
            if name == baseline:
                continue
            both = ~(np.isnan(proba) | np.isnan(predictions[baseline]))
            difference = paired_bootstrap(
                y_true[both],
                proba[both],
                predictions[baseline][both],
                n_boot=n_boot,
                random_state=random_state,
            )
            delong = delong_test(y_true[both], proba[both], predictions[baseline][both])
            rows[name] = {
                "n": difference.n,
                "auroc_difference": difference.value,
                "auroc_difference_low": difference.low,
                "auroc_difference_high": difference.high,
                "delong_p": delong.p_value,
            }
    versus = pd.DataFrame.from_dict(rows, orient="index")
    table = (
        subgroup_table(
            y_true, predictions, subgroups, n_boot=max(n_boot // 2, 50), random_state=random_state
        )
        if subgroups is not None
        else None
    )
    return ClinicalEvaluation(
        y_true=y_true,
        predictions=predictions,
        metrics=metrics,
        versus_baseline=versus,
        decision_curve=net_benefit(y_true, predictions),
        subgroups=table,
        baseline=baseline,
    )
