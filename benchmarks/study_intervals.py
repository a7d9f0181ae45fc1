"""In-sample study of the interval calibration (documents how the interval method was chosen).

Only prices up to ``--end`` (default and maximum 2024-12-31) are read; every origin *and* every
target of the evaluation lies on or before that date. For the ``random_walk`` model (its intervals
use the same machinery as every model) and each commodity, the evaluation runs over
non-overlapping blocks of ``--block`` (390, about 1.6 years) trading days aligned to the end of the
data and starting no earlier than ``--start`` (2008-01-02): origins every ``--step`` (5) trading
days within the block, steps 1..30, hits pooled over origins and steps per (commodity, level,
block) -- the same pooling as ``benchmarks/bench_accuracy.py``.

Fast path: the random walk's path is zero, so the scaled residuals of *all* origins can be
computed once per series with the functions of :mod:`energy_nb.models.intervals`; the
calibration set of an origin ``p`` is the rows ``max(1, p - window) .. p - 1`` with targets
``<= p`` -- exactly what ``make_model("random_walk").fit(y[:p + 1])`` uses. ``--check`` verifies
the equivalence against the model on a few origins (must print ``max |diff| ~ 1e-12``).

Printed per variant: coverage per block, the number / share of (commodity, level, block) cells
within +-3 points of nominal, the mean absolute coverage error (MACE) over the cells, and the
number of blocks in which *every* cell is within +-3 (``blocks_all_within``: the blocks that
would have met all of ``bench_accuracy.py``'s coverage targets, the block being about as long
as its out-of-sample window).

Result (10 blocks 2009-05 .. 2024-12, 60 cells): the original method (``current``: persistence
0.97, uniform weights) had 33/60 cells within +-3 (MACE 3.83); the first study's choice
(``sqrtcap``: sqrt(h) scale with the short vol capped at 3x the long-run vol, recency weights with
half-life 500 origins) 37/60 (MACE 2.85). ACI variants reached MACE 2.67 but biased the 95% bands
low. The second study added the drift-uncertainty term (``chosen``: ``sqrtcap`` + ``(h mu_t)^2``,
20-day drift): 40/60 (MACE 2.56), confirmed with ``--block 260``, ``--block 520`` and
``--start 2001-01-02``; vol floors, jump variance and faster vol did not help (see
docs/models.md for the full table). ``chosen`` has every cell of a block within +-3 in 1 of the
10 blocks; none of the variants does in more than 3.

Usage::

    .venv/bin/python benchmarks/study_intervals.py                 # all variants
    .venv/bin/python benchmarks/study_intervals.py --variants current,aci --check
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_accuracy
from energy_nb.models import make_model
from energy_nb.models.intervals import (
    conformal_offsets,
    ewma_drift,
    ewma_volatility,
    horizon_scale,
    scaled_residuals,
)
from energy_nb.models.transforms import prepare_series

LEVELS = (80, 95)
HORIZON = 30
LAST_ALLOWED = pd.Timestamp("2024-12-31")


@dataclass(frozen=True)
class Variant:
    """One interval method: volatility scale, calibration window and quantile rule."""

    halflife: float = 10.0
    long_halflife: float = 1000.0
    persistence: float = 0.97
    window: int = 1500
    weight_halflife: float | None = None  # recency-weighted conformal (None = uniform)
    aci_gamma: float = 0.0  # adaptive conformal inference gain (0 = off)
    vol_cap: float | None = None  # short-run vol capped at vol_cap * long-run vol
    hday_weight: float = 0.0  # weight of the realised h-day variance in the step-h scale
    hday_halflife: float = 60.0  # EWMA half-life of the realised h-day variance
    vol_floor: float | None = None  # short-run vol floored at vol_floor * long-run vol
    fast_halflife: float | None = None  # short-run vol = max(EWMA(halflife), EWMA(fast))
    jump_weight: float = 0.0  # share of long-run jump variance added to every step
    trend_weight: float = 0.0  # weight of the squared recent drift (h * mu_t)^2 in the variance
    trend_halflife: float = 20.0  # EWMA half-life of the recent drift mu_t
    trend_cap: float | None = 0.5  # |mu_t| capped at trend_cap * long-run vol


BASE = Variant()
#: The method of the first study (sqrt(h) scale, capped short vol, recency weights).
SQRT_CAP = replace(BASE, persistence=1.0, weight_halflife=500.0, vol_cap=3.0)
#: The method implemented in energy_nb.models.intervals (the default): SQRT_CAP plus the
#: drift-uncertainty term (second study).
CHOSEN = replace(SQRT_CAP, trend_weight=1.0, trend_halflife=20.0)
VARIANTS: dict[str, Variant] = {
    "current": BASE,  # the method before the first study
    "sqrtcap": SQRT_CAP,  # chosen by the first study
    "chosen": CHOSEN,
    "hl5": replace(BASE, halflife=5.0),
    "hl20": replace(BASE, halflife=20.0),
    "pers0.95": replace(BASE, persistence=0.95),
    "pers0.99": replace(BASE, persistence=0.99),
    "long250": replace(BASE, long_halflife=250.0),
    "long500": replace(BASE, long_halflife=500.0),
    "win500": replace(BASE, window=500),
    "win1000": replace(BASE, window=1000),
    "win2500": replace(BASE, window=2500),
    "wt250": replace(BASE, weight_halflife=250.0),
    "wt500": replace(BASE, weight_halflife=500.0),
    "aci0.002": replace(BASE, aci_gamma=0.002),
    "aci0.005": replace(BASE, aci_gamma=0.005),
    "aci0.01": replace(BASE, aci_gamma=0.01),
    "aci0.02": replace(BASE, aci_gamma=0.02),
    "pers0.99+aci0.005": replace(BASE, persistence=0.99, aci_gamma=0.005),
    "pers0.99+aci0.01": replace(BASE, persistence=0.99, aci_gamma=0.01),
    "pers0.995": replace(BASE, persistence=0.995),
    "pers1": replace(BASE, persistence=1.0),
    "pers0.99+wt500": replace(BASE, persistence=0.99, weight_halflife=500.0),
    "pers0.995+wt500": replace(BASE, persistence=0.995, weight_halflife=500.0),
    "pers0.98+wt500": replace(BASE, persistence=0.98, weight_halflife=500.0),
    # the cap of the first study's method (SQRT_CAP was CHOSEN when these were written)
    "pers1+wt500+cap2.5": replace(SQRT_CAP, vol_cap=2.5),
    "pers1+wt500+cap4": replace(SQRT_CAP, vol_cap=4.0),
    "pers1+wt500+nocap": replace(SQRT_CAP, vol_cap=None),
    "pers1+hl5": replace(BASE, persistence=1.0, halflife=5.0),
    "pers1+hl20": replace(BASE, persistence=1.0, halflife=20.0),
    "pers1+win1000": replace(BASE, persistence=1.0, window=1000),
    "pers1+win2500": replace(BASE, persistence=1.0, window=2500),
    "pers1+wt500": replace(BASE, persistence=1.0, weight_halflife=500.0),
    "pers1+hday0.5": replace(BASE, persistence=1.0, hday_weight=0.5),
    "pers1+hday0.5/120": replace(BASE, persistence=1.0, hday_weight=0.5, hday_halflife=120.0),
    "pers1+aci0.005": replace(BASE, persistence=1.0, aci_gamma=0.005),
    "pers1+aci0.01": replace(BASE, persistence=1.0, aci_gamma=0.01),
    "sqrtcap+floor0.5": replace(SQRT_CAP, vol_floor=0.5),
    "sqrtcap+floor0.7": replace(SQRT_CAP, vol_floor=0.7),
    "sqrtcap+floor0.9": replace(SQRT_CAP, vol_floor=0.9),
    "sqrtcap+fast3": replace(SQRT_CAP, fast_halflife=3.0),
    "sqrtcap+fast2": replace(SQRT_CAP, fast_halflife=2.0),
    "sqrtcap+fast5": replace(SQRT_CAP, fast_halflife=5.0),
    "sqrtcap+jump0.25": replace(SQRT_CAP, jump_weight=0.25),
    "sqrtcap+jump0.5": replace(SQRT_CAP, jump_weight=0.5),
    "sqrtcap+fast3+floor0.7": replace(SQRT_CAP, fast_halflife=3.0, vol_floor=0.7),
    "sqrtcap+hl20+fast3": replace(SQRT_CAP, halflife=20.0, fast_halflife=3.0),
    "sqrtcap+wt250": replace(SQRT_CAP, weight_halflife=250.0),
    "sqrtcap+wt1000": replace(SQRT_CAP, weight_halflife=1000.0),
    "sqrtcap+fast3+wt250": replace(SQRT_CAP, fast_halflife=3.0, weight_halflife=250.0),
    "sqrtcap+fast5+wt250": replace(SQRT_CAP, fast_halflife=5.0, weight_halflife=250.0),
    "sqrtcap+fast3+cap4": replace(SQRT_CAP, fast_halflife=3.0, vol_cap=4.0),
    "sqrtcap+trend0.5/20": replace(SQRT_CAP, trend_weight=0.5),
    "sqrtcap+trend1/60": replace(SQRT_CAP, trend_weight=1.0, trend_halflife=60.0),
    "sqrtcap+trend2/60": replace(SQRT_CAP, trend_weight=2.0, trend_halflife=60.0),
    "sqrtcap+trend1/120": replace(SQRT_CAP, trend_weight=1.0, trend_halflife=120.0),
    "sqrtcap+trend1/10": replace(SQRT_CAP, trend_weight=1.0, trend_halflife=10.0),
    "sqrtcap+trend2/20": replace(SQRT_CAP, trend_weight=2.0),
    "sqrtcap+trend1/20+fast3": replace(SQRT_CAP, trend_weight=1.0, fast_halflife=3.0),
    "chosen+tcap0.25": replace(CHOSEN, trend_cap=0.25),
    "chosen+tcap1": replace(CHOSEN, trend_cap=1.0),
    "chosen+nocap": replace(CHOSEN, trend_cap=None),
    "chosen+vcap2.5": replace(CHOSEN, vol_cap=2.5),
    "chosen+vcap4": replace(CHOSEN, vol_cap=4.0),
    "chosen+novcap": replace(CHOSEN, vol_cap=None),
    "sqrtcap+trend1/20+wt250": replace(SQRT_CAP, trend_weight=1.0, weight_halflife=250.0),
}


def load_series(data_dir: Path, code: str, end: pd.Timestamp) -> pd.Series:
    """Daily prices up to ``end`` (inclusive) -- nothing later is ever read into the study."""
    series = bench_accuracy.load_series(data_dir, code)
    return series[series.index <= end]


def offsets_for(z: np.ndarray, variant: Variant) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Scaled offsets of one origin's calibration residuals under ``variant``."""
    kwargs = {}
    if variant.weight_halflife is not None:
        kwargs["weight_halflife"] = variant.weight_halflife
    if variant.aci_gamma:
        kwargs["aci_gamma"] = variant.aci_gamma
    return conformal_offsets(z, LEVELS, **kwargs)


def residual_table(log_values: np.ndarray, variant: Variant) -> tuple[np.ndarray, np.ndarray]:
    """Scale ``S`` and scaled random-walk residuals ``Z`` of every origin, shape ``(n, H)``."""
    sigma = ewma_volatility(log_values, variant.halflife)
    sigma_long = ewma_volatility(log_values, max(variant.long_halflife, variant.halflife))
    if variant.fast_halflife is not None:
        sigma = np.maximum(sigma, ewma_volatility(log_values, variant.fast_halflife))
    if variant.vol_floor is not None:
        sigma = np.maximum(sigma, variant.vol_floor * sigma_long)
    origins = np.arange(len(log_values))
    scale = horizon_scale(sigma, sigma_long, origins, HORIZON, variant.persistence,
                          cap=variant.vol_cap, drift=ewma_drift(log_values, variant.trend_halflife),
                          trend_weight=variant.trend_weight, trend_cap=variant.trend_cap)
    if variant.jump_weight > 0:
        steps = np.arange(1, HORIZON + 1, dtype=float)
        scale = np.sqrt(scale**2 + variant.jump_weight * sigma_long[:, None] ** 2 * steps[None, :])
    if variant.hday_weight > 0:
        scale = np.sqrt((1 - variant.hday_weight) * scale**2
                        + variant.hday_weight * hday_variance(log_values, variant.hday_halflife))
    z = scaled_residuals(log_values, origins, np.zeros((len(origins), HORIZON)), scale)
    return scale, z


def hday_variance(log_values: np.ndarray, halflife: float) -> np.ndarray:
    """Causal EWMA of squared (overlapping) h-day log returns, shape ``(n, H)``."""
    out = np.empty((len(log_values), HORIZON))
    for h in range(1, HORIZON + 1):
        moves = np.full(len(log_values), np.nan)
        moves[h:] = (log_values[h:] - log_values[:-h]) ** 2
        var = pd.Series(moves).ewm(halflife=halflife, ignore_na=True).mean().bfill()
        out[:, h - 1] = np.maximum(var.to_numpy(), 1e-16)
    return out


def calibration_rows(z_all: np.ndarray, pos: int, window: int) -> np.ndarray:
    """The calibration residuals a model fitted on positions ``0..pos`` sees."""
    start = max(1, pos - window)  # RandomWalk.min_history = 2
    rows = np.arange(start, pos)
    z = z_all[start:pos].copy()
    z[rows[:, None] + np.arange(1, HORIZON + 1)[None, :] > pos] = np.nan
    return z


def bands(log_values: np.ndarray, scale: np.ndarray, z_all: np.ndarray, pos: int,
          variant: Variant) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Interval bounds (prices) of the random walk at origin position ``pos``."""
    offsets = offsets_for(calibration_rows(z_all, pos, variant.window), variant)
    centre = log_values[pos]
    return {lv: (np.exp(centre + lo * scale[pos]), np.exp(centre + hi * scale[pos]))
            for lv, (lo, hi) in offsets.items()}


def block_origins(index: pd.DatetimeIndex, start: str, block: int, step: int) -> list[np.ndarray]:
    """Origin positions per block (last block ends at the last origin whose targets are known)."""
    last = len(index) - 1 - HORIZON
    first = int(index.searchsorted(pd.Timestamp(start)))
    n_blocks = (last - first + 1) // block
    out = []
    for k in range(n_blocks):
        lo = last + 1 - (n_blocks - k) * block
        out.append(np.arange(lo, lo + block, step))
    return out


def evaluate(series: pd.Series, variant: Variant, blocks: list[np.ndarray]) -> np.ndarray:
    """Coverage in percent, shape ``(len(LEVELS), n_blocks)``."""
    prepared = prepare_series(series)
    offset = len(series) - len(prepared)  # leading missing values dropped by the input policy
    raw = series.to_numpy()[offset:]
    log_values = prepared.log_values
    scale, z_all = residual_table(log_values, variant)
    cov = np.zeros((len(LEVELS), len(blocks)))
    for b, origins in enumerate(blocks):
        hits = {lv: [] for lv in LEVELS}
        for pos in origins - offset:
            actual = raw[pos + 1: pos + 1 + HORIZON]
            ok = np.isfinite(actual)
            for lv, (lo, hi) in bands(log_values, scale, z_all, pos, variant).items():
                hits[lv].append(((lo <= actual) & (actual <= hi))[ok])
        for i, lv in enumerate(LEVELS):
            cov[i, b] = 100.0 * np.concatenate(hits[lv]).mean()
    return cov


def check_equivalence(series: pd.Series, positions: list[int]) -> float:
    """Largest relative difference between the fast path and ``random_walk`` fit/predict."""
    variant = CHOSEN
    prepared = prepare_series(series)
    offset = len(series) - len(prepared)
    scale, z_all = residual_table(prepared.log_values, variant)
    worst = 0.0
    for pos in positions:
        fc = make_model("random_walk").fit(series.iloc[: pos + 1]).predict(HORIZON, LEVELS)
        fast = bands(prepared.log_values, scale, z_all, pos - offset, variant)
        for lv in LEVELS:
            worst = max(worst, float(np.max(np.abs(fast[lv][0] / fc.lower[lv] - 1))),
                        float(np.max(np.abs(fast[lv][1] / fc.upper[lv] - 1))))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "eia")
    parser.add_argument("--start", default="2008-01-02")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--block", type=int, default=390)
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--variants", default="all")
    parser.add_argument("--commodities", default="WTI,BRENT,NG")
    parser.add_argument("--check", action="store_true", help="verify the fast path first")
    args = parser.parse_args(argv)
    end = pd.Timestamp(args.end)
    if end > LAST_ALLOWED:
        parser.error("in-sample study: --end must be on or before 2024-12-31")
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    codes = [c.strip().upper() for c in args.commodities.split(",")]
    data = {code: load_series(args.data_dir, code, end) for code in codes}
    blocks = {code: block_origins(s.index, args.start, args.block, args.step)
              for code, s in data.items()}
    for code, s in data.items():
        edges = [f"{s.index[b[0]].date()}" for b in blocks[code]]
        print(f"{code}: {len(blocks[code])} blocks starting {', '.join(edges)}; "
              f"last target {s.index[blocks[code][-1][-1] + HORIZON].date()}")
    if args.check:
        for code, s in data.items():
            picks = [int(blocks[code][0][0]), int(blocks[code][len(blocks[code]) // 2][7]),
                     int(blocks[code][-1][-1])]
            print(f"check {code}: max |fast / model - 1| = {check_equivalence(s, picks):.2e}")
    summary = []
    for name in names:
        variant = VARIANTS[name]
        began = time.perf_counter()
        cells = []
        lines = []
        for code in codes:
            cov = evaluate(data[code], variant, blocks[code])
            for i, lv in enumerate(LEVELS):
                cells.extend(cov[i] - lv)
                lines.append(f"  {code:5s} {lv}: " + " ".join(f"{c:5.1f}" for c in cov[i]))
        err = np.abs(np.array(cells))
        per_cell = err.reshape(len(codes) * len(LEVELS), -1)
        n_b = per_cell.shape[1]
        early, late = per_cell[:, : n_b // 2], per_cell[:, n_b // 2:]
        within = int((err <= 3.0).sum())
        # blocks (about as long as the out-of-sample window) in which every (commodity, level)
        # cell is within +-3: where the benchmark's coverage targets would all have been met
        passing = int((per_cell <= 3.0).all(axis=0).sum())
        summary.append({"variant": name, "within3": within, "cells": len(err),
                        "share": within / len(err), "MACE": err.mean(), "max": err.max(),
                        "MACE_early": early.mean(), "MACE_late": late.mean(),
                        "within_early": int((early <= 3).sum()),
                        "within_late": int((late <= 3).sum()),
                        "blocks_all_within": passing,
                        "sec": time.perf_counter() - began})
        print(f"{name}: {within}/{len(err)} cells within +-3, MACE {err.mean():.2f}, "
              f"max {err.max():.1f}, every cell within +-3 in {passing}/{n_b} blocks "
              f"({time.perf_counter() - began:.1f} s)")
        print("\n".join(lines), flush=True)
    table = pd.DataFrame(summary)
    with pd.option_context("display.width", 160, "display.float_format", "{:.2f}".format):
        print("\n" + table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
