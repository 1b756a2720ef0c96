"""The shared poller (core/poller.py, issue 20 §2): FlowMusic ``GET jobs`` and Riffusion ``GET scheduler``.

Classes: many waits of one connection share one list per refresh period; a job the list does not show
running (finished, newer than the list, cut from a truncated list) gets its own GET; a failed, slow or
hostile list (wrong types, NaN, ids as lists, duplicates, 10,000 entries) never fails a wait and never makes
a job done; connections and accounts never share answers; the period follows the triggers' interval.
Driven with the real hooks, their ``arequest_json`` replaced by a scripted server that counts requests.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

from airflow_provider_music.core.errors import InvalidResponseError, ServerError
from airflow_provider_music.core.poller import MAX_LISTED, ListingPoller, listed_running
from airflow_provider_music.hooks import flowmusic as fm_hooks
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.hooks.riffusion import RiffusionHook

JOB = "job:{n}-user:1-a@example.com-bot:flowmusic"
DEFAULT = object()


class FlowServer:
    """A scripted FlowMusic: ``running`` jobs are pending; ``listing`` (callable or body) answers GET jobs."""

    def __init__(self, running: set[str], listing: Any = DEFAULT) -> None:
        self.running = running
        self.listing = listing
        self.calls: list[str] = []

    def body(self) -> Any:
        if callable(self.listing):
            return self.listing()
        if self.listing is not DEFAULT:
            return self.listing
        return {"a@example.com": {"running": len(self.running), "maxJobs": 16,
                                  "jobs": [{"jobid": j, "status": "pending"} for j in sorted(self.running)]}}

    async def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append(path)
        if path == "jobs":
            body = self.body()
            if isinstance(body, BaseException):
                raise body
            return body
        jobid = path.split("/", 1)[1].replace("%3A", ":").replace("%40", "@")
        if jobid in self.running:
            return {"jobid": jobid, "email": "a@example.com", "status": "pending"}
        return {"jobid": jobid, "email": "a@example.com", "status": "completed",
                "clips": [{"clip": f"clip-{jobid[4:8]}", "title": "t"}]}

    def count(self, what: str) -> int:
        return sum(1 for p in self.calls if (p == "jobs") == (what == "list"))


def flow_hook(server: FlowServer, conn_id: str = "flowmusic_default") -> FlowMusicHook:
    hook = FlowMusicHook(conn_id)
    hook.arequest_json = server  # type: ignore[method-assign]
    return hook


async def poll_until_done(hook: FlowMusicHook, jobid: str, interval: float, until: float) -> tuple[str, float]:
    """A trigger's loop in small: poll, sleep ``interval``; returns (state, when it was seen done)."""
    while True:
        result = await hook.ajob_status(jobid)
        if result.done or time.monotonic() > until:
            return result.state, time.monotonic()
        await asyncio.sleep(interval)


# ---- sharing -----------------------------------------------------------------------------------------------
def test_many_waits_share_one_list_per_interval_and_one_get_per_finished_job():
    jobs = [JOB.format(n=n) for n in range(200)]
    server = FlowServer(set(jobs))

    async def go() -> list[tuple[str, float]]:
        hook = flow_hook(server)
        loop = asyncio.get_running_loop()
        ends = {}
        for n, j in enumerate(jobs):  # jobs end over 1.5 s, one every 7.5 ms
            ends[j] = time.monotonic() + 0.5 + n * 0.0075
            loop.call_later(0.5 + n * 0.0075, server.running.discard, j)
        deadline = time.monotonic() + 10
        results = await asyncio.gather(*(poll_until_done(hook, j, 0.4, deadline) for j in jobs))
        return [(state, seen - ends[j]) for j, (state, seen) in zip(jobs, results, strict=True)]

    started = time.monotonic()
    results = asyncio.run(go())
    elapsed = time.monotonic() - started
    assert all(state == "success" for state, _ in results)
    assert server.count("get") == len(jobs)  # exactly one GET per finished job, none while listed
    assert server.count("list") <= elapsed / 0.4 + 3  # one list per interval, not one per job
    late = max(lag for _, lag in results)
    assert late <= 0.4 + 0.25, f"a wait saw its job end {late:.2f} s after it ended (interval 0.4 s)"


def test_two_connections_never_share_a_list():
    one, two = FlowServer({JOB.format(n=1)}), FlowServer(set(), listing={})  # conn 2 lists nothing

    async def go() -> tuple[Any, Any]:
        a, b = flow_hook(one, "flow_a"), flow_hook(two, "flow_b")
        return await asyncio.gather(a.ajob_status(JOB.format(n=1)), b.ajob_status(JOB.format(n=1)))

    ra, rb = asyncio.run(go())
    assert one.count("list") == 1 and two.count("list") == 1
    assert ra.state == "running" and one.count("get") == 0  # listed on its own connection
    assert two.count("get") == 1 and rb.state == "success"  # not listed on conn 2: its own GET answers


# ---- never done from a list ----------------------------------------------------------------------------------
HOSTILE_LISTS = [
    {}, [], "text", 5, None, {"a@example.com": 5}, {"a@example.com": {"jobs": "x"}},
    {"a@example.com": {"jobs": [{"jobid": [JOB.format(n=1)], "status": "pending"}]}},
    {"a@example.com": {"jobs": [{"jobid": math.nan, "status": "pending"}, {"jobid": 1e999}, {"jobid": None}]}},
    {"a@example.com": {"jobs": [{"jobid": {"id": 1}, "status": "pending"}, [JOB.format(n=1)], 7]}},
    {"a@example.com": {"jobs": [{"jobid": JOB.format(n=1), "status": "completed"}]}},  # listed, but not pending
    {"a@example.com": {"jobs": [{"jobid": JOB.format(n=1), "status": math.nan}]}},
    {"a@example.com": {"jobs": [{"jobid": JOB.format(n=1), "status": "pending"},
                                {"jobid": JOB.format(n=1), "status": "failed"}]}},  # duplicates that disagree
    {"a@example.com": {"jobs": [{"jobid": JOB.format(n=1), "status": "pending"}]},
     "b@example.com": {"jobs": [{"jobid": JOB.format(n=1), "status": "pending"}]}},  # one id, two accounts
    {"a@example.com": {"jobs": [{"jobid": f"job:{n}", "status": "pending"} for n in range(10_000)]}},
    InvalidResponseError("GET jobs: expected JSON, got malformed JSON"),
    ServerError("GET jobs failed with HTTP 503"),
    RecursionError(),
]


@pytest.mark.parametrize("listing", HOSTILE_LISTS, ids=range(len(HOSTILE_LISTS)))
@pytest.mark.parametrize("done", [False, True])
def test_a_list_that_cannot_answer_sends_each_job_to_its_own_get(listing, done):
    jobs = [JOB.format(n=n) for n in range(1, 4)]
    server = FlowServer(set() if done else set(jobs), listing=listing)

    async def go() -> list[Any]:
        hook = flow_hook(server)
        return await asyncio.wait_for(asyncio.gather(*(hook.ajob_status(j) for j in jobs)), timeout=10)

    results = asyncio.run(go())
    assert [r.state for r in results] == (["success"] * 3 if done else ["running"] * 3)
    assert server.count("get") == 3 and server.count("list") == 1


def test_truncated_list_reads_not_listed_past_the_cap(monkeypatch):
    jobs = [JOB.format(n=n) for n in range(5)]
    server = FlowServer(set(jobs))

    def capped(body: Any) -> Any:
        pairs = ((job, email) for email, account in body.items() for job in account["jobs"])
        return listed_running(pairs, job_id="jobid", status="status", status_ok=("pending",), max_entries=2)

    monkeypatch.setattr(fm_hooks.JOBS_LISTING, "_index", capped)

    async def go() -> list[Any]:
        hook = flow_hook(server)
        return await asyncio.gather(*(hook.ajob_status(j) for j in jobs))

    assert [r.state for r in asyncio.run(go())] == ["running"] * 5
    assert server.count("get") == 3  # the 3 past the cap asked by themselves
    assert MAX_LISTED >= 800 * 10  # the services list <= 800; the bench lists 10,000


def test_a_job_newer_than_the_list_is_asked_for_not_done():
    old = JOB.format(n=1)
    server = FlowServer({old})

    async def go() -> Any:
        hook = flow_hook(server)
        await hook.ajob_status(old)  # the list is taken now: the next job does not exist yet
        new = JOB.format(n=2)
        server.listing = {"a@example.com": {"jobs": [{"jobid": old, "status": "pending"}]}}  # (a cached view)
        server.running.add(new)
        return await hook.ajob_status(new)

    result = asyncio.run(go())
    assert result.state == "running"  # not in the (older) list: its own GET says pending
    assert server.count("get") == 1 and server.count("list") == 1


def test_slow_list_falls_back_to_per_job_polls(monkeypatch):
    jobs = [JOB.format(n=n) for n in range(3)]
    server = FlowServer(set())

    async def slow() -> Any:
        await asyncio.sleep(5)
        return {}

    async def call(method: str, path: str, **kwargs: Any) -> Any:
        if path == "jobs":
            server.calls.append(path)
            return await slow()
        return await FlowServer.__call__(server, method, path, **kwargs)

    monkeypatch.setattr(fm_hooks.JOBS_LISTING, "max_list_wait", 0.3)

    async def go() -> list[Any]:
        hook = FlowMusicHook()
        hook.arequest_json = call  # type: ignore[method-assign]
        return await asyncio.wait_for(asyncio.gather(*(hook.ajob_status(j) for j in jobs)), timeout=3)

    started = time.monotonic()
    results = asyncio.run(go())
    assert [r.state for r in results] == ["success"] * 3 and time.monotonic() - started < 2
    assert server.count("get") == 3


def test_period_follows_the_smallest_interval():
    jobs = [JOB.format(n=n) for n in range(20)]
    server = FlowServer(set(jobs))

    async def go() -> None:
        hook = flow_hook(server)
        until = time.monotonic() + 2.0
        slow = [poll_until_done(hook, j, 0.5, until) for j in jobs[:10]]
        fast = [poll_until_done(hook, j, 0.25, until) for j in jobs[10:]]
        await asyncio.gather(*slow, *fast)

    asyncio.run(go())
    # 2 s at the smallest interval (0.25 s): ~8 lists, not 20 waits x 4-8 polls
    assert 4 <= server.count("list") <= 12 and server.count("get") == 0


# ---- Riffusion -----------------------------------------------------------------------------------------------
class RiffServer:
    def __init__(self, listing: Any, done: set[str]) -> None:
        self.listing, self.done, self.calls = listing, done, []

    async def __call__(self, method: str, path: str, params: Any = None, **kwargs: Any) -> Any:
        self.calls.append(path)
        if path == "scheduler":
            if isinstance(self.listing, BaseException):
                raise self.listing
            return self.listing
        ident = params["id"]
        state = "completed" if ident in self.done else "processing"
        return [{"id": ident, "status": state, "title": "t", "user_id": params.get("user_id")}]


def riff_hook(server: RiffServer, conn_id: str = "riffusion_default") -> RiffusionHook:
    hook = RiffusionHook(conn_id)
    hook.arequest_json = server  # type: ignore[method-assign]
    return hook


async def two_rounds(hook: Any, waits: list[tuple[Any, Any]], between: Any = None) -> list[Any]:
    """Each wait - one task, as a trigger - polls twice (its first poll is its own GET); ``between()`` runs once
    every first poll is over. Returns the second round's results."""
    first_done, go_on = [0], asyncio.Event()

    async def wait(ids: Any, user: Any) -> Any:
        await hook.asong_status(ids, user)
        first_done[0] += 1
        if first_done[0] == len(waits):
            if between is not None:
                between()
            go_on.set()
        await go_on.wait()
        return await hook.asong_status(ids, user)

    return await asyncio.gather(*(wait(ids, user) for ids, user in waits))


def test_riffusion_listed_songs_need_no_request_and_accounts_never_share():
    listing = [{"job_id": "s1", "user_id": "u1", "started": "2025-01-01T00:00:00Z", "elapsed": "00:10"},
               {"job_id": "s2", "user_id": "u1"}]
    server = RiffServer(listing, done=set())
    waits = [(["s1", "s2"], "u1"), ("s1", "u2"), (["s1", "s3"], "u1")]

    mine, other_account, partly = asyncio.run(two_rounds(riff_hook(server), waits, server.calls.clear))
    assert server.calls.count("scheduler") == 1
    assert mine.state == "running" and mine.payload == {"job_ids": ["s1", "s2"]}
    assert mine.message == "0 of 2 song(s) completed"  # the state its own first GET saw
    assert other_account.state == "running" and partly.state == "running"
    assert server.calls.count("music/") == 3  # u2's wait (listed under u1 only) and both ids of the partly listed


@pytest.mark.parametrize("listing", [{}, "x", None, [1, "a", None], [{"job_id": ["s1"]}], [{"job_id": math.nan}],
                                     [{"job_id": "s1", "user_id": "u1"}, {"job_id": "s1", "user_id": "u9"}],
                                     ServerError("GET scheduler failed with HTTP 502")])
def test_riffusion_hostile_or_failed_scheduler_never_makes_a_song_done(listing):
    server = RiffServer(listing, done=set())

    def between() -> None:  # after the first polls (their own GETs): s2 ends, count the second round only
        server.done.add("s2")
        server.calls.clear()

    running, done = asyncio.run(two_rounds(riff_hook(server), [("s1", "u1"), ("s2", "u1")], between))
    assert running.state == "running" and done.state == "success"
    assert server.calls.count("music/") == 2 and server.calls.count("scheduler") == 1


def test_poller_state_is_per_event_loop():
    poller = ListingPoller("GET x", lambda hook: asyncio.sleep(0, result=[]), lambda body: {})
    assert asyncio.run(poller.lookup(object(), ("c",), "w", ["a"])) is None
    assert asyncio.run(poller.lookup(object(), ("c",), "w", ["a"])) is None  # a new loop: no stale future


def test_a_wait_near_its_deadline_does_not_wait_for_the_next_list():
    from airflow_provider_music.core.deadline import deadline_scope

    jobs = [JOB.format(n=n) for n in range(2)]
    server = FlowServer(set(jobs))

    async def go() -> float:
        hook = flow_hook(server)
        await hook.ajob_status(jobs[0])
        await asyncio.sleep(0.6)
        await hook.ajob_status(jobs[0])  # learnt: a 0.6 s interval; the next list is due 0.6 s after this one
        await asyncio.sleep(0.2)
        started = time.monotonic()
        with deadline_scope(time.time() + 0.3):
            result = await hook.ajob_status(jobs[1])
        assert result.state == "running"
        return time.monotonic() - started

    assert asyncio.run(go()) < 0.25 and server.count("get") == 1  # its own GET, at once


def test_two_triggers_on_one_job_do_not_shrink_the_period():
    jobid = JOB.format(n=1)
    server = FlowServer({jobid})

    async def go() -> None:
        hook = flow_hook(server)
        until = time.monotonic() + 3.0

        async def late() -> Any:
            await asyncio.sleep(0.05)  # the second trigger polls 50 ms after the first, every second as well
            return await poll_until_done(hook, jobid, 1.0, until)

        await asyncio.gather(poll_until_done(hook, jobid, 1.0, until), late())

    asyncio.run(go())
    assert server.count("list") <= 6  # ~1 per second: the 50 ms between the two is no poll interval
