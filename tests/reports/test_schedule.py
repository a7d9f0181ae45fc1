"""The scheduler: configuration, the catch-up rule with an injected clock, state, logging."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from energy_nb.reports.schedule import (
    Job,
    ScheduleConfig,
    ScheduleConfigError,
    Scheduler,
    SchedulerLockedError,
    parse_duration,
)
from tests.reports.conftest import run_cli

TOML = """
timezone = "UTC"
catch_up = "6h"
state = "state.json"

[[jobs]]
name = "update"
kind = "data-update"
at = "18:30"
days = ["mon", "tue", "wed", "thu", "fri"]

[[jobs]]
name = "report"
kind = "report"
at = "18:30"
out = "reports"
formats = ["html", "pdf"]
keep = 10
parameters = { commodities = ["WTI", "NG"], horizon = 5, levels = [80, 95] }
"""


class FakeClock:
    """A clock whose ``sleep`` moves time forward instead of waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        return False


class Recorder:
    """A runner that records (job, slot, time) and returns a configured exit code."""

    def __init__(self, clock: FakeClock, codes: dict[str, int] | None = None) -> None:
        self.clock = clock
        self.codes = codes or {}
        self.calls: list[tuple[str, datetime, datetime]] = []

    def __call__(self, job: Job, slot: datetime) -> int:
        self.calls.append((job.name, slot, self.clock()))
        self.clock.now += timedelta(minutes=2)  # jobs take time
        return self.codes.get(job.name, 0)


@pytest.fixture()
def config(tmp_path: Path) -> ScheduleConfig:
    path = tmp_path / "schedule.toml"
    path.write_text(TOML)
    return ScheduleConfig.load(path)


def make(config: ScheduleConfig, start: datetime, codes: dict[str, int] | None = None):
    clock = FakeClock(start)
    runner = Recorder(clock, codes)
    return Scheduler(config, clock=clock, runner=runner, sleep=clock.sleep), clock, runner


def test_toml_and_json_give_the_same_configuration(tmp_path: Path, config: ScheduleConfig) -> None:
    import tomllib

    (tmp_path / "schedule.json").write_text(json.dumps(tomllib.loads(TOML)))
    assert ScheduleConfig.load(tmp_path / "schedule.json") == config
    assert config.state_path == tmp_path / "state.json" and config.catch_up == timedelta(hours=6)
    update, report = config.jobs
    assert update.days == frozenset(range(5)) and update.at == time(18, 30)
    assert update.command() == ["data", "update", "--source", "fred"]
    assert report.command() == [
        "report", "--out", str(tmp_path / "reports"), "--format", "html,pdf", "--keep", "10",
        "--commodity", "WTI", "--commodity", "NG", "--horizon", "5", "--levels", "80,95"]
    with_db = ScheduleConfig.from_dict({"jobs": [{"name": "r", "kind": "report", "at": "07:00",
                                                  "parameters": {"db": "store.sqlite"}}]},
                                       base=tmp_path)
    assert with_db.jobs[0].command()[-2:] == ["--db", str(tmp_path / "store.sqlite")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('at = "18:30"\ndays', 'at = "25:00"\ndays'), "job 'update': at must be a time HH:MM"),
        (('kind = "data-update"', 'kind = "backup"'), "kind must be one of data-update, report"),
        (("horizon = 5", "horizon = 0"),
         "job 'report': horizon must be between 1 and 30 trading days, got 0"),
        (('name = "report"', 'name = "update"'), "job name(s) used twice: update"),
        (('timezone = "UTC"', 'timezone = "Mars/Olympus"'), "unknown timezone 'Mars/Olympus'"),
        (('catch_up = "6h"', 'catch_up = "soon"'), "catch_up must be a duration"),
        (("keep = 10", "keep = 10\nretries = 3"), "unknown field(s) retries for a report job"),
        (('"fri"]', '"fry"]'), "unknown day 'fry'"),
        (("[[jobs]]", "[[jobs]"), "not valid TOML"),
        (("horizon = 5", "eval_origins = 3"), "parameter(s) eval_origins cannot be set from a"),
    ],
)
def test_invalid_configuration_names_the_problem(tmp_path: Path, change: tuple[str, str],
                                                 message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TOML.replace(*change, 1))
    with pytest.raises(ScheduleConfigError) as info:
        ScheduleConfig.load(path)
    assert message in str(info.value)


def test_runs_each_job_once_at_its_time(config: ScheduleConfig) -> None:
    # Thursday 2026-11-26 18:00 UTC; both jobs due at 18:30
    sched, clock, runner = make(config, datetime(2026, 11, 26, 18, 0, tzinfo=UTC))
    sched.run_forever(max_iterations=8)  # sleeps are capped at 5 minutes: 6 naps to 18:30
    slot = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
    assert [(name, s) for name, s, _ in runner.calls] == [("update", slot), ("report", slot)]
    assert runner.calls[0][2] == slot  # woke exactly at the time
    assert clock.sleeps[:6] == [300.0] * 6
    state = json.loads(config.state_path.read_text())
    assert state["report"]["last_slot"] == slot.isoformat() and state["report"]["status"] == "ok"


def test_missed_runs_are_made_up_once_within_the_window(config: ScheduleConfig) -> None:
    monday = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)
    config.state_path.write_text(json.dumps({
        "update": {"last_slot": monday.isoformat()}, "report": {"last_slot": monday.isoformat()}}))
    # the machine was off Tuesday and Wednesday; it comes back Thursday 20:00 (1.5 h late)
    sched, clock, _runner = make(config, datetime(2026, 11, 26, 20, 0, tzinfo=UTC))
    runs = sched.run_pending()
    thursday = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
    assert [(r.job, r.slot, r.status, r.missed) for r in runs] == [
        ("update", thursday, "ok", 2), ("report", thursday, "ok", 2)]
    assert sched.run_pending() == []  # nothing is replayed twice
    # a new process with the same state file does not run them again either
    again, _, runner2 = make(config, clock.now)
    assert again.run_pending() == [] and runner2.calls == []


def test_runs_missed_by_more_than_the_window_are_skipped(config: ScheduleConfig) -> None:
    wednesday = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)
    sched, clock, runner = make(config, wednesday + timedelta(hours=7))
    runs = sched.run_pending()
    assert [(r.job, r.status, r.exit_code) for r in runs] == [("update", "skipped", None),
                                                              ("report", "skipped", None)]
    assert runner.calls == [] and sched.run_pending() == []
    clock.now = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
    assert [r.status for r in sched.run_pending()] == ["ok", "ok"]


def test_weekends_and_catch_up_off(tmp_path: Path) -> None:
    data = {"catch_up": 0, "state": str(tmp_path / "s.json"),
            "jobs": [{"name": "update", "kind": "data-update", "at": "18:30",
                      "days": ["mon", "tue", "wed", "thu", "fri"]}]}
    config = ScheduleConfig.from_dict(data)
    saturday = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
    sched, clock, _runner = make(config, saturday)
    assert [r.status for r in sched.run_pending()] == ["skipped"]  # Friday's run, 0 s window
    assert sched.next_wakeup() == datetime(2026, 11, 30, 18, 30, tzinfo=UTC)  # Monday
    clock.now = datetime(2026, 11, 30, 18, 30, tzinfo=UTC)
    assert [r.status for r in sched.run_pending()] == ["ok"]


def test_failed_job_is_logged_and_not_retried_before_its_next_time(
        config: ScheduleConfig, caplog: pytest.LogCaptureFixture) -> None:
    sched, _clock, _runner = make(config, datetime(2026, 11, 26, 18, 30, tzinfo=UTC),
                                codes={"update": 1})
    with caplog.at_level("INFO", logger="energy_nb.schedule"):
        runs = sched.run_pending()
    assert [(r.job, r.status, r.exit_code) for r in runs] == [("update", "failed", 1),
                                                              ("report", "ok", 0)]
    assert "job update finished: failed (exit 1)" in caplog.text
    assert sched.run_pending() == []


def test_times_are_in_the_configured_timezone(tmp_path: Path) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    job = Job("r", "report", time(9, 0))
    # 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer
    assert job.last_slot(datetime(2026, 1, 15, 8, 30, tzinfo=UTC), berlin) == datetime(
        2026, 1, 15, 9, 0, tzinfo=berlin)
    assert job.next_slot(datetime(2026, 7, 15, 6, 59, tzinfo=UTC), berlin).astimezone(UTC) == \
        datetime(2026, 7, 15, 7, 0, tzinfo=UTC)
    assert parse_duration("90m") == timedelta(minutes=90) and parse_duration(0) == timedelta(0)


def test_a_second_scheduler_on_the_same_state_is_refused(config: ScheduleConfig) -> None:
    first, _, _ = make(config, datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    second, _, _ = make(config, datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    with first._lock(), pytest.raises(SchedulerLockedError, match="another scheduler is running"):
        second.run_forever(max_iterations=1)


def test_cli_once_runs_due_jobs_as_subprocesses_and_logs_them(report_home: Path,
                                                              tmp_path: Path) -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    cfg = tmp_path / "s.json"
    cfg.write_text(json.dumps({
        "state": "state.json", "log": "schedule.log",
        "jobs": [{"name": "old-report", "kind": "report", "at": now.strftime("%H:%M"),
                  "out": "out", "parameters": {"commodities": ["NG"], "as_of": "1990-01-02"}}]}))
    listed = run_cli(report_home, "schedule", "--config", str(cfg), "--list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["jobs"][0]["command"][:2] == ["energy-nb", "report"]
    res = run_cli(report_home, "schedule", "--config", str(cfg), "--once", "--json")
    assert res.returncode == 1, res.stderr
    (run,) = json.loads(res.stdout)["runs"]
    assert (run["job"], run["status"], run["exit_code"]) == ("old-report", "failed", 2)
    text = (tmp_path / "schedule.log").read_text()
    assert "as_of 1990-01-02 is before the first NG price (1997-01-07)" in text
    assert "job old-report finished: failed (exit 2)" in text
    assert json.loads((tmp_path / "state.json").read_text())["old-report"]["exit_code"] == 2
    bad = run_cli(report_home, "schedule", "--config", str(tmp_path / "nope.toml"))
    assert bad.returncode == 2 and "cannot read schedule file" in bad.stderr
