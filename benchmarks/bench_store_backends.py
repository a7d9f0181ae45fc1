"""Benchmark: the store on PostgreSQL against SQLite, in the same run (issue 16 item 7).

Four figures, PostgreSQL / SQLite, each measured on both backends in the same run:

* **History first chart in Chromium** — what a stakeholder sees: the History dashboard served by
  ``energy-nb app``, started once on the SQLite store and once on a PostgreSQL store holding the
  same data (one import, copied), opened in headless Chromium (``/usr/bin/chromium``), each visit
  in a fresh browser context, from navigation to the first drawn chart (``bench_history.py``'s
  definition). Median of ``--browser-visits`` visits per backend (default 5), the two apps
  visited alternately (SQLite then PostgreSQL, then the other way round), each visit once both
  apps are quiet and their History page's preheated kernel is back (as a visitor arriving later
  finds it). A visit whose chart never drew within ``--browser-timeout`` s is reported as failed
  and counts as never in the median (it cannot look fast); any failed visit fails the row.
  Target ratio <= 1.3;
* **History first chart, in-process** — open the store (read only) and build the History page
  (its first chart's data: coverage, the selected prices, the figure), median of ``--runs``:
  what the kernel does before the first chart is sent. Same target, <= 1.3;
* **40-year WTI import** — import ``wti-daily.csv`` (1986..) into an empty store, target <= 2;
* **stored walk-forward evaluation read** — what the Models page reads: the newest walk-forward
  run of each model of WTI (``ModelRegistry.latest_evaluations``), target <= 1.5.

PostgreSQL is a throwaway cluster started for the run (``tests/pg.py``: initdb in a temporary
folder, a free loopback port, a non-root user) with fsync and synchronous commit on, as PostgreSQL
ships (the tests turn them off). The SQLite store is a file in a temporary folder (WAL, as always).
The two apps run as ``bench_visitors.py`` starts one (loopback, free ports, the live server
beside it), with ``--feed none --warm-kernels 0``: the History page uses neither the live feed
nor the crowd's warm kernels, which would only add background load to both servers
(``--browser-app-args`` adds or overrides app arguments).

Usage::

    .venv/bin/python benchmarks/bench_store_backends.py                 # about 4 min
    .venv/bin/python benchmarks/bench_store_backends.py --quick         # smoke: ~70 s, noisy
    .venv/bin/python benchmarks/bench_store_backends.py --browser-visits 0   # in-process only

Exit code 0 when it measured (PASS/FAIL in the table and the JSON rows for ``run_all.py``),
non-zero when it could not (PostgreSQL or Chromium missing, an app did not start). The default
run takes about 4 minutes on a quiet 2-core machine (``--quick``: about 70 s), plus up to
``--browser-timeout`` for each failed visit.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_history import CHROMIUM, CHROMIUM_ARGS, pool_fills, time_first_chart  # noqa: E402
from bench_visitors import Served, start_app, wait_quiet  # noqa: E402
from run_all import write_results  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "eia"
TARGETS = {"browser": 1.3, "history": 1.3, "import": 2.0, "evaluation": 1.5}
#: ``energy-nb app`` arguments of the browser figure (see the module docstring).
BROWSER_APP_ARGS = ("--feed", "none", "--warm-kernels", "0")
#: Seconds to wait for a History page's preheated kernel to come back before a visit.
REFILL_TIMEOUT_S = 180.0


def median_seconds(action: Callable[[], object], runs: int,
                   setup: Callable[[], object] | None = None) -> float:
    """Median wall time of ``action`` over ``runs`` repeats (``setup`` untimed before each)."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


@dataclass
class Visits:
    """One backend's browser visits: seconds to the first chart of those that drew, failures."""

    times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def median(self) -> float:
        """Median seconds, each failed visit counted as never (``inf``: it cannot look fast)."""
        values = self.times + [math.inf] * len(self.failures)
        return statistics.median(values) if values else math.inf


def history_kernel_ready(log: Path) -> bool:
    """Whether the History page's preheated kernel is back: Voilà logged more fills of its pool
    than it handed out kernels (pool size 1), in the app's log."""
    text = log.read_text(errors="replace") if log.exists() else ""
    taken = len(re.findall(r"Using pre-heated kernel: \S+ for \S*history\.ipynb", text))
    return pool_fills(log, "history.ipynb") > taken


def wait_ready(served: Served, preheated: bool = True) -> None:
    """Wait until ``served`` has its History kernel preheated again and its processes are quiet.

    Args:
        served: the app.
        preheated: whether it preheats kernels (``--no-preheat`` not given); if not, only wait
            until it is quiet.

    Raises:
        RuntimeError: the app exited, or the kernel did not come back in time.
    """
    deadline = time.monotonic() + REFILL_TIMEOUT_S
    while preheated and not history_kernel_ready(served.log):
        if served.process.poll() is not None:
            raise RuntimeError(f"the app exited with {served.process.returncode}: "
                               + served.log.read_text(errors="replace")[-1000:])
        if time.monotonic() > deadline:
            raise RuntimeError(f"the History page's preheated kernel did not come back within "
                               f"{REFILL_TIMEOUT_S:.0f} s")
        time.sleep(0.2)
    wait_quiet(served.process.pid)


def browser_first_chart(stores: dict[str, str], visits: int, work: Path,
                        app_args: list[str], timeout_s: float) -> dict[str, Visits]:
    """Time the History dashboard's first chart in Chromium, one ``energy-nb app`` per store.

    Args:
        stores: backend name -> store URL (each app gets it as ``ENERGY_NB_DATABASE_URL``).
        visits: visits per backend, alternating between the apps.
        work: a folder for the apps' homes and logs.
        app_args: ``energy-nb app`` arguments after :data:`BROWSER_APP_ARGS`.
        timeout_s: seconds a visit waits for the chart before it counts as failed.

    Returns:
        Backend name -> its :class:`Visits`.
    """
    from playwright.sync_api import sync_playwright

    servers: dict[str, Served] = {}
    results = {backend: Visits() for backend in stores}
    arguments = [*BROWSER_APP_ARGS, *app_args]
    preheated = "--no-preheat" not in arguments
    try:
        for backend, url in stores.items():
            folder = work / backend.lower()
            folder.mkdir()
            servers[backend] = start_app(folder, folder / "home", arguments,
                                         env={"ENERGY_NB_DATABASE_URL": url})
        print(f"  apps started on {', '.join(stores)}; waiting until they are ready ...",
              flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                order = list(stores)
                for visit in range(visits):
                    for backend in order if visit % 2 == 0 else order[::-1]:
                        try:
                            for served in servers.values():  # the other app must be quiet too
                                wait_ready(served, preheated)
                            seconds = time_first_chart(browser, servers[backend].urls["history"],
                                                       timeout_ms=int(timeout_s * 1000))
                        except Exception as exc:  # noqa: BLE001 - a failed visit is a result
                            first = (str(exc).strip().splitlines() or [""])[0][:200]
                            results[backend].failures.append(f"{type(exc).__name__}: {first}")
                            print(f"  visit {visit + 1} on {backend}: FAILED ({first})", flush=True)
                        else:
                            results[backend].times.append(seconds)
                            print(f"  visit {visit + 1} on {backend}: first chart after "
                                  f"{seconds:.2f} s", flush=True)
            finally:
                browser.close()
    finally:
        for served in servers.values():
            served.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; write the rows for ``run_all.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="repeats of each in-process figure per backend (default 5)")
    parser.add_argument("--browser-visits", type=int, default=5, metavar="N",
                        help="Chromium visits of the History dashboard per backend (default 5; "
                             "0 = skip the browser figure)")
    parser.add_argument("--browser-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="seconds a visit waits for the first chart (default 120)")
    parser.add_argument("--browser-app-args", default="", metavar="ARGS",
                        help="more energy-nb app arguments, quoted (e.g. '--no-preheat'; "
                             "a repeated option overrides " + " ".join(BROWSER_APP_ARGS) + ")")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: --runs 1 --browser-visits 1 (noisy figures)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (the stores, the apps' logs) and print it")
    args = parser.parse_args(argv)
    began = time.monotonic()
    if args.quick:
        args.runs, args.browser_visits = 1, 1
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    if args.browser_visits < 0:
        parser.error(f"--browser-visits must be 0 or more, got {args.browser_visits}")
    if not (args.browser_timeout > 0 and math.isfinite(args.browser_timeout)):
        parser.error(f"--browser-timeout must be a positive number, got {args.browser_timeout}")
    if args.browser_visits and not Path(CHROMIUM).exists():
        parser.error(f"Chromium not found at {CHROMIUM} (apt-get install chromium), "
                     "or pass --browser-visits 0")
    os.environ.setdefault("ENERGY_NB_HOME", tempfile.mkdtemp(prefix="bench-store-home-"))
    # A SIGTERM (a kill, a timeout) unwinds like Ctrl-C: the apps and the cluster are stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    from energy_nb.data.copy import copy_store
    from energy_nb.data.store import PriceStore
    from energy_nb.data.validation import read_price_csv
    from energy_nb.evaluation import walk_forward
    from energy_nb.service.registry import ModelRegistry
    from energy_nb.ui.history import HistoryPage
    from tests.pg import PgCluster, PgUnavailable

    files = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}
    batch = [read_price_csv(args.data / name, commodity=code) for code, name in files.items()]
    folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        cluster = PgCluster.start(durable=True)
    except PgUnavailable as exc:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"bench_store_backends: cannot measure, PostgreSQL cannot start: {exc} "
              "(`make test` installs Debian's postgresql)", file=sys.stderr)
        return 1
    visits: dict[str, Visits] = {}
    not_measured = ""
    try:
        sqlite_url = f"sqlite:///{folder / 'store.sqlite'}"
        base = PriceStore(sqlite_url)
        base.import_many(batch)
        wti = base.load("WTI")
        result = walk_forward(wti, ["random_walk", "drift", "theta"], start="2025-01-01",
                              horizon=30, step=5, progress=False)
        ModelRegistry(base).record_evaluation(result, wti, base.data_version("WTI"))
        pg_url = cluster.new_database()
        copy_store(base, PriceStore(pg_url))
        urls = {"SQLite": sqlite_url, "PostgreSQL": pg_url}

        figures: dict[str, dict[str, float]] = {"history": {}, "import": {}, "evaluation": {}}
        for backend, url in urls.items():
            HistoryPage(PriceStore(url, create=False))  # warm imports and caches once
            figures["history"][backend] = median_seconds(
                lambda: HistoryPage(PriceStore(url, create=False)), args.runs)
            figures["evaluation"][backend] = median_seconds(
                lambda: ModelRegistry(PriceStore(url, create=False)).latest_evaluations("WTI"),
                args.runs)
            targets: list[str] = []

            def fresh(backend: str = backend) -> None:
                if backend == "SQLite":
                    targets.append(f"sqlite:///{folder / f'import-{len(targets)}.sqlite'}")
                else:
                    targets.append(cluster.new_database())
                PriceStore(targets[-1])

            figures["import"][backend] = median_seconds(
                lambda: PriceStore(targets[-1]).import_series(batch[0]), args.runs, setup=fresh)
        if args.browser_visits:
            print(f"History in Chromium: {args.browser_visits} visit(s) per backend ...",
                  flush=True)
            try:
                visits = browser_first_chart(urls, args.browser_visits, folder,
                                             shlex.split(args.browser_app_args),
                                             args.browser_timeout)
            except Exception as exc:  # noqa: BLE001 - an app or Chromium did not start
                not_measured = f"{type(exc).__name__}: {exc}"
    finally:
        from energy_nb.data.database import dispose_engines

        dispose_engines()
        cluster.stop()
        if args.keep:
            print(f"work folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    labels = {"history": "History first chart, in-process (open + build)",
              "import": "import 40-year WTI (10,226 rows)",
              "evaluation": "stored walk-forward evaluation read (Models page)"}
    rows = []
    print(f"\nPostgreSQL against SQLite, same run, load average {os.getloadavg()[0]:.2f}, "
          f"{time.monotonic() - began:.0f} s")
    print(f"{'figure':60} {'SQLite':>10} {'PostgreSQL':>11} {'ratio':>6} {'target':>7}  result")
    if visits:
        rows.append(browser_row(visits, args.browser_visits))
    elif not_measured:
        print(f"{'History first chart, Chromium via energy-nb app':60} {'not measured':>36}  "
              "FAIL")
        rows.append({"figure": "PostgreSQL: History first chart, Chromium via energy-nb app "
                               "(not measured: an app or Chromium did not start)",
                     "value": -1, "unit": "s", "target": f"<= {TARGETS['browser']}x",
                     "pass": False})
    for key, label in labels.items():
        lite, pg = figures[key]["SQLite"], figures[key]["PostgreSQL"]
        ratio = pg / lite
        ok = ratio <= TARGETS[key]
        print(f"{label:60} {lite * 1000:8.1f}ms {pg * 1000:9.1f}ms {ratio:6.2f} "
              f"{'<= ' + str(TARGETS[key]):>7}  {'PASS' if ok else 'FAIL'}")
        rows.append({"figure": f"PostgreSQL: {label}", "value": round(pg * 1000, 2), "unit": "ms",
                     "baseline": round(lite * 1000, 2), "baseline_label": "SQLite",
                     "ratio": round(ratio, 3), "target": f"<= {TARGETS[key]}x", "pass": ok})
    for backend, got in visits.items():
        print(f"  Chromium visits on {backend}: {[round(t, 2) for t in got.times]} s"
              + (f", {len(got.failures)} failed" if got.failures else ""))
        for failure in got.failures[:3]:
            print(f"    failed: {failure}")
    if not_measured:
        print(f"bench_store_backends: the browser figure was not measured: {not_measured}",
              file=sys.stderr)
    write_results(rows)
    return 1 if not_measured else 0


def browser_row(visits: dict[str, Visits], count: int) -> dict:
    """Print the browser figure's table line; return its row for ``run_all.py``.

    Args:
        visits: ``SQLite`` and ``PostgreSQL`` -> their visits.
        count: visits asked for per backend.

    Returns:
        The row (``value`` -1 when PostgreSQL's median is never: most of its visits failed).
    """
    lite, pg = visits["SQLite"].median(), visits["PostgreSQL"].median()
    failed = sum(len(v.failures) for v in visits.values())
    ratio = pg / lite if math.isfinite(pg) and math.isfinite(lite) else math.nan
    ok = not failed and ratio <= TARGETS["browser"]
    label = (f"History first chart, Chromium via energy-nb app ({count} visit"
             f"{'' if count == 1 else 's'})")

    def cell(seconds: float, width: int) -> str:
        return f"{seconds:{width - 1}.2f}s" if math.isfinite(seconds) else f"{'never':>{width}}"

    shown = f"{ratio:6.2f}" if math.isfinite(ratio) else f"{'—':>6}"
    print(f"{label:60} {cell(lite, 10)} {cell(pg, 11)} {shown} "
          f"{'<= ' + str(TARGETS['browser']):>7}  {'PASS' if ok else 'FAIL'}"
          + (f" ({failed} visit(s) failed)" if failed else ""))
    return {"figure": f"PostgreSQL: {label}" + (f", {failed} failed" if failed else ""),
            "value": round(pg, 3) if math.isfinite(pg) else -1, "unit": "s",
            "baseline": round(lite, 3) if math.isfinite(lite) else None,
            "baseline_label": "SQLite", "ratio": round(ratio, 3) if math.isfinite(ratio) else None,
            "target": f"<= {TARGETS['browser']}x", "pass": ok}


if __name__ == "__main__":
    sys.exit(main())
