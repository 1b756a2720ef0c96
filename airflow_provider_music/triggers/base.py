"""Typed status checks and the one poll loop shared by every deferrable operator and sensor.

A :class:`StatusCheck` names ONE status check of one API, by reference, not by string:

* ``check`` - the hook's sync status method (``RiffusionHook.song_status``), used by operators and sensors;
* ``acheck`` - its ``async`` twin (``RiffusionHook.asong_status``), used by the trigger;
* ``target`` - the ONE function that builds the JSON-primitive keyword arguments both methods take
  (what a trigger serializes);
* ``cancel`` / ``acancel`` - the API's cancel call when it has one (FlowMusic ``DELETE jobs/{id}``);
* ``trigger_class`` - bound when a :class:`MusicPollTrigger` subclass declares ``status_check = ...``.

The trigger loop:

* holds the event loop's shared aiohttp session for its whole life (thousands of triggers, one pool);
* awaits only I/O; sleeps never past the absolute ``deadline`` (epoch seconds);
* keeps polling through transient API errors (they are retried inside the hook first);
* yields exactly one event: ``success``, ``failed``, ``timeout`` or ``error`` - never a token, never data;
* logs progress quietly (see :class:`Progress`);
* on user kill (Airflow 3.3+), cancels through ``status_check.acancel`` when the API has one, or logs that it cannot;
* fires no sooner than ``settle`` seconds after the deferral (:func:`settle_seconds`): an event that comes
  sooner can meet an Airflow scheduler race (apache/airflow issues 66374, 67287, 72716) and fail the task.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Concatenate, Generic, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_music.core.deadline import deadline_scope
from airflow_provider_music.core.errors import (
    InvalidInputError,
    JobFailedError,
    JobTimeoutError,
    MusicApiError,
)
from airflow_provider_music.core.parsing import PollResult
from airflow_provider_music.hooks.base import MusicApiHook

EVENT_STATUSES = ("success", "failed", "timeout", "error")
H = TypeVar("H", bound=MusicApiHook)

#: Seconds between a task's deferral (or reschedule) and the earliest trigger event (or reschedule date).
#: Airflow's scheduler fails a task instance when the executor's report of the worker exit that deferred or
#: rescheduled it arrives after the task was already queued, scheduled or running again ("finished with
#: state success, but the task instance's state attribute is queued"; apache/airflow issues 66374, 67287,
#: 72716, pull request 71579, fixed only in part by 3.3.2). Measured on Airflow 3.3.2, 20 runs at once on a
#: shared 2-core host: the scheduler took that report up to 11.6 s after the exit with LocalExecutor (p95 8 s)
#: and up to 7.5 s with CeleryExecutor (docs/architecture.md, "The scheduler race"); 20 s stays clear of it
#: with a margin. It costs latency only for jobs that finish within 20 s of a deferral, and makes reschedule
#: sensors poke at most every 20 s.
DEFAULT_SETTLE_SECONDS = 20.0
#: ``[music] settle_seconds`` (``AIRFLOW__MUSIC__SETTLE_SECONDS``): 0 turns the settle off
SETTLE_SECTION, SETTLE_KEY = "music", "settle_seconds"


def settle_seconds() -> float:
    """The settle time for a deferral or reschedule made now, in this process.

    ``[music] settle_seconds`` (default :data:`DEFAULT_SETTLE_SECONDS`; finite, 0-3600) in a task process that
    a worker's supervisor started (what executors run), and 0 anywhere else: ``airflow dags test`` and
    ``airflow tasks test`` (the task and its trigger run in one process), a test calling ``execute()`` - no
    scheduler there, nothing to race.
    """
    return configured_settle_seconds() if _under_a_supervisor() else 0.0


def configured_settle_seconds() -> float:
    """``[music] settle_seconds`` as configured (default :data:`DEFAULT_SETTLE_SECONDS`; finite, 0-3600; anything
    else warns and gives the default), wherever this runs: what a supervised task process will use."""
    from airflow.providers.common.compat.sdk import conf

    raw = conf.get(SETTLE_SECTION, SETTLE_KEY, fallback=None)
    value = DEFAULT_SETTLE_SECONDS if raw in (None, "") else _as_float(raw)
    if not math.isfinite(value) or not 0 <= value <= 3600:  # the safe side: a typo must not re-open the race
        logging.getLogger(__name__).warning(
            "[%s] %s (AIRFLOW__MUSIC__SETTLE_SECONDS) must be 0-3600 seconds, got %r: using %.0f",
            SETTLE_SECTION, SETTLE_KEY, raw, DEFAULT_SETTLE_SECONDS)
        value = DEFAULT_SETTLE_SECONDS
    return value


def _under_a_supervisor() -> bool:
    """True in a task process a worker's supervisor started (LocalExecutor, Celery, ...): the task SDK then
    talks to it through ``task_runner.SUPERVISOR_COMMS``; ``dags test`` uses an in-process stand-in."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:
        return False
    comms = vars(task_runner).get("SUPERVISOR_COMMS")
    return comms is not None and type(comms).__name__ != "InProcessSupervisorComms"


class StatusCheck(Generic[H]):
    """One status check of one API: sync method, async method, target builder, trigger class, cancel."""

    def __init__(
        self,
        *,
        name: str,
        hook_class: type[H],
        check: Callable[Concatenate[H, ...], PollResult],
        acheck: Callable[Concatenate[H, ...], Awaitable[PollResult]],
        target: Callable[..., dict[str, Any]],
        cancel: Callable[Concatenate[H, ...], Any] | None = None,
        acancel: Callable[Concatenate[H, ...], Awaitable[Any]] | None = None,
    ) -> None:
        self.name = name
        self.hook_class = hook_class
        self.check = check
        self.acheck = acheck
        self.target = target
        self.cancel = cancel
        self.acancel = acancel
        self._trigger_class: type[MusicPollTrigger] | None = None

    def __repr__(self) -> str:
        return f"StatusCheck({self.name!r})"

    def describe(self, target: dict[str, Any]) -> str:
        """How logs and errors name the watched job(s): ``Riffusion songs job_ids=a,b user_id=u``."""
        return f"{self.name} {describe_target(target)}".rstrip()

    @property
    def trigger_class(self) -> type[MusicPollTrigger]:
        """The trigger class bound to this status check (``TypeError`` when none declares it)."""
        if self._trigger_class is None:
            raise TypeError(f"{self!r} has no trigger: declare `status_check = ...` on a MusicPollTrigger subclass")
        return self._trigger_class

    def bind(self, trigger_class: type[MusicPollTrigger]) -> None:
        """Bind ``trigger_class`` (its ``status_check = ...``); one trigger class per status check."""
        if self._trigger_class is not None and self._trigger_class is not trigger_class:
            raise TypeError(f"{self!r} is already the status check of {self._trigger_class.__qualname__}")
        self._trigger_class = trigger_class

    def poll(self, hook: H, target: dict[str, Any]) -> PollResult:
        """One sync status check (operators and sensors)."""
        return self.check(hook, **target)

    def cancel_job(self, hook: H, target: dict[str, Any]) -> bool:
        """Cancel through the API when it can; ``False`` when the API has no cancel call."""
        if self.cancel is None:
            return False
        self.cancel(hook, **target)
        return True

    def trigger(
        self, *, conn_id: str, target: dict[str, Any], poll_interval: float, timeout: float | None,
        carry: dict[str, Any] | None = None,
    ) -> MusicPollTrigger:
        """The trigger waiting for ``target`` (``timeout`` relative seconds, ``None`` = no limit).

        ``carry`` (small, JSON-primitive) comes back in the event: ``airflow dags test`` resumes a task with
        ``{"event": ...}`` only, dropping the ``defer`` kwargs, so the job record travels in the event too.
        """
        return self.trigger_class(
            conn_id=conn_id, target=target, poll_interval=poll_interval, deadline=deadline_after(timeout), carry=carry,
            deferred_at=time.time(), settle=settle_seconds(),
        )


class Progress:
    """When a wait is worth a log line: on every state change, otherwise every ``every`` polls.

    Sync waits (operators, sensors in poke mode) use ``every=5, min_gap=0``. Triggers use
    ``every=10, min_gap=300``: with 10,000 deferred tasks the triggerer writes one line per task every
    five minutes at most, plus one per state change; every other poll logs at DEBUG. A state the package
    does not know (``PollResult.unknown``) is a WARNING once per state per wait, never one per poll.
    """

    def __init__(self, describe: str, logger: Any, *, every: int = 5, min_gap: float = 0.0) -> None:
        self.describe = describe
        self.logger = logger
        self.every = every
        self.min_gap = min_gap
        self.polls = 0
        self.started = time.monotonic()
        self._last_key: tuple[str, str] | None = None
        self._quiet = 0
        self._last_line = self.started
        self._warned: set[str] = set()

    def seen(self, result: PollResult) -> None:
        """Count one poll of ``result``: warn once per unknown state, log state changes and every
        ``every`` polls (at most every ``min_gap`` seconds), else DEBUG."""
        self.polls += 1
        for note in result.unknown:
            if note not in self._warned:
                self._warned.add(note)
                self.logger.warning("%s: %s", self.describe, note)
        now = time.monotonic()
        key = (result.state, result.message)
        if key != self._last_key:
            self._log(now, "%s: %s", self.describe, result.message or result.state)
            self._last_key = key
            return
        self._quiet += 1
        if self._quiet >= self.every and now - self._last_line >= self.min_gap:
            waited = now - self.started
            self._log(now, "%s: still %s after %.0f s (%d polls)", self.describe, result.message or result.state,
                      waited, self.polls)
        else:
            self.logger.debug("%s: %s (poll %d)", self.describe, result.message or result.state, self.polls)

    def _log(self, now: float, msg: str, *args: Any) -> None:
        self.logger.info(msg, *args)
        self._quiet = 0
        self._last_line = now


class MusicPollTrigger(BaseTrigger):
    """Poll ``status_check.acheck(hook, **target)`` until it reports a terminal state.

    Subclasses declare only ``status_check = SOME_STATUS``.

    :param conn_id: Airflow connection id of the API.
    :param target: JSON-primitive keyword arguments of the status method (built by ``status_check.target``).
    :param poll_interval: seconds between polls (finite, >= 0; anything else ends in an ``error`` event).
    :param deadline: absolute wall-clock deadline (``time.time()`` seconds); ``None`` (or ``inf``) waits
        forever; ``NaN`` is an ``error`` event, never "forever".
    :param cancel_on_kill: cancel the remote job(s) when a user kills the deferred task (if the API can).
    :param deferred_at: when the task deferred (``time.time()`` seconds in the worker).
    :param settle: the event waits until ``deferred_at + settle`` (and never longer than ``settle`` after the
        trigger starts, whatever the clocks say): see :data:`DEFAULT_SETTLE_SECONDS`.
    """

    status_check: ClassVar[StatusCheck[Any]]
    progress_every: ClassVar[int] = 10
    progress_min_gap: ClassVar[float] = 300.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "status_check" in cls.__dict__:
            cls.status_check.bind(cls)

    def __init__(
        self,
        *,
        conn_id: str,
        target: dict[str, Any],
        poll_interval: float = 30.0,
        deadline: float | None = None,
        cancel_on_kill: bool = True,
        carry: dict[str, Any] | None = None,
        deferred_at: float | None = None,
        settle: float = 0.0,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.deferred_at = None if deferred_at is None else _as_float(deferred_at)
        self.settle = _as_float(settle)
        self.target = target
        self.poll_interval = _as_float(poll_interval)
        self.deadline = None if deadline is None else _as_float(deadline)
        self.cancel_on_kill = cancel_on_kill
        self.carry = carry

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-primitive kwargs (never a token): what the triggerer stores and resumes from."""
        kwargs: dict[str, Any] = {
            "conn_id": self.conn_id,
            "target": self.target,
            "poll_interval": self.poll_interval,
            "deadline": self.deadline,
            "cancel_on_kill": self.cancel_on_kill,
        }
        if self.carry is not None:
            kwargs["carry"] = self.carry
        if self.deferred_at is not None:
            kwargs["deferred_at"] = self.deferred_at
            kwargs["settle"] = self.settle
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    def _hook(self) -> MusicApiHook:
        return self.status_check.hook_class(self.conn_id)

    def describe(self) -> str:
        """How logs and events name the watched job(s)."""
        return self.status_check.describe(self.target)

    def _event(self, status: str, message: str, payload: dict[str, Any] | None = None) -> TriggerEvent:
        event = {"status": status, "message": message, "target": self.target, "payload": payload or {}}
        if self.carry is not None:
            event["carry"] = self.carry
        return TriggerEvent(event)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Poll to the end first, then yield once with nothing left to clean up: whoever consumes the
        # generator (the triggerer, or `dags test` inline) may close it right after the first event.
        """Poll until a terminal state or the deadline, hold the event until the settle time passed, and
        yield exactly one event."""
        started = time.time()
        event = await self._wait()
        hold = self.settle_left(started, time.time())
        if hold > 0:
            self.log.info("%s: %s; the event waits %.1f s more, until %.0f s after the deferral (Airflow "
                          "scheduler race, see [music] settle_seconds)", self.describe(), event.payload["status"],
                          hold, self.settle)
            await asyncio.sleep(hold)
        yield event

    def settle_left(self, started: float, now: float) -> float:
        """Seconds the event still waits: until ``deferred_at + settle``, at most ``settle`` after ``started``."""
        if self.deferred_at is None or not math.isfinite(self.deferred_at) or not self.settle > 0:
            return 0.0
        settle = min(self.settle, 3600.0)
        return max(0.0, min(self.deferred_at + settle, started + settle) - now)

    def _check_arguments(self) -> None:
        if not math.isfinite(self.poll_interval) or self.poll_interval < 0:
            raise InvalidInputError(f"poll_interval must be a finite number of seconds >= 0, got {self.poll_interval!r}")
        if self.deadline is not None and math.isnan(self.deadline):
            raise InvalidInputError("deadline is NaN: the wait has no valid time limit")
        if self.deadline is not None and math.isinf(self.deadline):
            self.deadline = None if self.deadline > 0 else 0.0

    async def _wait(self) -> TriggerEvent:
        try:
            self._check_arguments()
            hook = self._hook()
            async with hook.async_session():
                return await self._loop(hook)
        except Exception as exc:  # an error event, never an exception that kills the triggerer task
            event = self._event("error", f"{type(exc).__name__}: {exc}")
            if isinstance(exc, MusicApiError):  # the worker re-raises the same class (e.g. no-retry errors)
                event.payload["error_class"] = f"{type(exc).__module__}.{type(exc).__qualname__}"
            return event

    async def _loop(self, hook: MusicApiHook) -> TriggerEvent:
        progress = Progress(self.describe(), self.log, every=self.progress_every, min_gap=self.progress_min_gap)
        # The task polled just before deferring, so wait one interval first. (That alone does not keep the
        # event clear of the scheduler race: run() holds it until the settle time has passed.)
        await asyncio.sleep(self._pause(time.time()))
        last = ""  # the timeout names the last state seen, even when the last poll failed
        while True:
            event, seen, hint = await self._poll(hook, progress)
            if event is not None:
                return event
            last = seen or last
            now = time.time()
            if self.deadline is not None and now >= self.deadline:
                state = f" (last state: {last})" if last else ""
                return self._event("timeout", f"Timed out waiting for {self.describe()}{state}")
            await asyncio.sleep(self._pause(now, at_least=hint))

    async def _poll(self, hook: MusicApiHook, progress: Progress) -> tuple[TriggerEvent | None, str, float | None]:
        """One status check: ``(terminal event or None, the state seen ("" when the poll failed), back-off hint)``.

        Nothing of the answer outlives this call: with thousands of waits, an answer kept across the sleep
        would be promoted to the collector's oldest generation once per poll and make every full collection
        of the (large) triggerer process come sooner.
        """
        try:
            # the hook's inner retries end by the deadline too; each call by max(poll_interval, 15 s)
            with deadline_scope(self.deadline, poll_interval=self.poll_interval):
                result = await self.status_check.acheck(hook, **self.target)
        except MusicApiError as exc:
            if not exc.retryable and not self._past_deadline():
                raise
            # a 429's Retry-After (or the API's minimum) outlasting the retries
            self.log.warning("Polling %s failed, will poll again: %s", self.describe(), exc)
            return None, "", server_hint(exc.retry_after)
        if result.done:
            return self._event(result.state, result.message, result.payload), "", None
        progress.seen(result)
        return None, result.message or result.state, None

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    def _pause(self, now: float, *, at_least: float | None = None) -> float:
        """The next pause: the poll interval, or the server's back-off hint when longer; never past the deadline."""
        pause = self.poll_interval if at_least is None else max(self.poll_interval, at_least)
        if self.deadline is None:
            return pause
        return max(0.0, min(pause, self.deadline - now))

    async def on_kill(self) -> None:
        """Called (Airflow 3.3+) only when a user kills the deferred task - never on triggerer restart."""
        if not self.cancel_on_kill:
            return
        if self.status_check.acancel is None:
            self.log.info("%s has no cancel endpoint; the remote job(s) %s keep running",
                          self.status_check.hook_class.hook_name, self.target)
            return
        hook = self._hook()
        try:
            async with hook.async_session():
                await self.status_check.acancel(hook, **self.target)
            self.log.info("Cancelled remote job(s) %s", self.target)
        except Exception as exc:
            self.log.warning("Could not cancel remote job(s) %s: %s", self.target, exc)


def describe_target(target: Any, *, most: int = 3) -> str:
    """A short ``key=value`` form of a status target: lists cut to ``most`` items, empty values left out."""
    if not isinstance(target, dict):
        return _short(target)
    parts = []
    for key, value in target.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, list | tuple):
            shown = ",".join(str(v) for v in value[:most])
            value = shown + (f" (+{len(value) - most} more)" if len(value) > most else "")
        parts.append(f"{key}={value}")
    return " ".join(parts)


def server_hint(value: Any) -> float | None:
    """A server back-off hint in seconds, or None when absent or not a sane finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return min(float(value), 3600.0)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def validate_event(event: Any, *, describe: str) -> dict[str, Any]:
    """Check a trigger event on resume; return it on success, raise the matching error otherwise.

    The event crosses the triggerer/worker boundary through the metadata DB, so a resuming task can
    receive ``None`` or a shape it does not know: both are errors, never silent success.
    """
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise MusicApiError(f"{describe}: resumed with an invalid trigger event: {_short(event)}")
    if not isinstance(event.get("payload", {}), dict):
        raise MusicApiError(f"{describe}: resumed with an invalid trigger event payload: {_short(event)}")
    status = event["status"]
    message = str(event.get("message") or status)
    if status == "success":
        return event
    if status == "failed":
        raise JobFailedError(f"{describe} failed: {message}", details=event.get("payload"))
    if status == "timeout":
        raise JobTimeoutError(f"{describe}: {message}")
    raise _error_class(event.get("error_class") or (event.get("payload") or {}).get("error_class"))(
        f"{describe}: {message}"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def _error_class(name: Any) -> type[MusicApiError]:
    """The provider's error class named in an error event (so 596, 401... stay non-retryable after deferral)."""
    if not isinstance(name, str) or not name.startswith("airflow_provider_music."):
        return MusicApiError
    import importlib

    module, _, qualname = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), qualname, None)
    except ImportError:
        return MusicApiError
    return found if isinstance(found, type) and issubclass(found, MusicApiError) else MusicApiError


def deadline_after(timeout: float | None) -> float | None:
    """Absolute wall-clock deadline for a relative ``timeout`` in seconds (``None`` or ``inf``: no limit).

    ``NaN`` stays ``NaN`` so the trigger reports an error instead of waiting forever.
    """
    if timeout is None:
        return None
    seconds = _as_float(timeout)
    if math.isinf(seconds) and seconds > 0:
        return None
    return time.time() + seconds

