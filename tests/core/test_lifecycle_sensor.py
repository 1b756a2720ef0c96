"""The shared sensor on the typed status check: connection argument, wait-number checks, poke progress, deferral."""

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
    status_check = TOY_STATUS
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


@pytest.mark.parametrize("interval", [5, 30, 59.5, timedelta(seconds=20)], ids=repr)
def test_reschedule_under_a_minute_warns_at_parse_time_naming_task_interval_and_cost(interval, monkeypatch):
    from airflow_provider_music.sensors.base import RescheduleCostWarning

    monkeypatch.setenv("AIRFLOW__MUSIC__SETTLE_SECONDS", "25")
    with pytest.warns(RescheduleCostWarning) as caught:
        ToySensor(task_id="wait_job", job_id="j", mode="reschedule", poke_interval=interval)
    message = str(caught[0].message)
    assert caught[0].filename == __file__  # points at the line that built the sensor (the DAG file's)
    seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
    assert "'wait_job'" in message and f"poke_interval={seconds:g} s" in message
    assert "0.3 CPU s" in message and "settle_seconds=25 s" in message
    assert f"at most every {max(seconds, 25):g} s" in message and "deferrable=True" in message


def test_reschedule_under_a_minute_warns_in_partial_and_default_args_too():
    import datetime

    from airflow.sdk import DAG

    from airflow_provider_music.sensors.base import RescheduleCostWarning

    start = datetime.datetime(2024, 1, 1)
    with pytest.warns(RescheduleCostWarning, match="'mapped'"), DAG("w", schedule=None, start_date=start):
        ToySensor.partial(task_id="mapped", mode="reschedule", poke_interval=10).expand(job_id=["a", "b"])
    with pytest.warns(RescheduleCostWarning, match="'from_defaults'"), DAG(
            "d", schedule=None, start_date=start, default_args={"mode": "reschedule", "poke_interval": 15}):
        ToySensor(task_id="from_defaults", job_id="j")


@pytest.mark.parametrize("kwargs", [
    {"mode": "reschedule", "poke_interval": 60},
    {"mode": "reschedule", "poke_interval": timedelta(minutes=5)},
    {"mode": "reschedule"} | {"poke_interval": 3600},
    {"mode": "poke", "poke_interval": 5},
    {"poke_interval": 1},
    {"mode": "reschedule", "poke_interval": 5, "deferrable": True},  # waits in the triggerer, not by reschedule
], ids=repr)
def test_no_reschedule_warning_at_a_minute_or_more_in_poke_mode_or_deferrable(kwargs):
    import warnings

    from airflow_provider_music.sensors.base import RescheduleCostWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", RescheduleCostWarning)
        ToySensor(task_id="s", job_id="j", **kwargs)


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
