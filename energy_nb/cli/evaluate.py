"""``energy-nb evaluate``: walk-forward evaluation of models on stored prices.

Usage::

    energy-nb evaluate --commodity WTI --start 2025-01-01 --horizon 30 --step 5 --models all \
        --refit-every 4 --json results.json
    energy-nb evaluate --commodity all --start 2025-01-01 --refit-every 5 --if-missing

JSON (``--json`` on stdout, ``--json PATH`` to a file)::

    {"horizon": 30, "step": 5, "refit_every": 4, "levels": [80, 95], "start": "2025-01-01",
     "end": null, "models": [...], "skipped": [],
     "commodities": {"WTI": {"data_version": "WTI@1", "origins": ["2025-01-02", ...],
                             "n_origins": 75, "first_origin": ..., "last_origin": ...,
                             "models": {"arima": {"params": {...}, "seconds": 12.3, "fits": 19,
                                                  "failures": [], "run_id": 7,
                                                  "steps": {"1": {"mae": ..., "rmse": ...,
                                                        "mape": ..., "smape": ..., "mase": ...,
                                                        "rmae": ..., "directional_accuracy": ...,
                                                        "coverage_80": ..., "width_80": ...,
                                                        "pinball_80": ..., "winkler_80": ...,
                                                        ...}, ...}}}}}}
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_nb.cli._common import CliError, add_db_flag, open_store
from energy_nb.cli._forecast_args import (
    add_json_output,
    commodities_arg,
    date_arg,
    horizon_arg,
    levels_arg,
    models_arg,
    output_json,
    positive_int_arg,
)
from energy_nb.service.requests import MAX_HORIZON, MIN_HORIZON

if TYPE_CHECKING:
    from energy_nb.service.registry import ModelRegistry

#: Steps shown in the text table (those within the horizon).
SHOWN_STEPS = (1, 5, 10, 20, 30)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="walk-forward evaluation: per model and step MAE, rMAE, coverage, ...",
        description="Rolling-origin evaluation: at every origin each model is fitted on data up "
                    "to the origin only and forecasts steps 1..H, which are scored against the "
                    "actual prices. rMAE compares with random_walk on the same origins.",
    )
    parser.add_argument("--commodity", required=True, type=commodities_arg,
                        help="WTI, BRENT, NG, a comma list, or all")
    parser.add_argument("--start", required=True, type=date_arg,
                        help="first forecast origin (first trading day on or after this date)")
    parser.add_argument("--end", type=date_arg,
                        help="last date whose price is used as an actual (default: last stored)")
    parser.add_argument("--horizon", type=horizon_arg, default=30,
                        help=f"steps 1..H ({MIN_HORIZON}-{MAX_HORIZON})")
    parser.add_argument("--step", type=positive_int_arg, default=5,
                        help="trading days between origins (default 5)")
    parser.add_argument("--models", type=models_arg, default="all",
                        help="comma-separated model names, or all (default)")
    parser.add_argument("--refit-every", type=positive_int_arg, default=1, dest="refit_every",
                        help="refit from scratch every N origins, update in between (default 1)")
    parser.add_argument("--levels", type=levels_arg, default=(80, 95),
                        help="interval levels, comma-separated (default 80,95)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--no-record", action="store_true",
                        help="do not record the runs in the model registry")
    parser.add_argument("--if-missing", action="store_true", dest="if_missing",
                        help="skip commodities that already have a walk-forward evaluation "
                             "recorded by this energy_nb version (set-up scripts: `make run` "
                             "seeds the Models page)")
    add_json_output(parser)
    add_db_flag(parser)
    parser.set_defaults(func=cmd_evaluate)


def _current_evaluation_recorded(registry: ModelRegistry, code: str) -> bool:
    """Whether ``code`` has a walk-forward run recorded by the installed energy_nb version.

    Runs of an older version do not count: a new version may forecast differently (e.g. another
    interval method), so ``make run`` evaluates again after an upgrade.
    """
    from energy_nb.service.registry import library_versions

    current = library_versions()["energy_nb"]
    return any(run.versions.get("energy_nb") == current
               for run in registry.latest_evaluations(code).values())


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run the evaluation for each commodity and report it."""
    from energy_nb.evaluation import EvaluationError, walk_forward
    from energy_nb.service.registry import ModelRegistry

    models = args.models if isinstance(args.models, list) else models_arg(args.models)
    if args.end is not None and args.end <= args.start:
        raise CliError(f"--end {args.end.date()} must be after --start {args.start.date()}")
    store = open_store(args)
    payload: dict[str, Any] = {
        "horizon": args.horizon, "step": args.step, "refit_every": args.refit_every,
        "levels": list(args.levels), "start": args.start.strftime("%Y-%m-%d"),
        "end": args.end.strftime("%Y-%m-%d") if args.end is not None else None,
        "models": models, "commodities": {}, "skipped": [],
    }
    texts: list[str] = []
    registry = ModelRegistry(store)
    for code in args.commodity:
        if args.if_missing and _current_evaluation_recorded(registry, code):
            payload["skipped"].append(code)
            print(f"energy-nb: {code}: a walk-forward evaluation by this energy_nb version is "
                  "already recorded; skipped (--if-missing)", file=sys.stderr)
            continue
        series = store.load(code)
        valid = series.dropna()
        if valid.empty:
            raise CliError(f"no {code} prices stored; import them first (energy-nb data import)")
        if args.start <= valid.index[0]:
            raise CliError(f"--start {args.start.date()} is not after the first {code} price "
                           f"({valid.index[0].date()}): the first origin needs training data")
        if args.start > valid.index[-1]:
            raise CliError(f"--start {args.start.date()} is after the last {code} price "
                           f"({valid.index[-1].date()})")
        version = store.data_version(code)
        try:
            result = walk_forward(series, models, start=args.start, end=args.end,
                                  horizon=args.horizon, step=args.step,
                                  refit_every=args.refit_every, levels=args.levels,
                                  progress=not args.no_progress)
        except EvaluationError as exc:
            raise CliError(f"{code}: {exc}") from exc
        entry = result.to_dict()
        run_ids: dict[str, int] = {}
        if not args.no_record:
            run_ids = registry.record_evaluation(result, series, version)
        for name, model_entry in entry["models"].items():
            model_entry["run_id"] = run_ids.get(name)
            for failure in model_entry["failures"][:3]:
                print(f"energy-nb: warning: {code} {name} failed at {failure}", file=sys.stderr)
        payload["commodities"][code] = {
            "data_version": version,
            "n_origins": entry["n_origins"],
            "first_origin": entry["origins"][0],
            "last_origin": entry["origins"][-1],
            "origins": entry["origins"],
            "models": entry["models"],
        }
        texts.append(_text(code, result))
    if not output_json(args.json, payload) and texts:
        print("\n\n".join(texts))
    return 0


def _text(code: str, result: Any) -> str:
    steps = [s for s in SHOWN_STEPS if s <= result.horizon] or [result.horizon]
    table = result.table("rmae", steps)
    table.columns = [f"rMAE@{s}" for s in steps]
    table["MAE@1"] = result.table("mae", [1])[1]
    for level in result.levels:
        table[f"cov{level}"] = result.table(f"coverage_{level}").mean(axis=1)
    table["seconds"] = pd.Series(result.seconds)
    origins = result.origins
    head = (f"{code}: {len(origins)} origins {origins[0].date()}..{origins[-1].date()}, "
            f"h={result.horizon}, every {result.settings['step']} trading days, "
            f"refit every {result.settings['refit_every']}")
    return head + "\n" + table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="-")
