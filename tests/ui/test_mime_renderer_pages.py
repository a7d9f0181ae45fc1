"""Pages that display plotly mime bundles keep plotly's mime renderer; the others drop it.

The app server leaves the ``jupyterlab-plotly`` extension (4.8 MB of plotly.js loaded eagerly) out
of every page not in :data:`energy_nb.appserver.assets.MIME_RENDERER_PAGES`. A page that displays
a ``figure_mimebundle`` without being listed would show empty charts, so this test derives the
list from the code: each dashboard notebook's page module and the ``energy_nb.ui`` modules it
imports. (``StaticChart`` needs no renderer under the app: it draws with the served bundle.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from energy_nb.appserver.assets import MIME_RENDERER, MIME_RENDERER_PAGES, page_config_hook

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "energy_nb" / "ui"
RESEARCH = {"explore.ipynb", "report.ipynb"}
USES_MIME = re.compile(r"\bfigure_mimebundle\(")


def _ui_modules(source: str) -> set[str]:
    return set(re.findall(r"energy_nb\.ui\.(\w+)", source))


def _shows_static_figures(module: str, seen: set[str]) -> bool:
    if module in seen or not (UI / f"{module}.py").exists():
        return False
    seen.add(module)
    source = (UI / f"{module}.py").read_text(encoding="utf-8")
    if module != "charts" and USES_MIME.search(source):
        return True
    return any(_shows_static_figures(m, seen) for m in _ui_modules(source))


def _needs_renderer() -> set[str]:
    pages = set()
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        if nb.name in RESEARCH:
            continue
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if any(_shows_static_figures(m, set()) for m in _ui_modules(source)):
            pages.add(nb.name)
    return pages


def test_mime_renderer_pages_is_exactly_the_pages_that_display_mime_bundles():
    assert _needs_renderer() == set(MIME_RENDERER_PAGES)


def test_hook_drops_the_renderer_only_where_unused():
    def config():
        return {"federated_extensions": [{"name": "@jupyter-widgets/jupyterlab-manager"},
                                         {"name": MIME_RENDERER}, {"name": "anywidget"}]}

    names = lambda cfg: [e["name"] for e in cfg["federated_extensions"]]  # noqa: E731
    assert MIME_RENDERER not in names(page_config_hook(config(), notebook_path="history.ipynb"))
    assert names(page_config_hook(config(), notebook_path="history.ipynb")) == [
        "@jupyter-widgets/jupyterlab-manager", "anywidget"]
    # under the app no dashboard keeps it: static charts draw with the served bundle
    for page in ("models.ipynb", "backtest.ipynb", "forecast.ipynb", "index.ipynb"):
        assert MIME_RENDERER not in names(page_config_hook(config(), notebook_path=page))
    assert MIME_RENDERER in names(page_config_hook(config(), notebook_path="sub/models.ipynb",
                                                   mime_renderer_pages={"models.ipynb"}))
