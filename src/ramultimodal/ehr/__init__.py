"""EHR and patient-reported outcomes: code sets, units, clinical scores, features.

Never imports torch.
"""

from ramultimodal.ehr import codes, scores
from ramultimodal.ehr._acr_eular import ACREULARClassifier
from ramultimodal.ehr._featurizer import EHRFeaturizer
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

__all__ = [
    "ACREULARClassifier",
    "EHRFeaturizer",
    "acr_eular_2010_score",
    "cdai",
    "codes",
    "das28_category",
    "das28_crp",
    "das28_esr",
    "haq_di",
    "rapid3",
    "rapid3_category",
    "scores",
    "sdai",
]
