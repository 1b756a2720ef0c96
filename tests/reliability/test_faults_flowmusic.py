"""FlowMusic rows of the fault matrix (``test_faults.py``): the same cells, run through its cell function.

Each cell registers the FlowMusic subject in the matrix for the duration of one test (``monkeypatch``), so
the shared matrix's coverage check still sees only its own subjects. Plus the 596 account error for every
FlowMusic subject: one request, then a task failure without retries.
"""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_music.hooks.flowmusic import FlowMusicAccountError, FlowMusicHook
from airflow_provider_music.operators.flowmusic import (
    FlowMusicDownloadOperator,
    FlowMusicEditOperator,
    FlowMusicGenerateOperator,
    FlowMusicStemsOperator,
)
from airflow_provider_music.sensors.flowmusic import FlowMusicJobSensor
from airflow_provider_music.testing.flowmusic_store import DEFAULT_EMAIL
from tests.conftest import FakeTaskStateStore
from tests.reliability import test_faults as matrix

pytestmark = pytest.mark.integration

NEVER = {"flowmusic.job_seconds": 1e6}


def _finished_job(env: matrix.Env) -> str:
    """A completed job put straight into the emulator's store (no request, whatever the cell's settings)."""
    if "jobid" not in env.data:
        store = env.emu.state.apis["flowmusic"].store
        acc = store.accounts[DEFAULT_EMAIL]
        clips = [store.new_clip(acc.email, acc.user_id, time.time(), title=f"Setup ({ab})") for ab in "AB"]
        job = store.new_job(acc, time.time() - 10, delay=0.0, request={"prompt": "setup"}, outcome="completed",
                            clips=[c.clip for c in clips])
        env.data["jobid"], env.data["clip"] = job.jobid, clips[0].clip
    return env.data["jobid"]


def _clip(env: matrix.Env) -> str:
    _finished_job(env)
    return env.data["clip"]


def _generate(env: matrix.Env):
    return FlowMusicGenerateOperator(task_id="generate", prompt="night drive", poll_interval=matrix.POLL, timeout=5,
                                     deferrable=env.deferrable)


def _edit(env: matrix.Env):
    return FlowMusicEditOperator(task_id="cover", operation="cover", clip=_clip(env), edit_params={"strength": 0.5},
                                 poll_interval=matrix.POLL, timeout=5, deferrable=env.deferrable)


def _download(env: matrix.Env):
    return FlowMusicDownloadOperator(task_id="dl", clips=_finished_job(env), destination=str(env.dest))


def _stems(env: matrix.Env):
    return FlowMusicStemsOperator(task_id="stems", clip=_clip(env), destination=str(env.dest))


def _sensor(env: matrix.Env):
    return FlowMusicJobSensor(task_id="wait", jobid=FlowMusicHook().generate("x", reply_ref="sensor"))


SUBJECTS = {
    "flowmusic-generate": matrix.Subject(
        "flowmusic", "operator", _generate, creates={r"^/v1/flowmusic/music$": 1},
        create_path=r"^/v1/flowmusic/music$", never_finishes=NEVER,
    ),
    "flowmusic-edit": matrix.Subject(
        "flowmusic", "operator", _edit, creates={r"^/v1/flowmusic/music/edit$": 1},
        create_path=r"^/v1/flowmusic/music/edit$", never_finishes=NEVER,
    ),
    "flowmusic-download": matrix.Subject("flowmusic", "operator", _download, downloads=True, can_defer=False),
    # stems are idempotent (asking again returns the same four clips): a lost answer is simply asked again
    "flowmusic-stems": matrix.Subject("flowmusic", "operator", _stems, create_path=r"^/v1/flowmusic/music/edit$",
                                      downloads=True, can_defer=False),  # makes no JSON reads: no read faults
    "flowmusic-job-sensor": matrix.Subject("flowmusic", "sensor", _sensor, never_finishes=NEVER),
}


READ_FAULTS = ("5xx-burst", "429-retry-after", "429-no-retry-after", "drop-mid-body", "slower-than-read-timeout",
               "html-error-page", "truncated-json")


def _cells() -> list:
    cells = []
    for sid, subject in SUBJECTS.items():
        for deferrable in (False, True) if subject.can_defer else (False,):
            for fid, fault in matrix.FAULTS.items():
                reads = fid in READ_FAULTS
                if fault.applies(subject) and not (reads and sid == "flowmusic-stems"):
                    mode = "deferrable" if deferrable else "poke" if subject.kind == "sensor" else "sync"
                    cells.append(pytest.param(sid, deferrable, fid, id=f"{sid}-{mode}-{fid}"))
    return cells


@pytest.fixture
def flowmusic_matrix(music_emulator, monkeypatch):
    """The FlowMusic API in the matrix's tables, and its connection built like the others."""
    monkeypatch.setitem(matrix.JSON_GETS, "flowmusic", r"^/v1/flowmusic/(?!music/download)")
    monkeypatch.setitem(matrix.DOWNLOADS, "flowmusic", r"^/_cdn/flowmusic/")
    for sid, subject in SUBJECTS.items():
        monkeypatch.setitem(matrix.SUBJECTS, sid, subject)
    shared = matrix._connections

    def connections(emu, mp, subject_id, extras):
        shared(emu, mp, subject_id, extras)
        mp.setenv("AIRFLOW_CONN_FLOWMUSIC_DEFAULT", emu.connection("flowmusic", retry_limit=5, **extras))

    monkeypatch.setattr(matrix, "_connections", connections)
    return music_emulator


@pytest.mark.parametrize(("subject_id", "deferrable", "fault_id"), _cells())
def test_flowmusic_fault_cell(flowmusic_matrix, monkeypatch, make_context, tmp_path, instant_retries, subject_id,
                              deferrable, fault_id):
    matrix.test_fault_cell(flowmusic_matrix, monkeypatch, make_context, tmp_path, instant_retries, subject_id,
                           deferrable, fault_id)
    if fault_id == "create-429-storm" and subject_id == "flowmusic-generate":
        assert instant_retries  # the creates were retried (429 = not processed), honouring Retry-After: 1


@pytest.mark.parametrize("subject_id", list(SUBJECTS))
def test_flowmusic_596_account_error_is_not_retried(flowmusic_matrix, monkeypatch, make_context, tmp_path, subject_id):
    emu, subject = flowmusic_matrix, SUBJECTS[subject_id]
    matrix._connections(emu, monkeypatch, subject_id, {})
    env = matrix.Env(emu=emu, tmp=tmp_path, ctx=make_context(FakeTaskStateStore()), deferrable=False)
    task = subject.build(env)
    if subject.kind == "sensor":
        task.poke_interval, task.timeout = matrix.POLL, 5
    body = json.dumps({"error": "Account composer@example.com in error state: refresh token rejected", "code": 596})
    rule = emu.add_fault(path=r"^/v1/flowmusic/", status=596, body=body)
    with pytest.raises(FlowMusicAccountError, match="re-add"):
        task.execute(env.ctx)
    assert rule.hits == 1
    assert not list(tmp_path.rglob("*.part"))
