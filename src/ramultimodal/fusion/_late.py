"""Late fusion: one model per modality, their probabilities averaged over what each patient has."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ramultimodal.fusion._base import PROBA_CLIP, NoModalityWarning, _BaseFusion
from ramultimodal.fusion._calibration import (
    calibrated_proba,
    check_fusion_calibration,
    fusion_calibrator,
)

_METHODS = ("mean", "weighted_mean", "mean_logit")


def clipped_log_proba(proba: np.ndarray) -> np.ndarray:
    """``mean_logit``'s log-probabilities: clipped at `PROBA_CLIP`, an absent modality's
    (NaN) as log 1 = 0, which its zero weight then leaves out."""
    return np.log(np.clip(np.nan_to_num(proba, nan=1.0), PROBA_CLIP, 1.0))


class LateFusionClassifier(_BaseFusion):
    """Average the class probabilities of one classifier per modality.

    Each modality's classifier is trained on the patients that have that modality. At
    prediction, a patient's probability is the weighted mean of the probabilities of the
    modalities that patient has: the weights are renormalised over the modalities present,
    so a patient without a radiograph is scored by the other modalities alone, never by a
    made-up image.

    Parameters
    ----------
    modalities : list of (str, estimator or "drop", columns) tuples
        One classifier per modality and the columns of X it reads, in any form that
        ``ColumnTransformer`` accepts (a column name gives the classifier a 1-D Series, a
        list gives a DataFrame, or a callable such as ``make_column_selector``). Each
        classifier needs ``predict_proba``. A modality is absent for a patient when all its
        columns are missing (NaN, None, ``""`` or an empty list).
    method : {"mean", "weighted_mean", "mean_logit"}, default="mean"
        ``"mean"`` averages probabilities with equal weights. ``"weighted_mean"`` averages
        them with ``weights`` (``"auto"`` when ``weights`` is None). ``"mean_logit"``
        averages on the log-odds scale (for more than two classes: a softmax of the mean
        log-probabilities), so one confident modality counts for more than on the
        probability scale; it uses ``weights`` when given, else equal weights.
    weights : None, "auto", dict or list of float, default=None
        Weight of each modality: a list in the order of the non-dropped modalities, or a
        dict by name. ``"auto"`` sets them from each modality's out-of-fold AUROC, as its
        skill above chance: ``max(AUROC - 0.5, 0)`` (equal weights if all are 0).
    cv : int, cross-validation splitter or "prefit", default=5
        Splits for the out-of-fold AUROC of ``weights="auto"`` (unused otherwise). An int
        gives ``StratifiedKFold``, or ``StratifiedGroupKFold`` when ``groups`` is passed to
        ``fit``, both shuffled with ``random_state``. ``"prefit"`` uses the given, already
        trained classifiers as they are.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling of the splits.
    calibration : {None, "sigmoid", "isotonic"}, default=None
        Recalibrate the fused probability (binary only): a calibrator
        (`ramultimodal.fusion._calibration`) is fitted on the fused out-of-fold
        probabilities of the ``cv`` splits (grouped by patient with ``groups``), so it
        learns from patients the base models did not see. With ``cv="prefit"`` it is fitted
        on the given models' predictions for X, which must then be patients they did not
        see. None leaves the probabilities as they are.
    cross_fit : list of str or None, default=None
        Modalities whose final model is the bag of their fold models
        (`~ramultimodal.fusion._fold_bag.FoldBagClassifier`: the mean of the ``cv`` fold
        models' probabilities) instead of one more fit on all their patients. Only where
        the fusion fits out of fold (``weights="auto"``, or ``calibration``): each such
        modality is then fit ``cv`` times instead of ``cv + 1``; with given weights and no
        calibration a modality is fit once, on all its patients, either way. Name the
        expensive modality (``["image"]``: the CNN); a cheap one gains little and its
        single refit sees all patients.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted classifier of each non-dropped modality (a `FoldBagClassifier` for a
        modality in ``cross_fit``).
    named_estimators_ : Bunch
        The same, by modality name.
    modality_names_ : list of str
        Names of the non-dropped modalities, in order.
    weights_ : ndarray of shape (n_modalities,)
        Weights of the modalities, summing to 1.
    oof_auroc_ : ndarray of shape (n_modalities,)
        Out-of-fold AUROC of each modality on the patients that have it (``weights="auto"``
        only; NaN where those patients are of one class, which then counts as no skill).
    fused_oof_auroc_ : float
        AUROC of the fused out-of-fold probabilities (``weights="auto"`` only). A
        `FusionWarning` says so when a modality alone beats it by more than 0.05.
    degenerate_modalities_ : list of str
        Modalities whose out-of-fold probabilities say nothing (constant within every
        fold, or an undefined AUROC), each with a `FusionWarning` (``weights="auto"`` only).
    inner_fold_params_ : dict of str to dict
        By modality, the leaf sizes its inner-fold refits used because the folds were too
        small for the given ones to split (``weights="auto"`` with a cv only; usually empty).
        The final models keep the given parameters (but those of a ``cross_fit``
        modality are its fold models).
    class_prior_ : ndarray of shape (n_classes,)
        Class frequencies in the training labels: the probability given to a patient whose
        modalities all have weight 0. A patient with no modality at all gets NaN.
    calibrator_ : dict or None
        The fitted calibrator, as plain data: ``{"method": "sigmoid", "slope": a,
        "intercept": b}`` (``p = expit(a * logit(fused) + b)``) or ``{"method":
        "isotonic", "x": [...], "y": [...]}``; None without ``calibration``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of columns of X seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of X seen in ``fit``, when X had string column names.

    See Also
    --------
    StackingFusionClassifier : learn how to combine the modalities with a meta-model.
    EarlyFusionClassifier : one model on the concatenated modality features.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ramultimodal.fusion import LateFusionClassifier
    >>> X = pd.DataFrame({"crp": [1.0, 2.0, 30.0, 40.0, 3.0, 35.0],
    ...                   "erosions": [0.0, 1.0, 9.0, 8.0, np.nan, np.nan]})
    >>> y = np.array([0, 0, 1, 1, 0, 1])
    >>> ehr, image = LogisticRegression(C=0.01), LogisticRegression(C=0.01)
    >>> model = LateFusionClassifier(
    ...     [("ehr", ehr, ["crp"]), ("image", image, ["erosions"])],
    ...     method="weighted_mean", weights={"ehr": 3, "image": 1},
    ... ).fit(X, y)

    Patient 0 has both modalities: 0.75 * 0.11 + 0.25 * 0.42 = 0.19. Patient 4 has no
    radiograph, so the EHR model speaks alone:

    >>> model.predict_modalities(X).round(2).iloc[[0, 4]]
       proba  proba_ehr  proba_image  has_ehr  has_image  weight_ehr  weight_image
    0   0.19       0.11         0.42     True       True        0.75          0.25
    4   0.14       0.14          NaN     True      False        1.00          0.00
    """

    def __init__(
        self,
        modalities: list[tuple[str, Any, Any]],
        *,
        method: str = "mean",
        weights: Any = None,
        cv: Any = 5,
        random_state: Any = None,
        calibration: str | None = None,
        cross_fit: list[str] | None = None,
    ) -> None:
        self.modalities = modalities
        self.method = method
        self.weights = weights
        self.cv = cv
        self.random_state = random_state
        self.calibration = calibration
        self.cross_fit = cross_fit

    def fit(self, X: Any, y: Any, groups: Any = None) -> LateFusionClassifier:
        """Fit each modality's classifier on the patients that have the modality.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            One row per patient.
        y : array-like of shape (n_patients,)
            Class labels.
        groups : array-like of shape (n_patients,), default=None
            Patient of each row, so that the out-of-fold splits of ``weights="auto"`` keep a
            patient's rows together (and those of ``calibration``).

        Returns
        -------
        self : LateFusionClassifier
            The fitted estimator.
        """
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got {self.method!r}.")
        if self.method == "mean" and self.weights is not None:
            raise ValueError(
                "method='mean' averages with equal weights; to pass weights use "
                "method='weighted_mean' (or 'mean_logit')."
            )
        X, y = self._fit_start(X, y)
        calibration = check_fusion_calibration(self)
        self.class_prior_ = np.mean(y[:, None] == self.classes_[None, :], axis=0)
        weights = self.weights
        if self.method == "weighted_mean" and weights is None:
            weights = "auto"
        probas = None
        if isinstance(weights, str) and weights == "auto":
            if self.cv == "prefit":
                self.estimators_ = self._prefit_estimators()
                probas = self._predict_base_probas(X)
                self._diagnose(y, probas, None, {})
            else:
                probas, self.estimators_ = self._out_of_fold_proba(X, y, groups)
            # An AUROC that cannot be told (one class among the modality's patients): no skill.
            skill = np.maximum(np.nan_to_num(self.oof_auroc_, nan=0.5) - 0.5, 0.0)
            raw = skill if skill.sum() > 0 else np.ones_like(skill)
        else:
            raw = self._given_weights(weights)
            if self.cv == "prefit":
                self.estimators_ = self._prefit_estimators()
            elif calibration is not None:  # the calibrator learns from out-of-fold fusions
                probas, self.estimators_ = self._out_of_fold_proba(X, y, groups)
            else:
                self.estimators_ = []
                for name, estimator, columns in self._used_modalities():
                    data, present = self._modality_data(X, columns)
                    self.estimators_.append(
                        self._fit_base(
                            name, estimator, data, y, np.flatnonzero(present), "in the data"
                        )
                    )
        self.weights_ = raw / raw.sum()
        out_of_fold = probas is not None
        if calibration is not None and probas is None:  # prefit, with weights given
            probas = self._predict_base_probas(X)
        if probas is not None:
            with warnings.catch_warnings():
                # A patient without any modality is no news here: predict_proba tells.
                warnings.simplefilter("ignore", NoModalityWarning)
                fused = self._fuse(probas)[0]
                if out_of_fold:
                    self._check_fused(y, fused, probas)
        self.calibrator_ = fusion_calibrator(self, lambda: fused, y)
        return self

    def _given_weights(self, weights: Any) -> np.ndarray:
        names = self.modality_names_
        if weights is None:
            return np.ones(len(names))
        if isinstance(weights, dict):
            unknown = set(weights) - set(names)
            if unknown:
                raise ValueError(
                    f"weights name modalities that are not used: {sorted(unknown)}; "
                    f"the modalities are {names}."
                )
            raw = np.array([float(weights.get(name, 0.0)) for name in names])
        elif isinstance(weights, str):
            raise ValueError(f"weights must be None, 'auto', a dict or a list; got {weights!r}.")
        else:
            raw = np.asarray(weights, dtype=float).ravel()
            if raw.size != len(names):
                raise ValueError(
                    f"weights has {raw.size} values for {len(names)} modalities ({names})."
                )
        if not np.all(np.isfinite(raw)) or np.any(raw < 0) or raw.sum() <= 0:
            raise ValueError(f"weights must be finite, non-negative and not all 0; got {raw}.")
        return raw

    def _fuse(self, probas: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Fused probabilities and each row's effective (renormalised) weights."""
        stacked = np.stack(probas)  # (modality, patient, class)
        present = self._answered(probas).T
        raw = self.weights_[:, None] * present
        total = raw.sum(axis=0)
        effective = np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)
        if self.method == "mean_logit":
            scores = np.einsum("mp,mpc->pc", effective, clipped_log_proba(stacked))
            scores -= scores.max(axis=1, keepdims=True)
            fused = np.exp(scores)
            fused /= fused.sum(axis=1, keepdims=True)
        else:
            fused = np.einsum("mp,mpc->pc", effective, np.nan_to_num(stacked, nan=0.0))
        fused[total == 0] = self.class_prior_
        return self._without_modality(fused, present.T), effective.T

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class: the modalities' probabilities, weighted over those present.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            The patients, with the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_patients, n_classes)
            Class probabilities (recalibrated with ``calibration``); NaN for a patient with
            no modality, ``class_prior_`` for one whose modalities all have weight 0.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return calibrated_proba(self, self._fuse(self._predict_base_probas(X))[0])

    def predict_modalities(self, X: Any) -> pd.DataFrame:
        """Explain each prediction: the fused probability and what each modality said.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            The patients, with the columns seen in ``fit``.

        Returns
        -------
        DataFrame indexed like X
            ``proba`` (the fused probability of ``classes_[1]``, as ``predict_proba``), then
            for each modality ``proba_<name>`` (NaN when absent), ``has_<name>``, and
            ``weight_<name>``, the share that modality had in this patient's ``proba``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        probas = self._predict_base_probas(X)
        fused, effective = self._fuse(probas)
        fused = calibrated_proba(self, fused)
        frame = self._explanation_frame(X, fused, self._answered(probas), probas)
        for index, name in enumerate(self.modality_names_):
            frame[f"weight_{name}"] = effective[:, index]
        return frame
