"""Plotly figure builders shared by the pages and the reports.

Pure functions: DataFrames / Series in, ``go.Figure`` out. Pages wrap the interactive chart in
a ``go.FigureWidget`` (:func:`to_widget`, built WITH its data: traces added later only travel as
one-shot messages, which Voilà loses if they happen before the page connects) and update it in
place (:func:`replace_figure`); secondary charts go in a :class:`StaticChart`. Reports export the
same figures as static HTML.

Usage::

    >>> fig = price_history_figure(frame)          # frame: date index, one column per commodity
    >>> widget = to_widget(fig)
    >>> replace_figure(widget, price_history_figure(other_frame, log_scale=True))
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from energy_nb.viz.theme import PLOTLY_TEMPLATE, commodity_color, commodity_unit
from energy_nb.viz.widget_bundle import served_bundle_path

#: Above this many points per trace the history chart switches from SVG ``Scatter`` to WebGL
#: ``Scattergl`` unless the range slider is requested (plotly's slider does not draw gl traces).
WEBGL_THRESHOLD = 20_000


#: Horizontal legend just above the plot area, below the title (needs a top margin of ~75 px).
_LEGEND_ABOVE_PLOT = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}


def _title_above_legend(title: str) -> dict | None:
    """Title pinned to the top of the figure so that it never overlaps the legend row."""
    if not title:
        return None
    return {"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top"}


def _dates(index: pd.Index) -> list[str]:
    """ISO date strings for an x axis.

    FigureWidget sends numpy arrays to the browser as typed buffers, and ``datetime64`` has no
    typed-array equivalent (the widget then fails to initialise), so dates travel as text.
    """
    return list(pd.DatetimeIndex(index).strftime("%Y-%m-%d"))


def _units_axes(codes: list[str], rebased: bool) -> tuple[dict[str, str], list[str]]:
    """Map each commodity to ``y`` or ``y2`` by unit; return the mapping and the axis units."""
    if rebased:
        return {c: "y" for c in codes}, ["index (first value = 100)"]
    units: list[str] = []
    for c in codes:
        u = commodity_unit(c)
        if u not in units:
            units.append(u)
    units = units[:2]
    axis = {c: ("y2" if len(units) > 1 and commodity_unit(c) == units[1] else "y") for c in codes}
    return axis, units


def price_history_figure(
    frame: pd.DataFrame,
    *,
    rebased: bool = False,
    log_scale: bool = False,
    range_slider: bool = True,
    title: str = "",
    height: int = 460,
) -> go.Figure:
    """Line chart of prices, one trace per commodity column.

    Commodities with a different unit (NG in USD/MMBtu beside crude in USD/bbl) go on a second
    y axis on the right unless the values are rebased.

    Args:
        frame: index ``date``, one column per commodity code; NaN = no value at that date (the
            trace skips it).
        rebased: values are rebased to 100 (y axis title says so).
        log_scale: logarithmic y axis (values must already be positive or NaN).
        range_slider: show plotly's range slider under the x axis.
        title: chart title.
        height: pixels.

    Returns:
        The figure; trace ``name`` = commodity code, ``meta`` = its unit.
    """
    codes = [str(c) for c in frame.columns]
    axis_of, units = _units_axes(codes, rebased)
    traces = []
    for code in codes:
        col = frame[code].dropna()
        trace_cls = (go.Scattergl if (len(col) > WEBGL_THRESHOLD and not range_slider)
                     else go.Scatter)
        traces.append(
            trace_cls(
                x=_dates(col.index),
                y=col.to_numpy(dtype=float),
                name=code,
                mode="lines",
                line={"color": commodity_color(code), "width": 1.3},
                yaxis=axis_of[code],
                meta=units[0] if rebased else commodity_unit(code),
                hovertemplate="%{x|%Y-%m-%d}<br>%{y:.2f} %{meta}<extra>%{fullData.name}</extra>",
            )
        )
    def axis(name: str, unit: str) -> dict[str, Any]:
        values = frame[[c for c in codes if axis_of[c] == name]].to_numpy(dtype=float).ravel()
        return {"title": {"text": unit}, **value_axis(values, log_scale)}

    layout: dict = {
        "template": PLOTLY_TEMPLATE,
        "height": height,
        "margin": {"l": 60, "r": 60, "t": 75 if title else 40, "b": 30},
        "title": _title_above_legend(title),
        "hovermode": "x unified",
        "legend": _LEGEND_ABOVE_PLOT,
        "xaxis": {"type": "date", "rangeslider": {"visible": range_slider, "thickness": 0.08}},
        "yaxis": axis("y", units[0] if units else ""),
    }
    if len(units) > 1:
        layout["yaxis2"] = {**axis("y2", units[1]), "overlaying": "y", "side": "right",
                            "showgrid": False}
    return go.Figure(data=traces, layout=layout)


#: Mantissas of log-axis tick ladders, coarsest first (1-2-5 is the usual one).
_LOG_LADDERS: tuple[tuple[float, ...], ...] = (
    (1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
    (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0),
    (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0,
     9.0),
)


def log_axis_ticks(low: float, high: float, min_ticks: int = 4,
                   max_ticks: int = 10) -> list[float]:
    """Round tick values for a log axis showing ``low..high`` (both > 0).

    Plotly's own log ticks label the digits between decades ("2 2 2 1") or print raw values
    ("11.47901") when the range is under a decade; these are the coarsest of 1, 1-3, 1-2-5, ...
    ladders that gives at least ``min_ticks`` values in the range (whole decades, thinned, when
    the range spans many).

    Args:
        low: smallest value shown (> 0).
        high: largest value shown (>= low).
        min_ticks: fewest ticks wanted.
        max_ticks: most ticks wanted.

    Returns:
        Ascending tick values (may be fewer than ``min_ticks`` for a tiny range).

    Usage::

        >>> log_axis_ticks(1.6, 15.0)
        [2.0, 5.0, 10.0]
    """
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high < low:
        return []
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    best: list[float] = []
    for ladder in _LOG_LADDERS:
        values = [float(f"{m * 10.0 ** k:.6g}") for k in range(first, last + 1) for m in ladder]
        values = [v for v in values if low <= v <= high]
        if len(values) > max_ticks:  # many decades: every n-th decade
            step = math.ceil(len(values) / max_ticks)
            return values[::step]
        best = values
        if len(values) >= min_ticks:
            break
    return best


def _tick_text(value: float) -> str:
    """A tick label without float noise: ``0.5``, ``2``, ``1,000``."""
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def value_axis(values: np.ndarray, log_scale: bool) -> dict[str, Any]:
    """Layout of a price axis: type, and round ticks of its own.

    The right axis of a two-unit chart gets its own ticks (plotly would otherwise sync them to
    the left axis's grid, giving values like 31.48 and 23.35); a log axis gets round values from
    :func:`log_axis_ticks` instead of plotly's digit labels.

    Args:
        values: the values plotted on the axis (NaN ignored).
        log_scale: logarithmic axis.

    Returns:
        Plotly axis properties (``type``, ``tickmode`` and, on a log axis, ``tickvals`` and
        ``ticktext``).
    """
    if not log_scale:
        return {"type": "linear", "tickmode": "auto", "nticks": 8}
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return {"type": "log", "tickmode": "auto"}
    ticks = log_axis_ticks(float(finite.min()), float(finite.max()))
    if len(ticks) < 2:
        return {"type": "log", "tickmode": "auto", "tickformat": ",.3~g"}
    return {"type": "log", "tickmode": "array", "tickvals": ticks,
            "ticktext": [_tick_text(v) for v in ticks]}


def returns_histogram_figure(histograms: Mapping[str, pd.DataFrame],
                             height: int = 300) -> go.Figure:
    """Overlaid bar histograms of daily log returns, one per commodity.

    Args:
        histograms: per code, a frame from :func:`energy_nb.service.analytics.returns_histogram`.
        height: pixels.

    Returns:
        The figure (x in percent, y = number of days).
    """
    traces = [
        go.Bar(
            x=h["center"].to_numpy(),
            y=h["count"].to_numpy(),
            width=(h["right"] - h["left"]).to_numpy(),
            name=code,
            marker={"color": commodity_color(code)},
            opacity=0.6,
        )
        for code, h in histograms.items()
    ]
    return go.Figure(
        data=traces,
        layout={
            "template": PLOTLY_TEMPLATE,
            "height": height,
            "barmode": "overlay",
            "title": {"text": "Daily log returns"},
            "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
            "xaxis": {"title": {"text": "return (%)"}},
            "yaxis": {"title": {"text": "days"}},
        },
    )


def thin(series: pd.Series, max_points: int) -> pd.Series:
    """Every k-th point of a long series (first and last kept), for small secondary charts.

    Args:
        series: the values.
        max_points: most points returned (about).

    Returns:
        ``series`` itself when short enough, else a regular subsample ending with its last point.
    """
    if max_points <= 0 or len(series) <= max_points:
        return series
    step = -(-len(series) // max_points)
    picked = series.iloc[::step]
    if picked.index[-1] != series.index[-1]:
        picked = pd.concat([picked, series.iloc[-1:]])
    return picked


def envelope(series: pd.Series, max_points: int) -> pd.Series:
    """The lowest and highest point of each run of days (min/max decimation), in time order.

    Unlike :func:`thin`, no trough or peak is lost: the chart of the result has the same
    extremes and outline as the chart of ``series`` at a fraction of the points.

    Args:
        series: the values, without NaN.
        max_points: most points returned (about; first and last are always kept).

    Returns:
        ``series`` itself when short enough, else the selected rows of it.

    Usage::

        >>> envelope(drawdown, 600)
    """
    n = len(series)
    if max_points < 2 or n <= max_points:
        return series
    size = -(-2 * n // max_points)  # days per bucket: two points kept per bucket
    values = pd.Series(series.to_numpy(dtype=float))
    buckets = values.groupby(np.arange(n) // size)
    keep = np.unique(np.concatenate([buckets.idxmin().to_numpy(), buckets.idxmax().to_numpy(),
                                     [0, n - 1]]))
    return series.iloc[keep]


def rolling_volatility_figure(
    vols: Mapping[str, pd.Series], window: int = 30, height: int = 300, max_points: int = 1500
) -> go.Figure:
    """Rolling annualised volatility lines, one per commodity.

    Args:
        vols: per code, a series from :func:`energy_nb.service.analytics.rolling_volatility`
            (fraction).
        window: window length, for the title.
        height: pixels.
        max_points: long series are thinned to about this many points (:func:`thin`) to keep
            the page light; 0 keeps every point.

    Returns:
        The figure (y in percent).
    """
    vols = {code: thin(v, max_points) for code, v in vols.items()}
    traces = [
        go.Scatter(
            x=_dates(v.index),
            y=v.to_numpy(dtype=float) * 100.0,
            name=code,
            mode="lines",
            line={"color": commodity_color(code), "width": 1.2},
        )
        for code, v in vols.items()
    ]
    return go.Figure(
        data=traces,
        layout={
            "template": PLOTLY_TEMPLATE,
            "height": height,
            "title": {"text": f"Rolling {window}-day volatility (annualised)"},
            "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
            "yaxis": {"title": {"text": "volatility (%)"}},
        },
    )


def to_widget(fig: go.Figure) -> go.FigureWidget:
    """Wrap a figure in an interactive ``FigureWidget`` that follows its box's width.

    plotly's anywidget view no longer listens to window resizes itself; ``responsive`` makes
    plotly.js redraw the chart at its container's width on every window ``resize`` event (the
    app's page template also fires one when a chart's box changes width).
    """
    widget = go.FigureWidget(fig)
    widget._config = {**widget._config, "responsive": True}
    return widget


def replace_figure(widget: go.FigureWidget, fig: go.Figure) -> None:
    """Replace a FigureWidget's traces and layout in one batched update.

    Args:
        widget: the widget on the page.
        fig: the new content.
    """
    with widget.batch_update():
        widget.data = []
        widget.add_traces(list(fig.data))
        widget.layout = fig.layout


#: Colours of the backtest charts: the strategy and its buy & hold benchmark.
STRATEGY_COLOR = "#2ca02c"
BENCHMARK_COLOR = "#7f7f7f"


def equity_curve_figure(equity: pd.DataFrame, *, title: str = "", height: int = 380) -> go.Figure:
    """Equity of a backtest against buy & hold of the same commodity.

    Args:
        equity: daily frame indexed by date with column ``Equity`` and optionally ``BuyHold``
            (as :attr:`energy_nb.backtest.BacktestResult.equity`); empty = an empty chart.
        title: chart title.
        height: pixels.

    Returns:
        The figure; traces named ``Strategy`` and ``Buy & hold`` (y in dollars).

    Usage::

        >>> fig = equity_curve_figure(result.equity, title="sma-cross BRENT")
    """
    traces = []
    for column, name, color, dash in (("Equity", "Strategy", STRATEGY_COLOR, None),
                                      ("BuyHold", "Buy & hold", BENCHMARK_COLOR, "dot")):
        if column not in equity.columns:
            continue
        col = equity[column].dropna()
        traces.append(go.Scatter(
            x=_dates(col.index), y=col.to_numpy(dtype=float), name=name, mode="lines",
            line={"color": color, "width": 1.4, "dash": dash},
            hovertemplate="%{x|%Y-%m-%d}<br>$%{y:,.0f}<extra>%{fullData.name}</extra>",
        ))
    return go.Figure(data=traces, layout={
        "template": PLOTLY_TEMPLATE,
        "height": height,
        "title": {"text": title or "Equity"},
        "margin": {"l": 70, "r": 20, "t": 40, "b": 30},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                   "yanchor": "bottom"},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "equity ($)"}, "tickformat": ",.0f"},
    })


def drawdown_figure(equity: pd.DataFrame, *, height: int = 260,
                    max_points: int = 600) -> go.Figure:
    """Drawdown (percent below the running peak) of a backtest and of buy & hold.

    Args:
        equity: daily frame with ``DrawdownPct`` and optionally ``BuyHoldDrawdownPct`` as
            fractions ``1 - E / max E`` (as :attr:`energy_nb.backtest.BacktestResult.equity`).
        height: pixels.
        max_points: longer curves are reduced to about this many points by :func:`envelope`,
            which keeps every trough (a static secondary chart: 2,900 daily points slowed the
            Backtest page's first chart by ~0.15 s); 0 keeps every point.

    Returns:
        The figure; traces ``Strategy`` (filled) and ``Buy & hold``, y in percent (<= 0).
    """
    traces = []
    for column, name, color, fill in (("DrawdownPct", "Strategy", STRATEGY_COLOR, "tozeroy"),
                                      ("BuyHoldDrawdownPct", "Buy & hold", BENCHMARK_COLOR, None)):
        if column not in equity.columns:
            continue
        col = envelope(equity[column].dropna(), max_points)
        traces.append(go.Scatter(
            x=_dates(col.index), y=-100.0 * col.to_numpy(dtype=float), name=name,
            mode="lines",
            fill=fill, line={"color": color, "width": 1.1},
            hovertemplate="%{x|%Y-%m-%d}<br>%{y:.2f} %<extra>%{fullData.name}</extra>",
        ))
    return go.Figure(data=traces, layout={
        "template": PLOTLY_TEMPLATE,
        "height": height,
        "title": {"text": "Drawdown"},
        "margin": {"l": 70, "r": 20, "t": 40, "b": 30},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                   "yanchor": "bottom"},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "drawdown (%)"}, "ticksuffix": " %"},
    })


# ----------------------------------------------------------------------------------------------
# forecasts and model diagnostics (Forecast and Models pages, reports)

#: Name of the history, forecast and actual traces of :func:`forecast_figure`.
HISTORY_TRACE, FORECAST_TRACE, ACTUAL_TRACE = "history", "forecast", "actual"


def band_trace_name(level: int) -> str:
    """Name of the shaded band trace of an interval level, e.g. ``"95% interval"``."""
    return f"{int(level)}% interval"


def _iso_days(values: object) -> list[str]:
    """Dates as ``YYYY-MM-DD`` strings (FigureWidget cannot ship ``datetime64`` arrays)."""
    return list(pd.DatetimeIndex(values).strftime("%Y-%m-%d"))


def _rgba(color: str, alpha: float) -> str:
    """``#rrggbb`` -> ``rgba(r,g,b,alpha)`` (other colour strings are returned unchanged)."""
    text = color.strip()
    if text.startswith("#") and len(text) == 7:
        r, g, b = (int(text[i:i + 2], 16) for i in (1, 3, 5))
        return f"rgba({r},{g},{b},{alpha})"
    return text


def forecast_figure(
    history: pd.Series,
    forecast: pd.DataFrame,
    *,
    commodity: str,
    actuals: pd.Series | None = None,
    model_label: str = "",
    title: str = "",
    height: int = 460,
) -> go.Figure:
    """Recent prices, the forecast mean, one shaded band per interval level, and actual prices.

    Bands are drawn widest first (each a closed polygon ``upper`` forward, ``lower`` back), so the
    narrower, higher-confidence centre looks darker. Forecast and bands start at the last price of
    ``history`` so the fan opens from the origin.

    Args:
        history: prices up to the origin (index ``date``); NaN prices are skipped.
        forecast: ``date, mean, lower_<L>, upper_<L>`` (``Forecast.to_frame()``); may be empty.
        commodity: code (colour and unit).
        actuals: prices observed after the origin, plotted as markers (``None``/empty: none).
        model_label: shown in the forecast trace's legend entry.
        title: chart title.
        height: pixels.

    Returns:
        The figure; traces named ``history``, ``95% interval``..., ``forecast``, ``actual``
        (band traces carry ``meta = {"level": L}``); a dotted vertical line marks the origin.
    """
    color = commodity_color(commodity)
    unit = commodity_unit(commodity)
    hist = history.dropna()
    traces: list = []
    if len(hist):
        traces.append(go.Scatter(
            x=_iso_days(hist.index), y=hist.to_numpy(dtype=float), name=HISTORY_TRACE,
            mode="lines",
            line={"color": color, "width": 1.4},
            hovertemplate="%{x|%Y-%m-%d}<br>%{y:.2f} " + unit + "<extra>history</extra>",
        ))
    shapes = []
    if len(forecast):
        dates = _iso_days(pd.to_datetime(forecast["date"]))
        anchor_x: list[str] = []
        anchor_y: list[float] = []
        if len(hist) and _iso_days(hist.index[-1:])[0] < dates[0]:
            anchor_x, anchor_y = _iso_days(hist.index[-1:]), [float(hist.iloc[-1])]
        levels = sorted(
            (int(c.split("_", 1)[1]) for c in forecast.columns
             if c.startswith("lower_") and f"upper_{c.split('_', 1)[1]}" in forecast.columns),
            reverse=True,
        )
        for level in levels:
            upper = forecast[f"upper_{level}"].to_numpy(dtype=float)
            lower = forecast[f"lower_{level}"].to_numpy(dtype=float)
            xs = anchor_x + dates + dates[::-1] + anchor_x
            ys = anchor_y + list(upper) + list(lower[::-1]) + anchor_y
            traces.append(go.Scatter(
                x=xs, y=ys, name=band_trace_name(level), mode="lines", fill="toself",
                fillcolor=_rgba(color, 0.16), line={"width": 0, "color": _rgba(color, 0.0)},
                hoverinfo="skip", meta={"level": level}, legendgroup=f"band{level}",
            ))
        label = FORECAST_TRACE + (f" ({model_label})" if model_label else "")
        traces.append(go.Scatter(
            x=anchor_x + dates, y=anchor_y + list(forecast["mean"].to_numpy(dtype=float)),
            name=FORECAST_TRACE, legendgroup="forecast", mode="lines+markers",
            line={"color": color, "width": 2, "dash": "dash"}, marker={"size": 4},
            hovertemplate="%{x|%Y-%m-%d}<br>%{y:.2f} " + unit + f"<extra>{label}</extra>",
        ))
        if anchor_x:
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": anchor_x[0],
                           "x1": anchor_x[0], "y0": 0, "y1": 1,
                           "line": {"color": "#888", "width": 1, "dash": "dot"}})
    if actuals is not None and len(actuals.dropna()):
        act = actuals.dropna()
        traces.append(go.Scatter(
            x=_iso_days(act.index), y=act.to_numpy(dtype=float), name=ACTUAL_TRACE,
            mode="lines+markers",
            line={"color": "#222", "width": 1.2}, marker={"size": 6, "symbol": "circle-open"},
            hovertemplate="%{x|%Y-%m-%d}<br>%{y:.2f} " + unit + "<extra>actual</extra>",
        ))
    return go.Figure(
        data=traces,
        layout={
            "template": PLOTLY_TEMPLATE,
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 75 if title else 40, "b": 30},
            "title": _title_above_legend(title),
            "hovermode": "x",
            "legend": _LEGEND_ABOVE_PLOT,
            "xaxis": {"type": "date"},
            "yaxis": {"title": {"text": unit}},
            "shapes": shapes,
        },
    )


# The diagnostics charts below carry plain lists (not numpy arrays): they are shown as static
# figures (StaticChart), whose JSON would otherwise hold base64 typed arrays.


def metric_by_step_figure(
    frame: pd.DataFrame,
    *,
    metric_label: str,
    reference: float | None = None,
    reference_label: str = "",
    percent: bool = False,
    title: str = "",
    height: int = 320,
    x_title: str | None = None,
) -> go.Figure:
    """One line per model of a metric against the forecast step (or the forecast origin).

    Args:
        frame: index ``step``, one column per model
            (:func:`energy_nb.service.diagnostics.metric_by_step`);
            or index ``origin`` (dates, :func:`energy_nb.service.diagnostics.metric_over_time`).
        metric_label: y axis title.
        reference: a horizontal reference line (e.g. 1.0 for rMAE, the nominal coverage).
        reference_label: its annotation.
        percent: values are fractions shown as percent.
        title: chart title.
        height: pixels.
        x_title: x axis title (default: "forecast origin" for dates, else "horizon step
            (trading days)").

    Returns:
        The figure; one trace per model named after it.
    """
    scale = 100.0 if percent else 1.0
    by_date = isinstance(frame.index, pd.DatetimeIndex)
    if x_title is None:
        x_title = "forecast origin" if by_date else "horizon step (trading days)"
    x = _iso_days(frame.index) if by_date else [int(step) for step in frame.index]
    traces = [
        go.Scatter(x=x,
                   y=(frame[name].to_numpy(dtype=float) * scale).tolist(),
                   name=str(name), mode="lines+markers", marker={"size": 4})
        for name in frame.columns
    ]
    shapes, annotations = [], []
    if reference is not None:
        y = reference * scale
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
                       "line": {"color": "#444", "width": 1, "dash": "dash"}})
        if reference_label:
            annotations.append({"xref": "paper", "x": 1, "y": y, "text": reference_label,
                                "showarrow": False, "xanchor": "right", "yanchor": "bottom",
                                "font": {"size": 10, "color": "#444"}})
    return go.Figure(
        data=traces,
        layout={
            "template": PLOTLY_TEMPLATE,
            "height": height,
            "title": {"text": title} if title else None,
            "margin": {"l": 55, "r": 20, "t": 40 if title else 20, "b": 40},
            "xaxis": ({"title": {"text": x_title}} if by_date
                      else {"title": {"text": x_title}, "dtick": 5}),
            "yaxis": {"title": {"text": metric_label + (" (%)" if percent else "")}},
            "shapes": shapes,
            "annotations": annotations,
            "legend": {"orientation": "h", "y": -0.25, "x": 0},
        },
    )


def residuals_figure(residuals: pd.Series, *, title: str = "Scaled one-step residuals",
                     height: int = 280) -> go.Figure:
    """Residuals over time with the ±1.96 band of a standard normal.

    Drawn as a thin line, as statsmodels' ``plot_diagnostics`` draws standardised residuals: one
    SVG path instead of a marker per residual (1500 markers made the Models page ~0.3 s slower to
    show its first chart).

    Args:
        residuals: indexed by date.
        title: chart title.
        height: pixels.

    Returns:
        The figure (trace ``residual``).
    """
    shapes = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
         "line": {"color": "#999", "width": 1, "dash": "dot" if y else "solid"}}
        for y in (-1.96, 0.0, 1.96)
    ]
    return go.Figure(
        data=[go.Scatter(x=_iso_days(residuals.index), y=residuals.to_numpy(dtype=float).tolist(),
                         name="residual",
                         mode="lines", line={"width": 1, "color": "#1f77b4"})],
        layout={"template": PLOTLY_TEMPLATE, "height": height, "title": {"text": title},
                "margin": {"l": 50, "r": 20, "t": 40, "b": 30}, "shapes": shapes,
                "yaxis": {"title": {"text": "residual / volatility"}}},
    )


def acf_figure(acf: pd.Series, band: float, *, title: str = "Autocorrelation of residuals",
               height: int = 280) -> go.Figure:
    """Bar chart of autocorrelations by lag with the white-noise band.

    Args:
        acf: indexed by lag.
        band: half width of the ±band (e.g. 1.96/sqrt(n)).
        title: chart title.
        height: pixels.

    Returns:
        The figure (trace ``acf``; the band as two dashed lines).
    """
    shapes = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
         "line": {"color": "#c0392b", "width": 1, "dash": "dash"}}
        for y in (-band, band)
    ]
    return go.Figure(
        data=[go.Bar(x=[int(lag) for lag in acf.index], y=acf.to_numpy(dtype=float).tolist(),
                     name="acf", marker={"color": "#1f77b4"}, width=0.4)],
        layout={"template": PLOTLY_TEMPLATE, "height": height, "title": {"text": title},
                "margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "shapes": shapes,
                "xaxis": {"title": {"text": "lag (trading days)"}},
                "yaxis": {"title": {"text": "autocorrelation"}}},
    )


def residual_histogram_figure(histogram: pd.DataFrame, *, title: str = "Residual distribution",
                              height: int = 280) -> go.Figure:
    """Histogram of residuals with the standard normal density scaled to the counts.

    Args:
        histogram: ``left, right, center, count``.
        title: chart title.
        height: pixels.

    Returns:
        The figure (traces ``residuals`` and ``normal``).
    """
    import numpy as np

    traces = []
    if len(histogram):
        width = (histogram["right"] - histogram["left"]).to_numpy(dtype=float)
        total = float(histogram["count"].sum())
        traces.append(go.Bar(x=histogram["center"].tolist(), y=histogram["count"].tolist(),
                             width=width.tolist(), name="residuals", marker={"color": "#1f77b4"},
                             opacity=0.7))
        xs = np.linspace(float(histogram["left"].iloc[0]), float(histogram["right"].iloc[-1]), 200)
        density = np.exp(-xs ** 2 / 2) / np.sqrt(2 * np.pi) * total * float(width.mean())
        traces.append(go.Scatter(x=xs.tolist(), y=density.tolist(), name="normal", mode="lines",
                                 line={"color": "#c0392b", "width": 1.5}))
    return go.Figure(
        data=traces,
        layout={"template": PLOTLY_TEMPLATE, "height": height, "title": {"text": title},
                "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
                "xaxis": {"title": {"text": "residual / volatility"}},
                "yaxis": {"title": {"text": "count"}}, "bargap": 0},
    )


def figure_spec(fig: go.Figure) -> dict:
    """A figure as plotly.js draws it: ``{"data", "layout", "config"}``, JSON-safe.

    Args:
        fig: the figure.

    Returns:
        The figure's JSON (numpy arrays and dates as plain lists and text) with
        ``config = {"responsive": True}`` (redraw at the new width when the window resizes).
    """
    spec = json.loads(pio.to_json(fig, validate=False))
    spec["config"] = {"responsive": True}
    return spec


def figure_mimebundle(fig: go.Figure) -> dict:
    """The notebook display bundle of a static figure (rendered by plotly's mime renderer).

    Args:
        fig: the figure.

    Returns:
        ``{"application/vnd.plotly.v1+json": ..., "text/plain": ...}``.
    """
    title = fig.layout.title.text or "plotly figure"
    return {
        "application/vnd.plotly.v1+json": figure_spec(fig),
        "text/plain": f"<{title}>",
    }


class StaticChart:
    """A static plotly chart: cheaper than a ``FigureWidget``, for secondary charts.

    Its content is widget state, so it shows in Voilà however late the page connects, and it
    may be replaced from any thread. Keep ``FigureWidget`` for the interactive chart.

    * Under the app server (plotly's widget bundle served, :func:`served_bundle_path`), the
      widget is a :class:`~energy_nb.viz.static_figure.StaticFigure` drawn with that bundle:
      the page loads one plotly.js, whatever mix of charts it shows.
    * Elsewhere (JupyterLab, nbval), an ``Output`` widget holding the figure's mime bundle,
      drawn by ``jupyterlab-plotly``'s renderer.

    Attributes:
        widget: the ``StaticFigure`` or ``Output`` widget.
        figure: the figure currently shown.

    Usage::

        chart = StaticChart(returns_histogram_figure({}))
        chart.update(returns_histogram_figure({"WTI": hist}))
    """

    def __init__(self, fig: go.Figure, css_class: str | None = None) -> None:
        import ipywidgets as widgets

        bundle = served_bundle_path()
        self._drawn_by_bundle = bool(bundle)
        if bundle:
            from energy_nb.viz.static_figure import StaticFigure

            self.widget: widgets.DOMWidget = StaticFigure(bundle=bundle)
        else:
            self.widget = widgets.Output()
        if css_class:
            self.widget.add_class(css_class)
        self.figure = fig
        self.update(fig)

    def update(self, fig: go.Figure) -> None:
        """Show ``fig`` instead of the current figure (one state update).

        An ``Output`` widget's ``outputs`` are set directly rather than captured with
        ``with output: display(...)``: capturing makes the browser swallow every kernel message
        of the current request while it lasts, including other widgets' updates.
        """
        self.figure = fig
        if self._drawn_by_bundle:
            self.widget.spec = figure_spec(fig)
            return
        self.widget.outputs = (
            {"output_type": "display_data", "data": figure_mimebundle(fig), "metadata": {}},
        )


def statistics_figure(
    histograms: Mapping[str, pd.DataFrame],
    vols: Mapping[str, pd.Series],
    window: int = 30,
    height: int = 320,
    max_points: int = 1500,
) -> go.Figure:
    """Returns histogram (left) and rolling volatility (right) side by side in one figure.

    One figure instead of two keeps a page at a single extra chart widget.

    Args:
        histograms: per code, :func:`energy_nb.service.analytics.returns_histogram` frames.
        vols: per code, :func:`energy_nb.service.analytics.rolling_volatility` series (fraction).
        window: rolling window, for the subtitle.
        height: pixels.
        max_points: long volatility series are thinned to about this many points.

    Returns:
        The figure: bar traces on ``x``/``y`` (named by code, ``legendgroup`` = code), line
        traces on ``x2``/``y2``.
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08,
        subplot_titles=("Daily log returns", f"Rolling {window}-day volatility (annualised)"),
    )
    gathered = []
    for code, h in histograms.items():
        if h.attrs.get("clipped"):
            gathered.append(f"{code} {h.attrs['clipped']}")
        fig.add_trace(go.Bar(
            x=h["center"].to_numpy(), y=h["count"].to_numpy(),
            width=(h["right"] - h["left"]).to_numpy(), name=code, legendgroup=code,
            marker={"color": commodity_color(code)}, opacity=0.6,
            hovertemplate="%{x:.2f} %: %{y} days<extra>" + code + "</extra>",
        ), row=1, col=1)
    for code, v in vols.items():
        v = thin(v, max_points)
        fig.add_trace(go.Scatter(
            x=_dates(v.index), y=v.to_numpy(dtype=float) * 100.0, name=code, legendgroup=code,
            showlegend=code not in histograms, mode="lines",
            line={"color": commodity_color(code), "width": 1.2},
        ), row=1, col=2)
    fig.update_layout(template=PLOTLY_TEMPLATE, height=height, barmode="overlay",
                      margin={"l": 50, "r": 20, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": -0.15})
    x_title = "daily log return (%)"
    if gathered:  # say that the end bins also hold the rare, larger moves
        x_title += f"<br><sub>end bars include the rarest days ({', '.join(gathered)})</sub>"
    fig.update_xaxes(title_text=x_title, row=1, col=1)
    fig.update_yaxes(title_text="days", row=1, col=1)
    fig.update_yaxes(title_text="volatility (%)", row=1, col=2)
    return fig
