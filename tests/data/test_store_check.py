"""PriceStore and check_store on real damaged files: what opens, what is created, what is named."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from energy_nb.data.store import (
    SCHEMA_VERSION,
    PriceStore,
    StoreDamagedError,
    StoreMissingError,
    StoreVersionError,
)
from energy_nb.data.store_check import check_store, expected_schema, migrated_schema
from tests.cli.damaged_stores import DAMAGE, build_healthy_store


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_healthy_store(tmp_path_factory.mktemp("healthy") / "store.sqlite")


def test_reading_never_creates(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "s.sqlite"
    with pytest.raises(StoreMissingError, match=r"its folder .*/a/b does not exist"):
        PriceStore(path, create=False)
    with pytest.raises(StoreMissingError):
        check_store(path)
    assert list(tmp_path.iterdir()) == []
    PriceStore(path)  # the default (writers) still creates
    assert check_store(path).ok


def test_empty_file_is_damaged_for_readers_and_a_new_store_for_writers(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"")
    with pytest.raises(StoreDamagedError, match=r"is damaged \(the file is empty \(0 bytes\)"):
        PriceStore(path, create=False)
    assert path.stat().st_size == 0
    PriceStore(path).is_empty()
    assert check_store(path).ok


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_check_names_the_damage_and_changes_nothing(kind: str, healthy: Path,
                                                    tmp_path: Path) -> None:
    path = DAMAGE[kind].build(healthy, tmp_path / "s.sqlite")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = check_store(path)
    assert not result.ok
    assert DAMAGE[kind].detail in str(result.error())
    expected = StoreVersionError if kind == "newer-schema" else StoreDamagedError
    with pytest.raises(expected):
        PriceStore(path, create=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_damage_met_while_reading_is_named(healthy: Path, tmp_path: Path) -> None:
    """Pages overwritten after the store was opened: the read says so, no sqlite3 traceback."""
    path = DAMAGE["overwritten-price-pages"].build(healthy, tmp_path / "s.sqlite")
    store = PriceStore(path, create=False, verify=False)
    with pytest.raises(StoreDamagedError, match=r"is damaged \(SQLite: database disk image is "
                                                r"malformed\)"):
        store.load("WTI")
    with pytest.raises(StoreDamagedError):
        with store.transaction() as conn:
            conn.exec_driver_sql("DELETE FROM prices WHERE commodity = 'NG'")


def test_garbage_rows_met_while_loading_are_named(healthy: Path, tmp_path: Path) -> None:
    path = DAMAGE["garbage-date"].build(healthy, tmp_path / "s.sqlite")
    store = PriceStore(path, create=False, verify=False)
    with pytest.raises(StoreDamagedError, match="stored WTI prices"):
        store.load("WTI")
    with pytest.raises(StoreDamagedError, match="stored WTI dates"):
        store.status()
    assert len(store.load("NG")) == 600  # the other commodities still load


def test_expected_schema_follows_the_migrations() -> None:
    schema = expected_schema()
    assert schema["prices"] == ("commodity", "date", "price", "source", "ingested_at")
    assert {"imports", "model_runs", "forecasts", "backtests", "series_versions"} <= set(schema)


def test_expected_schema_of_the_current_version_is_what_the_migrations_build() -> None:
    """The current version's schema is read from schema.py (no Alembic in a page's kernel); it
    must list the same tables and columns, in the same order, as the migrations create."""
    assert expected_schema(SCHEMA_VERSION) == migrated_schema(SCHEMA_VERSION)


def test_opening_and_checking_a_store_imports_no_migration_tooling(tmp_path) -> None:
    """A dashboard kernel opens and checks its store on every page; Alembic (with Mako and
    Pygments) stays out of it unless the store needs migrating."""
    PriceStore(tmp_path / "store.sqlite")  # created (and migrated) here, in the test's process
    code = ("import sys\n"
            "from energy_nb.data.store import PriceStore\n"
            f"store = PriceStore({str(tmp_path / 'store.sqlite')!r}, create=False)\n"
            "store.verify()\n"
            "store.status()\n"
            "print(sorted(m for m in ('alembic', 'mako', 'pygments') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]", out
