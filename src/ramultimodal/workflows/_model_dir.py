"""Train, evaluate and predict with a model stored in a folder.

These are the library functions behind ``ramultimodal train``, ``evaluate`` and
``predict``: the CLI only parses arguments and prints. The model folder holds the whole
pipeline, from a cohort's records to probabilities, so evaluating and predicting apply the
feature extraction fitted at training time: a patient's probability depends on that
patient's records and the model, never on who else is in the cohort.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ramultimodal._staging import check_output, output_lock
from ramultimodal.io import DatasetError, read_cohort
from ramultimodal.models import (
    FUSION_KINDS,
    GBM_CHOICES,
    IMAGE_MODELS,
    META_LEARNERS,
    SURVIVAL_KINDS,
    ConfigError,
    make_pipeline,
)

__all__ = [
    "FUSION_KINDS",
    "TRAIN_KINDS",
    "evaluate_model",
    "is_synthetic_cohort",
    "predict_dataset",
    "read_config",
    "train_model",
]

logger = logging.getLogger(__name__)

#: What ``ramultimodal train`` trains: the fusions, and the survival fusion (time to RA).
TRAIN_KINDS: tuple[str, ...] = (*FUSION_KINDS, *SURVIVAL_KINDS)

#: Model kinds that `train_model` saves (the fusions; single modalities are in the demo).
_CONFIG_KEYS = {"featurizer_params", "image_params", "ehr_params", "fusion_params", "random_state"}
# Keys whose value is one of a few names, checked here so that the message names the file.
_CONFIG_CHOICES = {"gbm": GBM_CHOICES, "meta_learner": META_LEARNERS, "image_model": IMAGE_MODELS}
# calibration may also be null, and is checked on its own; joint_model (a folder) and
# joint_params (a mapping) by the joint models' loader and trainer.
_CONFIG_KEYS |= set(_CONFIG_CHOICES) | {"calibration", "joint_model", "joint_params"}


def read_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """Read a JSON training configuration, checking its keys.

    Its keys are among ``featurizer_params``, ``image_params``, ``ehr_params``,
    ``fusion_params`` (each a mapping of parameters of that part of the model, checked by
    `ramultimodal.models.make_pipeline`), ``random_state``, ``gbm`` (the EHR, PRO and early
    fusion learner: ``"lightgbm"``, the default, or ``"xgboost"``) ``meta_learner``
    (stacking's: ``"logistic"``, the default, or ``"gbm"``), ``calibration`` (null,
    ``"sigmoid"`` or ``"isotonic"``: the fusion's recalibration, saved with it),
    ``image_model`` (``"cnn"``, the default, ``"joints"`` or ``"both"``:
    `ramultimodal.models.IMAGE_MODELS`), ``joint_model`` (the folder of trained joint
    models, from ``ramultimodal joints train``) and ``joint_params`` (parameters of the
    `~ramultimodal.image.JointScoreTransformer` trained on the cohort when there is no
    ``joint_model``).

    Raises
    ------
    ConfigError
        One line naming the file and the key that is wrong.

    Examples
    --------
    >>> import json, tempfile
    >>> path = tempfile.mkdtemp() + "/config.json"
    >>> _ = open(path, "w").write(json.dumps({"gbm": "xgboost", "ehr_params": {"max_depth": 3}}))
    >>> read_config(path)["gbm"]
    'xgboost'
    """
    if path is None:
        return {}
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"Cannot read the configuration {path}: {error}.") from None
    if not isinstance(config, dict) or set(config) - _CONFIG_KEYS:
        got = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ConfigError(
            f"{path}: a configuration is a JSON object with keys among "
            f"{sorted(_CONFIG_KEYS)}; got {got}."
        )
    for key, choices in _CONFIG_CHOICES.items():
        if key in config and config[key] not in choices:
            raise ConfigError(
                f"{path}: {key} must be one of {', '.join(map(repr, choices))}; "
                f"got {config[key]!r}."
            )
    from ramultimodal.fusion._calibration import CALIBRATION_METHODS

    calibration = config.get("calibration")
    if calibration is not None and calibration not in CALIBRATION_METHODS:
        raise ConfigError(
            f'{path}: "calibration" must be null, "sigmoid" or "isotonic"; got '
            f"{json.dumps(calibration)[:60]}."
        )
    return config


def _pipeline(kind: str, config: Mapping[str, Any] | None, verbose: int) -> Any:
    if kind not in TRAIN_KINDS:
        raise ConfigError(f"Unknown model {kind!r}; choose one of {', '.join(TRAIN_KINDS)}.")
    config = dict(config or {})
    config.pop("joint_params", None)  # the joint models' training, before the pipeline's
    return make_pipeline(kind, **config, verbose=verbose)


def train_model(
    data_dir: str | os.PathLike,
    kind: str,
    out_dir: str | os.PathLike,
    *,
    config: Mapping[str, Any] | None = None,
    source: str = "auto",
    date_format: str | None = None,
    errors: str = "raise",
    pacs: str | None = None,
    omop: Any = None,
    omop_schema: str | None = None,
    omop_cohort_sql: str | os.PathLike | None = None,
    horizon: str | int | None = None,
    censored: str = "exclude",
    overwrite: bool = False,
    verbose: int = 0,
    scheduler: Any = None,
) -> Path:
    """Train a pipeline (features and fusion) on a cohort directory and save it.

    The configuration and the output are checked before anything is read or trained, and
    the output folder is locked until the model is saved. Each stage (reading, features,
    each part of the fusion, saving) is logged at INFO level (`logging`, under the
    ``ramultimodal`` logger), with counts of patients and features only.

    Parameters
    ----------
    data_dir : path
        A cohort directory with labels (see `ramultimodal.io.read_cohort`).
    kind : {"late", "stacking", "early"}
    out_dir : path
        Folder to write the model to (`ramultimodal.fusion.save_model`).
    config : mapping, optional
        ``featurizer_params``, ``image_params``, ``ehr_params``, ``fusion_params``,
        ``random_state``, ``gbm``, ``meta_learner``, ``calibration``, ``image_model``,
        ``joint_model`` for `ramultimodal.models.make_pipeline`, and ``joint_params``.
        With ``image_model`` ``"joints"`` or ``"both"`` and no ``joint_model``, the joint
        models are trained first on the cohort's radiographs and ``joints.csv``
        (``joint_params`` for the `~ramultimodal.image.JointScoreTransformer`), then
        frozen for the fusion; both go into the model folder.
    source, date_format, errors, pacs, omop, omop_schema, omop_cohort_sql
        How to read the cohort directory (see `ramultimodal.io.read_cohort`); `pacs`, a
        DICOMweb server to find the radiographs on (docs/dicomweb.md); `omop`, an OMOP
        database to read the EHR from: only the codes the pipeline's featurizer uses are
        read from it (docs/omop.md).
    horizon, censored
        Train for "RA within this horizon" (``"6m"``, ``"12m"``, ``"24m"`` or days),
        derived from labels.csv's ``time_to_ra_days`` and ``event``
        (`ramultimodal.io.read_cohort`); ``training.json`` records it, and `evaluate_model`
        refuses another. None: labels.csv's ``ra`` (12 months).
    overwrite : bool, default False
        Replace `out_dir` if it holds a model saved by ramultimodal.
    verbose : int, default 0
        Progress bars on stderr when > 0: reading the cohort (`ramultimodal.io.read_cohort`)
        and the CNN's epochs (`ramultimodal.models.make_model`). They change neither the
        model nor its files.
    scheduler : str or dask.distributed.Client, optional
        A Dask scheduler address (``tcp://HOST:8786``) or a client: the LightGBM and
        XGBoost trees then train on its workers (`ramultimodal.distributed.trees_on_cluster`)
        and are saved as the same plain model folder. None: ``$RAMULTIMODAL_SCHEDULER``, a
        client already made in Python, else this process (`ramultimodal.distributed.dask_client`).

    Returns
    -------
    Path
        `out_dir`.

    Raises
    ------
    ConfigError
        For an unknown kind or a parameter its part of the model lacks.
    ramultimodal._staging.OutputError
        When `out_dir` may not be written (it exists and is not a ramultimodal model, or
        another process is writing it).
    DatasetError
        When the cohort directory is wrong or has no labels.
    """
    from ramultimodal.distributed import dask_client, trees_on_cluster
    from ramultimodal.fusion import save_model
    from ramultimodal.fusion._training_facts import outcome_facts
    from ramultimodal.io import horizon_days
    from ramultimodal.workflows._joint_training import joint_model_for, needs_joint_model

    pipeline = _pipeline(kind, config, verbose)
    out_dir = Path(out_dir)
    with output_lock(out_dir), dask_client(scheduler) as client:
        if client is not None:
            pipeline = trees_on_cluster(pipeline)
        if check_output(out_dir, "model", overwrite=overwrite):
            logger.warning("%s holds a model saved by ramultimodal; it will be replaced.", out_dir)
        records = read_cohort(
            data_dir,
            source=source,
            date_format=date_format,
            errors=errors,
            pacs=pacs,
            # A survival model learns from every patient's follow-up, censored ones too.
            horizon=None if kind in SURVIVAL_KINDS else horizon,
            censored=censored,
            verbose=verbose,
            **omop_options(pipeline, omop, omop_schema, omop_cohort_sql),
        )
        if records.labels is None:
            raise DatasetError(f"{data_dir} has no labels.csv: training needs the labels.")
        config = dict(config or {})
        if needs_joint_model(config):
            joint_model = joint_model_for(config, records, data_dir, verbose)
            # Trained just now: the pipeline takes it (one given was loaded already).
            if joint_model is not config.get("joint_model"):
                config["joint_model"] = joint_model
                pipeline = _pipeline(kind, config, verbose)
                if client is not None:
                    pipeline = trees_on_cluster(pipeline)
        y = records.labels.to_numpy()
        target: Any = y
        if kind in SURVIVAL_KINDS:
            target = _survival_target(records, data_dir, horizon, pipeline)
        # Told once read: a folder that cannot be read is one line, the error's.
        logger.info(
            "1/4 Read %d patients (%d with RA), %d events and %d radiographs from %s",
            len(records),
            int((y == 1).sum()),
            len(records.events),
            0 if records.images is None else len(records.images),
            data_dir,
        )
        logger.info("2/4 Features at each patient's index date ...")
        # The pipeline's steps one at a time, as Pipeline.fit does them (same objects, same
        # order, same numbers), so that each stage can be told as it starts.
        features = pipeline[:-1].fit_transform(records, y)
        fusion = pipeline[-1]
        logger.info(
            "3/4 Fitting the %s fusion on %d features; each part on the patients who have "
            "its modality:",
            kind,
            features.shape[1] - 1,  # the column of radiographs aside
        )
        for line in _parts(fusion, features):
            logger.info("    %s", line)
        fusion.fit(features, target)
        logger.info("4/4 Saving the model to %s", out_dir)
        facts = _training_facts(pipeline, records, features, data_dir, source)
        facts["outcome"] = outcome_facts(
            None if horizon is None else horizon_days(horizon),
            None if horizon is None else censored,
        )
        save_model(pipeline, out_dir, overwrite=overwrite, training=facts)
    return out_dir


def _survival_target(records: Any, data_dir: Any, horizon: Any, pipeline: Any) -> Any:
    """Time to RA for a survival model; its horizon (of predict_proba) set to the one asked."""
    from ramultimodal.fusion import survival_y
    from ramultimodal.io import HorizonError
    from ramultimodal.io._horizon import label_horizon_days

    if records.follow_up is None or records.follow_up["time_to_ra_days"].isna().any():
        raise HorizonError(
            f"{Path(data_dir) / 'labels.csv'} lacks time_to_ra_days and event (for some or "
            "all patients): a survival model is fitted on time to RA."
        )
    pipeline.set_params(model__horizon_days=label_horizon_days(horizon))
    return survival_y(records.follow_up)


def _training_facts(
    pipeline: Any, records: Any, features: pd.DataFrame, data_dir: Any, source: str
) -> dict[str, Any]:
    """The facts ``training.json`` keeps for the model card (counts, never an identifier)."""
    from ramultimodal.fusion import training_facts
    from ramultimodal.io._cohort_events import EVENT_SOURCES, events_source

    name, _ = events_source(Path(data_dir), source)
    return training_facts(
        pipeline, records, features, source=EVENT_SOURCES[name], data_name=Path(data_dir).name
    )


def _parts(fusion: Any, features: pd.DataFrame) -> list[str]:
    """What each part of `fusion` is, and how many patients it is fitted on (counts only)."""
    from ramultimodal.fusion._presence import modality_presence

    lines = []
    for name, estimator, columns in fusion.modalities:
        if isinstance(estimator, str) and estimator == "drop":
            continue
        selection = columns(features) if callable(columns) else columns
        data = features[selection]
        present = int(modality_presence(data).sum())
        if isinstance(estimator, str):  # "passthrough": early fusion's columns as they are
            what = f"its {data.shape[1]} features, into the fused model"
        elif isinstance(data, pd.Series):
            what = type(estimator).__name__
        else:
            what = f"{type(estimator).__name__} on {data.shape[1]} features"
        lines.append(f"{name}: {what}, {present} of {len(features)} patients")
    return lines


def omop_options(pipeline: Any, omop: Any, schema: str | None, cohort_sql: Any) -> dict[str, Any]:
    """`read_cohort`'s OMOP arguments, with the codes that `pipeline`'s featurizer uses
    (read only when the events come from an OMOP database)."""
    from ramultimodal.ehr import EHRFeaturizer

    featurizer = getattr(pipeline[0], "ehr", None) or EHRFeaturizer()
    return {
        "omop": omop,
        "omop_schema": schema,
        "omop_cohort_sql": cohort_sql,
        "omop_codes": featurizer.required_codes(),
    }


def _load_pipeline(model_dir: str | os.PathLike) -> Any:
    from ramultimodal.fusion import CohortPipeline, ModelFolderError, load_model

    model = load_model(model_dir)
    if not isinstance(model, CohortPipeline):
        raise ModelFolderError(
            f"{model_dir} holds a {type(model).__name__} without its feature extraction, "
            "which reads a feature table, not a cohort: save a CohortPipeline "
            "(ramultimodal.models.make_pipeline, or ramultimodal train) to predict cohorts."
        )
    return model


def predict_dataset(
    model_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    *,
    source: str = "auto",
    date_format: str | None = None,
    errors: str = "raise",
    pacs: str | None = None,
    omop: Any = None,
    omop_schema: str | None = None,
    omop_cohort_sql: str | os.PathLike | None = None,
    verbose: int = 0,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Predict every patient of a cohort directory with a saved model.

    `source`, `date_format`, `errors` and `pacs` say how to read the directory and `verbose` > 0
    shows its progress bars (see `ramultimodal.io.read_cohort`). With a `scheduler` (an
    address or a `dask.distributed.Client`; see `train_model`) the patients are scored in
    blocks on its workers (`ramultimodal.distributed.score_in_chunks`): the same table.

    Returns
    -------
    DataFrame
        Indexed by ``subject_id``: ``proba`` (the fused probability of RA within 12
        months), each modality's probability ``proba_<name>`` where the fusion has one, and
        ``has_<name>``, whether the patient had that modality.
    """
    from ramultimodal.distributed import dask_client, score_in_chunks

    with dask_client(scheduler) as client:
        model = _load_pipeline(model_dir)
        records = read_cohort(
            data_dir,
            source=source,
            date_format=date_format,
            errors=errors,
            pacs=pacs,
            verbose=verbose,
            **omop_options(model, omop, omop_schema, omop_cohort_sql),
        )
        return score_in_chunks(model, "predict_modalities", records, client=client)


def evaluate_model(
    model_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    report_dir: str | os.PathLike,
    *,
    source: str = "auto",
    date_format: str | None = None,
    errors: str = "raise",
    pacs: str | None = None,
    omop: Any = None,
    omop_schema: str | None = None,
    omop_cohort_sql: str | os.PathLike | None = None,
    horizon: str | int | None = None,
    censored: str = "exclude",
    n_boot: int = 1000,
    synthetic: bool | None = None,
    overwrite: bool = False,
    verbose: int = 0,
    scheduler: Any = None,
) -> Path:
    """Evaluate a saved model on a labelled cohort directory and write the report.

    The model is compared with each of its modalities alone (the fusion's own base models)
    and with the 2010 ACR/EULAR criteria, on the same patients. The report folder is
    checked and locked before the model is loaded. `source`, `date_format`, `errors`, `pacs`
    say how to read the directory and `verbose` > 0 shows its progress bars (see
    `ramultimodal.io.read_cohort`); `n_boot` is the number of bootstrap replicates of each
    confidence interval (`ramultimodal.evaluation.evaluate_predictions`). `horizon` and
    `censored` label the patients as `train_model` does; a horizon other than the one the
    model was trained for (``training.json``) is refused with a `HorizonError`. With a
    `scheduler` (see `train_model`) the features and the model's probabilities are computed
    in blocks of patients on its workers: the same numbers.

    Returns
    -------
    Path
        The report's ``report.html``.
    """
    from ramultimodal.distributed import dask_client

    with output_lock(report_dir), dask_client(scheduler) as client:
        check_output(report_dir, "report", overwrite=overwrite)
        read = {
            "source": source,
            "date_format": date_format,
            "errors": errors,
            "pacs": pacs,
            "horizon": horizon,
            "censored": censored,
            "verbose": verbose,
            "omop": (omop, omop_schema, omop_cohort_sql),
        }
        return _evaluate(
            model_dir, data_dir, report_dir, read, n_boot, synthetic, overwrite, client
        )


def _evaluate(
    model_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    report_dir: str | os.PathLike,
    read: dict[str, Any],
    n_boot: int,
    synthetic: bool | None,
    overwrite: bool,
    client: Any = None,
) -> Path:
    from ramultimodal.distributed import score_in_chunks
    from ramultimodal.ehr import ACREULARClassifier, LeidenRuleClassifier
    from ramultimodal.evaluation import (
        clinical_subgroups,
        evaluate_predictions,
        flag_shortfalls,
        recalibration_table,
        time_to_ra_evaluation,
        training_shortfall_notes,
        write_report,
    )
    from ramultimodal.fusion import read_training_facts

    model = _load_pipeline(model_dir)
    training = read_training_facts(model_dir)
    read = dict(read)
    days = _check_horizon(training, read.get("horizon"), model_dir)
    omop = omop_options(model, *read.pop("omop", (None, None, None)))
    records = read_cohort(data_dir, **read, **omop)
    if records.labels is None:
        raise DatasetError(f"{data_dir} has no labels.csv: evaluation needs the labels.")
    y = records.labels
    # Only the featurizer travels to the workers for the features (as model.features
    # computes them: every step but the last), then only the fusion for the probabilities.
    features = score_in_chunks(model[:-1], "transform", records, client=client)
    fusion = model._final_estimator
    explained = score_in_chunks(fusion, "predict_modalities", features, client=client)
    criteria = ACREULARClassifier().fit(features, y)
    predictions = {"ACR/EULAR 2010": criteria.predict_proba(features)[:, 1]}
    # The prognostic baseline beside the classification one, from the findings the record
    # holds (the others add 0 and are counted in its missing_items_). Score / 14, as the
    # criteria's score / 10: fitted on nothing of this cohort, so its calibration is honest.
    leiden = LeidenRuleClassifier(proba="scaled").fit(features, y)
    predictions["Leiden rule"] = leiden.predict_proba(features)[:, 1]
    for column in explained.columns:
        if column.startswith("proba_"):
            predictions[f"{column.removeprefix('proba_')} alone"] = explained[column].to_numpy()
    predictions[f"{type(fusion).__name__}"] = explained["proba"].to_numpy()
    evaluation = evaluate_predictions(
        y.to_numpy(),
        predictions,
        baseline="ACR/EULAR 2010",
        subgroups=clinical_subgroups(features),
        n_boot=n_boot,
    )
    evaluation.horizon_days = days
    follow_up = records.follow_up
    if follow_up is not None and follow_up["time_to_ra_days"].notna().all():
        # Time to RA where labels.csv has it: every score as a risk over the follow-up.
        name = type(fusion).__name__
        risks = {
            name: explained["risk" if "risk" in explained else "proba"].to_numpy(),
            "Leiden rule": leiden.decision_function(features),
            "ACR/EULAR 2010": predictions["ACR/EULAR 2010"],
        }
        evaluation.survival, evaluation.survival_figures = time_to_ra_evaluation(
            follow_up,
            risks,
            horizon_days=days,
            groups={"the Leiden rule's risk group": leiden.risk_group(features)},
            n_boot=n_boot,
        )
    # How far each model's probabilities are from calibrated on this cohort, and where a
    # sigmoid recalibration fitted on it (cross-fitted, so honest) would bring them.
    evaluation.recalibration = recalibration_table(y.to_numpy(), predictions)
    never = [item for item, n in leiden.missing_items_.items() if n == leiden.n_patients_]
    if never:
        evaluation.notes.append(
            f"Leiden rule: {len(never)} of {len(leiden.missing_items_)} of its items are in no "
            f"patient's record ({', '.join(never)}) and add 0 points, so its score is a lower "
            "bound of the published one; its probability is score / 14."
        )
    # The fusion against its own modalities on these patients, and what it recorded of its
    # out-of-fold predictions when it was trained (kept in the model folder).
    flag_shortfalls(
        evaluation,
        fusions=[type(fusion).__name__],
        modalities=[name for name in predictions if name.endswith(" alone")],
    )
    evaluation.notes.extend(training_shortfall_notes(fusion))
    unknown = int(explained["proba"].isna().sum())
    if unknown:
        evaluation.notes.append(
            f"{unknown} of {len(y)} patients had no modality (no radiograph, no fact of the "
            "record, no PRO): the fused model gives them no probability, so its metrics are "
            "over the other patients."
        )
    if synthetic is None:
        synthetic = is_synthetic_cohort(data_dir)
    from ramultimodal.workflows._explain import report_explanations

    with report_explanations(fusion, features, y.to_numpy()) as (figures, overlays):
        return write_report(
            evaluation,
            report_dir,
            title=f"ramultimodal: {type(fusion).__name__} on {Path(data_dir).name}",
            data_description=f"{len(y)} patients from {Path(data_dir).name}; model from "
            f"{Path(model_dir).name}. Held-out evaluation of a trained model.",
            synthetic=synthetic,
            gradcam_images=overlays,
            explanation_figures=figures,
            overwrite=overwrite,
            training=training,
            cohort=_cohort_facts(records, data_dir, read["source"]),
        )


def _check_horizon(training: dict | None, horizon: str | int | None, model_dir: Any) -> int:
    """The horizon asked, in days; refused when the model was trained for another."""
    from ramultimodal.io import HorizonError
    from ramultimodal.io._horizon import LABEL_HORIZON_DAYS, label_horizon_days

    asked = label_horizon_days(horizon)
    # An older folder (no training facts, or no outcome): trained on labels.csv's ra.
    outcome = (training or {}).get("outcome") or {}
    trained = int(outcome.get("horizon_days", LABEL_HORIZON_DAYS))
    if asked != trained:
        raise HorizonError(
            f"{model_dir} was trained for RA within {trained} days but is evaluated for RA "
            f"within {asked} days: its probabilities answer another question. Evaluate it "
            f"with --horizon {trained}, or train a model for {asked} days."
        )
    logger.info("Horizon: RA within %d days of the index date.", asked)
    return asked


def _cohort_facts(records: Any, data_dir: Any, source: str) -> dict[str, Any]:
    """The evaluation cohort in counts, for the model card (never an identifier)."""
    from ramultimodal.fusion import cohort_facts
    from ramultimodal.io._cohort_events import EVENT_SOURCES, events_source

    name, _ = events_source(Path(data_dir), source)
    return cohort_facts(
        records.labels,
        records.patients["index_date"],
        source=EVENT_SOURCES[name],
        data_name=Path(data_dir).name,
        n_events_read=len(records.events),
        n_radiographs_read=0 if records.images is None else len(records.images),
    )


def is_synthetic_cohort(data_dir: str | os.PathLike) -> bool:
    """Whether a cohort directory was written by the generator (its ``cohort.json`` says so)."""
    marker = Path(data_dir) / "cohort.json"
    if not marker.exists():
        return False
    try:
        return bool(json.loads(marker.read_text()).get("synthetic", False))
    except (OSError, json.JSONDecodeError):
        return False
