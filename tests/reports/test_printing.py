"""The print layout of the report: papers, charts laid out for the page, the print stylesheet.

Fast checks without a browser; ``test_pdf.py`` prints real PDFs with Chromium and looks at them.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from energy_nb.reports.content import REPORT_CSS, FigureRenderer, Section
from energy_nb.reports.parameters import ReportParameterError
from energy_nb.reports.printing import (
    DATE_TICK_FORMAT,
    FIGURE_SPEC_CLASS,
    PAPERS,
    check_paper,
    print_figure,
    print_html,
)
from energy_nb.viz.charts import forecast_figure, price_history_figure


def history_frame() -> pd.DataFrame:
    dates = pd.bdate_range("2024-07-01", "2025-06-30")
    frame = pd.DataFrame({"WTI": range(len(dates)), "NG": [3.0] * len(dates)}, index=dates,
                         dtype=float)
    frame.index.name = "date"
    return frame


def test_papers_are_portrait_a4_and_letter() -> None:
    a4, letter = check_paper("A4"), check_paper(" letter ")
    assert a4.size_pt == pytest.approx((595.28, 841.89), abs=0.01)
    assert letter.size_pt == pytest.approx((612.0, 792.0), abs=0.01)
    # 12 mm margins: 186 mm and 191.9 mm of printable width at 96 CSS px per inch
    assert (a4.printable_width_px, letter.printable_width_px) == (702, 725)
    assert "@page { size: A4 portrait; margin: 12mm; }" in a4.css()
    assert "size: letter portrait" in letter.css()
    with pytest.raises(ReportParameterError, match=r"paper must be one of a4, letter, got 'a5'"):
        check_paper("a5")


def test_print_figure_fits_the_printable_width_with_date_labels() -> None:
    fig = price_history_figure(history_frame(), range_slider=True, title="Recent prices",
                               height=900)
    assert fig.layout.yaxis2.side == "right"  # two units: the NG axis on the right
    paper = PAPERS["a4"]
    printed = print_figure(fig, paper)
    assert printed.layout.width == paper.printable_width_px and printed.layout.autosize is False
    assert printed.layout.height == int(paper.printable_height_px * 0.45)  # capped
    assert printed.layout.xaxis.tickformat == DATE_TICK_FORMAT
    assert printed.layout.xaxis.showticklabels is True
    assert printed.layout.xaxis.rangeslider.visible is False
    for axis in ("xaxis", "yaxis", "yaxis2"):  # tick labels and titles grow the margins
        assert printed.layout[axis].automargin is True
    assert fig.layout.width is None and fig.layout.height == 900  # the original is unchanged


def test_print_figure_labels_the_forecast_dates() -> None:
    dates = pd.bdate_range("2025-03-03", "2025-06-30")
    history = pd.Series(range(len(dates)), index=dates, dtype=float)
    forecast = pd.DataFrame({"date": pd.bdate_range("2025-07-01", periods=5), "mean": 1.0,
                             "lower_80": 0.5, "upper_80": 1.5})
    fig = forecast_figure(history, forecast, commodity="WTI", title="WTI forecast")
    printed = print_figure(json.loads(fig.to_json()), PAPERS["letter"])
    assert printed.layout.xaxis.tickformat == DATE_TICK_FORMAT
    assert printed.layout.width == PAPERS["letter"].printable_width_px


def test_an_untyped_axis_of_dates_gets_date_labels_and_a_numeric_one_does_not() -> None:
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=["2025-01-02", "2025-01-03"], y=[1, 2]),
                     go.Scatter(x=[1, 2], y=[3, 4], xaxis="x2")],
                    layout={"xaxis2": {"anchor": "y", "overlaying": "x"}})
    printed = print_figure(fig, PAPERS["a4"])
    assert printed.layout.xaxis.tickformat == DATE_TICK_FORMAT
    assert printed.layout.xaxis.type == "date"
    assert printed.layout.xaxis2.tickformat is None


def test_print_html_makes_every_chart_static_and_sized_to_the_paper() -> None:
    renderer, fig = FigureRenderer(), price_history_figure(history_frame(), title="Prices")
    chart = renderer.html(fig)
    page = f"<html><head><title>t</title></head><body>{chart}{renderer.html(fig)}</body></html>"
    specs = re.findall(rf'<script type="application/json" class="{FIGURE_SPEC_CLASS}" '
                       r'data-target="([\w-]+)">', page)
    assert len(specs) == 2
    out = print_html(page, PAPERS["letter"])
    assert "size: letter portrait" in out
    for target in specs:
        match = re.search(rf'data-target="{target}"[^>]*>(.*?)</script>', out, re.S)
        spec = json.loads(match.group(1))
        assert spec["config"]["staticPlot"] is True
        assert spec["config"]["displayModeBar"] is False
        assert spec["layout"]["width"] == 725
        assert f'id="{target}" style="width:725px;' in out
    # the interactive page keeps its toolbar-capable, responsive chart
    assert '"responsive": true' in chart and "staticPlot" not in chart


def test_sections_mark_page_breaks_and_tables_never_break_values() -> None:
    assert 'enb-new-page' in Section(title="x", new_page=True)._repr_html_()
    assert 'enb-new-page' not in Section(title="x")._repr_html_()
    assert "table.enb-stats td, table.enb-stats tbody th { white-space: nowrap; }" in REPORT_CSS
    assert "table-layout: auto" in REPORT_CSS  # JupyterLab's CSS fixes equal column widths
