"""The OpenAPI 3.1 document of the HTTP API (``GET /api/openapi.json``), as plain data.

Usage::

    >>> doc = openapi_document()
    >>> sorted(doc["paths"])[0]
    '/api/v1/backtests'
"""

from __future__ import annotations

from typing import Any

from energy_nb.commodities import CODES
from energy_nb.models import MODEL_NAMES
from energy_nb.service.requests import (
    DEFAULT_LEVELS,
    FREQUENCIES,
    LEVEL_HIGH,
    LEVEL_LOW,
    MAX_HORIZON,
    MIN_HORIZON,
)

_ERROR = {"$ref": "#/components/responses/Error"}
_ANY_OBJECT = {"type": "object", "additionalProperties": True}
_DATE = {"type": "string", "format": "date"}
_NUMBER_OR_NULL = {"type": ["number", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {**required, **optional}, "additionalProperties": True}


#: The response bodies (only the fields clients rely on are spelled out; more may come).
SCHEMAS: dict[str, Any] = {
    "Commodities": _object({"commodities": {"type": "array", "items": _object({
        "code": {"type": "string"}, "name": {"type": "string"}, "unit": {"type": "string"},
        "eia_series": {"type": "string"}, "fred_series": {"type": "string"},
        "color": {"type": "string"}})}}),
    "Prices": _object({
        "commodity": {"type": "string"}, "freq": {"type": "string"},
        "start": {"type": ["string", "null"]}, "end": {"type": ["string", "null"]},
        "count": {"type": "integer"},
        "prices": {"type": "array", "items": _object({"date": _DATE,
                                                      "price": _NUMBER_OR_NULL})}}),
    "Forecast": _object({
        "commodity": {"type": "string"}, "model": {"type": "string"},
        "model_used": {"type": "string"}, "origin": _DATE, "horizon": {"type": "integer"},
        "levels": {"type": "array", "items": {"type": "integer"}},
        "data_version": {"type": "string"}, "cached": {"type": "boolean"},
        "fit_seconds": {"type": "number"}, "record_id": {"type": ["integer", "null"]},
        "model_run_id": {"type": ["integer", "null"]},
        "forecast": _object({
            "dates": {"type": "array", "items": _DATE},
            "mean": {"type": "array", "items": _NUMBER_OR_NULL},
            "levels": {"type": "array", "items": {"type": "integer"}},
            "lower": {"type": "object", "additionalProperties": {
                "type": "array", "items": _NUMBER_OR_NULL}},
            "upper": {"type": "object", "additionalProperties": {
                "type": "array", "items": _NUMBER_OR_NULL}},
            "info": _ANY_OBJECT}),
        "actuals": {"type": "array", "items": _object({"date": _DATE,
                                                       "price": _NUMBER_OR_NULL})}}),
    "ModelRun": _object({
        "id": {"type": "integer"}, "name": {"type": "string"},
        "commodity": {"type": "string"}, "kind": {"type": "string"}, "params": _ANY_OBJECT,
        "train_start": {"type": ["string", "null"]}, "train_end": {"type": ["string", "null"]},
        "data_version": {"type": ["string", "null"]}, "created_at": {"type": "string"},
        "versions": _ANY_OBJECT}, metrics=_ANY_OBJECT, evaluation=_ANY_OBJECT,
        rmae=_NUMBER_OR_NULL, mae=_NUMBER_OR_NULL),
    "ModelRuns": _object({"runs": {"type": "array", "items": _ref("ModelRun")},
                          "models": {"type": "array", "items": {"type": "string"}}}),
    "Backtest": _object({
        "id": {"type": "integer"}, "commodity": {"type": "string"},
        "strategy": {"type": "string"}, "params": _ANY_OBJECT, "start": _DATE, "end": _DATE,
        "stats": _ANY_OBJECT, "trades": {"type": "array", "items": _ANY_OBJECT},
        "equity": {"type": "array", "items": _ANY_OBJECT}}, config=_ANY_OBJECT,
        info=_ANY_OBJECT, created_at={"type": "string"}),
}


def _query(name: str, description: str, schema: dict[str, Any],
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


def _path_id(description: str) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": description,
            "schema": {"type": "integer", "minimum": 1}}


def _ok(description: str, schema: str, csv: bool = True, status: str = "200") -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ref(schema)}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {status: {"description": description, "content": content}}


def _errors(*statuses: str) -> dict[str, Any]:
    return {s: _ERROR for s in ("401", "403", "429", *statuses)}


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document.

    Args:
        server_url: base URL to list under ``servers`` (None: relative).

    Returns:
        The document as a JSON-safe dict.
    """
    commodity = {"type": "string", "enum": list(CODES),
                 "description": "case-insensitive"}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "energy_nb HTTP API",
            "version": "1",
            "description": (
                "Energy price history, forecasts, model runs and backtests over HTTP, on the "
                "live server's port. JSON by default; send `Accept: text/csv` for a table. "
                "Errors are `{\"error\": {\"code\", \"message\"}}`. When the server has an API "
                "key, send it as `X-API-Key` or `api_key=`. The live WebSocket protocol is "
                "at /api/docs."),
        },
        "servers": [{"url": server_url or "/"}],
        "security": [{"ApiKeyHeader": []}, {"ApiKeyQuery": []}, {}],
        "paths": {
            "/api/v1/commodities": {"get": {
                "summary": "The commodities (code, name, unit, source series)",
                "operationId": "listCommodities",
                "responses": {**_ok("commodities", "Commodities"), **_errors()},
            }},
            "/api/v1/prices/{commodity}": {"get": {
                "summary": "Stored daily prices, or the last price of each week/month",
                "operationId": "getPrices",
                "parameters": [
                    {"name": "commodity", "in": "path", "required": True, "schema": commodity},
                    _query("start", "first date, YYYY-MM-DD", {"type": "string",
                                                               "format": "date"}),
                    _query("end", "last date, YYYY-MM-DD", {"type": "string", "format": "date"}),
                    _query("freq", "D (daily, default), W or M",
                           {"type": "string", "enum": list(FREQUENCIES), "default": "D"}),
                ],
                "responses": {**_ok("prices", "Prices"), **_errors("400", "404", "422")},
            }},
            "/api/v1/forecast": {"get": {
                "summary": "Forecast a commodity with prediction intervals (stored, like "
                           "`energy-nb forecast`)",
                "operationId": "getForecast",
                "parameters": [
                    _query("commodity", "WTI, BRENT or NG", commodity, required=True),
                    _query("horizon", f"trading days ahead, {MIN_HORIZON}-{MAX_HORIZON}",
                           {"type": "integer", "minimum": MIN_HORIZON, "maximum": MAX_HORIZON,
                            "default": 7}),
                    _query("model", "model name, case-insensitive, - or _: "
                           f"{', '.join(MODEL_NAMES)} (default auto)",
                           {"type": "string", "default": "auto"}),
                    _query("levels", "interval levels, comma-separated, each strictly between "
                           f"{LEVEL_LOW} and {LEVEL_HIGH}",
                           {"type": "string",
                            "default": ",".join(str(v) for v in DEFAULT_LEVELS)}),
                    _query("start", "forecast origin (default: the latest stored price)",
                           {"type": "string", "format": "date"}),
                ],
                "responses": {**_ok("the forecast", "Forecast"), **_errors("400", "404", "422")},
            }},
            "/api/v1/models": {"get": {
                "summary": "Recorded model runs (fits and evaluations), newest first, and the "
                           "model names",
                "operationId": "listModelRuns",
                "parameters": [
                    _query("commodity", "only this commodity", commodity),
                    _query("name", "only this model", {"type": "string"}),
                    _query("kind", "fit or walk_forward",
                           {"type": "string", "enum": ["fit", "walk_forward"]}),
                    _query("limit", "at most N runs", {"type": "integer", "minimum": 1}),
                ],
                "responses": {**_ok("model runs", "ModelRuns"), **_errors("400", "422")},
            }},
            "/api/v1/models/{id}": {"get": {
                "summary": "One model run with parameters, versions and metrics",
                "operationId": "getModelRun",
                "parameters": [_path_id("model run id")],
                "responses": {**_ok("the run; CSV: per-step metrics", "ModelRun"),
                              **_errors("400", "404", "422")},
            }},
            "/api/v1/evaluations/{id}": {"get": {
                "summary": "One walk-forward evaluation run",
                "operationId": "getEvaluation",
                "parameters": [_path_id("evaluation run id")],
                "responses": {**_ok("the evaluation; CSV: per-step metrics", "ModelRun"),
                              **_errors("400", "404", "422")},
            }},
            "/api/v1/backtests": {"post": {
                "summary": "Run and store a backtest (queued with other expensive work)",
                "operationId": "runBacktest",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["commodity"], "additionalProperties": False,
                    "properties": {
                        "commodity": commodity,
                        "strategy": {"type": "string", "default": "buy-and-hold"},
                        "params": {"type": "object", "additionalProperties": True},
                        "capital": {"type": "number", "default": 100000},
                        "commission": {"type": "number", "default": 0},
                        "slippage_bps": {"type": "number", "default": 0},
                        "start": {"type": "string", "format": "date"},
                        "end": {"type": "string", "format": "date"},
                    }}}}},
                "responses": {**_ok("the stored run (Location: its URL); CSV: daily equity",
                                    "Backtest", status="201"),
                              **_errors("400", "404", "422")},
            }},
            "/api/v1/backtests/{id}": {"get": {
                "summary": "A stored backtest with stats, trades and equity",
                "operationId": "getBacktest",
                "parameters": [_path_id("backtest id")],
                "responses": {**_ok("the run; CSV: daily equity", "Backtest"),
                              **_errors("400", "404", "422")},
            }},
        },
        "components": {
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
            },
            "schemas": {**SCHEMAS, "Error": {
                "type": "object", "required": ["error"],
                "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "field": {"type": "string"}}}}}},
            "responses": {"Error": {
                "description": "an error (400 unreadable input, 401 API key, 403 Origin, "
                               "404 not found, 422 invalid value, 429 rate limit or queue full "
                               "with Retry-After)",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }
    return doc
