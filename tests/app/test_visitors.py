"""The visitor ledger (energy_nb.appserver.visitors): admission slots and release rules."""

from __future__ import annotations

import pytest

from energy_nb.appserver.visitors import (
    IDLE,
    LEFT,
    NEVER_CONNECTED,
    ReleasePolicy,
    VisitorLedger,
)

POLICY = ReleasePolicy(connect_timeout=45, disconnect_grace=10, idle_timeout=900)


def served(ledger: VisitorLedger, kernel: str, now: float = 0.0):
    visit = ledger.admit("history.ipynb", now)
    assert visit is not None
    ledger.attach(visit, kernel)
    ledger.served(visit, now + 1)
    return visit


def test_admission_stops_at_the_maximum_and_a_release_frees_a_slot():
    ledger = VisitorLedger(max_visitors=2, policy=POLICY)
    served(ledger, "k1")
    served(ledger, "k2")
    assert ledger.admit("history.ipynb", 2.0) is None
    assert ledger.release("k1") is not None
    assert ledger.admit("history.ipynb", 3.0) is not None
    assert ledger.release("unknown-pool-kernel") is None


def test_a_request_that_got_no_kernel_gives_its_slot_back():
    ledger = VisitorLedger(max_visitors=1, policy=POLICY)
    visit = ledger.admit("history.ipynb", 0.0)
    ledger.served(visit, 1.0)  # rendering failed before a kernel started
    assert ledger.open_visits == 0


def test_a_page_that_never_connects_is_due_after_the_connect_timeout():
    ledger = VisitorLedger(max_visitors=4, policy=POLICY)
    served(ledger, "k1", now=0.0)  # served at t=1
    assert ledger.due(45.9) == []
    assert ledger.due(46.0) == [("k1", NEVER_CONNECTED)]
    assert ledger.due(100.0) == []  # named once; releasing from now on
    assert ledger.is_releasing("k1")


def test_a_page_whose_browser_is_loading_it_gets_the_load_timeout():
    ledger = VisitorLedger(max_visitors=4, policy=POLICY)  # load_timeout 300 s by default
    visit = served(ledger, "k1", now=0.0)  # served at t=1
    assert not ledger.loading("no-such-token")
    assert ledger.loading(visit.token)
    assert ledger.due(46.0) == []  # past connect_timeout, but a browser is loading it
    assert ledger.due(301.0) == [("k1", NEVER_CONNECTED)]
    other = served(ledger, "k2", now=0.0)
    assert other.token != visit.token and ledger.due(46.0) == [("k2", NEVER_CONNECTED)]


def test_a_rendering_page_is_never_due():
    ledger = VisitorLedger(max_visitors=4, policy=POLICY)
    visit = ledger.admit("history.ipynb", 0.0)
    ledger.attach(visit, "k1")
    assert ledger.due(10_000.0) == []


def test_a_closed_tab_is_due_after_the_grace_and_a_reconnect_cancels_it():
    ledger = VisitorLedger(max_visitors=4, policy=POLICY)
    served(ledger, "k1")
    assert ledger.connected("k1", 5.0)
    ledger.disconnected("k1", 20.0)
    assert ledger.due(29.0) == []
    ledger.connected("k1", 25.0)  # network blip: the page reconnected
    assert ledger.due(40.0) == []
    ledger.disconnected("k1", 50.0)
    assert ledger.due(60.0) == [("k1", LEFT)]


def test_two_sockets_of_one_page_both_have_to_close():
    ledger = VisitorLedger(max_visitors=4, policy=POLICY)
    served(ledger, "k1")
    ledger.connected("k1", 2.0)
    ledger.connected("k1", 2.0)
    ledger.disconnected("k1", 3.0)
    assert ledger.due(100.0) == []


def test_an_open_idle_page_is_due_after_the_idle_timeout_and_activity_postpones_it():
    ledger = VisitorLedger(max_visitors=4, policy=POLICY)
    served(ledger, "k1")
    ledger.connected("k1", 2.0)
    ledger.activity("k1", 500.0)
    assert ledger.due(1399.0) == []
    assert ledger.due(1400.0) == [("k1", IDLE)]


def test_idle_timeout_zero_never_releases_an_open_page():
    ledger = VisitorLedger(max_visitors=4, policy=ReleasePolicy(idle_timeout=0))
    served(ledger, "k1")
    ledger.connected("k1", 2.0)
    assert ledger.due(1e9) == []


def test_sockets_of_kernels_that_are_no_visit_are_ignored():
    ledger = VisitorLedger(max_visitors=4, policy=POLICY)
    assert ledger.connected("pool-kernel", 1.0) is False
    ledger.disconnected("pool-kernel", 2.0)
    assert ledger.due(1e9) == [] and ledger.open_visits == 0


def test_retry_after_is_the_next_release_bounded():
    ledger = VisitorLedger(max_visitors=1, policy=POLICY)
    assert ledger.retry_after(0.0) == 60  # nobody: the ceiling
    served(ledger, "k1", now=0.0)
    ledger.connected("k1", 2.0)
    ledger.disconnected("k1", 3.0)  # due at 13
    assert ledger.retry_after(4.0) == 9
    assert ledger.retry_after(12.0) == 5  # the floor


@pytest.mark.parametrize("bad", [{"max_visitors": 0}])
def test_bad_ledger_settings_are_refused(bad):
    with pytest.raises(ValueError, match="max_visitors"):
        VisitorLedger(**bad)


@pytest.mark.parametrize("field", ["connect_timeout", "disconnect_grace", "idle_timeout"])
@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_bad_policy_values_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        ReleasePolicy(**{field: value})
