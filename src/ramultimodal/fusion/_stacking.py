"""Stacking: a meta-model learns how to combine the modalities' out-of-fold probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags
from sklearn.utils._indexing import _get_column_indices, _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ramultimodal.fusion._base import _BaseFusion, log_odds
from ramultimodal.fusion._calibration import (
    calibrated_proba,
    check_fusion_calibration,
    fusion_calibrator,
)

_SCALES = ("logit", "proba")


def accepts_nan(estimator: Any) -> bool:
    """Whether an estimator's tags say it takes NaN input (gradient boosting does)."""
    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except (AttributeError, TypeError, ValueError):  # no sklearn tags: assume it does not
        return False


def with_imputer(estimator: Any) -> Any:
    """``estimator`` as is if it takes NaN, else behind a mean imputer.

    The mean is a fair fill because the meta-features carry a presence flag next to each
    modality's NaN: the model learns the offset for "absent" from the flag.
    """
    if accepts_nan(estimator):
        return estimator
    return make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True), estimator)


class StackingFusionClassifier(_BaseFusion):
    """Stack the modalities: a final estimator combines each modality's out-of-fold output.

    As scikit-learn's ``StackingClassifier``, but each base model reads only its own columns
    and is trained only on the patients that have its modality. The meta-features of a
    patient are, per modality, the log-odds (or probability) from a model that did not see
    that patient (NaN when the patient lacks the modality), a presence flag per modality,
    and optionally chosen columns of X passed through.

    Parameters
    ----------
    modalities : list of (str, estimator or "drop", columns) tuples
        One classifier per modality (with ``predict_proba``) and the columns of X it reads,
        in any form that ``ColumnTransformer`` accepts.
    final_estimator : estimator, default=None
        The meta-model; None gives ``LogisticRegression()``. An estimator whose tags say it
        rejects NaN (logistic regression) is put behind a mean ``SimpleImputer``; gradient
        boosting (``HistGradientBoostingClassifier``, XGBoost, LightGBM) gets the NaN as is.
    cv : int, cross-validation splitter or "prefit", default=5
        Splits for the out-of-fold meta-features. An int gives ``StratifiedKFold``, or
        ``StratifiedGroupKFold`` when ``groups`` is passed to ``fit``, both shuffled with
        ``random_state``. ``"prefit"`` uses the given, already trained classifiers (e.g. a
        CNN trained elsewhere) and their predictions on the training X.
    passthrough : list of column names or indices, default=None
        Numeric columns of X given to the final estimator next to the meta-features (age, a
        clinical score...).
    add_presence : bool, default=True
        Add a 0/1 flag per modality saying whether the patient has it.
    scale : {"logit", "proba"}, default="logit"
        Meta-feature of a modality: the log-odds of its probability (clipped to
        ``[1e-6, 1 - 1e-6]``; the log-probability of each class when there are more than two
        classes), or the probability itself.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling of the splits.
    calibration : {None, "sigmoid", "isotonic"}, default=None
        Recalibrate the stacked probability (binary only): a calibrator
        (`ramultimodal.fusion._calibration`) is fitted on out-of-fold stacked
        probabilities, from clones of the final estimator fitted on the other folds' out-of-
        fold meta-features (the ``cv`` splits, grouped by patient with ``groups``; five
        stratified folds with ``cv="prefit"``). None leaves the probabilities as they are.
    cross_fit : list of str or None, default=None
        Modalities whose final model is the bag of the fold models that made their
        out-of-fold meta-features (`~ramultimodal.fusion._fold_bag.FoldBagClassifier`: the
        mean of the ``cv`` fold models' probabilities), instead of one more fit on all their
        patients: ``cv`` fits instead of ``cv + 1``. The meta-model then reads, for a new
        patient, the mean of models that each saw ``(cv - 1) / cv`` of the patients, as it
        read one of them in training (AutoGluon's bagged stacking). Name the expensive
        modality (``["image"]``: the CNN); a cheap one gains little. Not with ``cv="prefit"``.

    Attributes
    ----------
    estimators_ : list of estimators
        The classifier of each non-dropped modality, refit on all patients that have it (for
        a modality in ``cross_fit``: the `FoldBagClassifier` of its fold models).
    named_estimators_ : Bunch
        The same, by modality name.
    final_estimator_ : estimator
        The fitted meta-model (behind its imputer when it rejects NaN).
    modality_names_ : list of str
        Names of the non-dropped modalities, in order.
    oof_auroc_ : ndarray of shape (n_modalities,)
        Out-of-fold AUROC of each modality on the patients that have it (with
        ``cv="prefit"``: on the training data); NaN where those patients are of one class.
    fused_oof_auroc_ : float
        AUROC of the final estimator's own out-of-fold probabilities, refit on the same
        splits (not with ``cv="prefit"``). A `FusionWarning` says so when a modality alone
        beats it by more than 0.05.
    degenerate_modalities_ : list of str
        Modalities whose out-of-fold probabilities say nothing (constant within every
        fold, or an undefined AUROC), each with a `FusionWarning`.
    inner_fold_params_ : dict of str to dict
        By modality, the leaf sizes its inner-fold refits used because the folds were too
        small for the given ones to split (usually empty; not with ``cv="prefit"``). The
        final models keep the given parameters (but those of a ``cross_fit`` modality are its fold
        models).
    calibrator_ : dict or None
        The fitted calibrator, as plain data: ``{"method": "sigmoid", "slope": a,
        "intercept": b}`` (``p = expit(a * logit(stacked) + b)``) or ``{"method":
        "isotonic", "x": [...], "y": [...]}``; None without ``calibration``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of columns of X seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of X seen in ``fit``, when X had string column names.

    See Also
    --------
    LateFusionClassifier : average the modalities with fixed or AUROC-based weights.
    EarlyFusionClassifier : one model on the concatenated modality features.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ramultimodal.fusion import StackingFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 20)
    >>> X = pd.DataFrame({"crp": rng.normal(5 + 10 * y, 5), "erosions": rng.normal(y, 1)})
    >>> X.loc[::4, "erosions"] = np.nan  # a quarter of the patients have no radiograph
    >>> model = StackingFusionClassifier(
    ...     [("ehr", LogisticRegression(), ["crp"]), ("image", LogisticRegression(), ["erosions"])],
    ...     cv=4, random_state=0,
    ... ).fit(X, y)
    >>> model.get_feature_names_out().tolist()
    ['logit_ehr', 'logit_image', 'has_ehr', 'has_image']
    >>> model.predict_proba(X).shape
    (40, 2)
    """

    _fitted_estimator_attrs = ("estimators_", "final_estimator_")

    def __init__(
        self,
        modalities: list[tuple[str, Any, Any]],
        *,
        final_estimator: Any = None,
        cv: Any = 5,
        passthrough: Any = None,
        add_presence: bool = True,
        scale: str = "logit",
        random_state: Any = None,
        calibration: str | None = None,
        cross_fit: list[str] | None = None,
    ) -> None:
        self.modalities = modalities
        self.final_estimator = final_estimator
        self.cv = cv
        self.passthrough = passthrough
        self.add_presence = add_presence
        self.scale = scale
        self.random_state = random_state
        self.calibration = calibration
        self.cross_fit = cross_fit

    def fit(self, X: Any, y: Any, groups: Any = None) -> StackingFusionClassifier:
        """Fit the base models out of fold, the final estimator on their output, then refit.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            One row per patient.
        y : array-like of shape (n_patients,)
            Class labels.
        groups : array-like of shape (n_patients,), default=None
            Patient of each row, so that the out-of-fold splits keep a patient's rows
            together.

        Returns
        -------
        self : StackingFusionClassifier
            The fitted estimator.
        """
        if self.scale not in _SCALES:
            raise ValueError(f"scale must be one of {_SCALES}; got {self.scale!r}.")
        X, y = self._fit_start(X, y)
        calibration = check_fusion_calibration(self)
        if self.passthrough is not None:
            try:
                _get_column_indices(X, self.passthrough)
            except (ValueError, IndexError, KeyError, TypeError) as error:
                raise ValueError(
                    f"passthrough columns do not match X: {error}. Check `passthrough`."
                ) from error
        splits = None
        if self.cv == "prefit":
            self.estimators_ = self._prefit_estimators()
            probas = self._predict_base_probas(X)
            self._diagnose(y, probas, None, {})
        else:
            splits = self._splits(X, y, groups)
            probas, self.estimators_ = self._out_of_fold_proba(X, y, groups, splits)
        meta = self._meta_features(X, probas)
        final = LogisticRegression() if self.final_estimator is None else self.final_estimator
        self.final_estimator_ = with_imputer(clone(final)).fit(meta, y)
        fused_oof = None
        if splits is not None:
            fused_oof = self._meta_out_of_fold(meta, y, splits, probas)
            self._check_fused(y, fused_oof, probas)
        if calibration is not None and fused_oof is None:
            # prefit: the final estimator cross-fitted on folds of its own
            folds = StratifiedKFold(5, shuffle=True, random_state=self.random_state)
            fused_oof = self._meta_out_of_fold(meta, y, list(folds.split(meta, y)), probas)
        self.calibrator_ = fusion_calibrator(self, lambda: fused_oof, y)
        return self

    def _meta_out_of_fold(
        self, meta: np.ndarray, y: np.ndarray, splits: list, probas: list[np.ndarray]
    ) -> np.ndarray:
        """The final estimator's own out-of-fold probabilities, on the base models' splits
        (NaN for a patient without any modality, or in a fold that lacks a class), for the
        fused out-of-fold check and for the calibrator, which must not learn from the final
        estimator's answers on its own training patients."""
        fused = np.full((len(y), len(self.classes_)), np.nan)
        for train, test in splits:
            if np.unique(y[train]).size < len(self.classes_):
                continue
            model = clone(self.final_estimator_).fit(meta[train], y[train])
            fused[test] = model.predict_proba(meta[test])
        fused[~self._answered(probas).any(axis=1)] = np.nan
        return fused

    def _meta_features(self, X: Any, probas: list[np.ndarray]) -> np.ndarray:
        """Per modality its output (NaN when absent), presence flags, passthrough columns."""
        columns = []
        for proba in probas:
            if self.scale == "logit":
                columns.append(log_odds(proba))
            else:  # binary: one column, since P(class 0) = 1 - P(class 1) adds nothing
                columns.append(proba[:, 1:] if len(self.classes_) == 2 else proba)
        if self.add_presence:
            columns.append(self._answered(probas).astype(float))
        if self.passthrough is not None:
            passed = _safe_indexing(X, self.passthrough, axis=1)
            try:
                columns.append(np.asarray(passed, dtype=float).reshape(len(passed), -1))
            except (TypeError, ValueError) as error:
                raise type(error)(
                    f"passthrough columns must be numeric: {error}. Encode them first."
                ) from error
        return np.hstack(columns)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class from the final estimator.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            The patients, with the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_patients, n_classes)
            Class probabilities (recalibrated with ``calibration``); NaN for a patient with
            no modality.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._stacked(X)[0]

    def _stacked(self, X: Any) -> tuple[np.ndarray, list[np.ndarray]]:
        """The final estimator's probabilities (NaN without any modality), and the bases'."""
        probas = self._predict_base_probas(X)
        fused = self.final_estimator_.predict_proba(self._meta_features(X, probas))
        fused = calibrated_proba(self, fused)
        return self._without_modality(fused, self._answered(probas)), probas

    def predict_modalities(self, X: Any) -> pd.DataFrame:
        """Explain each prediction: the stacked probability and what each modality said.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            The patients, with the columns seen in ``fit``.

        Returns
        -------
        DataFrame indexed like X
            ``proba`` (the stacked probability of ``classes_[1]``, as ``predict_proba``),
            then for each modality ``proba_<name>`` (its base model's probability, NaN when
            absent) and ``has_<name>``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        fused, probas = self._stacked(X)
        return self._explanation_frame(X, fused, self._answered(probas), probas)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the meta-features the final estimator reads, in order.

        Parameters
        ----------
        input_features : None
            Unused; present for API consistency.

        Returns
        -------
        ndarray of str
            ``<scale>_<name>`` per modality (``<scale>_<name>_<class>`` with more than two
            classes), ``has_<name>`` per modality, then the passthrough columns.
        """
        check_is_fitted(self)
        names = []
        for name in self.modality_names_:
            if len(self.classes_) == 2:
                names.append(f"{self.scale}_{name}")
            else:
                names.extend(f"{self.scale}_{name}_{label}" for label in self.classes_)
        if self.add_presence:
            names.extend(f"has_{name}" for name in self.modality_names_)
        if self.passthrough is not None:
            passthrough = [self.passthrough] if np.isscalar(self.passthrough) else self.passthrough
            if hasattr(self, "feature_names_in_"):
                indices = _get_column_indices(
                    pd.DataFrame(columns=self.feature_names_in_), passthrough
                )
                names.extend(str(self.feature_names_in_[i]) for i in indices)
            else:
                names.extend(f"x{i}" for i in passthrough)
        return np.asarray(names, dtype=object)
