"""Issue 21 §5, ACRCloud: a file-scanning, bucket-file or dump state the docs do not list is never "clean",
never "ready" and never a failure the service may still finish: every wait (operator sync, operator deferred,
sensor poke) keeps polling with one warning per state, succeeds when the scan then finishes, and times out
naming the state. The copyright gate stays fail-closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_music.contract.acrcloud import parse_dump_status, parse_files_status
from airflow_provider_music.contract.acrcloud_fs import parse_fs_files_status
from airflow_provider_music.core.errors import JobTimeoutError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.operators.acrcloud import AcrCloudScanFileOperator
from airflow_provider_music.sensors.acrcloud import AcrCloudScanSensor
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

HOSTILE_STATES = [2, 9, -4, "queued", None, 1.5, "x", True, False]  # a boolean is no state (True == 1)


@pytest.mark.parametrize("state", HOSTILE_STATES)
def test_unknown_states_are_never_done_and_are_named(state):
    scan = parse_fs_files_status([{"id": "f1", "state": state}, {"id": "f2", "state": -1}], ["f1", "f2"], container_id=7)
    assert scan.state == "running" and len(scan.unknown) == 1 and repr(str(state)) in scan.message
    files = parse_files_status([{"id": 20, "state": state}, {"id": 21, "state": 1}], ["20", "21"], bucket_id=1)
    assert files.state == "running" and len(files.unknown) == 1 and "unknown state" in files.message
    # a known failure next to an unknown state still fails at once (fail_fast)
    failing = parse_files_status([{"id": 20, "state": state}, {"id": 21, "state": -1}], ["20", "21"], bucket_id=1)
    assert failing.state == "failed"


@pytest.mark.parametrize("status", [2, -1, 7, True])
def test_unknown_dump_status_is_never_ready(status):
    result = parse_dump_status({"status": status, "task_id": "t"}, bucket_id=1)
    assert result.state == "running" and result.unknown and f"unknown state '{status}'" in result.message


@pytest.fixture
def track(tmp_path: Path) -> Path:
    return write_sine_wav(tmp_path / "track.wav", 0.3)


def _op(track: Path, wait: str, timeout: float) -> AcrCloudScanFileOperator:
    return AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05, timeout=timeout,
                                    deferrable=wait == "deferred")


@pytest.mark.parametrize("wait", list(WAITS))
def test_unknown_scan_state_then_finished_gives_the_verdict(music_emulator, track, make_context, wait_warnings, wait):
    music_emulator.state.settings.update({"acrcloud.fs_processing_state": 5, "acrcloud.job_seconds": 2})
    out = WAITS[wait](_op(track, wait, 30), make_context())
    assert out["state"] == -1 and out["matched"] is False
    assert 1 <= len(unknown_warnings(wait_warnings, "5")) <= (2 if wait == "deferred" else 1)


@pytest.mark.parametrize("wait", list(WAITS))
def test_unknown_scan_state_until_the_deadline_fails_naming_it(music_emulator, track, make_context, wait):
    music_emulator.state.settings.update({"acrcloud.fs_processing_state": "reviewing", "acrcloud.job_seconds": 600})
    with pytest.raises(JobTimeoutError, match="unknown state 'reviewing'"):
        WAITS[wait](_op(track, wait, 0.5), make_context())


def _sensor(track: Path, timeout: float) -> AcrCloudScanSensor:
    hook = AcrCloudHook()
    container = hook.create_fs_container("scan", region="eu-west-1", buckets=["ACRCloud Music"])
    scan = hook.upload_fs_file(container["id"], source=track)
    return AcrCloudScanSensor(task_id="s", container_id=container["id"], file_ids=scan["id"], poke_interval=0.05,
                              timeout=timeout)


def test_sensor_pokes_through_an_unknown_scan_state(music_emulator, track, make_context, wait_warnings):
    music_emulator.state.settings.update({"acrcloud.fs_processing_state": 5, "acrcloud.job_seconds": 2})
    value = sensor_poke(_sensor(track, 30), make_context())
    assert value["files"][0]["state"] == -1
    assert len(unknown_warnings(wait_warnings, "5")) == 1


def test_sensor_poke_times_out_naming_the_unknown_scan_state(music_emulator, track, make_context):
    music_emulator.state.settings.update({"acrcloud.fs_processing_state": "reviewing", "acrcloud.job_seconds": 600})
    with pytest.raises(AirflowSensorTimeout, match="unknown state 'reviewing'"):
        sensor_poke(_sensor(track, 0.4), make_context())
