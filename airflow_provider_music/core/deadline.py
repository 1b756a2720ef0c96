"""Deadlines: what bounds each call, an outer deadline scope, and the sync watchdog enforcing them.

Each call is bounded by what it is (README "HTTP behaviour", docs/architecture.md "Time bounds"):

* a non-held JSON call (a status poll, a list, a get, a create that answers at once): a total deadline of
  :func:`json_bound` seconds, retries included - ``request_timeout`` (default 30 s), and inside a wait that
  polls every ``P`` seconds (``deadline_scope(..., poll_interval=P)``) at most ``max(P, POLL_FLOOR)``;
* a held call (the server holds the answer up to ``hold`` seconds, e.g. FlowMusic ``sync_timeout``):
  :func:`held_bound` = ``hold + request_timeout``, retries included;
* an upload or a download: no fixed total by default but a :class:`TransferRule` per attempt - the bytes must
  keep a minimum rate, averaged over a window (a leaky bucket of credit, see the class); ``transfer_timeout``,
  when set, still caps the whole transfer.

* :func:`deadline_scope` - ``with deadline_scope(epoch_seconds):`` bounds every request started inside
  (its attempts, its retry waits and each socket read) to end by that wall-clock time. Scopes nest; the
  earliest deadline wins. It is a context variable, so it follows ``await`` and stays per task: a trigger
  wraps each poll in ``deadline_scope(self.deadline, poll_interval=...)`` and no inner retry can run past its
  deadline.
* :func:`request_deadline` - the deadline of one logical request: ``now + seconds`` capped by the scope.
* :class:`RequestWatch` - sync only: a single daemon watchdog thread shuts the socket of a request down
  when its deadline passes, or when a transfer falls below its minimum rate, so a server sending one byte
  every few seconds (each read within the read timeout) cannot keep a worker reading. Async requests (JSON
  only) use ``asyncio.timeout``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: ``(deadline, poll bound)`` of the innermost :func:`deadline_scope`: ONE context variable, so a scope entered
#: once per poll by thousands of waits costs one context change, not two.
_SCOPE: contextvars.ContextVar[tuple[float | None, float | None]] = contextvars.ContextVar(
    "music_deadline_scope", default=(None, None))

#: A poll made inside a wait polling every ``P`` seconds is bounded by ``max(P, POLL_FLOOR)`` (and by
#: ``request_timeout``). 15 s: a status GET slower than that is sick (the wait polls again anyway), and one
#: retry after a vendor's minimum 429 wait (Riffusion, FlowMusic: 10 s plus jitter) still fits inside a poll.
POLL_FLOOR = 15.0


class deadline_scope:  # noqa: N801 - used as a function: `with deadline_scope(...):`
    """Bound every request started inside to finish by ``deadline`` (epoch seconds, ``time.time()``).

    ``None`` adds no bound (an enclosing scope still applies). ``with`` gives the effective deadline.
    ``poll_interval`` (a wait's seconds between polls) also bounds each non-held JSON call started inside to
    ``max(poll_interval, POLL_FLOOR)`` seconds (see :func:`json_bound`); nested, the smallest bound wins.
    """

    __slots__ = ("_deadline", "_poll_interval", "_token")

    def __init__(self, deadline: float | None, *, poll_interval: float | None = None) -> None:
        self._deadline, self._poll_interval = deadline, poll_interval
        self._token: contextvars.Token[tuple[float | None, float | None]] | None = None

    def __enter__(self) -> float | None:
        outer, poll = _SCOPE.get()  # the enclosing scope when entered (not when built)
        deadline, interval = self._deadline, self._poll_interval
        effective = outer if deadline is None else (deadline if outer is None else min(outer, deadline))
        if interval is not None and interval == interval:  # not NaN
            own = max(float(interval), POLL_FLOOR)
            poll = own if poll is None else min(poll, own)
        self._token = _SCOPE.set((effective, poll))
        return effective

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _SCOPE.reset(self._token)
            self._token = None


def json_bound(request_timeout: float) -> float:
    """Total seconds of a non-held JSON call starting now, retries included: ``request_timeout``, and inside a
    polling wait's scope at most ``max(poll_interval, POLL_FLOOR)``."""
    poll = _SCOPE.get()[1]
    return request_timeout if poll is None else min(request_timeout, poll)


def held_bound(hold: float, request_timeout: float) -> float:
    """Total seconds of a call the server holds up to ``hold`` seconds: ``hold`` plus ``request_timeout``
    (the time any JSON call may take), retries included. A wait's poll bound does not shorten it."""
    return hold + request_timeout


@dataclass(frozen=True)
class Bounds:
    """What bounds one call: its ``deadline`` (epoch seconds, retries included; ``None``: none), what set it
    (``bound``, for the error) and, for a transfer, the minimum-throughput ``rule`` of each attempt."""

    deadline: float | None
    bound: str | None = None
    rule: TransferRule | None = None


def call_bounds(request_timeout: float, *, hold: float | None = None, transfer: TransferRule | None = None,
                transfer_timeout: float | None = None) -> Bounds:
    """The bounds of a call starting now, by kind: a transfer (``transfer`` given) keeps its rule, with
    ``transfer_timeout`` as a total cap when set; a held call gets :func:`held_bound`; any other JSON call
    :func:`json_bound`. Every deadline is capped by the current :func:`deadline_scope`."""
    if transfer is not None:
        why = None if transfer_timeout is None else f"{transfer_timeout:g} s: connection extra 'transfer_timeout'"
        return Bounds(request_deadline(transfer_timeout), why, transfer)
    if hold is not None:
        seconds = held_bound(hold, request_timeout)
        return Bounds(request_deadline(seconds), f"{seconds:g} s for a call the server holds up to {hold:g} s "
                      "(e.g. FlowMusic 'sync_timeout') plus connection extra 'request_timeout'")
    seconds = json_bound(request_timeout)
    return Bounds(request_deadline(seconds), _json_bound_text(seconds, request_timeout))


@functools.lru_cache(maxsize=256)
def _json_bound_text(seconds: float, request_timeout: float) -> str:
    """What bounds a JSON call (named in its deadline error); formatted once per pair, not per poll."""
    poll = "" if seconds >= request_timeout else f"; a poll in a wait: max(poll_interval, {POLL_FLOOR:g} s)"
    return f"{seconds:g} s for a JSON call: connection extra 'request_timeout'{poll}"


def scope_deadline() -> float | None:
    """The deadline of the innermost :func:`deadline_scope` (epoch seconds), or ``None``."""
    return _SCOPE.get()[0]


def request_deadline(seconds: float | None) -> float | None:
    """The deadline of a request starting now that may take ``seconds`` (``None``: no bound of its own),
    capped by the current scope."""
    outer = _SCOPE.get()[0]
    if seconds is None:
        return outer
    own = time.time() + seconds
    return own if outer is None else min(own, outer)


def seconds_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (never negative); infinity for ``None``."""
    return float("inf") if deadline is None else max(0.0, deadline - time.time())


class _Watchdog:
    """One daemon thread running callbacks at their deadline (a heap of ``[when, seq, callback]``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[list[Any]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._cancelled = 0

    def schedule(self, when: float, callback: Callable[[], None]) -> list[Any]:
        entry = [when, next(self._seq), callback]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="music-deadline-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        return entry

    def cancel(self, entry: list[Any]) -> None:
        with self._cond:
            entry[2] = None
            self._cancelled += 1
            if self._cancelled > 1000 and self._cancelled * 2 > len(self._heap):  # keep the heap small
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _next_due(self) -> Callable[[], None] | None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                    self._cancelled = max(0, self._cancelled - 1)
                if not self._heap:
                    self._cond.wait(30.0)
                    continue
                delay = self._heap[0][0] - time.time()
                if delay > 0:
                    self._cond.wait(min(delay, 30.0))
                    continue
                return heapq.heappop(self._heap)[2]

    def _run(self) -> None:
        while True:
            callback = self._next_due()
            if callback is not None:
                with contextlib.suppress(Exception):
                    callback()


_WATCHDOG = _Watchdog()
_ACTIVE = threading.local()


@dataclass(frozen=True)
class TransferRule:
    """The minimum-throughput rule of one upload or download attempt (a leaky bucket of seconds).

    An attempt starts with ``window`` seconds of credit; every byte moved (sent or received) adds
    ``1 / rate`` seconds, never more than ``window`` seconds ahead of now; when the request body has been
    sent, the server gets ``window`` seconds to answer. The attempt is cut when its credit runs out: a
    transfer may fall behind ``rate`` for at most ``window`` seconds, a small file gets at least ``window``
    seconds, and a body of ``S`` bytes never takes more than ``window + S / rate`` plus the answer wait. A
    fast 1 GiB transfer is never cut; a body dripping one byte every 5 s is cut after ``window`` seconds.
    """

    #: bytes per second (connection extra ``min_transfer_rate``, in KiB/s)
    rate: float
    #: seconds (connection extra ``transfer_window``)
    window: float

    def read_size(self, chunk: int) -> int:
        """A read size that reports progress at least 4 times per window at the minimum rate."""
        return max(16 * 1024, min(chunk, int(self.rate * self.window / 4)))

    def describe(self) -> str:
        """What the rule is, naming the extras that set it."""
        return (f"the transfer fell below {self.rate / 1024:g} KiB/s for longer than {self.window:g} s "
                "(connection extras 'min_transfer_rate' / 'transfer_window')")


class RequestWatch:
    """Shut down the sockets of one sync request when its deadline passes or its transfer is too slow.

    Connections register themselves while the watch is active in this thread (see
    :func:`attach_connection`, called by the transport's urllib3 connection class), and report the bytes
    they move (:func:`progress`, :func:`request_sent`) for the :class:`TransferRule`, if any. ``why`` says
    what fired: ``"deadline"`` or ``"rate"``.
    """

    def __init__(self, deadline: float | None, rule: TransferRule | None = None) -> None:
        self.deadline = deadline
        self.rule = rule
        self.fired = False
        self.why: str | None = None
        self.credit = time.time() + rule.window if rule is not None else float("inf")
        self._connections: list[Any] = []
        self._entry: list[Any] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def due(self) -> float:
        """When the watch fires unless bytes move: the earlier of the deadline and the transfer credit."""
        fixed = float("inf") if self.deadline is None else self.deadline
        return min(fixed, self.credit)

    def __enter__(self) -> RequestWatch:
        self._previous = getattr(_ACTIVE, "watch", None)
        _ACTIVE.watch = self
        self._schedule()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._closed = True
            if self._entry is not None:
                _WATCHDOG.cancel(self._entry)
        _ACTIVE.watch = self._previous

    def _schedule(self) -> None:
        when = self.due()
        with self._lock:
            if not self._closed and when != float("inf"):
                self._entry = _WATCHDOG.schedule(when, self._check)

    def moved(self, size: int) -> None:
        """``size`` bytes went out or came in: the transfer earns ``size / rate`` seconds (up to the window)."""
        rule = self.rule
        if rule is None or size <= 0:
            return
        credit = self.credit
        self.credit = max(credit, min(credit + size / rule.rate, time.time() + rule.window))

    def sent(self) -> None:
        """The request (and its body) is out: the server gets a full window to answer."""
        if self.rule is not None:
            self.credit = max(self.credit, time.time() + self.rule.window)

    def _check(self) -> None:
        """Watchdog thread: fire when due, else wait again (bytes moved the credit on)."""
        now = time.time()
        if self._closed:
            return
        if now < self.due():
            self._schedule()
            return
        late = self.deadline is not None and now >= self.deadline
        self.why = "deadline" if late else "rate"
        self._fire()

    def attach(self, connection: Any) -> None:
        """Watch ``connection`` too: it is closed when the watch fires (at once if it already has)."""
        self._connections.append(connection)
        if self.fired:
            self._fire()

    def _fire(self) -> None:
        self.fired = True
        for connection in list(self._connections):
            sock = getattr(connection, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def progress(size: int) -> None:
    """``size`` bytes moved for the request running in this thread (feeds its :class:`TransferRule`)."""
    watch = getattr(_ACTIVE, "watch", None)
    if watch is not None:
        watch.moved(size)


def request_sent() -> None:
    """The request running in this thread has sent its body: its server gets a window to answer."""
    watch = getattr(_ACTIVE, "watch", None)
    if watch is not None:
        watch.sent()


def attach_connection(connection: Any) -> None:
    """Put ``connection`` under the watch of the request running in this thread, if any."""
    watch = getattr(_ACTIVE, "watch", None)
    if watch is not None:
        watch.attach(connection)
