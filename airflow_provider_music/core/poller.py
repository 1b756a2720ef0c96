"""Shared polls in one event loop (the triggerer): waits on the same API and connection share requests.

Thousands of deferred tasks each waiting for one job would otherwise make one request per job per poll.
Two users of one mechanism, :class:`Coalescer`:

* :class:`Coalescer` - waits of one key (API, connection, ...) that arrive within ``delay()`` seconds of
  each other wait together; ONE ``answer()`` call settles every one of them. ACRCloud's readiness polls
  (:mod:`~airflow_provider_music.hooks.acrcloud_batch`) answer many file ids with ``GET files/:ids``.
* :class:`ListingPoller` - for APIs that list their running jobs in one call (FlowMusic ``GET jobs``,
  Riffusion ``GET scheduler``): at most one list per connection per refresh period, shared by every
  waiting trigger. A job the list shows running is running (no request of its own); a job it does not
  show - finished, created after the list, cut from a partial list, or the list failed, was slow or
  hostile - is asked for by itself (its own ``GET``), so **a listing never makes a job done**.

The refresh period is learnt from the waits themselves (the time from a waiter's answer to its next call
is its trigger's ``poll_interval``): the smallest interval of the connection's waiters, bounded by
:attr:`ListingPoller.min_period` and :attr:`ListingPoller.max_period`. A call uses the newest listing
when it is at most ``tolerance`` seconds old (the list request's own time plus the spread of handing the
last listing out), or when it is news to that waiter and at most half a period old (a waiter a busy loop
woke late); otherwise it waits for the next listing, which starts one period after the previous
one. Waiters thereby fall in step with the listings: a trigger whose interval is the connection's smallest
learns that its job ended within one interval (plus the list request) of the end - as polling it alone would.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_provider_music.core.deadline import scope_deadline, seconds_left
from airflow_provider_music.core.errors import InvalidResponseError

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass
class Waiter(Generic[R]):
    """One wait in a batch: the hook it came with, what it asks for, and the future its answer goes to."""

    hook: Any
    item: Any
    future: asyncio.Future[R]


class _Batch(list):  # type: ignore[type-arg]
    """The waiters of one batch; ``spawned`` once its flush is under way (a second start is a no-op)."""

    spawned = False


class Coalescer(Generic[R]):
    """Coalesce the waits of one event loop and one key into shared calls (the core of every shared poll).

    A wait joins the open batch of its key (or opens one, flushed ``delay()`` seconds later, or at once when
    :meth:`full`); the flush calls :meth:`answer` ONCE for the whole batch, which settles each waiter with
    :meth:`settle`. Any failure of ``answer`` - a bug included - goes to every waiter still waiting
    (``BaseException``: their waits are cancelled); a waiter left without an answer gets an
    :class:`InvalidResponseError` rather than hanging. With ``join_in_flight`` the batch stays open while
    its answer is computed (the answer does not depend on who waits: a listing), so late waiters share it.
    """

    #: seconds a batch stays open for more waiters (subclasses may compute it per key: :meth:`delay`)
    window = 0.1
    #: flushes in flight per event loop: a handful of pooled connections, not up to the pool's limit
    max_in_flight = 4
    #: keep a flushing batch open to late waiters (only when the answer does not depend on the waiters)
    join_in_flight = False
    #: how an unanswered waiter's error names the call
    describe = "shared poll"

    def __init__(self) -> None:
        self._pending: weakref.WeakKeyDictionary[Any, dict[Hashable, _Batch]] = weakref.WeakKeyDictionary()
        self._limits: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- the parts a user defines ------------------------------------------------------------
    def delay(self, loop: Any, key: Hashable) -> float:
        """Seconds from the first waiter of a batch to its flush (default: :attr:`window`)."""
        return self.window

    def full(self, waiters: list[Waiter[R]]) -> bool:
        """True when a batch must flush now (e.g. it holds as many ids as one request takes)."""
        return False

    def call_name(self, key: Hashable) -> str:
        """The shared call of ``key`` as errors name it (default: :attr:`describe`)."""
        return self.describe

    async def answer(self, key: Hashable, waiters: list[Waiter[R]]) -> None:
        """Settle every waiter of one batch (:meth:`settle` / :meth:`fail`). Must be overridden."""
        raise NotImplementedError

    # ---- the mechanism -----------------------------------------------------------------------
    def enqueue(self, key: Hashable, hook: Any, item: Any) -> asyncio.Future[R]:
        """Join the batch of ``key`` in the running loop; the returned future gets this waiter's answer.

        Cancelling the future (e.g. ``asyncio.wait_for`` timing out) gives up this wait only."""
        loop = asyncio.get_running_loop()
        per_loop = self._pending.setdefault(loop, {})
        future: asyncio.Future[R] = loop.create_future()
        waiters = per_loop.get(key)
        if waiters is None:
            waiters = per_loop[key] = _Batch()
            # a context of its own: the shared call must not inherit the first waiter's deadline scope
            loop.call_later(max(0.0, self.delay(loop, key)), self._spawn, loop, key, waiters,
                            context=contextvars.Context())
        waiters.append(Waiter(hook, item, future))
        if self.full(waiters):
            contextvars.Context().run(self._spawn, loop, key, waiters)
        return future

    async def join(self, key: Hashable, hook: Any, item: Any) -> R:
        """Wait in the batch of ``key`` and return this waiter's answer (or raise its error)."""
        return await self.enqueue(key, hook, item)

    def _spawn(self, loop: Any, key: Hashable, waiters: _Batch) -> None:
        if waiters.spawned or self._pending.get(loop, {}).get(key) is not waiters:
            return  # flushing already (it was full before its time)
        waiters.spawned = True
        task = loop.create_task(self._flush(loop, key, waiters))
        self._tasks.add(task)  # a reference until it ends: the loop keeps only weak ones
        task.add_done_callback(self._tasks.discard)

    def limit(self) -> asyncio.Semaphore:
        """The running loop's semaphore of :attr:`max_in_flight` shared calls."""
        loop = asyncio.get_running_loop()
        sem = self._limits.get(loop)
        if sem is None:
            sem = self._limits[loop] = asyncio.Semaphore(self.max_in_flight)
        return sem

    async def _flush(self, loop: Any, key: Hashable, waiters: _Batch) -> None:
        per_loop = self._pending.get(loop, {})
        if not self.join_in_flight and per_loop.get(key) is waiters:
            del per_loop[key]  # the answer depends on the waiters: later ones open the next batch
        try:
            await self.answer(key, waiters)
        except BaseException as exc:
            self.fail(waiters, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            if per_loop.get(key) is waiters:
                del per_loop[key]
            self.fail(waiters, InvalidResponseError(f"{self.call_name(key)}: no answer for this poll",
                                                    request_may_have_been_processed=False))

    @staticmethod
    def settle(waiter: Waiter[R], value: R) -> None:
        """Hand one waiter its answer (a waiter that gave up is skipped)."""
        if not waiter.future.done():
            waiter.future.set_result(value)

    @staticmethod
    def fail(waiters: list[Waiter[R]], exc: BaseException) -> None:
        """Hand ``exc`` to every waiter still waiting; cancellation or interpreter exit cancels their waits."""
        for waiter in list(waiters):
            if waiter.future.done():
                continue
            if isinstance(exc, Exception):
                waiter.future.set_exception(exc)
            else:
                waiter.future.cancel()


# ---- listings --------------------------------------------------------------------------------------------
@dataclass
class Listing:
    """One answer of an API's "running jobs" list, as the poller hands it to every waiter.

    ``running`` maps a job id to what the list says about it (e.g. its account): only jobs the list shows
    as still running. ``None`` when the list could not be used (failed, slow, hostile): every job is then
    asked for by itself. ``started`` is the monotonic time the request was sent: a job the list shows was
    running at some time after it."""

    started: float
    running: Mapping[str, Any] | None
    finished: float = 0.0
    problem: str = ""


@dataclass
class _KeyState:
    last: Listing | None = None
    last_start: float = -math.inf
    period: float = 0.0
    next_period: float = math.inf
    spread: float = 0.0
    next_spread: float = 0.0
    answered: dict[Hashable, float] = field(default_factory=dict)
    notes: dict[Hashable, Any] = field(default_factory=dict)
    pruned: float = -math.inf
    warned: float = -math.inf


class ListingPoller(Coalescer[Listing]):
    """Share one "list running jobs" request per connection and refresh period among waiting triggers.

    :param describe: the list call for logs and errors (``"GET jobs"``).
    :param fetch: ``await fetch(hook)`` -> the raw answer of the list call (through the hook's public
        ``arequest_json``: its retries, error mapping and body limits apply).
    :param index: ``index(body)`` -> ``{job id: entry}`` of the jobs the answer shows running. It must skip
        what it cannot read (wrong types, ``NaN``, ids as lists, duplicates that disagree) and raise
        :class:`InvalidResponseError` when the whole answer is unusable; either way no waiter fails.

    Use :meth:`lookup` from a hook's async status method: it returns the job's entry when the list shows it
    running, ``None`` when the job must be asked for by itself.
    """

    join_in_flight = True
    #: bounds of the refresh period (seconds): ``poll_interval=0`` cannot hammer the list
    min_period = 0.2
    max_period = 300.0
    #: a listing at most this old is always fresh enough (besides the measured request time and spread)
    tolerance_floor = 0.05
    #: the longest a waiter waits for a list request (beyond its scheduled start) before asking by itself
    max_list_wait = 30.0

    def __init__(self, describe: str, fetch: Callable[[Any], Awaitable[Any]],
                 index: Callable[[Any], Mapping[str, Any]]) -> None:
        super().__init__()
        self.describe = describe
        self._fetch = fetch
        self._index = index
        self._states: weakref.WeakKeyDictionary[Any, dict[Hashable, _KeyState]] = weakref.WeakKeyDictionary()

    def _state(self, key: Hashable) -> _KeyState:
        per_loop = self._states.setdefault(asyncio.get_running_loop(), {})
        state = per_loop.get(key)
        if state is None:
            state = per_loop[key] = _KeyState(period=self.min_period)
        return state

    def tolerance(self, state: _KeyState) -> float:
        """How old a listing may be and still answer a call (never more than half a period)."""
        last = state.last
        took = (last.finished - last.started) if last is not None else 0.0
        return min(state.period / 2, self.tolerance_floor + max(took, 1.5 * state.spread))

    def _fresh(self, state: _KeyState, listing: Listing, now: float, previous: float | None) -> bool:
        """Whether ``listing`` may answer a call now: at most :meth:`tolerance` old, or - for a wait that a busy
        loop woke late - taken after the wait's previous answer (news to it) and at most half a period old."""
        age = now - listing.started
        if age <= self.tolerance(state):
            return True
        return previous is not None and listing.started > previous and age <= state.period / 2

    def delay(self, loop: Any, key: Hashable) -> float:
        """The next listing starts one period after the previous one (at once for the first)."""
        state = self._states.get(loop, {}).get(key)
        if state is None:
            return 0.0
        return state.last_start + min(state.period, state.next_period) - time.monotonic()

    async def lookup(self, hook: Any, key: Hashable, wait: Hashable, ids: list[str]) -> list[Any] | None:
        """The list entries of ``ids`` when a fresh listing shows EVERY one running, else ``None``.

        ``key`` names the shared list (API and connection); ``wait`` names this wait (its ids and account; the
        calling task is added: two triggers on one job are two waits), to learn its poll interval. ``None``
        means "ask for these jobs by themselves": never "done"."""
        now = time.monotonic()
        state = self._state(key)
        wait = _per_task(wait)
        previous = state.answered.get(wait)
        if previous is not None:
            state.next_period = min(state.next_period, max(self.min_period, min(self.max_period, now - previous)))
        listing, parked = state.last, False
        if listing is None or not self._fresh(state, listing, now, previous):
            listing, parked = await self._next_listing(hook, key, state), True
        done = time.monotonic()
        state.answered[wait] = done
        if parked and listing is not None:
            state.next_spread = max(state.next_spread, done - listing.started)
        running = listing.running if listing is not None else None
        if running is None:
            return None
        entries = [running.get(i) for i in ids]
        return entries if all(e is not None for e in entries) else None

    def note(self, key: Hashable, wait: Hashable) -> Any:
        """What :meth:`keep` stored for this wait (``None`` before its first own request, or after it ended)."""
        return self._state(key).notes.get(_per_task(wait))

    def keep(self, key: Hashable, wait: Hashable, value: Any) -> None:
        """After a wait's own request: store ``value`` (e.g. the state it saw; ``None`` forgets the wait) and
        note the time, so its next call still tells the poller its poll interval."""
        state, wait = self._state(key), _per_task(wait)
        if value is None:
            state.notes.pop(wait, None)
            state.answered.pop(wait, None)
        else:
            state.notes[wait] = value
            state.answered[wait] = time.monotonic()

    async def _next_listing(self, hook: Any, key: Hashable, state: _KeyState) -> Listing | None:
        future = self.enqueue(key, hook, None)
        budget = max(0.0, self.delay(asyncio.get_running_loop(), key)) + self.max_list_wait
        left = seconds_left(scope_deadline())  # a wait near its deadline asks by itself rather than wait
        try:
            return await asyncio.wait_for(future, timeout=min(budget, max(0.0, left - 1.0)))
        except TimeoutError:
            if budget <= left:
                self._warn(state, f"{self.describe} took longer than {self.max_list_wait:.0f} s")
            return None
        except Exception as exc:  # noqa: BLE001 - a broken list never fails a wait: per-job polls answer
            self._warn(state, f"{type(exc).__name__}: {exc}")
            return None

    async def answer(self, key: Hashable, waiters: list[Waiter[Listing]]) -> None:
        """One list request for the whole batch (and every waiter joining while it is in flight)."""
        state = self._state(key)
        started = time.monotonic()
        self._roll(state, started)
        waiting = [w.hook for w in waiters if not w.future.done()]
        try:
            async with self.limit():  # the hook of a waiter still waiting: its trigger holds its session open
                body = await self._fetch(waiting[-1] if waiting else waiters[0].hook)
            listing = Listing(started, self._index(body))
        except Exception as exc:  # noqa: BLE001 - failed or hostile: every waiter asks by itself
            listing = Listing(started, None, problem=f"{type(exc).__name__}: {exc}")
        listing.finished = time.monotonic()
        if listing.problem:
            self._warn(state, listing.problem)
        state.last = listing
        for waiter in list(waiters):
            self.settle(waiter, listing)

    def _roll(self, state: _KeyState, now: float) -> None:
        """A new listing starts: the period and spread learnt since the last one take effect."""
        if math.isfinite(state.next_period):
            state.period = state.next_period
        state.next_period = math.inf
        state.spread, state.next_spread = state.next_spread, 0.0
        state.last_start = now
        if now - state.pruned > self.max_period:  # waits that ended (or moved away) are forgotten
            state.pruned, stale = now, now - 2 * self.max_period
            state.answered = {w: t for w, t in state.answered.items() if t >= stale}
            state.notes = {w: v for w, v in state.notes.items() if w in state.answered}

    def _warn(self, state: _KeyState, problem: str) -> None:
        now = time.monotonic()
        if now - state.warned >= 300:  # one line per connection per 5 minutes, not one per wait
            state.warned = now
            log.warning("%s could not answer the waiting triggers (%s): each job is polled by itself",
                        self.describe, str(problem)[:300])


#: entries indexed per listing at most (the services list <= 800 jobs): the rest read "not listed"
MAX_LISTED = 100_000


def _per_task(wait: Hashable) -> Hashable:
    """A wait as the poller tracks it: what it waits for, in the task (trigger) that waits."""
    return wait, id(asyncio.current_task())


def listed_running(pairs: Iterable[tuple[Any, Any]], *, job_id: str, status: str | None = None,
                   status_ok: tuple[str, ...] = (), max_entries: int = MAX_LISTED) -> dict[str, Any]:
    """Index list entries by job id: the jobs a list answer shows running, with their account.

    ``pairs`` yields ``(entry, account)``. An entry counts when it is an object whose ``job_id`` field is a
    non-empty string (at most 512 characters) and, with ``status``, whose status is one of ``status_ok``.
    An id listed twice with different accounts, or once with another status, is dropped (asked for by
    itself). Entries past ``max_entries`` are not read (truncated: those jobs read "not listed").
    Values are ``{"account": str | None}``. Never raises on hostile entries (NaN, lists, wrong types)."""
    out: dict[str, Any] = {}
    dropped: set[str] = set()
    for n, (entry, account) in enumerate(pairs):
        if n >= max_entries:
            break
        if not isinstance(entry, dict):
            continue
        ident = entry.get(job_id)
        if not isinstance(ident, str) or not ident or len(ident) > 512 or ident in dropped:
            continue
        ok = status is None or (isinstance(entry.get(status), str) and entry[status] in status_ok)
        value = {"account": account if isinstance(account, str) else None}
        if not ok or (ident in out and out[ident] != value):
            out.pop(ident, None)
            dropped.add(ident)
            continue
        out[ident] = value
    return out


__all__ = ["MAX_LISTED", "Coalescer", "Listing", "ListingPoller", "Waiter", "listed_running"]
