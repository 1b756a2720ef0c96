"""Issue 19 §1: trigger events and reschedule dates stay out of the Airflow scheduler race (apache/airflow
issues 66374, 67287, 72716): nothing comes back sooner than ``[music] settle_seconds`` after a deferral or a
reschedule. The deployment tests (tests/deployment) show the race itself; these check the rule everywhere."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

import airflow_provider_music.triggers as triggers_pkg
from airflow_provider_music.core import PollResult
from airflow_provider_music.triggers import base
from airflow_provider_music.triggers.base import DEFAULT_SETTLE_SECONDS, StatusCheck, settle_seconds
from tests.core.test_async_and_triggers import DEMO_STATUS, DemoHook, DemoSensor, DemoTrigger

ENV = "AIRFLOW__MUSIC__SETTLE_SECONDS"


@pytest.fixture(autouse=True)
def demo_conn(set_connection):
    set_connection("demo_default", "demo", host="http://api.test/v1/", extra={"retry_limit": 3})
    DemoHook.script = []


@pytest.fixture
def in_a_worker(monkeypatch):
    """A task process started by a worker's supervisor (what an executor runs): it has supervisor comms."""
    from airflow.sdk.execution_time import task_runner

    comms = SimpleNamespace(name="socket comms", send=lambda *args, **kwargs: None)  # 3.0 masks through it
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)


def _links() -> list[StatusCheck]:
    """Every status check the provider declares (each API's triggers module)."""
    found = []
    for info in pkgutil.iter_modules(triggers_pkg.__path__):
        module = importlib.import_module(f"airflow_provider_music.triggers.{info.name}")
        found += [value for value in vars(module).values() if isinstance(value, StatusCheck)]
    return list({id(link): link for link in found}.values())


def test_default_settle_and_the_setting(monkeypatch, in_a_worker):
    monkeypatch.delenv(ENV, raising=False)
    assert settle_seconds() == DEFAULT_SETTLE_SECONDS >= 10
    monkeypatch.setenv(ENV, "0")
    assert settle_seconds() == 0
    monkeypatch.setenv(ENV, "7.5")
    assert settle_seconds() == 7.5


@pytest.mark.parametrize("bad", ["-1", "nan", "inf", "soon", "99999"])
def test_a_bad_setting_keeps_the_default(monkeypatch, caplog, bad, in_a_worker):
    monkeypatch.setenv(ENV, bad)
    assert settle_seconds() == DEFAULT_SETTLE_SECONDS
    assert "settle_seconds" in caplog.text


def test_no_settle_inside_dags_test_or_a_direct_execute(monkeypatch):
    """``airflow dags test`` runs the task and its trigger in one process, a unit test calls ``execute()``:
    no scheduler, no race, no wait."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object.__new__(InProcessSupervisorComms), raising=False)
    assert settle_seconds() == 0
    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)
    assert settle_seconds() == 0
    DemoHook.script = [PollResult("running", "still going")]
    sensor = DemoSensor(task_id="r", job_id="j", mode="reschedule", poke_interval=5, timeout=600)
    assert sensor._get_next_poke_interval(time.monotonic(), lambda: 0.0, 1) == 5


def test_every_link_builds_triggers_that_carry_the_deferral_time_and_settle(monkeypatch, in_a_worker):
    monkeypatch.setenv(ENV, "12")
    links = _links()
    assert len(links) >= 6
    for link in links:
        before = time.time()
        trigger = link.trigger(conn_id="c", target={}, poll_interval=5, timeout=None)
        _, kwargs = trigger.serialize()
        assert before <= kwargs["deferred_at"] <= time.time() and kwargs["settle"] == 12.0, link
        again = type(trigger)(**kwargs)  # what the triggerer rebuilds, e.g. after a restart
        assert (again.deferred_at, again.settle) == (trigger.deferred_at, trigger.settle)


async def _timed(trigger) -> tuple[dict, float]:
    started = time.monotonic()
    events = [e.payload async for e in trigger.run()]
    assert len(events) == 1
    return events[0], time.monotonic() - started


@pytest.mark.asyncio
@pytest.mark.parametrize(("script", "poll_interval", "status"), [
    ([PollResult("success", "done")], 0, "success"),
    ([PollResult("failed", "moderation")], 0, "failed"),
    ([], -1, "error"),  # an invalid argument: an error event at once, held all the same
])
async def test_no_event_sooner_than_the_settle_after_deferral(script, poll_interval, status):
    DemoHook.script = list(script)
    trigger = DemoTrigger(conn_id="demo_default", target={"job_id": "j"}, poll_interval=poll_interval,
                          deferred_at=time.time(), settle=0.6)
    event, took = await _timed(trigger)
    assert event["status"] == status and took >= 0.55


@pytest.mark.asyncio
async def test_settle_counts_from_the_deferral_and_never_outlasts_itself():
    DemoHook.script = [PollResult("success", "done")]
    late = DemoTrigger(conn_id="demo_default", target={"job_id": "j"}, poll_interval=0,
                       deferred_at=time.time() - 30, settle=20)  # e.g. a triggerer restarted: already settled
    assert (await _timed(late))[1] < 0.5
    DemoHook.script = [PollResult("success", "done")]
    skewed = DemoTrigger(conn_id="demo_default", target={"job_id": "j"}, poll_interval=0,
                         deferred_at=time.time() + 3600, settle=0.4)  # a worker clock far ahead
    took = (await _timed(skewed))[1]
    assert 0.35 <= took < 2
    old = DemoTrigger(conn_id="demo_default", target={"job_id": "j"}, poll_interval=0)  # serialized before the fix
    assert old.settle_left(time.time(), time.time()) == 0


def test_reschedule_sensors_come_back_no_sooner_than_the_settle(monkeypatch, in_a_worker):
    try:
        from airflow.sdk.exceptions import AirflowRescheduleException
    except ImportError:  # Airflow 3.0
        from airflow.exceptions import AirflowRescheduleException  # type: ignore[no-redef]

    monkeypatch.setenv(ENV, "15")
    DemoHook.script = [PollResult("running", "still going")]
    sensor = DemoSensor(task_id="s", job_id="j", mode="reschedule", poke_interval=5, timeout=600)
    context = {"ti": SimpleNamespace(get_first_reschedule_date=lambda ctx: None)}
    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as raised:
        sensor.execute(context)  # type: ignore[arg-type]
    assert (raised.value.reschedule_date - before).total_seconds() >= 15
    slow = DemoSensor(task_id="s60", job_id="j", mode="reschedule", poke_interval=60, timeout=600)
    assert slow._get_next_poke_interval(before, lambda: 0.0, 1) == 60  # longer intervals cost nothing
    poke = DemoSensor(task_id="p", job_id="j", mode="poke", poke_interval=5, timeout=600)
    assert poke._get_next_poke_interval(time.monotonic(), lambda: 0.0, 1) == 5  # no exit, no race


def test_deferrable_sensor_trigger_carries_the_settle(monkeypatch, in_a_worker):
    from airflow.providers.common.compat.sdk import TaskDeferred

    monkeypatch.setenv(ENV, "9")
    DemoHook.script = [PollResult("running", "still going")]
    sensor = DemoSensor(task_id="d", job_id="j", deferrable=True, poke_interval=5, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})  # type: ignore[arg-type]
    assert deferred.value.trigger.settle == 9 and deferred.value.trigger.deferred_at <= time.time()


def test_the_documented_issue_numbers_are_in_the_code():
    text = base.__doc__ + (importlib.import_module("airflow_provider_music.triggers.base").__file__ or "")
    assert "66374" in text and asyncio.iscoroutinefunction(DemoTrigger.on_kill)
    assert DEMO_STATUS.trigger_class is DemoTrigger
