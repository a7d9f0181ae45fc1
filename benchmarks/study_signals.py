"""In-sample study: is there a signal that beats the no-change forecast reliably? (issue 3)

Uses prices up to 2024-12-31 only (the design/tuning period; 2025 onward is the out-of-sample
window of ``bench_accuracy.py`` and is never read here). Two parts, both printing rMAE (MAE in
prices divided by the random walk's MAE on the same origins) at steps 1, 5, 10, 20, 30:

1. ``zoo``: every model of the zoo, walk-forward (fit on data up to the origin, refit every 5
   origins), origins every 5 trading days, rMAE per two-year block 2008–2024. A model is only
   worth choosing if it is below 1 in most blocks, not just pooled (pooled figures are dominated
   by the most volatile years).
2. ``signals``: simple, explainable predictors, each fitted by least squares on a rolling window
   of the data before the origin (refit every 20 origins) and evaluated at every origin of
   2014–2024 and, separately, 2019–2024:

   - ``reversion20`` / ``reversion60``: log price minus its 20-/60-day mean (slope capped at 0);
   - ``weekday``: median daily log return per weekday (Henry Hub's weekend-delivery discount);
   - ``leadlag`` (BRENT only): yesterday's WTI minus Brent log return (WTI settles ~3 h after
     Brent is assessed in London);
   - ``spread250`` (WTI, BRENT): WTI−Brent log spread minus its 250-day mean.

The printed verdict counts, over the 15 (commodity, step) cells of the benchmark, how many a
signal brings to <= 0.99 in both test periods. That is the most the ``auto`` median target
(<= 0.99 over 15 cells, i.e. at least 8 cells) could hope for from it.

Usage::

    .venv/bin/python benchmarks/study_signals.py                 # both parts (~3 min)
    .venv/bin/python benchmarks/study_signals.py --part signals  # seconds
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_accuracy import evaluate, load_series, origin_positions

#: Last date any part of this study may read.
TUNING_END = "2024-12-31"
STEPS = (1, 5, 10, 20, 30)
HORIZON = 30
COMMODITIES = ("WTI", "BRENT", "NG")


def _positive_log(series: pd.Series) -> pd.Series:
    """Log prices with non-positive values carried forward (the zoo's transformation policy)."""
    return np.log(series.where(series > 0).ffill().bfill())


def load_in_sample(data_dir: Path) -> dict[str, pd.Series]:
    """Daily prices up to :data:`TUNING_END` only."""
    return {c: load_series(data_dir, c).loc[:TUNING_END].dropna() for c in COMMODITIES}


def zoo_blocks(prices: dict[str, pd.Series], models: list[str]) -> pd.DataFrame:
    """rMAE per model, commodity, two-year block and step (walk-forward, refit every 5)."""
    rows = []
    for code, series in prices.items():
        origins = origin_positions(series.index, "2008-01-02", TUNING_END, HORIZON, 5)
        results = evaluate(series, ["random_walk", *models], origins, HORIZON, 5)
        years = series.index[origins].year
        for first in range(2008, 2025, 2):
            block = (years >= first) & (years <= first + 1)
            rw = np.nanmean(results["random_walk"]["abs_err"][block], axis=0)
            for name in models:
                rmae = np.nanmean(results[name]["abs_err"][block], axis=0) / rw
                label = f"{first}-{min(first + 1, 2024)}"
                rows.append({"commodity": code, "model": name, "block": label,
                             **{f"@{s}": rmae[s - 1] for s in STEPS}})
    return pd.DataFrame(rows)


Feature = Callable[[pd.DataFrame], np.ndarray]


def _signal_rmae(log_frame: pd.DataFrame, target: str, feature: Feature, start: str,
                 window: int = 2500, cap_negative: bool = False) -> np.ndarray:
    """Walk-forward rMAE of ``log y[t+h] - log y[t] = beta_h * x_t`` (no intercept)."""
    y = log_frame[target].to_numpy()
    x = feature(log_frame)
    n = len(y)
    steps = np.arange(1, HORIZON + 1)
    origins = np.arange(int(log_frame.index.searchsorted(pd.Timestamp(start))), n - HORIZON)
    err_model = np.empty((len(origins), HORIZON))
    err_rw = np.empty((len(origins), HORIZON))
    beta = np.zeros((x.shape[1], HORIZON))
    for i, t in enumerate(origins):
        if i % 20 == 0:
            train = np.arange(max(260, t - HORIZON - window), t - HORIZON + 1)
            a = x[train]
            b = y[train[:, None] + steps[None, :]] - y[train][:, None]
            beta = np.linalg.lstsq(a, b, rcond=None)[0]
            if cap_negative:
                beta = np.minimum(beta, 0.0)
        actual = np.exp(y[t + 1: t + 1 + HORIZON])
        base = np.exp(y[t])
        err_model[i] = np.abs(actual - base * np.exp(x[t] @ beta))
        err_rw[i] = np.abs(actual - base)
    return err_model.mean(axis=0) / err_rw.mean(axis=0)


def _reversion(column: str, window: int) -> Feature:
    def feature(frame: pd.DataFrame) -> np.ndarray:
        y = frame[column]
        return (y - y.rolling(window, min_periods=1).mean()).to_numpy()[:, None]
    return feature


def _weekday(column: str) -> Feature:
    """Expected log change to each target weekday is learned per step through weekday dummies."""
    def feature(frame: pd.DataFrame) -> np.ndarray:
        return np.eye(5)[frame.index.day_of_week.to_numpy() % 5]
    return feature


def _leadlag(frame: pd.DataFrame) -> np.ndarray:
    gap = frame["WTI"].diff() - frame["BRENT"].diff()
    return gap.fillna(0.0).to_numpy()[:, None]


def _spread(frame: pd.DataFrame) -> np.ndarray:
    spread = frame["WTI"] - frame["BRENT"]
    return (spread - spread.rolling(250, min_periods=1).mean()).to_numpy()[:, None]


def signals(prices: dict[str, pd.Series]) -> pd.DataFrame:
    """rMAE of the simple predictors (see module docstring) in two test periods."""
    rows = []
    oil = pd.concat({c: prices[c] for c in ("WTI", "BRENT")}, axis=1).ffill().dropna()
    oil_log = oil.apply(_positive_log)
    cases: list[tuple[str, str, pd.DataFrame, Feature, bool]] = []
    for code in COMMODITIES:
        frame = _positive_log(prices[code]).to_frame(code)
        cases.append((code, "reversion20", frame, _reversion(code, 20), True))
        cases.append((code, "reversion60", frame, _reversion(code, 60), True))
        cases.append((code, "weekday", frame, _weekday(code), False))
    cases.append(("BRENT", "leadlag", oil_log, _leadlag, False))
    cases.append(("WTI", "spread250", oil_log, _spread, False))
    cases.append(("BRENT", "spread250", oil_log, _spread, False))
    for code, name, frame, feature, cap in cases:
        for start in ("2014-01-02", "2019-01-02"):
            rmae = _signal_rmae(frame, code, feature, start, cap_negative=cap)
            rows.append({"commodity": code, "signal": name, "test": f"{start[:4]}-2024",
                         **{f"@{s}": rmae[s - 1] for s in STEPS}})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "eia")
    parser.add_argument("--part", choices=("zoo", "signals", "both"), default="both")
    parser.add_argument("--models", default="drift,arima,ets,theta,gbm,ensemble")
    args = parser.parse_args(argv)
    prices = load_in_sample(args.data_dir)
    fmt = {"display.width": 200, "display.max_rows": 500, "display.float_format": "{:.3f}".format}
    cols = [f"@{s}" for s in STEPS]
    if args.part in ("signals", "both"):
        table = signals(prices)
        with pd.option_context(*[v for kv in fmt.items() for v in kv]):
            print("== simple signals, walk-forward, in sample ==")
            print(table.to_string(index=False))
        good = (table.groupby(["commodity", "signal"])[cols].max() <= 0.99)
        best = good.groupby(level="commodity").max().to_numpy().sum()
        print(f"\ncells (of 15) that some signal brings to <= 0.99 in both test periods: {best}")
    if args.part in ("zoo", "both"):
        table = zoo_blocks(prices, [m.strip() for m in args.models.split(",") if m.strip()])
        with pd.option_context(*[v for kv in fmt.items() for v in kv]):
            print("\n== zoo, rMAE per two-year block, in sample ==")
            print(table.to_string(index=False))
            share = (table[cols] < 1.0).groupby([table.commodity, table.model]).mean()
            print("\nshare of blocks with rMAE < 1, per step:")
            print(share.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
