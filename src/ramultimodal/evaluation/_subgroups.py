"""Subgroup performance, and a warning when one feature gives the label away."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ramultimodal.evaluation._metrics import bootstrap_metric

__all__ = ["LeakageWarning", "check_leakage", "subgroup_table"]


class LeakageWarning(UserWarning):
    """A single feature predicts the label almost perfectly: probably information from
    after the index date (a diagnosis, a prescription) reached the features."""


def subgroup_table(
    y_true,
    predictions: Mapping[str, np.ndarray],
    subgroups: pd.DataFrame,
    *,
    metric: str = "auroc",
    n_boot: int = 500,
    min_size: int = 20,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """A metric with its interval for every model in every subgroup, and the gap to all.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
    predictions : mapping of model name to probabilities of shape (n_patients,)
    subgroups : DataFrame of shape (n_patients, n_variables)
        One column per grouping variable (``sex``, ``age_band``, ``serostatus``,
        ``has_image``, ``disease_stage``), aligned with `y_true`.
    metric : str, default "auroc"
        A name in `ramultimodal.evaluation.METRICS`.
    n_boot : int, default 500
    min_size : int, default 20
        Subgroups with fewer patients, or with a single class, are reported with ``n`` and
        a missing value rather than a misleading number.
    random_state : int or None, default 0

    Returns
    -------
    DataFrame
        Columns ``model``, ``variable``, ``level``, ``n``, ``n_positive``, ``value``, ``low``,
        ``high``, ``gap`` (value minus the model's value on all patients).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> proba = np.clip(y * 0.3 + rng.uniform(0, 0.7, 400), 0, 1)
    >>> groups = pd.DataFrame({"sex": np.where(rng.uniform(size=400) < 0.7, "female", "male")})
    >>> table = subgroup_table(y, {"model": proba}, groups, n_boot=50)
    >>> sorted(table["level"])
    ['female', 'male']
    """
    y_true = np.asarray(y_true).astype(int)
    rows = []
    for model, proba in predictions.items():
        proba = np.asarray(proba, float)
        overall = bootstrap_metric(y_true, proba, metric, n_boot=1).value
        for variable in subgroups.columns:
            values = subgroups[variable].to_numpy()
            for level in pd.unique(values[pd.notna(values)]):
                member = (values == level) & ~np.isnan(proba)
                y_level = y_true[member]
                row = {
                    "model": model,
                    "variable": variable,
                    "level": level,
                    "n": int(member.sum()),
                    "n_positive": int(y_level.sum()),
                    "value": np.nan,
                    "low": np.nan,
                    "high": np.nan,
                }
                if member.sum() >= min_size and 0 < y_level.sum() < member.sum():
                    estimate = bootstrap_metric(
                        y_level, proba[member], metric, n_boot=n_boot, random_state=random_state
                    )
                    row.update(value=estimate.value, low=estimate.low, high=estimate.high)
                row["gap"] = row["value"] - overall
                rows.append(row)
    return pd.DataFrame(rows)


def check_leakage(
    features: pd.DataFrame, y, *, threshold: float = 0.97, warn: bool = True
) -> pd.Series:
    """Find features that alone separate the classes almost perfectly.

    A real early-arthritis clinic has no single finding that classifies RA perfectly
    (anti-CCP, the best, has sensitivity 0.67 and specificity 0.95: Nishimura et al. 2007),
    so a single-feature AUROC above `threshold` almost always means that the future leaked
    in: an RA diagnosis code or a methotrexate prescription dated after the index date.

    Parameters
    ----------
    features : DataFrame of shape (n_patients, n_features)
    y : array-like of shape (n_patients,)
    threshold : float, default 0.97
        Single-feature AUROC (in either direction) above which a feature is suspect.
    warn : bool, default True
        Emit a `LeakageWarning` naming the suspect features.

    Returns
    -------
    Series
        The suspect features' AUROC (oriented to be at least 0.5), highest first.

    Examples
    --------
    >>> y = np.array([0, 1] * 50)
    >>> features = pd.DataFrame({"methotrexate": y, "crp": np.arange(100) % 7})
    >>> check_leakage(features, y, warn=False).round(2).to_dict()
    {'methotrexate': 1.0}
    """
    y = np.asarray(y).astype(int)
    suspects = {}
    for column in features.columns:
        values = pd.to_numeric(features[column], errors="coerce").to_numpy(float)
        known = ~np.isnan(values)
        # A feature recorded for only a few patients cannot be judged on its own.
        if known.sum() < 10 or len(np.unique(y[known])) < 2 or np.ptp(values[known]) == 0:
            continue
        auc = roc_auc_score(y[known], values[known])
        auc = max(auc, 1 - auc)
        if auc > threshold:
            suspects[column] = auc
    result = pd.Series(suspects, dtype=float).sort_values(ascending=False)
    if warn and len(result):
        warnings.warn(
            "These features alone predict the label almost perfectly (AUROC "
            f"> {threshold}): {', '.join(result.index[:10])}. This usually means information "
            "from after the index date (an RA diagnosis, a DMARD prescription) reached the "
            "features: check the EHRFeaturizer's leakage guard and the index dates.",
            LeakageWarning,
            stacklevel=2,
        )
    return result
