"""``energy-nb schedule``: run configured jobs (data update, report) at configured times.

One long-running process reads a TOML or JSON file, wakes at each job's time, runs the job as an
``energy-nb`` subprocess (so a crashing job cannot take the scheduler down), logs its output and
exit code, and remembers in a state file which scheduled time each job last ran for.

Configuration (``schedule.toml``)::

    timezone = "UTC"            # the zone of the "at" times (IANA name)
    catch_up = "6h"             # see the catch-up rule below; "0" turns catching up off
    state = "var/schedule-state.json"   # default: $ENERGY_NB_HOME/schedule-state.json
    log = "var/schedule.log"    # optional; the log always goes to stderr as well

    [[jobs]]
    name = "update"
    kind = "data-update"        # runs: energy-nb data update --source fred
    at = "18:30"
    days = ["mon", "tue", "wed", "thu", "fri"]   # default: every day
    source = "fred"

    [[jobs]]
    name = "daily-report"
    kind = "report"             # runs: energy-nb report --out ... --format ... --keep ...
    at = "19:00"
    out = "var/reports"
    formats = ["html", "pdf"]
    keep = 30
    parameters = { commodities = ["WTI", "BRENT", "NG"], horizon = 10 }

Catch-up rule for missed runs (the machine was off, asleep, or the scheduler was stopped): when
the scheduler starts or wakes up, a job whose most recent scheduled time has not run yet runs
**once, immediately**, if that time is at most ``catch_up`` ago (default 6 hours). Older missed
times are skipped and logged, never replayed one by one: a data update or a report of the latest
data replaces them. A failed run is logged and not retried before the job's next time. Jobs due
at the same moment run one after the other in the order of the file (put the data update first).

Usage::

    config = ScheduleConfig.load("schedule.toml")
    Scheduler(config).run_forever()                  # what `energy-nb schedule` does
    Scheduler(config, clock=fake_clock).run_pending()   # tests inject the clock
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from energy_nb.reports.parameters import ReportParameterError, validate_parameters

log = logging.getLogger("energy_nb.schedule")

#: Job kinds and what they run.
JOB_KINDS: tuple[str, ...] = ("data-update", "report")
#: Day names accepted in ``days`` (Monday = 0, as ``datetime.weekday``).
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Default catch-up window.
DEFAULT_CATCH_UP = timedelta(hours=6)
#: Report parameters a schedule file may set (those ``energy-nb report`` has options for).
REPORT_JOB_PARAMETERS: tuple[str, ...] = ("commodities", "horizon", "model", "as_of", "levels",
                                          "title", "strategy", "plotlyjs", "db")
#: Longest single sleep, so a changed clock (suspend, NTP step) is noticed soon.
MAX_SLEEP_SECONDS = 300.0

Clock = Callable[[], datetime]
#: ``runner(job, slot) -> exit code``; the default runs ``job.command()`` as a subprocess.
Runner = Callable[["Job", datetime], int]


class ScheduleConfigError(ValueError):
    """The schedule file is invalid; the message names the file, job and field."""


def _toml_error(path: Path, exc: ValueError) -> str:
    """The message for a schedule file that is not TOML: file, line and what was expected.

    A file that is not ``.json`` is read as TOML whatever its suffix (e.g. ``x.csv``), so the
    message says TOML and which suffixes a schedule file may have.
    """
    text = str(exc)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    where = f" (line {found.group(1)}, column {found.group(2)})" if found else ""
    reason = text[:found.start()] if found else text
    hint = ("" if path.suffix.lower() == ".toml"
            else "; a schedule file is TOML (.toml) or JSON (.json)")
    return f"{path}: not valid TOML{where}: {reason}{hint}"


class SchedulerLockedError(RuntimeError):
    """Another scheduler already uses the same state file."""


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def parse_duration(value: Any, what: str = "catch_up") -> timedelta:
    """Parse ``"90s"``, ``"30m"``, ``"6h"``, ``"2d"``, ``"0"`` or a number of seconds.

    Args:
        value: the text or number.
        what: the field name for messages.

    Returns:
        The duration.

    Raises:
        ScheduleConfigError: not a non-negative duration.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=float(value))
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
    if not match or isinstance(value, bool):
        raise ScheduleConfigError(
            f"{what} must be a duration like 30m, 6h or 1d (or 0), got {value!r}")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return timedelta(seconds=number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


@dataclass(frozen=True)
class Job:
    """One scheduled job.

    Attributes:
        name: unique name (used in the state file and the log).
        kind: ``"data-update"`` or ``"report"``.
        at: time of day (in the schedule's timezone).
        days: weekdays it runs on (0 = Monday).
        options: kind-specific settings (``source``; ``out``, ``formats``, ``keep``,
            ``parameters``, ``timeout``).
    """

    name: str
    kind: str
    at: time
    days: frozenset[int] = frozenset(range(7))
    options: Mapping[str, Any] = field(default_factory=dict)

    def command(self) -> list[str]:
        """The ``energy-nb`` arguments this job runs.

        Returns:
            e.g. ``["data", "update", "--source", "fred"]``.
        """
        o = self.options
        if self.kind == "data-update":
            args = ["data", "update", "--source", str(o.get("source", "fred"))]
            for code in o.get("commodities", []) or []:
                args += ["--commodity", str(code)]
            return args
        args = ["report"]
        if o.get("out"):
            args += ["--out", str(o["out"])]
        args += ["--format", ",".join(o.get("formats", ["html", "ipynb"]))]
        if o.get("keep") is not None:
            args += ["--keep", str(o["keep"])]
        if o.get("timeout") is not None:
            args += ["--timeout", str(o["timeout"])]
        params = o.get("parameters", {}) or {}
        for code in params.get("commodities", []) or []:
            args += ["--commodity", str(code)]
        for key, flag in (("horizon", "--horizon"), ("model", "--model"), ("as_of", "--as-of"),
                          ("title", "--title"), ("strategy", "--strategy"),
                          ("plotlyjs", "--plotlyjs"), ("db", "--db")):
            if params.get(key) is not None:
                args += [flag, str(params[key])]
        if params.get("levels"):
            args += ["--levels", ",".join(str(v) for v in params["levels"])]
        return args

    def last_slot(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The most recent scheduled time at or before ``now``.

        Args:
            now: aware datetime.
            tz: the schedule's timezone.

        Returns:
            The slot (aware, in ``tz``), or ``None`` if none in the last 8 days.
        """
        local = now.astimezone(tz)
        for back in range(8):
            day = (local - timedelta(days=back)).date()
            if day.weekday() not in self.days:
                continue
            slot = datetime.combine(day, self.at, tzinfo=tz)
            if slot <= local:
                return slot
        return None

    def next_slot(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The first scheduled time strictly after ``now``.

        Args:
            now: aware datetime.
            tz: the schedule's timezone.

        Returns:
            The slot (aware, in ``tz``).
        """
        local = now.astimezone(tz)
        for ahead in range(9):
            day = (local + timedelta(days=ahead)).date()
            if day.weekday() not in self.days:
                continue
            slot = datetime.combine(day, self.at, tzinfo=tz)
            if slot > local:
                return slot
        raise AssertionError("a job runs at least once a week")  # pragma: no cover

    def missed_slots(self, after: datetime | None, until: datetime, tz: ZoneInfo) -> int:
        """How many scheduled times lie in ``(after, until)`` (at most 1000 counted).

        Args:
            after: the last slot that ran (``None`` = never).
            until: the slot about to run.
            tz: the schedule's timezone.

        Returns:
            The number of slots skipped by the catch-up rule.
        """
        if after is None:
            return 0
        count, cursor = 0, after
        while count < 1000:
            cursor = self.next_slot(cursor, tz)
            if cursor >= until:
                return count
            count += 1
        return count


@dataclass(frozen=True)
class ScheduleConfig:
    """A parsed schedule file.

    Attributes:
        jobs: the jobs, in file order.
        timezone: zone of the ``at`` times.
        catch_up: window in which a missed run is still made up.
        state_path: JSON file remembering the last slot each job ran for.
        log_path: optional log file.
    """

    jobs: tuple[Job, ...]
    timezone: ZoneInfo
    catch_up: timedelta = DEFAULT_CATCH_UP
    state_path: Path = Path("schedule-state.json")
    log_path: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> ScheduleConfig:
        """Read a ``.toml`` or ``.json`` schedule file.

        Args:
            path: the file.

        Returns:
            The configuration (relative paths resolved against the file's folder).

        Raises:
            ScheduleConfigError: unreadable file or invalid content.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScheduleConfigError(f"cannot read schedule file {path}: {exc.strerror}") from None
        as_json = path.suffix.lower() == ".json"
        try:
            data = json.loads(text) if as_json else tomllib.loads(text)
        except json.JSONDecodeError as exc:
            raise ScheduleConfigError(f"{path}: not valid JSON (line {exc.lineno}, column "
                                      f"{exc.colno}): {exc.msg}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScheduleConfigError(_toml_error(path, exc)) from None
        return cls.from_dict(data, base=path.resolve().parent, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path | None = None,
                  source: str = "schedule") -> ScheduleConfig:
        """Build the configuration from parsed TOML/JSON.

        Args:
            data: the parsed file.
            base: folder that relative paths are relative to (default: the working folder).
            source: name used in messages.

        Returns:
            The configuration.

        Raises:
            ScheduleConfigError: naming the invalid field.
        """
        from energy_nb.config import Settings

        if not isinstance(data, Mapping):
            raise ScheduleConfigError(f"{source}: expected a table of settings")
        known = {"timezone", "catch_up", "state", "log", "jobs"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ScheduleConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; "
                                      f"known: {', '.join(sorted(known))}")
        base = base or Path.cwd()
        tz_name = data.get("timezone", "UTC")
        try:
            tz = ZoneInfo(str(tz_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleConfigError(f"{source}: unknown timezone {tz_name!r}") from None
        catch_up = parse_duration(data.get("catch_up", "6h"))
        raw_jobs = data.get("jobs")
        if not isinstance(raw_jobs, list) or not raw_jobs:
            raise ScheduleConfigError(f"{source}: needs at least one [[jobs]] entry")
        jobs = tuple(_parse_job(raw, k, base, source) for k, raw in enumerate(raw_jobs, 1))
        names = [j.name for j in jobs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ScheduleConfigError(f"{source}: job name(s) used twice: {', '.join(dupes)}")

        def _path(key: str) -> Path | None:
            value = data.get(key)
            if value is None:
                return None
            p = Path(str(value)).expanduser()
            return p if p.is_absolute() else base / p

        state = _path("state") or Settings.from_env().home / "schedule-state.json"
        return cls(jobs=jobs, timezone=tz, catch_up=catch_up, state_path=state,
                   log_path=_path("log"))


def _parse_job(raw: Any, number: int, base: Path, source: str) -> Job:
    where = f"{source}: job {number}"
    if not isinstance(raw, Mapping):
        raise ScheduleConfigError(f"{where}: expected a table")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ScheduleConfigError(f"{where}: name must be letters, digits, '-', '_' or '.', "
                                  f"got {name!r}")
    where = f"{source}: job {name!r}"
    kind = raw.get("kind")
    if kind not in JOB_KINDS:
        raise ScheduleConfigError(f"{where}: kind must be one of {', '.join(JOB_KINDS)}, "
                                  f"got {kind!r}")
    at_text = raw.get("at")
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(at_text)) if at_text else None
    if not match:
        raise ScheduleConfigError(f"{where}: at must be a time HH:MM (24 h), got {at_text!r}")
    at = time(int(match.group(1)), int(match.group(2)))
    days_raw = raw.get("days", list(DAY_NAMES))
    if isinstance(days_raw, str):
        days_raw = [days_raw]
    if not isinstance(days_raw, list) or not days_raw:
        raise ScheduleConfigError(f"{where}: days must be a list like [\"mon\", \"fri\"]")
    days = set()
    for d in days_raw:
        key = str(d).strip().lower()[:3]
        if key not in DAY_NAMES:
            raise ScheduleConfigError(f"{where}: unknown day {d!r}; use {', '.join(DAY_NAMES)}")
        days.add(DAY_NAMES.index(key))
    common = {"name", "kind", "at", "days"}
    allowed = common | ({"source", "commodities"} if kind == "data-update"
                        else {"out", "formats", "keep", "parameters", "timeout"})
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScheduleConfigError(f"{where}: unknown field(s) {', '.join(unknown)} for a {kind} "
                                  f"job; allowed: {', '.join(sorted(allowed - common))}")
    options = {k: v for k, v in raw.items() if k not in common}
    if kind == "data-update":
        if options.get("source", "fred") not in ("fred", "eia"):
            raise ScheduleConfigError(f"{where}: source must be fred or eia")
    else:
        from energy_nb.reports.run import check_formats, check_keep

        params = options.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise ScheduleConfigError(f"{where}: parameters must be a table")
        not_cli = sorted(set(params) - set(REPORT_JOB_PARAMETERS))
        if not_cli:
            raise ScheduleConfigError(
                f"{where}: parameter(s) {', '.join(not_cli)} cannot be set from a schedule; "
                f"allowed: {', '.join(REPORT_JOB_PARAMETERS)}")
        try:
            validate_parameters(params)
            options["formats"] = list(check_formats(options.get("formats", ["html", "ipynb"])))
            check_keep(options.get("keep"))
        except ReportParameterError as exc:
            raise ScheduleConfigError(f"{where}: {exc}") from None
        if options.get("out"):
            out = Path(str(options["out"])).expanduser()
            options["out"] = str(out if out.is_absolute() else base / out)
        if params.get("db"):
            db = Path(str(params["db"])).expanduser()
            options["parameters"] = {**params, "db": str(db if db.is_absolute() else base / db)}
    return Job(name=name, kind=kind, at=at, days=frozenset(days), options=options)


@dataclass(frozen=True)
class JobRun:
    """One execution (or skip) of a job.

    Attributes:
        job: the job name.
        slot: the scheduled time it ran for.
        started: when it started.
        status: ``"ok"``, ``"failed"`` or ``"skipped"`` (missed beyond the catch-up window).
        exit_code: the job's exit code (``None`` when skipped).
        missed: earlier missed slots not replayed.
    """

    job: str
    slot: datetime
    started: datetime
    status: str
    exit_code: int | None = None
    missed: int = 0


def subprocess_runner(job: Job, slot: datetime) -> int:
    """Run ``energy-nb <job.command()>`` in a subprocess and log its output.

    Args:
        job: the job.
        slot: its scheduled time (for the log).

    Returns:
        The exit code.
    """
    cmd = [sys.executable, "-c", ("import sys; from energy_nb.cli import main; "
           "sys.exit(main(sys.argv[1:]))"), *job.command()]
    log.info("job %s (%s): energy-nb %s", job.name, slot.isoformat(), " ".join(job.command()))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        log.info("job %s | %s", job.name, line)
    for line in proc.stderr.splitlines():
        log.warning("job %s ! %s", job.name, line)
    return proc.returncode


class Scheduler:
    """Run a :class:`ScheduleConfig`'s jobs at their times, applying the catch-up rule.

    Args:
        config: the configuration.
        clock: returns the current aware time (inject a fake one in tests).
        runner: executes a job and returns its exit code (default :func:`subprocess_runner`).
        sleep: waits a number of seconds; returns ``True`` to stop (default: waits on the stop
            event, so :meth:`stop` ends the loop at once).

    Usage::

        scheduler = Scheduler(ScheduleConfig.load("schedule.toml"))
        scheduler.run_forever()
    """

    def __init__(self, config: ScheduleConfig, clock: Clock = utc_now,
                 runner: Runner | None = None,
                 sleep: Callable[[float], bool] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.runner = runner or subprocess_runner
        self._stop = threading.Event()
        self.sleep = sleep or self._stop.wait
        self.state: dict[str, dict[str, Any]] = self._read_state()

    # -- state --------------------------------------------------------------------------------

    def _read_state(self) -> dict[str, dict[str, Any]]:
        path = self.config.state_path
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable state file %s: %s", path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self) -> None:
        path = self.config.state_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def last_ran_slot(self, job: Job) -> datetime | None:
        """The slot the job last ran (or was skipped) for, from the state file."""
        text = self.state.get(job.name, {}).get("last_slot")
        return datetime.fromisoformat(text) if text else None

    # -- scheduling ---------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[tuple[Job, datetime, str, int]]:
        """What the catch-up rule says to do now.

        Args:
            now: the time (default: the clock).

        Returns:
            ``(job, slot, action, missed)`` with action ``"run"`` or ``"skip"``, in file order.
        """
        now = now or self.clock()
        out = []
        for job in self.config.jobs:
            slot = job.last_slot(now, self.config.timezone)
            if slot is None:
                continue
            ran = self.last_ran_slot(job)
            if ran is not None and ran >= slot:
                continue
            missed = job.missed_slots(ran, slot, self.config.timezone)
            action = "run" if now - slot <= self.config.catch_up else "skip"
            out.append((job, slot, action, missed))
        return out

    def next_wakeup(self, now: datetime | None = None) -> datetime:
        """The earliest next scheduled time of any job."""
        now = now or self.clock()
        return min(job.next_slot(now, self.config.timezone) for job in self.config.jobs)

    def run_pending(self, now: datetime | None = None) -> list[JobRun]:
        """Run (or skip) every job that is due now, one after the other.

        Args:
            now: the time (default: the clock).

        Returns:
            What happened, in order.
        """
        runs = []
        for job, slot, action, missed in self.due(now):
            started = self.clock()
            if missed:
                log.warning("job %s: %d earlier missed run(s) not replayed (catch-up rule)",
                            job.name, missed)
            if action == "skip":
                log.warning("job %s: missed its run at %s by more than %s; skipped until its "
                            "next time", job.name, slot.isoformat(), self.config.catch_up)
                run = JobRun(job.name, slot, started, "skipped", None, missed)
            else:
                if started - slot > timedelta(minutes=1):
                    log.info("job %s: catching up the run of %s", job.name, slot.isoformat())
                try:
                    code = int(self.runner(job, slot))
                except Exception:
                    log.exception("job %s could not be started", job.name)
                    code = -1
                status = "ok" if code == 0 else "failed"
                (log.info if code == 0 else log.error)(
                    "job %s finished: %s (exit %d)", job.name, status, code)
                run = JobRun(job.name, slot, started, status, code, missed)
            self.state[job.name] = {"last_slot": slot.isoformat(), "status": run.status,
                                    "exit_code": run.exit_code,
                                    "finished_at": self.clock().isoformat()}
            self._write_state()
            runs.append(run)
        return runs

    def stop(self) -> None:
        """Ask :meth:`run_forever` to return after the current job."""
        self._stop.set()

    def run_forever(self, max_iterations: int | None = None) -> None:
        """Loop: run what is due, sleep until the next time (at most 5 minutes at once).

        Args:
            max_iterations: stop after this many wake-ups (for tests); ``None`` = until
                :meth:`stop` or a signal.

        Raises:
            SchedulerLockedError: another scheduler holds the state file's lock.
        """
        with self._lock():
            for job in self.config.jobs:
                log.info("job %s (%s) at %s on %s, next %s", job.name, job.kind,
                         job.at.strftime("%H:%M"), ",".join(DAY_NAMES[d] for d in sorted(job.days)),
                         job.next_slot(self.clock(), self.config.timezone).isoformat())
            iterations = 0
            while not self._stop.is_set():
                self.run_pending()
                iterations += 1
                if max_iterations is not None and iterations >= max_iterations:
                    break
                now = self.clock()
                wait = (self.next_wakeup(now) - now).total_seconds()
                if self.sleep(min(max(wait, 0.0), MAX_SLEEP_SECONDS)):
                    break
        log.info("scheduler stopped")

    def _lock(self) -> _StateLock:
        return _StateLock(self.config.state_path.with_name(self.config.state_path.name + ".lock"))


class _StateLock:
    """An exclusive ``flock`` on ``<state>.lock`` while the scheduler runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            raise SchedulerLockedError(
                f"another scheduler is running with the state file lock {self.path}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def configure_logging(log_path: Path | None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to a file (``time level message``).

    Args:
        log_path: optional log file.
        level: logging level.
    """
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, encoding="utf-8"))
    log.handlers.clear()
    for handler in handlers:
        handler.setFormatter(fmt)
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def describe(config: ScheduleConfig, now: datetime) -> list[dict[str, Any]]:
    """Each job with its command and next time (for ``energy-nb schedule --list``).

    Args:
        config: the configuration.
        now: the current time.

    Returns:
        One dict per job.
    """
    return [{"name": j.name, "kind": j.kind, "at": j.at.strftime("%H:%M"),
             "days": [DAY_NAMES[d] for d in sorted(j.days)],
             "command": ["energy-nb", *j.command()],
             "next": j.next_slot(now, config.timezone).isoformat()} for j in config.jobs]


__all__ = [
    "DEFAULT_CATCH_UP",
    "JOB_KINDS",
    "Job",
    "JobRun",
    "ScheduleConfig",
    "ScheduleConfigError",
    "Scheduler",
    "SchedulerLockedError",
    "configure_logging",
    "describe",
    "parse_duration",
    "subprocess_runner",
    "utc_now",
]
