"""A retried or resumed FlowMusic task never pays for a second generation, also when its job already FINISHED.

GET jobs lists running jobs only, so once the job of an earlier try has finished its replyRef cannot be
found any more. Every Airflow version is tested here, never skipped: with ``task_state_store`` (3.3+: the
job record, or the note of a create in flight) and without it (3.0-3.2: ``is_retry`` + the run's window),
crashing after the job finished, after the create was answered but before the record was stored, and
after a create whose answer was lost (emulator ``after=True`` faults).
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from airflow_provider_music.core.errors import LostAnswerError, answer_lost
from airflow_provider_music.hooks.flowmusic import FlowMusicLostCreateError
from airflow_provider_music.operators import base
from airflow_provider_music.operators.flowmusic import FlowMusicGenerateOperator
from tests.conftest import FakeTaskStateStore

MUSIC = "/v1/flowmusic/music"
WAIT = {"poll_interval": 0.05, "timeout": 20}


def generate(**kwargs):
    return FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", **{**WAIT, **kwargs})


class Run:
    """Tries of one task instance of one DAG run, with or without a task_state_store."""

    def __init__(self, make_context, with_store: bool) -> None:
        self.make_context, self.store = make_context, FakeTaskStateStore() if with_store else None
        self.started = dt.datetime.now(dt.UTC)
        self.try_number = 0

    def context(self):
        self.try_number += 1
        ctx = self.make_context(self.store) if self.store is not None else self.make_context(task_state_store=None)
        ctx["ti"].try_number = self.try_number
        ctx["ti"].start_date = self.started
        ctx["dag_run"] = type("DagRun", (), {"start_date": self.started, "run_id": "manual__test"})()
        return ctx


def _crash_in(monkeypatch, method: str, op, ctx) -> None:
    """Run ``op`` until ``method`` of the base is reached, then kill the worker there."""
    owner = type(op) if method == "submit" else base.MusicJobOperator
    original = getattr(owner, method)

    def crash(self, *args, **kwargs):
        if method == "submit":
            original(self, *args, **kwargs)  # the create was answered; the record never reached the store
        raise SystemExit("worker killed")

    with monkeypatch.context() as m:
        m.setattr(owner, method, crash)
        with pytest.raises(SystemExit):
            op.execute(ctx)


def _finish_jobs(emulator) -> None:
    for job in emulator.state.apis["flowmusic"].store.jobs.values():
        job.delay = 0.0  # the job clock: every job is done now


@pytest.fixture
def slow_jobs(music_emulator):
    music_emulator.state.settings["flowmusic.job_seconds"] = 30
    return music_emulator


@pytest.mark.parametrize("with_store", [True, False], ids=["3.3-store", "no-store"])
def test_crash_after_the_job_finished_never_pays_twice(slow_jobs, make_context, monkeypatch, with_store):
    run = Run(make_context, with_store)
    _crash_in(monkeypatch, "_wait", generate(), run.context())
    _finish_jobs(slow_jobs)
    if with_store:  # the record: resumes the finished job
        assert generate().execute(run.context())["status"] == "completed"
    else:  # no record, job gone from GET jobs, the account was charged in the window: fail closed
        with pytest.raises(FlowMusicLostCreateError, match="may have been created; ids unknown: check GET music"):
            generate().execute(run.context())
    assert slow_jobs.count("POST", MUSIC) == 1
    assert len(slow_jobs.state.apis["flowmusic"].store.jobs) == 1


@pytest.mark.parametrize("with_store", [True, False], ids=["3.3-store", "no-store"])
def test_crash_between_create_and_store_never_pays_twice(slow_jobs, make_context, monkeypatch, with_store):
    run = Run(make_context, with_store)
    op = generate()
    _crash_in(monkeypatch, "submit", op, run.context())
    _finish_jobs(slow_jobs)
    with pytest.raises(FlowMusicLostCreateError, match="replyRef 'airflow:test_dag/test_task/manual__test/-1'"):
        generate().execute(run.context())
    assert slow_jobs.count("POST", MUSIC) == 1


@pytest.mark.parametrize("with_store", [True, False], ids=["3.3-store", "no-store"])
def test_crash_while_the_job_runs_reconnects(slow_jobs, make_context, monkeypatch, with_store):
    run = Run(make_context, with_store)
    _crash_in(monkeypatch, "submit", generate(), run.context())
    slow_jobs.state.settings["flowmusic.job_seconds"] = 0.3
    for job in slow_jobs.state.apis["flowmusic"].store.jobs.values():
        job.delay = time.time() - job.created + 0.3
    assert generate().execute(run.context())["status"] == "completed"
    assert slow_jobs.count("POST", MUSIC) == 1


@pytest.mark.parametrize("with_store", [True, False], ids=["3.3-store", "no-store"])
def test_retry_with_nothing_paid_in_the_window_submits(music_emulator, make_context, with_store):
    run = Run(make_context, with_store)
    run.try_number = 1  # an earlier try failed before any create (nothing charged)
    assert generate().execute(run.context())["status"] == "completed"
    assert music_emulator.count("POST", MUSIC) == 1


@pytest.mark.parametrize("with_store", [True, False], ids=["3.3-store", "no-store"])
def test_lost_answer_of_a_job_that_finished_at_once_fails_closed(music_emulator, make_context, with_store):
    music_emulator.state.settings["flowmusic.job_seconds"] = 0.0
    music_emulator.add_fault(path=MUSIC + "$", method="POST", drop=True, after=True, times=1)
    run = Run(make_context, with_store)
    with pytest.raises(FlowMusicLostCreateError, match="may have been created; ids unknown") as info:
        generate().execute(run.context())
    assert isinstance(info.value, LostAnswerError) and answer_lost(info.value) and not info.value.retryable
    # the next try (a manual clear) does not pay again either
    with pytest.raises(FlowMusicLostCreateError):
        generate().execute(run.context())
    assert music_emulator.count("POST", MUSIC) == 1


def test_resending_stays_an_explicit_opt_in(music_emulator, make_context):
    music_emulator.state.settings["flowmusic.job_seconds"] = 0.0
    run = Run(make_context, with_store=False)
    assert generate().execute(run.context())["status"] == "completed"
    assert generate(resubmit_if_lost=True).execute(run.context())["status"] == "completed"
    assert music_emulator.count("POST", MUSIC) == 2


def test_definite_refusal_clears_the_note(music_emulator, make_context):
    run = Run(make_context, with_store=True)
    music_emulator.add_fault(path=MUSIC + "$", method="POST", status=422, times=1,
                             body='{"error": "Prompt moderated", "code": 422}')
    with pytest.raises(Exception, match="moderated"):
        generate().execute(run.context())
    assert generate().execute(run.context())["status"] == "completed"  # a 422 created nothing: no note kept
    assert music_emulator.count("POST", MUSIC) == 2
