"""Fixtures of the report tests: a real store filled through the installed ``energy-nb`` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from energy_nb.data.store import PriceStore

#: The installed console script of the venv running the tests.
SCRIPT = Path(sys.executable).parent / "energy-nb"


def run_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``energy-nb`` with ``ENERGY_NB_HOME=home``."""
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          check=False, timeout=timeout)


@pytest.fixture(scope="session")
def report_home(tmp_path_factory: pytest.TempPathFactory, eia_dir: Path) -> Path:
    """An ``ENERGY_NB_HOME`` whose store holds the real EIA data (``energy-nb data init``)."""
    home = tmp_path_factory.mktemp("report-home")
    res = run_cli(home, "data", "init", "--offline-dir", str(eia_dir))
    assert res.returncode == 0, res.stderr
    return home


@pytest.fixture(scope="session")
def report_store(report_home: Path) -> PriceStore:
    """The store of :func:`report_home`."""
    return PriceStore(report_home / "energy_nb.sqlite")


@pytest.fixture(scope="session")
def report_store_pg(report_store: PriceStore, pg_cluster) -> PriceStore:
    """The same store copied into a PostgreSQL database (``energy-nb data copy``'s code)."""
    from energy_nb.data.copy import copy_store

    store = PriceStore(pg_cluster.new_database())
    copy_store(report_store, store)
    return store


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgresql)])
def report_backend_store(request: pytest.FixtureRequest) -> PriceStore:
    """:func:`report_store` on each backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("report_store")
    return request.getfixturevalue("report_store_pg")


@pytest.fixture()
def use_report_home(report_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``ENERGY_NB_HOME`` (inherited by papermill's kernel) at :func:`report_home`."""
    monkeypatch.setenv("ENERGY_NB_HOME", str(report_home))
    return report_home
