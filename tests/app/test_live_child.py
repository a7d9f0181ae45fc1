"""The live server ``energy-nb app`` starts (``energy_nb.app.start_live_server``): its output
goes to a log file, so it keeps answering however much it logs (issue 13.14)."""

from __future__ import annotations

import json
import os
import socket
import urllib.request

import pytest
from websockets.sync.client import connect

from energy_nb.app import AppError, live_server_log_path, start_live_server, stop
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv


@pytest.fixture(scope="module")
def home(tmp_path_factory, eia_dir):
    """An ENERGY_NB_HOME whose store holds the WTI history."""
    folder = tmp_path_factory.mktemp("live-home")
    store = PriceStore(folder / "energy_nb.sqlite")
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    return folder


@pytest.mark.slow
def test_the_apps_live_server_still_answers_after_1000_connections(home):
    env = {**os.environ, "ENERGY_NB_HOME": str(home), "ENERGY_NB_API_KEY": ""}
    process, url = start_live_server(0, env=env, feed="none")
    try:
        assert process.stdout is None and process.stderr is None  # no pipe to fill up
        for i in range(1000):  # each connection logs ~150 bytes: 64 KiB pipes froze at ~430
            with connect(url, open_timeout=10, close_timeout=5) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "welcome", i
        port = int(url.split(":")[2].split("/")[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        with connect(url, open_timeout=10) as ws:
            ws.recv(timeout=10)  # welcome
            ws.send(json.dumps({"action": "subscribe", "commodity": "WTI", "horizon": 7}))
            reply = json.loads(ws.recv(timeout=30))
            assert reply["type"] == "subscribed" and reply["commodity"] == "WTI", reply
            ws.send(json.dumps({"action": "ping"}))
            assert json.loads(ws.recv(timeout=30))["type"] == "pong"
    finally:
        stop(process)
    log = live_server_log_path(env)
    assert log == home / "logs" / "live-server.log"
    assert log.stat().st_size > 64 * 1024  # more than a pipe holds, all of it written


def test_a_live_server_that_cannot_start_names_its_log_and_the_cause(home):
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(AppError, match="the live server did not start .*live-server.log"):
            start_live_server(port, env=env, feed="none", timeout=60)


def test_two_live_servers_started_at_once_on_one_home_each_report_their_own_url(home):
    """Instances sharing ENERGY_NB_HOME (one store) append to one live-server log; each must
    read its own server's URL there, not the first one printed after it started."""
    import threading

    env = {**os.environ, "ENERGY_NB_HOME": str(home), "ENERGY_NB_API_KEY": ""}
    started: dict[int, tuple] = {}
    errors: list[BaseException] = []

    def launch(i: int) -> None:
        try:
            started[i] = start_live_server(0, env=env, feed="none")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=launch, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert not errors, errors
        (first, first_url), (_second, second_url) = started[0], started[1]
        assert first_url != second_url
        stop(first)  # the URL the first launch reported dies with the first process
        with pytest.raises(OSError):
            connect(first_url, open_timeout=5).close()
        with connect(second_url, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
    finally:
        for process, _url in started.values():
            stop(process)
