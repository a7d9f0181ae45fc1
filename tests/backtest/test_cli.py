"""``energy-nb backtest`` end to end through the installed console script and a real store, on
SQLite and on PostgreSQL (one store per backend for the module)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from energy_nb.backtest import STAT_NAMES, list_backtests, run_backtest
from energy_nb.cli import main
from tests.backends import BACKENDS, StoreHome, module_store


def run(home: StoreHome, *args: str):
    return home.cli(*args, timeout=120)


@pytest.fixture(scope="module", params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         eia_dir: Path):
    with module_store(request, tmp_path_factory) as home:
        res = run(home, "data", "import", str(eia_dir / "brent-daily.csv"), "--commodity",
                  "BRENT")
        assert res.returncode == 0, res.stderr
        yield home


def test_sma_cross_json_file_matches_the_library_and_is_stored(home: StoreHome,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    res = run(home, "backtest", "--commodity", "BRENT", "--strategy", "sma-cross", "--fast", "10",
              "--slow", "40", "--capital", "100000", "--commission", "0.001",
              "--slippage-bps", "2", "--start", "2015-01-01", "--end", "2020-12-31",
              "--json", str(out))
    assert res.returncode == 0, res.stderr
    assert "Sharpe Ratio" in res.stdout and "run id:" in res.stdout
    payload = json.loads(out.read_text())
    assert list(payload["stats"]) == list(STAT_NAMES)
    assert payload["stats"]["Start"] == "2015-01-02" and payload["stats"]["End"] == "2020-12-31"
    assert payload["params"] == {"fast": 10, "slow": 40, "short": True}
    assert payload["config"]["commission"] == 0.001 and payload["config"]["slippage_bps"] == 2
    assert len(payload["trades"]) == payload["stats"]["# Trades"] > 10
    assert payload["equity"][0]["Equity"] == 100000
    # the same run through the library on the same store gives the same numbers
    store = home.store()
    lib = run_backtest(store.load("BRENT"), "sma-cross", {"fast": 10, "slow": 40},
                       capital=100_000, commission=0.001, slippage_bps=2,
                       start="2015-01-01", end="2020-12-31")
    assert payload["stats"]["Equity Final [$]"] == pytest.approx(lib.stats["Equity Final [$]"])
    assert payload["stats"]["Sharpe Ratio"] == pytest.approx(lib.stats["Sharpe Ratio"])
    stored = list_backtests(store, commodity="BRENT")
    assert any(r["id"] == payload["id"] and r["strategy"] == "sma-cross" for r in stored)


def test_forecast_strategy_json_on_stdout(home: StoreHome) -> None:
    res = run(home, "backtest", "--commodity", "brent", "--strategy", "forecast", "--model",
              "drift", "--horizon", "5", "--threshold", "0.002", "--refit-every", "20",
              "--model-param", "window=250", "--no-short", "--start", "2025-06-01", "--json",
              "--no-save", "--progress")
    assert res.returncode == 0, res.stderr
    assert "forecast BRENT" in res.stderr and "100%" in res.stderr  # the tqdm bar
    payload = json.loads(res.stdout)
    assert payload["id"] is None
    assert payload["params"]["model"] == "drift" and payload["params"]["short"] is False
    assert payload["params"]["model_params"] == {"window": 250}
    assert all(t["Side"] == "long" for t in payload["trades"])
    assert payload["info"]["strategy"]["forecasts"] == len(payload["equity"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "forecast", "--fast", "3"], "--fast does not apply to strategy forecast"),
        (["--strategy", "sma-cross", "--fast", "40", "--slow", "10"], "must be smaller than slow"),
        (["--strategy", "forecast", "--model", "nope"], "unknown model 'nope'"),
        (["--commission", "-1"], "commission must be in"),
        (["--start", "2031-01-01"], "fewer than 2 prices"),
        (["--start", "2020-13-45"], "not a valid date"),
        (["--json", "/nonexistent/dir/out.json"], "folder /nonexistent/dir does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(home: StoreHome, args: list[str], message: str,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # in-process through the same dispatcher as the script (the script itself: next test)
    home.use(monkeypatch)
    store = home.store()
    before = len(list_backtests(store, limit=1000))
    try:
        code = main(["backtest", "--commodity", "BRENT", *args])
    except SystemExit as exc:  # argparse type errors
        code = exc.code
    out = capsys.readouterr()
    assert code == 2
    assert message in out.err
    assert out.out == ""
    assert len(list_backtests(store, limit=1000)) == before  # nothing stored


def test_no_data_for_the_commodity_through_the_script(home: StoreHome) -> None:
    res = run(home, "backtest", "--commodity", "NG")
    assert res.returncode == 2
    assert "no prices stored for NG; import them first" in res.stderr
    assert res.stdout == ""


def test_backtest_optimize_json(home: StoreHome, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    home.use(monkeypatch)
    code = main(["backtest-optimize", "--commodity", "BRENT", "--strategy", "sma-cross",
                 "--grid", "fast=5,10", "--grid", "slow=20,60", "--set", "short=false",
                 "--train-days", "252", "--test-days", "252", "--start", "2019-01-01",
                 "--end", "2022-12-30", "--objective", "Return [%]", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    payload = json.loads(out.out)
    assert payload["strategy"] == "walk-forward sma-cross"
    assert payload["stats"]["Start"] >= "2019-01-01" and payload["stats"]["End"] == "2022-12-30"
    windows = payload["windows"]
    assert windows[0]["test_start"] == "2019-01-02" and windows[-1]["test_end"] == "2022-12-30"
    assert len(windows) == 5  # 252-day windows; the last one is short
    assert all(a["test_end"] < b["test_start"] and a["train_end"] < a["test_start"]
               for a, b in itertools.pairwise(windows))
    assert all(w["params"]["fast"] in (5, 10) and w["params"]["slow"] in (20, 60)
               for w in payload["windows"])
    assert all(t["Side"] == "long" for t in payload["trades"])  # short=false was applied
    assert payload["id"] is not None

    code = main(["backtest-optimize", "--commodity", "BRENT", "--strategy", "sma-cross",
                 "--grid", "fast=50", "--grid", "slow=20"])
    assert code == 2
    assert "no valid parameter combination" in capsys.readouterr().err
