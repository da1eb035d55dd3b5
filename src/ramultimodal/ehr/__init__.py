"""EHR and patient-reported outcomes: clinical scores, the criteria, features.

Never imports torch. The estimators are loaded on first use (PEP 562), so that the clinical
scores do not pay for importing scikit-learn. The code sets and units these use live in
`ramultimodal.terminology`.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ramultimodal.ehr import scores
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
    "feature_modality": "ramultimodal.ehr._modalities",
}

if TYPE_CHECKING:  # pragma: no cover
    from ramultimodal.ehr._acr_eular import ACREULARClassifier
    from ramultimodal.ehr._featurizer import EHRFeaturizer
    from ramultimodal.ehr._modalities import feature_modality

__all__ = [
    "ACREULARClassifier",
    "EHRFeaturizer",
    "acr_eular_2010_score",
    "cdai",
    "das28_category",
    "das28_crp",
    "das28_esr",
    "feature_modality",
    "haq_di",
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
