"""Lay the report out for paper: page size, print stylesheet, and charts sized to the page.

The HTML report stays interactive. The PDF is printed by headless Chromium from a *print
version* of that HTML (:func:`print_html`), in which

- ``@page`` sets the paper (A4 or Letter, portrait) and its margins;
- every chart is redrawn as a static plotly figure (``staticPlot``: no toolbar, no logo, no
  hover layer) exactly as wide as the printable width, with the print layout of
  :func:`print_figure` (date labels on every time axis, axis labels kept inside the figure);
- each chart stays on one page, table cells never break a value ("2025-06-30" stays on one
  line), and the report's sections start on a new page where :mod:`energy_nb.reports.content`
  marks them (``enb-new-page``).

Usage::

    from energy_nb.reports.printing import check_paper, print_html
    paper = check_paper("letter")
    printable = print_html(open("energy-report-2025-06-30.html").read(), paper)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from energy_nb.reports.parameters import ReportParameterError

if TYPE_CHECKING:  # pragma: no cover - plotly is imported when a figure is laid out
    import plotly.graph_objects as go

#: CSS pixels per millimetre (CSS fixes 96 px per inch).
PX_PER_MM = 96 / 25.4
#: Class of the ``<script type="application/json">`` holding a report chart's figure and config.
FIGURE_SPEC_CLASS = "enb-figure-spec"
#: plotly config of a printed chart: a static image, no toolbar, no plotly logo.
PRINT_CONFIG: dict[str, Any] = {"staticPlot": True, "displayModeBar": False,
                                "displaylogo": False, "responsive": False}
#: Date format of the tick labels of every time axis on paper (ISO, as in the tables).
DATE_TICK_FORMAT = "%Y-%m-%d"
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Paper:
    """A paper size in portrait orientation with its page margins.

    Attributes:
        name: the CSS ``@page`` size keyword (``A4``, ``letter``).
        width_mm: sheet width.
        height_mm: sheet height.
        margin_mm: margin on every side.
    """

    name: str
    width_mm: float
    height_mm: float
    margin_mm: float = 12.0

    @property
    def printable_width_px(self) -> int:
        """Width inside the margins in CSS pixels (rounded down)."""
        return int((self.width_mm - 2 * self.margin_mm) * PX_PER_MM)

    @property
    def printable_height_px(self) -> int:
        """Height inside the margins in CSS pixels (rounded down)."""
        return int((self.height_mm - 2 * self.margin_mm) * PX_PER_MM)

    @property
    def size_pt(self) -> tuple[float, float]:
        """Sheet width and height in PDF points (1/72 inch)."""
        return self.width_mm / 25.4 * 72, self.height_mm / 25.4 * 72

    def css(self) -> str:
        """The print stylesheet for this paper.

        Returns:
            CSS text (no ``<style>`` tag).
        """
        return PRINT_CSS_TEMPLATE.format(size=self.name, margin=f"{self.margin_mm:g}mm",
                                         width=f"{self.printable_width_px}px")


#: The papers a report can be printed on, by option value.
PAPERS: dict[str, Paper] = {
    "a4": Paper("A4", 210.0, 297.0),
    "letter": Paper("letter", 215.9, 279.4),
}
#: Paper used when none is given (ISO A4; ``--paper letter`` for US Letter).
DEFAULT_PAPER = "a4"

#: The print stylesheet (``html body`` outranks the report's own styles, which come later).
PRINT_CSS_TEMPLATE = """
@page {{ size: {size} portrait; margin: {margin}; }}
html, body {{ margin: 0; padding: 0; background: #fff; }}
body {{ display: block; overflow: visible; width: {width};
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
body.jp-Notebook, .jp-Notebook, main, .jp-Cell, .jp-Cell-outputWrapper, .jp-OutputArea,
.jp-OutputArea-child, .jp-OutputArea-output {{ padding: 0 !important; margin: 0;
  overflow: visible !important; display: block; }}
.jp-Collapser {{ display: none; }}
.jp-RenderedHTMLCommon {{ padding-right: 0 !important; }}
.enb-new-page {{ break-before: page; }}
.enb-report-section h2 {{ break-after: avoid; }}
.enb-figure {{ break-inside: avoid; width: {width}; margin: 0.5em 0; }}
.enb-figure .plotly-graph-div {{ width: {width} !important; }}
html body table.enb-stats {{ max-width: {width}; font-size: 11px; }}
html body table.enb-stats th, html body table.enb-stats td {{ padding: 3px 6px; }}
"""


def check_paper(value: Any) -> Paper:
    """The :class:`Paper` for an option value.

    Args:
        value: ``"a4"`` or ``"letter"`` (case-insensitive), or a :class:`Paper`.

    Returns:
        The paper.

    Raises:
        ReportParameterError: unknown paper, naming the choices.
    """
    if isinstance(value, Paper):
        return value
    key = str(value).strip().lower()
    if key not in PAPERS:
        raise ReportParameterError(
            f"paper must be one of {', '.join(PAPERS)}, got {value!r}")
    return PAPERS[key]


def _looks_like_dates(values: Any) -> bool:
    """Whether an x array holds dates (ISO strings, dates or datetime64), judged by its first."""
    try:
        first = values[0]
    except (TypeError, IndexError, KeyError):
        return False
    if isinstance(first, (date, np.datetime64)):
        return True
    return isinstance(first, str) and bool(_ISO_START.match(first))


def _date_axes(fig: go.Figure) -> list[str]:
    """Layout names of the x axes that show dates (``xaxis``, ``xaxis2`` ...).

    An axis counts when its ``type`` is ``date``, or when it has no type and a trace on it has
    dates for x (plotly then draws a date axis too).
    """
    names = []
    for trace in fig.data:
        ref = getattr(trace, "xaxis", None) or "x"
        name = "xaxis" + ref[1:]
        axis_type = fig.layout[name].type if name in fig.layout else None
        if name not in names and (axis_type == "date" or (
                axis_type in (None, "-") and _looks_like_dates(getattr(trace, "x", None)))):
            names.append(name)
    return names


def print_figure(fig: go.Figure | dict[str, Any], paper: Paper, *,
                 max_height: int | None = None) -> go.Figure:
    """A copy of a report chart laid out for paper.

    The figure gets the printable width (fixed, no autosize), a smaller font, axes whose tick
    labels and titles grow the margins instead of being cut (``automargin``), ISO date labels on
    every time axis, and a height no larger than ``max_height`` (default: 45 % of the printable
    height, so a chart and its table share a page).

    Args:
        fig: a figure, or its plotly JSON (``{"data": ..., "layout": ...}``).
        paper: the paper.
        max_height: tallest chart in CSS pixels.

    Returns:
        A new figure (``fig`` is not changed).

    Usage::

        printed = print_figure(forecast_figure(...), PAPERS["a4"])
    """
    import plotly.graph_objects as go

    out = go.Figure(fig)
    limit = max_height or int(paper.printable_height_px * 0.45)
    height = min(int(out.layout.height or 450), limit)
    margin = out.layout.margin
    out.update_layout(
        width=paper.printable_width_px, height=height, autosize=False,
        font={"size": 11},
        margin={"l": 10, "r": 10, "t": max(int(margin.t or 40), 30), "b": 10, "pad": 0},
    )
    for name in [k for k in out.layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]:
        out.layout[name].automargin = True
    for name in _date_axes(out):
        out.layout[name].update(type="date", showticklabels=True, tickformat=DATE_TICK_FORMAT,
                                nticks=7, ticks="outside", ticklen=4, tickangle=0,
                                rangeslider={"visible": False})
    return out


def print_html(html_text: str, paper: Paper) -> str:
    """The print version of a report page: static charts sized to ``paper`` and print CSS.

    Every chart written by :class:`energy_nb.reports.content.FigureRenderer` (a plot ``<div>``
    followed by its ``<script type="application/json" class="enb-figure-spec">``) gets the
    print layout of :func:`print_figure` and :data:`PRINT_CONFIG`; the page gets the
    ``@page`` rule and print stylesheet of :meth:`Paper.css`.

    Args:
        html_text: the report HTML (plotly.js must be in the page, not from a CDN, for a PDF
            printed offline).
        paper: the paper.

    Returns:
        HTML text.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html_text, "html.parser")
    for tag in soup.select(f"script.{FIGURE_SPEC_CLASS}"):
        spec = json.loads(tag.string or "{}")
        fig = print_figure({"data": spec.get("data", []), "layout": spec.get("layout", {})},
                           paper)
        printed = json.loads(fig.to_json())
        spec.update(data=printed["data"], layout=printed["layout"], config=dict(PRINT_CONFIG))
        tag.string = json.dumps(spec).replace("</", "<\\/")
        target = soup.find(id=tag.get("data-target"))
        if target is not None:
            target["style"] = (f"width:{fig.layout.width}px; height:{fig.layout.height}px;")
    style = soup.new_tag("style", attrs={"id": "enb-print-css"})
    style.string = paper.css()
    if soup.head is None:
        raise ValueError("the report HTML has no <head>")
    soup.head.append(style)
    return str(soup)


__all__ = [
    "DATE_TICK_FORMAT",
    "DEFAULT_PAPER",
    "FIGURE_SPEC_CLASS",
    "PAPERS",
    "PRINT_CONFIG",
    "Paper",
    "check_paper",
    "print_figure",
    "print_html",
]
