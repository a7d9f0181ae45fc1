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
        for sub in ("logs", "temp"):
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
