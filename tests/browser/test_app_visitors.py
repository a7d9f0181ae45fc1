"""Visitors of ``energy-nb app`` in headless Chromium: the front door, the busy page, and the
release of kernels of closed tabs and idle pages (issues 12 and 13)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import REPO, new_page, wait_for_plot

HISTORY_CHART = ".enb-history-chart"
DASHBOARDS = ("history.ipynb", "forecast.ipynb", "models.ipynb", "backtest.ipynb")
IDLE_SECONDS = 20


def counts(base: str) -> dict:
    """The app's visitor counts."""
    with urllib.request.urlopen(base + "energy_nb/api/visitors", timeout=30) as resp:
        return json.loads(resp.read())


def kernel_alive(base: str, kernel_id: str) -> bool:
    """Whether the app still runs the kernel ``kernel_id``."""
    try:
        with urllib.request.urlopen(f"{base}api/kernels/{kernel_id}", timeout=30):
            return True
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return False


def page_kernel_id(page) -> str:
    """The kernel id a rendered page connects to (from Voila's page config)."""
    return page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


def wait_until(predicate, timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        time.sleep(0.5)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def app(energy_home: Path, tmp_path_factory):
    """``energy_nb.app.start`` on the project's notebooks: one visitor at most, 20 s idle."""
    from energy_nb.app import AppOptions, start, stop

    log_path = tmp_path_factory.mktemp("app") / "voila.log"
    with open(log_path, "w") as log:
        options = AppOptions(notebooks=REPO / "notebooks", port=0, open_browser=False,
                             preheat=False, max_visitors=1, idle_timeout=IDLE_SECONDS,
                             env={"ENERGY_NB_HOME": str(energy_home)})
        process, urls = start(options, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield urls["base"].replace("localhost", "127.0.0.1"), log_path
        finally:
            stop(process)


def test_the_root_url_is_the_landing_page_with_real_links(app, browser):
    base, log_path = app
    context, page = new_page(browser)
    try:
        page.goto(base, wait_until="commit")
        links = page.locator("a[href$='.ipynb']")
        links.first.wait_for()
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        for name in DASHBOARDS:
            assert any(h.rstrip("/").endswith(name) for h in hrefs), (name, hrefs)
        landing_kernel = page_kernel_id(page)
        # following a link moves the visitor's one slot from the landing page to History:
        # the landing page's "shutdown my kernel" request on leaving is accepted now (no 403)
        page.locator("a[href$='history.ipynb']").first.click()
        page.wait_for_url("**/voila/render/history.ipynb")
        wait_for_plot(page, HISTORY_CHART)
        wait_until(lambda: not kernel_alive(base, landing_kernel), timeout=60)
        history_kernel = page_kernel_id(page)
        page.close(run_before_unload=True)  # the tab is closed: its kernel goes within 60 s
        took = wait_until(lambda: not kernel_alive(base, history_kernel), timeout=60)
        assert took < 60
        assert counts(base)["visitors"] == 0
        log = log_path.read_text()
        # the page's own shutdown request did it (no release by the server was needed)
        assert "403 POST /voila/api/shutdown" not in log
        assert f"releasing kernel {landing_kernel}" not in log
        assert f"releasing kernel {history_kernel}" not in log
    finally:
        context.close()


def test_pages_load_the_widget_manager_that_waits_for_a_busy_kernel(app, browser):
    """The page's widget manager waits CONTROL_COMM_TIMEOUT_MS, not 4 s, for the kernel's widget
    states (energy_nb.appserver.widget_state): a busy kernel's page must not stall."""
    from energy_nb.appserver.widget_state import CONTROL_COMM_TIMEOUT_MS

    base, _ = app
    wait_until(lambda: counts(base)["visitors"] == 0, timeout=60)
    context, page = new_page(browser)
    managers: list[tuple[str, bytes]] = []
    page.on("response", lambda r: managers.append((r.url, r.body())) if (
        "/voila/labextensions/" in r.url and ".js" in r.url) else None)
    try:
        page.goto(base + "voila/render/history.ipynb", wait_until="commit")
        wait_for_plot(page, HISTORY_CHART)
        control = [(url, body) for url, body in managers
                   if b"Control comm did not respond in time" in body]
        assert control, "\n".join(url for url, _ in managers)
        for url, body in control:  # every copy of the manager the page loaded
            assert re.search(rb'in time"\)\)?,' + str(CONTROL_COMM_TIMEOUT_MS).encode() + rb"\)",
                             body), url
            assert not re.search(rb'in time"\)\)?,4e3\)', body), url
        page.close(run_before_unload=True)
    finally:
        context.close()


def test_a_visitor_beyond_the_maximum_gets_the_busy_page_at_once(app, browser):
    base, _ = app
    first_context, first = new_page(browser)
    second_context, second = new_page(browser)
    try:
        first.goto(base + "voila/render/history.ipynb", wait_until="commit")
        wait_for_plot(first, HISTORY_CHART)
        kernel = page_kernel_id(first)

        asked = time.monotonic()
        response = second.goto(base + "voila/render/history.ipynb")
        assert time.monotonic() - asked < 1.0
        assert response.status == 503
        assert 5 <= int(response.headers["retry-after"]) <= 60
        assert "The dashboards are busy" in second.inner_text("h1")
        assert "try again in" in second.inner_text("main")

        # the first visitor's tab disappears without a word (no beforeunload, like a crash):
        # the server notices its kernel socket closed and releases the kernel within 60 s
        first_context.close()
        took = wait_until(lambda: not kernel_alive(base, kernel), timeout=60)
        assert took < 60
        assert counts(base)["released"].get("left", 0) >= 1
        second.locator("a.enb-retry").click()
        wait_for_plot(second, HISTORY_CHART)
    finally:
        second.close(run_before_unload=True)
        second_context.close()
        try:
            first_context.close()
        except Exception:  # noqa: BLE001 - already closed
            pass


def test_an_idle_page_is_released_and_says_so_with_a_reload(app, browser):
    base, _ = app
    wait_until(lambda: counts(base)["visitors"] == 0, timeout=60)
    context, page = new_page(browser)
    try:
        page.goto(base + "voila/render/history.ipynb", wait_until="commit")
        wait_for_plot(page, HISTORY_CHART)
        kernel = page_kernel_id(page)
        banner = page.locator("#enb-released")
        banner.wait_for(timeout=(IDLE_SECONDS + 30) * 1000)
        assert f"idle for {IDLE_SECONDS} seconds" in banner.inner_text()
        wait_until(lambda: not kernel_alive(base, kernel), timeout=30)  # shut down right after
        assert counts(base)["released"].get("idle", 0) >= 1
        page.locator("#enb-released button.enb-reload").click()
        wait_for_plot(page, HISTORY_CHART)
        assert page_kernel_id(page) != kernel
        assert page.locator("#enb-released").count() == 0
    finally:
        page.close(run_before_unload=True)
        context.close()
