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
    "CROSS_FIT",
    "FUSION_KINDS",
    "GBM_CHOICES",
    "IMAGE_MODELS",
    "META_LEARNERS",
    "MODALITY_KINDS",
    "MODEL_KINDS",
    "PRO_CONCEPTS",
    "SURVIVAL_KINDS",
    "SURVIVAL_PENALTIES",
    "ConfigError",
    "check_params",
    "make_model",
    "make_pipeline",
    "modality_columns",
    "modality_selectors",
]

ModelKind = Literal[
    "image", "ehr", "pro", "criteria", "leiden", "late", "stacking", "early", "survival-late"
]
#: What `make_model` can build: the models of one modality each, the clinical rules (the
#: 2010 criteria, the Leiden prediction rule), the fusions, and the survival fusion.
MODALITY_KINDS: tuple[str, ...] = ("image", "ehr", "pro")
FUSION_KINDS: tuple[str, ...] = ("late", "stacking", "early")
#: Models of time to RA (fitted on ``time_to_ra_days`` and ``event``; their
#: ``predict_proba`` is RA by their horizon).
SURVIVAL_KINDS: tuple[str, ...] = ("survival-late",)
#: The penalties (elastic net, l1 ratio 0.5) the survival recipe's Cox models choose from,
#: each modality by its out-of-fold Harrell's C (`LateFusionSurvival`'s ``penalties``): in
#: 3-fold cross-validation 0.2 ranked RA best on 300 synthetic clinic patients, 0.1 on 600
#: with undifferentiated arthritis (docs/tutorials/survival.md).
SURVIVAL_PENALTIES: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
MODEL_KINDS: tuple[str, ...] = (
    *MODALITY_KINDS, "criteria", "leiden", *FUSION_KINDS, *SURVIVAL_KINDS
)  # fmt: skip
#: The patient-reported outcomes' concepts (`ramultimodal.terminology.codes.PRO_CONCEPTS`): the
#: features whose names start with one of them are the ``pro`` modality.
PRO_CONCEPTS: tuple[str, ...] = _codes.PRO_CONCEPTS
#: The gradient-boosted tree learners of the EHR and PRO models and of early fusion
#: (`make_model`'s ``gbm``); LightGBM is the default.
GBM_CHOICES: tuple[str, ...] = ("lightgbm", "xgboost")
#: Stacking's meta-learners (`make_model`'s ``meta_learner``): logistic regression (the
#: default) or a shallow model of the ``gbm`` learner.
META_LEARNERS: tuple[str, ...] = ("logistic", "gbm")
#: The modalities late fusion's and stacking's recipes cross-fit (their ``cross_fit``): the
#: CNN, whose fit is the dear one. Its ``cv`` fold models are its final model (their mean),
#: so it is fit ``cv`` times, not ``cv + 1``; the EHR and PRO boosters cost seconds and keep
#: their refit on all patients. Early fusion's recipe does not cross-fit: on 700 synthetic
#: patients at 256 px (benchmarks/bench_crossfit.py) its cross-fitted log-odds scored a test
#: AUROC of 0.953 with 5 folds (4.6x the fit time) and 0.939 with 2, against 0.959 for the
#: embeddings of one CNN fit on all patients, optimism and all.
CROSS_FIT: tuple[str, ...] = ("image",)
#: How a model reads the radiographs (`make_model`'s ``image_model``): ``cnn``, the
#: whole-image CNN (modality ``image``); ``joints``, each joint's erosion and narrowing
#: grade per hand and the SvdH totals of a trained `~ramultimodal.image.JointScoreTransformer`
#: (modality ``joints``, docs/joints.md); ``both``, the two side by side.
IMAGE_MODELS: tuple[str, ...] = ("cnn", "joints", "both")


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


# XGBoost's own names for parameters its scikit-learn wrapper also takes by another name;
# it passes any keyword to its booster, but these are the ones a configuration may use.
_XGBOOST_ALIASES = {"eta", "lambda", "alpha", "min_split_loss"}


def _valid_names(estimator: Any) -> tuple[set[str], str]:
    """The parameter names an estimator takes, and how to describe any others it takes."""
    names = set(estimator.get_params(deep=False)) - {"events"}
    if type(estimator).__module__.startswith("xgboost"):
        return names | _XGBOOST_ALIASES, f" or XGBoost's {', '.join(sorted(_XGBOOST_ALIASES))}"
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


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")


def _ehr_model(random_state: int | None, params: Mapping[str, Any], gbm: str = "lightgbm"):
    from ramultimodal.fusion._early import default_estimator
    from ramultimodal.fusion._xgboost import xgboost_estimator

    # Early fusion's booster (small trees, shrinkage, one thread), a little more regularised:
    # a few hundred to a few thousand patients, hundreds of sparse, correlated features.
    if gbm == "xgboost":
        # XGBoost's reg_lambda is 1 already; a leaf needs a hessian of 2 (about ten
        # patients at p = 0.35), as LightGBM's needs 15 patients.
        model, regularised = xgboost_estimator(random_state), {"min_child_weight": 2.0}
    else:
        model = default_estimator(random_state)
        regularised = {"min_child_samples": 15, "reg_lambda": 1.0}
    check_params("ehr_params", model, params)
    return model.set_params(**{**regularised, **params})


def _meta_model(random_state: int | None, gbm: str):
    """Stacking's gradient-boosted meta-learner (``meta_learner="gbm"``): shallow trees on a
    few log-odds and presence flags."""
    from ramultimodal.fusion._early import default_estimator
    from ramultimodal.fusion._xgboost import xgboost_meta_estimator

    if gbm == "xgboost":
        return xgboost_meta_estimator(random_state)
    return default_estimator(random_state).set_params(
        n_estimators=100,
        learning_rate=0.05,
        num_leaves=4,
        min_child_samples=10,
        subsample=1.0,
        subsample_freq=0,
        colsample_bytree=1.0,
    )


def _image_model(random_state: int | None, params: Mapping[str, Any], verbose: int):
    from ramultimodal.image import CNNImageClassifier

    model = CNNImageClassifier(random_state=random_state, verbose=verbose)
    check_params("image_params", model, params)
    return model.set_params(**params)


def _joint_features(joint_model: Any):
    """The frozen joint modality (`JointScoreFeatures`) of a trained joint model or folder;
    an empty one, which refuses to fit, without."""
    from ramultimodal.image import JointScoreFeatures, joint_score_features

    if joint_model is None:
        return JointScoreFeatures()
    try:
        return joint_score_features(joint_model)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"joint_model: {error}") from None


def _joint_classifier(features: Any, random_state: int | None):
    """The joint modality as a classifier (late fusion, stacking, survival): a penalised
    logistic regression on the grades and totals, so that each joint's part in a
    prediction is its coefficient times its grade."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    # A joint not found, or a hand not imaged, is NaN: the median grade (a joint no patient
    # showed, 0). C 0.1: 81 correlated per-hand grades and totals, a few hundred patients.
    return Pipeline([
        ("joints", features),
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=0.1, max_iter=1000, random_state=random_state)),
    ])  # fmt: skip


def _image_modalities(
    image_model: str, joint_model: Any, image_column: str, cnn: Callable[[], Any],
    role: str, random_state: int | None,
) -> list[tuple[str, Any, str]]:  # fmt: skip
    """The radiograph's modalities: ``image`` (the CNN) and/or ``joints``; `role` says
    whether the fusion reads a ``classifier`` or a ``transformer``."""
    modalities = []
    if image_model in ("cnn", "both"):
        modalities.append(("image", cnn(), image_column))
    if image_model in ("joints", "both"):
        features = _joint_features(joint_model)
        if role == "classifier":
            features = _joint_classifier(features, random_state)
        modalities.append(("joints", features, image_column))
    return modalities


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
    gbm: str = "lightgbm",
    meta_learner: str = "logistic",
    calibration: str | None = None,
    image_model: str = "cnn",
    joint_model: Any = None,
):
    """Build an unfitted model of one of the `MODEL_KINDS`.

    Parameters
    ----------
    kind : {"image", "ehr", "pro", "criteria", "leiden", "late", "stacking", "early", \
"survival-late"}
        ``image``: the `CNNImageClassifier` alone (NaN for patients without a radiograph);
        ``ehr`` / ``pro``: the `gbm` learner on those columns alone; ``criteria``: the 2010
        ACR/EULAR criteria (`ACREULARClassifier`); ``leiden``: the Leiden prediction rule
        (`LeidenRuleClassifier`, its logistic map fitted on the training patients);
        ``late`` / ``stacking`` / ``early``: the fusion classifiers over the image, EHR and
        (when `pro_columns` is given) PRO modalities; ``survival-late``: a model of time to
        RA (`~ramultimodal.fusion.LateFusionSurvival`: a penalised Cox model per tabular
        modality, its penalty chosen of `SURVIVAL_PENALTIES` by out-of-fold Harrell's C, the
        CNN's log-odds of RA by the horizon for the radiograph, fused as risk scores),
        fitted on `~ramultimodal.fusion.survival_y`'s target.
    ehr_columns : sequence of str or callable
        The EHR feature columns of X, or a selector resolved on the training X.
    pro_columns : sequence of str or callable, default ()
        The patient-reported-outcome columns (or a selector); empty to keep them inside
        `ehr_columns`. `modality_columns` splits a feature table, `modality_selectors`
        gives the selectors.
    image_column : str, default "image"
        The column of image path lists.
    image_params, ehr_params, fusion_params : mapping, optional
        Parameters of the `CNNImageClassifier`, the gradient-boosted learner (EHR and PRO,
        and early fusion's: an ``LGBMClassifier`` or an ``XGBClassifier`` as `gbm` says)
        and the fusion classifier, over the defaults.
    random_state : int or None, default 0
    verbose : int, default 0
        Progress bars on stderr for the slow step, the CNN (its ``verbose``: 1 shows its
        epochs and the decoding of the images, 2 also its batches; 0 none), unless
        `image_params` sets it. It changes neither a number nor a saved file.
    gbm : {"lightgbm", "xgboost"}, default "lightgbm"
        The gradient-boosted tree learner (`GBM_CHOICES`) of the EHR and PRO models (alone,
        and as the late and stacking fusions' base models) and of early fusion (its final
        estimator and pattern submodels). Both have small trees, shrinkage, row and column
        subsampling and one thread, and route NaN natively; XGBoost's settings mirror
        LightGBM's (``ramultimodal.fusion._xgboost``). Either is saved in its own plain
        format (LightGBM text, XGBoost JSON).
    meta_learner : {"logistic", "gbm"}, default "logistic"
        Stacking's meta-learner (`META_LEARNERS`): logistic regression on the modalities'
        out-of-fold log-odds and presence flags, or shallow trees (depth 2, 100 rounds) of
        the `gbm` learner, which can learn interactions between the modalities (how much
        the EHR counts when there is no radiograph) but need more patients to do it. Only
        for ``kind="stacking"``; a ``final_estimator`` in `fusion_params` replaces either.

        Late fusion and stacking cross-fit the image model (``cross_fit=["image"]``,
        `CROSS_FIT`): its fold models, averaged, are the final image model.
        ``fusion_params={"cross_fit": None}`` gives back one image model refit on all
        patients. Early fusion fits its CNN once; ``fusion_params={"cross_fit": ["image"]}``
        makes its trees read the CNN's out-of-fold log-odds instead of embeddings.
    calibration : {None, "sigmoid", "isotonic"}, default None
        Recalibrate the probabilities on patient-grouped out-of-fold predictions: a fusion
        gets it as its own ``calibration`` parameter (saved with it; early fusion then
        cross-fits itself on ``fusion_params``' ``cv``, default 5), any other kind is
        wrapped in a `~ramultimodal.fusion.RecalibratedClassifier` (5 folds; not savable).
        None: the probabilities as the model gives them.
    image_model : {"cnn", "joints", "both"}, default "cnn"
        How the radiographs are read (`IMAGE_MODELS`): the CNN (modality ``image``), the
        joint models' per-joint erosion and narrowing grades per hand and SvdH totals (modality
        ``joints``: a `~ramultimodal.image.JointScoreFeatures`, behind a logistic
        regression where the fusion reads probabilities), or both modalities. Either reads
        `image_column`; a patient without a radiograph lacks both. Fusions only: the
        ``image`` kind is the CNN.
    joint_model : JointScoreTransformer, str or path-like, optional
        The trained joint models for ``joints`` and ``both``: a fitted
        `~ramultimodal.image.JointScoreTransformer` or the folder ``ramultimodal joints
        train`` wrote. They are frozen: the fusion does not retrain them (they learn from
        ``joints.csv``, not from the diagnosis). Without one the model refuses to fit.

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
    >>> type(make_model("ehr", ehr_columns=["crp_last_all"], gbm="xgboost")[-1]).__name__
    'XGBClassifier'
    >>> model = make_model("early", ehr_columns=["crp_last_all"], image_model="both")
    >>> [name for name, _, _ in model.modalities]
    ['image', 'joints', 'ehr']
    """
    from ramultimodal.ehr import ACREULARClassifier
    from ramultimodal.fusion import (
        EarlyFusionClassifier,
        LateFusionClassifier,
        StackingFusionClassifier,
    )

    if kind not in MODEL_KINDS:
        raise ConfigError(f"Unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}.")
    _check_choice("gbm", gbm, GBM_CHOICES)
    _check_choice("meta_learner", meta_learner, META_LEARNERS)
    _check_choice("image_model", image_model, IMAGE_MODELS)
    if image_model == "joints" and image_params:
        raise ConfigError(
            "image_params are the CNN's; image_model='joints' has no CNN (use 'both')."
        )
    if meta_learner != "logistic" and kind != "stacking":
        raise ConfigError(f"meta_learner is stacking's; the {kind} model has none.")
    _check_calibration(calibration)
    image_params, ehr_params = dict(image_params or {}), dict(ehr_params or {})
    fusion_params = dict(fusion_params or {})
    if calibration is not None and kind in FUSION_KINDS:
        fusion_params.setdefault("calibration", calibration)  # the fusion's own, saved with it
    tabular = {"ehr": ehr_columns, "pro": pro_columns}
    # A selector (callable) is resolved on the training X; names are kept as a list.
    tabular = {
        name: columns if callable(columns) else list(columns)
        for name, columns in tabular.items()
        if callable(columns) or len(columns)
    }

    def image_modalities(role: str) -> list[tuple[str, Any, str]]:
        def cnn() -> Any:
            return _image_model(random_state, image_params, verbose)

        return _image_modalities(image_model, joint_model, image_column, cnn, role, random_state)

    if kind in SURVIVAL_KINDS:
        return _survival_model(tabular, image_modalities("classifier"), ehr_params,
                               fusion_params, random_state)  # fmt: skip
    if kind not in FUSION_KINDS:
        if kind == "criteria":
            model = ACREULARClassifier()
        elif kind == "leiden":
            from ramultimodal.ehr import LeidenRuleClassifier

            model = LeidenRuleClassifier()
        elif kind == "image" and image_model != "cnn":
            # The CNN answers NaN without a radiograph; the grades' logistic regression
            # would answer from imputed grades. In a fusion the modality is simply absent.
            raise ConfigError(
                "make_model('image') is the CNN alone; the joint grades alone are a fusion's "
                "'joints' modality (its predict_modalities' proba_joints)."
            )
        elif kind == "image":
            model = _one_modality([image_column], _image_model(random_state, image_params, verbose))
        elif kind not in tabular:
            raise ValueError(f"make_model({kind!r}) needs {kind}_columns.")
        else:
            model = _one_modality(tabular[kind], _ehr_model(random_state, ehr_params, gbm))
        if calibration is None:
            return model
        from ramultimodal.fusion import RecalibratedClassifier

        return RecalibratedClassifier(model, method=calibration, random_state=random_state)
    if kind == "early":
        modalities = image_modalities("transformer") + [
            (name, "passthrough", columns) for name, columns in tabular.items()
        ]
        # The gbm learner on the concatenated features, as for the EHR alone; a patient
        # without a radiograph is scored by its pattern submodel, an EHR (+ PRO) model of
        # the same learner. The two one-thread boosters train side by side.
        defaults = {
            "estimator": _ehr_model(random_state, ehr_params, gbm),
            "n_jobs": -1,
            "random_state": random_state,
        }
        return _with_params(
            "fusion_params",
            EarlyFusionClassifier,
            {"modalities": modalities, **defaults},
            fusion_params,
        )
    modalities = image_modalities("classifier") + [
        (name, _ehr_model(random_state, ehr_params, gbm), columns)
        for name, columns in tabular.items()
    ]
    # The dear modality, the CNN, where there is one; the frozen joint models cost little.
    cross_fit = [name for name, _, _ in modalities if name in CROSS_FIT]
    if kind == "late":
        # Mean of logits weighted by each modality's out-of-fold AUROC: a weak modality
        # (often the radiograph in early disease) then moves the estimate less.
        defaults = {"method": "mean_logit", "weights": "auto", "random_state": random_state}
        defaults["cross_fit"] = cross_fit
        return _with_params(
            "fusion_params",
            LateFusionClassifier,
            {"modalities": modalities, **defaults},
            fusion_params,
        )
    defaults = {"modalities": modalities, "random_state": random_state}
    defaults["cross_fit"] = cross_fit
    if meta_learner == "gbm":
        defaults["final_estimator"] = _meta_model(random_state, gbm)
    return _with_params("fusion_params", StackingFusionClassifier, defaults, fusion_params)


def _cox_model(random_state: int | None, params: Mapping[str, Any]):
    """A penalised Cox model of time to RA on one modality's features."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    # An elastic net at one penalty (no path to choose from): a few hundred sparse features
    # and a few hundred patients, where an unpenalised Cox model does not converge. A
    # missing value is the median plus a flag, as a fact not recorded can itself inform.
    # alpha 0.1: the best C of 0.02-0.2 on held-out synthetic UA (below ~0.02 the
    # fit diverges on a few hundred patients); the survival recipe chooses among
    # SURVIVAL_PENALTIES per modality (`_survival_model`).
    defaults = {"l1_ratio": 0.5, "alphas": [0.1], "max_iter": 5000}
    cox = _with_params("ehr_params", CoxnetSurvivalAnalysis, defaults, params)
    return Pipeline([
        # A feature no training patient has (a slope over a year) is kept, as a constant.
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("cox", cox),
    ])  # fmt: skip


def _survival_model(tabular, image_modalities, ehr_params, fusion_params, random_state):
    from ramultimodal.fusion import LateFusionSurvival

    # Cox parameters come in ehr_params (they replace the trees' of the classifiers); the
    # radiograph's classifiers (the CNN, the joint grades' logistic regression) give their
    # log-odds of RA by the horizon.
    modalities = list(image_modalities)
    modalities += [
        (name, _cox_model(random_state, ehr_params), columns) for name, columns in tabular.items()
    ]
    # The Cox nets' penalty is chosen per modality by its out-of-fold Harrell's C: the
    # best one depends on the cohort and its size (docs/tutorials/survival.md).
    defaults = {"modalities": modalities, "penalties": SURVIVAL_PENALTIES}
    return _with_params(
        "fusion_params",
        LateFusionSurvival,
        {**defaults, "random_state": random_state},
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
    gbm: str = "lightgbm",
    meta_learner: str = "logistic",
    calibration: str | None = None,
    image_model: str = "cnn",
    joint_model: Any = None,
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
    image_params, ehr_params, fusion_params, random_state, verbose, gbm, meta_learner, calibration
        As for `make_model`. A fusion with ``calibration`` is saved with its calibrator.
    image_model, joint_model
        As for `make_model`: the CNN, the joint models' grades (saved in the model folder
        with it, as plain data), or both.

    Returns
    -------
    CohortPipeline
        Steps ``features`` and ``model``.

    Raises
    ------
    ConfigError
        When a mapping names a parameter its part does not have, or `gbm` or
        `meta_learner` is not one of its choices.

    Examples
    --------
    >>> pipeline = make_pipeline("early", image_params={"image_size": 64})
    >>> pipeline.get_params()["model__image__image_size"]
    64
    >>> type(make_pipeline("early", gbm="xgboost").get_params()["model__estimator"]).__name__
    'XGBClassifier'
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
        gbm=gbm,
        meta_learner=meta_learner,
        calibration=calibration,
        image_model=image_model,
        joint_model=joint_model,
    )
    features = CohortFeaturizer(EHRFeaturizer(**featurizer_params))
    return CohortPipeline([("features", features), ("model", model)])
