"""The ACRCloud emulator routes: the seed doc's examples succeed against it, shapes match the docs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests

from airflow_provider_music.core import AuthenticationError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav

pytestmark = pytest.mark.integration


@pytest.fixture
def emu(music_emulator):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    return music_emulator


@pytest.fixture
def api(emu):
    headers = {"Accept": "application/json", "Authorization": f"Bearer {emu.token}"}

    def call(method, path, **kwargs):
        return requests.request(method, f"{emu.url}/api/{path}", headers={**headers, **kwargs.pop("headers", {})},
                                timeout=10, **kwargs)

    return call


@pytest.fixture
def bucket(api) -> int:
    resp = api("POST", "buckets", json={"name": "bucket_music", "region": "ap-southeast-1", "type": "File",
                                        "labels": ["Music"], "net_type": 1})
    assert resp.status_code == 201
    body = resp.json()["data"]
    assert body["size"] == "0" and body["num"] == 0 and body["created_at"].count(":") == 2
    return body["id"]


def test_seed_python_and_curl_examples(emu, api, bucket, tmp_path):
    song = tmp_path / "test.mp3"
    song.write_bytes(sine_wav(1.0))
    # Python example: multipart with user_defined as json.dumps
    payload = {"title": "adsfad", "data_type": "audio", "user_defined": json.dumps({"key1": "value1", "key2": "value2"})}
    files = [("file", ("test.mp3", open(song, "rb"), "audio/mpeg"))]
    resp = api("POST", f"buckets/{bucket}/files", data=payload, files=files)
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert isinstance(data["duration"], str) and float(data["duration"]) == pytest.approx(1.0)
    assert data["state"] == 0 and len(data["acr_id"]) == 32 and data["user_defined"] == {"key1": "value1", "key2": "value2"}
    assert data["created_at"].endswith(".000000Z") or data["created_at"].endswith("Z")
    # curl JSON example: audio_url with user_defined as an object
    resp = api("POST", f"buckets/{bucket}/files", json={"data_type": "audio_url", "title": "file-title",
                                                        "user_defined": {"artists": "artist"},
                                                        "url": "https://your_host.com/AEA040700015_T1.mp3"})
    assert resp.status_code == 200 and resp.json()["data"]["user_defined"] == {"artists": "artist"}
    second = resp.json()["data"]["id"]
    # list: envelope exactly as the docs (per_page a string, links with only ?page=)
    listing = api("GET", f"buckets/{bucket}/files").json()
    assert set(listing) == {"data", "links", "meta"}
    assert listing["meta"]["per_page"] == "20" and listing["meta"]["total"] == 2 and listing["meta"]["from"] == 1
    assert listing["links"]["first"].endswith(f"/api/buckets/{bucket}/files?page=1") and listing["links"]["next"] is None
    assert isinstance(listing["data"][0]["duration"], int)
    # update (curl example)
    upd = api("PUT", f"buckets/{bucket}/files/{second}", json={"title": "update-title", "user_defined": {"artists": "update-artist"}})
    assert upd.json()["data"]["title"] == "update-title"
    # get one or multiple (data is a list)
    got = api("GET", f"buckets/{bucket}/files/{data['id']},{data['acr_id']},{second}").json()["data"]
    assert [f["id"] for f in got] == [data["id"], second]
    # move (docs' curl example has no /move suffix and no body) and delete (12,13 style)
    other = api("POST", "buckets", json={"name": "b2", "region": "eu-west-1", "type": "File"}).json()["data"]["id"]
    assert api("PUT", f"buckets/{other}/files/{data['id']},{second}").status_code == 200
    assert {f.bucket_id for f in store_of(emu.state).files.values()} == {other}
    assert api("PUT", f"buckets/{bucket}/files/{data['id']}/move").json()["data"][0]["bucket_id"] == bucket
    assert api("DELETE", f"buckets/{other}/files/{second}").status_code == 204
    assert api("DELETE", f"buckets/{other}/files/{second}").status_code == 404


def test_pagination_and_filters(emu, api, bucket):
    hook = AcrCloudHook()
    for i in range(25):
        hook.upload_file(bucket, data_type="audio_url", url=f"https://h/{i}.mp3", title=f"t{i}")
    page2 = api("GET", f"buckets/{bucket}/files", params={"page": 2, "per_page": 10}).json()
    assert page2["meta"] == {"current_page": 2, "from": 11, "last_page": 3, "path": f"{emu.url}/api/buckets/{bucket}/files",
                             "per_page": "10", "to": 20, "total": 25}
    assert page2["links"]["prev"].endswith("?page=1") and page2["links"]["next"].endswith("?page=3")
    big = api("GET", f"buckets/{bucket}/files", params={"per_page": 1000}).json()
    assert big["meta"]["per_page"] == "100" and len(big["data"]) == 25
    desc = api("GET", f"buckets/{bucket}/files", params={"order": "desc", "search": "t2"}).json()["data"]
    assert [f["title"] for f in desc][:2] == ["t24", "t23"]
    assert api("GET", f"buckets/{bucket}/files", params={"sort": "name"}).status_code == 422
    emu.state.settings["acrcloud.job_seconds"] = 0
    assert api("GET", f"buckets/{bucket}/files", params={"state": 1}).json()["meta"]["total"] == 25
    assert len(list(hook.iter_files(bucket, per_page=10))) == 25


def test_validation_and_auth(emu, api, bucket):
    assert requests.get(f"{emu.url}/api/buckets", timeout=5).json() == {"message": "Unauthenticated."}
    bad = api("POST", f"buckets/{bucket}/files", data={"data_type": "audio"})
    assert bad.status_code == 422 and "file" in bad.json()["errors"]
    assert api("POST", f"buckets/{bucket}/files", json={"data_type": "audio_url"}).status_code == 422
    assert api("POST", f"buckets/{bucket}/files", json={"data_type": "x"}).status_code == 422
    assert api("POST", "buckets/424242/files", json={"data_type": "acrid", "acrid": "a"}).status_code == 404


def test_dump_both_paths_and_download(emu, api, bucket):
    first = api("GET", f"buckets/{bucket}/dump").json()
    assert first["status"] == 0 and first["id"] == bucket and first["name"] == "bucket_music"
    assert api("GET", f"buckets/{bucket}/files/dump").json()["task_id"] == first["task_id"]  # once a day
    emu.state.settings["acrcloud.job_seconds"] = 0
    ready = api("GET", f"buckets/{bucket}/dump").json()
    assert ready["status"] == 1
    assert requests.get(ready["down_url"], timeout=5).status_code == 401
    assert api("GET", ready["down_url"].split("/api/", 1)[1]).json() == []


def test_configurable_upload_status_and_fs_list_shape(emu, api, bucket):
    emu.state.settings["acrcloud.upload_status"] = 201
    emu.state.settings["acrcloud.fs_get_as_list"] = True
    hook = AcrCloudHook()
    rec = hook.upload_file(bucket, data_type="acrid", acrid="6d3e17559677cd79ecb0b7cd2c79bea0")
    assert rec["id"]
    container = hook.create_fs_container("c", region="eu-west-1", buckets=["ACRCloud Music"])
    fs = hook.upload_fs_file(container["id"], data_type="audio_url", url="https://h/x.mp3")
    raw = api("GET", f"fs-containers/{container['id']}/files/{fs['id']}").json()
    assert isinstance(raw["data"], list)
    assert hook.get_fs_files(container["id"], fs["id"])[0]["id"] == fs["id"]


def test_identify_signature_verification(emu, tmp_path, monkeypatch):
    emu.state.settings["acrcloud.job_seconds"] = 0
    hook = AcrCloudHook()
    bucket = hook.create_bucket("ids", region="eu-west-1")["id"]
    audio = sine_wav(1.0, freq=523)
    hook.upload_file(bucket, data_type="audio", source=_write(tmp_path, audio), title="Mine", user_defined={"artist": "Me"})
    answer = hook.identify(audio)
    assert answer["status"]["code"] == 0
    match = answer["metadata"]["custom_files"][0]
    assert match["title"] == "Mine" and match["artist"] == "Me" and match["bucket_id"] == str(bucket)
    assert hook.identify(sine_wav(1.0, freq=111))["status"]["code"] == 1001

    # wrong secret -> 3014, unknown key -> 3001, both raised as AuthenticationError
    monkeypatch.setenv("AIRFLOW_CONN_ACRCLOUD_BAD", emu.connection("acrcloud", access_secret="wrong"))
    with pytest.raises(AuthenticationError, match="3014"):
        AcrCloudHook(conn_id="acrcloud_bad").identify(audio)
    monkeypatch.setenv("AIRFLOW_CONN_ACRCLOUD_BAD", emu.connection("acrcloud", access_key="nobody"))
    with pytest.raises(AuthenticationError, match="3001"):
        AcrCloudHook(conn_id="acrcloud_bad").identify(audio)

    # the docs' demo style: float timestamp, hand-made signature, plain requests
    ts = str(time.time())
    sign = "\n".join(["POST", "/v1/identify", "emulator-access-key", "audio", "1", ts])
    sig = base64.b64encode(hmac.new(b"emulator-access-secret", sign.encode(), hashlib.sha1).digest()).decode()
    resp = requests.post(f"{emu.url}/v1/identify", files={"sample": ("s.wav", audio)}, timeout=10, data={
        "access_key": "emulator-access-key", "sample_bytes": len(audio), "timestamp": ts, "signature": sig,
        "data_type": "audio", "signature_version": "1"})
    assert resp.json()["status"]["code"] == 0
    assert requests.post(f"{emu.url}/v1/identify", json={}, timeout=5).json()["status"]["code"] == 3002


def _write(tmp_path, data: bytes):
    path = tmp_path / "a.wav"
    path.write_bytes(data)
    return path
