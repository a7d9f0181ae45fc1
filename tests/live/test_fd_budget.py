"""The live server's open-files budget (:func:`energy_nb.live.admission.fd_budget`)."""

from __future__ import annotations

import resource

import pytest

from energy_nb.live.admission import FD_RESERVE, fd_budget


@pytest.fixture
def open_files_limit():
    """Set the soft ``RLIMIT_NOFILE`` for one test (restored after it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def lower(limit: int) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

    yield lower
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("limit", [256, 1024, 4096])
def test_budget_covers_two_accept_bursts_and_the_reserve(open_files_limit, limit):
    """A burst of refused sockets is closed only after the next burst may be accepted, so two
    bursts must fit beside the held connections (the flood test ran out of files with one)."""
    open_files_limit(limit)
    max_connections, backlog = fd_budget(10_000, 1024)
    assert 16 <= backlog <= limit // 8
    assert max_connections >= 1
    assert max_connections + 1 + 2 * backlog + FD_RESERVE <= limit


def test_budget_keeps_a_lower_configured_limit(open_files_limit):
    open_files_limit(4096)
    assert fd_budget(100, 64) == (100, 64)
