"""``energy-nb models``: the model registry (evaluated and fitted models).

Usage::

    energy-nb models list --commodity WTI --json
    energy-nb models show 12
    energy-nb models names
"""

from __future__ import annotations

import argparse

from energy_nb.cli._common import CliError, add_db_flag, add_json_flag, emit, open_store
from energy_nb.cli._forecast_args import (
    commodity_arg,
    model_arg,
    positive_int_arg,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` command group."""
    models = subparsers.add_parser("models", help="list the model registry and model names")
    sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True

    lst = sub.add_parser("list", help="recorded model runs, newest first")
    lst.add_argument("--commodity", type=commodity_arg, help="only this commodity")
    lst.add_argument("--name", type=model_arg, help="only this model")
    lst.add_argument("--kind", choices=("fit", "walk_forward"), help="only fits or evaluations")
    lst.add_argument("--limit", type=positive_int_arg, help="at most N runs")
    add_json_flag(lst)
    add_db_flag(lst)
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="one run with its parameters, versions and metrics")
    show.add_argument("run_id", type=positive_int_arg, metavar="ID")
    add_json_flag(show)
    add_db_flag(show)
    show.set_defaults(func=cmd_show)

    names = sub.add_parser("names", help="the model names make_model accepts")
    add_json_flag(names)
    names.set_defaults(func=cmd_names)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the runs matching the filters."""
    from energy_nb.service.registry import ModelRegistry

    runs = ModelRegistry(open_store(args)).list(commodity=args.commodity, name=args.name,
                                                kind=args.kind, limit=args.limit)
    payload = {"runs": [_summary(r) for r in runs]}
    header = (f"{'id':>5}  {'commodity':<9} {'model':<12} {'kind':<12} {'train window':<23} "
              f"{'data':<9} {'rMAE':>6} {'cov95':>6}  created")
    lines = [header]
    for r in runs:
        s = _summary(r)
        window = f"{r.train_start or '?'}..{r.train_end or '?'}"
        lines.append(f"{r.id:>5}  {r.commodity:<9} {r.name:<12} {r.kind:<12} {window:<23} "
                     f"{r.data_version or '-':<9} {_fmt(s.get('rmae')):>6} "
                     f"{_fmt(s.get('coverage_95')):>6}  {r.created_at}")
    if not runs:
        lines.append("(no model runs recorded; run energy-nb evaluate or forecast)")
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print one run in full."""
    from energy_nb.service.registry import ModelRegistry, RegistryError

    try:
        run = ModelRegistry(open_store(args)).get(args.run_id)
    except RegistryError as exc:
        raise CliError(str(exc)) from exc
    data = run.to_dict()
    lines = [f"run {run.id}: {run.name} on {run.commodity} ({run.kind})",
             f"params: {run.params}",
             f"train: {run.train_start}..{run.train_end} ({run.data_version})",
             f"created: {run.created_at}", f"versions: {run.versions}"]
    frame = run.step_metrics()
    if not frame.empty:
        lines.append(frame.to_string(float_format=lambda v: f"{v:.3f}"))
    emit(args, data, "\n".join(lines))
    return 0


def cmd_names(args: argparse.Namespace) -> int:
    """Print the model names."""
    from energy_nb.models import MODEL_NAMES

    emit(args, {"models": list(MODEL_NAMES)}, "\n".join(MODEL_NAMES))
    return 0


def _summary(run) -> dict:
    """A run without its per-step metrics, plus the mean rMAE/coverage over steps (the HTTP API's
    rows too: :func:`energy_nb.service.queries.run_summary`)."""
    from energy_nb.service.queries import run_summary

    return run_summary(run)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
