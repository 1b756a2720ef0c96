"""Deadlines: a total deadline per request, an outer deadline scope, and the sync watchdog enforcing them.

* :func:`deadline_scope` - ``with deadline_scope(epoch_seconds):`` bounds every request started inside
  (its attempts, its retry waits and each socket read) to end by that wall-clock time. Scopes nest; the
  earliest deadline wins. It is a context variable, so it follows ``await`` and stays per task: a trigger
  wraps each poll in ``deadline_scope(self.deadline)`` and no inner retry can run past its deadline.
* :func:`request_deadline` - the deadline of one logical request: ``now + request_timeout`` capped by the
  scope.
* :class:`RequestWatch` - sync only: a single daemon watchdog thread shuts the socket of a request down
  when its deadline passes, so a server sending one byte every few seconds (each read within the read
  timeout) cannot keep a worker reading past the deadline. Async requests use ``asyncio.timeout``.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

_SCOPE: contextvars.ContextVar[float | None] = contextvars.ContextVar("music_deadline_scope", default=None)


@contextlib.contextmanager
def deadline_scope(deadline: float | None) -> Iterator[float | None]:
    """Bound every request started inside to finish by ``deadline`` (epoch seconds, ``time.time()``).

    ``None`` adds no bound (an enclosing scope still applies). Yields the effective deadline.
    """
    outer = _SCOPE.get()
    effective = outer if deadline is None else (deadline if outer is None else min(outer, deadline))
    token = _SCOPE.set(effective)
    try:
        yield effective
    finally:
        _SCOPE.reset(token)


def scope_deadline() -> float | None:
    """The deadline of the innermost :func:`deadline_scope` (epoch seconds), or ``None``."""
    return _SCOPE.get()


def request_deadline(seconds: float) -> float:
    """The deadline of a request starting now that may take ``seconds``, capped by the current scope."""
    own = time.time() + seconds
    outer = _SCOPE.get()
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


class RequestWatch:
    """Shut down the sockets of one sync request when its deadline passes.

    Connections register themselves while the watch is active in this thread (see
    :func:`attach_connection`, called by the transport's urllib3 connection class).
    """

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.fired = False
        self._connections: list[Any] = []
        self._entry: list[Any] | None = None

    def __enter__(self) -> RequestWatch:
        self._previous = getattr(_ACTIVE, "watch", None)
        _ACTIVE.watch = self
        if self.deadline is not None and self.deadline != float("inf"):
            self._entry = _WATCHDOG.schedule(self.deadline, self._fire)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._entry is not None:
            _WATCHDOG.cancel(self._entry)
        _ACTIVE.watch = self._previous

    def attach(self, connection: Any) -> None:
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


def attach_connection(connection: Any) -> None:
    """Put ``connection`` under the watch of the request running in this thread, if any."""
    watch = getattr(_ACTIVE, "watch", None)
    if watch is not None:
        watch.attach(connection)
