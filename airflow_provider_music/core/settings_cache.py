"""One connection lookup per process for many triggers: a short-lived cache of resolved settings.

In a triggerer every trigger builds its own hook. Resolving the connection goes through the triggerer's
supervisor (one request/answer round trip each, plus secret masking); a thousand triggers starting at once
queued a thousand round trips and starved the polls (bench/README.md, "waiting at scale"). Triggers of one
connection id therefore share one lookup: a single lookup in flight per key, its result kept for
:data:`SETTINGS_TTL` seconds (a connection edited in the UI reaches running triggers within that time).
Failed lookups are never cached.

What is shared is the *connection*, keyed on what its lookup depends on; each hook makes its own settings
from it (``MusicApiHook.aget_settings``), so nothing a hook's constructor overrides (``retry_policy``...)
can leak from one hook to another: a hook asking for 4 attempts once got another hook's 1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: Seconds a resolved connection is reused by other triggers of the same process.
SETTINGS_TTL = 60.0

_CACHE: dict[tuple[Any, ...], tuple[float, Any]] = {}
_IN_FLIGHT: dict[tuple[Any, ...], asyncio.Future[Any]] = {}


def clear() -> None:
    """Forget every cached connection (tests; a process that must see an edit at once)."""
    _CACHE.clear()
    _IN_FLIGHT.clear()


async def shared_lookup(key: tuple[Any, ...], lookup: Callable[[], Awaitable[Any]]) -> Any:
    """``await lookup()`` once per ``key`` and :data:`SETTINGS_TTL`; concurrent callers share one call."""
    now = time.monotonic()
    hit = _CACHE.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    loop = asyncio.get_running_loop()
    pending = _IN_FLIGHT.get(key)
    if pending is not None and pending.get_loop() is loop and not pending.done():
        return await asyncio.shield(pending)
    future: asyncio.Future[Any] = loop.create_future()
    _IN_FLIGHT[key] = future
    try:
        value = await lookup()
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: no "exception was never retrieved" warning when nobody waited
        raise
    finally:
        if _IN_FLIGHT.get(key) is future:
            del _IN_FLIGHT[key]
    _CACHE[key] = (time.monotonic() + SETTINGS_TTL, value)
    future.set_result(value)
    return value
