"""FlowMusicHook against the contract digest's example bodies (requests-mock): every endpoint, every error."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.core import (
    AuthenticationError,
    InvalidInputError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from airflow_provider_music.hooks.flowmusic import (
    FlowMusicAccountError,
    FlowMusicCreditsError,
    FlowMusicHook,
    FlowMusicModerationError,
    FlowMusicNotReadyError,
)
from airflow_provider_music.testing.audio import sine_wav
from tests.conftest import SECRET_TOKEN

BASE = "https://api.useapi.net/v1/flowmusic/"
EMAIL = "jane@example.com"
JOBID = f"job:56ef7890-1111-2222-3333-444455556666-user:1234-{EMAIL}-bot:flowmusic"
ENC_JOBID = "job%3A56ef7890-1111-2222-3333-444455556666-user%3A1234-jane%40example.com-bot%3Aflowmusic"
CLIP = f"user:1234-{EMAIL}-clip:12ab34cd-0000-1111-2222-333344445555"
ACCOUNT = {
    "email": EMAIL, "tier": "plus", "subscription_plan": "plus-monthly", "provider": "g1_entitlement",
    "user_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "maxJobs": 12, "added": "2026-06-01T12:00:00.000Z",
    "refreshed_at": "2026-06-01T12:00:00.000Z", "refreshed_count": 0, "access_token": "eyJ…redacted…zmQ",
    "access_token_expires_at": "2026-06-01T13:00:00.000Z", "refresh_token": "l6e…redacted…z4v",
    "session_id": "f0e1d2c3-b4a5-4768-9a0b-1c2d3e4f5a6b",
}  # fmt: skip
PENDING = {"jobid": JOBID, "email": EMAIL, "request": {"prompt": "...", "mode": "async", "replyRef": "ref-1"},
           "created_at": "2026-05-31T19:57:23.954Z", "status": "pending"}
COMPLETED = {
    "jobid": JOBID, "email": EMAIL, "request": {"prompt": "...", "mode": "async"},
    "created_at": "2026-05-31T19:57:23.954Z", "completed_at": "2026-05-31T19:59:43.118Z", "duration_ms": 139164,
    "status": "completed",
    "clips": [{"clip": CLIP, "title": "Morning Sun", "duration_s": 173.03, "lyrics": "[Verse]\nla",
               "lyrics_timing": [[0, 1]], "seed": 7, "created_at": "2026-05-31T19:59:43.118Z",
               "audio_url": "https://storage.googleapis.com/producer-app-public/clips/x.m4a?X-Goog-Signature=abc",
               "wav_url": "https://storage.googleapis.com/producer-app-public/clips/x.wav", "image_url": None}],
}  # fmt: skip
ERROR_596 = {"error": f"Account {EMAIL} in error state: refresh token rejected", "code": 596}


@pytest.fixture
def hook(set_connection):
    set_connection("flowmusic_default", "flowmusic", host=BASE)
    return FlowMusicHook()


def test_defaults_auth_and_conn_name(hook, requests_mock):
    requests_mock.get(BASE + "jobs", json={})
    requests_mock.get(BASE + "accounts", json={EMAIL: ACCOUNT})
    assert FlowMusicHook.conn_name_attr == "flowmusic_conn_id" and hook.conn_id == "flowmusic_default"
    ok, message = hook.test_connection()
    assert ok and "api.useapi.net/v1/flowmusic" in message
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"
    assert FlowMusicHook(flowmusic_conn_id="other").conn_id == "other"
    # the pre-flight refuses an account in error state (every call on it would answer 596)
    requests_mock.get(BASE + "accounts", json={EMAIL: {**ACCOUNT, "error": "refresh token rejected"}})
    ok, message = hook.test_connection()
    assert not ok and "error state" in message and "refresh token rejected" in message


def test_default_base_url_without_host(set_connection, requests_mock):
    set_connection("flowmusic_bare", "flowmusic")
    requests_mock.get(BASE + "jobs", json={})
    assert FlowMusicHook("flowmusic_bare").list_jobs() == {}


# ---- accounts -------------------------------------------------------------------------------------
def test_accounts_and_secret_fields_dropped(hook, requests_mock):
    requests_mock.get(BASE + "accounts", json={EMAIL: ACCOUNT})
    requests_mock.get(BASE + "accounts/jane%40example.com",
                      json={**ACCOUNT, "credits_remaining": 5000, "tokens_remaining": 60000})
    listed = hook.list_accounts()
    assert set(listed) == {EMAIL} and "refresh_token" not in listed[EMAIL] and "access_token" not in listed[EMAIL]
    one = hook.get_account(EMAIL)
    assert one["credits_remaining"] == 5000 and "session_id" not in one
    assert requests_mock.last_request.path == "/v1/flowmusic/accounts/jane%40example.com"


def test_add_update_delete_account(hook, requests_mock):
    post = requests_mock.post(BASE + "accounts", [{"status_code": 201, "json": ACCOUNT}, {"json": ACCOUNT}])
    requests_mock.delete(BASE + "accounts/jane%40example.com", status_code=204)
    assert hook.add_account("bdykxtrr5eafXYZ123", max_jobs="12")["email"] == EMAIL
    assert post.last_request.json() == {"refresh_token": "bdykxtrr5eafXYZ123", "maxJobs": 12}
    hook.update_account(EMAIL, 4)
    assert post.last_request.json() == {"email": EMAIL, "maxJobs": 4}
    hook.delete_account(EMAIL)
    with pytest.raises(InvalidInputError, match="max_jobs"):
        hook.add_account("bdykxtrr5eafXYZ123", max_jobs=17)
    with pytest.raises(InvalidInputError, match="email"):
        hook.update_account("not-an-email", 4)


def test_usage(hook, requests_mock):
    body = {"email": EMAIL, "events": [{"type": "producer-usage", "amount": 60}], "summary": {"total_charged_credits": 105}}
    requests_mock.get(BASE + "accounts/usage", json=body)
    assert hook.get_usage(EMAIL)["summary"]["total_charged_credits"] == 105
    assert requests_mock.last_request.qs == {"email": [EMAIL]}
    with pytest.raises(InvalidInputError, match="email"):
        hook.get_usage(None)  # type: ignore[arg-type]


# ---- music ----------------------------------------------------------------------------------------
def test_generate_async_body_and_answer(hook, requests_mock):
    post = requests_mock.post(BASE + "music", status_code=201, json=PENDING)
    job = hook.generate("lo-fi hip hop, mellow piano, 80 bpm", instrumental="false", ghostwriter="pro",
                        model="lyria-3.5", ref_images=["user:1:img"], ref_audios=[{"id": "user:1:aud"}],
                        email=EMAIL, reply_url="https://example.com/hook", reply_ref="ref-1")
    assert job["jobid"] == JOBID and job["status"] == "pending" and job["clips"] == []
    assert post.last_request.json() == {
        "prompt": "lo-fi hip hop, mellow piano, 80 bpm", "instrumental": False, "ghostwriter": "pro",
        "refImage1": "user:1:img", "refAudio1": "user:1:aud", "email": EMAIL, "mode": "async",
        "model": "lyria-3.5", "replyUrl": "https://example.com/hook", "replyRef": "ref-1",
    }  # fmt: skip


def test_generate_sync_answer_and_email_extra(set_connection, requests_mock):
    set_connection("flowmusic_default", "flowmusic", host=BASE, extra={"email": EMAIL, "sync_timeout": 200})
    post = requests_mock.post(BASE + "music", json=COMPLETED)
    job = FlowMusicHook().generate("song", mode="sync")
    assert post.last_request.json()["email"] == EMAIL and post.last_request.timeout[1] == 200
    assert job["status"] == "completed" and job["clip_ids"] == [CLIP]
    assert job["clips"][0]["audio_url"] == "https://storage.googleapis.com/producer-app-public/clips/x.m4a"
    assert "lyrics" not in job["clips"][0] and "request" not in job


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": ""}, "prompt"), ({"prompt": "x" * 10_001}, "prompt"), ({"ghostwriter": "ultra"}, "ghostwriter"),
        ({"instrumental": "maybe"}, "instrumental"), ({"mode": "later"}, "mode"),
        ({"ref_images": [f"user:{n}" for n in range(11)]}, "ref_images"), ({"ref_audios": ["a/../b"]}, r"ref_audios\[0\]"),
        ({"reply_url": "ftp://x"}, "reply_url"), ({"email": "nobody"}, "email"),
        ({"lyrics": "[Verse] hi", "instrumental": True}, "instrumental"),
    ],
)  # fmt: skip
def test_generate_bad_inputs_fail_before_any_request(hook, requests_mock, kwargs, match):
    args = {"prompt": "a song", **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        hook.generate(args.pop("prompt"), **args)
    assert requests_mock.call_count == 0


def test_edit_operations(hook, requests_mock):
    post = requests_mock.post(BASE + "music/edit", status_code=201, json={**PENDING, "operation": "cover"})
    hook.edit("cover", CLIP, params={"instruction": "jazz", "strength": "0.4"}, seed="3", title="Jazzy")
    assert post.last_request.json() == {"operation": "cover", "clip": CLIP, "instruction": "jazz", "strength": 0.4,
                                        "seed": 3, "title": "Jazzy", "mode": "async"}
    hook.edit("effect", CLIP, params={"effect": "Reverb", "mix": 0.4, "room_size": 0.7})
    hook.edit("extend", CLIP, params={"instruction": "outro", "extend_s": 30})
    hook.edit("replace", CLIP, params={"instruction": "x", "mask_start_s": 1, "mask_end_s": 5})
    hook.edit("remix", CLIP, params={"lyrics": "[Verse]\nnew"}, model="lyria-3-pro")
    assert post.call_count == 5


@pytest.mark.parametrize(
    ("operation", "params", "match"),
    [
        ("dance", {}, "operation"), ("extend", {}, "instruction"), ("cover", {"strength": 1.5}, "strength"),
        ("replace", {"instruction": "x", "mask_start_s": 5, "mask_end_s": 2}, "mask_end_s"),
        ("effect", {"effect": "Gain"}, "gain_db"), ("effect", {"effect": "Gain", "gain_db": float("nan")}, "gain_db"),
        ("effect", {"effect": "Fade", "fade_in_s": 0}, "Fade"), ("remix", {"lyrics": "x", "strength": 1}, "strength"),
        ("effect", {"effect": "Echo"}, "effect"), ("stems", {}, "split_stems"),
    ],
)  # fmt: skip
def test_edit_bad_inputs(hook, requests_mock, operation, params, match):
    with pytest.raises(InvalidInputError, match=match):
        hook.edit(operation, CLIP, params=params)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    "answer",
    [
        {"clips": [{"clip": f"c{n}", "title": f"Song - {name}"} for n, name in enumerate(("drums", "bass", "vocals", "other"))]},
        [{"clip": f"c{n}"} for n in range(4)],
        {"stems": {"drums": {"clip": "c0"}, "bass": {"clip": "c1"}, "vocals": {"clip": "c2"}, "other": {"clip": "c3"}}},
    ],
)  # fmt: skip
def test_split_stems_accepts_every_documented_shape(hook, requests_mock, answer):
    post = requests_mock.post(BASE + "music/edit", json=answer)
    stems = hook.split_stems(CLIP)
    assert [s["stem"] for s in stems] == ["drums", "bass", "vocals", "other"]
    assert post.last_request.json() == {"operation": "stems", "clip": CLIP}


def test_lyrics_list_and_downloads(hook, requests_mock, tmp_path):
    requests_mock.post(BASE + "music/lyrics", json={
        "email": EMAIL, "title": "Road Home", "lyrics": "[Verse 1]\nHighway", "sound_prompt": "Indie folk",
        "source": "lyrics-create", "audio_create_song_fired": False, "credits_burned": 0})
    assert hook.write_lyrics("a road trip", structure="Verse / Chorus")["title"] == "Road Home"
    requests_mock.get(BASE + "music", json={"email": EMAIL, "clips": [{"clip": CLIP, "title": None}], "limit": 20,
                                            "offset": 0, "next": None})
    assert hook.list_music(limit="5")["next"] is None and requests_mock.last_request.qs["limit"] == ["5"]
    requests_mock.get(BASE + "music/download", content=b"ID3" + b"\0" * 100, headers={"Content-Length": "103"})
    path = hook.download_mp3(JOBID, tmp_path / "a.mp3")
    assert path.read_bytes().startswith(b"ID3") and requests_mock.last_request.qs["format"] == ["mp3"]
    requests_mock.get("https://storage.googleapis.com/producer-app-public/clips/x.wav", content=b"RIFF1234")
    hook.download_url("https://storage.googleapis.com/producer-app-public/clips/x.wav", tmp_path / "a.wav")
    assert "Authorization" not in requests_mock.last_request.headers  # public CDN: no token cross-origin


# ---- files ----------------------------------------------------------------------------------------
def test_upload_file_raw_body(hook, requests_mock, tmp_path):
    wav = tmp_path / "ref.wav"
    wav.write_bytes(sine_wav(0.2))
    post = requests_mock.post(BASE + "files", json={"id": "user:1:34cd", "url": "https://storage.googleapis.com/a?sig=1",
                                                     "kind": "audio", "assetType": "audio", "email": EMAIL})
    asset = hook.upload_file(wav, email=EMAIL, strip_metadata=False)
    assert asset["id"] == "user:1:34cd" and asset["url"] == "https://storage.googleapis.com/a"
    assert post.last_request.headers["Content-Type"] == "audio/wav"
    assert post.last_request.qs == {"email": [EMAIL.lower()], "stripmetadata": ["false"]}


@pytest.mark.parametrize(
    ("name", "data", "kwargs", "match"),
    [
        ("a.gif", b"GIF89a", {}, "cannot tell the type"), ("a.png", b"not a png", {}, "a.png.*image"),
        ("a.wav", b"hello world", {}, "known audio or image format"), ("a.mp3", b"", {}, "empty"),
        ("a.bin", b"x", {"content_type": "application/octet-stream"}, "content_type"),
    ],
)  # fmt: skip
def test_upload_rejects_before_sending(hook, requests_mock, tmp_path, name, data, kwargs, match):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InvalidInputError, match=match):
        hook.upload_file(path, **kwargs)
    assert requests_mock.call_count == 0


def test_upload_size_cap_before_sending(hook, requests_mock, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(20 * 1024 * 1024 + 1)
    with pytest.raises(InvalidInputError, match="up to 20 MB"):
        hook.upload_file(big)
    assert requests_mock.call_count == 0


def test_generate_image(hook, requests_mock):
    requests_mock.post(BASE + "files/generate", json={"id": "user:1:img", "url": "https://s/x.jpg", "kind": "image",
                                                      "width": 1024, "height": 1024})
    assert hook.generate_image("neon skyline")["width"] == 1024


# ---- jobs -----------------------------------------------------------------------------------------
def test_jobs_list_get_cancel_with_encoded_ids(hook, requests_mock):
    listing = {EMAIL: {"running": 1, "maxJobs": 12, "jobs": [{"jobid": JOBID, "status": "pending",
                                                               "created_at": "2026-05-31T19:57:23.954Z"}]}}
    requests_mock.get(BASE + "jobs", json=listing)
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=COMPLETED)
    requests_mock.delete(BASE + f"jobs/{ENC_JOBID}", status_code=204)
    assert hook.running_jobs() == [{"jobid": JOBID, "email": EMAIL, "status": "pending",
                                    "created_at": "2026-05-31T19:57:23.954Z", "operation": None}]
    result = hook.job_status(JOBID)
    assert result.state == "success" and "Morning Sun" in result.message
    assert requests_mock.request_history[-1].path == f"/v1/flowmusic/jobs/{ENC_JOBID}".lower()
    hook.cancel_job(JOBID)
    assert requests_mock.last_request.method == "DELETE"


@pytest.mark.parametrize(
    ("record", "state", "text"),
    [
        (PENDING, "running", "pending"),
        ({**PENDING, "status": "failed", "error": {"code": "user_cancelled", "message": "cancelled"}}, "failed", "user_cancelled"),
        ({**PENDING, "status": "failed", "error": {"code": "moderated", "message": "nope"}}, "failed", "moderated"),
        ({**PENDING, "status": "completed"}, "failed", "without clips"),
        ({**PENDING, "status": "warming_up"}, "running", "unknown state 'warming_up'"),
        ({**PENDING, "status": "cancelled"}, "failed", "cancelled"),
    ],
)  # fmt: skip
def test_job_status_interpretation(hook, requests_mock, record, state, text):
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=record)
    result = hook.job_status(JOBID)
    assert result.state == state and text in result.message


def test_find_job_by_reply_ref_and_request_echo(hook, requests_mock):
    other = {**PENDING, "jobid": JOBID + "x", "request": {"prompt": "other", "replyRef": "ref-2"}}
    requests_mock.get(BASE + "jobs", json={EMAIL: {"running": 2, "maxJobs": 12, "jobs": [
        {"jobid": JOBID + "x", "status": "pending", "created_at": "2026-05-31T19:57:23.954Z"},
        {"jobid": JOBID, "status": "pending", "created_at": "2026-05-31T19:57:23.954Z"}]}})
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}x", json=other)
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=PENDING)
    assert hook.find_job("ref-1", {"prompt": "..."}) == JOBID
    assert hook.find_job("ref-9", {"prompt": "zzz"}) is None
    assert hook.find_job("ref-1", {"prompt": "..."}, created_after=2e9) is None  # outside the time window


# ---- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "cls", "advice"),
    [
        (402, {"error": "insufficient credits", "code": 402}, FlowMusicCreditsError, "top up"),
        (422, {"error": "moderated", "code": 422}, FlowMusicModerationError, "change the prompt"),
        (596, ERROR_596, FlowMusicAccountError, "refresh token"),
        (401, {"error": "Unauthorized", "code": 401}, AuthenticationError, "token"),
        (400, {"error": "Parameter prompt is required", "code": 400}, InvalidInputError.__mro__[1], "prompt"),
    ],
)  # fmt: skip
def test_non_retryable_errors_say_what_to_do(hook, requests_mock, status, body, cls, advice):
    post = requests_mock.post(BASE + "music", status_code=status, json=body)
    with pytest.raises(cls, match=advice) as info:
        hook.generate("a song")
    assert post.call_count == 1 and isinstance(info.value, AirflowFailException)
    assert SECRET_TOKEN not in str(info.value)


def test_429_retried_with_vendor_backoff(hook, requests_mock, instant_retries):
    post = requests_mock.post(BASE + "music", [{"status_code": 429, "json": {"error": "All accounts busy", "code": 429}},
                                               {"status_code": 201, "json": PENDING}])
    assert hook.generate("a song")["jobid"] == JOBID
    assert post.call_count == 2 and instant_retries and instant_retries[0] >= 10.0


def test_429_honours_retry_after(hook, requests_mock, instant_retries):
    requests_mock.post(BASE + "music", [{"status_code": 429, "headers": {"Retry-After": "3"}, "json": {}},
                                        {"status_code": 201, "json": PENDING}])
    hook.generate("a song")
    assert 3.0 <= instant_retries[0] < 4.5


def test_429_on_a_read_uses_the_policy_backoff(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "jobs", [{"status_code": 429, "json": {}}, {"json": {}}])
    assert hook.list_jobs() == {}
    assert instant_retries and instant_retries[0] < 10.0  # no published read quota: no 10 s minimum


def test_429_gives_up_after_policy(hook, requests_mock):
    requests_mock.post(BASE + "music", status_code=429, json={"error": "busy", "code": 429})
    with pytest.raises(RateLimitError):
        hook.generate("a song")


def test_lost_create_answer_is_not_reposted(hook, requests_mock):
    post = requests_mock.post(BASE + "music", status_code=502, text="<html>bad gateway</html>")
    with pytest.raises(ServerError) as info:
        hook.generate("a song")
    assert post.call_count == 1 and info.value.request_may_have_been_processed


def test_specific_422_and_409_and_500_advice(hook, requests_mock, tmp_path):
    requests_mock.post(BASE + "music/lyrics", status_code=422, json={
        "email": EMAIL, "error": {"code": "no_lyrics", "message": "none"}, "agent_text": "sorry"})
    with pytest.raises(FlowMusicModerationError, match="no lyrics"):
        hook.write_lyrics("x")
    requests_mock.get(BASE + "music/download", status_code=409, json={"error": "not completed", "code": 409})
    with pytest.raises(FlowMusicNotReadyError, match="not completed"):
        hook.download_mp3(JOBID, tmp_path / "x.mp3")
    assert not (tmp_path / "x.mp3").exists()
    requests_mock.post(BASE + "files/generate", status_code=500,
                       json={"error": 'FlowMusic image generation failed (500): "Internal Server Error"', "code": 500})
    with pytest.raises(FlowMusicModerationError, match="declined"):
        hook.generate_image("x")


def test_get_job_404_and_gets_retry_5xx(hook, requests_mock):
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", [{"status_code": 503, "json": {}}, {"status_code": 404,
                      "json": {"error": "Job not found (expired or never existed)", "code": 404}}])
    with pytest.raises(NotFoundError, match="expired"):
        hook.get_job(JOBID)


@pytest.mark.parametrize("bad", ["", "../etc", "job:a/b", "job?x=1", "job#1", "a%2Fb", None, 5.5, "x" * 600])
def test_bad_ids_rejected_before_any_request(hook, requests_mock, bad):
    with pytest.raises(InvalidInputError):
        hook.get_job(bad)
    with pytest.raises(InvalidInputError):
        hook.cancel_job(bad)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("answer", ["[1, 2]", '"text"', "{}", "<html>oops</html>", '{"jobid": null}'])
def test_hostile_job_answers(hook, requests_mock, answer):
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", text=answer)
    with pytest.raises(InvalidResponseError):
        hook.job_status(JOBID)


def test_nan_is_an_invalid_answer_and_huge_texts_are_cut(hook, requests_mock):
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", text=json.dumps({**COMPLETED, "duration_ms": float("nan")}))
    with pytest.raises(InvalidResponseError):
        hook.job_status(JOBID)
    body = json.loads(json.dumps(COMPLETED))
    body["clips"][0]["title"] = "t" * 5000
    body["clips"][0]["duration_s"] = "long"
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", text=json.dumps(body))
    payload = hook.job_status(JOBID).payload
    assert len(payload["clips"][0]["title"]) <= 1001
    json.dumps(payload, allow_nan=False)


def test_token_never_in_logs_or_errors(hook, requests_mock, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(BASE + "music", status_code=400, json={"error": f"bad token {SECRET_TOKEN}", "code": 400})
    with pytest.raises(Exception) as info:
        hook.generate("a song")
    chain = [info.value, info.value.__cause__, info.value.__context__]
    assert all(SECRET_TOKEN not in str(e) for e in chain if e is not None)
    assert SECRET_TOKEN not in caplog.text
