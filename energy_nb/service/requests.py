"""One request type per operation, and the input rules every face takes from here.

The rules (commodity, horizon, interval levels, model name, dates) and their error messages are
defined once, below; the CLI's argument types, the dashboards' widget limits, the socket
protocol, the report parameters, the HTTP API and
:class:`~energy_nb.service.forecasting.ForecastService` all call them and only translate
:class:`RequestError` into their own error type (argparse's message, a protocol ``error``, a
:class:`~energy_nb.reports.parameters.ReportParameterError`, a 422 answer). Strategy parameters
are ruled by the strategies' ``ParamSpec`` (:mod:`energy_nb.backtest.strategies`), which the
CLI's flags and the Backtest page are built from.

Usage::

    >>> from energy_nb.service.requests import ForecastRequest, RequestError, check_horizon
    >>> ForecastRequest.from_query({"commodity": "wti", "horizon": "5"}).horizon
    5
    >>> try:
    ...     ForecastRequest.from_query({"commodity": "wti", "horizon": "99"})
    ... except RequestError as exc:
    ...     print(exc.code, exc.field)
    invalid_value horizon
    >>> try:
    ...     check_horizon(31)
    ... except RequestError as exc:
    ...     print(exc.message)
    horizon must be between 1 and 30 trading days, got 31
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral
from typing import TYPE_CHECKING, Any

from energy_nb.commodities import UnknownCommodityError, get_commodity

if TYPE_CHECKING:  # pragma: no cover - pandas is imported where a date is read, so that the
    import pandas as pd  # socket protocol, which takes its rules from here, stays light

#: Accepted ``freq`` values of a history query -> the frequency of
#: :mod:`energy_nb.data.frequency` (one resampling for the API, the History page and the CLI).
FREQUENCIES: dict[str, str] = {"D": "daily", "W": "weekly", "M": "monthly"}
#: Default interval levels of a forecast.
DEFAULT_LEVELS: tuple[int, ...] = (80, 95)
#: Horizons every face offers (trading days); the models themselves allow up to
#: :data:`energy_nb.models.MAX_HORIZON`.
MIN_HORIZON, MAX_HORIZON = 1, 30
#: Interval levels lie strictly between these (percent).
LEVEL_LOW, LEVEL_HIGH = 0, 100


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
        return get_commodity(value).code
    except UnknownCommodityError as exc:
        raise RequestError("invalid_value", str(exc), name) from None


def model_name(value: Any, name: str = "model") -> str:
    """A model name, case-insensitive, ``-`` or ``_`` (``"Random-Walk"`` -> ``"random_walk"``).

    Raises:
        RequestError: ``invalid_value`` naming the known models.
    """
    from energy_nb.models import MODEL_NAMES, model_key

    key = model_key(value) if isinstance(value, str) else None
    if key not in MODEL_NAMES:
        raise RequestError("invalid_value", f"unknown model {value!r}; expected one of "
                           f"{', '.join(MODEL_NAMES)}", name)
    return key


def strategy_name(value: Any, name: str = "strategy") -> str:
    """A strategy name, case-insensitive, ``-`` or ``_`` (``"SMA_Cross"`` -> ``"sma-cross"``).

    Raises:
        RequestError: ``invalid_value`` naming the known strategies.
    """
    from energy_nb.backtest.strategies import StrategyError, strategy_key

    try:
        return strategy_key(value)
    except StrategyError as exc:
        raise RequestError("invalid_value", str(exc), name) from None


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


def date(value: Any, name: str | None) -> pd.Timestamp | None:
    """A calendar date ``YYYY-MM-DD`` (None when absent or empty).

    Args:
        value: text, a date or a timestamp.
        name: the field, named at the start of the message (None: the caller names it, as
            argparse does with ``argument --start:``).

    Returns:
        The date at midnight, without time zone, or None.

    Raises:
        RequestError: ``bad_request``: ``"<name> is not a valid date: '...' (use YYYY-MM-DD)"``.
    """
    import pandas as pd

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(str(value).strip())
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT or not isinstance(ts, pd.Timestamp):
        prefix = f"{name} is " if name else ""
        raise RequestError("bad_request",
                           f"{prefix}not a valid date: {value!r:.40} (use YYYY-MM-DD)", name)
    return ts.tz_localize(None).normalize() if ts.tz is not None else ts.normalize()


def check_horizon(value: Any, name: str = "horizon") -> int:
    """The horizon rule: an integer number of trading days in ``MIN_HORIZON..MAX_HORIZON``.

    Args:
        value: an int (bools, floats and text are refused; see :func:`parse_horizon` for text).
        name: the field named in the message.

    Returns:
        It as ``int``.

    Raises:
        RequestError: ``bad_request`` (not an integer) or ``invalid_value`` (out of range).
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise RequestError("bad_request", f"{name} must be an integer number of trading days, "
                           f"got {value!r:.40}", name)
    if not MIN_HORIZON <= int(value) <= MAX_HORIZON:
        raise RequestError("invalid_value", f"{name} must be between {MIN_HORIZON} and "
                           f"{MAX_HORIZON} trading days, got {int(value)}", name)
    return int(value)


def parse_horizon(value: Any, name: str = "horizon") -> int:
    """:func:`check_horizon` for text too (``"7"``, a URL query, a CLI argument)."""
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and text.isascii() and len(text) < 12:
            value = int(text)
    return check_horizon(value, name)


def check_levels(values: Any, name: str = "levels", required: bool = True) -> tuple[int, ...]:
    """The interval-level rule: integers strictly between 0 and 100.

    Args:
        values: an iterable of ints (see :func:`parse_levels` for text).
        name: the field named in the message.
        required: at least one level (False: none means a point forecast).

    Returns:
        Sorted unique levels.

    Raises:
        RequestError: ``bad_request`` (not a list of integers) or ``invalid_value``.
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise RequestError("bad_request", f"{name} must be a list of integers between "
                           f"{LEVEL_LOW} and {LEVEL_HIGH}, got {values!r:.40}", name)
    out: set[int] = set()
    for level in values:
        if isinstance(level, bool) or not isinstance(level, Integral):
            raise RequestError("bad_request", f"interval level must be an integer, "
                               f"got {level!r:.40}", name)
        if not LEVEL_LOW < int(level) < LEVEL_HIGH:
            raise RequestError("invalid_value", f"interval level must be between {LEVEL_LOW} "
                               f"and {LEVEL_HIGH} (exclusive), got {int(level)}", name)
        out.add(int(level))
    if required and not out:
        raise RequestError("invalid_value", f"{name} must name at least one interval level",
                           name)
    return tuple(sorted(out))


def parse_levels(value: Any, name: str = "levels", required: bool = True) -> tuple[int, ...]:
    """:func:`check_levels` for text too: ``"80,95"``, ``"80 95"`` or ``["80", "95"]``."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if isinstance(value, (list, tuple)):
        value = [int(part.strip()) if isinstance(part, str) and part.strip().lstrip("-").isdigit()
                 and part.isascii() and len(part) < 12 else part for part in value]
    return check_levels(value, name, required)


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
        horizon = parse_horizon(query.get("horizon") or "7")
        raw_levels = query.get("levels")
        levels = DEFAULT_LEVELS
        if raw_levels is not None and str(raw_levels).strip():
            levels = parse_levels(str(raw_levels))
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
