"""Deferrable triggers of the ACRCloud slice: three-line subclasses of the shared poll loop."""

from __future__ import annotations

from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.triggers.base import MusicPollTrigger


class AcrCloudFileStateTrigger(MusicPollTrigger):
    """Wait until bucket files are ready (state 1). ``target``: ``bucket_id``, ``ids`` and optional ``fail_fast``."""

    hook_class = AcrCloudHook
    status_method = "afiles_status"


class AcrCloudDumpTrigger(MusicPollTrigger):
    """Wait until a bucket dump is ready (status 1). ``target``: ``bucket_id``."""

    hook_class = AcrCloudHook
    status_method = "adump_status"


class AcrCloudScanTrigger(MusicPollTrigger):
    """Wait until file-scanning results are in. ``target``: ``container_id``, ``file_ids``."""

    hook_class = AcrCloudHook
    status_method = "afs_files_status"
