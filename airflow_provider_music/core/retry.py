"""One retry policy for sync (requests) and async (aiohttp) calls.

The first attempt of a call runs straight through, with no retry machinery at all (a successful request
leaves no garbage behind); only after a retryable failure is a ``tenacity`` retrier built, which counts that
failure as its first attempt. Every wait goes through the one test seam ``airflow_provider_music.core._sleep``
/ ``_async_sleep``, looked up at each wait.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import tenacity

from airflow_provider_music import core as _seam  # the package: tests patch its _sleep / _async_sleep
from airflow_provider_music.core.deadline import scope_deadline
from airflow_provider_music.core.errors import InvalidInputError, MusicApiError
from airflow_provider_music.core.http import detach

if TYPE_CHECKING:
    from airflow_provider_music.core.http import Call

T = TypeVar("T")


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
        """Seconds to wait after failed attempt ``attempt_number``: the server's ``Retry-After`` (capped, with a
        little jitter) when ``exc`` carries one, else exponential backoff with jitter up to ``max_wait``."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after) + random.uniform(0, min(self.jitter, 1.0))
        backoff = min(self.max_wait, self.initial_wait * (2 ** (attempt_number - 1)))
        return min(self.max_wait, backoff + random.uniform(0, self.jitter))

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.compute_wait(retry_state.attempt_number, exc)

    def tenacity_kwargs(
        self, describe: str, logger: logging.Logger | Any, deadline: float | None = None, started: float | None = None,
    ) -> dict[str, Any]:
        """``deadline`` (epoch seconds; default: the current :func:`~.deadline.deadline_scope`) also stops
        retrying when the next wait would end past it; ``started`` (``time.monotonic()`` of the first attempt;
        default: now) is where ``total_timeout`` counts from."""
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
            | _StopAfterTotal(time.monotonic() if started is None else started, self.total_timeout)
            | _StopAtDeadline(scope_deadline() if deadline is None else deadline),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def run(self, send: Callable[[], T], call: Call, logger: Any) -> T:
        """``send()`` once; after a retryable failure, again under a ``tenacity`` retrier until it succeeds,
        fails for good or the policy (attempts, ``total_timeout``, the call's deadline) stops it."""
        started = time.monotonic()
        try:
            return send()
        except MusicApiError as err:
            replay = _Replay(err, send)
        kwargs = self.tenacity_kwargs(call.describe, logger, call.deadline, started)
        retrier = tenacity.Retrying(sleep=lambda s: _seam._sleep(s), **kwargs)
        return _detached(retrier, replay)

    async def arun(self, send: Callable[[], Awaitable[T]], call: Call, logger: Any) -> T:
        """Async twin of :meth:`run` (waits through ``core._async_sleep``)."""
        started = time.monotonic()
        try:
            return await send()
        except MusicApiError as err:
            replay = _Replay(err, send)
        kwargs = self.tenacity_kwargs(call.describe, logger, call.deadline, started)
        retrier = tenacity.AsyncRetrying(sleep=lambda s: _seam._async_sleep(s), **kwargs)
        return await _adetached(retrier, replay.asend)


class _Replay:
    """The attempt function handed to ``tenacity`` after a first failure: its first call raises that failure
    (so tenacity counts it, logs it and waits), later calls send again. A failure tenacity would not retry
    (not retryable) is raised at once, before any retrier exists."""

    def __init__(self, first: MusicApiError, send: Callable[[], Any]) -> None:
        if not first.retryable:
            raise first
        self._first: MusicApiError | None = first
        self._send = send

    def _pending(self) -> None:
        first, self._first = self._first, None
        if first is not None:
            raise first

    def __call__(self) -> Any:
        self._pending()
        return self._send()

    async def asend(self) -> Any:
        """Async form of ``__call__`` (for ``tenacity.AsyncRetrying``)."""
        self._pending()
        return await self._send()


def _detached(retrier: tenacity.Retrying, replay: _Replay) -> Any:
    try:
        return retrier(replay)
    except MusicApiError as err:
        failure = detach(err)
    raise failure


async def _adetached(retrier: tenacity.AsyncRetrying, send: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await retrier(send)
    except MusicApiError as err:
        failure = detach(err)
    raise failure


class _StopAfterTotal(tenacity.stop.stop_base):
    """Stop when the next wait would end more than ``total`` seconds after ``started`` (monotonic)."""

    def __init__(self, started: float, total: float) -> None:
        self.started, self.total = started, total

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return time.monotonic() + getattr(retry_state, "upcoming_sleep", 0.0) - self.started >= self.total


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
