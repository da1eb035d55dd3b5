"""Ready-made models for RA: each modality alone, the criteria, and the three fusions.

These are the recipes that ``ramultimodal demo`` and ``ramultimodal train`` use.
`make_model` returns an unfitted scikit-learn estimator for X as `ramultimodal.load_dataset`
gives it: EHR feature columns and an image column of path lists. `make_pipeline` puts the
feature extraction in front of it, for X as `ramultimodal.io.read_cohort` gives it (the
records themselves), so that the whole pipeline is fitted, cross-validated and saved as one
estimator; that is what ``ramultimodal train`` saves. The three kinds of evidence are the
radiographs (``image``), the clinical record (``ehr``: labs, joint exam, risk factors,
criteria and activity scores) and the patient-reported outcomes (``pro``: pain, patient
global, morning stiffness, HAQ-DI, RAPID3).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from ramultimodal._errors import InputError
from ramultimodal.terminology import codes as _codes

__all__ = [
    "MODEL_KINDS",
    "PRO_CONCEPTS",
    "ConfigError",
    "check_params",
    "make_model",
    "make_pipeline",
    "modality_columns",
    "modality_selectors",
]

ModelKind = Literal["image", "ehr", "pro", "criteria", "late", "stacking", "early"]
#: What `make_model` can build.
MODEL_KINDS: tuple[str, ...] = ("image", "ehr", "pro", "criteria", "late", "stacking", "early")
#: The patient-reported outcomes' concepts (`ramultimodal.terminology.codes.PRO_CONCEPTS`): the
#: features whose names start with one of them are the ``pro`` modality.
PRO_CONCEPTS: tuple[str, ...] = _codes.PRO_CONCEPTS


class ConfigError(InputError):
    """A model configuration naming a parameter that its part of the model does not have."""


def _patterns(image_column: str) -> dict[str, str]:
    """The column patterns of the modalities: the PROs' features (`feature_modality`), and
    every other column but the image column."""
    from ramultimodal.ehr._modalities import PRO_FEATURE

    pro = PRO_FEATURE.pattern
    return {"ehr": rf"^(?!{re.escape(image_column)}$)(?!{pro.removeprefix('^')})", "pro": pro}


def modality_selectors(*, image_column: str = "image") -> dict[str, Any]:
    """Column selectors of the ``ehr`` and ``pro`` modalities, as `modality_columns` splits.

    They are ``make_column_selector`` objects, resolved by a fusion on its training X, so a
    recipe can be written before the features exist (as `make_pipeline` does).

    Examples
    --------
    >>> import pandas as pd
    >>> selectors = modality_selectors()
    >>> X = pd.DataFrame(columns=["crp_last_all", "pain_last_all", "haq_di_score", "image"])
    >>> selectors["ehr"](X), selectors["pro"](X)
    (['crp_last_all'], ['pain_last_all', 'haq_di_score'])
    """
    from sklearn.compose import make_column_selector

    return {
        name: make_column_selector(pattern=pattern)
        for name, pattern in _patterns(image_column).items()
    }


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
    columns = list(columns)
    return {
        name: [column for column in columns if re.search(pattern, column)]
        for name, pattern in _patterns(image_column).items()
    }


def _valid_names(estimator: Any) -> tuple[set[str], str]:
    """The parameter names an estimator takes, and how to describe any others it takes."""
    names = set(estimator.get_params(deep=False)) - {"events"}
    if type(estimator).__module__.startswith("lightgbm"):
        from lightgbm.basic import _ConfigAliases

        aliases = _ConfigAliases._get_all_param_aliases()
        return names | set(aliases) | {a for group in aliases.values() for a in group}, (
            " or any LightGBM parameter"
        )
    return names, ""


def check_params(part: str, estimator: Any, params: Mapping[str, Any]) -> None:
    """Raise `ConfigError` when `params` name a parameter `estimator` does not have.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> check_params("fusion_params", LogisticRegression(), {"C": 1.0, "max_iters": 5})
    Traceback (most recent call last):
    ...
    ramultimodal.models.ConfigError: fusion_params: LogisticRegression has no parameter \
'max_iters' (did you mean 'max_iter'?); its parameters are C, class_weight, dual, ...
    """
    if not isinstance(params, Mapping):
        raise ConfigError(f"{part} must be a mapping of parameter names to values.")
    names, others = _valid_names(estimator)
    for key in params:
        if key not in names:
            shown = sorted(set(estimator.get_params(deep=False)) - {"events"})
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{part}: {type(estimator).__name__} has no parameter {key!r}{hint}; its "
                f"parameters are {', '.join(shown)}{others}."
            )


def _ehr_model(random_state: int | None, params: Mapping[str, Any]):
    from ramultimodal.fusion._early import default_estimator

    # Early fusion's LightGBM (small trees, shrinkage, one thread), a little more regularised:
    # a few hundred to a few thousand patients, hundreds of sparse, correlated features.
    model = default_estimator(random_state)
    check_params("ehr_params", model, params)
    return model.set_params(**{"min_child_samples": 15, "reg_lambda": 1.0, **params})


def _image_model(random_state: int | None, params: Mapping[str, Any], verbose: int):
    from ramultimodal.image import CNNImageClassifier

    model = CNNImageClassifier(random_state=random_state, verbose=verbose)
    check_params("image_params", model, params)
    return model.set_params(**params)


def _check_calibration(calibration: Any) -> None:
    """`ConfigError` unless `calibration` is None, "sigmoid" or "isotonic"."""
    from ramultimodal.fusion._calibration import check_calibration

    try:
        check_calibration(calibration)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _with_params(part: str, build: Callable[..., Any], defaults: dict, params: Mapping) -> Any:
    """``build(**defaults, **params)``, after checking `params` against what it takes."""
    check_params(part, build(**defaults), params)
    return build(**{**defaults, **params})


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
    ehr_columns: Sequence[str] | Callable[[Any], list[str]],
    pro_columns: Sequence[str] | Callable[[Any], list[str]] = (),
    image_column: str = "image",
    image_params: Mapping[str, Any] | None = None,
    ehr_params: Mapping[str, Any] | None = None,
    fusion_params: Mapping[str, Any] | None = None,
    random_state: int | None = 0,
    verbose: int = 0,
    calibration: str | None = None,
):
    """Build an unfitted model of one of the `MODEL_KINDS`.

    Parameters
    ----------
    kind : {"image", "ehr", "pro", "criteria", "late", "stacking", "early"}
        ``image``: the `CNNImageClassifier` alone (NaN for patients without a radiograph);
        ``ehr`` / ``pro``: LightGBM on those columns alone; ``criteria``: the 2010 ACR/EULAR
        criteria (`ACREULARClassifier`); ``late`` / ``stacking`` / ``early``: the fusion
        classifiers over the image, EHR and (when `pro_columns` is given) PRO modalities.
    ehr_columns : sequence of str or callable
        The EHR feature columns of X, or a selector resolved on the training X.
    pro_columns : sequence of str or callable, default ()
        The patient-reported-outcome columns (or a selector); empty to keep them inside
        `ehr_columns`. `modality_columns` splits a feature table, `modality_selectors`
        gives the selectors.
    image_column : str, default "image"
        The column of image path lists.
    image_params, ehr_params, fusion_params : mapping, optional
        Parameters of the `CNNImageClassifier`, the ``LGBMClassifier`` (EHR and PRO) and the
        fusion classifier, over the defaults.
    random_state : int or None, default 0
    verbose : int, default 0
        Progress bars on stderr for the slow step, the CNN (its ``verbose``: 1 shows its
        epochs and the decoding of the images, 2 also its batches; 0 none), unless
        `image_params` sets it. It changes neither a number nor a saved file.
    calibration : {None, "sigmoid", "isotonic"}, default None
        Recalibrate the probabilities on patient-grouped out-of-fold predictions: a fusion
        gets it as its own ``calibration`` parameter (saved with it; early fusion then
        cross-fits itself on ``fusion_params``' ``cv``, default 5), any other kind is
        wrapped in a `~ramultimodal.fusion.RecalibratedClassifier` (5 folds; not savable).
        None: the probabilities as the model gives them.

    Returns
    -------
    estimator
        A scikit-learn classifier.

    Raises
    ------
    ConfigError
        For an unknown kind or calibration, or a parameter its part of the model lacks.

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
        raise ConfigError(f"Unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}.")
    _check_calibration(calibration)
    if calibration is not None:
        fusion_params = dict(fusion_params or {})
        if kind in ("late", "stacking", "early"):
            fusion_params.setdefault("calibration", calibration)
        else:
            from ramultimodal.fusion import RecalibratedClassifier

            model = make_model(
                kind,
                ehr_columns=ehr_columns,
                pro_columns=pro_columns,
                image_column=image_column,
                image_params=image_params,
                ehr_params=ehr_params,
                fusion_params=fusion_params,
                random_state=random_state,
                verbose=verbose,
            )
            return RecalibratedClassifier(model, method=calibration, random_state=random_state)
    image_params, ehr_params = dict(image_params or {}), dict(ehr_params or {})
    fusion_params = dict(fusion_params or {})
    tabular = {"ehr": ehr_columns, "pro": pro_columns}
    # A selector (callable) is resolved on the training X; names are kept as a list.
    tabular = {
        name: columns if callable(columns) else list(columns)
        for name, columns in tabular.items()
        if callable(columns) or len(columns)
    }
    if kind == "criteria":
        return ACREULARClassifier()
    if kind == "image":
        return _one_modality([image_column], _image_model(random_state, image_params, verbose))
    if kind in ("ehr", "pro"):
        if kind not in tabular:
            raise ValueError(f"make_model({kind!r}) needs {kind}_columns.")
        return _one_modality(tabular[kind], _ehr_model(random_state, ehr_params))
    image = _image_model(random_state, image_params, verbose)
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
        return _with_params(
            "fusion_params",
            EarlyFusionClassifier,
            {"modalities": modalities, **defaults},
            fusion_params,
        )
    modalities = [("image", image, image_column)] + [
        (name, _ehr_model(random_state, ehr_params), columns) for name, columns in tabular.items()
    ]
    if kind == "late":
        # Mean of logits weighted by each modality's out-of-fold AUROC: a weak modality
        # (often the radiograph in early disease) then moves the estimate less.
        defaults = {"method": "mean_logit", "weights": "auto", "random_state": random_state}
        return _with_params(
            "fusion_params",
            LateFusionClassifier,
            {"modalities": modalities, **defaults},
            fusion_params,
        )
    return _with_params(
        "fusion_params",
        StackingFusionClassifier,
        {"modalities": modalities, "random_state": random_state},
        fusion_params,
    )


def make_pipeline(
    kind: ModelKind,
    *,
    featurizer_params: Mapping[str, Any] | None = None,
    image_params: Mapping[str, Any] | None = None,
    ehr_params: Mapping[str, Any] | None = None,
    fusion_params: Mapping[str, Any] | None = None,
    random_state: int | None = 0,
    verbose: int = 0,
    calibration: str | None = None,
):
    """Build an unfitted pipeline from cohort records to probabilities.

    A `~ramultimodal.fusion.CohortPipeline`: a `~ramultimodal.fusion.CohortFeaturizer`
    (`~ramultimodal.ehr.EHRFeaturizer` features at the index date, and the radiographs),
    then the `make_model` recipe of `kind`, its modalities' columns chosen by
    `modality_selectors` once the features exist. Fit it on
    `ramultimodal.io.read_cohort`'s records; save it with `ramultimodal.fusion.save_model`.

    Parameters
    ----------
    kind : {"image", "ehr", "pro", "criteria", "late", "stacking", "early"}
        As for `make_model`; only the fusions can be saved.
    featurizer_params : mapping, optional
        Parameters of the `~ramultimodal.ehr.EHRFeaturizer` (look-back windows,
        aggregations, concepts...).
    image_params, ehr_params, fusion_params, random_state, verbose, calibration
        As for `make_model`. A fusion with ``calibration`` is saved with its calibrator.

    Returns
    -------
    CohortPipeline
        Steps ``features`` and ``model``.

    Raises
    ------
    ConfigError
        When a mapping names a parameter its part does not have.

    Examples
    --------
    >>> pipeline = make_pipeline("early", image_params={"image_size": 64})
    >>> pipeline.get_params()["model__image__image_size"]
    64
    """
    from ramultimodal.ehr import EHRFeaturizer
    from ramultimodal.fusion import CohortFeaturizer, CohortPipeline

    featurizer_params = dict(featurizer_params or {})
    check_params("featurizer_params", EHRFeaturizer(), featurizer_params)
    selectors = modality_selectors()
    model = make_model(
        kind,
        ehr_columns=selectors["ehr"],
        pro_columns=selectors["pro"],
        image_params=image_params,
        ehr_params=ehr_params,
        fusion_params=fusion_params,
        random_state=random_state,
        verbose=verbose,
        calibration=calibration,
    )
    features = CohortFeaturizer(EHRFeaturizer(**featurizer_params))
    return CohortPipeline([("features", features), ("model", model)])
