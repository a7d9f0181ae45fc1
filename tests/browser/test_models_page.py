"""The Models dashboard in headless Chromium through Voilà, on the real imported data.

One Voilà server and one page for the module. The test store's registry starts without any
walk-forward evaluation of WTI, so the page offers its quick evaluation: the test presses it (a
real walk-forward run in the Voilà kernel), then checks the comparison table, the rMAE and
coverage charts and the residual diagnostics of the selected run.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.models.intervals import DEFAULT_WINDOW
from energy_nb.service.registry import ModelRegistry
from tests.browser.conftest import (
    download_csv,
    new_page,
    plot_data,
    render_url,
    wait_for_plot,
)


@pytest.fixture(scope="module")
def store(energy_home) -> PriceStore:
    return PriceStore(Path(energy_home) / "energy_nb.sqlite")


@pytest.fixture(scope="module")
def models(voila_server, browser):
    """The Models page, loaded once for the module."""
    context, page = new_page(browser, timeout=90_000)
    page.goto(render_url(voila_server, "models.ipynb"))
    try:
        page.locator(".enb-models-page").wait_for()
    except Exception:
        print(voila_server.log()[-5000:])
        raise
    yield page
    context.close()


def test_quick_evaluation_fills_the_comparison(models, store):
    if not ModelRegistry(store).latest_evaluations("WTI"):
        message = models.locator(".enb-messages [data-level=info]")
        message.wait_for()
        assert "No walk-forward evaluation of WTI" in message.inner_text()
        models.locator("button.enb-evaluate").click()
    models.locator(".enb-comparison-rows").wait_for()
    latest = ModelRegistry(store).latest_evaluations("WTI")
    assert {"random_walk", "auto"} <= set(latest)
    rows = models.locator(".enb-comparison-rows tr")
    assert rows.count() == len(latest) + 1
    assert "rMAE step 1" in rows.first.inner_text()
    wait_for_plot(models, ".enb-rmae-chart")
    rmae = plot_data(models, ".enb-rmae-chart")
    assert sorted(t["name"] for t in rmae) == sorted(latest)
    walk = next(t for t in rmae if t["name"] == "random_walk")
    assert walk["n"] == 30 and walk["y_first"] == pytest.approx(1.0)
    wait_for_plot(models, ".enb-coverage-chart")
    assert sorted(t["name"] for t in plot_data(models, ".enb-coverage-chart")) == sorted(latest)
    # the same over time: one point per forecast origin
    n_origins = len(latest["random_walk"].metrics["origins"])
    models.locator(".enb-compare-axis button", has_text="Over time").click()
    models.wait_for_function(
        """(n) => { const gd = document.querySelector('.enb-coverage-chart .js-plotly-plot');
                    return gd && gd.data && gd.data.length > 0 && gd.data[0].x.length === n; }""",
        arg=n_origins)
    over_time = plot_data(models, ".enb-coverage-chart")
    assert sorted(t["name"] for t in over_time) == sorted(latest)
    assert {t["n"] for t in over_time} == {n_origins}
    assert over_time[0]["x_first"].startswith(latest["random_walk"].metrics["origins"][0])
    walk_time = next(t for t in plot_data(models, ".enb-rmae-chart")
                     if t["name"] == "random_walk")
    assert walk_time["y_first"] == pytest.approx(1.0) and walk_time["n"] == n_origins
    assert "Recorded a quick evaluation" in models.inner_text(".enb-messages") or len(latest)
    # the per-step metrics download from the browser
    filename, text = download_csv(models)
    assert filename == "model_metrics_WTI_by_step.csv"
    frame = pd.read_csv(io.StringIO(text))
    assert sorted(set(frame["model"])) == sorted(latest) and len(frame) == 30 * len(latest)
    walk_rows = frame[frame["model"] == "random_walk"]
    assert (walk_rows["rmae"] == 1.0).all() and list(walk_rows["step"]) == list(range(1, 31))


def test_run_details_show_residual_diagnostics(models, store):
    models.locator(".enb-run-details .enb-train-window").wait_for()
    # the refit for the diagnostics runs in a background thread of the kernel
    models.wait_for_function(
        """() => { const gd = document.querySelector('.enb-residual-chart .js-plotly-plot');
                   return gd && gd.data && gd.data.length === 1 && gd.data[0].x.length > 0; }""")
    residuals = plot_data(models, ".enb-residual-chart")
    assert [t["name"] for t in residuals] == ["residual"] and residuals[0]["n"] == DEFAULT_WINDOW
    wait_for_plot(models, ".enb-acf-chart")
    assert plot_data(models, ".enb-acf-chart")[0]["n"] == 20
    wait_for_plot(models, ".enb-residual-histogram")
    assert "Ljung-Box" in models.inner_text(".enb-diagnostics")
    assert models.locator(".enb-runs-rows tr").count() >= 2
    body = models.inner_text("body")
    assert "Traceback" not in body
    assert not models.console_errors, models.console_errors
