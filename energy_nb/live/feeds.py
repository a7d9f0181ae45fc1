"""Feeds decide when forecasts change: each new price is stored, the forecast of every topic
with subscribers (on any instance) is recomputed once, and broadcast.

* :class:`ReplayFeed` — replays stored history forward at a pace, as if it were live (demos,
  tests). The forecasts only ever see prices up to the replay cursor (no look-ahead).
* :class:`PollFeed` — checks FRED or EIA on a schedule through :mod:`energy_nb.data.sources`
  and imports what is new into the store.

Usage::

    feed = ReplayFeed(history, start="2025-01-02", interval=2.0)
    server = LiveServer(ModelForecaster(feed.series), config)
    await server.start()
    await feed.run(server)           # forever (or feed.step(server) once)
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import pandas as pd

from energy_nb.commodities import CODES, normalize

logger = logging.getLogger(__name__)


class Refresher(Protocol):
    """What a feed drives: :meth:`energy_nb.live.server.LiveServer.refresh`."""

    async def refresh(self, commodities: Iterable[str] | None = None) -> dict[str, str]: ...


class FeedError(ValueError):
    """A feed cannot start (no history, bad start date, unknown source)."""


class ReplayFeed:
    """Replay stored prices forward, one trading day per ``interval`` seconds.

    Args:
        history: full price series per commodity (e.g. from ``PriceStore.load``).
        start: first date that is "new" (the cursor starts on the trading day before it);
            default: 60 trading days before the end of the history.
        interval: seconds between replayed days.
        store: when given, each replayed price is written to it (``import_series``), like a
            live price would be.
        loop: start over from ``start`` after the last day (endless demo).

    Attributes:
        cursor: the last date the forecasts may see.
        steps: days replayed so far.
    """

    def __init__(self, history: Mapping[str, pd.Series], start: Any = None,
                 interval: float = 2.0, store: Any = None, loop: bool = True) -> None:
        self.history = {normalize(c): s.sort_index() for c, s in history.items() if len(s)}
        if not self.history:
            raise FeedError("replay needs stored prices; import data first "
                            "(energy-nb data import ...)")
        if interval <= 0:
            raise FeedError(f"replay interval must be positive, got {interval}")
        self.days = pd.DatetimeIndex(sorted(set().union(*(s.index for s in
                                                          self.history.values()))))
        if start is None:
            first = self.days[max(len(self.days) - 60, 1)]
        else:
            try:
                first = pd.Timestamp(start)
            except (ValueError, TypeError) as exc:
                raise FeedError(f"bad replay start {start!r}: {exc}") from None
        position = int(self.days.searchsorted(first))
        if position <= 0 or position >= len(self.days):
            raise FeedError(
                f"replay start {pd.Timestamp(first).date()} must be after the first stored day "
                f"{self.days[0].date()} and not after the last {self.days[-1].date()}")
        self.start_position = position
        self.position = position - 1
        self.interval = interval
        self.store = store
        self.loop = loop
        self.steps = 0

    @property
    def cursor(self) -> pd.Timestamp:
        """The last date visible to forecasts."""
        return self.days[self.position]

    def series(self, commodity: str) -> pd.Series:
        """Prices of ``commodity`` up to the cursor (the forecaster's series provider)."""
        s = self.history.get(normalize(commodity))
        if s is None:
            raise FeedError(f"no stored prices for {commodity}")
        return s.loc[:self.cursor]

    def advance(self) -> dict[str, float]:
        """Move the cursor one trading day; returns ``{commodity: price}`` that day brought."""
        if self.position + 1 >= len(self.days):
            if not self.loop:
                return {}
            self.position = self.start_position - 1
        self.position += 1
        self.steps += 1
        day = self.cursor
        new = {c: float(s.loc[day]) for c, s in self.history.items() if day in s.index}
        if self.store is not None and new:
            self._store(day, new)
        return new

    def _store(self, day: pd.Timestamp, prices: dict[str, float]) -> None:
        from energy_nb.data.validation import PriceSeries

        for commodity, price in prices.items():
            value = None if math.isnan(price) else price
            series = PriceSeries(commodity, f"replay:{commodity}", [day.date()], [value], [0])
            try:
                self.store.import_series(series, replace=True)
            except Exception as exc:  # noqa: BLE001 - the broadcast must still happen
                logger.warning("replay could not store %s %s: %s", commodity, day.date(), exc)

    async def step(self, server: Refresher) -> dict[str, str]:
        """Replay one day and broadcast the recomputed forecasts; returns ``{topic: seq}``."""
        new = self.advance()
        if not new:
            return {}
        return await server.refresh(new)

    async def run(self, server: Refresher) -> None:
        """Replay until cancelled (or until the end when ``loop`` is false)."""
        while True:
            await asyncio.sleep(self.interval)
            if not self.loop and self.position + 1 >= len(self.days):
                logger.info("replay reached the last stored day %s", self.cursor.date())
                return
            published = await self.step(server)
            logger.info("replay %s: %d forecast(s) broadcast", self.cursor.date(), len(published))


class PollFeed:
    """Check FRED or EIA on a schedule and broadcast when a new daily price was stored.

    Args:
        store: the :class:`~energy_nb.data.store.PriceStore` receiving new prices.
        source: ``"fred"`` (no key) or ``"eia"`` (needs ``ENERGY_NB_EIA_API_KEY``).
        interval: seconds between checks.
        commodities: which ones to check (default all).
        settings: source URLs and keys (default from the environment).
        overlap_days: re-ask this many days before the last stored one (late revisions of
            existing days are skipped, never overwritten).
    """

    def __init__(self, store: Any, source: str = "fred", interval: float = 3600.0,
                 commodities: Iterable[str] | None = None, settings: Any = None,
                 overlap_days: int = 7) -> None:
        from energy_nb.data.sources import SOURCES

        if source not in SOURCES:
            raise FeedError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
        if interval <= 0:
            raise FeedError(f"poll interval must be positive, got {interval}")
        self.store = store
        self.source = source
        self.interval = interval
        self.commodities = [normalize(c) for c in (commodities or CODES)]
        self.settings = settings
        self.overlap_days = overlap_days
        self.last_errors: dict[str, str] = {}

    def series(self, commodity: str) -> pd.Series:
        """All stored prices of ``commodity`` (the forecaster's series provider)."""
        return self.store.load(commodity)

    def check(self) -> list[str]:
        """Fetch each commodity once and import new days (blocking).

        Returns:
            The commodities that got at least one new price.
        """
        from energy_nb.data.sources import SourceError, fetch
        from energy_nb.data.store import ImportConflictError

        changed: list[str] = []
        for commodity in self.commodities:
            last = self.store.last_date(commodity)
            start = None if last is None else (last - pd.Timedelta(days=self.overlap_days)).date()
            try:
                series = fetch(self.source, commodity, start=start, settings=self.settings)
                try:
                    report = self.store.import_series(series)
                except ImportConflictError as exc:
                    # a revised past price: keep the stored one, still import the new days
                    logger.warning("poll %s %s: keeping stored prices: %s", self.source,
                                   commodity, exc)
                    report = self.store.import_series(_without(series, {c[0] for c in
                                                                        exc.conflicts}))
            except (SourceError, ImportConflictError) as exc:
                self.last_errors[commodity] = str(exc)
                logger.warning("poll %s %s: %s", self.source, commodity, exc)
                continue
            self.last_errors.pop(commodity, None)
            if report.added:
                changed.append(commodity)
        return changed

    async def step(self, server: Refresher) -> dict[str, str]:
        """Check once (in a worker thread) and broadcast for changed commodities."""
        changed = await asyncio.to_thread(self.check)
        if not changed:
            return {}
        return await server.refresh(changed)

    async def run(self, server: Refresher) -> None:
        """Check now and then every ``interval`` seconds until cancelled."""
        while True:
            try:
                published = await self.step(server)
                if published:
                    logger.info("poll: %d forecast(s) broadcast", len(published))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("poll step failed")
            await asyncio.sleep(self.interval)


def _without(series: Any, dates: set[Any]) -> Any:
    """A copy of a ``PriceSeries`` without the given dates."""
    from energy_nb.data.validation import PriceSeries

    keep = [i for i, d in enumerate(series.dates) if d not in dates]
    return PriceSeries(series.commodity, series.source, [series.dates[i] for i in keep],
                       [series.prices[i] for i in keep], [series.lines[i] for i in keep])
