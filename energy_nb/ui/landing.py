"""The landing page: per commodity the latest price, its change, a sparkline and next week's
likely range; links to every dashboard; the data's freshness.

Crowds open this page, so it reads only what one small SQL query per commodity returns (the last
few months of prices) and fits no model: next week's range is the random walk's -- the latest
price times ``exp(±z·σ·√5)``, with ``σ`` the volatility of the last 60 trading days' log returns.
The sparklines are inline SVG (no chart library).

Usage (the whole of ``notebooks/index.ipynb``)::

    from energy_nb.ui.landing import build_landing_page
    build_landing_page()
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from energy_nb.commodities import CODES, get_commodity
from energy_nb.data.repositories import PriceSummaryRepository
from energy_nb.ui.controls import freshness_text, store_freshness
from energy_nb.ui.nav import PAGES, PageLink, available_pages, nav_html, page_href
from energy_nb.ui.preheat import on_request
from energy_nb.viz.theme import PAGE_CSS, commodity_color, fmt_num, fmt_pct

__all__ = ["PAGES", "PageLink", "Snapshot", "available_pages", "build_landing_page",
           "landing_html", "read_snapshot", "snapshot_card"]

#: Trading days shown in a sparkline (about three months).
SPARK_DAYS = 65
#: Trading days of returns behind the volatility of next week's range.
VOL_DAYS = 60
#: Trading days in "next week".
WEEK = 5
#: Level of next week's range, and its two-sided normal quantile.
BAND_LEVEL, BAND_Z = 80, 1.2815515655446004


@dataclass(frozen=True)
class Snapshot:
    """What the landing page shows for one commodity.

    Attributes:
        code: commodity code.
        dates: ISO dates of the recent prices, oldest first (blank prices skipped).
        prices: the prices.
        low, high: next week's ``BAND_LEVEL`` % random-walk range (``None`` without enough data).
    """

    code: str
    dates: tuple[str, ...]
    prices: tuple[float, ...]
    low: float | None
    high: float | None

    @property
    def last(self) -> float:
        """The latest price."""
        return self.prices[-1]

    @property
    def change(self) -> float | None:
        """Change from the previous trading day, in price units."""
        return self.prices[-1] - self.prices[-2] if len(self.prices) > 1 else None


def read_snapshot(store: Any, code: str) -> Snapshot | None:
    """The recent prices of ``code`` (one SQL query) and next week's random-walk range.

    Args:
        store: a PriceStore.
        code: commodity code.

    Returns:
        The snapshot, or ``None`` when the store holds no price of ``code``.
    """
    rows = list(PriceSummaryRepository(store).recent(code, max(SPARK_DAYS, VOL_DAYS + 1)))
    if not rows:
        return None
    rows.reverse()
    dates = tuple(str(d)[:10] for d, _ in rows)
    prices = tuple(float(p) for _, p in rows)
    tail = prices[-(VOL_DAYS + 1):]
    rets = [math.log(b / a) for a, b in zip(tail, tail[1:]) if a > 0 and b > 0]
    low = high = None
    if len(rets) >= 20 and prices[-1] > 0:
        mean = sum(rets) / len(rets)
        sigma = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
        spread = BAND_Z * sigma * math.sqrt(WEEK)
        low, high = prices[-1] * math.exp(-spread), prices[-1] * math.exp(spread)
    return Snapshot(code, dates[-SPARK_DAYS:], prices[-SPARK_DAYS:], low, high)


def sparkline_svg(prices: tuple[float, ...], color: str, width: int = 220,
                  height: int = 48) -> str:
    """An inline SVG line of ``prices`` (no axes), scaled to fit.

    Args:
        prices: the values, oldest first.
        color: line colour.
        width, height: pixels.

    Returns:
        HTML text (``<svg class="enb-spark">``).
    """
    if len(prices) < 2:
        return ""
    lo, hi = min(prices), max(prices)
    span = (hi - lo) or 1.0
    step = (width - 4) / (len(prices) - 1)
    points = " ".join(f"{2 + i * step:.1f},{2 + (hi - p) / span * (height - 4):.1f}"
                      for i, p in enumerate(prices))
    return (f'<svg class="enb-spark" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="last {len(prices)} prices">'
            f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{points}"/></svg>')


def snapshot_card(snap: Snapshot, linked: tuple[str, ...] = ("forecast.ipynb",
                                                             "history.ipynb")) -> str:
    """The landing-page card of one commodity.

    Args:
        snap: its snapshot.
        linked: the pages the card links to with this commodity selected (those that exist).

    Returns:
        HTML text (``<div class="enb-card" data-commodity=CODE>``).
    """
    c = get_commodity(snap.code)
    change = snap.change
    if change is None:
        change_html = ""
    else:
        prev = snap.prices[-2]
        pct = f" ({fmt_pct(change / prev * 100)})" if prev > 0 else ""
        color = "var(--enb-up,#2e7d32)" if change >= 0 else "var(--enb-down,#c62828)"
        arrow = "▲" if change > 0 else ("▼" if change < 0 else "•")
        change_html = (f'<span class="enb-change" style="color:{color}">{arrow} '
                       f'{change:+,.2f}{pct}</span> <small>since {snap.dates[-2]}</small>')
    band = ("<small>not enough recent prices</small>" if snap.low is None else
            f"<b>{fmt_num(snap.low)} – {fmt_num(snap.high)}</b> {html.escape(c.unit)}")
    links = "".join(
        f' · <a href="{html.escape(page_href(nb))}?commodity={c.code}">{text}</a>'
        for nb, text in (("forecast.ipynb", "model forecasts"), ("history.ipynb", "history"))
        if nb in linked)
    return (
        f'<div class="enb-card" data-commodity="{c.code}" style="flex:1 1 260px;max-width:380px;'
        'border:1px solid var(--enb-rule,#ddd);border-radius:8px;padding:0.7em 1em;'
        'background:var(--enb-card,#fafafa)">'
        f'<div style="font-weight:600">{html.escape(c.code)} '
        f'<span style="font-weight:400;color:var(--enb-muted,#555)">{html.escape(c.name)}</span>'
        '</div>'
        f'<div style="font-size:1.7em;font-weight:600">{fmt_num(snap.last)} '
        f'<small style="font-size:0.5em;font-weight:400">{html.escape(c.unit)} on '
        f'{snap.dates[-1]}</small></div>'
        f"<div>{change_html}</div>"
        f"{sparkline_svg(snap.prices, commodity_color(c.code))}"
        f'<div style="font-size:0.8em;color:var(--enb-muted,#555)">{snap.dates[0]} → '
        f"{snap.dates[-1]} ({len(snap.prices)} trading days)</div>"
        f'<div class="enb-band" style="margin-top:0.4em">Next {WEEK} trading days, '
        f"{BAND_LEVEL} % range: {band}</div>"
        f'<div style="font-size:0.8em;color:var(--enb-muted,#555)">random walk with the last '
        f"{VOL_DAYS} trading days' volatility{links}</div></div>"
    )


def data_age(status_rows: list[dict[str, Any]], today: date | None = None) -> str:
    """How old the newest price is, e.g. ``"newest price 2026-08-18, 3 days ago"``.

    Args:
        status_rows: :func:`~energy_nb.ui.controls.store_freshness` rows.
        today: the reference day (default: today).

    Returns:
        The text ("" when the store is empty).
    """
    lasts = [r["last"] for r in status_rows if r.get("last")]
    if not lasts:
        return ""
    newest = date.fromisoformat(str(max(lasts))[:10])
    days = ((today or date.today()) - newest).days
    ago = "today" if days <= 0 else ("yesterday" if days == 1 else f"{days} days ago")
    return f"Newest price: {newest.isoformat()} ({ago})."


def landing_html(pages: list[PageLink], freshness: str, cards: str = "",
                 age: str = "", notebooks_dir: Path | str = ".") -> str:
    """HTML of the landing page.

    Args:
        pages: dashboards to link.
        freshness: the data-freshness line.
        cards: the commodities' cards (:func:`snapshot_card`).
        age: the newest price's age (:func:`data_age`).
        notebooks_dir: folder of the notebooks (for the navigation bar).

    Returns:
        HTML text.
    """
    items = "".join(
        f'<li style="margin:0.4em 0"><a class="enb-page-link" '
        f'href="{html.escape(page_href(p.notebook))}">'
        f"<b>{html.escape(p.title)}</b></a> — {html.escape(p.description)}</li>"
        for p in pages
    ) or "<li>No dashboards found.</li>"
    return (
        f'{PAGE_CSS}<div class="enb-page enb-landing">{nav_html("index.ipynb", notebooks_dir)}'
        '<div class="enb-title">Energy prices</div>'
        '<div class="enb-subtitle">WTI, Brent and Henry Hub: the latest prices and the range '
        "they are likely to move in next week.</div>"
        f'<div class="enb-cards" style="display:flex;flex-wrap:wrap;gap:1em;margin:0.6em 0">'
        f"{cards}</div>"
        f'<div class="enb-fresh">{html.escape(age)} {html.escape(freshness)}</div>'
        '<h3 style="margin:0.8em 0 0.2em">Dashboards</h3>'
        f'<ul class="enb-pages" style="font-size:1.1em">{items}</ul></div>'
    )


def build_landing_page(store: Any = None, notebooks_dir: Path | str = ".") -> widgets.HTML:
    """Build the landing page widget.

    Args:
        store: a PriceStore (default ``PriceStore.from_settings()``).
        notebooks_dir: where the page notebooks are (default: the kernel's folder).

    Returns:
        An ``HTML`` widget (class ``enb-page-root``).
    """
    def render() -> str:
        nonlocal store
        cards, age = "", ""
        pages = available_pages(notebooks_dir)
        try:
            if store is None:
                from energy_nb.data.store import PriceStore

                store = PriceStore.from_settings()
            rows = store_freshness(store)
            fresh = freshness_text(rows) if rows else (
                "The price store is empty: run `energy-nb data import` or `energy-nb data init`.")
            snaps = [read_snapshot(store, r["commodity"]) for r in rows
                     if r["commodity"] in CODES]
            linked = tuple(p.notebook for p in pages)
            cards = "".join(snapshot_card(s, linked) for s in snaps if s is not None)
            age = data_age(rows)
        except Exception as exc:  # the landing page must always render
            fresh = f"Cannot read the price store: {exc}"
        return landing_html(pages, fresh, cards, age, notebooks_dir)

    widget = widgets.HTML(render())
    widget.add_class("enb-page-root")
    # a preheated Voilà kernel renders this long before the visit: redo it when the visit comes
    on_request(lambda: setattr(widget, "value", render()))
    return widget
