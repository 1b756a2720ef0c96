"""Signed ``wav_url``/``audio_url`` (a query carrying a signature): downloads use the live URL with its query,
XCom and logs only ever hold the URL without it - for job results, job ids and stems alike. Plus the async
path's id encoding compared with the sync path's."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.operators.flowmusic import FlowMusicDownloadOperator, FlowMusicStemsOperator
from airflow_provider_music.testing.audio import sine_wav
from tests.support.hooks import make_hook
from tests.support.hostile import HostileServer, Origins, json_body, send

TOKEN = "user:1234-Signed-Url-Token-0123456789abcdef"
SIGNATURE = "X-Goog-Signature=deadbeefcafe0123456789"
JOBID = "job:1-user:1-jane@example.com-bot:flowmusic"
CLIP = "user:1-jane@example.com-clip:0a1b2c3d"


def _signed_only(handler, request):
    if SIGNATURE.partition("=")[2] == request.query.get("X-Goog-Signature"):
        send(handler, 200, sine_wav(0.2), "audio/wav")
    else:
        send(handler, 403, b"<Error>SignatureDoesNotMatch</Error>", "application/xml")


def _clip(cdn: str, key: str, **extra) -> dict:
    return {"clip": key, "title": "Night", "duration_s": 2.0, "wav_url": f"{cdn}/{key[-8:]}.wav?{SIGNATURE}",
            "audio_url": f"{cdn}/{key[-8:]}.m4a?{SIGNATURE}", **extra}


def _everything(result, caplog) -> str:
    # urllib3's own DEBUG line ("GET /x.wav?sig HTTP/1.1") included: the core's log scrubber strips queries
    return json.dumps(result) + "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("given", ["summary", "jobid", "list"])
def test_download_uses_live_signed_urls_and_stores_none(monkeypatch, make_context, tmp_path, caplog, given):
    with Origins() as o:
        job = {"jobid": JOBID, "status": "completed", "clips": [_clip(o.b.url, CLIP)]}
        o.a.route("/jobs/*", json_body(job))
        o.b.route("/*", _signed_only)
        hook = make_hook(monkeypatch, FlowMusicHook, o.a.url + "/", TOKEN)
        summary = hook.get_job(JOBID)
        assert SIGNATURE not in json.dumps(summary)  # what an upstream task puts in XCom
        clips = {"summary": summary, "jobid": JOBID, "list": [summary]}[given]
        caplog.set_level(logging.DEBUG)
        op = FlowMusicDownloadOperator(task_id="dl", clips=clips, destination=str(tmp_path),
                                       flowmusic_conn_id="hostile_test")
        result = op.execute(make_context())
    assert len(result["files"]) == 1 and (tmp_path / result["files"][0]).stat().st_size > 44
    assert SIGNATURE not in _everything(result, caplog) and "deadbeef" not in _everything(result, caplog)
    assert all(not r.credentials() for r in o.b.requests)  # the CDN is another origin: no token


def test_stems_use_live_signed_urls_and_store_none(monkeypatch, make_context, tmp_path, caplog):
    with Origins() as o:
        stems = [_clip(o.b.url, f"{CLIP}{n}", stem=name) for n, name in enumerate(("drums", "bass", "vocals", "other"))]
        o.a.route("/music/edit", json_body({"clips": stems}), method="POST")
        o.b.route("/*", _signed_only)
        make_hook(monkeypatch, FlowMusicHook, o.a.url + "/", TOKEN)
        caplog.set_level(logging.DEBUG)
        op = FlowMusicStemsOperator(task_id="stems", clip=CLIP, destination=str(tmp_path),
                                    flowmusic_conn_id="hostile_test")
        result = op.execute(make_context())
    assert sorted(result["stems"]) == ["bass", "drums", "other", "vocals"]
    assert SIGNATURE not in _everything(result, caplog)


def test_expired_job_downloads_from_the_stored_urls(monkeypatch, make_context, tmp_path):
    with HostileServer() as api:
        api.route("/jobs/*", json_body({"error": "Job not found", "code": 404}, status=404))
        api.route("/cdn/*", lambda h, r: send(h, 200, sine_wav(0.2), "audio/wav"))
        make_hook(monkeypatch, FlowMusicHook, api.url + "/", TOKEN)
        summary = {"jobid": JOBID, "status": "completed", "clips": [{"clip": CLIP, "wav_url": f"{api.url}/cdn/a.wav"}]}
        op = FlowMusicDownloadOperator(task_id="dl", clips=summary, destination=str(tmp_path),
                                       flowmusic_conn_id="hostile_test")
        assert len(op.execute(make_context())["files"]) == 1


def test_async_path_sends_ids_encoded_like_the_sync_path(monkeypatch):
    with HostileServer() as api:
        api.route("/jobs/*", json_body({"jobid": JOBID, "status": "pending"}))
        hook = make_hook(monkeypatch, FlowMusicHook, api.url + "/", TOKEN)
        hook.job_status(JOBID)

        async def go():
            async with hook.async_session():
                await hook.ajob_status(JOBID)

        asyncio.run(go())
        # the async path asks the shared GET jobs first (core/poller.py); its per-job GET comes last
        sync_path, async_path = api.requests[0].path, api.requests[-1].path
    assert async_path == sync_path, (sync_path, async_path)
