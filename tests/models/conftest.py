"""Fixtures for the model tests: synthetic price series and the real EIA snapshot."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from model_series import load_eia, make_prices


@pytest.fixture()
def prices() -> pd.Series:
    return make_prices()


@pytest.fixture(scope="session")
def wti(eia_dir: Path) -> pd.Series:
    return load_eia(eia_dir, "WTI")


@pytest.fixture(scope="session")
def ng(eia_dir: Path) -> pd.Series:
    return load_eia(eia_dir, "NG")
