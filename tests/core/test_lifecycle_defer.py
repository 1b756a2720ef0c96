"""Deferral round trip of the operator base and the trigger's robustness (NaN, inf, progress, cancel)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import pytest

from airflow_provider_music.core import (
    AuthenticationError,
    InvalidInputError,
    JobFailedError,
    JobTimeoutError,
    MusicApiError,
)
from airflow_provider_music.triggers.base import deadline_after, validate_event
from tests.core import test_operator_base as toy
from tests.core.test_operator_base import (  # noqa: F401 - toy_api: autouse fixture
    ToyLink,
    ToyOperator,
    ToyTrigger,
    all_logs,
    info_lines,
    no_store_context,
    toy_api,
)


def _deferred(op: ToyOperator, ctx: dict[str, Any]) -> Any:
    from airflow.providers.common.compat.sdk import TaskDeferred

    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx)
    return info.value


async def _events(trigger: Any) -> list[dict[str, Any]]:
    return [e.payload async for e in trigger.run()]


@pytest.mark.parametrize("with_store", [True, False], ids=["task_state_store", "fallback"])
def test_deferral_round_trip_carries_the_record(make_context, with_store):
    toy.API.next_script = ["running", "running", "success"]
    ctx = make_context() if with_store else no_store_context(make_context)
    deferred = _deferred(ToyOperator(task_id="t", deferrable=True, poll_interval=1, timeout=60), ctx)
    assert isinstance(deferred.trigger, ToyTrigger) and deferred.method_name == "execute_complete"
    assert deferred.kwargs["record"]["job_id"] == "job1" and deferred.timeout.total_seconds() == 120
    assert deferred.trigger.deadline == pytest.approx(time.time() + 60, abs=5)
    deferred.trigger.poll_interval = 0
    events = asyncio.run(_events(deferred.trigger))
    assert events[0]["status"] == "success"
    fresh = ToyOperator(task_id="t", deferrable=True)  # a new worker process builds a new operator
    out = fresh.execute_complete(ctx, event=events[0], **deferred.kwargs)
    assert out == {"job_id": "job1", "done": True} and toy.API.creates == 1
    assert ToyLink().get_link(fresh, ti_key=object()) == "https://toy.test/jobs/job1"  # re-announced


def test_defer_is_skipped_when_the_first_poll_is_terminal(make_context):
    toy.API.next_script = ["success"]
    assert ToyOperator(task_id="t", deferrable=True).execute(make_context())["done"] is True


def test_no_timeout_defers_without_deadline(make_context):
    toy.API.next_script = ["running"]
    deferred = _deferred(ToyOperator(task_id="t", deferrable=True, timeout=None), make_context())
    assert deferred.trigger.deadline is None and deferred.timeout is None


@pytest.mark.parametrize(
    ("event", "error", "match"),
    [
        (None, MusicApiError, "invalid trigger event"),
        ({"status": "weird"}, MusicApiError, "invalid trigger event"),
        ({"status": "success", "payload": "not a dict"}, MusicApiError, "invalid trigger event payload"),
        ({"status": "failed", "message": "moderated"}, JobFailedError, "failed: moderated"),
        ({"status": "timeout", "message": "late"}, JobTimeoutError, "late"),
        ({"status": "error", "message": "401", "error_class": "airflow_provider_music.core.AuthenticationError"},
         AuthenticationError, "401"),
        ({"status": "error", "message": "x", "error_class": "builtins.SystemExit"}, MusicApiError, "x"),
    ],
)
def test_execute_complete_validates_the_event(make_context, event, error, match):
    with pytest.raises(error, match=match):
        ToyOperator(task_id="t").execute_complete(make_context(), event=event, record={"job_id": "job1"})


def test_execute_complete_without_record_is_an_error(make_context):
    with pytest.raises(MusicApiError, match="without the job record"):
        ToyOperator(task_id="t").execute_complete(make_context(), event={"status": "success"})


def test_error_class_survives_deferral():
    with pytest.raises(AuthenticationError):
        validate_event({"status": "error", "message": "m", "error_class": "airflow_provider_music.core.AuthenticationError"},
                       describe="x")


# ---- trigger robustness -----------------------------------------------------------------------------
def _trigger(**kwargs: Any) -> ToyTrigger:
    kwargs.setdefault("poll_interval", 0)
    return ToyTrigger(conn_id="toy_default", target={"job_id": "job1"}, **kwargs)


@pytest.mark.parametrize("interval", [math.nan, math.inf, -1, "x"])
def test_bad_poll_interval_is_an_error_event_never_a_tight_loop(interval):
    toy.API.jobs["job1"] = ["running"]
    events = asyncio.run(asyncio.wait_for(_events(_trigger(poll_interval=interval)), 5))
    assert events[0]["status"] == "error" and "poll_interval" in events[0]["message"]
    assert toy.API.jobs["job1"] == ["running"]  # not polled at all
    with pytest.raises(InvalidInputError):
        validate_event(events[0], describe="toy")


def test_nan_deadline_never_means_forever():
    toy.API.jobs["job1"] = ["running"]
    events = asyncio.run(asyncio.wait_for(_events(_trigger(deadline=math.nan)), 5))
    assert events[0]["status"] == "error" and "deadline" in events[0]["message"]
    assert deadline_after(math.nan) != deadline_after(math.nan)  # stays NaN (-> error), never None


def test_infinite_deadline_means_no_limit_without_overflow():
    toy.API.jobs["job1"] = ["running", "running", "success"]
    assert deadline_after(math.inf) is None
    events = asyncio.run(asyncio.wait_for(_events(_trigger(deadline=math.inf)), 5))
    assert events[0]["status"] == "success"


def test_trigger_timeout_event_at_the_deadline():
    toy.API.jobs["job1"] = ["running"]
    events = asyncio.run(_events(_trigger(poll_interval=0.01, deadline=time.time() + 0.05)))
    assert events[0]["status"] == "timeout" and "running job1" in events[0]["message"]


class ChattyTrigger(ToyTrigger):
    progress_min_gap = 0.0


def test_trigger_logs_progress_on_change_and_every_n_polls_only(caplog, capsys):
    toy.API.jobs["job1"] = ["running"] * 25 + ["success"]
    trigger = ChattyTrigger.__new__(ChattyTrigger)
    ChattyTrigger.__init__(trigger, conn_id="toy_default", target={"job_id": "job1"}, poll_interval=0)
    with caplog.at_level(logging.INFO):
        events = asyncio.run(_events(trigger))
    assert events[0]["status"] == "success"
    info = [m for m in info_lines(capsys, caplog) if "job1" in m]
    assert len(info) == 3  # 1 state change + "still running" after polls 11 and 22 (every 10)
    assert "still running job1" in info[1]


def test_default_trigger_progress_is_quiet(caplog, capsys):
    toy.API.jobs["job1"] = ["running"] * 40 + ["success"]
    with caplog.at_level(logging.INFO):
        asyncio.run(_events(_trigger()))
    assert sum("job1" in m for m in info_lines(capsys, caplog)) == 1


def test_trigger_on_kill_cancels_through_the_link():
    asyncio.run(_trigger().on_kill())
    assert toy.API.cancelled == ["job1"]
    asyncio.run(_trigger(cancel_on_kill=False).on_kill())
    assert toy.API.cancelled == ["job1"]


def test_trigger_on_kill_without_cancel_call_logs(caplog, capsys):
    trigger = toy.ToyNoCancelTrigger(conn_id="toy_default", target={"job_id": "job1"})
    with caplog.at_level(logging.INFO):
        asyncio.run(trigger.on_kill())
    assert toy.API.cancelled == [] and "no cancel endpoint" in all_logs(capsys, caplog)


def test_operator_refuses_infinite_timeout_at_parse_time():
    with pytest.raises(InvalidInputError, match="timeout must be a finite number"):
        ToyOperator(task_id="t", deferrable=True, timeout=math.inf)


def test_trigger_deadline_bounds_the_hooks_inner_retries(monkeypatch):
    from airflow_provider_music.core.deadline import scope_deadline

    seen: list[Any] = []

    async def ajob_status(self: Any, job_id: str) -> Any:
        seen.append(scope_deadline())
        return toy.API.state(job_id)

    monkeypatch.setattr(toy.ToyHook, "ajob_status", ajob_status)
    monkeypatch.setattr(toy.TOY_STATUS, "acheck", toy.ToyHook.ajob_status)
    toy.API.jobs["job1"] = ["running", "success"]
    deadline = time.time() + 30
    assert asyncio.run(_events(_trigger(deadline=deadline)))[0]["status"] == "success"
    assert seen == [deadline, deadline]


def test_sync_wait_deadline_bounds_the_hooks_inner_retries(make_context, monkeypatch):
    from airflow_provider_music.core.deadline import scope_deadline

    seen: list[Any] = []

    def job_status(self: Any, job_id: str) -> Any:
        seen.append(scope_deadline())
        return toy.API.state(job_id)

    monkeypatch.setattr(toy.TOY_STATUS, "check", job_status)
    toy.API.next_script = ["running", "running", "success"]
    start = time.time()
    ToyOperator(task_id="t", poll_interval=1, timeout=50).execute(make_context())
    assert seen[0] is None  # the first poll (before waiting) has no wait deadline
    assert all(start + 49 < d < time.time() + 51 for d in seen[1:]) and len(seen) == 3


def test_record_travels_in_the_event_when_defer_kwargs_are_dropped(make_context):
    """``airflow dags test`` resumes with ``{"event": ...}`` only: the event's ``carry`` holds the record."""
    toy.API.next_script = ["running", "running", "success"]
    ctx = no_store_context(make_context)
    deferred = _deferred(ToyOperator(task_id="t", deferrable=True, poll_interval=1), ctx)
    assert deferred.trigger.serialize()[1]["carry"] == deferred.kwargs
    deferred.trigger.poll_interval = 0
    event = asyncio.run(_events(deferred.trigger))[0]
    assert event["carry"]["record"]["job_id"] == "job1"
    assert ToyOperator(task_id="t").execute_complete(ctx, event=event)["job_id"] == "job1"


def test_record_from_task_state_store_when_nothing_carried(make_context):
    ctx = make_context()
    ctx["task_state_store"].set("toy_job", {"job_id": "job7"})
    out = ToyOperator(task_id="t").execute_complete(ctx, event={"status": "success", "payload": {}})
    assert out == {"job_id": "job7", "done": True}


def test_wait_until_done_for_multi_phase_operators(caplog, capsys):
    from airflow_provider_music.core import PollResult
    from airflow_provider_music.operators.base import wait_until_done

    script = [PollResult("running", "2 left"), PollResult("running", "1 left"), PollResult("success", "done")]
    result = wait_until_done(lambda: script.pop(0), first=None, poll_interval=1, timeout=None, describe="uploads",
                             logger=logging.getLogger("toy"))
    assert result.message == "done"
    with pytest.raises(JobTimeoutError, match="waiting for uploads"):
        wait_until_done(lambda: PollResult("running"), first=None, poll_interval=1, timeout=0.0001,
                        describe="uploads", logger=logging.getLogger("toy"))
