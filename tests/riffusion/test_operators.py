"""Operators against the emulator: upload -> wait -> compose -> wait -> download, deferrable or not,
the copyright gate, crash-safe retries and safe output names."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.core import InvalidInputError, JobFailedError, JobTimeoutError, MusicApiError
from airflow_provider_music.hooks.riffusion import RiffusionCopyrightMatchError, RiffusionModerationError
from airflow_provider_music.operators.riffusion import (
    RiffusionComposeOperator,
    RiffusionDownloadOperator,
    RiffusionSongLink,
    RiffusionUploadAudioOperator,
)
from airflow_provider_music.testing.audio import write_sine_wav
from airflow_provider_music.triggers.riffusion import RiffusionSongTrigger, RiffusionUploadAudioTrigger
from tests.conftest import FakeTaskStateStore

CREATE_PROMPT = "/v1/riffusion/music/create-prompt"
CREATE_COMPOSE = "/v1/riffusion/music/create-compose"


def _run_trigger(trigger):
    import asyncio

    async def first():
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(first())


def _resume(op, context, exc_info):
    """Run the deferred trigger to its event and call the resume method, like the triggerer + worker."""
    deferred = exc_info.value
    event = _run_trigger(deferred.trigger)
    assert json.loads(json.dumps(event)) == event  # crosses the DB as JSON
    return getattr(op, deferred.method_name)(context, event=event, **(deferred.kwargs or {}))


@pytest.mark.parametrize("deferrable", [False, True])
def test_pipeline_upload_compose_download(music_emulator, make_context, tmp_path, deferrable):
    src = write_sine_wav(tmp_path / "my-track.wav", 0.3)
    ctx = make_context()
    upload_op = RiffusionUploadAudioOperator(task_id="upload", source=str(src), deferrable=deferrable, poll_interval=0.05,
                                             timeout=20)
    if deferrable:
        with pytest.raises(TaskDeferred) as exc:
            upload_op.execute(ctx)
        assert isinstance(exc.value.trigger, RiffusionUploadAudioTrigger)
        upload = _resume(upload_op, ctx, exc)
    else:
        upload = upload_op.execute(ctx)
    assert upload["status"] == "complete" and upload["is_flagged"] is False and upload["matches"] == []
    assert upload["lyrics"] and ctx["ti"].xcom_pushed["audio_upload_id"] == upload["audio_upload_id"]

    compose = RiffusionComposeOperator(
        task_id="compose", mode="compose", deferrable=deferrable, poll_interval=0.05, timeout=20,
        prompts=[{"prompt": "Drum & bass", "strength": 70, "start": 0, "end": 50}, {"prompt": "80s new wave", "start": 50, "end": 100}],
        lyrics="hello world", title="My Song", audio_upload_id=upload["audio_upload_id"],
    )
    if deferrable:
        with pytest.raises(TaskDeferred) as exc:
            compose.execute(ctx)
        assert isinstance(exc.value.trigger, RiffusionSongTrigger)
        assert ctx["task_state_store"].get("riffusion_compose_jobs")["job_ids"] == exc.value.trigger.target["job_ids"]
        result = _resume(compose, ctx, exc)
    else:
        result = compose.execute(ctx)
    assert len(result["song_ids"]) == 2 and len(result["job_ids"]) == 2
    song = result["songs"][0]
    assert song["title"] == "My Song" and song["duration_s"] == 2.0 and song["download_url"] and song["share_url"]
    assert ctx["ti"].xcom_pushed["job_ids"] == result["job_ids"]
    assert ctx["ti"].xcom_pushed["riffusion_share_url"] == song["share_url"]
    assert music_emulator.count("POST", CREATE_COMPOSE) == 1
    body = music_emulator.state.apis["riffusion"].create_bodies[0]
    assert body["replyRef"] == "airflow:test_dag:compose:manual__test:-1"
    assert body["prompt_1_strength"] == 70 and body["audio_upload_id"] == upload["audio_upload_id"]

    dest = tmp_path / "out"
    paths = RiffusionDownloadOperator(task_id="dl", song_ids=result, destination=str(dest)).execute(ctx)
    assert len(paths) == 2
    for path in paths:
        local = Path(path.replace("file://", ""))
        assert local.parent == dest and local.suffix == ".m4a" and "My_Song" in local.name
        with wave.open(str(local)) as wav:  # real audio bytes
            assert wav.getnframes() > 0
    # the token never went to the download_url host
    assert all(r["authorization"] is None for r in music_emulator.state.apis["riffusion"].cdn_requests)


def test_prompt_mode_and_legacy_revision(music_emulator, make_context):
    music_emulator.state.settings["riffusion.revision"] = "2025-02-17"
    ctx = make_context()
    op = RiffusionComposeOperator(task_id="p", prompt="jazzy k-pop song", instrumental=True, poll_interval=0.05, timeout=20)
    result = op.execute(ctx)
    assert len(result["job_ids"]) == 1 and len(result["song_ids"]) == 2  # one job_id, two songs
    assert all(s["status"] == "completed" for s in result["songs"])


def test_no_wait_returns_ids(music_emulator, make_context):
    op = RiffusionComposeOperator(task_id="p", prompt="x", wait_for_completion=False)
    result = op.execute(make_context())
    assert len(result["job_ids"]) == 2 and result["songs"] == []


@pytest.mark.parametrize("formats", ["mp3", "wav", "stems"])
def test_download_formats(music_emulator, make_context, tmp_path, formats):
    result = RiffusionComposeOperator(task_id="p", prompt="x", poll_interval=0.05, timeout=20).execute(make_context())
    paths = RiffusionDownloadOperator(task_id="d", song_ids=result["song_ids"][:1], destination=tmp_path,
                                      download_format=formats).execute(make_context())
    if formats == "stems":
        assert sorted(Path(p).name for p in paths) == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    else:
        assert len(paths) == 1 and paths[0].endswith(f".{formats}")
    assert all(Path(p.replace("file://", "")).stat().st_size > 44 for p in paths)


def test_download_names_are_safe(music_emulator, make_context, tmp_path):
    hook_result = RiffusionComposeOperator(task_id="p", mode="compose", prompts=["x"], title="../../etc/passwd\x00",
                                           poll_interval=0.05, timeout=20).execute(make_context())
    paths = RiffusionDownloadOperator(task_id="d", song_ids=json.dumps(hook_result["song_ids"]),
                                      destination=tmp_path / "safe").execute(make_context())
    for path in paths:
        local = Path(path.replace("file://", ""))
        assert local.parent == tmp_path / "safe" and ".." not in local.name


def test_download_refuses_unfinished_songs(music_emulator, make_context, tmp_path):
    music_emulator.state.settings["riffusion.job_seconds"] = 60
    result = RiffusionComposeOperator(task_id="p", prompt="x", wait_for_completion=False).execute(make_context())
    with pytest.raises(MusicApiError, match="not completed"):
        RiffusionDownloadOperator(task_id="d", song_ids=result["job_ids"], destination=tmp_path).execute(make_context())
    with pytest.raises(InvalidInputError, match="download_format"):
        RiffusionDownloadOperator(task_id="d", song_ids="a", download_format="flac")


# ---- copyright gate ----------------------------------------------------------------------------
def test_copyright_gate(music_emulator, make_context, tmp_path):
    music_emulator.state.settings["riffusion.audible_magic"] = "match"
    src = write_sine_wav(tmp_path / "cover.wav", 0.2)
    op = RiffusionUploadAudioOperator(task_id="u", source=src, poll_interval=0.05, timeout=20, fail_on_copyright_match=True)
    with pytest.raises(RiffusionCopyrightMatchError, match="Famous Song by Famous Artist"):
        op.execute(make_context())
    allowed = RiffusionUploadAudioOperator(task_id="u2", source=src, poll_interval=0.05, timeout=20).execute(make_context())
    assert allowed["is_flagged"] is True and allowed["matches"][0]["isrc"] == "USRC17607839"


def test_copyright_gate_flag_only(music_emulator, make_context, tmp_path):
    music_emulator.state.settings["riffusion.upload_flagged"] = True
    src = write_sine_wav(tmp_path / "x.wav", 0.2)
    op = RiffusionUploadAudioOperator(task_id="u", source=src, wait_for_completion=False, fail_on_copyright_match=True)
    with pytest.raises(RiffusionCopyrightMatchError, match="flagged"):
        op.execute(make_context())


def test_upload_failure_and_timeout(music_emulator, make_context, tmp_path):
    src = write_sine_wav(tmp_path / "x.wav", 0.2)
    music_emulator.state.settings["riffusion.upload_outcome"] = "failed"
    with pytest.raises(JobFailedError):
        RiffusionUploadAudioOperator(task_id="u", source=src, poll_interval=0.05, timeout=20).execute(make_context())
    music_emulator.state.settings["riffusion.upload_outcome"] = "pending"
    with pytest.raises(JobTimeoutError):
        RiffusionUploadAudioOperator(task_id="u", source=src, poll_interval=0.05, timeout=0.3).execute(make_context())


# ---- failures ------------------------------------------------------------------------------------
def test_failed_song_fails_task(music_emulator, make_context):
    music_emulator.state.settings["riffusion.song_outcome"] = "failed"
    with pytest.raises(JobFailedError, match="failed"):
        RiffusionComposeOperator(task_id="p", prompt="x", poll_interval=0.05, timeout=20).execute(make_context())
    op = RiffusionComposeOperator(task_id="p2", prompt="x", deferrable=True, poll_interval=0.05, timeout=20)
    ctx = make_context()
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    with pytest.raises(JobFailedError, match="failed"):
        _resume(op, ctx, exc)


def test_moderation_and_596_fail_without_retry(music_emulator, make_context):
    with pytest.raises(RiffusionModerationError):
        RiffusionComposeOperator(task_id="p", prompt="a forbidden song").execute(make_context())
    music_emulator.state.apis["riffusion"].mark_broken()
    from airflow_provider_music.hooks.riffusion import RiffusionAccountPendingError

    with pytest.raises(RiffusionAccountPendingError):
        RiffusionComposeOperator(task_id="p", prompt="fine").execute(make_context())
    assert music_emulator.count("POST", CREATE_PROMPT) == 2


def test_compose_bad_input_before_any_request(music_emulator, make_context):
    bad = [
        dict(mode="prompt"),
        dict(mode="compose"),
        dict(mode="compose", prompts=[{"prompt": "x", "strength": 5}]),
        dict(mode="prompt", prompt="x", max_jobs=20),
        dict(mode="prompt", prompt="x", reply_url="https://x/" + "a" * 1100),
        dict(mode="compose", prompts=["x"], instrumental=True),
    ]
    for kwargs in bad:
        with pytest.raises(InvalidInputError):
            RiffusionComposeOperator(task_id="p", **kwargs).execute(make_context())
    with pytest.raises(InvalidInputError, match="mode"):
        RiffusionComposeOperator(task_id="p", mode="remix")
    assert music_emulator.count("POST", CREATE_PROMPT) == 0 and music_emulator.count("POST", CREATE_COMPOSE) == 0


def test_429_queue_full_is_retried(music_emulator, make_context, instant_retries):
    music_emulator.add_fault(path=CREATE_PROMPT + "$", status=429, times=1)
    result = RiffusionComposeOperator(task_id="p", prompt="x", poll_interval=0.05, timeout=20).execute(make_context())
    assert len(result["song_ids"]) == 2 and instant_retries and instant_retries[0] >= 10


# ---- crash safety --------------------------------------------------------------------------------
def test_retry_after_crash_in_sync_mode_reconnects(music_emulator, make_context, monkeypatch):
    """Worker dies while polling; the Airflow retry reconnects through task_state_store."""
    store = FakeTaskStateStore()
    from airflow_provider_music.operators import riffusion as ops

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as m:
        m.setattr(ops.MusicJobOperator, "_wait", crash)
        with pytest.raises(SystemExit):
            RiffusionComposeOperator(task_id="compose", prompt="x", poll_interval=0.05, timeout=20).execute(make_context(store))
    assert music_emulator.count("POST", CREATE_PROMPT) == 1
    result = RiffusionComposeOperator(task_id="compose", prompt="x", poll_interval=0.05, timeout=20).execute(make_context(store))
    assert len(result["song_ids"]) == 2
    assert music_emulator.count("POST", CREATE_PROMPT) == 1  # no second generation
    # a third try after success returns the same songs without creating
    again = RiffusionComposeOperator(task_id="compose", prompt="x", poll_interval=0.05, timeout=20).execute(make_context(store))
    assert again["song_ids"] == result["song_ids"] and music_emulator.count("POST", CREATE_PROMPT) == 1


def test_retry_after_crash_while_deferred(music_emulator, make_context):
    store = FakeTaskStateStore()
    op = RiffusionComposeOperator(task_id="compose", prompt="x", deferrable=True, poll_interval=0.05, timeout=20)
    with pytest.raises(TaskDeferred) as first:
        op.execute(make_context(store))
    # the triggerer never resumed the task (crash); Airflow retries it
    op2 = RiffusionComposeOperator(task_id="compose", prompt="x", deferrable=True, poll_interval=0.05, timeout=20)
    ctx = make_context(store)
    with pytest.raises(TaskDeferred) as second:
        op2.execute(ctx)
    assert second.value.trigger.target == first.value.trigger.target
    assert music_emulator.count("POST", CREATE_PROMPT) == 1
    assert len(_resume(op2, ctx, second)["song_ids"]) == 2


def test_retry_without_task_state_store_finds_job_by_reply_ref(music_emulator, make_context, monkeypatch):
    """Airflow < 3.3: no task_state_store; the retry finds the running job in GET scheduler by replyRef."""
    from airflow_provider_music.operators import riffusion as ops

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as m:
        m.setattr(ops.MusicJobOperator, "_wait", crash)
        with pytest.raises(SystemExit):
            RiffusionComposeOperator(task_id="compose", prompt="x", timeout=20).execute(make_context(task_state_store=None))
    retry_ctx = make_context(task_state_store=None)
    retry_ctx["ti"].try_number = 2  # Airflow's retry
    result = RiffusionComposeOperator(task_id="compose", prompt="x", poll_interval=0.05, timeout=20).execute(retry_ctx)
    assert len(result["song_ids"]) == 2
    assert music_emulator.count("POST", CREATE_PROMPT) == 1
    assert music_emulator.count("GET", "/v1/riffusion/scheduler") >= 1


def test_ambiguous_create_failure_does_not_pay_twice(music_emulator, make_context):
    """The create was processed but its answer was lost (502): the operator finds the job, no re-POST."""
    music_emulator.state.settings["riffusion.lose_create_answers"] = 1
    result = RiffusionComposeOperator(task_id="compose", prompt="x", poll_interval=0.05, timeout=20).execute(make_context())
    assert len(result["song_ids"]) == 2
    assert music_emulator.count("POST", CREATE_PROMPT) == 1
    assert len(music_emulator.state.apis["riffusion"].songs) == 2


def test_extra_link(monkeypatch):
    calls = {}

    class FakeXCom:
        @staticmethod
        def get_value(*, key, ti_key):
            calls["key"] = key
            return "https://www.riffusion.com/riff/abc"

    from airflow_provider_music.operators import base

    monkeypatch.setattr(base, "XCom", FakeXCom)
    link = RiffusionSongLink()
    assert link.get_link(None, ti_key="k") == "https://www.riffusion.com/riff/abc"  # type: ignore[arg-type]
    assert calls["key"] == "riffusion_share_url" and link.name == "Riffusion song"
