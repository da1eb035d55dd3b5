"""Decision-curve analysis: is acting on the model better than treating all or none?"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["net_benefit"]


def net_benefit(
    y_true,
    predictions: Mapping[str, np.ndarray],
    thresholds=None,
) -> pd.DataFrame:
    """Net benefit of each model over a range of threshold probabilities.

    Net benefit = TP/n - FP/n * pt / (1 - pt), where pt is the threshold probability at
    which a clinician would refer or treat (Vickers & Elkin, Med Decis Making 2006;26:565).
    "treat all" and "treat none" are the reference strategies.

    Parameters
    ----------
    y_true : array-like of shape (n_patients,)
    predictions : mapping of model name to probabilities
        Patients with a NaN probability are left out for every model, so all curves are on
        the same patients.
    thresholds : array-like, optional
        Threshold probabilities; default 0.05 to 0.80 in steps of 0.01.

    Returns
    -------
    DataFrame
        Indexed by threshold, one column per model plus ``treat_all`` and ``treat_none``.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> curve = net_benefit(y, {"model": np.array([0.1, 0.2, 0.8, 0.9])}, thresholds=[0.5])
    >>> curve.loc[0.5].round(3).to_dict()
    {'model': 0.5, 'treat_all': 0.0, 'treat_none': 0.0}
    """
    if thresholds is None:
        thresholds = np.round(np.arange(0.05, 0.801, 0.01), 2)
    thresholds = np.asarray(thresholds, float)
    y_true = np.asarray(y_true).astype(bool)
    probas = {name: np.asarray(proba, float) for name, proba in predictions.items()}
    kept = np.ones(y_true.size, bool)
    for proba in probas.values():
        kept &= ~np.isnan(proba)
    y_true = y_true[kept]
    n = y_true.size
    odds = thresholds / (1 - thresholds)
    curves = {}
    for name, proba in probas.items():
        treated = proba[kept][None, :] >= thresholds[:, None]
        true_positives = (treated & y_true).sum(axis=1)
        false_positives = (treated & ~y_true).sum(axis=1)
        curves[name] = true_positives / n - false_positives / n * odds
    prevalence = y_true.mean()
    curves["treat_all"] = prevalence - (1 - prevalence) * odds
    curves["treat_none"] = np.zeros_like(thresholds)
    return pd.DataFrame(curves, index=pd.Index(thresholds, name="threshold"))
