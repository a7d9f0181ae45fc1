"""Who is using the dashboards: admission slots and when each visitor's kernel is released.

Pure bookkeeping, no I/O and no clock of its own (every method takes ``now``, seconds on a
monotonic clock), so the release policy is tested without a server.

A *visit* is one page view: a slot is taken when the page is requested (:meth:`admit`), the
kernel that serves it is attached (:meth:`attach`), the page is marked served when its HTML is
sent (:meth:`served`), and the browser's kernel WebSocket connections are counted
(:meth:`connected` / :meth:`disconnected`). :meth:`due` names the kernels to release:

* ``never-connected``: the page was served but no WebSocket came within ``connect_timeout``
  (a ``curl`` of the page, a browser that gave up);
* ``left``: every WebSocket closed ``disconnect_grace`` seconds ago (the tab was closed);
* ``idle``: no message either way for ``idle_timeout`` seconds (an open but unused page).

Preheated pool kernels are never visits, so they are never released here.

Usage::

    ledger = VisitorLedger(max_visitors=2, policy=ReleasePolicy(idle_timeout=900))
    visit = ledger.admit("history.ipynb", now=0.0)      # None when full
    ledger.attach(visit, "kernel-1"); ledger.served(visit, now=1.0)
    ledger.due(now=60.0)                                 # [("kernel-1", "never-connected")]
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

#: Reasons :meth:`VisitorLedger.due` gives for a release.
NEVER_CONNECTED = "never-connected"
LEFT = "left"
IDLE = "idle"


@dataclass(frozen=True)
class ReleasePolicy:
    """When a visitor's kernel is shut down.

    Attributes:
        connect_timeout: seconds after the page was served within which its browser must open
            the kernel WebSocket, or at least show it is loading the page (see ``load_timeout``).
        load_timeout: the same for a page whose browser has shown it is loading (its first
            script ran): on a machine busy with a crowd, loading the page's scripts can take
            longer than ``connect_timeout``, and that visitor is not gone.
        disconnect_grace: seconds a kernel is kept after its last WebSocket closed (a network
            blip reconnects within it).
        idle_timeout: seconds without any kernel message either way before an open page is
            released (``0`` = never).
    """

    connect_timeout: float = 45.0
    disconnect_grace: float = 10.0
    idle_timeout: float = 900.0
    load_timeout: float = 300.0

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "disconnect_grace", "idle_timeout", "load_timeout"):
            value = getattr(self, name)
            if not value >= 0:  # also refuses NaN
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")


@dataclass
class Visit:
    """One page view holding an admission slot.

    Attributes:
        page: the notebook requested.
        admitted_at: when the slot was taken.
        kernel_id: the kernel serving the page, once known.
        served_at: when the page's HTML was fully sent (``None`` while rendering).
        connections: open kernel WebSockets of this page.
        ever_connected: a WebSocket was opened at least once.
        last_activity: last kernel message either way (or admission / connection).
        disconnected_at: when the last WebSocket closed.
        releasing: the release has begun; no reconnection is accepted.
        token: a random name of the visit, for the page's "I am loading" signal (never a
            kernel id: those grant access to the kernel).
        loading: the page's browser has said it is loading the page.
    """

    page: str
    admitted_at: float
    kernel_id: str | None = None
    served_at: float | None = None
    connections: int = 0
    ever_connected: bool = False
    last_activity: float = 0.0
    disconnected_at: float | None = None
    releasing: bool = False
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    loading: bool = False

    def release_deadline(self, policy: ReleasePolicy) -> tuple[float, str] | None:
        """When this visit becomes due for release and why (``None``: not while it renders).

        Args:
            policy: the release policy.

        Returns:
            ``(time, reason)`` of the earliest applicable rule.
        """
        if self.kernel_id is None or self.releasing:
            return None
        candidates: list[tuple[float, str]] = []
        if self.connections == 0:
            if self.ever_connected and self.disconnected_at is not None:
                candidates.append((self.disconnected_at + policy.disconnect_grace, LEFT))
            elif not self.ever_connected and self.served_at is not None:
                wait = policy.load_timeout if self.loading else policy.connect_timeout
                candidates.append((self.served_at + wait, NEVER_CONNECTED))
        elif policy.idle_timeout > 0:
            candidates.append((self.last_activity + policy.idle_timeout, IDLE))
        return min(candidates) if candidates else None


@dataclass
class VisitorLedger:
    """Admission slots and kernel-release bookkeeping for every visitor.

    Attributes:
        max_visitors: pages served at once (each holds a kernel); further visitors are refused.
        policy: when kernels are released.
    """

    max_visitors: int
    policy: ReleasePolicy = field(default_factory=ReleasePolicy)
    _visits: list[Visit] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_visitors < 1:
            raise ValueError(f"max_visitors must be at least 1, got {self.max_visitors}")

    @property
    def open_visits(self) -> int:
        """Slots taken (pages rendering or open, kernels not yet released)."""
        return len(self._visits)

    @property
    def connected_visits(self) -> int:
        """Visits with at least one open kernel WebSocket."""
        return sum(1 for v in self._visits if v.connections > 0)

    def admit(self, page: str, now: float) -> Visit | None:
        """Take a slot for a new page view.

        Returns:
            The visit, or ``None`` when all ``max_visitors`` slots are taken.
        """
        if len(self._visits) >= self.max_visitors:
            return None
        visit = Visit(page=page, admitted_at=now, last_activity=now)
        self._visits.append(visit)
        return visit

    def attach(self, visit: Visit, kernel_id: str) -> None:
        """Record the kernel serving ``visit`` (first kernel wins)."""
        if visit.kernel_id is None and visit in self._visits:
            visit.kernel_id = kernel_id

    def served(self, visit: Visit, now: float) -> None:
        """The page's HTML was sent (or the request ended); a visit without kernel is freed."""
        if visit.kernel_id is None:
            self.cancel(visit)
        elif visit.served_at is None:
            visit.served_at = now

    def cancel(self, visit: Visit) -> None:
        """Free the slot of a visit (rendering failed, or it never got a kernel)."""
        if visit in self._visits:
            self._visits.remove(visit)

    def find(self, kernel_id: str) -> Visit | None:
        """The visit served by ``kernel_id`` (``None``: a pool kernel or unknown)."""
        return next((v for v in self._visits if v.kernel_id == kernel_id), None)

    def connected(self, kernel_id: str, now: float) -> bool:
        """A kernel WebSocket opened. Returns ``False`` when it belongs to no visit."""
        visit = self.find(kernel_id)
        if visit is None:
            return False
        visit.connections += 1
        visit.ever_connected = True
        visit.disconnected_at = None
        visit.last_activity = now
        return True

    def disconnected(self, kernel_id: str, now: float) -> None:
        """A kernel WebSocket closed."""
        visit = self.find(kernel_id)
        if visit is not None and visit.connections > 0:
            visit.connections -= 1
            if visit.connections == 0:
                visit.disconnected_at = now

    def activity(self, kernel_id: str, now: float) -> None:
        """A kernel message went either way on the page's WebSocket."""
        visit = self.find(kernel_id)
        if visit is not None:
            visit.last_activity = now

    def is_releasing(self, kernel_id: str) -> bool:
        """The kernel's release has begun (refuse new connections to it)."""
        visit = self.find(kernel_id)
        return visit is not None and visit.releasing

    def loading(self, token: str) -> bool:
        """The page of the visit named ``token`` is loading in a browser.

        Returns:
            Whether such a visit is open.
        """
        for visit in self._visits:
            if visit.token == token:
                visit.loading = True
                return True
        return False

    def due(self, now: float) -> list[tuple[str, str]]:
        """Kernels to release now, each marked releasing so it is named once.

        Returns:
            ``[(kernel_id, reason)]`` with reasons ``never-connected``, ``left`` or ``idle``.
        """
        out: list[tuple[str, str]] = []
        for visit in self._visits:
            deadline = visit.release_deadline(self.policy)
            if deadline is not None and deadline[0] <= now:
                visit.releasing = True
                out.append((str(visit.kernel_id), deadline[1]))
        return out

    def release(self, kernel_id: str) -> Visit | None:
        """The kernel was shut down: free its slot.

        Returns:
            The visit it served, or ``None`` for a kernel that was no visit.
        """
        visit = self.find(kernel_id)
        if visit is not None:
            self._visits.remove(visit)
        return visit

    def retry_after(self, now: float, floor: float = 5.0, ceiling: float = 60.0) -> int:
        """Seconds a refused visitor should wait: until the next release is due, bounded.

        Args:
            now: current time.
            floor, ceiling: bounds of the answer.

        Returns:
            Whole seconds in ``[floor, ceiling]``.
        """
        deadlines = [d[0] for v in self._visits
                     if (d := v.release_deadline(self.policy)) is not None]
        wait = min(deadlines) - now if deadlines else ceiling
        return int(round(min(max(wait, floor), ceiling)))
