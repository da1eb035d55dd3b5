"""`StudyFacts`: what only the authors of a study know, for the TRIPOD+AI model card.

The pipeline knows its data in counts, its predictors, its model and its performance; it
cannot know the study's title, setting, ethics approval, funding or registration. The card
marks those items "to be completed by the authors" until a `StudyFacts` fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from ramultimodal.evaluation._model_card_items import TRIPOD_AI_ITEMS

__all__ = ["StudyFacts"]

#: The TRIPOD+AI item each field of `StudyFacts` answers.
STUDY_ITEMS: dict[str, str] = {
    "title": "1",
    "abstract": "2",
    "background": "3a",
    "intended_use": "3b",
    "health_inequalities": "3c",
    "objectives": "4",
    "data_sources": "5a",
    "setting": "6a",
    "eligibility": "6b",
    "treatments": "6c",
    "outcome_assessment": "8b",
    "outcome_blinding": "8c",
    "predictor_assessment": "9c",
    "sample_size": "10",
    "clusters": "12d",
    "fairness": "14",
    "ethics": "17",
    "funding": "18a",
    "conflicts_of_interest": "18b",
    "protocol": "18c",
    "registration": "18d",
    "data_sharing": "18e",
    "code_sharing": "18f",
    "patient_involvement": "19",
    "interpretation": "25",
    "limitations": "26",
    "usability": "27b",
    "future_research": "27c",
}


@dataclass
class StudyFacts:
    """The study's own facts for the model card's TRIPOD+AI items that only its authors know.

    Every field is optional text; an empty one leaves its item "to be completed by the
    authors" (or, where the pipeline knows part of it, the pipeline's part alone). `items`
    answers any item by its number ("12d", "20c"...), the fields' items included; it wins
    over the field.

    Parameters
    ----------
    title : str
        Item 1: the study as developing or evaluating a prediction model, population and
        outcome.
    authors : str
        Who wrote the card (shown at its top).
    abstract, background, intended_use, health_inequalities, objectives : str
        Items 2, 3a, 3b (the target population, where in the care pathway, who uses it), 3c
        and 4.
    data_sources, setting, eligibility, treatments : str
        Items 5a (why these data; their representativeness), 6a, 6b, 6c.
    outcome_assessment, outcome_blinding, predictor_assessment, sample_size : str
        Items 8b, 8c, 9c, 10.
    clusters, fairness : str
        Items 12d (heterogeneity across centres) and 14.
    ethics, funding, conflicts_of_interest, protocol, registration : str
        Items 17, 18a, 18b, 18c, 18d.
    data_sharing, code_sharing, patient_involvement : str
        Items 18e, 18f, 19.
    interpretation, limitations, usability, future_research : str
        Items 25, 26, 27b, 27c.
    items : mapping of str to str
        Any item by its number.

    Examples
    --------
    >>> study = StudyFacts(title="Early RA detection: development of a fused model",
    ...                    ethics="Approved by the X ethics committee (ref. 123)")
    >>> study.answers()["17"]
    'Approved by the X ethics committee (ref. 123)'
    >>> sorted(StudyFacts(items={"12d": "one centre"}).answers())
    ['12d']
    """

    title: str = ""
    authors: str = ""
    abstract: str = ""
    background: str = ""
    intended_use: str = ""
    health_inequalities: str = ""
    objectives: str = ""
    data_sources: str = ""
    setting: str = ""
    eligibility: str = ""
    treatments: str = ""
    outcome_assessment: str = ""
    outcome_blinding: str = ""
    predictor_assessment: str = ""
    sample_size: str = ""
    clusters: str = ""
    fairness: str = ""
    ethics: str = ""
    funding: str = ""
    conflicts_of_interest: str = ""
    protocol: str = ""
    registration: str = ""
    data_sharing: str = ""
    code_sharing: str = ""
    patient_involvement: str = ""
    interpretation: str = ""
    limitations: str = ""
    usability: str = ""
    future_research: str = ""
    items: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {item.item for item in TRIPOD_AI_ITEMS}
        unknown = sorted(set(self.items) - known)
        if unknown:
            raise ValueError(
                f"StudyFacts.items: {', '.join(map(str, unknown))} is not a TRIPOD+AI item; "
                f"the items are {', '.join(sorted(known))}."
            )
        for each in fields(self):
            value = getattr(self, each.name)
            if each.name != "items" and not isinstance(value, str):
                raise TypeError(f"StudyFacts.{each.name} is text; got {type(value).__name__}.")

    def answers(self) -> dict[str, str]:
        """The authors' answer to each item they filled, by item number."""
        answers = {
            item: getattr(self, name).strip()
            for name, item in STUDY_ITEMS.items()
            if getattr(self, name).strip()
        }
        answers.update({item: str(text).strip() for item, text in self.items.items() if text})
        return answers
