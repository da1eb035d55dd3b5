"""What the three fusion estimators share: modality routing, presence and out-of-fold splits.

A modality is ``(name, estimator, columns)``, as a ``ColumnTransformer`` transformer is. The
columns are selected with scikit-learn's own helpers (``_get_column_indices``,
``_safe_indexing``), so a name gives the estimator a 1-D Series, a list gives it a DataFrame,
and a callable such as ``make_column_selector`` is resolved once, on the training X. The
named estimators are exposed to ``get_params``/``set_params`` through ``_BaseComposition``
(``_NamedModalities``, which `LateFusionSurvival` shares), so ``ehr__C`` reaches the ``C`` of
the modality named ``ehr`` and ``set_params(ehr="drop")`` leaves it out.

Each base estimator sees only the rows that have its modality (see ``_presence``); where it
is not applied its output is NaN, which is how the subclasses tell "absent" downstream.
"""

from __future__ import annotations

import inspect
import warnings
from abc import abstractmethod
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from sklearn.base import ClassifierMixin, clone
from sklearn.compose._column_transformer import _is_empty_column_selection
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils import Bunch, get_tags
from sklearn.utils._indexing import _get_column_indices, _safe_indexing
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_y, check_array, check_is_fitted, validate_data

from ramultimodal._errors import InputError
from ramultimodal._missing import with_no_answer
from ramultimodal.fusion import _diagnosis
from ramultimodal.fusion._presence import modality_presence

# Base probabilities are clipped away from 0 and 1 before a logit, so that one overconfident
# modality cannot give an infinite vote.
PROBA_CLIP = 1e-6


class NoModalityWarning(UserWarning):
    """Patients who have none of the modalities: their probability is NaN, not a guess."""


def _is_drop(estimator: Any) -> bool:
    return isinstance(estimator, str) and estimator == "drop"


def logit(proba: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities clipped to ``[PROBA_CLIP, 1 - PROBA_CLIP]`` (NaN stays NaN)."""
    return special.logit(np.clip(proba, PROBA_CLIP, 1 - PROBA_CLIP))


def log_odds(proba: np.ndarray) -> np.ndarray:
    """Class probabilities on the log scale, one column fewer where that loses nothing: the
    log-odds of the positive class for two classes, else each class's log-probability;
    clipped as `logit` clips (NaN stays NaN).

    Examples
    --------
    >>> log_odds(np.array([[0.5, 0.5], [0.2, 0.8]])).round(3).tolist()
    [[0.0], [1.386]]
    """
    proba = np.asarray(proba, dtype=float)
    if proba.shape[1] == 2:
        return logit(proba[:, 1:])
    return np.log(np.clip(proba, PROBA_CLIP, 1.0))


def aligned_proba(answered: Any, model_classes: Any, classes: np.ndarray) -> np.ndarray:
    """A model's probabilities in the columns of `classes` (0 for a class it never saw, as a
    model trained on a subset of rows may not); a row it left NaN stays NaN."""
    answered = np.asarray(answered, dtype=float)
    aligned = np.zeros((len(answered), len(classes)))
    aligned[:, np.searchsorted(classes, model_classes)] = answered
    aligned[np.isnan(answered).any(axis=1)] = np.nan
    return aligned


def out_of_fold_splits(
    cv: Any, X: Any, y: np.ndarray, groups: Any, random_state: Any
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Out-of-fold splits: stratified by label, grouped by patient when groups are given;
    an int `cv` is shuffled with `random_state`, anything else goes through ``check_cv``."""
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        splitter_class = StratifiedGroupKFold if groups is not None else StratifiedKFold
        splitter = splitter_class(n_splits=cv, shuffle=True, random_state=random_state)
    else:
        splitter = check_cv(cv, y, classifier=True)
    return list(splitter.split(X, y, groups))


def resolve_columns(owner: str, X: Any, modalities: list[tuple[str, Any, Any]]) -> list[Any]:
    """Each modality's column selection on the training X (callables resolved), checked
    against X; `owner` (the estimator's class name) opens the errors."""
    resolved = []
    for name, _, columns in modalities:
        selection = columns(X) if callable(columns) else columns
        try:
            _get_column_indices(X, selection)
        except (ValueError, IndexError, KeyError, TypeError) as error:
            raise ValueError(
                f"{owner}: the columns of modality {name!r} do not match X "
                f"(X has {X.shape[1]} feature(s)): {error}. Check the modality's columns "
                "against X's columns."
            ) from error
        if _is_empty_column_selection(selection):
            raise ValueError(
                f"{owner}: modality {name!r} selects no column of X; "
                "give it columns or make it 'drop'."
            )
        resolved.append(selection)
    return resolved


def modality_data(X: Any, columns: Any) -> tuple[Any, np.ndarray]:
    """The modality's columns of X and which rows have them."""
    data = _safe_indexing(X, columns, axis=1)
    return data, modality_presence(data)


def fit_accepts_groups(estimator: Any) -> bool:
    """Whether ``estimator.fit`` takes the patients' ``groups`` (the fusions' does)."""
    return "groups" in inspect.signature(estimator.fit).parameters


class _NamedModalities(_BaseComposition):
    """``modalities`` as named estimators, as ``ColumnTransformer`` has its transformers:
    ``name__param`` tunes a modality's estimator and ``name`` replaces it, ``"drop"`` leaving
    the modality out of the next fit. Shared by the fusion classifiers and
    `LateFusionSurvival`; not for direct use.

    Subclasses say what a modality's estimator must offer (``_check_modality_estimator``).
    """

    # -- parameters: the named estimators, as ColumnTransformer exposes its transformers --

    @property
    def _modalities(self) -> list[tuple[str, Any]]:
        """``(name, estimator)`` pairs, the form ``_BaseComposition`` works on."""
        try:
            return [(name, estimator) for name, estimator, _ in self.modalities]
        except (TypeError, ValueError):
            return self.modalities

    @_modalities.setter
    def _modalities(self, value: list[tuple[str, Any]]) -> None:
        try:
            self.modalities = [
                (name, estimator, columns)
                for (name, estimator), (_, _, columns) in zip(value, self.modalities, strict=True)
            ]
        except (TypeError, ValueError):
            self.modalities = value

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get the parameters, including those of each modality's estimator (``name__param``).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of the named estimators.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        return self._get_params("_modalities", deep=deep)

    def set_params(self, **params: Any) -> _NamedModalities:
        """Set parameters; ``name`` replaces a modality's estimator (``"drop"`` leaves it out
        of the next fit), ``name__param`` tunes it.

        Parameters
        ----------
        **params : dict
            Parameters of this estimator or of its named estimators.

        Returns
        -------
        self : object
            This estimator.
        """
        self._set_params("_modalities", **params)
        return self

    # -- validation -----------------------------------------------------------------------

    def _validate_modalities(self) -> list[tuple[str, Any, Any]]:
        """Check the ``modalities`` specification; return it as a list of triples."""
        modalities = self.modalities
        if (
            not isinstance(modalities, list | tuple)
            or not modalities
            or not all(isinstance(m, tuple | list) and len(m) == 3 for m in modalities)
        ):
            raise ValueError(
                f"{type(self).__name__}: `modalities` must be a non-empty list of "
                "(name, estimator, columns) tuples, e.g. [('ehr', LogisticRegression(), "
                "['crp', 'esr']), ('image', CNNImageClassifier(), 'image')]."
            )
        names = [name for name, _, _ in modalities]
        self._validate_names(names)
        estimators = [estimator for _, estimator, _ in modalities]
        self._check_estimators_are_instances(estimators)
        for name, estimator, _ in modalities:
            self._check_modality_estimator(name, estimator)
        if all(_is_drop(e) for e in estimators):
            raise ValueError(f"{type(self).__name__}: every modality is 'drop'; keep at least one.")
        return [tuple(m) for m in modalities]

    def _check_modality_estimator(self, name: str, estimator: Any) -> None:
        """Refuse an estimator the fusion cannot use; any is taken here."""

    def _modality_data(self, X: Any, columns: Any) -> tuple[Any, np.ndarray]:
        """The modality's columns of X and which rows have them."""
        return modality_data(X, columns)

    def _kept_modalities(self) -> list[tuple[str, Any, Any]]:
        """The checked ``modalities`` less those set to ``"drop"``: the ones to fit."""
        return [m for m in self._validate_modalities() if not _is_drop(m[1])]


class _BaseFusion(ClassifierMixin, _NamedModalities):
    """Base class of the fusion classifiers; not for direct use.

    Subclasses say how a modality's estimator is used (``_modality_method``: ``predict_proba``
    or ``transform``) and which fitted attributes hold estimators that persistence must store
    in their own format (``_fitted_estimator_attrs``).
    """

    _modality_method = "predict_proba"
    _fitted_estimator_attrs: tuple[str, ...] = ("estimators_",)

    @abstractmethod
    def __init__(self, modalities: list[tuple[str, Any, Any]]) -> None:
        self.modalities = modalities

    # -- validation -----------------------------------------------------------------------

    def _check_modality_estimator(self, name: str, estimator: Any) -> None:
        """A classifier modality needs ``fit`` and ``predict_proba`` (or is ``'drop'``)."""
        if _is_drop(estimator):
            return
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict_proba")):
            raise TypeError(
                f"{type(self).__name__} uses each modality's estimator through predict_proba; "
                f"modality {name!r} has {type(estimator).__name__}, which lacks fit or "
                "predict_proba. Give a classifier, or 'drop'. To feed embeddings or raw "
                "columns to one model, use EarlyFusionClassifier."
            )

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        """Keep DataFrames as they are (mixed dtypes, lists of paths); check anything else."""
        if not isinstance(X, pd.DataFrame):
            X = check_array(X, dtype=None, ensure_all_finite=False, estimator=self)
        validate_data(self, X, skip_check_array=True, reset=reset)
        return X

    def _validate_y(self, y: Any) -> np.ndarray:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = _check_y(y, estimator=self)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; got one class only "
                f"({self.classes_.tolist()})."
            )
        return y

    def _resolve_columns(self, X: Any, modalities: list[tuple[str, Any, Any]]) -> list[Any]:
        """Each modality's column selection on the training X (callables resolved)."""
        return resolve_columns(type(self).__name__, X, modalities)

    # -- fitting and applying the base estimators -----------------------------------------

    def _used_modalities(self) -> list[tuple[str, Any, Any]]:
        """``(name, estimator, resolved columns)`` of the modalities to fit (not dropped).

        For fitting only; prediction reads the fitted ``modality_names_``, ``_columns_``
        and estimators, so that changing the parameters after ``fit`` cannot misroute.
        """
        return [
            (name, estimator, columns)
            for (name, estimator, _), columns in zip(
                self._kept_modalities(), self._columns_, strict=True
            )
        ]

    def _fit_base(
        self, name: str, estimator: Any, data: Any, y: np.ndarray, rows: np.ndarray, where: str
    ) -> Any:
        """Clone and fit ``estimator`` on ``rows`` (indices) of the modality's data."""
        classes = np.unique(y[rows])
        if self._modality_method == "predict_proba" and len(classes) < 2:
            # A fact of the data that its user can change (more patients, fewer folds).
            raise InputError(
                f"{type(self).__name__}: the {len(rows)} rows that have modality {name!r} "
                f"{where} hold one class only ({classes.tolist()}); a classifier needs two. "
                "Give more patients of each class, use fewer folds (cv), or leave the "
                "modality out."
            )
        return clone(estimator).fit(_safe_indexing(data, rows), y[rows])

    def _base_proba(self, estimator: Any, data: Any, present: np.ndarray) -> np.ndarray:
        """Class probabilities aligned to ``classes_``; NaN rows where the modality is absent.

        A base model may also answer NaN itself (an image model for a patient whose image
        list turned out empty); such rows are absent too.
        """
        proba = np.full((len(present), len(self.classes_)), np.nan)
        rows = np.flatnonzero(present)
        if rows.size:
            answered = estimator.predict_proba(_safe_indexing(data, rows))
            proba[rows] = aligned_proba(answered, estimator.classes_, self.classes_)
        return proba

    def _splits(self, X: Any, y: np.ndarray, groups: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        return out_of_fold_splits(self.cv, X, y, groups, self.random_state)

    def _out_of_fold_proba(
        self, X: Any, y: np.ndarray, groups: Any, splits: list | None = None
    ) -> tuple[list[np.ndarray], list[Any]]:
        """Out-of-fold probabilities per modality, then each base model refit on all its rows
        (or, for a modality in ``cross_fit``, its fold models kept as a `FoldBagClassifier`).

        The folds are drawn once, on all patients (or given as `splits`), so that every
        modality's prediction for a patient comes from models that never saw that patient.
        Folds too small for a tree learner's leaf size get a scaled one (`_diagnosis`);
        sets ``inner_fold_params_``, ``oof_auroc_`` and ``degenerate_modalities_``.
        """
        if splits is None:
            splits = self._splits(X, y, groups)
        self._check_fold_classes(X, y, splits)
        probas, estimators = [], []
        fusion, self.inner_fold_params_, causes = type(self).__name__, {}, {}
        for name, estimator, columns in self._used_modalities():
            data, present = self._modality_data(X, columns)
            _diagnosis.warn_small_folds(fusion, name, y, present, self.cv)
            fold_estimator, params, causes[name] = _diagnosis.inner_fold_estimator(
                fusion, name, estimator, present, splits
            )
            if params:
                self.inner_fold_params_[name] = params
            proba, bag = self._fold_models(name, fold_estimator, data, y, present, splits)
            probas.append(proba)
            if bag is None:
                rows = np.flatnonzero(present)
                bag = self._fit_base(name, estimator, data, y, rows, "in the data")
            estimators.append(bag)
        self._diagnose(y, probas, splits, causes)
        return probas, estimators

    def _check_fold_classes(self, X: Any, y: np.ndarray, splits: list) -> None:
        """Every used modality has two classes in the training part of every fold that
        `_fold_models` will fit, checked before any model is trained."""
        if self._modality_method != "predict_proba":
            return
        cross_fit = self._cross_fitted()
        for name, _, columns in self._used_modalities():
            _, present = self._modality_data(X, columns)
            fitted = [name in cross_fit or bool(present[test].any()) for _, test in splits]
            _diagnosis.check_fold_classes(
                type(self).__name__, name, y, present, splits, self.cv, fitted
            )

    def _cross_fitted(self) -> set[str]:
        """The used modalities named by ``cross_fit`` (each name checked: a modality, if
        perhaps a dropped one)."""
        names = getattr(self, "cross_fit", None)
        if names is None:
            return set()
        if isinstance(names, str) or not all(isinstance(name, str) for name in names):
            raise ValueError(
                f"{type(self).__name__}: cross_fit must be None or a list of modality names, "
                f"e.g. ['image']; got {names!r}."
            )
        # A dropped modality may stay named: a recipe that drops its image keeps working.
        every = [name for name, _, _ in self._validate_modalities()]
        unknown = set(names) - set(every)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: cross_fit names {sorted(unknown)}, which are not "
                f"modalities; the modalities are {every}."
            )
        return set(names) & set(self.modality_names_)

    def _fold_models(
        self, name: str, estimator: Any, data: Any, y: np.ndarray, present: np.ndarray, splits
    ) -> tuple[np.ndarray, Any]:
        """A modality's out-of-fold probabilities and, for a `cross_fit` modality, the bag
        of its fold models (`FoldBagClassifier`) as its final model; else None.

        A cross-fitted modality fits every fold, even one whose held-out part lacks the
        modality: each fold model is a member of the final model.
        """
        cross_fit = name in self._cross_fitted()
        proba = np.full((len(y), len(self.classes_)), np.nan)
        models = []
        for fold, (train, test) in enumerate(splits):
            train, test = train[present[train]], test[present[test]]
            if test.size == 0 and not cross_fit:
                continue
            model = self._fit_base(
                name, estimator, data, y, train, f"in the training part of fold {fold}"
            )
            models.append(model)
            if test.size:
                proba[test] = self._base_proba(
                    model, _safe_indexing(data, test), np.ones(test.size, dtype=bool)
                )
        if not cross_fit:
            return proba, None
        from ramultimodal.fusion._fold_bag import bag_of  # it imports this module

        return proba, bag_of(estimator, models, self.classes_)

    def _diagnose(
        self, y: np.ndarray, probas: list[np.ndarray], splits: list | None, causes: dict
    ) -> None:
        """Set ``oof_auroc_`` and ``degenerate_modalities_``; warn about the latter."""
        self.oof_auroc_, self.degenerate_modalities_ = _diagnosis.diagnose_out_of_fold(
            type(self).__name__, self.modality_names_, y, probas, self.classes_, splits, causes
        )

    def _check_fused(self, y: np.ndarray, fused: np.ndarray, probas: list[np.ndarray]) -> None:
        """Set ``fused_oof_auroc_``; warn when a modality alone beats the fusion out of fold."""
        self.fused_oof_auroc_ = _diagnosis.check_fused(
            type(self).__name__,
            self.modality_names_,
            y,
            fused,
            probas,
            self.classes_,
            self.degenerate_modalities_,
        )

    def _prefit_estimators(self) -> list[Any]:
        """The given, already trained base estimators (``cv='prefit'``)."""
        estimators = []
        for name, estimator, _ in self._used_modalities():
            check_is_fitted(
                estimator,
                msg=f"With cv='prefit', modality {name!r} must be "
                "fitted already; fit it or use cv=5.",
            )
            estimators.append(estimator)
        return estimators

    def _check_modalities_present(self, X: Any) -> None:
        for name, _, columns in self._used_modalities():
            _, present = self._modality_data(X, columns)
            if not present.any():
                raise ValueError(
                    f"{type(self).__name__}: modality {name!r} is missing for every row of the "
                    "training data (its columns are all empty). Provide it, or make it 'drop'."
                )

    def _fit_start(self, X: Any, y: Any) -> tuple[Any, np.ndarray]:
        """Validation shared by every ``fit``: X, y, modalities, columns, presence."""
        used = self._kept_modalities()
        X = self._validate_X(X, reset=True)
        y = self._validate_y(y)
        if len(y) != X.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: X has {X.shape[0]} rows but y has {len(y)} labels."
            )
        self.modality_names_ = [name for name, _, _ in used]
        self._columns_ = self._resolve_columns(X, used)
        self._check_modalities_present(X)
        cv = getattr(self, "cv", None)
        if self._cross_fitted() and isinstance(cv, str) and cv == "prefit":
            raise ValueError(
                f"{type(self).__name__}: cross_fit keeps the fold models of the cv splits, "
                "and cv='prefit' has none; give cv an int (or a splitter) or cross_fit=None."
            )
        return X, y

    def _predict_base_probas(self, X: Any) -> list[np.ndarray]:
        """Each used modality's probabilities on X (NaN rows where absent)."""
        probas = []
        for columns, estimator in zip(self._columns_, self.estimators_, strict=True):
            data, present = self._modality_data(X, columns)
            probas.append(self._base_proba(estimator, data, present))
        return probas

    # -- shared public surface --------------------------------------------------------------

    @property
    def named_estimators_(self) -> Bunch:
        """The fitted base estimators by modality name."""
        check_is_fitted(self)
        return Bunch(**dict(zip(self.modality_names_, self.estimators_, strict=True)))

    def predict(self, X: Any) -> np.ndarray:
        """Predict the class of each patient: the most probable one.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            The patients, with the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_patients,)
            Predicted class labels; NaN (or None for labels that are not numbers) for a
            patient with no modality.
        """
        check_is_fitted(self)
        proba = self.predict_proba(X)
        unknown = np.isnan(proba).any(axis=1)
        labels = self.classes_[np.argmax(np.nan_to_num(proba, nan=-1.0), axis=1)]
        # As the image model does for a patient without a radiograph: no answer.
        return with_no_answer(labels, unknown)

    def _without_modality(self, proba: np.ndarray, presence: np.ndarray) -> np.ndarray:
        """`proba` with NaN rows for the patients who have no modality, and a warning.

        Such a patient has no radiograph, no fact of the record and no PRO: there is
        nothing to base a probability on, and a number would look like an answer.
        """
        nobody = ~np.asarray(presence, dtype=bool).any(axis=1)
        if nobody.any():
            proba[nobody] = np.nan
            warnings.warn(
                f"{int(nobody.sum())} of {len(nobody)} patients have none of the modalities "
                f"{self.modality_names_}: their probability is NaN.",
                NoModalityWarning,
                stacklevel=3,
            )
        return proba

    def _explanation_frame(
        self,
        X: Any,
        fused: np.ndarray,
        presence: np.ndarray,
        base_probas: list[np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """``predict_modalities``'s frame, indexed like X: ``proba``, then ``proba_<name>``
        per modality (with `base_probas`) and ``has_<name>`` per modality."""
        if len(self.classes_) != 2:
            raise ValueError(
                f"{type(self).__name__}.predict_modalities explains binary models; this one "
                f"has {len(self.classes_)} classes. Use predict_proba."
            )
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(fused))
        frame = pd.DataFrame({"proba": fused[:, 1]}, index=index)
        if base_probas is not None:
            for name, proba in zip(self.modality_names_, base_probas, strict=True):
                frame[f"proba_{name}"] = proba[:, 1]
        for name, has in zip(self.modality_names_, presence.T, strict=True):
            frame[f"has_{name}"] = has
        return frame

    @staticmethod
    def _answered(probas: list[np.ndarray]) -> np.ndarray:
        """``(n_patients, n_modalities)``: where each base model gave a probability."""
        return np.column_stack([~np.isnan(proba).any(axis=1) for proba in probas])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN is how a patient says "I do not have this modality"; it is input, not an error.
        tags.input_tags.allow_nan = True
        try:
            estimators = [e for _, e, _ in self.modalities if not isinstance(e, str)]
            tags.input_tags.string = any(get_tags(e).input_tags.string for e in estimators)
        except (TypeError, ValueError, AttributeError):
            pass
        return tags
