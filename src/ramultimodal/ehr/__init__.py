"""EHR and patient-reported outcomes: clinical scores, the criteria and the
Leiden rule, features.

Never imports torch. The estimators are loaded on first use (PEP 562), so that the clinical
scores do not pay for importing scikit-learn. The code sets and units these use live in
`ramultimodal.terminology`.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ramultimodal.ehr import scores
from ramultimodal.ehr._leiden_score import leiden_score
from ramultimodal.ehr.scores import (
    acr_eular_2010_score,
    cdai,
    das28_category,
    das28_crp,
    das28_esr,
    haq_di,
    rapid3,
    rapid3_category,
    sdai,
)

_LAZY = {
    "ACREULARClassifier": "ramultimodal.ehr._acr_eular",
    "EHRFeaturizer": "ramultimodal.ehr._featurizer",
    "LeidenRuleClassifier": "ramultimodal.ehr._leiden",
    "feature_modality": "ramultimodal.ehr._modalities",
}

if TYPE_CHECKING:  # pragma: no cover
    from ramultimodal.ehr._acr_eular import ACREULARClassifier
    from ramultimodal.ehr._featurizer import EHRFeaturizer
    from ramultimodal.ehr._leiden import LeidenRuleClassifier
    from ramultimodal.ehr._modalities import feature_modality

__all__ = [
    "ACREULARClassifier",
    "EHRFeaturizer",
    "LeidenRuleClassifier",
    "acr_eular_2010_score",
    "cdai",
    "das28_category",
    "das28_crp",
    "das28_esr",
    "feature_modality",
    "haq_di",
    "leiden_score",
    "rapid3",
    "rapid3_category",
    "scores",
    "sdai",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ramultimodal.ehr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
