"""core.settings.shared_lookup: a thousand triggers starting at once resolve their connection once, not a thousand times."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from airflow_provider_music.core import settings as settings_cache  # the cache lives in core.settings
from airflow_provider_music.core.retry import RetryPolicy
from airflow_provider_music.hooks.base import MusicApiHook
from airflow_provider_music.hooks.riffusion import RiffusionHook
from tests.support.hooks import hook_classes, make_hook


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
    original = RiffusionHook._alookup_connection

    async def counting(self):
        nonlocal calls
        calls += 1
        return await original(self)

    monkeypatch.setattr(RiffusionHook, "_alookup_connection", counting)
    settings = await asyncio.gather(*(RiffusionHook().aget_settings() for _ in range(200)))
    assert calls == 1 and len({s.base_url for s in settings}) == 1


# ---- the cache never hands a hook another hook's settings (issue 21 §3) ---------------------------------
#: A sample value for every constructor override a hook class may take (a new override needs one here).
OVERRIDE_SAMPLES: dict[str, Any] = {"retry_policy": RetryPolicy(max_attempts=4, initial_wait=0.5, max_wait=2.0)}
_CONN_ID_ARGS = {"conn_id", "self", "kwargs", "args"}


def _overrides(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and issubclass(klass, MusicApiHook):
            names += [p for p in inspect.signature(klass.__init__).parameters
                      if p not in _CONN_ID_ARGS and not p.endswith("_conn_id")]
    return sorted(set(names))


OVERRIDE_CASES = [(cls, name) for cls in hook_classes() for name in _overrides(cls)]


def test_every_constructor_override_has_a_sample():
    assert OVERRIDE_CASES, "no hook takes a settings override: the test below would prove nothing"
    missing = sorted({name for _, name in OVERRIDE_CASES if name not in OVERRIDE_SAMPLES})
    assert not missing, f"add a sample for the hook constructor override(s) {missing}"


@pytest.mark.asyncio
@pytest.mark.parametrize(("cls", "name"), OVERRIDE_CASES, ids=[f"{c.__name__}-{n}" for c, n in OVERRIDE_CASES])
async def test_async_settings_honour_every_constructor_override(monkeypatch, cls, name):
    make_hook(monkeypatch, cls, "http://127.0.0.1:9/", "tok-cache-test")
    plain, custom = cls("hostile_test"), cls("hostile_test", **{name: OVERRIDE_SAMPLES[name]})
    # concurrently (one lookup in flight) and then from the cache, in both orders
    first, second = await asyncio.gather(plain.aget_settings(), custom.aget_settings())
    later_custom = await cls("hostile_test", **{name: OVERRIDE_SAMPLES[name]}).aget_settings()
    later_plain = await cls("hostile_test").aget_settings()
    fresh = cls("hostile_test", **{name: OVERRIDE_SAMPLES[name]})
    expected_custom, expected_plain = fresh.settings, cls("hostile_test").settings  # sync: no cache
    assert second == expected_custom and later_custom == expected_custom
    assert first == expected_plain and later_plain == expected_plain
    assert expected_custom != expected_plain, f"{name} changed nothing: pick a sample that does"
