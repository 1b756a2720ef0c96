"""MurekaHook against the contract digest's example bodies (requests-mock): every endpoint, every error."""

from __future__ import annotations

import json

import pytest

from airflow_provider_music.contract import mureka as mk
from airflow_provider_music.core import (
    AuthenticationError,
    InvalidInputError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
)
from airflow_provider_music.hooks.mureka import (
    MurekaAccountError,
    MurekaCreditsError,
    MurekaHook,
    MurekaNotReadyError,
    MurekaPlanError,
)
from airflow_provider_music.testing.flowmusic_store import silent_mp3
from tests.conftest import SECRET_TOKEN

BASE = "https://api.useapi.net/v1/mureka/"
ACCOUNT = "12345678901234"
JOBID = f"j0121061432017475905m-u777-a{ACCOUNT}-bot:mureka"
ENC_JOBID = f"j0121061432017475905m-u777-a{ACCOUNT}-bot%3Amureka"
SONG = "user:777-mureka:123456789-song:33445566"
SONG_2 = "user:777-mureka:123456789-song:33445567"
SONGS = [{"song_id": SONG, "title": "Upbeat Dance", "version": "1", "duration_milliseconds": 234567,
          "generate_at": 12345677, "genres": ["electronic"], "moods": ["quirky"],
          "mp3_url": "https://cdn.mureka.ai/a.mp3?sig=abc", "cover": "https://cdn.mureka.ai/a.png"},
         {"song_id": SONG_2, "title": "Upbeat Dance", "version": "2", "duration_milliseconds": 230000,
          "mp3_url": "https://cdn.mureka.ai/b.mp3", "cover": "https://cdn.mureka.ai/b.png"}]
#: GET jobs/{jobid} of the digest (S8), completed
COMPLETED = {
    "jobid": JOBID, "verb": "music/create", "jobType": "music", "status": "completed",
    "created": "2026-01-20T12:34:56.789Z", "updated": "2026-01-20T12:35:42.123Z",
    "request": {"account": ACCOUNT, "prompt": "Upbeat electronic dance track", "model": "V7.6", "async": True,
                "replyUrl": "https://your-domain.com/webhook", "replyRef": "my-custom-ref-123"},
    "response": {"feed_id": 11223344, "state": 3, "songs": SONGS},
}  # fmt: skip
CREATED = {"jobid": JOBID, "verb": "music/create", "jobType": "music", "status": "created",
           "created": "2026-01-20T12:34:56.789Z", "request": {"prompt": "x", "async": True, "replyRef": "r1"}}
#: the sync 200 answer of POST music/create (S9, Jan 2026)
SYNC = {"jobid": JOBID, "feed_id": 11223344, "state": 3, "songs": SONGS}
JOBS = {"total": 3, "music": 2, "tts": 1, "accounts": {ACCOUNT: {"total": 3, "music": 2, "tts": 1, "jobs": [
    {"jobid": JOBID, "verb": "music/create", "elapsed": "00:24"}]}}, "availableAccounts": ["98765432109876", ACCOUNT]}
ACCOUNTS = {"123456789": {"account": "123456789", "token": "abc…secured…xyz", "updated": 1724514995,
                          "tokenIssuedDaysAgo": 29, "hasAutoRefresh": True, "email": "user@example.com"},
            "987654321": {"account": "987654321", "token": "x…y", "hasAutoRefresh": False,
                          "error": "Session refresh failed 2026-01-19T14:31:15.000Z, manual update required"}}
PROFILE = {"user": {"id": "987654321", "user_id": 987654321, "stage_name": "useapi.net", "is_vip": True,
                    "vip_level": 2, "vip_name": "Monthly Pro", "vip_end_UTC": "2026-02-21T00:06:52.000Z"},
           "country_code": "US", "credits": 500, "feed_list_count": 574, "credits_silver": 4,
           "free_download_mp3_models": ["V8"], "models": {"official_models": ["V9"]}}
REFRESH_FAILED = {"error": "Session refresh failed 2026-01-19T14:31:15.000Z, manual update required",
                  "code": "REFRESH_FAILED"}


@pytest.fixture
def hook(set_connection):
    set_connection("mureka_default", "mureka", host=BASE)
    return MurekaHook()


def test_defaults_auth_and_connection_check(hook, requests_mock):
    requests_mock.get(BASE + "jobs", json=JOBS)
    requests_mock.get(BASE + "accounts", json={"123456789": ACCOUNTS["123456789"]})
    assert MurekaHook.conn_name_attr == "mureka_conn_id" and hook.conn_id == "mureka_default"
    ok, message = hook.test_connection()
    assert ok and "api.useapi.net/v1/mureka" in message
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"
    requests_mock.get(BASE + "accounts", json={"987654321": ACCOUNTS["987654321"]})
    ok, message = hook.test_connection()
    assert not ok and "error state" in message and "re-link" in message.lower()


def test_accounts_without_credentials_and_404_means_none(hook, requests_mock):
    requests_mock.get(BASE + "accounts", json=ACCOUNTS)
    listed = hook.list_accounts()
    assert set(listed) == {"123456789", "987654321"} and all("token" not in a for a in listed.values())
    requests_mock.get(BASE + "accounts", status_code=404,
                      json={"error": "Configuration not found. To create configuration use POST /accounts.", "code": 404})
    assert hook.list_accounts() == {}
    requests_mock.get(BASE + f"accounts/{ACCOUNT}", json={"account": ACCOUNT, "token": "t", "updated": 1})
    assert hook.get_account(ACCOUNT) == {"account": ACCOUNT, "updated": 1}
    with pytest.raises(InvalidInputError, match="numeric id"):
        hook.get_account("user@example.com")


def test_add_account_by_email_or_token(hook, requests_mock):
    rev_a = {"64532357578753": {"account": "64532357578753", "token": "JfE...secured...2sWc", "hasAutoRefresh": True,
                                "sessionCookie": {"name": "__Secure-3PSID"}, "user": {"id": "64532357578753", "gold": 40}}}
    post = requests_mock.post(BASE + "accounts", json=rev_a)
    out = hook.add_account(email="you@example.com", password="pw-123")
    assert post.last_request.json() == {"email": "you@example.com", "password": "pw-123"}
    assert "sessionCookie" not in out["64532357578753"] and "token" not in out["64532357578753"]
    requests_mock.post(BASE + "accounts", status_code=201, json={"updated": 1724514995, "account": "123456789",
                                                                 "token": "<token>", "email": "user@gmail.com"})
    out = hook.add_account(token="eyJ.abc", refresh_token="rt")
    assert set(out) == {"123456789"} and "token" not in out["123456789"]
    with pytest.raises(InvalidInputError, match="email and password, or token"):
        hook.add_account()


def test_profile_is_the_credit_report(hook, requests_mock):
    requests_mock.get(BASE + "profile", json=PROFILE)
    profile = hook.get_profile(ACCOUNT)
    assert profile["credits"] == 500 and profile["account"] == "987654321" and profile["vip_name"] == "Monthly Pro"
    assert requests_mock.last_request.qs == {"account": [ACCOUNT]} and "models" not in profile


# ---- generation ------------------------------------------------------------------------------------
def test_create_async_body_and_201(hook, requests_mock):
    post = requests_mock.post(BASE + "music/create", status_code=201, json=CREATED)
    job = hook.create("create", prompt="Upbeat electronic dance track", model="V9.5", account=ACCOUNT,
                      reply_url="https://example.com/hook", reply_ref="r1")
    assert job["jobid"] == JOBID and job["status"] == "created" and job["songs"] == []
    assert post.last_request.json() == {"prompt": "Upbeat electronic dance track", "account": ACCOUNT,
                                        "model": "V9.5", "async": True, "replyUrl": "https://example.com/hook",
                                        "replyRef": "r1"}


def test_create_sync_200_and_account_extra(set_connection, requests_mock):
    set_connection("mureka_default", "mureka", host=BASE, extra={"account": ACCOUNT, "sync_timeout": 200})
    post = requests_mock.post(BASE + "music/create-advanced", json=SYNC)
    job = MurekaHook().create("advanced", async_=False, lyrics="[Verse]\nla", title="Dance", desc="pop, happy",
                              vocal_gender="female")
    assert post.last_request.json()["account"] == ACCOUNT and post.last_request.timeout[1] == 200
    assert post.last_request.json()["async"] is False
    assert job["song_ids"] == [SONG, SONG_2] and mk.job_state(job) == "success"
    assert job["songs"][0]["mp3_url"] == "https://cdn.mureka.ai/a.mp3" and job["songs"][0]["duration_s"] == 234.567


def test_instrumental_and_edits_hit_their_paths(hook, requests_mock):
    for path in ("music/create-instrumental", "music/extend", "music/regenerate", "music/edit", "music/remix"):
        requests_mock.post(BASE + path, status_code=201, json=CREATED)
    hook.create("instrumental", prompt="ambient pads", title="Pads")
    hook.extend(SONG, "[Verse]\nmore")
    assert requests_mock.last_request.json() == {"song_id": SONG, "lyrics": "[Verse]\nmore", "async": True}
    hook.regenerate(123456789, 120000)  # old pages send the song id as a number
    assert requests_mock.last_request.json() == {"song_id": 123456789, "start_milliseconds": 120000, "async": True}
    hook.edit_song("edit", SONG, start_ms=1000, end_ms=5000, keep_melody="false", title="New")
    assert requests_mock.last_request.json()["keep_melody"] is False
    hook.remix(SONG, desc="jazz", model="V9", vocal_gender="male")
    assert requests_mock.last_request.path == "/v1/mureka/music/remix" and "account" not in requests_mock.last_request.json()


@pytest.mark.parametrize(("call", "match"), [
    (lambda h: h.create("advanced"), "lyrics"),
    (lambda h: h.create("create", prompt="x" * 3001), "3000"),
    (lambda h: h.create("instrumental", prompt="x" * 1001), "1000"),
    (lambda h: h.create("advanced", lyrics="la", title="t" * 51), "title"),
    (lambda h: h.create("advanced", lyrics="la", motif_id="m1", ref_id=1), "motif_id"),
    (lambda h: h.create("create", prompt="x", account="me@x.com"), "numeric id"),
    (lambda h: h.edit_song("edit", SONG, model="V9"), "does not take model"),
    (lambda h: h.edit_song("edit", SONG, start_ms=5, end_ms=5), "greater"),
    (lambda h: h.edit_song("regenerate", SONG), "start_ms"),
    (lambda h: h.extend("../x", "la"), "song_id"),
    (lambda h: h.create("create", prompt="x", reply_url="ftp://x"), "replyUrl"),
])
def test_bad_requests_are_refused_before_sending(hook, requests_mock, call, match):
    with pytest.raises(InvalidInputError, match=match):
        call(hook)
    assert requests_mock.call_count == 0


# ---- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "body", "cls", "match"), [
    (402, {"error": "Subscription expired", "code": 402}, MurekaCreditsError, "Gold"),
    (412, {"error": "Not enough credits: requested 24, available 10", "code": 412}, MurekaCreditsError, "Gold"),
    (403, {"error": "low vip level (6335)", "code": 403}, MurekaPlanError, "paid Mureka plan"),
    (596, REFRESH_FAILED, MurekaAccountError, "re-link"),
    (401, {"error": "Unauthorized", "code": 401}, AuthenticationError, "token"),
])
def test_errors_say_what_to_do_and_are_not_retried(hook, requests_mock, status, body, cls, match):
    post = requests_mock.post(BASE + "music/create", status_code=status, json=body)
    with pytest.raises(cls, match=match) as exc:
        hook.create("create", prompt="x")
    assert post.call_count == 1
    assert status == 401 or not exc.value.request_may_have_been_processed  # refused: nothing was created
    assert SECRET_TOKEN not in str(exc.value)


def test_596_refresh_in_progress_is_retried(hook, requests_mock, instant_retries):
    busy = {"error": "Session refresh in progress", "code": "REFRESH_IN_PROGRESS"}
    post = requests_mock.post(BASE + "music/create", [{"status_code": 596, "json": busy}, {"status_code": 201, "json": CREATED}])
    assert hook.create("create", prompt="x")["jobid"] == JOBID and post.call_count == 2
    assert instant_retries and min(instant_retries) >= 5.0


def test_429_on_create_waits_10_s_and_lyrics_9008_waits_1_s(hook, requests_mock, instant_retries):
    requests_mock.post(BASE + "music/create", [{"status_code": 429, "json": {"error": "slots busy", "code": 429}},
                                               {"status_code": 201, "json": CREATED}])
    hook.create("create", prompt="x")
    assert instant_retries and min(instant_retries) >= 10.0
    instant_retries.clear()
    requests_mock.post(BASE + "music/lyrics-generate", [
        {"status_code": 429, "json": {"code": 9008, "msg": "Too frequently, please try again later."}},
        {"json": {"lyrics": "[Verse]\nla"}}])
    assert hook.generate_lyrics("rain", account=ACCOUNT) == {"lyrics": "[Verse]\nla"}
    assert instant_retries and 1.0 <= min(instant_retries) < 10.0 and requests_mock.last_request.json() == {"prompt": "rain", "account": ACCOUNT}
    requests_mock.post(BASE + "music/lyrics-generate", status_code=429, json={"code": 9008, "msg": "Too frequently"})
    with pytest.raises(RateLimitError):
        hook.generate_lyrics()


# ---- jobs ------------------------------------------------------------------------------------------
def test_job_status_paths_encoded_and_states(hook, requests_mock):
    get = requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=COMPLETED)
    result = hook.job_status(JOBID)
    assert get.last_request.path.lower().endswith("bot%3amureka")
    assert result.state == "success" and result.payload["song_ids"] == [SONG, SONG_2]
    assert "request" not in result.payload and result.payload["account"] == ACCOUNT
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=CREATED)
    assert hook.job_status(JOBID).state == "running"
    failed = {**CREATED, "status": "failed", "error": "Generation failed", "errorDetails": "moderated"}
    assert hook.job_status(JOBID).state == "running"
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=failed)
    result = hook.job_status(JOBID)
    assert result.state == "failed" and "Generation failed" in result.message
    # the shapes the digest leaves open: state 4, an error on an unknown status, an unknown status alone
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json={**COMPLETED, "status": None, "response": {"state": 4}})
    assert hook.job_status(JOBID).state == "failed"
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json={**CREATED, "status": "weird"})
    result = hook.job_status(JOBID)
    assert result.state == "running" and result.unknown
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json={**COMPLETED, "response": {"state": 3, "songs": []}})
    assert hook.job_status(JOBID).message == "completed without songs"


@pytest.mark.parametrize("body", [[], {"jobid": JOBID, "response": {"songs": "nope"}},
                                  {"jobid": JOBID, "status": 3}, {"jobid": ["x"]},
                                  {**COMPLETED, "response": {"songs": [{"song_id": None}]}},
                                  {**COMPLETED, "response": {"songs": [{"song_id": SONG, "mp3_url": "ftp://x"}]}}])
def test_hostile_job_records_are_invalid_responses(hook, requests_mock, body):
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=body)
    with pytest.raises(InvalidResponseError, match="Mureka"):
        hook.job_status(JOBID)


def test_jobs_listing_and_find_job_by_reply_ref(hook, requests_mock):
    requests_mock.get(BASE + "jobs", json=JOBS)
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=CREATED)
    assert hook.running_jobs() == [{"jobid": JOBID, "account": ACCOUNT, "verb": "music/create", "elapsed": "00:24"}]
    assert hook.find_job("r1", {"prompt": "x"}) == JOBID
    assert hook.find_job("other", {"prompt": "y"}) is None
    assert mk.listed_jobs(JOBS) == {JOBID: {"account": ACCOUNT}}
    with pytest.raises(InvalidResponseError):
        mk.listed_jobs({"total": 0})


def test_server_errors_of_a_poll_do_not_name_the_job_twice(hook, requests_mock):
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", status_code=500, json={"error": f"boom {JOBID}", "code": 500})
    with pytest.raises(ServerError) as exc:
        hook.job_status(JOBID)
    assert JOBID not in str(exc.value) and ENC_JOBID not in str(exc.value)


# ---- stems, downloads, songs, uploads ---------------------------------------------------------------
def test_stems_as_a_job_or_at_once_and_their_download(hook, requests_mock):
    stems_id = f"{SONG}-stems:55667788"
    requests_mock.post(BASE + "music/stems", status_code=201, json={**CREATED, "verb": "music/stems"})
    assert hook.extract_stems(SONG, all_stems=False)["status"] == "created"
    assert requests_mock.last_request.json() == {"song_id": SONG, "all_stems": False, "async": True}
    direct = {"stems_id": stems_id, "bpm": 120, "stems": [{"name": "vocal", "wav": "https://s/v.wav?x=1",
                                                             "mp3": "https://s/v.mp3"}]}
    requests_mock.post(BASE + "music/stems", json=direct)
    out = hook.extract_stems(SONG)
    assert mk.job_state(out) == "success" and out["stems"] == {"vocal": {"wav": "https://s/v.wav", "mp3": "https://s/v.mp3"}}
    requests_mock.post(BASE + "music/stems-download", json={"audio_zip": "https://z/a.zip?sig=1", "midi_zip": "https://z/m.zip"})
    assert hook.download_stems_links(stems_id)["audio_zip"] == "https://z/a.zip?sig=1"  # live: used at once
    requests_mock.post(BASE + "music/stems-download", status_code=409, json={"error": "not completed", "code": 409})
    with pytest.raises(MurekaNotReadyError):
        hook.download_stems_links(stems_id, stem_name="vocal")
    with pytest.raises(InvalidInputError, match="exclude"):
        hook.download_stems_links(stems_id, stem_name="vocal", daw="ableton")


def test_download_package_songs_and_music_page(hook, requests_mock):
    requests_mock.post(BASE + "music/download", json={"oss_key": "https://static-cos.mureka.ai/x.zip", "paid_state": 1})
    assert hook.download_package_link(SONG)["url"].endswith("x.zip")
    assert requests_mock.last_request.json() == {"song_id": SONG, "type": "stem"}
    requests_mock.get(BASE + "music/user%3A777-mureka%3A123456789-song%3A33445566",
                      json={"song": {**SONGS[0], "lyrics": []}, "user": {"id": "1"}, "feed_id": 11223344})
    assert hook.get_song(SONG)["title"] == "Upbeat Dance"
    assert hook.live_song(SONG)["mp3_url"].endswith("?sig=abc")
    requests_mock.delete(BASE + "music/user%3A777-mureka%3A123456789-song%3A33445566", json={})
    hook.delete_song(SONG)
    requests_mock.get(BASE + "music", json={"list": [{"feed_id": 111222333, "state": 3, "songs": SONGS}]})
    page = hook.list_music(account=ACCOUNT)
    assert [s["song_id"] for s in page["songs"]] == [SONG, SONG_2] and page["more"] is False
    assert mk.songs_since(page, 12345670) == [SONG, SONG_2]  # no generate_at on the 2nd: counts (fail closed)
    assert mk.songs_since(page, 12345678) == [SONG_2]


def test_upload_mp3_raw_body_and_non_mp3_refused_before_sending(hook, requests_mock, tmp_path):
    mp3 = tmp_path / "ref.mp3"
    mp3.write_bytes(silent_mp3())
    post = requests_mock.post(BASE + "files", json={"id": 1122334455, "url": "https://x/a.mp3?s=1",
                                                    "duration_milliseconds": 30000, "mood": "relaxed", "title": "T"})
    out = hook.upload(str(mp3), title="T", genre="pop", mood="relaxed", account=ACCOUNT)
    assert out == {"id": "1122334455", "url": "https://x/a.mp3", "duration_s": 30.0, "title": "T", "mood": "relaxed"}
    assert post.last_request.headers["Content-Type"] == "audio/mpeg"
    assert post.last_request.qs == {"account": [ACCOUNT], "title": ["t"], "genre": ["pop"], "mood": ["relaxed"]}
    requests_mock.post(BASE + "files/motif", json={"id": "user:777-mureka:987654321-file:123456789", "url": "https://x/m.mp3"})
    assert hook.upload(str(mp3), "motif")["id"].endswith("file:123456789")
    wav = tmp_path / "ref.wav"
    from airflow_provider_music.testing.audio import sine_wav

    wav.write_bytes(sine_wav(0.1))
    calls = requests_mock.call_count
    with pytest.raises(InvalidInputError, match="MP3"):
        hook.upload(str(wav), "motif")
    with pytest.raises(InvalidInputError, match="genre"):
        hook.upload(str(mp3), title="T", mood="m")
    assert requests_mock.call_count == calls


def test_answers_keep_no_signed_query_nor_request_echo(hook, requests_mock):
    requests_mock.get(BASE + f"jobs/{ENC_JOBID}", json=COMPLETED)
    blob = json.dumps(hook.get_job(JOBID))
    assert "sig=abc" not in blob and "my-custom-ref-123" not in blob and "webhook" not in blob
