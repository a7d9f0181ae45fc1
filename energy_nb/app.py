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

import dataclasses
import errno
import json
import os
import select
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

#: Root of the app's Voilà page template (``voila/templates/energy_nb``): no CDN, the dashboards'
#: stylesheet (fit any window, dark theme) and the URL-state script. Put on ``JUPYTER_PATH``.
TEMPLATE_ROOT = APP_CONFIG_DIR / "jupyter"
#: Name of that template.
TEMPLATE_NAME = "energy_nb"

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
        f"--VoilaConfiguration.template={TEMPLATE_NAME}",
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


def start(options: AppOptions, *, stdout=None,
          stderr=None) -> tuple[subprocess.Popen, dict[str, str]]:
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
    env["JUPYTER_PATH"] = os.pathsep.join(  # where Voilà finds the energy_nb template
        p for p in (str(TEMPLATE_ROOT), env.get("JUPYTER_PATH", "")) if p)
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


def start_live_server(
    port: int, ip: str = "127.0.0.1", env: dict[str, str] | None = None, timeout: float = 60.0
) -> tuple[subprocess.Popen, str]:
    """Start ``energy-nb serve`` (the live forecast WebSocket server) in the background.

    Args:
        port: its port (``0`` = a free one).
        ip: interface.
        env: environment (default: this process's).
        timeout: seconds to wait for it to print its URL.

    Returns:
        ``(process, websocket_url)``; stop it with :func:`stop`.

    Raises:
        AppError: it exited or did not report its URL in time (its stderr tail in the message).
    """
    code = "import sys; from energy_nb.cli import main; sys.exit(main())"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--host", ip, "--port", str(port), "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    try:
        url = str(json.loads(line)["url"])
    except (ValueError, KeyError, TypeError):
        stop(process)
        err = (process.stderr.read() or "").strip().splitlines()[-3:] if process.stderr else []
        raise AppError("the live server did not start: "
                       + (" | ".join(err) or "no output")) from None
    return process, url


def launch(
    options: AppOptions,
    echo: Callable[[str], None] = print,
    on_ready: Callable[[dict[str, str]], None] | None = None,
    live_port: int | None = None,
) -> int:
    """Run the app in the foreground until Ctrl-C, SIGTERM/SIGHUP, or Voilà exits.

    Args:
        options: launch options.
        echo: where to print the URLs.
        on_ready: called with the URLs once the server answers.
        live_port: also start the live forecast server on this port (``None`` = don't); its
            WebSocket URL is passed to the dashboards' kernels as ``ENERGY_NB_WS_URL``. A live
            server that cannot start is reported and the dashboards run without it.

    Returns:
        Voilà's exit code (0 after Ctrl-C).
    """
    if not Path(options.notebooks).is_dir():
        raise AppError(f"notebooks folder not found: {options.notebooks}")
    if options.port:
        check_port_free(options.ip, options.port)
    live: subprocess.Popen | None = None
    live_url: str | None = None
    if live_port is not None:
        try:
            live, live_url = start_live_server(live_port, options.ip,
                                               env={**os.environ, **options.env})
            options = dataclasses.replace(
                options, env={**options.env, "ENERGY_NB_WS_URL": live_url})
        except AppError as exc:
            echo(f"warning: {exc}; the dashboards run without live updates")
    try:
        process, urls = start(options, stdout=sys.stderr)  # our stdout: only our URLs/JSON
    except BaseException:
        if live is not None:
            stop(live)
        raise
    if live_url:
        urls = {**urls, "live": live_url}

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        echo(f"energy_nb dashboards: {urls['landing']}")
        echo(f"(all notebooks: {urls['tree']}; stop with Ctrl-C)")
        if live_url:
            echo(f"live forecast server: {live_url}")
        if on_ready is not None:
            on_ready(urls)
        if options.open_browser:
            webbrowser.open(urls["landing"])
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(process)  # Voilà runs in its own process group: never leave it behind
        if live is not None:
            stop(live)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
