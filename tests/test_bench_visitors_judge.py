"""The visitors benchmark's verdicts (benchmarks/bench_visitors.py): a baseline that lost its
visitors is a lower bound, not a free pass."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from bench_visitors import LoadResult, judge  # noqa: E402


def result(server: str, times: list[float], failures: int = 0) -> LoadResult:
    load = LoadResult("history-16", server, len(times) + failures)
    load.times = list(times)
    load.failures = ["timeout"] * failures
    return load


def voila_verdict(app_times: list[float], voila: LoadResult) -> dict:
    verdicts = judge([voila, result("app", app_times)], timeout=180.0)
    return next(v for v in verdicts if v["figure"] == "history-16: p95 vs stock Voila")


def test_a_baseline_that_never_drew_bounds_the_ratio_by_the_timeout() -> None:
    lost = result("voila", [80.0] * 13, failures=3)  # its p95 visitor never drew
    slow = voila_verdict([69.0] * 16, lost)
    assert slow["ratio_at_most"] and slow["ratio"] == round(69.0 / 180.0, 2)
    assert not slow["pass"]  # at most 0.38x: the 0.25x target is not shown to hold
    fast = voila_verdict([40.0] * 16, lost)
    assert fast["pass"] and fast["ratio"] == round(40.0 / 180.0, 2)


def test_a_baseline_that_drew_gives_the_plain_ratio() -> None:
    drew = result("voila", [100.0] * 16)
    verdict = voila_verdict([30.0] * 16, drew)
    assert not verdict["ratio_at_most"] and verdict["ratio"] == 0.3 and not verdict["pass"]
