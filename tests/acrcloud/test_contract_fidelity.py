"""Contract fidelity of the ACRCloud hook and emulator (issue 15), against the seed's own example bodies.

Gaps closed: FsFiles follow the connection's / container's ``region`` (newer docs revision) with the
override kept; Base Projects and the Metadata API exist in hook and emulator; a bucket dump describes the
files really uploaded (durations of the uploaded audio); a container's ``callback_url`` receives the
finished file (loopback only).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_music.contract.acrcloud_fs import fs_base_url
from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.acrcloud_common import audio_duration, fingerprint_duration
from airflow_provider_music.testing.audio import sine_wav
from tests.conftest import SECRET_TOKEN

BASE = "https://api-v2.acrcloud.com/api/"

# The seed's example bodies (acrcloud-console-buckets-audio-files.txt), verbatim where short.
SEED_UPLOAD = {"data": {"uid": 1, "acr_id": "6d3e17559677cd79ecb0b7cd2c79bea0", "bucket_id": 8891, "state": 0,
                        "title": "adsfad", "audio_id": "", "duration": "78.524082", "user_defined": {},
                        "updated_at": "2020-12-24T08:49:17.000000Z", "created_at": "2020-12-24T08:49:17.000000Z",
                        "id": 20}}
SEED_LIST_ITEM = {"id": 12, "uid": 1, "bucket_id": 8891, "acr_id": "0e5e7e376f7e177bbcb4da898f740a15", "state": 0,
                  "title": "bucket", "user_defined": {"artist": "abc", "album": "334", "from": "ucf",
                                                      "played_duration": 8, "ucf_id": "338229"},
                  "duration": 206, "audio_id": "", "created_at": "2020-12-20T21:43:34.000000Z",
                  "updated_at": "2020-12-20T21:43:49.000000Z"}
SEED_LIST = {"data": [SEED_LIST_ITEM, {**SEED_LIST_ITEM, "id": 6, "acr_id": "87cd4888e660049f21199b812cc30346",
                                       "fp_id": None, "state": 1, "title": "test", "user_defined": {}, "duration": 300}],
             "links": {"first": "http://127.0.0.1:8080/api/buckets/8891/files?page=1",
                       "last": "http://127.0.0.1:8080/api/buckets/8891/files?page=1", "prev": None, "next": None},
             "meta": {"current_page": 1, "from": 1, "last_page": 1, "path": "http://127.0.0.1:8080/api/buckets/8891/files",
                      "per_page": "20", "to": 7, "total": 7}}
SEED_GET = {"data": [{"id": 12945472, "uid": 19, "bucket_id": 966, "acr_id": "75806fee10cf4405de502435129d6c06",
                      "state": 1, "title": "api-test", "user_defined": {}, "duration": 174,
                      "created_at": "2020-10-14T11:02:15.000000Z", "updated_at": "2020-10-14T11:02:15.000000Z",
                      "audio_id": "123"}]}
SEED_UPDATE = {"data": {"id": 20, "uid": 1, "bucket_id": 8891, "acr_id": "6d3e17559677cd79ecb0b7cd2c79bea0",
                        "state": 0, "title": "update-title", "user_defined": {"artists": "update-artist"},
                        "duration": 79, "audio_id": "", "created_at": "2020-12-24T08:49:17.000000Z",
                        "updated_at": "2020-12-25T04:34:27.000000Z"}}
SEED_DUMP = {"status": 1, "down_url": "https://us-api-v2.acrcloud.com/api/buckets/6556/down/sFKD2eLbGX", "id": 6556,
             "name": "us-bucket", "task_id": "sFKD2eLbGX"}
DIGEST_PROJECT = {"data": {"uid": 1, "access_key": "e7a8", "access_secret": "9zlE", "service_type": "AVR", "state": 1,
                           "name": "test", "region": "eu-west-1", "day_limit": 0, "total_limit": 0,
                           "audio_type": "linein", "version": 1, "external_id": "", "id": 15,
                           "updated_at": "2020-12-25T09:47:25.000000Z", "created_at": "2020-12-25T09:47:25.000000Z",
                           "buckets": [{"id": 8881, "name": "bucket-music", "type": "File", "metadata_template": None}],
                           "status_check": 2, "external_ids": ["spotify", "isrc", "deezer"]}}


@pytest.fixture
def real_hook(set_connection):
    def make(**extra):
        set_connection("acrcloud_default", "acrcloud", host=None, extra={"bucket_id": "8891", **extra})
        return AcrCloudHook()

    return make


# ---- seed example bodies through the hook -----------------------------------------------------------------
def test_seed_bodies_parse(real_hook, requests_mock):
    hook = real_hook()
    requests_mock.post(BASE + "buckets/8891/files", json=SEED_UPLOAD)
    up = hook.upload_file(8891, data_type="audio_url", url="https://your_host.com/AEA040700015_T1.mp3",
                          title="file-title", user_defined={"artists": "artist"})
    assert up["duration"] == pytest.approx(78.524082) and up["id"] == 20 and up["state"] == 0
    assert requests_mock.last_request.json()["user_defined"] == {"artists": "artist"}  # an object in JSON bodies
    requests_mock.get(BASE + "buckets/8891/files", json=SEED_LIST)
    listed = hook.list_files(8891)
    assert listed["meta"]["per_page"] == 20 and [f["duration"] for f in listed["data"]] == [206.0, 300.0]
    assert listed["data"][0]["user_defined"]["ucf_id"] == "338229"
    requests_mock.get(BASE + "buckets/966/files/12945472", json=SEED_GET)
    assert hook.get_files(966, 12945472)[0]["audio_id"] == "123"
    requests_mock.put(BASE + "buckets/8891/files/20", json=SEED_UPDATE)
    assert hook.update_file(8891, 20, title="update-title")["user_defined"] == {"artists": "update-artist"}
    requests_mock.get(BASE + "buckets/6556/dump", json=SEED_DUMP)
    status = hook.dump_status(6556)
    assert status.state == "success" and status.payload["task_id"] == "sFKD2eLbGX"


# ---- FsFiles host follows the region (newer docs revision), override kept ------------------------------------
@pytest.mark.parametrize(("base", "region", "explicit", "expected"), [
    (BASE, None, None, BASE),
    (BASE, "eu-west-1", None, "https://api-eu-west-1.acrcloud.com/api/"),
    (BASE, "us-west-2", "https://fs.example/api", "https://fs.example/api/"),
    ("http://127.0.0.1:9999/api/", "eu-west-1", None, "http://127.0.0.1:9999/api/"),
])
def test_fs_base_url_rule(base, region, explicit, expected):
    assert fs_base_url(base, region=region, explicit=explicit) == expected


def test_fs_files_go_to_the_regional_host(real_hook, requests_mock):
    hook = real_hook(region="ap-southeast-1")
    regional = "https://api-ap-southeast-1.acrcloud.com/api/"
    m = requests_mock.get(regional + "fs-containers/7/files/u-1", json={"data": {"id": "u-1", "state": 1}})
    assert hook.fs_files_status(7, "u-1").state == "success" and m.called
    assert m.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"
    other = requests_mock.get("https://api-us-west-2.acrcloud.com/api/fs-containers/7/files/u-1",
                              json={"data": [{"id": "u-1", "state": 0}]})
    assert hook.fs_files_status(7, "u-1", region="us-west-2").state == "running" and other.called  # container's region


def test_fs_override_wins_and_async_twin_agrees(real_hook, monkeypatch):
    hook = real_hook(region="eu-west-1", fs_base_url="https://fs.example/api")
    assert hook.fs_base() == "https://fs.example/api/"
    seen = []

    async def fake(method, path, **kwargs):
        seen.append(path)
        return {"data": {"id": "u-1", "state": -1}}

    monkeypatch.setattr(hook, "arequest_json", fake)
    assert asyncio.run(hook.afs_files_status(7, "u-1")).state == "success"
    assert seen == ["https://fs.example/api/fs-containers/7/files/u-1"]


# ---- Base projects and the Metadata API -----------------------------------------------------------------------
def test_base_projects_against_the_digest_body(real_hook, requests_mock):
    hook = real_hook()
    post = requests_mock.post(BASE + "base-projects", json=DIGEST_PROJECT, status_code=201)
    project = hook.create_base_project("test", region="eu-west-1", buckets=[8881], external_ids="spotify,isrc,deezer")
    assert post.last_request.json() == {"name": "test", "region": "eu-west-1", "type": "AVR", "buckets": [8881],
                                        "external_ids": ["spotify", "isrc", "deezer"]}
    assert project["access_key"] == "e7a8" and project["buckets"][0]["id"] == 8881
    with pytest.raises(InvalidInputError):
        hook.create_base_project("x", region="eu-west-1", buckets=["../1"])
    with pytest.raises(InvalidInputError):
        hook.create_base_project("x", region="eu-west-1", buckets=[1], type="XYZ")


@pytest.mark.parametrize("call", ["create", "get", "list", "update"])
def test_a_base_project_access_secret_is_scrubbed_from_later_errors(real_hook, requests_mock, call):
    """Every answer that carries a project's access_secret registers it: a later error echoing it is clean."""
    from airflow_provider_music.core import MusicApiError

    secret = f"projSECRET-{call}-9zlEq7Rk2vXw"
    project = {**DIGEST_PROJECT["data"], "access_secret": secret}
    hook = real_hook()
    requests_mock.post(BASE + "base-projects", json={"data": project}, status_code=201)
    requests_mock.get(BASE + "base-projects/1", json={"data": project})
    requests_mock.put(BASE + "base-projects/1", json={"data": project})
    requests_mock.get(BASE + "base-projects", json={"data": [project], "links": {}, "meta": {}})
    {"create": lambda: hook.create_base_project("p", region="eu-west-1", buckets=[1]),
     "get": lambda: hook.get_base_project(1), "update": lambda: hook.update_base_project(1, name="q"),
     "list": lambda: hook.list_base_projects()}[call]()
    requests_mock.get(BASE + "buckets/7", status_code=400, text=f'{{"error": "bad key {secret}"}}')
    with pytest.raises(MusicApiError) as info:
        hook.get_bucket(7)
    assert secret not in str(info.value) and secret not in repr(info.value)


def test_metadata_api_host_and_arguments(real_hook, requests_mock):
    hook = real_hook()
    m = requests_mock.get("https://eu-api-v2.acrcloud.com/api/external-metadata/tracks", json={"data": [{"name": "x"}]})
    assert hook.get_track_metadata(isrc="QZJG52083365", platforms=["spotify", "deezer"]) == [{"name": "x"}]
    assert m.last_request.qs == {"isrc": ["qzjg52083365"], "platforms": ["spotify,deezer"]}
    for bad in ({}, {"isrc": "a", "acr_id": "b"}, {"isrc": "a", "platforms": "myspace"}):
        with pytest.raises(InvalidInputError):
            hook.get_track_metadata(**bad)


@pytest.mark.integration
def test_emulator_base_project_keys_identify_its_buckets(music_emulator, tmp_path, monkeypatch):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.0
    hook = AcrCloudHook()
    bucket = hook.create_bucket("catalog", region="eu-west-1")["id"]
    song = sine_wav(0.4, freq=500, sample_rate=8000)
    hook.upload_file(bucket, data_type="audio", source=_write(tmp_path / "s.wav", song), title="Mine")
    project = hook.create_base_project("p", region="eu-west-1", buckets=[bucket])
    assert hook.get_base_project(project["id"])["name"] == "p"
    assert [p["id"] for p in hook.list_base_projects()["data"]] == [project["id"]]
    assert hook.update_base_project(project["id"], name="q")["name"] == "q"
    assert hook.base_project_bucket_status(project["id"])[0]["ready"] == 1
    monkeypatch.setitem(music_emulator.state.settings, "acrcloud.access_keys", {})  # only the project's keys
    conn = json.loads(os.environ["AIRFLOW_CONN_ACRCLOUD_DEFAULT"])
    conn["extra"] = {**conn.get("extra", {}), "access_key": project["access_key"],
                     "access_secret": project["access_secret"]}
    monkeypatch.setenv("AIRFLOW_CONN_ACRCLOUD_DEFAULT", json.dumps(conn))
    answer = AcrCloudHook().identify(song)
    assert answer["metadata"]["custom_files"][0]["title"] == "Mine"
    hook.delete_base_project(project["id"])
    assert store_of(music_emulator.state).projects == {}


@pytest.mark.integration
def test_emulator_metadata_by_isrc(music_emulator):
    store_of(music_emulator.state).add_music_track(sine_wav(0.3), title="Hit", artist="Star", isrc="QZ0000000001")
    records = AcrCloudHook().get_track_metadata(isrc="QZ0000000001")
    assert records[0]["name"] == "Hit" and "spotify" in records[0]["external_metadata"]


# ---- the dump describes what was uploaded ------------------------------------------------------------------
def _write(path, data):
    path.write_bytes(data)
    return str(path)


@pytest.mark.integration
def test_dump_durations_are_the_uploaded_audio(music_emulator, tmp_path):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.0
    hook = AcrCloudHook()
    bucket = hook.create_bucket("d", region="eu-west-1")["id"]
    lengths = [1.5, 2.0, 2.5]
    for i, seconds in enumerate(lengths):
        up = hook.upload_file(bucket, data_type="audio", title=f"t{i}",
                              source=_write(tmp_path / f"t{i}.wav", sine_wav(seconds, freq=200 + i * 50, sample_rate=8000)))
        assert float(up["duration"]) == pytest.approx(seconds, abs=0.01)
    assert hook.dump_status(bucket).done
    path = hook.download_dump(bucket, str(tmp_path / "dump.json"))
    records = json.loads(open(str(path).replace("file://", "")).read())
    assert [r["title"] for r in records] == ["t0", "t1", "t2"]
    assert all(abs(r["duration"] - s) <= 0.5 for r, s in zip(records, lengths, strict=True))


@pytest.mark.parametrize("seconds", [1.5, 2.0, 2.5])
def test_probe_durations(seconds):
    wav = sine_wav(seconds, sample_rate=8000, harmonics=5)
    assert audio_duration(wav) == pytest.approx(seconds, abs=0.01)
    float_wav = _float_wav(seconds)
    assert audio_duration(float_wav) == pytest.approx(seconds, abs=0.01)  # not PCM: RIFF header, not `wave`
    try:
        import acrcloud_extr_tool  # noqa: F401
        from acrcloud_extr_tool import create_fingerprint_by_filebuffer
    except ImportError:
        return
    fp = create_fingerprint_by_filebuffer(wav, 0, 0, True)
    assert abs(fingerprint_duration(fp) - seconds) < 0.5  # was len(fp) / 100: 4.8-7.7 s


def _float_wav(seconds: float, rate: int = 8000) -> bytes:
    import struct

    frames = int(seconds * rate)
    data = struct.pack(f"<{frames}f", *([0.1] * frames))
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---- container callback_url (loopback only) ------------------------------------------------------------------
class _Listener(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.integration
def test_container_callback_reaches_a_local_listener(music_emulator, tmp_path):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    _Listener.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = AcrCloudHook()
        url = f"http://127.0.0.1:{server.server_address[1]}/acr-callback"
        container = hook.create_fs_container("cb", region="eu-west-1", buckets=["ACRCloud Music"], callback_url=url)
        scan = hook.upload_fs_file(container["id"], source=_write(tmp_path / "x.wav", sine_wav(0.3)), name="x")
        deadline = time.time() + 5
        while not _Listener.received and time.time() < deadline:
            time.sleep(0.02)
        assert _Listener.received, "no callback arrived"
        payload = _Listener.received[0]["data"]
        assert payload["id"] == scan["id"] and payload["state"] == -1 and "results" in payload
        remote = hook.create_fs_container("cb2", region="eu-west-1", buckets=["ACRCloud Music"],
                                          callback_url="http://example.com/hook")
        hook.upload_fs_file(remote["id"], source=_write(tmp_path / "y.wav", sine_wav(0.3)), name="y")
        deadline = time.time() + 3
        store = store_of(music_emulator.state)
        while len(store.callbacks) < 2 and time.time() < deadline:
            time.sleep(0.02)
        assert store.callbacks[-1]["state"] == "refused" and len(_Listener.received) == 1
        assert store.callbacks[0]["state"] == "delivered" and store.callbacks[0]["api"] == "acrcloud"
    finally:
        server.shutdown()
