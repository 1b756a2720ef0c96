"""The Mureka emulator's routes: the digest's documented defaults, its open questions' shapes, capacity, credits,
plans, pacing, retention, callbacks, form bodies and ids raw or encoded."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
import requests

from airflow_provider_music.testing.apis import DEFAULT_TOKEN
from airflow_provider_music.testing.mureka_store import DEFAULT_ACCOUNT

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


@pytest.fixture
def api(music_emulator):
    base = music_emulator.url + "/v1/mureka/"

    def call(method, path, **kwargs):
        return requests.request(method, base + path, headers={**AUTH, **kwargs.pop("headers", {})}, timeout=10, **kwargs)

    call.emu = music_emulator
    return call


def _store(api):
    return api.emu.state.apis["mureka"].store


def test_auth_is_required(api):
    answer = requests.get(api.emu.url + "/v1/mureka/jobs", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert answer.status_code == 401 and answer.json() == {"error": "Unauthorized", "code": 401}


def test_sync_create_holds_the_answer_then_gives_the_songs(api):
    api.emu.state.settings["mureka.job_seconds"] = 0.2
    started = time.monotonic()
    answer = api("POST", "music/create", json={"prompt": "dance"})  # async defaults to false
    assert answer.status_code == 200 and time.monotonic() - started >= 0.15
    body = answer.json()
    assert body["jobid"].endswith("-bot:mureka") and body["state"] == 3 and len(body["songs"]) == 2
    assert [s["version"] for s in body["songs"]] == ["1", "2"]
    assert requests.get(body["songs"][0]["mp3_url"], timeout=10).content[:3] == b"ID3"


def test_async_create_answers_201_and_the_job_moves_to_completed(api):
    api.emu.state.settings["mureka.job_seconds"] = 0.2
    created = api("POST", "music/create-instrumental", data={"prompt": "pads", "async": "true"})  # form strings
    assert created.status_code == 201 and created.json()["status"] == "created"
    jobid = created.json()["jobid"]
    listed = api("GET", "jobs").json()
    assert listed["accounts"][DEFAULT_ACCOUNT]["jobs"][0]["jobid"] == jobid and listed["total"] == 1
    time.sleep(0.25)
    for path in (f"jobs/{jobid}", f"jobs/{quote(jobid, safe='')}"):  # raw and percent-encoded
        record = api("GET", path).json()
        assert record["status"] == "completed" and record["response"]["state"] == 3
        assert record["verb"] == "music/create-instrumental" and record["request"]["async"] is True
    assert api("GET", "jobs").json()["total"] == 0


def test_capacity_credits_plan_and_failures(api):
    emu = api.emu
    emu.state.settings.update({"mureka.job_seconds": 1e6, "mureka.max_jobs": 2})
    for _ in range(2):
        assert api("POST", "music/create", json={"prompt": "x", "async": True}).status_code == 201
    busy = api("POST", "music/create", json={"prompt": "x", "async": True})
    assert busy.status_code == 429 and "slots" in busy.json()["error"]
    emu.state.settings["mureka.max_jobs"] = 10
    _store(api).accounts[DEFAULT_ACCOUNT].gold = 10
    poor = api("POST", "music/create", json={"prompt": "x", "async": True})
    assert poor.status_code == 412 and poor.json()["error"] == "Not enough credits: requested 24, available 10"
    _store(api).accounts[DEFAULT_ACCOUNT].gold = 500
    song = next(iter(_store(api).songs.values()))
    song.job.delay = 0
    _store(api).accounts[DEFAULT_ACCOUNT].plan = "free"
    refused = api("POST", "music/edit", json={"song_id": song.song_id, "lyrics": "new", "async": True})
    assert refused.status_code == 403 and refused.json()["error"] == "low vip level (6335)"
    model = api("POST", "music/edit", json={"song_id": song.song_id, "model": "V9"})
    assert model.status_code == 400 and model.json()["error"] == "Parameter model not supported"
    emu.state.settings.update({"mureka.job_seconds": 0.0, "mureka.job_outcome": "failed"})
    jobid = api("POST", "music/create", json={"prompt": "x", "async": True}).json()["jobid"]
    failed = api("GET", f"jobs/{jobid}").json()
    assert failed["status"] == "failed" and failed["error"] and failed["response"]["state"] == 4


def test_accounts_596_and_account_required_with_several(api):
    emu = api.emu
    emu.state.settings["mureka.account_error"] = "Session refresh failed 2026-01-19T14:31:15.000Z"
    broken = api("POST", "music/create", json={"prompt": "x"})
    assert broken.status_code == 596 and broken.json()["code"] == "REFRESH_FAILED"
    assert "error" in api("GET", "accounts").json()[DEFAULT_ACCOUNT]
    emu.state.settings.pop("mureka.account_error")
    added = api("POST", "accounts", json={"email": "second@example.com", "password": "pw"})
    assert added.status_code == 201
    second = next(iter(added.json()))
    assert "password" not in str(added.json())
    missing = api("POST", "music/lyrics-generate", json={"prompt": "x"})
    assert missing.status_code == 400 and "account" in missing.json()["error"]
    assert api("DELETE", f"accounts/{second}").status_code == 204
    assert api("DELETE", f"accounts/{DEFAULT_ACCOUNT}").status_code == 204
    none = api("GET", "accounts")
    assert none.status_code == 404 and none.json()["error"].startswith("Configuration not found")


def test_lyrics_pacing_is_one_call_a_second(api):
    assert api("POST", "music/lyrics-generate", json={}).json()["lyrics"]
    again = api("POST", "music/lyrics-generate", json={"prompt": "rain"})
    assert again.status_code == 429 and again.json() == {"code": 9008, "msg": "Too frequently, please try again later."}


def test_stems_job_then_download_zips_and_409_before(api):
    api.emu.state.settings["mureka.job_seconds"] = 0.0
    song = api("POST", "music/create", json={"prompt": "x"}).json()["songs"][0]
    api.emu.state.settings["mureka.job_seconds"] = 1e6
    job = api("POST", "music/stems", json={"song_id": song["song_id"], "async": True}).json()
    stems_id = next(iter(_store(api).stems))
    early = api("POST", "music/stems-download", json={"stems_id": stems_id})
    assert early.status_code == 409
    _store(api).jobs[job["jobid"]].delay = 0
    record = api("GET", f"jobs/{job['jobid']}").json()
    assert record["response"]["stems_id"] == stems_id and record["response"]["stems"][0]["name"] == "vocal"
    links = api("POST", "music/stems-download", json={"stems_id": stems_id}).json()
    assert requests.get(links["audio_zip"], timeout=10).content[:2] == b"PK"
    one = api("POST", "music/stems-download", json={"stems_id": stems_id, "stem_name": "drums"}).json()
    assert requests.get(one["wav"], timeout=10).content[:4] == b"RIFF"
    assert _store(api).accounts[DEFAULT_ACCOUNT].gold == 500 - 24 - 100


def test_songs_by_string_or_number_listing_and_deletion(api):
    api.emu.state.settings["mureka.job_seconds"] = 0.0
    songs = api("POST", "music/create", json={"prompt": "x"}).json()["songs"]
    number = int(songs[0]["song_id"].rpartition(":")[2])
    assert api("POST", "music/extend", json={"song_id": number, "lyrics": "more"}).status_code == 200
    page = api("GET", "music").json()
    assert len(page["list"]) == 2 and all(len(f["songs"]) == 2 for f in page["list"])
    assert api("GET", f"music/{quote(songs[0]['song_id'], safe='')}").json()["song"]["song_id"] == songs[0]["song_id"]
    assert api("DELETE", f"music/{quote(songs[0]['song_id'], safe='')}").json() == {}
    gone = api("GET", f"music/{quote(songs[0]['song_id'], safe='')}")
    assert gone.status_code == 400 and gone.json()["error"] == "The song has been deleted"


def test_job_retention_is_seven_days(api):
    api.emu.state.settings["mureka.job_seconds"] = 0.0
    jobid = api("POST", "music/create", json={"prompt": "x", "async": True}).json()["jobid"]
    _store(api).jobs[jobid].created -= 8 * 24 * 3600
    assert api("GET", f"jobs/{jobid}").status_code == 404


def test_callbacks_on_created_and_on_the_final_state(api, listener):
    api.emu.state.settings["mureka.job_seconds"] = 0.2
    body = {"prompt": "x", "async": True, "replyUrl": listener.url + "/hook", "replyRef": "ref-7"}
    jobid = api("POST", "music/create", json=body).json()["jobid"]
    received = listener.wait(2)
    assert [r["status"] for r in received] == ["created", "completed"]
    assert all(r["jobid"] == jobid and r["request"]["replyRef"] == "ref-7" for r in received)


def test_uploads_take_raw_mp3_only(api):
    from airflow_provider_music.testing.flowmusic_store import silent_mp3

    params = {"title": "Ref", "genre": "pop", "mood": "relaxed"}
    ok = api("POST", "files", params=params, data=silent_mp3(), headers={"Content-Type": "audio/mpeg"})
    assert ok.status_code == 200 and isinstance(ok.json()["id"], int) and ok.json()["duration_milliseconds"]
    motif = api("POST", "files/motif", data=silent_mp3(), headers={"Content-Type": "audio/mpeg"}).json()
    assert motif["id"].startswith("user:777-mureka:")
    wrong = api("POST", "files", params=params, data=b"RIFF....", headers={"Content-Type": "audio/wav"})
    assert wrong.status_code == 400 and "audio/mpeg" in wrong.json()["error"]
    missing = api("POST", "files", data=silent_mp3(), headers={"Content-Type": "audio/mpeg"})
    assert missing.status_code == 400 and "title" in missing.json()["error"]


def test_profile_reports_gold(api):
    profile = api("GET", "profile").json()
    assert profile["credits"] == 500 and profile["user"]["id"] == DEFAULT_ACCOUNT


def test_reference_listings_through_the_hook(api, tmp_path):
    from airflow_provider_music.hooks.mureka import MurekaHook
    from airflow_provider_music.testing.flowmusic_store import silent_mp3

    hook = MurekaHook()
    tags = hook.moods_and_genres()
    assert {"tag": "pop"} in tags["genres"] and {"tag": "relaxed"} in tags["moods"]
    mp3 = tmp_path / "ref.mp3"
    mp3.write_bytes(silent_mp3())
    upload = hook.upload(str(mp3), title="Ref", genre="pop", mood="relaxed")
    assert [str(i["id"]) for i in hook.list_uploads()["list"]] == [upload["id"]]
    hook.delete_upload(upload["id"])
    assert hook.list_uploads()["list"] == []
    vocal = hook.upload(str(mp3), "vocal", title="Me")
    assert [str(v["id"]) for v in hook.list_vocals(mine=True)["list"]] == [vocal["id"]]
    assert len(hook.list_vocals()["list"]) == 2 and hook.list_refs(mood="happy")["list"][0]["mood"] == "happy"
    assert api.emu.state.count("GET", "/v1/mureka/music/vocals") == 2
