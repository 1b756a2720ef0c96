"""Time bounds that match the call (issue 21 section 4), against real dripping local servers.

* non-held JSON calls (status polls, lists, gets, creates that answer at once): a total deadline of
  ``request_timeout`` (default 30 s, retries included); inside a wait that polls every P seconds at most
  ``max(P, POLL_FLOOR)`` - on the sync and the async driver, and in a trigger;
* FlowMusic held calls (``mode="sync"``, stems, lyrics, images): ``sync_timeout`` + ``request_timeout``,
  never the short poll bound;
* uploads and downloads: a minimum rate averaged over a window (``min_transfer_rate`` KiB/s,
  ``transfer_window`` s) instead of a fixed total: a dripping body is cut, a long transfer above the rate
  is not, nothing partial is left.

Servers drip one byte every 0.3-0.5 s (each gap far inside the 5 s read timeout), so only the bounds stop them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from airflow_provider_music.core import PollResult, deadline
from airflow_provider_music.core.bodies import DeadlineExceededError
from airflow_provider_music.core.deadline import TransferRule, call_bounds, deadline_scope, json_bound
from airflow_provider_music.core.files import UploadSource
from airflow_provider_music.core.settings import ApiSettings
from airflow_provider_music.hooks.base import MusicApiHook
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck
from tests.support.hooks import make_hook
from tests.support.hostile import HostileServer, json_body, send, slow_body

pytestmark = pytest.mark.integration

TOKEN = "tok-BOUNDS-7f3a9c1e55d2"
KiB = 1024
DRIP = slow_body(b'{"status": "running", "pad": "' + b"x" * 200 + b'"}', every=0.4, max_seconds=20)


class BoundsHook(MusicApiHook):
    conn_name_attr = "bounds_conn_id"
    default_conn_name = "bounds_default"
    conn_type = "bounds"
    hook_name = "Bounds"

    def job_status(self, job_id: str) -> PollResult:
        return PollResult(str(self.request_json("GET", f"jobs/{job_id}")["status"]))

    async def ajob_status(self, job_id: str) -> PollResult:
        return PollResult(str((await self.arequest_json("GET", f"jobs/{job_id}"))["status"]))


BOUNDS_STATUS = StatusCheck(name="Bounds job", hook_class=BoundsHook, check=BoundsHook.job_status,
                            acheck=BoundsHook.ajob_status, target=lambda job_id: {"job_id": job_id})


class BoundsTrigger(MusicPollTrigger):
    status_check = BOUNDS_STATUS


def _hook(monkeypatch: Any, server: HostileServer, cls: type[MusicApiHook] = BoundsHook, **extra: Any) -> Any:
    return make_hook(monkeypatch, cls, server.url + "/v1/", TOKEN, extra, conn_id="bounds_test")


# ---- the defaults and the rules, without a network ----------------------------------------------------
def test_defaults_bound_each_kind_of_call():
    settings = ApiSettings(conn_id="c", base_url="http://x/", token="t")
    assert settings.request_timeout == 30  # a non-held JSON call, retries included (was 300)
    assert settings.transfer_timeout is None  # no fixed total for uploads and downloads (was 3600)
    assert (settings.min_transfer_rate, settings.transfer_window) == (32, 60)
    now = time.time()
    json_call = call_bounds(30)
    assert json_call.deadline is not None and 29 < json_call.deadline - now <= 30.5
    assert "request_timeout" in (json_call.bound or "")
    held = call_bounds(30, hold=300)
    assert held.deadline is not None and 329 < held.deadline - now <= 330.5 and "'request_timeout'" in (held.bound or "")
    transfer = call_bounds(30, transfer=TransferRule(32 * KiB, 60))
    assert transfer.deadline is None and transfer.rule is not None


@pytest.mark.parametrize(("request_timeout", "poll_interval", "expected"), [
    (30, None, 30),  # no wait around the call
    (30, 2, 15),  # a fast poll still gets the 15 s floor (a vendor's 10 s 429 wait fits)
    (30, 20, 20),  # of the order of the poll interval
    (30, 600, 30),  # never more than request_timeout
    (2, 5, 2),  # the extra stays the override
])  # fmt: skip
def test_poll_bound_follows_the_poll_interval(request_timeout, poll_interval, expected):
    with deadline_scope(None, poll_interval=poll_interval):
        assert json_bound(request_timeout) == expected
        held = call_bounds(request_timeout, hold=100).deadline
        assert held is not None and held - time.time() > 100  # a held call is no poll
    assert json_bound(request_timeout) == request_timeout  # the scope ends with the wait


def test_nested_poll_scopes_keep_the_smallest_bound():
    with deadline_scope(None, poll_interval=20), deadline_scope(None, poll_interval=18):
        assert json_bound(30) == 18
    with deadline_scope(None, poll_interval=18), deadline_scope(None, poll_interval=20):
        assert json_bound(30) == 18


def test_a_scope_takes_the_enclosing_scope_of_where_it_is_entered_and_restores_it():
    inner = deadline_scope(time.time() + 500, poll_interval=40)  # built outside any scope ...
    with deadline_scope(time.time() + 100, poll_interval=20) as outer:
        with inner as effective:  # ... entered inside one: the earlier deadline and the smaller bound win
            assert effective == outer
            assert json_bound(30) == 20
        assert deadline.scope_deadline() == outer
    assert deadline.scope_deadline() is None and json_bound(30) == 30
    with deadline_scope(float("nan"), poll_interval=float("nan")):  # NaN poll interval adds no bound
        assert json_bound(30) == 30


def test_transfer_rule_is_a_window_of_credit():
    watch = deadline.RequestWatch(None, TransferRule(rate=1000, window=2))
    assert watch.credit == pytest.approx(time.time() + 2, abs=0.05)  # a full window to start with
    watch.credit = start = time.time() + 1  # a second of it spent without progress
    watch.moved(500)  # half a second earned ...
    assert watch.credit == pytest.approx(start + 0.5, abs=0.01)
    watch.moved(10_000_000)  # ... but never more than one window ahead: a burst does not buy a later drip
    assert watch.credit <= time.time() + 2.01
    assert TransferRule(32 * KiB, 60).read_size(1024 * KiB) == 480 * KiB  # 4 reports per window at the rate
    assert TransferRule(1 * KiB, 1).read_size(1024 * KiB) == 16 * KiB


# ---- (a) status polls and other JSON calls ------------------------------------------------------------
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_dripping_status_poll_fails_at_its_bound_and_is_not_retried(monkeypatch, use_async):
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, request_timeout=1, retry_limit=5)
        api.route("/v1/jobs/j1", DRIP)
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            asyncio.run(hook.ajob_status("j1")) if use_async else hook.job_status("j1")
        elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 2.0, elapsed
    assert str(info.value).startswith("GET /v1/jobs/j1: no complete answer") and "'request_timeout'" in str(info.value)
    assert len(api.requests) == 1  # no retry past the bound


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_poll_inside_a_wait_is_bounded_by_its_poll_interval(monkeypatch, use_async):
    monkeypatch.setattr(deadline, "POLL_FLOOR", 0.5)  # scaled down from 15 s
    with HostileServer() as api:
        hook = _hook(monkeypatch, api)  # request_timeout: the default 30 s
        api.route("/v1/jobs/j1", DRIP)
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=r"GET /v1/jobs/j1: .*1 s for a JSON call"):
            with deadline_scope(None, poll_interval=1):
                asyncio.run(hook.ajob_status("j1")) if use_async else hook.job_status("j1")
        assert 0.9 <= time.monotonic() - start < 2.0


def test_trigger_poll_is_bounded_by_the_poll_interval(monkeypatch, caplog, capsys):
    monkeypatch.setattr(deadline, "POLL_FLOOR", 0.3)
    with HostileServer() as api:
        _hook(monkeypatch, api)  # request_timeout: the default 30 s
        api.route("/v1/jobs/j1", DRIP)
        trigger = BoundsTrigger(conn_id="bounds_test", target={"job_id": "j1"}, poll_interval=0.6,
                                deadline=time.time() + 2.4)

        async def first_event() -> dict[str, Any]:
            async for event in trigger.run():
                return event.payload
            raise AssertionError("no event")

        event = asyncio.run(first_event())
    assert event["status"] == "timeout"
    # the first poll (at 0.6 s) was cut at its 0.6 s bound, so a second one ran before the deadline
    assert len(api.requests) == 2, api.requests
    logged = caplog.text + capsys.readouterr().out  # the trigger's warning names the call and its bound
    assert "GET /v1/jobs/j1: no complete answer" in logged and "0.6 s for a JSON call" in logged


# ---- (b) downloads and uploads: a minimum rate, not a fixed total --------------------------------------
def _steady(size: int, step: int, every: float) -> Any:
    """``size`` bytes announced, ``step`` bytes every ``every`` seconds: a steady transfer."""

    def behaviour(h: Any, r: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "audio/wav")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        for offset in range(0, size, step):
            time.sleep(every)
            h.wfile.write(b"R" * min(step, size - offset))
            h.wfile.flush()

    return behaviour


def test_dripping_download_is_cut_by_the_minimum_rate_and_leaves_nothing(monkeypatch, tmp_path, instant_retries):
    with HostileServer() as cdn:
        hook = _hook(monkeypatch, cdn, min_transfer_rate=1, transfer_window=0.5, transfer_timeout=10)
        cdn.route("/song.wav", slow_body(b"R" * 1000, every=0.2, max_seconds=20))
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            hook.download(cdn.url + "/song.wav", tmp_path / "song.wav")
        elapsed = time.monotonic() - start
    assert elapsed < 2.5, elapsed  # two attempts (retry_limit 2), each cut after its 0.5 s window
    assert len(cdn.requests) == 2
    assert str(info.value).startswith("GET /song.wav: the transfer fell below 1 KiB/s for longer than 0.5 s")
    assert "'min_transfer_rate'" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no partial file, no temp file


def test_download_above_the_rate_outlasts_the_window_and_succeeds(monkeypatch, tmp_path):
    with HostileServer() as cdn:
        hook = _hook(monkeypatch, cdn, min_transfer_rate=4, transfer_window=1)
        cdn.route("/long.wav", _steady(48 * KiB, 2 * KiB, 0.05))  # ~40 KiB/s for ~1.2 s
        start = time.monotonic()
        hook.download(cdn.url + "/long.wav", tmp_path / "long.wav")
        assert time.monotonic() - start > 1.0  # longer than the window: no fixed total cut it
    assert (tmp_path / "long.wav").stat().st_size == 48 * KiB


class _SlowFile:
    """A file whose reads give ``step`` bytes after ``every`` seconds (the upload drips from our side)."""

    def __init__(self, size: int, step: int, every: float) -> None:
        self.size, self.left, self.step, self.every = size, size, step, every

    def __len__(self) -> int:
        return self.size

    def close(self) -> None:
        self.left = 0

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        time.sleep(self.every)
        n = min(self.step, self.left)
        self.left -= n
        return b"R" * n


def _slow_source(size: int, step: int, every: float) -> UploadSource:
    return UploadSource(name="slow.wav", size=size, _opener=lambda: _SlowFile(size, step, every))  # type: ignore[arg-type]


def _answer_after(seconds: float, value: Any) -> Any:
    def behaviour(h: Any, r: Any) -> None:
        time.sleep(seconds)
        send(h, 200, json.dumps(value).encode(), "application/json")

    return behaviour


def test_dripping_upload_is_cut_by_the_minimum_rate(monkeypatch):
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, min_transfer_rate=1, transfer_window=0.5, transfer_timeout=10)
        api.route("/v1/files", json_body({"id": "f1"}))
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=r"^POST /v1/files: the transfer fell below 1 KiB/s"):
            hook.upload_raw("POST", "files", _slow_source(1000, 1, 0.2), content_type="audio/wav")
        assert time.monotonic() - start < 1.5


def test_upload_above_the_rate_outlasts_the_window_and_the_server_may_answer_within_it(monkeypatch):
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, min_transfer_rate=4, transfer_window=0.6)
        api.route("/v1/files", _answer_after(0.3, {"id": "f1"}))  # processing after the last byte
        start = time.monotonic()
        answer = hook.upload_raw("POST", "files", _slow_source(32 * KiB, 4 * KiB, 0.1), content_type="audio/wav")
        assert time.monotonic() - start > 0.9  # longer than the window: no fixed total cut it
    assert answer == {"id": "f1"} and len(api.requests[0].body) == 32 * KiB


# ---- (c) FlowMusic held calls ------------------------------------------------------------------------------
JOBID = "job:56ef7890-1111-2222-3333-444455556666-user:1234-jane@example.com-bot:flowmusic"
COMPLETED = {
    "jobid": JOBID, "email": "jane@example.com", "status": "completed", "created_at": "2026-05-31T19:57:23.954Z",
    "clips": [{"clip": "user:1234-jane@example.com-clip:12ab34cd-0000-1111-2222-333344445555", "title": "Sun",
               "duration_s": 173.03, "audio_url": "https://storage.googleapis.com/x.m4a"}],
}  # fmt: skip


def test_flowmusic_held_call_gets_sync_timeout_plus_margin_not_the_poll_bound(monkeypatch):
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, FlowMusicHook, request_timeout=0.5, sync_timeout=1)
        api.route("/v1/music", _answer_after(1.1, COMPLETED), method="POST")
        api.route("/v1/jobs", _answer_after(1.1, {}), method="GET")
        with deadline_scope(None, poll_interval=0.1):  # even inside a fast wait
            job = hook.generate("song", mode="sync")  # held: 1 + 0.5 s allowed, answered after 1.1 s
        assert job["status"] == "completed"
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=r"^GET /v1/jobs: .*0.5 s for a JSON call"):
            hook.list_jobs()  # not held: 0.5 s
        assert time.monotonic() - start < 1.0


def test_flowmusic_held_call_past_sync_timeout_plus_margin_fails_once(monkeypatch):
    release = threading.Event()

    def never(h: Any, r: Any) -> None:
        release.wait(10)

    with HostileServer() as api:
        hook = _hook(monkeypatch, api, FlowMusicHook, request_timeout=0.5, sync_timeout=1)
        api.route("/v1/music", never, method="POST")
        start = time.monotonic()
        try:
            with pytest.raises(DeadlineExceededError, match=r"^POST /v1/music: .*'sync_timeout'"):
                hook.generate("song", mode="sync")
        finally:
            release.set()
        assert 1.4 <= time.monotonic() - start < 2.2  # sync_timeout 1 s + request_timeout 0.5 s
    assert len(api.requests) == 1  # a create that may have been processed is never sent twice
