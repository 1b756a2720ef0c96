"""Issue 20 §2 against the emulator: the Riffusion song waits of one triggerer share ``GET scheduler``.

Classes: N triggers of one connection in one event loop make one ``GET scheduler`` per poll interval, one
``GET music?id=`` per wait at its first poll (the scheduler shows no state) and one per finished job; each
fires within one interval of its songs' end; an account other than the listed one never takes the list's
word; a failing scheduler falls back to per-job polls and fires nothing early; the emulator's scheduler
lists executing jobs oldest first, drops them when they end or are deleted, and reads only recent songs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.testing.riffusion_store import DEFAULT_USER_ID, Song
from airflow_provider_music.triggers.riffusion import RiffusionSongTrigger

LIST, ONE = "/v1/riffusion/scheduler", "/v1/riffusion/music/"


def api(emulator: Any) -> Any:
    return emulator.state.apis["riffusion"]


def make_songs(emulator: Any, n: int, seconds: float) -> list[str]:
    """N creates (two songs each) on the default account; returns the first song id of each."""
    for acc in api(emulator).accounts.values():
        acc.max_jobs = 10**6
    emulator.state.settings["riffusion.job_seconds"] = seconds
    hook = RiffusionHook()
    return [hook.create_prompt(f"song {k}")[0] for k in range(n)]


def run_triggers(ids: list[str], interval: float, user_id: str | None = None) -> dict[str, tuple[dict[str, Any], float]]:
    async def one(song: str) -> tuple[str, dict[str, Any], float]:
        trigger = RiffusionSongTrigger(conn_id="riffusion_default", target={"job_ids": [song], "user_id": user_id},
                                       poll_interval=interval, deadline=time.time() + 30)
        async for event in trigger.run():
            return song, event.payload, time.time()
        raise AssertionError("no event")

    async def all_of() -> list[tuple[str, dict[str, Any], float]]:
        return await asyncio.gather(*(one(s) for s in ids))

    return {song: (payload, at) for song, payload, at in asyncio.run(all_of())}


def test_n_triggers_share_one_scheduler_list_per_interval(music_emulator):
    interval, n = 0.5, 40
    ids = make_songs(music_emulator, n, seconds=2.0)
    lists0, gets0 = music_emulator.count("GET", LIST), music_emulator.count("GET", ONE)
    started = time.time()
    fired = run_triggers(ids, interval)
    elapsed = time.time() - started
    lists, gets = music_emulator.count("GET", LIST) - lists0, music_emulator.count("GET", ONE) - gets0
    assert all(payload["status"] == "success" for payload, _ in fired.values())
    assert gets == 2 * n  # the first poll of each wait, and one GET once its song ended
    assert lists <= elapsed / interval + 2, (lists, elapsed)
    ends = {s.id: s.created + 2.0 for s in api(music_emulator).songs.values()}
    lag = max(at - ends[song] for song, (_, at) in fired.items())
    assert lag <= interval + 0.35, f"a trigger fired {lag:.2f} s after its songs ended (interval {interval} s)"


def test_a_wait_on_another_account_never_takes_the_lists_word(music_emulator):
    ids = make_songs(music_emulator, 2, seconds=1.5)  # on the default account (the only one yet)
    other = api(music_emulator).add_account()
    gets0 = music_emulator.count("GET", ONE)

    async def go() -> list[Any]:
        hook = RiffusionHook()

        async def wait(song: str, user: str) -> list[Any]:  # one task per wait, as a trigger
            return [await hook.asong_status(song, user), await hook.asong_status(song, user)]

        both = await asyncio.gather(wait(ids[0], DEFAULT_USER_ID), wait(ids[1], other))
        return [r for pair in both for r in pair]

    results = asyncio.run(go())
    assert [r.state for r in results] == ["running"] * 4
    # first polls: 2 GETs; second round: the default account's wait is listed, the other account's is not
    assert music_emulator.count("GET", ONE) - gets0 == 3


@pytest.mark.parametrize("fault", [{"status": 200, "body": "{\"x\": 1}"}, {"status": 404}])
def test_a_failing_scheduler_falls_back_per_job_and_fires_nothing_early(music_emulator, fault):
    ids = make_songs(music_emulator, 3, seconds=1.0)
    music_emulator.add_fault(path=r"/v1/riffusion/scheduler/?$", method="GET", **fault)
    fired = run_triggers(ids, 0.3)
    ends = {s.id: s.created + 1.0 for s in api(music_emulator).songs.values()}
    for song, (payload, at) in fired.items():
        assert payload["status"] == "success" and at >= ends[song]


# ---- the emulator's GET scheduler ----------------------------------------------------------------------------
def test_scheduler_lists_executing_jobs_oldest_first_and_drops_ended_or_deleted(music_emulator):
    hook = RiffusionHook()
    ids = make_songs(music_emulator, 2, seconds=30)
    listed = [e["job_id"] for e in hook.get_scheduler()]
    assert listed[0] == ids[0] and ids[1] in listed and len(listed) == 4  # two songs per create
    hook.delete_scheduler_job(ids[0])
    assert ids[0] not in [e["job_id"] for e in hook.get_scheduler()]
    music_emulator.state.settings["riffusion.job_seconds"] = 0
    assert hook.get_scheduler() == []


def test_scheduler_reads_only_recent_songs(music_emulator):
    store, now = api(music_emulator), time.time()
    for k in range(20_000):  # old songs, long finished: the scheduler must not read them one by one
        store.add_song(Song(id=f"old-{k}", generation_id=f"g-{k}", user_id=DEFAULT_USER_ID, created=now - 3600 - k,
                            title="t", sound="s", lyrics="l", outcome="completed", job_id=f"old-{k}"))
    ids = make_songs(music_emulator, 1, seconds=30)
    started = time.perf_counter()
    listed = RiffusionHook().get_scheduler()
    assert [e["job_id"] for e in listed][:1] == ids and time.perf_counter() - started < 1.0
