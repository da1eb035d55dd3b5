"""Why a fusion said what it said: each modality's and each feature's share of the log-odds.

`explain_fusion` splits a fitted fusion's fused log-odds (logit) for each patient into a
contribution per modality plus a baseline, so that ``sum(contribution_<m>) +
contribution_baseline == logit`` exactly:

- late fusion (``method="mean_logit"``): modality m adds ``w_m x logit_m``, its weight
  renormalised over the modalities the patient has, as the fusion does; the baseline is 0
  (the class prior's logit for a patient whose modalities all weigh 0). With a mean of
  probabilities (``"mean"``, ``"weighted_mean"``) the fused probability is
  ``0.5 + sum w_m (p_m - 0.5)``, and each modality gets the share ``w_m (p_m - 0.5) /
  (p - 0.5)`` of the fused logit;
- stacking: the final estimator's contributions on its meta-features (a linear model's
  coefficient x meta-feature, a tree model's TreeSHAP), summed per modality over its
  output and its presence flag. For a linear final estimator the baseline is the logit of
  a patient who has every modality and whose every modality said 50%, so a modality the
  patient has adds ``coefficient x its logit`` and one they lack adds what the model
  learned for "absent";
- early fusion: TreeSHAP of the model that scored the patient (their pattern submodel, or
  the full model) summed over each modality's columns (a CNN's embedding columns
  included); the baseline is the trees' expected margin;
- the survival fusion (`~ramultimodal.fusion.LateFusionSurvival`): what is explained is
  not a log-odds but its fused risk score, the log hazard ratio of RA against a patient
  of average risk (``explained`` says so); modality m adds ``w_m (r_m - centre_m) /
  scale_m``, the baseline is 0, and a Cox model's features split its term exactly
  (coefficient x the standardised feature, its missing-value flag included).

Below the modalities, each tabular feature's contribution on the same fused scale
(`FusionExplanation.features`) comes from the base model's own TreeSHAP times the factor
by which its modality enters the fusion, so the reasons of a prediction are read in the
units of the fused logit. A modality that cannot be split into features (the radiograph
CNN) is one item, ``modality:<name>``. The joint models' modality (``joints``, a
`~ramultimodal.image.JointScoreFeatures` in front of the model) is split into its grades
and totals (``erosion_mcp2_right``, ``svdh_total_left``...): they are features a reader can check.

Calibration (``calibrator_`` on the fusion, when present): a sigmoid calibration
``p = expit(a x logit + b)`` multiplies every contribution by ``a`` and makes the baseline
``a x baseline + b``, so the identity holds on the calibrated logit. An isotonic one is
not a line: the contributions then explain the logit before calibration, and the column
``explained`` says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from sklearn.utils.validation import check_is_fitted

from ramultimodal.evaluation._tree_shap import model_contributions
from ramultimodal.fusion._base import logit
from ramultimodal.fusion._late import clipped_log_proba

__all__ = ["SURVIVAL_SCORE", "FusionExplanation", "explain_fusion"]

#: What the ``logit`` column holds for a `~ramultimodal.fusion.LateFusionSurvival`: its fused
#: risk score, the log of the hazard of RA relative to a patient of average risk.
SURVIVAL_SCORE = "fused risk score (log hazard ratio)"


@dataclass
class FusionExplanation:
    """What `explain_fusion` returns.

    Attributes
    ----------
    modalities : DataFrame
        Indexed like X: ``logit`` (the explained log-odds), ``contribution_<name>`` per
        modality (and ``contribution_passthrough`` for stacking's passthrough columns),
        ``contribution_baseline``, and ``explained``: ``"fused logit"``, ``"calibrated
        logit"`` or ``"logit before isotonic calibration"``. NaN for a patient with no
        modality.
    features : DataFrame
        Indexed like X: each tabular feature's contribution (columns named as X's), and
        ``modality:<name>`` for a modality explained as a whole (the CNN) or absent; NaN
        where it does not apply.
    values : DataFrame
        The patients' values of the tabular features of `features`.
    probabilities : DataFrame
        ``proba_<name>`` per modality where the fusion has one (late, stacking).
    presence : DataFrame
        One boolean column per modality: whether the patient had it.
    """

    modalities: pd.DataFrame
    features: pd.DataFrame
    values: pd.DataFrame
    probabilities: pd.DataFrame
    presence: pd.DataFrame


def _ratio(numerator: np.ndarray, denominator: np.ndarray, at_zero: float) -> np.ndarray:
    """numerator / denominator, `at_zero` where the denominator is (nearly) 0."""
    small = np.abs(denominator) < 1e-9
    return np.where(small, at_zero, numerator / np.where(small, 1.0, denominator))


def _share_of_half(proba: np.ndarray) -> np.ndarray:
    """``(p - 0.5) / logit(p)``: how a step of log-odds moves a probability near p (1/4 at
    p = 0.5, the limit)."""
    return _ratio(proba - 0.5, logit(proba), 0.25)


def _tabular(estimator: Any, data: Any, rows: np.ndarray) -> tuple[list, np.ndarray] | None:
    """A base model's TreeSHAP on its present rows: (column names, contributions)."""
    if not isinstance(data, pd.DataFrame) or rows.size == 0:
        return None
    try:
        contributions, _ = model_contributions(estimator, data.iloc[rows])
    except (TypeError, ValueError):
        return None
    return list(data.columns), contributions


class _Builder:
    """Collects the per-modality and per-feature contributions of one explanation."""

    def __init__(self, index: pd.Index, names: list[str]) -> None:
        self.index, self.names = index, names
        n = len(index)
        self.modality = {name: np.zeros(n) for name in names}
        self.features: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        self.items: dict[str, np.ndarray] = {}
        self.presence = np.ones((n, 1), dtype=bool)

    def add_features(self, data: pd.DataFrame, columns: list, rows: np.ndarray, values) -> None:
        for k, column in enumerate(columns):
            target = self.features.setdefault(column, np.full(len(self.index), np.nan))
            target[rows] = values[:, k]
            self.values[column] = pd.to_numeric(data[column], errors="coerce").to_numpy(float)

    def add_item(self, name: str, rows: np.ndarray, values: np.ndarray) -> None:
        target = self.items.setdefault(f"modality:{name}", np.full(len(self.index), np.nan))
        target[rows] = values


def _late(fusion: Any, X: Any, builder: _Builder) -> tuple[np.ndarray, np.ndarray, list]:
    probas = fusion._predict_base_probas(X)
    fused, effective = fusion._fuse(probas)
    proba = fused[:, 1]
    present = builder.presence = fusion._answered(probas)
    if fusion.method == "mean_logit":
        factors = effective
        # The fusion's own log-odds, from the log-probabilities _fuse averages.
        logs = [clipped_log_proba(p) for p in probas]
        logits = [log[:, 1] - log[:, 0] for log in logs]
    else:
        fused_gain = _ratio(logit(proba), proba - 0.5, 4.0)
        logits = [logit(p[:, 1]) for p in probas]
        factors = np.column_stack(
            [
                effective[:, m] * fused_gain * _share_of_half(np.nan_to_num(p[:, 1], nan=0.5))
                for m, p in enumerate(probas)
            ]
        )
    baseline = np.zeros(len(proba))
    nobody_weighs = effective.sum(axis=1) == 0
    baseline[nobody_weighs] = special.logit(fusion.class_prior_[1])
    for m, name in enumerate(fusion.modality_names_):
        contribution = np.where(present[:, m], factors[:, m] * np.nan_to_num(logits[m]), 0.0)
        builder.modality[name] = contribution
        _split_modality(fusion, X, m, name, factors[:, m], present[:, m], contribution, builder)
    return proba, baseline, probas


def _readable(transformer: Any) -> bool:
    """Whether a modality's transformer gives features worth naming one by one (the joint
    grades), rather than an embedding."""
    return bool(getattr(transformer, "readable_features", False))


def _readable_first_step(estimator: Any, data: Any) -> tuple[Any, pd.DataFrame] | None:
    """For a Pipeline that starts by turning radiographs into readable features (the joint
    grades): the rest of it, and those features of every row of `data`."""
    steps = getattr(estimator, "steps", None)
    if isinstance(data, pd.DataFrame) or not steps or len(steps) < 2:
        return None
    if not _readable(steps[0][1]):
        return None
    features = estimator[:1].transform(data)
    if not isinstance(features, pd.DataFrame):
        return None
    return estimator[1:], features


def _split_modality(fusion, X, m, name, factor, present, contribution, builder) -> None:
    """A base model's features, each on the fused scale; or the modality as one item."""
    data = fusion._modality_data(X, fusion._columns_[m])[0]
    rows = np.flatnonzero(present & np.isfinite(factor))
    estimator = fusion.estimators_[m]
    readable = _readable_first_step(estimator, data) if rows.size else None
    if readable is not None:  # the joint grades, then the model that reads them
        estimator, data = readable
    split = _tabular(estimator, data, rows)
    if split is None:
        builder.add_item(name, np.flatnonzero(present), contribution[present])
        return
    columns, shap = split
    builder.add_features(data, columns, rows, shap * factor[rows, None])
    absent = np.flatnonzero(~present & (contribution != 0))
    if absent.size:  # what the model put in place of an absent modality
        builder.add_item(name, absent, contribution[absent])


def _linear_final(fusion: Any) -> Any:
    final = fusion.final_estimator_
    last = final.steps[-1][1] if hasattr(final, "steps") else final
    return last if hasattr(last, "coef_") else None


def _stacking(fusion: Any, X: Any, builder: _Builder) -> tuple[np.ndarray, np.ndarray, list]:
    probas = fusion._predict_base_probas(X)
    meta = fusion._meta_features(X, probas)
    proba = fusion.final_estimator_.predict_proba(meta)[:, 1]
    shap, baseline = model_contributions(fusion.final_estimator_, meta)
    names = list(fusion.get_feature_names_out())
    present = builder.presence = fusion._answered(probas)
    linear = _linear_final(fusion)
    coef = None if linear is None else np.ravel(linear.coef_)
    grouped = np.zeros(len(names), dtype=bool)
    for m, name in enumerate(fusion.modality_names_):
        output = names.index(f"{fusion.scale}_{name}")
        contribution = shap[:, output].copy()
        grouped[output] = True
        if f"has_{name}" in names:
            flag = names.index(f"has_{name}")
            grouped[flag] = True
            contribution += shap[:, flag]
            if coef is not None:
                # Reference: the modality present; "absent" is then its own contribution.
                contribution -= coef[flag]
                baseline = baseline + coef[flag]
        builder.modality[name] = contribution
        if coef is None:
            factor = np.full(len(proba), np.nan)  # a tree meta-model: the modality whole
        elif fusion.scale == "logit":
            factor = np.full(len(proba), coef[output])
        else:
            factor = coef[output] * _share_of_half(np.nan_to_num(probas[m][:, 1], nan=0.5))
        _split_modality(fusion, X, m, name, factor, present[:, m], contribution, builder)
    if not grouped.all():
        builder.modality["passthrough"] = shap[:, ~grouped].sum(axis=1)
        builder.names = [*builder.names, "passthrough"]
    return proba, baseline, probas


def _early(fusion: Any, X: Any, builder: _Builder) -> tuple[np.ndarray, np.ndarray, list]:
    blocks, presence = fusion._features(X)
    builder.presence = presence
    features = np.hstack(blocks)
    n = len(features)
    proba = np.asarray(fusion._fused_proba(blocks, presence)[:, 1], dtype=float)
    shap, baseline = np.zeros_like(features), np.zeros(n)
    by_full_model = np.ones(n, dtype=bool)
    for modalities, submodel in zip(fusion.submodel_patterns_, fusion.submodels_, strict=True):
        pattern = np.isin(fusion.modality_names_, modalities)
        rows = np.flatnonzero((presence == pattern).all(axis=1))
        if rows.size:
            columns = fusion._feature_mask(pattern)
            values, bias = model_contributions(submodel, features[np.ix_(rows, columns)])
            shap[np.ix_(rows, np.flatnonzero(columns))] = values
            baseline[rows] = bias
            by_full_model[rows] = False
    if by_full_model.any():
        values, bias = model_contributions(fusion.estimator_, features[by_full_model])
        shap[by_full_model] = values
        baseline[by_full_model] = bias
    owner = np.repeat(np.arange(len(blocks)), fusion.n_modality_features_)
    everyone = np.arange(n)
    for m, (name, transformer) in enumerate(
        zip(fusion.modality_names_, fusion.transformers_, strict=True)
    ):
        contribution = shap[:, owner == m].sum(axis=1)
        builder.modality[name] = contribution
        data = fusion._modality_data(X, fusion._columns_[m])[0]
        if isinstance(transformer, str) and isinstance(data, pd.DataFrame):  # passthrough
            builder.add_features(data, list(data.columns), everyone, shap[:, owner == m])
        elif _readable(transformer):  # the joint grades, as features of their own
            names = [str(n) for n in transformer.get_feature_names_out()]
            values = pd.DataFrame(blocks[m], columns=names, index=builder.index)
            builder.add_features(values, names, everyone, shap[:, owner == m])
        else:
            builder.add_item(name, everyone, contribution)
    return proba, baseline, []


def _cox_terms(estimator: Any, data: Any, rows: np.ndarray) -> tuple[list, np.ndarray] | None:
    """A linear survival model's risk split into its features: coefficient x the feature as
    the model read it (a ``Pipeline`` of transformers and a Cox model with ``coef_``), a
    missing-value indicator added to its feature; None for any other model."""
    steps = getattr(estimator, "steps", None)
    cox = steps[-1][1] if steps else estimator
    coef = getattr(cox, "coef_", None)
    if coef is None or not isinstance(data, pd.DataFrame) or rows.size == 0:
        return None
    coef = np.asarray(coef, dtype=float)
    coef = coef[:, -1] if coef.ndim == 2 else coef  # a Cox net's column: its (last) penalty
    rows_data = data.iloc[rows]
    if steps and len(steps) > 1:
        try:  # a transformer without feature names (or not of these columns): whole
            names = [str(n) for n in estimator[:-1].get_feature_names_out(list(data.columns))]
        except (AttributeError, TypeError, ValueError):
            return None
        read = np.asarray(estimator[:-1].transform(rows_data), dtype=float)
    else:
        read, names = rows_data.to_numpy(dtype=float), list(data.columns)
    terms = read * coef
    columns = list(data.columns)
    by_column = np.zeros((rows.size, len(columns)))
    for k, name in enumerate(names):
        name = name.removeprefix("missingindicator_")
        if name not in columns:
            return None
        by_column[:, columns.index(name)] += terms[:, k]
    return columns, by_column


def _survival(fusion: Any, X: Any, builder: _Builder) -> tuple[np.ndarray, np.ndarray, list]:
    """`LateFusionSurvival`: the fused risk is ``sum w_m (r_m - centre_m) / scale_m`` over the
    modalities a patient has, so each adds its own term and the baseline is 0 (a patient
    at the cohort's average risk of every modality)."""
    # Each modality's columns selected once, for its risk and for its terms below.
    selected = [fusion._modality_data(X, columns) for columns in fusion.columns_]
    risks = fusion._risks(selected)
    present = builder.presence = ~np.isnan(risks)
    factors = fusion.weights_ / fusion.risk_scale_
    probas = []
    for m, name in enumerate(fusion.modality_names_):
        contribution = np.where(
            present[:, m], factors[m] * (np.nan_to_num(risks[:, m]) - fusion.risk_center_[m]), 0.0
        )
        builder.modality[name] = contribution
        estimator = fusion.estimators_[m]
        classifier = hasattr(estimator, "predict_proba")  # its risk is its log-odds
        probas.append(
            np.column_stack([1 - special.expit(risks[:, m]), special.expit(risks[:, m])])
            if classifier
            else np.full((len(risks), 2), np.nan)
        )
        data = selected[m][0]
        rows = np.flatnonzero(present[:, m])
        split = None if classifier else _cox_terms(estimator, data, rows)
        if split is None:
            builder.add_item(name, rows, contribution[rows])
            continue
        columns, terms = split
        builder.add_features(data, columns, rows, terms * factors[m])
    proba = fusion.proba_of_risk(fusion._fused(risks))[:, 1]  # the modalities scored once
    return proba, np.zeros(len(proba)), probas


def _calibration(fusion: Any) -> tuple[float, float, str]:
    """``(slope, intercept, what is explained)`` of the fusion's calibration, if any."""
    calibrator = getattr(fusion, "calibrator_", None)
    if not isinstance(calibrator, dict):
        return 1.0, 0.0, "fused logit"
    if calibrator.get("method") == "sigmoid":
        return float(calibrator["slope"]), float(calibrator["intercept"]), "calibrated logit"
    return 1.0, 0.0, "logit before isotonic calibration"


def explain_fusion(fusion: Any, X: Any) -> FusionExplanation:
    """Split each patient's fused log-odds into modality and feature contributions.

    Parameters
    ----------
    fusion : LateFusionClassifier, StackingFusionClassifier, EarlyFusionClassifier or \
LateFusionSurvival
        A fitted binary fusion (the final step of a saved pipeline), or the survival
        fusion, whose fused risk score is explained in place of the log-odds.
    X : DataFrame
        The patients, as the fusion reads them (`CohortPipeline.features`).

    Returns
    -------
    FusionExplanation

    Raises
    ------
    TypeError
        For an estimator that is not one of the three fusions, or whose models cannot be
        explained (early fusion needs a LightGBM, XGBoost or linear model).
    ValueError
        For a fusion of more than two classes.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ramultimodal.fusion import LateFusionClassifier
    >>> X = pd.DataFrame({"crp": [1.0, 2.0, 30.0, 40.0, 3.0, 35.0],
    ...                   "erosions": [0.0, 1.0, 9.0, 8.0, np.nan, np.nan]})
    >>> y = np.array([0, 0, 1, 1, 0, 1])
    >>> model = LateFusionClassifier(
    ...     [("ehr", LogisticRegression(C=0.01), ["crp"]),
    ...      ("image", LogisticRegression(C=0.01), ["erosions"])],
    ...     method="mean_logit", weights={"ehr": 3, "image": 1}).fit(X, y)
    >>> table = explain_fusion(model, X).modalities
    >>> parts = table[["contribution_ehr", "contribution_image", "contribution_baseline"]]
    >>> bool(np.allclose(parts.sum(axis=1), table["logit"]))
    True
    >>> float(table.loc[4, "contribution_image"])  # no radiograph: no say
    0.0
    """
    from ramultimodal.fusion import (
        EarlyFusionClassifier,
        LateFusionClassifier,
        LateFusionSurvival,
        NoModalityWarning,
        StackingFusionClassifier,
    )

    kinds = {
        LateFusionClassifier: _late,
        StackingFusionClassifier: _stacking,
        EarlyFusionClassifier: _early,
        LateFusionSurvival: _survival,
    }
    explain = next((how for kind, how in kinds.items() if isinstance(fusion, kind)), None)
    if explain is None:
        raise TypeError(
            f"explain_fusion explains the fusion classifiers; got {type(fusion).__name__}."
        )
    check_is_fitted(fusion)
    if len(fusion.classes_) != 2:
        raise ValueError(
            f"explain_fusion explains binary models; this {type(fusion).__name__} has "
            f"{len(fusion.classes_)} classes."
        )
    survival = isinstance(fusion, LateFusionSurvival)
    if not survival:
        X = fusion._validate_X(X, reset=False)
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(X.shape[0])
    builder = _Builder(index, list(fusion.modality_names_))
    with warnings.catch_warnings():
        # Said once already by the prediction these contributions explain.
        warnings.simplefilter("ignore", NoModalityWarning)
        proba, baseline, probas = explain(fusion, X, builder)
    contributions = np.column_stack([builder.modality[name] for name in builder.names])
    logit = contributions.sum(axis=1) + baseline
    # A patient with no modality has no probability (the fusions' rule), so no reasons.
    nobody = ~np.isfinite(proba) | ~builder.presence.any(axis=1)
    slope, intercept, explained = _calibration(fusion)
    if survival:  # its score is a log hazard ratio, and its probability comes from it
        explained = SURVIVAL_SCORE
    frame = pd.DataFrame({"logit": slope * logit + intercept}, index=index)
    for k, name in enumerate(builder.names):
        frame[f"contribution_{name}"] = slope * contributions[:, k]
    frame["contribution_baseline"] = slope * baseline + intercept
    frame.loc[nobody, frame.columns] = np.nan
    frame["explained"] = explained
    per_feature = {**builder.features, **builder.items}
    features = pd.DataFrame(per_feature, index=index).mul(slope)
    features.loc[nobody] = np.nan
    values = pd.DataFrame(builder.values, index=index)
    probabilities = pd.DataFrame(
        {f"proba_{name}": p[:, 1] for name, p in zip(fusion.modality_names_, probas, strict=False)},
        index=index,
    )
    presence = pd.DataFrame(
        np.asarray(builder.presence, dtype=bool), index=index, columns=fusion.modality_names_
    )
    return FusionExplanation(frame, features, values, probabilities, presence)
