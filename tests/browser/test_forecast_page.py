"""The Forecast dashboard in headless Chromium through Voilà, on the real imported data.

One Voilà server and ONE page for the module (rendering the notebook runs the real ``auto``
model in a fresh kernel, the slow part): the tests run in file order on that page, each starting
from the state the previous one left.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_nb.data.store import PriceStore
from tests.browser.conftest import new_page, plot_data, render_url, wait_for_plot

# the page has one plotly chart (the FigureWidget carries the js-plotly-plot class itself)
CHART = ".enb-forecast-page"


@pytest.fixture(scope="module")
def store(energy_home) -> PriceStore:
    return PriceStore(Path(energy_home) / "energy_nb.sqlite")


@pytest.fixture(scope="module")
def forecast(voila_server, browser):
    """The Forecast page, loaded once for the module, its chart drawn."""
    context, page = new_page(browser, timeout=60_000)
    page.goto(render_url(voila_server, "forecast.ipynb"))
    try:
        wait_for_plot(page, CHART)
    except Exception:
        print(voila_server.log()[-5000:])
        raise
    yield page
    context.close()


def wait_for_chart(page, condition: str) -> list[dict]:
    """Wait until ``condition`` (JS over ``names`` and ``trace(name)``) holds for the chart."""
    page.wait_for_function(
        """([sel, cond]) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
              if (!gd || !gd.data) return false;
              const names = gd.data.map(t => t.name);
              const trace = (n) => gd.data.find(t => t.name === n);
              return Function('names', 'trace', 'return ' + cond)(names, trace); }""",
        arg=[CHART, condition],
    )
    return plot_data(page, CHART)


def test_chart_renders_history_forecast_and_nested_bands(forecast, store):
    wti = store.load("WTI").dropna()
    traces = {t["name"]: t for t in plot_data(forecast, CHART)}
    assert list(traces) == ["history", "95% interval", "80% interval", "forecast"]
    assert traces["history"]["x_last"].startswith("2026-08-18")
    assert traces["history"]["y_last"] == pytest.approx(wti.iloc[-1])
    assert traces["forecast"]["n"] == 8  # origin + 7 steps
    # the 95% band polygon encloses the 80% one at the first step (upper part comes first)
    bands = forecast.evaluate(
        """(sel) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
              const b = (n) => Array.from(gd.data.find(t => t.name === n).y);
              return {b95: b('95% interval'), b80: b('80% interval')}; }""",
        CHART,
    )
    upper95, upper80 = bands["b95"][1], bands["b80"][1]
    lower95, lower80 = bands["b95"][-2], bands["b80"][-2]
    assert lower95 <= lower80 < upper80 <= upper95
    assert forecast.locator(".enb-forecast-rows tr").count() == 8  # header + 7 steps
    assert "auto" in forecast.inner_text(".enb-model-info")
    assert "Why:" in forecast.inner_text(".enb-model-info")
    # the evidence line: the session's store may or may not hold an evaluation of auto
    assert "Track record" in forecast.inner_text(".enb-track-record")
    assert forecast.locator("a.enb-csv-link").count() == 1
    assert not forecast.console_errors, forecast.console_errors


def test_changing_the_horizon_updates_the_forecast(forecast):
    readout = forecast.locator(".enb-horizon .widget-readout")
    readout.click()
    forecast.keyboard.press("Control+A")
    forecast.keyboard.type("20")
    forecast.keyboard.press("Enter")
    traces = wait_for_chart(forecast, "trace('forecast') && trace('forecast').x.length === 21")
    assert {t["name"] for t in traces} >= {"95% interval", "80% interval"}
    forecast.wait_for_function(
        "() => document.querySelectorAll('.enb-forecast-rows tr').length === 21")
    forecast.wait_for_function(
        "() => document.querySelector('.enb-download').innerText.includes('_h20.csv')")


def test_past_start_date_shows_actuals_and_errors(forecast, store):
    forecast.locator(".enb-start input").fill("2025-03-10")
    traces = wait_for_chart(forecast, "names.includes('actual')")
    actual = next(t for t in traces if t["name"] == "actual")
    after = store.load("WTI").loc["2025-03-11":].iloc[:20]  # horizon 20 from the test above
    assert actual["n"] == 20
    assert actual["x_first"].startswith("2025-03-11")
    assert actual["y_first"] == pytest.approx(after.iloc[0])
    assert actual["y_last"] == pytest.approx(after.iloc[-1])
    history = next(t for t in traces if t["name"] == "history")
    assert history["x_last"].startswith("2025-03-10")
    errors = forecast.locator(".enb-forecast-errors")
    errors.wait_for()
    assert "Forecast vs actual" in errors.inner_text() and "MAE" in errors.inner_text()


def test_forecast_table_sorts_pages_and_explains_its_columns(forecast):
    """Issue 14: the table sorts on a header click, pages when long, and its headers carry the
    glossary's tooltips (the page above left 20 steps from 2025-03-10, with actuals)."""
    table = forecast.locator("table.enb-forecast-rows[data-enb-ready]")
    table.wait_for()
    rows = table.locator("tr:not(:first-child)")
    assert rows.count() == 20
    visible = lambda: [r.inner_text().split("\t")[1] for r in rows.all() if r.is_visible()]
    # long: 15 rows a page, with a pager
    pager = forecast.locator(".enb-forecast-table .enb-pager")
    assert pager.locator(".enb-page-no").inner_text() == "rows 1–15 of 20"
    first_page = visible()
    assert len(first_page) == 15 and first_page[0] == "2025-03-11"
    pager.locator(".enb-next").click()
    assert pager.locator(".enb-page-no").inner_text() == "rows 16–20 of 20"
    assert len(visible()) == 5
    # a click on "Date" sorts ascending, a second click descending (ISO dates)
    date_head = table.locator("th", has_text="Date")
    date_head.click()
    assert date_head.get_attribute("aria-sort") == "ascending"
    date_head.click()
    assert date_head.get_attribute("aria-sort") == "descending"
    dates = visible()
    assert dates == sorted(dates, reverse=True) and len(dates) == 15
    assert all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in dates)
    # numbers sort as numbers: the "Error" column ascending
    head = [h.inner_text().strip() for h in table.locator("th").all()]
    error_col = head.index("Error")
    table.locator("th", has_text="Error").click()
    errors = [float(r.locator("td").nth(error_col).inner_text().replace(",", "")
                    .replace("\u2212", "-")) for r in rows.all() if r.is_visible()]
    assert errors == sorted(errors)
    # glossary tooltips on the column headers
    for name, start in (("80% interval", "The range the price should fall in"),
                        ("Error", "Actual price minus the forecast"),
                        ("Step", "Trading days after the start")):
        tip = table.locator("th", has_text=name).locator("abbr.enb-term").get_attribute("title")
        assert tip.startswith(start), (name, tip)
    track = forecast.locator(".enb-forecast-errors abbr.enb-term", has_text="MAE").first
    assert track.get_attribute("title").startswith("Mean absolute error")


def test_invalid_start_shows_a_message_not_a_traceback(forecast):
    forecast.locator(".enb-start input").fill("2030-01-02")
    message = forecast.locator(".enb-messages [data-level=error]")
    message.wait_for()
    assert "after the last stored WTI price" in message.inner_text()
    forecast.wait_for_function(
        "(sel) => document.querySelector(sel + ' .js-plotly-plot').data.length === 0", arg=CHART)
    assert "Traceback" not in forecast.inner_text("body")


def test_live_mode_updates_the_page_when_the_server_broadcasts(voila_factory, browser):
    """Live mode (issue 5): the page's chart and table change after the server broadcasts."""
    from energy_nb.live.forecasting import ModelForecaster
    from tests.live.conftest import PriceBook, ServerThread

    book = PriceBook(80)
    server = ServerThread(ModelForecaster(book, model="random_walk", history_days=None))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        voila = voila_factory(env={"ENERGY_NB_WS_URL": server.server.url, "ENERGY_NB_API_KEY": ""})
        page = context.new_page()
        page.set_default_timeout(90_000)
        page.goto(render_url(voila, "forecast.ipynb"))
        wait_for_plot(page, CHART)
        page.locator(".enb-live-toggle").click()
        page.locator('.enb-live-status [data-state="connected"]').wait_for()
        for price in (123.45, 54.32):
            book.add("WTI", price)
            seq = server.call(server.server.broadcast_forecast_update("WTI", horizon=7))
            page.wait_for_function(  # the seq is an attribute, never shown (issue 14.4)
                "(seq) => { const m = document.querySelector('.enb-model-info [data-seq]');"
                " return m && m.dataset.seq === seq; }",
                arg=str(seq))
            page.wait_for_function(
                """([sel, y]) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
                      const t = gd && gd.data.find(d => d.name === 'forecast');
                      return t && Math.abs(Array.from(t.y).slice(-1)[0] - y) < 1e-6; }""",
                arg=[CHART, price])
            first_row = page.locator(".enb-forecast-rows tr").nth(1).inner_text()
            assert f"{price:.2f}" in first_row
        assert "Live update" in page.inner_text(".enb-model-info")
    finally:
        context.close()
        server.stop()
