"""The Backtest dashboard in headless Chromium through Voilà, on the real imported data.

One Voilà server for the module (the harness in ``conftest.py``); each test opens the page fresh
and runs real backtests in the Voilà kernel, which stores them in the test store.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from energy_nb.backtest import STRATEGIES, list_backtests, run_backtest
from energy_nb.data.store import PriceStore
from tests.browser.conftest import download_csv, plot_data, render_url, wait_for_plot

EQUITY = ".enb-bt-equity"
DRAWDOWN = ".enb-bt-drawdown"


@pytest.fixture()
def backtest(voila_server, page):
    """The Backtest page, loaded, its Run button enabled."""
    page.goto(render_url(voila_server, "backtest.ipynb"))
    try:
        page.locator("button.enb-bt-run:not([disabled])").wait_for()
    except Exception:
        print(voila_server.log()[-5000:])
        raise
    return page


@pytest.fixture(scope="module")
def store(energy_home) -> PriceStore:
    return PriceStore(Path(energy_home) / "energy_nb.sqlite")


def stat_text(page, name: str) -> str:
    return page.locator(f'.enb-bt-stats td[data-stat="{name}"]').inner_text()


def test_page_opens_with_a_preview_of_the_default_run_that_is_not_stored(backtest, store):
    stored_before = [r["id"] for r in list_backtests(store, limit=1_000_000)]
    # before any click: the preview's chart and status
    backtest.locator(".enb-bt-status", has_text="Preview of the default settings").wait_for()
    wait_for_plot(backtest, EQUITY)
    expected = run_backtest(store.load("BRENT"), "sma-cross", {"fast": 10, "slow": 40},
                            capital=100_000, commission=0.001, start="2015-01-01")
    traces = plot_data(backtest, EQUITY)
    assert [t["name"] for t in traces] == ["Strategy", "Buy & hold"]
    assert traces[0]["y_last"] == pytest.approx(expected.equity["Equity"].iloc[-1])
    assert [r["id"] for r in list_backtests(store, limit=1_000_000)] == stored_before
    assert not backtest.console_errors, backtest.console_errors


def test_default_run_draws_equity_drawdown_statistics_and_trades(backtest, store):
    backtest.locator("button.enb-bt-run").click()
    try:
        backtest.locator(".enb-bt-status", has_text="stored as run #").wait_for()
        wait_for_plot(backtest, EQUITY)
    except Exception:
        print("STATUS", backtest.locator(".enb-bt-status").inner_text())
        print(backtest.inner_text("body")[-3000:])
        raise
    expected = run_backtest(store.load("BRENT"), "sma-cross", {"fast": 10, "slow": 40},
                            capital=100_000, commission=0.001, start="2015-01-01")
    traces = plot_data(backtest, EQUITY)
    assert [t["name"] for t in traces] == ["Strategy", "Buy & hold"]
    assert traces[0]["n"] == len(expected.equity)
    assert traces[0]["x_first"].startswith("2015-01-02")
    assert traces[0]["y_last"] == pytest.approx(expected.equity["Equity"].iloc[-1])
    assert traces[1]["y_last"] == pytest.approx(expected.equity["BuyHold"].iloc[-1])
    wait_for_plot(backtest, DRAWDOWN)
    assert [t["name"] for t in plot_data(backtest, DRAWDOWN)] == ["Strategy", "Buy & hold"]

    # the statistics panel shows the backtesting.py names with the engine's values
    assert stat_text(backtest, "Return [%]") == f"{expected.stats['Return [%]']:,.2f}"
    assert stat_text(backtest, "# Trades") == f"{expected.stats['# Trades']:,}"
    assert stat_text(backtest, "Start") == "2015-01-02"
    for name in ("Sharpe Ratio", "Max. Drawdown [%]", "Win Rate [%]", "SQN"):
        assert stat_text(backtest, name) not in ("", "—")
    assert backtest.locator(".enb-bt-trades tr.enb-trade").count() == len(expected.trades)

    # the run was stored and is the newest row of the comparison table
    newest = list_backtests(store, limit=1)[0]
    assert newest["strategy"] == "sma-cross" and newest["commodity"] == "BRENT"
    first_row = backtest.locator(".enb-bt-compare tr.enb-bt-run").first
    assert first_row.get_attribute("data-run") == str(newest["id"])

    # the trades CSV downloads with every trade
    filename, text = download_csv(backtest, ".enb-bt-trades-csv a.enb-csv-link")
    assert filename.endswith("_trades.csv")
    trades = pd.read_csv(io.StringIO(text))
    assert len(trades) == len(expected.trades)
    assert trades["PnL"].sum() == pytest.approx(expected.trades["PnL"].sum())
    assert not backtest.console_errors, backtest.console_errors


def test_invalid_parameter_message_then_walk_forward_forecast_run(backtest):
    fast = backtest.locator(".enb-param-fast input")
    fast.fill("50")
    fast.press("Enter")
    message = backtest.locator(".enb-messages [data-level=error]")
    message.wait_for()
    assert "fast (50) must be smaller than slow (40)" in message.inner_text()
    body = backtest.inner_text("body")
    assert "Traceback" not in body

    # the forecast strategy: model and horizon controls appear; the run reports progress
    backtest.locator(".enb-bt-strategy select").select_option(
        value=f"forecast — {STRATEGIES['forecast'].description}")
    backtest.locator(".enb-param-model select").wait_for()
    assert backtest.locator(".enb-messages [data-level=error]").count() == 0
    backtest.locator(".enb-start input").fill("2025-06-01")
    backtest.locator("button.enb-bt-run").click()
    backtest.locator(".enb-bt-status", has_text="stored as run #").wait_for()
    wait_for_plot(backtest, EQUITY)
    traces = plot_data(backtest, EQUITY)
    assert traces[0]["x_first"].startswith("2025-06-02")
    assert stat_text(backtest, "Start") == "2025-06-02"
    bar = backtest.locator(".enb-bt-progress .progress-bar")
    assert "width: 100%" in (bar.get_attribute("style") or ""), bar.get_attribute("style")
    assert "forecast" in backtest.locator(".enb-bt-compare tr.enb-bt-run").first.inner_text()
    assert backtest.locator("button.enb-bt-run:not([disabled])").count() == 1
    assert not backtest.console_errors, backtest.console_errors


def test_parameters_show_plain_labels_and_model_settings_are_controls(backtest):
    """Issue 14: the run's parameters and the last-runs table say "Entry threshold (z-score)",
    not ``entry_z=``; the forecast model's settings are labelled controls, not a JSON box."""
    backtest.locator(".enb-bt-strategy select").select_option(
        value=f"mean-reversion — {STRATEGIES['mean-reversion'].description}")
    backtest.locator(".enb-param-entry-z input").wait_for()
    assert "Entry threshold (z-score)" in backtest.locator(".enb-bt-params").inner_text()
    backtest.locator("button.enb-bt-run").click()
    backtest.locator(".enb-bt-status", has_text="stored as run #").wait_for()
    line = backtest.locator(".enb-bt-params-line").inner_text()
    assert line.startswith("Parameters: ")
    assert "Entry threshold (z-score): 2" in line and "Window (trading days): 20" in line
    row = backtest.locator(".enb-bt-compare tr.enb-bt-run").first.inner_text()
    assert "Entry threshold (z-score): 2" in row, row
    table = backtest.locator(".enb-bt-compare").inner_text()
    for raw in ("entry_z", "exit_z", "fast=", "refit_every", "model_params"):
        assert raw not in table and raw not in line, raw
    # the last-runs table sorts on a header click (run ids ascending, newest first again)
    compare = backtest.locator("table.enb-bt-compare-table[data-enb-ready]")
    run_head = compare.locator("th").first
    run_ids = lambda: [int(r.get_attribute("data-run"))
                       for r in compare.locator("tr.enb-bt-run").all()]
    run_head.click()
    assert run_head.get_attribute("aria-sort") == "ascending"
    assert run_ids() == sorted(run_ids())
    run_head.click()
    assert run_ids() == sorted(run_ids(), reverse=True)

    # the forecast strategy: "Model settings" folds out the chosen model's own controls
    backtest.locator(".enb-bt-strategy select").select_option(
        value=f"forecast — {STRATEGIES['forecast'].description}")
    backtest.locator(".enb-param-model select").select_option("arima")
    fold = backtest.locator(".enb-bt-model-settings")
    fold.get_by_text("Model settings").click()
    max_p = fold.locator(".enb-model-setting-max-p")
    max_p.wait_for()
    assert "Largest AR order" in max_p.inner_text()
    assert fold.locator("textarea, .enb-param-model-params").count() == 0
    max_p.locator("input").fill("9")
    max_p.locator("input").press("Enter")
    message = backtest.locator(".enb-messages [data-level=error]")
    message.wait_for()
    assert "“Largest AR order” (max_p): max_p must be in 0..5, got 9" in message.inner_text()
    max_p.locator("input").fill("1")
    max_p.locator("input").press("Enter")
    backtest.wait_for_function(
        "() => !document.querySelector('.enb-messages [data-level=error]')")
    assert not backtest.console_errors, backtest.console_errors
