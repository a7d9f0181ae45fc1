"""The HTTP API on the live server's port, against a real server on loopback with a real store
(the offline EIA data) and the real ``energy-nb`` CLI for the --json comparisons."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from openapi_spec_validator import validate

from energy_nb.data.store import PriceStore
from energy_nb.live.http_api import ApiError, ApiSettings, RateLimiter, WorkQueue, build_api
from energy_nb.live.server import LiveConfig, LiveServer

SCRIPT = Path(sys.executable).parent / "energy-nb"
#: fields of a forecast that differ between two runs of the same request
RUN_FIELDS = ("record_id", "model_run_id", "cached", "fit_seconds")


def cli(home: Path, *args: str) -> Any:
    """Run ``energy-nb ... --json`` and return the decoded output."""
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    res = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


class ThreadedServer:
    """A LiveServer with the HTTP API, running on its own event loop in a thread."""

    def __init__(self, store: PriceStore, api: ApiSettings | None = None,
                 **config: Any) -> None:
        self.config = LiveConfig(port=0, **config)
        api = api or ApiSettings()
        settings = ApiSettings(**{**api.__dict__, "api_key": self.config.api_key,
                                  "origins": self.config.origins()})
        self.server = LiveServer(lambda c, h: {"model": "stub", "points": []}, self.config,
                                 http_app=build_api(store, settings))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        self.base = f"http://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, eia_dir: Path) -> Path:
    """A store with the real EIA prices, one walk-forward evaluation and one fit."""
    home = tmp_path_factory.mktemp("api-home")
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    subprocess.run([str(SCRIPT), "data", "init", "--offline-dir", str(eia_dir)], check=True,
                   capture_output=True, env=env, timeout=300)
    cli(home, "evaluate", "--commodity", "NG", "--start", "2024-09-02", "--end", "2024-12-31",
        "--horizon", "5", "--step", "10", "--models", "random_walk", "--no-progress", "--json")
    return home


@pytest.fixture(scope="module")
def store(home: Path) -> PriceStore:
    return PriceStore(home / "energy_nb.sqlite")


@pytest.fixture(scope="module")
def server(store: PriceStore) -> Iterator[ThreadedServer]:
    srv = ThreadedServer(store, ApiSettings(rate=1000, burst=1000))
    yield srv
    srv.stop()


@pytest.fixture
def client(server: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, timeout=120) as c:
        yield c


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


# --- endpoints ------------------------------------------------------------------------------


def test_commodities_json_and_csv(client: httpx.Client) -> None:
    data = client.get("/api/v1/commodities").json()
    assert [c["code"] for c in data["commodities"]] == ["WTI", "BRENT", "NG"]
    csv = client.get("/api/v1/commodities", headers={"Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("code,name,unit")
    assert len(csv.text.splitlines()) == 4


def test_prices_window_frequency_and_csv(client: httpx.Client, store: PriceStore) -> None:
    daily = client.get("/api/v1/prices/wti", params={"start": "2020-04-16",
                                                      "end": "2020-04-22"}).json()
    stored = store.load("WTI", start="2020-04-16", end="2020-04-22")
    assert daily["commodity"] == "WTI" and daily["count"] == len(stored)
    assert {"date": "2020-04-20", "price": -36.98} in daily["prices"]  # the real negative price
    monthly = client.get("/api/v1/prices/NG", params={"start": "2024-01-01", "end": "2024-06-30",
                                                       "freq": "m"}).json()
    # resampled as the History page and `energy-nb data export --freq` do
    # (energy_nb.data.frequency): the last period is labelled by its last price, never later
    assert [p["date"] for p in monthly["prices"]] == [
        "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-28"]
    from energy_nb.data.frequency import resample_prices
    expected = resample_prices(store.load("NG", start="2024-01-01", end="2024-06-30"), "monthly")
    assert [p["price"] for p in monthly["prices"]] == expected.round(6).tolist()
    csv = client.get("/api/v1/prices/brent", params={"start": "2024-01-02", "end": "2024-01-05"},
                     headers={"Accept": "text/csv"}).text.splitlines()
    assert csv[0] == "date,price" and csv[1].startswith("2024-01-02,")


@pytest.mark.parametrize(("path", "params", "status", "code", "field"), [
    ("/api/v1/prices/gold", {}, 422, "invalid_value", "commodity"),
    ("/api/v1/prices/wti", {"start": "yesterday-ish"}, 400, "bad_request", "start"),
    ("/api/v1/prices/wti", {"start": "2024-02-01", "end": "2024-01-01"}, 422, "invalid_value",
     "start"),
    ("/api/v1/prices/wti", {"freq": "hourly"}, 422, "invalid_value", "freq"),
    ("/api/v1/forecast", {}, 400, "bad_request", "commodity"),
    ("/api/v1/forecast", {"commodity": "wti", "horizon": "31"}, 422, "invalid_value", "horizon"),
    ("/api/v1/forecast", {"commodity": "wti", "horizon": "seven"}, 400, "bad_request",
     "horizon"),
    ("/api/v1/forecast", {"commodity": "wti", "levels": "80,100"}, 422, "invalid_value",
     "levels"),
    ("/api/v1/forecast", {"commodity": "wti", "model": "oracle"}, 422, "invalid_value", "model"),
    ("/api/v1/forecast", {"commodity": "wti", "start": "2024-13-45"}, 400, "bad_request",
     "start"),
    ("/api/v1/forecast", {"commodity": "wti", "start": "1950-01-02"}, 422, "invalid_value",
     "start"),
    ("/api/v1/models", {"kind": "guess"}, 422, "invalid_value", None),
    ("/api/v1/models", {"limit": "0"}, 422, "invalid_value", "limit"),
    ("/api/v1/models/abc", {}, 400, "bad_request", "id"),
    ("/api/v1/models/0", {}, 422, "invalid_value", "id"),
    ("/api/v1/backtests/x1", {}, 400, "bad_request", "id"),
])
def test_bad_input_gets_the_one_error_shape(client: httpx.Client, path: str, params: dict,
                                             status: int, code: str, field: str | None) -> None:
    error = error_of(client.get(path, params=params), status)
    assert error["code"] == code
    assert error.get("field") == field
    assert len(error["message"]) > 10


def test_unknown_ids_and_routes_are_404(client: httpx.Client) -> None:
    for path in ("/api/v1/models/99999", "/api/v1/evaluations/99999", "/api/v1/backtests/99999",
                 "/api/v1/nothing-here"):
        assert error_of(client.get(path), 404)["code"] == "not_found"
    assert error_of(client.delete("/api/v1/commodities"), 405)["code"] == "method_not_allowed"


def test_forecast_answers_like_the_cli(client: httpx.Client, home: Path) -> None:
    args = {"commodity": "NG", "horizon": "5", "model": "drift", "levels": "80,95",
            "start": "2024-06-03"}
    served = client.get("/api/v1/forecast", params=args).json()
    printed = cli(home, "forecast", "--commodity", "ng", "--horizon", "5", "--model", "drift",
                  "--levels", "80,95", "--start", "2024-06-03", "--json")
    for key in RUN_FIELDS:
        served.pop(key), printed.pop(key)
    assert served == printed
    assert served["origin"] == "2024-06-03" and len(served["actuals"]) == 5
    csv = client.get("/api/v1/forecast", params=args, headers={"Accept": "text/csv"}).text
    header = csv.splitlines()[0].split(",")
    assert header[:2] == ["date", "mean"] and "lower_95" in header and header[-1] == "actual"
    assert len(csv.splitlines()) == 6


def test_models_and_evaluations_answer_like_the_cli(client: httpx.Client, home: Path) -> None:
    listed = client.get("/api/v1/models", params={"commodity": "ng"}).json()
    printed = cli(home, "models", "list", "--commodity", "NG", "--json")
    assert listed["runs"] == printed["runs"]
    assert "random_walk" in listed["models"]
    evaluation = next(r for r in listed["runs"] if r["kind"] == "walk_forward")
    shown = cli(home, "models", "show", str(evaluation["id"]), "--json")
    assert client.get(f"/api/v1/evaluations/{evaluation['id']}").json() == shown
    assert client.get(f"/api/v1/models/{evaluation['id']}").json() == shown
    steps = client.get(f"/api/v1/evaluations/{evaluation['id']}",
                       headers={"Accept": "text/csv"}).text.splitlines()
    assert len(steps) == 1 + 5 and "rmae" in steps[0]
    fit = next((r for r in listed["runs"] if r["kind"] == "fit"), None)
    if fit is not None:  # a fit is not an evaluation
        assert error_of(client.get(f"/api/v1/evaluations/{fit['id']}"), 404)["code"] \
            == "not_found"


def test_backtest_post_then_get(client: httpx.Client, home: Path) -> None:
    body = {"commodity": "brent", "strategy": "sma-cross", "params": {"fast": 5, "slow": 20},
            "start": "2024-01-02", "end": "2024-06-28", "commission": 0.001}
    created = client.post("/api/v1/backtests", json=body)
    assert created.status_code == 201, created.text
    run = created.json()
    assert created.headers["location"] == f"/api/v1/backtests/{run['id']}"
    assert run["commodity"] == "BRENT" and run["params"]["fast"] == 5
    assert run["start"] == "2024-01-02" and run["end"] == "2024-06-28"
    stored = client.get(created.headers["location"]).json()
    assert stored["id"] == run["id"] and stored["stats"] == run["stats"]
    equity = client.get(created.headers["location"], headers={"Accept": "text/csv"}).text
    assert equity.splitlines()[0].startswith("date,Price,Position")
    assert len(equity.splitlines()) == 1 + len(run["equity"])
    printed = cli(home, "backtest", "--commodity", "BRENT", "--strategy", "sma-cross",
                  "--fast", "5", "--slow", "20", "--start", "2024-01-02", "--end", "2024-06-28",
                  "--commission", "0.001", "--json")
    assert printed["id"] != run["id"]
    for key in ("id", "created_at"):
        printed.pop(key), run.pop(key)
    assert run == printed


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"{not json", 400, None),
    (b"[1, 2]", 400, None),
    (json.dumps({"commodity": "wti", "strategy": "moon-phase"}).encode(), 422, "strategy"),
    (json.dumps({"commodity": "wti", "strategy": "sma-cross",
                 "params": {"fast": -3}}).encode(), 422, "params"),
    (json.dumps({"commodity": "wti", "colour": "red"}).encode(), 422, "colour"),
    (json.dumps({"commodity": "wti", "capital": "lots"}).encode(), 400, "capital"),
    (json.dumps({"commodity": "copper"}).encode(), 422, "commodity"),
])
def test_bad_backtest_requests(client: httpx.Client, body: bytes, status: int,
                               field: str | None) -> None:
    response = client.post("/api/v1/backtests", content=body,
                           headers={"Content-Type": "application/json"})
    assert error_of(response, status).get("field") == field


def test_openapi_document_is_valid_and_lists_every_route(client: httpx.Client) -> None:
    doc = client.get("/api/openapi.json").json()
    validate(doc)
    assert set(doc["paths"]) == {
        "/api/v1/commodities", "/api/v1/prices/{commodity}", "/api/v1/forecast",
        "/api/v1/models", "/api/v1/models/{id}", "/api/v1/evaluations/{id}",
        "/api/v1/backtests", "/api/v1/backtests/{id}"}
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "GET /api/v1/forecast" in page.text and "/api/openapi.json" in page.text
    protocol_doc = client.get("/api/docs")  # the same keep-alive connection: still served
    assert protocol_doc.status_code == 200 and "WebSocket protocol" in protocol_doc.text
    assert client.get("/healthz").json()["status"] == "ok"


async def test_websocket_and_http_share_the_port(server: ThreadedServer) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{server.server.port}/api/v1/ws/forecast"
                                  "?commodity=wti&horizon=3") as ws:
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome"
        async with httpx.AsyncClient(base_url=server.base) as http:
            assert (await http.get("/api/v1/commodities")).status_code == 200
        await ws.send(json.dumps({"action": "ping", "id": 1}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "pong" and reply["id"] == 1


def test_request_line_split_across_packets_and_garbage(server: ThreadedServer) -> None:
    import socket
    import time

    with socket.create_connection(("127.0.0.1", server.server.port), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/comm")
        time.sleep(0.1)
        sock.sendall(b"odities HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"commodities"' in answer
    with socket.create_connection(("127.0.0.1", server.server.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 not http at all")  # no request line, then EOF
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)
    with httpx.Client(base_url=server.base) as c:  # the server is still fine
        assert c.get("/api/v1/commodities").status_code == 200
        assert c.get("/healthz").json()["status"] == "ok"
        assert server.server.admission.total >= 1  # an open HTTP connection counts
    deadline = time.monotonic() + 10
    while server.server.admission.total and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.server.admission.total == 0  # and is uncounted once closed


def test_responses_match_the_openapi_document(client: httpx.Client) -> None:
    from jsonschema import Draft202012Validator

    doc = client.get("/api/openapi.json").json()

    def check(path: str, method: str, status: str, body: Any) -> None:
        response = doc["paths"][path][method]["responses"][status]
        if "$ref" in response:  # a shared response, e.g. the error
            response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        schema = response["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": doc["components"]}).validate(body)

    runs = client.get("/api/v1/models").json()
    evaluation = next(r["id"] for r in runs["runs"] if r["kind"] == "walk_forward")
    created = client.post("/api/v1/backtests", json={"commodity": "ng", "start": "2024-03-01"})
    cases = [
        ("/api/v1/commodities", "/api/v1/commodities", {}),
        ("/api/v1/prices/{commodity}", "/api/v1/prices/ng", {"start": "2024-01-01"}),
        ("/api/v1/forecast", "/api/v1/forecast", {"commodity": "brent", "model": "drift",
                                                  "start": "2024-05-01"}),
        ("/api/v1/models", "/api/v1/models", {}),
        ("/api/v1/models/{id}", f"/api/v1/models/{evaluation}", {}),
        ("/api/v1/evaluations/{id}", f"/api/v1/evaluations/{evaluation}", {}),
        ("/api/v1/backtests/{id}", created.headers["location"], {}),
    ]
    for template, path, params in cases:
        check(template, "get", "200", client.get(path, params=params).json())
    check("/api/v1/backtests", "post", "201", created.json())
    check("/api/v1/forecast", "get", "422",
          client.get("/api/v1/forecast", params={"commodity": "wti", "horizon": "0"}).json())


# --- access rules ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(store: PriceStore) -> Iterator[ThreadedServer]:
    srv = ThreadedServer(store, ApiSettings(rate=1000, burst=1000), api_key="s3cret",
                         allowed_origins=[None, "https://dash.example"])
    yield srv
    srv.stop()


def test_api_key_and_origin_rules_match_the_socket(keyed: ThreadedServer) -> None:
    with httpx.Client(base_url=keyed.base) as c:
        assert error_of(c.get("/api/v1/commodities"), 401)["code"] == "unauthorized"
        assert error_of(c.get("/api/v1/commodities", headers={"X-API-Key": "nope"}),
                        401)["code"] == "unauthorized"
        assert c.get("/api/v1/commodities", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/api/v1/commodities", params={"api_key": "s3cret"}).status_code == 200
        twice = c.get("/api/v1/commodities", params={"api_key": ["s3cret", "s3cret"]})
        assert error_of(twice, 400)["code"] == "bad_request"
        foreign = c.get("/api/v1/commodities", headers={"X-API-Key": "s3cret",
                                                        "Origin": "https://evil.example"})
        assert error_of(foreign, 403)["code"] == "origin_not_allowed"
        allowed = c.get("/api/v1/commodities", headers={"X-API-Key": "s3cret",
                                                        "Origin": "https://dash.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
        preflight = c.options("/api/v1/forecast", headers={
            "Origin": "https://dash.example", "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 204
        assert "X-API-Key" in preflight.headers["access-control-allow-headers"]
        assert c.get("/healthz").status_code == 200  # health needs no key, as before
        assert c.get("/api/docs").status_code == 200  # nor the documents
        assert c.get("/api/openapi.json").json()["openapi"].startswith("3.")
        assert c.get("/api/v1/ws/stats").status_code == 401


async def test_socket_refuses_the_same_requests(keyed: ThreadedServer) -> None:
    url = f"ws://127.0.0.1:{keyed.server.port}/api/v1/ws/forecast"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 401
    async with websockets.connect(url, additional_headers={"X-API-Key": "s3cret"}) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"


def test_rate_limit_answers_429_with_retry_after(store: PriceStore) -> None:
    srv = ThreadedServer(store, ApiSettings(rate=0.5, burst=2))
    try:
        with httpx.Client(base_url=srv.base) as c:
            codes = [c.get("/api/v1/commodities").status_code for _ in range(3)]
            assert codes == [200, 200, 429]
            limited = c.get("/api/v1/commodities")
            assert error_of(limited, 429)["code"] == "rate_limited"
            assert int(limited.headers["retry-after"]) >= 1
    finally:
        srv.stop()


# --- the limits as objects ------------------------------------------------------------------


def test_rate_limiter_with_a_fake_clock() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(ApiError) as refused:
        limiter.check("a")
    assert refused.value.status == 429 and refused.value.retry_after == 1
    limiter.check("b")  # per address
    now[0] += 1.0
    limiter.check("a")


async def test_work_queue_refuses_beyond_workers_plus_queue() -> None:
    queue = WorkQueue(workers=1, queue=1)
    release = threading.Event()
    first = asyncio.ensure_future(queue.run(lambda: release.wait(10) and "first"))
    second = asyncio.ensure_future(queue.run(lambda: "second"))
    await asyncio.sleep(0.05)
    with pytest.raises(ApiError) as busy:
        await queue.run(lambda: "third")
    assert busy.value.status == 429 and busy.value.code == "busy"
    assert busy.value.retry_after and busy.value.retry_after >= 1
    release.set()
    assert await first == "first" and await second == "second"
    assert await queue.run(lambda: "again") == "again"


# --- energy-nb serve ------------------------------------------------------------------------


def test_serve_command_serves_the_api_and_its_flags(home: Path) -> None:
    env = {**os.environ, "ENERGY_NB_HOME": str(home), "ENERGY_NB_API_KEY": "k3y"}
    bad = subprocess.run([str(SCRIPT), "serve", "--port", "0", "--api-workers", "0"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "--api-workers must be in 1..64" in bad.stderr
    proc = subprocess.Popen([str(SCRIPT), "serve", "--port", "0", "--json", "--api-rate", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["port"]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            assert c.get("/api/v1/commodities").status_code == 401
            prices = c.get("/api/v1/prices/NG", params={"start": "2018-01-04", "end": "2018-01-08"},
                           headers={"X-API-Key": "k3y", "Accept": "text/csv"})
            assert prices.status_code == 200
            assert "2018-01-05," in prices.text  # the blank source price stays a gap (empty)
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    off = subprocess.Popen([str(SCRIPT), "serve", "--port", "0", "--json", "--no-http-api"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**env, "ENERGY_NB_API_KEY": ""})
    try:
        assert off.stdout is not None
        port = json.loads(off.stdout.readline())["port"]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            assert c.get("/api/v1/commodities").status_code == 404  # websockets' own answer
            assert c.get("/healthz").status_code == 200
    finally:
        off.terminate()
        assert off.wait(30) == 0


def test_an_empty_store_answers_404_naming_the_commodity(tmp_path: Path) -> None:
    srv = ThreadedServer(PriceStore(tmp_path / "empty.sqlite"))
    try:
        with httpx.Client(base_url=srv.base, timeout=60) as c:
            for response in (c.get("/api/v1/prices/wti"),
                             c.get("/api/v1/forecast", params={"commodity": "wti"}),
                             c.post("/api/v1/backtests", json={"commodity": "wti"})):
                error = error_of(response, 404)
                assert error["code"] == "not_found" and "WTI" in error["message"]
            assert c.get("/api/v1/models").json()["runs"] == []
    finally:
        srv.stop()


def test_expensive_requests_beyond_the_queue_get_429_busy(store: PriceStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    srv = ThreadedServer(store, ApiSettings(workers=1, queue=0, record_forecasts=False))
    try:
        def ask(origin: str) -> httpx.Response:
            return httpx.get(f"{srv.base}/api/v1/forecast", timeout=120, params={
                "commodity": "WTI", "model": "auto", "horizon": "5", "start": origin})

        with ThreadPoolExecutor(3) as pool:  # three model fits at once, room for one
            answers = list(pool.map(ask, ["2023-06-01", "2023-07-03", "2023-08-01"]))
        statuses = sorted(a.status_code for a in answers)
        assert statuses[0] == 200 and statuses[-1] == 429, statuses
        for busy in (a for a in answers if a.status_code == 429):
            assert error_of(busy, 429)["code"] == "busy"
            assert int(busy.headers["retry-after"]) >= 1
    finally:
        srv.stop()
