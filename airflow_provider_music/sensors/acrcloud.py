"""ACRCloud sensors: poke, reschedule or deferrable; built on the shared :class:`MusicJobSensor`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.operators.acrcloud import AcrCloudBaseOperator
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.acrcloud import (
    DUMP_STATUS,
    FILE_STATE,
    SCAN_STATUS,
    dump_target,
    file_state_target,
    scan_target,
)


class _BucketSensor(AcrCloudBaseOperator, MusicJobSensor):
    bucket_id: Any

    def _bucket(self) -> Any:
        if self.bucket_id in (None, ""):
            return self.hook.default_bucket(None)
        return self.bucket_id


class AcrCloudFileStateSensor(_BucketSensor):
    """Wait until the given bucket files (ids or acr_ids) are all ready (state 1); any error (-1) fails.

    :param bucket_id: the bucket (default: the connection's ``bucket_id`` extra).
    :param ids: file ids / acr_ids: an int, a string (comma-joined allowed) or a list (templated).
    :param acrcloud_conn_id: Airflow connection id (default ``acrcloud_default``). Templated.

    Returns (XCom) ``{"bucket_id", "total", "ready", "processing", "failed", "files"}``.
    """

    status_check = FILE_STATE
    template_fields: Sequence[str] = ("bucket_id", "ids")

    def __init__(self, *, ids: Any, bucket_id: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id
        self.ids = ids

    def target(self) -> dict[str, Any]:
        """The status target: ``ids`` in the bucket (default: the connection's bucket)."""
        return file_state_target(self._bucket(), self.ids)


class AcrCloudDumpSensor(_BucketSensor):
    """Wait until the dump of a bucket is ready (``status`` 1). Starts today's dump if none exists."""

    status_check = DUMP_STATUS
    template_fields: Sequence[str] = ("bucket_id",)

    def __init__(self, *, bucket_id: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id

    def target(self) -> dict[str, Any]:
        """The status target: the bucket's dump."""
        return dump_target(self._bucket())


class AcrCloudScanSensor(AcrCloudBaseOperator, MusicJobSensor):
    """Wait until file-scanning files have results (state 1 or -1 "no results"); -2/-3 fail."""

    status_check = SCAN_STATUS
    template_fields: Sequence[str] = ("container_id", "file_ids")

    def __init__(self, *, container_id: Any, file_ids: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.container_id = container_id
        self.file_ids = file_ids

    def target(self) -> dict[str, Any]:
        """The status target: ``file_ids`` in container ``container_id``."""
        return scan_target(self.container_id, self.file_ids)
