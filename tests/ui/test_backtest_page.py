"""The Backtest page driven from Python: widget values in; charts, statistics, trades, CSV links,
stored-run comparison and messages out.

Runs on a real SQLite store in a temporary folder filled from the real EIA snapshot; backtests
are real runs of :func:`energy_nb.backtest.run_backtest` (no mocks).
"""

from __future__ import annotations

import io
import re
import threading
from datetime import date

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

from energy_nb.backtest import STAT_NAMES, list_backtests, run_backtest
from energy_nb.data.store import PriceStore
from energy_nb.ui.csv_download import CsvDownloadLink
from energy_nb.data.validation import read_price_csv
from energy_nb.models import MODEL_NAMES
from energy_nb.ui.backtest import BacktestPage, build_backtest_page
from energy_nb.ui.backtest_tables import (
    comparison_frame,
    format_stat,
    params_summary,
    trades_csv,
)

FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv"}


@pytest.fixture(scope="module")
def real_store(eia_dir, tmp_path_factory) -> PriceStore:
    store = PriceStore(tmp_path_factory.mktemp("backtest_page") / "energy_nb.sqlite")
    for code, name in FILES.items():
        store.import_series(read_price_csv(eia_dir / name, commodity=code))
    return store


@pytest.fixture()
def page(real_store) -> BacktestPage:
    return BacktestPage(real_store, background=False)


def stored_count(store: PriceStore) -> int:
    with store.read() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM backtests").scalar()


def link_text(link: CsvDownloadLink) -> str:
    """The CSV a download link answers a click with."""
    return link.answer({"type": "csv"})["text"]


def set_forecast(page: BacktestPage, start: date, **params) -> None:
    page.strategy.value = "forecast"
    for name, value in params.items():
        page.param_widgets["forecast"][name].value = value
    page.dates.start.value = start


# -- defaults and layout ---------------------------------------------------------------------------


def test_default_page_is_ready_to_run_brent_sma_cross(page, real_store):
    assert page.commodity.value == "BRENT"
    assert page.strategy.value == "sma-cross"
    assert page.param_widgets["sma-cross"]["fast"].value == 10
    assert page.param_widgets["sma-cross"]["slow"].value == 40
    last = real_store.load("BRENT").index[-1].date()
    assert page.dates.value == (date(2015, 1, 1), last)
    assert page.capital.value == 100_000 and page.commission.value == pytest.approx(0.001)
    assert page.run_button.disabled is False and page.cancel_button.disabled is True
    assert page.messages.level is None
    assert "BRENT: data through" in page.freshness.text
    assert page.equity_chart is None and page.drawdown_chart is None
    shown = set(page.params_box.children[1].children)  # first parameter row
    assert page.param_widgets["sma-cross"]["fast"] in shown


def test_parameter_controls_follow_the_strategy(page):
    def shown_widgets():
        out = []
        for row in page.params_box.children:
            out += list(getattr(row, "children", ()))
        return out

    page.strategy.value = "forecast"
    shown = shown_widgets()
    model = page.param_widgets["forecast"]["model"]
    assert model in shown and page.param_widgets["forecast"]["horizon"] in shown
    assert tuple(model.options) == tuple(MODEL_NAMES)
    assert page.param_widgets["sma-cross"]["fast"] not in shown
    page.strategy.value = "forecast-band"
    assert page.param_widgets["forecast-band"]["level"] in shown_widgets()
    page.strategy.value = "buy-and-hold"
    assert "No parameters" in page.params_box.children[0].value
    page.strategy.value = "mean-reversion"
    assert page.param_widgets["mean-reversion"]["entry_z"] in shown_widgets()


# -- a run -------------------------------------------------------------------------------------


def test_run_shows_equity_drawdown_stats_trades_and_csv(page, real_store):
    before = stored_count(real_store)
    result = page.run()
    assert result is not None and page.messages.level is None
    # the page ran exactly what run_backtest computes for the same inputs
    expected = run_backtest(real_store.load("BRENT"), "sma-cross", {"fast": 10, "slow": 40},
                            capital=100_000, commission=0.001, start="2015-01-01")
    assert result.stats["Return [%]"] == pytest.approx(expected.stats["Return [%]"])
    assert result.stats["# Trades"] == expected.stats["# Trades"] > 10

    strategy, benchmark = page.equity_chart.data
    assert (strategy.name, benchmark.name) == ("Strategy", "Buy & hold")
    assert pd.Timestamp(strategy.x[0]) == pd.Timestamp("2015-01-02")
    assert pd.Timestamp(strategy.x[-1]) == real_store.load("BRENT").index[-1]
    np.testing.assert_allclose(strategy.y, expected.equity["Equity"].to_numpy())
    np.testing.assert_allclose(benchmark.y, expected.equity["BuyHold"].to_numpy())
    assert benchmark.y[-1] == pytest.approx(
        100_000 * (1 + expected.stats["Buy & Hold Return [%]"] / 100))

    dd, dd_bh = page.drawdown_chart.data
    assert dd.name == "Strategy" and dd_bh.name == "Buy & hold"
    assert max(dd.y) <= 0
    assert min(dd.y) == pytest.approx(expected.stats["Max. Drawdown [%]"])

    for name in STAT_NAMES:
        assert f'data-stat="{name.replace("&", "&amp;")}"' in page.stats_table.value
    ret = format_stat("Return [%]", result.stats["Return [%]"])
    assert f'data-stat="Return [%]">{ret}<' in page.stats_table.value

    n_trades = len(result.trades)
    assert page.trades_table.value.count('class="enb-trade"') == n_trades
    trades = pd.read_csv(io.StringIO(link_text(page.trades_download)))
    assert len(trades) == n_trades
    assert trades["EntryTime"].iloc[0] == f"{result.trades['EntryTime'].iloc[0]:%Y-%m-%d}"
    assert trades["PnL"].sum() == pytest.approx(result.trades["PnL"].sum())
    assert page.trades_download.filename.endswith("_BRENT_sma-cross_2015-01-02_"
                                                  f"{result.end:%Y-%m-%d}_trades.csv")

    equity = pd.read_csv(io.StringIO(link_text(page.equity_download)),
                         parse_dates=["date"], index_col="date")
    assert list(equity.columns) == list(result.equity.columns)
    np.testing.assert_allclose(equity["Equity"].to_numpy(), result.equity["Equity"].to_numpy())
    assert equity.index[0] == pd.Timestamp("2015-01-02")

    assert stored_count(real_store) == before + 1
    assert result.run_id == list_backtests(real_store, limit=1)[0]["id"]
    assert f'data-run="{result.run_id}"' in page.comparison_table.value
    plain = "Fast average (trading days): 10 · Slow average (trading days): 40"
    assert plain in page.comparison_table.value and "fast=" not in page.comparison_table.value
    assert plain in page.params_line.value
    assert "stored as run #" in page.status.value
    assert page.progress.value == 100 and page.run_button.disabled is False


def test_mean_reversion_with_slippage_and_fee(page, real_store):
    page.strategy.value = "mean-reversion"
    w = page.param_widgets["mean-reversion"]
    w["window"].value, w["entry_z"].value, w["exit_z"].value = 30, 1.5, 0.25
    w["short"].value = False
    page.slippage.value, page.fixed_commission.value = 5.0, 2.0
    page.commodity.value = "WTI"
    page.dates.start.value = date(2018, 1, 1)
    page.dates.end.value = date(2022, 12, 31)
    result = page.run()
    assert result is not None and result.commodity == "WTI"
    assert result.params == {"window": 30, "entry_z": 1.5, "exit_z": 0.25, "short": False}
    assert (result.trades["Side"] == "long").all()
    assert result.end == pd.Timestamp("2022-12-30")
    assert result.info["slippage_cost"] > 0
    stored = list_backtests(real_store, limit=1)[0]
    assert stored["config"]["slippage_bps"] == 5.0 and stored["config"]["fixed_commission"] == 2.0
    assert stored["commodity"] == "WTI" and stored["params"]["window"] == 30


def test_comparison_lists_last_runs_newest_first_and_filters_by_commodity(real_store):
    page = BacktestPage(real_store, background=False, compare_last=3)
    page.run()
    first_chart = page.equity_chart
    page.param_widgets["sma-cross"]["slow"].value = 60
    page.run()
    # each result gets a fresh chart; the previous one is closed (no leaked widget models)
    assert page.equity_chart is not first_chart and first_chart.comm is None
    assert page.equity_slot.widget.children == (page.equity_chart,)
    page.commodity.value = "WTI"
    last = page.run()
    rows = re.findall(r'data-run="(\d+)"', page.comparison_table.value)
    assert len(rows) == 3
    assert [int(r) for r in rows] == sorted((int(r) for r in rows), reverse=True)
    assert int(rows[0]) == last.run_id
    page.compare_commodity_only.value = True
    frame = comparison_frame(list_backtests(real_store, commodity="WTI", limit=3))
    assert set(frame["Commodity"]) == {"WTI"}
    assert set(re.findall(r'data-run="(\d+)"', page.comparison_table.value)) == {
        str(i) for i in frame.index}
    page.commodity.value = "BRENT"
    assert "<td>WTI</td>" not in page.comparison_table.value


def test_comparison_frame_values():
    runs = [
        {"id": 7, "commodity": "NG", "strategy": "sma-cross",
         "params": {"fast": 5, "slow": 20, "short": True},
         "config": {"commission": 0.002, "fixed_commission": 1.0, "slippage_bps": 3.0},
         "start": "2020-01-02", "end": "2020-12-31",
         "stats": {"Return [%]": 12.5, "Sharpe Ratio": None, "# Trades": 4}},
    ]
    frame = comparison_frame(runs)
    row = frame.loc[7]
    assert row["Parameters"] == "Fast average (trading days): 5 · Slow average (trading days): 20"
    assert row["Costs"] == "0.2 % + $1 + 3 bp"
    assert row["Return [%]"] == 12.5 and np.isnan(row["Sharpe Ratio"])
    assert row["# Trades"] == 4 and row["Window"] == "2020-01-02 – 2020-12-31"
    assert comparison_frame([]).empty


def test_pure_formatting():
    assert format_stat("Start", pd.Timestamp("2015-01-02")) == "2015-01-02"
    assert format_stat("Duration", pd.Timedelta(days=37)) == "37 days"
    assert format_stat("Sharpe Ratio", float("nan")) == "—"
    assert format_stat("Max. Trade Duration", pd.NaT) == "—"
    assert format_stat("Equity Final [$]", 123456.789) == "123,456.79"
    assert format_stat("# Trades", np.int64(1234)) == "1,234"
    # plain labels, not the code's names (issue 14: not ``entry_z``, ``refit_every`` or JSON)
    assert params_summary({"short": False, "fast": 3}, "sma-cross") == (
        "Go short on sell signals: no · Fast average (trading days): 3")
    assert params_summary({"model": "arima", "horizon": 5, "refit_every": 20,
                           "model_params": {}}, "forecast") == (
        "Forecast model: arima · Horizon (trading days): 5")
    assert params_summary({"model": "arima", "horizon": 5, "refit_every": 10,
                           "model_params": {"max_p": 1}}, "forecast") == (
        "Forecast model: arima · Horizon (trading days): 5 · Refit every (trading days): 10 · "
        "Model settings: Largest AR order: 1")
    assert params_summary({"window": 20, "entry_z": 2.0}, "mean-reversion") == (
        "Window (trading days): 20 · Entry threshold (z-score): 2")
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in ("Side", "EntryTime", "PnL")})
    assert trades_csv(empty).strip() == "Side,EntryTime,PnL"


# -- walk-forward run in the background ----------------------------------------------------------


def test_button_runs_forecast_in_background_with_progress(real_store):
    page = BacktestPage(real_store, background=True)
    set_forecast(page, date(2025, 6, 1), model="drift", horizon=5, refit_every=20)
    seen_progress: list[int] = []
    seen_disabled: list[bool] = []
    page.progress.observe(lambda c: seen_progress.append(c["new"]), names="value")
    page.run_button.observe(lambda c: seen_disabled.append(c["new"]), names="disabled")
    page.run_button.click()
    assert page.wait(timeout=60)
    assert page.result is not None, page.messages.text
    assert seen_disabled[0] is True and seen_disabled[-1] is False
    assert seen_progress == sorted(seen_progress) and seen_progress[-1] == 100
    assert len(seen_progress) > 10  # the walk-forward steps moved the bar
    assert page.result.strategy == "forecast"
    assert page.result.info["strategy"]["forecasts"] > 250
    assert page.result.params["model"] == "drift" and page.result.params["horizon"] == 5
    assert len(page.equity_chart.data) == 2 and page.stats_table.value
    assert page.result.start == pd.Timestamp("2025-06-02")


def test_cancel_stops_a_walk_forward_run_and_stores_nothing(real_store):
    page = BacktestPage(real_store, background=True)
    set_forecast(page, date(2024, 1, 1), model="drift")
    before = stored_count(real_store)
    cancelled = threading.Event()

    def on_progress(change):
        if change["new"] >= 5 and not cancelled.is_set():
            cancelled.set()
            page.cancel()

    page.progress.observe(on_progress, names="value")
    page.run(wait=False)
    assert page.wait(timeout=60)
    assert cancelled.is_set()
    assert page.result is None
    assert page.messages.level == "info" and "cancelled" in page.messages.text
    assert stored_count(real_store) == before
    assert page.run_button.disabled is False and page.cancel_button.disabled is True
    assert page.progress.value < 100


# -- invalid input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "values", "expected"),
    [
        ("sma-cross", {"fast": 50, "slow": 40}, "fast (50) must be smaller than slow (40)"),
        ("sma-cross", {"fast": 0}, "parameter 'fast' must be >= 1"),
        ("mean-reversion", {"entry_z": 1.0, "exit_z": 1.5}, "exit_z (1.5) must be smaller"),
        ("forecast", {"horizon": 0}, "parameter 'horizon' must be >= 1"),
        ("forecast", {"train_window": "abc"}, "'train_window' must be a number or blank"),
        ("forecast", {"train_window": "10"}, "'train_window' must be >= 30"),
        ("forecast-band", {"level": 100}, "parameter 'level' must be <= 99"),
    ],
)
def test_invalid_strategy_parameters_show_the_strategy_message(page, real_store, strategy,
                                                               values, expected):
    before = stored_count(real_store)
    page.strategy.value = strategy
    for name, value in values.items():
        page.param_widgets[strategy][name].value = value
    assert page.messages.level == "error"
    assert expected in page.messages.text
    assert "Traceback" not in page.messages.widget.value
    assert page.run() is None
    assert expected in page.messages.text
    assert stored_count(real_store) == before
    assert page.equity_chart is None


def test_model_settings_are_typed_controls_of_the_chosen_model(page, real_store):
    """Issue 14: the model's settings are controls with plain labels, not a JSON text box."""
    before = stored_count(real_store)
    page.strategy.value = "forecast"
    settings = page.param_widgets["forecast"]["model_params"]
    assert settings.model == "drift"  # the strategy's default model
    assert isinstance(settings.controls["window"], widgets.Text)  # optional: blank = all
    page.param_widgets["forecast"]["model"].value = "arima"
    assert settings.model == "arima"
    max_p = settings.controls["max_p"]
    assert isinstance(max_p, widgets.IntText) and max_p.value == 2
    assert max_p.description == "Largest AR order" and "0..5" in max_p.tooltip
    assert isinstance(settings.controls["allow_mean"], widgets.Checkbox)
    assert page.messages.level is None

    max_p.value = 9
    assert page.messages.level == "error"
    assert "“Largest AR order” (max_p): max_p must be in 0..5, got 9" in page.messages.text
    assert page.run() is None and stored_count(real_store) == before

    max_p.value = 1
    settings.controls["allow_mean"].value = False
    assert page.messages.level is None
    assert page.request().params["model_params"] == {"max_p": 1, "allow_mean": False}
    # another model shows its own settings (the arima ones are kept for when it comes back)
    page.param_widgets["forecast"]["model"].value = "ets"
    trend = settings.controls["trend"]
    assert trend.options == ("additive (Holt)", "none (simple smoothing)")
    trend.value = "none (simple smoothing)"
    assert page.request().params["model_params"] == {"trend": None}
    page.param_widgets["forecast"]["model"].value = "arima"
    assert page.request().params["model_params"] == {"max_p": 1, "allow_mean": False}
    page.param_widgets["forecast"]["model"].value = "drift"
    settings.controls["window"].value = "sixty"
    assert "“Estimation window (trading days)” must be a whole number" in page.messages.text


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [
        ("capital", -5.0, "Capital must be > 0"),
        ("commission", 1.5, "Commission must be in [0, 1)"),
        ("slippage", -1.0, "slippage_bps must be in [0, 10000)"),
        ("fixed_commission", -2.0, "fixed_commission must be >= 0"),
    ],
)
def test_invalid_money_settings_show_a_message(page, real_store, control, value, expected):
    before = stored_count(real_store)
    getattr(page, control).value = value
    assert page.messages.level == "error" and expected in page.messages.text
    assert page.run() is None and stored_count(real_store) == before


def test_bad_dates_show_a_message_then_a_fix_clears_it(page, real_store):
    page.dates.start.value = date(2020, 1, 1)
    page.dates.end.value = date(2019, 1, 1)
    assert page.messages.level == "error" and "must be before the end date" in page.messages.text
    assert page.run() is None
    page.dates.end.value = date(2021, 1, 1)
    assert page.messages.level is None
    # a window after the last stored price: the run itself reports it
    page.dates.start.value = date(2030, 1, 1)
    page.dates.end.value = date(2031, 1, 1)
    assert page.run() is None
    assert page.messages.level == "error" and "Fewer than 2 prices" in page.messages.text
    assert page.run_button.disabled is False and page.status.value == "Failed."


def test_empty_store_shows_a_message_and_disables_run(tmp_path):
    widget = build_backtest_page(PriceStore(tmp_path / "empty.sqlite"))
    page = widget.page
    assert page.messages.level == "error" and "price store is empty" in page.messages.text
    assert page.run_button.disabled is True


# -- walk-forward optimisation ---------------------------------------------------------------------


def test_walk_forward_optimisation_shows_out_of_sample_run_and_chosen_params(page, real_store):
    from energy_nb.backtest.optimize import walk_forward_optimize

    page.optimise.value = True
    assert page.messages.level == "error" and "at least one parameter" in page.messages.text
    assert page.grid_widgets["sma-cross"]["fast"] in page.optimise_box.children
    page.grid_widgets["sma-cross"]["fast"].value = "5, 10, 5"
    page.grid_widgets["sma-cross"]["slow"].value = "30 60"
    page.train_days.value, page.test_days.value = 252, 126
    page.objective.value = "Return [%]"
    page.dates.start.value = date(2021, 1, 1)
    assert page.messages.level is None
    result = page.run()
    assert result is not None, page.messages.text
    expected = walk_forward_optimize(
        real_store.load("BRENT"), "sma-cross", {"fast": [5, 10], "slow": [30, 60]},
        fixed={"short": True}, train_days=252, test_days=126, objective="Return [%]",
        capital=100_000, commission=0.001, start="2021-01-01")
    assert result.strategy == "walk-forward sma-cross"
    assert result.stats["Return [%]"] == pytest.approx(expected.result.stats["Return [%]"])
    assert result.start == pd.Timestamp("2021-01-04")
    windows = page.windows_table.value
    assert windows.count('class="enb-bt-window"') == len(expected.windows) >= 8
    first = expected.windows.iloc[0]
    assert (f"{first.test_start:%Y-%m-%d}" in windows
            and f"Fast average (trading days): {first.params['fast']} · "
                f"Slow average (trading days): {first.params['slow']}" in windows)
    row = re.search(rf'data-run="{result.run_id}".*?</tr>', page.comparison_table.value).group(0)
    assert "walk-forward sma-cross" in row and ("Fast average (trading days) in 5, 10; "
                                                 "Slow average (trading days) in 30, 60") in row
    assert "best Return [%]" in row
    assert page.trades_download.filename.startswith(
        f"backtest_{result.run_id}_BRENT_walk-forward-sma-cross")
    # a single run afterwards clears the windows table
    page.optimise.value = False
    page.run()
    assert page.windows_table.value == "" and page.result.strategy == "sma-cross"


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        ({"fast": "5, x"}, "optimisation values of 'fast' must be numbers"),
        ({"fast": "0, 5"}, "parameter 'fast' must be >= 1"),
        ({"fast": "", "slow": ""}, "enter the values to try for at least one parameter"),
    ],
)
def test_invalid_optimisation_grid_shows_a_message(page, real_store, grid, expected):
    before = stored_count(real_store)
    page.optimise.value = True
    for name, text in grid.items():
        page.grid_widgets["sma-cross"][name].value = text
    assert page.messages.level == "error" and expected in page.messages.text
    assert page.run() is None and stored_count(real_store) == before


def test_optimisation_errors_found_by_the_optimiser_show_a_message(page, real_store):
    before = stored_count(real_store)
    page.optimise.value = True
    page.grid_widgets["sma-cross"]["fast"].value = "50, 60"   # every combination has fast >= slow
    assert page.run() is None
    assert "no valid parameter combination" in page.messages.text
    page.grid_widgets["sma-cross"]["fast"].value = "5"
    page.train_days.value = 5
    assert page.run() is None
    assert page.messages.level == "error" and "train_days must be >= 20" in page.messages.text
    assert stored_count(real_store) == before and page.status.value == "Failed."


def test_buy_and_hold_cannot_be_optimised(page):
    page.strategy.value = "buy-and-hold"
    assert page.optimise.disabled is True
    page.strategy.value = "mean-reversion"
    assert page.optimise.disabled is False
    assert set(page.grid_widgets["mean-reversion"]) == {"window", "entry_z", "exit_z"}


def test_preview_shows_the_default_run_without_storing_it(real_store):
    before = [r["id"] for r in list_backtests(real_store, limit=1_000_000)]
    page = BacktestPage(real_store, background=False, preview=True)
    assert page.result is not None and page.result.run_id is None
    assert page.equity_chart is not None and page.drawdown_chart is not None
    assert "Preview of the default settings, not stored" in page.status.value
    assert [r["id"] for r in list_backtests(real_store, limit=1_000_000)] == before
    assert not page.run_button.disabled
    stored = page.run()  # the Run button stores the same run
    assert stored is not None and stored.run_id is not None
    assert stored.equity["Equity"].iloc[-1] == pytest.approx(page.result.equity["Equity"].iloc[-1])


def test_build_backtest_page_opens_with_a_preview(real_store):
    from energy_nb.ui.backtest import build_backtest_page

    widget = build_backtest_page(real_store, background=False)
    assert widget.page.equity_chart is not None
    assert build_backtest_page(real_store, background=False, preview=False).page.result is None


def test_walk_forward_strategies_are_not_previewed(real_store):
    page = BacktestPage(real_store, background=True, strategy="forecast", preview=True)
    assert page.result is None and not page.running
    assert "press <b>Run backtest</b>" in page.status.value


def test_zero_trades_and_ruin_are_explained_on_the_page(page, real_store, eia_dir, tmp_path):
    """Issue 14.5: a forecast run without trades says why; a ruined account says so."""
    set_forecast(page, date(2026, 1, 2), model="random_walk", horizon=5, refit_every=20,
                 rebalance_every=20)
    result = page.run()
    assert result is not None and len(result.trades) == 0
    assert page.messages.level == "info"
    assert "No trade" in page.messages.text and "predicted no change" in page.messages.text
    ng_store = PriceStore(tmp_path / "energy_nb.sqlite")
    ng_store.import_series(read_price_csv(eia_dir / "henryhub-daily.csv", commodity="NG"))
    page = BacktestPage(ng_store, background=False)
    page.strategy.value = "mean-reversion"
    page.commodity.value = "NG"
    page.dates.start.value = date(2015, 1, 1)
    result = page.run()
    assert result is not None and result.stats["Return [%]"] == pytest.approx(-100)
    assert page.messages.level == "warning" and "ruined on" in page.messages.text
