"""Typed status checks and deferrable triggers of the ACRCloud slice."""

from __future__ import annotations

from typing import Any

from airflow_provider_music.hooks.acrcloud import AcrCloudHook, join_ids
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck


def _bucket(bucket_id: Any) -> str:
    return str(bucket_id)


def file_state_target(bucket_id: Any, ids: Any, fail_fast: bool | None = None) -> dict[str, Any]:
    """Bucket files (ids or acr_ids: int, string, comma-joined or list) of a resolved bucket."""
    target: dict[str, Any] = {"bucket_id": _bucket(bucket_id), "ids": join_ids(ids)}
    if fail_fast is not None:
        target["fail_fast"] = bool(fail_fast)
    return target


def dump_target(bucket_id: Any) -> dict[str, Any]:
    """The dump of a resolved bucket."""
    return {"bucket_id": _bucket(bucket_id)}


def scan_target(container_id: Any, file_ids: Any, region: str | None = None) -> dict[str, Any]:
    """Files of a file-scanning container (``region``: the container's, which selects the FsFiles host)."""
    target = {"container_id": str(container_id), "file_ids": join_ids(file_ids, argument="file_ids")}
    if region:
        target["region"] = str(region)
    return target


#: Bucket files until all are ready (state 1); any error (-1) fails.
FILE_STATE: StatusCheck[AcrCloudHook] = StatusCheck(
    name="ACRCloud bucket files", hook_class=AcrCloudHook, target=file_state_target,
    check=AcrCloudHook.files_status, acheck=AcrCloudHook.afiles_status,
)

#: The dump of a bucket until it is ready (status 1).
DUMP_STATUS: StatusCheck[AcrCloudHook] = StatusCheck(
    name="ACRCloud bucket dump", hook_class=AcrCloudHook, target=dump_target,
    check=AcrCloudHook.dump_status, acheck=AcrCloudHook.adump_status,
)

#: File-scanning files until results are in (state 1 or -1 "no results"); -2/-3 fail.
SCAN_STATUS: StatusCheck[AcrCloudHook] = StatusCheck(
    name="ACRCloud file scan", hook_class=AcrCloudHook, target=scan_target,
    check=AcrCloudHook.fs_files_status, acheck=AcrCloudHook.afs_files_status,
)


class AcrCloudFileStateTrigger(MusicPollTrigger):
    """Wait until bucket files are ready (state 1). ``target``: ``bucket_id``, ``ids`` and optional ``fail_fast``."""
    status_check = FILE_STATE


class AcrCloudDumpTrigger(MusicPollTrigger):
    """Wait until a bucket dump is ready (status 1). ``target``: ``bucket_id``."""
    status_check = DUMP_STATUS


class AcrCloudScanTrigger(MusicPollTrigger):
    """Wait until file-scanning results are in. ``target``: ``container_id``, ``file_ids``."""
    status_check = SCAN_STATUS
