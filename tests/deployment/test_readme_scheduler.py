"""README "Run under a scheduler" (issue 19 §1): both command blocks run exactly as written (taken from README.md
by their markers, so the docs and this test cannot drift), then a DAG run of mapped deferrable operators, a
deferrable sensor and a reschedule sensor must succeed under the processes they start.

Only the environment around the commands differs from a user's shell: a temporary ``AIRFLOW_HOME``, free ports
(``AIRFLOW__API__PORT``, ``MUSIC_EMULATOR_PORT``) so that a developer's own Airflow or emulator on the default
ports does not matter, and the REST API open to the test (``SIMPLE_AUTH_MANAGER_ALL_ADMINS``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.deployment.harness import Deployment

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = Path(__file__).parent / "dags" / "scheduler_race.py"
BLOCK = re.compile(r"<!-- scheduler-commands: (?P<name>[a-z]+) -->\s*```bash\n(?P<body>.*?)```\s*<!-- /scheduler-commands -->",
                   re.DOTALL)

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(900)]


def readme_blocks(text: str | None = None) -> dict[str, str]:
    """The README's scheduler command blocks by name (``standalone``, ``separate``)."""
    text = (ROOT / "README.md").read_text() if text is None else text
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


class ReadmeCommands(Deployment):
    """The README's commands in one bash process (its own process group), against a temporary home."""

    def __init__(self, root: Path, script: str) -> None:
        super().__init__(root, dag_files=[], token="emulator-token")
        self.script = script
        (self.home / "dags").mkdir(exist_ok=True)
        shutil.copy(DAG_FILE, self.home / "dags" / DAG_FILE.name)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # python, airflow: the venv's
            "AIRFLOW_HOME": str(self.home),
            "MUSIC_EMULATOR_PORT": str(self.emulator_port),
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self, timeout: float = 300) -> None:
        self._spawn("readme", ["bash", "-e", "-c", self.script])
        self.wait_healthy(timeout)


def test_the_readme_has_both_blocks_with_the_eval_line():
    blocks = readme_blocks()
    assert set(blocks) == {"standalone", "separate"}
    for body in blocks.values():
        assert 'eval "$(python -m airflow_provider_music.testing.emulator --print-env)"' in body
        assert "--port" not in body  # the default port, clear of Airflow's 8080
    assert "airflow standalone" in blocks["standalone"]
    assert all(f"airflow {name}" in blocks["separate"] for name in ("scheduler", "dag-processor", "triggerer", "api-server"))


@pytest.mark.parametrize("name", ["standalone", "separate"])
def test_readme_commands_run_a_deferrable_dag(name, tmp_path):
    commands = ReadmeCommands(tmp_path, readme_blocks()[name])
    try:
        commands.start()
        run_id = commands.trigger("scheduler_race")
        state = commands.wait_run("scheduler_race", run_id, timeout=420)
        assert state == "success", commands.failure_report("scheduler_race", run_id)
        states = {t["task_id"]: t["state"] for t in commands.task_instances("scheduler_race", run_id)}
        assert set(states) == {"compose", "submit", "deferred_sensor", "reschedule_sensor"}
        assert commands.emulator_count("POST", "/v1/riffusion/music/create-prompt") == 2  # the README's emulator
    finally:
        commands.stop()
        print(f"---- {name} (tail)\n{commands.log_tail('readme', 3000)}")
