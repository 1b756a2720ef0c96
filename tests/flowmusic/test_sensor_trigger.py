"""FlowMusicJobSensor (poke, reschedule, deferrable) and FlowMusicJobTrigger; provider registration."""

from __future__ import annotations

import asyncio
import importlib
import json

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_music.core import InvalidInputError, WatchedJobFailedError
from airflow_provider_music.get_provider_info import get_provider_info
from airflow_provider_music.hooks.flowmusic import FlowMusicAccountError, FlowMusicHook
from airflow_provider_music.sensors.flowmusic import FlowMusicJobSensor
from airflow_provider_music.triggers.flowmusic import JOB_STATUS, FlowMusicJobTrigger, job_target


def run_trigger(trigger):
    async def first():
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(first())


def start_job(emulator, **settings) -> dict:
    emulator.state.settings.update({f"flowmusic.{k}": v for k, v in settings.items()})
    return FlowMusicHook().generate("a song", reply_ref="sensor-test")


def test_link_is_typed_and_target_built_once():
    assert JOB_STATUS.check is FlowMusicHook.job_status and JOB_STATUS.acheck is FlowMusicHook.ajob_status
    assert JOB_STATUS.cancel is FlowMusicHook.cancel_job and JOB_STATUS.trigger_class is FlowMusicJobTrigger
    assert job_target({"jobid": "job:1", "clips": []}) == {"jobid": "job:1"}
    with pytest.raises(InvalidInputError, match="one FlowMusic job"):
        job_target(["job:1", "job:2"])
    with pytest.raises(InvalidInputError, match="jobid"):
        job_target("job/../x")


def test_sensor_poke_mode(music_emulator, make_context):
    job = start_job(music_emulator)
    sensor = FlowMusicJobSensor(task_id="wait", jobid=job, poke_interval=0.05, timeout=20)
    result = sensor.execute(make_context())
    assert result["status"] == "completed" and len(result["clip_ids"]) == 2


def test_sensor_reschedule_mode_pokes(music_emulator, make_context):
    job = start_job(music_emulator, job_seconds=0.5)
    sensor = FlowMusicJobSensor(task_id="wait", jobid=job, mode="reschedule", poke_interval=0.05, timeout=20)
    assert sensor.poke(make_context()).is_done is False  # still running: reschedule mode gives the slot back
    import time

    time.sleep(0.6)
    done = sensor.poke(make_context())
    assert done.is_done and done.xcom_value["status"] == "completed"


def test_sensor_deferrable_round_trip(music_emulator, make_context):
    job = start_job(music_emulator, job_seconds=2)  # still running at the first poke, even on a loaded machine
    sensor = FlowMusicJobSensor(task_id="wait", jobid=job["jobid"], deferrable=True, poke_interval=0.05, timeout=20)
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute(make_context())
    trigger = exc.value.trigger
    assert isinstance(trigger, FlowMusicJobTrigger)
    path, kwargs = trigger.serialize()
    assert path.endswith("FlowMusicJobTrigger") and json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = getattr(importlib.import_module(path.rpartition(".")[0]), path.rpartition(".")[2])(**kwargs)
    event = run_trigger(rebuilt)
    assert event["status"] == "success" and event["payload"]["jobid"] == job["jobid"]
    assert sensor.execute_complete(make_context(), event=event)["status"] == "completed"


def test_sensor_fails_on_failed_or_cancelled_job(music_emulator, make_context):
    job = start_job(music_emulator, job_seconds=30)
    FlowMusicHook().cancel_job(job["jobid"])
    sensor = FlowMusicJobSensor(task_id="wait", jobid=job, poke_interval=0.05, timeout=5)
    with pytest.raises(WatchedJobFailedError, match="user_cancelled"):
        sensor.execute(make_context())


def test_sensor_timeout(music_emulator, make_context):
    job = start_job(music_emulator, job_seconds=30)
    sensor = FlowMusicJobSensor(task_id="wait", jobid=job, poke_interval=0.05, timeout=0.3)
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(make_context())


def test_trigger_events(music_emulator):
    job = start_job(music_emulator, job_outcome="failed", failure_code="moderated")
    failed = run_trigger(FlowMusicJobTrigger(conn_id="flowmusic_default", target={"jobid": job["jobid"]},
                                             poll_interval=0.05))
    assert failed["status"] == "failed" and "moderated" in failed["message"]
    music_emulator.state.apis["flowmusic"].store.break_account()
    music_emulator.state.settings["flowmusic.account_error"] = "refresh token rejected"
    gone = run_trigger(FlowMusicJobTrigger(conn_id="flowmusic_default", target={"jobid": "job:nope"},
                                           poll_interval=0.05))
    assert gone["status"] == "error"
    timeout = run_trigger(FlowMusicJobTrigger(conn_id="flowmusic_default", target={"jobid": job["jobid"]},
                                              poll_interval=0.05, deadline=0))
    assert timeout["status"] in ("failed", "timeout")


def test_trigger_survives_transient_errors(music_emulator):
    job = start_job(music_emulator)
    music_emulator.add_fault(path="/v1/flowmusic/jobs/", method="GET", status=503, times=2)
    event = run_trigger(FlowMusicJobTrigger(conn_id="flowmusic_default", target={"jobid": job["jobid"]},
                                            poll_interval=0.05, deadline=None))
    assert event["status"] == "success"


def test_account_error_class_survives_deferral(music_emulator, make_context):
    from airflow_provider_music.triggers.base import validate_event

    music_emulator.state.settings["flowmusic.account_error"] = "refresh token rejected"
    event = run_trigger(FlowMusicJobTrigger(conn_id="flowmusic_default", target={"jobid": "job:x"}, poll_interval=0.05))
    assert event["status"] == "error"
    with pytest.raises(Exception) as info:
        validate_event(event, describe="x")
    assert type(info.value).__name__ in (FlowMusicAccountError.__name__, "NotFoundError") or "404" in str(info.value)


def test_provider_registration():
    info = get_provider_info()
    conn = next(c for c in info["connection-types"] if c["connection-type"] == "flowmusic")
    assert conn["hook-class-name"].endswith("FlowMusicHook") and "email" in conn["conn-fields"]
    modules = [m for key in ("hooks", "operators", "sensors", "triggers") for entry in info[key]
               for m in entry["python-modules"] if "flowmusic" in m]
    assert len(modules) == 4
    for module in modules:
        importlib.import_module(module)
    assert FlowMusicHook.get_ui_field_behaviour()["relabeling"]["password"] == "useapi.net API token"
