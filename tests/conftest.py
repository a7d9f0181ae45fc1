"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The tests choose their store themselves (ENERGY_NB_HOME, --db, or a store_url / pg_url
# fixture): a store URL in the developer's environment must not send them to a real database.
os.environ.pop("ENERGY_NB_DATABASE_URL", None)


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


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster for the whole run (see :mod:`tests.pg`).

    With CI=true a cluster that cannot start FAILS the tests that need it; elsewhere they skip.
    """
    from tests.pg import PgCluster, PgUnavailable

    try:
        cluster = PgCluster.start()
    except PgUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL cannot start: {exc}")
        pytest.skip(f"PostgreSQL cannot start: {exc}")
    yield cluster
    from energy_nb.data.database import dispose_engines

    dispose_engines()
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a fresh, empty PostgreSQL database (dropped afterwards)."""
    url = pg_cluster.new_database()
    yield url
    from energy_nb.data.database import dispose_engines

    dispose_engines()
    pg_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend: a new SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


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
