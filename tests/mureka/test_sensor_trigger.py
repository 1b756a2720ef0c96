"""MurekaJobSensor (poke, reschedule, deferrable) and MurekaJobTrigger (shared listing, failures, no cancel)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.core import InvalidInputError, WatchedJobFailedError
from airflow_provider_music.hooks.mureka import MurekaHook
from airflow_provider_music.operators.mureka import MurekaGenerateOperator
from airflow_provider_music.sensors.base import RescheduleCostWarning
from airflow_provider_music.sensors.mureka import MurekaJobSensor
from airflow_provider_music.triggers.mureka import JOB_STATUS, MurekaJobTrigger, job_target


def run_trigger(trigger):
    async def first():
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(first())


def start_job(emulator, **settings) -> dict:
    emulator.state.settings.update({f"mureka.{k}": v for k, v in settings.items()})
    return MurekaHook().create("create", prompt="a song", reply_ref="sensor-test")


def test_status_check_is_typed_without_cancel_and_target_built_once():
    assert JOB_STATUS.check is MurekaHook.job_status and JOB_STATUS.acheck is MurekaHook.ajob_status
    assert JOB_STATUS.cancel is None and JOB_STATUS.trigger_class is MurekaJobTrigger
    assert job_target({"jobid": "j1-bot:mureka", "songs": []}) == {"jobid": "j1-bot:mureka"}
    for bad in (["j1", "j2"], "j/../x", None):
        with pytest.raises(InvalidInputError, match="jobid"):
            job_target(bad)


def test_sensor_poke_mode(music_emulator, make_context):
    sensor = MurekaJobSensor(task_id="wait", jobid=start_job(music_emulator), poke_interval=0.05, timeout=20)
    result = sensor.execute(make_context())
    assert result["status"] == "completed" and len(result["song_ids"]) == 2


def test_sensor_reschedule_mode_pokes(music_emulator, make_context):
    job = start_job(music_emulator, job_seconds=0.4)
    with pytest.warns(RescheduleCostWarning):
        sensor = MurekaJobSensor(task_id="wait", jobid=job, mode="reschedule", poke_interval=0.05, timeout=20)
    assert sensor.poke(make_context()).is_done is False
    time.sleep(0.5)
    done = sensor.poke(make_context())
    assert done.is_done and done.xcom_value["status"] == "completed"


def test_sensor_deferrable_and_failed_job(music_emulator, make_context):
    job = start_job(music_emulator, job_seconds=0.3)
    sensor = MurekaJobSensor(task_id="wait", jobid=job["jobid"], deferrable=True, poke_interval=0.05, timeout=20)
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute(make_context())
    event = run_trigger(exc.value.trigger)
    assert json.loads(json.dumps(event)) == event and event["status"] == "success"
    out = sensor.execute_complete(make_context(), event=event)
    assert out["status"] == "completed"
    failing = start_job(music_emulator, job_seconds=0.0, job_outcome="failed")
    with pytest.raises(WatchedJobFailedError, match="Generation failed"):
        MurekaJobSensor(task_id="w2", jobid=failing, poke_interval=0.05, timeout=20).execute(make_context())


def test_trigger_waits_share_one_listing(music_emulator):
    jobs = [start_job(music_emulator, job_seconds=0.4)["jobid"] for _ in range(3)]

    async def all_three():
        triggers = [JOB_STATUS.trigger(conn_id="mureka_default", target=job_target(j), poll_interval=0.05, timeout=20)
                    for j in jobs]

        async def first(trigger):
            async for event in trigger.run():
                return event.payload

        return await asyncio.gather(*(first(t) for t in triggers))

    events = asyncio.run(all_three())
    assert [e["status"] for e in events] == ["success"] * 3
    listings = music_emulator.state.count("GET", "/v1/mureka/jobs")
    own = sum(music_emulator.state.count("GET", f"/v1/mureka/jobs/{j}") for j in jobs)
    assert listings >= 1 and own <= 3 * 2  # running waits ask the shared listing, not their own GET


def test_trigger_reports_failure_and_timeout(music_emulator):
    failing = start_job(music_emulator, job_seconds=0.0, job_outcome="failed")["jobid"]
    trigger = JOB_STATUS.trigger(conn_id="mureka_default", target=job_target(failing), poll_interval=0.05, timeout=5)
    event = run_trigger(trigger)
    assert event["status"] == "failed" and "Generation failed" in event["message"]
    music_emulator.state.settings.update({"mureka.job_outcome": "completed"})
    slow = start_job(music_emulator, job_seconds=1e6)["jobid"]
    trigger = JOB_STATUS.trigger(conn_id="mureka_default", target=job_target(slow), poll_interval=0.05, timeout=0.3)
    assert run_trigger(trigger)["status"] == "timeout"


def test_kill_says_the_job_keeps_running(music_emulator, make_context, capsys):
    music_emulator.state.settings["mureka.job_seconds"] = 1e6
    op = MurekaGenerateOperator(task_id="g", prompt="x", wait_for_completion=False)
    op.execute(make_context())
    capsys.readouterr()
    op.on_kill()
    out = capsys.readouterr().out  # task loggers are structlog (stdout) on Airflow 3
    assert "no cancel call" in out and "keeps running" in out
