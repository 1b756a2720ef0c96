"""The deployment side of ``bench_triggerer.py``: deferring N task instances as the execution API does,
process-tree CPU and memory, and the reschedule-mode phase (a real scheduler + LocalExecutor)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

EMULATOR_SETTINGS = {"riffusion.max_jobs": 10**6, "flowmusic.max_jobs": 10**6, "flowmusic.credits": 10**9}


# ---------------------------------------------------------------------------------------------------
# deferring N task instances as the execution API does
# ---------------------------------------------------------------------------------------------------
def defer_all(dag_id: str, run_id: str, triggers: list[Any], timeout: float = 600) -> int:
    """Each mapped TI of ``dag_id/run_id`` deferred on its sensor's own trigger (what ``self.defer`` leads to)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    deadline = time.monotonic() + timeout
    while True:
        with create_session() as session:
            tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id="wait").all()
            if len(tis) >= len(triggers):
                rows = [Trigger.from_object(triggers[ti.map_index]) for ti in tis]
                session.add_all(rows)
                session.flush()  # one batched INSERT (10,000 TIs: seconds, not one round trip each)
                for ti, row in zip(tis, rows, strict=True):
                    ti.state, ti.trigger_id, ti.next_method, ti.next_kwargs = (
                        TaskInstanceState.DEFERRED, row.id, "execute_complete", {})
                return len(tis)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id}: {len(tis)} of {len(triggers)} task instances after {timeout} s")
        time.sleep(2)


def trigger_counts(dag_id: str, run_id: str) -> tuple[int, int]:
    """(deferred TIs, of those: triggers assigned to a triggerer)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        q = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, state=TaskInstanceState.DEFERRED)
        deferred = q.count()
        assigned = q.join(Trigger, Trigger.id == TaskInstance.trigger_id).filter(Trigger.triggerer_id.isnot(None)).count()
    return deferred, assigned


def fail_leftovers(dag_id: str, run_id: str) -> None:
    """Triggers that did not fire in time: removed (the triggerer cancels them), their TIs marked failed."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, state=TaskInstanceState.DEFERRED).all()
        ids = [ti.trigger_id for ti in tis if ti.trigger_id is not None]
        for ti in tis:
            ti.state, ti.trigger_id = TaskInstanceState.FAILED, None
        session.flush()
        session.query(Trigger).filter(Trigger.id.in_(ids)).delete(synchronize_session=False)


def trigger_run(dep: Any, dag_id: str, timeout: float = 900) -> str:
    """A run of ``dag_id`` (POST dagRuns with a long timeout: 10,000 mapped TIs are created in that call)."""
    import requests

    dep.wait_dag(dag_id, timeout=300)
    resp = requests.post(f"{dep.api}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {}},
                         timeout=timeout)
    resp.raise_for_status()
    return str(resp.json()["dag_run_id"])


def api_gets(dep: Any) -> int:
    """GET requests the emulator's APIs have answered so far (its own ``/_emulator`` routes left out)."""
    import requests

    counts = requests.get(f"{dep.emulator}/_emulator/state", timeout=60).json()["request_counts"]
    return sum(v for k, v in counts.items() if k.startswith("GET /") and not k.startswith("GET /_emulator"))


# ---------------------------------------------------------------------------------------------------
# process trees
# ---------------------------------------------------------------------------------------------------
def tree(pid: int) -> list[Any]:
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process tree, including children that already exited (task processes in reschedule
    mode live a few seconds: their time reaches the waiting parent's ``children_*`` counters)."""
    total = 0.0
    for proc in tree(pid):
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except Exception:  # noqa: BLE001,S112 - a child that just exited
            continue
    return total


def tree_rss_mb(pid: int) -> float:
    """Memory of the triggerer's process tree: the sum of PSS (pages shared by the forked processes counted
    once, split between them; plain RSS would count them twice)."""
    total = 0
    for proc in tree(pid):
        try:
            total += proc.memory_full_info().pss
        except Exception:  # noqa: BLE001,S112
            continue
    return total / 1024 / 1024


# ---------------------------------------------------------------------------------------------------
# reschedule mode
# ---------------------------------------------------------------------------------------------------
def end_runs() -> None:
    """Every bench run so far ended (TIs and runs marked done, triggers removed): a scheduler started now
    schedules only the reschedule-mode run."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, State, TaskInstanceState
    from sqlalchemy import or_

    with create_session() as session:
        open_tis = or_(TaskInstance.state.is_(None), TaskInstance.state.notin_(list(State.finished)))
        for ti in session.query(TaskInstance).filter(open_tis):
            ti.state, ti.trigger_id, ti.next_method, ti.next_kwargs = TaskInstanceState.SKIPPED, None, None, None
        session.flush()
        session.query(Trigger).delete(synchronize_session=False)
        for run in session.query(DagRun).filter(DagRun.state.notin_([DagRunState.SUCCESS, DagRunState.FAILED])):
            run.state = DagRunState.SUCCESS


def ti_states(dag_id: str, run_id: str) -> dict[str, int]:
    from collections import Counter

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return dict(Counter(str(ti.state) for ti in session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id)))


def stop_scheduler(dep: Any) -> None:
    """SIGTERM the scheduler's process group (executor workers, task processes), SIGKILL after 60 s."""
    import os
    import signal
    import subprocess

    proc = dep.procs.pop("scheduler")
    for sig, wait in ((signal.SIGTERM, 60), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # whatever of the group outlived its leader
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def measure_reschedule(dep: Any, kind: str, n: int, interval: float) -> dict[str, Any]:
    """The same N waits as a mapped ``mode="reschedule"`` sensor run by a real scheduler + LocalExecutor."""
    dag_id = f"bench_{kind}_{n}_reschedule"
    end_runs()
    dep.start_component("scheduler")
    try:
        run_id = trigger_run(dep, dag_id)
        time.sleep(interval)  # warm-up: the first task starts
        sched, api_pid = dep.procs["scheduler"].pid, dep.procs["api-server"].pid
        cpu0, api0, req0, w0 = tree_cpu(sched), tree_cpu(api_pid), api_gets(dep), time.monotonic()
        peak = 0.0
        while time.monotonic() - w0 < 2 * interval:
            time.sleep(min(2.0, interval / 4))
            peak = max(peak, tree_rss_mb(sched))
        window = time.monotonic() - w0
        cpu, api_cpu, reqs = tree_cpu(sched) - cpu0, tree_cpu(api_pid) - api0, api_gets(dep) - req0
        states = ti_states(dag_id, run_id)
    finally:
        stop_scheduler(dep)
        end_runs()
    return {"kind": kind, "mode": "reschedule (scheduler + LocalExecutor, parallelism 16)", "n": n,
            "cpu_pct": round(100 * cpu / window, 2), "api_server_cpu_pct": round(100 * api_cpu / window, 2),
            "rss_mb": round(peak, 1), "req_per_job_min": round(reqs / n / (window / 60), 3),
            "cpu_s_per_poke": round((cpu + api_cpu) / reqs, 2) if reqs else None, "ti_states": states}


# ---------------------------------------------------------------------------------------------------
# the deployment
# ---------------------------------------------------------------------------------------------------
def wait_deployment(root: Any, capacity: int) -> Any:
    """api-server, dag-processor and one triggerer (room for ``capacity`` triggers) on PostgreSQL."""
    import shutil
    import sys
    from pathlib import Path

    from tests.deployment.harness import Deployment
    from tests.deployment.prodstack import Postgres, data_root, postgres_account

    class WaitDeployment(Deployment):
        """api-server, dag-processor and one triggerer on PostgreSQL (SQLite locks up at 1,000 triggers)."""

        health = ("metadatabase", "triggerer", "dag_processor")
        #: room for thousands of jobs in flight (the emulated accounts allow 6-12, as the real ones). Start-up
        #: settings: ``POST /_emulator/reset`` returns to them, and FlowMusic reads ``max_jobs`` at reset only.
        emulator_args = tuple(arg for key, value in EMULATOR_SETTINGS.items()
                              for arg in ("--setting", f"{key}={json.dumps(value)}"))

        def __init__(self, root: Path, **kwargs: Any) -> None:
            super().__init__(root, **kwargs)
            self.data = data_root(postgres_account())
            self.postgres = Postgres(self.data / "postgres", postgres_account())

        def start(self, timeout: float = 300) -> None:
            self.postgres.start()
            super().start(timeout)

        def stop(self) -> None:
            try:
                super().stop()
            finally:
                self.postgres.stop()
                shutil.rmtree(self.data, ignore_errors=True)

        def components(self) -> dict[str, list[str]]:
            return {name: [sys.executable, "-m", "airflow", name] for name in ("api-server", "dag-processor", "triggerer")}

        def start_component(self, name: str) -> None:  # the scheduler only for the reschedule phases
            self._spawn(name, [sys.executable, "-m", "airflow", name])

        def stack_env(self) -> dict[str, str]:
            from airflow_provider_music.testing.apis import connection_json, default_connection_extras

            tasks_conn = json.loads(connection_json("audioshake", self.emulator, token=self.token,
                                                    extra=default_connection_extras("audioshake", self.emulator)))
            tasks = json.dumps({**tasks_conn, "conn_type": "audioshake_tasks"})  # the type chooses the Tasks API
            return {"AIRFLOW_CONN_AUDIOSHAKE_TASKS": tasks, "AIRFLOW__CORE__PARALLELISM": "16",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
                    "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000", "AIRFLOW__TRIGGERER__CAPACITY": str(capacity),
                    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                    # the triggerer imports the in-triggerer floor (bench/_floor_trigger.py) from here
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent),
                                                                os.environ.get("PYTHONPATH")]))}

    return WaitDeployment(Path(root), dag_files=[], token="emulator-token")
