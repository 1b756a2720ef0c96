"""Reference track -> two song variations (FlowMusic, or Riffusion) -> stems -> copyright scan -> fingerprints.

1. upload a reference track: to FlowMusic as a reference asset (default), or to Riffusion, waiting for
   processing and failing on an Audible Magic match (``--conf '{"composer": "riffusion"}'``);
2. compose two variations from prompts plus the upload (deferrable: the wait runs in the triggerer);
3. download the songs (FlowMusic: the lossless ``wav_url`` of both clips of each A/B pair);
4. separate each song into stems with AudioShake (mapped over the songs);
5. scan each song with ACRCloud against the music database (the copyright check);
6. fingerprint the stems into an ACRCloud bucket (incremental, idempotent);
7. report what the run cost, per task and in total per unit ("unknown" where a service reports no number):
   logged, returned and written to ``<output_dir>/cost-report.json``.

Songs and stems are published as Airflow assets. All paths come from ``params`` with offline defaults, so
``airflow dags test example_music_pipeline`` works against the emulator with no configuration; pass
``--conf '{"output_dir": "..."}'`` to choose where files go. Connections: ``flowmusic_default`` (or
``riffusion_default``), ``audioshake_default``, ``acrcloud_default``.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_music.operators.acrcloud import AcrCloudEnsureBucketOperator, AcrCloudScanFileOperator
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.operators.flowmusic import (
    FlowMusicDownloadOperator,
    FlowMusicGenerateOperator,
    FlowMusicUploadOperator,
)
from airflow_provider_music.operators.riffusion import (
    RiffusionComposeOperator,
    RiffusionDownloadOperator,
    RiffusionUploadAudioOperator,
)

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
SONGS = Asset(name="riffusion_songs", uri="file:///airflow-provider-music/songs")  # name kept for consumers
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
#: The same two variations for FlowMusic (one prompt each; no timeline, the reference is a style hint).
FLOWMUSIC_PROMPTS = [
    "Dreamy lo-fi hip hop with warm Rhodes and a soft vinyl crackle outro",
    "Upbeat synthwave with gated drums",
]

with DAG(
    dag_id="example_music_pipeline",
    description="Compose variations of a reference track, split them into stems, scan and fingerprint them",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "flowmusic", "riffusion", "audioshake", "acrcloud"],
    params={
        "composer": Param("flowmusic", enum=["flowmusic", "riffusion"], description="Who composes the songs"),
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

    # Find or create the ACRCloud bucket the stems are fingerprinted into (idempotent; returns its id).
    stems_bucket = AcrCloudEnsureBucketOperator(
        task_id="stems_bucket", name="{{ params.fingerprint_bucket }}", region="eu-west-1"
    )

    @task.branch
    def choose_composer(params: dict) -> str:
        """FlowMusic (useapi.net's live successor of Riffusion) by default; Riffusion on request."""
        return "upload_reference" if params["composer"] == "riffusion" else "upload_reference_flowmusic"

    reference = reference_track()
    composer = choose_composer()

    # ---- FlowMusic: reference asset -> one A/B pair per prompt -> wav files -------------------------------
    upload_fm = FlowMusicUploadOperator(task_id="upload_reference_flowmusic", source=reference)
    generate = FlowMusicGenerateOperator.partial(
        task_id="generate_variation",
        ref_audios=[upload_fm.output],
        deferrable=True,
        poll_interval=2,
        timeout=1800,
    ).expand(prompt=FLOWMUSIC_PROMPTS)
    download_fm = FlowMusicDownloadOperator.partial(
        task_id="download_flowmusic",
        destination="{{ params.output_dir }}/songs",
        source="wav_url",
        outlets=[SONGS],
    ).expand(clips=generate.output)

    # ---- Riffusion: the same with Riffusion's compose-from-upload ----------------------------------------
    upload = RiffusionUploadAudioOperator(
        task_id="upload_reference",
        source=reference,
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
    composer >> [upload, upload_fm]

    download = RiffusionDownloadOperator.partial(
        task_id="download_songs",
        destination="{{ params.output_dir }}/songs",
        download_format="wav",
        outlets=[SONGS],
    ).expand(song_ids=compose.output)

    @task(trigger_rule="none_failed_min_one_success")
    def song_files(ti=None) -> list[str]:
        """The song files of whichever composer ran (the other branch was skipped)."""
        files: list[str] = []
        for task_id in ("download_flowmusic", "download_songs"):
            for result in ti.xcom_pull(task_ids=task_id, default=None) or []:
                files.extend(result["files"] if isinstance(result, dict) else result)
        return files

    songs = song_files()
    [download, download_fm] >> songs

    stems = AudioShakeStemSeparationOperator.partial(
        task_id="separate_stems",
        stems="{{ params.stems }}",
        format="wav",
        destination="{{ params.output_dir }}/stems",
        poll_interval=2,
        outlets=[STEMS],
    ).expand(source=songs)

    scan = AcrCloudScanFileOperator.partial(
        task_id="copyright_scan",
        buckets=["ACRCloud Music"],
        container_name="example-copyright-check",
        poll_interval=2,
    ).expand(source=songs)

    fingerprint = AcrCloudCatalogSyncOperator(
        task_id="fingerprint_stems",
        catalog="{{ params.output_dir }}/stems",
        bucket_id=stems_bucket.output,
        mode="fingerprint",
        poll_interval=2,
    )
    stems >> fingerprint

    @task(trigger_rule="all_done", multiple_outputs=False)  # the report is one XCom
    def cost_report(params: dict, ti=None) -> dict:
        """What this run cost, per paid task and in total per unit (the tasks' ``cost`` XComs)."""
        import json
        import logging

        from airflow_provider_music.operators.cost import run_cost

        paid = ("generate_variation", "download_flowmusic", "compose_variation", "separate_stems", "copyright_scan")
        report = run_cost({t: ti.xcom_pull(task_ids=t, default=None) for t in paid},
                          {t: ti.xcom_pull(task_ids=t, key="cost", default=None) for t in paid})
        logging.getLogger(__name__).info("Run cost: total %s; per task %s", report["total"], report["tasks"])
        os.makedirs(params["output_dir"], exist_ok=True)
        with open(os.path.join(params["output_dir"], "cost-report.json"), "w") as fh:
            json.dump(report, fh, indent=2)
        return report

    [fingerprint, scan] >> cost_report()
