"""Issue 20 §2 against the emulator: the FlowMusic waits of one triggerer share ``GET jobs``.

Classes: N triggers of one connection in one event loop make one ``GET jobs`` per poll interval plus one
``GET jobs/{jobid}`` per finished job (counted at the emulator), and each fires within one interval of its
job's end; a failing or hostile ``GET jobs`` falls back to per-job polls and fires nothing early; the
emulator's ``GET jobs`` answers as the service does (oldest first, a job leaves when it ends, a cancelled
one at once, an ended one lingers with its final status when asked to) and stays cheap at 10,000 jobs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.triggers.flowmusic import FlowMusicJobTrigger

LIST, ONE = "/v1/flowmusic/jobs", "/v1/flowmusic/jobs/{jobid}"


def store(emulator: Any) -> Any:
    return emulator.state.apis["flowmusic"].store


def make_jobs(emulator: Any, n: int, seconds: float, spread: float = 0.0) -> list[str]:
    """N async jobs on the default account (its slot limit raised); job k ends ``seconds + k*spread/n`` later."""
    for acc in store(emulator).accounts.values():
        acc.max_jobs = 10**6
    emulator.state.settings["flowmusic.job_seconds"] = seconds
    hook = FlowMusicHook()
    jobs = [hook.generate(f"song {k}", mode="async")["jobid"] for k in range(n)]
    for k, jobid in enumerate(jobs):  # stagger the ends, counted from now
        job = store(emulator).jobs[jobid]
        job.delay = time.time() - job.created + seconds + k * spread / max(n, 1)
    store(emulator).reheap()
    return jobs


def run_triggers(jobs: list[str], interval: float, timeout: float = 30) -> dict[str, tuple[dict[str, Any], float]]:
    """Every trigger in ONE event loop (as in the triggerer): jobid -> (event payload, wall time it fired)."""
    async def one(jobid: str) -> tuple[str, dict[str, Any], float]:
        trigger = FlowMusicJobTrigger(conn_id="flowmusic_default", target={"jobid": jobid}, poll_interval=interval,
                                      deadline=time.time() + timeout)
        async for event in trigger.run():
            return jobid, event.payload, time.time()
        raise AssertionError("no event")

    async def all_of() -> list[tuple[str, dict[str, Any], float]]:
        return await asyncio.gather(*(one(j) for j in jobs))

    return {jobid: (payload, at) for jobid, payload, at in asyncio.run(all_of())}


def test_n_triggers_share_one_list_per_interval_and_one_get_per_finished_job(music_emulator):
    interval, n = 0.5, 60
    jobs = make_jobs(music_emulator, n, seconds=1.2, spread=1.2)
    lists0, gets0 = music_emulator.count("GET", LIST), music_emulator.count("GET", ONE)
    started = time.time()
    fired = run_triggers(jobs, interval)
    elapsed = time.time() - started
    lists, gets = music_emulator.count("GET", LIST) - lists0, music_emulator.count("GET", ONE) - gets0
    assert all(payload["status"] == "success" for payload, _ in fired.values())
    assert gets == n  # one GET per finished job, none while the list shows it
    assert lists <= elapsed / interval + 2, (lists, elapsed)  # one list per interval, whatever N
    per_job_polls = n * elapsed / interval  # what per-job polling would have sent
    assert lists + gets < per_job_polls / 4
    lag = max(at - store(music_emulator).jobs[j].finished_at() for j, (_, at) in fired.items())
    assert lag <= interval + 0.35, f"a trigger fired {lag:.2f} s after its job ended (interval {interval} s)"


def test_two_connections_never_share_a_list(music_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FLOWMUSIC_OTHER", music_emulator.connection("flowmusic"))
    jobs = make_jobs(music_emulator, 4, seconds=0.8)

    async def go() -> list[Any]:
        hooks = [FlowMusicHook("flowmusic_default"), FlowMusicHook("flowmusic_other")]
        return await asyncio.gather(*(h.ajob_status(j) for h in hooks for j in jobs))

    before = music_emulator.count("GET", LIST)
    results = asyncio.run(go())
    assert all(r.state == "running" for r in results)
    assert music_emulator.count("GET", LIST) - before == 2  # one per connection


@pytest.mark.parametrize("fault", [
    {"status": 200, "body": "{\"composer@example.com\": {\"jobs\": [{\"jobid\": NaN}]}}"},
    {"status": 200, "body": "[]"},
    {"status": 200, "body": "{}"},  # lists nothing: every job asks by itself (and is still pending)
    {"status": 404},
])
def test_a_list_that_fails_or_lies_falls_back_per_job_and_fires_nothing_early(music_emulator, fault):
    jobs = make_jobs(music_emulator, 5, seconds=1.0)
    music_emulator.add_fault(path=r"/v1/flowmusic/jobs/?$", method="GET", **fault)
    gets0 = music_emulator.count("GET", ONE)
    fired = run_triggers(jobs, 0.3)
    for jobid, (payload, at) in fired.items():
        assert payload["status"] == "success" and at >= store(music_emulator).jobs[jobid].finished_at()
    assert music_emulator.count("GET", ONE) - gets0 >= 5 * 2  # per-job polls while the list cannot answer


# ---- the emulator's GET jobs -------------------------------------------------------------------------------
def test_get_jobs_lists_running_jobs_oldest_first_and_drops_them_when_they_end(music_emulator):
    hook = FlowMusicHook()
    jobs = make_jobs(music_emulator, 3, seconds=30)
    listed = hook.list_jobs()["composer@example.com"]
    assert [j["jobid"] for j in listed["jobs"]] == jobs and listed["running"] == 3
    assert all(j["status"] == "pending" for j in listed["jobs"])
    hook.cancel_job(jobs[1])  # a cancelled job leaves at once
    store(music_emulator).jobs[jobs[2]].delay = 0.0  # this one ends now
    assert [j["jobid"] for j in hook.list_jobs()["composer@example.com"]["jobs"]] == [jobs[0]]
    store(music_emulator).jobs[jobs[0]].delay = 0.0
    assert hook.list_jobs() == {}  # `{}` when nothing runs


def test_get_jobs_can_keep_ended_jobs_with_their_final_status(music_emulator):
    music_emulator.state.settings["flowmusic.list_linger_seconds"] = 30
    hook = FlowMusicHook()
    jobid = make_jobs(music_emulator, 1, seconds=0.2)[0]
    time.sleep(0.3)
    listed = hook.list_jobs()["composer@example.com"]
    assert listed["jobs"][0]["jobid"] == jobid and listed["jobs"][0]["status"] == "completed"
    assert listed["running"] == 0
    assert asyncio.run(hook.ajob_status(jobid)).state == "success"  # listed, but not pending: its own GET


def test_get_jobs_stays_cheap_with_10000_jobs(music_emulator):
    api, acc = music_emulator.state.apis["flowmusic"], next(iter(store(music_emulator).accounts.values()))
    now = time.time()
    for k in range(10_000):  # straight into the store: the HTTP creates are not what is measured
        store(music_emulator).new_job(acc, now - 5, delay=3600.0 if k % 2 else 1.0, request={}, outcome="completed",
                                      clips=[])
    started = time.perf_counter()
    listed = FlowMusicHook().list_jobs()["composer@example.com"]
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(3):
        FlowMusicHook().list_jobs()
    again = (time.perf_counter() - started) / 3
    assert len(listed["jobs"]) == 5_000 and api is not None
    assert first < 5 and again < 2, (first, again)
