"""Per-patient contributions of a fitted model to its raw margin (the log-odds), exactly.

Gradient-boosted trees explain themselves: LightGBM's ``predict(..., pred_contrib=True)``
and XGBoost's ``predict(DMatrix, pred_contribs=True)`` compute TreeSHAP (Lundberg et al.,
Nat Mach Intell 2020;2:56), one value per feature plus a bias, that sum to the raw margin
of each row: for a binary classifier, the log-odds of its probability. A linear model's
contributions are its coefficients times the features, its intercept the bias. A
scikit-learn ``Pipeline`` is explained through its last step, the others applied first
(the mean imputer the fusions put before a NaN-rejecting model keeps every column).

No new dependency: the two boosting libraries compute the values themselves.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["model_contributions"]


def _is_instance(value: Any, module: str, name: str) -> bool:
    """``isinstance(value, module.name)`` without importing `module` when it is not loaded."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, getattr(loaded, name))


def _lightgbm(booster: Any, features: np.ndarray) -> np.ndarray:
    out = np.asarray(booster.predict(features, pred_contrib=True), dtype=float)
    if out.shape[1] != features.shape[1] + 1:
        raise ValueError(
            "model_contributions explains binary LightGBM models; this one gives "
            f"{out.shape[1]} contributions for {features.shape[1]} features."
        )
    return out


def _xgboost(booster: Any, features: np.ndarray) -> np.ndarray:
    import xgboost

    # A booster fit on a DataFrame checks the names of the columns it is given.
    matrix = xgboost.DMatrix(features, missing=np.nan, feature_names=booster.feature_names)
    out = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=float)
    if out.ndim != 2 or out.shape[1] != features.shape[1] + 1:
        raise ValueError("model_contributions explains binary XGBoost models only.")
    return out


def model_contributions(model: Any, features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's contribution to each row's log-odds, and the bias of each row.

    ``contributions.sum(axis=1) + bias`` is the model's raw margin: the logit of its
    ``predict_proba(features)[:, 1]``, to float precision.

    Parameters
    ----------
    model : fitted binary classifier
        A LightGBM or XGBoost classifier (or its ``Booster``), a linear classifier with
        ``coef_`` and ``intercept_`` (``LogisticRegression``), or a ``Pipeline`` ending in
        one of these.
    features : array-like of shape (n_rows, n_features)
        The rows, as the model reads them (NaN where the model routes missing values).

    Returns
    -------
    contributions : ndarray of shape (n_rows, n_features)
    bias : ndarray of shape (n_rows,)
        The expected margin for the trees (the same for every row), the intercept for a
        linear model.

    Raises
    ------
    TypeError
        For a model that is none of these.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import logit
    >>> from lightgbm import LGBMClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 3)); y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
    >>> model = LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)
    >>> contributions, bias = model_contributions(model, X)
    >>> margin = contributions.sum(axis=1) + bias
    >>> bool(np.allclose(margin, logit(model.predict_proba(X)[:, 1])))
    True
    """
    if hasattr(model, "steps") and hasattr(model, "__getitem__"):  # a Pipeline
        if len(model.steps) > 1:
            features = model[:-1].transform(features)
        return model_contributions(model.steps[-1][1], features)
    if hasattr(features, "to_numpy"):
        features = features.to_numpy(dtype=float, na_value=np.nan)
    features = np.asarray(features, dtype=float)
    if features.ndim == 1:
        features = features.reshape(-1, 1)
    if _is_instance(model, "lightgbm", "LGBMModel"):
        out = _lightgbm(model.booster_, features)
    elif _is_instance(model, "lightgbm", "Booster"):
        out = _lightgbm(model, features)
    elif _is_instance(model, "xgboost", "XGBModel"):
        out = _xgboost(model.get_booster(), features)
    elif _is_instance(model, "xgboost", "Booster"):
        out = _xgboost(model, features)
    elif hasattr(model, "coef_") and hasattr(model, "intercept_"):
        coef = np.asarray(model.coef_, dtype=float)
        if coef.ndim == 2 and coef.shape[0] != 1:
            raise ValueError("model_contributions explains binary linear models only.")
        contributions = features * coef.reshape(1, -1)
        bias = np.full(len(features), float(np.ravel(model.intercept_)[0]))
        return contributions, bias
    else:
        raise TypeError(
            f"Cannot explain a {type(model).__name__}: contributions come from LightGBM or "
            "XGBoost trees (TreeSHAP) or from a linear model's coefficients."
        )
    return out[:, :-1], out[:, -1]
