"""Whether a fusion's out-of-fold predictions can be trusted, and what to do when they cannot.

Stacking's meta-model and late fusion's ``weights="auto"`` learn how much each modality is
worth from its out-of-fold predictions. On a small cohort those can say nothing: the
training part of an inner fold may be too small for a tree learner's minimum leaf size to
allow a single split (LightGBM with ``min_child_samples=15`` cannot split 20 patients), so
every fold's model predicts one value for everyone, and the fusion learns to ignore, or
worse to invert, a modality that is excellent once trained on all the patients. A class
with fewer patients than there are folds leaves folds without it.

This module finds those cases. Where the cure is sound it gives it: the inner-fold refits
get a leaf size scaled to their share of the patients (``inner_fold_params_``), so that
their trees split as the final model's do on all of them; the final model keeps the
user's parameters. Otherwise it words a `FusionWarning` that names the modality, the reason
and what to do.
"""

from __future__ import annotations

import logging
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from ramultimodal._errors import InputError

__all__ = [
    "CONSTANT_SPREAD",
    "FUSED_TOLERANCE",
    "SPLIT_FACTOR",
    "FusionWarning",
    "auroc_standard_error",
    "check_fold_classes",
    "check_fused",
    "diagnose_out_of_fold",
    "for_inner_folds",
    "leaf_sizes",
    "oof_auroc",
]

logger = logging.getLogger(__name__)


class FusionWarning(UserWarning):
    """A fusion that learned from out-of-fold predictions that say nothing, or that is
    worse, out of fold, than one of its modalities alone."""


#: Leaf-size parameters of tree learners, and how many patients one unit of each asks of a
#: leaf. LightGBM's ``min_child_samples`` (alias ``min_data_in_leaf``) and scikit-learn's
#: ``min_samples_leaf`` count patients; ``min_child_weight`` (XGBoost, LightGBM) is a sum of
#: hessians, and a patient adds at most p(1 - p) <= 1/4 to it under the logistic loss.
LEAF_PARAMETERS: dict[str, float] = {
    "min_child_samples": 1.0,
    "min_data_in_leaf": 1.0,
    "min_samples_leaf": 1.0,
    "min_child_weight": 4.0,
}

#: How many leaves' worth of patients a tree needs to split reliably. Two leaves of the
#: minimum size is the bare minimum; LightGBM bags the rows and counts a leaf's patients
#: from its hessians, and on this package's EHR recipe (``min_child_samples=15``) its trees
#: did not split on 30 patients, seldom on 31 to 34 and always from 36 on.
SPLIT_FACTOR = 2.5

#: Out-of-fold probabilities that vary less than this within every fold tell the fusion
#: nothing about the patients: each fold's model gave one value (its training base rate).
CONSTANT_SPREAD = 1e-3

#: How far below a modality alone the fusion's out-of-fold AUROC may fall, on the patients
#: who have that modality, before `check_fused` warns (or twice the modality's AUROC
#: standard error, when that is more). Fitting the fusion's weights costs a little out of
#: fold; the failures this catches cost tenths.
FUSED_TOLERANCE = 0.05


def leaf_sizes(estimator: Any) -> dict[str, float]:
    """The leaf-size parameters of `estimator`, and how many patients each asks of a leaf.

    Nested estimators (a Pipeline's steps) are searched too, by their ``step__name``.

    Parameters
    ----------
    estimator : estimator
        Any scikit-learn compatible estimator.

    Returns
    -------
    dict of str to float
        Parameter name (as ``set_params`` takes it) to patients per leaf; empty for a
        learner that has no leaf size (a logistic regression).

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> leaf_sizes(DecisionTreeClassifier(min_samples_leaf=5))
    {'min_samples_leaf': 5.0}
    >>> leaf_sizes(DecisionTreeClassifier(min_samples_leaf=0.1))  # a share: it scales itself
    {}
    """
    try:
        params = estimator.get_params(deep=True)
    except (AttributeError, TypeError):
        return {}
    sizes = {}
    for key, value in params.items():
        name = key.rpartition("__")[2]
        factor = LEAF_PARAMETERS.get(name)
        if factor is None or isinstance(value, bool) or not isinstance(value, Real):
            continue
        if name == "min_samples_leaf" and not isinstance(value, Integral):
            continue  # scikit-learn reads a float as a share of the rows
        if value > 0:
            sizes[key] = float(value) * factor
    return sizes


def for_inner_folds(
    estimator: Any, n_patients: int, n_fold_patients: int
) -> tuple[dict[str, Any], str | None]:
    """Leaf sizes for the inner-fold refits, scaled so that their trees can split.

    The inner folds train on `n_fold_patients` of the `n_patients` who have the modality.
    When that is too few for a leaf size to split (under `SPLIT_FACTOR` leaves' worth) but
    all of them are enough, the leaf size is scaled by the folds' share of the patients:
    each inner-fold tree then cuts its patients as finely as the final model cuts all of
    them, which is what the out-of-fold predictions are meant to show. When even all the
    patients are too few, scaling would show the fusion a better model than the one it
    gets: nothing is scaled, and the reason is returned.

    Parameters
    ----------
    estimator : estimator
        The modality's estimator, with the user's parameters.
    n_patients : int
        Training patients who have the modality (the final refit's).
    n_fold_patients : int
        The fewest of them in the training part of an inner fold.

    Returns
    -------
    params : dict
        Parameters to set on the inner-fold refits; empty when none need to change.
    problem : str or None
        Why the folds are too small and nothing could be scaled, else None.

    Examples
    --------
    >>> from lightgbm import LGBMClassifier
    >>> for_inner_folds(LGBMClassifier(min_child_samples=15), 40, 20)
    ({'min_child_samples': 7}, None)
    >>> for_inner_folds(LGBMClassifier(min_child_samples=15), 300, 200)
    ({}, None)
    >>> for_inner_folds(LGBMClassifier(min_child_samples=15), 30, 15)[1]
    'min_child_samples=15 needs about 38 training patients to split; the inner folds have 15 \
and all the data 30'
    """
    sizes = {
        key: rows
        for key, rows in leaf_sizes(estimator).items()
        if n_fold_patients < SPLIT_FACTOR * rows
    }
    if not sizes:
        return {}, None
    values = estimator.get_params(deep=True)
    short = [key for key, rows in sizes.items() if n_patients < SPLIT_FACTOR * rows]
    if short:
        key = short[0]
        needed = int(np.ceil(SPLIT_FACTOR * sizes[key]))
        return {}, (
            f"{key}={values[key]} needs about {needed} training patients to split; the inner "
            f"folds have {n_fold_patients} and all the data {n_patients}"
        )
    share = n_fold_patients / n_patients
    params = {
        key: max(1, int(values[key] * share))
        if isinstance(values[key], Integral)
        else float(values[key]) * share
        for key in sizes
    }
    return params, None


def inner_fold_estimator(
    fusion: str, name: str, estimator: Any, present: np.ndarray, splits: list
) -> tuple[Any, dict[str, Any], str | None]:
    """The estimator for a modality's inner-fold refits, its changed parameters, and why
    its folds are too small when nothing could be changed (see `for_inner_folds`)."""
    n_fold = min((int(present[train].sum()) for train, _ in splits), default=0)
    params, problem = for_inner_folds(estimator, int(present.sum()), n_fold)
    if not params:
        return estimator, {}, problem
    logger.info(
        "%s: the inner folds of modality %r train on %d of its %d patients, too few for its "
        "trees to split; their refits use %s (the final model keeps the given values)",
        fusion,
        name,
        n_fold,
        int(present.sum()),
        ", ".join(f"{key}={value}" for key, value in params.items()),
    )
    return clone(estimator).set_params(**params), params, None


def oof_auroc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """AUROC of a modality's probabilities on the patients who have it; NaN if undefined.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [np.nan, np.nan]])
    >>> oof_auroc(y, proba, np.array([0, 1]))
    1.0
    >>> oof_auroc(y[:2], proba[:2], np.array([0, 1]))
    nan
    """
    has = ~np.isnan(proba).any(axis=1)
    if np.unique(y[has]).size < len(classes):
        return float("nan")
    if len(classes) == 2:
        return float(roc_auc_score(y[has], proba[has, 1]))
    return float(roc_auc_score(y[has], proba[has], multi_class="ovr", labels=classes))


def _constant(proba: np.ndarray, splits: list | None) -> bool:
    """Whether `proba` (NaN rows absent) barely varies within every fold's held-out part."""
    has = ~np.isnan(proba).any(axis=1)
    parts = [np.flatnonzero(has)] if splits is None else [test[has[test]] for _, test in splits]
    spreads = [np.ptp(proba[rows], axis=0).max() for rows in parts if rows.size >= 2]
    return bool(spreads) and max(spreads) < CONSTANT_SPREAD


_WHAT_TO_DO = (
    "Use more patients, a larger cv (more patients in each fold's training part), or fewer "
    "modalities."
)


def diagnose_out_of_fold(
    fusion: str,
    names: list[str],
    y: np.ndarray,
    probas: list[np.ndarray],
    classes: np.ndarray,
    splits: list | None,
    causes: dict[str, str | None],
) -> tuple[np.ndarray, list[str]]:
    """Each modality's out-of-fold AUROC, and the modalities whose predictions say nothing.

    A modality is degenerate when its AUROC is undefined (the patients who have it are of
    one class) or its probabilities are constant within every fold. Each one gets a
    `FusionWarning` with its reason (`causes`: why its folds were too small) and what to do.

    Returns
    -------
    oof_auroc : ndarray of shape (n_modalities,)
    degenerate : list of str
    """
    aurocs, degenerate = [], []
    for name, proba in zip(names, probas, strict=True):
        auroc = oof_auroc(y, proba, classes)
        aurocs.append(auroc)
        where = "out-of-fold" if splits is not None else "training-data"
        if np.isnan(auroc):
            reason = f"its {where} AUROC is undefined: the patients who have it are of one class"
        elif _constant(proba, splits):
            reason = f"its {where} probabilities are constant" + (
                " within every fold: each fold's model gave all its patients one value"
                if splits is not None
                else ": its model gives all the patients one value"
            )
        else:
            continue
        degenerate.append(name)
        cause = causes.get(name)
        warnings.warn(
            f"{fusion}: modality {name!r} tells the fusion nothing: {reason}"
            + (f" ({cause})" if cause else "")
            + ", so its weight is learned from noise. "
            + _WHAT_TO_DO,
            FusionWarning,
            stacklevel=4,
        )
    return np.array(aurocs, dtype=float), degenerate


def warn_small_folds(fusion: str, name: str, y: np.ndarray, present: np.ndarray, cv: Any) -> None:
    """Warn when a class among the patients who have a modality is rarer than the ``cv``
    stratified folds (a splitter of the user's, leave-one-out say, is theirs to judge)."""
    if not isinstance(cv, Integral) or isinstance(cv, bool):
        return
    n_folds = int(cv)
    labels, counts = np.unique(y[present], return_counts=True)
    if counts.size and counts.min() < n_folds:
        warnings.warn(
            f"{fusion}: among the {int(present.sum())} patients who have modality {name!r}, "
            f"class {labels[np.argmin(counts)].item()!r} has {int(counts.min())}, fewer than the "
            f"{n_folds} folds of the out-of-fold predictions: some folds hold none of them. "
            f"Use cv={max(int(counts.min()), 2)}, or more patients.",
            FusionWarning,
            stacklevel=4,
        )


def check_fold_classes(
    fusion: str,
    name: str,
    y: np.ndarray,
    present: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    cv: Any,
    fitted: list[bool] | None = None,
    *,
    horizon_days: float | None = None,
) -> None:
    """Before any model is fitted: raise an `InputError` when the patients who have modality
    `name` in the training part of a fold (one that will be `fitted`; every fold when None)
    hold one class only.

    A classifier cannot learn from one class. On a small cohort this is the usual end of
    training (12 patients, 3 with RA, of whom 1 has a radiograph), and it is a fact of the
    data, found here in a moment rather than after the earlier folds' models were trained.

    Parameters
    ----------
    horizon_days : float, optional
        For a classifier modality of the survival fusion: `y` is RA by this horizon (1 or 0),
        `present` leaves out the patients whose status then is unknown, and the message
        speaks of outcomes (RA by the horizon or not) rather than classes.
    """
    if fitted is None:
        fitted = [True] * len(splits)
    for fold, ((train, _), fit) in enumerate(zip(splits, fitted, strict=True)):
        rows = train[present[train]]
        held = np.unique(y[rows])
        if not fit or held.size >= 2:
            continue
        if horizon_days is not None:
            raise InputError(
                _too_few_outcomes(
                    fusion, name, y, present, rows, held, len(splits), fold, horizon_days
                )
            )
        labels, counts = np.unique(y[present], return_counts=True)
        lacking = [
            (label, count) for label, count in zip(labels, counts, strict=True) if label not in held
        ]
        if lacking:
            label, count = lacking[0]
            whose = (
                f"{int(count)} {'has' if count == 1 else 'have'} class {label.item()!r}, and "
                f"the training part of fold {fold} holds none of them"
            )
        else:
            whose = f"all have class {labels[0].item()!r}"
        fewer = ""
        if isinstance(cv, Integral) and not isinstance(cv, bool) and cv > 2 and counts.min() >= 2:
            # Fewer, larger folds, so long as each class has a patient for each of them.
            fewer = _fewer_folds(max(2, min(int(counts.min()), int(cv) - 1)))
        raise InputError(
            f"{fusion}: too few patients of each class for {len(splits)} folds: of the "
            f"{int(present.sum())} patients who have modality {name!r}, {whose} "
            f"({f'{rows.size} of class {held.tolist()} only' if rows.size else 'nobody'}), "
            "so the modality's classifier "
            f"cannot be fitted there. Give more patients of each class with modality {name!r}, "
            f"{fewer}or leave the modality out."
        )


def _too_few_outcomes(
    fusion: str,
    name: str,
    ra: np.ndarray,
    known: np.ndarray,
    rows: np.ndarray,
    held: np.ndarray,
    n_folds: int,
    fold: int,
    horizon_days: float,
) -> str:
    """`check_fold_classes`'s message for the survival fusion's classifier modality whose
    patients of known status in fold `fold`'s training part (`rows`) are of one outcome
    (`held`: the outcomes among them)."""
    outcome = {0: "none with RA", 1: "only patients with RA"}.get(
        int(held[0]) if held.size else -1, "nobody"
    )
    fewer = ""
    # Fewer folds help only if each outcome has two patients to share out.
    if n_folds > 2 and np.bincount(ra[known], minlength=2).min() >= 2:
        fewer = _fewer_folds(n_folds - 1)
    return (
        f"{fusion}: too few patients of each outcome for "
        f"{n_folds} folds: modality {name!r} is a classifier of RA within "
        f"{horizon_days:g} days, and among the {rows.size} patients "
        f"who have it in the training part of fold {fold} and whose status then is known "
        f"there are {outcome}, so it cannot be fitted. Give more patients with and without "
        f"RA by then with modality {name!r}, {fewer}or leave the modality out."
    )


def _fewer_folds(cv: int) -> str:
    """The advice to train with `cv` folds, as a user would ask for them."""
    return (
        f'use fewer folds (cv={cv}; `"fusion_params": {{"cv": {cv}}}` in the '
        "--config of `ramultimodal train`), "
    )


def auroc_standard_error(auroc: float, n_positive: int, n_negative: int) -> float:
    """Standard error of an AUROC (Hanley & McNeil, Radiology 1982;143:29, equation 2).

    Examples
    --------
    >>> round(auroc_standard_error(0.9, 70, 130), 3)
    0.026
    """
    q1, q2 = auroc / (2 - auroc), 2 * auroc**2 / (1 + auroc)
    variance = (
        auroc * (1 - auroc)
        + (n_positive - 1) * (q1 - auroc**2)
        + (n_negative - 1) * (q2 - auroc**2)
    ) / max(n_positive * n_negative, 1)
    return float(np.sqrt(max(variance, 0.0)))


def check_fused(
    fusion: str,
    names: list[str],
    y: np.ndarray,
    fused: np.ndarray,
    probas: list[np.ndarray],
    classes: np.ndarray,
    degenerate: list[str],
) -> float:
    """The fused out-of-fold AUROC; a `FusionWarning` when a modality alone beats it.

    Each modality is compared with the fused predictions on the patients who have it: a
    warning when the fusion falls short by more than `FUSED_TOLERANCE` and by more than
    twice the modality's AUROC standard error, so that noise (two modalities at chance on
    a hundred patients) raises none.

    Returns
    -------
    float
        AUROC of `fused` on the patients it answered (NaN if undefined).
    """
    answered = ~np.isnan(fused).any(axis=1)
    fused_auroc = oof_auroc(y, fused, classes)
    for name, proba in zip(names, probas, strict=True):
        both = answered & ~np.isnan(proba).any(axis=1)
        alone = oof_auroc(y[both], proba[both], classes)
        together = oof_auroc(y[both], fused[both], classes)
        counts = np.array([(y[both] == label).sum() for label in classes])
        noise = 2 * auroc_standard_error(alone, counts.min(), counts.sum() - counts.min())
        if together < alone - max(FUSED_TOLERANCE, noise):
            hint = (
                f" Its predictions were degenerate (see above). {_WHAT_TO_DO}"
                if name in degenerate
                else f" {_WHAT_TO_DO} Or use modality {name!r} alone."
            )
            warnings.warn(
                f"{fusion}: out of fold, the fused model's AUROC is {together:.3f} on the "
                f"{int(both.sum())} patients who have modality {name!r}, whose model alone "
                f"has {alone:.3f}.{hint}",
                FusionWarning,
                stacklevel=4,
            )
    return fused_auroc
