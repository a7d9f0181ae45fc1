"""Plotly figure builders (energy_nb.ui.charts)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_nb.ui.charts import (
    StaticChart,
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


def test_residuals_figure_is_one_line_of_every_residual():
    residuals = pd.Series(np.sin(np.arange(1500.0)),
                          index=pd.bdate_range("2020-01-01", periods=1500))
    (trace,) = residuals_figure(residuals).data
    # one SVG path, not a marker per residual (page load time), and nothing thinned away
    assert trace.name == "residual" and trace.mode == "lines" and len(trace.y) == 1500
    assert list(trace.x[:1]) == ["2020-01-01"] and trace.y[-1] == residuals.iloc[-1]
