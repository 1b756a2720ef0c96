"""Scheduled song generation: compose one song pair per prompt, wait in the triggerer, download, publish.

Runs daily. Each prompt becomes one mapped ``FlowMusicGenerateOperator`` task (one A/B pair of clips per
call; Lyria 3 Pro through useapi.net's FlowMusic API) that waits in deferrable mode, so a hundred waiting
generations hold no worker slot. ``--conf '{"composer": "riffusion"}'`` composes with Riffusion instead,
``--conf '{"composer": "mureka"}'`` with Mureka (two songs per prompt, MP3).
The downloaded songs are published as the ``riffusion_songs`` asset (name kept for its consumers), which
triggers ``example_stems_on_new_song``; the asset event carries the new file paths. Retries never pay
twice: each generate task sends a stable ``replyRef``, keeps its job id in the task state store and
reconnects to the job it already created.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_music.operators.flowmusic import FlowMusicDownloadOperator, FlowMusicGenerateOperator
from airflow_provider_music.operators.mureka import MurekaDownloadOperator, MurekaGenerateOperator
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator, RiffusionDownloadOperator

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
SONGS = Asset(name="riffusion_songs", uri="file:///airflow-provider-music/songs")
RUN_FOLDER = "{{ params.output_dir }}/songs/{{ run_id | replace(':', '_') | replace('+', '_') }}"

with DAG(
    dag_id="example_scheduled_compose",
    description="Compose songs from a list of prompts every day and publish them as an asset",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "flowmusic", "riffusion", "mureka"],
    params={
        "prompts": Param(
            ["jazzy k-pop song about a distant lover", "calm piano for a rainy morning"],
            type="array",
            description="One generation (an A/B pair of songs) per prompt",
        ),
        "instrumental": Param(False, type="boolean"),
        "composer": Param("flowmusic", enum=["flowmusic", "riffusion", "mureka"], description="Who composes the songs"),
        "output_dir": Param(DEFAULT_OUTPUT, type="string"),
    },
    render_template_as_native_obj=True,
) as dag:

    @task
    def prompts(params: dict) -> list[str]:
        return list(params["prompts"])

    @task.branch
    def choose_composer(params: dict) -> str:
        return {"riffusion": "prompts_riffusion", "mureka": "prompts_mureka"}.get(params["composer"], "prompts")

    @task(task_id="prompts_riffusion")
    def prompts_riffusion(params: dict) -> list[str]:
        return list(params["prompts"])

    # ---- FlowMusic (default) ------------------------------------------------------------------------------
    song_prompts = prompts()
    generate = FlowMusicGenerateOperator.partial(
        task_id="generate",
        instrumental="{{ params.instrumental }}",
        deferrable=True,
        poll_interval=5,
        timeout=3600,
    ).expand(prompt=song_prompts)
    download_fm = FlowMusicDownloadOperator.partial(
        task_id="download_flowmusic", destination=RUN_FOLDER, source="audio_url"
    ).expand(clips=generate.output)

    # ---- Riffusion ----------------------------------------------------------------------------------------
    riffusion_prompts = prompts_riffusion()
    compose = RiffusionComposeOperator.partial(
        task_id="compose",
        mode="prompt",
        instrumental="{{ params.instrumental }}",
        deferrable=True,
        poll_interval=5,
        timeout=3600,
    ).expand(prompt=riffusion_prompts)
    download = RiffusionDownloadOperator.partial(task_id="download", destination=RUN_FOLDER).expand(
        song_ids=compose.output
    )

    # ---- Mureka ---------------------------------------------------------------------------------------------
    @task(task_id="prompts_mureka")
    def prompts_mureka(params: dict) -> list[str]:
        return list(params["prompts"])

    mureka_prompts = prompts_mureka()
    generate_mureka = MurekaGenerateOperator.partial(
        task_id="generate_mureka",
        kind="{{ 'instrumental' if params.instrumental else 'create' }}",
        deferrable=True,
        poll_interval=5,
        timeout=3600,
    ).expand(prompt=mureka_prompts)
    download_mureka = MurekaDownloadOperator.partial(task_id="download_mureka", destination=RUN_FOLDER).expand(
        songs=generate_mureka.output
    )
    choose_composer() >> [song_prompts, riffusion_prompts, mureka_prompts]

    @task(outlets=[SONGS], trigger_rule="none_failed_min_one_success")
    def publish(*, outlet_events=None, ti=None) -> list[str]:
        """Emit one asset event carrying the new song files (consumers read them from the event)."""
        files: list[str] = []
        for task_id in ("download_flowmusic", "download", "download_mureka"):
            for result in ti.xcom_pull(task_ids=task_id, default=None) or []:
                files.extend(result["files"] if isinstance(result, dict) else result)
        outlet_events[SONGS].extra = {"paths": files}
        return files

    [download_fm, download, download_mureka] >> publish()
