"""Benchmark the live server against a bare ``websockets`` server, side by side in one run.

Each server runs in its own fresh process (so memory is measured from a clean start); the
subscribed clients run in another process. For each server and client count:

* delivery latency p50/p99: from the start of a broadcast (server clock) to the arrival at each
  client (client clock; both ``CLOCK_MONOTONIC``, shared by processes on one machine);
* the server's time per broadcast (median): ``LiveServer.publish_forecast`` (broker + encode +
  fan-out with the slow-consumer checks) vs the bare server's ``websockets.broadcast()`` of the
  same payload text;
* memory per idle connection: server RSS growth / connections;
* connections held: every client still connected and served a broadcast after the hold time.

Targets (issue 5): p99 <= 100 ms at 1,000 clients, ratio to bare <= 1.3, <= 30 KiB per idle
connection, 10,000 concurrent connections held.

Usage::

    .venv/bin/python benchmarks/bench_live.py                  # 1,000 and 10,000 clients
    .venv/bin/python benchmarks/bench_live.py --quick          # 1,000 and 2,000 clients
    # the same socket served by Starlette under uvicorn (the REST API's stack), reduced counts:
    .venv/bin/python benchmarks/bench_live.py --candidate starlette --clients 1000 --big 2000

The live server is measured as ``energy-nb serve`` runs it: with the HTTP API on its port
(``--candidate energy_nb`` measures it without).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))

TOPIC_QUERY = "?commodity=WTI&horizon=7"


def raise_nofile(want: int = 20_000) -> int:
    """Raise the open-files limit as far as allowed; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def sample_forecast() -> dict[str, Any]:
    """A realistic 7-day forecast payload (same size as the server sends for WTI/7)."""
    points = []
    for i in range(7):
        mean = 71.234567 + 0.01 * i
        points.append({"date": f"2025-06-{3 + i:02d}", "mean": mean,
                       "lower_80": mean - 1.5 - i * 0.2, "upper_80": mean + 1.5 + i * 0.2,
                       "lower_95": mean - 2.5 - i * 0.3, "upper_95": mean + 2.5 + i * 0.3})
    return {"model": "arima", "as_of": "2025-06-02", "levels": [80, 95], "points": points}


# --- server process -------------------------------------------------------------------------


async def serve_main(kind: str) -> None:
    """Run one server; commands on stdin, JSON answers on stdout."""
    raise_nofile()
    import websockets
    from websockets.asyncio.server import broadcast, serve

    from energy_nb.stream import protocol
    from energy_nb.stream.protocol import Topic
    from energy_nb.live.server import LiveConfig, LiveServer

    topic = Topic("WTI", 7)
    forecast = sample_forecast()
    http_app = None
    if kind == "mine+api":  # the HTTP API on the same port (each connection is routed)
        import tempfile

        from energy_nb.data.store import PriceStore
        from energy_nb.live.http_api import build_api
        from energy_nb.live.http_bridge import HttpBridge

        folder = tempfile.mkdtemp(prefix="bench-live-")
        http_app = build_api(PriceStore(Path(folder) / "bench.sqlite"))
        HttpBridge(http_app)  # import uvicorn's protocol before measuring memory
    gc.collect()
    rss0 = rss_bytes()
    if kind in ("mine", "mine+api"):
        server = LiveServer(lambda c, h: forecast,
                            LiveConfig(port=0, max_connections=20_000, max_per_address=None,
                                       rate=1e6, burst=10**6, idle_timeout=None),
                            http_app=http_app)
        await server.start()
        port = server.port

        def count() -> int:
            return len(server.connections)

        async def one_broadcast() -> None:
            await server.publish_forecast(topic, forecast)
    elif kind == "starlette":
        port, count, one_broadcast = await _starlette_server(topic, forecast)
    else:
        connections: set[Any] = set()
        welcome = protocol.encode(protocol.welcome("bare", [topic]))
        text = protocol.encode(protocol.forecast_update(topic, forecast, "1764104400123-0"))

        async def handler(ws: Any) -> None:
            connections.add(ws)
            try:
                await ws.send(welcome)
                await ws.wait_closed()
            finally:
                connections.discard(ws)

        bare = await serve(handler, "127.0.0.1", 0, compression=None, backlog=1024)
        port = bare.sockets[0].getsockname()[1]

        def count() -> int:
            return len(connections)

        async def one_broadcast() -> None:
            broadcast(connections, text)
    _ = websockets
    print(json.dumps({"port": port, "rss": rss0}), flush=True)
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "rss":
            gc.collect()
            print(json.dumps({"rss": rss_bytes(), "connections": count()}), flush=True)
        elif line[0] == "broadcast":
            n, gap = int(line[1]), float(line[2])
            sent, durations = [], []
            for _ in range(n):
                await asyncio.sleep(gap)
                t0 = time.monotonic()
                await one_broadcast()
                t1 = time.monotonic()
                sent.append(t0)
                durations.append(t1 - t0)
            print(json.dumps({"sent": sent, "durations": durations}), flush=True)


async def _starlette_server(topic: Any, forecast: dict[str, Any]) -> tuple[int, Any, Any]:
    """The candidate stack for serving the socket beside the REST API: a Starlette WebSocket
    endpoint under uvicorn (``websockets-sansio``), fanning out with ``send_text`` per client."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    from energy_nb.stream import protocol

    connections: set[WebSocket] = set()
    welcome = protocol.encode(protocol.welcome("starlette", [topic]))
    text = protocol.encode(protocol.forecast_update(topic, forecast, "1764104400123-0"))

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        connections.add(ws)
        try:
            await ws.send_text(welcome)
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            connections.discard(ws)

    app = Starlette(routes=[WebSocketRoute("/api/v1/ws/forecast", endpoint)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, ws="websockets-sansio",
                            ws_per_message_deflate=False, backlog=1024, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    _ = task
    port = server.servers[0].sockets[0].getsockname()[1]

    def count() -> int:
        return len(connections)

    async def one_broadcast() -> None:
        for ws in list(connections):
            try:
                await ws.send_text(text)
            except Exception:  # noqa: BLE001 - a closed client
                connections.discard(ws)

    return port, count, one_broadcast


# --- client process -------------------------------------------------------------------------


class RawClient:
    """A minimal WebSocket client: handshake, then count text frames and answer pings.

    Clients run in one process for all connections; a full client library would add tens of
    microseconds per message to every measured latency, so frames are only delimited here.
    """

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.open = False
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, host: str, port: int, path: str) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        self.reader, self.writer = reader, writer
        await self._frame()  # welcome
        self.open = True

    async def _frame(self) -> tuple[int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return b0 & 0x0F, await self.reader.readexactly(length)

    async def run(self) -> None:
        try:
            while True:
                opcode, payload = await self._frame()
                if opcode == 1:
                    self.arrivals.append(time.monotonic())
                elif opcode == 9:  # ping -> masked pong
                    mask = os.urandom(4)
                    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                    self.writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask + body)
                elif opcode == 8:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.open = False


async def clients_main(url: str, n: int) -> None:
    """Open ``n`` subscribed connections, record arrival times; commands on stdin."""
    raise_nofile()
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    clients = [RawClient() for _ in range(n)]
    gate = asyncio.Semaphore(256)

    async def connect(client: RawClient) -> None:
        async with gate:
            for attempt in range(5):
                try:
                    await client.connect(parts.hostname, parts.port, path)
                    return
                except OSError:
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError("a client could not connect")

    started = time.monotonic()
    await asyncio.gather(*(connect(c) for c in clients))
    setup = time.monotonic() - started
    tasks = [asyncio.ensure_future(c.run()) for c in clients]
    print(json.dumps({"connected": n, "setup_seconds": setup}), flush=True)
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "collect":
            expected, timeout = int(line[1]), float(line[2])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and min(len(c.arrivals) for c in clients) < expected:
                await asyncio.sleep(0.05)
            print(json.dumps({"arrivals": [c.arrivals for c in clients],
                              "open": sum(c.open for c in clients)}), flush=True)
            for c in clients:
                c.arrivals = []
    for task in tasks:
        task.cancel()
    for c in clients:
        if c.writer is not None:
            c.writer.close()


# --- orchestrator ---------------------------------------------------------------------------


class Proc:
    """A child process speaking JSON lines."""

    def __init__(self, *args: str) -> None:
        self.p = subprocess.Popen([sys.executable, str(HERE), *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)

    def read(self, timeout: float = 300) -> dict[str, Any]:
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"child {self.p.args[2:]} exited with {self.p.poll()}")
        return json.loads(line)

    def ask(self, command: str) -> dict[str, Any]:
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()
        return self.read()

    def close(self) -> None:
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(30)
        except Exception:  # noqa: BLE001 - a failed kill is not fatal here
            self.p.kill()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_case(kind: str, n: int, broadcasts: int, gap: float, hold: float) -> dict[str, Any]:
    """One server kind with ``n`` clients: memory, broadcasts, latency, connections held."""
    server = Proc("serve", kind)
    try:
        start = server.read()
        url = f"ws://127.0.0.1:{start['port']}/api/v1/ws/forecast{TOPIC_QUERY}"
        clients = Proc("clients", url, str(n))
        try:
            ready = clients.read()
            time.sleep(hold)  # idle: heartbeats only
            mem = server.ask("rss")
            result = server.ask(f"broadcast {broadcasts} {gap}")
            got = clients.ask(f"collect {broadcasts} 60")
        finally:
            clients.close()
    finally:
        server.close()
    sent = result["sent"]
    latencies = [arr[j] - sent[j] for arr in got["arrivals"] for j in range(min(len(arr),
                                                                              len(sent)))]
    delivered = sum(min(len(a), len(sent)) for a in got["arrivals"])
    return {
        "kind": kind, "clients": n, "setup_s": ready["setup_seconds"],
        "connections": mem["connections"], "open_after": got["open"],
        "per_conn_kib": (mem["rss"] - start["rss"]) / max(mem["connections"], 1) / 1024,
        "bcast_ms": statistics.median(result["durations"]) * 1000,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else float("nan"),
        "delivered": delivered, "expected": n * broadcasts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 2,000 clients only")
    parser.add_argument("--broadcasts", type=int, default=30)
    parser.add_argument("--hold", type=float, default=3.0, help="idle seconds before measuring")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds at 1,000 clients (medians are reported)")
    parser.add_argument("--candidate", choices=("energy_nb", "energy_nb+api", "starlette"),
                        default="energy_nb+api",
                        help="server measured against bare websockets: the live server with "
                             "the HTTP API on its port, as `energy-nb serve` runs it (default), "
                             "the live server alone, or a Starlette WebSocket endpoint under "
                             "uvicorn")
    parser.add_argument("--clients", type=int, default=1_000,
                        help="clients of the first (latency) case (default 1,000)")
    parser.add_argument("--big", type=int, help="clients of the second (held) case "
                                                "(default 10,000; 2,000 with --quick)")
    args = parser.parse_args()
    raise_nofile()
    big = args.big or (2_000 if args.quick else 10_000)
    small = args.clients
    candidate = {"energy_nb": "mine", "energy_nb+api": "mine+api"}.get(args.candidate,
                                                                      args.candidate)
    load_before = os.getloadavg()[0]
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    # the machine is shared: alternate the two servers over several rounds, keep medians
    for n, count, gap, rounds in ((small, args.broadcasts, 0.1, args.rounds),
                                  (big, max(args.broadcasts // 3, 5), 0.5, 1)):
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "mine": []}
        for r in range(rounds):
            for kind in ("bare", "mine"):
                print(f"round {r + 1}/{rounds}: {kind} with {n} clients ...", file=sys.stderr,
                      flush=True)
                runs[kind].append(run_case(candidate if kind == "mine" else kind, n, count,
                                           gap, args.hold))
        for kind, results in runs.items():
            merged = dict(results[0])
            for key in ("setup_s", "per_conn_kib", "bcast_ms", "p50_ms", "p99_ms"):
                merged[key] = statistics.median(x[key] for x in results)
            for key in ("open_after", "connections", "delivered"):
                merged[key] = min(x[key] for x in results)
            rows[(kind, n)] = merged

    def row(label: str, key: str, n: int, fmt: str, target: str = "", ok: bool | None = None,
            ratio: bool = False) -> str:
        mine, bare = rows[("mine", n)][key], rows[("bare", n)][key]
        r = f"{mine / bare:.2f}" if ratio and bare else ""
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        return (f"{label:<38} {format(mine, fmt):>12} {format(bare, fmt):>12} {r:>7} "
                f"{target:>14} {verdict:>5}")

    m1, b1 = rows[("mine", small)], rows[("bare", small)]
    mb, bb = rows[("mine", big)], rows[("bare", big)]
    ratio_1k = m1["bcast_ms"] / b1["bcast_ms"]
    lines = [
        f"{'metric':<38} {args.candidate:>12} {'bare ws':>12} {'ratio':>7} {'target':>14} {'':>5}",
        "-" * 94,
        row(f"latency p50 @{small:,} (ms)", "p50_ms", small, ".1f"),
        row(f"latency p99 @{small:,} (ms)", "p99_ms", small, ".1f", "<= 100 ms",
            m1["p99_ms"] <= 100),
        row(f"server time per broadcast @{small:,} (ms)", "bcast_ms", small, ".2f",
            "ratio <= 1.3", ratio_1k <= 1.3, ratio=True),
        row(f"latency p50 @{big:,} (ms)", "p50_ms", big, ".1f"),
        row(f"latency p99 @{big:,} (ms)", "p99_ms", big, ".1f"),
        row(f"server time per broadcast @{big:,} (ms)", "bcast_ms", big, ".2f", "", None,
            ratio=True),
        row(f"RSS per idle connection @{big:,} (KiB)", "per_conn_kib", big, ".1f", "<= 30 KiB",
            mb["per_conn_kib"] <= 30),
        row(f"connections held @{big:,}", "open_after", big, "d", f">= {big:,}",
            mb["open_after"] >= big and mb["delivered"] == mb["expected"]),
        row(f"updates delivered @{big:,}", "delivered", big, "d", f"{mb['expected']:,}",
            mb["delivered"] == mb["expected"]),
        row(f"connect time for {big:,} clients (s)", "setup_s", big, ".1f"),
    ]
    print(f"\nlive server benchmark (websockets {__import__('websockets').__version__}, "
          f"{os.cpu_count()} CPUs, {args.broadcasts} broadcasts x {args.rounds} rounds "
          f"@{small:,}, "
          f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after)")
    print("\n".join(lines))
    _ = bb
    verdicts = [m1["p99_ms"] <= 100, ratio_1k <= 1.3, mb["per_conn_kib"] <= 30,
                mb["open_after"] >= big and mb["delivered"] == mb["expected"]]
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        asyncio.run(serve_main(sys.argv[2]))
    elif len(sys.argv) > 3 and sys.argv[1] == "clients":
        asyncio.run(clients_main(sys.argv[2], int(sys.argv[3])))
    else:
        sys.exit(main())
