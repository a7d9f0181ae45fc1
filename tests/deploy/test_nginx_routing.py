"""The packaged nginx configuration routes as designed, on real nginx with real HTTP and
WebSocket backends (small stand-ins for the app and live servers, each answering its name).

Sticky by cookie (first visit assigned, cookie honoured, unknown value re-assigned), WebSocket
upgrades to the same instance as the page, the live server's paths to the live backend, and a
stopped instance's visitors served by another.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from websockets.asyncio.server import serve
from websockets.sync.client import connect

from energy_nb.deploy.nginx import (
    COOKIE,
    INSTANCE_HEADER,
    UPSTREAM_HEADER,
    Instance,
    NginxConfigError,
    parse_instance,
    render_config,
)

pytestmark = pytest.mark.timeout(120)


class Backends:
    """Named HTTP + WebSocket servers on free loopback ports, in one event-loop thread.

    An HTTP GET answers ``<name> <path>``; a WebSocket sends ``<name> <path>`` on connect.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.ports: dict[str, int] = {}
        self.servers: dict[str, object] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        for name in names:
            self.start(name)

    def start(self, name: str, port: int = 0) -> None:
        async def handler(ws) -> None:
            await ws.send(f"{name} {ws.request.path}")
            await ws.wait_closed()

        def http(connection, request):
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return None
            return connection.respond(HTTPStatus.OK, f"{name} {request.path}")

        async def up():
            server = await serve(handler, "127.0.0.1", port, process_request=http)
            return server

        server = asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)
        self.servers[name] = server
        self.ports[name] = server.sockets[0].getsockname()[1]

    def stop(self, name: str) -> None:
        async def down(server):
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(down(self.servers.pop(name)), self.loop).result(10)

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def close(self) -> None:
        for name in list(self.servers):
            self.stop(name)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def backends() -> Iterator[Backends]:
    b = Backends(["app-a", "live-a", "app-b", "live-b"])
    yield b
    b.close()


@pytest.fixture
def proxy(backends, nginx_factory):
    return nginx_factory([Instance(x, backends.address(f"app-{x}"), backends.address(f"live-{x}"))
                          for x in ("a", "b")])


def get(url: str, cookie: str | None = None) -> tuple[str, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode(), dict(response.headers.items())


def test_a_first_visit_is_assigned_an_instance_and_the_cookie_keeps_it_there(proxy, backends):
    seen = set()
    for _ in range(40):
        body, headers = get(proxy.url + "voila/render/history.ipynb")
        instance = headers[INSTANCE_HEADER]
        assert body == f"app-{instance} /voila/render/history.ipynb"
        assert headers["Set-Cookie"].startswith(f"{COOKIE}={instance};")
        assert headers[UPSTREAM_HEADER] == backends.address(f"app-{instance}")
        seen.add(instance)
    assert seen == {"a", "b"}  # 40 first visits: both instances get some (p of not = 2e-12)
    for instance in ("a", "b"):
        for _ in range(10):
            body, headers = get(proxy.url + "voila/render/forecast.ipynb",
                                f"{COOKIE}={instance}; other=1")
            assert body == f"app-{instance} /voila/render/forecast.ipynb"
            assert headers[INSTANCE_HEADER] == instance
    # a cookie naming no instance (one since removed) is a first visit again
    _, headers = get(proxy.url, f"{COOKIE}=zz")
    assert headers[INSTANCE_HEADER] in ("a", "b")
    assert headers["Set-Cookie"].startswith(f"{COOKIE}={headers[INSTANCE_HEADER]};")


def test_websockets_and_live_paths_reach_the_instance_of_the_cookie(proxy):
    ws_base = proxy.url.replace("http://", "ws://")
    for instance in ("a", "b"):
        cookie = {"Cookie": f"{COOKIE}={instance}"}
        with connect(ws_base + "api/kernels/k1/channels?session_id=s", additional_headers=cookie,
                     open_timeout=10) as ws:
            assert ws.recv(timeout=10) == f"app-{instance} /api/kernels/k1/channels?session_id=s"
        with connect(ws_base + "api/v1/ws/forecast?commodity=WTI", additional_headers=cookie,
                     open_timeout=10) as ws:
            assert ws.recv(timeout=10) == f"live-{instance} /api/v1/ws/forecast?commodity=WTI"
        for path in ("api/v1/commodities", "api/openapi.json", "api/docs", "healthz"):
            assert get(proxy.url + path, f"{COOKIE}={instance}")[0] == f"live-{instance} /{path}"
        # Voila's own /api routes stay with Voila
        assert get(proxy.url + "api/kernels", f"{COOKIE}={instance}")[0] == \
            f"app-{instance} /api/kernels"


def test_a_stopped_instance_s_visitors_are_served_by_another(proxy, backends):
    backends.stop("app-a")
    body, headers = get(proxy.url + "voila/render/history.ipynb", f"{COOKIE}=a")
    assert body == "app-b /voila/render/history.ipynb"
    assert headers[INSTANCE_HEADER] == "a"  # the visitor keeps its cookie for when a is back
    assert headers[UPSTREAM_HEADER].endswith(backends.address("app-b"))


def test_bad_instances_are_refused_with_the_reason():
    with pytest.raises(NginxConfigError, match="instance name 'A b'"):
        Instance("A b", "h:1", "h:2")
    with pytest.raises(NginxConfigError, match="live address 'h:0'"):
        Instance("a", "h:1", "h:0")
    with pytest.raises(NginxConfigError, match="unique"):
        render_config([Instance("a", "h:1", "h:2"), Instance("a", "h:3", "h:4")])
    with pytest.raises(NginxConfigError, match="at least one"):
        render_config([])
    with pytest.raises(NginxConfigError, match="NAME=APP_HOST:PORT,LIVE_HOST:PORT"):
        parse_instance("a=app-a:8866")
    assert parse_instance("b=app-b:8866,app-b:8000") == Instance("b", "app-b:8866", "app-b:8000")
