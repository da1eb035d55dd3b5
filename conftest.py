"""Test-session settings, loaded before any test or doctest module.

One BLAS/OpenMP thread per library: the suite's models are tiny, and on a busy machine
(CI runners, a laptop doing other work) OpenMP's spinning threads make a tiny CNN step
tens of times slower than on one thread.
"""

import importlib.util
import os

for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# The survival metrics' examples need scikit-survival (a dependency in pyproject.toml); in an
# environment without it their doctests are not collected (their tests skip themselves).
if importlib.util.find_spec("sksurv") is None:
    collect_ignore = [
        "src/ramultimodal/evaluation/_survival.py",
        "src/ramultimodal/evaluation/_survival_calibration.py",
        "src/ramultimodal/evaluation/_survival_plots.py",
    ]
