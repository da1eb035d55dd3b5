"""Early fusion: the modalities' features, side by side, into one estimator (as HAIM does)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from ramultimodal.fusion._base import _BaseFusion, log_odds
from ramultimodal.fusion._calibration import (
    calibrated_proba,
    check_fusion_calibration,
    fusion_calibrator,
)
from ramultimodal.fusion._stacking import with_imputer


def default_estimator(random_state: Any = None) -> Any:
    """LightGBM with small trees: it routes NaN natively, as HAIM's gradient boosting does.

    One thread: on cohorts of hundreds to thousands of patients, OpenMP threads fighting
    for a busy CPU cost more than they give (scikit-learn's HistGradientBoostingClassifier,
    which has no thread setting, took 270 s with its default threads against 21 s with one,
    on 600 patients x 520 features on a shared 2-core machine).
    """
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        n_jobs=1,
        random_state=random_state,
        verbose=-1,
    )


class EarlyFusionClassifier(_BaseFusion):
    """Concatenate per-modality features and fit one classifier on them.

    Every modality's estimator is used as a *transformer*: an image model gives its
    embeddings through ``transform``, ``"passthrough"`` hands tabular columns over as they
    are, and any scikit-learn transformer works too. The role comes from the fusion class,
    not from the modality: ``EarlyFusionClassifier`` calls ``transform``, the late and stacking
    classifiers call ``predict_proba``. Each transformer is fit on the patients that have its
    modality (with ``y``, so a CNN trains its head); a patient without the modality gets NaN
    features.

    A model that sees NaN in place of a whole modality for a quarter of its patients spends
    its splits on the patients who have it, and scores the others worse than a model of
    their modalities alone would. So, by default, each pattern of absent modalities seen in
    ``fit`` (say, no radiograph) gets its own *pattern submodel*: a clone of `estimator`
    fit on the features of the modalities present, using every patient who has them
    (Mercaldo & Blume 2020, "Missing data and prediction: the pattern submodel",
    Biostatistics 21(2)). A patient without a radiograph is then scored by an EHR model
    trained on all patients, as an EHR-only model would score them.

    Parameters
    ----------
    modalities : list of (str, transformer, "passthrough" or "drop", columns) tuples
        One transformer per modality and the columns of X it reads, in any form that
        ``ColumnTransformer`` accepts. Passthrough columns must be numeric.
    estimator : estimator, default=None
        The classifier on the concatenated features; None gives a one-thread LightGBM with
        small trees (``n_estimators=300, learning_rate=0.03, num_leaves=15``, row and column
        subsampling). An estimator whose tags say it rejects NaN is put behind a mean
        ``SimpleImputer``.
    pattern_submodels : bool, default=True
        Fit a submodel for each pattern of absent modalities seen in ``fit`` (see above).
        False scores every patient with the one model, NaN standing for what is absent.
        A pattern not seen in ``fit``, or whose patients (all who have its modalities) lack
        a class, is scored by the full model. Submodels do not learn from *whether* a
        modality is missing; where that carries information (radiographs ordered only for
        the suspected), False lets the one model use it.
    n_jobs : int, default=None
        Threads that fit the classifier and the pattern submodels side by side (LightGBM
        and XGBoost release the GIL while they train). None means 1, -1 all processors.
        The modalities' transformers are fit one after another either way.
    random_state : int, RandomState or None, default=None
        Seeds the default estimator (and the shuffling of the ``cv`` splits).
    calibration : {None, "sigmoid", "isotonic"}, default=None
        Recalibrate the fused probability (binary only): the whole early fusion (its
        transformers included) is cross-fitted on the ``cv`` splits, grouped by patient with
        ``groups``, and a calibrator (`ramultimodal.fusion._calibration`) is fitted on those
        out-of-fold probabilities. It costs ``cv`` more fits of everything, the CNN
        included. None leaves the probabilities as they are.
    cv : int or cross-validation splitter, default=5
        Splits for ``cross_fit`` and ``calibration`` (unused without them). An int gives
        ``StratifiedKFold``, or ``StratifiedGroupKFold`` when ``groups`` is passed to
        ``fit``, both shuffled with ``random_state``.
    cross_fit : list of str or None, default=None
        Modalities whose block is *cross-fitted*: their estimator (a classifier: it needs
        ``predict_proba``) is fit once per ``cv`` fold, the classifier learns from each
        training patient's log-odds from the fold model that did not see that patient, and
        a new patient gets the log-odds of the mean of the fold models' probabilities (a
        `~ramultimodal.fusion._fold_bag.FoldBagClassifier`, kept in ``transformers_``). The
        block is one column (the log-odds; one per class beyond two), not embeddings: the
        k-th unit of one fold's network means something else in another's, so fold
        embeddings can be neither averaged nor stacked, while the log-odds is the same
        quantity in every fold. It removes the optimism of a supervised transformer (see
        Notes) at ``cv`` fits of it instead of one. With ``calibration``, only the
        classifier stage is then cross-fitted for the calibrator (the cross-fitted blocks
        are out of fold already): ``cv`` fits of the trees, not of the CNN.

    Attributes
    ----------
    transformers_ : list of transformers or "passthrough"
        The fitted transformer of each non-dropped modality (a `FoldBagClassifier` of fold
        models for a modality in ``cross_fit``).
    estimator_ : estimator
        The fitted classifier on every modality (behind its imputer when it rejects NaN).
    submodels_ : list of estimators
        The fitted pattern submodels (empty with ``pattern_submodels=False``).
    submodel_patterns_ : list of tuple of str
        For each submodel, the modalities it reads: the ones present in its pattern.
    calibrator_ : dict or None
        The fitted calibrator, as plain data: ``{"method": "sigmoid", "slope": a,
        "intercept": b}`` (``p = expit(a * logit(fused) + b)``) or ``{"method":
        "isotonic", "x": [...], "y": [...]}``; None without ``calibration``.
    modality_names_ : list of str
        Names of the non-dropped modalities, in order.
    n_modality_features_ : list of int
        How many features each modality gives.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of columns of X seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of X seen in ``fit``, when X had string column names.

    Notes
    -----
    A supervised transformer (a CNN trained on ``y``) fit on the same patients as the final
    estimator gives embeddings that look better on those patients than on new ones; a
    transformer pretrained on other patients avoids that optimism, and so does ``cross_fit``,
    which gives the classifier out-of-fold outputs of the transformer.

    See Also
    --------
    StackingFusionClassifier : combine per-modality classifiers with a meta-model.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.decomposition import PCA
    >>> from ramultimodal.fusion import EarlyFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 30)
    >>> X = pd.DataFrame({"crp": rng.normal(5 + 10 * y, 5), "jsn": rng.normal(y, 1),
    ...                   "erosions": rng.normal(y, 1)})
    >>> X.loc[::4, ["jsn", "erosions"]] = np.nan  # no radiograph
    >>> model = EarlyFusionClassifier(
    ...     [("ehr", "passthrough", ["crp"]), ("image", PCA(1), ["jsn", "erosions"])],
    ...     random_state=0,
    ... ).fit(X, y)
    >>> model.get_feature_names_out().tolist()
    ['ehr__crp', 'image__pca0']
    >>> model.predict_modalities(X).columns.tolist()
    ['proba', 'has_ehr', 'has_image']
    >>> model.submodel_patterns_  # who has no radiograph is scored on the EHR alone
    [('ehr',)]
    """

    _modality_method = "transform"
    _fitted_estimator_attrs = ("transformers_", "estimator_", "submodels_")

    def __init__(
        self,
        modalities: list[tuple[str, Any, Any]],
        *,
        estimator: Any = None,
        pattern_submodels: bool = True,
        n_jobs: int | None = None,
        random_state: Any = None,
        calibration: str | None = None,
        cv: Any = 5,
        cross_fit: list[str] | None = None,
    ) -> None:
        self.modalities = modalities
        self.estimator = estimator
        self.pattern_submodels = pattern_submodels
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.calibration = calibration
        self.cv = cv
        self.cross_fit = cross_fit

    def _check_modality_estimator(self, name: str, estimator: Any) -> None:
        if isinstance(estimator, str) and estimator in ("drop", "passthrough"):
            return
        cross_fit = self.cross_fit if isinstance(self.cross_fit, list | tuple) else ()
        if name in cross_fit:
            if not (hasattr(estimator, "fit") and hasattr(estimator, "predict_proba")):
                raise TypeError(
                    f"EarlyFusionClassifier: modality {name!r} is in cross_fit, whose block is "
                    f"its fold models' log-odds; {type(estimator).__name__} lacks fit or "
                    "predict_proba. Give a classifier, or leave the modality out of cross_fit."
                )
            return
        if not (hasattr(estimator, "fit") and hasattr(estimator, "transform")):
            raise TypeError(
                f"EarlyFusionClassifier uses each modality through transform; modality "
                f"{name!r} has {type(estimator).__name__}, which lacks fit or transform. Give "
                "a transformer, 'passthrough' or 'drop'. To fuse classifiers' probabilities, "
                "use StackingFusionClassifier or LateFusionClassifier."
            )

    def fit(self, X: Any, y: Any, groups: Any = None) -> EarlyFusionClassifier:
        """Fit each modality's transformer on its patients, then the classifier on all,
        then a submodel per pattern of absent modalities (with ``pattern_submodels``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            One row per patient.
        y : array-like of shape (n_patients,)
            Class labels.
        groups : array-like of shape (n_patients,), default=None
            Patient of each row, so that the splits of ``calibration`` keep a patient's rows
            together (unused without it).

        Returns
        -------
        self : EarlyFusionClassifier
            The fitted estimator.
        """
        X, y = self._fit_start(X, y)
        check_fusion_calibration(self)
        cross_fit = self._cross_fitted()
        splits = self._splits(X, y, groups) if cross_fit else None
        self.transformers_, out_of_fold = [], {}
        for index, (name, transformer, columns) in enumerate(self._used_modalities()):
            if isinstance(transformer, str):  # passthrough
                if name in cross_fit:
                    raise ValueError(
                        f"EarlyFusionClassifier: modality {name!r} is 'passthrough' and in "
                        "cross_fit; only a modality with a fitted model can be cross-fitted."
                    )
                self.transformers_.append(transformer)
                continue
            data, present = self._modality_data(X, columns)
            if name in cross_fit:
                proba, bag = self._fold_models(name, transformer, data, y, present, splits)
                out_of_fold[index] = log_odds(proba)
                self.transformers_.append(bag)
                continue
            self.transformers_.append(
                self._fit_base(name, transformer, data, y, np.flatnonzero(present), "in the data")
            )
        blocks, presence = self._features(X, given=out_of_fold)
        self.n_modality_features_ = [block.shape[1] for block in blocks]
        features = np.hstack(blocks)
        self._fit_classifiers(features, presence, y)

        def fused() -> np.ndarray:  # called only with calibration
            if cross_fit:
                return self._out_of_fold_classifiers(features, presence, y, splits)
            return self._out_of_fold_fused(X, y, groups)

        self.calibrator_ = fusion_calibrator(self, fused, y)
        return self

    def _fit_classifiers(self, features: np.ndarray, presence: np.ndarray, y: np.ndarray) -> None:
        """Fit the classifier on all `features` and the pattern submodels on theirs."""
        estimator = self.estimator
        if estimator is None:
            estimator = default_estimator(self.random_state)
        training_sets = [(features, y)]  # the full model's, then each submodel's
        self.submodel_patterns_ = []
        patterns = np.unique(presence, axis=0) if self.pattern_submodels else []
        for pattern in patterns:
            if pattern.all() or not pattern.any():
                continue  # the full model's own patients; or nothing to score them on
            # Everyone who has these modalities, whatever else they have or lack.
            rows = np.flatnonzero(presence[:, pattern].all(axis=1))
            if len(np.unique(y[rows])) < len(self.classes_):
                continue  # its probabilities would lack a class: the full model answers
            training_sets.append((features[np.ix_(rows, self._feature_mask(pattern))], y[rows]))
            self.submodel_patterns_.append(
                tuple(name for name, has in zip(self.modality_names_, pattern, strict=True) if has)
            )
        fits = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(with_imputer(clone(estimator)).fit)(data, target)
            for data, target in training_sets
        )
        self.estimator_, *self.submodels_ = fits

    def _out_of_fold_classifiers(
        self, features: np.ndarray, presence: np.ndarray, y: np.ndarray, splits: list
    ) -> np.ndarray:
        """Each patient's probabilities from the classifier stage fitted on the other folds'
        features (the cross-fitted blocks being out of fold already): the calibrator's."""
        fused = np.full((len(y), len(self.classes_)), np.nan)
        for train, test in splits:
            fold = copy.copy(self)  # the fitted transformers shared; the classifiers its own
            fold._fit_classifiers(features[train], presence[train], y[train])
            blocks = np.split(features[test], np.cumsum(self.n_modality_features_)[:-1], axis=1)
            fused[test] = fold._fused_proba(blocks, presence[test])
        return fused

    def _out_of_fold_fused(self, X: Any, y: np.ndarray, groups: Any) -> np.ndarray:
        """Each patient's probabilities from an uncalibrated clone fitted on the other folds."""
        fused = np.full((len(y), len(self.classes_)), np.nan)
        template = clone(self).set_params(calibration=None)
        for train, test in self._splits(X, y, groups):
            model = clone(template).fit(_safe_indexing(X, train), y[train])
            columns = np.searchsorted(self.classes_, model.classes_)
            fused[np.ix_(test, columns)] = model.predict_proba(_safe_indexing(X, test))
        return fused

    @property
    def estimators_(self) -> list[Any]:
        """The fitted transformers (``transformers_``), under the name the base class uses."""
        return self.transformers_

    def _features(
        self, X: Any, given: dict[int, np.ndarray] | None = None
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Each modality's feature block (NaN rows for patients who lack it), and presence.

        The presence is ``(n_patients, n_modalities)``: which patient has which modality.
        `given` holds blocks already computed, by modality index (``fit``'s out-of-fold
        blocks of the cross-fitted modalities).
        """
        blocks, presence = [], []
        for index, (name, columns, transformer) in enumerate(
            zip(self.modality_names_, self._columns_, self.transformers_, strict=True)
        ):
            data, present = self._modality_data(X, columns)
            presence.append(present)
            if given and index in given:
                block = given[index]
            elif isinstance(transformer, str):  # passthrough
                try:
                    block = np.asarray(data, dtype=float).reshape(len(present), -1)
                except (TypeError, ValueError) as error:
                    # Same exception type as numpy's, so callers can catch what they expect.
                    raise type(error)(
                        f"modality {name!r} is 'passthrough' but its columns are not numeric: "
                        f"{error}. Give it a transformer that encodes them."
                    ) from error
            else:
                rows = np.flatnonzero(present)
                width = getattr(self, "n_modality_features_", None)
                if rows.size:
                    out = transformer.transform(_safe_indexing(data, rows))
                    out = np.asarray(out.toarray() if hasattr(out, "toarray") else out, float)
                    out = out.reshape(rows.size, -1)
                    block = np.full((len(present), out.shape[1]), np.nan)
                    block[rows] = out
                else:  # nobody here has the modality: the width learned in fit, all NaN
                    block = np.full((len(present), width[len(blocks)]), np.nan)
            blocks.append(block)
        return blocks, np.column_stack(presence)

    def _feature_mask(self, pattern: np.ndarray) -> np.ndarray:
        """Which concatenated features belong to the modalities present in ``pattern``."""
        return np.repeat(np.asarray(pattern, dtype=bool), self.n_modality_features_)

    def _fused_proba(self, blocks: list[np.ndarray], presence: np.ndarray) -> np.ndarray:
        """Each patient's probabilities from the submodel of their pattern, where there is
        one, else from the full model."""
        features = np.hstack(blocks)
        proba = np.empty((len(features), len(self.classes_)))
        by_full_model = np.ones(len(features), dtype=bool)
        for modalities, submodel in zip(self.submodel_patterns_, self.submodels_, strict=True):
            pattern = np.isin(self.modality_names_, modalities)
            rows = np.flatnonzero((presence == pattern).all(axis=1))
            if rows.size:
                columns = self._feature_mask(pattern)
                proba[rows] = submodel.predict_proba(features[np.ix_(rows, columns)])
                by_full_model[rows] = False
        if by_full_model.any():
            proba[by_full_model] = self.estimator_.predict_proba(features[by_full_model])
        return self._without_modality(proba, presence)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class: from the classifier on the concatenated features, or
        from the pattern submodel of a patient's absent modalities where there is one.

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
        return calibrated_proba(self, self._fused_proba(*self._features(X)))

    def predict_modalities(self, X: Any) -> pd.DataFrame:
        """The fused probability and which modalities each patient had.

        Early fusion has no per-modality probability: the modalities meet before the model.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            The patients, with the columns seen in ``fit``.

        Returns
        -------
        DataFrame indexed like X
            ``proba`` (the probability of ``classes_[1]``, as ``predict_proba``) and
            ``has_<name>`` per modality.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        blocks, presence = self._features(X)
        fused = calibrated_proba(self, self._fused_proba(blocks, presence))
        return self._explanation_frame(X, fused, presence)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the concatenated features the classifier reads, ``<modality>__<feature>``.

        Parameters
        ----------
        input_features : None
            Unused; present for API consistency.

        Returns
        -------
        ndarray of str
            Feature names, from each transformer's ``get_feature_names_out`` where it has one
            (the passthrough column names, or ``<modality>__<i>`` otherwise).
        """
        check_is_fitted(self)
        names = []
        for name, columns, transformer, width in zip(
            self.modality_names_,
            self._columns_,
            self.transformers_,
            self.n_modality_features_,
            strict=True,
        ):
            inner = None
            if isinstance(transformer, str):
                if hasattr(self, "feature_names_in_"):
                    frame = pd.DataFrame(columns=self.feature_names_in_)
                    selected = _safe_indexing(frame, columns, axis=1)
                    inner = [selected.name] if isinstance(selected, pd.Series) else selected.columns
            elif hasattr(transformer, "get_feature_names_out"):
                try:
                    inner = transformer.get_feature_names_out()
                except (AttributeError, ValueError, TypeError):
                    inner = None
            if inner is None or len(inner) != width:
                inner = [str(i) for i in range(width)]
            names.extend(f"{name}__{feature}" for feature in inner)
        return np.asarray(names, dtype=object)
