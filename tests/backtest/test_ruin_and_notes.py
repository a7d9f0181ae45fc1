"""Issue 14.5 on real data: ruin stops the backtest at -100 %, a strategy with no trade says why,
one default commission everywhere, and a progress bar on a terminal by default."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import termios
import subprocess
from pathlib import Path

import pytest

from energy_nb.backtest import run_backtest
from energy_nb.backtest.notes import result_notes
from energy_nb.backtest.run import DEFAULT_COMMISSION
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from tests.backends import BACKENDS, SCRIPT, StoreHome, module_store


@pytest.fixture(scope="module", params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         eia_dir: Path):
    """NG and WTI on each backend (one store per backend for the module)."""
    with module_store(request, tmp_path_factory, "ruin-home") as home:
        store = PriceStore(home.url)
        store.import_many([read_price_csv(eia_dir / name, commodity=code)
                           for code, name in (("NG", "henryhub-daily.csv"),
                                              ("WTI", "wti-daily.csv"))])
        yield home


@pytest.fixture(scope="module")
def store(home: StoreHome) -> PriceStore:
    return home.store()


def run_cli(home: StoreHome, *args: str) -> subprocess.CompletedProcess[str]:
    return home.cli(*args, timeout=300)


def test_mean_reversion_on_ng_is_ruined_and_stops_at_minus_100(store: PriceStore) -> None:
    r = run_backtest(store.load("NG"), "mean-reversion", start="2015-01-01")
    assert r.info["ruined_at"] is not None
    ruined = r.info["ruined_at"]
    assert r.stats["Return [%]"] == pytest.approx(-100.0)  # was -124.99
    assert r.stats["Max. Drawdown [%]"] == pytest.approx(-100.0)  # was -115.96
    assert (r.equity["Equity"] >= 0).all()
    assert (r.equity.loc[ruined:, "Equity"] == 0).all()
    assert (r.equity.loc[ruined:, "Position"] == 0).all()
    assert r.trades["ExitTime"].max() <= r.equity.loc[ruined:].index[0]
    notes = result_notes(r)
    assert notes[0][1] == "warning" and f"ruined on {ruined}" in notes[0][0]
    assert "stopped" in notes[0][0]


def test_forecast_strategy_without_trades_says_why(store: PriceStore) -> None:
    r = run_backtest(store.load("WTI").loc["2023-06-01":"2024-12-31"], "forecast",
                     {"model": "random_walk", "rebalance_every": 20, "min_history": 250})
    assert len(r.trades) == 0
    (text, level), = result_notes(r)
    assert level == "info" and "predicted no change" in text and "random walk" in text
    counts = r.info["strategy"]["signals"]
    assert counts["flat_forecast"] == r.info["strategy"]["forecasts"] > 0
    # a threshold nothing reaches
    r = run_backtest(store.load("WTI").loc["2023-06-01":"2024-12-31"], "forecast",
                     {"model": "drift", "threshold": 5.0, "rebalance_every": 20,
                      "min_history": 250})
    assert len(r.trades) == 0 and "within ±5.0" in result_notes(r)[0][0]


def test_one_default_commission_for_library_cli_and_page(home: StoreHome,
                                                          store: PriceStore) -> None:
    from energy_nb.cli import build_parser
    from energy_nb.ui.backtest import BacktestPage

    args = build_parser().parse_args(["backtest", "--commodity", "WTI",
                                      "--strategy", "buy-and-hold"])
    assert args.commission == DEFAULT_COMMISSION == 0.001
    page = BacktestPage(store)
    assert page.commission.value == DEFAULT_COMMISSION
    res = run_cli(home, "backtest", "--commodity", "WTI", "--strategy", "sma-cross",
                  "--start", "2022-01-01", "--no-save", "--json")
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    assert payload["config"]["commission"] == DEFAULT_COMMISSION
    lib = run_backtest(store.load("WTI"), "sma-cross", start="2022-01-01")
    assert payload["stats"]["Return [%]"] == pytest.approx(lib.stats["Return [%]"])
    assert payload["notes"] == []


def test_cli_ruin_note_and_json(home: StoreHome) -> None:
    res = run_cli(home, "backtest", "--commodity", "NG", "--strategy", "mean-reversion",
                  "--start", "2015-01-01", "--no-save")
    assert res.returncode == 0, res.stderr
    assert "warning: The account was ruined on" in res.stdout
    assert "-124" not in res.stdout and "-115" not in res.stdout


def run_on_terminal(home: StoreHome, *args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; return (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    # a terminal of 24 x 100 characters (a fresh pseudo-terminal has 0 columns)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([str(SCRIPT), *args], stdout=subprocess.DEVNULL, stderr=slave,
                            env=home.env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


BT = ["backtest", "--commodity", "WTI", "--strategy", "forecast", "--model", "drift",
      "--rebalance-every", "20", "--start", "2024-01-01", "--no-save"]


# the bar follows the terminal, not the store: one backend is enough
@pytest.mark.parametrize("home", ["sqlite"], indirect=True)
def test_progress_bar_on_a_terminal_by_default(home: StoreHome) -> None:
    code, shown = run_on_terminal(home, *BT)
    assert code == 0, shown
    assert "forecast WTI" in shown and "%|" in shown
    code, shown = run_on_terminal(home, *BT, "--no-progress")
    assert code == 0 and "%|" not in shown
    res = run_cli(home, *BT)  # a pipe: no bar unless asked
    assert res.returncode == 0 and "%|" not in res.stderr
    res = run_cli(home, *BT, "--progress")
    assert res.returncode == 0 and "%|" in res.stderr
