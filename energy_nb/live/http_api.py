"""The HTTP API (Starlette), served on the live server's port (:mod:`energy_nb.live.http_bridge`).

Routes (``/api/v1``): ``commodities``, ``prices/{commodity}``, ``forecast``, ``models``,
``models/{id}``, ``evaluations/{id}``, ``backtests`` (POST) and ``backtests/{id}``; the OpenAPI
document at ``/api/openapi.json`` and a browsable page at ``/api/v1/docs`` (both public, like
the protocol document at ``/api/docs``).

Rules, the same for every route:

* the API key and Origin rules of the socket (:mod:`energy_nb.live.access`): 401/400/403;
* a token-bucket rate limit per client address: 429 with ``Retry-After``;
* expensive work (forecasts, which may fit a model, and backtests) goes through a bounded queue:
  ``workers`` at a time, ``queue`` more waiting, beyond that 429 with ``Retry-After``;
* JSON by default, CSV with ``Accept: text/csv``; every error is
  ``{"error": {"code", "message"[, "field"]}}``.

Inputs are read by the request types of :mod:`energy_nb.service.requests`; the work is done by
:mod:`energy_nb.service.queries`.

Usage::

    app = build_api(store, ApiSettings(api_key="s3cret"))
    server = LiveServer(forecast_fn, LiveConfig(port=0), http_app=app)
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from energy_nb.stream import protocol
from energy_nb.live.access import api_key_refusal, origin_allowed
from energy_nb.live.openapi import openapi_document
from energy_nb.live.session import Clock, TokenBucket
from energy_nb.service import queries
from energy_nb.service.requests import (
    BacktestRequest,
    ForecastRequest,
    HistoryRequest,
    RequestError,
    commodity_code,
    model_name,
    run_id,
)

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
OPENAPI_PATH = "/api/openapi.json"
DOCS_PAGE_PATH = "/api/v1/docs"
#: Largest accepted request body (a backtest request is a few hundred bytes).
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class ApiSettings:
    """Access rules and limits of the HTTP API.

    Attributes:
        api_key: required key (None: none), as for the socket.
        origins: ``LiveConfig.origins()`` (None: any Origin).
        rate, burst: requests per second and burst per client address.
        workers: expensive requests (forecasts, backtests) run at once.
        queue: expensive requests allowed to wait; more get 429.
        record_forecasts: store served forecasts like ``energy-nb forecast`` does.
    """

    api_key: str | None = None
    origins: Sequence[Any] | None = None
    rate: float = 10.0
    burst: int = 20
    workers: int = 1
    queue: int = 4
    record_forecasts: bool = True


class ApiError(Exception):
    """An error response: HTTP status, code, message (and optional field / Retry-After)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.retry_after = field, retry_after


class WorkQueue:
    """At most ``workers`` jobs at once and ``queue`` waiting; beyond that :class:`ApiError` 429.

    Args:
        workers: concurrent jobs.
        queue: waiting jobs.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self.workers, self.queue = workers, queue
        self._semaphore = asyncio.Semaphore(workers)
        self._admitted = 0
        self._seconds = 1.0  # running estimate of one job's duration

    async def run(self, job: Callable[[], Any]) -> Any:
        """Run a blocking job in a worker thread when a slot is free."""
        if self._admitted >= self.workers + self.queue:
            wait = math.ceil(self._seconds * (self._admitted - self.workers + 1) / self.workers)
            raise ApiError(429, "busy", f"{self._admitted} expensive requests are running or "
                           f"waiting (at most {self.workers} + {self.queue}); try again later",
                           retry_after=max(1, wait))
        self._admitted += 1
        try:
            async with self._semaphore:
                started = time.monotonic()
                try:
                    return await asyncio.to_thread(job)
                finally:
                    self._seconds = 0.7 * self._seconds + 0.3 * (time.monotonic() - started)
        finally:
            self._admitted -= 1


class RateLimiter:
    """A token bucket per client address (the oldest of 10,000 addresses are forgotten)."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def check(self, address: str) -> None:
        """Take a token for ``address`` or raise :class:`ApiError` 429 with Retry-After."""
        now = self.clock()
        bucket = self._buckets.pop(address, None) or TokenBucket(self.rate, self.burst, now)
        self._buckets[address] = bucket
        if len(self._buckets) > 10_000:
            self._buckets.popitem(last=False)
        if not bucket.take(now):
            raise ApiError(429, "rate_limited", f"more than {self.rate:g} requests per second "
                           f"(burst {self.burst}) from {address}",
                           retry_after=max(1, math.ceil(bucket.wait())))


# --- rendering ------------------------------------------------------------------------------


def wants_csv(request: Request) -> bool:
    """True when the Accept header prefers ``text/csv``."""
    accept = request.headers.get("accept", "")
    return "text/csv" in accept.lower()


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None,
                  ) -> Response:
    """JSON text (NaN/inf as null)."""
    return Response(protocol.encode(payload), status, headers,
                    media_type="application/json")


def csv_response(frame: pd.DataFrame, status: int = 200,
                 headers: dict[str, str] | None = None) -> Response:
    """A CSV table with a header row."""
    return Response(frame.to_csv(index=False), status, headers, media_type="text/csv")


def error_response(exc: ApiError) -> Response:
    """The one error shape."""
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.field:
        body["field"] = exc.field
    headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else None
    return json_response({"error": body}, exc.status, headers)


# --- the app --------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[tuple[Any, pd.DataFrame | None, int, dict[str, str]]]]


def build_api(store: Any, settings: ApiSettings | None = None, forecast_service: Any = None,
              clock: Clock = time.monotonic) -> Starlette:
    """Create the HTTP API app.

    Args:
        store: the :class:`~energy_nb.data.store.PriceStore`.
        settings: access rules and limits.
        forecast_service: the shared
            :class:`~energy_nb.service.forecasting.ForecastService` (default: a new one on
            ``store``).
        clock: monotonic seconds for the rate limit.

    Returns:
        The Starlette application.
    """
    from energy_nb.service.forecasting import ForecastService

    cfg = settings or ApiSettings()
    service = forecast_service or ForecastService(store)
    limiter = RateLimiter(cfg.rate, cfg.burst, clock)
    work = WorkQueue(cfg.workers, cfg.queue)

    def guard(request: Request) -> None:
        origin = request.headers.get("origin")
        if not origin_allowed(cfg.origins, origin):
            raise ApiError(403, "origin_not_allowed", f"Origin {origin!r:.80} is not allowed")
        refusal = api_key_refusal(cfg.api_key, request.headers.getlist("x-api-key"),
                                  request.query_params.getlist("api_key"))
        if refusal is not None:
            raise ApiError(refusal[0], "unauthorized" if refusal[0] == 401 else "bad_request",
                           refusal[1])
        limiter.check(request.client.host if request.client else "?")

    def cors(request: Request, headers: dict[str, str]) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin is not None and origin_allowed(cfg.origins, origin):
            headers = {**headers, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return headers

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            if request.method == "OPTIONS":
                return await preflight(request)
            try:
                guard(request)
                payload, frame, status, headers = await handler(request)
            except ApiError as exc:
                response = error_response(exc)
            except RequestError as exc:
                response = error_response(ApiError(
                    400 if exc.code == "bad_request" else 422, exc.code, exc.message, exc.field))
            except queries.NotFound as exc:
                response = error_response(ApiError(404, "not_found", str(exc)))
            else:
                headers = cors(request, headers)
                if frame is not None and wants_csv(request):
                    return csv_response(frame, status, headers)
                return json_response(payload, status, headers)
            for key, value in cors(request, {}).items():
                response.headers[key] = value
            return response

        return serve

    async def commodities(request: Request) -> Any:
        payload, frame = queries.commodities()
        return payload, frame, 200, {}

    async def prices(request: Request) -> Any:
        req = HistoryRequest.from_query({**request.query_params,
                                         "commodity": request.path_params["commodity"]})
        payload, frame = await asyncio.to_thread(queries.history, store, req)
        if not payload["count"] and store.load(req.commodity).empty:
            raise queries.NotFound(f"no {req.commodity} prices stored")
        return payload, frame, 200, {}

    async def forecast(request: Request) -> Any:
        req = ForecastRequest.from_query(request.query_params)
        payload, frame = await work.run(
            lambda: queries.forecast(service, req, record=cfg.record_forecasts))
        return payload, frame, 200, {}

    async def models(request: Request) -> Any:
        q = request.query_params
        commodity = commodity_code(q["commodity"]) if q.get("commodity") else None
        name = model_name(q["name"], "name") if q.get("name") else None
        limit = run_id(q["limit"], "limit") if q.get("limit") else None
        payload, frame = await asyncio.to_thread(queries.model_runs, store, commodity, name,
                                                 q.get("kind"), limit)
        from energy_nb.models import MODEL_NAMES

        return {**payload, "models": list(MODEL_NAMES)}, frame, 200, {}

    async def model(request: Request) -> Any:
        number = run_id(request.path_params["id"])
        payload, frame = await asyncio.to_thread(queries.model_run, store, number)
        return payload, frame, 200, {}

    async def evaluation(request: Request) -> Any:
        number = run_id(request.path_params["id"])
        payload, frame = await asyncio.to_thread(queries.model_run, store, number,
                                                 "walk_forward")
        return payload, frame, 200, {}

    async def backtest_post(request: Request) -> Any:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(400, "bad_request", f"body is larger than {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise ApiError(400, "bad_request", f"body is not valid JSON: {exc}") from None
        req = BacktestRequest.from_json(data)
        payload, frame = await work.run(lambda: queries.run_backtest(store, req))
        return payload, frame, 201, {"Location": f"{PREFIX}/backtests/{payload['id']}"}

    async def backtest_get(request: Request) -> Any:
        number = run_id(request.path_params["id"])
        payload, frame = await asyncio.to_thread(queries.backtest, store, number)
        return payload, frame, 200, {}

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document(), headers=cors(request, {}))

    async def docs_page(request: Request) -> Response:
        return HTMLResponse(docs_html(openapi_document()))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        detail = getattr(exc, "detail", "")
        message = (f"no route for {request.method} {request.url.path}" if status in (404, 405)
                   else str(detail))
        return error_response(ApiError(status, code, message))

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.exception("HTTP API request %s failed", request.url.path, exc_info=exc)
        return error_response(ApiError(500, "internal_error", type(exc).__name__))

    async def preflight(request: Request) -> Response:
        origin = request.headers.get("origin")
        if not origin_allowed(cfg.origins, origin):
            return error_response(ApiError(403, "origin_not_allowed",
                                           f"Origin {origin!r:.80} is not allowed"))
        return Response(status_code=204, headers=cors(request, {
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "X-API-Key, Content-Type, Accept",
            "Access-Control-Max-Age": "600"}))

    get, post = ["GET", "OPTIONS"], ["POST", "OPTIONS"]
    routes = [
        Route(f"{PREFIX}/commodities", endpoint(commodities), methods=get),
        Route(f"{PREFIX}/prices/{{commodity}}", endpoint(prices), methods=get),
        Route(f"{PREFIX}/forecast", endpoint(forecast), methods=get),
        Route(f"{PREFIX}/models", endpoint(models), methods=get),
        Route(f"{PREFIX}/models/{{id}}", endpoint(model), methods=get),
        Route(f"{PREFIX}/evaluations/{{id}}", endpoint(evaluation), methods=get),
        Route(f"{PREFIX}/backtests", endpoint(backtest_post), methods=post),
        Route(f"{PREFIX}/backtests/{{id}}", endpoint(backtest_get), methods=get),
        Route(OPENAPI_PATH, openapi, methods=["GET"]),  # public, like /api/docs
        Route(DOCS_PAGE_PATH, docs_page, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found,
                                                       Exception: server_error})


def docs_html(doc: dict[str, Any]) -> str:
    """A self-contained HTML page listing every operation with its parameters (no CDN)."""
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(doc['info']['title'])}"
             "</title><style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem "
             "auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}section{border-top:1px "
             "solid #ddd;padding:.5rem 0}td{padding:0 .6em;vertical-align:top}</style></head>"
             f"<body><h1>{esc(doc['info']['title'])}</h1><p>{esc(doc['info']['description'])}</p>"
             f"<p>Machine-readable: <a href='{OPENAPI_PATH}'>{OPENAPI_PATH}</a> (OpenAPI "
             f"{esc(doc['openapi'])}). WebSocket protocol: <a href='/api/docs'>/api/docs</a>.</p>"]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            parts.append(f"<section id='{esc(op['operationId'])}'><h2><code>{method.upper()} "
                         f"{esc(path)}</code></h2><p>{esc(op['summary'])}</p>")
            params = op.get("parameters", [])
            if params:
                parts.append("<table>")
                for p in params:
                    req = " (required)" if p.get("required") else ""
                    parts.append(f"<tr><td><code>{esc(p['name'])}</code></td><td>{esc(p['in'])}"
                                 f"{req}</td><td>{esc(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            if "requestBody" in op:
                props = op["requestBody"]["content"]["application/json"]["schema"]["properties"]
                parts.append("<p>JSON body fields: " + ", ".join(
                    f"<code>{esc(k)}</code>" for k in props) + "</p>")
            codes = ", ".join(sorted(op["responses"]))
            parts.append(f"<p>Responses: {esc(codes)}</p></section>")
    parts.append("</body></html>")
    return "".join(parts)
