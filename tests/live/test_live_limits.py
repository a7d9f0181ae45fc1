"""File-descriptor exhaustion (issue 13.2): a live server in a subprocess with a lowered open-files
limit (``ulimit -n``) under a flood of half-open sockets keeps a small log and still serves
legitimate clients."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

FD_LIMIT = 256
PROJECT = Path(__file__).resolve().parents[2]

#: A live server with a trivial forecast; prints its port. With HOG_SECONDS, it then opens files
#: until none are left and releases them after that many seconds (another part of the process
#: using up the descriptors), so that accept() itself fails meanwhile.
SERVER_SCRIPT = """
import asyncio, json, logging, os, sys
from energy_nb.live.server import LiveConfig, LiveServer

logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def forecast(commodity, horizon):
    return {"model": "flat", "as_of": "2025-01-02", "levels": [], "points": []}


async def main():
    http_app = None
    if os.environ.get("HTTP_API_STORE"):  # the HTTP API on the same port
        from pathlib import Path
        from energy_nb.data.store import PriceStore
        from energy_nb.live.http_api import build_api

        http_app = build_api(PriceStore(Path(os.environ["HTTP_API_STORE"])))
    server = LiveServer(forecast, LiveConfig(port=0), http_app=http_app)
    await server.start()
    limit = getattr(server, "max_connections", server.config.max_connections)
    print(json.dumps({"port": server.port, "max_connections": limit}),
          flush=True)
    hog_seconds = float(os.environ.get("HOG_SECONDS", "0"))
    if hog_seconds:
        hogged = []
        try:
            while True:
                hogged.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        print(json.dumps({"hogged": len(hogged)}), flush=True)
        await asyncio.sleep(hog_seconds)
        for fd in hogged:
            os.close(fd)
        print(json.dumps({"released": len(hogged)}), flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
"""


class LimitedServer:
    """The script above under ``RLIMIT_NOFILE`` = ``FD_LIMIT``, its stderr in a file."""

    def __init__(self, tmp_path: Path, hog_seconds: float = 0, http_api: bool = False) -> None:
        self.log = tmp_path / "server.log"
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        env = {**os.environ, "PYTHONPATH": str(PROJECT), "HOG_SECONDS": str(hog_seconds),
               "HTTP_API_STORE": str(tmp_path / "api.sqlite") if http_api else ""}
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVER_SCRIPT], stdout=subprocess.PIPE, stderr=err,
                env=env, cwd=PROJECT,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, hard)))
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.info = self.read_line(60)

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def read_line(self, timeout: float) -> dict[str, Any]:
        """The next JSON line the server printed."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"server printed nothing in {timeout} s: {self.log_text()}") \
                from None
        assert line, f"server exited: {self.log_text()}"
        return json.loads(line)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def half_open(port: int, count: int) -> list[socket.socket]:
    """TCP connections that never send their HTTP request (non-blocking: some wait for accept)."""
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        socks.append(sock)
    return socks


async def legitimate_client(port: int) -> float:
    """Connect, get the welcome, subscribe and ping; returns the seconds it took."""
    started = time.monotonic()
    url = f"ws://127.0.0.1:{port}/api/v1/ws/forecast"
    async with websockets.connect(url, open_timeout=8) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "welcome"
        await ws.send('{"action": "ping", "id": "legit"}')
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["id"] == "legit"
    return time.monotonic() - started


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def assert_small_log(text: str) -> None:
    assert "Traceback" not in text, text[:3000]
    assert len(text) < 20_000, f"{len(text)} bytes of log: {text[:3000]}"
    accept_lines = [line for line in text.splitlines() if "accept" in line]
    assert len(accept_lines) <= 3, accept_lines[:10]


def http_client(port: int) -> int:
    """One HTTP API request on a fresh connection; returns the status."""
    with socket.create_connection(("127.0.0.1", port), timeout=8) as sock:
        sock.sendall(b"GET /api/v1/commodities HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("http_api", [False, True], ids=["socket", "socket+http-api"])
async def test_half_open_flood_leaves_room_for_legitimate_clients(tmp_path, sockets,
                                                                   http_api) -> None:
    server = LimitedServer(tmp_path, http_api=http_api)
    try:
        port = server.info["port"]
        # clamped to the open-files limit, with a warning naming it
        assert server.info["max_connections"] < FD_LIMIT
        sockets.extend(half_open(port, 400))  # more than the process may open
        await asyncio.sleep(1.0)
        times = [await legitimate_client(port) for _ in range(7)]
        assert max(times) < 8, times
        sockets.extend(half_open(port, 200))  # a second wave while clients come and go
        times = await asyncio.gather(*(legitimate_client(port) for _ in range(7)))
        assert max(times) < 8, times
        if http_api:  # HTTP requests get through too, and leave no connection counted
            statuses = [await asyncio.to_thread(http_client, port) for _ in range(5)]
            assert statuses == [200] * 5
            times = await asyncio.gather(*(legitimate_client(port) for _ in range(7)))
            assert max(times) < 8, times
        await asyncio.sleep(0.5)
        text = server.log_text()
        assert "max_connections lowered from 10000" in text and str(FD_LIMIT) in text
        assert "cannot accept" not in text  # the limits keep it from running out of files
        assert_small_log(text)
    finally:
        server.stop()


async def test_accept_errors_are_rate_limited_in_the_log(tmp_path, sockets) -> None:
    server = LimitedServer(tmp_path, hog_seconds=3)
    try:
        port = server.info["port"]
        assert server.read_line(30)["hogged"] > 0  # no descriptor left: accept() fails
        sockets.extend(half_open(port, 50))
        released = server.read_line(30)
        assert released["released"] > 0
        times = await asyncio.gather(*(legitimate_client(port) for _ in range(7)))
        assert max(times) < 8, times
        text = server.log_text()
        assert "cannot accept connections" in text and "Too many open files" in text, text[:3000]
        assert_small_log(text)
    finally:
        server.stop()
