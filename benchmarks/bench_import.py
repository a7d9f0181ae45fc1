"""Benchmark: peak memory (RSS) of ``energy-nb data import`` on a 2M-row CSV (issue 13.7).

Three processes run one after the other on the same file, each measured with ``wait4`` (the
kernel's peak resident set size of that process):

* ``bare interpreter`` — ``energy-nb --version``: the same imports, no work;
* ``read whole file (old approach)`` — what imports did before issue 13.7: read the bytes,
  decode them, parse the text with ``csv`` over a ``StringIO`` (the same date and price checks);
* ``energy-nb data import`` — the real command, streaming the file into a fresh store.

The file has ``--rows`` lines (default 2,000,000, about 36 MB, CRLF like the EIA snapshot). A
valid price table holds at most one row per day since 1900 (about 33,000 business days), so the
rows cycle through the business days 1900-01-01 .. 2024-12-31, each repeat with the same price
(identical duplicates are merged).

Target: the import's peak RSS ≤ 150 MB.

Usage::

    .venv/bin/python benchmarks/bench_import.py [--rows 2000000] [--json]

Exit code 0 when it measured (PASS or FAIL is in the table and in the JSON rows written to
``$ENERGY_NB_BENCH_JSON`` for ``run_all.py``), non-zero when it could not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app_env import as_installed  # noqa: E402  (benchmarks/ is the script folder)

REPO = Path(__file__).resolve().parent.parent
TARGET_MB = 150.0
#: ``python -c CLI ...`` runs ``energy-nb ...`` with this interpreter.
CLI = "import sys; from energy_nb.cli import main; sys.exit(main(sys.argv[1:]))"

#: The read-all parse of the code before issue 13.7, with today's date and price checks.
OLD_APPROACH = """
import csv, io, sys
from pathlib import Path
from energy_nb.data.validation import parse_date, parse_price
text = Path(sys.argv[1]).read_bytes().decode("utf-8")
reader = csv.reader(io.StringIO(text, newline=""))
next(reader)
rows = {}
for line_no, row in enumerate(reader, start=2):
    rows.setdefault(parse_date(row[0].strip()), (parse_price(row[1].strip()), line_no))
print(len(rows))
"""


@dataclass
class Run:
    """One measured process.

    Attributes:
        label: what ran.
        peak_mb: peak resident set size in MB (10^6 bytes).
        seconds: wall-clock time.
    """

    label: str
    peak_mb: float
    seconds: float


def write_csv(path: Path, rows: int) -> int:
    """Write a ``Date,Price`` file of ``rows`` data lines; return its size in bytes.

    Plain Python, no pandas: the children's peak RSS (``wait4``) counts this process's memory at
    the fork, so this process stays small.
    """
    from datetime import date, timedelta

    day, end, days = date(1900, 1, 1), date(2024, 12, 31), []
    while day <= end:
        if day.weekday() < 5:
            days.append(day.isoformat())
        day += timedelta(days=1)
    lines = [f"{d},{20 + (i % 997) / 10:.2f}\r\n" for i, d in enumerate(days)]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Date,Price\r\n")
        full, rest = divmod(rows, len(lines))
        block = "".join(lines)
        for _ in range(full):
            out.write(block)
        out.write("".join(lines[:rest]))
    return path.stat().st_size


def measure(label: str, args: list[str], env: dict[str, str]) -> Run:
    """Run ``python <args>`` and return its peak RSS (``wait4``) and time.

    Raises:
        RuntimeError: the process failed.
    """
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"{label} failed (exit {proc.returncode}): "
                               f"{out.read()[-2000:].decode(errors='replace')}")
    return Run(label, usage.ru_maxrss * 1024 / 1e6, seconds)  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; write the JSON rows for ``run_all.py``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    with tempfile.TemporaryDirectory(prefix="bench_import.") as tmp:
        csv_path = Path(tmp) / "wti-2m.csv"
        size = write_csv(csv_path, args.rows)
        env = as_installed(env, Path(tmp))  # as a make-run install: no bench-only pyarrow
        env["ENERGY_NB_HOME"] = tmp
        try:
            bare = measure("bare interpreter (energy_nb.cli imported)",
                           ["-c", CLI, "--version"], env)
            old = measure("read whole file (old approach)", ["-c", OLD_APPROACH, str(csv_path)],
                          env)
            new = measure("energy-nb data import (streaming)",
                          ["-c", CLI, "data", "import", str(csv_path),
                           "--commodity", "WTI", "--db", str(Path(tmp) / "s.sqlite"), "--json"],
                          env)
        except RuntimeError as exc:
            print(f"bench_import: {exc}", file=sys.stderr)
            return 1
    passed = new.peak_mb <= TARGET_MB
    if args.json:
        print(json.dumps({"rows": args.rows, "bytes": size,
                          "runs": [r.__dict__ for r in (bare, old, new)],
                          "target_mb": TARGET_MB, "pass": passed}, indent=2))
    else:
        print(f"Import of a {args.rows:,}-row CSV ({size / 1e6:.0f} MB): peak RSS per process")
        print(f"{'process':<44} {'peak RSS (MB)':>13} {'time (s)':>9}")
        for run in (bare, old, new):
            print(f"{run.label:<44} {run.peak_mb:>13.1f} {run.seconds:>9.1f}")
        print(f"import above the bare interpreter: {new.peak_mb - bare.peak_mb:.1f} MB; "
              f"import / old approach: {new.peak_mb / old.peak_mb:.2f}x; "
              f"target <= {TARGET_MB:.0f} MB: {'PASS' if passed else 'FAIL'}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_all import write_results

    figure = f"data import, {args.rows:,} rows: peak RSS"
    write_results([
        {"figure": figure, "value": round(new.peak_mb, 1), "unit": "MB",
         "baseline": round(old.peak_mb, 1), "baseline_label": "read whole file (old approach)",
         "target": f"<= {TARGET_MB:.0f} MB", "pass": passed},
        {"figure": figure, "value": round(new.peak_mb, 1), "unit": "MB",
         "baseline": round(bare.peak_mb, 1), "baseline_label": "bare interpreter",
         "target": f"<= {TARGET_MB:.0f} MB", "pass": passed},
        {"figure": f"data import, {args.rows:,} rows: time", "value": round(new.seconds, 1),
         "unit": "s", "baseline": round(old.seconds, 1),
         "baseline_label": "read whole file (old approach)"},
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
