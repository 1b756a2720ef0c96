"""The README's DAG example, run as written (paths moved to a temporary folder) with `airflow dags test`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_music.testing.dagtest import AirflowHome

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def readme_dag_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    dags = [b for b in blocks if "with DAG(" in b]
    assert dags, "README.md has no DAG example"
    return dags[0]


def test_readme_dag_runs_as_written(music_emulator_server, tmp_path):
    source = readme_dag_source().replace('"/data/', f'"{tmp_path}/data/')
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "readme_dag.py").write_text(source, encoding="utf-8")
    music_emulator_server.reset()
    music_emulator_server.state.job_seconds = 0.3
    home = AirflowHome(tmp_path / "home", dags_folder=dags)
    result = home.dags_test("songs_and_stems", env=music_emulator_server.env())
    assert result.ok, f"failed tasks {result.failed_tasks()}:\n{result.output[-4000:]}"
    songs = sorted((tmp_path / "data" / "songs").rglob("*.wav"))
    stems = sorted((tmp_path / "data" / "stems").rglob("*.wav"))
    assert len(songs) == 4  # two prompts, an A/B pair of clips each
    assert len(stems) == 16  # four stems per song, none overwritten
