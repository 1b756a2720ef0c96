"""RiffusionHook unit tests with requests-mock: every method, both doc revisions, every error code."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.contract.riffusion import (
    copyright_problem,
    decode_song,
    default_reply_ref,
    normalize_job_ids,
    parse_create_response,
    parse_song_status,
    parse_upload_status,
)
from airflow_provider_music.contract.riffusion_files import parse_stems, song_file_name
from airflow_provider_music.core import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from airflow_provider_music.hooks.riffusion import (
    RiffusionAccountPendingError,
    RiffusionHook,
    RiffusionLostAnswerError,
    RiffusionModerationError,
)
from tests.conftest import SECRET_TOKEN

BASE = "https://api.useapi.net/v1/riffusion/"
PENDING = {"error": "Your Riffusion account has pending error. Please address this issue at https://useapi.net/docs/api-riffusion-v1/post-riffusion-accounts before making any new API calls."}
SONG = {
    "id": "s1", "title": "Vivid Daydream", "status": "completed", "duration_s": 234.57,
    "download_url": "https://api.riffusion.com/x.m4a", "share_url": "https://www.riffusion.com/riff/s1",
    "lyrics_timestamped": '{"a": 1}', "conditions": '[{"p": 1}]', "simple_waveform": "[0.1, 0.2]",
}


@pytest.fixture
def hook(set_connection):
    set_connection("riffusion_default", "riffusion", host=BASE, extra={"user_id": "acct-1"})
    return RiffusionHook()


@pytest.fixture
def bare_hook(set_connection):
    set_connection("riffusion_bare", "riffusion")
    return RiffusionHook("riffusion_bare")


def test_defaults_and_auth_header(bare_hook, requests_mock):
    requests_mock.get(BASE + "scheduler/available", json={"executing": [], "available": []})
    assert bare_hook.default_conn_name == "riffusion_default" and bare_hook.conn_type == "riffusion"
    ok, message = bare_hook.test_connection()
    assert ok and "api.useapi.net/v1/riffusion" in message, message
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"


def test_test_connection_failure_hides_token(hook, requests_mock):
    requests_mock.get(BASE + "scheduler/available", status_code=401, json={"error": "Unauthorized", "code": 401})
    ok, message = hook.test_connection()
    assert not ok and "401" in message and SECRET_TOKEN not in message


def test_ui_behaviour():
    behaviour = RiffusionHook.get_ui_field_behaviour()
    assert "login" in behaviour["hidden_fields"] and behaviour["relabeling"]["password"]


# ---- accounts ---------------------------------------------------------------------------------
def test_accounts_methods(hook, requests_mock):
    requests_mock.get(BASE + "accounts", json={"u1": {"user_id": "u1", "maxJobs": 6}})
    requests_mock.get(BASE + "accounts/u1", json={"user_id": "u1", "maxJobs": 6})
    requests_mock.post(BASE + "accounts", status_code=201, json={"user_id": "u1", "maxJobs": 3})
    requests_mock.delete(BASE + "accounts/u1", status_code=204)
    assert hook.list_accounts()["u1"]["maxJobs"] == 6
    assert hook.get_account("u1")["user_id"] == "u1"
    assert hook.create_account("cookie-value", max_jobs=3)["maxJobs"] == 3
    assert requests_mock.request_history[2].json() == {"cookie": "cookie-value", "maxJobs": 3}
    hook.delete_account("u1")
    assert requests_mock.last_request.method == "DELETE"


@pytest.mark.parametrize("max_jobs", [0, 11, 2.5, "x", True])
def test_create_account_validates_max_jobs(hook, requests_mock, max_jobs):
    with pytest.raises(InvalidInputError, match="maxJobs"):
        hook.create_account("cookie", max_jobs=max_jobs)
    assert not requests_mock.called


def test_account_not_found(hook, requests_mock):
    requests_mock.get(BASE + "accounts/nope", status_code=404,
                      json={"error": "Configuration not found. To create configuration use POST accounts.", "code": 404})
    with pytest.raises(NotFoundError, match="Configuration not found"):
        hook.get_account("nope")


# ---- music --------------------------------------------------------------------------------------
def test_list_and_get_music(hook, requests_mock):
    requests_mock.get(BASE + "music/", json=[SONG])
    songs = hook.list_music(offset=5, limit=3)
    assert songs[0]["title"] == "Vivid Daydream"
    assert requests_mock.last_request.qs == {"user_id": ["acct-1"], "offset": ["5"], "limit": ["3"]}
    got = hook.get_music("s1", user_id="other", decode_json_fields=True)
    assert requests_mock.last_request.qs == {"user_id": ["other"], "id": ["s1"]}
    assert got[0]["lyrics_timestamped"] == {"a": 1} and got[0]["simple_waveform"] == [0.1, 0.2]
    assert hook.get_music("s1")[0]["conditions"] == '[{"p": 1}]'  # raw unless asked


def test_get_music_unknown_id_is_empty(hook, requests_mock):
    requests_mock.get(BASE + "music/", json=[])
    assert hook.get_music("nope") == []


@pytest.mark.parametrize("kwargs", [{"offset": -1}, {"limit": 0}, {"limit": "many"}])
def test_list_music_validation(hook, requests_mock, kwargs):
    with pytest.raises(InvalidInputError):
        hook.list_music(**kwargs)
    assert not requests_mock.called


def test_delete_music(hook, requests_mock):
    requests_mock.delete(BASE + "music/", text="")
    hook.delete_music("s1")
    assert requests_mock.last_request.qs == {"user_id": ["acct-1"], "id": ["s1"]}


@pytest.mark.parametrize("bad", ["", "../x", "a/b", None])
def test_ids_validated(hook, requests_mock, bad):
    with pytest.raises(InvalidInputError):
        hook.get_music(bad)
    assert not requests_mock.called


# ---- create ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer, expected",
    [
        ({"jobs": [{"id": "a"}, {"id": "b"}]}, ["a", "b"]),  # later revision / real client
        ({"job_id": "j1", "user_id": "u1"}, ["j1"]),  # Feb 17 revision
    ],
)
def test_create_prompt_both_revisions(hook, requests_mock, answer, expected):
    requests_mock.post(BASE + "music/create-prompt", json=answer)
    ids = hook.create_prompt("jazzy k-pop", instrumental=True, model="FUZZ-0.8", reply_ref="ref",
                             reply_url="https://example.com/cb", max_jobs=3)
    assert ids == expected
    assert requests_mock.last_request.json() == {
        "prompt": "jazzy k-pop", "instrumental": True, "model": "FUZZ-0.8", "user_id": "acct-1",
        "replyUrl": "https://example.com/cb", "replyRef": "ref", "maxJobs": 3,
    }


def test_create_compose_body(hook, requests_mock):
    requests_mock.post(BASE + "music/create-compose", json={"jobs": [{"id": "a"}, {"id": "b"}]})
    ids = hook.create_compose(
        [{"prompt": "dnb", "strength": 70, "start": 0, "end": 30}, "new wave",
         {"prompt": "rnb", "strength": 100, "start": 60, "end": 100}],
        lyrics="words", title="T", lyrics_strength=40, lyrics_weirdness=0, audio_upload_id="up1", image_id="img1",
    )
    assert ids == ["a", "b"]
    body = requests_mock.last_request.json()
    assert body["prompt_1"] == "dnb" and body["prompt_1_strength"] == 70 and body["prompt_1_end"] == 30
    assert body["prompt_2"] == "new wave" and "prompt_2_strength" not in body
    assert body["prompt_3_start"] == 60 and body["audio_upload_id"] == "up1" and body["image_id"] == "img1"
    assert body["lyrics_strength"] == 40 and body["lyrics_weirdness"] == 0 and body["title"] == "T"


@pytest.mark.parametrize(
    "prompts, kwargs, match",
    [
        ([{"prompt": "x", "strength": 10}], {}, "prompt_1_strength"),
        ([{"prompt": "x", "strength": 101}], {}, "prompt_1_strength"),
        (["a", {"prompt": "b", "start": 120}], {}, "prompt_2_start"),
        ([{"prompt": "x", "start": 50, "end": 40}], {}, "prompt_1_start"),
        (["a", "b", "c", "d"], {}, "1 to 3"),
        ([], {}, "1 to 3"),
        ([{"prompt": ""}], {}, "prompt_1"),
        ([{"prompt": "x", "weight": 1}], {}, "unknown key"),
        (["x"], {"lyrics_strength": 101}, "lyrics_strength"),
        (["x"], {"lyrics_weirdness": -1}, "lyrics_weirdness"),
        (["x"], {"max_jobs": 11}, "maxJobs"),
        (["x"], {"max_jobs": 0}, "maxJobs"),
        (["x"], {"reply_url": "https://e.com/" + "a" * 1020}, "replyUrl"),
        (["x"], {"reply_url": "ftp://e.com"}, "replyUrl"),
        (["x"], {"reply_ref": "r" * 1025}, "replyRef"),
    ],
)
def test_create_compose_validation(hook, requests_mock, prompts, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        hook.create_compose(prompts, **kwargs)
    assert not requests_mock.called


def test_create_prompt_validation(hook, requests_mock):
    with pytest.raises(InvalidInputError, match="prompt"):
        hook.create_prompt("  ")
    with pytest.raises(InvalidInputError, match="instrumental"):
        hook.create_prompt("x", instrumental="yes")  # type: ignore[arg-type]
    assert not requests_mock.called


def test_create_without_id_is_invalid_response(hook, requests_mock):
    requests_mock.post(BASE + "music/create-prompt", json={"foo": 1})
    with pytest.raises(Exception, match="without a job id"):
        hook.create_prompt("x")
    assert requests_mock.call_count == 1  # never re-posted


# ---- errors -------------------------------------------------------------------------------------
def test_596_pending_error_not_retried(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "music/", status_code=596, json=PENDING)
    with pytest.raises(RiffusionAccountPendingError) as err:
        hook.get_music("s1")
    assert isinstance(err.value, AirflowFailException)
    assert "fresh cookie" in str(err.value) and "POST it once to the 'accounts' endpoint" in str(err.value)
    assert requests_mock.call_count == 1 and instant_retries == []


def test_moderation_error(hook, requests_mock):
    requests_mock.post(BASE + "music/create-prompt", status_code=422,
                       json={"is_flagged": True, "reason": "moderation", "musician_replacement_data": None})
    with pytest.raises(RiffusionModerationError, match="moderation") as err:
        hook.create_prompt("bad words")
    assert isinstance(err.value, AirflowFailException) and requests_mock.call_count == 1


def test_400_validation_error(hook, requests_mock):
    requests_mock.post(BASE + "music/create-prompt", status_code=400, json={"error": "prompt is too long", "code": 400})
    with pytest.raises(ValidationError, match="prompt is too long"):
        hook.create_prompt("x")


def test_401(hook, requests_mock):
    requests_mock.get(BASE + "scheduler", status_code=401, json={"error": "Unauthorized", "code": 401})
    with pytest.raises(AuthenticationError) as err:
        hook.get_scheduler()
    assert SECRET_TOKEN not in str(err.value)


def test_429_queue_full_is_retried_with_min_wait(hook, requests_mock, instant_retries):
    requests_mock.post(BASE + "music/create-prompt", [
        {"status_code": 429, "json": {"error": "Wait in a loop for at least 10..30 seconds and retry again.", "code": 429}},
        {"json": {"jobs": [{"id": "a"}, {"id": "b"}]}},
    ])
    assert hook.create_prompt("x") == ["a", "b"]
    assert requests_mock.call_count == 2 and len(instant_retries) == 1 and instant_retries[0] >= 10


def test_429_honours_retry_after(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "scheduler", [{"status_code": 429, "headers": {"Retry-After": "3"}, "json": {}}, {"json": []}])
    assert hook.get_scheduler() == []
    assert 3 <= instant_retries[0] < 4.5


def test_429_exhausted(hook, requests_mock):
    requests_mock.get(BASE + "scheduler", status_code=429, json={"error": "busy", "code": 429})
    with pytest.raises(RateLimitError):
        hook.get_scheduler()
    assert requests_mock.call_count == 5


def test_5xx_on_create_not_retried_blindly(hook, requests_mock):
    requests_mock.post(BASE + "music/create-prompt", status_code=500, json={"error": "boom"})
    with pytest.raises(ServerError) as err:
        hook.create_prompt("x")
    assert err.value.request_may_have_been_processed and requests_mock.call_count == 1


def test_token_never_logged(hook, requests_mock, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    requests_mock.get(BASE + "music/", status_code=596, json=PENDING)
    with pytest.raises(RiffusionAccountPendingError):
        hook.get_music("s1")
    out = capsys.readouterr()
    assert SECRET_TOKEN not in caplog.text + out.out + out.err


# ---- crash-safe creation ----------------------------------------------------------------------
def test_create_with_recovery_reuses_running_job(hook, requests_mock):
    requests_mock.get(BASE + "scheduler", json=[{"job_id": "a", "replyRef": "ref-1", "started": "2025-02-12T01:55:16.128Z"}])
    create = requests_mock.post(BASE + "music/create-prompt", json={"jobs": [{"id": "x"}]})
    assert hook.create_with_recovery("prompt", reply_ref="ref-1", prompt="p") == ["a"]
    assert not create.called


def test_create_with_recovery_after_ambiguous_failure(hook, requests_mock):
    import time

    sched = requests_mock.get(BASE + "scheduler", [
        {"json": []},
        {"json": [{"job_id": "a", "replyRef": "ref-1", "started": time.time() * 1000}, {"job_id": "z", "replyRef": "other"}]},
    ])
    requests_mock.get(BASE + "music/", json=[])
    create = requests_mock.post(BASE + "music/create-prompt", status_code=502, text="<html>bad gateway</html>")
    assert hook.create_with_recovery("prompt", reply_ref="ref-1", prompt="p", recovery_wait=0) == ["a"]
    assert create.call_count == 1 and sched.call_count == 2


def test_create_with_recovery_gives_up_without_reposting(hook, requests_mock):
    requests_mock.get(BASE + "scheduler", json=[])
    requests_mock.get(BASE + "music/", json=[])
    create = requests_mock.post(BASE + "music/create-prompt", status_code=500, json={"error": "boom"})
    with pytest.raises(RiffusionLostAnswerError, match="may have been created; ids unknown: check GET scheduler"):
        hook.create_with_recovery("prompt", reply_ref="ref-1", prompt="p", recovery_wait=0)
    assert create.call_count == 1


def test_scheduler_methods(hook, requests_mock):
    requests_mock.get(BASE + "scheduler", json=[{"job_id": "a", "started": 1739325316128, "replyRef": "r"}])
    requests_mock.get(BASE + "scheduler/available", json={"executing": [], "available": [{"user_id": "u", "maxJobs": 6}]})
    requests_mock.delete(BASE + "scheduler/a", status_code=204)
    assert hook.find_jobs_by_reply_ref("r") == ["a"]
    assert hook.find_jobs_by_reply_ref("r", started_after=2e9) == []
    assert hook.get_scheduler_available()["available"][0]["maxJobs"] == 6
    hook.delete_scheduler_job("a")
    requests_mock.delete(BASE + "scheduler/b", status_code=404, json={"error": "Unable to locate running job_id", "code": 404})
    with pytest.raises(NotFoundError):
        hook.delete_scheduler_job("b")


# ---- lyrics, images --------------------------------------------------------------------------
def test_generate_lyrics_and_images(hook, requests_mock, tmp_path):
    requests_mock.post(BASE + "music/generate-lyrics", json={"lyrics": "la la"})
    requests_mock.post(BASE + "music/generate-image", json={"image_id": "i1", "url": "https://x/i1.jpg"})
    requests_mock.post(BASE + "music/upload-image/", json={"image_id": "i2", "url": "https://x/i2.jpg", "Key": "k", "Id": "d"})
    assert hook.generate_lyrics("love", lyrics="old") == "la la"
    assert requests_mock.last_request.json() == {"prompt": "love", "lyrics": "old", "user_id": "acct-1"}
    assert hook.generate_image("bunny")["image_id"] == "i1"
    img = tmp_path / "cover.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n fake")
    assert hook.upload_image(img)["image_id"] == "i2"
    assert requests_mock.last_request.headers["Content-Type"] == "image/png"
    bad = tmp_path / "cover.bmp"
    bad.write_bytes(b"BM")
    with pytest.raises(InvalidInputError, match="png"):
        hook.upload_image(bad)
    with pytest.raises(InvalidInputError, match="prompt"):
        hook.generate_lyrics("")


# ---- uploads ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ext, ctype", [("mp3", "audio/mpeg"), ("m4a", "audio/mp4"), ("wav", "audio/wav"), ("WAV", "audio/wav")]
)
def test_upload_audio_content_type_and_name(hook, requests_mock, tmp_path, ext, ctype):
    requests_mock.post(BASE + "music/upload-audio/", json={"job_id": "j1"})
    src = tmp_path / f"my-track.{ext}"
    src.write_bytes(b"ID3abc")  # a .mp3 / .wav that is not audio is refused before the request
    upload = hook.upload_audio(src)
    assert upload["id"] == "j1" and upload["audio_upload_id"] == "j1"  # Feb 17 revision
    req = requests_mock.last_request
    assert req.headers["Content-Type"] == ctype and req.qs["file_name"] == ["my-track"]


def test_upload_audio_later_revision(hook, requests_mock, tmp_path):
    requests_mock.post(BASE + "music/upload-audio/", json={
        "is_flagged": True, "id": "A:T", "transcription_job_id": "T", "audio_upload_id": "A"})
    src = tmp_path / "x.mp3"
    src.write_bytes(b"ID3abc")
    upload = hook.upload_audio(src, file_name="nice name", user_id="u9")
    assert upload["id"] == "A:T" and upload["audio_upload_id"] == "A" and upload["is_flagged"] is True
    assert requests_mock.last_request.qs == {"file_name": ["nice name"], "user_id": ["u9"]}


def test_upload_audio_validation(hook, requests_mock, tmp_path):
    ogg = tmp_path / "x.ogg"
    ogg.write_bytes(b"abc")
    with pytest.raises(InvalidInputError, match="mp3, .m4a or .wav"):
        hook.upload_audio(ogg)
    with pytest.raises(InvalidInputError, match="content_type"):
        hook.upload_audio(ogg, content_type="audio/ogg")
    with pytest.raises(InvalidInputError, match="not found"):
        hook.upload_audio(tmp_path / "missing.mp3")
    empty = tmp_path / "e.mp3"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="empty"):
        hook.upload_audio(empty)
    assert not requests_mock.called


def test_upload_audio_warns_above_50mb(hook, requests_mock, tmp_path, caplog, capsys):
    requests_mock.post(BASE + "music/upload-audio/", json={"job_id": "j1"})
    big = tmp_path / "big.wav"
    with open(big, "wb") as fh:
        fh.write(b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x44\xac\x00\x00\x88\x58\x01\x00\x02\x00\x10\x00")
        fh.truncate(51 * 1024 * 1024)
    caplog.set_level(logging.WARNING)
    hook.upload_audio(big)
    assert "under 50 MB" in caplog.text + capsys.readouterr().out


def test_get_upload_audio_both_revisions(hook, requests_mock):
    requests_mock.get(BASE + "music/upload-audio/", [
        {"json": {"is_flagged": False, "transcribed_lyrics": "words", "status": "complete"}},
        {"json": {"status": "complete", "lyrics": "w2", "id": "A:T", "audio_upload_id": "A", "transcription_job_id": "T",
                  "is_flagged": True, "audible_magic_response": {"statusCode": 2000, "matches": [
                      {"amItemID": "x", "matchType": "Audio", "metadata": {"Title": "Hit", "Artist": "Star", "ISRC": "I"}}]}}},
    ])
    legacy = hook.get_upload_audio("j1")
    assert legacy["status"] == "complete" and legacy["lyrics"] == "words" and legacy["audio_upload_id"] == "j1"
    later = hook.get_upload_audio("A:T")
    assert later["matches"][0]["title"] == "Hit" and later["audible_magic_status"] == 2000
    assert copyright_problem(later) == "Audible Magic matched 1 copyrighted work(s): Hit by Star"


# ---- status parsing ---------------------------------------------------------------------------
def test_parse_upload_status():
    assert parse_upload_status({"id": "u", "status": "pending"}).state == "running"
    assert parse_upload_status({"id": "u", "status": "complete"}).state == "success"
    assert parse_upload_status({"id": "u", "status": "completed"}).state == "success"
    assert parse_upload_status({"id": "u", "status": "failed"}).state == "failed"
    assert parse_upload_status({"id": "u", "status": None}).state == "running"


def test_parse_song_status():
    running = parse_song_status(["a"], {"a": [{"id": "a", "status": "processing"}]})
    assert running.state == "running" and "0 of 1" in running.message
    missing = parse_song_status(["a", "b"], {"a": [{"id": "a", "status": "completed"}], "b": []})
    assert missing.state == "running" and "b" in missing.message
    done = parse_song_status(["j"], {"j": [{"id": "a", "status": "complete", "title": "T"}, {"id": "b", "status": "completed"}]})
    assert done.state == "success" and done.payload["song_ids"] == ["a", "b"]
    assert done.payload["songs"][0]["status"] == "completed"
    assert done.payload["songs"][1]["share_url"] == "https://www.riffusion.com/riff/b"
    failed = parse_song_status(["a"], {"a": [{"id": "a", "status": "failed", "title": "T", "error": "GPU on fire"}]})
    assert failed.state == "failed" and "GPU on fire" in failed.message
    json.dumps(done.payload)  # JSON-primitive


def test_song_status_method(hook, requests_mock):
    requests_mock.get(BASE + "music/", json=[SONG])
    result = hook.song_status(["s1"])
    assert result.state == "success" and result.payload["songs"][0]["duration_s"] == 234.57
    assert "simple_waveform" not in result.payload["songs"][0]


def test_helpers():
    assert normalize_job_ids("a") == ["a"]
    assert normalize_job_ids("['a', 'b']") == ["a", "b"]
    assert normalize_job_ids({"song_ids": ["x"], "job_ids": ["j"]}) == ["x"]
    with pytest.raises(InvalidInputError):
        normalize_job_ids([])
    assert parse_create_response({"jobs": ["a"]}) == ["a"]
    assert default_reply_ref("d", "t", "r", -1) == "airflow:d:t:r:-1"
    assert len(default_reply_ref("d", "t" * 2000, "r")) < 100
    assert decode_song({"conditions": "{…}"}, decode_json_fields=True)["conditions"] == "{…}"
    assert parse_stems({"vocals": "https://x/v.wav"}) == {"vocals": "https://x/v.wav"}
    assert parse_stems([{"type": "drums", "download_url": "https://x/d.wav"}]) == {"drums": "https://x/d.wav"}
    name = song_file_name({"id": "../../etc/passwd", "title": "../../evil\x00/name"}, "m4a")
    assert "/" not in name and "\x00" not in name and not name.startswith(".")


def test_download_methods(hook, requests_mock, tmp_path):
    requests_mock.get(BASE + "music/download/", [
        {"content": b"MP3DATA", "headers": {"Content-Type": "audio/mpeg", "Content-Length": "7"}},
        {"json": {"stems": [{"name": "vocals", "url": "https://cdn.example.com/v.wav?sig=1"}]}},
    ])
    requests_mock.get("https://cdn.example.com/v.wav?sig=1", content=b"WAV")
    requests_mock.get("https://api.riffusion.com/x.m4a", content=b"M4A")
    out = hook.download_music("s1", tmp_path / "a.mp3")
    assert (tmp_path / "a.mp3").read_bytes() == b"MP3DATA" and str(out).endswith("a.mp3")
    assert requests_mock.last_request.qs == {"id": ["s1"], "user_id": ["acct-1"], "download_format": ["mp3"]}
    stems = hook.download_stems("s1", tmp_path / "stems")
    assert (tmp_path / "stems" / "vocals.wav").read_bytes() == b"WAV" and set(stems) == {"vocals"}
    assert "Authorization" not in requests_mock.last_request.headers  # other origin: no token
    hook.download_url("https://api.riffusion.com/x.m4a", tmp_path / "a.m4a")
    assert "Authorization" not in requests_mock.last_request.headers
    with pytest.raises(InvalidInputError, match="download_format"):
        hook.download_music("s1", tmp_path / "x", download_format="flac")
    with pytest.raises(InvalidInputError):
        hook.download_url("file:///etc/passwd", tmp_path / "x")
