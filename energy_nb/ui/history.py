"""The History dashboard: explore stored prices of one or several commodities.

The page is a thin widget shell around :func:`energy_nb.service.analytics.build_history_view`: every
change of a control recomputes the view, redraws the chart, the statistics panel, and the CSV
link (which always carries exactly the plotted values). Invalid choices (no commodity, start after
end, a window without prices) show a message in the page and clear the chart; nothing raises into
the notebook.

Usage (the whole of ``notebooks/history.ipynb``)::

    from energy_nb.ui.history import build_history_page
    build_history_page()
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from energy_nb.service.analytics import (
    FREQUENCIES,
    ROLLING_VOL_WINDOW,
    AnalyticsError,
    HistoryView,
    PriceStats,
    build_history_view,
    returns_histogram,
    rolling_volatility,
)
from energy_nb.commodities import get_commodity
from energy_nb.viz.charts import (
    price_history_figure,
    replace_figure,
    statistics_figure,
    to_widget,
)
from energy_nb.ui.controls import (
    CsvDownloadLink,
    DateRange,
    FreshnessLine,
    MessageArea,
    commodity_picker,
    labelled,
    load_current,
    open_page_store,
    page_root,
    store_freshness,
)
from energy_nb.ui.nav import page_header
from energy_nb.viz.theme import fmt_num, fmt_pct
from energy_nb.ui.urlstate import apply_query, query_from_env

log = logging.getLogger(__name__)

#: The returns histogram spans the 0.5 %..99.5 % quantiles; rarer days go in its end bins.
HIST_CLIP = 0.005



class HistoryPage:
    """The History page: controls, price chart, statistics panel and CSV download.

    Args:
        store: a :class:`energy_nb.data.store.PriceStore`; default
            ``PriceStore.from_settings()`` (``ENERGY_NB_HOME``).
        commodities: initially selected codes.
        freq: initial frequency.

    Attributes:
        commodities, dates, freq, rebase, log_scale: the controls.
        chart: the interactive ``go.FigureWidget`` (range slider).
        stats_chart: ``go.FigureWidget`` returns histogram | rolling 30-day volatility; ``None``
            until the main chart has been displayed (see :meth:`show_statistics_charts`).
        stats_table: ``HTML`` with one column per commodity.
        messages, download, freshness: see :mod:`energy_nb.ui.controls`.
        view: the last valid :class:`HistoryView` (``None`` while the choices are invalid).
        widget: the whole page.

    Usage::

        page = HistoryPage(store)
        page.commodities.value = ("WTI", "BRENT")
        page.view.frame.tail()
    """

    def __init__(
        self,
        store: Any = None,
        *,
        commodities: Sequence[str] = ("WTI",),
        freq: str = "daily",
    ) -> None:
        self._series: dict[str, tuple[str, pd.Series]] = {}
        self.view: HistoryView | None = None
        self.messages = MessageArea()
        self.freshness = FreshnessLine(page_header(
            "Price history", "WTI, Brent and Henry Hub spot prices from the local store",
            page="history.ipynb"))
        self.download = CsvDownloadLink()
        self.store = store
        self._status: list[dict[str, Any]] = []
        store_problem = self._open_store()

        first, last = self._store_span()
        self.commodities = commodity_picker(commodities)
        self.commodities.add_class("enb-commodities")
        self.dates = DateRange(first, last)
        self.freq = widgets.ToggleButtons(
            options=[(k.capitalize(), k) for k in FREQUENCIES], value=freq,
            style={"button_width": "80px"},
        )
        self.freq.add_class("enb-freq")
        self.rebase = widgets.Checkbox(value=False, description="Rebase to 100", indent=False)
        self.log_scale = widgets.Checkbox(value=False, description="Log scale", indent=False)
        self.rebase.add_class("enb-rebase")
        self.log_scale.add_class("enb-log")

        # a shared link's selection (Voilà's query string), applied before anything is computed
        self.link_problems = apply_query(self.link_fields(), query_from_env())
        # Compute the first view BEFORE creating the chart: a FigureWidget must be built with its
        # data (see energy_nb.viz.charts), and the first render should cost one figure, not two.
        first_view, first_problem = (None, store_problem) if store_problem else self._safe_compute()
        main, stats_fig = self._figures(first_view)
        self.chart = to_widget(main)
        self.chart.add_class("enb-history-chart")
        # The statistics charts (a second FigureWidget) are created once the main chart is on
        # screen: a second FigureWidget at page load costs about a second before the FIRST chart
        # appears (every widget model loads before any view renders). ipywidgets tracks views
        # through ``_view_count``; the first view of the main chart triggers the stats charts.
        self._stats_figure = stats_fig
        self.stats_chart: go.FigureWidget | None = None
        self.stats_box = widgets.VBox([widgets.HTML("<i>Loading the statistics charts…</i>")])
        self.stats_box.add_class("enb-stats-charts")
        self.stats_table = widgets.HTML(value="")
        self.stats_table.add_class("enb-stats")

        controls = widgets.HBox(
            [
                self.commodities,
                widgets.VBox([self.dates.widget, labelled("Frequency", self.freq),
                              widgets.HBox([self.rebase, self.log_scale])]),
            ]
        )
        stats_panel = widgets.VBox(
            [
                self.stats_table,
                self.stats_box,
            ]
        )
        self.widget = widgets.VBox(
            [
                self.freshness.widget,
                controls,
                self.messages.widget,
                self.chart,
                self.download.widget,
                stats_panel,
            ]
        )
        self.widget.add_class("enb-history-page")

        if store_problem:
            self.messages.show(store_problem, "error")
            self.download.disable("no data")
            return
        self.freshness.update(self._status)
        if first_view is not None:
            self._show(first_view, redraw=False)
        else:
            self._show_invalid(first_problem or "nothing to show", redraw=False)
        for w in (self.commodities, self.freq, self.rebase, self.log_scale):
            w.observe(self._on_change, names="value")
        self.dates.observe(self._on_change)
        if self.chart._view_count is None:
            self.chart._view_count = 0  # start tracking views (ipywidgets opt-in)
        self.chart.observe(self._on_chart_view, names="_view_count")

    def link_fields(self) -> dict[str, widgets.ValueWidget]:
        """The controls the page's URL carries (:mod:`energy_nb.ui.urlstate`)."""
        return {"commodity": self.commodities, "start": self.dates.start, "end": self.dates.end,
                "freq": self.freq, "rebase": self.rebase, "log": self.log_scale}

    def _on_chart_view(self, change: dict) -> None:
        if change.get("new"):
            self.show_statistics_charts()

    def show_statistics_charts(self) -> None:
        """Create the statistics charts widget (done automatically once the main chart shows)."""
        if self.stats_chart is not None:
            return
        try:
            self.stats_chart = to_widget(self._stats_figure)
            self.stats_chart.add_class("enb-stats-chart")
            self.stats_box.children = (self.stats_chart,)
        except Exception as exc:  # never a traceback in the page
            log.exception("cannot show the statistics charts")
            self.stats_box.children = (widgets.HTML(f"Statistics charts unavailable: {exc}"),)

    # -- data ----------------------------------------------------------------------------------

    def _open_store(self) -> str | None:
        """Open the store and read its freshness; return a message if it cannot be used."""
        self.store, self._status, problem = open_page_store(self.store)
        return problem

    def _store_span(self) -> tuple[date | None, date | None]:
        firsts = [r["first"] for r in self._status if r.get("first")]
        lasts = [r["last"] for r in self._status if r.get("last")]
        if not firsts:
            return None, None
        return date.fromisoformat(min(firsts)), date.fromisoformat(max(lasts))

    def _load(self, code: str) -> pd.Series:
        """The full stored series of a commodity, cached per data version."""
        return load_current(self.store, self._series, code)

    # -- updates -------------------------------------------------------------------------------

    def _on_change(self, _change: dict) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute and redraw everything from the current control values."""
        try:
            self._refresh()
        except Exception as exc:  # last resort: show it in the page, log the traceback
            log.exception("History page update failed")
            self._show_invalid(f"Unexpected error while updating the page: {exc}")

    def _refresh(self) -> None:
        view, problem = self._compute()
        if view is None:
            self._show_invalid(problem or "nothing to show")
        else:
            self._show(view)

    def _safe_compute(self) -> tuple[HistoryView | None, str | None]:
        try:
            return self._compute()
        except Exception as exc:  # never a traceback in the page
            log.exception("History page computation failed")
            return None, f"Unexpected error while computing the page: {exc}"

    def _compute(self) -> tuple[HistoryView | None, str | None]:
        """The view for the current controls, or ``(None, message)`` when they are invalid."""
        codes = list(self.commodities.value)
        start, end = self.dates.value
        try:
            if not codes:
                raise AnalyticsError("Choose at least one commodity.")
            if start is not None and end is not None and start > end:
                raise AnalyticsError(f"The start date {start} is after the end date {end}.")
            self._status = store_freshness(self.store)
            series = {c: self._load(c) for c in codes}
            for code, s in series.items():
                if s.empty:
                    raise AnalyticsError(
                        f"No {code} prices in the store. Import them with "
                        f"`energy-nb data import PATH --commodity {code}`."
                    )
            view = build_history_view(
                series, start=start, end=end, freq=self.freq.value,
                rebase=self.rebase.value, log_scale=self.log_scale.value,
            )
        except AnalyticsError as exc:
            text = str(exc)
            return None, text[:1].upper() + text[1:]
        return view, None

    @staticmethod
    def _figures(view: HistoryView | None) -> tuple[go.Figure, go.Figure]:
        """Main chart and statistics figure (histogram | rolling vol) of a view (empty if None)."""
        if view is None:
            return (price_history_figure(pd.DataFrame()),
                    statistics_figure({}, {}, ROLLING_VOL_WINDOW))
        codes = list(view.frame.columns)
        main = price_history_figure(view.frame, rebased=view.rebased, log_scale=view.log_scale)
        for code, first, last, text in missing_spans(view.daily):  # shade where data is missing
            main.add_vrect(x0=first - pd.Timedelta(hours=12), x1=last + pd.Timedelta(hours=12),
                           fillcolor="#999", opacity=0.25, line_width=0, layer="below",
                           annotation_text="no data", annotation_position="top left",
                           annotation_font_size=10, name=text)
        return (
            main,
            statistics_figure(
                {c: returns_histogram(view.daily[c], bins=60, clip=HIST_CLIP) for c in codes},
                {c: rolling_volatility(view.daily[c]) for c in codes},
                ROLLING_VOL_WINDOW,
            ),
        )

    def _show_invalid(self, text: str, redraw: bool = True) -> None:
        self.view = None
        self.messages.show(text, "error")
        if redraw:
            main, stats_fig = self._figures(None)
            replace_figure(self.chart, main)
            self._stats_figure = stats_fig
            if self.stats_chart is not None:
                replace_figure(self.stats_chart, stats_fig)
        self.stats_table.value = ""
        self.download.disable("fix the selection first")

    def _show(self, view: HistoryView, redraw: bool = True) -> None:
        self.view = view
        notes = []
        spans = missing_spans(view.daily)
        if spans:
            shown = "; ".join(text for *_, text in spans[:6])
            more = f"; and {len(spans) - 6} more" if len(spans) > 6 else ""
            notes.append((f"Missing data in this window (shaded in the chart): {shown}{more}.",
                          "info"))
        for code, hidden in view.hidden_on_log.items():
            if hidden:
                days = ", ".join(str(d.date()) for d in hidden[:5])
                more = f" and {len(hidden) - 5} more" if len(hidden) > 5 else ""
                notes.append(
                    (f"Log scale: {len(hidden)} non-positive {code} value(s) not plotted "
                     f"({days}{more}); they are blank in the CSV.", "warning")
                )
        self.messages.show_many(notes)
        if redraw:
            main, stats_fig = self._figures(view)
            replace_figure(self.chart, main)
            self._stats_figure = stats_fig
            if self.stats_chart is not None:
                replace_figure(self.stats_chart, stats_fig)
        self.stats_table.value = stats_table_html(view.stats)
        self.download.set_csv(view.to_csv(), csv_filename(view))
        self.freshness.update(self._status, list(view.frame.columns))


#: One stretch of missing data: ``(code, first missing day, last missing day, text)``.
MissingSpan = tuple[str, pd.Timestamp, pd.Timestamp, str]


def missing_spans(daily: dict[str, pd.Series]) -> list[MissingSpan]:
    """Where data is missing in the window shown.

    Gaps of more than a week of business days without any observation, and blank prices (the
    store's validation flags, recomputed for the window).

    Args:
        daily: per commodity, the daily prices of the window (:attr:`HistoryView.daily`).

    Returns:
        ``[(code, first missing day, last missing day, text)]`` in date order per commodity.
    """
    from energy_nb.data.validation import find_flags

    spans = []
    for code, series in daily.items():
        if series.empty:
            continue
        days = [ts.date() for ts in series.index]
        prices = [None if pd.isna(v) else float(v) for v in series.to_numpy()]
        for flag in find_flags(days, prices):
            if flag.kind == "gap":
                i = days.index(flag.date)
                first = pd.Timestamp(days[i - 1]) + pd.offsets.BDay(1)
                last = pd.Timestamp(flag.date) - pd.offsets.BDay(1)
                spans.append((code, first, last, f"{code}: no prices from {first:%Y-%m-%d} to "
                                                 f"{last:%Y-%m-%d}"))
            elif flag.kind == "missing":
                day = pd.Timestamp(flag.date)
                spans.append((code, day, day, f"{code}: blank price on {day:%Y-%m-%d}"))
    return spans


def csv_filename(view: HistoryView) -> str:
    """File name of the CSV of a view, e.g. ``history_WTI-BRENT_weekly_2020-01-03_2026-08-14.csv``.

    Args:
        view: the shown view.

    Returns:
        The name.
    """
    codes = "-".join(view.frame.columns)
    idx = view.frame.index
    span = f"{idx[0]:%Y-%m-%d}_{idx[-1]:%Y-%m-%d}" if len(idx) else "empty"
    extra = ("_rebased" if view.rebased else "") + ("_log" if view.log_scale else "")
    return f"history_{codes}_{view.freq}{extra}_{span}.csv"


def stats_table_html(stats: dict[str, PriceStats]) -> str:
    """The statistics panel as an HTML table (metrics in rows, one column per commodity).

    Args:
        stats: per code, :class:`PriceStats`.

    Returns:
        HTML text.
    """
    codes = list(stats)

    def row(label: str, cells: list[str]) -> str:
        return "<tr><td>" + html.escape(label) + "</td>" + "".join(
            f"<td>{c}</td>" for c in cells) + "</tr>"

    def change(st: PriceStats, attr: str) -> str:
        ch = getattr(st, attr)
        if ch.ref_date is None:
            return "—"
        return f"{fmt_num(ch.abs)} ({fmt_pct(ch.pct)})"

    def with_date(value: float, when: pd.Timestamp | None) -> str:
        return f"{fmt_num(value)} <small>({when:%Y-%m-%d})</small>" if when is not None else "—"

    rows = [
        row("Unit", [get_commodity(c).unit for c in codes]),
        row("Window", [f"{s.first_date:%Y-%m-%d} – {s.last_date:%Y-%m-%d}"
                       for s in stats.values()]),
        row("Observations", [f"{s.observations:,}" for s in stats.values()]),
        row("Last price", [with_date(s.last, s.last_date) for s in stats.values()]),
        row("Change 1 day", [change(s, "change_1d") for s in stats.values()]),
        row("Change 1 month", [change(s, "change_1m") for s in stats.values()]),
        row("Change 1 year", [change(s, "change_1y") for s in stats.values()]),
        row("Mean", [fmt_num(s.mean) for s in stats.values()]),
        row("Std deviation", [fmt_num(s.std) for s in stats.values()]),
        row("Minimum", [with_date(s.min, s.min_date) for s in stats.values()]),
        row("Maximum", [with_date(s.max, s.max_date) for s in stats.values()]),
        row("Annualised volatility", [fmt_pct(s.ann_volatility * 100, signed=False)
                                      for s in stats.values()]),
        row("Max drawdown", [
            (f"{fmt_pct(s.drawdown.value * 100)} <small>({s.drawdown.peak_date:%Y-%m-%d} → "
             f"{s.drawdown.trough_date:%Y-%m-%d}"
             + ("; the price fell to ≤ 0, a fall is capped at −100 %"
                if s.drawdown.nonpositive_date is not None else "")
             + ")</small>") if s.drawdown.trough_date is not None
            else fmt_pct(0.0 if s.drawdown.value == 0 else s.drawdown.value)
            for s in stats.values()
        ]),
        row("Non-positive / missing prices",
            [f"{s.non_positive} / {s.missing}" for s in stats.values()]),
    ]
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(c)}</th>" for c in codes) + "</tr>"
    return ("<b>Statistics of the selected window (daily prices)</b>"
            f'<table class="enb-stats">{head}{"".join(rows)}</table>')


def build_history_page(store: Any = None, **kwargs: Any) -> widgets.Widget:
    """Build the History page widget (what ``notebooks/history.ipynb`` displays).

    Args:
        store: a PriceStore; default ``PriceStore.from_settings()``.
        **kwargs: passed to :class:`HistoryPage` (``commodities``, ``freq``).

    Returns:
        The page's root widget (the :class:`HistoryPage` is at ``widget.page``).
    """
    page = HistoryPage(store, **kwargs)
    # a preheated Voilà kernel rebuilds the page if the store changed before the visit
    return page_root(page, rebuild=lambda: HistoryPage(page.store, **kwargs))
