"""Benchmark the backtest engine and the walk-forward ``forecast`` strategy.

Prints two tables, each with a baseline measured in the same run:

1. The engine alone on 10,000 days of given positions (target: < 20 ms), against the plain
   day-by-day Python loop of :mod:`energy_nb.backtest.reference` (results checked equal).
2. The ``forecast`` strategy walk-forward on one commodity from 2015-01-01 to the last date with a
   refit every 20 trading days and a decision every day (target: < 30 s on 2 cores), against the
   ``buy-and-hold`` backtest of the same window and against refitting at every date (timed on the
   first ``--naive-dates`` dates and extrapolated, marked ``~``).

Usage::

    .venv/bin/python benchmarks/bench_backtest.py
    .venv/bin/python benchmarks/bench_backtest.py --commodity WTI --models drift,arima,ets
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from energy_nb.backtest import EngineConfig, make_strategy, run_backtest, simulate
from energy_nb.backtest.reference import simulate_loop
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv

FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}
ENGINE_TARGET_MS = 20.0
STRATEGY_TARGET_S = 30.0


def timed(fn, repeat: int) -> list[float]:
    """Wall times in seconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([title, fmt(header), line, *(fmt(r) for r in rows)])


def bench_engine(repeat: int) -> str:
    n = 10_000
    rng = np.random.default_rng(42)
    index = pd.bdate_range("1986-01-02", periods=n, name="date")
    prices = pd.Series(20 * np.exp(np.cumsum(rng.normal(0, 0.02, n))), index=index, name="WTI")
    prices.iloc[rng.choice(n, 20, replace=False)] = np.nan
    prices.iloc[5000] = -36.98
    fast = prices.ffill().rolling(10).mean()
    slow = prices.ffill().rolling(40).mean()
    cases = {
        "sma-cross positions": np.sign(fast - slow).fillna(0).to_numpy(),
        "random daily positions": rng.uniform(-1, 1, n),
    }
    cfg = EngineConfig(capital=100_000, commission=0.001, fixed_commission=1.0, slippage_bps=2)
    rows = []
    for name, targets in cases.items():
        result = simulate(prices, targets, cfg)
        loop = simulate_loop(prices, targets, cfg)
        same = (np.allclose(result.equity.to_numpy(), loop.equity, rtol=1e-9, atol=1e-6)
                and np.allclose(result.trades["PnL"], loop.trades["PnL"], rtol=1e-9, atol=1e-6))
        vec = timed(lambda t=targets: simulate(prices, t, cfg), repeat)
        loop_times = timed(lambda t=targets: simulate_loop(prices, t, cfg), max(3, repeat // 5))
        best_ms, loop_ms = min(vec) * 1e3, min(loop_times) * 1e3
        rows.append([
            name, f"{n:,}", f"{result.orders:,}", f"{best_ms:.2f}",
            f"{statistics.median(vec) * 1e3:.2f}", f"{loop_ms:.2f}", f"{loop_ms / best_ms:.1f}x",
            "yes" if same else "NO", "PASS" if best_ms < ENGINE_TARGET_MS else "FAIL",
        ])
    return table(
        f"Engine: 10,000 days of given positions (vectorised engine vs day-by-day loop baseline; "
        f"target < {ENGINE_TARGET_MS:.0f} ms, best of {repeat})",
        ["case", "days", "orders", "engine ms", "median ms", "loop ms", "speed-up", "equal",
         "target"],
        rows,
    )


def bench_strategy(prices: pd.Series, models: list[str], start: str, refit_every: int,
                   naive_dates: int, train_window: int | None) -> str:
    window_days = len(prices.loc[start:])
    rows = []
    bh = timed(lambda: run_backtest(prices, "buy-and-hold", start=start), 3)
    rows.append(["buy-and-hold (baseline)", "-", "-", "-", f"{min(bh):.3f}", "-", "-", "-"])
    for model in models:
        params = {"model": model, "refit_every": refit_every, "train_window": train_window}
        t0 = time.perf_counter()
        result = run_backtest(prices, "forecast", params, start=start, commission=0.001)
        total = time.perf_counter() - t0
        info = result.info["strategy"]
        naive = make_strategy("forecast", **{**params, "refit_every": 1})
        head = prices.iloc[: prices.index.searchsorted(pd.Timestamp(start)) + naive_dates]
        t1 = time.perf_counter()
        naive.positions(head, start=start)
        naive_total = (time.perf_counter() - t1) / naive_dates * info["forecasts"]
        rows.append([
            f"forecast {model}", f"{info['forecasts']:,}", f"{info['refits']:,}",
            f"{total / info['forecasts'] * 1e3:.1f}", f"{total:.1f}", f"~{naive_total:.0f}",
            f"{result.stats['Return [%]']:.1f}",
            "PASS" if total < STRATEGY_TARGET_S else "FAIL",
        ])
    tw = "all history" if train_window is None else f"last {train_window} prices"
    return table(
        f"forecast strategy walk-forward on {prices.name}, {start} to "
        f"{prices.index[-1].date()} ({window_days:,} days), refit every {refit_every} days, "
        f"fit on {tw}, decision daily (target < {STRATEGY_TARGET_S:.0f} s; '~' = refit at "
        f"every date, timed on {naive_dates} dates and extrapolated)",
        ["run", "forecasts", "refits", "ms/forecast", "total s", "refit-daily s", "return %",
         "target"],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commodity", default="BRENT", choices=sorted(FILES))
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "eia")
    parser.add_argument("--models", default="drift,arima",
                        help="comma-separated models for the forecast strategy")
    parser.add_argument("--start", default="2015-01-01")
    parser.add_argument("--refit-every", type=int, default=20)
    parser.add_argument("--train-window", type=int, default=None)
    parser.add_argument("--naive-dates", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--skip-strategy", action="store_true")
    args = parser.parse_args(argv)

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f} (1/5/15 min) at start; timings grow with other work on the machine\n")
    print(bench_engine(args.repeat))
    print()
    if args.skip_strategy:
        return 0
    with tempfile.TemporaryDirectory() as tmp:  # load through the real store, as the app does
        store = PriceStore(Path(tmp) / "bench.sqlite")
        store.import_series(read_price_csv(args.data_dir / FILES[args.commodity],
                                           commodity=args.commodity))
        prices = store.load(args.commodity)
    print(bench_strategy(prices, [m.strip() for m in args.models.split(",") if m.strip()],
                         args.start, args.refit_every, args.naive_dates, args.train_window))
    return 0


if __name__ == "__main__":
    sys.exit(main())
