"""XGBoost's settings for the tabular models, mirroring LightGBM's (`default_estimator`).

The recipes (`ramultimodal.models.make_model` with ``gbm="xgboost"``) take their
XGBoost from here, so that a comparison of the two learners compares the learners and not
their settings: the same number of trees, shrinkage, row and column subsampling, one
thread, and trees of about the same size. XGBoost routes NaN natively (a default direction
learned at each split), as LightGBM does, so a patient without a fact needs no imputer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["xgboost_estimator", "xgboost_meta_estimator"]


def xgboost_estimator(random_state: Any = None) -> Any:
    """XGBoost with small trees, as `default_estimator` builds LightGBM.

    ``max_depth=4`` gives at most 16 leaves, LightGBM's ``num_leaves=15``; ``hist`` is
    LightGBM's histogram algorithm (256 bins against its 255). ``min_child_weight`` is a sum
    of hessians p(1 - p), at most 0.25 a patient: XGBoost's default of 1 asks for four to
    five patients a leaf at RA's prevalence in an early-arthritis clinic (about 0.35), so a
    cohort of a few dozen patients still splits.

    Examples
    --------
    >>> model = xgboost_estimator(0)
    >>> model.max_depth, model.tree_method, model.n_jobs
    (4, 'hist', 1)
    """
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=300,
        learning_rate=0.03,
        max_depth=4,
        min_child_weight=1.0,
        subsample=0.8,
        colsample_bytree=0.5,
        tree_method="hist",
        n_jobs=1,
        random_state=random_state,
        verbosity=0,
    )


def xgboost_meta_estimator(random_state: Any = None) -> Any:
    """A shallow XGBoost for stacking's meta-features (see ``meta_learner="gbm"``).

    A few log-odds and presence flags, not hundreds of features: depth-2 trees can still
    learn how one modality's weight changes with another's presence.

    Examples
    --------
    >>> xgboost_meta_estimator(0).max_depth
    2
    """
    return xgboost_estimator(random_state).set_params(
        n_estimators=100, learning_rate=0.05, max_depth=2, subsample=1.0, colsample_bytree=1.0
    )
