"""One retry policy for sync (requests) and async (aiohttp) calls."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import tenacity

from airflow_provider_music.core.deadline import scope_deadline
from airflow_provider_music.core.errors import InvalidInputError, MusicApiError


def _sleep(seconds: float) -> None:
    """Sleep through the package-level hook, so tests can patch ``airflow_provider_music.core._sleep``."""
    from airflow_provider_music import core

    core._sleep(seconds)


async def _async_sleep(seconds: float) -> None:
    from airflow_provider_music import core

    await core._async_sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry. The same policy drives sync (requests) and async (aiohttp) calls.

    Waits grow exponentially from ``initial_wait`` up to ``max_wait`` with random jitter; a server's
    ``Retry-After`` is used instead when given (capped at ``max_retry_after``). Retrying stops after
    ``max_attempts`` attempts or when the next wait would pass ``total_timeout`` seconds since the first.
    """

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 120.0
    total_timeout: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInputError(f"retry_limit must be >= 1, got {self.max_attempts}")

    def compute_wait(self, attempt_number: int, exc: BaseException | None) -> float:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after) + random.uniform(0, min(self.jitter, 1.0))
        backoff = min(self.max_wait, self.initial_wait * (2 ** (attempt_number - 1)))
        return min(self.max_wait, backoff + random.uniform(0, self.jitter))

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.compute_wait(retry_state.attempt_number, exc)

    def tenacity_kwargs(
        self, describe: str, logger: logging.Logger | Any, deadline: float | None = None
    ) -> dict[str, Any]:
        """``deadline`` (epoch seconds; default: the current :func:`~.deadline.deadline_scope`) also stops
        retrying when the next wait would end past it."""
        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
            what, detail = _call_once(describe, exc)
            logger.warning(
                "Retrying %s in %.1f s (attempt %d of %d failed: %s)",
                what,
                wait,
                retry_state.attempt_number,
                self.max_attempts,
                detail,
            )

        return {
            "retry": tenacity.retry_if_exception(lambda e: isinstance(e, MusicApiError) and e.retryable),
            "wait": self._wait,
            "stop": tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.total_timeout)
            | _StopAtDeadline(scope_deadline() if deadline is None else deadline),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def retrying(self, describe: str, logger: Any, deadline: float | None = None) -> tenacity.Retrying:
        return tenacity.Retrying(sleep=lambda s: _sleep(s), **self.tenacity_kwargs(describe, logger, deadline))

    def async_retrying(self, describe: str, logger: Any, deadline: float | None = None) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            sleep=lambda s: _async_sleep(s), **self.tenacity_kwargs(describe, logger, deadline)
        )


class _StopAtDeadline(tenacity.stop.stop_base):
    """Stop when the next wait would end past ``deadline`` (epoch seconds; ``None``: never)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if self.deadline is None:
            return False
        return time.time() + getattr(retry_state, "upcoming_sleep", 0.0) >= self.deadline


def _call_once(describe: str, exc: BaseException | None) -> tuple[str, Any]:
    """The retry line names the call once: as the error names it (a hook may show an id once, where the
    request path has it percent-encoded), followed by the rest of the error."""
    if not isinstance(exc, MusicApiError) or not exc.method or not exc.path:
        return describe, exc
    what, text = f"{exc.method} {exc.path}", str(exc)
    if not text.startswith(what):
        return describe, exc
    return what, text[len(what):].lstrip(" :").removeprefix("failed with ")
