"""``energy-nb evaluate``, ``forecast`` and ``models`` end to end through the installed script."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "energy-nb"
METRICS = ("mae", "rmse", "mape", "smape", "mase", "rmae", "directional_accuracy",
           "coverage_80", "coverage_95", "width_80", "width_95", "pinball_80", "pinball_95",
           "winkler_80", "winkler_95")


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, eia_dir: Path) -> Path:
    """A home whose store holds the real WTI and Henry Hub history, imported by the CLI."""
    assert SCRIPT.exists(), f"energy-nb script not installed at {SCRIPT}"
    folder = tmp_path_factory.mktemp("home")
    done = run(folder, "data", "import", str(eia_dir / "wti-daily.csv"),
               str(eia_dir / "henryhub-daily.csv"))
    assert done.returncode == 0, done.stderr
    return folder


def test_evaluate_json_file_shape_and_registry(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    done = run(home, "evaluate", "--commodity", "wti,NG", "--start", "2026-03-02",
               "--horizon", "5", "--step", "20", "--models", "drift", "--refit-every", "2",
               "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "rMAE@1" in done.stdout and "WTI:" in done.stdout and "NG:" in done.stdout
    assert "fit" in done.stderr  # the progress bar
    data = json.loads(out.read_text())
    assert (data["horizon"], data["step"], data["refit_every"]) == (5, 20, 2)
    assert set(data["commodities"]) == {"WTI", "NG"}
    wti = data["commodities"]["WTI"]
    assert wti["origins"][0] == "2026-03-02" and wti["n_origins"] == len(wti["origins"]) >= 3
    assert set(wti["models"]) == {"random_walk", "drift"}
    steps = wti["models"]["drift"]["steps"]
    assert set(steps) == {"1", "2", "3", "4", "5"}
    for step in steps.values():
        assert set(METRICS) <= set(step)
        assert 0.0 <= step["coverage_95"] <= 1.0
    assert wti["models"]["random_walk"]["steps"]["3"]["rmae"] == pytest.approx(1.0)
    assert wti["models"]["drift"]["fits"] == (wti["n_origins"] + 1) // 2

    listed = run(home, "models", "list", "--commodity", "WTI", "--kind", "walk_forward", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)["runs"]
    assert {r["name"] for r in runs} == {"random_walk", "drift"}
    assert all(r["commodity"] == "WTI" and r["data_version"] == "WTI@1" for r in runs)
    drift = next(r for r in runs if r["name"] == "drift")
    assert drift["id"] == wti["models"]["drift"]["run_id"]
    assert drift["train_end"] == wti["origins"][-1] and drift["train_start"] == "1986-01-02"
    assert "pandas" in drift["versions"] and drift["rmae"] is not None
    shown = run(home, "models", "show", str(drift["id"]), "--json")
    assert json.loads(shown.stdout)["metrics"]["steps"]["5"]["mae"] == pytest.approx(
        steps["5"]["mae"])


def test_evaluate_json_on_stdout(home: Path) -> None:
    done = run(home, "evaluate", "--commodity", "NG", "--start", "2026-06-01", "--horizon", "3",
               "--step", "10", "--models", "random_walk", "--json", "--no-progress",
               "--no-record")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data["commodities"]["NG"]["models"]) == ["random_walk"]
    assert done.stderr == ""


def test_forecast_json_csv_and_past_start(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "fc.csv"
    done = run(home, "forecast", "--commodity", "WTI", "--horizon", "7", "--model", "drift",
               "--start", "2026-04-19", "--levels", "95,80", "--csv", str(path), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["origin"] == "2026-04-17" and data["horizon"] == 7 and data["levels"] == [80, 95]
    fc = data["forecast"]
    assert len(fc["mean"]) == 7 and len(fc["lower"]["80"]) == 7
    assert all(lo95 <= lo80 <= m <= hi80 <= hi95 for lo95, lo80, m, hi80, hi95 in zip(
        fc["lower"]["95"], fc["lower"]["80"], fc["mean"], fc["upper"]["80"], fc["upper"]["95"]))
    assert len(data["actuals"]) == 7 and data["record_id"] >= 1
    rows = list(csv.DictReader(path.open()))
    # the same columns as the Forecast page's CSV
    assert list(rows[0]) == ["step", "date", "mean", "lower_80", "upper_80", "lower_95",
                             "upper_95", "actual", "error", "actual_date"]
    assert len(rows) == 7 and float(rows[0]["actual"]) == pytest.approx(
        data["actuals"][0]["price"])
    latest = run(home, "forecast", "--commodity", "ng", "--horizon", "3", "--model",
                 "random_walk")
    assert latest.returncode == 0, latest.stderr
    assert "NG forecast from" in latest.stdout and "upper_95" in latest.stdout


BAD_ARGUMENTS = [
    (["forecast", "--commodity", "GOLD"], "unknown commodity 'GOLD'"),
    (["forecast", "--commodity", "WTI", "--model", "prophet"], "unknown model 'prophet'"),
    (["forecast", "--commodity", "WTI", "--horizon", "31"], "between 1 and 30"),
    (["forecast", "--commodity", "WTI", "--horizon", "x"], "integer"),
    (["forecast", "--commodity", "WTI", "--start", "2024-13-01"], "not a valid date"),
    (["forecast", "--commodity", "WTI", "--start", "1980-01-01", "--model", "drift"],
     "before the first"),
    (["forecast", "--commodity", "WTI", "--levels", "80,100"], "between 0 and 100"),
    (["forecast", "--commodity", "WTI", "--levels", "80,9.5"], "must be an integer, got '9.5'"),
    (["forecast", "--commodity", "WTI", "--model", "drift", "--csv", "/nonexistent/x.csv"],
     "does not exist"),
    (["evaluate", "--commodity", "WTI", "--start", "1970-01-01", "--models", "drift"],
     "not after the first"),
    (["evaluate", "--commodity", "WTI", "--start", "2026-08-10", "--models", "drift"],
     "no forecast origin"),
    (["evaluate", "--commodity", "WTI", "--start", "2026-01-01", "--end", "2025-01-01"],
     "must be after"),
    (["evaluate", "--commodity", "WTI", "--start", "2026-01-01", "--step", "0"],
     "positive integer"),
    (["evaluate", "--commodity", "BRENT", "--start", "2026-01-01", "--models", "drift"],
     "no BRENT prices stored"),
    (["models", "show", "9999"], "no model run with id 9999"),
]


@pytest.mark.parametrize(("args", "message"), [BAD_ARGUMENTS[i] for i in (0, 5, 13)])
def test_bad_arguments_exit_2_through_the_script(home: Path, args: list[str],
                                                 message: str) -> None:
    done = run(home, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("args", "message"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_a_clear_message(
    home: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same dispatcher in-process (fast): exit code 2, message on stderr, nothing on stdout."""
    from energy_nb.cli import main

    monkeypatch.setenv("ENERGY_NB_HOME", str(home))
    try:
        code = main(args)
    except SystemExit as exc:  # argparse rejects the value itself
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert out == ""


def test_evaluate_if_missing_records_once_then_skips(tmp_path: Path, eia_dir: Path) -> None:
    assert run(tmp_path, "data", "import", str(eia_dir / "henryhub-daily.csv")).returncode == 0
    args = ("evaluate", "--commodity", "NG", "--start", "2026-06-01", "--horizon", "3",
            "--step", "10", "--models", "drift", "--no-progress", "--if-missing", "--json")
    first = run(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["skipped"] == [] and set(data["commodities"]["NG"]["models"]) == {
        "random_walk", "drift"}
    second = run(tmp_path, *args)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["skipped"] == ["NG"] and again["commodities"] == {}
    assert "already recorded; skipped" in second.stderr
    listed = json.loads(run(tmp_path, "models", "list", "--kind", "walk_forward",
                            "--json").stdout)["runs"]
    assert len(listed) == 2  # nothing recorded the second time


def test_evaluate_if_missing_runs_again_after_an_upgrade(tmp_path: Path, eia_dir: Path) -> None:
    """Runs recorded by another energy_nb version (e.g. another interval method) do not count."""
    assert run(tmp_path, "data", "import", str(eia_dir / "henryhub-daily.csv")).returncode == 0
    args = ("evaluate", "--commodity", "NG", "--start", "2026-06-01", "--horizon", "3",
            "--step", "10", "--models", "drift", "--no-progress", "--if-missing", "--json")
    assert run(tmp_path, *args).returncode == 0
    with sqlite3.connect(tmp_path / "energy_nb.sqlite") as conn:
        rows = conn.execute("SELECT id, versions_json FROM model_runs").fetchall()
        assert rows
        for run_id, versions in rows:
            old = {**json.loads(versions), "energy_nb": "0.0.1"}
            conn.execute("UPDATE model_runs SET versions_json = ? WHERE id = ?",
                         (json.dumps(old), run_id))
    again = run(tmp_path, *args)
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["skipped"] == [] and "NG" in data["commodities"]
    listed = json.loads(run(tmp_path, "models", "list", "--kind", "walk_forward",
                            "--json").stdout)["runs"]
    assert len(listed) == 4
