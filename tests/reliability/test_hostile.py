"""Secrets and hostile responses (issue 8, part 4 without the deployment scan).

* signed download links (AudioShake outputs, Riffusion download URLs) are logged without their query string,
  and never end up in errors, XCom or return values;
* an API that echoes the rejected token in its error body does not get it into our exceptions;
* a distinctive token never appears in logs, XCom, trigger events or results of a full run;
* API-provided names never escape the destination (``../``, absolute paths, NUL, very long names);
* the emulator refuses non-loopback binding unless asked explicitly.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.contract.riffusion_files import song_file_name
from airflow_provider_music.core import (
    ApiConnectionError,
    AuthenticationError,
    ServerError,
    safe_file_name,
    to_storage_path,
)
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator, RiffusionDownloadOperator
from airflow_provider_music.testing.audio import sine_wav
from airflow_provider_music.testing.emulator import connection_json, is_loopback, main
from airflow_provider_music.testing.server import EmulatorServer
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore

pytestmark = pytest.mark.integration

HOSTILE_NAMES = ["../../escape.wav", "/etc/passwd", "a\x00b.wav", "x" * 5000 + ".wav", "..", "C:\\Windows\\evil.wav",
                 "./.hidden.wav", "sub/dir/../../up.wav", "\x1b[31mred\x1b[0m.wav", ""]


def _logs(caplog, capsys) -> str:
    return caplog.text + "".join(r.getMessage() for r in caplog.records) + "".join(capsys.readouterr())


def _song(hook: RiffusionHook, title: str | None = None) -> dict[str, Any]:
    ids = hook.create_compose(["calm piano"], title=title) if title else hook.create_prompt("calm piano")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = hook.song_status(ids)
        if status.done:
            return status.payload["songs"][0]
        time.sleep(0.02)
    raise AssertionError("song did not complete")


# ---- the emulator binds loopback only ----------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_emulator_cli_refuses_non_loopback(host, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--host", host, "--port", "0"])
    assert info.value.code == 2
    assert "refusing to bind non-loopback address" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_emulator_server_refuses_non_loopback(host):
    with pytest.raises(ValueError, match="allow_remote=True"):
        EmulatorServer(host=host)
    assert EmulatorServer(host=host, allow_remote=True).host == host  # explicit opt-in (not started)


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False), ("8.8.8.8", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


# ---- signed links -------------------------------------------------------------------------------------
@pytest.mark.parametrize("api", ["jobs", "tasks"])
def test_audioshake_signed_links_never_logged_or_stored(music_emulator, monkeypatch, make_context, tmp_path, caplog,
                                                         capsys, api):
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", connection_json("audioshake", music_emulator.url,
                                                                          extra={"api": api}))
    music_emulator.state.job_seconds = 0.05
    src = tmp_path / "song.wav"
    src.write_bytes(sine_wav(0.2, sample_rate=8000))
    ctx = make_context(FakeTaskStateStore())
    with caplog.at_level("INFO"):  # Airflow's default task log level (urllib3 logs full URLs at DEBUG)
        result = AudioShakeStemSeparationOperator(
            task_id="sep", source=str(src), stems=["vocals"], destination=str(tmp_path / "out"), poll_interval=0.02,
        ).execute(ctx)
    text = _logs(caplog, capsys)
    stored = json.dumps(result) + json.dumps(ctx["ti"].xcom_pushed, default=str) + json.dumps(ctx["task_state_store"].data)
    assert "/files/" in text  # the link is logged ...
    for secret in ("Signature=", "Expires=", "emulator-token"):  # ... without its query string or the token
        assert secret not in text and secret not in stored


def test_audioshake_failed_signed_download_error_has_no_query(music_emulator, make_context, tmp_path):
    music_emulator.state.job_seconds = 0.05
    src = tmp_path / "song.wav"
    src.write_bytes(sine_wav(0.2, sample_rate=8000))
    music_emulator.add_fault(path="^/files/", method="GET", status=500)
    with pytest.raises(ServerError) as info:
        AudioShakeStemSeparationOperator(task_id="sep", source=str(src), stems=["vocals"], poll_interval=0.02,
                                         destination=str(tmp_path / "out")).execute(make_context())
    assert "/files/" in str(info.value) and "Signature" not in str(info.value) and "?" not in str(info.value)
    assert not list(tmp_path.rglob("*.part"))


def test_riffusion_signed_download_url_logged_without_query(music_emulator, tmp_path, caplog, capsys):
    hook = RiffusionHook()
    song = _song(hook)
    signed = song["download_url"] + "?X-Amz-Signature=SIGSECRET123&X-Amz-Credential=CREDSECRET456"
    with caplog.at_level("INFO"):
        path = hook.download_url(signed, tmp_path / "song.m4a")
    assert Path(path.path).stat().st_size > 0
    music_emulator.add_fault(path="^/_cdn/", drop=True)
    with pytest.raises(ApiConnectionError) as info:
        hook.download_url(signed, tmp_path / "again.m4a")
    text = _logs(caplog, capsys) + str(info.value)
    assert song["download_url"].split("://", 1)[1].split("/", 1)[1] in text  # the path is logged
    assert "SIGSECRET123" not in text and "CREDSECRET456" not in text
    assert not (tmp_path / "again.m4a").exists() and not list(tmp_path.rglob("*.part"))
    # the useapi token never went to the download host
    assert all(r["authorization"] is None for r in music_emulator.state.apis["riffusion"].cdn_requests)


# ---- tokens echoed by a hostile API -------------------------------------------------------------------
@pytest.mark.parametrize(("status", "body", "error"), [
    (401, {"error": f"invalid token {SECRET_TOKEN}"}, AuthenticationError),
    (500, {"message": f"crash while handling Bearer {SECRET_TOKEN}"}, ServerError),
])
def test_token_echoed_in_error_body_is_scrubbed(music_emulator, set_connection, status, body, error):
    set_connection("riffusion_default", "riffusion", host=music_emulator.url + "/v1/riffusion/",
                   extra={"retry_limit": 2})
    music_emulator.add_fault(path="^/v1/riffusion/music", status=status, body=json.dumps(body))
    with pytest.raises(error) as sync_info:
        RiffusionHook().get_music("abc")

    async def run() -> None:
        await RiffusionHook().aget_music("abc")

    with pytest.raises(error) as async_info:
        asyncio.run(run())
    for info in (sync_info, async_info):
        text = str(info.value) + repr(info.value.details) + str(info.value.api_message)
        assert SECRET_TOKEN not in text and "***" in text


def test_distinctive_token_never_leaks_from_a_deferred_run(music_emulator, set_connection, make_context, caplog,
                                                           capsys):
    music_emulator.state.tokens.add(SECRET_TOKEN)
    try:
        set_connection("riffusion_default", "riffusion", host=music_emulator.url + "/v1/riffusion/")
        ctx = make_context(FakeTaskStateStore())
        op = RiffusionComposeOperator(task_id="c", prompt="x", poll_interval=0.02, timeout=20, deferrable=True)
        with caplog.at_level("INFO"):
            with pytest.raises(TaskDeferred) as deferred:
                op.execute(ctx)
            trigger = deferred.value.trigger

            async def first() -> dict[str, Any]:
                async for event in trigger.run():
                    return event.payload
                raise AssertionError("no event")

            event = asyncio.run(first())
            result = op.execute_complete(ctx, event=event)
        everything = (_logs(caplog, capsys) + json.dumps(event) + json.dumps(trigger.serialize(), default=str)
                      + json.dumps(result) + json.dumps(ctx["ti"].xcom_pushed, default=str)
                      + json.dumps(ctx["task_state_store"].data, default=str))
        assert result["song_ids"] and SECRET_TOKEN not in everything
    finally:
        music_emulator.state.tokens.discard(SECRET_TOKEN)


# ---- API-provided names never escape the destination --------------------------------------------------
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_file_name_stays_one_component(tmp_path, name):
    safe = safe_file_name(name, "fallback")
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe and not safe.startswith(".")
    assert len(safe) <= 200 and all(ch.isprintable() for ch in safe)
    assert (tmp_path / safe).resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_riffusion_song_file_name_stays_one_component(tmp_path, name):
    fname = song_file_name({"id": name, "title": name}, name or "m4a")
    assert "/" not in fname and "\\" not in fname and "\x00" not in fname and ".." not in fname
    assert len(fname) < 255 and (tmp_path / fname).resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize("api", ["jobs", "tasks"])
def test_audioshake_hostile_output_names_stay_inside(music_emulator, monkeypatch, make_context, tmp_path, api):
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", connection_json("audioshake", music_emulator.url,
                                                                          extra={"api": api}))
    music_emulator.state.job_seconds = 0.05
    music_emulator.state.settings["audioshake.output_names"] = {
        "vocals": "../../escape.wav", "drums": "/tmp/abs-evil.wav", "bass": "a\x00b.wav", "other": "y" * 5000 + ".wav",
    }
    src = tmp_path / "in" / "song.wav"
    src.parent.mkdir()
    src.write_bytes(sine_wav(0.2, sample_rate=8000))
    dest = tmp_path / "out"
    result = AudioShakeStemSeparationOperator(
        task_id="sep", source=str(src), destination=str(dest), poll_interval=0.02,
    ).execute(make_context())
    written = [Path(to_storage_path(p).path) for paths in result["files"].values() for p in paths]
    assert len(written) == 4
    for path in written:
        assert path.resolve().parent == (dest / "song").resolve() and path.stat().st_size > 0
        assert "\x00" not in path.name and len(path.name.encode()) <= 255  # one filesystem component
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and dest not in p.parents and p != src]
    assert outside == [] and not Path("/tmp/abs-evil.wav").exists()


def test_riffusion_hostile_title_stays_inside(music_emulator, make_context, tmp_path):
    hook = RiffusionHook()
    song = _song(hook, title="../../../evil\x00/..\\name")
    dest = tmp_path / "out"
    paths = RiffusionDownloadOperator(task_id="d", song_ids=[song["id"]], destination=str(dest)).execute(make_context())
    assert paths
    for p in paths:
        local = Path(to_storage_path(p).path)
        assert local.resolve().parent == dest.resolve() and "\x00" not in local.name and ".." not in local.name
    assert [p for p in tmp_path.rglob("*") if p.is_file() and dest not in p.parents] == []
