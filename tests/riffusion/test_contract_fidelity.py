"""Issue 15 (contract fidelity) for Riffusion: the emulator's account rules, the revision mode that serves both
upload seeds, ``replyUrl`` callbacks, and the hook keeping every documented upload field (seed example bodies)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.testing.emulator import DEFAULT_TOKEN
from airflow_provider_music.testing.riffusion import DEFAULT_USER_ID

H = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
BASE = "https://api.useapi.net/v1/riffusion/"

#: seeds/riffusion-get-upload-audio.txt, the 200 example, verbatim.
SEED_UPLOAD_STATUS = {
    "status": "complete", "lyrics": "…transcribed lyrics…",
    "id": "fa789d42-a1cf-482e-9dc9-3a64978370ed:a8b526c8-242b-4bfe-8a94-a5b1c5e396bb",
    "created_at": "2025-03-01T12:00:00.000000+00:00", "user_id": "2d5b1934-a2e7-49d1-9d1a-fb3b97a7b237",
    "name": "song_name.mp3", "type": "audio/mp4", "storage_name": "fa789d42-a1cf-482e-9dc9-3a64978370ed",
    "audible_magic_response": {"statusCode": 2005, "unknownAssetID": "fa789d42-a1cf-482e-9dc9-3a64978370ed",
                               "statusDescription": "Status 2005 (2005) No match found",
                               "unknownMediaFileDuration": 158.3},
    "is_flagged": False, "audio_upload_id": "fa789d42-a1cf-482e-9dc9-3a64978370ed",
    "transcription_job_id": "a8b526c8-242b-4bfe-8a94-a5b1c5e396bb",
}
#: The seed's model: ``audible_magic_response.matches[]`` with every documented field.
SEED_MATCH = {
    "amItemID": "AM-1", "ruleCode": "R1", "matchType": "Audio", "matchTimeInUnknown": 1.5,
    "matchTimeInReference": 12.5, "matchDurationInUnknown": 30.0,
    "metadata": {"ISRC": "USRC1", "Label": "L", "Title": "T", "Artist": "A", "Vendor": "V", "AlbumUPC": "0001",
                 "ContentCategory": "Music", "AlbumReleaseDate": "1999-01-01", "SongLengthInSeconds": "180"},
}


@pytest.fixture
def api(music_emulator):
    return music_emulator.url + "/v1/riffusion/"


@pytest.fixture
def two_accounts(music_emulator):
    store = music_emulator.state.apis["riffusion"]
    second = store.add_account("c3d4e5f6-0000-4000-8000-000000000002", max_jobs=1)
    return DEFAULT_USER_ID, second


# ---- hook: every documented field stays reachable --------------------------------------------------
@pytest.fixture
def hook(set_connection):
    set_connection("riffusion_default", "riffusion", host=BASE)
    return RiffusionHook()


def test_get_upload_audio_keeps_every_documented_field(hook, requests_mock):
    body = json.loads(json.dumps(SEED_UPLOAD_STATUS))
    body["audible_magic_response"]["matches"] = [SEED_MATCH]
    requests_mock.get(BASE + "music/upload-audio/", json=body)
    got = hook.get_upload_audio(SEED_UPLOAD_STATUS["id"])
    assert got["raw"] == body  # the answer exactly as received
    assert got["created_at"] == "2025-03-01T12:00:00.000000+00:00"
    assert got["user_id"] == "2d5b1934-a2e7-49d1-9d1a-fb3b97a7b237" and got["type"] == "audio/mp4"
    assert got["name"] == "song_name.mp3" and got["storage_name"] == SEED_UPLOAD_STATUS["storage_name"]
    assert got["unknown_media_file_duration"] == 158.3
    assert got["unknown_asset_id"] == SEED_UPLOAD_STATUS["audio_upload_id"]
    assert got["audible_magic_status"] == 2005 and "No match" in got["audible_magic_description"]
    (match,) = got["matches"]
    assert match == {
        "title": "T", "artist": "A", "isrc": "USRC1", "label": "L", "vendor": "V", "album_upc": "0001",
        "content_category": "Music", "album_release_date": "1999-01-01", "song_length_seconds": "180",
        "am_item_id": "AM-1", "match_type": "Audio", "rule_code": "R1", "match_time_in_unknown": 1.5,
        "match_time_in_reference": 12.5, "match_duration_in_unknown": 30.0,
    }


def test_get_upload_audio_seed_example_and_feb17_shape(hook, requests_mock):
    requests_mock.get(BASE + "music/upload-audio/", [
        {"json": SEED_UPLOAD_STATUS},
        {"json": {"is_flagged": True, "transcribed_lyrics": "…", "status": "complete"}},  # Feb 17 model
    ])
    first = hook.get_upload_audio(SEED_UPLOAD_STATUS["id"])
    assert first["audio_upload_id"] == "fa789d42-a1cf-482e-9dc9-3a64978370ed" and first["matches"] == []
    assert first["transcription_job_id"] == "a8b526c8-242b-4bfe-8a94-a5b1c5e396bb"
    second = hook.get_upload_audio("a5d2d4a4-6bca-501a-9c53-2f18a7a4eb00")
    assert second["id"] == second["audio_upload_id"] == "a5d2d4a4-6bca-501a-9c53-2f18a7a4eb00"
    assert second["lyrics"] == "…" and second["is_flagged"] is True and second["raw"]["transcribed_lyrics"] == "…"


def test_post_upload_audio_seed_example(hook, requests_mock, tmp_path):
    from airflow_provider_music.testing.audio import write_sine_wav

    requests_mock.post(BASE + "music/upload-audio/", json={"job_id": "a5d2d4a4-6bca-501a-9c53-2f18a7a4eb00"})
    upload = hook.upload_audio(str(write_sine_wav(tmp_path / "my-music-track.wav", 0.1)))
    assert upload["id"] == upload["audio_upload_id"] == "a5d2d4a4-6bca-501a-9c53-2f18a7a4eb00"
    assert requests_mock.last_request.qs["file_name"] == ["my-music-track"]


# ---- emulator: accounts ---------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [
    ("POST", "music/upload-audio/?file_name=x"), ("GET", "music/upload-audio/?id=a:b"), ("GET", "music/"),
    ("DELETE", "music/?id=x"), ("GET", "music/download/?id=x&download_format=mp3"),
    ("POST", "music/upload-image/"),
])
def test_user_id_required_with_several_accounts(api, two_accounts, method, path):
    headers = {**H, "Content-Type": "audio/mpeg" if "audio" in path else "image/png"}
    answer = requests.request(method, api + path, headers=headers, data=b"ID3 bytes", timeout=10)
    assert answer.status_code == 400 and "user_id is required" in answer.json()["error"]


def test_create_without_user_id_picks_an_account_with_capacity(api, music_emulator, two_accounts):
    music_emulator.state.settings["riffusion.job_seconds"] = 60
    default, second = two_accounts
    music_emulator.state.apis["riffusion"].accounts[default].max_jobs = 1
    owners = []
    for prompt in ("one", "two"):
        answer = requests.post(api + "music/create-prompt", headers=H, json={"prompt": prompt}, timeout=10)
        assert answer.status_code == 200, answer.text
        song_id = answer.json()["jobs"][0]["id"]
        owners.append(music_emulator.state.apis["riffusion"].songs[song_id].user_id)
    assert sorted(owners) == sorted([default, second])  # the second create went to the account with room
    full = requests.post(api + "music/create-prompt", headers=H, json={"prompt": "three"}, timeout=10)
    assert full.status_code == 429  # only when every account is full


def test_create_with_user_id_of_a_full_account_is_429(api, music_emulator, two_accounts):
    music_emulator.state.settings["riffusion.job_seconds"] = 60
    _, second = two_accounts
    first = requests.post(api + "music/create-prompt", headers=H, json={"prompt": "a", "user_id": second}, timeout=10)
    assert first.status_code == 200
    again = requests.post(api + "music/create-prompt", headers=H, json={"prompt": "b", "user_id": second}, timeout=10)
    assert again.status_code == 429


# ---- emulator: the revision mode that serves both upload seeds ---------------------------------------
def test_mixed_revision_feb17_upload_answer_then_feb25_status(api, music_emulator):
    music_emulator.state.settings.update({"riffusion.revision": "mixed", "riffusion.job_seconds": 0})
    posted = requests.post(api + "music/upload-audio/?file_name=track", headers={**H, "Content-Type": "audio/mpeg"},
                           data=b"ID3 bytes", timeout=10)
    assert set(posted.json()) == {"job_id"}  # seeds/riffusion-post-upload-audio.txt (Feb 17)
    job_id = posted.json()["job_id"]
    status = requests.get(api + "music/upload-audio/", params={"id": job_id}, headers=H, timeout=10).json()
    assert set(SEED_UPLOAD_STATUS) <= set(status)  # seeds/riffusion-get-upload-audio.txt (Feb 25 model)
    assert status["audio_upload_id"] == job_id and status["id"].startswith(job_id + ":")
    create = requests.post(api + "music/create-compose", headers=H, timeout=10,
                           json={"prompt_1": "ambient", "audio_upload_id": job_id})
    assert create.status_code == 200, create.text


def test_mixed_revision_through_the_hook(music_emulator, tmp_path):
    from airflow_provider_music.testing.audio import write_sine_wav

    music_emulator.state.settings.update({"riffusion.revision": "mixed", "riffusion.job_seconds": 0})
    hook = RiffusionHook()
    upload = hook.upload_audio(str(write_sine_wav(tmp_path / "a.wav", 0.1)))
    status = hook.upload_status(upload["id"])
    assert status.state == "success" and status.payload["audio_upload_id"] == upload["audio_upload_id"]
    assert status.payload["created_at"] and status.payload["unknown_media_file_duration"] == 158.3


# ---- emulator: replyUrl callbacks ------------------------------------------------------------------
@pytest.mark.parametrize("outcome", ["completed", "failed"])
def test_reply_url_gets_one_callback_per_song(api, music_emulator, listener, outcome):
    music_emulator.state.settings.update({"riffusion.job_seconds": 0.2, "riffusion.song_outcome": outcome})
    answer = requests.post(api + "music/create-prompt", headers=H, timeout=10,
                           json={"prompt": "night drive", "replyUrl": listener.url, "replyRef": "my-ref"})
    ids = {job["id"] for job in answer.json()["jobs"]}
    got = listener.wait(2)
    assert len(got) == 2 and {c["id"] for c in got} == ids and {c["job_id"] for c in got} == ids
    assert all(c["replyRef"] == "my-ref" and c["status"] == outcome for c in got)
    time.sleep(0.3)
    assert len(listener.received) == 2  # once per song, not per poll


def test_reply_url_only_to_loopback(api, music_emulator):
    music_emulator.state.settings["riffusion.job_seconds"] = 0.05
    requests.post(api + "music/create-prompt", headers=H, timeout=10,
                  json={"prompt": "x", "replyUrl": "http://example.com/hook"})
    store = music_emulator.state.apis["riffusion"]
    deadline = time.time() + 5
    while len(store.callbacks) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert store.callbacks and all(d.state == "refused" for d in store.callbacks)
