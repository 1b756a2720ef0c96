"""The shared sensor on the typed link: connection argument, wait-number checks, poke progress, deferral."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.sensors.base import MusicJobSensor
from tests.core import test_operator_base as toy
from tests.core.test_operator_base import TOY_STATUS, ToyTrigger, info_lines, toy_api  # noqa: F401 - autouse fixture


class ToySensor(MusicJobSensor):
    link = TOY_STATUS
    template_fields = ("job_id",)

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def target(self) -> dict[str, Any]:
        return TOY_STATUS.target(self.job_id)


def test_sensor_takes_the_hooks_connection_argument():
    assert ToySensor.hook_class is toy.ToyHook and "toy_conn_id" in ToySensor.template_fields
    assert ToySensor(task_id="s", job_id="j").conn_id == "toy_default"
    assert ToySensor(task_id="s", job_id="j", toy_conn_id="c2").conn_id == "c2"
    with pytest.raises(InvalidInputError, match="takes toy_conn_id="):
        ToySensor(task_id="s", job_id="j", conn_id="c")


@pytest.mark.parametrize("value", [math.nan, math.inf, -1, 0, "x"], ids=repr)
@pytest.mark.parametrize("argument", ["poke_interval", "timeout"])
def test_sensor_wait_numbers_are_checked_at_parse_time(argument, value):
    with pytest.raises(InvalidInputError, match=f"^{argument} must be"):
        ToySensor(task_id="s", job_id="j", **{argument: value})


def test_sensor_accepts_numeric_strings_and_timedeltas():
    sensor = ToySensor(task_id="s", job_id="j", poke_interval="2", timeout=timedelta(minutes=1))
    assert float(sensor.poke_interval) == 2.0


def test_sensor_poke_logs_state_changes_quietly(make_context, caplog, capsys):
    toy.API.jobs["job1"] = ["running"] * 7 + ["success"]
    sensor = ToySensor(task_id="s", job_id="job1")
    results = [sensor.poke(make_context()) for _ in range(8)]
    assert [r.is_done for r in results] == [False] * 7 + [True]
    assert results[-1].xcom_value["job_id"] == "job1"
    lines = [m for m in info_lines(capsys, caplog) if "job1" in m]
    assert len(lines) == 3  # the first state, "still running" after 5 more polls, the summary
    assert "finished: success job1" in lines[-1]


def test_sensor_defers_with_the_links_trigger(make_context):
    from airflow.providers.common.compat.sdk import TaskDeferred

    toy.API.jobs["job1"] = ["running"]
    sensor = ToySensor(task_id="s", job_id="job1", deferrable=True, poke_interval=4, timeout=100)
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(make_context())
    trigger = info.value.trigger
    assert isinstance(trigger, ToyTrigger) and trigger.target == {"job_id": "job1"} and trigger.poll_interval == 4
    assert info.value.timeout == timedelta(seconds=160)
    assert sensor.execute_complete(make_context(), {"status": "success", "payload": {"a": 1}}) == {"a": 1}
