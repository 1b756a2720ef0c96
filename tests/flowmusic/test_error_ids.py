"""Every FlowMusic error line names the (long) job id once, never raw and percent-encoded (issue 19 §5).

Paths: the hook's own calls (404, 5xx), the operator in sync and deferrable mode (failed job, job gone,
a retryable poll error logged and polled again), the sensor in poke and deferrable mode, the trigger's error
event and a failed cancel on kill.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.core import JobFailedError, MusicApiError
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.operators.flowmusic import FlowMusicGenerateOperator
from airflow_provider_music.sensors.flowmusic import FlowMusicJobSensor
from tests.flowmusic.test_operators import resume

WAIT = {"poll_interval": 0.05, "timeout": 20}
JOBS = r"/v1/flowmusic/jobs/"


def _ids(text: str, jobid: str) -> tuple[int, int]:
    return text.count(jobid), text.count(quote(jobid, safe=""))


def _once(text: str, jobid: str) -> None:
    assert _ids(text, jobid) == (1, 0), text


def _store(emulator):
    return emulator.state.apis["flowmusic"].store


def _job(emulator, **settings) -> str:
    emulator.state.settings.update({f"flowmusic.{k}": v for k, v in settings.items()})
    return FlowMusicHook().generate("lo-fi piano")["jobid"]


@pytest.mark.parametrize("status", [404, 500])
def test_hook_errors_name_the_job_once(music_emulator, status):
    jobid = _job(music_emulator)
    if status == 404:
        _store(music_emulator).jobs.clear()
    else:
        music_emulator.add_fault(path=JOBS, method="GET", status=500)
    hook = FlowMusicHook()
    with pytest.raises(MusicApiError) as err:
        hook.get_job(jobid)
    _once(str(err.value), jobid)


def _run(op, make_context, deferrable: bool):
    ctx = make_context()
    if not deferrable:
        return op.execute(ctx)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    return resume(op, ctx, exc)


@pytest.mark.parametrize("deferrable", [False, True])
@pytest.mark.parametrize("how", ["failed", "gone"])
def test_operator_failure_names_the_job_once(music_emulator, make_context, monkeypatch, deferrable, how):
    music_emulator.state.settings["flowmusic.job_seconds"] = 0.5
    if how == "failed":
        music_emulator.state.settings["flowmusic.job_outcome"] = "failed"
    else:  # the job disappears while the task waits: GET jobs/{jobid} answers 404 with the id in its text
        original = FlowMusicHook.get_job_record

        def vanish(self, jobid):
            _store(music_emulator).jobs.pop(jobid, None)
            return original(self, jobid)

        monkeypatch.setattr(FlowMusicHook, "get_job_record", vanish)
        monkeypatch.setattr(FlowMusicHook, "aget_job_record", _async_vanish(music_emulator))
    seen: list[str] = []
    send = FlowMusicHook.send_generate

    def record(self, body):
        job = send(self, body)
        seen.append(job["jobid"])
        return job

    monkeypatch.setattr(FlowMusicHook, "send_generate", record)
    op = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", deferrable=deferrable, **WAIT)
    with pytest.raises(MusicApiError) as err:
        _run(op, make_context, deferrable)
    (jobid,) = seen
    if how == "failed":
        assert isinstance(err.value, JobFailedError)
    _once(str(err.value), jobid)


def _async_vanish(emulator):
    original = FlowMusicHook.aget_job_record

    async def vanish(self, jobid):
        _store(emulator).jobs.pop(jobid, None)
        return await original(self, jobid)

    return vanish


def test_retryable_poll_error_is_logged_naming_the_job_once(music_emulator, make_context, caplog, capsys):
    music_emulator.state.settings["flowmusic.job_seconds"] = 0.5
    music_emulator.add_fault(path=JOBS + "job", method="GET", status=503, times=8)
    caplog.set_level(logging.WARNING)
    song = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", **WAIT).execute(make_context())
    lines = [line for line in (caplog.text + capsys.readouterr().out).splitlines() if "failed" in line]
    assert lines, "the 503s were not logged"
    for line in lines:
        _once(line, song["jobid"])


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_failure_names_the_job_once(music_emulator, make_context, deferrable):
    jobid = _job(music_emulator, job_seconds=0.3, job_outcome="failed")
    sensor = FlowMusicJobSensor(task_id="wait", jobid=jobid, deferrable=deferrable, poke_interval=0.05, timeout=20)
    with pytest.raises(MusicApiError) as err:
        _run(sensor, make_context, deferrable)
    _once(str(err.value), jobid)


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_on_a_vanished_job_names_it_once(music_emulator, make_context, deferrable):
    jobid = _job(music_emulator)
    _store(music_emulator).jobs.clear()
    sensor = FlowMusicJobSensor(task_id="wait", jobid=jobid, deferrable=deferrable, poke_interval=0.05, timeout=20)
    with pytest.raises(MusicApiError) as err:
        _run(sensor, make_context, deferrable)
    _once(str(err.value), jobid)


def test_failed_cancel_on_kill_names_the_job_once(music_emulator, make_context, caplog, capsys):
    music_emulator.state.settings["flowmusic.job_seconds"] = 30
    op = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", deferrable=True, **WAIT)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(make_context())
    jobid = next(iter(_store(music_emulator).jobs))
    _store(music_emulator).jobs.clear()  # DELETE answers 404 naming the job
    caplog.set_level(logging.WARNING)
    op.on_kill()  # the worker's cancel
    asyncio.run(exc.value.trigger.on_kill())  # the triggerer's cancel (Airflow 3.3)
    lines = [line for line in (caplog.text + capsys.readouterr().out).splitlines() if "cancel" in line.lower()]
    assert lines
    for line in lines:
        _once(line, jobid)
