"""A team's deployment end to end, on loopback: Redis, two ``energy-nb app`` instances (each with
its live server) sharing one store and ``ENERGY_NB_BROADCAST_URL``, and Debian nginx in front
with the packaged sticky configuration; Chromium visits through nginx only.

* a backtest run on a page served by instance A shows among the last runs on a page from B;
* an ``energy-nb data import`` run once shows on both instances' History pages after a reload;
* one live forecast update reaches the open Forecast pages of both instances (each page's kernel
  follows its own instance's live server; the update crosses through Redis).

Each page is checked to come from the intended instance twice over: nginx's
``X-Energy-Nb-Upstream`` header names the address that served it, and that instance's own
``/energy_nb/api/visitors`` counts the page's kernel socket while the other's does not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from energy_nb.deploy.nginx import COOKIE, INSTANCE_HEADER, UPSTREAM_HEADER
from tests.browser.conftest import (
    SNAPSHOT_FILES,
    energy_nb_script,
    new_page,
    plot_data,
    wait_for_plot,
)
from tests.deploy.conftest import AppInstance

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis,
              pytest.mark.timeout(900)]

#: The shared store holds WTI up to CUT; the test then imports the full file (2 more days).
CUT = "2026-08-14"
NEW_LAST = "2026-08-18"


def cli(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    """Run ``energy-nb ARGS``; fail with its stderr when it fails."""
    done = subprocess.run([*energy_nb_script(), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"energy-nb {' '.join(args)} failed: {done.stderr}"
    return done.stdout


@pytest.fixture
def store_env(tmp_path: Path, eia_dir: Path) -> dict[str, str]:
    """The environment naming the shared store, filled through the command line (WTI cut at
    CUT). Every process of the deployment gets it: the store is one argument."""
    env = {"ENERGY_NB_HOME": str(tmp_path / "store")}
    cut = tmp_path / "wti-to-cut.csv"
    lines = (eia_dir / SNAPSHOT_FILES["WTI"]).read_text().splitlines()
    cut.write_text("\n".join(line for line in lines
                             if not line[:1].isdigit() or line[:10] <= CUT) + "\n")
    full_env = {**os.environ, **env}
    cli(["data", "import", str(cut), "--commodity", "WTI"], full_env)
    for code in ("BRENT", "NG"):
        cli(["data", "import", str(eia_dir / SNAPSHOT_FILES[code]), "--commodity", code],
            full_env)
    return env


@pytest.fixture
def app_env(store_env, redis_server) -> dict[str, str]:
    """The environment of every process of the deployment: the store and the fan-out (a real
    redis-server, the live tests' fixture: CI fails, never skips, without one)."""
    return {**os.environ, **store_env, "ENERGY_NB_BROADCAST_URL": redis_server.url,
            "ENERGY_NB_API_KEY": ""}


@pytest.fixture
def instances(app_env, tmp_path) -> Iterator[dict[str, AppInstance]]:
    """Instances ``a`` and ``b``, started at the same time (both append to the store's
    live-server log, from which each reads its own live server's URL)."""
    started: dict[str, AppInstance] = {}
    try:
        for name in ("a", "b"):
            started[name] = AppInstance(name, app_env, tmp_path / f"app-{name}.log")
            started[name].launch()
        for instance in started.values():
            instance.wait_ready()
        assert started["a"].live_address != started["b"].live_address
        yield started
    finally:
        for instance in started.values():
            instance.stop()


def get_json(url: str, cookie: str | None = None) -> tuple[Any, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), dict(response.headers.items())


def visitors(instance: AppInstance) -> dict[str, Any]:
    """The instance's own visitor counts, asked directly (not through nginx)."""
    return get_json(f"http://{instance.app_address}/energy_nb/api/visitors")[0]


def wait_until(condition: Callable[[], bool], seconds: float, message: str) -> None:
    """Poll ``condition`` every 0.2 s; fail with ``message`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def live_topics(instance: AppInstance) -> dict[str, int]:
    """Subscribers per topic on the instance's own live server."""
    return get_json(f"http://{instance.live_address}/api/v1/ws/stats")[0]["topics"]


class Visitor:
    """A browser context stuck to one instance (its ``enb_instance`` cookie set)."""

    def __init__(self, chromium: Any, proxy_url: str, instance: AppInstance) -> None:
        self.context, first = new_page(chromium)
        first.close()
        self.context.add_cookies([{"name": COOKIE, "value": instance.name, "url": proxy_url}])
        self.proxy_url = proxy_url
        self.instance = instance
        self.pages: list[Any] = []

    def open(self, notebook: str, other: AppInstance) -> Any:
        """Open a dashboard through nginx; check that its instance served it and holds its
        kernel socket, and that the other instance does not."""
        page = self.context.new_page()
        page.console_errors = []
        page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
        page.set_default_timeout(120_000)
        page.set_default_navigation_timeout(120_000)
        self.pages.append(page)
        before, other_before = visitors(self.instance), visitors(other)
        response = page.goto(f"{self.proxy_url}voila/render/{notebook}", wait_until="commit")
        assert response is not None and response.status == 200
        assert response.headers[UPSTREAM_HEADER.lower()] == self.instance.app_address
        assert response.headers[INSTANCE_HEADER.lower()] == self.instance.name
        page.wait_for_function(  # the page's kernel socket is connected (widgets drawn)
            "() => document.querySelector('.jupyter-widgets') !== null")
        after = visitors(self.instance)
        assert after["connected"] >= before["connected"] + 1, (before, after)
        assert visitors(other)["visitors"] <= other_before["visitors"]
        return page

    def close(self) -> None:
        for page in self.pages:
            if not page.is_closed():
                page.close(run_before_unload=True)
        self.context.close()


#: The publisher: a third live-server process recomputes and publishes one update through Redis,
#: as an instance's poll feed does after storing a new price (``LiveServer.refresh``). Prints
#: ``{topic key: seq}``; dumps its stack if it hangs.
PUBLISH = """
import asyncio, faulthandler, json, sys
from energy_nb.config import Settings
from energy_nb.data.store import PriceStore
from energy_nb.live.broker import make_broker
from energy_nb.live.forecasting import ModelForecaster, store_series_provider
from energy_nb.live.server import LiveConfig, LiveServer

faulthandler.dump_traceback_later(200, exit=True)

async def publish():
    settings = Settings.from_env()
    store = PriceStore.from_settings(settings, create=False)
    server = LiveServer(ModelForecaster(store_series_provider(store)),
                        LiveConfig(host="127.0.0.1", port=0), make_broker(settings.broadcast_url))
    await server.start()
    try:
        return await server.refresh([sys.argv[1]])
    finally:
        await server.stop()

print(json.dumps(asyncio.run(publish())), flush=True)
"""


def publish_one_update(env: dict[str, str], commodity: str, topic_key: str) -> str:
    """Publish one update of ``commodity`` for the topics subscribed on any instance; returns
    the ``seq`` of ``topic_key``'s (the only topic expected)."""
    done = subprocess.run([sys.executable, "-c", PUBLISH, commodity], env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"publishing failed: {done.stderr[-3000:]}"
    published = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(published) == [topic_key], (published, done.stderr[-3000:])
    return published[topic_key]


def test_two_instances_behind_nginx_share_runs_imports_and_live_updates(
        instances, nginx_factory, browser, app_env, eia_dir):
    a, b = instances["a"], instances["b"]
    proxy = nginx_factory([a.instance(), b.instance()])
    # the live server's HTTP API, through nginx, on the cookie's instance
    for instance in (a, b):
        body, headers = get_json(proxy.url + "api/v1/commodities", f"{COOKIE}={instance.name}")
        assert headers[UPSTREAM_HEADER] == instance.live_address
        assert "WTI" in json.dumps(body)

    on_a, on_b = Visitor(browser, proxy.url, a), Visitor(browser, proxy.url, b)
    try:
        # 1. a backtest run on A shows among the last runs on B
        backtest_a = on_a.open("backtest.ipynb", other=b)
        backtest_a.locator("button.enb-bt-run:not([disabled])").wait_for()
        backtest_a.locator("button.enb-bt-run").click()
        status = backtest_a.locator(".enb-bt-status", has_text="stored as run #")
        status.wait_for()
        run_id = re.search(r"stored as run #(\d+)", status.inner_text()).group(1)
        backtest_b = on_b.open("backtest.ipynb", other=a)
        backtest_b.locator(f'.enb-bt-compare-table tr.enb-bt-run[data-run="{run_id}"]').wait_for()
        for page in (backtest_a, backtest_b):
            page.close(run_before_unload=True)
        for instance in (a, b):  # their sockets are gone before the next pages are counted
            wait_until(lambda i=instance: visitors(i)["connected"] == 0, 60,
                       f"instance {instance.name} still counts a closed page's socket")

        # History and Forecast (Live on) open on both instances before the import
        history = {"a": on_a.open("history.ipynb", other=b), "b": on_b.open("history.ipynb",
                                                                              other=a)}
        for page in history.values():
            wait_for_plot(page, ".enb-history-chart")
            page.locator(".enb-freshness", has_text=f"WTI: data through {CUT}").wait_for()
        forecast = {"a": on_a.open("forecast.ipynb", other=b),
                    "b": on_b.open("forecast.ipynb", other=a)}
        for page in forecast.values():
            wait_for_plot(page, ".enb-forecast-page")
            page.locator(".enb-live-toggle").click()
            page.locator('.enb-live-status [data-state="connected"]').wait_for(timeout=60_000)
        # each page's kernel follows its own instance's live server, on the same topic
        topics_a, topics_b = live_topics(a), live_topics(b)
        assert len(topics_a) == 1 and topics_a == topics_b, (topics_a, topics_b)
        topic_key = next(iter(topics_a))
        assert topic_key.startswith("WTI:")

        # 2. one import, through the command line, shows on both History pages after a reload
        cli(["data", "import", str(eia_dir / SNAPSHOT_FILES["WTI"]), "--commodity", "WTI"],
            app_env)
        for name, page in history.items():
            response = page.reload(wait_until="commit")
            assert response.headers[UPSTREAM_HEADER.lower()] == instances[name].app_address
            wait_for_plot(page, ".enb-history-chart")
            page.locator(".enb-freshness",
                         has_text=f"WTI: data through {NEW_LAST}").wait_for()
            wti = [t for t in plot_data(page, ".enb-history-chart") if t["name"] == "WTI"]
            assert wti and wti[0]["x_last"].startswith(NEW_LAST), wti

        # 3. one live update, published once, reaches the Forecast pages on both instances
        seq = publish_one_update(app_env, "WTI", topic_key)
        for page in forecast.values():
            line = page.locator(f'.enb-live-line[data-seq="{seq}"]')
            line.wait_for(timeout=60_000)
            assert f"from {NEW_LAST}" in line.inner_text()
        for visitor in (on_a, on_b):
            for page in visitor.pages:
                if not page.is_closed():
                    assert not page.console_errors, page.console_errors
    except Exception:
        for instance in (a, b):
            print(f"--- instance {instance.name} log:\n{instance.log()}")
        print(f"--- nginx error log:\n{proxy.log()[-3000:]}")
        raise
    finally:
        on_a.close()
        on_b.close()
