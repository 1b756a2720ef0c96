"""Resume-or-submit of the operator base, on every Airflow version.

Both mechanisms are tested everywhere: ``task_state_store`` (Airflow 3.3+) and the fallback below it
(defer kwargs within a try, ``find_existing`` through the API across tries). Which one a real task gets
depends on the installed Airflow; ``test_installed_airflow_offers_the_mechanism_we_expect`` pins that.
"""

from __future__ import annotations

import importlib.metadata

import pytest
from packaging.version import Version

from tests.core import test_operator_base as toy
from tests.core.test_operator_base import ToyOperator, all_logs, no_store_context, toy_api  # noqa: F401 - autouse fixture


def _airflow_version() -> Version:
    return Version(Version(importlib.metadata.version("apache-airflow")).base_version)


def test_installed_airflow_offers_the_mechanism_we_expect():
    """3.3+: the runtime context has task_state_store; below: it does not, and the base falls back."""
    from airflow.sdk.definitions.context import Context

    has_store = "task_state_store" in Context.__annotations__
    assert has_store == (_airflow_version() >= Version("3.3"))


# ---- Airflow 3.3: task_state_store ------------------------------------------------------------------
def test_record_is_stored_right_after_submit(make_context):
    ctx = make_context()
    toy.API.next_script = ["running"]
    ToyOperator(task_id="t", wait_for_completion=False).execute(ctx)
    assert ctx["task_state_store"].get("toy_job")["job_id"] == "job1"


def test_retry_reconnects_to_a_running_job_without_a_second_create(make_context, caplog, capsys):
    ctx = make_context()
    ToyOperator(task_id="t", wait_for_completion=False).execute(ctx)
    toy.API.jobs["job1"] = ["running", "success"]
    out = ToyOperator(task_id="t", poll_interval=1).execute(make_context(store=ctx["task_state_store"]))
    assert out == {"job_id": "job1", "done": True} and toy.API.creates == 1
    text = all_logs(capsys, caplog)
    assert "Reconnecting to Toy job" in text and "found via task_state_store" in text


def test_retry_after_success_returns_without_waiting(make_context):
    ctx = make_context()
    ToyOperator(task_id="t", wait_for_completion=False).execute(ctx)
    toy.API.jobs["job1"] = ["success"]
    out = ToyOperator(task_id="t").execute(make_context(store=ctx["task_state_store"]))
    assert out["done"] is True and toy.API.creates == 1


def test_retry_after_failure_submits_again_with_the_previous_record(make_context):
    ctx = make_context()
    ToyOperator(task_id="t", wait_for_completion=False).execute(ctx)
    toy.API.jobs["job1"] = ["failed"]
    toy.API.next_script = ["success"]
    op = ToyOperator(task_id="t")
    out = op.execute(make_context(store=ctx["task_state_store"]))
    assert out["job_id"] == "job2" and op.previous_seen[0]["job_id"] == "job1"
    assert ctx["task_state_store"].get("toy_job")["job_id"] == "job2"


def test_durable_false_always_submits(make_context):
    ctx = make_context()
    ToyOperator(task_id="t", wait_for_completion=False).execute(ctx)
    toy.ToyOperator.found = {"job_id": "job1"}
    ToyOperator(task_id="t", wait_for_completion=False, durable=False).execute(make_context(store=ctx["task_state_store"]))
    assert toy.API.creates == 2


# ---- below 3.3: API lookup (and defer kwargs, see test_lifecycle_defer) -----------------------------
def test_without_store_a_job_found_through_the_api_is_reused(make_context, caplog, capsys):
    ToyOperator(task_id="t", wait_for_completion=False).execute(no_store_context(make_context))
    toy.API.jobs["job1"] = ["running", "success"]
    toy.ToyOperator.found = {"job_id": "job1"}
    out = ToyOperator(task_id="t", poll_interval=1).execute(no_store_context(make_context))
    assert out["job_id"] == "job1" and toy.API.creates == 1
    assert "found via API lookup" in all_logs(capsys, caplog)


def test_without_store_and_nothing_found_it_submits(make_context):
    out = ToyOperator(task_id="t", wait_for_completion=False).execute(no_store_context(make_context))
    assert out["job_id"] == "job1" and toy.API.creates == 1


def test_without_store_a_failed_found_job_is_resubmitted(make_context):
    ToyOperator(task_id="t", wait_for_completion=False).execute(no_store_context(make_context))
    toy.API.jobs["job1"] = ["failed"]
    toy.ToyOperator.found = {"job_id": "job1"}
    op = ToyOperator(task_id="t", wait_for_completion=False)
    assert op.execute(no_store_context(make_context))["job_id"] == "job2"
    assert op.previous_seen == [{"job_id": "job1"}]


def test_a_stored_record_wins_over_the_api_lookup(make_context):
    ctx = make_context()
    ToyOperator(task_id="t", wait_for_completion=False).execute(ctx)
    toy.API.jobs["job1"] = ["success"]
    toy.ToyOperator.found = {"job_id": "elsewhere"}
    assert ToyOperator(task_id="t").execute(make_context(store=ctx["task_state_store"]))["job_id"] == "job1"


@pytest.mark.parametrize("with_store", [True, False], ids=["task_state_store", "fallback"])
def test_job_marker_is_stable_across_tries(make_context, with_store):
    ctx = make_context() if with_store else no_store_context(make_context)
    first = ToyOperator(task_id="t", wait_for_completion=False, durable=False).submit(ctx, None)
    ctx["ti"].try_number = 2
    second = ToyOperator(task_id="t", wait_for_completion=False, durable=False).submit(ctx, None)
    assert first["marker"] == second["marker"] == "test_dag/test_task/manual__test/-1"


# ---- helpers for find_existing (operators/resume.py) -----------------------------------------------
def test_is_retry_and_created_after(make_context):
    import datetime
    from unittest import mock

    from airflow_provider_music.operators.base import created_after, is_retry

    ctx = make_context()
    assert is_retry(ctx) is False
    ctx["ti"].try_number = 3
    assert is_retry(ctx) is True
    started = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    ctx["dag_run"] = mock.Mock(start_date=started)
    assert created_after(ctx) == started.timestamp() - 120
    assert created_after({"ti": None}) is None


def test_attempt_journal_keeps_the_note_only_when_the_answer_was_lost(make_context):
    from airflow_provider_music.core import ApiConnectionError, InvalidInputError

    ctx = make_context()
    op = ToyOperator(task_id="t")
    journal = op.attempts(ctx)
    assert journal.send(lambda: "ok", spec="x") == "ok" and journal.earlier() is None
    with pytest.raises(InvalidInputError):  # definite: nothing was sent
        journal.send(lambda: (_ for _ in ()).throw(InvalidInputError("bad")), spec="x")
    assert journal.earlier() is None
    with pytest.raises(ApiConnectionError):  # the answer was lost: the create may have happened
        journal.send(lambda: (_ for _ in ()).throw(ApiConnectionError("reset after send")), spec="x")
    note = op.attempts(make_context(store=ctx["task_state_store"])).earlier()
    assert note is not None and note["spec"] == "x" and note["at"] > 0
    assert ctx["task_state_store"].get("toy_job_attempt") == note


def test_attempt_journal_can_keep_the_note_after_an_answer(make_context):
    """``keep_on_answer=True`` (FlowMusic's creates): the note outlives a good answer until the next send, so a
    worker dying between the answer and the stored record leaves a later try the note; a refusal still clears."""
    from airflow_provider_music.core import InvalidInputError

    ctx = make_context()
    journal = ToyOperator(task_id="t").attempts(ctx)
    assert journal.send(lambda: "ok", keep_on_answer=True, spec="x") == "ok"
    assert journal.earlier() is not None and journal.earlier()["spec"] == "x"
    with pytest.raises(InvalidInputError):
        journal.send(lambda: (_ for _ in ()).throw(InvalidInputError("bad")), keep_on_answer=True, spec="y")
    assert journal.earlier() is None


def test_attempt_journal_without_store_is_a_no_op(make_context):
    op = ToyOperator(task_id="t")
    journal = op.attempts(no_store_context(make_context))
    assert journal.send(lambda: 5) == 5 and journal.earlier() is None
    assert ToyOperator(task_id="t", durable=False).attempts(make_context()).store is None
