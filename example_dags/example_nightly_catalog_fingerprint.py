"""Nightly catalog fingerprinting: keep an ACRCloud bucket in step with a label's catalog folder.

Every night at 02:00 UTC:

1. find or create the bucket;
2. ``AcrCloudCatalogSyncOperator`` uploads only new or changed tracks (decided from size and mtime: unchanged
   tracks are not even read), optionally deletes tracks whose source vanished, and waits until every
   upload is ready. ``mode="fingerprint"`` extracts ACRCloud database fingerprints locally so the audio never
   leaves (needs ``airflow-provider-music[fingerprint]``); ``mode="audio"`` uploads the audio;
3. dumps the bucket's file list (ACRCloud allows one dump a day) to ``<output_dir>/catalog/``;
4. writes a small JSON report (counts and failures) next to the dump.

With ``screen_new_tracks`` (and ``mode="audio"``) the sync also scans the tracks each run uploads for copyright
matches and AI generation; the verdicts go into the report.

Re-running is safe: every file in the bucket carries its catalog path and content hash, so a crashed or
repeated run never uploads a track twice. The catalog can be any ``ObjectStoragePath`` (``s3://...`` with
``catalog_conn_id``); the offline default generates a small demo catalog.

``example_catalog_fingerprint_on_change`` is the same pipeline run when the catalog changes instead of
nightly: it is scheduled on an asset watched by ``CatalogChangeTrigger`` (an ``AssetWatcher``; Airflow 3.0+),
which lists ``MUSIC_CATALOG_DIR`` once a minute in the triggerer and fires once per batch of new or changed
tracks (docs/assets.md). The event's ``extra["payload"]`` names the changed paths; the sync itself stays
incremental, so it is simply run again.
"""

from __future__ import annotations

import json
import os
import tempfile

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, Param, task

from airflow_provider_music.operators.acrcloud import AcrCloudDumpBucketOperator, AcrCloudEnsureBucketOperator
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.triggers.catalog import CatalogChangeTrigger

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
#: the folder the asset-triggered variant watches (fixed when the DAG is parsed: the trigger's kwargs)
WATCHED_CATALOG = os.environ.get("MUSIC_CATALOG_DIR", os.path.join(DEFAULT_OUTPUT, "inputs", "catalog"))
CATALOG = Asset(
    name="label_catalog",
    uri=f"file://{WATCHED_CATALOG}",
    watchers=[AssetWatcher(name="label_catalog_changes",
                           trigger=CatalogChangeTrigger(catalog=WATCHED_CATALOG, poll_interval=60))],
)


def params(catalog_dir: str) -> dict[str, Param]:
    return {
        "catalog_dir": Param(catalog_dir, type="string", description="Catalog folder; empty: a generated demo catalog"),
        "output_dir": Param(DEFAULT_OUTPUT, type="string", description="Where the dump and the report go"),
        "bucket_name": Param("example-catalog", type="string"),
        "mode": Param("fingerprint", enum=["fingerprint", "audio"]),
        "delete_missing": Param(True, type="boolean"),
        "screen_new_tracks": Param(False, type="boolean",
                                   description="Scan the tracks each run uploads for copyright matches and AI "
                                               "generation (needs mode 'audio')"),
    }


def fingerprint_catalog() -> None:
    """The tasks of both DAGs: bucket, incremental sync, dump, report."""

    @task
    def catalog_folder(params: dict) -> str:
        """The catalog to sync (demo convenience: generates 12 short tracks when none is given)."""
        if params["catalog_dir"]:
            return params["catalog_dir"]
        from airflow_provider_music.testing.audio import write_sine_wav

        folder = os.path.join(params["output_dir"], "inputs", "catalog")
        for i in range(12):
            path = os.path.join(folder, f"album-{i // 4 + 1}", f"track-{i + 1:02d}.wav")
            if not os.path.exists(path):
                write_sine_wav(path, seconds=1.5 + (i % 3) * 0.5, freq=220.0 + 55 * i)
        return folder

    # Find or create the bucket (idempotent; walks every page of the bucket list; returns the id).
    bucket_id = AcrCloudEnsureBucketOperator(
        task_id="catalog_bucket", name="{{ params.bucket_name }}", region="eu-west-1"
    ).output

    sync = AcrCloudCatalogSyncOperator(
        task_id="sync_catalog",
        catalog=catalog_folder(),
        bucket_id=bucket_id,
        mode="{{ params.mode }}",
        delete_missing="{{ params.delete_missing }}",
        scan="{{ params.screen_new_tracks }}",  # docs/acrcloud.md "Catalog sync: the optional scan"
        ai_detection="{{ params.screen_new_tracks }}",
        poll_interval=2,
        retries=2,
    )

    dump = AcrCloudDumpBucketOperator(
        task_id="dump_bucket",
        bucket_id=bucket_id,
        destination="{{ params.output_dir }}/catalog/",
        poll_interval=2,
    )

    @task
    def write_report(summary: dict, dump_path: str, params: dict) -> str:
        """A small JSON report (counts, failures, where the dump is) next to the dump."""
        from airflow.sdk import ObjectStoragePath

        dump = ObjectStoragePath(dump_path if "://" in dump_path else f"file://{dump_path}")
        report = dump.parent / "sync-report.json"
        counts = {k: summary.get(k) for k in ("total", "uploaded", "updated", "deleted", "unchanged", "failed")}
        body = {"bucket_id": summary.get("bucket_id"), "mode": summary.get("mode"), "counts": counts,
                "failed_paths": summary.get("failed_paths", []), "dump": str(dump), "scan": summary.get("scan")}
        report.write_text(json.dumps(body, indent=2))
        return str(report)

    sync >> dump
    write_report(sync.output, dump.output)


with DAG(
    dag_id="example_nightly_catalog_fingerprint",
    description="Incremental nightly sync of a catalog folder into an ACRCloud bucket, with dump and report",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "acrcloud", "catalog"],
    params=params(""),
) as dag:
    fingerprint_catalog()

with DAG(
    dag_id="example_catalog_fingerprint_on_change",
    description="The catalog sync, run when CatalogChangeTrigger sees new or changed tracks (asset-triggered)",
    schedule=[CATALOG],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "acrcloud", "catalog", "assets"],
    params=params(WATCHED_CATALOG),
) as on_change_dag:
    fingerprint_catalog()
