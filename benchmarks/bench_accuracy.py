"""Out-of-sample accuracy and interval coverage of every model (issue 3, section 8).

For WTI, BRENT and NG (daily EIA snapshot), origins every ``--step`` trading days from
``--start`` (default 2025-01-02) to ``--horizon`` trading days before the last date (or
``--end``), each model is fitted on the prices up to the origin only and forecasts steps
1..horizon. Printed per commodity and model: rMAE (MAE / random walk's MAE on the same origins)
at steps 1, 5, 10, 20, 30 and the empirical coverage of the 80% and 95% intervals over all steps.

Targets (for ``auto``): rMAE <= 1.00 in every cell, median rMAE over cells <= 0.99, coverage
within +-3 points of nominal for each commodity. Models were designed and tuned on data up to
2024-12-31 only (tuning runs: ``--start 2022-01-03 --end 2024-12-31``).

Usage::

    .venv/bin/python benchmarks/bench_accuracy.py                      # out of sample
    .venv/bin/python benchmarks/bench_accuracy.py --start 2022-01-03 --end 2024-12-31 --models auto
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from energy_nb.models import MODEL_NAMES, make_model

FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}
REPORT_STEPS = (1, 5, 10, 20, 30)
LEVELS = (80, 95)


def load_series(data_dir: Path, code: str) -> pd.Series:
    """Daily prices from the EIA snapshot CSV (benchmark-only loader)."""
    frame = pd.read_csv(data_dir / FILES[code], parse_dates=["Date"])
    series = frame.set_index("Date")["Price"].astype(float).sort_index()
    series = series[~series.index.duplicated(keep="last")]
    series.index.name = "date"
    series.name = code
    return series


def origin_positions(index: pd.DatetimeIndex, start: str, end: str | None, horizon: int,
                     step: int) -> np.ndarray:
    """Positions of the origins: every ``step`` days from ``start``; targets inside the data."""
    first = int(index.searchsorted(pd.Timestamp(start)))
    last = len(index) - 1 - horizon
    if end is not None:
        last = min(last, int(index.searchsorted(pd.Timestamp(end), side="right")) - 1 - horizon)
    return np.arange(first, last + 1, step)


def evaluate(series: pd.Series, names: list[str], origins: np.ndarray, horizon: int,
             refit_every: int) -> dict[str, dict[str, np.ndarray]]:
    """Forecasts of every model at every origin: errors and interval hits.

    Returns:
        ``{model: {"abs_err": (m, H), "hit_80": (m, H), "hit_95": (m, H), "seconds": float}}``.
    """
    values = series.to_numpy()
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        abs_err = np.full((len(origins), horizon), np.nan)
        hits = {level: np.full((len(origins), horizon), np.nan) for level in LEVELS}
        model = None
        began = time.perf_counter()
        for i, pos in enumerate(origins):
            train = series.iloc[: pos + 1]
            if model is None or refit_every <= 1 or i % refit_every == 0:
                model = make_model(name).fit(train)
            else:
                model.update(train)
            fc = model.predict(horizon=horizon, levels=LEVELS)
            actual = values[pos + 1: pos + 1 + horizon]
            ok = np.isfinite(actual)
            abs_err[i] = np.where(ok, np.abs(fc.mean - actual), np.nan)
            for level in LEVELS:
                inside = (fc.lower[level] <= actual) & (actual <= fc.upper[level])
                hits[level][i] = np.where(ok, inside, np.nan)
        out[name] = {"abs_err": abs_err, "seconds": np.array(time.perf_counter() - began),
                     **{f"hit_{lv}": hits[lv] for lv in LEVELS}}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "eia")
    parser.add_argument("--start", default="2025-01-02")
    parser.add_argument("--end", default=None, help="last date whose prices may be used")
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--refit-every", type=int, default=1)
    parser.add_argument("--commodities", default="WTI,BRENT,NG")
    parser.add_argument("--models", default="all")
    args = parser.parse_args(argv)

    names = list(MODEL_NAMES) if args.models == "all" else args.models.split(",")
    if "random_walk" not in names:
        names.insert(0, "random_walk")
    commodities = [c.strip().upper() for c in args.commodities.split(",")]
    steps = [s for s in REPORT_STEPS if s <= args.horizon]
    rows = []
    auto_cells: list[float] = []
    verdicts: list[tuple[str, bool]] = []
    total_began = time.perf_counter()
    for code in commodities:
        series = load_series(args.data_dir, code)
        origins = origin_positions(series.index, args.start, args.end, args.horizon, args.step)
        if len(origins) == 0:
            print(f"{code}: no origins in range", file=sys.stderr)
            return 2
        print(f"{code}: {len(origins)} origins {series.index[origins[0]].date()} .. "
              f"{series.index[origins[-1]].date()}, steps 1..{args.horizon}", flush=True)
        results = evaluate(series, names, origins, args.horizon, args.refit_every)
        rw_mae = np.nanmean(results["random_walk"]["abs_err"], axis=0)
        for name in names:
            res = results[name]
            mae = np.nanmean(res["abs_err"], axis=0)
            rmae = mae / rw_mae
            cov = {lv: 100 * np.nanmean(res[f"hit_{lv}"]) for lv in LEVELS}
            rows.append({"commodity": code, "model": name,
                         **{f"rMAE@{s}": rmae[s - 1] for s in steps},
                         "cov80": cov[80], "cov95": cov[95], "sec": float(res["seconds"])})
            if name == "auto":
                cells = [rmae[s - 1] for s in steps]
                auto_cells += cells
                text = f"{code} auto rMAE <= 1.00 in every cell (max {max(cells):.3f})"
                verdicts.append((text, max(cells) <= 1.0 + 1e-12))
                for lv in LEVELS:
                    text = f"{code} auto coverage {lv}% within +-3 ({cov[lv]:.1f})"
                    verdicts.append((text, abs(cov[lv] - lv) <= 3.0))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_rows", 200,
                           "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    if auto_cells:
        median = float(np.median(auto_cells))
        verdicts.append((f"auto median rMAE over cells <= 0.99 ({median:.3f})", median <= 0.99))
    print(f"\ntotal time {time.perf_counter() - total_began:.1f} s")
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
