"""The landing page: links to every dashboard that exists, and the data-freshness line.

Usage (the whole of ``notebooks/index.ipynb``)::

    from energy_nb.ui.landing import build_landing_page
    build_landing_page()
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from energy_nb.ui.controls import freshness_text, store_freshness
from energy_nb.ui.preheat import on_request
from energy_nb.ui.theme import page_header


@dataclass(frozen=True)
class PageLink:
    """One dashboard of the app.

    Attributes:
        notebook: file name in ``notebooks/``.
        title: link text.
        description: one line saying what the page does.
    """

    notebook: str
    title: str
    description: str


#: The app's pages in menu order; only those whose notebook exists are linked.
PAGES: tuple[PageLink, ...] = (
    PageLink("history.ipynb", "History",
             "Explore 40 years of WTI, Brent and Henry Hub prices: statistics, CSV download."),
    PageLink("forecast.ipynb", "Forecast", "Forecast prices with intervals from several models."),
    PageLink("models.ipynb", "Models", "Compare models' out-of-sample accuracy."),
    PageLink("backtest.ipynb", "Backtest", "Backtest trading strategies on the forecasts."),
    PageLink("live.ipynb", "Live board", "Streaming forecasts from the live server."),
)


def available_pages(notebooks_dir: Path | str = ".") -> list[PageLink]:
    """The pages whose notebook exists in ``notebooks_dir``.

    Args:
        notebooks_dir: folder of the notebooks (Voilà runs kernels in it).

    Returns:
        The existing pages, in menu order.
    """
    folder = Path(notebooks_dir)
    return [p for p in PAGES if (folder / p.notebook).is_file()]


def landing_html(pages: list[PageLink], freshness: str) -> str:
    """HTML of the landing page.

    Args:
        pages: pages to link (relative links, so they work under any Voilà base URL).
        freshness: the data-freshness line.

    Returns:
        HTML text.
    """
    items = "".join(
        f'<li style="margin:0.4em 0"><a class="enb-page-link" href="{html.escape(p.notebook)}">'
        f"<b>{html.escape(p.title)}</b></a> — {html.escape(p.description)}</li>"
        for p in pages
    ) or "<li>No dashboards found.</li>"
    return (
        page_header("energy_nb", "Energy price dashboards: WTI, Brent and Henry Hub")
        + f'<div class="enb-fresh">{html.escape(freshness)}</div>'
        + f'<ul class="enb-pages" style="font-size:1.1em">{items}</ul>'
    )


def build_landing_page(store: Any = None, notebooks_dir: Path | str = ".") -> widgets.HTML:
    """Build the landing page widget.

    Args:
        store: a PriceStore (default ``PriceStore.from_settings()``).
        notebooks_dir: where the page notebooks are (default: the kernel's folder).

    Returns:
        An ``HTML`` widget.
    """
    def render() -> str:
        nonlocal store
        try:
            if store is None:
                from energy_nb.data.store import PriceStore

                store = PriceStore.from_settings()
            rows = store_freshness(store)
            fresh = freshness_text(rows) if rows else (
                "The price store is empty: run `energy-nb data import` or `energy-nb data init`.")
        except Exception as exc:  # the landing page must always render
            fresh = f"Cannot read the price store: {exc}"
        return landing_html(available_pages(notebooks_dir), fresh)

    widget = widgets.HTML(render())
    # a preheated Voilà kernel renders this long before the visit: redo it when the visit comes
    on_request(lambda: setattr(widget, "value", render()))
    return widget
