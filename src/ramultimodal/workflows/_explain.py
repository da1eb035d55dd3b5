"""Predict with reasons: ``ramultimodal predict --explain`` and its per-patient pages.

`explain_dataset` predicts a cohort with a saved model, as `predict_dataset` does, and adds
to each row why: the explained log-odds, each modality's contribution and the baseline
(`ramultimodal.evaluation.explain_fusion`), and the largest contributions in words
(``reason_1`` .. ``reason_5``). `ExplainedCohort.write_patient_reports` writes one HTML
page per patient beside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ramultimodal.io import read_cohort

__all__ = ["ExplainedCohort", "explain_dataset", "report_explanations"]

logger = logging.getLogger(__name__)


@dataclass
class ExplainedCohort:
    """What `explain_dataset` returns.

    Attributes
    ----------
    table : DataFrame
        Indexed by ``subject_id``: `predict_dataset`'s columns (``proba``,
        ``proba_<name>``, ``has_<name>``), then ``logit``, ``contribution_<name>``,
        ``contribution_baseline``, ``explained`` and ``reason_1`` .. ``reason_<k>``.
    features : DataFrame
        The features the model read, one row per patient.
    fusion : estimator
        The fitted fusion (the model folder's last step).
    """

    table: pd.DataFrame
    features: pd.DataFrame
    fusion: Any

    def write_patient_reports(
        self,
        out_dir: str | os.PathLike,
        *,
        synthetic: bool = False,
        overwrite: bool = False,
    ) -> Path:
        """One HTML page per patient (``patient-0001.html``...) and ``index.html``.

        Pages are numbered in the order of `table`; the ``subject_id`` appears inside the
        pages and the index, never in a file name or a message. Returns the index's path.
        """
        from ramultimodal.evaluation._patient_report import (
            explain_cnn,
            explain_joints,
            write_patient_reports,
        )

        cnn = explain_cnn(self.fusion)
        return write_patient_reports(
            self.table,
            self.features,
            out_dir,
            modality_names=list(self.fusion.modality_names_),
            cnn=None if cnn is None else cnn[1],
            synthetic=synthetic,
            overwrite=overwrite,
            joints=explain_joints(self.fusion),  # the hand diagrams, with a joints modality
        )


def explain_dataset(
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
    n_reasons: int = 5,
    verbose: int = 0,
) -> ExplainedCohort:
    """Predict every patient of a cohort directory with a saved model, and say why.

    Parameters
    ----------
    model_dir, data_dir, source, date_format, errors, pacs, omop, omop_schema, \
omop_cohort_sql, verbose
        As for `predict_dataset`.
    n_reasons : int, default 5
        How many reasons per patient.

    Returns
    -------
    ExplainedCohort
        Its ``table`` holds, per patient, ``sum(contribution_*) == logit``: the fused
        log-odds (the calibrated ones when the model has a sigmoid calibration; those
        before calibration for an isotonic one, as ``explained`` says).
    """
    from ramultimodal.evaluation._contributions import explain_fusion
    from ramultimodal.evaluation._reasons import reasons
    from ramultimodal.workflows._model_dir import _load_pipeline, omop_options

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
    features = model.features(records)
    fusion = model._final_estimator
    table = fusion.predict_modalities(features)
    explanation = explain_fusion(fusion, features)
    table = table.join(explanation.modalities).join(reasons(explanation, n_reasons))
    return ExplainedCohort(table, features, fusion)


@contextlib.contextmanager
def report_explanations(
    fusion: Any, features: pd.DataFrame, y_true: Any
) -> Iterator[tuple[dict[str, Any], list[Path]]]:
    """The evaluation report's explanation figures and Grad-CAM overlays of `fusion`.

    The overlays are drawn with the fusion's own CNN into a temporary folder that lasts
    for the block (the report embeds them). A fusion whose models cannot be explained
    (a base model that is neither trees nor linear) gets no figures, and a warning.
    """
    from ramultimodal.evaluation._explain_report import explanation_figures, gradcam_overlays
    from ramultimodal.evaluation._patient_report import explain_cnn

    try:
        figures, explanation = explanation_figures(fusion, features, y_true)
    except TypeError as error:
        logger.warning("The report has no explanation figures: %s", error)
        figures, explanation = {}, None
    with tempfile.TemporaryDirectory() as scratch:
        cnn = explain_cnn(fusion)
        overlays = []
        if cnn is not None and explanation is not None:
            overlays = gradcam_overlays(
                cnn[1], cnn[0], features, explanation.modalities, y_true, Path(scratch)
            )
        yield figures, overlays
