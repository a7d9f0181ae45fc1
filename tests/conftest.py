"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def eia_dir() -> Path:
    """The offline EIA snapshot beside the project (``../shared/data/eia``).

    Tests that need real data use this; in CI the folder is always there, so a missing folder
    fails rather than skips.
    """
    path = REPO.parent / "shared" / "data" / "eia"
    if not (path / "wti-daily.csv").exists():
        if IN_CI:
            pytest.fail(f"real data folder missing: {path}")
        pytest.skip(f"real data folder missing: {path}")
    return path


# CI explores the same hypothesis examples on every run (a red build must be reproducible);
# local runs keep drawing new examples, which is how bugs are found.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, deadline=None,
                                          print_blob=True)
    if IN_CI:
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
