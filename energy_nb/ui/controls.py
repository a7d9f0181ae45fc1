"""Controls shared by the dashboard pages.

* :func:`commodity_picker` — one or several commodities;
* :class:`DateRange` — start / end date pickers;
* :class:`MessageArea` — errors and notes shown in the page (never a traceback);
* :class:`~energy_nb.ui.csv_download.CsvDownloadLink` — a download link whose CSV travels only
  when clicked (re-exported here);
* :func:`freshness_text` / :class:`FreshnessLine` — "data through YYYY-MM-DD, source ...";
* :func:`page_root` — what every ``build_*_page`` returns.

Usage::

    picker = commodity_picker(("WTI",))
    dates = DateRange(first=date(1986, 1, 2), last=date(2026, 8, 18))
    msg = MessageArea(); msg.show("start is after end", "error")
    link = CsvDownloadLink(); link.set_csv("date,WTI\\n...", "wti.csv")
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import ipywidgets as widgets

from energy_nb.commodities import CODES, get_commodity
from energy_nb.data.repositories import PriceSummaryRepository
from energy_nb.ui.csv_download import CsvDownloadLink

__all__ = ["CsvDownloadLink", "DateRange", "FreshnessLine", "MessageArea", "commodity_picker",
           "freshness_text", "labelled", "load_current", "open_page_store", "page_root",
           "store_freshness"]

log = logging.getLogger(__name__)

_LEVELS = ("error", "warning", "info")


def commodity_picker(
    default: Sequence[str] = ("WTI",), *, multiple: bool = True, description: str = "Commodity"
) -> widgets.ValueWidget:
    """A commodity chooser listing every catalogue commodity.

    Args:
        default: initially selected codes.
        multiple: allow several (``SelectMultiple``, value is a tuple) or one (``Dropdown``).
        description: label.

    Returns:
        The widget; its value holds canonical codes.
    """
    options = [(f"{c} — {get_commodity(c).name}", c) for c in CODES]
    layout = widgets.Layout(width="330px")
    if multiple:
        return widgets.SelectMultiple(
            options=options, value=tuple(get_commodity(c).code for c in default),
            rows=len(options), description=description, layout=layout,
            style={"description_width": "initial"},
        )
    return widgets.Dropdown(
        options=options, value=get_commodity(default[0]).code if default else CODES[0],
        description=description, layout=layout, style={"description_width": "initial"},
    )


class DateRange:
    """Start and end date pickers.

    Args:
        first: initial start date (``None`` = empty).
        last: initial end date (``None`` = empty).

    Attributes:
        start, end: the date pickers (:class:`~energy_nb.ui.datepicker.IsoDatePicker`: ISO
            dates whatever the browser's locale; value ``datetime.date`` or ``None``).
        widget: the row showing both.
    """

    def __init__(self, first: date | None = None, last: date | None = None) -> None:
        from energy_nb.ui.datepicker import IsoDatePicker

        self.start = IsoDatePicker(value=first, description="From",
                                        style={"description_width": "initial"})
        self.end = IsoDatePicker(value=last, description="To",
                                      style={"description_width": "initial"})
        self.start.add_class("enb-start")
        self.end.add_class("enb-end")
        self.widget = widgets.HBox([self.start, self.end])

    @property
    def value(self) -> tuple[date | None, date | None]:
        """``(start, end)``."""
        return self.start.value, self.end.value

    def observe(self, handler: Any) -> None:
        """Call ``handler(change)`` when either date changes."""
        self.start.observe(handler, names="value")
        self.end.observe(handler, names="value")


class MessageArea:
    """An HTML area for messages to the user.

    Attributes:
        widget: the ``HTML`` widget (empty when there is no message).
        level, text: the current message (``None``/``""`` when cleared).
    """

    def __init__(self) -> None:
        self.widget = widgets.HTML(value="")
        self.widget.add_class("enb-messages")
        self.level: str | None = None
        self.text = ""

    def show(self, text: str, level: str = "error") -> None:
        """Show a message (replacing the previous one).

        Args:
            text: plain text (escaped; back-quoted parts rendered as code).
            level: ``error``, ``warning`` or ``info``.
        """
        if level not in _LEVELS:
            raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")
        self.level, self.text = level, text
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
        self.widget.value = (f'<div class="enb-msg enb-msg-{level}" data-level="{level}">'
                             f'{body}</div>')

    def show_many(self, items: Sequence[tuple[str, str]]) -> None:
        """Show several ``(text, level)`` messages, most severe level recorded."""
        if not items:
            self.clear()
            return
        parts = []
        for text, level in items:
            body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
            parts.append(f'<div class="enb-msg enb-msg-{level}" data-level="{level}">{body}</div>')
        self.level = min((lvl for _, lvl in items), key=_LEVELS.index)
        self.text = "\n".join(t for t, _ in items)
        self.widget.value = "".join(parts)

    def clear(self) -> None:
        """Remove the message."""
        self.level, self.text = None, ""
        self.widget.value = ""


def labelled(label: str, widget: widgets.Widget) -> widgets.HBox:
    """``widget`` with ``label`` on its left, vertically centred.

    For widgets whose own ``description`` renders above them (``ToggleButtons`` in ipywidgets 8).

    Args:
        label: the label text.
        widget: the widget to label.

    Returns:
        An ``HBox`` of a ``Label`` and the widget.

    Usage::

        >>> row = labelled("Frequency", widgets.ToggleButtons(options=["Daily", "Weekly"]))
    """
    return widgets.HBox([widgets.Label(label, layout=widgets.Layout(margin="0 6px 0 4px")),
                         widget], layout=widgets.Layout(align_items="center"))


def freshness_text(status_rows: Sequence[dict[str, Any]],
                   codes: Sequence[str] | None = None) -> str:
    """The data-freshness line of a page.

    Args:
        status_rows: dicts with ``commodity``, ``last`` (ISO date or ``None``) and ``sources``
            (list of str), as :meth:`PriceStore.status` / :func:`store_freshness` return them.
        codes: restrict to these commodities (default: all with data).

    Returns:
        e.g. ``"WTI: data through 2026-08-18 (source wti-daily.csv) · NG: no data"``.
    """
    wanted = [get_commodity(c).code for c in codes] if codes else None
    parts = []
    for row in status_rows:
        code = row["commodity"]
        if wanted is not None and code not in wanted:
            continue
        if not row.get("last"):
            if wanted is not None:
                parts.append(f"{code}: no data")
            continue
        sources = ", ".join(_short_source(s) for s in row.get("sources") or []) or "unknown"
        parts.append(f"{code}: data through {row['last']} (source {sources})")
    return " · ".join(parts) if parts else "no data in the store"


def _short_source(source: str) -> str:
    """Shorten a file path source to its file name; keep other source labels."""
    text = str(source)
    if "/" in text and "://" not in text:
        return text.rsplit("/", 1)[-1]
    return text


#: What a page says when the store holds no prices (``{path}``: the store file).
EMPTY_STORE_MESSAGE = (
    "The price store is empty ({path}). Import data first, e.g. `energy-nb data init` (downloads "
    "from FRED) or `energy-nb data import wti-daily.csv --commodity WTI`, then reload this page."
)


def open_page_store(store: Any = None) -> tuple[Any, list[dict[str, Any]], str | None]:
    """Open the store a page reads (default: ``PriceStore.from_settings()``) and its freshness.

    A page calls this once when it is built; whatever goes wrong becomes a message for the page,
    never a traceback.

    Args:
        store: a PriceStore, or ``None`` for the configured one.

    Returns:
        ``(store, freshness rows, problem)``: ``problem`` is ``None`` when the store is usable,
        else the message to show (store cannot be opened, or holds no prices).
    """
    try:
        if store is None:
            from energy_nb.data.store import PriceStore

            store = PriceStore.from_settings()
        status = store_freshness(store)
    except Exception as exc:  # a broken store must not become a traceback in the page
        log.exception("cannot open the price store")
        return store, [], f"Cannot open the price store: {exc}"
    if not status:
        return store, status, EMPTY_STORE_MESSAGE.format(path=getattr(store, "path", "?"))
    return store, status, None


def load_current(store: Any, cache: dict[str, tuple[str, Any]], code: str) -> Any:
    """A commodity's full stored series, reloaded only when its data version changed.

    Args:
        store: the page's PriceStore.
        cache: the page's own ``{code: (data version, series)}`` dict, updated in place.
        code: commodity code.

    Returns:
        The series (``PriceStore.load(code)``) as of the store's current data version.
    """
    version = store.data_version(code)
    cached = cache.get(code)
    if cached is None or cached[0] != version:
        cached = (version, store.load(code))
        cache[code] = cached
    return cached[1]


def store_freshness(store: Any) -> list[dict[str, Any]]:
    """Last date and sources per commodity, read cheaply with one SQL query.

    Args:
        store: a :class:`energy_nb.data.store.PriceStore`.

    Returns:
        ``[{"commodity", "first", "last", "rows", "sources"}]`` for the commodities with data.
    """
    rows, sources = PriceSummaryRepository(store).coverage()
    by_code: dict[str, list[str]] = {}
    for code, src in sources:
        by_code.setdefault(code, []).append(src)
    order = {c: i for i, c in enumerate(CODES)}
    out = [
        {"commodity": c, "first": first, "last": last, "rows": n, "sources": by_code.get(c, [])}
        for c, first, last, n in rows
    ]
    return sorted(out, key=lambda r: order.get(r["commodity"], len(order)))


class FreshnessLine:
    """The "data through ..." line at the top of every page.

    Attributes:
        widget: an ``HTML`` widget; ``text`` the plain line.
    """

    def __init__(self, header_html: str = "") -> None:
        self.header_html = header_html  # e.g. the page header: one widget instead of two
        self.widget = widgets.HTML(value=header_html)
        self.widget.add_class("enb-freshness")
        self.text = ""

    def update(self, status_rows: Sequence[dict[str, Any]],
               codes: Sequence[str] | None = None) -> None:
        """Refresh the line (see :func:`freshness_text`)."""
        self.text = freshness_text(status_rows, codes)
        self.widget.value = (
            f'{self.header_html}<div class="enb-fresh">{html.escape(self.text)}</div>'
        )


def page_root(page: Any, rebuild: Callable[[], Any] | None = None) -> widgets.Widget:
    """A page's root widget for display, with the page object attached as ``widget.page``.

    Every ``build_*_page`` returns this: the attribute keeps the page object (its handlers,
    caches and threads) alive as long as the displayed widget, and reachable from it. The root
    is a container around ``page.widget``, so that a preheated Voilà kernel can swap in a fresh
    page when the store changed before the visitor arrived (:mod:`energy_nb.ui.preheat`).

    A page with ``link_fields()`` (``{query name: control}``) keeps its selection in the URL
    (:mod:`energy_nb.ui.urlstate`): the page applied the request's query when it was built
    (``page.link_problems`` lists what it could not apply); in a preheated kernel the query comes
    with the visitor, and the page is rebuilt then if the query changes anything.

    Args:
        page: a page object with a ``widget`` attribute (and ``store``, for the refresh).
        rebuild: builds the same page again from the current store; ``None``: no refresh.

    Returns:
        A ``VBox`` (class ``enb-page-root``) holding ``page.widget`` (and, for a page with
        ``link_fields``, the URL state widget, at ``root.url_state``).
    """
    from energy_nb.ui.preheat import refresh_when_requested

    root = widgets.VBox([page.widget])
    root.add_class("enb-page-root")
    root.page = page
    root.url_state = None
    rebind: Callable[[], None] | None = None
    stale: Callable[[], bool] | None = None
    if hasattr(page, "link_fields"):
        from energy_nb.ui.urlstate import UrlState, query_from_env, would_change

        state = UrlState()
        state.bind(page.link_fields(), getattr(page, "link_problems", None))
        root.url_state = state
        root.children = (page.widget, state.widget)

        def rebind() -> None:
            state.bind(root.page.link_fields(), getattr(root.page, "link_problems", None))

        def stale() -> bool:
            return would_change(root.page.link_fields(), query_from_env())
    if rebuild is not None:
        refresh_when_requested(root, getattr(page, "store", None), rebuild, then=rebind,
                               stale=stale)
    return root
