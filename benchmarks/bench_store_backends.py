"""Benchmark: the store on PostgreSQL against SQLite, in the same run (issue 16 item 7).

Three figures, each the median of ``--runs`` repeats on each backend, PostgreSQL / SQLite:

* **History first chart** — open the store (read only) and build the History page (its first
  chart's data: coverage, the selected prices, the figure), target ratio <= 1.3;
* **40-year WTI import** — import ``wti-daily.csv`` (1986..) into an empty store, target <= 2;
* **stored walk-forward evaluation read** — what the Models page reads: the newest walk-forward
  run of each model of WTI (``ModelRegistry.latest_evaluations``), target <= 1.5.

PostgreSQL is a throwaway cluster started for the run (``tests/pg.py``: initdb in a temporary
folder, a free loopback port, a non-root user) with fsync and synchronous commit on, as PostgreSQL
ships (the tests turn them off). The SQLite store is a file in a temporary folder (WAL, as always).

Usage::

    .venv/bin/python benchmarks/bench_store_backends.py [--runs 5]

Exit code 0 when it measured (PASS/FAIL in the table and the JSON rows for ``run_all.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_all import write_results  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "eia"
TARGETS = {"history": 1.3, "import": 2.0, "evaluation": 1.5}


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


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; write the rows for ``run_all.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    os.environ.setdefault("ENERGY_NB_HOME", tempfile.mkdtemp(prefix="bench-store-home-"))

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
        print(f"bench_store_backends: cannot measure, PostgreSQL cannot start: {exc} "
              "(`make test` installs Debian's postgresql)", file=sys.stderr)
        return 1
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
    finally:
        from energy_nb.data.database import dispose_engines

        dispose_engines()
        cluster.stop()

    labels = {"history": "History page, first chart (open + build)",
              "import": "import 40-year WTI (10,226 rows)",
              "evaluation": "stored walk-forward evaluation read (Models page)"}
    rows = []
    print(f"{'figure':52} {'SQLite':>10} {'PostgreSQL':>11} {'ratio':>6} {'target':>7}  result")
    for key, label in labels.items():
        lite, pg = figures[key]["SQLite"], figures[key]["PostgreSQL"]
        ratio = pg / lite
        ok = ratio <= TARGETS[key]
        print(f"{label:52} {lite * 1000:8.1f}ms {pg * 1000:9.1f}ms {ratio:6.2f} "
              f"{'<= ' + str(TARGETS[key]):>7}  {'PASS' if ok else 'FAIL'}")
        rows.append({"figure": f"PostgreSQL: {label}", "value": round(pg * 1000, 2), "unit": "ms",
                     "baseline": round(lite * 1000, 2), "baseline_label": "SQLite",
                     "ratio": round(ratio, 3), "target": f"<= {TARGETS[key]}x", "pass": ok})
    write_results(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
