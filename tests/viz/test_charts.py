"""Plotly figure builders (energy_nb.viz.charts)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from energy_nb.viz.charts import (
    StaticChart,
    drawdown_figure,
    envelope,
    price_history_figure,
    replace_figure,
    residuals_figure,
    rolling_volatility_figure,
    thin,
    to_widget,
)


def frame(codes=("WTI",), n=5) -> pd.DataFrame:
    idx = pd.bdate_range("2024-01-01", periods=n, name="date")
    return pd.DataFrame({c: np.arange(n, dtype=float) + 1 for c in codes}, index=idx)


def test_thin_keeps_first_and_last_and_bounds_size():
    s = pd.Series(np.arange(10_001.0), index=pd.bdate_range("1990-01-01", periods=10_001))
    out = thin(s, 1500)
    assert len(out) <= 1502 and out.index[0] == s.index[0] and out.index[-1] == s.index[-1]
    assert out.index.is_monotonic_increasing
    assert thin(s.iloc[:100], 1500) is not None and len(thin(s.iloc[:100], 1500)) == 100


def test_price_figure_axes_units_and_iso_dates():
    fig = price_history_figure(frame(("WTI", "BRENT", "NG")), log_scale=True)
    assert [t.yaxis for t in fig.data] == ["y", "y", "y2"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert fig.layout.yaxis.title.text == "USD/bbl" and fig.layout.yaxis2.title.text == "USD/MMBtu"
    assert list(fig.data[0].x[:2]) == ["2024-01-01", "2024-01-02"]  # text, not datetime64
    rebased = price_history_figure(frame(("WTI", "NG")), rebased=True)
    assert ({t.yaxis for t in rebased.data} == {"y"}
            and "yaxis2" not in rebased.layout.to_plotly_json())


def test_replace_figure_swaps_traces_and_layout():
    widget = to_widget(price_history_figure(frame(("WTI",))))
    replace_figure(widget, price_history_figure(frame(("NG", "BRENT")), log_scale=True))
    assert [t.name for t in widget.data] == ["NG", "BRENT"]
    assert widget.layout.yaxis.type == "log"


def test_static_chart_state_holds_the_figure():
    vol = pd.Series(np.linspace(0.1, 0.5, 5000), index=pd.bdate_range("2000-01-03", periods=5000))
    chart = StaticChart(rolling_volatility_figure({"WTI": vol}))
    (out,) = chart.widget.outputs
    data = out["data"]["application/vnd.plotly.v1+json"]["data"]
    assert data[0]["name"] == "WTI" and len(data[0]["x"]) <= 1502
    chart.update(rolling_volatility_figure({}))
    assert chart.widget.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"] == []


def test_static_chart_draws_with_the_served_bundle_under_the_app(monkeypatch):
    """Under the app (bundle served), a static chart is a StaticFigure drawn with the page's one
    plotly.js: no Output holding a mime bundle for jupyterlab-plotly's second copy."""
    from energy_nb.viz.static_figure import StaticFigure
    from energy_nb.viz.widget_bundle import BUNDLE_ENV

    monkeypatch.setenv(BUNDLE_ENV, "/energy_nb/static/plotly/widgetbundle.js?v=7.1.0")
    vol = pd.Series(np.linspace(0.1, 0.5, 50), index=pd.bdate_range("2000-01-03", periods=50))
    chart = StaticChart(rolling_volatility_figure({"WTI": vol}), "enb-vol-chart")
    assert isinstance(chart.widget, StaticFigure) and "enb-vol-chart" in chart.widget._dom_classes
    assert chart.widget.bundle == "/energy_nb/static/plotly/widgetbundle.js?v=7.1.0"
    state = chart.widget.get_state()
    assert state["spec"]["data"][0]["name"] == "WTI" and len(state["spec"]["data"][0]["x"]) == 50
    assert state["spec"]["config"] == {"responsive": True}
    assert "import(" in state["_esm"] and "application/vnd.plotly" not in json.dumps(state)
    chart.update(rolling_volatility_figure({}))
    assert chart.widget.spec["data"] == [] and chart.figure.data == ()


def test_residuals_figure_is_one_line_of_every_residual():
    residuals = pd.Series(np.sin(np.arange(1500.0)),
                          index=pd.bdate_range("2020-01-01", periods=1500))
    (trace,) = residuals_figure(residuals).data
    # one SVG path, not a marker per residual (page load time), and nothing thinned away
    assert trace.name == "residual" and trace.mode == "lines" and len(trace.y) == 1500
    assert list(trace.x[:1]) == ["2020-01-01"] and trace.y[-1] == residuals.iloc[-1]


def test_envelope_keeps_every_trough_and_peak_in_time_order():
    rng = np.random.default_rng(1)
    s = pd.Series(np.cumsum(rng.normal(size=2900)), index=pd.bdate_range("2015-01-01",
                                                                         periods=2900))
    out = envelope(s, 600)
    assert len(out) <= 602 and out.index.is_monotonic_increasing
    assert out.index[0] == s.index[0] and out.index[-1] == s.index[-1]
    assert out.min() == s.min() and out.max() == s.max()
    # every run of days keeps its own low and high: the outline is the same at any zoom
    size = -(-2 * len(s) // 600)
    for start in range(0, len(s), size * 50):
        run = s.iloc[start:start + size]
        assert run.min() in set(out.loc[run.index[0]:run.index[-1]])
    assert envelope(s.iloc[:100], 600) is not None and len(envelope(s.iloc[:100], 600)) == 100


def test_drawdown_figure_keeps_the_maximum_drawdown():
    idx = pd.bdate_range("2015-01-01", periods=2900)
    dd = pd.Series(np.abs(np.sin(np.arange(2900) / 37.0)) * 0.3, index=idx)
    dd.iloc[1234] = 0.71  # the deepest day, alone
    fig = drawdown_figure(pd.DataFrame({"DrawdownPct": dd}))
    (trace,) = fig.data
    assert len(trace.y) <= 602 and min(trace.y) == -71.0
    assert len(drawdown_figure(pd.DataFrame({"DrawdownPct": dd}), max_points=0).data[0].y) == 2900


def _round_tick(value: float) -> bool:
    """A tick a person would write: at most 2 significant digits."""
    mantissa = value / 10 ** np.floor(np.log10(value))
    return abs(mantissa * 10 - round(mantissa * 10)) < 1e-9


def test_history_axes_have_round_ticks_of_their_own():
    from energy_nb.viz.charts import log_axis_ticks

    idx = pd.bdate_range("2024-01-01", periods=4, name="date")
    data = pd.DataFrame({"WTI": [55.3, 71.2, 98.7, 112.4], "NG": [1.61, 3.5, 9.2, 15.3]},
                        index=idx)
    linear = price_history_figure(data)
    # the right axis is not synced to the left's grid (that gave 7.07, 15.21, 23.35, 31.48)
    assert linear.layout.yaxis2.tickmode == "auto" and linear.layout.yaxis.tickmode == "auto"
    log = price_history_figure(data, log_scale=True)
    for axis in (log.layout.yaxis, log.layout.yaxis2):
        assert axis.type == "log" and axis.tickmode == "array"
        assert len(axis.tickvals) >= 4
        assert all(_round_tick(v) for v in axis.tickvals)
        # labels without float noise or digit stubs ("11.47901", "2 2 2 1")
        assert list(axis.ticktext) == [f"{v:,.6g}" for v in axis.tickvals]
    assert list(log.layout.yaxis2.tickvals) == [2, 3, 5, 7, 10, 15]
    assert list(log.layout.yaxis.tickvals) == [60, 70, 80, 90, 100, 110]
    assert log_axis_ticks(0.5, 5000.0) == [1, 10, 100, 1000]
    assert log_axis_ticks(1e-3, 1e9)[0] == 0.001 and len(log_axis_ticks(1e-3, 1e9)) <= 10
    assert log_axis_ticks(-1.0, 5.0) == []
