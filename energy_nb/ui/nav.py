"""The app's pages and the navigation bar shown at the top of every page.

Links are real ``<a>`` elements. Inside a Voilà kernel they are absolute
(``{VOILA_BASE_URL}voila/render/<notebook>``), so they work from any URL the app serves the
page at (``/`` included); elsewhere (JupyterLab) they are relative to the notebooks folder.

Usage::

    >>> from energy_nb.ui.nav import nav_html
    >>> "aria-current" in nav_html("history.ipynb")
    True
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

from energy_nb.viz.theme import PAGE_CSS


@dataclass(frozen=True)
class PageLink:
    """One page of the app.

    Attributes:
        notebook: file name in ``notebooks/``.
        title: link text.
        description: one line saying what the page does.
    """

    notebook: str
    title: str
    description: str


#: The landing page.
LANDING = PageLink("index.ipynb", "Overview", "Latest prices, next week's range, data freshness.")

#: The dashboards in menu order; only those whose notebook exists are linked.
PAGES: tuple[PageLink, ...] = (
    PageLink("history.ipynb", "History",
             "Explore 40 years of WTI, Brent and Henry Hub prices: statistics, CSV download."),
    PageLink("forecast.ipynb", "Forecast", "Forecast prices with intervals from several models."),
    PageLink("models.ipynb", "Models", "Compare models' out-of-sample accuracy."),
    PageLink("backtest.ipynb", "Backtest", "Backtest trading strategies on the forecasts."),
    PageLink("live.ipynb", "Live board", "Streaming forecasts from the live server."),
)


def available_pages(notebooks_dir: Path | str = ".") -> list[PageLink]:
    """The dashboards whose notebook exists in ``notebooks_dir``.

    Args:
        notebooks_dir: folder of the notebooks (Voilà runs kernels in it).

    Returns:
        The existing pages, in menu order.
    """
    folder = Path(notebooks_dir)
    return [p for p in PAGES if (folder / p.notebook).is_file()]


def page_href(notebook: str) -> str:
    """The link target of a page: absolute under Voilà (its base URL), else relative.

    Args:
        notebook: file name, e.g. ``history.ipynb``.

    Returns:
        The ``href`` value.
    """
    base = os.environ.get("VOILA_BASE_URL")
    return f"{base}voila/render/{notebook}" if base else notebook


def nav_html(current: str | None = None, notebooks_dir: Path | str = ".") -> str:
    """The navigation bar: the landing page and every existing dashboard, ``current`` marked.

    Args:
        current: notebook of the page showing the bar (gets ``aria-current="page"``).
        notebooks_dir: folder of the notebooks; when it holds none of the pages (a page built
            outside the app), every dashboard except the live board is linked.

    Returns:
        HTML text (``<nav class="enb-nav">``).
    """
    pages = available_pages(notebooks_dir) or [p for p in PAGES if p.notebook != "live.ipynb"]
    links = []
    for page in (LANDING, *pages):
        mark = ' aria-current="page"' if page.notebook == current else ""
        cls = "enb-brand" if page is LANDING else "enb-nav-link"
        text = "energy_nb" if page is LANDING else page.title
        links.append(f'<a class="{cls}" href="{html.escape(page_href(page.notebook))}"'
                     f' title="{html.escape(page.description)}"{mark}>{html.escape(text)}</a>')
    return f'<nav class="enb-nav" aria-label="Pages">{"".join(links)}</nav>'


def page_header(title: str, subtitle: str = "", page: str | None = None) -> str:
    """HTML of a page header (the stylesheet included), under the navigation bar.

    Args:
        title: page title.
        subtitle: one explanatory line.
        page: the page's notebook (e.g. ``history.ipynb``): the navigation bar marks it as
            the current page. Every page of the app passes it.

    Returns:
        HTML text.
    """
    sub = f'<div class="enb-subtitle">{html.escape(subtitle)}</div>' if subtitle else ""
    return (f'{PAGE_CSS}<div class="enb-page">{nav_html(page)}'
            f'<div class="enb-title">{html.escape(title)}</div>{sub}</div>')
