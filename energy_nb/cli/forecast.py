"""``energy-nb forecast``: forecast one commodity with intervals.

Usage::

    energy-nb forecast --commodity WTI --horizon 7 --model auto --levels 80,95
    energy-nb forecast --commodity NG --horizon 10 --start 2025-03-03 --csv ng.csv
    energy-nb forecast --commodity BRENT --horizon 5 --json

The JSON is the served forecast
(:meth:`energy_nb.service.forecasting.ForecastRun.to_dict`): request,
``model_used`` (the model ``auto`` chose), ``forecast`` (dates, mean, lower/upper per level,
info), ``steps`` (per step: its trading day on the commodity's exchange calendar, the mean, and
after a past start date the actual with the day it was observed), ``calendar`` (market and notes
on what the calendar cannot know), ``actuals``, and the ``record_id`` of the stored forecast.
Step ``k`` is the ``k``-th trading day after the start; its actual is the ``k``-th price after it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from energy_nb.cli._common import CliError, add_db_flag, open_store
from energy_nb.cli._forecast_args import (
    add_json_output,
    commodity_arg,
    date_arg,
    horizon_arg,
    levels_arg,
    model_arg,
    output_json,
    write_atomic,
)
from energy_nb.service.requests import MAX_HORIZON, MIN_HORIZON


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``forecast`` command."""
    parser = subparsers.add_parser(
        "forecast", help=f"forecast {MIN_HORIZON}-{MAX_HORIZON} trading days ahead with prediction "
             "intervals",
        description="Fit a model on the stored prices up to the start date and forecast the "
                    "following trading days. The forecast is stored with its inputs.")
    parser.add_argument("--commodity", required=True, type=commodity_arg, help="WTI, BRENT or NG")
    parser.add_argument("--horizon", type=horizon_arg, default=7,
                        help=f"trading days ahead, {MIN_HORIZON}-{MAX_HORIZON} (default 7)")
    parser.add_argument("--model", type=model_arg, default="auto", help="model name (default auto)")
    parser.add_argument("--start", type=date_arg,
                        help="forecast origin (default: the latest stored price)")
    parser.add_argument("--levels", type=levels_arg, default=(80, 95),
                        help="interval levels, comma-separated (default 80,95)")
    parser.add_argument("--csv", type=Path, metavar="PATH", help="also write the table as CSV")
    parser.add_argument("--no-record", action="store_true",
                        help="do not store the forecast in the forecasts table")
    add_json_output(parser)
    add_db_flag(parser)
    parser.set_defaults(func=cmd_forecast)


def cmd_forecast(args: argparse.Namespace) -> int:
    """Compute, store and print (or write) one forecast."""
    from energy_nb.service.forecasting import (
        ForecastFitError,
        ForecastRequestError,
        ForecastService,
    )

    if args.csv is not None and not args.csv.parent.is_dir():
        raise CliError(f"cannot write {args.csv}: folder {args.csv.parent} does not exist")
    service = ForecastService(open_store(args))
    try:
        run = service.forecast(args.commodity, args.model, origin=args.start,
                               horizon=args.horizon, levels=args.levels,
                               record=not args.no_record)
    except (ForecastRequestError, ForecastFitError) as exc:
        raise CliError(str(exc)) from exc
    steps = run.steps()
    if args.csv is not None:
        write_atomic(args.csv, _dated(steps).to_csv(index=False, float_format="%.6g"))
    if output_json(args.json, run.to_dict()):
        return 0
    info = run.forecast.info
    used = run.model_used
    lines = [f"{run.commodity} forecast from {run.origin.date()} ({run.data_version}), "
             f"model {run.model}" + (f" -> {used}" if used != run.model else "")]
    reason = info.get("reason") or info.get("choice_reason")
    if reason:
        lines.append(f"why: {reason}")
    shown = _dated(steps)
    same = (shown["actual_date"] == "") | (shown["actual_date"] == shown["date"]) \
        if "actual_date" in shown else None
    if same is not None and bool(same.all()):
        shown = shown.drop(columns="actual_date")  # same days: one date column is enough
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    calendar = info.get("calendar") or {}
    if calendar.get("calendar"):
        lines.append(f"dates: {calendar.get('market')} trading days, calendar "
                     f"{calendar['calendar']}")
    lines.extend(f"note: {note}" for note in run.calendar_notes())
    if args.csv is not None:
        lines.append(f"wrote {args.csv}")
    if run.record_id is not None:
        lines.append(f"stored as forecast #{run.record_id}")
    print("\n".join(lines))
    return 0


def _dated(steps: pd.DataFrame) -> pd.DataFrame:
    """The steps table with ISO date strings (``""`` where a step has no actual yet)."""
    out = steps.copy()
    for column in ("date", "actual_date"):
        if column in out:
            out[column] = pd.to_datetime(out[column]).dt.strftime("%Y-%m-%d").fillna("")
    return out
