"""Speed benchmark: our walk-forward evaluation of the whole model zoo vs statsforecast.

Both run in the same process on the same series, origins and horizon:

* ours: :func:`energy_nb.evaluation.walk_forward` for every model in ``MODEL_NAMES`` (origins
  every 5 trading days from 2025-01-02 to 30 trading days before the last date, h = 30, levels
  80/95), on the full history up to each origin (the models choose their own windows); each
  model is refitted from scratch at every origin by default, like statsforecast (``ensemble``
  reuses the members fitted at the same origin); ``--refit-every N`` refits every N origins and
  in between ``update``-s with the new prices (parameters kept, state and calibration
  refreshed; still no look-ahead);
* statsforecast: ``StatsForecast.cross_validation`` with AutoARIMA, AutoETS, AutoTheta, Naive and
  RandomWalkWithDrift, fit window starting 2021-01-01, ``n_windows`` = our origins,
  ``step_size`` = 5, ``h`` = 30, ``level`` = [80, 95], refit at every window (its default). The
  series is indexed by trading-day position (``freq=1``) and cut after the last origin's 30th
  step, so its cutoffs are exactly our origins (checked).

numba compiles statsforecast's models on first use; that one-off cost is measured separately on a
short series and excluded from its time. The two run interleaved per commodity so that both see
the same machine load. Target: ours <= 0.5 x statsforecast (reference:
statsforecast 165 s on a 2-core machine for the 3 series).

Usage::

    .venv/bin/python benchmarks/bench_speed.py                     # full benchmark
    .venv/bin/python benchmarks/bench_speed.py --commodities WTI --step 25   # quick look
    .venv/bin/python benchmarks/bench_speed.py --json bench_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from energy_nb.commodities import COMMODITIES, get_commodity
from energy_nb.data.validation import read_price_csv
from energy_nb.evaluation import select_origins, walk_forward
from energy_nb.evaluation.metrics import coverage, relative_mae
from energy_nb.models import MODEL_NAMES

SF_MODELS = ("AutoARIMA", "AutoETS", "AutoTheta", "Naive", "RandomWalkWithDrift")
SHOWN_STEPS = (1, 5, 10, 20, 30)


def load_series(eia_dir: Path, code: str) -> pd.Series:
    """Read one commodity's daily prices from the EIA snapshot folder."""
    parsed = read_price_csv(eia_dir / COMMODITIES[code].snapshot_file, commodity=code)
    index = pd.DatetimeIndex(pd.to_datetime(parsed.dates), name="date")
    values = np.array([np.nan if p is None else p for p in parsed.prices], dtype=float)
    return pd.Series(values, index=index, name=code)


def run_ours(y: pd.Series, models: list[str], args: argparse.Namespace) -> tuple[float, Any]:
    """Evaluate the zoo on one series; return seconds and the result."""
    began = time.perf_counter()
    result = walk_forward(y, models, start=args.start, horizon=args.horizon, step=args.step,
                          refit_every=args.refit_every, levels=(80, 95),
                          progress=not args.no_progress)
    return time.perf_counter() - began, result


def sf_frame(y: pd.Series, origins: pd.DatetimeIndex, horizon: int, fit_start: str) -> pd.DataFrame:
    """The statsforecast input: trading-day positions as ``ds``, cut after the last target."""
    last = y.index.get_loc(origins[-1]) + horizon
    window = y.iloc[: last + 1].loc[fit_start:].ffill()
    positions = np.arange(len(window))
    return pd.DataFrame({"unique_id": y.name, "ds": positions, "y": window.to_numpy()}), window


def sf_models() -> list[Any]:
    """Fresh statsforecast model objects."""
    from statsforecast.models import (
        AutoARIMA,
        AutoETS,
        AutoTheta,
        Naive,
        RandomWalkWithDrift,
    )

    return [AutoARIMA(), AutoETS(), AutoTheta(), Naive(), RandomWalkWithDrift()]


def warm_up_statsforecast(jobs: int) -> float:
    """Compile statsforecast's numba code on a short series (excluded from the timing)."""
    from statsforecast import StatsForecast

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"unique_id": "warm", "ds": np.arange(300),
                       "y": 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))})
    began = time.perf_counter()
    StatsForecast(models=sf_models(), freq=1, n_jobs=jobs).cross_validation(
        h=30, df=df, n_windows=2, step_size=5, level=[80, 95])
    return time.perf_counter() - began


def run_statsforecast(y: pd.Series, origins: pd.DatetimeIndex, args: argparse.Namespace
                      ) -> tuple[float, pd.DataFrame]:
    """Cross-validate the statsforecast set on one series; return seconds and its output."""
    from statsforecast import StatsForecast

    df, window = sf_frame(y, origins, args.horizon, args.fit_start)
    sf = StatsForecast(models=sf_models(), freq=1, n_jobs=args.sf_jobs)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = sf.cross_validation(h=args.horizon, df=df, n_windows=len(origins),
                                 step_size=args.step, level=[80, 95],
                                 refit=True if args.sf_refit == 1 else args.sf_refit)
    seconds = time.perf_counter() - began
    cv = cv.reset_index() if "unique_id" not in cv.columns else cv
    cutoffs = window.index[np.sort(cv["cutoff"].unique()).astype(int)]
    if not cutoffs.equals(pd.DatetimeIndex(origins)):
        raise SystemExit(f"{y.name}: statsforecast cutoffs differ from our origins")
    cv["step"] = cv["ds"].astype(int) - cv["cutoff"].astype(int)
    return seconds, cv


def sf_scores(cv: pd.DataFrame) -> pd.DataFrame:
    """rMAE at the shown steps and mean 80/95 coverage per statsforecast model."""
    rows = {}
    for model in (m.alias for m in sf_models()):
        row = {}
        for step in SHOWN_STEPS:
            part = cv[cv["step"] == step]
            if part.empty:
                continue
            row[f"rMAE@{step}"] = relative_mae(part["y"], part[model], part["Naive"])
        for level in (80, 95):
            row[f"cov{level}"] = coverage(cv["y"], cv[f"{model}-lo-{level}"],
                                          cv[f"{model}-hi-{level}"])
        rows[model] = row
    return pd.DataFrame(rows).T


def ours_scores(result: Any) -> pd.DataFrame:
    """rMAE at the shown steps, mean 80/95 coverage and seconds per model."""
    steps = [s for s in SHOWN_STEPS if s <= result.horizon]
    table = result.table("rmae", steps)
    table.columns = [f"rMAE@{s}" for s in steps]
    for level in (80, 95):
        table[f"cov{level}"] = result.table(f"coverage_{level}").mean(axis=1)
    table["seconds"] = pd.Series(result.seconds)
    table["fits"] = pd.Series(result.fits)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eia-dir", type=Path, default=REPO.parent / "shared" / "data" / "eia")
    parser.add_argument("--commodities", default="WTI,BRENT,NG")
    parser.add_argument("--models", default="all", help="our models (comma list or all)")
    parser.add_argument("--start", default="2025-01-02")
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--refit-every", type=int, default=1, dest="refit_every",
                        help="our models: refit every N origins, update in between (default 1: "
                             "every origin, as statsforecast)")
    parser.add_argument("--fit-start", default="2021-01-01", dest="fit_start",
                        help="statsforecast's fit window start")
    parser.add_argument("--sf-jobs", type=int, default=1, dest="sf_jobs",
                        help="statsforecast n_jobs (default 1: one process, like ours)")
    parser.add_argument("--sf-refit", type=int, default=1, dest="sf_refit",
                        help="statsforecast refits every N windows (default 1: every window, "
                             "the reference set-up)")
    parser.add_argument("--skip-statsforecast", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)

    codes = [get_commodity(c).code for c in args.commodities.split(",")]
    models = list(MODEL_NAMES) if args.models == "all" else args.models.split(",")
    series = {code: load_series(args.eia_dir, code) for code in codes}
    origins = {code: select_origins(y.index, args.start, horizon=args.horizon, step=args.step)
               for code, y in series.items()}
    print(f"cores: {os.cpu_count()}; series: " + ", ".join(
        f"{c} {len(o)} origins {o[0].date()}..{o[-1].date()}" for c, o in origins.items())
        + f"; h={args.horizon}, step {args.step}; our refit_every={args.refit_every}")

    # Interleaved per commodity so that both sides see the same machine load.
    ours: dict[str, Any] = {}
    sf_out: dict[str, pd.DataFrame] = {}
    ours_seconds, sf_seconds = 0.0, None
    report: dict[str, Any] = {"models": models, "refit_every": args.refit_every,
                              "origins": {c: len(o) for c, o in origins.items()}}
    if not args.skip_statsforecast:
        report["statsforecast_jit_warmup_seconds"] = warm_up_statsforecast(args.sf_jobs)
        report["statsforecast_jobs"] = args.sf_jobs
        sf_seconds = 0.0
    for code, y in series.items():
        seconds, ours[code] = run_ours(y, models, args)
        ours_seconds += seconds
        line = f"  {code}: ours {seconds:.1f} s"
        if sf_seconds is not None:
            seconds, sf_out[code] = run_statsforecast(y, origins[code], args)
            sf_seconds += seconds
            line += f", statsforecast {seconds:.1f} s"
        print(line, file=sys.stderr, flush=True)
    report["ours_seconds"] = ours_seconds
    if sf_seconds is not None:
        report["statsforecast_seconds"] = sf_seconds

    pd.set_option("display.width", 160)
    fmt = lambda v: f"{v:.3f}"
    for code in codes:
        print(f"\n== {code}: ours ({len(origins[code])} origins)")
        print(ours_scores(ours[code]).to_string(float_format=fmt, na_rep="-"))
        if sf_seconds is not None:
            print(f"-- {code}: statsforecast (rMAE vs its Naive on the same origins)")
            print(sf_scores(sf_out[code]).to_string(float_format=fmt, na_rep="-"))

    print("\n== speed (same run, same series, origins and horizon)")
    rows = [("ours: whole zoo (" + ", ".join(models) + ")", ours_seconds)]
    if sf_seconds is not None:
        rows.append(("statsforecast: " + ", ".join(SF_MODELS)
                     + f" (n_jobs={args.sf_jobs}, refit every {args.sf_refit} windows;"
                       f" + {report['statsforecast_jit_warmup_seconds']:.1f}"
                       " s numba warm-up not counted)", sf_seconds))
    for label, seconds in rows:
        print(f"{seconds:9.1f} s  {label}")
    per_model = pd.DataFrame({c: pd.Series(ours[c].seconds) for c in codes})
    per_model["total"] = per_model.sum(axis=1)
    print("\nour seconds per model and commodity:")
    print(per_model.to_string(float_format=lambda v: f"{v:.1f}"))
    report["ours_seconds_per_model"] = per_model["total"].to_dict()
    if sf_seconds is not None:
        ratio = ours_seconds / sf_seconds
        verdict = "PASS" if ratio <= 0.5 else "FAIL"
        print(f"\nratio ours / statsforecast = {ratio:.2f}  (target <= 0.50: {verdict})")
        report["ratio"] = ratio
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    write_rows(report, codes, args)
    return 0


def write_rows(report: dict[str, Any], codes: list[str], args: argparse.Namespace) -> None:
    """Machine-readable rows for ``run_all.py`` (written only when ENERGY_NB_BENCH_JSON is set)."""
    # benchmarks/ is on sys.path when this script runs
    from run_all import write_results

    n = sum(report["origins"].values())
    zoo = "whole zoo" if set(report["models"]) == set(MODEL_NAMES) else "models"
    figure = (f"walk-forward, {zoo} ({len(report['models'])} models), {', '.join(codes)}, "
              f"{n} origins, h={args.horizon}, refit every {args.refit_every}")
    row: dict[str, Any] = {"figure": figure, "value": round(report["ours_seconds"], 2),
                           "unit": "s"}
    if "statsforecast_seconds" in report:
        row.update(baseline=round(report["statsforecast_seconds"], 2),
                   baseline_label=f"statsforecast cross_validation ({', '.join(SF_MODELS)}; "
                                  f"refit every {args.sf_refit} windows, n_jobs={args.sf_jobs})",
                   target="<= 0.5x", **{"pass": bool(report["ratio"] <= 0.5)})
    write_results([row])


if __name__ == "__main__":
    sys.exit(main())
