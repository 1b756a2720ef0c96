"""DAGs used only by the deployment tests (tests/deployment)."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG("deployment_sync_compose", schedule=None, start_date=START, catchup=False, tags=["test"]):
    # waits in the worker (not deferrable) so that killing its process mid-wait exercises the retry path
    RiffusionComposeOperator(
        task_id="compose",
        prompt="deployment test song",
        deferrable=False,
        poll_interval=1,
        timeout=600,
        retries=2,
        retry_delay=timedelta(seconds=2),
    )

with DAG("deployment_deferred_stems", schedule=None, start_date=START, catchup=False, tags=["test"]):
    AudioShakeStemSeparationOperator(
        task_id="stems",
        source="{{ dag_run.conf['source'] }}",
        stems=["vocals", "drums"],
        destination=os.path.join(tempfile.gettempdir(), "deployment-stems"),
        deferrable=True,
        poll_interval=1,
    )
