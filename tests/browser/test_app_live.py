"""``energy-nb app`` starts its live server with a feed: Live mode on the Forecast page of the
running app changes the chart (issue 13.15: it used to start ``serve`` without ``--feed``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.browser.conftest import energy_nb_script, new_page, plot_data, wait_for_plot

CHART = ".enb-forecast-page"
#: JS: the forecast trace's last point differs from ``(x, y)``.
CHANGED = """([sel, x, y]) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
    const t = gd && gd.data.find(d => d.name === 'forecast');
    if (!t) return false;
    const xs = Array.from(t.x), ys = Array.from(t.y);
    return String(xs[xs.length - 1]) !== x || ys[ys.length - 1] !== y; }"""


def test_live_mode_on_the_forecast_page_of_energy_nb_app_changes_the_chart(
        energy_home: Path, browser, tmp_path):
    env = {**os.environ, "ENERGY_NB_HOME": str(energy_home), "ENERGY_NB_API_KEY": ""}
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        app = subprocess.Popen(
            [*energy_nb_script(), "app", "--port", "0", "--live-port", "0", "--no-browser",
             "--no-preheat", "--json", "--feed", "replay", "--max-visitors", "4"],
            stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    context, page = new_page(browser)
    try:
        urls = json.loads(app.stdout.readline())["urls"]  # the one line it prints on stdout
        assert urls["live"].startswith("ws://127.0.0.1:")
        base = urls["base"].replace("localhost", "127.0.0.1")
        page.goto(base + "voila/render/forecast.ipynb", wait_until="commit")
        wait_for_plot(page, CHART)
        before = [t for t in plot_data(page, CHART) if t["name"] == "forecast"]
        assert before, plot_data(page, CHART)
        page.locator(".enb-live-toggle").click()
        page.locator('.enb-live-status [data-state="connected"]').wait_for(timeout=30_000)
        # toggling Live fetches one forecast at once (even with no feed); the replay feed then
        # publishes a day every 2 s: the forecast must keep redrawing, twice within 30 s
        last = (before[0]["x_last"], before[0]["y_last"])
        for _ in range(2):
            page.wait_for_function(CHANGED, arg=[CHART, *last], timeout=30_000)
            now = next(t for t in plot_data(page, CHART) if t["name"] == "forecast")
            last = (now["x_last"], now["y_last"])
        assert "Live update" in page.inner_text(".enb-model-info")
    finally:
        page.close(run_before_unload=True)
        context.close()
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=60) == 0
    assert "feed: replay" in log_path.read_text()
