"""The live widget controller against a real server (no browser): chart, table and status."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from energy_nb.data.validation import PriceSeries
from energy_nb.stream.client import ForecastStream, StreamState
from energy_nb.ui.live import (
    LiveForecastWidget,
    apply_update,
    live_figure,
    points_table_html,
    status_html,
)

pytestmark = pytest.mark.timeout(60)


async def wait_until(predicate, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def trace(fig, name):
    return next(t for t in fig.data if t.name == name)


async def test_widget_follows_updates_in_place(make_server, book) -> None:
    server = await make_server()
    seen: list[dict] = []
    statuses: list[tuple[str, str]] = []
    stream = ForecastStream(server.url, api_key="", reconnect_interval=0.05)
    live = LiveForecastWidget(stream=stream, commodity="wti", horizon=5, on_update=seen.append,
                              on_status=lambda text, kind: statuses.append((text, kind)))
    figure_id = id(live.figure)
    live.start()
    try:
        await wait_until(lambda: live.updates == 1)  # the initial forecast
        assert 'data-state="connected"' in live.status.value
        assert statuses[0] == ("live", "connected")
        mean = trace(live.figure, "forecast")
        assert len(mean.x) == 5 and mean.y[0] == pytest.approx(book("WTI").iloc[-1])
        book.add("WTI", 99.5)
        seq = await server.broadcast_forecast_update("WTI", 5)
        await wait_until(lambda: live.updates == 2)
        assert id(live.figure) == figure_id  # same widget, updated in place
        assert trace(live.figure, "forecast").y[0] == pytest.approx(99.5)
        upper = trace(live.figure, "upper 95%").y
        lower = trace(live.figure, "lower 80%").y
        assert all(u > 99.5 for u in upper) and all(lo < 99.5 for lo in lower)
        assert f'data-seq="{seq}"' in live.table.value and "99.50" in live.table.value
        assert "seq" not in live.figure.layout.title.text  # no internal ids for people
        assert seen[-1]["seq"] == seq
        # other topics do not touch the widget
        count = stream.received_count
        await stream.subscribe("NG", 5)
        await stream.wait_for(lambda m: m["type"] == "subscribed", since=count)
        await server.broadcast_forecast_update("NG", 5)
        await stream.wait_for(lambda m: m.get("commodity") == "NG" and m.get("seq"), since=0)
        assert live.updates == 2
        # switching topic follows the new one
        count = stream.received_count
        await live.set_topic("NG", 3)
        await stream.wait_for(lambda m: m["type"] == "subscribed" and m["horizon"] == 3,
                              since=count)
        ng_seq = await server.broadcast_forecast_update("NG", 3)
        await wait_until(lambda: seen[-1].get("seq") == ng_seq)
        assert live.updates >= 3 and seen[-1]["commodity"] == "NG"
        assert len(trace(live.figure, "forecast").x) == 3
        await server.stop()
        await wait_until(lambda: 'data-state="disconnected"' in live.status.value)
        assert statuses[-1][1] == "disconnected"
    finally:
        await live.stop()


def test_pure_helpers() -> None:
    state = StreamState()
    assert 'data-state="connecting"' in status_html(state)
    state.last_error = "ConnectionRefusedError: <boom>"
    assert ('data-state="disconnected"' in status_html(state)
            and "&lt;boom&gt;" in status_html(state))
    fig = live_figure("BRENT")
    message = {"commodity": "BRENT", "horizon": 2, "model": "drift", "as_of": "2025-01-02",
               "seq": "5-0", "levels": [80, 95],
               "points": [{"date": "2025-01-03", "mean": 80.0, "lower_80": 79.0,
                           "upper_80": 81.0, "lower_95": 78.0, "upper_95": 82.0},
                          {"date": "2025-01-06", "mean": None, "lower_80": 78.0,
                           "upper_80": 82.0, "lower_95": 77.0, "upper_95": 83.0}]}
    apply_update(fig, message)
    assert list(trace(fig, "forecast").y) == [80.0, None]
    assert list(trace(fig, "upper 95%").y) == [82.0, 83.0]
    table = points_table_html(message)
    assert table.count("<tr>") == 3 and "–" in table and 'data-as-of="2025-01-02"' in table


async def test_forecast_page_live_mode(tmp_path, eia_dir) -> None:
    """The Forecast page's live toggle: status indicator, chart and table follow the server."""
    from energy_nb.data.store import PriceStore
    from energy_nb.data.validation import read_price_csv
    from energy_nb.live.forecasting import ModelForecaster, store_series_provider
    from energy_nb.live.server import LiveConfig, LiveServer
    from energy_nb.ui.forecast import ForecastPage
    from energy_nb.ui.live import attach_to_forecast_page

    store = PriceStore(tmp_path / "energy_nb.sqlite")
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    page = ForecastPage(store, commodity="WTI", model="drift", horizon=5, live=False)
    forecaster = ModelForecaster(store_series_provider(store), model="drift")
    async with LiveServer(forecaster, LiveConfig(port=0)) as server:
        toggle = attach_to_forecast_page(page, url=server.url, api_key="")
        assert toggle in page.live_controls.children
        toggle.value = True
        await wait_until(lambda: "Live update" in page.model_info.value)
        assert 'data-state="connected"' in page.live_status.value
        assert len(page.table_frame) == 5
        # a new price arrives and the server broadcasts: the page follows
        last = store.last_date("WTI")
        new_day = last + pd.offsets.BDay(1)
        store.import_series(PriceSeries("WTI", "test", [new_day.date()], [123.0], [1]))
        seq = await server.broadcast_forecast_update("WTI", 5)
        await wait_until(lambda: seq in page.model_info.value)
        assert f"{new_day.date()}" in page.model_info.value
        dates = pd.to_datetime(page.table_frame["date"])
        assert (dates > new_day).all() and len(dates) == 5
        # the horizon control re-subscribes the stream
        page.horizon.value = 3
        await wait_until(lambda: len(page.table_frame) == 3)
        toggle.value = False
        await wait_until(lambda: page.live_status.layout.display == "none")
        # off means off: the page's own forecast is back, and nothing from the stream follows
        assert "Live update" not in page.model_info.value
        assert "(live server)" not in page.chart.layout.title.text
        assert page.run is not None and page.run.model == "drift"
        await server.broadcast_forecast_update("WTI", 3)
        await asyncio.sleep(0.5)
        assert page.live_status.layout.display == "none" and page.live_status.value == ""
        assert "Live update" not in page.model_info.value
