"""A preheated dashboard shows the store as it is at the visit, not as it was at preheat time.

Voilà (the packaged config, preheated kernels) renders a History page before anyone asks for
it. The test then imports newer prices, opens the page in Chromium and expects the new last
date: the page rebuilt itself when the request arrived (``energy_nb.ui.preheat``), which the
root's ``enb-refreshed`` class shows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import PriceSeries, read_price_csv
from tests.browser.conftest import (describe_page, new_page, plot_data, render_url,
                                    wait_for_plot)

CUT = "2026-06-30"


def _notebook(marker: Path) -> dict:
    """The History notebook plus a line that marks when the preheated render has built it."""
    source = ("from pathlib import Path\n"
              "from energy_nb.ui.history import build_history_page\n"
              "page = build_history_page()\n"
              f"Path({str(marker)!r}).write_text('rendered')\n"
              "page")
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                       "outputs": [], "source": source}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def _part(series: PriceSeries, keep) -> PriceSeries:
    rows = [i for i, d in enumerate(series.dates) if keep(d.isoformat())]
    return PriceSeries(commodity=series.commodity, source=series.source,
                       dates=[series.dates[i] for i in rows],
                       prices=[series.prices[i] for i in rows],
                       lines=[series.lines[i] for i in rows])


def _preheated_history(voila_factory, tmp_path, *series: PriceSeries):
    """A store with ``series``, and a preheated History page that has been built from it.

    Returns:
        ``(server, store)``.
    """
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    home.mkdir()
    notebooks.mkdir()
    marker = tmp_path / "rendered.txt"
    (notebooks / "history.ipynb").write_text(json.dumps(_notebook(marker)))
    store = PriceStore(home / "energy_nb.sqlite")
    for part in series:
        store.import_series(part)
    server = voila_factory(notebooks=notebooks, env={"ENERGY_NB_HOME": str(home)}, preheat=True)
    deadline = time.monotonic() + 120
    while not marker.exists():  # the preheated kernel has built the page
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.2)
    return server, store


def test_preheated_page_shows_prices_imported_after_the_preheat(
    voila_factory, browser, eia_dir, tmp_path
):
    wti = read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI")
    # the preheated kernel builds the page from the old data
    server, store = _preheated_history(voila_factory, tmp_path, _part(wti, lambda d: d <= CUT))
    last = wti.dates[-1].isoformat()
    assert last > CUT
    store.import_series(_part(wti, lambda d: d > CUT))  # the morning's data update

    context, page = new_page(browser)
    try:
        page.goto(render_url(server, "history.ipynb"))
        page.locator(".enb-page-root.enb-refreshed").wait_for()
        freshness = page.locator(".enb-freshness")
        freshness.wait_for()
        assert f"data through {last}" in freshness.inner_text()
        wait_for_plot(page, ".enb-history-chart")
        trace = plot_data(page, ".enb-history-chart")[0]
        assert str(trace["x_last"]).startswith(last)
        assert page.locator(".enb-history-page").count() == 1  # swapped, not duplicated
        assert "Traceback" not in page.inner_text("body")
        assert not page.console_errors, page.console_errors
    except Exception:
        print(server.log()[-5000:])
        print(describe_page(page))
        raise
    finally:
        context.close()


def test_preheated_page_opens_at_the_selection_of_a_shared_link(
    voila_factory, browser, eia_dir, tmp_path
):
    """The query string reaches a preheated kernel only with the visitor: the page is rebuilt
    then, with the link's selection, before the browser draws it."""
    # the preheated kernel builds the default (WTI) page
    server, _ = _preheated_history(
        voila_factory, tmp_path, read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"),
        read_price_csv(eia_dir / "henryhub-daily.csv", commodity="NG"))
    context, page = new_page(browser)
    try:
        page.goto(render_url(server, "history.ipynb")
                  + "?commodity=NG&start=2005-06-01&end=2005-12-30&freq=weekly&bogus=1")
        page.locator(".enb-page-root.enb-refreshed").wait_for()
        wait_for_plot(page, ".enb-history-chart")
        trace = plot_data(page, ".enb-history-chart")[0]
        assert trace["name"] == "NG" and trace["x_first"].startswith("2005-06")
        assert trace["n"] <= 31  # weekly points of seven months
        page.wait_for_function("() => location.search.includes('rebase=0')")  # the page's state
        assert "commodity=NG" in page.url and "freq=weekly" in page.url
        assert page.locator(".enb-history-page").count() == 1
        assert not page.console_errors, page.console_errors
    except Exception:
        print(server.log()[-5000:])
        print(describe_page(page))
        raise
    finally:
        context.close()
