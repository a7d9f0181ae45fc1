"""Trading calendars: which days a forecast's steps fall on, per commodity's market.

A forecast's step ``k`` is the ``k``-th trading day after its origin. The days come from the
exchange holiday calendars of the ``pandas_market_calendars`` library (no hand-made holiday
list): WTI and Henry Hub natural gas trade on NYMEX (the CME Group trade-date calendar:
New Year, Martin Luther King Jr. Day, Presidents' Day, Good Friday, Memorial Day, Juneteenth from
2022, Independence Day, Labor Day, Thanksgiving, Christmas, and national days of mourning);
Brent on ICE (the library's ICE US calendar; it has no ICE Futures Europe calendar).

What a calendar cannot know: its regular holidays are rules applied to every future year, but an
unscheduled closure (a national day of mourning, a storm) is only in the library once announced
and released, and a holiday added later (as Juneteenth was in 2022) is not in the rules of an
older release. Dates after the last observed price are therefore projections; :func:`describe`
says so in words shown next to every forecast. Actual prices are always matched to steps by
position in the data (the ``k``-th observed trading day after the origin), never by date, so a
wrong projected date never puts a price on the wrong step.

A series that is not a known commodity (a researcher's own) falls back to weekdays (Mon–Fri)
and the description says so.

Usage::

    >>> from energy_nb.calendars import trading_days_after
    >>> trading_days_after("WTI", "2025-07-03", 2).strftime("%Y-%m-%d").tolist()
    ['2025-07-07', '2025-07-08']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

__all__ = [
    "MARKETS",
    "MarketCalendar",
    "describe",
    "market_for",
    "trading_days_after",
]


@dataclass(frozen=True)
class MarketCalendar:
    """The trading calendar of one market.

    Attributes:
        market: the exchange as users know it (``NYMEX``, ``ICE``), or ``weekdays``.
        library_name: the calendar's name in ``pandas_market_calendars`` (``""`` for weekdays).
    """

    market: str
    library_name: str


#: Commodity code -> the market whose trading days its forecast steps fall on.
MARKETS: dict[str, MarketCalendar] = {
    "WTI": MarketCalendar("NYMEX", "CME_TradeDate"),
    "NG": MarketCalendar("NYMEX", "CME_TradeDate"),
    "BRENT": MarketCalendar("ICE", "ICE"),
}

_WEEKDAYS = MarketCalendar("weekdays", "")


def market_for(commodity: str) -> MarketCalendar:
    """The market calendar of a commodity code (weekdays for an unknown series name).

    Args:
        commodity: ``WTI``, ``BRENT``, ``NG`` (case-insensitive) or any other series name.

    Returns:
        The :class:`MarketCalendar`.
    """
    return MARKETS.get(str(commodity or "").strip().upper(), _WEEKDAYS)


@lru_cache(maxsize=8)
def _business_day(library_name: str) -> tuple[pd.offsets.CustomBusinessDay, str, str]:
    """The calendar's trading-day offset, the library's version and its last rule date."""
    import pandas_market_calendars as mcal

    calendar = mcal.get_calendar(library_name)
    offset = calendar.holidays()
    holidays = offset.holidays
    last = pd.Timestamp(holidays[-1]).strftime("%Y-%m-%d") if len(holidays) else ""
    return offset, str(getattr(mcal, "__version__", "")), last


def trading_days_after(commodity: str, origin: Any, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` trading days after ``origin`` on the commodity's market.

    Args:
        commodity: commodity code (see :func:`market_for`).
        origin: the forecast origin (any date-like; the time of day is ignored).
        horizon: number of steps (>= 0).

    Returns:
        ``DatetimeIndex`` named ``date`` of the trading days, ascending.

    Raises:
        ValueError: a date beyond the calendar's holiday rules (year 2200) — its holidays are
            unknown, so no trading day can be named.
    """
    start = pd.Timestamp(origin).normalize() + pd.Timedelta(days=1)
    cal = market_for(commodity)
    if not cal.library_name:
        return pd.bdate_range(start=start, periods=int(horizon), name="date")
    offset, _, last_rule = _business_day(cal.library_name)
    days = pd.date_range(start=start, periods=int(horizon), freq=offset, name="date")
    if len(days) and last_rule and days[-1] > pd.Timestamp(last_rule):
        raise ValueError(
            f"{cal.market} holidays are only known up to {last_rule}; cannot date a step on "
            f"{days[-1].date()}"
        )
    return pd.DatetimeIndex(days.to_numpy(), name="date")


def describe(commodity: str) -> dict[str, str]:
    """What the step dates of a forecast for ``commodity`` are, and what they cannot know.

    Args:
        commodity: commodity code.

    Returns:
        JSON-safe ``{"market", "calendar", "note"}``; ``note`` is a sentence for people.
    """
    cal = market_for(commodity)
    if not cal.library_name:
        return {
            "market": cal.market,
            "calendar": "Mon–Fri",
            "note": (f"No exchange calendar for {commodity or 'this series'!s}: steps are dated "
                     "on weekdays (Mon–Fri), holidays not skipped."),
        }
    _, version, _ = _business_day(cal.library_name)
    return {
        "market": cal.market,
        "calendar": f"{cal.library_name} (pandas_market_calendars {version})".strip(),
        "note": (f"Step dates are {cal.market} trading days from the calendar's published "
                 "holiday rules; a closure not yet announced (e.g. a national day of mourning) "
                 "cannot be known and would move later steps by a day."),
    }
