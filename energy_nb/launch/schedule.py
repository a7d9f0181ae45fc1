"""Load, list and run the job schedule (data updates, reports) for ``energy-nb schedule``.

The scheduler, its file format and the catch-up rule are :mod:`energy_nb.reports.schedule`; this
module starts it: logging to stderr and the schedule's log file, SIGTERM stopping it.

Usage::

    config = load_schedule("schedule.toml")
    schedule_listing(config)["jobs"]      # names, kinds, times, commands, next times
    run_schedule(config)                  # until SIGTERM / Ctrl-C
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from energy_nb.launch import LaunchError


def load_schedule(path: str | Path) -> Any:
    """Read and check a schedule file (TOML or JSON).

    Args:
        path: the schedule file.

    Returns:
        The :class:`~energy_nb.reports.schedule.ScheduleConfig`.

    Raises:
        LaunchError: the file is missing, not TOML/JSON, or describes a bad job (the message
            names the file and what is wrong).
    """
    from energy_nb.reports.schedule import ScheduleConfig, ScheduleConfigError

    try:
        return ScheduleConfig.load(path)
    except ScheduleConfigError as exc:
        raise LaunchError(str(exc)) from None


def schedule_listing(config: Any) -> dict[str, Any]:
    """The jobs with their commands and next times, and the schedule's settings (JSON-safe).

    Args:
        config: a loaded schedule.

    Returns:
        ``{"jobs": [...], "timezone", "catch_up_seconds", "state"}``; each job as
        :func:`energy_nb.reports.schedule.describe` gives it.
    """
    from energy_nb.reports.schedule import describe, utc_now

    return {"jobs": describe(config, utc_now()), "timezone": str(config.timezone),
            "catch_up_seconds": config.catch_up.total_seconds(), "state": str(config.state_path)}


def run_due_jobs(config: Any, log: Path | None = None) -> list[Any]:
    """Run the jobs due now (the catch-up rule applies), one after the other, and return.

    Args:
        config: a loaded schedule.
        log: log file (default: the schedule's own ``log``); the log also goes to stderr.

    Returns:
        The :class:`~energy_nb.reports.schedule.JobRun` of each job run or skipped.
    """
    from energy_nb.reports.schedule import Scheduler, configure_logging

    configure_logging(log or config.log_path)
    return Scheduler(config).run_pending()


def run_schedule(config: Any, log: Path | None = None) -> None:
    """Run the schedule until SIGTERM or Ctrl-C.

    Args:
        config: a loaded schedule.
        log: log file (default: the schedule's own ``log``); the log also goes to stderr.

    Raises:
        LaunchError: another scheduler holds the schedule's state file.
    """
    from energy_nb.reports.schedule import Scheduler, SchedulerLockedError, configure_logging

    configure_logging(log or config.log_path)
    scheduler = Scheduler(config)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    try:
        scheduler.run_forever()
    except SchedulerLockedError as exc:
        raise LaunchError(str(exc)) from None
