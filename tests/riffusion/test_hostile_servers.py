"""Riffusion against hostile local servers (tests/support/hostile.py): what the emulator's faults don't reach."""

from __future__ import annotations

import json
import traceback
from typing import Any

import pytest

from airflow_provider_music.core.errors import MusicApiError
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator, RiffusionDownloadOperator
from tests.support.hostile import (
    HOSTILE_JSON,
    HostileServer,
    Origins,
    json_body,
    raw_body,
    redirect_to,
    wrong_shapes,
)

TOKEN = "user:9911-HOSTILE-riffusion-token"
SIGNATURE = "X-Amz-Signature=hostile-SIG-77aa"


@pytest.fixture
def connect(set_connection):
    def _connect(url: str) -> None:
        set_connection("riffusion_default", "riffusion", host=url + "/v1/riffusion/", password=TOKEN)

    return _connect


def _song(cdn: str, sid: str = "song-1", status: str = "completed") -> dict[str, Any]:
    return {"id": sid, "title": "T", "status": status, "created_at": "2026-01-01T00:00:00Z",
            "download_url": f"{cdn}/files/{sid}.m4a?{SIGNATURE}", "share_url": f"https://www.riffusion.com/riff/{sid}"}


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_hostile_json_on_every_status_call(connect, name):
    with HostileServer() as api:
        api.route("/v1/riffusion/*", raw_body(HOSTILE_JSON[name]))
        connect(api.url)
        hook = RiffusionHook()
        for call in (lambda: hook.song_status(["a"]), lambda: hook.upload_status("a"),
                     lambda: hook.find_jobs_by_reply_ref("r"), lambda: hook.create_prompt("x")):
            with pytest.raises(MusicApiError):
                call()


@pytest.mark.parametrize(("name", "body"), list(wrong_shapes()))
def test_wrong_shapes_never_raise_builtin_errors(connect, name, body):
    with HostileServer() as api:
        api.route("/v1/riffusion/*", raw_body(body))
        connect(api.url)
        hook = RiffusionHook()
        for call in (lambda: hook.song_status(["a"]), lambda: hook.upload_status("a"), lambda: hook.get_stems("a"),
                     lambda: hook.find_created({"prompt": "x", "replyRef": "r"}, since=0.0)):
            try:
                call()
            except MusicApiError:
                pass


def test_signed_cdn_link_redirect_to_another_origin(connect, make_context, tmp_path, caplog):
    """The CDN link redirects to a third origin: no useapi token there, no signature in logs or errors."""
    with Origins() as o, HostileServer() as third:
        o.a.route("/v1/riffusion/music/", json_body([_song(o.b.url)]))
        o.b.route("/files/*", redirect_to(third.url + "/elsewhere.m4a?other=1"))
        third.route("/elsewhere.m4a", raw_body(b"RIFF" + bytes(40), content_type="audio/mp4"))
        connect(o.a.url)
        paths = RiffusionDownloadOperator(task_id="d", song_ids="job-1", destination=str(tmp_path)).execute(make_context())
        assert len(paths) == 1
        assert all(TOKEN not in json.dumps(r.headers) for r in o.b.requests + third.requests)
        assert SIGNATURE not in caplog.text


def test_failing_cdn_error_chain_has_no_signature(connect, make_context, tmp_path):
    with Origins() as o:
        o.a.route("/v1/riffusion/music/", json_body([_song(o.b.url)]))
        o.b.route("/files/*", raw_body(b"<html>denied " + SIGNATURE.encode() + b"</html>", status=403,
                                      content_type="text/html"))
        connect(o.a.url)
        with pytest.raises(MusicApiError) as info:
            RiffusionDownloadOperator(task_id="d", song_ids="job-1", destination=str(tmp_path)).execute(make_context())
        assert SIGNATURE not in "".join(traceback.format_exception(info.value))
        assert not list(tmp_path.rglob("*.part"))


def test_compose_result_from_hostile_api_keeps_no_signature(connect, make_context):
    with HostileServer() as api:
        api.route("/v1/riffusion/music/create-prompt", json_body({"jobs": [{"id": "song-1"}]}), method="POST")
        api.route("/v1/riffusion/music/", json_body([_song("https://cdn.example")]), method="GET")
        connect(api.url)
        ctx = make_context()
        result = RiffusionComposeOperator(task_id="c", prompt="x", poll_interval=0.05, timeout=5).execute(ctx)
        assert "hostile-SIG" not in json.dumps([result, ctx["ti"].xcom_pushed], default=str)
        assert len([r for r in api.requests if r.method == "POST"]) == 1
