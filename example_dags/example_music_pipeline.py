"""Reference track -> two Riffusion variations -> stems -> copyright scan -> fingerprints.

1. upload a reference track to Riffusion and wait for processing, failing on an Audible Magic match;
2. compose two variations from prompts plus the upload (deferrable: the wait runs in the triggerer);
3. download the songs;
4. separate each song into stems with AudioShake (mapped over the songs);
5. scan each song with ACRCloud against the music database (the copyright check);
6. fingerprint the stems into an ACRCloud bucket (incremental, idempotent).

Songs and stems are published as Airflow assets. All paths come from ``params`` with offline defaults, so
``airflow dags test example_music_pipeline`` works against the emulator with no configuration; pass
``--conf '{"output_dir": "..."}'`` to choose where files go. Connections: ``riffusion_default``,
``audioshake_default``, ``acrcloud_default``.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_music.operators.acrcloud import AcrCloudCatalogSyncOperator, AcrCloudScanFileOperator
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.operators.riffusion import (
    RiffusionComposeOperator,
    RiffusionDownloadOperator,
    RiffusionUploadAudioOperator,
)

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
SONGS = Asset(name="riffusion_songs", uri="file:///airflow-provider-music/songs")
STEMS = Asset(name="audioshake_stems", uri="file:///airflow-provider-music/stems")

VARIATIONS = [
    [
        {"prompt": "Dreamy lo-fi hip hop with warm Rhodes", "strength": 70, "start": 0, "end": 60},
        {"prompt": "Soft vinyl crackle outro", "strength": 50, "start": 60, "end": 100},
    ],
    [
        {"prompt": "Upbeat synthwave with gated drums", "strength": 80, "start": 0, "end": 100},
    ],
]

with DAG(
    dag_id="example_music_pipeline",
    description="Compose variations of a reference track, split them into stems, scan and fingerprint them",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "riffusion", "audioshake", "acrcloud"],
    params={
        "output_dir": Param(DEFAULT_OUTPUT, type="string", description="Where songs, stems and reports go"),
        "reference_track": Param("", type="string", description="Reference audio (wav/mp3/m4a); empty: a generated demo tone"),
        "stems": Param(["vocals", "drums", "bass", "other"], type="array"),
        "fingerprint_bucket": Param("example-stems", type="string", description="ACRCloud bucket for the stems"),
    },
    render_template_as_native_obj=True,
) as dag:

    @task
    def reference_track(params: dict) -> str:
        """The reference track to upload (demo convenience: a generated tone when none is given)."""
        path = params["reference_track"]
        if path:
            return path
        from airflow_provider_music.testing.audio import write_sine_wav

        target = os.path.join(params["output_dir"], "inputs", "reference.wav")
        if not os.path.exists(target):
            write_sine_wav(target, seconds=3.0, freq=330.0)
        return target

    @task
    def stems_bucket(params: dict) -> int:
        """Find or create the ACRCloud bucket the stems are fingerprinted into (idempotent)."""
        from airflow_provider_music.hooks.acrcloud import AcrCloudHook

        hook = AcrCloudHook()
        name = params["fingerprint_bucket"]
        for bucket in hook.list_buckets(per_page=100).get("data", []):
            if bucket.get("name") == name:
                return int(bucket["id"])
        return int(hook.create_bucket(name, region="eu-west-1", type="File")["id"])

    upload = RiffusionUploadAudioOperator(
        task_id="upload_reference",
        source=reference_track(),
        fail_on_copyright_match=True,
        poll_interval=2,
    )

    compose = RiffusionComposeOperator.partial(
        task_id="compose_variation",
        mode="compose",
        title="Variation",
        audio_upload_id="{{ ti.xcom_pull(task_ids='upload_reference', key='audio_upload_id') }}",
        deferrable=True,
        poll_interval=2,
        timeout=1800,
    ).expand(prompts=VARIATIONS)
    upload >> compose

    download = RiffusionDownloadOperator.partial(
        task_id="download_songs",
        destination="{{ params.output_dir }}/songs",
        download_format="wav",
        outlets=[SONGS],
    ).expand(song_ids=compose.output)

    @task
    def song_files(paths: list[list[str]]) -> list[str]:
        """Flatten the per-variation download lists into one list of song files."""
        return [p for group in paths[:] for p in group]  # a slice reads all mapped results in one request

    songs = song_files(download.output)

    stems = AudioShakeStemSeparationOperator.partial(
        task_id="separate_stems",
        stems="{{ params.stems }}",
        format="wav",
        destination="{{ params.output_dir }}/stems",
        poll_interval=2,
        outlets=[STEMS],
    ).expand(source=songs)

    AcrCloudScanFileOperator.partial(
        task_id="copyright_scan",
        buckets=["ACRCloud Music"],
        container_name="example-copyright-check",
        poll_interval=2,
    ).expand(source=songs)

    fingerprint = AcrCloudCatalogSyncOperator(
        task_id="fingerprint_stems",
        catalog="{{ params.output_dir }}/stems",
        bucket_id=stems_bucket(),
        mode="fingerprint",
        poll_interval=2,
    )
    stems >> fingerprint
