"""Issue 22 §3: what an AudioShake separation cost (the Tasks API's task ``cost``; unknown on the legacy Jobs
API) and the budget guard (``creditsPerMinute`` of GET /models x the input's duration)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.core.errors import BudgetExceededError
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.testing.audio import write_sine_wav
from airflow_provider_music.testing.emulator import connection_json
from tests.audioshake.conftest import audioshake_conn
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore

STEMS = ["vocals", "dialogue"]  # 1.0 + 1.5 credits per minute (the contract's price list)


@pytest.fixture
def song(tmp_path: Path) -> Path:
    return write_sine_wav(tmp_path / "in" / "song.wav", seconds=6.0, freq=220.0)  # 0.1 min


@pytest.fixture
def tasks(music_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))


def op(tmp_path: Path, source, **kwargs) -> AudioShakeStemSeparationOperator:
    return AudioShakeStemSeparationOperator(task_id="separate", source=source, destination=str(tmp_path / "out"),
                                            stems=kwargs.pop("stems", STEMS), poll_interval=0.05, timeout=30, **kwargs)


def finish(task, ctx, deferrable):
    if not deferrable:
        return task.execute(ctx)
    with pytest.raises(TaskDeferred) as exc:
        task.execute(ctx)

    async def first():
        async for event in exc.value.trigger.run():
            return event.payload

    return task.execute_complete(ctx, event=asyncio.run(first()), **(exc.value.kwargs or {}))


@pytest.mark.parametrize("deferrable", [False, True])
def test_tasks_api_reports_the_task_cost(tasks, music_emulator, tmp_path, song, make_context, deferrable):
    task = op(tmp_path, str(song), deferrable=deferrable)
    out = finish(task, make_context(), deferrable)
    assert out["cost"] == {"amount": 0.25, "unit": "credits", "source": "GET /tasks/{id} cost"}  # 2.5/min x 0.1 min
    assert task.task_report.cost.amount == 0.25 and {"outputs", "tasks", "files"} <= set(out)


def test_many_sources_keep_the_list_shape_and_sum_their_tasks(tasks, tmp_path, song, make_context):
    other = write_sine_wav(tmp_path / "in" / "other.wav", seconds=12.0)
    ctx = make_context()
    task = op(tmp_path, [str(song), str(other)], stems=["vocals"])
    out = task.execute(ctx)
    assert isinstance(out, list) and all("cost" not in item for item in out)  # the list result keeps its shape
    assert ctx["ti"].xcom_pushed["cost"] == {"amount": 0.3, "unit": "credits", "source": "GET /tasks/{id} cost"}


def test_legacy_jobs_api_reports_unknown_never_zero(music_emulator, monkeypatch, tmp_path, song, make_context):
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "jobs"))
    task = op(tmp_path, str(song), stems=["vocals"])
    out = task.execute(make_context())
    assert out["cost"]["amount"] == "unknown" and task.task_report.cost.amount is None
    with_budget = op(tmp_path, str(song), stems=["vocals"], max_cost=0.01)  # no price published: not refused
    assert with_budget.execute(make_context())["outputs"]


def test_estimate_above_max_cost_is_refused_before_any_upload_or_task(tasks, music_emulator, tmp_path, song,
                                                                        make_context):
    with pytest.raises(BudgetExceededError, match=r"estimated cost 0\.25 credits .*2\.5 credits/min.*max_cost=0\.2"):
        op(tmp_path, str(song), max_cost=0.2).execute(make_context())
    assert music_emulator.count("POST", "/tasks") == 0 and music_emulator.count("POST", "/assets") == 0
    music_emulator.state.settings["audioshake.credits_per_minute"] = {"vocals": 4.0}  # GET /models follows
    with pytest.raises(BudgetExceededError, match=r"estimated cost 0\.55 credits"):
        op(tmp_path, str(song), max_cost=0.5).execute(make_context())
    assert op(tmp_path, str(song), max_cost=0.55).execute(make_context())["cost"]["amount"] == 0.55


def test_connection_default_unknown_duration_and_resume(music_emulator, monkeypatch, tmp_path, song, make_context):
    conn = connection_json("audioshake", music_emulator.url, token=music_emulator.token,
                           extra={"api": "tasks", "max_cost": 0.1})
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", conn)
    with pytest.raises(BudgetExceededError, match="connection 'audioshake_default' extra max_cost=0.1"):
        op(tmp_path, str(song)).execute(make_context())
    mp3 = tmp_path / "in" / "song.mp3"
    mp3.write_bytes(b"ID3\x04" + bytes(2000))
    music_emulator.state.settings["audioshake.job_seconds"] = 30
    store = FakeTaskStateStore()
    with pytest.raises(TaskDeferred):  # duration unknown: no estimate, so the guard lets it through (and logs it)
        op(tmp_path, str(mp3), deferrable=True).execute(make_context(store))
    music_emulator.state.settings["audioshake.job_seconds"] = 0.01
    out = op(tmp_path, str(mp3), max_cost=0.0).execute(make_context(store))  # resumed: nothing new paid
    assert out["cost"]["amount"] > 0 and music_emulator.count("POST", "/tasks") == 1


def test_no_secret_in_cost_or_budget_error(music_emulator, monkeypatch, tmp_path, song, make_context):
    music_emulator.state.tokens.add(SECRET_TOKEN)
    conn = connection_json("audioshake", music_emulator.url, token=SECRET_TOKEN, extra={"api": "tasks"})
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", conn)
    out = op(tmp_path, str(song)).execute(make_context())
    ctx = make_context()
    ctx["ti"].task_id = "another_task"  # the same task instance would reconnect to its task (not refused)
    with pytest.raises(BudgetExceededError) as exc:
        op(tmp_path, str(song), max_cost=0).execute(ctx)
    assert SECRET_TOKEN not in json.dumps(out) + str(exc.value)
