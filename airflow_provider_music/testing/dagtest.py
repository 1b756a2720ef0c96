"""Run DAGs end to end with ``airflow dags test`` against the emulator (tests, ``make demo``, your DAGs).

``airflow dags test`` needs a metadata DB and the DAG file inside the configured DAGs folder; this module
prepares an Airflow home (SQLite, ``airflow db migrate`` once), runs the DAG in a subprocess with the
connections you pass, and reads the task states back from the run it created.

>>> home = AirflowHome("/tmp/home", dags_folder="example_dags")
>>> result = home.dags_test("example_music_pipeline", env=emulator.env(), conf={"output": "/tmp/out"})
>>> result.ok, result.states

From a shell (starts the emulator, runs one DAG against it, exits 0 only if every task succeeded)::

    python -m airflow_provider_music.testing.dagtest example_music_pipeline --dags-folder example_dags
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_RUN_ID = re.compile(r"run_id=([^,\s]+)")


@dataclass
class DagTestResult:
    """The outcome of one ``airflow dags test`` run: exit code, output, run id and the state of every task."""

    dag_id: str
    returncode: int
    output: str
    run_id: str | None
    states: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Did the run end with exit code 0 and every task ``success`` or ``skipped``?"""
        return self.returncode == 0 and bool(self.states) and all(
            s in ("success", "skipped") for s in self.states.values()
        )

    def failed_tasks(self) -> list[str]:
        """The task ids whose state is neither ``success`` nor ``skipped``."""
        return [t for t, s in self.states.items() if s not in ("success", "skipped")]


class AirflowHome:
    """An isolated Airflow home with a SQLite metadata DB, for ``airflow dags test``."""

    def __init__(self, path: str | os.PathLike[str], *, dags_folder: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.path.mkdir(parents=True, exist_ok=True)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of an ``airflow`` command in this home: the caller's minus its Airflow settings,
        connections and variables, plus this home's paths and SQLite DB, plus ``extra``."""
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        }
        env.update(
            {
                "AIRFLOW_HOME": str(self.path),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.path / 'airflow.db'}",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.path / "logs"),
                "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"airflow\..*|airflow_provider_music\..*",
            }
        )
        env.update(extra or {})
        return env

    def migrate(self) -> None:
        """Create or upgrade the metadata DB (once per home)."""
        marker = self.path / ".migrated"
        if marker.exists():
            return
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=600,
        )
        marker.touch()

    def sync_dags(self) -> None:
        """Parse the DAGs folder into the metadata DB (``airflow dags reserialize``) when its files changed.

        ``airflow dags test`` on Airflow 3.0 does not register the DAGs' assets: a task with an asset
        outlet then fails with "inactive assets in its inlets or outlets". Serializing the folder first
        registers and activates them, on every version alike.
        """
        key = repr(sorted((str(p), p.stat().st_mtime_ns) for p in self.dags_folder.rglob("*.py")))
        marker = self.path / ".dags-synced"
        if marker.exists() and marker.read_text() == key:
            return
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "reserialize"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"airflow dags reserialize failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
        marker.write_text(key)

    def dags_test(
        self,
        dag_id: str,
        *,
        env: dict[str, str] | None = None,
        conf: dict[str, Any] | None = None,
        timeout: float = 900,
    ) -> DagTestResult:
        """Run one DagRun of ``dag_id`` in a subprocess; return its output and task states."""
        self.migrate()
        self.sync_dags()
        cmd = [sys.executable, "-m", "airflow", "dags", "test", dag_id]
        if conf:
            cmd += ["--conf", json.dumps(conf)]
        started = time.monotonic()
        proc = subprocess.run(
            cmd, env=self.env(env), capture_output=True, text=True, timeout=timeout, check=False
        )
        output = proc.stdout + proc.stderr
        run_ids = [m.group(1) for line in output.splitlines() if "DagRun Finished" in line for m in [_RUN_ID.search(line)] if m]
        run_id = run_ids[-1] if run_ids else None
        return DagTestResult(
            dag_id=dag_id,
            returncode=proc.returncode,
            output=output,
            run_id=run_id,
            states=self.task_states(dag_id, run_id) if run_id else {},
            seconds=time.monotonic() - started,
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """``{task_id or task_id[map_index]: state}`` of one run, read from the SQLite DB."""
        with sqlite3.connect(self.path / "airflow.db") as db:
            rows = db.execute(
                "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ? "
                "ORDER BY task_id, map_index",
                (dag_id, run_id),
            ).fetchall()
        return {(t if m < 0 else f"{t}[{m}]"): (s or "none") for t, m, s in rows}


def main(argv: list[str] | None = None) -> int:
    """Run one DAG end to end against a fresh emulator; print its task states."""
    from airflow_provider_music.testing.server import EmulatorServer

    parser = argparse.ArgumentParser(prog="python -m airflow_provider_music.testing.dagtest", description=main.__doc__)
    parser.add_argument("dag_id")
    parser.add_argument("--dags-folder", default="example_dags")
    parser.add_argument("--home", help="Airflow home to use (default: a new temporary folder)")
    parser.add_argument("--conf", default="{}", help="DagRun conf as JSON (output_dir defaults to a temporary folder)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="music-dagtest-"))
    conf = {"output_dir": str(work / "output"), **json.loads(args.conf)}
    home = AirflowHome(args.home or work / "airflow-home", dags_folder=args.dags_folder)
    with EmulatorServer() as emulator:
        result = home.dags_test(args.dag_id, env=emulator.env(), conf=conf)
    for task, state in result.states.items():
        print(f"{task}: {state}")
    verdict = "ok" if result.ok else f"FAILED (exit {result.returncode}, failed tasks {result.failed_tasks()})"
    print(f"{args.dag_id}: {verdict} in {result.seconds:.0f}s")
    if not result.ok:
        print(result.output[-6000:], file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
