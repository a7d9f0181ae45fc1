"""Behind nginx, a visitor logged in with ``?token=KEY`` on one instance is logged in on every
instance holding the same ``ENERGY_NB_API_KEY`` (failover, or an instance restarted): they sign
login cookies with a secret derived from the key, not with a random one per start."""

from __future__ import annotations

import http.client
import subprocess
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from energy_nb.app import AppOptions, start, stop
from energy_nb.deploy.nginx import COOKIE, UPSTREAM_HEADER, Instance

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

KEY = "team-key-123"


def request(port: int, path: str, cookies: dict[str, str]) -> http.client.HTTPResponse:
    """GET through nginx without following redirects; the body is left unread."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    return conn.getresponse()


def test_a_login_on_one_instance_holds_on_the_other(nginx_factory, tmp_path: Path):
    env = {"ENERGY_NB_HOME": str(tmp_path / "home"), "ENERGY_NB_API_KEY": KEY}
    servers: list[subprocess.Popen] = []
    ports = {}
    try:
        for name in ("a", "b"):
            log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            process, urls = start(
                AppOptions(port=0, open_browser=False, preheat=False, warm_kernels=0, env=env,
                           extra_args=("--EnergyVoila.require_api_key=True",)),
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            servers.append(process)
            ports[name] = int(urls["base"].rstrip("/").rsplit(":", 1)[1])
        proxy = nginx_factory([Instance(n, f"127.0.0.1:{p}", f"127.0.0.1:{p}")
                               for n, p in ports.items()])
        # no token: the login page
        refused = request(proxy.port, "/voila/render/index.ipynb", {COOKIE: "a"})
        assert refused.status in (302, 403), refused.status
        # ?token= on a: logged in, a login cookie
        first = request(proxy.port, f"/voila/render/index.ipynb?token={KEY}", {COOKIE: "a"})
        assert first.status == 200
        assert first.getheader(UPSTREAM_HEADER) == f"127.0.0.1:{ports['a']}"
        jar = SimpleCookie()
        for header in first.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        login = {k: m.value for k, m in jar.items() if k.startswith("username-")}
        assert login, first.headers.get_all("Set-Cookie")
        # the same cookie, now sent to b (as after a failover): still logged in
        moved = request(proxy.port, "/voila/render/index.ipynb", {COOKIE: "b", **login})
        assert moved.getheader(UPSTREAM_HEADER) == f"127.0.0.1:{ports['b']}"
        assert moved.status == 200, (moved.status, moved.getheader("Location"))
    finally:
        for process in servers:
            stop(process)
