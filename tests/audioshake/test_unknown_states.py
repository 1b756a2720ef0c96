"""Issue 21 §5, AudioShake (legacy Jobs API and Tasks API): a job/target status this package does not know is
never a success: every wait (operator sync, operator deferred, sensor poke) keeps polling with one warning per
state, succeeds when the job then completes, and times out naming the state."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_music.contract.audioshake import combine_states, interpret_status
from airflow_provider_music.core.errors import JobTimeoutError
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.sensors.audioshake import AudioShakeJobSensor
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

#: Every job/target shows "separating" for ten minutes.
STUCK = {"audioshake.processing_status": "separating", "audioshake.created_status": "separating",
         "audioshake.job_seconds": 600}
HOSTILE_STATES = ["separating", "COMPLETED_PARTIAL", "done?", "1", "archived"]


@pytest.fixture
def song(tmp_path: Path) -> Path:
    return write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.3)


@pytest.mark.parametrize("status", HOSTILE_STATES)
def test_unknown_status_keeps_running_and_is_named(status):
    state, message = interpret_status(status, None)
    assert state == "running" and repr(status.lower()) in message
    result = combine_states([("vocals", "j1", state, message), ("drums", "j2", "success", "completed")])
    assert result.state == "running" and len(result.unknown) == 1 and "vocals (j1)" in result.unknown[0]


def test_known_statuses_carry_no_warning():
    for status in ("created", "processing", "completed", "failed", "error"):
        state, message = interpret_status(status, None)
        assert not combine_states([("vocals", "j1", state, message)]).unknown


def _op(tmp_path: Path, song: Path, wait: str, timeout: float) -> AudioShakeStemSeparationOperator:
    return AudioShakeStemSeparationOperator(task_id="sep", source=str(song), stems=["vocals", "drums"],
                                            destination=str(tmp_path / "out"), poll_interval=0.05, timeout=timeout,
                                            deferrable=wait == "deferred")


@pytest.mark.parametrize("wait", list(WAITS))
def test_unknown_status_then_completed_succeeds(api, music_emulator, tmp_path, song, make_context, wait_warnings, wait):
    music_emulator.state.settings.update({"audioshake.processing_status": "separating", "audioshake.job_seconds": 3})
    out = WAITS[wait](_op(tmp_path, song, wait, 30), make_context())
    assert sorted(out["outputs"]) == ["drums", "vocals"]
    assert 1 <= len(unknown_warnings(wait_warnings, "separating")) <= 2 * (2 if wait == "deferred" else 1)


@pytest.mark.parametrize("wait", list(WAITS))
def test_unknown_status_until_the_deadline_times_out_naming_it(api, music_emulator, tmp_path, song, make_context,
                                                               wait_warnings, wait):
    music_emulator.state.settings.update(STUCK)
    with pytest.raises(JobTimeoutError, match="unknown state 'separating'"):
        WAITS[wait](_op(tmp_path, song, wait, 0.6), make_context())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.wav"))  # never a success


def _sensor(api: str, song: Path, timeout: float) -> AudioShakeJobSensor:
    hook = AudioShakeHook()
    if api == "jobs":
        asset = hook.jobs.upload_file(str(song))["id"]
        ids = [hook.jobs.create_job(asset, name=s, format="wav")["id"] for s in ("vocals", "drums")]
        return AudioShakeJobSensor(task_id="w", job_ids=ids, poke_interval=0.05, timeout=timeout)
    asset = hook.tasks.upload_asset(str(song))["id"]
    task = hook.tasks.create_task(asset, [{"model": "vocals", "formats": ["wav"]}])
    return AudioShakeJobSensor(task_id="w", audioshake_task_id=task["id"], poke_interval=0.05, timeout=timeout)


def test_sensor_pokes_through_an_unknown_status_then_succeeds(api, music_emulator, song, make_context, wait_warnings):
    music_emulator.state.settings.update({"audioshake.processing_status": "separating", "audioshake.job_seconds": 3})
    value = sensor_poke(_sensor(api, song, 30), make_context())
    assert {v["state"] for v in value["items"].values()} == {"success"}
    assert 1 <= len(unknown_warnings(wait_warnings, "separating")) <= 2


def test_sensor_poke_times_out_naming_the_unknown_status(api, music_emulator, song, make_context):
    music_emulator.state.settings.update(STUCK)
    sensor = _sensor(api, song, 0.4)
    with pytest.raises(AirflowSensorTimeout, match="unknown state 'separating'"):
        sensor_poke(sensor, make_context())
