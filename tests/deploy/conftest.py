"""Fixtures for the team-deployment tests: Debian nginx run as a child process on loopback.

* :class:`NginxProcess` — ``/usr/sbin/nginx`` in the foreground (``daemon off``) with the
  configuration from :func:`energy_nb.deploy.nginx.render_config` in a temp folder that holds
  its pid, logs and temp files; on a free loopback port.
* ``nginx_factory`` — ``nginx_factory(instances)`` starts one; all are stopped at teardown.

With ``CI=true`` a missing or failing nginx fails the test; elsewhere it skips.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from energy_nb.deploy.nginx import Instance, render_config
from tests.browser.conftest import browser  # noqa: F401 - the Chromium fixture, shared
from tests.live.conftest import redis_server  # noqa: F401 - a real redis-server, shared

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NGINX = "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else (shutil.which("nginx") or "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxProcess:
    """Debian nginx in the foreground, its files under ``prefix``, listening on 127.0.0.1."""

    def __init__(self, prefix: Path, instances: Sequence[Instance]) -> None:
        self.prefix = prefix
        self.port = free_port()
        for sub in ("logs",):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        self.conf = prefix / "nginx.conf"
        # as root, nginx would run its workers as "nobody", who cannot enter pytest's tmp folder
        user = getpass.getuser() if os.geteuid() == 0 else None
        self.conf.write_text(render_config(instances, f"127.0.0.1:{self.port}", user=user))
        self.error_log = prefix / "logs" / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 15.0) -> None:
        check = subprocess.run([NGINX, "-t", "-p", f"{self.prefix}/", "-c", str(self.conf),
                                "-e", str(self.error_log)], capture_output=True, text=True,
                               timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration: {check.stderr}")
        self.proc = subprocess.Popen(
            [NGINX, "-p", f"{self.prefix}/", "-c", str(self.conf), "-e", str(self.error_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen within {timeout} s: {self.log()}")

    def log(self) -> str:
        """The error log so far."""
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def stop(self) -> None:
        """SIGQUIT-free stop: SIGTERM (fast shutdown), then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture
def nginx_factory(tmp_path: Path) -> Iterator[Callable[[Sequence[Instance]], NginxProcess]]:
    """Start nginx in front of instances; every one started is stopped at teardown."""
    if not NGINX or not Path(NGINX).exists():
        if IN_CI:
            pytest.fail("nginx not found (/usr/sbin/nginx); `make test` installs it")
        pytest.skip("nginx not installed")
    started: list[NginxProcess] = []

    def factory(instances: Sequence[Instance]) -> NginxProcess:
        nginx = NginxProcess(tmp_path / f"nginx{len(started)}", instances)
        started.append(nginx)
        try:
            nginx.start()
        except Exception as exc:  # noqa: BLE001 - fail in CI, else skip
            if IN_CI:
                pytest.fail(f"cannot start nginx: {exc}")
            pytest.skip(f"cannot start nginx: {exc}")
        return nginx

    yield factory
    for nginx in started:
        nginx.stop()


# ------------------------------------------------------------------------------------------
# the app instances of a team deployment (the compose file runs the same command and env)

#: Environment variables every instance of a deployment shares: where the store is, and the
#: live servers' fan-out. (The store is named by ENERGY_NB_HOME until the store URL lands.)
SHARED_ENV = ("ENERGY_NB_HOME", "ENERGY_NB_BROADCAST_URL")


def app_arguments(port: int = 0, live_port: int = 0, ip: str = "127.0.0.1") -> list[str]:
    """``energy-nb`` arguments of one instance: the dashboards and their live server.

    The test turns preheating off and caps visitors, to spare the shared 2-core machine; the
    compose file keeps the defaults. ``--feed none``: prices arrive by ``energy-nb data``
    commands, and a broadcast reaches every instance through Redis.
    """
    return ["app", "--ip", ip, "--port", str(port), "--live-port", str(live_port),
            "--feed", "none", "--no-browser", "--json", "--no-preheat", "--max-visitors", "6"]


class AppInstance:
    """One ``energy-nb app`` process (Voilà and its live server) on free loopback ports."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}

    def launch(self) -> None:
        """Start the process (see :meth:`wait_ready`)."""
        from tests.browser.conftest import energy_nb_script

        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([*energy_nb_script(), *app_arguments()], env=self.env,
                                         stdout=subprocess.PIPE, stderr=log, text=True)

    def wait_ready(self, timeout: float = 240.0) -> None:
        """Wait for the one JSON line of URLs it prints when both its servers answer."""
        import json
        import select

        deadline = time.monotonic() + timeout
        assert self.proc is not None and self.proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                if line:
                    self.urls = json.loads(line)["urls"]
                    if "live" not in self.urls:
                        raise RuntimeError(f"instance {self.name}: no live server: {self.log()}")
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"instance {self.name} exited with {self.proc.returncode}: "
                                   f"{self.log()}")
        raise RuntimeError(f"instance {self.name} did not start within {timeout} s: {self.log()}")

    @property
    def app_address(self) -> str:
        """``127.0.0.1:PORT`` of its dashboards."""
        from urllib.parse import urlsplit

        return f"127.0.0.1:{urlsplit(self.urls['base']).port}"

    @property
    def live_address(self) -> str:
        """``127.0.0.1:PORT`` of its live server."""
        from urllib.parse import urlsplit

        return f"127.0.0.1:{urlsplit(self.urls['live']).port}"

    def instance(self) -> Instance:
        """How nginx reaches it."""
        return Instance(self.name, self.app_address, self.live_address)

    def log(self) -> str:
        """Its stderr so far (the tail)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-4000:]

    def stop(self) -> None:
        """SIGTERM: the app stops Voilà and its live server; SIGKILL after 60 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
