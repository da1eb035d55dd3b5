"""Cross-validate several models on the same folds, drop modalities in turn, and derive the
clinical subgroups from the features."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from ramultimodal.evaluation._cv import PatientCVResult, patient_cross_validate
from ramultimodal.terminology.codes import EARLY_ARTHRITIS_WEEKS, upper_normal

__all__ = ["ablation_table", "clinical_subgroups", "cross_validate_models"]

logger = logging.getLogger(__name__)


def cross_validate_models(
    models: Mapping[str, object],
    X: pd.DataFrame,
    y,
    *,
    groups=None,
    cv: int = 5,
    n_repeats: int = 1,
    random_state: int | None = 0,
    verbose: int = 0,
    keep_estimators: Collection[str] = (),
) -> dict[str, PatientCVResult]:
    """Cross-validate every model on the same patient-grouped, stratified folds.

    Parameters
    ----------
    models : mapping of name to classifier
    X : DataFrame, one row per patient
    y : array-like of shape (n_patients,)
    groups : array-like, optional
        Patient of each row; default: X's index.
    cv, n_repeats, random_state :
        As in `patient_cross_validate`; the same seed gives every model the same folds.
    verbose : int, default 0
        Show a progress bar over each model's folds (on stderr) when > 0. The model being
        cross-validated is logged at INFO level, whatever `verbose`.
    keep_estimators : collection of str, default ()
        Names of the models whose fitted fold estimators (and held-out rows) to keep, as
        `patient_cross_validate`'s ``keep_estimators`` does; it changes no number.

    Returns
    -------
    dict of str to PatientCVResult

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = make_classification(120, random_state=0)
    >>> X = pd.DataFrame(X)
    >>> results = cross_validate_models(
    ...     {"linear": LogisticRegression(), "tree": DecisionTreeClassifier(random_state=0)},
    ...     X, y, cv=3)
    >>> sorted(results), results["linear"].proba.shape
    (['linear', 'tree'], (120,))
    """
    results = {}
    for name, model in models.items():
        logger.info("cross-validating %s (%d folds x %d)", name, cv, n_repeats)
        results[name] = patient_cross_validate(
            model,
            X,
            y,
            groups=groups,
            cv=cv,
            n_repeats=n_repeats,
            random_state=random_state,
            keep_estimators=name in keep_estimators,
            verbose=verbose,
        )
    return results


def ablation_table(
    model,
    X: pd.DataFrame,
    y,
    *,
    groups=None,
    cv: int = 5,
    random_state: int | None = 0,
    full: PatientCVResult | None = None,
    verbose: int = 0,
) -> pd.DataFrame:
    """Out-of-fold AUROC of a fusion model with each modality dropped in turn.

    Works for any estimator with a ``modalities`` list whose names are parameters (the
    fusion classifiers): ``set_params(<name>="drop")`` removes one.

    Parameters
    ----------
    model : fusion classifier
    X, y, groups, cv, random_state :
        As in `patient_cross_validate`.
    full : PatientCVResult, optional
        The full model's cross-validation on the same folds, to avoid fitting it again.
    verbose : int, default 0
        Show a progress bar over the folds of each variant (on stderr) when > 0. The
        modality dropped is logged at INFO level, whatever `verbose`.

    Returns
    -------
    DataFrame
        Indexed by ``all modalities`` and ``without <name>``: ``auroc``, ``n`` (patients with
        a prediction) and ``auroc_change`` against the full model.
    """
    y = np.asarray(y).astype(int)
    if full is None:
        logger.info("ablation: all modalities")
        full = patient_cross_validate(
            model, X, y, groups=groups, cv=cv, random_state=random_state, verbose=verbose
        )
    variants = {"all modalities": full}
    for name, _, _ in model.modalities:
        dropped = clone(model).set_params(**{name: "drop"})
        logger.info("ablation: without %s", name)
        variants[f"without {name}"] = patient_cross_validate(
            dropped, X, y, groups=groups, cv=cv, random_state=random_state, verbose=verbose
        )
    rows = {}
    for label, result in variants.items():
        proba = result.proba.to_numpy()
        scored = ~np.isnan(proba)
        rows[label] = {"auroc": roc_auc_score(y[scored], proba[scored]), "n": int(scored.sum())}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["auroc_change"] = table["auroc"] - table.loc["all modalities", "auroc"]
    return table


def clinical_subgroups(features: pd.DataFrame, *, image_column: str = "image") -> pd.DataFrame:
    """The subgroups a rheumatologist asks about, from `EHRFeaturizer` features.

    Sex, age band at index (under 40, 40-60, over 60: RA onset peaks at 40-60), serostatus
    (RF or anti-CCP above the upper limit of normal, ever before the index date), whether
    the patient has a radiograph, and early (symptoms under 12 weeks) against established
    disease. A variable whose source column is absent is left out.

    Parameters
    ----------
    features : DataFrame
        X as `ramultimodal.load_dataset` gives it.
    image_column : str, default "image"

    Returns
    -------
    DataFrame
        Same index as `features`, one column per variable, values as labels (``"female"``,
        ``"40-60"``, ``"seropositive"``, ``"with image"``, ``"early"``) or missing.

    Examples
    --------
    >>> features = pd.DataFrame({"sex_female": [1.0, 0.0], "age_at_index": [35, 70],
    ...                          "rf_max_all": [50.0, 3.0], "anti_ccp_max_all": [np.nan, 5.0],
    ...                          "symptom_duration_weeks": [4.0, 30.0],
    ...                          "image": [["a.dcm"], []]})
    >>> clinical_subgroups(features).iloc[0].tolist()
    ['female', '<40', 'seropositive', 'with image', 'early']
    """
    groups = pd.DataFrame(index=features.index)

    if "sex_female" in features:
        sex = features["sex_female"]
        groups["sex"] = pd.Series(np.where(sex == 1, "female", "male"), index=features.index).where(
            sex.notna()
        )
    if "age_at_index" in features:
        groups["age_band"] = pd.cut(
            features["age_at_index"],
            [-np.inf, 40, 60, np.inf],
            right=False,
            labels=["<40", "40-60", ">60"],
        ).astype(object)
    serology = [c for c in ("rf_max_all", "anti_ccp_max_all") if c in features]
    if serology:
        limits = {"rf_max_all": upper_normal("rf"), "anti_ccp_max_all": upper_normal("anti_ccp")}
        positive = pd.concat([features[c] > limits[c] for c in serology], axis=1).any(axis=1)
        tested = features[serology].notna().any(axis=1)
        groups["serostatus"] = pd.Series(
            np.where(positive, "seropositive", "seronegative"), index=features.index
        ).where(tested)
    if image_column in features:
        has_image = features[image_column].map(
            lambda paths: isinstance(paths, list | tuple) and len(paths) > 0
        )
        groups["image"] = np.where(has_image, "with image", "without image")
    if "symptom_duration_weeks" in features:
        duration = features["symptom_duration_weeks"]
        groups["disease_stage"] = pd.Series(
            np.where(duration < EARLY_ARTHRITIS_WEEKS, "early", "established"), index=features.index
        ).where(duration.notna())
    return groups
