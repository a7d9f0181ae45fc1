"""Browser-test harness: a real store, a real Voilà server, a real headless Chromium.

Fixtures (reuse them for every dashboard page):

* ``energy_home`` (session) — an ``ENERGY_NB_HOME`` folder in tmp with the real EIA snapshot
  imported through the ``energy-nb data import`` command line.
* ``voila_factory`` (module) — ``voila_factory(notebooks=REPO/"notebooks", env=None,
  preheat=False)`` starts Voilà on a free port (``energy_nb.app.start``, the packaged config)
  with ``ENERGY_NB_HOME=energy_home``, waits until it answers and returns a :class:`VoilaServer`;
  every server is stopped at the end of the module.
* ``voila_server`` (module) — the project's ``notebooks/`` served that way.
* ``browser`` (session) — headless Chromium through Playwright with ``/usr/bin/chromium``
  (never ``playwright install``). With ``CI=true`` a launch failure FAILS; otherwise it skips.
* ``page`` (function) / ``module_page`` (module) — a fresh page (downloads accepted, requests
  leaving 127.0.0.1 aborted, uncaught page errors collected in ``page.console_errors``).

Helpers: :func:`render_url`, :func:`wait_for_plot`, :func:`plot_data`, :func:`download_csv`.

Usage::

    @pytest.mark.browser
    def test_x(voila_server, page):
        page.goto(render_url(voila_server, "history.ipynb"))
        wait_for_plot(page, ".enb-history-chart")
"""

from __future__ import annotations

import collections

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
#: Milliseconds a page gets to render (Voilà executes the notebook first; the 2-core machine is
#: shared, so this is generous; a healthy page renders in well under 15 s).
PAGE_TIMEOUT = 120_000
SNAPSHOT_FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``browser`` (and ``slow``)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def energy_nb_script() -> list[str]:
    """The installed ``energy-nb`` console script (beside this Python), else ``python -m``."""
    script = Path(sys.executable).with_name("energy-nb")
    return [str(script)] if script.exists() else [sys.executable, "-m", "energy_nb.cli"]


@pytest.fixture(scope="session")
def energy_home(eia_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ENERGY_NB_HOME with the real WTI, Brent and Henry Hub history imported via the CLI."""
    home = tmp_path_factory.mktemp("energy_home")
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    for code, name in SNAPSHOT_FILES.items():
        done = subprocess.run(
            [*energy_nb_script(), "data", "import", str(eia_dir / name), "--commodity", code],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, f"import of {name} failed: {done.stderr}"
    return home


@dataclass
class VoilaServer:
    """A running Voilà.

    Attributes:
        url: base URL ending with ``/``.
        process: the Voilà process.
        log_path: file with Voilà's output (read it when a test fails).
        notebooks: the folder served.
    """

    url: str
    process: subprocess.Popen
    log_path: Path
    notebooks: Path

    def log(self) -> str:
        """Voilà's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def render_url(server: VoilaServer, notebook: str) -> str:
    """URL of a notebook rendered by Voilà."""
    return f"{server.url}voila/render/{notebook}"


@pytest.fixture(scope="module")
def voila_factory(
    energy_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., VoilaServer]]:
    """Start Voilà servers (free port, packaged config); all stopped at the end of the module."""
    from energy_nb.app import AppOptions, start, stop

    started: list[tuple[subprocess.Popen, Any]] = []

    def factory(
        notebooks: Path = REPO / "notebooks",
        env: dict[str, str] | None = None,
        preheat: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> VoilaServer:
        log_path = tmp_path_factory.mktemp("voila") / "voila.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
        options = AppOptions(
            notebooks=Path(notebooks), port=0, open_browser=False, preheat=preheat,
            extra_args=extra_args, warm_kernels=0,
            env={"ENERGY_NB_HOME": str(energy_home), **(env or {})},
        )
        process, urls = start(options, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return VoilaServer(urls["tree"].replace("localhost", "127.0.0.1"), process, log_path,
                           Path(notebooks))

    yield factory
    for process, log in started:
        stop(process)
        log.close()


@pytest.fixture(scope="module")
def voila_server(voila_factory: Callable[..., VoilaServer]) -> VoilaServer:
    """Voilà serving the project's notebooks/ with the test store."""
    return voila_factory()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (system binary). Fails in CI, skips elsewhere, when it cannot start.

    Module-scoped: Playwright's sync API keeps its event loop registered as running in the main
    thread while it is open, so it is stopped after each browser module and never leaks into the
    tests that follow (asyncio tests, or other code using Playwright).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if IN_CI:
            pytest.fail(f"playwright is not installed: {exc}")
        pytest.skip(f"playwright is not installed: {exc}")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if IN_CI:
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                           headless=True)
    except Exception as exc:
        manager.stop()
        if IN_CI:
            pytest.fail(f"cannot launch Chromium ({CHROMIUM}): {exc}")
        pytest.skip(f"cannot launch Chromium ({CHROMIUM}): {exc}")
    yield chromium
    chromium.close()
    manager.stop()


def new_page(browser: Any, timeout: float = PAGE_TIMEOUT) -> tuple[Any, Any]:
    """A fresh context and page: downloads accepted, requests leaving 127.0.0.1 aborted, uncaught
    page errors collected in ``page.console_errors``, ``timeout`` ms for every wait.

    Returns:
        ``(context, page)``; close the context when done.
    """
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    context.route(
        lambda url: not url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")),
        lambda route: route.abort(),
    )
    pg = context.new_page()
    pg.console_errors = []
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    pg.console_log = collections.deque(maxlen=200)  # for describe_page after a failure
    pg.on("console", lambda msg: pg.console_log.append(f"{msg.type}: {msg.text}"[:500]))
    pg.set_default_timeout(timeout)
    pg.set_default_navigation_timeout(timeout)
    return context, pg


def describe_page(page: Any) -> str:
    """What a page shows and said, for a failed test's output: its URL, uncaught errors, the
    last console messages, how many plotly charts and widget views it has, and its text's head.

    Usage::

        except Exception:
            print(describe_page(page))
            raise
    """
    try:
        counts = page.evaluate(
            """() => ({plots: document.querySelectorAll('.js-plotly-plot').length,
                       views: document.querySelectorAll('.jupyter-widgets').length,
                       roots: [...document.querySelectorAll('.enb-page-root')]
                              .map(e => e.className)})""")
        text = page.inner_text("body")[:1500]
    except Exception as exc:  # the page itself may be gone
        counts, text = f"(cannot read the page: {exc})", ""
    log = "\n".join(getattr(page, "console_log", []))
    return (f"--- page {page.url}\npage errors: {page.console_errors}\nDOM: {counts}\n"
            f"console (last messages):\n{log[-6000:]}\nbody text:\n{text}")


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page; no network beyond 127.0.0.1 (external requests are aborted)."""
    context, pg = new_page(browser)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def module_page(browser: Any) -> Iterator[Any]:
    """One browser page shared by a module's tests.

    A dashboard is rendered once and driven many times.
    """
    context, pg = new_page(browser)
    yield pg
    context.close()


#: JS: the plotly graph div of a selector (the FigureWidget element itself, or a plot inside).
FIND_GD = """(sel) => document.querySelector(sel + '.js-plotly-plot')
                     || document.querySelector(sel + ' .js-plotly-plot')"""


def open_page(page: Any, server: "VoilaServer", notebook: str) -> None:
    """Navigate to a rendered notebook without waiting for every resource to load."""
    page.goto(render_url(server, notebook), wait_until="commit")


def wait_for_plot(page: Any, container: str, timeout: float = PAGE_TIMEOUT) -> None:
    """Wait until a plotly chart inside ``container`` (CSS selector) has drawn its traces.

    Args:
        page: playwright page.
        container: selector of the FigureWidget (e.g. ``.enb-history-chart``).
        timeout: milliseconds.
    """
    page.wait_for_function(
        f"""(sel) => {{ const gd = ({FIND_GD})(sel);
                      return !!(gd && gd.data && gd.data.length > 0 && gd._fullLayout); }}""",
        arg=container, timeout=timeout,
    )


def download_csv(page: Any, link_selector: str = "a.enb-csv-link") -> tuple[str, str]:
    """Click a page's CSV download link in the browser and read the file it saved.

    Returns:
        ``(suggested file name, file text)``.
    """
    link = page.locator(link_selector)
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_text()


def plot_data(page: Any, container: str) -> list[dict[str, Any]]:
    """The traces plotly drew in ``container``:
    ``[{name, n, x_first, x_last, y_first, y_last}]``."""
    return page.evaluate(
        f"""(sel) => {{ const gd = ({FIND_GD})(sel);
            if (!gd || !gd.data) return [];
            const arr = (v) => v ? Array.from(v) : [];
            return gd.data.map(t => {{ const x = arr(t.x), y = arr(t.y);
              return {{name: t.name, n: x.length, x_first: String(x[0]),
                      x_last: String(x[x.length-1]), y_first: y[0], y_last: y[y.length-1],
                      yaxis: t.yaxis || 'y'}}; }}); }}""",
        container,
    )
