"""Asset-scheduled stem separation: split every new song into stems as soon as it is published.

Scheduled on the ``riffusion_songs`` asset (published by ``example_scheduled_compose``). The triggering asset
events carry the new files' paths; one mapped ``AudioShakeStemSeparationOperator`` task per song uploads it
once, creates one job per stem, waits (deferrable) and writes ``<output_dir>/stems/<song>/<stem>.wav``.
Run by hand (no events), it separates the songs in ``<output_dir>/songs`` that have no stems yet.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
SONGS = Asset(name="riffusion_songs", uri="file:///airflow-provider-music/songs")
STEMS = Asset(name="audioshake_stems", uri="file:///airflow-provider-music/stems")

with DAG(
    dag_id="example_stems_on_new_song",
    description="Separate newly published songs into stems with AudioShake",
    schedule=[SONGS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "audioshake"],
    params={
        "output_dir": Param(DEFAULT_OUTPUT, type="string"),
        "stems": Param(["vocals", "drums", "bass", "other"], type="array"),
    },
    render_template_as_native_obj=True,
) as dag:

    @task
    def new_songs(params: dict, triggering_asset_events=None) -> list[str]:
        """Songs named by the triggering asset events, else the songs without stems (manual runs)."""
        paths: list[str] = []
        for events in (triggering_asset_events or {}).values():
            for event in events:
                paths.extend((event.extra or {}).get("paths", []))
        if paths:
            return sorted(set(paths))
        songs_dir = os.path.join(params["output_dir"], "songs")
        stems_dir = os.path.join(params["output_dir"], "stems")
        found = []
        for root, _, files in os.walk(songs_dir):
            for name in files:
                if name.endswith((".wav", ".mp3", ".m4a")) and not os.path.isdir(
                    os.path.join(stems_dir, os.path.splitext(name)[0])
                ):
                    found.append(os.path.join(root, name))
        if not found:  # demo convenience: something to separate on a fresh machine
            from airflow_provider_music.testing.audio import write_sine_wav

            found.append(str(write_sine_wav(os.path.join(songs_dir, "demo-song.wav"), seconds=2.0)))
        return sorted(found)

    AudioShakeStemSeparationOperator.partial(
        task_id="separate",
        stems="{{ params.stems }}",
        format="wav",
        destination="{{ params.output_dir }}/stems",
        deferrable=True,
        poll_interval=2,
        outlets=[STEMS],
    ).expand(source=new_songs())
