"""The lifecycle inside real Airflow (``airflow dags test``): deferral round trip and extra links.

``dags test`` runs the trigger inline and resumes the task with ``{"event": ...}`` only - the ``defer``
kwargs are dropped (the triggerer keeps them) - so the job record also travels in the event (``carry``).
An extra link of a task that failed before announcing (also a mapped one refused while Airflow unmapped it)
must not make the task SDK log "XCom not found".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_music.testing.dagtest import AirflowHome

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

DAG_FILE = '''
import datetime
import sys

sys.path.insert(0, {root!r})

from airflow.sdk import DAG, Asset, task

from tests.core.test_operator_base import ToyOperator

SONGS = Asset(name="toy_songs", uri="file:///toy/songs")  # asset extras after execute and execute_complete


class ToyFailing(ToyOperator):
    def validate(self):
        raise RuntimeError("toy fails before announcing")


@task
def bad_intervals():
    return [-5]  # known only at run time: refused when the mapped task is unmapped


with DAG("lifecycle_toy", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False):
    ToyFailing(task_id="toy_fails")
    # a mapped task whose expanded value is refused when Airflow unmaps it: finalize then holds the
    # MappedOperator itself (never unmapped, never ran), and its links must not be read from XCom
    ToyOperator.partial(task_id="toy_mapped_refused", timeout=60).expand(poll_interval=bad_intervals())
    ToyOperator(task_id="toy_defers", deferrable=True, poll_interval=1, timeout=60, outlets=[SONGS])
    ToyOperator(task_id="toy_waits", poll_interval=1, timeout=60, outlets=[SONGS])
    ToyOperator.partial(task_id="toy_mapped", poll_interval=1, timeout=60, outlets=[SONGS]).expand(spec=["a", "b"])
'''
#: the Airflow home of the module's run (its asset events are read from its database)
HOME: dict[str, Path] = {}


@pytest.fixture(scope="module")
def dag_run(tmp_path_factory: pytest.TempPathFactory):
    dags = tmp_path_factory.mktemp("dags")
    (dags / "lifecycle_toy.py").write_text(DAG_FILE.format(root=str(ROOT)))
    home = AirflowHome(tmp_path_factory.mktemp("airflow-home"), dags_folder=dags)
    HOME["path"] = home.path
    conn = json.dumps({"conn_type": "toy", "host": "http://toy.test/", "password": "x"})
    return home.dags_test("lifecycle_toy", env={"AIRFLOW_CONN_TOY_DEFAULT": conn}, timeout=600)


def test_deferral_round_trip_under_dags_test(dag_run):
    assert dag_run.states.get("toy_defers") == "success", dag_run.output[-3000:]
    assert dag_run.states.get("toy_waits") == "success", dag_run.output[-3000:]
    assert "Toy job finished in" in dag_run.output


def test_failed_task_logs_no_xcom_not_found_for_its_link(dag_run):
    assert dag_run.states.get("toy_fails") == "failed"
    assert "toy fails before announcing" in dag_run.output
    assert "XCom not found" not in dag_run.output


def test_a_mapped_task_refused_when_unmapped_logs_no_xcom_not_found(dag_run):
    assert dag_run.states.get("toy_mapped_refused[0]") == "failed", dag_run.states
    assert "poll_interval must be" in dag_run.output, dag_run.output[-3000:]
    assert "XCom not found" not in dag_run.output, dag_run.output[-3000:]


def test_every_task_instance_fills_its_own_asset_event_after_execute_and_after_deferral(dag_run):
    """Issue 22 §2: ``outlets=[SONGS]`` and nothing else - a deferring task, a waiting one and two mapped
    instances each emit an event whose ``extra`` names its own job (operators/assets.py, post_execute)."""
    import sqlite3

    with sqlite3.connect(HOME["path"] / "airflow.db") as db:
        rows = db.execute("SELECT source_task_id, source_map_index, extra FROM asset_event WHERE source_run_id = ?",
                          (dag_run.run_id,)).fetchall()
    by_task = {(t if m < 0 else f"{t}[{m}]"): json.loads(e) for t, m, e in rows}
    assert sorted(by_task) == ["toy_defers", "toy_mapped[0]", "toy_mapped[1]", "toy_waits"], dag_run.output[-3000:]
    for name, extra in by_task.items():
        assert extra["result"]["done"] is True and extra["result"]["job_id"].startswith("job"), (name, extra)
        assert extra["task"]["task_id"] == name.split("[")[0] and extra["task"]["run_id"] == dag_run.run_id
    assert by_task["toy_mapped[1]"]["task"]["map_index"] == 1
    assert len({e["result"]["job_id"] for e in by_task.values()}) == 4  # each instance names its own job
