"""Bounded resources at the transport depth, sync and async, against real hostile local servers:

* JSON and error bodies are capped on DECODED bytes: huge, endless chunked, gzip and deflate bombs stop early
  with an ``InvalidResponseError`` naming method and path (error answers keep their status' error class);
* downloads ask for ``identity`` and are bounded whatever the server encodes (1 MB on the wire never
  writes 1 GiB), with nothing left behind;
* a total deadline per request: a server sending a byte every 0.5 s (each gap within the read timeout)
  fails at the deadline; ``deadline_scope`` bounds the retries too;
* hostile JSON (NaN, Infinity, 1e999, deep nesting, invalid UTF-8, truncated, HTML) is an
  ``InvalidResponseError`` naming the call.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from typing import Any

import pytest

from airflow_provider_music import core
from airflow_provider_music.core.bodies import DeadlineExceededError
from airflow_provider_music.core.deadline import deadline_scope
from airflow_provider_music.core.errors import (
    ApiConnectionError,
    InvalidResponseError,
    MusicApiError,
    ServerError,
)
from airflow_provider_music.hooks.base import MusicApiHook
from tests.support.hooks import hook_cases, make_hook
from tests.support.hostile import (
    HOSTILE_JSON,
    HostileServer,
    compression_bomb,
    endless_chunked,
    huge_body,
    json_body,
    raw_body,
    send,
    slow_body,
    slow_headers,
    wrong_shapes,
)

pytestmark = pytest.mark.integration

TOKEN = "tok-BOUNDS-2b7e151628aed2a6"
CASES = [pytest.param((cls, extras), id=label) for label, cls, extras in hook_cases()]
ONE = CASES[-1].values[0]
MiB = 1024 * 1024


def _hook(monkeypatch: Any, api: HostileServer, case: Any = ONE, **extra: Any) -> MusicApiHook:
    cls, extras = case
    return make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, {**extras, **extra})


def _call(hook: MusicApiHook, path: str, use_async: bool, method: str = "GET") -> Any:
    if use_async:
        return asyncio.run(hook.arequest_json(method, path))
    return hook.request_json(method, path)


def _peak_mib(func: Any) -> tuple[Any, float]:
    tracemalloc.start()
    try:
        try:
            result: Any = func()
        except Exception as exc:  # noqa: BLE001 - returned for the caller's assertions
            result = exc
        return result, tracemalloc.get_traced_memory()[1] / MiB
    finally:
        tracemalloc.stop()


ASYNC = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])


# ---- capped JSON bodies ---------------------------------------------------------------------------------
@ASYNC
@pytest.mark.parametrize("case", CASES)
def test_every_hook_caps_json_bodies(monkeypatch, case, use_async):
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, case, max_response_bytes=MiB)
        api.route("/v1/big", huge_body(64 * MiB))
        api.route("/v1/fine", json_body({"ok": "x" * 1000}))
        assert _call(hook, "fine", use_async) == {"ok": "x" * 1000}
        with pytest.raises(InvalidResponseError, match=r"GET /v1/big: the answer is larger than 1048576 bytes"):
            _call(hook, "big", use_async)


@ASYNC
@pytest.mark.parametrize("kind", ["announced-2GiB", "endless-chunked", "gzip-bomb", "deflate-bomb",
                                  "gzip-bomb-chunked"])
def test_hostile_bodies_stop_at_the_cap_without_memory_growth(monkeypatch, kind, use_async):
    behaviours = {
        "announced-2GiB": huge_body(2 * 1024 * MiB),
        "endless-chunked": endless_chunked(),
        "gzip-bomb": compression_bomb(1024 * MiB, encoding="gzip"),
        "deflate-bomb": compression_bomb(1024 * MiB, encoding="deflate"),
        "gzip-bomb-chunked": compression_bomb(1024 * MiB, encoding="gzip", announce=False),
    }
    with HostileServer() as api:
        hook = _hook(monkeypatch, api)
        api.route("/v1/x", behaviours[kind])
        start = time.monotonic()
        result, peak = _peak_mib(lambda: _call(hook, "x", use_async))
        assert isinstance(result, InvalidResponseError), result
        assert "GET /v1/x" in str(result) and "larger than" in str(result)
        assert not result.retryable  # the same answer would come again
        assert peak < 3 * 32 + 16, f"{peak:.0f} MiB peak"  # default cap 32 MiB (bytes + one decoded step)
        assert time.monotonic() - start < 30
        assert len(api.requests) == 1


@ASYNC
@pytest.mark.parametrize("kind", ["endless-chunked", "gzip-bomb", "announced-2GiB"])
def test_error_bodies_are_cut_and_keep_their_error_class(monkeypatch, kind, use_async):
    behaviours = {
        "endless-chunked": endless_chunked(status=500),
        "gzip-bomb": compression_bomb(1024 * MiB, status=500),
        "announced-2GiB": huge_body(2 * 1024 * MiB, status=502),
    }
    with HostileServer() as api:
        hook = _hook(monkeypatch, api)
        api.route("/v1/x", behaviours[kind])
        result, peak = _peak_mib(lambda: _call(hook, "x", use_async))
        assert isinstance(result, ServerError), result
        assert len(str(result)) < 2000
        assert peak < 40, f"{peak:.0f} MiB peak"


# ---- downloads --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_download_bomb_never_writes_more_than_a_bounded_size(monkeypatch, tmp_path, encoding):
    with HostileServer() as cdn:
        hook = _hook(monkeypatch, cdn)
        cdn.route("/song.wav", compression_bomb(1024 * MiB, encoding=encoding, content_type="audio/wav"))
        with pytest.raises(InvalidResponseError, match="decode to more than"):
            hook.download(cdn.url + "/song.wav", tmp_path / "song.wav")
        assert cdn.requests[0].headers.get("accept-encoding") == "identity"
        assert list(tmp_path.iterdir()) == []  # no partial file, no temp file


def test_download_encoded_against_our_request_must_match_the_announced_size(monkeypatch, tmp_path):
    from tests.support.hostile import bomb_bytes

    with HostileServer() as cdn:
        hook = _hook(monkeypatch, cdn)
        data = bomb_bytes("gzip", 3 * MiB)
        cdn.route("/ok.wav", lambda h, r: send(h, 200, data, "audio/wav", {"Content-Encoding": "gzip"}))
        assert hook.download(cdn.url + "/ok.wav", tmp_path / "ok.wav", expected_size=3 * MiB)
        assert (tmp_path / "ok.wav").stat().st_size == 3 * MiB
        with pytest.raises(InvalidResponseError, match="larger than the announced"):
            hook.download(cdn.url + "/ok.wav", tmp_path / "small.wav", expected_size=MiB)
        assert not (tmp_path / "small.wav").exists()


def test_download_never_reads_past_content_length_nor_beyond_the_cap(monkeypatch, tmp_path):
    def liar(h: Any, r: Any) -> None:  # announces 10 bytes, sends 1 MiB
        h.send_response(200)
        h.send_header("Content-Length", "10")
        h.end_headers()
        h.wfile.write(b"RIFF" + b"\0" * MiB)
        h.close_connection = True

    with HostileServer() as cdn:
        hook = _hook(monkeypatch, cdn, max_download_bytes=2 * MiB)
        cdn.route("/liar.wav", liar)
        cdn.route("/endless.wav", endless_chunked())
        path = hook.download(cdn.url + "/liar.wav", tmp_path / "liar.wav")
        assert (tmp_path / "liar.wav").stat().st_size == 10 and path.name == "liar.wav"
        with pytest.raises(InvalidResponseError, match="max_download_bytes"):
            hook.download(cdn.url + "/endless.wav", tmp_path / "endless.wav")
        assert not (tmp_path / "endless.wav").exists()


# ---- total deadline per request ---------------------------------------------------------------------------
@ASYNC
@pytest.mark.parametrize("kind", ["slow-body", "slow-headers"])
def test_total_deadline_stops_a_dribbling_server(monkeypatch, kind, use_async):
    behaviour = slow_body(b'{"status": "ok", "pad": "' + b"x" * 100 + b'"}', every=0.5) if kind == "slow-body" \
        else slow_headers(every=0.5)
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, timeout=2, request_timeout=2.5, retry_limit=3)
        api.route("/v1/slow", behaviour)
        start = time.monotonic()
        with pytest.raises(ApiConnectionError) as info:
            _call(hook, "slow", use_async)
        elapsed = time.monotonic() - start
        assert isinstance(info.value, DeadlineExceededError), info.value
        assert 2.3 <= elapsed < 4.5, elapsed
        assert "GET /v1/slow" in str(info.value)


@ASYNC
def test_deadline_scope_bounds_retries(monkeypatch, use_async):
    monkeypatch.setattr(core, "_sleep", time.sleep)
    monkeypatch.setattr(core, "_async_sleep", asyncio.sleep)
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, retry_limit=10, retry_initial_wait=0.4, retry_max_wait=0.4)
        api.route("/v1/busy", json_body({"error": "busy"}, status=503, headers={"Retry-After": "1"}))
        start = time.monotonic()
        with pytest.raises(MusicApiError), deadline_scope(time.time() + 1.5):
            _call(hook, "busy", use_async)
        assert time.monotonic() - start < 1.6
        assert 1 <= len(api.requests) <= 2  # a retry only when its wait ends before the deadline


def test_deadline_scope_nests_and_earliest_wins():
    now = time.time()
    with deadline_scope(now + 10) as outer:
        assert outer == now + 10
        with deadline_scope(now + 100) as inner:
            assert inner == now + 10
        with deadline_scope(now + 1) as inner:
            assert inner == now + 1
        with deadline_scope(None) as inner:
            assert inner == now + 10
    assert core.scope_deadline() is None


# ---- hostile JSON ---------------------------------------------------------------------------------------
@ASYNC
@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
@pytest.mark.parametrize("case", CASES)
def test_hostile_json_is_invalid_response_naming_the_call(monkeypatch, case, name, use_async):
    with HostileServer() as api:
        hook = _hook(monkeypatch, api, case)
        api.route("/v1/j", raw_body(HOSTILE_JSON[name]))
        with pytest.raises(InvalidResponseError) as info:
            _call(hook, "j", use_async)
        assert "GET /v1/j" in str(info.value), str(info.value)
        assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize(("name", "body"), list(wrong_shapes()))
def test_wrong_shapes_through_parsing_guard(name, body):
    import json

    from airflow_provider_music.core.parsing import expect_dict, parsing

    value = json.loads(body)
    with pytest.raises(InvalidResponseError, match=r"GET /v1/songs"):
        with parsing("GET /v1/songs"):
            expect_dict(value, "GET /v1/songs")["data"]["items"][0].lower()


@ASYNC
@pytest.mark.parametrize(("name", "body"), list(wrong_shapes()))
def test_request_json_parse_turns_wrong_shapes_into_invalid_response(monkeypatch, name, body, use_async):
    def parse(answer: Any) -> list[str]:
        return [item["id"].strip() for item in answer["data"]["items"]]  # a typical slice parser

    with HostileServer() as api:
        hook = _hook(monkeypatch, api)
        api.route("/v1/list", raw_body(body))
        api.route("/v1/good", json_body({"data": {"items": [{"id": " a "}]}}))
        if use_async:
            good = asyncio.run(hook.arequest_json("GET", "good", parse=parse))
        else:
            good = hook.request_json("GET", "good", parse=parse)
        assert good == ["a"]
        with pytest.raises(InvalidResponseError, match=r"^GET /v1/list: unexpected answer"):
            if use_async:
                asyncio.run(hook.arequest_json("GET", "list", parse=parse))
            else:
                hook.request_json("GET", "list", parse=parse)
