"""Ready-made models for RA: each modality alone, the criteria, and the three fusions.

These are the recipes that ``ramultimodal demo`` and ``ramultimodal train`` use. Each
returns an unfitted scikit-learn estimator for X as `ramultimodal.load_dataset` gives it:
EHR feature columns and an image column of path lists. The three kinds of evidence are the
radiographs (``image``), the clinical record (``ehr``: labs, joint exam, risk factors,
criteria and activity scores) and the patient-reported outcomes (``pro``: pain, patient
global, morning stiffness, HAQ-DI, RAPID3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

__all__ = ["MODEL_KINDS", "PRO_CONCEPTS", "make_model", "modality_columns"]

ModelKind = Literal["image", "ehr", "pro", "criteria", "late", "stacking", "early"]
#: What `make_model` can build.
MODEL_KINDS: tuple[str, ...] = ("image", "ehr", "pro", "criteria", "late", "stacking", "early")
#: Feature-name stems of the patient-reported outcomes (see `ramultimodal.ehr.codes`).
PRO_CONCEPTS: tuple[str, ...] = (
    "pain",
    "patient_global",
    "morning_stiffness",
    "haq_di",
    "rapid3",
)


def modality_columns(
    columns: Iterable[str], *, image_column: str = "image"
) -> dict[str, list[str]]:
    """Split X's columns into the ``ehr`` and ``pro`` modalities (the image column apart).

    A column belongs to the PROs when its name starts with a `PRO_CONCEPTS` stem
    (``pain_last_90d``, ``haq_di_score``, ``morning_stiffness_missing``).

    Examples
    --------
    >>> modality_columns(["crp_last_all", "pain_last_all", "haq_di_score", "image"])
    {'ehr': ['crp_last_all'], 'pro': ['pain_last_all', 'haq_di_score']}
    """
    split: dict[str, list[str]] = {"ehr": [], "pro": []}
    for column in columns:
        if column == image_column:
            continue
        is_pro = any(column == stem or column.startswith(f"{stem}_") for stem in PRO_CONCEPTS)
        split["pro" if is_pro else "ehr"].append(column)
    return split


def _ehr_model(random_state: int | None, params: Mapping[str, Any]):
    from ramultimodal.fusion._early import default_estimator

    # Early fusion's LightGBM (small trees, shrinkage, one thread), a little more regularised:
    # a few hundred to a few thousand patients, hundreds of sparse, correlated features.
    model = default_estimator(random_state)
    return model.set_params(**{"min_child_samples": 15, "reg_lambda": 1.0, **params})


def _image_model(random_state: int | None, params: Mapping[str, Any]):
    from ramultimodal.image import CNNImageClassifier

    return CNNImageClassifier(**{"random_state": random_state, "verbose": 0, **params})


def _one_modality(columns: list[str], model):
    """A Pipeline that selects one modality's columns, so that X may hold the others."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    select = ColumnTransformer(
        [("select", "passthrough", columns)], verbose_feature_names_out=False
    ).set_output(transform="pandas")
    return Pipeline([("select", select), ("model", model)])


def make_model(
    kind: ModelKind,
    *,
    ehr_columns: Sequence[str],
    pro_columns: Sequence[str] = (),
    image_column: str = "image",
    image_params: Mapping[str, Any] | None = None,
    ehr_params: Mapping[str, Any] | None = None,
    fusion_params: Mapping[str, Any] | None = None,
    random_state: int | None = 0,
):
    """Build an unfitted model of one of the `MODEL_KINDS`.

    Parameters
    ----------
    kind : {"image", "ehr", "pro", "criteria", "late", "stacking", "early"}
        ``image``: the `CNNImageClassifier` alone (NaN for patients without a radiograph);
        ``ehr`` / ``pro``: LightGBM on those columns alone; ``criteria``: the 2010 ACR/EULAR
        criteria (`ACREULARClassifier`); ``late`` / ``stacking`` / ``early``: the fusion
        classifiers over the image, EHR and (when `pro_columns` is given) PRO modalities.
    ehr_columns : sequence of str
        The EHR feature columns of X.
    pro_columns : sequence of str, default ()
        The patient-reported-outcome columns; empty to keep them inside `ehr_columns`.
        `modality_columns` splits a feature table.
    image_column : str, default "image"
        The column of image path lists.
    image_params, ehr_params, fusion_params : mapping, optional
        Parameters of the `CNNImageClassifier`, the ``LGBMClassifier`` (EHR and PRO) and the
        fusion classifier, over the defaults.
    random_state : int or None, default 0

    Returns
    -------
    estimator
        A scikit-learn classifier.

    Examples
    --------
    >>> model = make_model("late", ehr_columns=["crp_last_all"], pro_columns=["pain_last_all"])
    >>> [name for name, _, _ in model.modalities]
    ['image', 'ehr', 'pro']
    """
    from ramultimodal.ehr import ACREULARClassifier
    from ramultimodal.fusion import (
        EarlyFusionClassifier,
        LateFusionClassifier,
        StackingFusionClassifier,
    )

    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}.")
    image_params, ehr_params = dict(image_params or {}), dict(ehr_params or {})
    fusion_params = dict(fusion_params or {})
    tabular = {"ehr": list(ehr_columns), "pro": list(pro_columns)}
    tabular = {name: columns for name, columns in tabular.items() if columns}
    if kind == "criteria":
        return ACREULARClassifier()
    if kind == "image":
        return _one_modality([image_column], _image_model(random_state, image_params))
    if kind in ("ehr", "pro"):
        if kind not in tabular:
            raise ValueError(f"make_model({kind!r}) needs {kind}_columns.")
        return _one_modality(tabular[kind], _ehr_model(random_state, ehr_params))
    image = _image_model(random_state, image_params)
    if kind == "early":
        modalities = [("image", image, image_column)] + [
            (name, "passthrough", columns) for name, columns in tabular.items()
        ]
        # LightGBM on the concatenated features, as for the EHR alone; a patient without a
        # radiograph is scored by its pattern submodel, an EHR (+ PRO) LightGBM. The two
        # one-thread LightGBMs train side by side.
        defaults = {
            "estimator": _ehr_model(random_state, ehr_params),
            "n_jobs": -1,
            "random_state": random_state,
        }
        return EarlyFusionClassifier(modalities, **{**defaults, **fusion_params})
    modalities = [("image", image, image_column)] + [
        (name, _ehr_model(random_state, ehr_params), columns) for name, columns in tabular.items()
    ]
    if kind == "late":
        # Mean of logits weighted by each modality's out-of-fold AUROC: a weak modality
        # (often the radiograph in early disease) then moves the estimate less.
        defaults = {"method": "mean_logit", "weights": "auto", "random_state": random_state}
        return LateFusionClassifier(modalities, **{**defaults, **fusion_params})
    return StackingFusionClassifier(modalities, **{"random_state": random_state, **fusion_params})
