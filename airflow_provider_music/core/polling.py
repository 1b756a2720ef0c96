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
    """The state of one or more remote jobs at one poll. ``payload`` must stay small and JSON-primitive."""

    state: PollState
    message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state != "running"


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
            logger.info("Waiting for %s: %s", describe, result.message or result.state)
        if deadline is not None and time.monotonic() >= deadline:
            raise JobTimeoutError(f"Timed out after {timeout:.0f} s waiting for {describe}")
        pause = poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - time.monotonic()))
        _sleep(pause)

