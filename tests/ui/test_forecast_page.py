"""The Forecast page driven from Python.

Widget values in; figure traces, table, CSV and messages out.

Runs on a real SQLite store in a temporary folder filled from the real EIA snapshot, with the real
models and the real :class:`ForecastService` (its cache counters show when a fit happened).
"""

from __future__ import annotations

import io
import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.service.forecasting import ForecastService
from energy_nb.viz.charts import band_trace_name
from energy_nb.ui.forecast import ForecastPage, build_forecast_page

FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}
LAST = date(2026, 8, 18)


@pytest.fixture(scope="module")
def real_store(eia_dir, tmp_path_factory) -> PriceStore:
    store = PriceStore(tmp_path_factory.mktemp("forecast") / "energy_nb.sqlite")
    for code, name in FILES.items():
        store.import_series(read_price_csv(eia_dir / name, commodity=code))
    return store


@pytest.fixture()
def page(real_store) -> ForecastPage:
    return ForecastPage(real_store, model="random_walk")


def link_csv(page: ForecastPage) -> pd.DataFrame:
    """The CSV the download link answers a click with."""
    return pd.read_csv(io.StringIO(page.download.answer({"type": "csv"})["text"]))


def traces(page: ForecastPage) -> dict:
    return {t.name: t for t in page.chart.data}


def band(page: ForecastPage, level: int) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) of a band polygon, without the origin anchor points."""
    trace = traces(page)[band_trace_name(level)]
    y = np.asarray(trace.y, dtype=float)
    h = len(page.table_frame)
    upper = y[1: 1 + h]
    lower = y[1 + h: 1 + 2 * h][::-1]
    return upper, lower


def test_default_page_forecasts_from_latest_data(page, real_store):
    wti = real_store.load("WTI")
    assert page.messages.level is None
    assert page.start.value == LAST
    assert [t.name for t in page.chart.data] == [
        "history", "95% interval", "80% interval", "forecast"]
    tr = traces(page)
    assert pd.Timestamp(tr["history"].x[-1]) == pd.Timestamp(LAST)
    assert tr["history"].y[-1] == pytest.approx(wti.iloc[-1])
    assert len(tr["history"].x) == 126
    # the forecast starts at the last price and covers the 7 business days after it
    assert len(tr["forecast"].x) == 8 and tr["forecast"].y[0] == pytest.approx(wti.iloc[-1])
    assert pd.Timestamp(tr["forecast"].x[1]) == pd.Timestamp("2026-08-19")
    assert list(page.table_frame["step"]) == list(range(1, 8))
    np.testing.assert_allclose(page.table_frame["mean"], wti.iloc[-1])  # random walk
    assert "actual" not in page.table_frame and page.error_summary is None
    assert "WTI: data through 2026-08-18" in page.freshness.text
    assert "random_walk" in page.model_info.value


def test_bands_are_nested_and_match_the_table(page):
    page.set_levels((50, 80, 90, 95, 99))
    names = [t.name for t in page.chart.data if t.name.endswith("interval")]
    assert names == [band_trace_name(v) for v in (99, 95, 90, 80, 50)]  # widest drawn first
    mean = page.table_frame["mean"].to_numpy()
    previous = None
    for level in (50, 80, 90, 95, 99):
        upper, lower = band(page, level)
        np.testing.assert_allclose(upper, page.table_frame[f"upper_{level}"])
        np.testing.assert_allclose(lower, page.table_frame[f"lower_{level}"])
        assert np.all(lower <= mean) and np.all(mean <= upper)
        if previous is not None:
            assert np.all(lower <= previous[1] + 1e-12) and np.all(upper >= previous[0] - 1e-12)
        previous = (upper, lower)
    upper99, lower99 = band(page, 99)
    upper50, lower50 = band(page, 50)
    assert np.all(upper99 - lower99 > upper50 - lower50)
    assert "99% interval" in page.table.value


def test_horizon_and_levels_reuse_the_fitted_model(page):
    page.horizon.value = 20  # the first change fits (the first paint may be a stored forecast)
    stats = page.service.cache_stats()
    shown = len(page.progress_log)
    page.horizon.value = 30
    page.level_boxes[50].value = True
    page.level_boxes[95].value = False
    after = page.service.cache_stats()
    assert after.fits == stats.fits and after.hits >= stats.hits + 2
    assert len(page.progress_log) == shown  # no "fitting" indicator for a cached model
    assert len(page.table_frame) == 30 and page.run.horizon == 30 and page.run.cached
    assert [t.name for t in page.chart.data if "interval" in t.name] == [
        "80% interval", "50% interval"]
    assert list(link_csv(page).columns) == [
        "step", "date", "mean", "lower_50", "upper_50", "lower_80", "upper_80"]


def test_progress_indicator_shows_while_fitting_then_hides(page):
    shown = []
    page.progress.layout.observe(lambda ch: shown.append(ch["new"]), names="display")
    page.model.value = "drift"
    assert shown == ["", "none"]
    assert page.progress_log[-1] == "Fitting drift on WTI prices up to 2026-08-18 …"
    assert page.progress.layout.display == "none" and page.run.model == "drift"


def test_past_start_date_shows_actuals_and_errors(page, real_store):
    page.horizon.value = 10
    page.start.value = date(2025, 3, 10)
    wti = real_store.load("WTI")
    after = wti.loc["2025-03-11":].iloc[:10]
    tr = traces(page)
    assert "actual" in tr
    np.testing.assert_allclose(tr["actual"].y, after.to_numpy())
    assert [pd.Timestamp(x) for x in tr["actual"].x] == list(after.index)
    table = page.table_frame
    np.testing.assert_allclose(table["actual"], after.to_numpy())
    origin_price = wti.loc["2025-03-10"]
    np.testing.assert_allclose(table["error"], after.to_numpy() - origin_price)
    assert page.error_summary["n"] == 10
    assert page.error_summary["mae"] == pytest.approx(np.mean(np.abs(after - origin_price)))
    inside80 = np.mean((after.to_numpy() >= table["lower_80"])
                       & (after.to_numpy() <= table["upper_80"]))
    assert page.error_summary["coverage"][80] == pytest.approx(inside80)
    assert "Forecast vs actual" in page.errors.value
    csv = link_csv(page)
    np.testing.assert_allclose(csv["actual"], after.to_numpy(), atol=1e-4)
    assert page.download.filename == "forecast_WTI_random_walk_2025-03-10_h10.csv"
    # the history stops at the origin: nothing after it leaks into the history trace
    assert pd.Timestamp(tr["history"].x[-1]) == pd.Timestamp("2025-03-10")


def test_weekend_start_uses_the_previous_trading_day(page):
    page.start.value = date(2025, 3, 8)  # a Saturday
    assert page.run.origin == pd.Timestamp("2025-03-07")
    assert page.messages.level == "info" and "starts from 2025-03-07" in page.messages.text


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2030, 1, 2), "after the last stored WTI price (2026-08-18)"),
        (date(1980, 1, 2), "before the first WTI price"),
        (date(1986, 1, 10), "need at least 30"),
    ],
)
def test_invalid_start_shows_a_message_and_clears_the_page(page, start, expected):
    page.start.value = start
    assert page.messages.level == "error" and expected in page.messages.text
    assert "Traceback" not in page.messages.widget.value
    assert page.run is None and page.table_frame.empty and page.table.value == ""
    assert len(page.chart.data) == 0
    assert page.download.csv_text is None
    page.latest_button.click()  # back to a valid choice: the message goes away
    assert page.messages.level is None and page.start.value == LAST and page.run is not None


def test_no_levels_shows_only_the_point_forecast(page):
    page.set_levels(())
    assert page.messages.level == "info" and "No interval level" in page.messages.text
    assert [t.name for t in page.chart.data] == ["history", "forecast"]
    assert list(page.table_frame.columns) == ["step", "date", "mean"]


def test_commodity_switch_follows_latest_data(page, real_store):
    page.commodity.value = "NG"
    ng = real_store.load("NG").dropna()
    assert page.start.value == ng.index[-1].date()
    assert page.run.commodity == "NG"
    assert traces(page)["history"].y[-1] == pytest.approx(ng.iloc[-1])
    assert page.chart.layout.yaxis.title.text == "USD/MMBtu"


def test_auto_explains_its_choice(real_store):
    page = ForecastPage(real_store, horizon=5)
    assert page.run.model == "auto"
    info = page.run.forecast.info
    assert info["chosen"] in page.model_info.value
    assert "Why:" in page.model_info.value and info["reason"][:30] in page.model_info.value


def test_every_shown_forecast_is_recorded_and_reproducible(page, real_store):
    page.start.value = date(2025, 6, 2)
    record_id = page.run.record_id
    assert record_id is not None
    stored = page.service.recorded(record_id)
    assert stored["inputs"]["origin"] == "2025-06-02" and stored["inputs"]["horizon"] == 7
    np.testing.assert_allclose(page.service.reproduce(record_id).mean, page.run.forecast.mean)


def test_apply_forecast_from_a_live_message_updates_chart_and_table(page, real_store):
    fc = ForecastService(real_store).forecast("WTI", "drift", horizon=5, levels=(80,)).forecast
    frame = fc.to_frame()
    message = {
        "type": "forecast_update", "commodity": "WTI", "horizon": 5, "model": "drift",
        "as_of": "2026-08-18", "seq": "17-0", "levels": [80],
        "points": [{"date": f"{d:%Y-%m-%d}", "mean": m, "lower_80": lo, "upper_80": hi}
                   for d, m, lo, hi
                   in frame[["date", "mean", "lower_80", "upper_80"]].itertuples(index=False)],
    }
    assert page.apply_forecast(message) is True
    assert [t.name for t in page.chart.data] == ["history", "80% interval", "forecast"]
    np.testing.assert_allclose(traces(page)["forecast"].y[1:], fc.mean)
    np.testing.assert_allclose(page.table_frame["upper_80"], fc.upper[80])
    assert "Live update" in page.model_info.value
    # the internal sequence id is kept for machines, never shown to people
    visible = re.sub(r"<[^>]+>", "", page.model_info.value)
    assert 'data-seq="17-0"' in page.model_info.value and "17-0" not in visible
    # the page asked for random_walk: the line says plainly that this is the server's drift
    assert "live server's drift forecast from 2026-08-18" in visible
    assert "not your selection (random_walk from 2026-08-18)" in visible
    assert "drift" in page.track_record.value and "random_walk" not in page.track_record.value
    assert "(live server)" in page.chart.layout.title.text
    page.model.value = "drift"  # now the controls ask for what the server sends
    assert page.apply_forecast(message) is True
    assert "as you selected" in page.model_info.value
    # a Forecast.to_dict() payload works too; another commodity's update is ignored
    assert page.apply_forecast(fc.to_dict()) is True
    assert page.apply_forecast({**message, "commodity": "NG"}) is False
    assert len(page.table_frame) == 5
    assert page.apply_forecast({"type": "forecast_update", "points": []}) is False
    assert page.messages.level == "warning" and "no points" in page.messages.text


def test_live_status_indicator(page):
    assert page.live_status.layout.display == "none"
    page.set_live_status("connected to ws://127.0.0.1:1/x", "connected")
    assert page.live_status.layout.display == ""
    assert 'data-state="connected"' in page.live_status.value
    page.set_live_status("")
    assert page.live_status.layout.display == "none"


def test_empty_store_shows_a_message(tmp_path):
    widget = build_forecast_page(PriceStore(tmp_path / "empty.sqlite"))
    page = widget.page
    assert page.messages.level == "error" and "store is empty" in page.messages.text
    assert page.run is None and page.download.csv_text is None


def test_live_mode_toggle_is_offered_and_off_by_default(real_store):
    page = ForecastPage(real_store, model="random_walk")
    assert page.live_toggle is not None and page.live_toggle.value is False
    assert page.live_toggle in page.live_controls.children
    assert page.live_status.layout.display == "none"
    quiet = ForecastPage(real_store, model="random_walk", live=False)
    assert quiet.live_toggle is None and quiet.live_controls.children == ()


def test_track_record_shows_the_latest_evaluation_of_the_model(real_store, tmp_path):
    import shutil

    from energy_nb.service.diagnostics import quick_evaluation
    from energy_nb.service.registry import ModelRegistry

    path = tmp_path / "energy_nb.sqlite"
    shutil.copy(real_store.path, path)
    store = PriceStore(path)
    page = ForecastPage(store, model="drift", horizon=5, levels=(80, 95))
    assert "no walk-forward evaluation of <b>drift</b> on WTI" in page.track_record.value
    quick_evaluation(store, "WTI", ("random_walk", "drift"), n_origins=3, horizon=10, step=10)
    page.horizon.value = 4  # any update reads the registry again
    steps = ModelRegistry(store).latest_evaluations("WTI")["drift"].step_metrics().loc[1:4]
    text = page.track_record.value
    assert "steps 1–4" in text and "3 origins" in text
    for level in (80, 95):
        assert f"{steps[f'coverage_{level}'].mean() * 100:.1f} %" in text
    assert f"rMAE</abbr> {steps['rmae'].mean():.3f}" in text
    assert 'title="Relative mean absolute error' in text  # the glossary's tooltip


def test_first_paint_shows_the_stored_forecast_then_a_change_fits(eia_dir, tmp_path):
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    store.import_series(read_price_csv(eia_dir / FILES["WTI"], commodity="WTI"))
    first = ForecastPage(store, model="drift", live=False)  # nothing stored: it fits, stores
    assert first.run.stored_at is None and first.service.cache_stats().fits == 1
    assert "fitted in" in first.model_info.value
    second = ForecastPage(store, model="drift", live=False)  # a new visitor: read, not fitted
    assert second.service.cache_stats().fits == 0 and second.progress_log == []
    assert second.run.record_id == first.run.record_id
    assert "stored forecast of" in second.model_info.value
    pd.testing.assert_frame_equal(second.table_frame, first.table_frame)
    assert [list(t.y) for t in second.chart.data] == [list(t.y) for t in first.chart.data]
    assert second.download.answer({"type": "csv"}) == first.download.answer({"type": "csv"})
    second.horizon.value = 10  # a changed control fits, as before
    assert second.service.cache_stats().fits == 1 and len(second.table_frame) == 10
    assert second.progress_log == ["Fitting drift on WTI prices up to 2026-08-18 …"]
    assert second.run.stored_at is None
