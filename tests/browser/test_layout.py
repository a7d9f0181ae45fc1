"""Every page fits the window (800, 1,280 and 1,920 px, and after a resize), carries the
navigation bar, makes no request off the machine, and keeps its selection in the URL.

Screenshots of every page at every width are saved under the test's tmp dir (``layout-*.png``).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from tests.browser.conftest import PAGE_TIMEOUT, render_url, wait_for_plot

WIDTHS = (800, 1280, 1920)
#: page -> (selector of its main chart or None, selector that says the page is ready)
PAGES = {
    "index.ipynb": (None, ".enb-landing .enb-card"),
    "history.ipynb": (".enb-history-chart", ".enb-history-chart"),
    "forecast.ipynb": (".enb-forecast-chart", ".enb-forecast-chart"),
    "models.ipynb": (None, ".enb-models-page .enb-nav"),
    "backtest.ipynb": (".enb-bt-equity", "button.enb-bt-run:not([disabled])"),
}

#: JS: visible controls lying (partly) outside the viewport horizontally.
OUTSIDE = """() => {
  const vw = document.documentElement.clientWidth, bad = [];
  const sel = 'input, button, select, textarea, [role=checkbox], [role=switch], ' +
              '.widget-toggle-button, a.modebar-btn';
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;           // not displayed
    if (r.left < -1 || r.right > vw + 1)
      bad.push(`${el.tagName.toLowerCase()}.${String(el.className).slice(0, 60)} "` +
               (el.value || el.textContent || el.getAttribute('aria-label') || '').slice(0, 30) +
               `" at ${Math.round(r.left)}..${Math.round(r.right)} (viewport ${vw})`);
  }
  return bad;
}"""

#: JS: width in px of the plotly drawing (its main svg) inside a container.
SVG_WIDTH = """(sel) => {
  const svg = document.querySelector(sel + ' .main-svg') ||
              document.querySelector(sel + '.js-plotly-plot .main-svg');
  return svg ? svg.getBoundingClientRect().width : null;
}"""


def _ready(page, notebook: str) -> None:
    chart, ready = PAGES[notebook]
    page.locator(ready).first.wait_for(timeout=PAGE_TIMEOUT)
    if chart:
        wait_for_plot(page, chart)


#: JS: every displayed chart is drawn at its box's width (plotly redraws after a resize).
SETTLED = """() => [...document.querySelectorAll('.js-plotly-plot')].every(gd => {
  const svg = gd.querySelector('.main-svg');
  return !svg || gd.clientWidth === 0 ||
         Math.abs(svg.getBoundingClientRect().width - gd.clientWidth) <= 2; })"""


def _fit(page, width: int) -> None:
    """Resize the window and give the page time to settle (plotly redraws debounced; on the
    shared 2-core machine that can take a few seconds)."""
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(900)
    try:
        page.wait_for_function(SETTLED, timeout=15_000, polling=200)
    except Exception:  # the assertions that follow say what is wrong
        pass


@pytest.mark.parametrize("notebook", list(PAGES))
def test_page_fits_every_width_and_stays_on_the_machine(voila_server, page, notebook, tmp_path):
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(render_url(voila_server, notebook), wait_until="commit")
    _ready(page, notebook)
    chart = PAGES[notebook][0]
    widths, statics = {}, {}
    for width in (1400, *WIDTHS, 1000):  # every width, reached by a resize, down and up
        _fit(page, width)
        page.screenshot(path=str(tmp_path / f"layout-{notebook[:-6]}-{width}.png"),
                        full_page=True)
        assert page.evaluate(OUTSIDE) == [], f"{notebook} at {width} px"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
        if chart:
            svg = page.evaluate(SVG_WIDTH, chart)
            assert svg is not None and svg <= width, f"{notebook}: chart {svg} px at {width} px"
            widths[width] = svg
        if notebook == "backtest.ipynb":
            statics[width] = page.evaluate(SVG_WIDTH, ".enb-bt-drawdown")
    if chart:  # the chart follows the window, both ways
        assert widths[800] <= 800 - 20 and widths[1920] > widths[1280] + 300, widths
        assert widths[1000] < widths[1920] - 300 and widths[1400] > widths[800], widths
    if notebook == "backtest.ipynb":  # its static chart (drawn with the same plotly) follows too
        assert statics[800] <= 800 - 20 and statics[1920] > statics[1280] + 150, statics
    # the navigation bar: real links to the landing page and the four dashboards
    nav = page.locator("nav.enb-nav a")
    hrefs = [nav.nth(i).get_attribute("href") for i in range(nav.count())]
    for target in ("index.ipynb", "history.ipynb", "forecast.ipynb", "models.ipynb",
                   "backtest.ipynb"):
        assert any(h.endswith(target) for h in hrefs), (target, hrefs)
    current = page.locator('nav.enb-nav a[aria-current="page"]')
    assert current.count() == 1 and current.get_attribute("href").endswith(notebook)
    # nothing fetched from anywhere but the app (Font Awesome included)
    host = urlparse(voila_server.url).netloc
    off = [u for u in requests
           if not u.startswith(("data:", "blob:")) and urlparse(u).netloc != host]
    assert off == []
    assert len(requests) > 5  # the recording saw the page's own requests
    # one plotly.js per page: the served widget bundle, never jupyterlab-plotly's second copy
    assert [u for u in requests if "jupyterlab-plotly" in u] == []
    if chart:
        assert len([u for u in requests if "widgetbundle.js" in u]) >= 1


def test_backtest_optimise_keeps_money_inputs_on_screen(voila_server, page, tmp_path):
    page.goto(render_url(voila_server, "backtest.ipynb"), wait_until="commit")
    _ready(page, "backtest.ipynb")
    page.locator(".enb-bt-optimise input[type=checkbox]").check()
    page.locator(".enb-bt-optimise-box .widget-text, .enb-bt-optimise-box select").first.wait_for()
    for width in (1400, 800):
        _fit(page, width)
        page.screenshot(path=str(tmp_path / f"layout-backtest-optimise-{width}.png"),
                        full_page=True)
        assert page.evaluate(OUTSIDE) == [], width
        for cls in ("capital", "commission", "fee", "slippage"):
            box = page.locator(f".enb-bt-{cls} input").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (cls, width, box)


def test_the_url_carries_the_selection(voila_server, page):
    url = render_url(voila_server, "history.ipynb")
    page.goto(url + "?commodity=NG&start=2005-06-01&end=2006-03-31&freq=weekly",
              wait_until="commit")
    wait_for_plot(page, ".enb-history-chart")
    page.wait_for_function("() => location.search.includes('freq=weekly')")
    assert "commodity=NG" in page.url and "start=2005-06-01" in page.url
    # the date pickers show ISO dates whatever the browser's locale (en-US here)
    assert page.locator(".enb-start input").input_value() == "2005-06-01"
    assert page.locator(".enb-end input").input_value() == "2006-03-31"
    page.locator(".enb-freq button", has_text="Monthly").click()
    page.wait_for_function("() => location.search.includes('freq=monthly')")
    shared = page.url
    # the shared link reopens the same view in a fresh page
    other = page.context.new_page()
    other.goto(shared, wait_until="commit")
    wait_for_plot(other, ".enb-history-chart")
    other.wait_for_function("() => location.search.includes('freq=monthly')")
    x = other.evaluate("""() => { const gd = document.querySelector('.enb-history-chart');
        return [gd.data[0].name, gd.data[0].x[0], gd.data[0].x.length]; }""")
    assert x[0].startswith("NG") and str(x[1]).startswith("2005-06") and x[2] <= 12
    other.close()


def test_dark_theme_follows_the_system_setting(browser, voila_server, tmp_path):
    from tests.browser.conftest import new_page

    colours = {}
    for scheme in ("light", "dark"):
        context, page = new_page(browser)
        page.emulate_media(color_scheme=scheme)
        page.goto(render_url(voila_server, "history.ipynb"), wait_until="commit")
        wait_for_plot(page, ".enb-history-chart")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(tmp_path / f"history-{scheme}.png"))
        colours[scheme] = page.evaluate(r"""() => {
            const bg = (el) => getComputedStyle(el).backgroundColor;
            const svg = document.querySelector('.enb-history-chart .main-svg');
            const tick = document.querySelector('.enb-history-chart .xtick text');
            const input = document.querySelector('.enb-start input');
            // the traces are not hidden under another layer: the topmost element at a point
            // of the price line is part of the plot's drawing, not an opaque cover
            const over = [...document.querySelectorAll('.enb-history-chart .main-svg')]
                .slice(1).map(bg).filter(c => !/rgba\(0, 0, 0, 0\)|transparent/.test(c));
            return {body: bg(document.body), chart: bg(svg), tick: getComputedStyle(tick).fill,
                    input: bg(input), covers: over}; }""")
        context.close()

    def dark(rgb: str) -> bool:
        r, g, b = (float(v) for v in re.findall(r"[\d.]+", rgb)[:3])
        return r + g + b < 3 * 80

    light, night = colours["light"], colours["dark"]
    assert not dark(light["body"]) and not dark(light["chart"]), light
    assert dark(night["body"]) and dark(night["chart"]) and dark(night["input"]), night
    assert not dark(night["tick"]), night  # light text on the dark chart
    assert night["covers"] == [] and light["covers"] == [], colours


def test_models_tables_fit_sort_and_page(voila_factory, browser, energy_home, tmp_path):
    """With an evaluation recorded, the comparison and runs tables fit an 800 px window (they
    scroll in their own box) and sort by a click on a header."""
    import shutil

    from energy_nb.data.store import PriceStore
    from energy_nb.service.diagnostics import quick_evaluation
    from tests.browser.conftest import new_page

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(energy_home / "energy_nb.sqlite", home / "energy_nb.sqlite")
    quick_evaluation(PriceStore(home / "energy_nb.sqlite"), "WTI",
                     ("random_walk", "drift", "theta"), n_origins=3, horizon=10, step=10)
    server = voila_factory(env={"ENERGY_NB_HOME": str(home)})
    context, page = new_page(browser)
    try:
        page.set_viewport_size({"width": 800, "height": 900})
        page.goto(render_url(server, "models.ipynb"), wait_until="commit")
        table = page.locator("table.enb-comparison-rows")
        table.wait_for()
        page.wait_for_selector("table.enb-comparison-rows[data-enb-ready]")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(tmp_path / "layout-models-tables-800.png"))
        assert page.evaluate(OUTSIDE) == []
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
        for sel in ("table.enb-comparison-rows", "table.enb-runs-rows"):
            box = page.locator(sel).locator("xpath=..").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 800, (sel, box)
        # sort by mean rMAE: ascending, then descending on a second click
        header = table.locator("th", has_text="rMAE mean")
        column = table.locator("tr").first.locator("th").all_inner_texts().index(
            header.inner_text())

        def values() -> list[float]:
            rows = table.locator("tr")
            return [float(rows.nth(i).locator("td").nth(column).inner_text())
                    for i in range(1, rows.count())]

        header.click()
        assert header.get_attribute("aria-sort") == "ascending"
        assert values() == sorted(values()) and len(values()) == 3
        header.click()
        assert values() == sorted(values(), reverse=True)
        assert "Relative mean absolute error" in (header.locator("abbr").get_attribute("title"))
    finally:
        context.close()
