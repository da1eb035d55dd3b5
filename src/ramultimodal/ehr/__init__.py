"""EHR and patient-reported outcomes: code sets, units, clinical scores, features.

Never imports torch.
"""

from ramultimodal.ehr import codes

__all__ = ["codes"]
