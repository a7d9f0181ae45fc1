"""``energy-nb report``: run the report notebook with papermill and write HTML / PDF / ipynb.

Usage::

    energy-nb report                                   # all commodities, latest data
    energy-nb report --commodity WTI --commodity NG --horizon 5 --as-of 2025-06-30
    energy-nb report --format html,pdf --out var/reports --keep 30
    energy-nb report --export out/report-2025-06-30.ipynb --format html,pdf   # executed elsewhere

Exit codes: 0 written; 2 invalid parameters (nothing written); 1 a cell failed (the message
names the cell; the partial notebook is kept under ``<out>/failed/``) or an export failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energy_nb.cli._common import CliError, add_db_flag, add_json_flag, emit, open_store
from energy_nb.launch import LaunchError, RunFailed
from energy_nb.service.requests import MAX_HORIZON, MIN_HORIZON


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` command."""
    parser = subparsers.add_parser(
        "report", help="run the report notebook (papermill) and write HTML/PDF/ipynb",
        description="Execute notebooks/report.ipynb with the given parameters into a new run "
                    "folder named by date under --out, then export HTML with the code hidden "
                    "(and PDF with headless Chromium when installed).")
    parser.add_argument("--commodity", action="append", metavar="CODE",
                        help="WTI, BRENT or NG; repeat or comma-separate (default: all)")
    parser.add_argument("--horizon", help=f"forecast horizon in trading days, "
                        f"{MIN_HORIZON}-{MAX_HORIZON} (default 10)")
    parser.add_argument("--model", help="forecasting model (default auto)")
    parser.add_argument("--as-of", dest="as_of", metavar="DATE",
                        help="report date YYYY-MM-DD: only prices up to it are used "
                             "(default: the latest stored prices)")
    parser.add_argument("--levels", help="interval levels, comma-separated (default 80,95)")
    parser.add_argument("--title", help="report title")
    parser.add_argument("--strategy", help="backtest strategy (default sma-cross)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default $ENERGY_NB_HOME/reports)")
    parser.add_argument("--format", default="html,ipynb",
                        help="comma-separated: html, pdf, ipynb (default html,ipynb)")
    parser.add_argument("--keep", type=int, metavar="N",
                        help="keep only the N newest reports (default: keep all)")
    parser.add_argument("--plotlyjs", choices=("inline", "cdn"),
                        help="embed plotly.js (inline, default; offline and PDF) or load it "
                             "from the CDN (smaller files)")
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4",
                        help="PDF paper, portrait (default a4)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds one notebook cell may run (default 600, at least 10)")
    add_db_flag(parser)
    parser.add_argument("--export", type=Path, metavar="NOTEBOOK",
                        help="only export a report notebook executed elsewhere (e.g. by Airflow's "
                             "PapermillOperator) to HTML/PDF beside it")
    add_json_flag(parser)
    parser.set_defaults(func=cmd_report)


def parameters_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The report parameters given on the command line (unset ones keep their defaults).

    Args:
        args: parsed arguments.

    Returns:
        ``{parameter: value}`` for :func:`energy_nb.launch.report.run_report_job`.
    """
    raw: dict[str, object] = {}
    if args.commodity:
        raw["commodities"] = [c for item in args.commodity for c in item.split(",") if c.strip()]
    for name in ("horizon", "model", "as_of", "levels", "title", "strategy", "plotlyjs", "db"):
        value = getattr(args, name, None)
        if value is not None:
            raw[name] = value
    return raw


def _option_error(exc: LaunchError, args: argparse.Namespace) -> str:
    """The message of an error about an option, naming it as its flag."""
    if exc.option == "timeout":
        return f"--{exc}"  # "--timeout must be ..."
    if exc.option == "out" and args.out:
        return f"--out: {exc}"
    return str(exc)


def cmd_report(args: argparse.Namespace) -> int:
    """Validate the parameters, run the report, print where it is."""
    from energy_nb.data.store import StoreError
    from energy_nb.launch.report import check_report_options, export_report, run_report_job

    if args.export is not None:
        try:
            files = export_report(args.export, args.format, args.plotlyjs or "inline",
                                  paper=args.paper)
        except LaunchError as exc:
            raise CliError(str(exc)) from None
        except RunFailed as exc:
            print(f"energy-nb: error: {exc}", file=sys.stderr)
            return 1
        emit(args, {"files": {k: str(v) for k, v in files.items()}},
             "\n".join(f"{fmt}: {path}" for fmt, path in files.items()))
        return 0
    try:
        timeout, out = check_report_options(args.timeout, args.out)
    except LaunchError as exc:
        raise CliError(_option_error(exc, args)) from None
    store = open_store(args)  # a missing or damaged store fails here, before any kernel starts
    try:
        result = run_report_job(parameters_from_args(args), out=out, formats=args.format,
                                keep=args.keep, timeout=timeout, store=store, paper=args.paper)
    except (LaunchError, StoreError) as exc:
        raise CliError(str(exc)) from None
    except RunFailed as exc:
        print(f"energy-nb: error: {exc}", file=sys.stderr)
        return 1
    lines = [(f"report {result.report_date} written to {result.run_dir} "
             f"in {result.seconds:.1f} s")]
    lines += [f"  {fmt}: {path}" for fmt, path in result.files.items()]
    lines += [f"  {fmt} skipped: {why}" for fmt, why in result.skipped.items()]
    if result.pruned:
        lines.append(f"  removed {len(result.pruned)} old report(s)")
    emit(args, result.to_dict(), "\n".join(lines))
    return 0
