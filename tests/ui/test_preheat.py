"""Preheated pages rebuild themselves when the store changed before the visit (real store)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
from ipywidgets import Box

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import PriceSeries
from energy_nb.ui.controls import page_root
from energy_nb.ui.history import HistoryPage
from energy_nb.ui import preheat
from energy_nb.ui.preheat import refresh_when_requested


def _import(store: PriceStore, prices: pd.Series) -> None:
    store.import_series(PriceSeries(
        commodity="WTI", source="test-wti", dates=[d.date() for d in prices.index],
        prices=[float(v) for v in prices], lines=list(range(2, len(prices) + 2))))


def _prices(n: int) -> pd.Series:
    rng = np.random.default_rng(3)
    values = np.round(70.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n))), 2)
    return pd.Series(values, index=pd.bdate_range("2024-01-01", periods=n))


async def _after_request(store: PriceStore, change) -> tuple[object, object]:
    """Render a History page, apply ``change`` to the store, then let the "request" arrive."""
    requested = threading.Event()
    first = HistoryPage(store)
    root = page_root(first)  # no rebuild given: nothing happens on its own
    thread = refresh_when_requested(root, store, lambda: HistoryPage(store), wait=requested.wait)
    assert thread is not None and thread.daemon
    change()
    requested.set()
    thread.join(5)
    for _ in range(50):  # the swap runs on this loop, like a widget callback in the kernel
        await asyncio.sleep(0.02)
        if root.page is not first:
            break
    return first, root


async def test_changed_store_rebuilds_the_page_on_the_loop(tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    prices = _prices(300)
    _import(store, prices.iloc[:250])
    first, root = await _after_request(store, lambda: _import(store, prices))
    assert root.page is not first
    # the new page replaces the old one; the URL-state widget after it stays
    assert root.children == (root.page.widget, root.url_state.widget)
    assert "enb-refreshed" in root._dom_classes
    last = prices.index[-1].strftime("%Y-%m-%d")
    assert f"data through {last}" in root.page.freshness.widget.value
    assert f"data through {last}" not in first.freshness.widget.value
    assert first.widget.comm is None and first.chart.comm is None  # stale page closed
    assert root.page.widget.comm is not None and root.page.chart.comm is not None


async def test_a_swap_sends_the_roots_whole_state_again_later(tmp_path: Path,
                                                              monkeypatch) -> None:
    """A browser that was loading the widget states during the swap may have dropped the
    root's updates: the root's full state follows at each of RESYNC_DELAYS."""
    monkeypatch.setattr(preheat, "RESYNC_DELAYS", (0.05, 0.15))
    sent: list[set] = []
    original = Box.send_state

    def record(self, key=None):
        if "enb-page-root" in self._dom_classes and key is None:
            sent.append(set(self.get_state()))
        return original(self, key)

    monkeypatch.setattr(Box, "send_state", record)
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    prices = _prices(300)
    _import(store, prices.iloc[:250])
    first, root = await _after_request(store, lambda: _import(store, prices))
    assert root.page is not first
    await asyncio.sleep(0.4)
    assert len(sent) == 2 and all({"children", "_dom_classes"} <= keys for keys in sent)
    root.close()
    preheat.resend_state(root)  # a closed root sends nothing (and does not fail)
    assert len(sent) == 2


async def test_unchanged_store_keeps_the_preheated_page(tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    _import(store, _prices(200))
    first, root = await _after_request(store, lambda: None)
    assert root.page is first and root.children == (first.widget, root.url_state.widget)
    assert "enb-refreshed" not in root._dom_classes and first.widget.comm is not None


def test_content_token_ignores_fits_but_not_evaluations_prices_or_backtests(tmp_path: Path) -> None:
    from energy_nb.backtest.run import run_backtest
    from energy_nb.service.registry import ModelRegistry

    store = PriceStore(tmp_path / "energy_nb.sqlite")
    prices = _prices(120)
    _import(store, prices.iloc[:100])
    token = store.content_token()
    registry = ModelRegistry(store)
    registry.record("drift", "WTI", params={}, train_start="2024-01-01", train_end="2024-05-17",
                    data_version="WTI@1", metrics={"kind": "fit"})
    assert store.content_token() == token  # pages record fits themselves while rendering
    registry.record("drift", "WTI", params={}, train_start="2024-01-01", train_end="2024-05-17",
                    data_version="WTI@1", metrics={"kind": "walk_forward", "steps": {}})
    after_eval = store.content_token()
    assert after_eval != token
    run_backtest(store.load("WTI"), "buy-and-hold", store=store)
    after_backtest = store.content_token()
    assert after_backtest != after_eval
    _import(store, prices)
    assert store.content_token() != after_backtest


def test_nothing_to_do_outside_a_preheated_kernel(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    _import(store, _prices(50))
    page = HistoryPage(store)
    root = page_root(page, rebuild=lambda: HistoryPage(store))
    assert root.page is page and root.children == (page.widget, root.url_state.widget)
    assert refresh_when_requested(root, store, lambda: HistoryPage(store)) is None
    assert refresh_when_requested(root, None, lambda: HistoryPage(store), wait=lambda: None) is None


async def test_landing_page_redoes_its_freshness_line_at_the_visit(tmp_path: Path,
                                                                   monkeypatch) -> None:
    from energy_nb.ui import landing, preheat

    requested = threading.Event()
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setattr(preheat, "_voila_wait", requested.wait)
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    prices = _prices(120)
    _import(store, prices.iloc[:100])
    widget = landing.build_landing_page(store, tmp_path)
    old, new = (f"data through {prices.index[i].strftime('%Y-%m-%d')}" for i in (99, -1))
    assert old in widget.value
    _import(store, prices)
    requested.set()
    for _ in range(50):
        await asyncio.sleep(0.02)
        if new in widget.value:
            break
    assert new in widget.value and old not in widget.value


def test_voila_wait_reads_the_request_from_voilas_query_socket() -> None:
    """The preheated kernel's wait: one message on Voilà's query WebSocket (a real socket),
    read without importing ``voila.utils`` (which would load jupyter_server and nbconvert into
    every preheated and warm kernel)."""
    import json
    import subprocess
    import sys

    from websockets.sync.server import serve

    paths: list[str] = []
    info = {"SERVER_SOFTWARE": "voila/0.5.13", "QUERY_STRING": "commodity=NG",
            "SCRIPT_NAME": "/"}

    def handler(websocket) -> None:
        paths.append(websocket.request.path)
        websocket.send(json.dumps(info))

    code = ("import json, os, sys\n"
            "from energy_nb.ui import preheat\n"
            "preheat._voila_wait()\n"
            "print(json.dumps({'env': {k: os.environ[k] for k in %r},\n"
            "                  'loaded': [m for m in ('voila.utils', 'nbconvert',\n"
            "                             'jupyter_server') if m in sys.modules]}))\n"
            % (sorted(info),))
    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("VOILA_") and k not in info}
        env.update({"VOILA_PREHEAT": "True", "VOILA_APP_IP": "127.0.0.1",
                    "VOILA_APP_PORT": str(port), "VOILA_SERVER_URL": "/base/",
                    "VOILA_KERNEL_ID": "k-123"})
        try:
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  timeout=120, env=env)
        finally:
            server.shutdown()
    assert done.returncode == 0, done.stderr
    assert paths == ["/base/voila/query/k-123"]
    assert json.loads(done.stdout) == {"env": info, "loaded": []}
