"""The PDF report as a reader sees it: printed by real Chromium on A4 and on Letter.

The PDFs are read back with poppler's ``pdftotext -bbox`` (Debian ``poppler-utils``, installed by
``make test``): page sizes, where every word lies, and which words are there. The print page is
also opened in Chromium at the printable width to measure each chart's layout.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from energy_nb.reports.parameters import ReportParameterError
from energy_nb.reports.printing import (
    FIGURE_SPEC_CLASS,
    PAPERS,
    Paper,
    print_figure,
    print_html,
)
from energy_nb.reports.run import export_notebook, find_chromium, notebook_to_html, run_report
from tests.conftest import IN_CI
from tests.reports.conftest import run_cli

#: Two units (the NG axis on the right of the prices chart), a past as_of (actuals are drawn).
PARAMS = {"commodities": ["WTI", "NG"], "horizon": 5, "as_of": "2025-06-30", "eval_origins": 2,
          "backtest_days": 250, "history_days": 60, "plotlyjs": "cdn",
          "title": "Print check"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Words and phrases of plotly's toolbar (mode bar) and logo.
TOOLBAR_WORDS = {"zoom", "pan", "autoscale", "lasso", "plotly", "plotly.js"}
TOOLBAR_PHRASES = ("download plot", "reset axes", "box select", "produced with plotly",
                   "zoom in", "zoom out", "toggle spike")


def require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if IN_CI:
            pytest.fail(f"{tool} is required in CI (Debian poppler-utils / chromium)")
        pytest.skip(f"{tool} is not installed")
    return found


@dataclass
class Word:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class Page:
    width: float
    height: float
    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def read_pdf(pdf: Path) -> list[Page]:
    """Every page of ``pdf`` with its size and words (points, origin top left)."""
    out = subprocess.run([require("pdftotext"), "-bbox", str(pdf), "-"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    pages = []
    for m in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', out, re.S):
        words = [Word(html.unescape(w[4]), *map(float, w[:4])) for w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)'
            r"</word>", m.group(3))]
        pages.append(Page(float(m.group(1)), float(m.group(2)), words))
    return pages


def chart_specs(notebook: Path) -> list[dict]:
    """The plotly JSON of every chart in the executed report notebook."""
    nb = nbformat.read(notebook, as_version=4)
    outputs = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells
                      if c.cell_type == "code" for o in c.outputs)
    found = re.findall(rf'class="{FIGURE_SPEC_CLASS}"[^>]*>(.*?)</script>', outputs, re.S)
    return [json.loads(text) for text in found]


def find_line(page: Page, text: str) -> list[float]:
    """Top (pt) of each place where the words of ``text`` follow one another on ``page``."""
    parts = text.split()
    return [page.words[i].y0 for i in range(len(page.words) - len(parts) + 1)
            if [w.text for w in page.words[i:i + len(parts)]] == parts]


@pytest.fixture(scope="module")
def printed(report_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """The same report printed on Letter (``run_report``) and on A4 (``export_notebook``)."""
    import os

    if find_chromium() is None:
        if IN_CI:
            pytest.fail("Chromium is required in CI for the PDF report")
        pytest.skip("Chromium is not installed")
    out = tmp_path_factory.mktemp("pdf-reports")
    old = os.environ.get("ENERGY_NB_HOME")
    os.environ["ENERGY_NB_HOME"] = str(report_home)
    try:
        result = run_report(PARAMS, out_dir=out, formats=("ipynb", "pdf"), paper="letter")
    finally:
        if old is None:
            os.environ.pop("ENERGY_NB_HOME", None)
        else:
            os.environ["ENERGY_NB_HOME"] = old
    copy = tmp_path_factory.mktemp("pdf-export") / "elsewhere.ipynb"
    shutil.copy(result.files["ipynb"], copy)
    a4 = export_notebook(copy, "pdf", paper="a4")
    assert set(a4) == {"pdf"} and not copy.with_suffix(".html").exists()
    return {"letter": result.files["pdf"], "a4": a4["pdf"], "notebook": result.files["ipynb"]}


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_every_page_has_the_papers_size_in_portrait(printed, paper: str) -> None:
    pages = read_pdf(printed[paper])
    want_w, want_h = PAPERS[paper].size_pt
    assert len(pages) >= 5
    for number, page in enumerate(pages, 1):
        assert (page.width, page.height) == pytest.approx((want_w, want_h), abs=1.0), number


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_no_toolbar_or_logo_text_is_printed(printed, paper: str) -> None:
    pages = read_pdf(printed[paper])
    words = {w.text.lower().strip(".,:;()") for p in pages for w in p.words}
    assert words & TOOLBAR_WORDS == set()
    text = " ".join(p.text for p in pages).lower()
    for phrase in TOOLBAR_PHRASES:
        assert phrase not in text, phrase
    assert "Forecast: WTI" in text.replace("forecast: wti", "Forecast: WTI")  # text was read


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_every_chart_is_whole_on_one_page_with_its_axes_and_date_labels(printed,
                                                                        paper: str) -> None:
    sheet: Paper = PAPERS[paper]
    pages = read_pdf(printed[paper])
    margin_pt = sheet.margin_mm / 25.4 * 72
    for number, page in enumerate(pages, 1):  # nothing runs into the margins or off the sheet
        for w in page.words:
            assert margin_pt - 1 <= w.x0 and w.x1 <= page.width - margin_pt + 1, (number, w)
            assert margin_pt - 1 <= w.y0 and w.y1 <= page.height - margin_pt + 1, (number, w)
    specs = chart_specs(printed["notebook"])
    assert len(specs) == 1 + 2 + 2  # prices, a forecast and a backtest per commodity
    for spec in specs:
        layout = spec["layout"]
        title = layout["title"]["text"]
        where = [(k, top) for k, p in enumerate(pages) for top in find_line(p, title)]
        assert len(where) == 1, f"chart {title!r} found at {where}"
        page, top = pages[where[0][0]], where[0][1]
        height_pt = print_figure(spec, sheet).layout.height * 0.75  # CSS px -> pt
        assert top + height_pt <= page.height - margin_pt + 1, f"{title!r} runs off its page"
        band = [w for w in page.words if top - 10 <= w.y0 and w.y1 <= top + height_pt]
        words = {w.text for w in band}
        labels = [layout[k]["title"]["text"] for k in layout
                  if k.startswith("yaxis") and layout[k].get("title", {}).get("text")]
        labels += [t["name"] for t in spec["data"]
                   if t.get("name") and t.get("showlegend", True) is not False]
        assert any("/" in label or "$" in label for label in labels), labels  # a unit axis
        for label in labels:  # axis titles (the right-hand NG axis too) and legend entries
            for part in label.split():
                assert part in words, f"{part!r} of {label!r} missing from {title!r} ({paper})"
        ticks = [w.text for w in band if ISO_DATE.match(w.text)]
        assert len(ticks) >= 3, f"{title!r}: date labels {ticks}"


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_print_page_draws_static_charts_inside_the_printable_width(printed, paper: str,
                                                                   tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    sheet = PAPERS[paper]
    page_path = tmp_path / "print.html"
    page_path.write_text(print_html(notebook_to_html(printed["notebook"], "t", "inline"), sheet),
                         encoding="utf-8")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=args)
        try:
            page = browser.new_page(viewport={"width": sheet.printable_width_px, "height": 1000})
            page.route("http*://**", lambda route: route.abort())
            page.emulate_media(media="print")
            page.goto(page_path.resolve().as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.enb-figure .main-svg').length >= 5", timeout=30_000)
            charts = page.evaluate("""() => [...document.querySelectorAll(
                '.enb-figure .js-plotly-plot')].map(el => {
                  const box = el.getBoundingClientRect();
                  const out = [...el.querySelectorAll('text')].filter(t => t.textContent.trim())
                    .map(t => [t.textContent, t.getBoundingClientRect()])
                    .filter(([_, r]) => r.width > 0 && (r.left < box.left - 1
                            || r.right > box.right + 1 || r.top < box.top - 1
                            || r.bottom > box.bottom + 1))
                    .map(([s]) => s);
                  return {width: box.width, svg: el.querySelector('.main-svg')
                            .getBoundingClientRect().width, outside: out,
                          xticks: [...el.querySelectorAll('.xtick text')]
                            .map(t => t.textContent),
                          title: (el.querySelector('.gtitle') || {}).textContent};
                })""")
            modebars = page.evaluate("document.querySelectorAll('.modebar-btn').length")
            body_width = page.evaluate("document.documentElement.scrollWidth")
        finally:
            browser.close()
    assert modebars == 0
    assert body_width <= sheet.printable_width_px
    assert len(charts) == 5
    for chart in charts:
        assert chart["width"] == pytest.approx(sheet.printable_width_px, abs=1), chart["title"]
        assert chart["svg"] <= sheet.printable_width_px, chart["title"]
        assert chart["outside"] == [], chart["title"]
        assert len(chart["xticks"]) >= 3 and all(ISO_DATE.match(t) for t in chart["xticks"]), (
            chart["title"], chart["xticks"])


def test_an_unknown_paper_is_rejected_before_anything_runs(report_home: Path,
                                                           tmp_path: Path) -> None:
    res = run_cli(report_home, "report", "--paper", "a5", "--format", "pdf",
                  "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "--paper" in res.stderr and "'a4', 'letter'" in res.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(ReportParameterError, match="paper must be one of a4, letter"):
        run_report({"commodities": ["WTI"]}, out_dir=tmp_path / "out2", paper="A5")
    assert not (tmp_path / "out2").exists()
