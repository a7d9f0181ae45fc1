"""Network sources: FRED's CSV download (no key) and the EIA API v2 (key required).

Both return a :class:`~energy_nb.data.validation.PriceSeries`, validated like a file, so a
download goes through the same import path as a CSV. Every failure raises :class:`SourceError`
naming the source and what went wrong (HTTP status, timeout, malformed body) — nothing is
written to the store until the whole download has parsed.

Usage::

    >>> series = fetch_fred("WTI", start="2026-01-01")    # doctest: +SKIP
    >>> PriceStore.from_settings().import_series(series)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import socket
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from typing import Any

from energy_nb import __version__
from energy_nb.commodities import get_commodity
from energy_nb.config import Settings
from energy_nb.data.validation import (
    DataFileError,
    PriceSeries,
    clip,
    date_range_problem,
    find_flags,
    parse_date,
    parse_number,
    parse_price_text,
)

#: EIA API v2 route per commodity (the dataset holding its daily spot series).
EIA_ROUTES: dict[str, str] = {
    "WTI": "petroleum/pri/spt",
    "BRENT": "petroleum/pri/spt",
    "NG": "natural-gas/pri/fut",
}

#: EIA API v2 returns at most this many rows per request.
EIA_PAGE = 5000

SOURCES = ("fred", "eia")


class SourceError(RuntimeError):
    """A download failed; the message names the source and the reason."""


def _get(url: str, *, timeout: float, what: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"User-Agent": f"energy_nb/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", errors="replace")[:300] if exc.fp else ""
        raise SourceError(f"{what}: HTTP {exc.code} {exc.reason}{_detail(body)}") from None
    except TimeoutError:
        raise SourceError(f"{what}: no answer within {timeout:g} s (timeout)") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise SourceError(f"{what}: no answer within {timeout:g} s (timeout)") from None
        raise SourceError(f"{what}: cannot connect ({reason})") from None
    except OSError as exc:
        raise SourceError(f"{what}: connection failed ({exc})") from None


def _detail(body: str) -> str:
    body = body.strip()
    if not body:
        return ""
    try:
        payload = json.loads(body)
        if isinstance(payload, dict):
            message = payload.get("error") or payload.get("message") or payload.get("error_message")
            if isinstance(message, dict):
                message = message.get("message")
            if message:
                return f": {message}"
    except ValueError:
        pass
    return f": {body.splitlines()[0][:200]}"


def fetch_fred(
    commodity: str,
    *,
    start: date | str | None = None,
    settings: Settings | None = None,
    timeout: float = 30.0,
) -> PriceSeries:
    """Download a commodity's daily series from FRED as CSV (no API key needed).

    Args:
        commodity: code, case-insensitive.
        start: first date to ask for (``cosd``), or everything.
        settings: settings (``fred_base_url`` can point at a test server).
        timeout: seconds to wait for the server.

    Returns:
        The parsed series (FRED's ``.`` for a missing day is kept as a missing price).

    Raises:
        SourceError: HTTP error, timeout or a body that is not the expected CSV.
    """
    info = get_commodity(commodity)
    settings = settings or Settings.from_env()
    query = {"id": info.fred_series}
    if start is not None:
        query["cosd"] = str(start)[:10]
    url = f"{settings.fred_base_url}?{urllib.parse.urlencode(query)}"
    what = f"FRED {info.fred_series}"
    _, body = _get(url, timeout=timeout, what=what)
    if body.lstrip().startswith("<"):
        raise SourceError(f"{what}: expected CSV, got an HTML page")
    try:
        return parse_price_text(body, source=f"fred:{info.fred_series}", commodity=info.code,
                                price_column=info.fred_series)
    except DataFileError as exc:
        raise SourceError(f"{what}: malformed CSV: {exc}") from None


def fetch_eia(
    commodity: str,
    *,
    start: date | str | None = None,
    settings: Settings | None = None,
    timeout: float = 30.0,
) -> PriceSeries:
    """Download a commodity's daily spot series from the EIA API v2.

    Args:
        commodity: code, case-insensitive.
        start: first date to ask for, or everything.
        settings: settings; ``eia_api_key`` (``ENERGY_NB_EIA_API_KEY``) is required.
        timeout: seconds to wait for each page.

    Returns:
        The parsed series.

    Raises:
        SourceError: no key, HTTP error, timeout, or a body not in the API v2 format.
    """
    info = get_commodity(commodity)
    settings = settings or Settings.from_env()
    what = f"EIA {info.eia_series}"
    if not settings.eia_api_key:
        raise SourceError(f"{what}: no API key; set ENERGY_NB_EIA_API_KEY "
                          "(free at https://www.eia.gov/opendata/register.php)")
    rows: dict[str, float | None] = {}
    offset = 0
    while True:
        query: list[tuple[str, str]] = [
            ("api_key", settings.eia_api_key),
            ("frequency", "daily"),
            ("data[0]", "value"),
            ("facets[series][]", info.eia_series),
            ("sort[0][column]", "period"),
            ("sort[0][direction]", "asc"),
            ("offset", str(offset)),
            ("length", str(EIA_PAGE)),
        ]
        if start is not None:
            query.append(("start", str(start)[:10]))
        url = (f"{settings.eia_base_url}/{EIA_ROUTES[info.code]}/data/"
               f"?{urllib.parse.urlencode(query)}")
        _, body = _get(url, timeout=timeout, what=what)
        data, total = _parse_eia_page(body, what)
        for i, record in enumerate(data):
            period, value = _eia_record(record, what, offset + i)
            if period in rows and rows[period] != value:
                raise SourceError(f"{what}: record {offset + i} repeats {period} "
                                  "with another value")
            rows[period] = value
        offset += len(data)
        if not data or offset >= total:
            break
    if not rows:
        raise SourceError(f"{what}: the API returned no data")
    dates = sorted(rows)
    series = PriceSeries(
        commodity=info.code,
        source=f"eia:{info.eia_series}",
        dates=[date.fromisoformat(d) for d in dates],
        prices=[rows[d] for d in dates],
        lines=list(range(1, len(dates) + 1)),
    )
    series.flags = find_flags(series.dates, series.prices)
    return series


def _parse_eia_page(body: str, what: str) -> tuple[list[Any], int]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise SourceError(f"{what}: malformed response (not JSON)") from None
    if not isinstance(payload, dict):
        raise SourceError(f"{what}: malformed response (not a JSON object)")
    if "error" in payload:
        raise SourceError(f"{what}: API error: {clip(str(payload['error']))}")
    response = payload.get("response")
    if not isinstance(response, dict) or not isinstance(response.get("data"), list):
        raise SourceError(f"{what}: malformed response (no response.data list)")
    try:
        total = int(response.get("total", len(response["data"])))
    except (TypeError, ValueError):
        raise SourceError(f"{what}: malformed response (response.total is not a number)") from None
    return response["data"], total


def _eia_record(record: Any, what: str, number: int) -> tuple[str, float | None]:
    """One API record as ``(ISO date, price or None)``, validated like a CSV row."""
    if not isinstance(record, dict) or "period" not in record:
        raise SourceError(f"{what}: record {number} has no period")
    try:
        day = parse_date(str(record["period"]))
    except ValueError:
        raise SourceError(f"{what}: record {number} has a bad period "
                          f"{clip(repr(record['period']), 60)}") from None
    problem = date_range_problem(day)
    if problem:
        raise SourceError(f"{what}: record {number}: date {day.isoformat()} {problem}")
    period = day.isoformat()
    value = record.get("value")
    if value is None or (isinstance(value, str) and not value.strip()):
        return period, None
    try:
        if isinstance(value, str):
            return period, parse_number(value.strip())
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                return period, float(value)
        raise ValueError(value)
    except ValueError:
        raise SourceError(f"{what}: record {number} ({period}) has a bad value "
                          f"{clip(repr(value), 60)}") from None


def fetch(source: str, commodity: str, **kwargs: Any) -> PriceSeries:
    """Download from the named source.

    Args:
        source: ``"fred"`` or ``"eia"``.
        commodity: code, case-insensitive.
        **kwargs: passed to :func:`fetch_fred` / :func:`fetch_eia`.

    Returns:
        The parsed series.
    """
    if source == "fred":
        return fetch_fred(commodity, **kwargs)
    if source == "eia":
        return fetch_eia(commodity, **kwargs)
    raise SourceError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
