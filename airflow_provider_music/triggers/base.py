"""The one poll loop shared by every deferrable operator and sensor of this provider.

A trigger here knows only a hook class, the name of one of its ``async`` status methods and that
method's JSON-primitive keyword arguments (``target``). Each API module subclasses
:class:`MusicPollTrigger` in three lines. The loop:

* holds the event loop's shared aiohttp session for its whole life (thousands of triggers, one pool);
* awaits only I/O; sleeps never past the absolute ``deadline`` (epoch seconds);
* keeps polling through transient API errors (they are retried inside the hook first);
* yields exactly one event: ``success``, ``failed``, ``timeout`` or ``error`` - never a token, never data;
* on user kill, calls the hook's ``acancel`` when the API has one, or logs that it cannot cancel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_music.core import (
    JobFailedError,
    JobTimeoutError,
    MusicApiError,
    MusicApiHook,
    PollResult,
)

EVENT_STATUSES = ("success", "failed", "timeout", "error")


class MusicPollTrigger(BaseTrigger):
    """Poll ``hook_class(conn_id).<status_method>(**target)`` until it reports a terminal state.

    :param conn_id: Airflow connection id of the API.
    :param target: JSON-primitive keyword arguments of the status method (job ids, bucket id, ...).
    :param poll_interval: seconds between polls.
    :param deadline: absolute wall-clock deadline (``time.time()`` seconds); ``None`` waits forever.
    :param cancel_on_kill: cancel the remote job(s) when a user kills the deferred task.
    """

    hook_class: ClassVar[type[MusicApiHook]]
    status_method: ClassVar[str]
    cancel_method: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        conn_id: str,
        target: dict[str, Any],
        poll_interval: float = 30.0,
        deadline: float | None = None,
        cancel_on_kill: bool = True,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.target = target
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "target": self.target,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    def _hook(self) -> MusicApiHook:
        return self.hook_class(conn_id=self.conn_id)

    def _event(self, status: str, message: str, payload: dict[str, Any] | None = None) -> TriggerEvent:
        return TriggerEvent(
            {"status": status, "message": message, "target": self.target, "payload": payload or {}}
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Poll to the end first, then yield once with nothing left to clean up: whoever consumes the
        # generator (the triggerer, or `dags test` inline) may close it right after the first event.
        event = await self._wait()
        yield event

    async def _wait(self) -> TriggerEvent:
        hook = self._hook()
        describe = f"{type(self).__name__}({self.target})"
        try:
            async with hook.async_session():
                # The task polled just before deferring, so wait one interval first. This also keeps an event
                # from firing before the scheduler has processed the deferral (an Airflow race seen with jobs
                # that finish within a second: the scheduler then fails the re-queued task instance).
                await asyncio.sleep(self._pause(time.time()))
                while True:
                    result: PollResult | None = None
                    try:
                        result = await getattr(hook, self.status_method)(**self.target)
                    except MusicApiError as exc:
                        if not exc.retryable:
                            raise
                        self.log.warning("Polling %s failed, will poll again: %s", describe, exc)
                    if result is not None and result.done:
                        return self._event(result.state, result.message, result.payload)
                    now = time.time()
                    if self.deadline is not None and now >= self.deadline:
                        last = f" (last state: {result.message or result.state})" if result else ""
                        return self._event("timeout", f"Timed out waiting for {describe}{last}")
                    await asyncio.sleep(self._pause(now))
        except Exception as exc:  # an error event, never an exception that kills the triggerer task
            event = self._event("error", f"{type(exc).__name__}: {exc}")
            if isinstance(exc, MusicApiError):  # the worker re-raises the same class (e.g. no-retry errors)
                event.payload["error_class"] = f"{type(exc).__module__}.{type(exc).__qualname__}"
            return event

    def _pause(self, now: float) -> float:
        if self.deadline is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, self.deadline - now))

    async def on_kill(self) -> None:
        """Called (Airflow 3.3+) only when a user kills the deferred task - never on triggerer restart."""
        if not self.cancel_on_kill:
            return
        if self.cancel_method is None:
            self.log.info(
                "%s has no cancel endpoint; the remote job(s) %s keep running", self.hook_class.hook_name, self.target
            )
            return
        hook = self._hook()
        try:
            await getattr(hook, self.cancel_method)(**self.target)
            self.log.info("Cancelled remote job(s) %s", self.target)
        except Exception as exc:
            self.log.warning("Could not cancel remote job(s) %s: %s", self.target, exc)


def validate_event(event: Any, *, describe: str) -> dict[str, Any]:
    """Check a trigger event on resume; return it on success, raise the matching error otherwise.

    The event crosses the triggerer/worker boundary through the metadata DB, so a resuming task can
    receive ``None`` or a shape it does not know: both are errors, never silent success.
    """
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise MusicApiError(f"{describe}: resumed with an invalid trigger event: {event!r}")
    status = event["status"]
    message = str(event.get("message") or status)
    if status == "success":
        return event
    if status == "failed":
        raise JobFailedError(f"{describe} failed: {message}", details=event.get("payload"))
    if status == "timeout":
        raise JobTimeoutError(f"{describe}: {message}")
    raise _error_class(event.get("error_class"))(f"{describe}: {message}")


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
    """Absolute wall-clock deadline for a relative ``timeout`` in seconds."""
    return None if timeout is None else time.time() + float(timeout)
