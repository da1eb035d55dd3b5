"""Ready-made models for RA: image only, EHR only, the criteria, and the three fusions.

These are the recipes that ``ramultimodal demo`` and ``ramultimodal train`` use. Each
returns an unfitted scikit-learn estimator for X as `ramultimodal.load_dataset` gives it:
EHR feature columns and an image column of path lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = ["MODEL_KINDS", "make_model"]

ModelKind = Literal["image", "ehr", "criteria", "late", "stacking", "early"]
#: What `make_model` can build.
MODEL_KINDS: tuple[str, ...] = ("image", "ehr", "criteria", "late", "stacking", "early")


def _ehr_model(random_state: int | None, params: Mapping[str, Any]):
    from lightgbm import LGBMClassifier

    # Small trees and shrinkage: a few hundred to a few thousand patients, hundreds of
    # sparse, correlated features.
    defaults = dict(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=15,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        reg_lambda=1.0,
        random_state=random_state,
        n_jobs=1,
        verbose=-1,
    )
    return LGBMClassifier(**{**defaults, **params})


def _image_model(random_state: int | None, params: Mapping[str, Any]):
    from ramultimodal.image import CNNImageClassifier

    return CNNImageClassifier(**{"random_state": random_state, "verbose": 0, **params})


def make_model(
    kind: ModelKind,
    *,
    ehr_columns: Sequence[str],
    image_column: str = "image",
    image_params: Mapping[str, Any] | None = None,
    ehr_params: Mapping[str, Any] | None = None,
    fusion_params: Mapping[str, Any] | None = None,
    random_state: int | None = 0,
):
    """Build an unfitted model of one of the `MODEL_KINDS`.

    Parameters
    ----------
    kind : {"image", "ehr", "criteria", "late", "stacking", "early"}
        ``image``: the `CNNImageClassifier` on the image column alone; ``ehr``: LightGBM on
        the EHR features alone; ``criteria``: the 2010 ACR/EULAR criteria
        (`ACREULARClassifier`); ``late`` / ``stacking`` / ``early``: the fusion classifiers
        over the image and EHR modalities.
    ehr_columns : sequence of str
        The EHR feature columns of X.
    image_column : str, default "image"
        The column of image path lists.
    image_params, ehr_params, fusion_params : mapping, optional
        Parameters of the `CNNImageClassifier`, the ``LGBMClassifier`` and the fusion
        classifier, over the defaults.
    random_state : int or None, default 0

    Returns
    -------
    estimator
        A scikit-learn classifier.

    Examples
    --------
    >>> model = make_model("late", ehr_columns=["crp_last_all", "rf_last_all"])
    >>> [name for name, _, _ in model.modalities]
    ['image', 'ehr']
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
    ehr_columns = list(ehr_columns)
    if kind == "criteria":
        return ACREULARClassifier()
    # A single-modality LateFusionClassifier selects the modality's columns, gives NaN to
    # patients without it, and saves like the fusions do.
    if kind == "ehr":
        return LateFusionClassifier(
            [("ehr", _ehr_model(random_state, ehr_params), ehr_columns)], method="mean"
        )
    if kind == "image":
        return LateFusionClassifier(
            [("image", _image_model(random_state, image_params), image_column)], method="mean"
        )
    image = _image_model(random_state, image_params)
    if kind == "early":
        return EarlyFusionClassifier(
            [("image", image, image_column), ("ehr", "passthrough", ehr_columns)],
            **{"random_state": random_state, **fusion_params},
        )
    modalities = [
        ("image", image, image_column),
        ("ehr", _ehr_model(random_state, ehr_params), ehr_columns),
    ]
    if kind == "late":
        return LateFusionClassifier(
            modalities,
            **{
                "method": "mean_logit",
                "weights": "auto",
                "random_state": random_state,
                **fusion_params,
            },
        )
    return StackingFusionClassifier(modalities, **{"random_state": random_state, **fusion_params})
