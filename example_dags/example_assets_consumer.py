"""Asset consumer: separate exactly the songs that just arrived into stems.

Scheduled on the ``new_songs`` asset of ``example_assets_producer``. The provider's operators fill each asset
event's ``extra`` (``paths``, ids, facts, cost: docs/assets.md), so :func:`songs_of` reads the new files from
``triggering_asset_events`` - every event since the last run, one per producing task instance - and one mapped
``AudioShakeStemSeparationOperator`` task per song writes ``<output_dir>/stems/<song>/<stem>.wav`` and publishes
``new_stems`` (whose events carry the stem paths in turn). A manual run without events separates nothing.
Connection: ``audioshake_default``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
NEW_SONGS = Asset(name="new_songs", uri="file:///airflow-provider-music/new-songs")
NEW_STEMS = Asset(name="new_stems", uri="file:///airflow-provider-music/new-stems")
AUDIO = (".wav", ".mp3", ".m4a", ".flac")


def songs_of(triggering_asset_events: Mapping[Any, Iterable[Any]] | None) -> list[str]:
    """The song files named by the triggering events' ``extra["paths"]``, in order, each once.

    An event names at most 50 files (``paths_total`` counts them all): one that names only some fails here
    rather than separating part of a delivery - read the rest from the producer's folder or its XCom.
    """
    paths: list[str] = []
    for events in (triggering_asset_events or {}).values():
        for event in events:
            extra = event.extra or {}
            if extra.get("paths_truncated"):
                raise ValueError(f"an asset event names {len(extra.get('paths', []))} of {extra.get('paths_total')} "
                                 f"files (task {extra.get('task')}): too many for one event")
            paths.extend(p for p in extra.get("paths", []) if str(p).lower().endswith(AUDIO))
    return list(dict.fromkeys(paths))


with DAG(
    dag_id="example_assets_consumer",
    description="Split the songs of each new_songs asset event into stems with AudioShake",
    schedule=[NEW_SONGS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "audioshake", "assets"],
    params={"output_dir": Param(DEFAULT_OUTPUT, type="string", description="Where the stems go")},
) as dag:

    @task
    def new_songs(triggering_asset_events=None) -> list[str]:
        """Exactly the songs the triggering asset events name (none on a manual run)."""
        return songs_of(triggering_asset_events)

    AudioShakeStemSeparationOperator.partial(
        task_id="stems",
        stems=["vocals", "other"],
        format="wav",
        destination="{{ params.output_dir }}/stems",
        deferrable=True,
        poll_interval=2,
        outlets=[NEW_STEMS],
    ).expand(source=new_songs())
