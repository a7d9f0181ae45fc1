"""Live forecast widgets: a connection status indicator, a chart and a table kept up to date by a
:class:`~energy_nb.stream.client.ForecastStream` running as an asyncio task in the kernel.

Pieces (reusable by any dashboard page):

* :func:`status_html` — the indicator's HTML for a :class:`StreamState`;
* :func:`live_figure` / :func:`apply_update` — a ``FigureWidget`` updated **in place** with
  ``batch_update`` (no new widget, no page reload);
* :func:`points_table_html` — the forecast table;
* :class:`LiveForecastWidget` — status + chart + table + the stream, ready to display;
* :func:`attach_to_forecast_page` — live mode for the Forecast page (``apply_forecast`` and
  ``set_live_status`` hooks, toggle in ``live_controls``).

Server URL and API key default to ``ENERGY_NB_WS_URL`` and ``ENERGY_NB_API_KEY``.

Usage (a notebook cell; the task keeps running after the cell finished)::

    from energy_nb.ui.live import LiveForecastWidget
    live = LiveForecastWidget(commodity="WTI", horizon=7)
    live.start()
    live.widget
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from copy import deepcopy
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from energy_nb.commodities import get_commodity
from energy_nb.stream.client import ForecastStream, StreamState
from energy_nb.stream.protocol import Topic
from energy_nb.viz.theme import PLOTLY_TEMPLATE  # importing viz also applies its plotly setup

MEAN_TRACE = "forecast"


def band_names(level: int) -> tuple[str, str]:
    """Names of the lower and upper traces of a level's band."""
    return f"lower {level}%", f"upper {level}%"


def status_kind(state: StreamState) -> str:
    """``connected``, ``connecting`` (never connected yet) or ``disconnected``."""
    if state.connected:
        return "connected"
    return "disconnected" if state.reconnects or state.last_error else "connecting"


def status_html(state: StreamState) -> str:
    """HTML of the connection indicator (CSS class and ``data-state`` give the state).

    Args:
        state: the stream's state.

    Returns:
        A ``<span class="enb-live-status" data-state=...>`` with a coloured dot and a short text.
    """
    kind = status_kind(state)
    color = {"connected": "#2ca02c", "connecting": "#1f77b4", "disconnected": "#c0392b"}[kind]
    text = {"connected": "live", "connecting": "connecting…",
            "disconnected": "disconnected, reconnecting…"}[kind]
    detail = ""
    if kind == "connected" and state.last_update:
        detail = (f" · update {state.updates} as of "
                  f"{html.escape(str(state.last_update.get('as_of')))}")
    elif kind == "disconnected" and state.last_error:
        detail = f" · {html.escape(state.last_error[:120])}"
    return (f'<span class="enb-live-status" data-state="{kind}" data-updates="{state.updates}">'
            f'<span style="color:{color}">&#x25CF;</span> {text}{detail}</span>')


def live_figure(commodity: str = "WTI", levels: tuple[int, ...] = (80, 95),
                height: int = 360) -> go.FigureWidget:
    """An empty forecast chart (mean line and one shaded band per level) to update in place."""
    info = get_commodity(commodity)
    # build a plain Figure first: traces added to a FigureWidget before it is displayed are
    # only sent as transient messages and never reach a view created later
    fig = go.Figure()
    for level in sorted(levels, reverse=True):
        lower, upper = band_names(level)
        alpha = 0.12 if level >= 90 else 0.25
        fig.add_scatter(x=[], y=[], name=lower, mode="lines", line={"width": 0},
                        showlegend=False, hoverinfo="skip")
        fig.add_scatter(x=[], y=[], name=upper, mode="lines", line={"width": 0}, fill="tonexty",
                        fillcolor=_rgba(info.color, alpha), showlegend=True,
                        legendgroup=str(level))
    fig.add_scatter(x=[], y=[], name=MEAN_TRACE, mode="lines+markers",
                    line={"color": info.color, "width": 2})
    fig.update_layout(height=height, margin={"l": 50, "r": 20, "t": 40, "b": 40},
                      title=f"{info.code}: waiting for a live forecast…",
                      yaxis_title=info.unit, template=PLOTLY_TEMPLATE)
    return go.FigureWidget(fig)


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def apply_update(fig: go.FigureWidget, message: dict[str, Any]) -> None:
    """Apply a ``forecast_update``/``resync`` to a chart from :func:`live_figure`, in place.

    Args:
        fig: the chart (its traces are found by name; missing band traces are skipped).
        message: the server message.
    """
    points = message.get("points") or []
    dates = [p.get("date") for p in points]
    by_name = {trace.name: trace for trace in fig.data}
    with fig.batch_update():
        if MEAN_TRACE in by_name:
            by_name[MEAN_TRACE].x = dates
            by_name[MEAN_TRACE].y = [p.get("mean") for p in points]
        for level in message.get("levels") or []:
            for name, key in zip(band_names(level), (f"lower_{level}", f"upper_{level}")):
                if name in by_name:
                    by_name[name].x = dates
                    by_name[name].y = [p.get(key) for p in points]
        fig.layout.title.text = (  # no internal ids (seq) for people: the table keeps it
            f"{message.get('commodity')} {message.get('horizon')}-day forecast "
            f"({message.get('model')}) as of {message.get('as_of')}")
    sync_widget_state(fig)


def sync_widget_state(fig: go.FigureWidget) -> None:
    """Copy a FigureWidget's current traces and layout into its synced state traits.

    ``batch_update`` reaches only the views that exist when it runs (transient restyle
    messages). A page that renders later (Voilà shows the page after the kernel ran the cells,
    and the stream may already have delivered an update) builds its view from the
    ``_widget_data``/``_widget_layout`` traits, which plotly refreshes only when the figure itself
    is displayed, not when it sits inside a Box. Keeping them current makes late views correct.
    """
    if hasattr(fig, "_widget_data"):
        fig._widget_data = deepcopy(fig._data)
        fig._widget_layout = deepcopy(fig._layout_obj._props)


def points_table_html(message: dict[str, Any]) -> str:
    """The forecast points as an HTML table (``data-seq`` and ``data-as-of`` attributes)."""
    levels = message.get("levels") or []
    head = "".join(f"<th>{lo}</th><th>{up}</th>" for level in levels
                   for lo, up in [(f"lower {level}%", f"upper {level}%")])
    rows = []
    for p in message.get("points") or []:
        cells = "".join(f"<td>{_fmt(p.get(f'lower_{level}'))}</td>"
                        f"<td>{_fmt(p.get(f'upper_{level}'))}</td>" for level in levels)
        rows.append(f"<tr><td>{html.escape(str(p.get('date')))}</td>"
                    f"<td>{_fmt(p.get('mean'))}</td>{cells}</tr>")
    return (f'<table class="enb-live-table" data-seq="{html.escape(str(message.get("seq")))}" '
            f'data-as-of="{html.escape(str(message.get("as_of")))}">'
            f"<thead><tr><th>date</th><th>mean</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}"


class LiveForecastWidget:
    """Status indicator + chart + table following one topic of the live server.

    Args:
        url: server endpoint (default ``ENERGY_NB_WS_URL``).
        api_key: default ``ENERGY_NB_API_KEY``.
        commodity, horizon: the topic to follow.
        stream: an existing :class:`ForecastStream` (``url``/``api_key`` are then ignored).
        on_update: extra callback for each update (e.g. a page's ``apply_forecast``).
        on_status: extra callback ``(text, kind)`` on status changes.

    Attributes:
        status: ``HTML`` indicator; figure: ``FigureWidget`` (inside ``chart_box``, CSS class
        ``enb-live-chart``); table: ``HTML``; widget: ``VBox`` of the three; stream: the client;
        updates: updates applied.
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, *,
                 commodity: str = "WTI", horizon: int = 7, stream: ForecastStream | None = None,
                 on_update: Callable[[dict[str, Any]], Any] | None = None,
                 on_status: Callable[[str, str], Any] | None = None) -> None:
        self.topic = Topic.parse(commodity, horizon)
        self.stream = stream or ForecastStream(url, api_key)
        self.on_update = on_update
        self.on_status = on_status
        self.updates = 0
        self.status = widgets.HTML(status_html(self.stream.state))
        self.status.add_class("enb-live-indicator")
        self.figure = live_figure(self.topic.commodity)
        self.chart_box = widgets.Box([self.figure])
        self.chart_box.add_class("enb-live-chart")
        self.table = widgets.HTML("")
        self.table.add_class("enb-live-table-box")
        self.widget = widgets.VBox([self.status, self.chart_box, self.table])
        self.widget.add_class("enb-live")
        self.stream.add_observer(self._on_message)
        self.stream.add_status_observer(self._on_state)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Subscribe and run the stream as an asyncio task of the kernel's loop."""
        topic = self.topic
        self.stream.last_seq.setdefault(topic, None)
        self._task = self.stream.start()
        return self._task

    async def stop(self) -> None:
        """Stop the stream."""
        await self.stream.stop()

    async def set_topic(self, commodity: str, horizon: int) -> None:
        """Follow another topic (unsubscribes the previous one)."""
        topic = Topic.parse(commodity, horizon)
        if topic == self.topic:
            return
        old, self.topic = self.topic, topic
        if old.commodity != topic.commodity:
            info = get_commodity(topic.commodity)
            with self.figure.batch_update():
                for trace in self.figure.data:
                    if trace.name == MEAN_TRACE:
                        trace.line.color = info.color
                self.figure.layout.yaxis.title.text = info.unit
        if self.stream.state.connected:
            await self.stream.unsubscribe(old.commodity, old.horizon)
            await self.stream.subscribe(topic.commodity, topic.horizon)
        else:
            self.stream.last_seq.pop(old, None)
            self.stream.last_seq.setdefault(topic, None)

    def _on_message(self, message: dict[str, Any]) -> None:
        if (message.get("commodity"), message.get("horizon")) != (self.topic.commodity,
                                                                 self.topic.horizon):
            return
        apply_update(self.figure, message)
        self.table.value = points_table_html(message)
        self.updates += 1
        self.status.value = status_html(self.stream.state)
        if self.on_update is not None:
            self.on_update(message)

    def _on_state(self, state: StreamState) -> None:
        self.status.value = status_html(state)
        if self.on_status is not None:
            kind = status_kind(state)
            text = {"connected": "live", "connecting": "connecting…"}.get(
                kind, f"disconnected: {state.last_error or ''}".strip())
            self.on_status(text, {"connecting": "info"}.get(kind, kind))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def attach_to_forecast_page(page: Any, url: str | None = None,
                            api_key: str | None = None) -> widgets.ToggleButton:
    """Give the Forecast page a live mode: a "Live" toggle in ``page.live_controls``.

    When on, a stream follows the page's commodity and horizon; each update is shown through
    ``page.apply_forecast`` (which says plainly when the server's model or data date differ from
    the page's controls) and the connection through ``page.set_live_status``. When switched off,
    the stream's callbacks are detached before it stops, the indicator is cleared and the page
    redraws its own forecast.

    Args:
        page: a :class:`energy_nb.ui.forecast.ForecastPage`.
        url, api_key: server (defaults from the environment).

    Returns:
        The toggle button.
    """
    kernel_loop = _running_loop()  # the kernel's loop (cells run inside it)

    def in_loop(action: Callable[[], Any]) -> None:
        """Run ``action`` on the kernel's loop (widget callbacks may come from another thread)."""
        current = _running_loop()
        if kernel_loop is None or current is kernel_loop:
            action()
        else:
            kernel_loop.call_soon_threadsafe(action)

    toggle = widgets.ToggleButton(value=False, description="Live", icon="bolt",
                                  tooltip="Follow the live forecast server")
    toggle.add_class("enb-live-toggle")
    holder: dict[str, LiveForecastWidget] = {}

    def topic() -> tuple[str, int]:
        return str(page.commodity.value), int(page.horizon.value)

    def show(message: dict[str, Any]) -> None:
        if "live" not in holder:  # a late update after Live was switched off
            return
        if page.apply_forecast(message):
            chart = getattr(page, "chart", None)
            if isinstance(chart, go.FigureWidget):
                sync_widget_state(chart)  # a view created later shows the live forecast too

    def on_toggle(change: dict[str, Any]) -> None:
        in_loop(lambda: switch(bool(change["new"])))

    def switch(on: bool) -> None:
        if on and "live" not in holder:
            commodity, horizon = topic()
            live = LiveForecastWidget(url, api_key, commodity=commodity, horizon=horizon,
                                      on_update=show, on_status=page.set_live_status)
            holder["live"] = live
            page.set_live_status("connecting…", "info")
            live.start()
        elif not on and "live" in holder:
            live = holder.pop("live")
            # off means off: no late update or status from the stopping stream reaches the page
            live.on_update = None
            live.on_status = None
            asyncio.ensure_future(live.stop())
            page.set_live_status("")
            page.refresh()  # the page's own forecast for its controls again

    def follow_topic() -> None:
        if "live" in holder:
            asyncio.ensure_future(holder["live"].set_topic(*topic()))

    def on_topic(_change: dict[str, Any]) -> None:
        in_loop(follow_topic)

    toggle.observe(on_toggle, names="value")
    page.commodity.observe(on_topic, names="value")
    page.horizon.observe(on_topic, names="value")
    page.live_controls.children = (*page.live_controls.children, toggle)
    return toggle
