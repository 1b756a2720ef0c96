"""ACRCloud operators: upload/fingerprint, file metadata, bucket, dump and file scanning.

Built on :mod:`airflow_provider_music.operators.base`: the base owns the lifecycle (validate after render,
resume or submit, wait or defer, event checks, summary line); each operator states only what differs.
Uploads carry a marker in ``user_defined`` so an upload whose answer was lost is found in the bucket
instead of being uploaded twice. The catalog sync is in :mod:`airflow_provider_music.operators.acrcloud_sync`;
file scanning in :mod:`airflow_provider_music.operators.acrcloud_scan`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract.acrcloud import (
    CONSOLE_URL,
    FILE_DATA_TYPES,
    FILE_ERROR,
    MAX_PER_PAGE,
    answer_was_lost,
    bucket_path,
    check_region,
    check_user_defined,
    compact_file,
    join_ids,
    split_ids,
    to_int,
)
from airflow_provider_music.core import (
    InvalidInputError,
    MusicApiError,
    PollResult,
    ensure_writable_destination,
    lineage,
    to_storage_path,
)
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.operators.base import (
    MusicJobOperator,
    MusicLink,
    MusicOperator,
    is_templated,
    job_marker,
)
from airflow_provider_music.operators.cost import AcrCloudCost
from airflow_provider_music.triggers.acrcloud import DUMP_STATUS, FILE_STATE, dump_target, file_state_target

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath

UPLOAD_MARKER_KEY = "airflow_upload_key"
XCOM_CONSOLE_URL = "acrcloud_console_url"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class AcrCloudConsoleLink(MusicLink):
    """The bucket (or file-scanning container) in the ACRCloud console."""

    name = "ACRCloud Console"
    key = XCOM_CONSOLE_URL


def console_url(hook: AcrCloudHook, kind: str, ident: Any) -> str:
    """Console page of a bucket (``kind="buckets"``) or container (``"fs-containers"``); ``console_url`` extra
    overrides the console's address."""
    base = str(hook.settings.extra("console_url") or CONSOLE_URL).rstrip("/")
    return f"{base}/{kind}/{ident}"


def is_retry(context: Context) -> bool:
    """Is this a later try of the task instance (an earlier try may have created something)?"""
    ti = context.get("ti")
    return (to_int(getattr(ti, "try_number", 1), 1) or 1) > 1


def known(value: Any) -> bool:
    """Is ``value`` known at parse time (not a template or an XComArg)?"""
    return value is not None and not is_templated(value)


class AcrCloudBaseOperator(MusicOperator):
    """Base of every ACRCloud operator and sensor: the ``acrcloud_conn_id`` argument and the typed hook.

    :param acrcloud_conn_id: the ACRCloud connection (templated; default ``acrcloud_default``). Another API's
        connection argument, or ``conn_id=``, fails with an error naming this one.
    """

    hook_class = AcrCloudHook

    def __init__(self, *, acrcloud_conn_id: str = AcrCloudHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(acrcloud_conn_id=acrcloud_conn_id, **kwargs)

    @cached_property
    def hook(self) -> AcrCloudHook:
        """The ACRCloud hook of the (rendered) connection argument."""
        return AcrCloudHook(conn_id=self.conn_id)


# --------------------------------------------------------------------------------------------------
# Upload one file (the fingerprint step for one track or URL)
# --------------------------------------------------------------------------------------------------
class AcrCloudUploadFileOperator(AcrCloudCost, AcrCloudBaseOperator, MusicJobOperator):
    """Upload one audio file, fingerprint, URL or acrid to a bucket and (optionally) wait until it is ready.

    :param bucket_id: target bucket (default: the connection's ``bucket_id`` extra).
    :param data_type: ``audio`` | ``fingerprint`` (``source`` is streamed) | ``audio_url`` (``url``) | ``acrid``.
    :param source: local path, ``ObjectStoragePath`` or URL-style path (``s3://...``) of the file.
    :param source_conn_id: connection of ``source``'s object store, if any.
    :param title: file title; ``user_defined``: dict of metadata (JSON-serialisable).
    :param wait_for_completion: wait until ``state`` 1 (``-1`` fails the task); ``wait_for_ready`` is the
        former name. Plus ``acrcloud_conn_id``, ``deferrable``, ``poll_interval``, ``timeout``.

    XCom: ``file_id``, ``acr_id``, ``bucket_id`` (pushed before waiting); returns the file record
    ``{"id", "acr_id", "bucket_id", "state", "title", "duration"}``.
    """


    status_check = FILE_STATE
    state_key = "acrcloud_upload_file_id"
    default_poll_interval = 10.0
    default_timeout = 3600.0
    template_fields: Sequence[str] = ("bucket_id", "source", "url", "acrid", "title", "user_defined")
    operator_extra_links = (AcrCloudConsoleLink(),)

    def __init__(
        self,
        *,
        bucket_id: Any = None,
        data_type: str = "audio",
        source: Any = None,
        source_conn_id: str | None = None,
        url: str | None = None,
        acrid: str | None = None,
        title: str | None = None,
        user_defined: Any = None,
        wait_for_ready: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if wait_for_ready is not None:
            kwargs.setdefault("wait_for_completion", wait_for_ready)
        super().__init__(**kwargs)
        self.bucket_id, self.data_type, self.source, self.source_conn_id = bucket_id, data_type, source, source_conn_id
        self.url, self.acrid, self.title, self.user_defined = url, acrid, title, user_defined
        self._check_arguments(rendered=False)

    def _check_arguments(self, *, rendered: bool) -> None:
        if self.data_type not in FILE_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FILE_DATA_TYPES)}, got {self.data_type!r}")
        needs = {"audio": "source", "fingerprint": "source", "audio_url": "url", "acrid": "acrid"}[self.data_type]
        if rendered and not getattr(self, needs):
            raise InvalidInputError(f"{needs} is required for data_type={self.data_type!r}")
        if self.bucket_id not in (None, "") and (rendered or known(self.bucket_id)):
            bucket_path(self.bucket_id)
        if rendered or known(self.user_defined):
            check_user_defined(self.user_defined)
        if (rendered or known(self.title)) and self.title is not None and not isinstance(self.title, str):
            raise InvalidInputError(f"title must be a string, got {type(self.title).__name__}")

    def validate(self) -> None:
        """The upload arguments after rendering (same checks and messages as at parse time)."""
        self._check_arguments(rendered=True)

    def _source(self) -> Any:
        if isinstance(self.source, str) and "://" in self.source:
            return to_storage_path(self.source, self.source_conn_id)
        return self.source

    def _find_marked(self, bucket: str, marker: str) -> dict[str, Any] | None:
        """The file this task already uploaded (an earlier attempt whose answer was lost), if any."""
        filters: dict[str, Any] = {"search": self.title} if self.title else {}
        found = [
            r for r in self.hook.iter_files(bucket, per_page=MAX_PER_PAGE, **filters)
            if r.get("user_defined", {}).get(UPLOAD_MARKER_KEY) == marker
        ]
        return max(found, key=lambda r: to_int(r.get("id"), 0)) if found else None

    def _as_record(self, record: dict[str, Any], bucket: str) -> dict[str, Any]:
        return {**compact_file(record), "bucket_id": int(bucket), "file_id": record.get("id")}

    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Upload the file with this task instance's marker in ``user_defined``; on a retry a file an
        earlier try uploaded (found by the marker, not in error) is used instead of uploading again."""
        bucket = self.hook.default_bucket(self.bucket_id)
        marker = job_marker(context)
        if previous is None and is_retry(context):  # e.g. a record stored by an older version: look first
            found = self._find_marked(bucket, marker)
            if found is not None and found.get("state") != FILE_ERROR:
                self.log.info("Found file %s uploaded by an earlier try; not uploading again", found.get("id"))
                return self._as_record(found, bucket)
        user_defined = {**(check_user_defined(self.user_defined) or {}), UPLOAD_MARKER_KEY: marker}
        try:
            record = self.hook.upload_file(
                bucket, data_type=self.data_type, source=self._source(), url=self.url, acrid=self.acrid,
                title=self.title, user_defined=user_defined,
            )
        except MusicApiError as exc:
            if not answer_was_lost(exc):
                raise  # a definite answer (404 unknown bucket, 422 ...): nothing was created
            self.log.warning("Upload answer lost (%s); looking for the file before uploading again", exc)
            found = self._find_marked(bucket, marker)
            if found is None:
                raise MusicApiError(
                    f"upload to bucket {bucket} may have been accepted but the file is not listed yet; "
                    f"check the bucket for user_defined.{UPLOAD_MARKER_KEY}={marker!r} before retrying",
                ) from None
            record = found
        return self._as_record(record, bucket)

    def find_existing(self, context: Context) -> dict[str, Any] | None:
        """On a retry, the file an earlier try uploaded (found in the bucket by its marker), or None."""
        if not is_retry(context):
            return None  # a first try has nothing to find (and a bucket listing is not free)
        bucket = self.hook.default_bucket(self.bucket_id)
        found = self._find_marked(bucket, job_marker(context))
        if found:
            self.log.info("Found file %s uploaded by an earlier try; not uploading again", found.get("id"))
        return self._as_record(found, bucket) if found else None

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status target: the uploaded file in its bucket."""
        return file_state_target(record["bucket_id"], [record["file_id"]])

    def announce(self, record: dict[str, Any], context: Context) -> None:
        """Push ``file_id``, ``acr_id`` and ``bucket_id`` and the console link before waiting."""
        self.push(context, "file_id", record["file_id"])
        self.push(context, "acr_id", record.get("acr_id"))
        self.push(context, "bucket_id", record["bucket_id"])
        self.push_link(context, AcrCloudConsoleLink, console_url(self.hook, "buckets", record["bucket_id"]))

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> Any:
        """The file record: from the upload answer when not waiting, else from the final status."""
        if result is None:
            return compact_file({**record, "id": record["file_id"]})
        files = result.payload.get("files") or [{}]
        return files[0]

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: the audio file (or URL) -> the bucket file."""
        source = self.url if self.data_type == "audio_url" else self._source() if self.data_type != "acrid" else None
        lineage.add_datasets(self.task_report.inputs, lineage.path_dataset(source))
        lineage.add_datasets(self.task_report.outputs, lineage.acrcloud_bucket_file(record["bucket_id"], record["file_id"]))
        state = output.get("state") if isinstance(output, dict) else record.get("state")
        self.task_report.facts.update(bucket_id=record["bucket_id"], file_id=record["file_id"],
                                      acr_id=record.get("acr_id"), data_type=self.data_type, state=state)

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """The file id, title, duration and bucket for the summary line."""
        return [f"file {output.get('id')} ({output.get('title') or 'untitled'}, {output.get('duration')} s) "
                f"in bucket {output.get('bucket_id')}"]


# --------------------------------------------------------------------------------------------------
# Buckets and small file operations (no waiting)
# --------------------------------------------------------------------------------------------------
class AcrCloudEnsureBucketOperator(AcrCloudBaseOperator):
    """Make sure a bucket named ``name`` exists (create it when missing) and return its id.

    :param name: the bucket name (exact match); ``region``; ``type`` (``File`` for a catalog);
        ``labels``, ``net_type``, ``metadata_template`` are used only when creating.
    Returns the bucket id (int); XCom ``bucket_id`` and ``created``.
    """


    template_fields: Sequence[str] = ("name", "region", "labels")
    operator_extra_links = (AcrCloudConsoleLink(),)

    def __init__(
        self, *, name: str, region: str = "eu-west-1", type: str = "File",  # noqa: A002 - the API's name
        labels: list[str] | None = None, net_type: int | None = None, metadata_template: Any = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name, self.region, self.type, self.labels = name, region, type, labels
        self.net_type, self.metadata_template = net_type, metadata_template
        self._check(rendered=False)

    def _check(self, *, rendered: bool) -> None:
        if (rendered or not is_templated(self.name)) and (not isinstance(self.name, str) or not self.name.strip()):
            raise InvalidInputError(f"name must be a non-empty bucket name, got {self.name!r}")
        if rendered or known(self.region):
            check_region(self.region)

    def validate(self) -> None:
        """The bucket arguments after rendering (same checks as at parse time)."""
        self._check(rendered=True)

    def execute(self, context: Context) -> Any:
        """Find the bucket named ``name`` or create it; returns its record with ``created``."""
        self.check_rendered()
        bucket, created = self.hook.ensure_bucket(
            self.name, region=self.region, type=self.type, labels=self.labels, net_type=self.net_type,
            metadata_template=self.metadata_template,
        )
        bucket_id = int(bucket_path(bucket.get("id")))
        self.log.info("%s bucket %r: id %s", "Created" if created else "Found", self.name, bucket_id)
        lineage.add_datasets(self.task_report.outputs, lineage.acrcloud_bucket(bucket_id))
        self.task_report.facts.update(bucket_id=bucket_id, name=self.name, region=self.region, created=created)
        self.push(context, "created", created)
        self.push_link(context, AcrCloudConsoleLink, console_url(self.hook, "buckets", bucket_id))
        return bucket_id


class AcrCloudUpdateFileOperator(AcrCloudBaseOperator):
    """Update a file's ``title`` and/or ``user_defined`` (only metadata can change). Returns the record."""


    template_fields: Sequence[str] = ("bucket_id", "file_id", "title", "user_defined")

    def __init__(self, *, file_id: Any, bucket_id: Any = None, title: str | None = None, user_defined: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id, self.file_id, self.title, self.user_defined = bucket_id, file_id, title, user_defined
        if known(self.file_id):
            join_ids(self.file_id, argument="file_id")
        if known(self.user_defined):
            check_user_defined(self.user_defined)

    def validate(self) -> None:
        """Exactly one file (id or acr_id) and a JSON-serialisable ``user_defined``."""
        if "," in join_ids(self.file_id, argument="file_id"):
            raise InvalidInputError("file_id must name exactly one file (id or acr_id)")
        check_user_defined(self.user_defined)

    def execute(self, context: Context) -> Any:
        """Update the file's title and/or ``user_defined``; returns the updated record."""
        self.check_rendered()
        record = self.hook.update_file(self.bucket_id, self.file_id, title=self.title, user_defined=self.user_defined)
        bucket = self.hook.default_bucket(self.bucket_id)
        lineage.add_datasets(self.task_report.outputs, lineage.acrcloud_bucket_file(bucket, record.get("id") or self.file_id))
        self.task_report.facts.update(bucket_id=bucket, file_id=record.get("id"), acr_id=record.get("acr_id"))
        return {**compact_file(record), "user_defined": record.get("user_defined")}


class AcrCloudDeleteFilesOperator(AcrCloudBaseOperator):
    """Delete files by ids/acr_ids (already-deleted files are fine). Returns ``{"bucket_id", "deleted"}``."""


    template_fields: Sequence[str] = ("bucket_id", "ids")

    def __init__(self, *, ids: Any, bucket_id: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id, self.ids = bucket_id, ids
        if known(self.ids):
            join_ids(self.ids)

    def validate(self) -> None:
        """``ids`` are valid file ids."""
        join_ids(self.ids)

    def execute(self, context: Context) -> Any:
        """Delete the files from the bucket; returns ``{bucket_id, deleted}``."""
        self.check_rendered()
        bucket = self.hook.default_bucket(self.bucket_id)
        self.task_report.facts.update(bucket_id=int(bucket), deleted_ids=split_ids(self.ids))
        return {"bucket_id": int(bucket), "deleted": self.hook.delete_files(bucket, self.ids)}


class AcrCloudMoveFilesOperator(AcrCloudBaseOperator):
    """Move files (ids/acr_ids) to ``target_bucket_id``. Returns ``{"target_bucket_id", "moved"}``."""


    template_fields: Sequence[str] = ("target_bucket_id", "ids")

    def __init__(self, *, target_bucket_id: Any, ids: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_bucket_id, self.ids = target_bucket_id, ids
        if known(self.ids):
            join_ids(self.ids)
        if known(self.target_bucket_id):
            bucket_path(self.target_bucket_id, argument="target_bucket_id")

    def validate(self) -> None:
        """``ids`` are valid file ids and ``target_bucket_id`` a valid bucket id."""
        join_ids(self.ids)
        bucket_path(self.target_bucket_id, argument="target_bucket_id")

    def execute(self, context: Context) -> Any:
        """Move the files to ``target_bucket_id``; returns ``{target_bucket_id, moved}``."""
        self.check_rendered()
        ids = split_ids(self.ids)
        self.task_report.facts.update(target_bucket_id=self.target_bucket_id, moved_ids=ids)
        self.hook.move_files(self.target_bucket_id, ids)
        return {"target_bucket_id": int(bucket_path(self.target_bucket_id, argument="target_bucket_id")), "moved": ids}


# --------------------------------------------------------------------------------------------------
# Dump
# --------------------------------------------------------------------------------------------------
class AcrCloudDumpBucketOperator(AcrCloudCost, AcrCloudBaseOperator, MusicJobOperator):
    """Start the dump of a bucket (once a day), wait until ``status`` 1 and save it to ``destination``.

    :param destination: file path / ``ObjectStoragePath`` (a folder, ending in ``/`` or existing, gets
        ``bucket-<id>-dump-<task_id>.json``). Returns the saved path (a plain path for local files).
    """


    status_check = DUMP_STATUS
    state_key = "acrcloud_dump"
    default_poll_interval = 30.0
    default_timeout = 3 * 3600.0
    template_fields: Sequence[str] = ("bucket_id", "destination")
    operator_extra_links = (AcrCloudConsoleLink(),)

    def __init__(self, *, destination: Any, bucket_id: Any = None, destination_conn_id: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id, self.destination, self.destination_conn_id = bucket_id, destination, destination_conn_id
        if known(self.bucket_id) and self.bucket_id != "":
            bucket_path(self.bucket_id)

    def validate(self) -> None:
        """A ``destination`` whose folder is writable, before any request."""
        if not self.destination:
            raise InvalidInputError("destination is required (a file path or ObjectStoragePath)")
        probe = to_storage_path(self.destination, self.destination_conn_id)
        ensure_writable_destination(probe if str(self.destination).endswith("/") else probe.parent, argument="destination")

    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Ask for the bucket's dump (the first status call starts it); the record holds the bucket id."""
        bucket = self.hook.default_bucket(self.bucket_id)
        first = self.hook.dump_status(bucket)
        return {"bucket_id": int(bucket), "task_id": first.payload.get("task_id")}

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status target: the bucket's dump."""
        return dump_target(record["bucket_id"])

    def announce(self, record: dict[str, Any], context: Context) -> None:
        """Push the dump's ``task_id`` and the console link before waiting."""
        self.push(context, "task_id", record.get("task_id"))
        self.push_link(context, AcrCloudConsoleLink, console_url(self.hook, "buckets", record["bucket_id"]))

    def _target_path(self, bucket: Any, task_id: Any) -> ObjectStoragePath:
        dest = to_storage_path(self.destination, self.destination_conn_id)
        is_dir = str(self.destination).endswith("/")
        if not is_dir:
            with contextlib.suppress(Exception):
                is_dir = dest.is_dir()
        if is_dir:
            dest = dest / _SAFE_NAME.sub("_", f"bucket-{bucket}-dump-{task_id or 'latest'}.json").lstrip(".")
        return dest

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> Any:
        """Download the ready dump to ``destination``; returns its path (None when not waiting)."""
        if result is None:
            return None
        task_id = result.payload.get("task_id") or record.get("task_id")
        saved = self.hook.download_dump(record["bucket_id"], self._target_path(record["bucket_id"], task_id))
        text = str(saved)
        return text[len("file://"):] if text.startswith("file://") else text

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: the bucket -> the dump file (its final path)."""
        lineage.add_datasets(self.task_report.inputs, lineage.acrcloud_bucket(record["bucket_id"]))
        lineage.add_datasets(self.task_report.outputs, lineage.path_dataset(output))
        self.task_report.facts.update(bucket_id=record["bucket_id"], dump_task_id=record.get("task_id"))

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """Where the dump was saved, for the summary line."""
        return [f"dump of bucket {record['bucket_id']} saved to {output}"]


__all__ = [
    "UPLOAD_MARKER_KEY",
    "XCOM_CONSOLE_URL",
    "AcrCloudBaseOperator",
    "AcrCloudConsoleLink",
    "AcrCloudDeleteFilesOperator",
    "AcrCloudDumpBucketOperator",
    "AcrCloudEnsureBucketOperator",
    "AcrCloudMoveFilesOperator",
    "AcrCloudScanFileOperator",
    "AcrCloudUpdateFileOperator",
    "AcrCloudUploadFileOperator",
]

from airflow_provider_music.operators.acrcloud_scan import AcrCloudScanFileOperator  # noqa: E402 - re-export
