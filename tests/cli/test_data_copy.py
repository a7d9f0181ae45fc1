"""``energy-nb data copy`` between SQLite and PostgreSQL, and the CLI on a PostgreSQL store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from energy_nb.backtest.run import list_backtests
from energy_nb.cli import main
from energy_nb.data.store import PriceStore
from energy_nb.service.registry import ModelRegistry

from .test_data_cli import run

pytestmark = pytest.mark.postgresql


def _filled_sqlite(home: Path, eia_dir: Path) -> Path:
    done = run(home, "data", "import", str(eia_dir / "wti-daily.csv"), "--commodity", "WTI")
    assert done.returncode == 0, done.stderr
    store = PriceStore(home / "energy_nb.sqlite")
    ModelRegistry(store).record("drift", "WTI", {"a": 1}, metrics={"kind": "walk_forward"})
    return home / "energy_nb.sqlite"


def test_copy_sqlite_to_postgresql_and_back(tmp_path: Path, eia_dir: Path, pg_url: str) -> None:
    home = tmp_path / "home"
    source = _filled_sqlite(home, eia_dir)
    done = run(home, "data", "copy", "--to", pg_url, "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert "s3cret-pw" not in done.stdout + done.stderr and ":***@" in payload["target"]
    tables = {t["table"]: t for t in payload["tables"]}
    assert tables["prices"]["source_rows"] == tables["prices"]["target_rows"] == 10226
    assert tables["model_runs"]["target_rows"] == 1
    assert all(t["ok"] and t["source_checksum"] == t["target_checksum"]
               for t in payload["tables"])

    # the PostgreSQL store serves the same data, and its ids go on after the copied ones
    pg = PriceStore(pg_url, create=False)
    assert PriceStore(source).load("WTI").equals(pg.load("WTI"))
    assert pg.data_version("WTI") == "WTI@1"
    assert ModelRegistry(pg).record("naive", "WTI", metrics={"kind": "fit"}) == 2
    assert list_backtests(pg) == []

    # a non-empty target is refused, and nothing changes
    again = run(home, "data", "copy", "--to", pg_url)
    assert again.returncode == 2 and "not empty" in again.stderr and "--force" in again.stderr
    assert "s3cret-pw" not in again.stderr
    assert len(ModelRegistry(pg).list()) == 2

    # back to a new SQLite file, through the CLI pointed at the PostgreSQL store
    back = tmp_path / "back.sqlite"
    done = run(home, "data", "copy", "--to", str(back), env={"ENERGY_NB_DATABASE_URL": pg_url})
    assert done.returncode == 0, done.stderr
    assert "s3cret-pw" not in done.stdout and "model_runs" in done.stdout
    assert PriceStore(back).load("WTI").equals(pg.load("WTI"))
    status = run(home, "data", "status", "--json", env={"ENERGY_NB_DATABASE_URL": pg_url})
    assert status.returncode == 0, status.stderr
    assert "s3cret-pw" not in status.stdout
    assert {c["commodity"]: c["rows"] for c in json.loads(status.stdout)["commodities"]}["WTI"] \
        == 10226
    check = run(home, "data", "check", "--db", pg_url, "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["rows"]["model_runs"] == 2

    # --force replaces the target's content with the source's
    done = run(home, "data", "copy", "--to", pg_url, "--force", "--json")
    assert done.returncode == 0, done.stderr
    assert len(ModelRegistry(pg).list()) == 1


def test_copy_errors_are_clear_and_masked(tmp_path: Path, pg_url: str,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ENERGY_NB_HOME", str(home))
    monkeypatch.delenv("ENERGY_NB_DATABASE_URL", raising=False)

    def copy(*args: str) -> str:
        assert main(["data", "copy", *args]) == 2
        err = capsys.readouterr().err
        assert "top-secret" not in err and err.startswith("energy-nb: error: ")
        return err

    # no source store: a read command never creates one
    assert "there is no store" in copy("--to", "mysql://me:top-secret@host/db")
    assert not (home / "energy_nb.sqlite").exists()
    PriceStore(home / "energy_nb.sqlite")
    assert "unsupported database 'mysql'" in copy("--to", "mysql://me:top-secret@host/db")
    wrong = pg_url.replace(":s3cret-pw@", ":top-secret@")
    assert "password authentication failed" in copy("--to", wrong)
    assert "--to" in copy()
    assert "same store" in copy("--to", str(home / "energy_nb.sqlite"))


def test_cli_end_to_end_on_postgresql(tmp_path: Path, eia_dir: Path, pg_url: str) -> None:
    """init, evaluate, backtest and status on a PostgreSQL store named by the environment."""
    home, env = tmp_path / "home", {"ENERGY_NB_DATABASE_URL": pg_url}
    status = run(home, "data", "status", env=env)
    assert status.returncode == 2 and "no energy_nb store in the database" in status.stderr
    assert "s3cret-pw" not in status.stderr
    done = run(home, "data", "init", "--offline-dir", str(eia_dir), env=env)
    assert done.returncode == 0, done.stderr
    done = run(home, "evaluate", "--commodity", "NG", "--start", "2026-06-01", "--horizon", "3",
               "--step", "10", "--models", "drift", "--json", "--no-progress", env=env)
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)["commodities"]["NG"]["models"]) == ["random_walk", "drift"]
    out = tmp_path / "run.json"
    done = run(home, "backtest", "--commodity", "BRENT", "--strategy", "sma-cross", "--fast", "10",
               "--slow", "40", "--start", "2015-01-01", "--end", "2020-12-31", "--json", str(out),
               env=env)
    assert done.returncode == 0, done.stderr
    store = PriceStore(pg_url, create=False)
    assert [r["id"] for r in list_backtests(store)] == [json.loads(out.read_text())["id"]]
    assert set(ModelRegistry(store).latest_evaluations("NG")) == {"random_walk", "drift"}
    assert not (home / "energy_nb.sqlite").exists()  # nothing went to the default SQLite file
    status = run(home, "data", "status", env=env)
    assert status.returncode == 0 and "store: postgresql://energy_nb:***@127.0.0.1" in status.stdout
