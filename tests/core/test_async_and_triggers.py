"""Async twin of the HTTP core, the shared poll trigger and the shared sensor."""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import pytest

from airflow_provider_music import core
from airflow_provider_music.core import AuthenticationError, MusicApiHook, PollResult, ServerError
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck, validate_event
from tests.conftest import SECRET_TOKEN

BASE = "http://api.test/v1/"


class DemoHook(MusicApiHook):
    conn_name_attr = "demo_conn_id"
    default_conn_name = "demo_default"
    conn_type = "demo"
    hook_name = "Demo"
    default_base_url = BASE
    script: ClassVar[list[Any]] = []

    def _next(self) -> PollResult:
        item = self.script.pop(0) if self.script else PollResult("running", "still going")
        if isinstance(item, Exception):
            raise item
        return item

    def job_status(self, job_id: str) -> PollResult:
        return self._next()

    async def ajob_status(self, job_id: str) -> PollResult:
        return self._next()


DEMO_STATUS = StatusCheck(name="Demo job", hook_class=DemoHook, check=DemoHook.job_status,
                         acheck=DemoHook.ajob_status, target=lambda job_id: {"job_id": job_id})


class DemoTrigger(MusicPollTrigger):
    status_check = DEMO_STATUS


class DemoSensor(MusicJobSensor):
    status_check = DEMO_STATUS
    template_fields = ("job_id",)

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def target(self) -> dict[str, Any]:
        return DEMO_STATUS.target(self.job_id)


@pytest.fixture(autouse=True)
def demo_conn(set_connection):
    set_connection("demo_default", "demo", host=BASE, extra={"retry_limit": 3})
    DemoHook.script = []


# ---- async requests ----------------------------------------------------------------------------
@pytest.fixture
def emu_demo(music_emulator, monkeypatch):
    """DemoHook pointed at the emulator frame (a real HTTP server; aioresponses does not support aiohttp 3.14)."""
    monkeypatch.setenv("AIRFLOW_CONN_DEMO_DEFAULT", json.dumps(
        {"conn_type": "demo", "host": music_emulator.url + "/frame/", "password": SECRET_TOKEN,
         "extra": {"retry_limit": 3}}))
    return music_emulator


@pytest.mark.asyncio
async def test_arequest_json_retries_and_maps_errors(emu_demo, instant_retries):
    hook = DemoHook()
    emu_demo.add_fault(path="^/frame/jobs$", status=429, retry_after="4", times=1)
    emu_demo.add_fault(path="^/frame/jobs$", status=502, body="<html>bad</html>", content_type="text/html", times=1)
    emu_demo.add_fault(path="^/frame/jobs$", status=200, body='{"ok": 1}', times=1)
    assert await hook.arequest_json("GET", "jobs") == {"ok": 1}
    assert 4 <= instant_retries[0] <= 5 and len(instant_retries) == 2
    assert emu_demo.count("GET", "/frame/jobs") == 3
    emu_demo.add_fault(path="^/frame/auth$", status=401, body='{"error": "Unauthorized", "code": 401}')
    with pytest.raises(AuthenticationError, match="GET /frame/auth failed with HTTP 401: Unauthorized") as info:
        await hook.arequest_json("GET", "auth")
    assert SECRET_TOKEN not in str(info.value) and emu_demo.count("GET", "/frame/auth") == 1
    emu_demo.add_fault(path="^/frame/down$", status=500)
    with pytest.raises(ServerError):
        await hook.arequest_json("GET", "down")
    assert emu_demo.count("GET", "/frame/down") == 3
    emu_demo.add_fault(path="^/frame/drop$", drop=True, times=1)
    with pytest.raises(core.NotFoundError):  # dropped mid-body, retried, then the frame's own 404
        await hook.arequest_json("GET", "drop")
    assert emu_demo.count("GET", "/frame/drop") == 2


@pytest.mark.asyncio
async def test_async_post_not_retried_when_maybe_processed(emu_demo):
    emu_demo.add_fault(path="^/frame/create$", status=500)
    with pytest.raises(ServerError) as info:
        await DemoHook().arequest_json("POST", "create", json_body={})
    assert info.value.request_may_have_been_processed
    assert emu_demo.count("POST", "/frame/create") == 1
    emu_demo.state.clear_faults()
    emu_demo.add_fault(path="^/frame/create2$", status=503, times=1)
    emu_demo.add_fault(path="^/frame/create2$", status=200, body='{"id": 1}', times=1)
    assert await DemoHook().arequest_json("POST", "create2", json_body={}) == {"id": 1}


@pytest.mark.asyncio
async def test_async_connect_error_is_retried(monkeypatch, instant_retries):
    monkeypatch.setenv("AIRFLOW_CONN_DEMO_DEFAULT", json.dumps(
        {"conn_type": "demo", "host": "http://127.0.0.1:9/", "password": "t", "extra": {"retry_limit": 2}}))
    with pytest.raises(core.ApiConnectionError) as info:
        await DemoHook().arequest_json("POST", "create", json_body={})
    assert info.value.request_may_have_been_processed is False and len(instant_retries) == 1


@pytest.mark.asyncio
async def test_one_shared_session_per_loop_and_origin():
    async with core.shared_client_session(BASE) as a, core.shared_client_session(BASE + "other/") as b:
        assert a is b
        async with core.shared_client_session("http://elsewhere.test/") as c:
            assert c is not a
    assert a.closed and c.closed
    loop = asyncio.get_running_loop()
    assert core._ASYNC_SESSIONS.get(loop, {}) == {}


# ---- trigger -----------------------------------------------------------------------------------
def test_trigger_serializes_to_json_primitives():
    trigger = DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}, poll_interval=5, deadline=123.0)
    path, kwargs = trigger.serialize()
    assert path == "tests.core.test_async_and_triggers.DemoTrigger"
    assert kwargs == {"conn_id": "demo_default", "target": {"job_id": "j1"}, "poll_interval": 5.0,
                      "deadline": 123.0, "cancel_on_kill": True}
    import json

    json.dumps(kwargs)


async def _events(trigger):
    return [e.payload async for e in trigger.run()]


@pytest.mark.asyncio
async def test_trigger_success_after_running_and_transient_error():
    DemoHook.script = [PollResult("running"), ServerError("blip"), PollResult("success", "done", {"songs": ["a"]})]
    events = await _events(DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}, poll_interval=0))
    assert events == [{"status": "success", "message": "done", "target": {"job_id": "j1"}, "payload": {"songs": ["a"]}}]


@pytest.mark.asyncio
async def test_trigger_failed_event():
    DemoHook.script = [PollResult("failed", "moderation", {"reason": "x"})]
    events = await _events(DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}, poll_interval=0))
    assert events[0]["status"] == "failed" and events[0]["message"] == "moderation"


@pytest.mark.asyncio
async def test_trigger_timeout_at_deadline():
    import time

    events = await _events(DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}, poll_interval=0.01,
                                       deadline=time.time() + 0.05))
    assert events[0]["status"] == "timeout" and "still going" in events[0]["message"]


@pytest.mark.asyncio
async def test_trigger_timeout_names_the_last_state_seen_even_after_failed_polls():
    import time

    DemoHook.script = [PollResult("running", "rendering 40%")] + [ServerError("blip")] * 1000
    events = await _events(DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}, poll_interval=0.01,
                                       deadline=time.time() + 0.3))
    assert events[0]["status"] == "timeout"
    assert events[0]["message"].endswith("(last state: rendering 40%)")


@pytest.mark.asyncio
async def test_trigger_keeps_no_answer_across_its_sleep():
    """Nothing of a poll's answer outlives the poll (with thousands of waits, answers held across the sleep
    are promoted to the collector's oldest generation once per poll)."""
    import gc
    import weakref

    class Answer(dict):
        pass

    seen: list[Any] = []
    payload = Answer(big="x")
    seen.append(weakref.ref(payload))
    DemoHook.script = [PollResult("running", "queued", payload)]
    del payload
    trigger = DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}, poll_interval=0.2)
    task = asyncio.ensure_future(_events(trigger))
    await asyncio.sleep(0.3)  # first sleep, then the poll answered "queued", now in the second sleep
    gc.collect()
    alive = seen[0]() is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not alive


@pytest.mark.asyncio
async def test_trigger_error_event_on_non_retryable_error_without_token():
    DemoHook.script = [AuthenticationError(f"bad token {'x'}")]
    events = await _events(DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}, poll_interval=0))
    assert events[0]["status"] == "error" and "AuthenticationError" in events[0]["message"]
    assert SECRET_TOKEN not in repr(events)


@pytest.mark.asyncio
async def test_trigger_on_kill_logs_when_no_cancel_endpoint(caplog, capsys):
    await DemoTrigger(conn_id="demo_default", target={"job_id": "j1"}).on_kill()
    out = capsys.readouterr().out + caplog.text
    assert "has no cancel endpoint" in out


def test_validate_event():
    assert validate_event({"status": "success", "payload": {}}, describe="x")["status"] == "success"
    with pytest.raises(core.JobFailedError, match="x failed: boom"):
        validate_event({"status": "failed", "message": "boom"}, describe="x")
    with pytest.raises(core.JobTimeoutError):
        validate_event({"status": "timeout", "message": "late"}, describe="x")
    with pytest.raises(core.MusicApiError, match="invalid trigger event"):
        validate_event(None, describe="x")


# ---- sensor ------------------------------------------------------------------------------------
def test_sensor_poke_modes(make_context):
    sensor = DemoSensor(task_id="s", job_id="j1")
    DemoHook.script = [PollResult("running")]
    assert sensor.poke(make_context()).is_done is False
    DemoHook.script = [PollResult("success", payload={"a": 1})]
    assert sensor.poke(make_context()).xcom_value == {"a": 1}
    DemoHook.script = [PollResult("failed", "nope")]
    with pytest.raises(core.WatchedJobFailedError, match="nope"):
        sensor.poke(make_context())


def test_sensor_deferrable_defers_then_completes(make_context):
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

    sensor = DemoSensor(task_id="s", job_id="j1", deferrable=True, poke_interval=7, timeout=100)
    DemoHook.script = [PollResult("running")]
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(make_context())
    trigger = info.value.trigger
    assert isinstance(trigger, DemoTrigger) and trigger.target == {"job_id": "j1"} and trigger.poll_interval == 7
    assert trigger.deadline is not None
    assert sensor.execute_complete(make_context(), {"status": "success", "payload": {"x": 1}}) == {"x": 1}
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(make_context(), {"status": "timeout", "message": "late"})
    with pytest.raises(core.WatchedJobFailedError):
        sensor.execute_complete(make_context(), {"status": "failed", "message": "bad"})


def test_sensor_deferrable_returns_immediately_when_done(make_context):
    sensor = DemoSensor(task_id="s", job_id="j1", deferrable=True)
    DemoHook.script = [PollResult("success", payload={"done": True})]
    assert sensor.execute(make_context()) == {"done": True}
