"""The featurizer's two modalities, the record (``ehr``) and the patient-reported outcomes.

The features of the concepts of `ramultimodal.terminology.codes.PRO_CONCEPTS` are the
``pro`` modality (`feature_modality`), the others the ``ehr`` one. A patient has a modality
when at least one usable fact of it is dated within the longest look-back window
(`modality_presence`); every feature of a modality the patient lacks is NaN, so that the
fusion models see the modality as absent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ramultimodal.ehr._aggregate import HAQ_ITEM
from ramultimodal.terminology.codes import PRO_CONCEPTS

__all__ = ["PRO_FEATURE", "feature_modality", "modality_presence"]

#: Feature names of the patient-reported outcomes: those that start with a PRO concept
#: (``pain_last_90d``, ``haq_di_score``, ``morning_stiffness_missing``).
PRO_FEATURE = re.compile(rf"^(?:{'|'.join(PRO_CONCEPTS)})(?:_|$)")


def feature_modality(name: str) -> str:
    """The modality of one of the featurizer's features: ``"pro"`` or ``"ehr"``.

    Examples
    --------
    >>> feature_modality("haq_di_score"), feature_modality("crp_last_90d")
    ('pro', 'ehr')
    """
    return "pro" if PRO_FEATURE.search(name) else "ehr"


def modality_presence(
    timed: pd.DataFrame,
    codes: np.ndarray,
    n: int,
    *,
    lookback_days: Sequence[int | None],
    concepts: Sequence[str],
    valued_concepts: Sequence[str],
) -> dict[str, np.ndarray]:
    """Which patients (rows) have a usable fact of each modality in the longest window.

    A usable fact is an event that a feature reads: of one of the aggregated concepts
    (`concepts`), with a value or a qualitative result when the concept has values (a CRP
    without a result tells nothing), or a HAQ-DI item with its answer. The mimics'
    diagnoses, a smoking status the featurizer cannot read, age and sex are not facts of a
    modality here.
    """
    longest = None if None in lookback_days else max(lookback_days)
    facts = timed if longest is None else timed.loc[timed["days_before"] <= longest]
    concept = facts["concept"]
    valued = concept.isin(valued_concepts).to_numpy(dtype=bool)
    # A qualitative result ("RF positive") is a value of its concept too.
    has_value = (facts["numeric_value"].notna() | facts["result"].notna()).to_numpy(dtype=bool)
    usable = concept.isin(concepts).to_numpy(dtype=bool) & (~valued | has_value)
    haq_items = [code for code in codes if HAQ_ITEM.search(code)]
    answered = facts["code"].isin(haq_items).to_numpy(dtype=bool) & has_value
    reported = concept.isin(PRO_CONCEPTS).to_numpy(dtype=bool)
    rows = facts["row"].to_numpy()
    present = {}
    for modality, mask in (
        ("ehr", usable & ~reported),
        ("pro", (usable & reported) | answered),
    ):
        has = np.zeros(n, dtype=bool)
        has[rows[mask]] = True
        present[modality] = has
    return present
