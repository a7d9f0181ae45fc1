"""Benchmark: what one dashboard kernel holds after rendering each page (issue 12).

Every open page holds one Python kernel, so a kernel's memory is most of what a visitor costs
the server. This starts real ipykernel processes, one after the other, in the environment of a
``make run`` install (:func:`app_env.as_installed`), on a fresh store of the real EIA snapshot,
and measures each after it ran one thing:

* ``bare ipykernel`` — the baseline, measured in the same run: a kernel that ran nothing;
* ``warm kernel`` — a kernel of the app's warm pool: :data:`energy_nb.appserver.warm.PRELOAD_CODE`;
* ``History``, ``Forecast (nothing stored: fits)``, ``Forecast (stored forecast)``, ``Models``,
  ``Backtest`` — the page's notebook code (``notebooks/<page>.ipynb``) run in a fresh kernel.
  The Forecast page runs twice: first on a store that holds no forecast (it fits its model and
  stores the forecast), then in a new kernel that finds that stored forecast;
* ``same, in a warm kernel`` under each page — the page rendered in a kernel that first ran the
  warm pool's preload (not measured): what most visitors of a crowd get.

The kernels have the environment the app server gives them (plotly's widget code served by URL,
:data:`energy_nb.ui.widget_bundle.BUNDLE_ENV`), but run the notebook code directly rather than
through Voilà's executor.

Per row: the kernel's RSS and USS (memory no other process shares) after the render, the render's
wall time and the kernel's CPU seconds for it, the modules imported (count, and which of the
heavy optional ones: statsmodels, sklearn, scipy, pyarrow, ...), and the bytes of widget state
the render sent (``comm_open``/``comm_msg`` messages: what the browser must receive and parse).
A kernel's own start (process + ipykernel, to ready) is timed too: a visitor with no pooled
kernel waits for it.

No pass/fail here: the target (issue 12) is at most 250 MiB per open visitor *including the
pools*, measured by ``bench_visitors.py``; the per-kernel figures printed here are what a visitor
and each pooled kernel add to it, and where a cut would come from.

Usage::

    .venv/bin/python benchmarks/bench_kernel_memory.py [--pages history,forecast] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from app_env import as_installed  # noqa: E402  (benchmarks/ is the script's folder)

from energy_nb.viz.widget_bundle import BUNDLE_ENV

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SNAPSHOT = REPO.parent / "shared" / "data" / "eia"
#: Optional libraries whose presence in a kernel is reported (they cost memory per kernel).
HEAVY = ("pandas", "numpy", "plotly", "ipywidgets", "scipy", "statsmodels", "sklearn", "joblib",
         "pyarrow", "websockets", "matplotlib", "lightgbm")

#: What a kernel reports after a render: its modules and the heavy ones among them.
PROBE = ("import sys as _s, json as _j\n"
         "print('ENB_PROBE' + _j.dumps({'n': len(_s.modules), 'heavy': [m for m in %r "
         "if m in _s.modules]}))\n")


@dataclass
class Row:
    """One measured kernel.

    Attributes:
        label: what the kernel ran.
        rss_mib, uss_mib: resident and unique memory after the render (MiB).
        seconds: wall time of the render (the cells, not the kernel start).
        cpu_seconds: the kernel's CPU time during the render.
        start_seconds: kernel process start until ready.
        start_cpu_seconds: the kernel's CPU time until ready (what a kernel start costs the
            cores, beside the visitors' browsers).
        modules: modules imported in the kernel.
        heavy: which of :data:`HEAVY` are imported.
        widget_kib: widget state sent during the render (KiB of comm messages).
        error: what failed, if anything.
    """

    label: str
    rss_mib: float = 0.0
    uss_mib: float = 0.0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    start_seconds: float = 0.0
    start_cpu_seconds: float = 0.0
    modules: int = 0
    heavy: list[str] = field(default_factory=list)
    widget_kib: float = 0.0
    error: str = ""


def notebook_code(page: str) -> str:
    """The code cells of ``notebooks/<page>.ipynb``, joined."""
    notebook = json.loads((REPO / "notebooks" / f"{page}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measure(label: str, code: str, env: dict[str, str], cwd: Path, setup: str = "",
            timeout: float = 300.0) -> Row:
    """Start a kernel, run ``setup`` (not measured) then ``code`` in it, measure, shut it down."""
    from jupyter_client.manager import KernelManager

    row = Row(label)
    manager = KernelManager(kernel_name="python3")
    began = time.perf_counter()
    manager.start_kernel(env=env, cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=timeout)
        row.start_seconds = time.perf_counter() - began
        process = psutil.Process(manager.provisioner.process.pid)
        row.start_cpu_seconds = _cpu(process)
        sent = [0]
        output: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind = msg["header"]["msg_type"]
            if kind in ("comm_open", "comm_msg"):
                sent[0] += len(json.dumps(msg["content"], default=str))
                sent[0] += sum(len(b) for b in msg.get("buffers") or ())
            elif kind == "stream":
                output.append(msg["content"]["text"])
            elif kind == "error":
                output.append("\n".join(msg["content"]["traceback"][-3:]))

        if setup:
            client.execute_interactive(setup, timeout=timeout, output_hook=lambda _m: None)
        time.sleep(0.5)  # let the kernel settle after its start
        cpu0 = _cpu(process)
        t0 = time.perf_counter()
        if code:
            reply = client.execute_interactive(code, timeout=timeout, output_hook=hook)
            if reply["content"]["status"] != "ok":
                row.error = f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"
        row.seconds = time.perf_counter() - t0
        row.cpu_seconds = _cpu(process) - cpu0
        row.widget_kib = sent[0] / 1024
        output.clear()
        client.execute_interactive(PROBE % (HEAVY,), timeout=60, output_hook=hook)
        probe = next((line for line in "".join(output).splitlines()
                      if line.startswith("ENB_PROBE")), "")
        if probe:
            found = json.loads(probe[len("ENB_PROBE"):])
            row.modules, row.heavy = found["n"], found["heavy"]
        info = process.memory_full_info()
        row.rss_mib, row.uss_mib = info.rss / 2**20, info.uss / 2**20
    except Exception as exc:  # noqa: BLE001 - a failed row is reported, the others still run
        row.error = row.error or f"{type(exc).__name__}: {exc}"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return row


def build_store(home: Path, env: dict[str, str]) -> None:
    """``energy-nb data init`` from the snapshot into ``home``."""
    subprocess.run([sys.executable, "-c",
                    "import sys; from energy_nb.cli import main; sys.exit(main(sys.argv[1:]))",
                    "data", "init", "--offline-dir", str(SNAPSHOT)],
                   env={**env, "ENERGY_NB_HOME": str(home)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)


def plan(pages: list[str]) -> list[tuple[str, str, str]]:
    """``(label, setup, code)`` of every kernel to measure, in order."""
    from energy_nb.appserver.warm import PRELOAD_CODE

    rows = [("bare ipykernel", "", ""), ("warm kernel (preload)", "", PRELOAD_CODE)]
    for page in pages:
        code = notebook_code(page)
        if page == "forecast":  # first on an empty forecasts table, then from what it stored
            rows.append(("Forecast (nothing stored: fits)", "", code))
            rows.append(("Forecast (stored forecast)", "", code))
        else:
            rows.append((page.capitalize(), "", code))
        # most visitors of a crowd get a warm kernel: the page rendered after the preload
        rows.append(("  same, in a warm kernel", PRELOAD_CODE, code))
    return rows


def table(rows: list[Row]) -> str:
    """The printed table: each kernel beside the bare baseline."""
    base = rows[0].rss_mib if rows and rows[0].rss_mib else float("nan")
    head = (f"{'kernel':<32} {'RSS MiB':>8} {'vs bare':>8} {'USS MiB':>8} {'render s':>9} "
            f"{'CPU s':>6} {'start s':>8} {'start CPU s':>12} {'modules':>8} "
            f"{'widgets KiB':>12}  heavy modules")
    lines = [head, "-" * len(head)]
    for r in rows:
        heavy = ", ".join(h for h in r.heavy if h not in ("numpy",)) or "-"
        lines.append(
            f"{r.label:<32} {r.rss_mib:>8.0f} {r.rss_mib - base:>+8.0f} {r.uss_mib:>8.0f} "
            f"{r.seconds:>9.2f} {r.cpu_seconds:>6.2f} {r.start_seconds:>8.2f} "
            f"{r.start_cpu_seconds:>12.2f} {r.modules:>8} "
            f"{r.widget_kib:>12.0f}  {heavy}" + (f"  ERROR {r.error}" if r.error else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="history,forecast,models,backtest",
                        help="comma-separated pages to render (default: all four)")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = [p for p in pages if not (REPO / "notebooks" / f"{p}.ipynb").exists()]
    if unknown:
        print(f"unknown page(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if not (SNAPSHOT / "wti-daily.csv").exists():
        print(f"snapshot not found: {SNAPSHOT}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="enb-kmem-") as tmp:
        work = Path(tmp)
        home = work / "home"
        env = as_installed({k: v for k, v in os.environ.items()
                            if not k.startswith(("JUPYTER_", "VOILA_"))}, work)
        env["ENERGY_NB_HOME"] = str(home)
        # as the app server sets it: charts load plotly's widget code by URL, not in their state
        env[BUNDLE_ENV] = "/energy_nb/static/plotly/widgetbundle.js"
        env["PYTHONPATH"] = os.pathsep.join([*env["PYTHONPATH"].split(os.pathsep), str(REPO)])
        build_store(home, env)
        rows = []
        for label, setup, code in plan(pages):
            row = measure(label, code, env, REPO / "notebooks", setup)
            rows.append(row)
            print(f"  measured {label}: {row.rss_mib:.0f} MiB", file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    base = rows[0].rss_mib
    results = []
    for r in rows[1:]:
        results.append({"figure": f"kernel RSS after {r.label}", "value": round(r.rss_mib, 1),
                        "unit": "MiB", "baseline": round(base, 1),
                        "baseline_label": "bare ipykernel"})
    sys.path.insert(0, str(HERE))
    from run_all import write_results

    write_results(results)
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
