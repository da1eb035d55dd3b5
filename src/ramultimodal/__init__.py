"""ramultimodal: early detection of rheumatoid arthritis from radiographs, EHR and PROs.

The public estimators are loaded lazily so that ``import ramultimodal`` stays fast and
does not import torch; torch is imported on first use of the image package.

Messages go to the ``ramultimodal`` logger (`logging`), which shows nothing until the
application configures logging, as the ``ramultimodal`` command does; progress bars (tqdm,
on stderr) are shown by the functions given ``verbose > 0``.

Examples
--------
>>> import ramultimodal
>>> ramultimodal.__version__
'0.1.0.dev0'
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# A library leaves it to the application to show its messages (the logging HOWTO,
# "Configuring Logging for a Library").
logging.getLogger(__name__).addHandler(logging.NullHandler())

# Public name -> module that defines it. Resolved on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "CNNImageClassifier": "ramultimodal.image",
    "EHRFeaturizer": "ramultimodal.ehr",
    "ACREULARClassifier": "ramultimodal.ehr",
    "LeidenRuleClassifier": "ramultimodal.ehr",
    "LateFusionClassifier": "ramultimodal.fusion",
    "StackingFusionClassifier": "ramultimodal.fusion",
    "EarlyFusionClassifier": "ramultimodal.fusion",
    "CohortPipeline": "ramultimodal.fusion",
    "save_model": "ramultimodal.fusion",
    "load_model": "ramultimodal.fusion",
    "load_dataset": "ramultimodal._dataset",
    "DatasetError": "ramultimodal.io",
    "InputError": "ramultimodal._errors",
    "CohortRecords": "ramultimodal.io",
    "read_cohort": "ramultimodal.io",
    "make_cohort": "ramultimodal.synthetic",
    "write_cohort": "ramultimodal.synthetic",
}

__all__ = [
    "ACREULARClassifier",
    "CNNImageClassifier",
    "CohortPipeline",
    "CohortRecords",
    "DatasetError",
    "EHRFeaturizer",
    "EarlyFusionClassifier",
    "InputError",
    "LateFusionClassifier",
    "LeidenRuleClassifier",
    "StackingFusionClassifier",
    "__version__",
    "load_dataset",
    "load_model",
    "make_cohort",
    "read_cohort",
    "save_model",
    "write_cohort",
]

if TYPE_CHECKING:  # pragma: no cover
    from ramultimodal._dataset import load_dataset
    from ramultimodal._errors import InputError
    from ramultimodal.ehr import ACREULARClassifier, EHRFeaturizer, LeidenRuleClassifier
    from ramultimodal.fusion import (
        CohortPipeline,
        EarlyFusionClassifier,
        LateFusionClassifier,
        StackingFusionClassifier,
        load_model,
        save_model,
    )
    from ramultimodal.image import CNNImageClassifier
    from ramultimodal.io import CohortRecords, DatasetError, read_cohort
    from ramultimodal.synthetic import make_cohort, write_cohort


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ramultimodal' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
