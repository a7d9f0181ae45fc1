"""Launch the dashboards: the app server (Voilà, :mod:`energy_nb.appserver`) serving the
project's ``notebooks/`` with the project's config, and the live forecast server beside it.

The configuration lives in the package (``energy_nb/app_config/voila.json``): preheated kernels
(one per page, research and report notebooks excluded), tracebacks hidden from viewers, kernel
culling, a per-cell execution timeout and no silent port hopping (``port_retries = 0``). Voilà is
told to read that folder first (``--Voila.config_file_paths``), then the usual places. The
launcher adds the visitor policy (``--VisitorKernelManager.*``: at most ``max_visitors`` pages at
once, idle release), the front door (``/`` is the landing page; the file list only with
``tree``) and refuses a non-loopback address without ``ENERGY_NB_API_KEY`` unless ``insecure``.

The live server's output goes to ``$ENERGY_NB_HOME/logs/live-server.log`` (appended), never to
an unread pipe.

Usage::

    from energy_nb.app import AppOptions, launch
    launch(AppOptions(port=8866, open_browser=False))   # blocks until Ctrl-C

or from the shell: ``energy-nb app --port 8866 --no-browser``.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
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

#: The landing page, served at ``/``.
LANDING_NOTEBOOK = "index.ipynb"

#: Memory one visitor's kernel is assumed to take (MiB): the largest dashboard kernel measured
#: (issue 12: 130-350 MB per page kernel). The default ``--max-visitors`` divides the machine's
#: memory, less :data:`RESERVED_MEMORY_MIB`, by this.
MEMORY_PER_VISITOR_MIB = 350

#: Memory kept for the server, the preheated pool, the live server and the OS (MiB).
RESERVED_MEMORY_MIB = 2048

#: Seconds an open page may stay idle (no kernel message either way) before its kernel is
#: released (the page then says so and offers a reload).
DEFAULT_IDLE_TIMEOUT = 900.0

#: What drives the live server's updates (``energy-nb serve --feed``).
LIVE_FEEDS = ("poll", "replay", "none")

#: Addresses that only this machine can reach.
_LOOPBACK_NAMES = ("localhost", "ip6-localhost")
#: Addresses meaning "every interface".
_WILDCARD = ("", "0.0.0.0", "::", "[::]")


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
        max_visitors: pages served at once (``None`` = :func:`default_max_visitors`); beyond it
            a visitor gets a 503 "busy" page with ``Retry-After``.
        idle_timeout: seconds an open page may stay idle before its kernel is released
            (``0`` = never).
        tree: also serve Voilà's file list (``/voila/tree``).
        insecure: allow a non-loopback ``ip`` without ``ENERGY_NB_API_KEY``.
        feed: what drives the live server's updates: ``poll`` (FRED/EIA), ``replay`` (the
            stored history, for the offline demo) or ``none``.
        warm_kernels: warm kernels kept for crowds (``None`` = :func:`default_warm_kernels`;
            see :mod:`energy_nb.appserver.warm`); ignored without preheating.
    """

    notebooks: Path = field(default_factory=lambda: PROJECT_ROOT / "notebooks")
    port: int = 8866
    ip: str = "127.0.0.1"
    open_browser: bool = True
    preheat: bool = True
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    max_visitors: int | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    tree: bool = False
    insecure: bool = False
    feed: str = "poll"
    warm_kernels: int | None = None

    def __post_init__(self) -> None:
        if self.warm_kernels is not None and self.warm_kernels < 0:
            raise AppError(f"warm_kernels must be at least 0, got {self.warm_kernels}")
        if self.max_visitors is not None and self.max_visitors < 1:
            raise AppError(f"max_visitors must be at least 1, got {self.max_visitors}")
        if not (self.idle_timeout >= 0 and math.isfinite(self.idle_timeout)):
            raise AppError(f"idle_timeout must be a number of seconds >= 0, "
                           f"got {self.idle_timeout}")
        if self.feed not in LIVE_FEEDS:
            raise AppError(f"feed must be one of {', '.join(LIVE_FEEDS)}, got {self.feed!r}")

    def resolved_max_visitors(self) -> int:
        """``max_visitors``, or the default derived from the machine's memory."""
        return self.max_visitors if self.max_visitors is not None else default_max_visitors()

    def resolved_warm_kernels(self) -> int:
        """``warm_kernels``, or the default derived from the visitors admitted."""
        if not self.preheat:
            return 0
        if self.warm_kernels is not None:
            return self.warm_kernels
        return default_warm_kernels(self.resolved_max_visitors())


def machine_memory_mib() -> int | None:
    """Memory this process may use (MiB): the machine's, or a smaller cgroup limit.

    Returns:
        MiB, or ``None`` when it cannot be read (not Linux).
    """
    total: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) // 1024
                break
    except (OSError, ValueError, IndexError):
        total = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            cgroup = int(limit) // (1024 * 1024)
            total = cgroup if total is None else min(total, cgroup)
    except OSError:
        pass
    return total


def default_max_visitors(memory_mib: int | None = None) -> int:
    """Pages served at once by default: (memory - reserve) / memory per visitor, at least 1.

    Args:
        memory_mib: the machine's memory (default :func:`machine_memory_mib`; 4 GiB if unknown).

    Returns:
        ``max(1, (memory_mib - RESERVED_MEMORY_MIB) // MEMORY_PER_VISITOR_MIB)``.
    """
    memory = memory_mib if memory_mib is not None else (machine_memory_mib() or 4096)
    return max(1, (memory - RESERVED_MEMORY_MIB) // MEMORY_PER_VISITOR_MIB)


#: Most warm kernels kept by default (a crowd of 16 on one page, with the page's own preheated
#: kernel, is served without starting a kernel; see benchmarks/bench_visitors.py).
MAX_DEFAULT_WARM_KERNELS = 16


def default_warm_kernels(max_visitors: int) -> int:
    """Warm kernels kept by default: a quarter of the visitors admitted, 1 to 16.

    A warm kernel holds about 140 MiB. On a 24 GiB machine (62 visitors) that is 15 kernels
    (2.1 GiB); on an 8 GiB laptop (17 visitors), 4.

    Args:
        max_visitors: pages served at once.

    Returns:
        ``min(16, max(1, max_visitors // 4))``.
    """
    return min(MAX_DEFAULT_WARM_KERNELS, max(1, max_visitors // 4))


def is_loopback(ip: str) -> bool:
    """Whether ``ip`` (an address or host name to listen on) is reachable from this machine only.
    """
    if ip.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(ip.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(options: AppOptions, environ: dict[str, str] | None = None) -> list[str]:
    """Refuse to serve a non-loopback address without an API key; warn when it is served.

    Args:
        options: launch options.
        environ: environment (default: ``os.environ`` plus ``options.env``).

    Returns:
        Warnings to print (empty on loopback).

    Raises:
        AppError: non-loopback ``ip``, no ``ENERGY_NB_API_KEY`` and not ``insecure``.
    """
    if is_loopback(options.ip):
        return []
    env = environ if environ is not None else {**os.environ, **options.env}
    has_key = bool(env.get("ENERGY_NB_API_KEY", "").strip())
    if not has_key and not options.insecure:
        raise AppError(
            f"--ip {options.ip} makes the dashboards and the live server reachable from other "
            "machines; set ENERGY_NB_API_KEY (visitors then open the dashboards once with "
            "?token=<key>, and the live server requires it) or pass --insecure to serve "
            "everyone without a key")
    if has_key:
        return [f"warning: serving on {options.ip}, reachable from other machines; the "
                "dashboards and the live server require ENERGY_NB_API_KEY (open a dashboard "
                "once with ?token=<key>)"]
    return [f"warning: serving on {options.ip} WITHOUT an API key (--insecure): anyone who "
            "can reach this machine can use the dashboards and the live server"]


def reachable_host(ip: str) -> str:
    """A host name other machines (or this one) can use for a server listening on ``ip``.

    ``127.0.0.1`` -> ``localhost``; a wildcard (``0.0.0.0``, ``::``) -> this machine's primary
    address (no packet is sent to find it); anything else unchanged.
    """
    if ip in ("127.0.0.1", "localhost"):
        return "localhost"
    if ip in _WILDCARD:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only, no traffic
                address = probe.getsockname()[0]
            if address and not address.startswith("0."):
                return address
        except OSError:
            pass
        return socket.gethostname() or "localhost"
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


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
        sys.executable, "-m", "energy_nb.appserver",
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
    argv.append(f"--VisitorKernelManager.max_visitors={options.resolved_max_visitors()}")
    argv.append(f"--WarmPoolKernelManager.warm_pool_size={options.resolved_warm_kernels()}")
    argv.append(f"--VisitorKernelManager.idle_timeout={float(options.idle_timeout)}")
    if options.tree:
        argv.append("--EnergyVoila.tree=True")
    if not is_loopback(options.ip) and not options.insecure:
        argv.append("--EnergyVoila.require_api_key=True")  # the key itself travels in the env
    argv.extend(options.extra_args)
    return argv


def app_urls(ip: str, port: int, tree: bool = False) -> dict[str, str]:
    """URLs of the running app, with a host visitors can reach (never ``0.0.0.0``).

    Args:
        ip: the interface listened on.
        port: the port.
        tree: the file list is served.

    Returns:
        ``{"landing": base, "base": base, "tree": base}`` (``tree`` is the old name of the base
        URL), plus ``"local"`` (``http://localhost:PORT/``) on a wildcard address and
        ``"files"`` (``.../voila/tree/``) when ``tree``.
    """
    base = f"http://{reachable_host(ip)}:{port}/"
    urls = {"landing": base, "base": base, "tree": base}
    if ip in _WILDCARD:
        urls["local"] = f"http://localhost:{port}/"
    if tree:
        urls["files"] = f"{base}voila/tree/"
    return urls


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
    check_exposure(options)
    port = options.port or free_port(options.ip)
    check_port_free(options.ip, port)
    env = {**os.environ, **options.env}
    env["JUPYTER_PATH"] = os.pathsep.join(  # where Voilà finds the energy_nb template
        p for p in (str(TEMPLATE_ROOT), env.get("JUPYTER_PATH", "")) if p)
    process = subprocess.Popen(
        voila_command(options, port), env=env, cwd=str(notebooks), stdout=stdout, stderr=stderr,
        start_new_session=True,
    )
    urls = app_urls(options.ip, port, options.tree)
    local = "127.0.0.1" if options.ip in _WILDCARD else options.ip
    try:
        wait_until_serving(f"http://{_url_host(local)}:{port}/energy_nb/api/visitors", process)
    except AppError:
        stop(process)
        raise
    return process, urls


def _url_host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


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


def live_server_log_path(env: dict[str, str] | None = None) -> Path:
    """Where the live server started by the app writes its output:
    ``$ENERGY_NB_HOME/logs/live-server.log``."""
    from energy_nb.config import Settings

    return Settings.from_env(dict(env) if env is not None else None).home / "logs" / \
        "live-server.log"


def start_live_server(
    port: int, ip: str = "127.0.0.1", env: dict[str, str] | None = None, timeout: float = 60.0,
    feed: str = "none", log_path: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start ``energy-nb serve`` (the live forecast WebSocket server) in the background.

    Its stdout and stderr are appended to ``log_path`` (never to a pipe nobody reads: a full
    pipe froze the server after ~430 connections); its URL is read from that file.

    Args:
        port: its port (``0`` = a free one).
        ip: interface.
        env: environment (default: this process's).
        timeout: seconds to wait for it to print its URL.
        feed: ``serve --feed``: ``poll``, ``replay`` or ``none``.
        log_path: its log (default :func:`live_server_log_path`).

    Returns:
        ``(process, websocket_url)``; stop it with :func:`stop`.

    Raises:
        AppError: it exited or did not report its URL in time (its log's tail in the message).
    """
    if feed not in LIVE_FEEDS:
        raise AppError(f"feed must be one of {', '.join(LIVE_FEEDS)}, got {feed!r}")
    log_path = Path(log_path) if log_path is not None else live_server_log_path(env)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - the child holds it; closed below
    except OSError as exc:
        raise AppError(f"cannot write the live server's log {log_path}: {exc}") from None
    with log:
        log.write(f"--- energy-nb app: starting the live server "
                  f"({time.strftime('%Y-%m-%d %H:%M:%S')}, feed {feed})\n".encode())
        log.flush()
        offset = log.tell()
        code = "import sys; from energy_nb.cli import main; sys.exit(main())"
        process = subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--host", ip, "--port", str(port),
             "--feed", feed, "--json"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while True:
        url = _announced_url(log_path, offset, process.pid)
        if url is not None:
            return process, url
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            tail = _tail(log_path, offset)
            raise AppError(f"the live server did not start (log: {log_path}): "
                           + (" | ".join(tail) or "no output"))
        time.sleep(0.1)


def _announced_url(log_path: Path, offset: int, pid: int | None = None) -> str | None:
    """The ``url`` of the first JSON line written to ``log_path`` after ``offset`` by the
    server with process id ``pid`` on this host (any server when ``pid`` is ``None``).

    Instances sharing ``ENERGY_NB_HOME`` (one store) append to one log, and containers sharing
    it may reuse process ids: the line names its process and host.
    """
    host = socket.gethostname()
    try:
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                info = json.loads(line)
                if pid is not None and (info.get("pid") != pid
                                        or info.get("host", host) != host):
                    continue
                return str(info["url"])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return None


def _tail(log_path: Path, offset: int, lines: int = 3) -> list[str]:
    try:
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.strip().splitlines() if line.strip()][-lines:]


def _with_host(url: str, host: str) -> str:
    """``url`` with its host replaced (``ws://0.0.0.0:8000/x`` -> ``ws://HOST:8000/x``)."""
    parts = urllib.parse.urlsplit(url)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


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
        live_port: also start the live forecast server on this port (``None`` = don't), fed by
            ``options.feed``; its WebSocket URL is passed to the dashboards' kernels as
            ``ENERGY_NB_WS_URL``. A live server that cannot start is reported and the
            dashboards run without it.

    Returns:
        Voilà's exit code (0 after Ctrl-C).
    """
    if not Path(options.notebooks).is_dir():
        raise AppError(f"notebooks folder not found: {options.notebooks}")
    warnings = check_exposure(options)
    if options.port:
        check_port_free(options.ip, options.port)
    for warning in warnings:
        echo(warning)
    live: subprocess.Popen | None = None
    live_url: str | None = None
    if live_port is not None:
        live_env = {**os.environ, **options.env}
        try:
            live, listen_url = start_live_server(live_port, options.ip, env=live_env,
                                                 feed=options.feed)
            live_url, kernel_url = listen_url, listen_url
            if options.ip in _WILDCARD:  # never print ws://0.0.0.0; kernels run here
                live_url = _with_host(listen_url, reachable_host(options.ip))
                kernel_url = _with_host(listen_url, "127.0.0.1")
            options = dataclasses.replace(
                options, env={**options.env, "ENERGY_NB_WS_URL": kernel_url})
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
        if "local" in urls:
            echo(f"(on this machine: {urls['local']})")
        if "files" in urls:
            echo(f"(file list: {urls['files']})")
        idle = (f"released after {options.idle_timeout:g} s idle" if options.idle_timeout
                else "never released for idleness")
        echo(f"admitting up to {options.resolved_max_visitors()} visitors at once"
             + ("" if options.max_visitors is not None else
                f" (from {machine_memory_mib() or 4096} MiB memory at "
                f"{MEMORY_PER_VISITOR_MIB} MiB each; --max-visitors to change)")
             + f"; pages are {idle}")
        if options.resolved_warm_kernels():
            echo(f"keeping {options.resolved_warm_kernels()} warm kernels for crowds"
                 + ("" if options.warm_kernels is not None else " (--warm-kernels to change)"))
        if live_url:
            echo(f"live forecast server: {live_url} (feed: {options.feed}; log: "
                 f"{live_server_log_path({**os.environ, **options.env})})")
        echo("stop with Ctrl-C")
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
