"""The floor inside the triggerer (``bench_triggerer.py``, issue 20): a trigger that does only what a bare
aiohttp loop does per job - sleep one interval, ``GET`` + ``json.loads``, again - on ONE shared session per
event loop (pool of 64, as the provider's). It never fires; the benchmark removes it after its window.

Run by the same ``airflow triggerer`` as the provider's triggers, for the same N jobs, it pays what any
trigger pays there (Airflow's runner, greenback's trampoline, the collector over the triggerer's large heap),
so ``ms per poll`` ours / floor-in-triggerer is what the provider adds. Imported by the triggerer from
``bench/`` (on its ``PYTHONPATH``, set by ``_stack.wait_deployment``).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

_SESSIONS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _session() -> Any:
    import aiohttp

    loop = asyncio.get_running_loop()
    session = _SESSIONS.get(loop)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
        session = _SESSIONS[loop] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    return session


class FloorTrigger(BaseTrigger):
    """Bare polling of ``url`` every ``interval`` seconds (``kind`` picks the credential header)."""

    def __init__(self, url: str, kind: str, interval: float) -> None:
        super().__init__()
        self.url, self.kind, self.interval = url, kind, float(interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return "_floor_trigger.FloorTrigger", {"url": self.url, "kind": self.kind, "interval": self.interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import yarl
        from _waits import floor_headers

        url, headers, session = yarl.URL(self.url, encoded=True), floor_headers(self.kind), _session()
        await asyncio.sleep(self.interval)
        while True:
            try:
                async with session.get(url, headers=headers) as resp:
                    json.loads(await resp.read())
            except Exception:  # noqa: BLE001, S110 - a floor counts its requests at the emulator, nothing else
                pass
            await asyncio.sleep(self.interval)
        yield TriggerEvent({})  # pragma: no cover - never reached: the benchmark cancels it
