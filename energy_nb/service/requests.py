"""One request type per operation: it reads raw input (URL query text, JSON bodies), applies the
rules and names what is wrong.

The value rules themselves come from the core (:func:`energy_nb.forecasting.check_horizon`,
:func:`~energy_nb.forecasting.check_levels`, :mod:`energy_nb.commodities`, the model and strategy
registries); this module adds the parsing of text and the error codes every face can show.

Usage::

    >>> from energy_nb.service.requests import ForecastRequest, RequestError
    >>> ForecastRequest.from_query({"commodity": "wti", "horizon": "5"}).horizon
    5
    >>> try:
    ...     ForecastRequest.from_query({"commodity": "wti", "horizon": "99"})
    ... except RequestError as exc:
    ...     print(exc.code, exc.field)
    invalid_value horizon
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from energy_nb.commodities import UnknownCommodityError, get_commodity

#: Accepted ``freq`` values of a history query -> pandas resampling rule (None: as stored).
FREQUENCIES: dict[str, str | None] = {"D": None, "W": "W-FRI", "M": "ME"}
#: Default interval levels of a forecast.
DEFAULT_LEVELS: tuple[int, ...] = (80, 95)


class RequestError(ValueError):
    """Input that breaks a request's rules.

    Attributes:
        code: ``bad_request`` (unreadable: not a number, not a date, bad JSON) or
            ``invalid_value`` (readable but not allowed: out of range, unknown name).
        message: names the field and what is wrong.
        field: the offending field, when there is one.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def commodity_code(value: Any, name: str = "commodity") -> str:
    """The canonical commodity code (``"wti"`` -> ``"WTI"``).

    Raises:
        RequestError: ``invalid_value`` naming the known codes.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RequestError("bad_request", f"{name} is required", name)
    try:
        return get_commodity(str(value)).code
    except UnknownCommodityError as exc:
        raise RequestError("invalid_value", str(exc), name) from None


def model_name(value: Any, name: str = "model") -> str:
    """A model name, case-insensitive, ``-`` or ``_`` (``"Random-Walk"`` -> ``"random_walk"``).

    Raises:
        RequestError: ``invalid_value`` naming the known models.
    """
    from energy_nb.models import MODEL_NAMES

    key = value.strip().lower().replace("-", "_") if isinstance(value, str) else None
    if key not in MODEL_NAMES:
        raise RequestError("invalid_value", f"unknown model {value!r}; expected one of "
                           f"{', '.join(MODEL_NAMES)}", name)
    return key


def integer(value: Any, name: str) -> int:
    """An integer from text or JSON (bools and floats are refused).

    Raises:
        RequestError: ``bad_request`` naming the field.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else None
    if text is None or not (text.lstrip("-").isdigit() and text.isascii() and len(text) < 12):
        raise RequestError("bad_request", f"{name} must be an integer, got {value!r:.40}", name)
    return int(text)


def run_id(value: Any, name: str = "id") -> int:
    """A positive row id.

    Raises:
        RequestError: ``bad_request`` when not an integer, ``invalid_value`` when < 1.
    """
    number = integer(value, name)
    if number < 1:
        raise RequestError("invalid_value", f"{name} must be a positive integer, got {number}",
                           name)
    return number


def date(value: Any, name: str) -> pd.Timestamp | None:
    """A calendar date ``YYYY-MM-DD`` (None when absent or empty).

    Raises:
        RequestError: ``bad_request`` naming the field.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(str(value).strip())
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise RequestError("bad_request", f"{name} is not a date: {value!r:.40} (use YYYY-MM-DD)",
                           name)
    return ts.tz_localize(None).normalize() if ts.tz is not None else ts.normalize()


def _window(start: pd.Timestamp | None, end: pd.Timestamp | None) -> None:
    if start is not None and end is not None and start > end:
        raise RequestError("invalid_value", f"start {start.date()} is after end {end.date()}",
                           "start")


@dataclass(frozen=True)
class HistoryRequest:
    """Stored prices of one commodity (``GET /api/v1/prices/{commodity}``).

    Attributes:
        commodity: code. start, end: inclusive window (None: all). freq: ``D``, ``W`` or ``M``
            (weekly and monthly take the last price of the period).
    """

    commodity: str
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    freq: str = "D"

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> HistoryRequest:
        """Read ``commodity``, ``start``, ``end``, ``freq`` (text) and apply the rules."""
        freq = str(query.get("freq") or "D").strip().upper()
        if freq not in FREQUENCIES:
            raise RequestError("invalid_value", f"freq must be one of "
                               f"{', '.join(FREQUENCIES)}, got {query.get('freq')!r:.20}", "freq")
        start, end = date(query.get("start"), "start"), date(query.get("end"), "end")
        _window(start, end)
        return cls(commodity_code(query.get("commodity")), start, end, freq)


@dataclass(frozen=True)
class ForecastRequest:
    """One forecast (``GET /api/v1/forecast``, ``energy-nb forecast``).

    Attributes:
        commodity: code. horizon: trading days 1..30. model: a model name. levels: interval
            levels in (0, 100). start: forecast origin (None: the latest stored price).
    """

    commodity: str
    horizon: int = 7
    model: str = "auto"
    levels: tuple[int, ...] = DEFAULT_LEVELS
    start: pd.Timestamp | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> ForecastRequest:
        """Read ``commodity``, ``horizon``, ``model``, ``levels`` (``80,95``), ``start``."""
        from energy_nb.forecasting import ForecastRequestError, check_horizon, check_levels

        horizon = integer(query.get("horizon") or "7", "horizon")
        raw_levels = query.get("levels")
        levels = DEFAULT_LEVELS
        if raw_levels is not None and str(raw_levels).strip():
            levels = tuple(integer(part, "levels") for part in str(raw_levels).split(",")
                           if part.strip())
        try:
            horizon = check_horizon(horizon)
        except ForecastRequestError as exc:
            raise RequestError("invalid_value", str(exc), "horizon") from None
        try:
            levels = check_levels(levels)
        except ForecastRequestError as exc:
            raise RequestError("invalid_value", str(exc), "levels") from None
        if not levels:
            raise RequestError("invalid_value", "levels must name at least one level", "levels")
        return cls(commodity_code(query.get("commodity")), horizon,
                   model_name(query.get("model") or "auto"), levels,
                   date(query.get("start"), "start"))


@dataclass(frozen=True)
class BacktestRequest:
    """One backtest (``POST /api/v1/backtests``, ``energy-nb backtest run``).

    Attributes:
        commodity: code. strategy: a strategy name. params: the strategy's parameters (checked
            by the strategy's ``ParamSpec``s when it is built). capital, commission,
            slippage_bps: money settings (checked by the engine). start, end: the window.
    """

    commodity: str
    strategy: str = "buy-and-hold"
    params: dict[str, Any] = field(default_factory=dict)
    capital: float = 100_000.0
    commission: float = 0.0
    slippage_bps: float = 0.0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    #: fields a JSON body may hold
    FIELDS = ("commodity", "strategy", "params", "capital", "commission", "slippage_bps",
              "start", "end")

    @classmethod
    def from_json(cls, body: Any) -> BacktestRequest:
        """Read a decoded JSON object and apply the rules (strategy name and parameters are
        checked by building the strategy).

        Raises:
            RequestError: naming the field.
        """
        from energy_nb.backtest.strategies import StrategyError, make_strategy

        if not isinstance(body, dict):
            raise RequestError("bad_request", "the body must be a JSON object")
        unknown = sorted(set(body) - set(cls.FIELDS))
        if unknown:
            raise RequestError("invalid_value", f"unknown field(s) {', '.join(unknown)}; "
                               f"expected {', '.join(cls.FIELDS)}", unknown[0])
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise RequestError("bad_request", "params must be a JSON object", "params")
        strategy = body.get("strategy") or "buy-and-hold"
        if not isinstance(strategy, str):
            raise RequestError("bad_request", "strategy must be a string", "strategy")
        try:
            built = make_strategy(strategy, **params)
        except StrategyError as exc:
            raise RequestError("invalid_value", str(exc), "params" if params else "strategy") \
                from None
        except TypeError as exc:
            raise RequestError("invalid_value", str(exc), "params") from None
        money = {}
        for name in ("capital", "commission", "slippage_bps"):
            value = body.get(name, getattr(cls, name))
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RequestError("bad_request", f"{name} must be a number, got {value!r:.40}",
                                   name)
            money[name] = float(value)
        start, end = date(body.get("start"), "start"), date(body.get("end"), "end")
        _window(start, end)
        return cls(commodity_code(body.get("commodity")), built.name, dict(built.params),
                   start=start, end=end, **money)
