"""The History dashboard in headless Chromium through Voilà, on the real imported data.

One Voilà server and ONE rendered page for the module (rendering is the slow part); the tests
run in file order on that page and each sets the controls it relies on.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.app import free_port
from tests.browser.conftest import (
    FIND_GD,
    REPO,
    download_csv,
    open_page,
    plot_data,
    wait_for_plot,
)

CHART = ".enb-history-chart"


@pytest.fixture(scope="module")
def history(voila_server, module_page):
    """The History page, loaded once, its main chart drawn."""
    page = module_page
    open_page(page, voila_server, "history.ipynb")
    try:
        wait_for_plot(page, CHART)
    except Exception:
        print(voila_server.log()[-5000:])
        raise
    return page


@pytest.fixture(scope="module")
def store(energy_home) -> PriceStore:
    return PriceStore(Path(energy_home) / "energy_nb.sqlite")


def wait_for_traces(page, names: list[str]) -> list[dict]:
    page.wait_for_function(
        f"""([sel, names]) => {{ const gd = ({FIND_GD})(sel);
              return gd && gd.data
                  && JSON.stringify(gd.data.map(t => t.name)) === JSON.stringify(names); }}""",
        arg=[CHART, names],
    )
    return plot_data(page, CHART)


def test_chart_shows_the_real_wti_history(history, store):
    wti = store.load("WTI").dropna()
    traces = plot_data(history, CHART)
    assert [t["name"] for t in traces] == ["WTI"]
    trace = traces[0]
    assert trace["n"] == len(wti)
    assert trace["x_first"].startswith("1986-01-02")
    assert trace["x_last"].startswith("2026-08-18")
    assert trace["y_last"] == pytest.approx(wti.iloc[-1])  # 86.48 USD/bbl
    assert trace["y_first"] == pytest.approx(wti.iloc[0])
    assert "WTI: data through 2026-08-18" in history.inner_text(".enb-freshness")
    # range slider drawn, statistics panel filled
    assert history.locator(f"{CHART} .rangeslider-container").count() == 1
    assert "Annualised volatility" in history.inner_text(".enb-stats")
    wait_for_plot(history, ".enb-stats-chart")
    stats = plot_data(history, ".enb-stats-chart")
    assert [(t["name"], t["yaxis"]) for t in stats] == [("WTI", "y"), ("WTI", "y2")]
    assert not history.console_errors, history.console_errors


def select_commodities(page, codes: list[str]) -> None:
    """Select exactly ``codes`` in the commodity list (option values are "CODE — name")."""
    values = page.locator(".enb-commodities option").evaluate_all("os => os.map(o => o.value)")
    wanted = [v for v in values if v.split()[0] in codes]
    assert len(wanted) == len(codes), values
    page.locator(".enb-commodities select").select_option(value=wanted)


def test_changing_the_commodity_changes_the_chart(history, store):
    select_commodities(history, ["NG"])
    traces = wait_for_traces(history, ["NG"])
    ng = store.load("NG").dropna()
    assert traces[0]["n"] == len(ng)
    assert traces[0]["y_last"] == pytest.approx(ng.iloc[-1])
    assert traces[0]["y_last"] < 20  # USD/MMBtu, not a crude price
    history.locator(".enb-freshness", has_text="NG: data through 2026-08-18").wait_for()


def test_downloaded_csv_is_what_the_chart_shows(history, store):
    select_commodities(history, ["WTI"])
    wait_for_traces(history, ["WTI"])
    history.locator(".enb-start input").fill("2024-01-01")
    history.locator(".enb-end input").fill("2024-06-30")
    history.wait_for_function(
        f"""(sel) => {{ const gd = ({FIND_GD})(sel);
                     return gd && gd.data.length === 1
                         && String(gd.data[0].x[0]).startsWith('2024-01-02')
                         && String(gd.data[0].x[gd.data[0].x.length - 1]).startsWith('2024-06-28');
                     }}""",
        arg=CHART,
    )
    filename, text = download_csv(history)
    assert filename == "history_WTI_daily_2024-01-02_2024-06-28.csv"
    csv = pd.read_csv(io.StringIO(text), parse_dates=["date"], index_col="date")
    stored = store.load("WTI", "2024-01-01", "2024-06-30")
    assert list(csv.columns) == ["WTI"]
    assert len(csv) == len(stored) == plot_data(history, CHART)[0]["n"]
    pd.testing.assert_series_equal(csv["WTI"], stored, check_names=False, check_freq=False)


def test_invalid_range_shows_a_message_not_a_traceback(history):
    history.locator(".enb-end input").fill("2001-01-01")
    history.locator(".enb-start input").fill("2010-01-01")
    message = history.locator(".enb-messages [data-level=error]",
                              has_text="The start date 2010-01-01 is after the end date 2001-01-01")
    message.wait_for()
    history.wait_for_function(
        f"(sel) => ({FIND_GD})(sel).data.length === 0", arg=CHART
    )
    assert history.locator("a.enb-csv-link").count() == 0
    body = history.inner_text("body")
    assert "Traceback" not in body and "Error" not in body.replace("error", "")


def test_landing_page_links_to_history(history, voila_server):
    """Last test of the module: it navigates the shared page away to the landing page."""
    open_page(history, voila_server, "index.ipynb")
    link = history.locator("a.enb-page-link", has_text="History")
    link.wait_for()
    assert "WTI: data through 2026-08-18" in history.inner_text(".enb-fresh")
    link.click()
    wait_for_plot(history, CHART)
    # the page then writes its selection into the URL (?commodity=WTI&...)
    assert history.url.split("?")[0].endswith("/voila/render/history.ipynb")


@pytest.fixture()
def lab_url(energy_home, tmp_path):
    """JupyterLab (no token) on a free port over a COPY of the History notebook."""
    folder = tmp_path / "lab"
    folder.mkdir()
    shutil.copy(REPO / "notebooks" / "history.ipynb", folder / "history.ipynb")
    port = free_port()
    log = open(tmp_path / "lab.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
         "--ServerApp.password=", f"--ServerApp.root_dir={folder}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env={**os.environ, "ENERGY_NB_HOME": str(energy_home)},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "lab.log").read_text()[-3000:]
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/lab/tree/history.ipynb"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()


def test_csv_download_works_in_jupyterlab(lab_url, page, store):
    page.goto(lab_url)
    page.wait_for_function("() => document.body.innerText.includes('Python 3 (ipykernel) | Idle')")
    page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    filename, text = download_csv(page)
    assert filename == "history_WTI_daily_1986-01-02_2026-08-18.csv"
    csv = pd.read_csv(io.StringIO(text), parse_dates=["date"], index_col="date")
    pd.testing.assert_series_equal(csv["WTI"], store.load("WTI"), check_names=False,
                                   check_freq=False)
