"""ACRCloud sensors: poke, reschedule or deferrable; built on the shared :class:`MusicJobSensor`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.hooks.acrcloud import AcrCloudHook, join_ids
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.acrcloud import (
    AcrCloudDumpTrigger,
    AcrCloudFileStateTrigger,
    AcrCloudScanTrigger,
)


class AcrCloudFileStateSensor(MusicJobSensor):
    """Wait until the given bucket files (ids or acr_ids) are all ready (state 1); any error (-1) fails.

    :param bucket_id: the bucket (default: the connection's ``bucket_id`` extra).
    :param ids: file ids / acr_ids: an int, a string (comma-joined allowed) or a list (templated).
    :param conn_id: Airflow connection id (default ``acrcloud_default``).

    Returns (XCom) ``{"bucket_id", "total", "ready", "processing", "failed", "files"}``.
    """

    hook_class = AcrCloudHook
    trigger_class = AcrCloudFileStateTrigger
    status_method = "files_status"
    template_fields: Sequence[str] = ("bucket_id", "ids")

    def __init__(self, *, ids: Any, bucket_id: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id
        self.ids = ids

    def target(self) -> dict[str, Any]:
        bucket = self.bucket_id
        if bucket in (None, ""):
            bucket = AcrCloudHook(conn_id=self.conn_id).default_bucket(None)
        return {"bucket_id": str(bucket), "ids": join_ids(self.ids)}


class AcrCloudDumpSensor(MusicJobSensor):
    """Wait until the dump of a bucket is ready (``status`` 1). Starts today's dump if none exists."""

    hook_class = AcrCloudHook
    trigger_class = AcrCloudDumpTrigger
    status_method = "dump_status"
    template_fields: Sequence[str] = ("bucket_id",)

    def __init__(self, *, bucket_id: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id

    def target(self) -> dict[str, Any]:
        bucket = self.bucket_id
        if bucket in (None, ""):
            bucket = AcrCloudHook(conn_id=self.conn_id).default_bucket(None)
        return {"bucket_id": str(bucket)}


class AcrCloudScanSensor(MusicJobSensor):
    """Wait until file-scanning files have results (state 1 or -1 "no results"); -2/-3 fail."""

    hook_class = AcrCloudHook
    trigger_class = AcrCloudScanTrigger
    status_method = "fs_files_status"
    template_fields: Sequence[str] = ("container_id", "file_ids")

    def __init__(self, *, container_id: Any, file_ids: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.container_id = container_id
        self.file_ids = file_ids

    def target(self) -> dict[str, Any]:
        return {"container_id": str(self.container_id), "file_ids": join_ids(self.file_ids, argument="file_ids")}
