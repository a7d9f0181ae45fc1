"""``energy-nb evaluate``, ``forecast`` and ``models`` end to end through the installed script, on
SQLite and on PostgreSQL (one store per backend for the module; the argument checks that run
before the store is opened, once)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from energy_nb.data.schema import model_runs
from energy_nb.data.store import PriceStore
from tests.backends import BACKENDS, SCRIPT, StoreHome, module_store

METRICS = ("mae", "rmse", "mape", "smape", "mase", "rmae", "directional_accuracy",
           "coverage_80", "coverage_95", "width_80", "width_95", "pinball_80", "pinball_95",
           "winkler_80", "winkler_95")


def run(home: StoreHome, *args: str):
    return home.cli(*args, timeout=120)


@pytest.fixture(scope="module", params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         eia_dir: Path):
    """A store holding the real WTI and Henry Hub history, imported by the CLI, on each
    backend."""
    assert SCRIPT.exists(), f"energy-nb script not installed at {SCRIPT}"
    with module_store(request, tmp_path_factory) as home:
        done = run(home, "data", "import", str(eia_dir / "wti-daily.csv"),
                   str(eia_dir / "henryhub-daily.csv"))
        assert done.returncode == 0, done.stderr
        yield home


@pytest.fixture()
def fresh(store_url: str, tmp_path: Path) -> StoreHome:
    """An empty store of its own on each backend (the SQLite one in the home, as a user's)."""
    if store_url.startswith("sqlite"):
        return StoreHome("sqlite", tmp_path, str(tmp_path / "energy_nb.sqlite"))
    return StoreHome("postgresql", tmp_path, store_url)


def test_evaluate_json_file_shape_and_registry(home: StoreHome, tmp_path: Path) -> None:
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


def test_evaluate_json_on_stdout(home: StoreHome) -> None:
    done = run(home, "evaluate", "--commodity", "NG", "--start", "2026-06-01", "--horizon", "3",
               "--step", "10", "--models", "random_walk", "--json", "--no-progress",
               "--no-record")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data["commodities"]["NG"]["models"]) == ["random_walk"]
    assert done.stderr == ""


def test_forecast_json_csv_and_past_start(home: StoreHome, tmp_path: Path) -> None:
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


#: rejected before the store is opened: argument parsing alone (run once, with no store at all)
BAD_ARGUMENTS = [
    (["forecast", "--commodity", "GOLD"], "unknown commodity 'GOLD'"),
    (["forecast", "--commodity", "WTI", "--model", "prophet"], "unknown model 'prophet'"),
    (["forecast", "--commodity", "WTI", "--horizon", "31"], "between 1 and 30"),
    (["forecast", "--commodity", "WTI", "--horizon", "x"], "integer"),
    (["forecast", "--commodity", "WTI", "--start", "2024-13-01"], "not a valid date"),
    (["forecast", "--commodity", "WTI", "--levels", "80,100"], "between 0 and 100"),
    (["forecast", "--commodity", "WTI", "--levels", "80,9.5"], "must be an integer, got '9.5'"),
    (["forecast", "--commodity", "WTI", "--model", "drift", "--csv", "/nonexistent/x.csv"],
     "does not exist"),
    (["evaluate", "--commodity", "WTI", "--start", "2026-01-01", "--end", "2025-01-01"],
     "must be after"),
    (["evaluate", "--commodity", "WTI", "--start", "2026-01-01", "--step", "0"],
     "positive integer"),
]
#: rejected for what the store holds (run on each backend)
BAD_FOR_THE_STORE = [
    (["forecast", "--commodity", "WTI", "--start", "1980-01-01", "--model", "drift"],
     "before the first"),
    (["evaluate", "--commodity", "WTI", "--start", "1970-01-01", "--models", "drift"],
     "not after the first"),
    (["evaluate", "--commodity", "WTI", "--start", "2026-08-10", "--models", "drift"],
     "no forecast origin"),
    (["evaluate", "--commodity", "BRENT", "--start", "2026-01-01", "--models", "drift"],
     "no BRENT prices stored"),
    (["models", "show", "9999"], "no model run with id 9999"),
]


@pytest.mark.parametrize(("args", "message"), [BAD_ARGUMENTS[0], *BAD_FOR_THE_STORE[::3]])
def test_bad_arguments_exit_2_through_the_script(home: StoreHome, args: list[str],
                                                 message: str) -> None:
    done = run(home, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The script's dispatcher in-process (fast): exit code, stdout, stderr."""
    from energy_nb.cli import main

    try:
        code = main(args)
    except SystemExit as exc:  # argparse rejects the value itself
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("args", "message"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_a_clear_message(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit code 2, message on stderr, nothing on stdout; no store exists or is created."""
    monkeypatch.setenv("ENERGY_NB_HOME", str(tmp_path))
    code, out, err = run_main(args, capsys)
    assert (code, out) == (2, "")
    assert message in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), BAD_FOR_THE_STORE)
def test_bad_arguments_for_the_store_exit_2_with_a_clear_message(
    home: StoreHome, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home.use(monkeypatch)
    code, out, err = run_main(args, capsys)
    assert (code, out) == (2, "")
    assert message in err


#: a small NG evaluation, skipped when one by this energy_nb version is recorded
IF_MISSING = ("evaluate", "--commodity", "NG", "--start", "2026-06-01", "--horizon", "3",
              "--step", "10", "--models", "drift", "--no-progress", "--if-missing", "--json")


def test_evaluate_if_missing_records_once_then_skips(fresh: StoreHome, eia_dir: Path) -> None:
    assert run(fresh, "data", "import", str(eia_dir / "henryhub-daily.csv")).returncode == 0
    args = IF_MISSING
    first = run(fresh, *args)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["skipped"] == [] and set(data["commodities"]["NG"]["models"]) == {
        "random_walk", "drift"}
    second = run(fresh, *args)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["skipped"] == ["NG"] and again["commodities"] == {}
    assert "already recorded; skipped" in second.stderr
    listed = json.loads(run(fresh, "models", "list", "--kind", "walk_forward",
                            "--json").stdout)["runs"]
    assert len(listed) == 2  # nothing recorded the second time


def test_evaluate_if_missing_runs_again_after_an_upgrade(fresh: StoreHome, eia_dir: Path) -> None:
    """Runs recorded by another energy_nb version (e.g. another interval method) do not count."""
    assert run(fresh, "data", "import", str(eia_dir / "henryhub-daily.csv")).returncode == 0
    args = IF_MISSING
    assert run(fresh, *args).returncode == 0
    with PriceStore(fresh.url, create=False).transaction() as conn:
        rows = conn.execute(select(model_runs.c.id, model_runs.c.versions_json)).all()
        assert rows
        for run_id, versions in rows:
            old = {**json.loads(versions), "energy_nb": "0.0.1"}
            conn.execute(update(model_runs).where(model_runs.c.id == run_id)
                         .values(versions_json=json.dumps(old)))
    again = run(fresh, *args)
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["skipped"] == [] and "NG" in data["commodities"]
    listed = json.loads(run(fresh, "models", "list", "--kind", "walk_forward",
                            "--json").stdout)["runs"]
    assert len(listed) == 4
