"""The app launcher (energy_nb.app, ``energy-nb app``) and the landing page builder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from energy_nb.app import (
    APP_CONFIG_DIR,
    AppError,
    AppOptions,
    check_port_free,
    load_app_config,
    voila_command,
)
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.ui.landing import available_pages, build_landing_page

REPO = Path(__file__).resolve().parents[2]
ENB = [str(Path(sys.executable).with_name("energy-nb"))]


def test_packaged_config_preheats_and_hides_tracebacks():
    cfg = load_app_config()
    assert cfg["VoilaConfiguration"]["preheat_kernel"] is True
    assert cfg["VoilaConfiguration"]["default_pool_size"] == 1
    assert cfg["VoilaConfiguration"]["show_tracebacks"] is False
    assert cfg["Voila"]["port_retries"] == 0  # never silently serve on another port
    assert cfg["MappingKernelManager"]["cull_idle_timeout"] > 0
    assert cfg["VoilaExecutor"]["timeout"] > 0


def test_voila_command_reads_the_packaged_config_first(tmp_path):
    argv = voila_command(AppOptions(notebooks=tmp_path, port=9999, preheat=False), 9999)
    assert argv[:3] == [sys.executable, "-m", "energy_nb.appserver"]
    assert str(tmp_path.resolve()) in argv and "--port=9999" in argv
    paths = [a.split("=", 1)[1] for a in argv if a.startswith("--Voila.config_file_paths=")]
    assert paths[0] == str(APP_CONFIG_DIR)
    assert "--VoilaConfiguration.preheat_kernel=False" in argv
    assert "--VoilaConfiguration.preheat_kernel=False" not in voila_command(
        AppOptions(notebooks=tmp_path), 9999)


def test_port_in_use_is_reported_with_the_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(AppError, match=f"port {port} on 127.0.0.1 is already in use"):
            check_port_free("127.0.0.1", port)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "70000"], "port must be between 0 and 65535"),
        (["--port", "abc"], "port must be an integer"),
        (["--notebooks", "/nonexistent/notebooks"], "notebooks folder not found"),
    ],
)
def test_cli_rejects_bad_arguments(args, message):
    done = subprocess.run([*ENB, "app", "--no-browser", *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert message in done.stderr


@pytest.mark.slow
def test_cli_serves_notebooks_and_live_server_and_stops_both_on_sigterm(tmp_path):
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    (notebooks / "index.ipynb").write_text((REPO / "notebooks" / "index.ipynb").read_text())
    env = {**os.environ, "ENERGY_NB_HOME": str(tmp_path / "home")}
    PriceStore(tmp_path / "home" / "energy_nb.sqlite")  # serve only reads: it needs a store
    proc = subprocess.Popen(
        [*ENB, "app", "--port", "0", "--no-browser", "--no-preheat", "--json",
         "--live-port", "0", "--notebooks", str(notebooks)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        urls = json.loads(line)["urls"]
        assert urls["landing"] == urls["base"]  # the landing page is the root URL
        tree = urls["tree"].replace("localhost", "127.0.0.1")
        with urllib.request.urlopen(tree, timeout=30) as resp:
            assert resp.status == 200
        port = int(tree.rsplit(":", 1)[1].strip("/"))
        live = urls["live"]
        assert live.startswith("ws://127.0.0.1:") and live.endswith("/api/v1/ws/forecast")
        live_port = int(live.split(":")[2].split("/")[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{live_port}/healthz", timeout=30) as resp:
            assert resp.status == 200
        # the launcher only starts and watches the servers: numpy and pandas (about 75 MiB
        # with SQLAlchemy) are never mapped into it
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "/numpy/" not in maps and "/pandas/" not in maps
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    # Voila and the live server (their own process groups) stopped with the CLI: ports free
    for p in (port, live_port):
        deadline = time.monotonic() + 10
        while True:
            try:
                check_port_free("127.0.0.1", p)
                break
            except AppError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def test_landing_page_links_existing_pages_and_shows_freshness(tmp_path, eia_dir):
    (tmp_path / "history.ipynb").write_text("{}")
    (tmp_path / "backtest.ipynb").write_text("{}")
    assert [p.notebook for p in available_pages(tmp_path)] == ["history.ipynb", "backtest.ipynb"]
    store = PriceStore(tmp_path / "s.sqlite")
    empty = build_landing_page(store, tmp_path).value
    assert "store is empty" in empty
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    html = build_landing_page(store, tmp_path).value
    assert 'href="history.ipynb"' in html and 'href="backtest.ipynb"' in html
    assert "forecast.ipynb" not in html
    assert "WTI: data through 2026-08-18 (source wti-daily.csv)" in html


def test_project_landing_links_the_history_page():
    assert "history.ipynb" in [p.notebook for p in available_pages(REPO / "notebooks")]
