"""The HTTP side of the live server's port under more requests than it runs at once: a real
server on loopback, real HTTP; the ones beyond ``http_concurrency`` get 503 with Retry-After in
the API's error shape (uvicorn's own limit answered in plain text)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from energy_nb.live.http_bridge import InFlightLimit
from energy_nb.live.server import LiveConfig, LiveServer

pytestmark = pytest.mark.timeout(60)


def held_app(release: asyncio.Event, entered: list[int]) -> Starlette:
    """An app whose ``/slow`` waits for ``release``; ``/fast`` answers at once."""

    async def slow(request):
        entered.append(1)
        await release.wait()
        return JSONResponse({"ok": True})

    async def fast(request):
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/slow", slow), Route("/fast", fast)])


async def test_requests_beyond_the_limit_get_a_json_503_with_retry_after() -> None:
    release, entered = asyncio.Event(), []
    server = LiveServer(lambda c, h: {"model": "stub", "points": []},
                        LiveConfig(port=0, http_concurrency=2),
                        http_app=held_app(release, entered))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}",
                                     timeout=20) as client:
            held = [asyncio.ensure_future(client.get("/slow")) for _ in range(2)]
            while len(entered) < 2:
                await asyncio.sleep(0.02)
            busy = await client.get("/fast")
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "1"
            assert busy.headers["content-type"].startswith("application/json")
            error = busy.json()["error"]
            assert error["code"] == "busy" and "at most 2" in error["message"]
            release.set()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
            # once the running ones finish, requests get through again
            assert (await client.get("/fast")).status_code == 200
        # only the one request beyond the limit was refused
        assert server.http_bridge.limit.refused == 1
    finally:
        await server.stop()


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InFlightLimit(held_app(asyncio.Event(), []), 0)
