"""Issue 21 §5, Riffusion: a song or upload status this package does not know is never a success and never a
failure the service may still finish: every wait (operator sync, operator deferred, sensor poke) keeps
polling with one warning per state, succeeds when the job then completes, and times out naming the state."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_music.contract.riffusion import parse_song_status, parse_upload_status, song_state
from airflow_provider_music.core.errors import JobTimeoutError
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator, RiffusionUploadAudioOperator
from airflow_provider_music.sensors.riffusion import RiffusionSongSensor, RiffusionUploadAudioSensor
from airflow_provider_music.testing.audio import write_sine_wav
from tests.support.waits import (  # noqa: F401 (fixtures)
    WAITS,
    _no_settle,
    no_settle,
    record_wait_warnings,
    sensor_poke,
    unknown_warnings,
    wait_warnings,
)

HOSTILE_STATES = ["rejected", "moderated", "copyright_blocked", "mastering", "COMPLETE_WITH_ERRORS", "??", "1"]


@pytest.mark.parametrize("status", HOSTILE_STATES)
def test_unknown_song_and_upload_states_keep_running_and_are_named(status):
    upload = parse_upload_status({"id": "u", "status": status})
    assert upload.state == "running" and upload.unknown and repr(status) in upload.message
    assert song_state({"status": status}) == "running"
    songs = parse_song_status(["j"], {"j": [{"id": "s1", "status": status}, {"id": "s2", "status": "completed"}]})
    assert songs.state == "running" and len(songs.unknown) == 1 and repr(status) in songs.message


def test_known_states_carry_no_warning():
    for status in ("pending", "complete", "failed", None):
        assert not parse_upload_status({"id": "u", "status": status}).unknown
    assert not parse_song_status(["j"], {"j": [{"id": "s", "status": "processing"}]}).unknown


def _compose(deferrable: bool, timeout: float) -> RiffusionComposeOperator:
    return RiffusionComposeOperator(task_id="c", prompt="calm piano", poll_interval=0.05, timeout=timeout,
                                    deferrable=deferrable)


def _upload(tmp_path: Any, deferrable: bool, timeout: float) -> RiffusionUploadAudioOperator:
    return RiffusionUploadAudioOperator(task_id="u", source=str(write_sine_wav(tmp_path / "a.wav", 0.1)),
                                        poll_interval=0.05, timeout=timeout, deferrable=deferrable)


@pytest.mark.parametrize("wait", list(WAITS))
def test_unknown_song_state_then_completed_succeeds(music_emulator, make_context, wait_warnings, wait):
    music_emulator.state.settings.update({"riffusion.processing_status": "mastering", "riffusion.job_seconds": 1.5})
    out = WAITS[wait](_compose(wait == "deferred", 30), make_context())
    assert len(out["song_ids"]) == 2 and all(s["status"] == "completed" for s in out["songs"])
    assert 1 <= len(unknown_warnings(wait_warnings, "mastering")) <= 2 * (2 if wait == "deferred" else 1)


@pytest.mark.parametrize("wait", list(WAITS))
def test_unknown_song_state_until_the_deadline_times_out_naming_it(music_emulator, make_context, wait_warnings, wait):
    music_emulator.state.settings.update({"riffusion.processing_status": "mastering", "riffusion.job_seconds": 600})
    with pytest.raises(JobTimeoutError, match="unknown state 'mastering'"):
        WAITS[wait](_compose(wait == "deferred", 0.5), make_context())
    assert len(unknown_warnings(wait_warnings, "mastering")) <= 2 * (2 if wait == "deferred" else 1)  # not one per poll


@pytest.mark.parametrize("wait", list(WAITS))
def test_unknown_upload_state_then_complete_succeeds(music_emulator, make_context, tmp_path, wait_warnings, wait):
    music_emulator.state.settings.update({"riffusion.upload_pending_status": "transcribing",
                                          "riffusion.job_seconds": 1.5})
    out = WAITS[wait](_upload(tmp_path, wait == "deferred", 30), make_context())
    assert out["status"] == "complete"
    assert 1 <= len(unknown_warnings(wait_warnings, "transcribing")) <= (2 if wait == "deferred" else 1)


@pytest.mark.parametrize("wait", list(WAITS))
@pytest.mark.parametrize("status", ["rejected", "moderated"])
def test_unknown_upload_state_until_the_deadline_times_out_naming_it(music_emulator, make_context, tmp_path, wait,
                                                                     status):
    music_emulator.state.settings.update({"riffusion.upload_outcome": status, "riffusion.job_seconds": 0})
    with pytest.raises(JobTimeoutError, match=f"unknown state '{status}'.*usable"):
        WAITS[wait](_upload(tmp_path, wait == "deferred", 0.5), make_context())


def test_sensors_poke_through_unknown_states_then_succeed(music_emulator, make_context, tmp_path, wait_warnings):
    music_emulator.state.settings.update({"riffusion.processing_status": "mastering",
                                          "riffusion.upload_pending_status": "transcribing",
                                          "riffusion.job_seconds": 1.5})
    hook = RiffusionHook()
    upload = hook.upload_audio(str(write_sine_wav(tmp_path / "a.wav", 0.1)))
    jobs = hook.create_prompt("calm piano")
    songs = sensor_poke(RiffusionSongSensor(task_id="s", job_ids=jobs, poke_interval=0.05, timeout=30), make_context())
    assert len(songs["song_ids"]) == 2
    done = sensor_poke(RiffusionUploadAudioSensor(task_id="u", upload_id=upload["id"], poke_interval=0.05, timeout=30),
                       make_context())
    assert done["status"] == "complete"
    assert len(unknown_warnings(wait_warnings, "mastering")) == 2  # one per song per wait, not one per poke


def test_sensor_poke_times_out_naming_the_unknown_state(music_emulator, make_context, tmp_path):
    music_emulator.state.settings.update({"riffusion.upload_outcome": "rejected", "riffusion.job_seconds": 0})
    upload = RiffusionHook().upload_audio(str(write_sine_wav(tmp_path / "a.wav", 0.1)))
    sensor = RiffusionUploadAudioSensor(task_id="u", upload_id=upload["id"], poke_interval=0.05, timeout=0.3)
    with pytest.raises(AirflowSensorTimeout, match="unknown state 'rejected'"):
        sensor_poke(sensor, make_context())
