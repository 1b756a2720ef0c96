"""A real Airflow 3 deployment for tests: api-server, scheduler, dag-processor and triggerer as separate
processes (LocalExecutor, SQLite), plus the emulator in its own process, all on loopback.

Every process is started in its own session (process group) and recorded by PID; ``stop()`` terminates each
group (the scheduler's LocalExecutor workers and task processes included), then kills what is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: what /monitor/health must report healthy before a deployment counts as started
HEALTH = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    health: tuple[str, ...] = HEALTH
    #: extra emulator arguments, e.g. start-up settings (``POST /_emulator/reset`` returns to them)
    emulator_args: tuple[str, ...] = ()

    def __init__(self, root: Path, *, dag_files: list[Path], token: str,
                 extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.extra_env = dict(extra_env or {})
        self.home = root / "home"
        self.dags = root / "dags"
        self.logs = root / "process-logs"
        self.token = token
        self.api_port = free_port()
        self.emulator_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._rest_token: str | None = None
        for folder in (self.home, self.dags, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        for path in dag_files:
            shutil.copy(path, self.dags / path.name)

    # ---- environment -----------------------------------------------------------------------
    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def emulator(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    def env(self) -> dict[str, str]:
        from airflow_provider_music.testing.apis import APIS

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for entry in APIS:  # every emulated API (FlowMusic included), from the one list
            env[entry.env_name] = json.dumps(entry.connection(self.emulator, token=self.token))
        env.update(self.stack_env())
        env.update(self.extra_env)
        return env

    def stack_env(self) -> dict[str, str]:
        """Settings of a subclass's stack (executor, database, broker) on top of :meth:`env`."""
        return {}

    def components(self) -> dict[str, list[str]]:
        """Name -> command of every Airflow process of this deployment."""
        return {name: [sys.executable, "-m", "airflow", name] for name in COMPONENTS}

    # ---- processes ---------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root
        )

    def start(self, timeout: float = 180) -> None:
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.env(),
                              capture_output=True, timeout=600)
        if done.returncode:
            raise RuntimeError(f"airflow db migrate failed: {done.stderr.decode(errors='replace')[-3000:]}")
        self._spawn("emulator", [sys.executable, "-m", "airflow_provider_music.testing.emulator", "--port",
                                 str(self.emulator_port), "--token", self.token, "--job-seconds", "5",
                                 *self.emulator_args])
        for name in self.components():
            self.start_component(name)
        self.wait_healthy(timeout)

    def start_component(self, name: str) -> None:
        self._spawn(name, self.components()[name])

    def kill_component(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        _signal_group(proc, sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop every process this deployment started (and their children), by PID, always."""
        for name, proc in list(self.procs.items()):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGKILL)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}: {self.log_tail(name)}")
            try:
                last = requests.get(f"{self.api}/api/v2/monitor/health", timeout=5).json()
                if all(last.get(k, {}).get("status") == "healthy" for k in self.health):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"deployment not healthy after {timeout} s: {last}")

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # ---- REST API ------------------------------------------------------------------------------
    def rest_token(self) -> str | None:
        """A bearer token of the simple auth manager (``all_admins``: ``GET /auth/token``, no credentials).

        Airflow 3.1's public API answers 401 without one even with ``simple_auth_manager_all_admins``;
        3.0, 3.2 and 3.3 accept the call without a token.
        """
        if self._rest_token is None:
            resp = requests.get(f"{self.api}/auth/token", timeout=60)
            resp.raise_for_status()
            self._rest_token = str(resp.json()["access_token"])
        return self._rest_token

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        attempts = 3 if method.upper() == "GET" else 1  # a loaded 2-core machine: GETs are safe to repeat
        given = dict(kwargs.pop("headers", None) or {})
        for attempt in range(attempts):
            try:
                auth = {"Authorization": f"Bearer {self._rest_token}"} if self._rest_token else {}
                resp = requests.request(method, f"{self.api}/api/v2/{path.lstrip('/')}", timeout=60,
                                        headers={**given, **auth}, **kwargs)
                if resp.status_code == 401 and not self._rest_token:  # Airflow 3.1: a token is needed
                    auth = {"Authorization": f"Bearer {self.rest_token()}"}
                    resp = requests.request(method, f"{self.api}/api/v2/{path.lstrip('/')}", timeout=60,
                                            headers={**given, **auth}, **kwargs)
                if resp.status_code < 500 or attempt == attempts - 1:  # a 5xx: the database was busy
                    break
            except (requests.ConnectionError, requests.Timeout):
                if attempt == attempts - 1:
                    raise
            time.sleep(2)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def wait_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.rest("PATCH", f"dags/{dag_id}", json={"is_paused": False})
                return
            except requests.HTTPError:
                time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout} s")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.wait_dag(dag_id)
        run = self.rest("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def trigger_many(self, dag_id: str, count: int, conf: dict[str, Any] | None = None) -> list[str]:
        """``count`` runs of ``dag_id`` at once (the DAG's ``max_active_runs`` lets them run side by side)."""
        self.wait_dag(dag_id)
        return [self._post_run(dag_id, conf or {}) for _ in range(count)]

    def _post_run(self, dag_id: str, conf: dict[str, Any], attempts: int = 3) -> str:
        """POST a DAG run; a 5xx (SQLite busy on a loaded machine) is tried again after a pause."""
        for attempt in range(attempts):
            try:
                return self.rest("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})["dag_run_id"]
            except requests.HTTPError as exc:
                if exc.response is None or exc.response.status_code < 500 or attempt == attempts - 1:
                    raise
                time.sleep(3)
        raise AssertionError("unreachable")

    def wait_runs(self, dag_id: str, run_ids: list[str], timeout: float = 600) -> dict[str, str]:
        """Final state of each run (``success``/``failed``); TimeoutError naming the unfinished ones."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            for run_id in run_ids:
                if run_id not in states:
                    state = self.run_state(dag_id, run_id)
                    if state in ("success", "failed"):
                        states[run_id] = state
            if len(states) == len(run_ids):
                return states
            time.sleep(3)
        left = [r for r in run_ids if r not in states]
        raise TimeoutError(f"{dag_id}: {len(left)} runs not finished after {timeout} s, e.g. "
                           f"{self.task_instances(dag_id, left[0])}")

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.rest("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise TimeoutError(f"{dag_id} {run_id} not finished after {timeout} s: {self.task_instances(dag_id, run_id)}")

    def failure_report(self, dag_id: str, run_id: str, chars: int = 2500) -> str:
        """States of a run's task instances and the log tail of each failed one (for assertion messages)."""
        tis = self.task_instances(dag_id, run_id)
        lines = [str(dict(Counter(f"{t['task_id']}:{t['state']}" for t in tis)))]
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        for ti in tis:
            if ti["state"] in ("failed", "upstream_failed"):
                logs = sorted((folder / f"task_id={ti['task_id']}").rglob("*.log"))
                text = logs[-1].read_text(errors="replace")[-chars:] if logs else "(no log)"
                lines.append(f"--- {ti['task_id']}[{ti['map_index']}] {ti['state']}\n{text}")
                if len(lines) > 4:
                    break
        return "\n".join(lines)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.rest("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})["task_instances"]

    def wait_task(self, dag_id: str, run_id: str, task_id: str, states: tuple[str, ...], *, count: int = 1,
                  timeout: float = 120) -> list[dict[str, Any]]:
        """Wait until ``count`` instances of ``task_id`` (mapped or not) are in one of ``states``."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = [t for t in self.task_instances(dag_id, run_id) if t["task_id"] == task_id and t["state"] in states]
            if len(found) >= count:
                return found
            time.sleep(1)
        seen = Counter(f"{t['task_id']}:{t['state']}" for t in self.task_instances(dag_id, run_id))
        raise TimeoutError(f"{task_id} not {states} after {timeout} s: {dict(seen)}")

    # ---- emulator --------------------------------------------------------------------------------
    def emulator_count(self, method: str, path: str) -> int:
        state = requests.get(f"{self.emulator}/_emulator/state", timeout=10).json()
        return int(state["request_counts"].get(f"{method} {path}", 0))

    def emulator_settings(self, **values: Any) -> None:
        requests.patch(f"{self.emulator}/_emulator/settings", json=values, timeout=10).raise_for_status()

    # ---- processes of tasks ------------------------------------------------------------------------
    @staticmethod
    def task_process(ti_id: str, timeout: float = 60) -> Any:
        """The task runner process of a task instance (its title is ``airflow worker -- <ti id>``)."""
        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmdline = " ".join(proc.info.get("cmdline") or [])
                if f"airflow worker -- {ti_id}" in cmdline:
                    return proc
            time.sleep(0.5)
        raise TimeoutError(f"no task process for {ti_id}")


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
