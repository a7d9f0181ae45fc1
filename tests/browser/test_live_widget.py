"""Live widget in a real browser: Voilà renders a notebook using ``energy_nb.ui.live``; the
test's server broadcasts; the chart and table on the page change without a reload.

This also proves that an asyncio task started in a notebook cell keeps updating widgets after
Voilà rendered the page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest

from energy_nb.live.forecasting import ModelForecaster
from tests.browser.conftest import IN_CI, plot_data, wait_for_plot
from tests.live.conftest import PriceBook, ServerThread

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

VOILA = Path(sys.executable).with_name("voila")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_book() -> PriceBook:
    return PriceBook(80)


@pytest.fixture
def live_server(live_book: PriceBook) -> Iterator[ServerThread]:
    thread = ServerThread(ModelForecaster(live_book, model="random_walk", history_days=None))
    yield thread
    thread.stop()


@pytest.fixture
def live_voila(tmp_path: Path, live_server: ServerThread) -> Iterator[str]:
    """Voilà serving a tiny notebook that shows a LiveForecastWidget for WTI/5."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from energy_nb.ui.live import LiveForecastWidget\n"
        f"live = LiveForecastWidget({live_server.server.url!r}, api_key='', commodity='WTI',"
        " horizon=5)\n"
        "live.start()\n"
        "live.widget"
    )]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = tmp_path / "live.ipynb"
    nbformat.write(notebook, path)
    if not VOILA.exists():
        if IN_CI:
            pytest.fail(f"voila not found at {VOILA}")
        pytest.skip(f"voila not found at {VOILA}")
    port = free_port()
    log_path = tmp_path / "voila.log"
    env = {**os.environ, "ENERGY_NB_API_KEY": "", "PYTHONPATH": str(Path.cwd())}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(VOILA), str(path), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "voila/static/", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # Voilà answers (an error page for this path is fine)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"voila did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def table_state(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => { const t = document.querySelector('.enb-live-table');
        if (!t) return {seq: null, as_of: null, first_mean: null, rows: 0};
        const cells = t.querySelectorAll('tbody tr td');
        return {seq: t.dataset.seq, as_of: t.dataset.asOf,
                rows: t.querySelectorAll('tbody tr').length,
                first_mean: cells.length > 1 ? cells[1].textContent : null}; }""")


def mean_trace(page: Any) -> dict[str, Any]:
    return next(t for t in plot_data(page, ".enb-live-chart") if t["name"] == "forecast")


def test_live_widget_changes_after_server_broadcasts(live_voila: str, live_server: ServerThread,
                                                     live_book: PriceBook, page: Any) -> None:
    page.goto(live_voila)
    page.wait_for_selector('.enb-live-status[data-state="connected"]', timeout=120_000)
    # the initial forecast (reply to the stream's request) is drawn
    page.wait_for_function("() => { const t = document.querySelector('.enb-live-table');"
                           " return t && t.querySelectorAll('tbody tr').length === 5; }")
    wait_for_plot(page, ".enb-live-chart")
    before_table = table_state(page)
    before_plot = mean_trace(page)
    assert before_plot["n"] == 5 and before_table["seq"] == "None"
    assert before_plot["y_first"] == pytest.approx(live_book("WTI").iloc[-1], rel=1e-6)

    for price in (123.45, 54.32):
        day = live_book.add("WTI", price)
        seq = live_server.call(live_server.server.broadcast_forecast_update("WTI", horizon=5))
        page.wait_for_function(
            "(seq) => { const t = document.querySelector('.enb-live-table');"
            " return t && t.dataset.seq === seq; }", arg=seq, timeout=30_000)
        page.wait_for_function(
            "(y) => { const gd = document.querySelector('.enb-live-chart .js-plotly-plot');"
            " const t = gd && gd.data.find(d => d.name === 'forecast');"
            " return t && Math.abs(Array.from(t.y)[0] - y) < 1e-6; }", arg=price, timeout=30_000)
        state = table_state(page)
        assert state["as_of"] == day.strftime("%Y-%m-%d")
        assert state["first_mean"] == f"{price:.2f}"
        plot = mean_trace(page)
        assert plot["n"] == 5 and plot["y_first"] == pytest.approx(price)
        assert plot["x_first"] > before_plot["x_first"]
    status = page.inner_text(".enb-live-status")
    assert "live" in status and "update 3" in status
    assert not page.console_errors, page.console_errors


def start_voila(notebook_dir: Path, notebook: Path, env: dict[str, str]) -> tuple[Any, str]:
    """Start Voilà on one notebook; returns ``(process, base url)`` once it answers."""
    port = free_port()
    log_path = notebook_dir / "voila.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(VOILA), str(notebook), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, cwd=notebook_dir, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "voila/static/", timeout=2):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"voila did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
    return process, url


def test_forecast_page_live_mode_changes_after_broadcast(tmp_path: Path, energy_home: Path,
                                                         page: Any) -> None:
    """The Forecast page: the user clicks "Live"; the table and model line follow broadcasts."""
    import shutil

    from energy_nb.data.store import PriceStore
    from energy_nb.data.validation import PriceSeries
    from energy_nb.live.forecasting import store_series_provider

    db = tmp_path / "energy_nb.sqlite"
    shutil.copy(energy_home / "energy_nb.sqlite", db)  # private copy: this test adds a price
    store = PriceStore(db)
    server = ServerThread(ModelForecaster(store_series_provider(store), model="drift"))
    process = None
    try:
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(
            "from energy_nb.data.store import PriceStore\n"
            "from energy_nb.ui.forecast import ForecastPage\n"
            f"page = ForecastPage(PriceStore({str(db)!r}), commodity='WTI', model='drift',"
            " horizon=5)\n"
            "page.widget"
        )]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        path = tmp_path / "forecast_live.ipynb"
        nbformat.write(notebook, path)
        # the page's own Live toggle finds the server through ENERGY_NB_WS_URL
        env = {**os.environ, "ENERGY_NB_HOME": str(tmp_path), "ENERGY_NB_API_KEY": "",
               "ENERGY_NB_WS_URL": server.server.url, "PYTHONPATH": str(Path.cwd())}
        process, url = start_voila(tmp_path, path, env)
        page.goto(url)
        page.wait_for_selector(".enb-forecast-table table", timeout=120_000)
        assert page.locator('.enb-live-status [data-state="connected"]').count() == 0
        page.click(".enb-live-toggle")  # the user switches live mode on
        page.wait_for_selector('.enb-live-status [data-state="connected"]', timeout=60_000)
        page.wait_for_function("() => { const m = document.querySelector('.enb-model-info');"
                               " return m && m.textContent.includes('Live update'); }")
        new_day = store.last_date("WTI") + pd.offsets.BDay(1)
        store.import_series(PriceSeries("WTI", "test", [new_day.date()], [150.0], [1]))
        seq = server.call(server.server.broadcast_forecast_update("WTI", horizon=5))
        page.wait_for_function(
            "(seq) => { const m = document.querySelector('.enb-model-info [data-seq]');"
            " return m && m.dataset.seq === seq; }", arg=seq, timeout=30_000)
        info = page.inner_text(".enb-model-info")
        assert str(new_day.date()) in info and "drift" in info
        assert seq not in info and "seq" not in info  # no internal ids on the page
        table = page.inner_text(".enb-forecast-table")
        first_forecast_day = (new_day + pd.offsets.BDay(1)).strftime("%Y-%m-%d")
        assert first_forecast_day in table
        first_row = next(line for line in table.splitlines() if first_forecast_day in line)
        first_mean = float(first_row.split("\t")[2])
        assert first_mean == pytest.approx(150.0, rel=0.01)  # drift from the new 150.00 price
        # off means off: the indicator goes, and the page's own forecast comes back
        page.click(".enb-live-toggle")
        page.wait_for_function(
            "() => { const m = document.querySelector('.enb-model-info');"
            " return m && !m.textContent.includes('Live update'); }", timeout=60_000)
        page.wait_for_timeout(1500)  # a late status from the stopping stream must not come back
        assert page.locator(".enb-live-status [data-state]").count() == 0
        assert "connecting" not in page.inner_text("body")
        assert not page.console_errors, page.console_errors
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()
