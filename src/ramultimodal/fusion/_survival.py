"""`LateFusionSurvival`: time to RA from each modality, fused as risk scores.

Each modality has its own model of time to RA, fitted on the patients who have that
modality: a survival estimator (scikit-survival's conventions: ``fit(X, y)`` with the
structured ``Surv`` target, ``predict(X)`` a risk score, higher meaning RA sooner), such as
a penalised Cox model (`CoxnetSurvivalAnalysis`, Simon et al., J Stat Softw 2011;39:1), or
a classifier of "RA by the horizon" (the radiograph CNN), whose log-odds are then its risk
score; only the patients whose status at the horizon is known train a classifier. The
modalities' out-of-fold risk scores, standardised, are the covariates of a Cox model (the
late-fusion weights), and a Breslow estimate of the baseline survival on the fused score
turns it into survival curves (Breslow, J R Stat Soc C 1974;23:216) and into the
probability of RA by the horizon, ``predict_proba``, which makes the model comparable with
every classifier of this library on the binary label at that horizon.

A modality missing for a patient adds 0 (the cohort's average) to the fused score; a
patient with no modality gets NaN. Everything fitted is arrays and the base models' own
plain state, so `ramultimodal.fusion.save_model` keeps it as JSON (no pickle).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ramultimodal.fusion import _diagnosis
from ramultimodal.fusion._base import (
    _NamedModalities,
    logit,
    modality_data,
    out_of_fold_splits,
    resolve_columns,
)

__all__ = ["LateFusionSurvival", "survival_y"]

logger = logging.getLogger(__name__)


def survival_target(time: Any, event: Any) -> np.ndarray:
    """Checked times and events as scikit-survival's structured array."""
    time = np.asarray(time, dtype=np.float64).ravel()
    event = np.asarray(event).ravel()
    if time.shape != event.shape:
        raise ValueError(f"time has {time.size} patients but event has {event.size}.")
    if not np.all(np.isfinite(time)) or np.any(time <= 0):
        raise ValueError("Follow-up times must be finite and positive (days to RA or censoring).")
    if not np.all(np.isin(event, (0, 1, True, False))):
        raise ValueError("event must be 1 (RA at that time) or 0 (censored) for every patient.")
    target = np.empty(time.size, dtype=[("event", bool), ("time", np.float64)])
    target["event"], target["time"] = event.astype(bool), time
    return target


def survival_y(follow_up: Any, event: Any = None) -> np.ndarray:
    """The structured target of scikit-survival (fields ``event``, ``time``).

    Parameters
    ----------
    follow_up : DataFrame or array-like
        A table with ``time_to_ra_days`` and ``event`` (labels.csv's columns,
        `CohortRecords.follow_up`), a structured array already, or the times (then give
        `event`).
    event : array-like, optional

    Examples
    --------
    >>> y = survival_y(pd.DataFrame({"time_to_ra_days": [30, 400], "event": [1, 0]}))
    >>> y["event"].tolist(), y["time"].tolist()
    ([True, False], [30.0, 400.0])
    """
    if isinstance(follow_up, np.ndarray) and follow_up.dtype.names:
        return survival_target(follow_up["time"], follow_up["event"])
    if isinstance(follow_up, pd.DataFrame):
        return survival_target(follow_up["time_to_ra_days"], follow_up["event"])
    if event is None:
        raise ValueError("survival_y: give the events with the times.")
    return survival_target(follow_up, event)


def _best_ranked(risks: np.ndarray, target: np.ndarray) -> int:
    """The column of out-of-fold risk scores with the highest Harrell's C (the first of
    equals); 0 when there is one column."""
    if risks.shape[1] == 1:
        return 0
    scores = []
    for column in risks.T:
        if not target["event"][~np.isnan(column)].any():
            scores.append(-np.inf)
            continue
        scores.append(_harrell_c(target, column))
    return int(np.argmax(scores))


def _harrell_c(target: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C of `risk` over the patients it scores (not NaN)."""
    from sksurv.metrics import concordance_index_censored

    scored = ~np.isnan(risk)
    return float(
        concordance_index_censored(target["event"][scored], target["time"][scored], risk[scored])[0]
    )


class LateFusionSurvival(_NamedModalities):
    """Late fusion of per-modality models of time to RA.

    Parameters
    ----------
    modalities : list of (str, estimator, columns)
        Each modality's name, model and columns of X (names, or a callable selector
        resolved on the training X). The model is a survival estimator (``predict``: a
        risk score) or a classifier (``predict_proba``), trained for RA by `horizon_days`,
        or ``"drop"`` to leave the modality out. As in the fusion classifiers, the models
        are parameters by name: ``set_params(image="drop")``, ``ehr__cox__alphas``.
    horizon_days : int, default 365
        The horizon of ``predict_proba`` and of the classifiers' labels.
    cv : int or cross-validation generator, default 3
        Folds of the out-of-fold risk scores that fit the fusion weights (stratified by
        event, grouped by patient when `fit` is given groups), drawn as the classifier
        fusions draw theirs (`ramultimodal.fusion._base.out_of_fold_splits`).
    alpha : float, default 0.01
        Ridge penalty of the Cox model of the fusion weights.
    penalties : sequence of float, optional
        Penalties to choose from for each penalised survival model (one with a parameter
        ending in ``alphas``, as a Cox net's): the modality's out-of-fold risk scores are
        computed at each, and the one of the highest Harrell's C is kept, for the fusion
        weights and the final model. None (the default): each model as given. The right
        penalty depends on the cohort: 0.1 ranks undifferentiated arthritis best and 0.2
        the early-arthritis clinic, on 300-600 synthetic patients (docs/tutorials/survival.md).
    random_state : int or None, default 0

    Attributes
    ----------
    modality_names_ : list of str
        The modalities fitted (those not ``"drop"``), in order; the attributes below
        follow it.
    estimators_ : list
        Each modality's model, refitted on all the patients who have it.
    columns_ : list
        Each modality's resolved columns.
    penalties_ : dict
        Each modality's chosen penalty (None where none was chosen).
    risk_center_, risk_scale_ : ndarray
        Mean and standard deviation of each modality's out-of-fold risk score.
    weights_ : ndarray
        The fusion weights of the standardised risk scores.
    baseline_time_, baseline_survival_ : ndarray
        The Breslow baseline survival of the fused score, a step function.
    classes_ : ndarray
        ``[0, 1]``: ``predict_proba``'s columns (free of RA / RA by the horizon).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sksurv.linear_model import CoxnetSurvivalAnalysis
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["crp", "pain"])
    >>> time = np.ceil(rng.exponential(500 * np.exp(-X["crp"]))) + 1
    >>> y = survival_y(np.minimum(time, 700), time <= 700)
    >>> cox = make_pipeline(StandardScaler(), CoxnetSurvivalAnalysis(alphas=[0.05]))
    >>> model = LateFusionSurvival([("labs", cox, ["crp"]), ("pro", cox, ["pain"])]).fit(X, y)
    >>> bool(model.weights_[0] > model.weights_[1]), round(model.score(X, y), 2) > 0.6
    (True, True)
    >>> model.predict_proba(X.head(2)).shape
    (2, 2)
    """

    def __init__(
        self,
        modalities: list[tuple[str, Any, Any]],
        *,
        horizon_days: int = 365,
        cv: int = 3,
        alpha: float = 0.01,
        penalties: Any = None,
        random_state: int | None = 0,
    ) -> None:
        self.modalities = modalities
        self.horizon_days = horizon_days
        self.cv = cv
        self.alpha = alpha
        self.penalties = penalties
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> LateFusionSurvival:
        """Fit each modality's model, the fusion weights and the baseline survival.

        Parameters
        ----------
        X : DataFrame
        y : structured array (``event``, ``time``) or DataFrame
            See `survival_y`.
        groups : array-like, optional
            Patient of each row: the out-of-fold folds keep a patient's rows together.

        Returns
        -------
        self
        """
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        target = survival_y(y)
        if len(target) != len(X):
            raise ValueError(f"X has {len(X)} patients but y has {len(target)}.")
        if not target["event"].any():
            raise ValueError("LateFusionSurvival needs at least one event (RA) in y.")
        used = self._kept_modalities()
        self.modality_names_ = [name for name, _, _ in used]
        self.columns_ = resolve_columns(type(self).__name__, X, used)
        # Each modality's columns, selected once: every fold and candidate penalty takes
        # its rows from them.
        selected = [modality_data(X, columns) for columns in self.columns_]
        data, presence = [d for d, _ in selected], [p for _, p in selected]
        # The classifier fusions' folds, stratified by event: every fold has RA.
        splits = out_of_fold_splits(
            self.cv, np.zeros(len(target)), target["event"], groups, self.random_state
        )
        self._check_outcomes(used, target, splits, presence)
        candidates = [self._candidates(estimator) for _, estimator, _ in used]
        oofs = [np.full((len(X), len(models)), np.nan) for models in candidates]
        for train, test in splits:
            for m, models in enumerate(candidates):
                for k, estimator in enumerate(models):
                    with warnings.catch_warnings():
                        if len(models) > 1:
                            # A weak candidate penalty may stop short of convergence; its
                            # ranking judges it. The chosen one's final fit still warns.
                            warnings.simplefilter("ignore", ConvergenceWarning)
                        fitted = self._fit_one(
                            estimator, data[m], target, train, m, presence[m], quiet=len(models) > 1
                        )
                    oofs[m][test, k] = self._risk(fitted, data[m], test, presence[m])
        chosen = [_best_ranked(risks, target) for risks in oofs]
        self.penalties_ = {
            name: float(self.penalties[k]) if models[0] is not estimator else None
            for (name, estimator, _), models, k in zip(used, candidates, chosen, strict=True)
        }
        oof = np.column_stack([risks[:, k] for risks, k in zip(oofs, chosen, strict=True)])
        self.estimators_ = [
            self._fit_one(models[k], data[m], target, np.arange(len(X)), m, presence[m])
            for m, (models, k) in enumerate(zip(candidates, chosen, strict=True))
        ]
        self.risk_center_ = np.nanmean(oof, axis=0)
        self.risk_scale_ = np.nanstd(oof, axis=0)
        self.risk_scale_[~(self.risk_scale_ > 0)] = 1.0
        z = np.nan_to_num((oof - self.risk_center_) / self.risk_scale_)
        scored = ~np.isnan(oof).all(axis=1)
        meta = CoxPHSurvivalAnalysis(alpha=self.alpha).fit(z[scored], target[scored])
        self.weights_ = np.asarray(meta.coef_, dtype=float)
        self._fit_baseline(self._fused(self._risks(selected)), target)
        self.classes_ = np.array([0, 1])
        if any(value is not None for value in self.penalties_.values()):
            logger.info("LateFusionSurvival: penalties chosen %s", self.penalties_)
        logger.info(
            "LateFusionSurvival: weights %s",
            ", ".join(
                f"{n} {w:.2f}" for n, w in zip(self.modality_names_, self.weights_, strict=True)
            ),
        )
        return self

    def _candidates(self, estimator: Any) -> list[Any]:
        """The modality's model at each of `penalties`, or the model alone (a classifier,
        a model without a penalty, or no `penalties`)."""
        if self.penalties is None or hasattr(estimator, "predict_proba"):
            return [estimator]
        keys = [k for k in estimator.get_params() if k.split("__")[-1] == "alphas"]
        if not keys or not len(self.penalties):
            return [estimator]
        return [
            clone(estimator).set_params(**{key: [float(penalty)] for key in keys})
            for penalty in self.penalties
        ]

    def _horizon_label(self, target: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """RA by the horizon (1 or 0) of `rows`, and whether it is known (not censored
        before the horizon): what a classifier modality learns from."""
        from ramultimodal.io._horizon import horizon_outcome

        ra, known = horizon_outcome(target["time"][rows], target["event"][rows], self.horizon_days)
        return ra.astype(int), known

    def _check_outcomes(
        self, used: list[tuple[str, Any, Any]], target: np.ndarray, splits: list, presence: list
    ) -> None:
        """Before any model is trained: each classifier modality (the radiograph CNN) has
        patients with and without RA by the horizon in every fold's training part (and so
        in all the data); else an `InputError` that says what to change."""
        ra, known = self._horizon_label(target, np.arange(len(target)))
        for m, (name, estimator, _) in enumerate(used):
            if hasattr(estimator, "predict_proba"):
                _diagnosis.check_fold_classes(
                    type(self).__name__,
                    name,
                    ra,
                    presence[m] & known,
                    splits,
                    self.cv,
                    horizon_days=self.horizon_days,
                )

    def _fit_one(
        self, estimator: Any, data: Any, target: np.ndarray, rows: np.ndarray, m: int,
        present: np.ndarray, *, quiet: bool = False,
    ) -> Any:  # fmt: skip
        """Fit modality `m`'s `estimator` on the `rows` of its columns `data` that have it."""
        rows = rows[present[rows]]
        data = _safe_indexing(data, rows)
        if hasattr(estimator, "predict_proba"):
            # A classifier of RA by the horizon: only patients whose status there is known.
            label, known = self._horizon_label(target, rows)
            return clone(estimator).fit(_safe_indexing(data, np.flatnonzero(known)), label[known])
        return self._fit_penalised(
            estimator, data, target[rows], self.modality_names_[m], quiet=quiet
        )

    @staticmethod
    def _fit_penalised(
        estimator: Any, data: Any, target: np.ndarray, name: str, *, quiet: bool = False
    ) -> Any:
        """Fit; a Cox net that diverges (a feature that separates the events perfectly on a
        small fold) is refitted with its penalty doubled, up to three times, and said so
        (a warning; `quiet`, for a candidate penalty its ranking judges: logged)."""
        for _ in range(3):
            try:
                return clone(estimator).fit(data, target)
            except ArithmeticError:
                params = estimator.get_params()
                alphas = {
                    k: [2 * a for a in v]
                    for k, v in params.items()
                    if k.split("__")[-1] == "alphas" and isinstance(v, list | tuple)
                }
                if not alphas:
                    raise
                logger.log(
                    logging.INFO if quiet else logging.WARNING,
                    "LateFusionSurvival: the Cox model of modality %r diverged on %d patients; "
                    "refitted with a penalty of %s.", name, len(target), next(iter(alphas.values()))
                )  # fmt: skip
                estimator = clone(estimator).set_params(**alphas)
        return clone(estimator).fit(data, target)

    @staticmethod
    def _risk(estimator: Any, data: Any, rows: np.ndarray, present: np.ndarray) -> np.ndarray:
        """The risk score of the `rows` of a modality's columns `data` (NaN where absent)."""
        risk = np.full(len(rows), np.nan)
        kept = present[rows]
        if kept.any():
            data = _safe_indexing(data, rows[kept])
            if hasattr(estimator, "predict_proba"):  # its log-odds, clipped as the fusions clip
                risk[kept] = logit(estimator.predict_proba(data)[:, 1])
            else:
                risk[kept] = estimator.predict(data)
        return risk

    def _modality_risks(self, X: Any) -> np.ndarray:
        return self._risks([modality_data(X, columns) for columns in self.columns_])

    def _risks(self, selected: list[tuple[Any, np.ndarray]]) -> np.ndarray:
        """Each fitted modality's risk scores (a column each) from its ``(columns of X,
        rows that have them)`` in `selected`."""
        return np.column_stack(
            [
                self._risk(estimator, data, np.arange(len(present)), present)
                for estimator, (data, present) in zip(self.estimators_, selected, strict=True)
            ]
        )

    def _fused(self, risks: np.ndarray) -> np.ndarray:
        z = (risks - self.risk_center_) / self.risk_scale_
        fused = np.nan_to_num(z) @ self.weights_
        fused[np.isnan(risks).all(axis=1)] = np.nan
        return fused

    def _fit_baseline(self, fused: np.ndarray, target: np.ndarray) -> None:
        from sksurv.linear_model.coxph import BreslowEstimator

        scored = ~np.isnan(fused)
        breslow = BreslowEstimator().fit(
            fused[scored], target["event"][scored], target["time"][scored]
        )
        self.baseline_time_ = np.asarray(breslow.baseline_survival_.x, dtype=float)
        self.baseline_survival_ = np.asarray(breslow.baseline_survival_.y, dtype=float)

    def _used_modalities(self) -> list[tuple[str, Any, Any]]:
        """``(name, fitted model, resolved columns)`` per modality, as the fusions give."""
        check_is_fitted(self)
        return list(zip(self.modality_names_, self.estimators_, self.columns_, strict=True))

    # -- predicting -------------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """The fused risk score (higher: RA sooner); NaN for a patient with no modality."""
        check_is_fitted(self)
        return self._fused(self._modality_risks(X))

    def predict_survival(self, X: Any, times: Any) -> np.ndarray:
        """Probability of being free of RA at each of `times` (days), per patient.

        Returns
        -------
        ndarray of shape (n_patients, len(times))
        """
        check_is_fitted(self)
        return self._survival_at(self.predict(X), times)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``[free of RA, RA]`` by `horizon_days`, from the survival curves."""
        check_is_fitted(self)
        return self.proba_of_risk(self.predict(X))

    def proba_of_risk(self, risk: np.ndarray) -> np.ndarray:
        """`predict_proba` from fused risk scores already computed (`predict`)."""
        free = self._survival_at(risk, [self.horizon_days])[:, 0]
        return np.column_stack([free, 1.0 - free])

    def _survival_at(self, risk: np.ndarray, times: Any) -> np.ndarray:
        times = np.atleast_1d(np.asarray(times, dtype=float))
        position = np.searchsorted(self.baseline_time_, times, side="right") - 1
        baseline = np.where(position >= 0, self.baseline_survival_[np.maximum(position, 0)], 1.0)
        return baseline[None, :] ** np.exp(risk)[:, None]

    def predict_modalities(self, X: Any) -> pd.DataFrame:
        """Each modality's risk score beside the fused probability, per patient."""
        check_is_fitted(self)
        risks = self._modality_risks(X)
        index = X.index if isinstance(X, pd.DataFrame) else None
        table = pd.DataFrame(
            {f"risk_{name}": risks[:, m] for m, name in enumerate(self.modality_names_)},
            index=index,
        )
        for m, name in enumerate(self.modality_names_):
            table[f"has_{name}"] = ~np.isnan(risks[:, m])
        table["risk"] = self._fused(risks)
        # From the risks above: the modalities (a CNN among them) are scored once.
        table["proba"] = self.proba_of_risk(table["risk"].to_numpy())[:, 1]
        return table

    def score(self, X: Any, y: Any) -> float:
        """Harrell's C of the fused risk score (scikit-survival's convention)."""
        return _harrell_c(survival_y(y), self.predict(X))
