"""Mureka rows of the fault matrix (``tests/reliability/test_faults.py``): the same cells, run through its cell
function, for the paid generate operator (sync and deferrable), the sensor and the download. Plus the 596
``REFRESH_FAILED`` account error for each: one request, then a task failure without retries.

Each cell registers the Mureka subject in the matrix for one test (``monkeypatch``), so the shared matrix's
coverage check still sees only its own subjects.
"""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_music.hooks.mureka import MurekaAccountError, MurekaHook
from airflow_provider_music.operators.mureka import MurekaDownloadOperator, MurekaGenerateOperator
from airflow_provider_music.sensors.mureka import MurekaJobSensor
from airflow_provider_music.testing.mureka_store import DEFAULT_ACCOUNT
from tests.conftest import FakeTaskStateStore
from tests.reliability import test_faults as matrix

pytestmark = pytest.mark.integration

NEVER = {"mureka.job_seconds": 1e6}
CREATE = r"^/v1/mureka/music/create$"


def _finished_job(env: matrix.Env) -> str:
    """A completed job put straight into the emulator's store (no request, whatever the cell's settings)."""
    if "jobid" not in env.data:
        store = env.emu.state.apis["mureka"].store
        job = store.new_job(DEFAULT_ACCOUNT, "music/create", time.time() - 10, delay=0.0,
                            request={"prompt": "setup", "async": True}, outcome="completed")
        for version in ("1", "2"):
            song = store.new_song(DEFAULT_ACCOUNT, time.time(), title="Setup", version=version, feed_id=job.feed_id)
            song.job = job
            job.songs.append(song.song_id)
        env.data["jobid"] = job.jobid
    return str(env.data["jobid"])


def _generate(env: matrix.Env):
    # long enough that the job is still running when a lost create answer is looked up in GET jobs (running
    # jobs only) even on a loaded machine; 0.15 s (the matrix default) raced the lookup under xdist
    env.emu.state.settings.setdefault("mureka.job_seconds", 0.8)
    return MurekaGenerateOperator(task_id="generate", prompt="night drive", poll_interval=matrix.POLL, timeout=5,
                                  deferrable=env.deferrable)


def _download(env: matrix.Env):
    return MurekaDownloadOperator(task_id="dl", songs=_finished_job(env), destination=str(env.dest))


def _sensor(env: matrix.Env):
    return MurekaJobSensor(task_id="wait", jobid=MurekaHook().create("create", prompt="x", reply_ref="sensor"))


SUBJECTS = {
    "mureka-generate": matrix.Subject("mureka", "operator", _generate, creates={r"^/v1/mureka/music/create$": 1},
                                      create_path=CREATE, never_finishes=NEVER),
    "mureka-download": matrix.Subject("mureka", "operator", _download, downloads=True, can_defer=False),
    "mureka-job-sensor": matrix.Subject("mureka", "sensor", _sensor, never_finishes=NEVER),
}


def _cells() -> list:
    cells = []
    for sid, subject in SUBJECTS.items():
        for deferrable in (False, True) if subject.can_defer and subject.kind == "operator" else (False,):
            for fid, fault in matrix.FAULTS.items():
                if fault.applies(subject):
                    mode = "deferrable" if deferrable else "poke" if subject.kind == "sensor" else "sync"
                    cells.append(pytest.param(sid, deferrable, fid, id=f"{sid}-{mode}-{fid}"))
    return cells


@pytest.fixture
def mureka_matrix(music_emulator, monkeypatch):
    """The Mureka API in the matrix's tables, and its connection built like the others."""
    monkeypatch.setitem(matrix.JSON_GETS, "mureka", r"^/v1/mureka/")
    monkeypatch.setitem(matrix.DOWNLOADS, "mureka", r"^/_cdn/mureka/")
    for sid, subject in SUBJECTS.items():
        monkeypatch.setitem(matrix.SUBJECTS, sid, subject)
    shared = matrix._connections

    def connections(emu, mp, subject_id, extras):
        shared(emu, mp, subject_id, extras)
        mp.setenv("AIRFLOW_CONN_MUREKA_DEFAULT", emu.connection("mureka", retry_limit=5, **extras))

    monkeypatch.setattr(matrix, "_connections", connections)
    return music_emulator


@pytest.mark.parametrize(("subject_id", "deferrable", "fault_id"), _cells())
def test_mureka_fault_cell(mureka_matrix, monkeypatch, make_context, tmp_path, instant_retries, subject_id,
                           deferrable, fault_id):
    matrix.test_fault_cell(mureka_matrix, monkeypatch, make_context, tmp_path, instant_retries, subject_id,
                           deferrable, fault_id)
    if fault_id == "create-429-storm":
        assert instant_retries  # the creates were retried (429 = not processed), honouring Retry-After: 1


@pytest.mark.parametrize("subject_id", list(SUBJECTS))
def test_mureka_596_account_error_is_not_retried(mureka_matrix, monkeypatch, make_context, tmp_path, subject_id):
    emu, subject = mureka_matrix, SUBJECTS[subject_id]
    matrix._connections(emu, monkeypatch, subject_id, {})
    env = matrix.Env(emu=emu, tmp=tmp_path, ctx=make_context(FakeTaskStateStore()), deferrable=False)
    task = subject.build(env)
    if subject.kind == "sensor":
        task.poke_interval, task.timeout = matrix.POLL, 5
    body = json.dumps({"error": "Session refresh failed 2026-01-19T14:31:15.000Z, manual update required",
                       "code": "REFRESH_FAILED"})
    rule = emu.add_fault(path=r"^/v1/mureka/", status=596, body=body)
    with pytest.raises(MurekaAccountError, match="re-link"):
        task.execute(env.ctx)
    assert rule.hits == 1
    assert not list(tmp_path.rglob("*.part"))
