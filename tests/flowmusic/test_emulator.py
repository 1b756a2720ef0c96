"""The FlowMusic emulator over HTTP: every route, capacity, credits, moderation, 596, retention, callbacks."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import quote

import pytest
import requests

from airflow_provider_music.testing.audio import sine_wav

TOKEN = "emulator-token"
EMAIL = "composer@example.com"


@pytest.fixture
def api(music_emulator):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    base = music_emulator.url + "/v1/flowmusic/"

    def call(method: str, path: str, **kwargs):
        return session.request(method, base + path, timeout=30, **kwargs)

    call.emulator = music_emulator  # type: ignore[attr-defined]
    return call


def wait_done(api, jobid: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api("GET", f"jobs/{quote(jobid, safe='')}").json()
        if job["status"] != "pending":
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_auth_required(api, music_emulator):
    assert requests.get(music_emulator.url + "/v1/flowmusic/jobs", timeout=5).status_code == 401
    bad = requests.get(music_emulator.url + "/v1/flowmusic/jobs", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401 and bad.json() == {"error": "Unauthorized", "code": 401}


def test_generate_async_lifecycle_raw_and_encoded_ids(api):
    created = api("POST", "music", json={"prompt": "lo-fi hip hop", "mode": "async", "replyRef": "r1"})
    assert created.status_code == 201
    job = created.json()
    assert job["status"] == "pending" and job["jobid"].startswith("job:") and job["jobid"].endswith("-bot:flowmusic")
    assert api("GET", "jobs").json()[EMAIL]["running"] == 1
    raw = api("GET", f"jobs/{job['jobid']}")
    assert raw.status_code == 200 and raw.json()["request"]["replyRef"] == "r1"
    done = wait_done(api, job["jobid"])
    assert done["status"] == "completed" and len(done["clips"]) == 2 and done["duration_ms"] >= 0
    clip = done["clips"][0]
    wav = requests.get(clip["wav_url"], timeout=5)
    assert wav.content.startswith(b"RIFF") and "localhost" in clip["wav_url"] or "127.0.0.1" in clip["wav_url"]
    mp3 = api("GET", "music/download", params={"id": done["jobid"]})
    assert mp3.headers["content-type"] == "audio/mpeg" and mp3.content.startswith(b"ID3")
    assert ".mp3" in mp3.headers["content-disposition"]
    assert api("GET", "jobs").json() == {}


def test_form_bodies_are_accepted(api):
    created = api("POST", "music", data={"prompt": "folk", "instrumental": "true", "mode": "async"})
    assert created.status_code == 201 and created.json()["request"]["instrumental"] is True


def test_sync_mode_holds_then_answers_200(api):
    answer = api("POST", "music", json={"prompt": "folk"})
    assert answer.status_code == 200 and answer.json()["status"] == "completed" and len(answer.json()["clips"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({}, 400, "prompt"), ({"prompt": "x", "ghostwriter": "ultra"}, 400, "ghostwriter"),
        ({"prompt": "x", "model": "lyria-9"}, 400, "model"), ({"prompt": "a forbidden song"}, 422, "moderated"),
        ({"prompt": "x", "email": "ghost@example.com"}, 404, "not configured"),
        ({"prompt": "x", "refImage1": "user:x:nope"}, 400, "not an asset"),
    ],
)  # fmt: skip
def test_generate_rejections(api, body, status, text):
    answer = api("POST", "music", json={**body, "mode": "async"})
    assert answer.status_code == status and text in answer.json()["error"] and answer.json()["code"] == status


def test_capacity_429_and_credits_402(api):
    emu = api.emulator
    emu.state.settings["flowmusic.max_jobs"] = 1
    emu.state.apis["flowmusic"].reset()
    emu.state.settings["flowmusic.job_seconds"] = 30
    assert api("POST", "music", json={"prompt": "a", "mode": "async"}).status_code == 201
    busy = api("POST", "music", json={"prompt": "b", "mode": "async"})
    assert busy.status_code == 429 and "busy" in busy.json()["error"] and "retry-after" not in busy.headers
    emu.state.settings["flowmusic.retry_after"] = 12
    assert api("POST", "music", json={"prompt": "b", "mode": "async", "email": EMAIL}).headers["retry-after"] == "12"
    emu.state.apis["flowmusic"].store.accounts[EMAIL].credits = 1
    emu.state.apis["flowmusic"].store.accounts[EMAIL].max_jobs = 5
    poor = api("POST", "music", json={"prompt": "c", "mode": "async"})
    assert poor.status_code == 402 and "insufficient credits" in poor.json()["error"]


def test_account_error_596_and_readd(api):
    store = api.emulator.state.apis["flowmusic"].store
    store.break_account(EMAIL)
    broken = api("POST", "music", json={"prompt": "x", "mode": "async"})
    assert broken.status_code == 596 and broken.json() == {
        "error": f"Account {EMAIL} in error state: refresh token rejected", "code": 596}
    assert "error" in api("GET", "accounts").json()[EMAIL]
    assert "credits_remaining" not in api("GET", f"accounts/{quote(EMAIL)}").json()
    readd = api("POST", "accounts", json={"refresh_token": "fresh-token-123456", "maxJobs": 3})
    assert readd.status_code == 200 and readd.json()["maxJobs"] == 3
    assert api("POST", "music", json={"prompt": "x", "mode": "async"}).status_code == 201


def test_accounts_routes(api):
    assert api("POST", "accounts", json={"refresh_token": "short"}).status_code == 400
    new = api("POST", "accounts", json={"refresh_token": "a-brand-new-token-1", "maxJobs": "4"})
    assert new.status_code == 201 and new.json()["maxJobs"] == 4
    email = new.json()["email"]
    assert api("POST", "accounts", json={"email": email, "maxJobs": 16}).json()["maxJobs"] == 16
    assert api("POST", "accounts", json={"email": email, "maxJobs": 17}).status_code == 400
    assert api("POST", "accounts", json={"email": email, "maxJobs": 2, "tier": "x"}).status_code == 400
    assert api("GET", f"accounts/{quote(email)}").json()["credits_remaining"] == 5000
    assert api("GET", "accounts/usage").status_code == 400
    assert api("GET", "accounts/usage", params={"email": email}).json()["events"] == []
    assert api("DELETE", f"accounts/{quote(email)}").status_code == 204
    assert api("GET", f"accounts/{quote(email)}").status_code == 404


def test_edit_stems_lyrics_list(api):
    song = api("POST", "music", json={"prompt": "pop"}).json()
    clip = song["clips"][0]["clip"]
    edit = api("POST", "music/edit", json={"operation": "effect", "clip": clip, "effect": "Gain", "gain_db": "3",
                                           "mode": "async"})
    assert edit.status_code == 201 and edit.json()["operation"] == "effect"
    assert api("POST", "music/edit", json={"operation": "extend", "clip": clip}).status_code == 400
    assert api("POST", "music/edit", json={"operation": "cover", "clip": "user:1-x-clip:nope"}).status_code == 404
    stems = api("POST", "music/edit", json={"operation": "stems", "clip": clip}).json()
    assert [c["title"].rsplit(" - ", 1)[1] for c in stems["clips"]] == ["drums", "bass", "vocals", "other"]
    again = api("POST", "music/edit", json={"operation": "stems", "clip": clip}).json()
    assert [c["clip"] for c in again["clips"]] == [c["clip"] for c in stems["clips"]]
    lyrics = api("POST", "music/lyrics", json={"prompt": "a road trip home"}).json()
    assert lyrics["lyrics"].startswith("[Verse 1]") and lyrics["credits_burned"] == 0
    nolyrics = api("POST", "music/lyrics", json={"prompt": "nolyrics please"})
    assert nolyrics.status_code == 422 and nolyrics.json()["error"]["code"] == "no_lyrics"
    page = api("GET", "music", params={"limit": 3}).json()
    assert len(page["clips"]) == 3 and page["next"] == 3
    assert api("GET", "music", params={"limit": 101}).status_code == 400


def test_download_errors(api):
    api.emulator.state.settings["flowmusic.job_seconds"] = 30
    job = api("POST", "music", json={"prompt": "x", "mode": "async"}).json()
    assert api("GET", "music/download", params={"id": job["jobid"]}).status_code == 409
    assert api("GET", "music/download", params={"id": "nope"}).status_code == 400
    assert api("GET", "music/download", params={"id": job["jobid"], "format": "wav"}).status_code == 400


def test_cancel_and_retention(api):
    api.emulator.state.settings["flowmusic.job_seconds"] = 30
    job = api("POST", "music", json={"prompt": "x", "mode": "async"}).json()
    assert api("DELETE", f"jobs/{quote(job['jobid'], safe='')}").status_code == 204
    record = api("GET", f"jobs/{job['jobid']}").json()
    assert record["status"] == "failed" and record["error"]["code"] == "user_cancelled"
    assert api("GET", "jobs").json() == {}
    api.emulator.state.settings["flowmusic.retention_seconds"] = 0
    time.sleep(0.01)
    gone = api("GET", f"jobs/{job['jobid']}")
    assert gone.status_code == 404 and "expired" in gone.json()["error"]
    assert api("DELETE", "jobs/job:unknown").status_code == 404


def test_failed_outcome(api):
    api.emulator.state.settings.update({"flowmusic.job_outcome": "failed", "flowmusic.failure_code": "upstream_error"})
    job = api("POST", "music", json={"prompt": "x", "mode": "async"}).json()
    done = wait_done(api, job["jobid"])
    assert done["status"] == "failed" and done["error"]["code"] == "upstream_error" and "clips" not in done


def test_files_routes(api):
    wav = sine_wav(0.2)
    ok = api("POST", "files", data=wav, headers={"Content-Type": "audio/wav"})
    assert ok.status_code == 200 and ok.json()["kind"] == "audio"
    assert api("POST", "files", data=b"GIF89a", headers={"Content-Type": "image/gif"}).status_code == 400
    assert api("POST", "files", data=b"", headers={"Content-Type": "audio/wav"}).status_code == 400
    assert api("POST", "files", data=b"hello", headers={"Content-Type": "audio/wav"}).status_code == 400
    png = b"\x89PNG\r\n\x1a\n" + b"c2pa" + bytes(20)
    assert api("POST", "files", params={"stripMetadata": "false"}, data=png,
               headers={"Content-Type": "image/png"}).status_code == 422
    assert api("POST", "files", data=png, headers={"Content-Type": "image/png"}).json()["metadata_stripped"] is True
    big = b"\x89PNG\r\n\x1a\n" + bytes(20 * 1024 * 1024)
    assert api("POST", "files", data=big, headers={"Content-Type": "image/png"}).status_code == 413
    image = api("POST", "files/generate", json={"prompt": "neon city"}).json()
    assert image["width"] == 1024
    assert api("POST", "files/generate", json={"prompt": "forbidden"}).status_code == 500
    asset = ok.json()["id"]
    assert api("POST", "music", json={"prompt": "x", "refAudio1": asset, "mode": "async"}).status_code == 201


def test_fault_after_processing_loses_answer(api):
    api.emulator.add_fault(path="/v1/flowmusic/music$", method="POST", status=502, after=True, times=1)
    lost = api("POST", "music", json={"prompt": "x", "mode": "async", "replyRef": "lost-1"})
    assert lost.status_code == 502
    running = api("GET", "jobs").json()[EMAIL]["jobs"]
    assert len(running) == 1
    assert api("GET", f"jobs/{running[0]['jobid']}").json()["replyRef"] == "lost-1"


class _Sink(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        _Sink.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_reply_url_callback_loopback_only(api):
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        job = api("POST", "music", json={"prompt": "x", "mode": "async", "replyUrl": url, "replyRef": "cb-1"}).json()
        api("POST", "music", json={"prompt": "y", "mode": "async", "replyUrl": "http://example.com/hook"})
        deadline = time.monotonic() + 10
        while not _Sink.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _Sink.received[0]["jobid"] == job["jobid"] and _Sink.received[0]["replyRef"] == "cb-1"
        assert _Sink.received[0]["status"] == "completed"
        records = api.emulator.state.callbacks.wait(2)
        assert {r["state"] for r in records if r["api"] == "flowmusic"} == {"delivered", "refused"}, records
        assert len(_Sink.received) == 1
    finally:
        server.shutdown()


def test_lowering_job_seconds_finishes_pending_jobs(api, music_emulator):
    """As the other APIs: ``flowmusic.job_seconds`` lowered over HTTP applies to jobs already pending
    (benchmarks create long jobs, then finish them all at once)."""
    settings = music_emulator.url + "/_emulator/settings"
    requests.patch(settings, json={"flowmusic.job_seconds": 10**6}, timeout=5).raise_for_status()
    jobs = [api("POST", "music", json={"prompt": f"song {i}", "mode": "async"}).json()["jobid"] for i in range(3)]
    time.sleep(0.2)
    assert all(api("GET", f"jobs/{j}").json()["status"] == "pending" for j in jobs)
    requests.patch(settings, json={"flowmusic.job_seconds": 0}, timeout=5).raise_for_status()
    for jobid in jobs:
        done = api("GET", f"jobs/{jobid}").json()
        assert done["status"] == "completed", done
        assert done["duration_ms"] >= 200  # finished when the setting changed, not back-dated to creation
    requests.patch(settings, json={"flowmusic.job_seconds": 10**6}, timeout=5).raise_for_status()
    later = api("POST", "music", json={"prompt": "later", "mode": "async"}).json()["jobid"]
    assert api("GET", f"jobs/{later}").json()["status"] == "pending"  # raising it changes only new jobs
