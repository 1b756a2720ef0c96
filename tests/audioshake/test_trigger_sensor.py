"""Trigger and sensor tests: completed, failed, unknown status, timeout, serialisation."""

from __future__ import annotations

import json
import time

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_music.core import InvalidInputError, PollResult, WatchedJobFailedError
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.audioshake_jobs import JobsApi
from airflow_provider_music.sensors.audioshake import AudioShakeJobSensor
from airflow_provider_music.triggers.audioshake import SEPARATION_STATUS, AudioShakeJobTrigger
from tests.conftest import SECRET_TOKEN

JOB = "clksrfob8000bf7of6xkscy8m"


def job(status: str, name: str = "vocals", **extra):
    return {"id": JOB, "status": status, "metadata": {"name": name, "format": "wav"}, **extra}


@pytest.fixture
def answers(monkeypatch, set_connection):
    """Queue of job answers served by a fake ``aget_job``."""
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    queue: list = []

    async def fake_aget_job(self, job_id):
        value = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(value, Exception):
            raise value
        return value

    monkeypatch.setattr(JobsApi, "aget_job", fake_aget_job)
    return queue


def trigger(**kwargs) -> AudioShakeJobTrigger:
    kwargs.setdefault("deadline", time.time() + 30)
    return AudioShakeJobTrigger(conn_id="audioshake_default", target={"jobs": {"vocals": JOB}, "wait_all": True},
                                poll_interval=0.01, **kwargs)


async def run(trig):
    return [e.payload async for e in trig.run()]


def test_serialize_roundtrip():
    trig = trigger(deadline=123.0)
    path, kwargs = trig.serialize()
    assert path == "airflow_provider_music.triggers.audioshake.AudioShakeJobTrigger"
    assert kwargs == {"conn_id": "audioshake_default", "target": {"jobs": {"vocals": JOB}, "wait_all": True},
                      "poll_interval": 0.01, "deadline": 123.0, "cancel_on_kill": True}
    assert AudioShakeJobTrigger(**kwargs).serialize() == (path, kwargs)


@pytest.mark.asyncio
async def test_trigger_completed(answers):
    answers.extend([job("created"), job("processing"), job("completed")])
    events = await run(trigger())
    assert len(events) == 1 and events[0]["status"] == "success"
    assert events[0]["payload"]["items"]["vocals"]["state"] == "success"


@pytest.mark.asyncio
async def test_trigger_failed_carries_status_info(answers):
    answers.extend([job("processing"), job("failed", statusInfo={"code": 42, "message": "corrupt audio"})])
    events = await run(trigger())
    assert events[0]["status"] == "failed" and "42 corrupt audio" in events[0]["message"]


@pytest.mark.asyncio
async def test_trigger_unknown_status_keeps_waiting_until_deadline(answers):
    answers.append(job("transmogrifying"))
    events = await run(trigger(deadline=time.time() + 0.1))
    assert events[0]["status"] == "timeout"
    assert "unknown state 'transmogrifying'" in events[0]["message"]


@pytest.mark.asyncio
async def test_trigger_unknown_then_completed(answers):
    answers.extend([job("queued_for_gpu"), job("queued_for_gpu"), job("completed")])
    assert (await run(trigger()))[0]["status"] == "success"


@pytest.mark.asyncio
async def test_trigger_timeout(answers):
    answers.append(job("processing"))
    events = await run(trigger(deadline=time.time() - 1))
    assert events[0]["status"] == "timeout" and "Timed out" in events[0]["message"]


@pytest.mark.asyncio
async def test_trigger_transient_errors_are_polled_through(answers):
    from airflow_provider_music.core import ServerError

    answers.extend([ServerError("503 busy", status=503), job("completed")])
    assert (await run(trigger()))[0]["status"] == "success"


@pytest.mark.asyncio
async def test_trigger_fatal_error_becomes_error_event(answers):
    from airflow_provider_music.core import AuthenticationError

    answers.append(AuthenticationError("401 check the token"))
    events = await run(trigger())
    assert events[0]["status"] == "error" and SECRET_TOKEN not in str(events)


@pytest.mark.asyncio
async def test_trigger_against_emulator_tasks(music_emulator, monkeypatch, tmp_path):
    from airflow_provider_music.testing.audio import write_sine_wav
    from tests.audioshake.conftest import audioshake_conn

    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))
    music_emulator.state.settings.update({"audioshake.fail_stems": ["drums"], "audioshake.failure_status": "failed"})
    hook = AudioShakeHook()
    asset = hook.tasks.upload_asset(str(write_sine_wav(tmp_path / "a.wav", seconds=0.2)))["id"]
    task = hook.tasks.create_task(asset, [{"model": "vocals", "formats": ["wav"]}, {"model": "drums", "formats": ["wav"]}])
    trig = AudioShakeJobTrigger(conn_id="audioshake_default", target={"tasks": [task["id"]], "wait_all": True},
                                poll_interval=0.05, deadline=time.time() + 20)
    events = await run(trig)
    assert events[0]["status"] == "failed" and "Separation of drums failed" in events[0]["message"]
    assert events[0]["payload"]["items"]["vocals"]["state"] == "success"


# ---- sensor ---------------------------------------------------------------------------------------
def test_sensor_needs_exactly_one_target():
    with pytest.raises(InvalidInputError, match="exactly one"):
        AudioShakeJobSensor(task_id="s").target()
    with pytest.raises(InvalidInputError, match="exactly one"):
        AudioShakeJobSensor(task_id="s", job_ids=[JOB], audioshake_task_id="task-1").target()


def test_sensor_target_shapes():
    assert AudioShakeJobSensor(task_id="s", job_ids=f"{JOB},abc").target() == {
        "jobs": {JOB: JOB, "abc": "abc"}, "tasks": None, "wait_all": False}
    assert AudioShakeJobSensor(task_id="s", job_ids={"vocals": JOB}).target()["jobs"] == {"vocals": JOB}
    assert AudioShakeJobSensor(task_id="s", audioshake_task_id="task-1").target()["tasks"] == ["task-1"]
    assert "job_ids" in AudioShakeJobSensor.template_fields


def test_sensor_poke_states(monkeypatch, set_connection, make_context):
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    results = iter([PollResult("running", "1 of 2 done"), PollResult("success", "ok", {"items": {}}),
                    PollResult("failed", "drums (x): boom")])
    monkeypatch.setattr(SEPARATION_STATUS, "check", lambda self, **kw: next(results))  # the typed link's method
    sensor = AudioShakeJobSensor(task_id="s", job_ids=[JOB])
    assert sensor.poke(make_context()).is_done is False
    assert sensor.poke(make_context()).xcom_value == {"items": {}}
    with pytest.raises(WatchedJobFailedError, match="drums"):
        sensor.poke(make_context())


def test_sensor_deferrable_defers_and_resumes(monkeypatch, set_connection, make_context):
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    monkeypatch.setattr(SEPARATION_STATUS, "check", lambda self, **kw: PollResult("running", "waiting"))
    sensor = AudioShakeJobSensor(task_id="s", job_ids=[JOB], deferrable=True, timeout=60, poke_interval=5)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    trig = deferred.value.trigger
    assert isinstance(trig, AudioShakeJobTrigger) and trig.target["jobs"] == {JOB: JOB} and trig.poll_interval == 5
    assert sensor.execute_complete(make_context(), {"status": "success", "payload": {"items": {"a": 1}}}) == {
        "items": {"a": 1}}
    with pytest.raises(WatchedJobFailedError):
        sensor.execute_complete(make_context(), {"status": "failed", "message": "boom"})
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(make_context(), {"status": "timeout", "message": "late"})
    with pytest.raises(Exception, match="invalid trigger event"):
        sensor.execute_complete(make_context(), None)


def test_provider_info_block_is_valid_and_importable():
    import importlib
    import importlib.resources

    import jsonschema

    from airflow_provider_music.get_provider_info import _AUDIOSHAKE

    schema = json.loads((importlib.resources.files("airflow") / "provider_info.schema.json").read_text())
    jsonschema.validate({"package-name": "airflow-provider-music", "name": "n", "description": "d", **_AUDIOSHAKE}, schema)
    for key in ("hooks", "operators", "sensors", "triggers"):
        for module in _AUDIOSHAKE[key][0]["python-modules"]:
            importlib.import_module(module)
    conn = _AUDIOSHAKE["connection-types"][0]
    module, _, cls = conn["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), cls)
    assert hook.conn_type == conn["connection-type"] and hook.hook_name == conn["hook-name"]
    module, _, cls = _AUDIOSHAKE["extra-links"][0].rpartition(".")
    assert getattr(importlib.import_module(module), cls)().name == "AudioShake dashboard"


def test_dag_parsing_imports_stay_light():
    import subprocess
    import sys

    # what Airflow itself loads (3.0's airflow.sdk imports fastapi) is the baseline; the provider must add none
    code = ("import sys; import airflow.sdk; from airflow.providers.common.compat.sdk import BaseOperator; "
            "pre = set(sys.modules); "
            "import airflow_provider_music.operators.audioshake, airflow_provider_music.sensors.audioshake; "
            "print(sorted(m for m in ('aiohttp', 'requests_toolbelt', 'fastapi') if m in sys.modules and m not in pre))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
