"""A catalog watched by ``CatalogChangeTrigger`` (an AssetWatcher) and a DAG scheduled on it, for
tests/deployment/test_catalog_watch.py. The folders come from the deployment's environment."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_music.triggers.catalog import CatalogChangeTrigger

CATALOG = os.environ.get("MUSIC_WATCH_CATALOG", "/tmp/airflow-provider-music/watch/catalog")
STATE = os.environ.get("MUSIC_WATCH_STATE", "/tmp/airflow-provider-music/watch/state")
WATCHED = Asset(
    name="watched_catalog",
    uri=f"file://{CATALOG}",
    watchers=[AssetWatcher(name="watched_catalog_changes",
                           trigger=CatalogChangeTrigger(catalog=CATALOG, state_path=STATE, poll_interval=1))],
)

with DAG("catalog_watch_consumer", schedule=[WATCHED], start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         catchup=False, tags=["test"]):

    @task
    def changed_tracks(triggering_asset_events=None) -> list[str]:
        """The tracks named by the triggering events (``extra["payload"]`` of the trigger's event)."""
        return [path for events in (triggering_asset_events or {}).values() for event in events
                for path in (event.extra or {}).get("payload", {}).get("paths", [])]

    changed_tracks()
