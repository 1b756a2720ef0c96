"""End-to-end tests of the AudioShake slice against the emulator (both APIs, sync and deferrable)."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.contract.audioshake import DASHBOARD_URL
from airflow_provider_music.core import JobFailedError, RateLimitError, RetryPolicy
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.audioshake_api import LostAnswerError
from airflow_provider_music.hooks.audioshake_jobs import JobsApi
from airflow_provider_music.operators.audioshake import (
    LEDGER_KEY,
    AudioShakeStemSeparationOperator,
    AudioShakeUploadOperator,
)
from airflow_provider_music.sensors.audioshake import AudioShakeJobSensor
from airflow_provider_music.testing.audio import write_sine_wav
from tests.audioshake.conftest import audioshake_conn
from tests.conftest import FakeTaskStateStore

pytestmark = pytest.mark.integration

STEMS = ["vocals", "drums", "bass", "other"]


@pytest.fixture
def song(tmp_path: Path) -> Path:
    return write_sine_wav(tmp_path / "in" / "my song.wav", seconds=0.5, freq=220.0)


def _op(tmp_path: Path, source, **kwargs) -> AudioShakeStemSeparationOperator:
    kwargs.setdefault("stems", STEMS)
    kwargs.setdefault("timeout", 30)
    return AudioShakeStemSeparationOperator(
        task_id="separate", source=source, destination=str(tmp_path / "out"), poll_interval=0.05, **kwargs
    )


def _run_trigger(trigger) -> dict:
    async def go():
        return [e async for e in trigger.run()]

    events = asyncio.run(go())
    assert len(events) == 1
    return events[0].payload


def _local(path: str) -> Path:
    return Path(path.removeprefix("file://"))


def _frames(path: Path) -> int:
    with wave.open(io.BytesIO(path.read_bytes())) as wav:
        return wav.getnframes()


def _creates(emu, api: str) -> int:
    return emu.count("POST", "/job/") if api == "jobs" else emu.count("POST", "/tasks")


def test_four_stem_separation_sync(api, music_emulator, tmp_path, song, make_context):
    ctx = make_context()
    result = _op(tmp_path, str(song)).execute(ctx)
    assert set(result["outputs"]) == set(STEMS)
    for stem, path in result["outputs"].items():
        local = _local(path)
        assert local == tmp_path / "out" / "my song" / f"{stem}.wav"
        assert local.stat().st_size > 44 and _frames(local) == _frames(song)
    # distinct stems are distinct audio derived from the source
    assert len({_local(p).read_bytes() for p in result["outputs"].values()}) == 4
    if api == "jobs":
        assert len(result["jobs"]) == 4 and music_emulator.count("POST", "/job/") == 4
        assert music_emulator.count("POST", "/upload/") == 1
    else:
        assert len(set(result["tasks"].values())) == 1 and music_emulator.count("POST", "/tasks") == 1
        assert music_emulator.count("POST", "/assets") == 1
    assert ctx["ti"].xcom_pushed["audioshake_url"] == DASHBOARD_URL  # a page a person can open
    assert ctx["task_state_store"].get("audioshake_separation")["api"] == api
    json.dumps(result)  # XCom-safe


def test_four_stem_separation_deferrable(api, music_emulator, tmp_path, song, make_context):
    store = FakeTaskStateStore()
    op = _op(tmp_path, str(song), deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context(store))
    assert deferred.value.method_name == "execute_complete"
    # the ids were persisted before deferring
    assert store.get("audioshake_separation")["sources"][0]["units"]
    event = _run_trigger(deferred.value.trigger)
    assert event["status"] == "success"
    # a fresh operator instance resumes (as on a worker after the triggerer fired)
    resumed = _op(tmp_path, str(song), deferrable=True)
    result = resumed.execute_complete(make_context(store), event=event, **(deferred.value.kwargs or {}))
    assert sorted(result["outputs"]) == sorted(STEMS)
    assert all(_local(p).stat().st_size > 0 for p in result["outputs"].values())
    assert _creates(music_emulator, api) == (4 if api == "jobs" else 1)


def test_one_stem_failing_downloads_the_others_then_retry_only_pays_for_it(
    api, music_emulator, tmp_path, song, make_context
):
    music_emulator.state.settings["audioshake.fail_stems"] = ["drums"]
    store = FakeTaskStateStore()
    with pytest.raises(JobFailedError) as failed:
        _op(tmp_path, str(song)).execute(make_context(store))
    message = str(failed.value)
    assert "1 of 4 failed: my song/drums" in message and "Separation of drums failed (emulated)" in message
    creates = _creates(music_emulator, api)

    # the Airflow retry: drums works now; only drums is submitted again, the asset is reused
    music_emulator.state.settings["audioshake.fail_stems"] = []
    result = _op(tmp_path, str(song)).execute(make_context(store))
    assert sorted(result["outputs"]) == sorted(STEMS)
    assert _creates(music_emulator, api) == creates + 1
    assert music_emulator.count("POST", "/upload/" if api == "jobs" else "/assets") == 1
    if api == "tasks":
        assert len(set(result["tasks"].values())) == 2


def test_crash_then_retry_creates_no_new_jobs(api, music_emulator, tmp_path, song, make_context, monkeypatch):
    store = FakeTaskStateStore()
    op = _op(tmp_path, str(song))

    def crash(*args, **kwargs):
        raise SystemExit("worker died")  # the worker dies while waiting

    monkeypatch.setattr(AudioShakeStemSeparationOperator, "_wait", crash)
    with pytest.raises(SystemExit):
        op.execute(make_context(store))
    monkeypatch.undo()
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, api))
    creates, uploads = _creates(music_emulator, api), music_emulator.count("POST", "/upload/") + music_emulator.count("POST", "/assets")
    assert creates == (4 if api == "jobs" else 1)

    result = _op(tmp_path, str(song)).execute(make_context(store))
    assert sorted(result["outputs"]) == sorted(STEMS)
    assert _creates(music_emulator, api) == creates
    assert music_emulator.count("POST", "/upload/") + music_emulator.count("POST", "/assets") == uploads

    # and once more after completion: nothing is created, the outputs are downloaded again
    again = _op(tmp_path, str(song), deferrable=True).execute(make_context(store))
    assert again["outputs"] == result["outputs"] and _creates(music_emulator, api) == creates


def test_crash_in_the_middle_of_submitting_reuses_created_jobs(music_emulator, tmp_path, song, make_context, monkeypatch):
    """The worker dies while POST /job/ for the third stem is under way: that job may exist (the legacy API
    cannot list jobs), so the retry fails saying so; the two created jobs and the asset are reused either way."""
    store = FakeTaskStateStore()
    real = JobsApi.create_job
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker died after two jobs")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(JobsApi, "create_job", flaky)
    with pytest.raises(SystemExit):
        _op(tmp_path, str(song)).execute(make_context(store))
    ledger = store.get(LEDGER_KEY)["sources"][0]
    assert len(ledger["units"]) == 2 and list(ledger["pending"]) == ["bass"]
    monkeypatch.setattr(JobsApi, "create_job", real)
    with pytest.raises(LostAnswerError, match="'bass' may have been created; ids unknown"):
        _op(tmp_path, str(song)).execute(make_context(store))
    assert music_emulator.count("POST", "/job/") == 2
    result = _op(tmp_path, str(song), recreate_on_lost_answer=True).execute(make_context(store))
    assert sorted(result["outputs"]) == sorted(STEMS)
    assert music_emulator.count("POST", "/job/") == 4
    assert music_emulator.count("POST", "/upload/") == 1


def test_deferrable_retry_after_crash_reconnects(api, music_emulator, tmp_path, song, make_context):
    store = FakeTaskStateStore()
    with pytest.raises(TaskDeferred):
        _op(tmp_path, str(song), deferrable=True).execute(make_context(store))
    creates = _creates(music_emulator, api)
    with pytest.raises(TaskDeferred) as again:  # the triggerer was lost; Airflow retries the task
        _op(tmp_path, str(song), deferrable=True).execute(make_context(store))
    assert _creates(music_emulator, api) == creates
    event = _run_trigger(again.value.trigger)
    result = _op(tmp_path, str(song), deferrable=True).execute_complete(make_context(store), event=event,
                                                                       **again.value.kwargs)
    assert sorted(result["outputs"]) == sorted(STEMS)


def test_malicious_output_name_stays_inside_destination(api, music_emulator, tmp_path, song, make_context):
    music_emulator.state.settings["audioshake.output_names"] = {"vocals": "../../x.wav", "drums": "/etc/evil.wav"}
    result = _op(tmp_path, str(song), stems=["vocals", "drums"]).execute(make_context())
    out = tmp_path / "out" / "my song"
    vocals, drums = _local(result["outputs"]["vocals"]), _local(result["outputs"]["drums"])
    assert vocals.parent == out and vocals.name.startswith("x") and vocals.suffix == ".wav"
    assert drums.parent == out and drums.name.startswith("evil") and drums.suffix == ".wav"
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "out" / "x.wav").exists()
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.wav")) == sorted(
        ["in/my song.wav", f"out/my song/{vocals.name}", f"out/my song/{drums.name}"]
    )


def test_lyric_jobs_save_json_and_srt(api, music_emulator, tmp_path, song, make_context):
    op = _op(tmp_path, str(song), stems=["transcription", "alignment"], lyrics_format="json", language="en")
    result = op.execute(make_context())
    body = json.loads(_local(result["outputs"]["alignment"]).read_text())
    assert body["lines"][0]["words"]
    assert _local(result["outputs"]["transcription"]).name == "transcription.json"
    srt = _op(tmp_path, str(song), stems=["transcription"], lyrics_format="srt", source_name="srt").execute(make_context())
    assert "-->" in _local(srt["outputs"]["transcription"]).read_text()


def test_legacy_all_format_and_residual(music_emulator, tmp_path, song, make_context):
    result = _op(tmp_path, str(song), stems=["transcription"], lyrics_format="all").execute(make_context())
    assert sorted(Path(p).name for p in result["files"]["transcription"]) == [
        "transcription.json", "transcription.srt", "transcription.txt"]
    res = _op(tmp_path, str(song), stems=["vocals"], residual=True, source_name="res").execute(make_context())
    assert sorted(Path(p).name for p in res["files"]["vocals"]) == ["vocals.wav", "vocals_residual.wav"]
    assert res["outputs"]["vocals"].endswith("/vocals.wav")


def test_source_layout_and_legacy_metadata_quirks(music_emulator, tmp_path, song, make_context):
    music_emulator.state.settings.update({"audioshake.output_layout": "source", "audioshake.legacy_metadata": True,
                                          "audioshake.processing_status": "transmogrifying"})
    result = _op(tmp_path, str(song), stems=["instrumental"]).execute(make_context())
    assert _local(result["outputs"]["instrumental"]).stat().st_size > 44


def test_unknown_status_until_timeout_then_retry_reconnects(api, music_emulator, tmp_path, song, make_context):
    from airflow_provider_music.core import JobTimeoutError

    music_emulator.state.settings.update({"audioshake.job_seconds": 30, "audioshake.processing_status": "mystery"})
    store = FakeTaskStateStore()
    with pytest.raises(JobTimeoutError):
        _op(tmp_path, str(song), stems=["vocals"], timeout=0.2).execute(make_context(store))
    creates = _creates(music_emulator, api)
    music_emulator.state.settings["audioshake.job_seconds"] = 0
    result = _op(tmp_path, str(song), stems=["vocals"]).execute(make_context(store))
    assert "vocals" in result["outputs"] and _creates(music_emulator, api) == creates


def test_object_storage_source_and_destination(api, music_emulator, tmp_path, song, make_context):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    dest = ObjectStoragePath(f"file://{tmp_path}/store/stems/")
    op = AudioShakeStemSeparationOperator(task_id="s", source=ObjectStoragePath(f"file://{song}"), destination=dest,
                                          stems=["vocals"], poll_interval=0.05, timeout=30)
    result = op.execute(make_context())
    out = ObjectStoragePath(result["outputs"]["vocals"])
    assert result["outputs"]["vocals"] == f"{tmp_path}/store/stems/my song/vocals.wav"  # local: a plain path
    assert out.parent.name == "my song" and out.stat().st_size > 44


def test_url_and_asset_sources(api, music_emulator, tmp_path, song, make_context):
    url = "https://cdn.example.com/audio/track-01.mp3?token=abc"
    result = _op(tmp_path, url, stems=["vocals"]).execute(make_context())
    assert _local(result["outputs"]["vocals"]).parent.name == "track-01"
    if api == "jobs":
        assert music_emulator.count("POST", "/upload/link") == 1
    else:
        assert result["url"] == "https://cdn.example.com/audio/track-01.mp3" and result["asset_id"] is None
        assert "token=abc" not in json.dumps(result)
    asset_id = AudioShakeUploadOperator(task_id="up", source=str(song)).execute(make_context())
    again = _op(tmp_path, asset_id, stems=["bass"]).execute(make_context())
    assert again["asset_id"] == asset_id
    assert _local(again["outputs"]["bass"]).parent.name == asset_id


def test_upload_operator_link_and_tasks_rejects_link(api, music_emulator, make_context):
    op = AudioShakeUploadOperator(task_id="up", source="https://example.com/a.mp3", name="song")
    if api == "jobs":
        ctx = make_context()
        assert len(op.execute(ctx)) >= 8
        assert ctx["ti"].xcom_pushed["asset"]["id"]
    else:
        with pytest.raises(ValueError, match="Tasks API has no link upload"):
            op.execute(make_context())


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_completes_and_fails(api, music_emulator, song, make_context, deferrable):
    hook = AudioShakeHook()
    if api == "jobs":
        asset = hook.jobs.upload_file(str(song))["id"]
        ids = [hook.jobs.create_job(asset, name=s, format="wav")["id"] for s in ("vocals", "drums")]
        sensor = AudioShakeJobSensor(task_id="wait", job_ids=ids, poke_interval=0.05, timeout=20, deferrable=deferrable)
    else:
        asset = hook.tasks.upload_asset(str(song))["id"]
        task = hook.tasks.create_task(asset, [{"model": "vocals", "formats": ["wav"]}, {"model": "drums", "formats": ["wav"]}])
        sensor = AudioShakeJobSensor(task_id="wait", audioshake_task_id=task["id"], poke_interval=0.05, timeout=20,
                                     deferrable=deferrable)
    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(make_context())
        event = _run_trigger(deferred.value.trigger)
        value = sensor.execute_complete(make_context(), event)
    else:
        value = sensor.execute(make_context())
    assert {v["state"] for v in value["items"].values()} == {"success"}
    assert set(value["items"]) == {"vocals", "drums"}


def test_sensor_fails_with_status_info(api, music_emulator, song, make_context):
    from airflow_provider_music.core import WatchedJobFailedError

    music_emulator.state.settings["audioshake.fail_stems"] = ["drums"]
    hook = AudioShakeHook()
    if api == "jobs":
        asset = hook.jobs.upload_file(str(song))["id"]
        kwargs = {"job_ids": ",".join(hook.jobs.create_job(asset, name=s, format="wav")["id"] for s in ("vocals", "drums"))}
    else:
        asset = hook.tasks.upload_asset(str(song))["id"]
        kwargs = {"audioshake_task_id": hook.tasks.create_task(asset, [{"model": "drums", "formats": ["wav"]}])["id"]}
    sensor = AudioShakeJobSensor(task_id="wait", poke_interval=0.05, timeout=20, mode="reschedule", **kwargs)
    assert sensor.poke(make_context()).is_done is False  # still running: reschedule mode gives the slot back
    music_emulator.state.settings["audioshake.job_seconds"] = 0
    with pytest.raises(WatchedJobFailedError, match="Separation of drums failed"):
        sensor.poke(make_context())


def test_rate_limit_429_is_retried_with_retry_after_then_surfaces(music_emulator, instant_retries):
    music_emulator.state.settings["audioshake.rate_limit"] = 2  # documented 429 above a request rate
    hook = AudioShakeHook(retry_policy=RetryPolicy(max_attempts=3))
    hook.check_connection()
    hook.check_connection()
    with pytest.raises(RateLimitError) as limited:
        hook.check_connection()  # 3rd request within a second: 429, retried (instantly here), then raised
    assert limited.value.retry_after == 1.0
    assert len(instant_retries) == 2 and all(w >= 1.0 for w in instant_retries)  # Retry-After honoured
    assert music_emulator.count("GET", "/usage") == 5
    music_emulator.state.settings["audioshake.rate_limit"] = None  # off by default
    for _ in range(5):
        hook.check_connection()


def test_hook_against_emulator_tasks_listing_models_and_connection(music_emulator, monkeypatch, song):
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))
    hook = AudioShakeHook()
    assert hook.test_connection()[0] is True
    models = {m["id"] for m in hook.tasks.list_models()}
    assert {"vocals", "transcription", "music_detection"} <= models
    asset = hook.tasks.upload_asset(str(song))["id"]
    created = hook.tasks.create_task(asset, [{"model": "bass", "formats": ["wav"]}], metadata="m-1")
    assert hook.tasks.list_tasks(skip=0, take=5)[0]["id"] == created["id"]
    assert hook.tasks.find_task("m-1")["id"] == created["id"]
    assert AudioShakeHook(audioshake_conn_id="audioshake_default").tasks.get_task(created["id"])["targets"][0]["model"] == "bass"


def test_legacy_connection_test_and_wrong_token(music_emulator, monkeypatch):
    assert AudioShakeHook().test_connection()[0] is True
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, token="nope"))
    ok, message = AudioShakeHook().test_connection()
    assert not ok and "401" in message and "nope" not in message
