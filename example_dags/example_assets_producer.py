"""Asset producer: generate songs and publish them as the ``new_songs`` asset - one argument, no extra task.

``FlowMusicDownloadOperator(..., outlets=[NEW_SONGS])`` is all it takes: every operator of this provider fills
its asset event's ``extra`` itself (``paths`` of the files written, vendor ids and facts, durations, ``cost``;
see docs/assets.md). The download is mapped over the generations, so each generation's files arrive as their
own asset event. ``example_assets_consumer`` is scheduled on ``new_songs`` and separates exactly those songs
into stems - no XCom across DAGs. Connection: ``flowmusic_default``.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Asset, Param

from airflow_provider_music.operators.flowmusic import FlowMusicDownloadOperator, FlowMusicGenerateOperator

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
NEW_SONGS = Asset(name="new_songs", uri="file:///airflow-provider-music/new-songs")
PROMPTS = ["warm lo-fi beat for studying", "bright synth-pop hook"]

with DAG(
    dag_id="example_assets_producer",
    description="Generate songs and publish each generation's files as a new_songs asset event",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "flowmusic", "assets"],
    params={"output_dir": Param(DEFAULT_OUTPUT, type="string", description="Where the songs go")},
) as dag:
    generate = FlowMusicGenerateOperator.partial(
        task_id="generate", deferrable=True, poll_interval=2, timeout=1800
    ).expand(prompt=PROMPTS)

    FlowMusicDownloadOperator.partial(
        task_id="download",
        destination="{{ params.output_dir }}/new-songs/{{ run_id | replace(':', '_') | replace('+', '_') }}",
        source="audio_url",
        outlets=[NEW_SONGS],  # the asset event carries these files' paths, the clip ids and the cost
    ).expand(clips=generate.output)
