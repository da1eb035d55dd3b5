"""Test-session settings, loaded before any test or doctest module.

One BLAS/OpenMP thread per library: the suite's models are tiny, and on a busy machine
(CI runners, a laptop doing other work) OpenMP's spinning threads make a tiny CNN step
tens of times slower than on one thread.
"""

import os

for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
