"""A bag of fold models: the models of a cross-validation, kept and averaged as the final model.

Stacking and late fusion fit each base model once per fold, for its out-of-fold
predictions, and then, as scikit-learn's ``StackingClassifier`` does, once more on all
rows for the final model: ``cv + 1`` fits. For a CNN that last fit is as dear as the folds
together. A *cross-fitted* final model keeps the fold models instead and averages their
probabilities; AutoGluon's bagged stacking predicts new rows so ("AutoGluon-Tabular",
Erickson et al. 2020, section 3.3), and the bag of ``cv`` models trained on ``(cv - 1)/cv``
of the rows each is usually as good as one model on all of them (a bagged estimator's
variance is lower, its bias that of a slightly smaller training set).

The fold models' predictions for the rows each did not see are the *out-of-fold* ones
(``oof_proba_``): a stacker learns from them, and early fusion feeds them to its trees in
place of embeddings from a CNN that saw the very patients it is asked about.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, TransformerMixin, clone
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_y, check_is_fitted

from ramultimodal.fusion._base import aligned_proba, log_odds, out_of_fold_splits

__all__ = ["FoldBagClassifier", "bag_of"]


def bag_of(estimator: Any, models: list[Any], classes: np.ndarray) -> FoldBagClassifier:
    """A fitted `FoldBagClassifier` of already fitted fold `models` (a fusion's own folds).

    `estimator` is the unfitted template the models are clones of; `classes` the labels
    the bag answers for (the fusion's), in order.
    """
    bag = FoldBagClassifier(clone(estimator), cv=len(models))
    bag.estimators_ = list(models)
    bag.classes_ = np.asarray(classes)
    return bag


class FoldBagClassifier(ClassifierMixin, TransformerMixin, MetaEstimatorMixin, BaseEstimator):
    """Fit a classifier once per cross-validation fold and predict with the mean of the folds.

    Parameters
    ----------
    estimator : classifier
        The model of each fold (cloned); it needs ``predict_proba``.
    cv : int or cross-validation splitter, default=5
        The folds: an int gives a shuffled ``StratifiedKFold`` (``StratifiedGroupKFold``
        when ``groups`` is passed to ``fit``), seeded by `random_state`.
    random_state : int or None, default=None
        Seeds the shuffling of an int `cv`.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted model of each fold, trained on the other folds' rows.
    oof_proba_ : ndarray of shape (n_samples, n_classes)
        Each training row's probabilities from the fold model that did not see it (set by
        ``fit``; a bag that a fusion assembles from its own folds has none: the fusion
        keeps them).
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    Notes
    -----
    ``transform`` gives one column per class (one for binary labels: the log-odds), the
    same quantity in every fold model. The fold models' *embeddings* are not: the k-th
    unit of one fold's network means something else in another's, so neither their mean
    nor their stack is a feature; a bag does not offer them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 20)
    >>> X = rng.normal(y[:, None], 1.0, size=(40, 2))
    >>> bag = FoldBagClassifier(LogisticRegression(), cv=4, random_state=0).fit(X, y)
    >>> len(bag.estimators_), bag.oof_proba_.shape
    (4, (40, 2))
    >>> mean = np.mean([m.predict_proba(X[:3]) for m in bag.estimators_], axis=0)
    >>> bool(np.allclose(bag.predict_proba(X[:3]), mean))
    True
    """

    def __init__(self, estimator: Any, *, cv: Any = 5, random_state: Any = None) -> None:
        self.estimator = estimator
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: Any, y: Any, groups: Any = None) -> FoldBagClassifier:
        """Fit a clone of `estimator` on the training part of each fold.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            What `estimator` reads.
        y : array-like of shape (n_samples,)
            Class labels.
        groups : array-like of shape (n_samples,), default=None
            Patient of each row, so that a patient's rows stay in one fold.

        Returns
        -------
        self : FoldBagClassifier
            The fitted bag.
        """
        y = _check_y(y, estimator=self)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"FoldBagClassifier needs at least two classes in y; got {self.classes_.tolist()}."
            )
        self.estimators_ = []
        self.oof_proba_ = np.full((len(y), len(self.classes_)), np.nan)
        for train, test in out_of_fold_splits(self.cv, X, y, groups, self.random_state):
            model = clone(self.estimator).fit(_safe_indexing(X, train), y[train])
            self.estimators_.append(model)
            answered = model.predict_proba(_safe_indexing(X, test))
            self.oof_proba_[test] = aligned_proba(answered, model.classes_, self.classes_)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The mean of the fold models' class probabilities.

        A fold model trained on rows that lacked a class gives it probability 0. NaN rows
        (a model that has no answer for a row, as a CNN for a patient with no usable image)
        stay NaN.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            What `estimator` reads.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimators_")
        total = None
        for model in self.estimators_:
            aligned = aligned_proba(model.predict_proba(X), model.classes_, self.classes_)
            total = aligned if total is None else total + aligned
        return total / len(self.estimators_)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of the mean probabilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            What `estimator` reads.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def transform(self, X: Any) -> np.ndarray:
        """The bag's aligned features (`log_odds` of the mean probabilities).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            What `estimator` reads.

        Returns
        -------
        ndarray of shape (n_samples, 1) for two classes, else (n_samples, n_classes)
        """
        return log_odds(self.predict_proba(X))

    def fit_transform(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """Fit the bag, and give each training row its *out-of-fold* features.

        As scikit-learn's ``TargetEncoder``: a row's features come from the fold model that
        did not see it, so a model trained on them learns what new rows will look like,
        not how well the bag remembers its own training rows. ``fit(X, y).transform(X)``
        gives the in-sample ones instead.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            What `estimator` reads.
        y : array-like of shape (n_samples,)
            Class labels.
        groups : array-like of shape (n_samples,), default=None
            Patient of each row.

        Returns
        -------
        ndarray of shape (n_samples, 1) for two classes, else (n_samples, n_classes)
        """
        return log_odds(self.fit(X, y, groups).oof_proba_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["logit"]`` for two classes, else ``log_proba_<class>`` per class.

        Parameters
        ----------
        input_features : None
            Unused; present for API consistency.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "estimators_")
        if len(self.classes_) == 2:
            return np.asarray(["logit"], dtype=object)
        return np.asarray([f"log_proba_{label}" for label in self.classes_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            inner = self.estimator.__sklearn_tags__().input_tags
            tags.input_tags.allow_nan = inner.allow_nan
            tags.input_tags.string = inner.string
        except AttributeError:
            pass
        return tags
