"""One consistent look for the pages and the reports: units, colours per commodity, the plotly
template, the stylesheet, number formats (page headers with navigation: :mod:`energy_nb.ui.nav`).

Usage::

    >>> from energy_nb.viz.theme import commodity_color, fmt_pct
    >>> commodity_color("wti")
    '#1f77b4'
    >>> fmt_pct(-3.14159)
    '-3.14 %'
"""

from __future__ import annotations

import math

from energy_nb.commodities import get_commodity

#: Plotly template used by every chart.
PLOTLY_TEMPLATE = "plotly_white"

#: Font stack used by page headers and tables.
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

#: Small stylesheet inserted once per page (tables of the statistics panels, messages).
PAGE_CSS = f"""
<style>
.enb-page {{ font-family: {FONT}; }}
.enb-title {{ font-size: 1.5em; font-weight: 600; margin: 0.2em 0; }}
.enb-subtitle {{ color: #555; margin-bottom: 0.4em; }}
.enb-fresh {{ color: #555; font-size: 0.9em; }}
.enb-msg {{ padding: 0.4em 0.8em; border-radius: 4px; margin: 0.3em 0; }}
.enb-msg-error {{ background: #fdecea; color: #611a15; border: 1px solid #f5c6cb; }}
.enb-msg-warning {{ background: #fff8e1; color: #5d4200; border: 1px solid #ffe08a; }}
.enb-msg-info {{ background: #e8f4fd; color: #0c3c60; border: 1px solid #b8daff; }}
table.enb-stats {{ border-collapse: collapse; font-size: 0.9em; }}
table.enb-stats th, table.enb-stats td {{ padding: 2px 10px; text-align: right;
  border-bottom: 1px solid #eee; }}
table.enb-stats th:first-child, table.enb-stats td:first-child {{ text-align: left; }}
</style>
"""


def commodity_color(code: str) -> str:
    """The chart colour of a commodity.

    Args:
        code: commodity code (case-insensitive).

    Returns:
        A CSS colour string.
    """
    return get_commodity(code).color


def commodity_unit(code: str) -> str:
    """The price unit of a commodity (e.g. ``USD/bbl``)."""
    return get_commodity(code).unit


def commodity_label(code: str) -> str:
    """A short display label: ``"WTI — WTI crude oil (Cushing, OK)"``."""
    c = get_commodity(code)
    return f"{c.code} — {c.name}"


def fmt_num(value: float, digits: int = 2) -> str:
    """Format a number with fixed decimals; ``—`` for NaN/None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def fmt_pct(value: float, digits: int = 2, signed: bool = True) -> str:
    """Format a percentage (``value`` already in percent); ``—`` for NaN/None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:+.{digits}f} %" if signed else f"{value:.{digits}f} %"
