"""Triggers (completion, failure, timeout, errors), async hook methods and sensors."""

from __future__ import annotations

import json
import time

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_music.core import InvalidInputError, WatchedJobFailedError
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.sensors.riffusion import RiffusionSongSensor, RiffusionUploadAudioSensor
from airflow_provider_music.testing.audio import write_sine_wav
from airflow_provider_music.triggers.riffusion import RiffusionSongTrigger, RiffusionUploadAudioTrigger
from tests.conftest import SECRET_TOKEN


async def _events(trigger):
    return [e.payload async for e in trigger.run()]


def test_trigger_serialization_is_json():
    trigger = RiffusionSongTrigger(conn_id="riffusion_default", target={"job_ids": ["a", "b"], "user_id": None},
                                   poll_interval=5, deadline=123.0)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_music.triggers.riffusion.RiffusionSongTrigger"
    json.dumps(kwargs)
    assert RiffusionSongTrigger(**kwargs).serialize() == (path, kwargs)


@pytest.mark.asyncio
async def test_song_trigger_completion(music_emulator):
    ids = RiffusionHook().create_prompt("lofi beats")
    trigger = RiffusionSongTrigger(conn_id="riffusion_default", target={"job_ids": ids, "user_id": None},
                                   poll_interval=0.05, deadline=time.time() + 20)
    events = await _events(trigger)
    assert len(events) == 1 and events[0]["status"] == "success"
    assert events[0]["payload"]["song_ids"] == ids
    assert all(s["download_url"] for s in events[0]["payload"]["songs"])
    assert SECRET_TOKEN not in json.dumps(events) and "emulator-token" not in json.dumps(events)


@pytest.mark.asyncio
async def test_song_trigger_failure(music_emulator):
    music_emulator.state.settings["riffusion.song_outcome"] = "failed"
    ids = RiffusionHook().create_prompt("lofi beats")
    trigger = RiffusionSongTrigger(conn_id="riffusion_default", target={"job_ids": ids, "user_id": None},
                                   poll_interval=0.05, deadline=time.time() + 20)
    events = await _events(trigger)
    assert events[0]["status"] == "failed" and "failed" in events[0]["message"]


@pytest.mark.asyncio
async def test_song_trigger_timeout(music_emulator):
    music_emulator.state.settings["riffusion.job_seconds"] = 60
    ids = RiffusionHook().create_prompt("lofi beats")
    trigger = RiffusionSongTrigger(conn_id="riffusion_default", target={"job_ids": ids, "user_id": None},
                                   poll_interval=0.05, deadline=time.time() + 0.3)
    events = await _events(trigger)
    assert events[0]["status"] == "timeout" and ids[0] in events[0]["message"]


@pytest.mark.asyncio
async def test_song_trigger_596_is_error_event(music_emulator):
    ids = RiffusionHook().create_prompt("lofi beats")
    music_emulator.state.apis["riffusion"].mark_broken()
    trigger = RiffusionSongTrigger(conn_id="riffusion_default", target={"job_ids": ids, "user_id": None},
                                   poll_interval=0.05, deadline=time.time() + 10)
    events = await _events(trigger)
    assert events[0]["status"] == "error" and "596" in events[0]["message"] and "accounts" in events[0]["message"]


@pytest.mark.asyncio
async def test_song_trigger_survives_transient_errors(music_emulator):
    ids = RiffusionHook().create_prompt("lofi beats")
    music_emulator.add_fault(path="/v1/riffusion/music/$", status=503, times=3)
    trigger = RiffusionSongTrigger(conn_id="riffusion_default", target={"job_ids": ids, "user_id": None},
                                   poll_interval=0.05, deadline=time.time() + 20)
    events = await _events(trigger)
    assert events[0]["status"] == "success"


@pytest.mark.asyncio
async def test_upload_trigger_completion_and_failure(music_emulator, tmp_path):
    hook = RiffusionHook()
    src = write_sine_wav(tmp_path / "in.wav", 0.2)
    upload = hook.upload_audio(src)
    trigger = RiffusionUploadAudioTrigger(conn_id="riffusion_default", target={"upload_id": upload["id"], "user_id": None},
                                          poll_interval=0.05, deadline=time.time() + 20)
    events = await _events(trigger)
    assert events[0]["status"] == "success" and events[0]["payload"]["status"] == "complete"
    music_emulator.state.settings["riffusion.upload_outcome"] = "failed"
    upload = hook.upload_audio(src)
    trigger = RiffusionUploadAudioTrigger(conn_id="riffusion_default", target={"upload_id": upload["id"], "user_id": None},
                                          poll_interval=0.05, deadline=time.time() + 20)
    assert (await _events(trigger))[0]["status"] == "failed"


@pytest.mark.asyncio
async def test_async_methods_against_emulator(music_emulator, tmp_path):
    # aioresponses does not support the installed aiohttp; the emulator is a real HTTP server instead
    from airflow_provider_music.testing.riffusion import DEFAULT_USER_ID

    hook = RiffusionHook()
    ids = hook.create_prompt("lofi")
    upload = hook.upload_audio(write_sine_wav(tmp_path / "x.wav", 0.2))
    songs = await hook.aget_music(ids[0], user_id=DEFAULT_USER_ID)
    assert songs[0]["id"] == ids[0] and songs[0]["status"] == "processing"
    assert (await hook.asong_status(ids)).state == "running"
    assert (await hook.aupload_status(upload["id"])).state == "running"
    assert (await hook.aget_upload_audio(upload["id"]))["audio_upload_id"] == upload["audio_upload_id"]


# ---- sensors ---------------------------------------------------------------------------------------
def test_song_sensor_poke(music_emulator, make_context):
    ids = RiffusionHook().create_prompt("lofi")
    sensor = RiffusionSongSensor(task_id="s", job_ids=ids, poke_interval=0.05, timeout=20)
    assert sensor.poke(make_context()).is_done is False
    music_emulator.state.settings["riffusion.job_seconds"] = 0  # the emulator's clock moves on
    done = sensor.poke(make_context())
    assert done.is_done and done.xcom_value["song_ids"] == ids


def test_song_sensor_failure_fails_task(music_emulator, make_context):
    music_emulator.state.settings["riffusion.song_outcome"] = "failed"
    music_emulator.state.settings["riffusion.job_seconds"] = 0
    ids = RiffusionHook().create_prompt("lofi")
    sensor = RiffusionSongSensor(task_id="s", job_ids=ids)
    with pytest.raises(WatchedJobFailedError, match="failed"):
        sensor.poke(make_context())


def test_song_sensor_deferrable(music_emulator, make_context):
    ids = RiffusionHook().create_prompt("lofi")
    sensor = RiffusionSongSensor(task_id="s", job_ids=ids, deferrable=True, poke_interval=0.05, timeout=30)
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute(make_context())
    assert isinstance(exc.value.trigger, RiffusionSongTrigger)
    assert exc.value.trigger.target == {"job_ids": ids, "user_id": None}
    assert exc.value.trigger.deadline is not None and exc.value.trigger.deadline > time.time()
    event = {"status": "success", "message": "ok", "target": {}, "payload": {"song_ids": ids}}
    assert sensor.execute_complete(make_context(), event) == {"song_ids": ids}
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(make_context(), {"status": "timeout", "message": "late"})
    with pytest.raises(WatchedJobFailedError):
        sensor.execute_complete(make_context(), {"status": "failed", "message": "bad"})


def test_upload_sensor_default_timeout_and_modes(music_emulator, make_context, tmp_path):
    sensor = RiffusionUploadAudioSensor(task_id="u", upload_id="A:T")
    assert sensor.timeout == 600
    upload = RiffusionHook().upload_audio(write_sine_wav(tmp_path / "x.wav", 0.2))
    sensor = RiffusionUploadAudioSensor(task_id="u", upload_id=upload["id"], mode="reschedule", poke_interval=0.05)
    assert sensor.poke(make_context()).is_done is False
    music_emulator.state.settings["riffusion.job_seconds"] = 0  # the emulator's clock moves on
    assert sensor.poke(make_context()).xcom_value["status"] == "complete"
    deferred = RiffusionUploadAudioSensor(task_id="u2", upload_id=upload["id"], deferrable=True)
    assert deferred.execute(make_context())["status"] == "complete"  # already done: no deferral


def test_sensor_bad_input():
    with pytest.raises(InvalidInputError):
        RiffusionSongSensor(task_id="s", job_ids=[]).target()
    with pytest.raises(InvalidInputError):
        RiffusionUploadAudioSensor(task_id="u", upload_id="").target()
