"""ACRCloud sensors: poke, reschedule or deferrable; built on the shared :class:`MusicJobSensor`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.core import lineage
from airflow_provider_music.operators.acrcloud import AcrCloudBaseOperator
from airflow_provider_music.operators.acrcloud_scan import scan_facts
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

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the watched bucket files (by file id once the status names them); states as facts."""
        bucket = self._bucket()
        files = [f for f in (payload or {}).get("files") or [] if isinstance(f, dict) and f.get("id") is not None]
        lineage.add_datasets(self.task_report.inputs, *(lineage.acrcloud_bucket_file(bucket, f["id"]) for f in files))
        self.task_report.facts.update(bucket_id=bucket, ids=self.ids)
        if payload:
            self.task_report.facts.update({k: payload.get(k) for k in ("total", "ready", "processing", "failed")})


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

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the bucket whose dump is awaited."""
        lineage.add_datasets(self.task_report.inputs, lineage.acrcloud_bucket(self._bucket()))
        self.task_report.facts["bucket_id"] = self._bucket()


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

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the watched scan files; their copyright/AI verdicts as facts when the status gives them."""
        target = self.target()
        cid = target.get("container_id")
        ids = [i for i in str(target.get("file_ids") or "").split(",") if i]
        lineage.add_datasets(self.task_report.inputs, *(lineage.acrcloud_container_file(cid, i) for i in ids))
        self.task_report.facts.update(container_id=cid, file_ids=ids)
        results = [r for r in (payload or {}).get("files") or [] if isinstance(r, dict) and "matched" in r]
        if results:
            self.task_report.facts["verdicts"] = [scan_facts(r) for r in results]
