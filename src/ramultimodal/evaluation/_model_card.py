"""The TRIPOD+AI item table of a model card: every item once, filled or marked for the authors.

Each item of the checklist (`TRIPOD_AI_ITEMS`) gets what the pipeline knows of it (from the
evaluation and the model's saved training facts: `_model_card_methods`,
`_model_card_results`), what the authors told it (`StudyFacts`), both, or the mark "to be
completed by the authors". `write_report` writes the table into ``model_card.md`` and the
report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ramultimodal.evaluation._clinical import ClinicalEvaluation
from ramultimodal.evaluation._model_card_context import NOT_RECORDED, CardContext
from ramultimodal.evaluation._model_card_items import TRIPOD_AI_ITEMS
from ramultimodal.evaluation._model_card_methods import METHODS_ITEMS
from ramultimodal.evaluation._model_card_results import RESULTS_ITEMS
from ramultimodal.evaluation._model_card_study import StudyFacts

__all__ = ["TO_COMPLETE", "tripod_ai_markdown", "tripod_ai_table"]

#: The mark of an item that only the authors can fill, and have not.
TO_COMPLETE = "to be completed by the authors"

_FILLERS = {**METHODS_ITEMS, **RESULTS_ITEMS}


def tripod_ai_table(
    evaluation: ClinicalEvaluation,
    *,
    training: Mapping[str, Any] | None = None,
    study: StudyFacts | None = None,
    cohort: Mapping[str, Any] | None = None,
    synthetic: bool = False,
    data_description: str = "",
) -> pd.DataFrame:
    """Every TRIPOD+AI item, once, with what fills it and by whom.

    Parameters
    ----------
    evaluation : ClinicalEvaluation
        From `evaluate_predictions`.
    training : mapping, optional
        The model's training facts (`ramultimodal.fusion.read_training_facts`); None: not
        recorded, and the card says so.
    study : StudyFacts, optional
        The authors' answers to the items only they know.
    cohort : mapping, optional
        The evaluation cohort in counts (`ramultimodal.fusion.cohort_facts`), when it is
        not the development cohort.
    synthetic : bool, default False
    data_description : str, default ""

    Returns
    -------
    DataFrame
        One row per item in the checklist's order: ``item``, ``section``, ``topic``,
        ``filled_by`` (``"ramultimodal"``, ``"authors"``, ``"ramultimodal + authors"`` or
        ``"to be completed by the authors"``) and ``content``.

    Examples
    --------
    >>> import numpy as np
    >>> from ramultimodal.evaluation import evaluate_predictions
    >>> y = np.array([0, 1] * 20)
    >>> evaluation = evaluate_predictions(y, {"model": y * 0.5 + 0.25}, n_boot=20)
    >>> table = tripod_ai_table(evaluation, study=StudyFacts(ethics="Approved (ref. 1)"))
    >>> table.set_index("item").loc["17", "content"]
    'Approved (ref. 1)'
    >>> table.set_index("item").loc["18a", "filled_by"]
    'to be completed by the authors'
    >>> table["item"].is_unique and len(table) == len(TRIPOD_AI_ITEMS)
    True
    """
    context = CardContext(
        evaluation,
        training=training,
        cohort=cohort,
        synthetic=synthetic,
        data_description=data_description,
    )
    answers = study.answers() if study is not None else {}
    rows = []
    for item in TRIPOD_AI_ITEMS:
        filler = _FILLERS.get(item.item)
        known = filler(context) if filler is not None else None
        said = answers.get(item.item)
        if known and said:
            filled_by, content = "ramultimodal + authors", f"{said} (ramultimodal: {known})"
        elif said:
            filled_by, content = "authors", said
        elif known:
            filled_by, content = "ramultimodal", known
        else:
            filled_by, content = TO_COMPLETE, f"To be completed by the authors: {item.asks}."
        rows.append(
            {
                "item": item.item,
                "section": item.section,
                "topic": item.topic,
                "filled_by": filled_by,
                "content": content,
            }
        )
    return pd.DataFrame(rows)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def tripod_ai_markdown(table: pd.DataFrame, training: Mapping[str, Any] | None = None) -> str:
    """The item table as Markdown, then every hyper-parameter of the model.

    Examples
    --------
    >>> table = pd.DataFrame([{"item": "1", "section": "Title", "topic": "Title",
    ...                        "filled_by": TO_COMPLETE, "content": "To be completed."}])
    >>> print(tripod_ai_markdown(table).splitlines()[6])
    | 1 | Title | to be completed by the authors | To be completed. |
    """
    counts = table["filled_by"].value_counts()
    summary = ", ".join(f"{counts[who]} {who}" for who in counts.index)
    lines = [
        "## TRIPOD+AI checklist",
        "",
        "Collins et al., BMJ 2024;385:e078378; items paraphrased. Items: " + summary + ".",
        "",
        "| item | topic | filled by | what |",
        "| --- | --- | --- | --- |",
    ]
    lines.extend(
        f"| {row.item} | {_cell(row.topic)} | {row.filled_by} | {_cell(row.content)} |"
        for row in table.itertuples()
    )
    return "\n".join(lines) + "\n\n" + hyperparameters_markdown(training)


def hyperparameters_markdown(training: Mapping[str, Any] | None) -> str:
    """The model card's appendix: every hyper-parameter of the model (and of each model of a
    development comparison), then the versions it was trained with."""
    lines = ["## Hyper-parameters", ""]
    facts = training or {}
    params, models = facts.get("model", {}).get("parameters"), facts.get("models")
    if isinstance(params, Mapping) and params:
        primary = facts.get("model", {}).get("evaluated_as")
        if isinstance(models, Mapping) and primary:
            lines += [f"### {primary}", ""]
        lines += _parameter_block(params)
    else:
        lines.append(f"Hyper-parameters: {NOT_RECORDED}.")
    if isinstance(models, Mapping):
        for name, model in models.items():
            lines += ["", f"### {name}", "", *_parameter_block(model.get("parameters") or {})]
    versions = facts.get("versions")
    if isinstance(versions, Mapping):
        shown = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
        commit = facts.get("git_commit")
        lines += [
            "",
            f"Trained {facts.get('date')} with {shown}"
            + (f"; ramultimodal commit {commit}" if commit else "")
            + ".",
        ]
    return "\n".join(lines) + "\n"


def _parameter_block(params: Mapping[str, Any]) -> list[str]:
    """A model's hyper-parameters as a Markdown code block, one ``name = JSON`` a line."""
    return ["```", *(f"{name} = {json.dumps(value)}" for name, value in params.items()), "```"]
