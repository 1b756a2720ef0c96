"""Scheduled song generation: compose one song pair per prompt, wait in the triggerer, download, publish.

Runs daily. Each prompt becomes one mapped ``RiffusionComposeOperator`` task (two songs per call) that waits
in deferrable mode, so a hundred waiting generations hold no worker slot. The downloaded songs are published
as the ``riffusion_songs`` asset, which triggers ``example_stems_on_new_song``; the asset event carries the new
file paths. Retries never pay twice: each compose task sends a stable ``replyRef`` and reconnects to the jobs it
already created.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_music.operators.riffusion import RiffusionComposeOperator, RiffusionDownloadOperator

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
SONGS = Asset(name="riffusion_songs", uri="file:///airflow-provider-music/songs")

with DAG(
    dag_id="example_scheduled_compose",
    description="Compose songs from a list of prompts every day and publish them as an asset",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "riffusion"],
    params={
        "prompts": Param(
            ["jazzy k-pop song about a distant lover", "calm piano for a rainy morning"],
            type="array",
            description="One compose call (two songs) per prompt",
        ),
        "instrumental": Param(False, type="boolean"),
        "output_dir": Param(DEFAULT_OUTPUT, type="string"),
    },
    render_template_as_native_obj=True,
) as dag:

    @task
    def prompts(params: dict) -> list[str]:
        return list(params["prompts"])

    compose = RiffusionComposeOperator.partial(
        task_id="compose",
        mode="prompt",
        instrumental="{{ params.instrumental }}",
        deferrable=True,
        poll_interval=5,
        timeout=3600,
    ).expand(prompt=prompts())

    download = RiffusionDownloadOperator.partial(
        task_id="download",
        destination="{{ params.output_dir }}/songs/{{ run_id | replace(':', '_') | replace('+', '_') }}",
    ).expand(song_ids=compose.output)

    @task(outlets=[SONGS])
    def publish(paths: list[list[str]], *, outlet_events=None) -> list[str]:
        """Emit one asset event carrying the new song files (consumers read them from the event)."""
        files = [p for group in paths[:] for p in group]  # a slice reads all mapped results in one request
        outlet_events[SONGS].extra = {"paths": files}
        return files

    publish(download.output)
