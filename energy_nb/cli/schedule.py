"""``energy-nb schedule``: run the configured jobs (data update, report) at their times.

Usage::

    energy-nb schedule --config schedule.toml            # long-running; Ctrl-C or SIGTERM stops
    energy-nb schedule --config schedule.toml --list     # jobs, commands, next times
    energy-nb schedule --config schedule.toml --once     # run what is due now, then exit

See :mod:`energy_nb.reports.schedule` for the file format and the catch-up rule; the command
parses its flags and prints, :mod:`energy_nb.launch.schedule` starts the scheduler.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from energy_nb.cli._common import CliError, add_json_flag, emit
from energy_nb.launch import LaunchError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``schedule`` command."""
    parser = subparsers.add_parser(
        "schedule", help="run data updates and reports at configured times",
        description="Run the jobs of a TOML/JSON schedule file in one long-running process. "
                    "A missed run is made up once if it is at most catch_up old; older ones "
                    "are skipped (see docs/reports.md).")
    parser.add_argument("--config", type=Path, required=True, metavar="FILE",
                        help="schedule file (.toml or .json)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="print the jobs and their next times")
    mode.add_argument("--once", action="store_true",
                      help="run the jobs that are due now (catch-up rule applies) and exit")
    parser.add_argument("--log", type=Path, metavar="FILE", help="also log to this file")
    add_json_flag(parser)
    parser.set_defaults(func=cmd_schedule)


def cmd_schedule(args: argparse.Namespace) -> int:
    """List, run once, or run the schedule until stopped."""
    from energy_nb.launch.schedule import (
        load_schedule,
        run_due_jobs,
        run_schedule,
        schedule_listing,
    )

    try:
        config = load_schedule(args.config)
    except LaunchError as exc:
        raise CliError(str(exc)) from None
    if args.list:
        listing = schedule_listing(config)
        lines = [f"{j['name']:16} {j['kind']:12} {j['at']} {','.join(j['days'])}  next {j['next']}"
                 f"\n{'':16} {' '.join(j['command'])}" for j in listing["jobs"]]
        emit(args, listing, "\n".join(lines))
        return 0
    if args.once:
        runs = run_due_jobs(config, args.log)
        payload = [{"job": r.job, "slot": r.slot.isoformat(), "status": r.status,
                    "exit_code": r.exit_code, "missed": r.missed} for r in runs]
        emit(args, {"runs": payload},
             "\n".join(f"{r.job}: {r.status} ({r.slot.isoformat()})" for r in runs)
             or "nothing due")
        return 0 if all(r.status != "failed" for r in runs) else 1
    try:
        run_schedule(config, args.log)
    except LaunchError as exc:
        raise CliError(str(exc)) from None
    return 0
