"""Fixtures for the live server tests: a price book, a real forecaster, servers, real Redis."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import pytest_asyncio

from energy_nb.live.broker import make_broker
from energy_nb.live.forecasting import ModelForecaster
from energy_nb.live.server import LiveConfig, LiveServer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PriceBook:
    """Mutable in-memory prices per commodity; ``add`` appends the next business day's price."""

    def __init__(self, days: int = 120) -> None:
        rng = np.random.default_rng(7)
        index = pd.bdate_range("2024-06-03", periods=days, name="date")
        self.series = {
            code: pd.Series(base * np.exp(np.cumsum(rng.normal(0, 0.01, days))), index=index,
                            name=code, dtype=float)
            for code, base in (("WTI", 75.0), ("BRENT", 80.0), ("NG", 3.0))
        }

    def __call__(self, commodity: str) -> pd.Series:
        return self.series[commodity]

    def add(self, commodity: str, price: float) -> pd.Timestamp:
        s = self.series[commodity]
        day = s.index[-1] + pd.offsets.BDay(1)
        self.series[commodity] = pd.concat(
            [s, pd.Series([price], index=pd.DatetimeIndex([day], name="date"), name=commodity)])
        return day


@pytest.fixture
def book() -> PriceBook:
    return PriceBook()


@pytest.fixture
def forecaster(book: PriceBook) -> ModelForecaster:
    return ModelForecaster(book, model="random_walk", history_days=None)


ServerFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def make_server(forecaster: ModelForecaster) -> AsyncIterator[ServerFactory]:
    """Factory of started servers.

    Usage: ``await make_server(broker_url=None, forecast_fn=None, **config)``.
    """
    servers: list[LiveServer] = []

    async def factory(broker_url: str | None = None, forecast_fn: Any = None,
                      broker_options: dict[str, Any] | None = None, **config: Any) -> LiveServer:
        config.setdefault("port", 0)
        broker = make_broker(broker_url, **(broker_options or {})) if broker_url else None
        server = LiveServer(forecast_fn or forecaster, LiveConfig(**config), broker)
        await server.start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """A real ``redis-server`` on a free port with its data (AOF) in a temp dir."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.workdir), "--appendonly", "yes", "--save", "", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A fresh redis-server; under CI=true a failure to start fails the test (never skips)."""
    if not Path(REDIS_SERVER).exists():
        if IN_CI:
            pytest.fail(f"redis-server not found at {REDIS_SERVER}")
        pytest.skip("redis-server not installed")
    redis = RedisProcess(tmp_path / "redis")
    redis.workdir.mkdir()
    try:
        redis.start()
    except Exception as exc:  # noqa: BLE001 - any start failure: fail in CI, else skip
        if IN_CI:
            pytest.fail(f"cannot start redis-server: {exc}")
        pytest.skip(f"cannot start redis-server: {exc}")
    yield redis
    redis.stop()


class ServerThread:
    """A live server running in its own event-loop thread (for sync tests: fuzz, browser).

    Usage::

        thread = ServerThread(forecast_fn, rate=1e6)
        thread.call(thread.server.broadcast_forecast_update("WTI", 7))
        thread.stop()
    """

    def __init__(self, forecast_fn: Any, **config: Any) -> None:
        config.setdefault("port", 0)
        config.setdefault("close_timeout", 0.5)
        self.loop = asyncio.new_event_loop()
        self.server = LiveServer(forecast_fn, LiveConfig(**config))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.server.start())

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run a coroutine in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Run these tests with no foreign event loop marked as running in the main thread.

    Playwright's sync API (the session-scoped ``browser`` fixture of tests/browser) leaves its
    own loop registered as "running" in the main thread while it is suspended, which makes
    pytest-asyncio and ``asyncio.run`` refuse to start when async tests run in the same session
    after a browser test. That loop does not execute while a test here runs, so it is unmarked
    for the duration of the test and restored afterwards.
    """
    if Path(__file__).parent not in Path(str(item.fspath)).parents:
        return (yield)  # only for tests in this folder (this module may be imported elsewhere)
    saved = asyncio._get_running_loop()
    if saved is not None:
        asyncio._set_running_loop(None)
    try:
        return (yield)
    finally:
        if saved is not None:
            asyncio._set_running_loop(saved)
