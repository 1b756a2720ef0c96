"""The operator lifecycle base, proven on a toy API (an in-memory job service behind a real MusicApiHook).

Covers: argument checks at parse time and after rendering, the connection argument, resume through
``task_state_store`` (Airflow 3.3) and the fallback below it, the sync wait with progress logging, the
deferral round trip, event validation, ``on_kill``, the summary line and the extra link.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, ClassVar

import pytest

from airflow_provider_music.core import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    JobFailedError,
    JobTimeoutError,
    MusicApiError,
    MusicApiHook,
    PollResult,
    ServerError,
)
from airflow_provider_music.operators.base import MusicJobOperator, MusicLink, job_marker
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck
from tests.conftest import SECRET_TOKEN


# ---- the toy API -----------------------------------------------------------------------------------
class ToyApi:
    """Jobs with scripted states; counts creates and cancels."""

    def __init__(self) -> None:
        self.jobs: dict[str, list[Any]] = {}
        self.creates = 0
        self.cancelled: list[str] = []
        self.next_script: list[Any] = ["running", "success"]

    def create(self, spec: str) -> str:
        self.creates += 1
        job_id = f"job{self.creates}"
        self.jobs[job_id] = list(self.next_script)
        return job_id

    def state(self, job_id: str) -> PollResult:
        script = self.jobs[job_id]
        item = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(item, Exception):
            raise item
        return PollResult(item, f"{item} {job_id}", {"job_id": job_id, "url": f"https://toy.test/{job_id}?sig=s3cr3t"})


API = ToyApi()


class ToyHook(MusicApiHook):
    conn_name_attr = "toy_conn_id"
    default_conn_name = "toy_default"
    conn_type = "toy"
    hook_name = "Toy"
    default_base_url = "http://toy.test/"

    def job_status(self, job_id: str) -> PollResult:
        return API.state(job_id)

    async def ajob_status(self, job_id: str) -> PollResult:
        return API.state(job_id)

    def cancel_job(self, job_id: str) -> None:
        API.cancelled.append(job_id)

    async def acancel_job(self, job_id: str) -> None:
        API.cancelled.append(job_id)


def toy_target(job_id: Any) -> dict[str, Any]:
    return {"job_id": str(job_id)}


TOY_STATUS: StatusCheck[ToyHook] = StatusCheck(
    name="Toy job", hook_class=ToyHook, check=ToyHook.job_status, acheck=ToyHook.ajob_status, target=toy_target,
    cancel=ToyHook.cancel_job, acancel=ToyHook.acancel_job,
)
TOY_NO_CANCEL: StatusCheck[ToyHook] = StatusCheck(
    name="Toy job", hook_class=ToyHook, check=ToyHook.job_status, acheck=ToyHook.ajob_status, target=toy_target,
)


class ToyTrigger(MusicPollTrigger):
    status_check = TOY_STATUS


class ToyNoCancelTrigger(MusicPollTrigger):
    status_check = TOY_NO_CANCEL


class ToyLink(MusicLink):
    name = "Toy job"
    key = "toy_url"


class ToyOperator(MusicJobOperator):
    hook_class = ToyHook
    status_check = TOY_STATUS


    state_key = "toy_job"
    default_poll_interval = 5.0
    default_timeout = 600.0
    operator_extra_links = (ToyLink(),)
    template_fields = ("spec",)
    found: ClassVar[dict[str, Any] | None] = None

    def __init__(self, *, spec: str = "x", toy_conn_id: str = ToyHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(toy_conn_id=toy_conn_id, **kwargs)  # declared, as each API's base operator does
        self.spec = spec
        self.previous_seen: list[Any] = []

    def validate(self) -> None:
        if not isinstance(self.spec, str) or not self.spec:
            raise InvalidInputError(f"spec must be a non-empty string, got {self.spec!r}")

    def submit(self, context: Any, previous: dict[str, Any] | None) -> dict[str, Any]:
        self.previous_seen.append(previous)
        return {"job_id": API.create(self.spec), "marker": job_marker(context)}

    def find_existing(self, context: Any) -> dict[str, Any] | None:
        return ToyOperator.found

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        return TOY_STATUS.target(record["job_id"])

    def announce(self, record: dict[str, Any], context: Any) -> None:
        self.push(context, "job_id", record["job_id"])
        self.push_link(context, ToyLink, f"https://toy.test/jobs/{record['job_id']}?token={SECRET_TOKEN}")

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Any) -> dict[str, Any]:
        return {"job_id": record["job_id"], "done": result is not None}

    def summarize(self, record: dict[str, Any], output: Any) -> list[str]:
        return [f"job {record['job_id']} https://toy.test/jobs/{record['job_id']}?sig={SECRET_TOKEN}"]


class ToyNoCancelOperator(ToyOperator):
    status_check = TOY_NO_CANCEL


@pytest.fixture(autouse=True)
def toy_api(monkeypatch, set_connection):
    global API
    API = ToyApi()
    ToyOperator.found = None
    set_connection("toy_default", "toy", host="http://toy.test/")
    return API


def info_lines(capsys: Any, caplog: Any) -> list[str]:
    """INFO lines, whichever way Airflow routes operator/trigger loggers (structlog to stdout, or stdlib)."""
    out = capsys.readouterr().out.splitlines()
    return [line for line in out if "[info" in line] + [
        r.getMessage() for r in caplog.records if r.levelno == logging.INFO
    ]


def all_logs(capsys: Any, caplog: Any) -> str:
    return capsys.readouterr().out + caplog.text


def no_store_context(make_context) -> dict[str, Any]:
    """A context as Airflow < 3.3 gives it: no task_state_store."""
    ctx = make_context()
    ctx.pop("task_state_store")
    return ctx


# ---- parse-time and render-time argument checks ---------------------------------------------------
BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1, 0, "x", "nan", "inf", True, [1]]


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
@pytest.mark.parametrize("argument", ["poll_interval", "timeout"])
def test_bad_wait_numbers_fail_at_parse_time_naming_the_argument(argument, value):
    with pytest.raises(InvalidInputError, match=f"^{argument} must be") as info:
        ToyOperator(task_id="t", **{argument: value})
    assert "OverflowError" not in repr(info.value)


def test_empty_strings_from_templates():
    with pytest.raises(InvalidInputError, match="^poll_interval must be"):
        ToyOperator(task_id="t", poll_interval="")
    assert ToyOperator(task_id="t", timeout=" ").timeout is None  # what a template renders for None


def test_good_wait_numbers_and_numeric_strings():
    op = ToyOperator(task_id="t", poll_interval="2.5", timeout=" 30 ")
    assert (op.poll_interval, op.timeout) == (2.5, 30.0)
    assert ToyOperator(task_id="t", timeout=None).timeout is None
    assert (ToyOperator(task_id="t").poll_interval, ToyOperator(task_id="t").timeout) == (5.0, 600.0)
    with pytest.raises(InvalidInputError, match="timeout must be <="):
        ToyOperator(task_id="t", timeout=1e300)


def test_flags_are_checked():
    with pytest.raises(InvalidInputError, match="deferrable must be True or False"):
        ToyOperator(task_id="t", deferrable="maybe")
    assert ToyOperator(task_id="t", wait_for_completion="false").wait_for_completion is False


@pytest.mark.parametrize("value", ["nan", "inf", "-3", "0", "x"])
@pytest.mark.parametrize("argument", ["poll_interval", "timeout"])
def test_templated_wait_numbers_are_checked_after_rendering_with_the_same_message(argument, value, make_context):
    import jinja2

    op = ToyOperator(task_id="t", **{argument: "{{ params.v }}"})  # not checked at parse time
    ctx = make_context(params={"v": value})
    op.render_template_fields(ctx, jinja_env=jinja2.Environment())
    with pytest.raises(InvalidInputError, match=f"^{argument} must be"):
        op.execute(ctx)
    assert API.creates == 0  # nothing sent


def test_templated_numeric_string_is_accepted(make_context):
    import jinja2

    op = ToyOperator(task_id="t", poll_interval="{{ params.v }}", timeout="{{ params.v }}")
    ctx = make_context(params={"v": "7"})
    op.render_template_fields(ctx, jinja_env=jinja2.Environment())
    API.next_script = ["success"]
    assert op.execute(ctx)["done"] is True
    assert (op.poll_interval, op.timeout) == (7.0, 7.0)


def test_connection_argument_is_named_after_the_hook(make_context):
    assert "toy_conn_id" in ToyOperator.template_fields
    assert {"poll_interval", "timeout", "spec"} <= set(ToyOperator.template_fields)
    assert ToyOperator(task_id="t").conn_id == "toy_default"
    assert ToyOperator(task_id="t", toy_conn_id="other").toy_conn_id == "other"
    with pytest.raises(InvalidInputError, match="takes toy_conn_id= .*not conn_id="):
        ToyOperator(task_id="t", conn_id="x")
    with pytest.raises(InvalidInputError, match="takes toy_conn_id= .*not riffusion_conn_id="):
        ToyOperator(task_id="t", riffusion_conn_id="x")
    with pytest.raises(InvalidInputError, match="toy_conn_id must be a connection id"):
        ToyOperator(task_id="t", toy_conn_id=5)
    with pytest.raises(ConfigurationError, match="toy_conn_id='missing'"):
        ToyOperator(task_id="t", toy_conn_id="missing").execute(make_context())


def test_subclass_validate_runs_after_render_before_any_call(make_context):
    with pytest.raises(InvalidInputError, match="spec must be"):
        ToyOperator(task_id="t", spec="").execute(make_context())
    assert API.creates == 0


# ---- sync wait, progress, summary -------------------------------------------------------------------
def test_sync_wait_logs_progress_and_one_summary_without_queries(make_context, caplog, capsys, instant_retries):
    API.next_script = ["running"] * 12 + ["success"]
    ctx = make_context()
    with caplog.at_level(logging.INFO):
        out = ToyOperator(task_id="t", poll_interval=3).execute(ctx)
    assert out == {"job_id": "job1", "done": True}
    info = info_lines(capsys, caplog)
    assert sum("running job1" in m and "still" not in m for m in info) == 1  # the state change
    assert sum("still running job1" in m for m in info) == 2  # and every 5 polls after it
    summary = [m for m in info if "finished in" in m]
    assert len(summary) == 1 and "job job1 https://toy.test/jobs/job1" in summary[0]
    assert not any(SECRET_TOKEN in m or "?sig" in m for m in info)
    assert set(instant_retries) == {3.0}  # waited poll_interval between polls
    assert ctx["ti"].xcom_pushed["toy_url"] == "https://toy.test/jobs/job1"


def test_sync_wait_times_out_with_last_state(make_context, instant_retries, monkeypatch):
    import time as _time

    clock = [1000.0]
    monkeypatch.setattr(_time, "time", lambda: clock[0])
    instant_retries.clear()
    from airflow_provider_music import core

    monkeypatch.setattr(core, "_sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    API.next_script = ["running"]
    with pytest.raises(JobTimeoutError, match=r"Timed out after 20 s waiting for Toy job .*last state: running job1"):
        ToyOperator(task_id="t", poll_interval=5, timeout=20).execute(make_context())


def test_sync_wait_polls_through_retryable_errors_and_stops_on_fatal(make_context):
    API.next_script = ["running", ServerError("blip"), "success"]
    assert ToyOperator(task_id="t", poll_interval=1).execute(make_context())["done"] is True
    API.next_script = ["running", AuthenticationError("bad key")]
    with pytest.raises(AuthenticationError):
        ToyOperator(task_id="t", poll_interval=1).execute(make_context())


def test_failed_job_fails_the_task(make_context):
    API.next_script = ["running", "failed"]
    with pytest.raises(JobFailedError, match="Toy job .* failed: failed job1"):
        ToyOperator(task_id="t", poll_interval=1).execute(make_context())


def test_no_wait_returns_after_submit(make_context):
    out = ToyOperator(task_id="t", wait_for_completion=False).execute(make_context())
    assert out == {"job_id": "job1", "done": False}
    assert API.jobs["job1"] == ["running", "success"]  # never polled


# ---- on_kill ----------------------------------------------------------------------------------------
def test_on_kill_cancels_through_the_link(make_context):
    op = ToyOperator(task_id="t", wait_for_completion=False)
    op.on_kill()  # nothing submitted yet: nothing to cancel
    op.execute(make_context())
    op.on_kill()
    assert API.cancelled == ["job1"]


def test_on_kill_without_cancel_call_says_the_job_keeps_running(make_context, caplog, capsys):
    op = ToyNoCancelOperator(task_id="t", wait_for_completion=False)
    op.execute(make_context())
    capsys.readouterr()
    with caplog.at_level(logging.INFO):
        op.on_kill()
    text = all_logs(capsys, caplog)
    assert API.cancelled == [] and "has no cancel call" in text and "keeps running" in text


# ---- extra link ---------------------------------------------------------------------------------------
def test_link_of_a_task_that_never_pushed_does_not_read_xcom(monkeypatch):
    from airflow_provider_music.operators import base

    def boom(**_: Any) -> Any:
        raise AssertionError("XCom.get_value must not be called (it logs 'XCom not found')")

    monkeypatch.setattr(base.XCom, "get_value", boom)
    op = ToyOperator(task_id="t")
    assert ToyLink().get_link(op, ti_key=object()) == ""


def test_link_after_push_is_query_free(make_context):
    op = ToyOperator(task_id="t", wait_for_completion=False)
    op.execute(make_context())
    assert ToyLink().get_link(op, ti_key=object()) == "https://toy.test/jobs/job1"


def test_serialized_trigger_kwargs_are_json_primitives():
    trigger = TOY_STATUS.trigger(conn_id="toy_default", target=toy_target("j"), poll_interval=2, timeout=None)
    path, kwargs = trigger.serialize()
    assert path.endswith("ToyTrigger") and json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["deadline"] is None and TOY_STATUS.trigger_class is ToyTrigger


def test_a_link_cannot_serve_two_triggers():
    with pytest.raises(TypeError, match="already the status check"):
        type("Other", (MusicPollTrigger,), {"status_check": TOY_STATUS})


def test_errors_name_no_secret(make_context):
    API.next_script = ["running", MusicApiError("boom")]
    with pytest.raises(MusicApiError) as info:
        ToyOperator(task_id="t", poll_interval=1).execute(make_context())
    assert SECRET_TOKEN not in str(info.value)


def test_connection_argument_in_partial_expand_default_args_and_serialization():
    import datetime

    from airflow.sdk import DAG
    from airflow.serialization import serialized_objects

    # DagSerialization (3.1+) was SerializedDAG in 3.0
    serializer = getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG

    with DAG("lifecycle_toy", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
        ToyOperator.partial(task_id="a", toy_conn_id="c1", poll_interval=3).expand(spec=["x", "y"])
        ToyOperator.partial(task_id="b").expand(toy_conn_id=["c1", "c2"])
        op = ToyOperator(task_id="c", default_args={"toy_conn_id": "from_defaults"})
    assert op.conn_id == "from_defaults"
    assert json.dumps(serializer.to_dict(dag), default=str)


class ModeOperator(ToyOperator):
    template_fields = ("spec", "mode")

    def __init__(self, *, mode: Any = "fast", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.check_argument("mode", check_mode)


def check_mode(argument: str, value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ("fast", "slow"):
        raise InvalidInputError(f"{argument} must be 'fast' or 'slow', got {value!r}")
    return value.strip().lower()


def test_check_argument_runs_at_parse_time_and_after_rendering_with_one_message(make_context):
    import jinja2

    with pytest.raises(InvalidInputError, match="^mode must be 'fast' or 'slow', got 'quick'"):
        ModeOperator(task_id="t", mode="quick")
    assert ModeOperator(task_id="t", mode=" SLOW ").mode == "slow"
    op = ModeOperator(task_id="t", mode="{{ params.m }}")  # templated: not checked yet
    ctx = make_context(params={"m": "quick"})
    op.render_template_fields(ctx, jinja_env=jinja2.Environment())
    with pytest.raises(InvalidInputError, match="^mode must be 'fast' or 'slow', got 'quick'"):
        op.execute(ctx)
    assert API.creates == 0


class KindOperator(ToyOperator):
    """A required argument checked without regard to templates (like an operation name)."""

    def __init__(self, *, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kind not in ("a", "b"):
            raise InvalidInputError(f"kind must be 'a' or 'b', got {kind!r}")
        self.kind = kind


def test_partial_and_literal_expand_get_the_init_checks_at_parse_time():
    import datetime

    from airflow.sdk import DAG, task

    @task
    def kinds() -> list[str]:
        return ["a"]

    with DAG("mapped_toy", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
        with pytest.raises(InvalidInputError, match="^mode must be 'fast' or 'slow', got 'quick'"):
            ModeOperator.partial(task_id="m", mode="quick")
        with pytest.raises(InvalidInputError, match="^poll_interval must be > 0, got -5"):
            ToyOperator.partial(task_id="p", poll_interval=-5)
        with pytest.raises(InvalidInputError, match="^kind must be 'a' or 'b', got 'c'") as info:
            KindOperator.partial(task_id="k").expand(kind=["a", "c"])
        with pytest.raises(TypeError, match="missing keyword argument 'kind'"):
            KindOperator.partial(task_id="none").expand(spec=["x"])
        ModeOperator.partial(task_id="templated", mode="{{ params.m }}").expand(spec=["x"])
        KindOperator.partial(task_id="later").expand(kind=kinds())  # known when run: checked then, not refused here
    assert "task 'k' .expand(kind=[...]) item 1" in " ".join(info.value.__notes__)
    assert {"templated", "later"} <= set(dag.task_dict) and not {"m", "p", "k", "none"} & set(dag.task_dict)
