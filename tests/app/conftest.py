"""Fixtures for the app server tests: a folder of small notebooks and a running app server."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def notebook(*sources: str) -> str:
    """A notebook (JSON text) with one code cell per source, Python 3 kernel."""
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
              "outputs": [], "source": src} for i, src in enumerate(sources)]
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def small_notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``index`` (links), ``dash`` (a slider), and ``explore`` / ``report`` (never served)."""
    folder = tmp_path_factory.mktemp("notebooks")
    (folder / "index.ipynb").write_text(notebook(
        "from IPython.display import HTML\n"
        "HTML('<a class=\"to-dash\" href=\"dash.ipynb\">Dash</a>')"))
    (folder / "dash.ipynb").write_text(notebook(
        "import ipywidgets as w\nw.IntSlider(value=3, description='enb-slider')"))
    (folder / "explore.ipynb").write_text(notebook("print('research')"))
    (folder / "report.ipynb").write_text(notebook("print('report')"))
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.ipynb").write_text(notebook("print('nested')"))
    return folder


@pytest.fixture(scope="module")
def app_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """``app_factory(notebooks, env=None, **AppOptions fields)`` -> base URL of a started app server
    (``energy_nb.app.start``, output in a log file; no warm kernels unless ``warm_kernels``); all
    stopped at the end of the module."""
    from energy_nb.app import AppOptions, start, stop

    started: list[Any] = []

    def factory(notebooks: Path, env: dict[str, str] | None = None, **fields: Any) -> str:
        log = open(tmp_path_factory.mktemp("app") / "voila.log", "w")  # noqa: SIM115
        home = tmp_path_factory.mktemp("home")
        fields.setdefault("warm_kernels", 0)  # tests of the warm pool ask for it
        options = AppOptions(notebooks=notebooks, port=0, open_browser=False,
                             env={"ENERGY_NB_HOME": str(home), **(env or {})}, **fields)
        process, urls = start(options, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return urls["base"].replace("localhost", "127.0.0.1")

    yield factory
    for process, log in started:
        stop(process)
        log.close()


def http_get(url: str, timeout: float = 120.0) -> tuple[int, dict[str, str], str]:
    """``(status, headers, body)`` of a GET that follows no redirect."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode(errors="replace")


def visitors(base: str) -> dict[str, Any]:
    """The app's ``/energy_nb/api/visitors`` counts."""
    return json.loads(http_get(base + "energy_nb/api/visitors", timeout=30)[2])


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.5) -> float:
    """Poll ``predicate`` until true; return the seconds it took (fail after ``timeout``)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start
