"""Plotly figure builders shared by the pages and the reports.

Pure functions: DataFrames / Series in, ``go.Figure`` out. Pages wrap them in a
``go.FigureWidget`` (:func:`to_widget`) and update it in place (:func:`replace_figure`); reports
export the same figures as static HTML.

Usage::

    >>> fig = price_history_figure(frame)          # frame: date index, one column per commodity
    >>> widget = to_widget(fig)
    >>> replace_figure(widget, price_history_figure(other_frame, log_scale=True))
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from energy_nb.ui.theme import PLOTLY_TEMPLATE, commodity_color, commodity_unit

#: Above this many points per trace the history chart switches from SVG ``Scatter`` to WebGL
#: ``Scattergl`` unless the range slider is requested (plotly's slider does not draw gl traces).
WEBGL_THRESHOLD = 20_000


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
        trace_cls = go.Scattergl if (len(col) > WEBGL_THRESHOLD and not range_slider) else go.Scatter
        traces.append(
            trace_cls(
                x=col.index,
                y=col.to_numpy(dtype=float),
                name=code,
                mode="lines",
                line={"color": commodity_color(code), "width": 1.3},
                yaxis=axis_of[code],
                meta=units[0] if rebased else commodity_unit(code),
                hovertemplate="%{x|%Y-%m-%d}<br>%{y:.2f} %{meta}<extra>%{fullData.name}</extra>",
            )
        )
    axis_type = "log" if log_scale else "linear"
    layout: dict = {
        "template": PLOTLY_TEMPLATE,
        "height": height,
        "margin": {"l": 60, "r": 60, "t": 40 if title else 20, "b": 30},
        "title": {"text": title} if title else None,
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": 1.08, "x": 0},
        "xaxis": {"type": "date", "rangeslider": {"visible": range_slider, "thickness": 0.08}},
        "yaxis": {"title": {"text": units[0] if units else ""}, "type": axis_type},
    }
    if len(units) > 1:
        layout["yaxis2"] = {
            "title": {"text": units[1]},
            "type": axis_type,
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        }
    return go.Figure(data=traces, layout=layout)


def returns_histogram_figure(histograms: Mapping[str, pd.DataFrame], height: int = 300) -> go.Figure:
    """Overlaid bar histograms of daily log returns, one per commodity.

    Args:
        histograms: per code, a frame from :func:`energy_nb.analytics.returns_histogram`.
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


def rolling_volatility_figure(
    vols: Mapping[str, pd.Series], window: int = 30, height: int = 300
) -> go.Figure:
    """Rolling annualised volatility lines, one per commodity.

    Args:
        vols: per code, a series from :func:`energy_nb.analytics.rolling_volatility` (fraction).
        window: window length, for the title.
        height: pixels.

    Returns:
        The figure (y in percent).
    """
    traces = [
        go.Scatter(
            x=v.index,
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
    """Wrap a figure in an interactive ``FigureWidget``."""
    return go.FigureWidget(fig)


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
