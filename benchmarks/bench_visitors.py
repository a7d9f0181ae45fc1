"""Benchmark: many visitors at once — the dashboards against stock Voilà and a static page.

Stakeholders arrive together (a morning meeting, a link in an email). This opens N pages at the
same moment in one headless Chromium (``/usr/bin/chromium``), each page in its own browser
context, against three servers on loopback, one after the other under the same loads:

* ``app`` — ``energy-nb app`` as a user starts it (Voilà with the packaged configuration, the
  live server beside it), serving the real dashboards;
* ``voila`` — **stock Voilà** with its default settings serving a trivial one-FigureWidget
  notebook: what Voilà alone gives;
* ``floor`` — a static HTML page with one plotly chart and no kernel at all, served from a
  threaded ``http.server``: what the visitors' browsers alone cost on this machine (they share the
  cores with the server).

Loads (``--loads``):

* ``history-1``, ``history-8``, ``history-16``, ``forecast-1``, ``forecast-8``, ``forecast-16``:
  N visitors arriving at the same moment on one page;
* ``mixed-32``: 32 at once spread over the four dashboards (8 each);
* ``stream``: one new visitor every 2 s for 2 minutes, each stays 30 s, then closes the tab
  (pages in turn).

Each server is started afresh for each load and the load begins once it is ready (for the app:
its preheated kernels started and the machine quiet again), so loads do not leak into each other.
Per load and server: time from navigation to the first drawn chart (median, p95, worst), visitors
that failed (no chart within ``--timeout`` s, or an error page), CPU seconds of the whole server
process tree (Voilà, every kernel, the live server) per visitor, the same for the visitors'
Chromium (where the time goes on a machine the browsers share), and the tree's peak RSS divided
by the most visitors open at once. Beside it, the tree's peak PSS per open visitor: RSS summed
over processes counts each kernel's copy of the shared libraries (numpy, pandas, Python's own)
once per kernel, about 60 MiB each; PSS shares them out, so it is what the machine holds.

Targets (issue 12, this 2-core machine): 16 at once on one page and 32 at once over four pages:
p95 ≤ 2× the floor's p95 and ≤ 0.25× stock Voilà's; the stream: p95 ≤ 1.5× the floor's; no
visitor fails; memory ≤ 250 MiB per open visitor (at the crowd loads).

Usage::

    .venv/bin/python benchmarks/bench_visitors.py                      # every load, all servers
    .venv/bin/python benchmarks/bench_visitors.py --loads history-16 --servers app,floor
    .venv/bin/python benchmarks/bench_visitors.py --app-args "--max-visitors 40" --json

Loopback only; every load is bounded in visitors and time. Exit code 0 when it measured (PASS or
FAIL is in the table and in ``$ENERGY_NB_BENCH_JSON``), non-zero when it could not measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from app_env import as_installed  # noqa: E402  (benchmarks/ is the script's folder)
from bench_history import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    FIRST_CHART_JS,
    TRIVIAL_SOURCE,
    prepare_home,
    write_notebook,
)

PAGES = ("history", "forecast", "models", "backtest")
LOADS = ("history-1", "history-8", "history-16", "forecast-1", "forecast-8", "forecast-16",
         "mixed-32", "stream")
SERVERS = ("floor", "voila", "app")
#: Loads whose p95 is held against the floor and stock Voilà (issue 12).
CROWD_LOADS = ("history-16", "forecast-16", "mixed-32")
CROWD_FLOOR_RATIO = 2.0
CROWD_VOILA_RATIO = 0.25
STREAM_FLOOR_RATIO = 1.5
MEMORY_PER_VISITOR_MIB = 250.0
STREAM_EVERY_S = 2.0
STREAM_FOR_S = 120.0
STREAM_STAY_S = 30.0


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll ``url`` until it answers HTTP; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f} s")


def tree(pid: int) -> list:
    """The process and all its descendants (psutil processes; gone ones left out)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def wait_quiet(pid: int, timeout: float = 300.0, busy_below: float = 0.15,
               quiet_for: float = 3.0) -> float:
    """Wait until the process tree uses under ``busy_below`` cores for ``quiet_for`` seconds.

    Returns:
        Seconds waited.
    """
    start = time.monotonic()
    last = _tree_cpu(pid)
    calm_since = None
    while time.monotonic() - start < timeout:
        time.sleep(0.5)
        now = _tree_cpu(pid)
        busy = (now - last) / 0.5
        last = now
        if busy < busy_below:
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= quiet_for:
                break
        else:
            calm_since = None
    return time.monotonic() - start


def _tree_cpu(pid: int) -> float:
    total = 0.0
    for proc in tree(pid):
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - a process may vanish while we read it
            pass
    return total


@dataclass
class Served:
    """A running server: its process, the URL of each page, where it logs."""

    name: str
    process: subprocess.Popen
    urls: dict[str, str]
    log: Path
    cleanup: Callable[[], None] = lambda: None

    def stop(self) -> None:
        """Stop the whole process group (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(10)
        self.cleanup()


def start_floor(work: Path) -> Served:
    """A static page with one plotly chart (plotly.js served beside it), threaded http.server."""
    import plotly.graph_objects as go

    site = work / "floor"
    if not site.exists():
        site.mkdir()
        go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2])).write_html(
            str(site / "index.html"), include_plotlyjs="directory", full_html=True)
    port = free_port()
    log = work / "floor.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(site)],
        stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/index.html"
    wait_http(url, process)
    return Served("floor", process, {page: url for page in PAGES}, log)


def start_stock_voila(work: Path) -> Served:
    """Stock Voilà, default settings, serving a folder with the trivial notebook only."""
    folder = work / "stock"
    if not folder.exists():
        folder.mkdir()
        write_notebook(folder / "trivial.ipynb", TRIVIAL_SOURCE)
    port = free_port()
    log = work / "voila.log"
    env = as_installed({k: v for k, v in os.environ.items()
                        if not k.startswith(("JUPYTER_", "VOILA_"))}, work)
    process = subprocess.Popen(
        [sys.executable, "-m", "voila", str(folder), f"--port={port}", "--no-browser",
         "--Voila.ip=127.0.0.1"],
        cwd=str(folder), env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    wait_http(base, process)
    url = f"{base}voila/render/trivial.ipynb"
    return Served("voila", process, {page: url for page in PAGES}, log)


def start_app(work: Path, home: Path, extra: list[str],
              env: dict[str, str] | None = None) -> Served:
    """``energy-nb app`` exactly as a user runs it (plus ``extra`` arguments), on free ports.

    Args:
        work: folder for its log (``app.log``) and the environment's stub (one per server).
        home: its ``ENERGY_NB_HOME``.
        extra: more ``energy-nb app`` arguments (a repeated option overrides the defaults here).
        env: more environment variables, e.g. ``ENERGY_NB_DATABASE_URL``.

    Returns:
        The running server (stop it with :meth:`Served.stop`).
    """
    script = Path(sys.executable).with_name("energy-nb")
    log = work / "app.log"
    env = as_installed({**os.environ, "ENERGY_NB_HOME": str(home), **(env or {})}, work)
    port = free_port()
    process = subprocess.Popen(
        [str(script), "app", "--port", str(port), "--live-port", "0", "--no-browser", "--json",
         "--feed", "replay",
         *extra],
        env=env, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True,
        start_new_session=True)
    line = process.stdout.readline() if process.stdout else ""
    try:
        json.loads(line)["urls"]
    except (ValueError, KeyError, TypeError):
        Served("app", process, {}, log).stop()
        raise RuntimeError(f"energy-nb app did not report its URLs; see {log}: "
                           + log.read_text(errors="replace")[-2000:]) from None
    base = f"http://127.0.0.1:{port}/"
    return Served("app", process, {page: f"{base}voila/render/{page}.ipynb" for page in PAGES},
                  log)


# --------------------------------------------------------------------------- measuring


class TreeMonitor:
    """Samples a process tree's RSS and CPU every ``interval`` seconds in a thread.

    ``open_visitors`` is read at each sample: the memory figure is the peak RSS divided by the
    most visitors open at once.
    CPU time of a process is remembered after it exits (its last sample), so kernels shut down
    during the load still count.
    """

    def __init__(self, pid: int, open_visitors: Callable[[], int], interval: float = 0.5):
        self.pid = pid
        self.open_visitors = open_visitors
        self.interval = interval
        self.cpu_by_pid: dict[tuple[int, float], float] = {}
        self.browser_cpu_by_pid: dict[tuple[int, float], float] = {}
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_open = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMonitor:
        self._sample()
        self.cpu_start = sum(self.cpu_by_pid.values())
        self.browser_cpu_start = sum(self.browser_cpu_by_pid.values())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds the tree used since the monitor started."""
        return sum(self.cpu_by_pid.values()) - self.cpu_start

    @property
    def browser_cpu_seconds(self) -> float:
        """CPU seconds the visitors' Chromium (and its driver) used since the monitor started."""
        return sum(self.browser_cpu_by_pid.values()) - self.browser_cpu_start

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        rss = pss = 0
        for proc in tree(self.pid):
            try:
                with proc.oneshot():
                    t = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    self.cpu_by_pid[key] = t.user + t.system
                    memory = proc.memory_full_info()  # smaps_rollup: RSS and PSS
                    rss += memory.rss
                    pss += memory.pss
            except Exception:  # noqa: BLE001 - gone between listing and reading
                pass
        server = {p.pid for p in tree(self.pid)}
        for proc in tree(os.getpid())[1:]:
            if proc.pid in server:
                continue
            try:
                t = proc.cpu_times()
                self.browser_cpu_by_pid[(proc.pid, proc.create_time())] = t.user + t.system
            except Exception:  # noqa: BLE001
                pass
        visitors = self.open_visitors()
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_open = max(self.peak_open, visitors)


@dataclass
class LoadResult:
    """One load on one server."""

    load: str
    server: str
    visitors: int
    times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    browser_cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    peak_open: int = 0
    mib_per_open: float = 0.0
    pss_mib_per_open: float = 0.0
    wall_s: float = 0.0

    def stat(self, name: str) -> float:
        """``median``, ``p95`` or ``worst`` time to first chart; a failed visitor counts as
        the timeout (so a server where visitors fail cannot look fast)."""
        values = sorted(self.times + [math.inf] * len(self.failures))
        if not values:
            return math.nan
        if name == "median":
            return statistics.median(values)
        if name == "worst":
            return values[-1]
        rank = max(0, math.ceil(0.95 * len(values)) - 1)
        return values[rank]

    def row(self) -> dict:
        return {
            "load": self.load, "server": self.server, "visitors": self.visitors,
            "median_s": _r(self.stat("median")), "p95_s": _r(self.stat("p95")),
            "worst_s": _r(self.stat("worst")), "failed": len(self.failures),
            "cpu_s_per_visitor": _r(self.cpu_s / max(self.visitors, 1)),
            "browser_cpu_s_per_visitor": _r(self.browser_cpu_s / max(self.visitors, 1)),
            "peak_rss_mib": _r(self.peak_rss_mib), "peak_open": self.peak_open,
            "mib_per_open_visitor": _r(self.mib_per_open),
            "pss_mib_per_open_visitor": _r(self.pss_mib_per_open), "wall_s": _r(self.wall_s),
            "failures": self.failures[:5], "times": [_r(t) for t in self.times],
        }


def _r(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 2)


def plan(load: str) -> list[tuple[float, str, float | None]]:
    """The visitors of a load: (arrival second, page, seconds to stay or None = until all done)."""
    if load == "stream":
        count = int(STREAM_FOR_S / STREAM_EVERY_S)
        return [(i * STREAM_EVERY_S, PAGES[i % len(PAGES)], STREAM_STAY_S) for i in range(count)]
    page, _, n = load.partition("-")
    if page == "mixed":
        return [(0.0, PAGES[i % len(PAGES)], None) for i in range(int(n))]
    if page not in PAGES or not n.isdigit():
        raise ValueError(f"unknown load {load!r}; choose from {', '.join(LOADS)}")
    return [(0.0, page, None) for _ in range(int(n))]


async def run_load(served: Served, load: str, timeout: float) -> LoadResult:
    """Send the load's visitors to ``served`` and measure."""
    from playwright.async_api import async_playwright

    visitors = plan(load)
    result = LoadResult(load, served.name, len(visitors))
    state = {"open": 0}
    all_done = asyncio.Event()
    pending = {"n": len(visitors)}

    async def visit(browser, delay: float, page_name: str, stay: float | None) -> None:
        await asyncio.sleep(delay)
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        state["open"] += 1
        opened = time.perf_counter()
        try:
            page = await context.new_page()
            await page.goto(served.urls[page_name], wait_until="commit", timeout=timeout * 1000)
            await page.wait_for_function(FIRST_CHART_JS, timeout=timeout * 1000, polling=100)
            result.times.append(time.perf_counter() - opened)
        except Exception as exc:  # noqa: BLE001 - a failed visitor is a result, not a crash
            result.failures.append(f"{page_name}: {type(exc).__name__}: {str(exc)[:160]}")
        finally:
            pending["n"] -= 1
            if pending["n"] == 0:
                all_done.set()
            if stay is None:
                await all_done.wait()
                await asyncio.sleep(2.0)  # a last memory sample with everyone still there
            else:
                await asyncio.sleep(max(0.0, stay - (time.perf_counter() - opened)))
            await context.close()
            state["open"] -= 1

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            start = time.perf_counter()
            with TreeMonitor(served.process.pid, lambda: state["open"]) as monitor:
                await asyncio.gather(*(visit(browser, d, p, s) for d, p, s in visitors))
            result.wall_s = time.perf_counter() - start
        finally:
            await browser.close()
    result.cpu_s = monitor.cpu_seconds
    result.browser_cpu_s = monitor.browser_cpu_seconds
    result.peak_rss_mib = monitor.peak_rss / 2**20
    result.peak_open = monitor.peak_open
    result.mib_per_open = monitor.peak_rss / max(monitor.peak_open, 1) / 2**20
    result.pss_mib_per_open = monitor.peak_pss / max(monitor.peak_open, 1) / 2**20
    return result


def start_server(name: str, work: Path, home: Path, app_args: list[str]) -> Served:
    """Start one of :data:`SERVERS` and wait until it is ready for a crowd."""
    if name == "floor":
        return start_floor(work)
    if name == "voila":
        return start_stock_voila(work)
    served = start_app(work, home, app_args)
    waited = wait_quiet(served.process.pid)
    print(f"    app ready (preheating took {waited:.0f} s)", flush=True)
    return served


# --------------------------------------------------------------------------- report


def judge(results: list[LoadResult], timeout: float = 180.0) -> list[dict]:
    """The issue's targets, each with its figure, baseline and verdict.

    Args:
        results: the loads measured.
        timeout: the seconds a visitor waited (a baseline whose p95 visitor never drew took at
            least this long: see :func:`_target`).

    Returns:
        One dict per target (``figure``, ``value``, ``baseline``, ``ratio``, ``pass``, ...).
    """
    by = {(r.load, r.server): r for r in results}
    rows = []
    for load in sorted({r.load for r in results}, key=lambda x: LOADS.index(x)
                       if x in LOADS else 99):
        app = by.get((load, "app"))
        if app is None:
            continue
        floor, voila = by.get((load, "floor")), by.get((load, "voila"))
        p95 = app.stat("p95")
        if load in CROWD_LOADS:
            if floor is not None:
                rows.append(_target(f"{load}: p95 vs the floor", p95, floor.stat("p95"),
                                    "static page", CROWD_FLOOR_RATIO, timeout))
            if voila is not None:
                rows.append(_target(f"{load}: p95 vs stock Voila", p95, voila.stat("p95"),
                                    "stock Voila, trivial page", CROWD_VOILA_RATIO, timeout))
        if load == "stream" and floor is not None:
            rows.append(_target("stream: p95 vs the floor", p95, floor.stat("p95"),
                                "static page", STREAM_FLOOR_RATIO, timeout))
        rows.append({"figure": f"{load}: visitors failed", "value": len(app.failures),
                     "unit": "visitors", "target": "0", "pass": not app.failures})
        if load in CROWD_LOADS or load == "stream":
            rows.append({"figure": f"{load}: peak RSS per open visitor",
                         "value": round(app.mib_per_open, 1), "unit": "MiB",
                         "target": f"<= {MEMORY_PER_VISITOR_MIB:g} MiB",
                         "pass": app.mib_per_open <= MEMORY_PER_VISITOR_MIB})
    return rows


def _target(figure: str, value: float, baseline: float, label: str, bound: float,
            timeout: float) -> dict:
    """A ratio target. When the baseline's p95 visitor never drew, the baseline took at least
    ``timeout``: the ratio is then at most ``value / timeout`` (``ratio_at_most``), and the
    target passes only if that bound meets it (a lost baseline is no free pass)."""
    at_most = math.isinf(baseline)
    reference = timeout if at_most else baseline
    ratio = value / reference if reference and math.isfinite(value) else math.inf
    ok = math.isfinite(ratio) and ratio <= bound
    return {"figure": figure, "value": _r(value) if math.isfinite(value) else -1,
            "unit": "s", "baseline": _r(baseline) if math.isfinite(baseline) else None,
            "baseline_label": label, "ratio": round(ratio, 2) if math.isfinite(ratio) else None,
            "ratio_at_most": at_most, "target": f"<= {bound:g}x", "pass": ok}


def print_table(results: list[LoadResult], verdicts: list[dict], machine: dict) -> None:
    print("Visitors: time to first chart in Chromium, one context per visitor, loopback; "
          "each server started afresh per load")
    print(f"machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, {machine['platform']}, "
          f"load average at start {machine['load_avg_1m']}")
    head = (f"{'load':<12} {'server':<6} {'n':>3} {'median s':>9} {'p95 s':>7} {'worst s':>8} "
            f"{'failed':>6} {'CPU s/vis':>9} {'browser':>7} {'peak RSS MiB':>12} {'open':>4} "
            f"{'MiB/open':>8} {'PSS/open':>8}")
    print(head)
    for r in results:
        row = r.row()
        def f(x):
            return "never" if x is None else f"{x:.1f}"
        print(f"{r.load:<12} {r.server:<6} {r.visitors:>3} {f(row['median_s']):>9} "
              f"{f(row['p95_s']):>7} {f(row['worst_s']):>8} {len(r.failures):>6} "
              f"{row['cpu_s_per_visitor']:>9.1f} {row['browser_cpu_s_per_visitor']:>7.1f} "
              f"{r.peak_rss_mib:>12.0f} {r.peak_open:>4} "
              f"{r.mib_per_open:>8.0f} {r.pss_mib_per_open:>8.0f}")
    print()
    print(f"{'target':<44} {'value':>8} {'baseline':>9} {'ratio':>6}  {'bound':<10} result")
    for v in verdicts:
        base = "never" if v.get("ratio_at_most") else (
            "" if v.get("baseline") is None else f"{v['baseline']:.1f}")
        ratio = "" if v.get("ratio") is None else (
            ("<=" if v.get("ratio_at_most") else "") + f"{v['ratio']:.2f}")
        print(f"{v['figure']:<44} {v['value']:>8} {base:>9} {ratio:>6}  {v['target']:<10} "
              f"{'PASS' if v['pass'] else 'FAIL'}")
    for r in results:
        for failure in r.failures[:3]:
            print(f"  failed ({r.load}, {r.server}): {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", default=",".join(LOADS),
                        help=f"comma-separated loads (default: all: {','.join(LOADS)})")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="comma-separated servers: floor, voila, app (default: all)")
    parser.add_argument("--app-args", default="",
                        help="extra arguments for energy-nb app (quoted, e.g. '--max-visitors 40')")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds a visitor waits for the first chart (default 180)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "eia",
                        help="EIA snapshot folder to import")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    loads = [x.strip() for x in args.loads.split(",") if x.strip()]
    servers = [x.strip() for x in args.servers.split(",") if x.strip()]
    for load in loads:
        try:
            plan(load)
        except ValueError as exc:
            parser.error(f"--loads: {exc}")
    for name in servers:
        if name not in SERVERS:
            parser.error(f"--servers: unknown server {name!r}; choose from {', '.join(SERVERS)}")
    if not Path(CHROMIUM).exists():
        parser.error(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")

    # A SIGTERM (run_all's timeout, a kill) unwinds like Ctrl-C, so the servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    work = Path(tempfile.mkdtemp(prefix="bench_visitors_"))
    results: list[LoadResult] = []
    try:
        home = work / "home"
        if "app" in servers:
            prepare_home(args.data, home)
        for load in loads:
            for name in servers:
                print(f"{load} on {name} ...", flush=True)
                served = start_server(name, work, home, shlex.split(args.app_args))
                try:
                    result = asyncio.run(run_load(served, load, args.timeout))
                finally:
                    served.stop()
                results.append(result)
                row = result.row()
                print(f"    median {row['median_s']} s, p95 {row['p95_s']} s, "
                      f"failed {len(result.failures)}, {row['mib_per_open_visitor']} MiB/open",
                      flush=True)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    verdicts = judge(results, args.timeout)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "memory_gib": round(_mem_total() / 2**30, 1),
               "load_avg_1m": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps({"benchmark": "visitors", "machine": machine,
                          "results": [r.row() for r in results], "targets": verdicts}, indent=2))
    else:
        print_table(results, verdicts, machine)
    if os.environ.get("ENERGY_NB_BENCH_JSON"):
        from run_all import write_results

        write_results(verdicts)
    return 0


def _mem_total() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


if __name__ == "__main__":
    sys.exit(main())
