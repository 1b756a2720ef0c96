"""Polling results shared by operators, sensors and triggers, and the sync wait loop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_music.core.deadline import deadline_scope
from airflow_provider_music.core.errors import JobTimeoutError, MusicApiError
from airflow_provider_music.core.validation import non_negative_number

log = logging.getLogger(__name__)


def _sleep(seconds: float) -> None:
    from airflow_provider_music import core

    core._sleep(seconds)


PollState = Literal["running", "success", "failed"]


@dataclass
class PollResult:
    """The state of one or more remote jobs at one poll. ``payload`` must stay small and JSON-primitive.

    ``unknown`` lists states this package does not know (see :func:`unknown_state`): such a result is
    ``running`` - never a success, never a failure the service may still turn into one - and every wait
    (operator, sensor, trigger: ``triggers.base.Progress``) warns once per note; a timeout names them, as
    the message holds them too.
    """

    state: PollState
    message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.state != "running"


def unknown_state(what: str, value: Any, known: Any = ()) -> str:
    """The note for a state this package does not know: ``upload u1: unknown state 'rejected' (known: ...)``.

    The one convention of every API: an unknown state keeps the wait going (with a warning) until the job
    reaches a known state or the deadline, whose timeout error names the state.
    """
    shown = f" (known: {', '.join(str(k) for k in known)})" if known else ""
    where = f"{what}: " if what else ""
    return f"{where}unknown state {str(value)[:50]!r}{shown}: not a success, polling on until the deadline"


def wait_for(
    check: Callable[[], PollResult],
    *,
    poll_interval: float,
    timeout: float | None,
    describe: str,
    logger: Any = log,
) -> PollResult:
    """Synchronously call ``check`` until it reports a terminal state or ``timeout`` seconds pass.

    Returns the terminal result (``success`` or ``failed``); raises :class:`JobTimeoutError` on timeout.
    ``poll_interval`` and ``timeout`` must be finite numbers >= 0 (numeric strings accepted).
    Transient API errors are retried by the hook; exhausted retryable errors are logged and polling
    continues until the deadline, so one outage does not lose a long-running job.
    """
    poll_interval = non_negative_number(poll_interval, "poll_interval")
    timeout = non_negative_number(timeout, "timeout", optional=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    wall_deadline = None if not timeout else time.time() + timeout  # timeout=0: one full poll
    warned: set[str] = set()  # unknown states: one warning per state per wait
    last = ""  # the timeout names the last state seen
    while True:
        try:
            with deadline_scope(wall_deadline):
                result = check()  # the hook's retries end by the wait's deadline too
        except MusicApiError as exc:
            if not exc.retryable:
                raise
            logger.warning("Polling %s failed, will poll again: %s", describe, exc)
        else:
            if result.done:
                return result
            for note in sorted(set(result.unknown) - warned):
                warned.add(note)
                logger.warning("Waiting for %s: %s", describe, note)
            logger.info("Waiting for %s: %s", describe, result.message or result.state)
            last = f" (last state: {result.message or result.state})"
        if deadline is not None and time.monotonic() >= deadline:
            raise JobTimeoutError(f"Timed out after {timeout:.0f} s waiting for {describe}{last}")
        pause = poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - time.monotonic()))
        _sleep(pause)

