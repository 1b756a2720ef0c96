"""The Riffusion emulator answers the vendor docs' own example requests and documented errors."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_music.testing.emulator import DEFAULT_TOKEN
from airflow_provider_music.testing.riffusion import DEFAULT_USER_ID

H = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


@pytest.fixture
def api(music_emulator):
    return music_emulator.url + "/v1/riffusion/"


def test_seed_python_examples(api, music_emulator, tmp_path):
    # seeds/riffusion-post-upload-audio.txt, Python example
    user_id = DEFAULT_USER_ID
    file_name = "Your file name"
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Content-Type": "audio/mpeg"}
    response = requests.post(f"{api}music/upload-audio/?file_name={file_name}&user_id={user_id}", headers=headers,
                             data=b"ID3 fake mp3 bytes")
    assert response.status_code == 200, response.text
    upload = response.json()
    assert set(upload) == {"is_flagged", "id", "transcription_job_id", "audio_upload_id"}
    # seeds/riffusion-get-upload-audio.txt, Python example
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {DEFAULT_TOKEN}"}
    got = requests.get(f"{api}music/upload-audio/?id={upload['id']}&user_id={user_id}", headers=headers)
    assert got.status_code == 200 and got.json()["status"] == "pending"
    assert got.json()["name"] == "Your file name.mp3" and "audible_magic_response" in got.json()
    # seeds/riffusion-get-music.txt, Python example
    listed = requests.get(f"{api}music/?user_id={user_id}", headers=headers)
    assert listed.status_code == 200 and listed.json() == []


def test_seed_curl_examples(api):
    # curl "…/music/?user_id=<user_id>" -H "Accept: application/json" -H "Authorization: Bearer …"
    ok = requests.get(f"{api}music/", params={"user_id": DEFAULT_USER_ID}, headers={"Accept": "application/json", **H})
    assert ok.status_code == 200
    # curl --data-binary /path/to/your/my-music-track.mp3 (the doc literally posts the path text)
    up = requests.post(f"{api}music/upload-audio/", params={"file_name": "my-music-track", "user_id": DEFAULT_USER_ID},
                       headers={**H, "Content-Type": "audio/mpeg"}, data=b"/path/to/your/my-music-track.mp3")
    assert up.status_code == 200
    # the generate-lyrics page's curl example omits "music/"
    lyr = requests.post(f"{api}generate-lyrics", headers=H, json={"prompt": "a sad song"})
    assert lyr.status_code == 200 and lyr.json()["lyrics"]


def test_music_lifecycle_and_scheduler(api, music_emulator):
    created = requests.post(f"{api}music/create-prompt", headers=H, json={"prompt": "jazzy k-pop", "replyRef": "ref-9"})
    assert created.status_code == 200
    ids = [j["id"] for j in created.json()["jobs"]]
    assert len(ids) == 2
    sched = requests.get(f"{api}scheduler", headers=H).json()
    assert {e["job_id"] for e in sched} == set(ids) and all(e["replyRef"] == "ref-9" for e in sched)
    avail = requests.get(f"{api}scheduler/available", headers=H).json()
    assert avail["available"][0]["executing"] == 1 and len(avail["executing"]) == 2
    song = requests.get(f"{api}music/", headers=H, params={"id": ids[0]}).json()
    assert song[0]["status"] == "processing"
    music_emulator.state.settings["riffusion.job_seconds"] = 0
    song = requests.get(f"{api}music/", headers=H, params={"id": ids[0]}).json()[0]
    assert song["status"] == "completed" and isinstance(song["conditions"], str) and song["download_url"]
    assert requests.get(f"{api}scheduler", headers=H).json() == []
    audio = requests.get(song["download_url"])
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    dl = requests.get(f"{api}music/download/", headers=H, params={"id": ids[0], "download_format": "wav"})
    assert dl.status_code == 200 and dl.content[:4] == b"RIFF"
    bad = requests.get(f"{api}music/download/", headers=H, params={"id": ids[0], "download_format": "flac"})
    assert bad.status_code == 400 and bad.json()["code"] == 400
    assert requests.delete(f"{api}music/", headers=H, params={"id": ids[0]}).status_code == 200
    assert requests.get(f"{api}music/", headers=H, params={"id": ids[0]}).json() == []


def test_legacy_revision_shapes(api, music_emulator):
    music_emulator.state.settings["riffusion.revision"] = "2025-02-17"
    created = requests.post(f"{api}music/create-compose", headers=H, json={"prompt_1": "dnb", "lyrics": "x"}).json()
    assert set(created) == {"job_id", "user_id"}
    assert len(requests.get(f"{api}music/", headers=H, params={"id": created["job_id"]}).json()) == 2
    up = requests.post(f"{api}music/upload-audio/", params={"file_name": "t"}, headers={**H, "Content-Type": "audio/wav"},
                       data=b"RIFF").json()
    assert set(up) == {"job_id"}
    got = requests.get(f"{api}music/upload-audio/", headers=H, params={"id": up["job_id"]}).json()
    assert set(got) == {"is_flagged", "transcribed_lyrics", "status"}


def test_documented_errors(api, music_emulator):
    assert requests.get(f"{api}music/").json() == {"error": "Unauthorized", "code": 401}
    assert requests.get(f"{api}music/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = requests.post(f"{api}music/create-compose", headers=H, json={"prompt_1": "x", "prompt_1_strength": 10})
    assert r.status_code == 400 and r.json()["code"] == 400 and "prompt_1_strength" in r.json()["error"]
    r = requests.post(f"{api}music/create-prompt", headers=H, json={"prompt": "x", "maxJobs": 11})
    assert r.status_code == 400
    r = requests.post(f"{api}music/create-prompt", headers=H, json={"prompt": "forbidden words"})
    assert r.status_code == 422 and r.json() == {"is_flagged": True, "reason": "moderation", "musician_replacement_data": None}
    r = requests.post(f"{api}music/upload-audio/", params={"file_name": "x"}, headers={**H, "Content-Type": "audio/ogg"}, data=b"x")
    assert r.status_code == 400
    assert requests.get(f"{api}accounts/nope", headers=H).status_code == 404
    assert requests.delete(f"{api}scheduler/nope", headers=H).status_code == 404


def test_queue_full_429(api, music_emulator):
    for _ in range(2):
        assert requests.post(f"{api}music/create-prompt", headers=H, json={"prompt": "x", "maxJobs": 2}).status_code == 200
    full = requests.post(f"{api}music/create-prompt", headers=H, json={"prompt": "x", "maxJobs": 2})
    assert full.status_code == 429 and "10..30 seconds" in full.json()["error"]
    job = requests.get(f"{api}scheduler", headers=H).json()[0]["job_id"]
    assert requests.delete(f"{api}scheduler/{job}", headers=H).status_code == 204


def test_596_until_fresh_cookie(api, music_emulator):
    music_emulator.state.apis["riffusion"].mark_broken()
    r = requests.get(f"{api}music/", headers=H)
    assert r.status_code == 596 and "pending error" in r.json()["error"]
    accounts = requests.get(f"{api}accounts", headers=H).json()
    assert accounts[DEFAULT_USER_ID]["jwt"]["access_token"] == "…secured…" and "error" in accounts[DEFAULT_USER_ID]
    assert requests.post(f"{api}accounts", headers=H, json={"cookie": "fresh", "maxJobs": 0}).status_code == 400
    fixed = requests.post(f"{api}accounts", headers=H, json={"cookie": "fresh", "maxJobs": 6})
    assert fixed.status_code == 201 and fixed.json()["user_id"] == DEFAULT_USER_ID
    assert requests.get(f"{api}music/", headers=H).status_code == 200


def test_multipart_create_and_images(api, music_emulator):
    r = requests.post(f"{api}music/create-prompt", headers=H, files={"prompt": (None, "lofi")})
    assert r.status_code == 200 and len(r.json()["jobs"]) == 2
    img = requests.post(f"{api}music/upload-image/", headers={**H, "Content-Type": "image/png"}, data=b"\x89PNG")
    assert img.status_code == 200 and {"Key", "Id", "image_id", "url"} <= set(img.json())
    gen = requests.post(f"{api}music/generate-image", headers=H, json={"prompt": "bunny"})
    assert gen.status_code == 200 and gen.json()["image_id"]


def test_store_finds_songs_by_song_or_generation_id_in_constant_time():
    """``GET music?id=`` is what every wait polls: the store answers it from an index (a scan of every song
    per poll made the emulator, not the client, the limit at thousands of waits), and finds songs put into
    ``songs`` by hand too."""
    import dataclasses

    from airflow_provider_music.testing.riffusion_store import RiffusionStore, Song

    fields = {f.name for f in dataclasses.fields(Song)}
    base = {k: v for k, v in {"user_id": DEFAULT_USER_ID, "created": 0.0, "title": "t", "sound": "s",
                              "lyrics": "", "outcome": "completed"}.items() if k in fields}
    store = RiffusionStore()
    a, b = Song(id="s-a", generation_id="g-1", **base), Song(id="s-b", generation_id="g-1", **base)
    store.add_song(a)
    store.add_song(b)
    assert store.songs_for("g-1") == [a, b] and store.songs_for("s-b") == [b]
    assert store.find_song("g-1") is a and store.find_song("nope") is None and store.songs_for("nope") == []
    by_hand = Song(id="s-c", generation_id="g-2", **base)
    store.songs[by_hand.id] = by_hand  # not through add_song
    assert store.songs_for("g-2") == [by_hand] and store.songs_for("s-c") == [by_hand]
    del store.songs["s-a"]
    assert store.songs_for("g-1") == [b]
    store.reset()
    assert store.songs_for("g-1") == [] and store.generations == {}
