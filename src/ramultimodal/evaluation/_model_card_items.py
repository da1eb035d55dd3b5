"""The TRIPOD+AI checklist: what a report of a prediction model must say, item by item.

Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated guidance for reporting
clinical prediction models that use regression or machine learning methods. BMJ
2024;385:e078378. 27 items, several with sub-items; the wording here is a short paraphrase
of each item for the card's table, not the statement's text: read the statement itself
(https://www.tripod-statement.org) when completing a card.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["TRIPOD_AI_ITEMS", "TripodItem"]


class TripodItem(NamedTuple):
    """One item of the TRIPOD+AI checklist."""

    item: str
    section: str
    topic: str
    asks: str


_ITEMS = [
    ("1", "Title", "Title", "the study as developing or evaluating a prediction model, the "
     "target population and the outcome"),
    ("2", "Abstract", "Abstract", "a structured summary (TRIPOD+AI for Abstracts)"),
    ("3a", "Introduction", "Background", "the healthcare context, the rationale for a "
     "model, and existing models"),
    ("3b", "Introduction", "Background", "the target population, the intended purpose of "
     "the model in the care pathway, and its intended users"),
    ("3c", "Introduction", "Background", "known health inequalities between groups"),
    ("4", "Introduction", "Objectives", "the objectives: development, evaluation or both"),
    ("5a", "Methods", "Data", "the sources of the data and why they were chosen; their "
     "representativeness"),
    ("5b", "Methods", "Data", "the dates of the data: start and end of accrual, end of "
     "follow-up"),
    ("6a", "Methods", "Participants", "the study setting, number and location of centres"),
    ("6b", "Methods", "Participants", "the eligibility criteria"),
    ("6c", "Methods", "Participants", "treatments received, if relevant"),
    ("7", "Methods", "Data preparation", "pre-processing and quality checks of the data"),
    ("8a", "Methods", "Outcome", "the outcome, its time horizon, and how it was assessed"),
    ("8b", "Methods", "Outcome", "qualifications of the outcome assessors, if the outcome "
     "needs subjective judgement"),
    ("8c", "Methods", "Outcome", "blinding of the outcome assessment"),
    ("9a", "Methods", "Predictors", "the choice of the initial predictors and any "
     "pre-selection"),
    ("9b", "Methods", "Predictors", "the definition of each predictor, how and when it was "
     "measured"),
    ("9c", "Methods", "Predictors", "qualifications of the predictor assessors, if "
     "subjective"),
    ("10", "Methods", "Sample size", "how the study size was arrived at"),
    ("11", "Methods", "Missing data", "how missing data were handled, and why"),
    ("12a", "Methods", "Analytical methods", "how the data were used (development, "
     "evaluation), partitions and resampling"),
    ("12b", "Methods", "Analytical methods", "how predictors were handled in the analyses"),
    ("12c", "Methods", "Analytical methods", "the type of model, its building steps, "
     "hyper-parameters and their tuning, internal validation"),
    ("12d", "Methods", "Analytical methods", "how heterogeneity across clusters (centres, "
     "settings) was handled"),
    ("12e", "Methods", "Analytical methods", "the performance measures, with their "
     "rationale, and how models were compared"),
    ("12f", "Methods", "Analytical methods", "any model updating (recalibration) after "
     "evaluation"),
    ("12g", "Methods", "Analytical methods", "for evaluation: how the predictions were "
     "calculated"),
    ("13", "Methods", "Class imbalance", "methods used for class imbalance, and recalibration"),
    ("14", "Methods", "Fairness", "approaches to address model fairness"),
    ("15", "Methods", "Model output", "the model's output (probabilities, classes) and any "
     "thresholds"),
    ("16", "Methods", "Training versus evaluation", "differences between the development "
     "and evaluation data (setting, eligibility, outcome, predictors)"),
    ("17", "Methods", "Ethical approval", "the ethics committee and consent"),
    ("18a", "Open science", "Funding", "the sources of funding and the funders' role"),
    ("18b", "Open science", "Conflicts of interest", "the authors' conflicts of interest"),
    ("18c", "Open science", "Protocol", "where the protocol can be read"),
    ("18d", "Open science", "Registration", "the study's registration"),
    ("18e", "Open science", "Data sharing", "availability of the data"),
    ("18f", "Open science", "Code sharing", "availability of the analytical code"),
    ("19", "Patient and public involvement", "Patient and public involvement", "patient and "
     "public involvement in the study"),
    ("20a", "Results", "Participants", "the flow of participants: numbers with and without "
     "the outcome, follow-up"),
    ("20b", "Results", "Participants", "the characteristics of the participants, overall "
     "and by data source, with missing data"),
    ("20c", "Results", "Participants", "for evaluation: the distribution of key predictors "
     "compared with the development data"),
    ("21", "Results", "Model development", "the number of participants and outcome events in "
     "each analysis"),
    ("22", "Results", "Model specification", "the full model, or how to get it (code, "
     "files, interface)"),
    ("23a", "Results", "Model performance", "performance with confidence intervals, in key "
     "subgroups too"),
    ("23b", "Results", "Model performance", "heterogeneity of performance across clusters"),
    ("24", "Results", "Model updating", "the results of any model updating"),
    ("25", "Discussion", "Interpretation", "the overall interpretation, fairness included"),
    ("26", "Discussion", "Limitations", "the limitations of the study"),
    ("27a", "Discussion", "Usability", "how poor-quality or missing input data are handled "
     "in use"),
    ("27b", "Discussion", "Usability", "whether users must handle the input data, and the "
     "expertise needed"),
    ("27c", "Discussion", "Usability", "future research and generalisability"),
]  # fmt: skip

#: Every item and sub-item of the checklist, in its order.
TRIPOD_AI_ITEMS: tuple[TripodItem, ...] = tuple(TripodItem(*item) for item in _ITEMS)
