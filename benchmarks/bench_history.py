"""Benchmark: time to first chart of the dashboards vs a trivial one-FigureWidget page.

Both notebooks are served by the same Voilà (``energy_nb.app.start``, the packaged
configuration) in the same run, and opened in headless Chromium (``/usr/bin/chromium``) in a fresh
browser context per visit. "First chart" = the moment plotly has drawn the page's first
FigureWidget with data (``.js-plotly-plot`` with ``gd.data.length > 0`` and an SVG), measured
from the navigation start.

Two modes:

* ``cold`` — kernels start on demand (``preheat_kernel=False``);
* ``preheated`` — Voilà's kernel pool (``preheat_kernel=True``, ``pool_size=1``): each visit
  waits until the page's pool has refilled and its notebook had ``--settle`` seconds to execute,
  as a user arriving later would find it.

Pages: History (issue 2 §5) and, by default, the other dashboards that draw a chart when they
open (Forecast, Models, Backtest with its preview). Targets for each page: page / trivial ≤ 1.3
in each mode, and its first chart under 3 s with preheated kernels. Each figure is the median of
``--runs`` visits (default 5: with 3, the preheated ratios of pages near the bound swung by ±0.1
between otherwise identical runs).

Usage::

    .venv/bin/python benchmarks/bench_history.py [--runs 5] [--pages history,forecast] [--json]

Exit code 0 when it measured (PASS or FAIL is in the table and in the JSON rows written to
``$ENERGY_NB_BENCH_JSON`` for ``run_all.py``), non-zero when it could not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SNAPSHOT = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}
RATIO_TARGET = 1.3
PREHEATED_TARGET_S = 3.0

TRIVIAL_SOURCE = (
    "import plotly.graph_objects as go\n"
    "go.FigureWidget(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))"
)

#: JS predicate: the first plotly chart on the page has drawn data.
FIRST_CHART_JS = """() => { const gd = document.querySelector('.js-plotly-plot');
    return !!(gd && gd.data && gd.data.length > 0 && gd.querySelector('.main-svg')); }"""


def write_notebook(path: Path, source: str) -> None:
    """Write a one-cell notebook."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))


#: Dashboard notebooks measured by default (each shows a chart at first render; the Backtest
#: page's first chart is its preview run of the default strategy).
PAGES = ("history", "forecast", "models", "backtest")


def prepare_home(data_dir: Path, home: Path) -> None:
    """Import the EIA snapshot into a fresh store and record one small evaluation (so that the
    Models page has runs to chart), with the ``energy-nb`` CLI."""
    script = Path(sys.executable).with_name("energy-nb")
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    for code, name in SNAPSHOT.items():
        subprocess.run([str(script), "data", "import", str(data_dir / name), "--commodity", code],
                       env=env, check=True, capture_output=True, text=True)
    subprocess.run([str(script), "evaluate", "--commodity", "WTI", "--start", "2025-01-01",
                    "--horizon", "5", "--step", "20", "--models", "random_walk,drift",
                    "--no-progress"], env=env, check=True, capture_output=True, text=True)


def pool_fills(log_path: Path, notebook: str) -> int:
    """How many times Voilà has reported the notebook's kernel pool as filled."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return len(re.findall(rf"Kernel pool of \S*{re.escape(notebook)} is filled", text))


def time_first_chart(browser, url: str, timeout_ms: int = 180_000) -> float:
    """Seconds from navigation start to the first drawn chart, in a fresh context."""
    # No request interception here: a Python route handler would sit in the path of every
    # request and inflate both timings (there is no internet; outside requests fail at once).
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_ms)
        page.wait_for_function(FIRST_CHART_JS, timeout=timeout_ms, polling=50)
        return time.perf_counter() - start
    finally:
        context.close()


def run_mode(browser, notebooks: Path, home: Path, preheat: bool, runs: int,
             log_dir: Path, settle: float = 10.0,
             pages: tuple[str, ...] = ("trivial", "history")) -> dict[str, list[float]]:
    """Serve ``notebooks`` and time each page ``runs`` times (pages interleaved)."""
    sys.path.insert(0, str(REPO))
    from energy_nb.app import AppOptions, start, stop

    log_path = log_dir / f"voila-{'preheated' if preheat else 'cold'}.log"
    with open(log_path, "w") as log:
        process, urls = start(
            AppOptions(notebooks=notebooks, port=0, open_browser=False, preheat=preheat,
                       warm_kernels=0, env={"ENERGY_NB_HOME": str(home)}),
            stdout=log, stderr=subprocess.STDOUT,
        )
        base = urls["tree"].replace("localhost", "127.0.0.1")
        times: dict[str, list[float]] = {name: [] for name in pages}
        used = {name: 0 for name in pages}
        try:
            for _ in range(runs):
                for name in pages:
                    if preheat:
                        deadline = time.monotonic() + 180
                        while pool_fills(log_path, f"{name}.ipynb") <= used[name]:
                            if time.monotonic() > deadline:
                                raise RuntimeError(f"kernel pool of {name} did not refill; "
                                                   f"see {log_path}")
                            time.sleep(0.2)
                        # Voila logs "filled" once the kernel is started; the notebook then still
                        # executes in it. A user arriving later finds it executed: wait for that.
                        time.sleep(settle)
                    times[name].append(time_first_chart(browser,
                                                        f"{base}voila/render/{name}.ipynb"))
                    used[name] += 1
        finally:
            stop(process)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="visits per page and mode (default 5)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "eia",
                        help="EIA snapshot folder to import")
    parser.add_argument("--modes", default="cold,preheated", help="comma-separated modes")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds to let a refilled preheated kernel finish executing "
                             "(default 10)")
    parser.add_argument("--pages", default=",".join(PAGES),
                        help="comma-separated dashboard notebooks to time "
                             f"(default {','.join(PAGES)})")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=SOURCE",
                        help="also time a one-cell notebook NAME with this source (experiments)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench_history_"))
    try:
        home = work / "home"
        prepare_home(args.data, home)
        notebooks = work / "notebooks"
        notebooks.mkdir()
        dashboards = [p.strip() for p in args.pages.split(",") if p.strip()]
        for name in dashboards:
            if not (REPO / "notebooks" / f"{name}.ipynb").exists():
                parser.error(f"--pages: no notebook notebooks/{name}.ipynb")
            shutil.copy(REPO / "notebooks" / f"{name}.ipynb", notebooks / f"{name}.ipynb")
        write_notebook(notebooks / "trivial.ipynb", TRIVIAL_SOURCE)
        extras = dict(item.split("=", 1) for item in args.extra)
        for name, source in extras.items():
            write_notebook(notebooks / f"{name}.ipynb", source.replace("\\n", "\n"))
        pages = ("trivial", *dashboards, *extras)
        results = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
                    times = run_mode(browser, notebooks, home, mode == "preheated", args.runs, work,
                                     settle=args.settle, pages=pages)
                    trivial = statistics.median(times["trivial"])
                    for name in [*dashboards, *extras]:
                        page_s = statistics.median(times[name])
                        ratio = page_s / trivial
                        ok = ratio <= RATIO_TARGET
                        target = f"ratio <= {RATIO_TARGET}"
                        if mode == "preheated":
                            ok = ok and page_s < PREHEATED_TARGET_S
                            target += f", page < {PREHEATED_TARGET_S:g} s"
                        results.append({
                            "mode": mode, "page": name, "trivial_s": round(trivial, 2),
                            "page_s": round(page_s, 2), "ratio": round(ratio, 2),
                            "target": target, "pass": ok,
                            "runs": [round(v, 2) for v in times[name]],
                            "trivial_runs": [round(v, 2) for v in times["trivial"]],
                        })
            finally:
                browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "python": platform.python_version(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps({"benchmark": "dashboards_time_to_first_chart", "machine": machine,
                          "results": results}, indent=2))
    else:
        print("Dashboards: time to first chart in Chromium (median of "
              f"{args.runs} visits), baseline = trivial one-FigureWidget page, "
              "same Voila, same run")
        print(f"machine: {machine['cpus']} CPUs, {machine['platform']}, "
              f"load average {machine['load_avg_1m']}")
        print(f"{'mode':<10} {'page':<10} {'trivial (s)':>12} {'page (s)':>9} {'ratio':>7}  "
              f"{'target':<30} result")
        for r in results:
            print(f"{r['mode']:<10} {r['page']:<10} {r['trivial_s']:>12.2f} {r['page_s']:>9.2f} "
                  f"{r['ratio']:>7.2f}  {r['target']:<30} {'PASS' if r['pass'] else 'FAIL'}")
        for r in results:
            print(f"  {r['mode']} {r['page']} runs: {r['runs']} (trivial {r['trivial_runs']})")
    if os.environ.get("ENERGY_NB_BENCH_JSON"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from run_all import write_results

        write_results([
            {"figure": f"{r['page'].capitalize()} page, time to first chart ({r['mode']} kernels)",
             "value": r["page_s"], "unit": "s", "baseline": r["trivial_s"],
             "baseline_label": "trivial one-FigureWidget page", "ratio": r["ratio"],
             "target": r["target"], "pass": r["pass"]}
            for r in results
        ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
