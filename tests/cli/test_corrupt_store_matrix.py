"""The corrupt-store matrix: every CLI command against every kind of damaged store file.

Each damaged file is a real SQLite file (see :mod:`tests.cli.damaged_stores`). Every command must
answer ``energy-nb: error: the store at <path> is damaged (<what>)`` (a newer schema: ``... has
schema version N, newer than ...``) with a non-zero exit, print no traceback, and leave the file
as it was. The one exception is an empty file given to a command that writes: that starts a new
store in it, as SQLite itself would.

The matrix runs the commands in-process through :func:`energy_nb.cli.main` (an escaping exception
fails the test with its traceback); a smaller set runs the installed console script.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from energy_nb.cli import main
from tests.cli.damaged_stores import DAMAGE, build_healthy_store

SCRIPT = Path(sys.executable).parent / "energy-nb"

#: Every command that opens the store, as argv with {out}, {csv} and {offline} (``--db`` is
#: added). ``app`` opens no store itself (its pages do: tests/ui/test_damaged_store_pages.py),
#: nor do ``schedule`` (it runs these commands) and ``models names``.
COMMANDS: dict[str, list[str]] = {
    "data status": ["data", "status"],
    "data status --json": ["data", "status", "--json"],
    "data check": ["data", "check"],
    "data export": ["data", "export", "WTI", "{out}/wti.csv"],
    "data import": ["data", "import", "{csv}", "--commodity", "WTI"],
    "data update": ["data", "update", "--commodity", "WTI", "--timeout", "2"],
    "data init": ["data", "init", "--offline-dir", "{offline}"],
    "forecast": ["forecast", "--commodity", "WTI", "--horizon", "3", "--model", "drift"],
    "evaluate": ["evaluate", "--commodity", "WTI", "--start", "2019-06-03", "--horizon", "2",
                 "--models", "drift", "--no-progress"],
    "models list": ["models", "list"],
    "models show": ["models", "show", "1"],
    "backtest": ["backtest", "--commodity", "WTI", "--no-save"],
    "backtest-optimize": ["backtest-optimize", "--commodity", "WTI", "--strategy", "sma-cross",
                          "--grid", "fast=5", "--grid", "slow=20", "--train-days", "100",
                          "--test-days", "50", "--no-save"],
    "report": ["report", "--out", "{out}/reports", "--format", "ipynb"],
    "serve": ["serve", "--port", "0"],
}
WRITERS = {"data import", "data update", "data init"}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_healthy_store(tmp_path_factory.mktemp("healthy") / "store.sqlite")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inputs")
    csv = folder / "wti-new.csv"
    csv.write_text("Date,Price\n2024-01-02,70.1\n2024-01-03,71.2\n")
    offline = folder / "offline"
    offline.mkdir()
    for name in ("wti-daily.csv", "brent-daily.csv", "henryhub-daily.csv"):
        (offline / name).write_text("Date,Price\n2024-01-02,3.1\n2024-01-03,3.2\n")
    return {"{csv}": str(csv), "{offline}": str(offline)}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", list(DAMAGE))
def test_every_command_refuses_a_damaged_store(
        kind: str, command: str, healthy: Path, inputs: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    damage = DAMAGE[kind]
    db = damage.build(healthy, tmp_path / "store.sqlite")
    monkeypatch.setenv("ENERGY_NB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENERGY_NB_FRED_URL", "http://127.0.0.1:9/fredgraph.csv")  # refused
    subst = {**inputs, "{out}": str(tmp_path)}
    argv = [subst.get(a, a.replace("{out}", str(tmp_path))) for a in COMMANDS[command]]
    before = _digest(db)

    code, out, err = _run([*argv, "--db", str(db)], capsys)

    assert "Traceback" not in out + err
    if kind == "empty-file" and command in WRITERS:
        # an empty file holds nothing to lose: a command that writes starts a store in it
        from energy_nb.data.store_check import check_store

        assert "damaged" not in err
        assert check_store(db).ok
        return
    assert code != 0, f"{command} exited 0 on a {kind} store: {out}"
    assert err.startswith(f"energy-nb: error: the store at {db} {damage.message}"), err
    assert damage.detail in err, err
    assert _digest(db) == before, f"{command} changed the damaged file"
    assert not (tmp_path / "wti.csv").exists() and not (tmp_path / "reports").exists()
    if command == "data status --json":
        assert '"ok": false' in out


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_console_script_reports_damage_without_traceback(kind: str, healthy: Path,
                                                         tmp_path: Path) -> None:
    damage = DAMAGE[kind]
    db = damage.build(healthy, tmp_path / "store.sqlite")
    env = {**os.environ, "ENERGY_NB_HOME": str(tmp_path / "home")}
    res = subprocess.run([str(SCRIPT), "data", "export", "NG", str(tmp_path / "ng.csv"),
                          "--db", str(db)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"energy-nb: error: the store at {db} {damage.message}")
    assert damage.detail in res.stderr
    assert not (tmp_path / "ng.csv").exists()


def test_healthy_store_passes_and_status_says_so(healthy: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["data", "check", "--db", str(healthy)], capsys)
    assert code == 0 and err == ""
    assert "ok: SQLite integrity_check" in out and "prices" in out
    code, out, _ = _run(["data", "status", "--db", str(healthy)], capsys)
    assert code == 0 and "health: ok" in out


def test_check_lists_every_problem_as_json(healthy: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import sqlite3

    db = DAMAGE["text-price"].build(healthy, tmp_path / "s.sqlite")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO prices VALUES ('NG', '2019-02-30', 3.0, 'x', 'y')")
        conn.execute("UPDATE forecasts SET result_json = '{not json' WHERE id = 3")
    code, out, err = _run(["data", "check", "--db", str(db), "--json"], capsys)
    assert code == 1 and err.startswith(f"energy-nb: error: the store at {db} is damaged (")
    report = json.loads(out)
    assert report["ok"] is False and report["check"] == "integrity_check"
    details = [p["detail"] for p in report["problems"]]
    assert any("date that is not a valid YYYY-MM-DD date, e.g. NG date '2019-02-30'" in d
               for d in details)
    assert any("price that is not a number" in d for d in details)
    assert "1 forecasts row(s) with invalid JSON in result_json (first id 3)" in details
