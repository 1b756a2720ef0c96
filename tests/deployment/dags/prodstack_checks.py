"""DAGs used only by the production-stack deployment tests (tests/deployment/test_prodstack.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
MAPPED_WAITS = 50

with DAG("prodstack_mapped_waits", schedule=None, start_date=START, catchup=False, tags=["test"]):
    # 50 mapped songs, each deferred to a triggerer while the emulator composes
    RiffusionComposeOperator.partial(
        task_id="compose", deferrable=True, poll_interval=5, timeout=1200,
    ).expand(prompt=[f"prodstack song {i:02d}" for i in range(MAPPED_WAITS)])

with DAG("prodstack_catalog_sync", schedule=None, start_date=START, catchup=False, tags=["test"]):
    # syncs in the worker (not deferrable) so that killing the worker mid-upload exercises the retry path
    AcrCloudCatalogSyncOperator(
        task_id="sync",
        catalog="{{ dag_run.conf['catalog'] }}",
        bucket_id="{{ dag_run.conf['bucket_id'] }}",
        concurrency=4,
        deferrable=False,
        poll_interval=1,
        timeout=900,
        retries=3,
        retry_delay=timedelta(seconds=2),
    )
