"""ACRCloud operators: upload/fingerprint, catalog sync, file metadata, dump and file scanning.

Pattern (dbt Cloud style): submit -> push ids to XCom -> wait (``wait_for`` or ``defer``) -> validate the event
-> return a small dict. Submitted ids are kept in ``task_state_store`` before waiting so an Airflow retry
reconnects instead of paying again; uploads carry a marker in ``user_defined`` so an upload whose answer was
lost is found in the bucket instead of being uploaded twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    BaseOperator,
    BaseOperatorLink,
    ResumableJobMixin,
    XCom,
    conf,
)

from airflow_provider_music.core import (
    ConfigurationError,
    InvalidInputError,
    JobFailedError,
    MusicApiError,
    PollResult,
    check_audio_content,
    ensure_writable_destination,
    redact_url,
    resolve_source,
    to_storage_path,
    wait_for,
)
from airflow_provider_music.hooks.acrcloud import (
    FILE_DATA_TYPES,
    FILE_ERROR,
    FILE_READY,
    FS_DATA_TYPES,
    MAX_PER_PAGE,
    AcrCloudHook,
    check_user_defined,
    compact_file,
    join_ids,
    split_ids,
    to_int,
)
from airflow_provider_music.triggers.acrcloud import (
    AcrCloudDumpTrigger,
    AcrCloudFileStateTrigger,
    AcrCloudScanTrigger,
)
from airflow_provider_music.triggers.base import deadline_after, validate_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath

AUDIO_EXTENSIONS = (
    ".mp3", ".wav", ".flac", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma", ".aif", ".aiff", ".ape", ".amr", ".mp4",
)
#: Keys the catalog sync writes into each file's ``user_defined`` (its marker).
MARKER_KEYS = ("catalog_path", "catalog_size", "catalog_mtime", "catalog_sha256", "catalog_id")
UPLOAD_MARKER_KEY = "airflow_upload_key"
CONSOLE_URL = "https://console.acrcloud.com"
XCOM_CONSOLE_URL = "acrcloud_console_url"
FAILED_PATHS_LIMIT = 100


def _default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class AcrCloudConsoleLink(BaseOperatorLink):
    """Link to the bucket (or container) in the ACRCloud console, pushed to XCom before waiting."""

    name = "ACRCloud Console"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        return XCom.get_value(key=XCOM_CONSOLE_URL, ti_key=ti_key) or ""


def _console_url(hook: AcrCloudHook, kind: str, ident: Any) -> str:
    base = str(hook.settings.extra("console_url") or CONSOLE_URL).rstrip("/")
    return f"{base}/{kind}/{ident}"


def _marker_for(context: Context) -> str:
    ti = context.get("ti")
    run_id = context.get("run_id") or getattr(ti, "run_id", "")
    map_index = getattr(ti, "map_index", -1)
    return f"{getattr(ti, 'dag_id', '')}/{getattr(ti, 'task_id', '')}/{run_id}/{map_index}"


class _AcrCloudOperator(BaseOperator):
    """Common parts: the connection id and a cached hook."""

    def __init__(self, *, conn_id: str = AcrCloudHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    @cached_property
    def hook(self) -> AcrCloudHook:
        return AcrCloudHook(conn_id=self.conn_id)


def _check_wait_args(poll_interval: float, timeout: float | None) -> None:
    if poll_interval is None or float(poll_interval) <= 0:
        raise InvalidInputError(f"poll_interval must be > 0 seconds, got {poll_interval!r}")
    if timeout is not None and float(timeout) <= 0:
        raise InvalidInputError(f"timeout must be > 0 seconds or None, got {timeout!r}")


# --------------------------------------------------------------------------------------------------
# Upload one file (the fingerprint step for one track or URL)
# --------------------------------------------------------------------------------------------------
class AcrCloudUploadFileOperator(ResumableJobMixin, _AcrCloudOperator):
    """Upload one audio file, fingerprint, URL or acrid to a bucket and (optionally) wait until it is ready.

    :param bucket_id: target bucket (default: the connection's ``bucket_id`` extra).
    :param data_type: ``audio`` | ``fingerprint`` (``source`` is streamed) | ``audio_url`` (``url``) | ``acrid``.
    :param source: local path, ``ObjectStoragePath`` or URL-style path (``s3://...``) of the file.
    :param source_conn_id: connection of ``source``'s object store, if any.
    :param title: file title; ``user_defined``: dict of metadata (JSON-serialisable).
    :param wait_for_ready: wait until ``state`` 1; ``-1`` fails the task.
    :param deferrable: wait in the triggerer.
    :param poll_interval: seconds between checks; ``timeout``: seconds before giving up.

    XCom: ``file_id``, ``acr_id``, ``bucket_id`` (pushed before waiting); returns the file record
    ``{"id", "acr_id", "bucket_id", "state", "title", "duration"}``.
    """

    template_fields: Sequence[str] = ("bucket_id", "source", "url", "acrid", "title", "user_defined")
    operator_extra_links = (AcrCloudConsoleLink(),)
    external_id_key = "acrcloud_upload_file_id"

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
        wait_for_ready: bool = True,
        deferrable: bool = _default_deferrable(),
        poll_interval: float = 10.0,
        timeout: float | None = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id
        self.data_type = data_type
        self.source = source
        self.source_conn_id = source_conn_id
        self.url = url
        self.acrid = acrid
        self.title = title
        self.user_defined = user_defined
        self.wait_for_ready = wait_for_ready
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    # ---- validation and submit ----------------------------------------------------------------
    def _validate(self) -> None:
        if self.data_type not in FILE_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FILE_DATA_TYPES)}, got {self.data_type!r}")
        if self.data_type in ("audio", "fingerprint") and not self.source:
            raise InvalidInputError(f"source is required for data_type={self.data_type!r}")
        if self.data_type == "audio_url" and not self.url:
            raise InvalidInputError("url is required for data_type='audio_url'")
        if self.data_type == "acrid" and not self.acrid:
            raise InvalidInputError("acrid is required for data_type='acrid'")
        check_user_defined(self.user_defined)
        _check_wait_args(self.poll_interval, self.timeout)

    def _source(self) -> Any:
        if self.source is None:
            return None
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
        return max(found, key=lambda r: r.get("id") or 0) if found else None

    def submit_job(self, context: Context) -> Any:
        bucket = self.hook.default_bucket(self.bucket_id)
        marker = _marker_for(context)
        user_defined = {**(check_user_defined(self.user_defined) or {}), UPLOAD_MARKER_KEY: marker}
        ti = context.get("ti")
        record: dict[str, Any] | None = None
        if ti is not None and (to_int(getattr(ti, "try_number", 1), 1) or 1) > 1:
            record = self._find_marked(bucket, marker)
            if record:
                self.log.info("Found file %s uploaded by an earlier try; not uploading again", record.get("id"))
        attempts = 0
        while record is None:
            attempts += 1
            try:
                record = self.hook.upload_file(
                    bucket, data_type=self.data_type, source=self._source(), url=self.url, acrid=self.acrid,
                    title=self.title, user_defined=user_defined,
                )
            except MusicApiError as exc:
                if not exc.request_may_have_been_processed or attempts >= 2:
                    raise
                self.log.warning("Upload answer lost (%s); looking for the file before uploading again", exc)
                record = self._find_marked(bucket, marker)
        if ti is not None:
            ti.xcom_push(key="file_id", value=record.get("id"))
            ti.xcom_push(key="acr_id", value=record.get("acr_id"))
            ti.xcom_push(key="bucket_id", value=int(bucket))
            ti.xcom_push(key=XCOM_CONSOLE_URL, value=_console_url(self.hook, "buckets", bucket))
        return record.get("id")

    # ---- ResumableJobMixin -----------------------------------------------------------------------
    def get_job_status(self, external_id: Any, context: Context) -> str:
        records = self.hook.get_files(self.hook.default_bucket(self.bucket_id), [external_id])
        return str(records[0].get("state")) if records else "missing"

    def is_job_active(self, status: str) -> bool:
        return status == str(0)

    def is_job_succeeded(self, status: str) -> bool:
        return status == str(FILE_READY) or (status == "0" and not self.wait_for_ready)

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        # Returns the result too: ResumableJobMixin returns poll_until_complete() when it reconnects.
        if not self.wait_for_ready:
            return self.get_job_result(external_id, context)
        bucket = self.hook.default_bucket(self.bucket_id)
        result = wait_for(
            lambda: self.hook.files_status(bucket, [external_id]),
            poll_interval=self.poll_interval, timeout=self.timeout,
            describe=f"ACRCloud file {external_id} in bucket {bucket}", logger=self.log,
        )
        if result.state == "failed":
            raise JobFailedError(f"ACRCloud file {external_id}: {result.message}", details=result.payload)
        self._result = self.get_job_result(external_id, context)
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        cached = getattr(self, "_result", None)
        if cached is not None and cached.get("id") == external_id:
            return cached
        records = self.hook.get_files(self.hook.default_bucket(self.bucket_id), [external_id])
        if not records:
            raise JobFailedError(f"ACRCloud file {external_id} is not in the bucket any more")
        return compact_file(records[0])

    # ---- execute -----------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        self._validate()
        if not self.deferrable or not self.wait_for_ready:
            return self.execute_resumable(context)
        store = context.get("task_state_store")
        file_id: Any = store.get(self.external_id_key) if store is not None else None
        if file_id:
            status = self.get_job_status(file_id, context)
            if self.is_job_succeeded(status):
                return self.get_job_result(file_id, context)
            if not self.is_job_active(status):
                file_id = None
        if not file_id:
            file_id = self.submit_job(context)
            if store is not None:
                store.set(self.external_id_key, file_id)
        bucket = self.hook.default_bucket(self.bucket_id)
        first = self.hook.files_status(bucket, [file_id])
        if first.done:
            return self._finish(first)
        self.defer(
            trigger=AcrCloudFileStateTrigger(
                conn_id=self.conn_id, target={"bucket_id": bucket, "ids": str(file_id)},
                poll_interval=self.poll_interval, deadline=deadline_after(self.timeout),
            ),
            method_name="execute_complete",
        )

    def _finish(self, result: PollResult) -> dict[str, Any]:
        if result.state == "failed":
            raise JobFailedError(f"ACRCloud upload failed: {result.message}", details=result.payload)
        files = result.payload.get("files") or [{}]
        return files[0]

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        checked = validate_event(event, describe="ACRCloud upload")
        files = (checked.get("payload") or {}).get("files") or [{}]
        return files[0]


# --------------------------------------------------------------------------------------------------
# Catalog sync
# --------------------------------------------------------------------------------------------------
@dataclass
class CatalogEntry:
    rel: str
    path: Any
    size: int
    mtime: float
    sidecar: Any = None
    sha256: str | None = None


@dataclass
class _Task:
    entry: CatalogEntry
    replaces: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Progress:
    """Thread-safe progress counter that logs at a steady cadence."""

    log: Any
    total_files: int
    total_bytes: int
    interval: float
    done_files: int = 0
    done_bytes: int = 0
    started: float = field(default_factory=lambda: time.monotonic())
    last: float = field(default_factory=lambda: time.monotonic())
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, size: int) -> None:
        with self.lock:
            self.done_files += 1
            self.done_bytes += size
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                self._emit(now)

    def _emit(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-6)
        self.log.info(
            "Catalog sync progress: %d/%d files, %.1f/%.1f MB, %.1f files/s, %.2f MB/s",
            self.done_files, self.total_files, self.done_bytes / 1e6, self.total_bytes / 1e6,
            self.done_files / elapsed, self.done_bytes / 1e6 / elapsed,
        )

    def final(self) -> None:
        with self.lock:
            self._emit(time.monotonic())


def _open_track(path: Any) -> IO[bytes]:
    """Every read of catalog audio goes through here (hashing, fingerprinting)."""
    return path.open("rb")


def _sha256_of(path: Any) -> str:
    digest = hashlib.sha256()
    with _open_track(path) as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: Tracks up to this size are read ONCE per sync: hashed and uploaded from memory (peak memory of the
#: uploads: ``concurrency`` x this). Larger tracks are hashed, then streamed (two reads of the track).
SYNC_MEMORY_LIMIT = 32 * 1024 * 1024


def _read_track(path: Any, limit: int | None = None) -> tuple[str, bytes | None]:
    """One read of a track: ``(sha256, bytes)``, or ``(sha256, None)`` when it is larger than ``limit``
    (default ``SYNC_MEMORY_LIMIT``)."""
    limit = SYNC_MEMORY_LIMIT if limit is None else limit
    digest = hashlib.sha256()
    kept: list[bytes] | None = []
    total = 0
    with _open_track(path) as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
            total += len(chunk)
            if kept is not None and total > limit:
                kept = None  # too large to keep: hash only, the upload streams the file
            elif kept is not None:
                kept.append(chunk)
    return digest.hexdigest(), (b"".join(kept) if kept is not None else None)


def _memory_source(name: str, data: bytes) -> Any:
    """An upload source over bytes already read (reopenable: each attempt starts at byte 0)."""
    import io

    from airflow_provider_music.core import UploadSource

    return UploadSource(name=name, size=len(data), _opener=lambda: io.BytesIO(data))


_FP_LOCK = threading.Lock()


def pyacrcloud_extractor(local_path: str) -> bytes:
    """ACRCloud database fingerprint of a local audio file, made with ``pyacrcloud`` (extra ``fingerprint``)."""
    tool = _load_pyacrcloud()
    with _FP_LOCK:
        fp = tool.create_fingerprint_by_file(local_path, 0, 0, True)
    if not fp:
        raise JobFailedError("pyacrcloud made no fingerprint (silent, too short or undecodable audio)")
    return bytes(fp)


def _pyacrcloud_fingerprint_of_bytes(data: bytes) -> bytes:
    """``pyacrcloud_extractor`` for a track already read (the catalog sync reads each new track once)."""
    tool = _load_pyacrcloud()
    with _FP_LOCK:
        fp = tool.create_fingerprint_by_filebuffer(data, 0, 0, True)
    if not fp:
        raise JobFailedError("pyacrcloud made no fingerprint (silent, too short or undecodable audio)")
    return bytes(fp)


def _load_pyacrcloud() -> Any:
    try:
        import acrcloud  # noqa: F401 - puts acrcloud_extr_tool on sys.path
        import acrcloud_extr_tool
    except ImportError:
        raise ConfigurationError(
            "mode='fingerprint' needs pyacrcloud: pip install 'airflow-provider-music[fingerprint]' "
            "(Linux x86-64/aarch64 or macOS), or pass fingerprint_extractor="
        ) from None
    return acrcloud_extr_tool


def _info_mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        with contextlib.suppress(ValueError):
            import datetime as dt

            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    return 0.0


def _same_mtime(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) < 1e-3
    except (TypeError, ValueError):
        return False


class AcrCloudCatalogSyncOperator(_AcrCloudOperator):
    """Mirror a catalog folder into a bucket, incrementally and idempotently (the nightly fingerprinting job).

    Each uploaded file carries in ``user_defined``: ``catalog_path`` (relative path), ``catalog_size``,
    ``catalog_mtime``, ``catalog_sha256`` (and ``catalog_id`` when set). A run lists the bucket once,
    decides from size + mtime (no read) which tracks are unchanged, hashes only the others, uploads new
    and changed tracks with bounded concurrency, replaces old versions, refreshes metadata, optionally
    deletes files whose source vanished, then waits until the uploads are ready.

    :param catalog: folder (``ObjectStoragePath``, path or URL such as ``s3://label/catalog/``).
    :param bucket_id: target bucket (default: the connection's ``bucket_id`` extra).
    :param mode: ``audio`` uploads the audio; ``fingerprint`` extracts database fingerprints locally
        (``pyacrcloud`` or ``fingerprint_extractor``) and uploads only those - audio never leaves.
    :param extensions: audio file extensions to include (case-insensitive).
    :param recursive: walk sub-folders.
    :param catalog_id: optional label stored in each file; only files with this label are managed.
    :param metadata: callable ``(relative_path) -> {"title": ..., "user_defined": {...}}`` or None.
    :param sidecar_suffix: per-track JSON sidecar (``track.mp3.json`` or ``track.json``) with the same shape.
    :param update_metadata: update title/user_defined of unchanged files when the metadata changed.
    :param delete_missing: delete bucket files whose catalog source vanished (default False).
    :param concurrency: parallel uploads (threads).
    :param wait_for_ready: wait until uploads reach state 1 (state -1 counts as failed).
    :param fingerprint_extractor: callable ``(local_path) -> bytes`` (default: pyacrcloud).
    :param progress_interval: seconds between progress log lines.
    :param max_upload_rounds: rounds of re-upload for uploads whose answer was lost and that are not in the bucket.

    Returns ``{"uploaded", "updated", "deleted", "unchanged", "failed", "replaced", "total", "uploaded_bytes",
    "failed_paths": [{"path", "reason"}], "bucket_id", "mode"}``; fails at the end if any track failed.
    """

    template_fields: Sequence[str] = ("catalog", "bucket_id", "catalog_id", "mode", "extensions")
    operator_extra_links = (AcrCloudConsoleLink(),)
    summary_key = "acrcloud_catalog_sync_summary"

    def __init__(
        self,
        *,
        catalog: Any,
        bucket_id: Any = None,
        catalog_conn_id: str | None = None,
        mode: str = "audio",
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        recursive: bool = True,
        catalog_id: str | None = None,
        metadata: Callable[[str], dict[str, Any] | None] | None = None,
        sidecar_suffix: str | None = ".json",
        update_metadata: bool = True,
        delete_missing: bool = False,
        concurrency: int = 4,
        wait_for_ready: bool = True,
        fingerprint_extractor: Callable[[str], bytes] | None = None,
        progress_interval: float = 30.0,
        max_upload_rounds: int = 5,
        deferrable: bool = _default_deferrable(),
        poll_interval: float = 30.0,
        timeout: float | None = 6 * 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.catalog = catalog
        self.bucket_id = bucket_id
        self.catalog_conn_id = catalog_conn_id
        self.mode = mode
        self.extensions = extensions
        self.recursive = recursive
        self.catalog_id = catalog_id
        self.metadata = metadata
        self.sidecar_suffix = sidecar_suffix
        self.update_metadata = update_metadata
        self.delete_missing = delete_missing
        self.concurrency = concurrency
        self.wait_for_ready = wait_for_ready
        self.fingerprint_extractor = fingerprint_extractor
        self.progress_interval = progress_interval
        self.max_upload_rounds = max_upload_rounds
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    # ---- inputs ----------------------------------------------------------------------------------
    def _validate(self) -> Callable[[str], bytes] | None:
        if self.mode not in ("audio", "fingerprint"):
            raise InvalidInputError(f"mode must be 'audio' or 'fingerprint', got {self.mode!r}")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 32:
            raise InvalidInputError(f"concurrency must be an integer from 1 to 32, got {self.concurrency!r}")
        if not self.extensions or isinstance(self.extensions, str):
            raise InvalidInputError("extensions must be a non-empty list such as ['.mp3', '.wav']")
        if not isinstance(self.max_upload_rounds, int) or self.max_upload_rounds < 1:
            raise InvalidInputError(f"max_upload_rounds must be an integer >= 1, got {self.max_upload_rounds!r}")
        if self.metadata is not None and not callable(self.metadata):
            raise InvalidInputError("metadata must be a callable (relative_path) -> dict, or None")
        if self.catalog_id is not None and not isinstance(self.catalog_id, str):
            raise InvalidInputError("catalog_id must be a string")
        _check_wait_args(self.poll_interval, self.timeout)
        if self.mode == "fingerprint":
            if self.fingerprint_extractor is not None:
                if not callable(self.fingerprint_extractor):
                    raise InvalidInputError("fingerprint_extractor must be a callable (local_path) -> bytes")
                return self.fingerprint_extractor
            _load_pyacrcloud()
            return pyacrcloud_extractor
        return None

    def _root(self) -> ObjectStoragePath:
        if not self.catalog:
            raise InvalidInputError("catalog is required: a folder path or ObjectStoragePath")
        root = to_storage_path(self.catalog, self.catalog_conn_id)
        try:
            is_dir = root.is_dir()
        except PermissionError:
            raise InvalidInputError(f"catalog: folder is not readable: {root}") from None
        if not is_dir:
            raise InvalidInputError(f"catalog: folder not found: {root}")
        return root

    def scan_catalog(self, root: ObjectStoragePath) -> dict[str, CatalogEntry]:
        """List the catalog once (sizes and mtimes from the listing; no file is opened)."""
        exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in self.extensions)
        base = root.path.rstrip("/")
        kwargs: dict[str, Any] = {"detail": True, "withdirs": False}
        if not self.recursive:
            kwargs["maxdepth"] = 1
        listing = root.fs.find(base, **kwargs)
        infos: dict[str, dict[str, Any]] = {}
        for full, info in listing.items():
            full = str(full)
            rel = full[len(base):].lstrip("/") if full.startswith(base) else os.path.basename(full)
            if not rel or rel.startswith("../") or "\x00" in rel:
                continue
            infos[rel] = info
        entries: dict[str, CatalogEntry] = {}
        for rel, info in infos.items():
            if not rel.lower().endswith(exts) or os.path.basename(rel).startswith("."):
                continue
            sidecar = None
            if self.sidecar_suffix:
                for cand in (rel + self.sidecar_suffix, os.path.splitext(rel)[0] + self.sidecar_suffix):
                    if cand in infos and cand != rel:
                        sidecar = root / cand
                        break
            entries[rel] = CatalogEntry(
                rel=rel, path=root / rel, size=int(info.get("size") or 0), mtime=_info_mtime(info), sidecar=sidecar,
            )
        return dict(sorted(entries.items()))

    def _desired_metadata(self, entry: CatalogEntry) -> tuple[str, dict[str, Any]]:
        """(title, user_defined without markers) from the callable or the sidecar; title defaults to the stem."""
        meta: dict[str, Any] | None = None
        if self.metadata is not None:
            meta = self.metadata(entry.rel)
        elif entry.sidecar is not None:
            try:
                meta = json.loads(entry.sidecar.read_text())
            except (ValueError, OSError) as exc:
                raise InvalidInputError(f"sidecar {entry.sidecar} is not valid JSON: {exc}") from None
        meta = dict(meta or {})
        title = meta.pop("title", None)
        if "user_defined" in meta:
            user_defined = meta.pop("user_defined")
        else:
            user_defined = meta
        user_defined = dict(check_user_defined(user_defined, argument=f"metadata of {entry.rel}") or {})
        for key in (*MARKER_KEYS, UPLOAD_MARKER_KEY):
            user_defined.pop(key, None)
        stem = os.path.splitext(os.path.basename(entry.rel))[0]
        return (str(title) if title is not None else stem), user_defined

    def _markers(self, entry: CatalogEntry) -> dict[str, Any]:
        markers: dict[str, Any] = {
            "catalog_path": entry.rel,
            "catalog_size": entry.size,
            "catalog_mtime": entry.mtime,
            "catalog_sha256": entry.sha256,
        }
        if self.catalog_id:
            markers["catalog_id"] = self.catalog_id
        return markers

    def _index_bucket(self, bucket: str) -> dict[str, list[dict[str, Any]]]:
        index: dict[str, list[dict[str, Any]]] = {}
        for record in self.hook.iter_files(bucket, per_page=MAX_PER_PAGE):
            ud = record.get("user_defined") or {}
            path = ud.get("catalog_path")
            if not isinstance(path, str):
                continue
            if self.catalog_id and ud.get("catalog_id") != self.catalog_id:
                continue
            index.setdefault(path, []).append(record)
        return index

    # ---- execute -----------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        extractor = self._validate()
        root = self._root()
        bucket = self.hook.default_bucket(self.bucket_id)
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="bucket_id", value=int(bucket))
            ti.xcom_push(key=XCOM_CONSOLE_URL, value=_console_url(self.hook, "buckets", bucket))
        entries = self.scan_catalog(root)
        index = self._index_bucket(bucket)
        self.log.info(
            "Catalog %s: %d track(s); bucket %s holds %d catalog path(s)",
            redact_url(str(root)), len(entries), bucket, len(index),
        )
        summary: dict[str, Any] = {
            "bucket_id": int(bucket), "mode": self.mode, "total": len(entries), "uploaded": 0, "updated": 0,
            "deleted": 0, "unchanged": 0, "failed": 0, "replaced": 0, "uploaded_bytes": 0, "failed_paths": [],
        }
        failures: list[dict[str, str]] = []

        # 1. plan: unchanged / metadata updates / uploads / replacements (no audio read for unchanged files)
        uploads: list[_Task] = []
        updates: list[tuple[CatalogEntry, dict[str, Any], str, dict[str, Any]]] = []
        stale: list[dict[str, Any]] = []
        processing: dict[str, str] = {}
        for rel, entry in entries.items():
            records = index.get(rel, [])
            try:
                title, user_defined = self._desired_metadata(entry)
            except Exception as exc:  # a bad sidecar or metadata callable fails this track only
                failures.append({"path": rel, "reason": f"metadata: {exc}"})
                continue
            current = [
                r for r in records
                if r["user_defined"].get("catalog_size") == entry.size
                and _same_mtime(r["user_defined"].get("catalog_mtime"), entry.mtime)
                and r.get("state") != FILE_ERROR
            ]
            if not current and records and not any(r["user_defined"].get("catalog_size") == entry.size for r in records):
                uploads.append(_Task(entry, replaces=records))  # new size: changed for sure, no read to decide
                continue
            if not current and records:
                try:
                    entry.sha256 = _sha256_of(entry.path)
                except OSError as exc:
                    failures.append({"path": rel, "reason": f"cannot read: {exc}"})
                    continue
                same = [
                    r for r in records
                    if r["user_defined"].get("catalog_sha256") == entry.sha256 and r.get("state") != FILE_ERROR
                ]
                if same:  # touched, not changed: refresh size/mtime in the marker, no upload
                    keep = max(same, key=lambda r: (r.get("state") == FILE_READY, r.get("id") or 0))
                    stale.extend(r for r in records if r is not keep)
                    updates.append((entry, keep, title, {**user_defined, **self._markers(entry)}))
                    continue
                uploads.append(_Task(entry, replaces=records))
                continue
            if not current:
                uploads.append(_Task(entry))
                continue
            keep = max(current, key=lambda r: (r.get("state") == FILE_READY, r.get("id") or 0))
            stale.extend(r for r in records if r is not keep)
            if keep.get("state") != FILE_READY:  # uploaded by an interrupted run: wait for it too
                processing[str(keep["id"])] = rel
            if self.update_metadata:
                entry.sha256 = keep["user_defined"].get("catalog_sha256")
                wanted = {**user_defined, **{k: keep["user_defined"][k] for k in MARKER_KEYS if k in keep["user_defined"]}}
                if keep.get("title") != title or keep.get("user_defined") != wanted:
                    updates.append((entry, keep, title, wanted))
                    continue
            summary["unchanged"] += 1
        missing = [r for path, recs in index.items() if path not in entries for r in recs]
        self.log.info(
            "Plan: %d to upload, %d metadata update(s), %d unchanged, %d stale duplicate(s), %d without source%s",
            len(uploads), len(updates), summary["unchanged"], len(stale), len(missing),
            " (will delete)" if self.delete_missing else " (kept; delete_missing=False)",
        )

        # 2. uploads (bounded concurrency) with lost-answer recovery
        uploaded = self._upload_all(bucket, uploads, extractor, failures, summary)

        # 3. metadata updates
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="acrcloud-update") as pool:
            futures = {
                pool.submit(self.hook.update_file, bucket, rec["id"], title=title, user_defined=ud): entry
                for entry, rec, title, ud in updates
            }
            for future in as_completed(futures):
                try:
                    future.result()
                    summary["updated"] += 1
                except MusicApiError as exc:
                    failures.append({"path": futures[future].rel, "reason": f"metadata update failed: {exc}"})

        # 4. deletions: replaced versions (only once the new one is in), stale duplicates, vanished sources
        replaced = [r for task in uploads if task.entry.rel in uploaded for r in task.replaces]
        to_delete = [r["id"] for r in replaced + stale]
        if self.delete_missing:
            to_delete += [r["id"] for r in missing]
        if to_delete:
            try:
                self.hook.delete_files(bucket, to_delete)
                summary["replaced"] = len(replaced) + len(stale)
                summary["deleted"] = len(missing) if self.delete_missing else 0
            except MusicApiError as exc:
                failures.append({"path": "(deletions)", "reason": f"deleting {len(to_delete)} file(s) failed: {exc}"})

        summary["uploaded"] = len(uploaded)
        pending = {**processing, **{str(rec["id"]): rel for rel, rec in uploaded.items()}}
        self._save(context, summary, failures, pending)

        # 5. wait until the uploads are ready
        if self.wait_for_ready and pending:
            ids = ",".join(pending)
            if self.deferrable:
                self.defer(
                    trigger=AcrCloudFileStateTrigger(
                        conn_id=self.conn_id, target={"bucket_id": bucket, "ids": ids, "fail_fast": False},
                        poll_interval=self.poll_interval, deadline=deadline_after(self.timeout),
                    ),
                    method_name="execute_complete",
                )
            result = wait_for(
                lambda: self.hook.files_status(bucket, ids, fail_fast=False),
                poll_interval=self.poll_interval, timeout=self.timeout,
                describe=f"{len(pending)} upload(s) in bucket {bucket}", logger=self.log,
            )
            self._add_processing_failures(result.payload, pending, failures)
        return self._finish(context, summary, failures)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        store = context.get("task_state_store")
        saved: Any = store.get(self.summary_key) if store is not None else None
        if not saved:
            ti = context.get("ti")
            saved = ti.xcom_pull(task_ids=self.task_id, key="sync_state") if ti is not None else None
        if not isinstance(saved, dict):
            raise AirflowException("Catalog sync resumed without its saved summary; re-run the task")
        summary, failures, pending = saved["summary"], list(saved["failures"]), saved.get("pending") or {}
        if isinstance(event, dict) and event.get("status") == "failed":
            self._add_processing_failures(event.get("payload") or {}, pending, failures)
        else:
            validate_event(event, describe=f"ACRCloud catalog sync into bucket {summary['bucket_id']}")
        return self._finish(context, summary, failures)

    # ---- helpers -----------------------------------------------------------------------------------
    def _save(self, context: Context, summary: dict[str, Any], failures: list[dict[str, str]], pending: dict[str, str]) -> None:
        store = context.get("task_state_store")
        if store is not None:
            state: Any = {"summary": summary, "failures": failures, "pending": pending}
            store.set(self.summary_key, state)
        elif self.deferrable and context.get("ti") is not None:
            context["ti"].xcom_push(
                key="sync_state", value={"summary": summary, "failures": failures, "pending": pending}
            )

    @staticmethod
    def _add_processing_failures(payload: dict[str, Any], pending: dict[str, str], failures: list[dict[str, str]]) -> None:
        for item in payload.get("failed") or []:
            path = pending.get(str(item.get("id")), f"file {item.get('id')}")
            failures.append({"path": path, "reason": str(item.get("reason") or "failed")})

    def _finish(self, context: Context, summary: dict[str, Any], failures: list[dict[str, str]]) -> dict[str, Any]:
        summary = dict(summary)
        summary["failed"] = len(failures)
        summary["failed_paths"] = failures[:FAILED_PATHS_LIMIT]
        self.log.info(
            "Catalog sync done: %d uploaded, %d updated, %d deleted, %d unchanged, %d replaced, %d failed",
            summary["uploaded"], summary["updated"], summary["deleted"], summary["unchanged"],
            summary["replaced"], summary["failed"],
        )
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="sync_summary", value=summary)
        store = context.get("task_state_store")
        if store is not None:
            with contextlib.suppress(Exception):
                store.delete(self.summary_key)
        if failures:
            sample = "; ".join(f"{f['path']}: {f['reason']}" for f in failures[:5])
            raise AirflowException(f"Catalog sync: {len(failures)} track(s) failed ({sample})")
        return summary

    @contextlib.contextmanager
    def _local_copy(self, entry: CatalogEntry) -> Iterator[str]:
        """A local path of the track (the file itself when local; else a temporary copy)."""
        if entry.path.protocol in ("file", "local", ""):
            yield entry.path.path
            return
        suffix = os.path.splitext(entry.rel)[1]
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
            with _open_track(entry.path) as src:
                for chunk in iter(lambda: src.read(1024 * 1024), b""):
                    digest.update(chunk)
                    tmp.write(chunk)
            tmp.flush()
            if entry.sha256 is None:
                entry.sha256 = digest.hexdigest()
            yield tmp.name

    def _upload_one(
        self, bucket: str, entry: CatalogEntry, extractor: Callable[[str], bytes] | None
    ) -> tuple[dict[str, Any], int]:
        title, user_defined = self._desired_metadata(entry)
        if extractor is None:
            source: Any = entry.path
            if entry.sha256 is None:  # a new track: read it once, hash it and send the same bytes
                entry.sha256, data = _read_track(entry.path)
                if data is not None:
                    source = _memory_source(os.path.basename(entry.rel), data)
            user_defined = {**user_defined, **self._markers(entry)}
            record = self.hook.upload_file(bucket, data_type="audio", source=source, title=title, user_defined=user_defined)
            return record, entry.size
        import io

        data = None
        if extractor is pyacrcloud_extractor and entry.size <= SYNC_MEMORY_LIMIT:  # one read: hash + fingerprint
            entry.sha256, data = _read_track(entry.path)
        if data is not None:
            fp = _pyacrcloud_fingerprint_of_bytes(data)
        else:
            with self._local_copy(entry) as local:  # a custom extractor reads the path itself
                if entry.sha256 is None:  # remote tracks were hashed while copied
                    entry.sha256 = _sha256_of(entry.path)
                fp = extractor(local)
        user_defined = {**user_defined, **self._markers(entry)}
        if not isinstance(fp, (bytes, bytearray)) or not fp:
            raise JobFailedError("the fingerprint extractor returned no bytes")
        source = io.BytesIO(bytes(fp))
        source.name = os.path.basename(entry.rel) + ".fp"  # type: ignore[misc]
        record = self.hook.upload_file(bucket, data_type="fingerprint", source=source, title=title, user_defined=user_defined)
        return record, len(fp)

    def _upload_all(
        self,
        bucket: str,
        tasks: list[_Task],
        extractor: Callable[[str], bytes] | None,
        failures: list[dict[str, str]],
        summary: dict[str, Any],
    ) -> dict[str, dict[str, Any]]:
        """Upload every task; returns ``{relative_path: record}`` of the tracks now in the bucket."""
        uploaded: dict[str, dict[str, Any]] = {}
        if not tasks:
            return uploaded
        progress = _Progress(
            log=self.log, total_files=len(tasks), total_bytes=sum(t.entry.size for t in tasks),
            interval=float(self.progress_interval),
        )
        todo = list(tasks)
        for round_no in range(1, self.max_upload_rounds + 1):
            lost: list[_Task] = []
            pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="acrcloud-upload")
            try:
                futures = {pool.submit(self._upload_one, bucket, t.entry, extractor): t for t in todo}
                for future in as_completed(futures):
                    task = futures[future]
                    try:
                        record, sent = future.result()
                    except MusicApiError as exc:
                        if exc.request_may_have_been_processed and not isinstance(exc, (JobFailedError, InvalidInputError)):
                            lost.append(task)
                        else:
                            failures.append({"path": task.entry.rel, "reason": str(exc)})
                            progress.add(0)
                        continue
                    except Exception as exc:  # unreadable file, extractor error: this track fails, others go on
                        failures.append({"path": task.entry.rel, "reason": f"{type(exc).__name__}: {exc}"})
                        progress.add(0)
                        continue
                    uploaded[task.entry.rel] = record
                    summary["uploaded_bytes"] += sent
                    progress.add(task.entry.size)
            finally:
                # on a kill or crash, do not start the queued uploads (a re-run picks them up)
                pool.shutdown(wait=True, cancel_futures=True)
            if not lost:
                break
            # Answers were lost: the files may be in the bucket. One listing tells which.
            self.log.warning("%d upload answer(s) lost in round %d; checking the bucket", len(lost), round_no)
            index = self._index_bucket(bucket)
            todo = []
            for task in lost:
                found = [
                    r for r in index.get(task.entry.rel, [])
                    if r["user_defined"].get("catalog_sha256") == task.entry.sha256
                    and r["user_defined"].get("catalog_size") == task.entry.size
                ]
                if found:
                    uploaded[task.entry.rel] = max(found, key=lambda r: r.get("id") or 0)
                    summary["uploaded_bytes"] += task.entry.size
                else:
                    todo.append(task)
            if not todo:
                break
            if round_no == self.max_upload_rounds:
                failures.extend(
                    {"path": t.entry.rel, "reason": "upload failed repeatedly (server errors)"} for t in todo
                )
        progress.final()
        return uploaded


# --------------------------------------------------------------------------------------------------
# Small file operations
# --------------------------------------------------------------------------------------------------
class AcrCloudUpdateFileOperator(_AcrCloudOperator):
    """Update a file's ``title`` and/or ``user_defined`` (only metadata can change). Returns the record."""

    template_fields: Sequence[str] = ("bucket_id", "file_id", "title", "user_defined")

    def __init__(self, *, file_id: Any, bucket_id: Any = None, title: str | None = None, user_defined: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id
        self.file_id = file_id
        self.title = title
        self.user_defined = user_defined

    def execute(self, context: Context) -> Any:
        record = self.hook.update_file(self.bucket_id, self.file_id, title=self.title, user_defined=self.user_defined)
        return {**compact_file(record), "user_defined": record.get("user_defined")}


class AcrCloudDeleteFilesOperator(_AcrCloudOperator):
    """Delete files by ids/acr_ids (already-deleted files are fine). Returns ``{"bucket_id", "deleted"}``."""

    template_fields: Sequence[str] = ("bucket_id", "ids")

    def __init__(self, *, ids: Any, bucket_id: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id
        self.ids = ids

    def execute(self, context: Context) -> Any:
        join_ids(self.ids)
        bucket = self.hook.default_bucket(self.bucket_id)
        return {"bucket_id": int(bucket), "deleted": self.hook.delete_files(bucket, self.ids)}


class AcrCloudMoveFilesOperator(_AcrCloudOperator):
    """Move files (ids/acr_ids) to ``target_bucket_id``. Returns ``{"target_bucket_id", "moved"}``."""

    template_fields: Sequence[str] = ("target_bucket_id", "ids")

    def __init__(self, *, target_bucket_id: Any, ids: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_bucket_id = target_bucket_id
        self.ids = ids

    def execute(self, context: Context) -> Any:
        ids = split_ids(self.ids)
        self.hook.move_files(self.target_bucket_id, ids)
        return {"target_bucket_id": to_int(self.target_bucket_id), "moved": ids}


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class AcrCloudDumpBucketOperator(_AcrCloudOperator):
    """Start the dump of a bucket (once a day), wait until ``status`` 1 and save it to ``destination``.

    :param destination: file path / ``ObjectStoragePath`` (a folder, ending in ``/`` or existing, gets
        ``bucket-<id>-dump-<task_id>.json``).
    Returns the saved path as a string.
    """

    template_fields: Sequence[str] = ("bucket_id", "destination")
    operator_extra_links = (AcrCloudConsoleLink(),)

    def __init__(
        self,
        *,
        destination: Any,
        bucket_id: Any = None,
        destination_conn_id: str | None = None,
        deferrable: bool = _default_deferrable(),
        poll_interval: float = 30.0,
        timeout: float | None = 3 * 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket_id = bucket_id
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    def _target(self, bucket: str, task_id: Any) -> ObjectStoragePath:
        text = str(self.destination)
        dest = to_storage_path(self.destination, self.destination_conn_id)
        is_dir = text.endswith("/")
        if not is_dir:
            with contextlib.suppress(Exception):
                is_dir = dest.is_dir()
        if is_dir:
            name = _SAFE_NAME.sub("_", f"bucket-{bucket}-dump-{task_id or 'latest'}.json").lstrip(".")
            dest = dest / name
        return dest

    def execute(self, context: Context) -> Any:
        if not self.destination:
            raise InvalidInputError("destination is required (a file path or ObjectStoragePath)")
        _check_wait_args(self.poll_interval, self.timeout)
        bucket = self.hook.default_bucket(self.bucket_id)
        probe = to_storage_path(self.destination, self.destination_conn_id)
        ensure_writable_destination(probe if str(self.destination).endswith("/") else probe.parent, argument="destination")
        first = self.hook.dump_status(bucket)
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="task_id", value=first.payload.get("task_id"))
            ti.xcom_push(key=XCOM_CONSOLE_URL, value=_console_url(self.hook, "buckets", bucket))
        if first.state == "failed":
            raise JobFailedError(first.message, details=first.payload)
        if first.state == "running":
            if self.deferrable:
                self.defer(
                    trigger=AcrCloudDumpTrigger(
                        conn_id=self.conn_id, target={"bucket_id": bucket},
                        poll_interval=self.poll_interval, deadline=deadline_after(self.timeout),
                    ),
                    method_name="execute_complete",
                )
            result = wait_for(
                lambda: self.hook.dump_status(bucket), poll_interval=self.poll_interval, timeout=self.timeout,
                describe=f"dump of bucket {bucket}", logger=self.log,
            )
            if result.state == "failed":
                raise JobFailedError(result.message, details=result.payload)
            first = result
        return self._save(bucket, first.payload.get("task_id"))

    def _save(self, bucket: str, task_id: Any) -> str:
        dest = self._target(bucket, task_id)
        return str(self.hook.download_dump(bucket, dest))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        checked = validate_event(event, describe="ACRCloud bucket dump")
        payload = checked.get("payload") or {}
        bucket = self.hook.default_bucket(payload.get("bucket_id") or self.bucket_id)
        return self._save(bucket, payload.get("task_id"))


# --------------------------------------------------------------------------------------------------
# File scanning (copyright check)
# --------------------------------------------------------------------------------------------------
def summarize_scan(record: dict[str, Any]) -> dict[str, Any]:
    """The matches of one scanned file: each engine item flattened to ``{offset, played_duration, **result}``."""
    results = record.get("results") or {}
    out: dict[str, Any] = {}
    for engine in ("music", "custom_files", "cover_songs"):
        items = []
        for item in results.get(engine) or []:
            if isinstance(item, dict):
                flat = dict(item.get("result") or {})
                flat.update({k: item[k] for k in ("offset", "played_duration", "type") if k in item})
                items.append(flat)
        out[engine] = items
    state = to_int(record.get("state"))
    out.update(
        {
            "file_id": record.get("id"),
            "container_id": to_int(record.get("cid")),
            "state": state,
            "matched": bool(out["music"] or out["custom_files"] or out["cover_songs"]),
        }
    )
    return out


class AcrCloudScanFileOperator(ResumableJobMixin, _AcrCloudOperator):
    """Scan an audio file against ACRCloud Music and/or your buckets (the copyright check for generated songs).

    :param source: the audio (path / ``ObjectStoragePath``); or ``url`` with ``data_type="audio_url"``.
    :param container_id: an existing file-scanning container; or give ``buckets`` (ids or names, default
        ``["ACRCloud Music"]``) and ``region``: a container named ``container_name`` is reused or created.
    :param fail_on_match: fail the task when anything matched.
    Returns ``{"file_id", "container_id", "state", "matched", "music": [...], "custom_files": [...], "cover_songs": [...]}``.
    """

    template_fields: Sequence[str] = ("source", "url", "container_id", "buckets", "name")
    operator_extra_links = (AcrCloudConsoleLink(),)
    external_id_key = "acrcloud_scan_file"

    def __init__(
        self,
        *,
        source: Any = None,
        source_conn_id: str | None = None,
        url: str | None = None,
        data_type: str | None = None,
        container_id: Any = None,
        buckets: Sequence[Any] | None = None,
        region: str = "eu-west-1",
        container_name: str = "airflow-scan",
        engine: int = 1,
        name: str | None = None,
        fail_on_match: bool = False,
        deferrable: bool = _default_deferrable(),
        poll_interval: float = 15.0,
        timeout: float | None = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.source_conn_id = source_conn_id
        self.url = url
        self.data_type = data_type or ("audio_url" if url and not source else "audio")
        self.container_id = container_id
        self.buckets = buckets
        self.region = region
        self.container_name = container_name
        self.engine = engine
        self.name = name
        self.fail_on_match = fail_on_match
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    def _validate(self) -> None:
        if self.data_type not in FS_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FS_DATA_TYPES)}, got {self.data_type!r}")
        if self.data_type in ("audio", "fingerprint") and not self.source:
            raise InvalidInputError("source is required to scan a file (or pass url= with data_type='audio_url')")
        if self.data_type in ("audio_url", "platforms") and not self.url:
            raise InvalidInputError(f"url is required for data_type={self.data_type!r}")
        if self.container_id is None and self.buckets is not None and not list(self.buckets):
            raise InvalidInputError("buckets must name at least one bucket id or name")
        _check_wait_args(self.poll_interval, self.timeout)
        if self.data_type in ("audio", "fingerprint"):  # the file is checked before any request
            source = self.source
            if isinstance(source, str) and "://" in source:
                source = to_storage_path(source, self.source_conn_id)
            upload = resolve_source(source)
            if self.data_type == "audio":
                check_audio_content(upload)

    def _container(self) -> int:
        if self.container_id not in (None, ""):
            cid = to_int(self.container_id)
            if cid is None or cid <= 0:
                raise InvalidInputError(f"container_id must be a positive integer, got {self.container_id!r}")
            return cid
        for container in self.hook.list_fs_containers(name=self.container_name, per_page=MAX_PER_PAGE)["data"]:
            if container.get("name") == self.container_name:
                return int(container["id"])
        created = self.hook.create_fs_container(
            self.container_name, region=self.region, buckets=list(self.buckets or ["ACRCloud Music"]), engine=self.engine,
        )
        self.log.info("Created file-scanning container %s (%s)", created.get("id"), self.container_name)
        return int(created["id"])

    def _scan_name(self, context: Context) -> str:
        if self.name:
            return str(self.name)
        base = os.path.basename(str(self.source or self.url or "scan"))
        return f"{base} [{_marker_for(context)}]"

    def submit_job(self, context: Context) -> Any:
        cid = self._container()
        name = self._scan_name(context)
        source = self.source
        if isinstance(source, str) and "://" in source:
            source = to_storage_path(source, self.source_conn_id)
        try:
            record = self.hook.upload_fs_file(cid, data_type=self.data_type, source=source, url=self.url, name=name)
        except MusicApiError as exc:
            if not exc.request_may_have_been_processed:
                raise
            found = [f for f in self.hook.list_fs_files(cid, search=name, per_page=MAX_PER_PAGE)["data"] if f.get("name") == name]
            if not found:
                raise
            record = found[-1]
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="container_id", value=cid)
            ti.xcom_push(key="file_id", value=record.get("id"))
            ti.xcom_push(key=XCOM_CONSOLE_URL, value=_console_url(self.hook, "fs-containers", cid))
        return {"container_id": cid, "file_id": str(record.get("id"))}

    def get_job_status(self, external_id: Any, context: Context) -> str:
        records = self.hook.get_fs_files(external_id["container_id"], external_id["file_id"])
        return str(records[0].get("state")) if records else "missing"

    def is_job_active(self, status: str) -> bool:
        return status == "0"

    def is_job_succeeded(self, status: str) -> bool:
        return status in ("1", "-1")

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        # Returns the result too: ResumableJobMixin returns poll_until_complete() when it reconnects.
        result = wait_for(
            lambda: self.hook.fs_files_status(external_id["container_id"], external_id["file_id"]),
            poll_interval=self.poll_interval, timeout=self.timeout,
            describe=f"scan {external_id['file_id']}", logger=self.log,
        )
        if result.state == "failed":
            raise JobFailedError(f"ACRCloud scan failed: {result.message}", details=result.payload)
        self._result = self.get_job_result(external_id, context)
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        cached = getattr(self, "_result", None)
        if cached is not None and str(cached.get("file_id")) == str(external_id["file_id"]):
            return cached
        records = self.hook.get_fs_files(external_id["container_id"], external_id["file_id"])
        if not records:
            raise JobFailedError(f"scan file {external_id['file_id']} is gone from container {external_id['container_id']}")
        summary = summarize_scan(records[0])
        summary["container_id"] = summary["container_id"] or external_id["container_id"]
        n = len(summary["music"]) + len(summary["custom_files"]) + len(summary["cover_songs"])
        self.log.info("Scan %s: %s", external_id["file_id"], f"{n} match(es)" if n else "no match")
        if self.fail_on_match and summary["matched"]:
            raise JobFailedError(f"Scan {external_id['file_id']} matched {n} known recording(s)", details=summary)
        return summary

    def execute(self, context: Context) -> Any:
        self._validate()
        if not self.deferrable:
            return self.execute_resumable(context)
        store = context.get("task_state_store")
        external: Any = store.get(self.external_id_key) if store is not None else None
        if external:
            status = self.get_job_status(external, context)
            if self.is_job_succeeded(status):
                return self.get_job_result(external, context)
            if not self.is_job_active(status):
                external = None
        if not external:
            external = self.submit_job(context)
            if store is not None:
                store.set(self.external_id_key, external)
        first = self.hook.fs_files_status(external["container_id"], external["file_id"])
        if first.done:
            if first.state == "failed":
                raise JobFailedError(f"ACRCloud scan failed: {first.message}", details=first.payload)
            return self.get_job_result(external, context)
        self.defer(
            trigger=AcrCloudScanTrigger(
                conn_id=self.conn_id,
                target={"container_id": str(external["container_id"]), "file_ids": str(external["file_id"])},
                poll_interval=self.poll_interval, deadline=deadline_after(self.timeout),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        checked = validate_event(event, describe="ACRCloud scan")
        target = checked.get("target") or {}
        external = {"container_id": to_int(target.get("container_id")), "file_id": str(target.get("file_ids"))}
        return self.get_job_result(external, context)


__all__ = [
    "AUDIO_EXTENSIONS",
    "AcrCloudCatalogSyncOperator",
    "AcrCloudConsoleLink",
    "AcrCloudDeleteFilesOperator",
    "AcrCloudDumpBucketOperator",
    "AcrCloudMoveFilesOperator",
    "AcrCloudScanFileOperator",
    "AcrCloudUpdateFileOperator",
    "AcrCloudUploadFileOperator",
    "pyacrcloud_extractor",
]
