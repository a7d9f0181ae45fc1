"""Launch the dashboards: Voilà serving the project's ``notebooks/`` with the project's config.

The configuration lives in the package (``energy_nb/app_config/voila.json``): preheated kernels
(one per page, research and report notebooks excluded), tracebacks hidden from viewers, kernel
culling, a per-cell execution timeout and no silent port hopping (``port_retries = 0``). Voilà is
told to read that folder first (``--Voila.config_file_paths``), then the usual places.

Usage::

    from energy_nb.app import AppOptions, launch
    launch(AppOptions(port=8866, open_browser=False))   # blocks until Ctrl-C

or from the shell: ``energy-nb app --port 8866 --no-browser``.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_core.paths import jupyter_config_path

from energy_nb.config import PROJECT_ROOT

#: Folder holding ``voila.json``, shipped inside the package.
APP_CONFIG_DIR = Path(__file__).resolve().parent / "app_config"

#: The landing page every URL points to.
LANDING_NOTEBOOK = "index.ipynb"


class AppError(RuntimeError):
    """The app cannot start (bad folder, port in use, Voilà exited); the message says why."""


@dataclass(frozen=True)
class AppOptions:
    """How to launch the app.

    Attributes:
        notebooks: folder of notebooks to serve (default ``<project>/notebooks``).
        port: TCP port (``0`` = pick a free one).
        ip: interface to listen on.
        open_browser: open the landing page in a browser once the server answers.
        preheat: keep one preheated kernel per page (overrides ``voila.json`` when ``False``).
        extra_args: extra Voilà command-line arguments (``--Class.trait=value``).
        env: extra environment variables for Voilà and its kernels (e.g. ``ENERGY_NB_HOME``).
    """

    notebooks: Path = field(default_factory=lambda: PROJECT_ROOT / "notebooks")
    port: int = 8866
    ip: str = "127.0.0.1"
    open_browser: bool = True
    preheat: bool = True
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)


def load_app_config() -> dict:
    """The packaged Voilà configuration.

    Returns:
        The parsed ``voila.json``.

    Raises:
        AppError: if the file is missing or not valid JSON.
    """
    path = APP_CONFIG_DIR / "voila.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AppError(f"cannot read the app configuration {path}: {exc}") from exc


def free_port(ip: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def check_port_free(ip: str, port: int) -> None:
    """Raise :class:`AppError` naming the port if something already listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AppError(
                    f"port {port} on {ip} is already in use; stop the other server or pass "
                    "--port with another number"
                ) from None
            raise AppError(f"cannot listen on {ip}:{port}: {exc}") from None


def voila_command(options: AppOptions, port: int) -> list[str]:
    """The Voilà command line for ``options``.

    Args:
        options: launch options.
        port: the resolved port.

    Returns:
        ``argv`` starting with the current Python interpreter.
    """
    load_app_config()  # fail early and clearly if the packaged config is broken
    config_paths = [str(APP_CONFIG_DIR), *jupyter_config_path()]
    argv = [
        sys.executable, "-m", "voila",
        str(Path(options.notebooks).resolve()),
        f"--port={port}",
        f"--Voila.ip={options.ip}",
        "--no-browser",
    ]
    for path in config_paths:  # first path wins: the packaged config, then the usual places
        argv.append(f"--Voila.config_file_paths={path}")
    if not options.preheat:
        argv.append("--VoilaConfiguration.preheat_kernel=False")
    argv.extend(options.extra_args)
    return argv


def app_urls(ip: str, port: int) -> dict[str, str]:
    """URLs of the running app.

    Returns:
        ``{"landing": .../voila/render/index.ipynb, "tree": .../}``.
    """
    host = "localhost" if ip in ("127.0.0.1", "0.0.0.0", "") else ip
    base = f"http://{host}:{port}/"
    return {"landing": f"{base}voila/render/{LANDING_NOTEBOOK}", "tree": base}


def wait_until_serving(url: str, process: subprocess.Popen | None, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers HTTP (any status), the process dies, or time runs out.

    Raises:
        AppError: Voilà exited or did not answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AppError(f"Voilà exited with code {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AppError(f"Voilà did not answer at {url} within {timeout:.0f} s")


def start(options: AppOptions, *, stdout=None, stderr=None) -> tuple[subprocess.Popen, dict[str, str]]:
    """Start Voilà in the background and wait until it answers.

    Args:
        options: launch options.
        stdout, stderr: where Voilà's output goes (default: inherited).

    Returns:
        ``(process, urls)``; stop it with :func:`stop`.

    Raises:
        AppError: missing notebooks folder, port in use, or Voilà failing to start.
    """
    notebooks = Path(options.notebooks)
    if not notebooks.is_dir():
        raise AppError(f"notebooks folder not found: {notebooks}")
    port = options.port or free_port(options.ip)
    check_port_free(options.ip, port)
    env = {**os.environ, **options.env}
    process = subprocess.Popen(
        voila_command(options, port), env=env, cwd=str(notebooks), stdout=stdout, stderr=stderr,
        start_new_session=True,
    )
    urls = app_urls(options.ip, port)
    try:
        wait_until_serving(f"http://{options.ip}:{port}/", process)
    except AppError:
        stop(process)
        raise
    return process, urls


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a Voilà started by :func:`start` (SIGTERM to its process group, then SIGKILL)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


def launch(
    options: AppOptions,
    echo: Callable[[str], None] = print,
    on_ready: Callable[[dict[str, str]], None] | None = None,
) -> int:
    """Run the app in the foreground until Ctrl-C, SIGTERM/SIGHUP, or Voilà exits.

    Args:
        options: launch options.
        echo: where to print the URLs.
        on_ready: called with the URLs once the server answers.

    Returns:
        Voilà's exit code (0 after Ctrl-C).
    """
    process, urls = start(options, stdout=sys.stderr)  # our stdout carries only our URLs/JSON

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        echo(f"energy_nb dashboards: {urls['landing']}")
        echo(f"(all notebooks: {urls['tree']}; stop with Ctrl-C)")
        if on_ready is not None:
            on_ready(urls)
        if options.open_browser:
            webbrowser.open(urls["landing"])
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(process)  # Voilà runs in its own process group: never leave it behind
        for sig, handler in previous.items():
            signal.signal(sig, handler)
