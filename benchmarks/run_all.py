"""Run every ``benchmarks/bench_*.py`` script and write ``benchmarks/RESULTS.md``.

Each script runs in its own process with the default arguments (or those given with ``--args``),
one after the other so they do not compete for the cores. A script reports its figures in one of
two ways (see ``benchmarks/README.md``):

* machine-readable: it writes the JSON file named by the environment variable
  ``ENERGY_NB_BENCH_JSON`` (``benchmarks/results/<script>.json``), e.g. with
  :func:`write_results` from this module: rows of ``figure, value, unit, baseline,
  baseline_label, ratio, target, pass``. These rows go into the summary table;
* print only: its printed tables are copied verbatim into the script's section.

``RESULTS.md`` starts with the machine (cores, CPU model, memory, Python, date, commit), then the
summary table (each figure beside its baseline from the same run, the ratio, the target and
whether it was met), then each script's status, time and printed output.

Usage::

    .venv/bin/python benchmarks/run_all.py                       # what `make bench` runs
    .venv/bin/python benchmarks/run_all.py --only bench_backtest --args "bench_backtest=--repeat 5"

In a benchmark script::

    from run_all import write_results            # benchmarks/ is the script's folder
    write_results([{"figure": "engine, 10,000 days", "value": 4.1, "unit": "ms",
                    "baseline": 812.0, "baseline_label": "Python loop", "target": "< 20 ms",
                    "pass": True}])
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Environment variable naming the JSON file a script may write its rows to.
RESULTS_ENV = "ENERGY_NB_BENCH_JSON"
#: Fields of one result row (``ratio`` is computed as value / baseline when missing).
ROW_FIELDS: tuple[str, ...] = ("figure", "value", "unit", "baseline", "baseline_label", "ratio",
                               "target", "pass")


class ResultsFormatError(ValueError):
    """A script's JSON results do not follow the convention of ``benchmarks/README.md``."""


def write_results(rows: Sequence[Mapping[str, Any]], path: str | Path | None = None) -> Path | None:
    """Write a benchmark's rows where ``run_all.py`` expects them.

    Args:
        rows: dicts with ``figure`` (str) and ``value`` (number) and optionally ``unit``,
            ``baseline``, ``baseline_label``, ``ratio``, ``target`` (text such as ``"<= 0.5x"``)
            and ``pass`` (bool).
        path: the file (default: ``$ENERGY_NB_BENCH_JSON``; nothing is written when unset, so a
            script run by hand just prints).

    Returns:
        The path written, or ``None``.

    Raises:
        ResultsFormatError: a row lacks ``figure`` or ``value`` or has unknown fields.
    """
    target = Path(path) if path is not None else (
        Path(os.environ[RESULTS_ENV]) if os.environ.get(RESULTS_ENV) else None)
    clean = [check_row(row, k) for k, row in enumerate(rows, 1)]
    if target is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps({"rows": clean}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def check_row(row: Mapping[str, Any], number: int = 1) -> dict[str, Any]:
    """Validate one result row and fill ``ratio``.

    Args:
        row: the row.
        number: its position, for messages.

    Returns:
        A dict with every field of :data:`ROW_FIELDS`.

    Raises:
        ResultsFormatError: naming the row and field.
    """
    if not isinstance(row, Mapping):
        raise ResultsFormatError(f"row {number}: expected an object, got {type(row).__name__}")
    unknown = sorted(set(row) - set(ROW_FIELDS))
    if unknown:
        raise ResultsFormatError(f"row {number}: unknown field(s) {', '.join(unknown)}")
    if not isinstance(row.get("figure"), str) or not row["figure"].strip():
        raise ResultsFormatError(f"row {number}: 'figure' must be a non-empty string")
    out = {name: row.get(name) for name in ROW_FIELDS}
    for name in ("value", "baseline", "ratio"):
        v = out[name]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ResultsFormatError(f"row {number} ({out['figure']}): {name!r} must be a number")
    if out["value"] is None:
        raise ResultsFormatError(f"row {number} ({out['figure']}): 'value' is required")
    if out["pass"] is not None and not isinstance(out["pass"], bool):
        raise ResultsFormatError(f"row {number} ({out['figure']}): 'pass' must be true/false")
    if out["ratio"] is None and out["baseline"] not in (None, 0) and math.isfinite(out["baseline"]):
        out["ratio"] = out["value"] / out["baseline"]
    return out


def machine_info() -> dict[str, str]:
    """Where the benchmarks ran: cores, CPU model, memory, Python, OS, date, commit, load.

    Returns:
        Label -> value.
    """
    cpu = platform.processor() or "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, text=True,
                                check=False, capture_output=True,
                                timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "Cores": f"{usable} usable of {os.cpu_count()}",
        "CPU": cpu,
        "Memory": mem,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Commit": commit,
        "Load average at start": load,
    }


@dataclass
class ScriptRun:
    """One benchmark script's run.

    Attributes:
        name: script name without ``.py``.
        command: the command line.
        exit_code: its exit code (``None`` when it timed out).
        seconds: wall time.
        output: what it printed (stdout and stderr interleaved).
        rows: its machine-readable rows (empty for print-only scripts).
        note: a problem with its results file, if any.
    """

    name: str
    command: list[str]
    exit_code: int | None
    seconds: float
    output: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    @property
    def status(self) -> str:
        """``ok``, ``failed (exit N)`` or ``timed out``."""
        if self.exit_code is None:
            return "timed out"
        return "ok" if self.exit_code == 0 else f"failed (exit {self.exit_code})"


def find_scripts(folder: Path, only: Sequence[str] | None = None) -> list[Path]:
    """The ``bench_*.py`` scripts of a folder, sorted, optionally restricted by name."""
    scripts = sorted(folder.glob("bench_*.py"))
    if only:
        wanted = {n.removesuffix(".py") for n in only}
        unknown = sorted(wanted - {s.stem for s in scripts})
        if unknown:
            raise SystemExit(f"run_all.py: no benchmark script named {', '.join(unknown)} in "
                             f"{folder}")
        scripts = [s for s in scripts if s.stem in wanted]
    return scripts


def run_script(script: Path, results_dir: Path, extra_args: Sequence[str] = (),
               timeout: float = 3600.0, echo: bool = True) -> ScriptRun:
    """Run one script, echoing and capturing its output, and read its rows.

    Args:
        script: the script.
        results_dir: where its JSON goes (``<results_dir>/<name>.json``).
        extra_args: arguments for the script.
        timeout: seconds before it is stopped.
        echo: also print its output live.

    Returns:
        The :class:`ScriptRun`.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"{script.stem}.json"
    json_path.unlink(missing_ok=True)  # never report a previous run's numbers
    cmd = [sys.executable, str(script), *extra_args]
    # TQDM_DISABLE: progress bars are for people watching a terminal, not for RESULTS.md
    env = {**os.environ, RESULTS_ENV: str(json_path), "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    began = time.perf_counter()
    lines: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=script.parent.parent)
    timed_out = threading.Event()

    def _stop() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(timeout, _stop)
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
        code = proc.wait()
    finally:
        watchdog.cancel()
    exit_code: int | None = None if timed_out.is_set() else code
    seconds = time.perf_counter() - began
    run = ScriptRun(script.stem, cmd, exit_code, seconds, "".join(lines))
    if json_path.exists():
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
            rows = data.get("rows") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise ResultsFormatError("expected {\"rows\": [...]}")
            run.rows = [check_row(r, k) for k, r in enumerate(rows, 1)]
        except (json.JSONDecodeError, ResultsFormatError) as exc:
            run.note = f"{json_path.name} ignored: {exc}"
    return run


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value).replace("|", "\\|")


def render_markdown(machine: Mapping[str, str], runs: Sequence[ScriptRun]) -> str:
    """The text of ``RESULTS.md``.

    Args:
        machine: :func:`machine_info` output.
        runs: every script's run.

    Returns:
        Markdown.
    """
    out = ["# Benchmark results", "",
           ("Written by `benchmarks/run_all.py` (`make bench`). Every baseline was measured in the "
           "same run, on the same machine, right beside the figure it is compared with."), "",
           "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {_fmt(v)} |" for k, v in machine.items()]
    out += ["", "## Summary", "",
            "| Benchmark | Figure | Value | Baseline (same run) | Ratio | Target | Met |",
            "|---|---|---:|---:|---:|---|---|"]
    any_rows = False
    for run in runs:
        for r in run.rows:
            any_rows = True
            unit = f" {r['unit']}" if r.get("unit") else ""
            base = "—" if r["baseline"] is None else f"{_fmt(r['baseline'])}{unit}"
            if r.get("baseline_label"):
                base += f" ({_fmt(r['baseline_label'])})"
            ratio = "—" if r["ratio"] is None else f"{_fmt(r['ratio'])}×"
            out.append(f"| {run.name} | {_fmt(r['figure'])} | {_fmt(r['value'])}{unit} | {base} "
                       f"| {ratio} | {_fmt(r['target'])} | {_fmt(r['pass'])} |")
        if not run.rows:
            out.append(f"| {run.name} | see its printed tables below | | | | | "
                       f"{'—' if run.exit_code == 0 else '**' + run.status + '**'} |")
    if not runs:
        out.append("| — | no benchmark scripts found | | | | | |")
    elif not any_rows:
        out += ["", "No script wrote machine-readable rows; their printed tables follow."]
    out += ["", "## Scripts", ""]
    for run in runs:
        out += [f"### {run.name}", "",
                f"- status: {run.status}",
                f"- time: {run.seconds:.1f} s",
                f"- command: `{shlex.join(['python', *_relative(run.command[1:])])}`"]
        if run.note:
            out.append(f"- note: {run.note}")
        out += ["", "```text", run.output.rstrip() or "(no output)", "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _relative(args: Sequence[str]) -> list[str]:
    """Show the script path relative to the project folder."""
    out = list(args)
    if out:
        try:
            out[0] = str(Path(out[0]).relative_to(HERE.parent))
        except ValueError:
            pass
    return out


def _parse_extra(items: Sequence[str]) -> dict[str, list[str]]:
    extra: dict[str, list[str]] = {}
    for item in items:
        match = re.fullmatch(r"\s*([\w.-]+)\s*=(.*)", item, re.DOTALL)
        if not match:
            raise SystemExit(f"run_all.py: --args needs NAME=ARGS, got {item!r}")
        extra[match.group(1).removesuffix(".py")] = shlex.split(match.group(2))
    return extra


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and write the summary.

    Args:
        argv: command-line arguments.

    Returns:
        0 when every script exited 0, else 1 (``RESULTS.md`` is written either way).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", type=Path, default=HERE,
                        help="folder with the bench_*.py scripts (default: this folder)")
    parser.add_argument("--only", help="comma-separated script names to run")
    parser.add_argument("--args", action="append", default=[], metavar="NAME=ARGS",
                        help="extra arguments for one script, e.g. 'bench_speed=--step 25'")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds one script may run (default 3600)")
    parser.add_argument("--out", type=Path, help="summary file (default <bench-dir>/RESULTS.md)")
    parser.add_argument("--results-dir", type=Path,
                        help="JSON rows folder (default <bench-dir>/results)")
    parser.add_argument("--quiet", action="store_true", help="do not echo the scripts' output")
    args = parser.parse_args(argv)
    bench_dir = args.bench_dir.resolve()
    out = args.out or bench_dir / "RESULTS.md"
    results_dir = args.results_dir or bench_dir / "results"
    extra = _parse_extra(args.args)
    scripts = find_scripts(bench_dir, args.only.split(",") if args.only else None)
    machine = machine_info()
    runs = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        run = run_script(script, results_dir, extra.get(script.stem, []), args.timeout,
                         echo=not args.quiet)
        print(f"== {script.name}: {run.status} in {run.seconds:.1f} s", flush=True)
        runs.append(run)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render_markdown(machine, runs), encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
