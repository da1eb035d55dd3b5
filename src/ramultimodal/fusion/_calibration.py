"""Recalibration of a binary model's probabilities, kept as a plain dict that a model folder holds.

"Can I take 0.8 as 80%?" Only if the model is calibrated. A calibrator is fitted on
probabilities the model gave for patients it did not see (out of fold) and their labels,
and is stored as plain data, so that it survives the model folder (no pickle):

- ``{"method": "sigmoid", "slope": a, "intercept": b}``: Platt scaling on the log-odds,
  ``p = expit(a * logit(proba) + b)``, where ``logit`` clips ``proba`` to
  ``[PROBA_CLIP, 1 - PROBA_CLIP]`` as the fusions do (`ramultimodal.fusion._base.logit`).
  A logistic regression of the labels on ``logit(proba)``, unpenalised, so ``a`` and ``b``
  are the calibration slope and intercept of the model to be undone (Van Calster et al.,
  J Clin Epidemiol 2016;74:167). For an explanation on the log-odds scale, a contribution
  is multiplied by ``a`` and ``b`` is added to the baseline.
- ``{"method": "isotonic", "x": [...], "y": [...]}``: an isotonic regression of the labels
  on ``proba`` (Zadrozny & Elkan 2002), as the knots of a non-decreasing, piecewise-linear
  map, clipped at both ends. It needs more patients than the sigmoid (hundreds), and gives
  ties.

A NaN probability (a patient without any modality) stays NaN.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ramultimodal.fusion._base import logit

__all__ = ["CALIBRATION_METHODS", "apply_calibrator", "check_calibration", "fit_calibrator"]

#: What ``calibration=`` accepts, besides None.
CALIBRATION_METHODS: tuple[str, ...] = ("sigmoid", "isotonic")


def check_calibration(calibration: Any, owner: str = "calibration") -> str | None:
    """Return `calibration` if it is None, ``"sigmoid"`` or ``"isotonic"``; else ValueError.

    Examples
    --------
    >>> check_calibration("platt")
    Traceback (most recent call last):
    ...
    ValueError: calibration must be None, 'sigmoid' or 'isotonic'; got 'platt'.
    """
    if calibration is None or (isinstance(calibration, str) and calibration in CALIBRATION_METHODS):
        return calibration
    raise ValueError(f"{owner} must be None, 'sigmoid' or 'isotonic'; got {calibration!r}.")


def fit_calibrator(proba: Any, y: Any, method: str = "sigmoid") -> dict[str, Any]:
    """Fit a calibrator of positive-class probabilities to binary labels.

    Parameters
    ----------
    proba : array-like of shape (n_patients,)
        Out-of-fold probabilities of the positive class; NaN rows are left out.
    y : array-like of shape (n_patients,)
        1 for the positive class, 0 otherwise.
    method : {"sigmoid", "isotonic"}, default="sigmoid"

    Returns
    -------
    dict
        ``{"method": "sigmoid", "slope": a, "intercept": b}`` or
        ``{"method": "isotonic", "x": [...], "y": [...]}``, plain Python numbers.

    Raises
    ------
    ValueError
        For another method, or when the scored patients hold one class only.

    Examples
    --------
    Probabilities twice as extreme as they should be, on the log-odds scale, get a slope of
    about one half:

    >>> rng = np.random.default_rng(0)
    >>> true_logit = rng.normal(0, 1.5, 20000)
    >>> y = rng.uniform(size=true_logit.size) < expit(true_logit)
    >>> calibrator = fit_calibrator(expit(2 * true_logit), y)
    >>> calibrator["method"], round(calibrator["slope"], 1), abs(round(calibrator["intercept"], 1))
    ('sigmoid', 0.5, 0.0)
    """
    method = check_calibration(method, "method")
    if method is None:
        raise ValueError("method must be 'sigmoid' or 'isotonic'; got None.")
    proba, y = np.asarray(proba, float).ravel(), np.asarray(y).ravel()
    if proba.shape != y.shape:
        raise ValueError(f"proba has {proba.size} values but y has {y.size} labels.")
    scored = ~np.isnan(proba)
    proba, y = proba[scored], y[scored].astype(float)
    if np.unique(y).size < 2:
        raise ValueError(
            f"Calibration needs both classes among the {proba.size} patients with a "
            "probability; use more patients or fewer folds."
        )
    if method == "sigmoid":
        # C=inf: no penalty, so that the slope and intercept are the calibration ones.
        regression = LogisticRegression(C=np.inf, max_iter=1000)
        regression.fit(logit(proba)[:, None], y)
        slope, intercept = float(regression.coef_[0, 0]), float(regression.intercept_[0])
        return {"method": "sigmoid", "slope": slope, "intercept": intercept}
    regression = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba, y)
    return {
        "method": "isotonic",
        "x": [float(v) for v in regression.X_thresholds_],
        "y": [float(v) for v in regression.y_thresholds_],
    }


def check_calibrator(calibrator: Any) -> None:
    """Raise ValueError unless `calibrator` is None or a calibrator as `fit_calibrator` makes.

    A model folder is read as data: a damaged or crafted calibrator must fail here, in one
    line, not give wrong probabilities.
    """
    if calibrator is None:
        return
    problem = None
    if not isinstance(calibrator, dict) or calibrator.get("method") not in CALIBRATION_METHODS:
        problem = "it is not a dict with 'method' 'sigmoid' or 'isotonic'"
    elif calibrator["method"] == "sigmoid":
        numbers = [calibrator.get("slope"), calibrator.get("intercept")]
        if set(calibrator) != {"method", "slope", "intercept"} or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in numbers
        ):
            problem = "a sigmoid calibrator has a finite 'slope' and 'intercept' only"
    else:
        x, y = calibrator.get("x"), calibrator.get("y")
        if (
            set(calibrator) != {"method", "x", "y"}
            or not isinstance(x, list)
            or not isinstance(y, list)
            or not x
            or len(x) != len(y)
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in x + y
            )
            or np.any(np.diff(x) < 0)
            or np.any(np.diff(y) < 0)
            or min(y) < 0
            or max(y) > 1
        ):
            problem = (
                "an isotonic calibrator has 'x' and 'y', lists of as many finite numbers, "
                "both non-decreasing, 'y' within [0, 1]"
            )
    if problem is not None:
        raise ValueError(f"calibrator_ is not a calibrator: {problem}.")


def calibrated(calibrator: dict[str, Any] | None, positive: np.ndarray) -> np.ndarray:
    """The calibrated probabilities of the positive class (NaN stays NaN)."""
    positive = np.asarray(positive, float)
    if calibrator is None:
        return positive
    if calibrator["method"] == "sigmoid":
        return expit(calibrator["slope"] * logit(positive) + calibrator["intercept"])
    # np.interp clips outside the knots, as IsotonicRegression(out_of_bounds="clip") does,
    # and keeps NaN.
    return np.interp(positive, calibrator["x"], calibrator["y"])


def apply_calibrator(calibrator: dict[str, Any] | None, proba: np.ndarray) -> np.ndarray:
    """Binary class probabilities ``(n_patients, 2)`` with the second column recalibrated.

    Examples
    --------
    >>> apply_calibrator({"method": "sigmoid", "slope": 1.0, "intercept": 0.0},
    ...                  np.array([[0.8, 0.2], [np.nan, np.nan]])).round(3).tolist()
    [[0.8, 0.2], [nan, nan]]
    >>> apply_calibrator({"method": "isotonic", "x": [0.0, 1.0], "y": [0.25, 0.75]},
    ...                  np.array([[0.5, 0.5]])).tolist()
    [[0.5, 0.5]]
    """
    if calibrator is None:
        return proba
    proba = np.array(proba, dtype=float)
    positive = calibrated(calibrator, proba[:, 1])
    proba[:, 1], proba[:, 0] = positive, 1.0 - positive
    return proba


def check_fusion_calibration(fusion: Any) -> str | None:
    """A fitted-enough fusion's ``calibration``, checked: a known method, two classes."""
    method = check_calibration(fusion.calibration)
    if method is not None and len(fusion.classes_) != 2:
        raise ValueError(
            f"{type(fusion).__name__}: calibration={method!r} recalibrates binary models; y "
            f"has {len(fusion.classes_)} classes. Use calibration=None."
        )
    return method


def fusion_calibrator(
    fusion: Any, fused: Callable[[], np.ndarray], y: np.ndarray
) -> dict[str, Any] | None:
    """The fusion's calibrator, fitted on its out-of-fold fused probabilities (None without).

    ``fused()`` computes them; the training patients without any modality, NaN there, are
    left out quietly (they are warned about when predicted).
    """
    if fusion.calibration is None:
        return None
    from ramultimodal.fusion._base import NoModalityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoModalityWarning)
        proba = fused()
    return fit_calibrator(proba[:, 1], y == fusion.classes_[1], fusion.calibration)


def calibrated_proba(fusion: Any, fused: np.ndarray) -> np.ndarray:
    """`fused` through the fusion's ``calibrator_`` (unchanged without one, as a model saved
    before calibration existed)."""
    return apply_calibrator(getattr(fusion, "calibrator_", None), fused)
