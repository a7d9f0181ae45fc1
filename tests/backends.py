"""A store shared by one test module, on each backend: SQLite in a temporary ``ENERGY_NB_HOME``,
or a fresh database of the session's throwaway PostgreSQL cluster (:mod:`tests.pg`), filled once
per module and dropped afterwards. For the CLI-level tests (the installed script in subprocesses,
or ``energy_nb.cli.main`` in-process) that :func:`tests.conftest.store_url` (one new store per
test) would make slow.

Usage::

    @pytest.fixture(scope="module", params=BACKENDS)
    def where(request, tmp_path_factory, eia_dir):
        with module_store(request, tmp_path_factory) as where:
            assert where.cli("data", "import", str(eia_dir / "wti-daily.csv")).returncode == 0
            yield where
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from energy_nb.data.store import PriceStore

#: the installed console script of the venv running the tests
SCRIPT = Path(sys.executable).parent / "energy-nb"
#: the ``params`` of a fixture run on both backends (PostgreSQL ones are marked ``postgresql``)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@dataclass(frozen=True)
class StoreHome:
    """Where a test module's store is.

    Attributes:
        backend: ``"sqlite"`` or ``"postgresql"``.
        home: the ``ENERGY_NB_HOME`` (the SQLite store is its ``energy_nb.sqlite``).
        url: the store: the SQLite file's path, or the PostgreSQL URL.
    """

    backend: str
    home: Path
    url: str

    @property
    def env(self) -> dict[str, str]:
        """The environment of a subprocess using this store (the URL only on PostgreSQL: the
        SQLite store is the home's default one, as a user's)."""
        env = {**os.environ, "ENERGY_NB_HOME": str(self.home)}
        env.pop("ENERGY_NB_DATABASE_URL", None)
        if self.backend == "postgresql":
            env["ENERGY_NB_DATABASE_URL"] = self.url
        return env

    def store(self) -> PriceStore:
        """The store, opened as the library does."""
        return PriceStore(self.url, create=False)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the installed ``energy-nb`` on this store."""
        return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this process's environment (``energy_nb.cli.main``, kernels) at the store."""
        monkeypatch.setenv("ENERGY_NB_HOME", str(self.home))
        if self.backend == "postgresql":
            monkeypatch.setenv("ENERGY_NB_DATABASE_URL", self.url)
        else:
            monkeypatch.delenv("ENERGY_NB_DATABASE_URL", raising=False)


@contextmanager
def module_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 name: str = "home") -> Iterator[StoreHome]:
    """An empty store on ``request.param``'s backend, removed afterwards (PostgreSQL).

    Args:
        request: the request of a fixture parametrized with :data:`BACKENDS`.
        tmp_path_factory: pytest's.
        name: the stem of the temporary home folder.

    Yields:
        The :class:`StoreHome`; the store itself is created by the first import.
    """
    home = tmp_path_factory.mktemp(name)
    if request.param == "sqlite":
        yield StoreHome("sqlite", home, str(home / "energy_nb.sqlite"))
        return
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    try:
        yield StoreHome("postgresql", home, url)
    finally:
        from energy_nb.data.database import dispose_engines

        dispose_engines()
        cluster.drop_database(url)
