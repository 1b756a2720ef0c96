"""FlowMusic against hostile local servers: credentials never follow a redirect to another origin (sync and
async), a token echoed in any encoding never reaches an exception, every wrong answer shape is an
``InvalidResponseError`` naming the call, unknown or hostile job states never count as success."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_music.contract.flowmusic import job_state
from airflow_provider_music.core.errors import InvalidResponseError, MusicApiError
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from tests.support.hooks import make_hook
from tests.support.hostile import (
    Origins,
    echo_credentials,
    json_body,
    raw_body,
    redirect_to,
    token_encodings,
    wrong_shapes,
)

TOKEN = "user:1234-Hostile/Token+With=Chars_0123456789abcdef"
JOBID = "job:1-user:1-jane@example.com-bot:flowmusic"
JOB_PATH = "/jobs/job%3A1-user%3A1-jane%40example.com-bot%3Aflowmusic"
JOB = {"jobid": JOBID, "status": "completed", "clips": [{"clip": "c1", "title": "t"}]}


def _hook(monkeypatch, url: str) -> FlowMusicHook:
    hook = make_hook(monkeypatch, FlowMusicHook, url + "/", TOKEN, {})
    assert isinstance(hook, FlowMusicHook)
    return hook


def _status(hook: FlowMusicHook, *, use_async: bool):
    if not use_async:
        return hook.job_status(JOBID)

    async def go():
        async with hook.async_session():
            return await hook.ajob_status(JOBID)

    return asyncio.run(go())


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_token_never_follows_a_redirect_to_another_origin(monkeypatch, status, use_async):
    with Origins() as o:
        o.a.route("/jobs/*", redirect_to(o.b.url + "/landing", status))  # aiohttp sends ':' and '@' unescaped
        o.b.route("/landing", json_body(JOB))
        assert _status(_hook(monkeypatch, o.a.url), use_async=use_async).state == "success"
        assert o.a.requests[0].headers.get("authorization") == f"Bearer {TOKEN}"
        assert o.b.requests and all(not r.credentials() for r in o.b.requests)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("encoding", sorted(token_encodings(TOKEN)))
@pytest.mark.parametrize("status", [400, 401, 402, 422, 596])
def test_echoed_token_never_reaches_the_exception(monkeypatch, encoding, status, use_async):
    with Origins() as o:
        o.a.route("/jobs/*", echo_credentials(status, encoding))
        with pytest.raises(MusicApiError) as err:
            _status(_hook(monkeypatch, o.a.url), use_async=use_async)
    text = f"{err.value} {err.value.api_message} {err.value.details!r} {err.value.__cause__!r} {err.value.__context__!r}"
    for form in token_encodings(TOKEN).values():
        if len(form) >= 12:
            assert form not in text


CALLS = {
    "job_status": lambda h: h.job_status(JOBID),
    "running_jobs": lambda h: h.running_jobs(),
    "list_accounts": lambda h: h.list_accounts(),
    "get_account": lambda h: h.get_account("jane@example.com"),
    "generate": lambda h: h.generate("x"),
    "edit": lambda h: h.edit("cover", "c1"),
    "split_stems": lambda h: h.split_stems("c1"),
    "write_lyrics": lambda h: h.write_lyrics("x"),
    "list_music": lambda h: h.list_music(),
    "generate_image": lambda h: h.generate_image("x"),
    "charges_since": lambda h: h.charges_since(0.0, "jane@example.com"),
    "clip_urls": lambda h: h.clip_urls(JOBID),
}  # fmt: skip


@pytest.mark.parametrize(("name", "body"), list(wrong_shapes()))
@pytest.mark.parametrize("call", list(CALLS))
def test_wrong_answer_shapes_are_invalid_responses(monkeypatch, call, name, body):
    with Origins() as o:
        o.a.route("/*", raw_body(body))
        with pytest.raises(MusicApiError) as err:
            CALLS[call](_hook(monkeypatch, o.a.url))
    assert isinstance(err.value, InvalidResponseError)
    assert "FlowMusic" in str(err.value) or "/" in str(err.value)


@pytest.mark.parametrize("status", [None, 0, 1.5, {"x": 1}, ["completed"], "", "x" * 10_000, "COMPLETED?", "done"])
def test_unknown_states_never_count_as_success(status):
    assert job_state(status) != "success"


@pytest.mark.parametrize("clips", [None, []])
def test_completed_job_without_clips_fails(monkeypatch, clips):
    with Origins() as o:
        o.a.route(JOB_PATH, json_body({"jobid": JOBID, "status": "completed", "clips": clips}))
        result = _hook(monkeypatch, o.a.url).job_status(JOBID)
    assert result.state == "failed" and "without clips" in result.message
    json.dumps(result.payload)


@pytest.mark.parametrize(("clips", "field"), [
    ("x", "clips"), (3, "clips"), ({"clip": "c"}, "clips"), ([1, "a", None], "clips[0]"),
    ([{"title": "no id"}], "clips[0].clip"), ([{"clip": {"id": "c"}}], "clips[0].clip"),
    ([{"clip": "c1"}, {"clip": ["c2"]}], "clips[1].clip"), ([{"clip": "../x"}], "clips[0].clip"),
    ([{"clip": "c1", "wav_url": {"u": 1}}], "clips[0].wav_url"), ([{"clip": "c1", "audio_url": "ftp://x"}], "clips[0].audio_url"),
])  # fmt: skip
def test_completed_job_with_unusable_clip_ids_or_urls_names_the_field(monkeypatch, clips, field):
    """Ids and download URLs decide: an unusable one is an InvalidResponseError naming the field."""
    with Origins() as o:
        o.a.route(JOB_PATH, json_body({"jobid": JOBID, "status": "completed", "clips": clips}))
        with pytest.raises(InvalidResponseError) as err:
            _hook(monkeypatch, o.a.url).job_status(JOBID)
    assert f"unusable {field} (" in str(err.value)
