"""Forecast page responsiveness: changing horizon / levels on a fitted model vs refitting.

The Forecast dashboard keeps fitted models in
:class:`energy_nb.service.forecasting.ForecastService`'s cache, so a new horizon or new interval
levels only re-predict and redraw. This script drives the real page object (widgets, figure,
table, CSV, forecast record in SQLite) on a store of the real EIA snapshot and times, per model:

* the first render (fit + draw);
* a horizon change and a levels change (median of several), end to end in the page;
* the baseline measured in the same run: the same request without the cache (a fresh
  ``make_model(...).fit(...).predict(...)``), i.e. what every change would cost without it.

Target: every change answers in under 0.3 s ("well under a second").

Usage::

    .venv/bin/python benchmarks/bench_forecast_page.py [--models auto,arima,gbm] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE.parent.parent / "shared" / "data" / "eia"
TARGET_SECONDS = 0.3


def build_store(folder: Path):
    """A store with the real WTI, Brent and Henry Hub snapshot."""
    from energy_nb.data.store import PriceStore
    from energy_nb.data.validation import read_price_csv

    store = PriceStore(folder / "energy_nb.sqlite")
    for code, name in (("WTI", "wti"), ("BRENT", "brent"), ("NG", "henryhub")):
        store.import_series(read_price_csv(SNAPSHOT / f"{name}-daily.csv", commodity=code))
    return store


def timed(action) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="auto,arima,gbm")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if not (SNAPSHOT / "wti-daily.csv").exists():
        print(f"snapshot not found: {SNAPSHOT}", file=sys.stderr)
        return 2

    from energy_nb.models import make_model
    from energy_nb.ui.forecast import ForecastPage

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(Path(tmp))
        wti = store.load("WTI")
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        for model in models:  # warm-up: library imports are not what is measured
            make_model(model).fit(wti.iloc[-400:]).predict(5, (80,))
        ForecastPage(store, model="random_walk", live=False)
        for model in models:
            began = time.perf_counter()
            page = ForecastPage(store, model=model, horizon=7, live=False)
            first = time.perf_counter() - began
            horizons = [30, 12, 20, 5, 25, 9, 15][: args.repeats]
            horizon_times = [timed(lambda h=h, pg=page: setattr(pg.horizon, "value", h))
                             for h in horizons]
            level_sets = [(50, 80), (80, 95, 99), (90,), (80, 95), (50, 90, 99)][: args.repeats]
            level_times = [timed(lambda lv=lv, pg=page: pg.set_levels(lv)) for lv in level_sets]
            assert page.messages.level in (None, "info"), page.messages.text
            refits = [timed(lambda m=model: make_model(m).fit(wti).predict(30, (80, 95)))
                      for _ in range(max(1, min(args.repeats, 3)))]
            baseline = statistics.median(refits)
            for label, values in (("horizon change", horizon_times),
                                  ("levels change", level_times)):
                value = statistics.median(values)
                rows.append({
                    "figure": f"{model}: {label} (median of {len(values)})",
                    "value": round(value, 4), "unit": "s",
                    "baseline": round(baseline, 4),
                    "baseline_label": "refit + predict without the cache",
                    "target": f"< {TARGET_SECONDS} s", "pass": value < TARGET_SECONDS,
                })
            rows.append({"figure": f"{model}: first render (fit + draw)",
                         "value": round(first, 4), "unit": "s", "baseline": round(baseline, 4),
                         "baseline_label": "refit + predict without the cache"})

    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'value s':>8}  {'refit s':>8}  {'ratio':>6}  target")
    for r in rows:
        ratio = r["value"] / r["baseline"] if r["baseline"] else float("nan")
        target = r.get("target", "")
        verdict = ("ok" if r.get("pass") else "MISSED") if "pass" in r else ""
        print(f"{r['figure']:<{width}}  {r['value']:>8.3f}  {r['baseline']:>8.3f}  "
              f"{ratio:>6.2f}  {target} {verdict}")
    try:
        sys.path.insert(0, str(HERE))
        from run_all import write_results

        write_results(rows)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
