"""core.settings_cache: a thousand triggers starting at once resolve their connection once, not a thousand times."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_music.core import settings_cache
from airflow_provider_music.hooks.riffusion import RiffusionHook


@pytest.mark.asyncio
async def test_concurrent_lookups_share_one_call():
    calls = 0

    async def lookup():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {"token": "x"}

    results = await asyncio.gather(*(settings_cache.shared_lookup(("k",), lookup) for _ in range(1000)))
    assert calls == 1 and all(r == {"token": "x"} for r in results)
    assert await settings_cache.shared_lookup(("k",), lookup) == {"token": "x"} and calls == 1  # cached


@pytest.mark.asyncio
async def test_failed_lookups_are_not_cached_and_reach_every_waiter():
    calls = 0

    async def failing():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("supervisor unavailable")

    results = await asyncio.gather(*(settings_cache.shared_lookup(("f",), failing) for _ in range(5)),
                                   return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and calls == 1
    with pytest.raises(RuntimeError):
        await settings_cache.shared_lookup(("f",), failing)
    assert calls == 2


@pytest.mark.asyncio
async def test_expired_entries_are_looked_up_again(monkeypatch):
    monkeypatch.setattr(settings_cache, "SETTINGS_TTL", 0.0)
    calls = 0

    async def lookup():
        nonlocal calls
        calls += 1
        return calls

    assert await settings_cache.shared_lookup(("e",), lookup) == 1
    assert await settings_cache.shared_lookup(("e",), lookup) == 2


@pytest.mark.asyncio
async def test_hooks_of_one_connection_share_the_lookup(music_emulator, monkeypatch):
    calls = 0
    original = RiffusionHook._alookup_settings

    async def counting(self):
        nonlocal calls
        calls += 1
        return await original(self)

    monkeypatch.setattr(RiffusionHook, "_alookup_settings", counting)
    settings = await asyncio.gather(*(RiffusionHook().aget_settings() for _ in range(200)))
    assert calls == 1 and len({s.base_url for s in settings}) == 1
