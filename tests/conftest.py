"""Shared fixtures: the real-data folder (skipped when absent, as in a user's clone)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "real-data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Path to ../shared/real-data; the test is skipped when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip("../shared/real-data is absent (as in a user's clone)")
    return REAL_DATA
