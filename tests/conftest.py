"""Shared fixtures: the real-data folder (skipped when absent, as in a user's clone), and one
BLAS thread for the files of tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "real-data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Path to ../shared/real-data; the test is skipped when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip("../shared/real-data is absent (as in a user's clone)")
    return REAL_DATA


@pytest.fixture
def one_blas_thread():
    """One BLAS thread: tiny logistic regressions are 10-20x slower when BLAS threads fight
    a busy CPU. Files of tiny models use it with ``pytest.mark.usefixtures``."""
    with threadpool_limits(1):
        yield
