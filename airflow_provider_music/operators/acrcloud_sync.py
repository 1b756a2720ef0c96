"""ACRCloud catalog sync operator: mirror a catalog folder into a bucket (the nightly fingerprinting job).

A thin shell: the pure planner, the catalog walk, the deletion guard and the executor live in
:mod:`airflow_provider_music.sync`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf

from airflow_provider_music.contract.acrcloud_ai import check_ai_threshold
from airflow_provider_music.core import (
    InvalidInputError,
    JobFailedError,
    lineage,
    redact_url,
    to_storage_path,
)
from airflow_provider_music.operators.acrcloud import AcrCloudBaseOperator, AcrCloudConsoleLink, console_url
from airflow_provider_music.operators.acrcloud_scan import scan_facts
from airflow_provider_music.operators.acrcloud_sync_scan import (
    SCAN_ONLY_ARGUMENTS,
    SCAN_STATE_KEY,
    CatalogScan,
    remember_planned,
    scan_candidates,
)
from airflow_provider_music.operators.base import check_flag, check_seconds, is_templated, wait_until_done
from airflow_provider_music.sync.catalog import AUDIO_EXTENSIONS, CatalogEntry, CatalogWalk, check_extensions
from airflow_provider_music.sync.execute import Plan, SyncConfig, SyncRun
from airflow_provider_music.sync.fingerprint import load_pyacrcloud, pyacrcloud_extractor
from airflow_provider_music.sync.guard import DEFAULT_MAX_DELETE_RATIO, DELETIONS_HELD, DeletionGuard
from airflow_provider_music.sync.plan import MARKER_KEYS, Local, check_count, check_ratio, parse_shard
from airflow_provider_music.triggers.acrcloud import FILE_STATE, SCAN_STATUS, file_state_target, scan_target
from airflow_provider_music.triggers.base import validate_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath

FAILED_PATHS_LIMIT = 100
#: Paths to tidy after the wait kept in the saved state; above it the tidy-up lists and checks every path.
SAVED_PATHS_LIMIT = 10_000
#: Most (catalog file -> bucket file) pairs one run reports to OpenLineage (the counts are in the run facet).
LINEAGE_FILES = 1000
_SUMMARY_KEYS = ("uploaded", "updated", "deleted", "unchanged", "failed", "replaced", "uploaded_bytes")


def _mode(argument: str, value: Any) -> str:
    if value not in ("audio", "fingerprint"):
        raise InvalidInputError(f"{argument} must be 'audio' or 'fingerprint', got {value!r}")
    return str(value)


def _catalog_id(argument: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidInputError(f"{argument} must be a non-empty string or None, got {value!r}")
    return value


def _on_unreadable(argument: str, value: Any) -> str:
    if value not in ("fail", "warn"):
        raise InvalidInputError(f"{argument} must be 'fail' or 'warn', got {value!r}")
    return str(value)


def _labels(argument: str, value: Any) -> list[str | None]:
    """Other catalogs' labels a run takes over explicitly: a list of catalog_id strings (None: unlabelled)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        raise InvalidInputError(f"{argument} must be a list of catalog_id labels such as ['label-A'], got {value!r}")
    for label in value:
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise InvalidInputError(f"{argument}: each item must be a non-empty catalog_id or None, got {label!r}")
    return list(value)


def _between(low: int, high: int) -> Callable[[str, Any], int]:
    def check(argument: str, value: Any) -> int:
        count = check_count(value, argument, allow_none=False)
        if count is None or not low <= count <= high:
            raise InvalidInputError(f"{argument} must be an integer from {low} to {high}, got {value!r}")
        return count

    return check


def _callable_or_none(shape: str) -> Callable[[str, Any], Any]:
    def check(argument: str, value: Any) -> Any:
        if value is not None and not callable(value):
            raise InvalidInputError(f"{argument} must be a callable {shape}, or None")
        return value

    return check


#: Argument -> check(argument, value): run at DAG parse time when known, again right after rendering.
_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "mode": _mode,
    "extensions": lambda a, v: list(check_extensions(v)),
    "shard": lambda a, v: v if v in (None, "") else "{}/{}".format(*parse_shard(v)),
    "catalog_id": _catalog_id,
    "on_unreadable": _on_unreadable,
    "adopt_catalog_ids": _labels,
    "concurrency": _between(1, 32),
    "max_upload_rounds": _between(1, 100),
    "max_delete_ratio": lambda a, v: check_ratio(v, a),
    "max_delete": lambda a, v: check_count(v, a),
    "metadata": _callable_or_none("(relative_path) -> dict"),
    "fingerprint_extractor": _callable_or_none("(local_path) -> bytes"),
    "progress_interval": lambda a, v: 0.0 if v in (None, 0, "0", "") else check_seconds(a, v, allow_none=False),
    "poll_interval": lambda a, v: check_seconds(a, v, allow_none=False),
    "timeout": lambda a, v: check_seconds(a, v, allow_none=True),
    "wait_for_completion": check_flag,
    "deferrable": check_flag,
    "delete_missing": check_flag,
    "update_metadata": check_flag,
    "recursive": check_flag,
    "scan": check_flag,
    "ai_detection": check_flag,
    "fail_on_match": check_flag,
    "fail_on_ai": check_flag,
    "ai_threshold": lambda a, v: check_ai_threshold(v, a),
}
#: Arguments read by the scan step together (a templated one: checked together after rendering).
_SCAN_TOGETHER = ("scan", "mode", "wait_for_completion", *SCAN_ONLY_ARGUMENTS)


class AcrCloudCatalogSyncOperator(AcrCloudBaseOperator):
    """Mirror a catalog folder into a bucket, incrementally and idempotently (the nightly fingerprinting job).

    Each uploaded file carries in ``user_defined``: ``catalog_path`` (relative path), ``catalog_size``,
    ``catalog_mtime``, ``catalog_sha256`` (and ``catalog_id`` when set). A run lists the bucket once,
    decides from size + mtime (no read) which tracks are unchanged, hashes only the others, uploads new
    and changed tracks with bounded concurrency, refreshes metadata, waits until the uploads are ready, then
    converges: per track exactly one file is kept (the lowest id of the current content), older versions and
    duplicates are deleted once that file is confirmed ready, and (``delete_missing``) files whose source vanished
    are deleted - within the deletion guard. Overlapping runs (a backfill beside the nightly run) converge to the
    same bucket; see docs/acrcloud.md "Catalog sync: safety".

    :param catalog: folder (``ObjectStoragePath``, path or URL such as ``s3://label/catalog/``).
    :param bucket_id: target bucket (default: the connection's ``bucket_id`` extra).
    :param mode: ``audio`` uploads the audio; ``fingerprint`` extracts database fingerprints locally
        (``pyacrcloud`` or ``fingerprint_extractor``) and uploads only those - audio never leaves.
    :param extensions: audio file extensions to include (case-insensitive).
    :param recursive: walk sub-folders.
    :param catalog_id: optional label stored in each file; only files with this label are managed (a run
        without one manages only unlabelled files: another catalog's labelled files are never touched).
    :param adopt_catalog_ids: labels of other catalogs whose files this run manages as its own (kept and
        relabelled, replaced, deleted when their source vanished); ``None`` in the list: unlabelled files. For
        renaming or merging a catalog; empty by default.
    :param metadata: callable ``(relative_path) -> {"title": ..., "user_defined": {...}}`` or None.
    :param sidecar_suffix: per-track JSON sidecar (``track.mp3.json`` or ``track.json``) with the same shape.
    :param update_metadata: update title/user_defined of unchanged files when the metadata changed.
    :param delete_missing: delete bucket files whose catalog source vanished (default False). Refused, with
        nothing uploaded or deleted, when the catalog holds no track or beyond the limits below.
    :param on_unreadable: a folder the walk cannot read (permission denied, I/O error, a dangling link to an
        unmounted share) is unknown, never vanished: its bucket files are always kept. ``"fail"`` (default):
        the readable part syncs, nothing is deleted as vanished in that run, the task fails naming the folders;
        ``"warn"``: the other vanished tracks are deleted, a warning names the folders, the task succeeds.
    :param max_delete_ratio: largest share (0..1) of the catalog's tracks in the bucket (this shard's) one run
        may delete as vanished (default 0.5); ``max_delete``: most files one run deletes, all kinds (vanished
        tracks, old versions, copies; default None: no count limit) - the run stops there and fails.
    :param shard: ``"i/K"``: this task handles only the catalog paths whose stable hash falls in shard ``i`` of
        ``K`` (map one task per shard); deletions and the guard are per shard.
    :param concurrency: parallel uploads (threads).
    :param wait_for_completion: wait until uploads reach state 1 (state -1 counts as failed), then tidy the
        bucket (``wait_for_ready`` is the former name). Plus ``acrcloud_conn_id``, ``deferrable``,
        ``poll_interval``, ``timeout`` (templated, like ``shard``).
    :param fingerprint_extractor: callable ``(local_path) -> bytes`` (default: pyacrcloud).
    :param progress_interval: seconds between progress log lines.
    :param max_upload_rounds: rounds of re-upload for uploads whose answer was lost and that are not in the bucket.
    :param scan: after the sync, scan exactly the tracks this run uploaded (new or changed content) in a
        file-scanning container, like :class:`~airflow_provider_music.operators.acrcloud_scan.AcrCloudScanFileOperator`
        (default False: no scan request at all). Needs ``mode="audio"`` and ``wait_for_completion``. The same
        content is never scanned twice in one container (the scan is named and looked up by its sha256).
    :param scan_buckets: buckets the scan checks against (default ``["ACRCloud Music"]``); with ``scan_region``,
        ``scan_engine``, ``scan_audio_type`` and ``scan_container_name`` they select and verify the container, as
        the scan operator's ``buckets``, ``region``, ``engine``, ``audio_type`` and ``container_name`` do.
    :param scan_container_id: an existing container instead (verified against ``scan_buckets`` when given).
    :param ai_detection: also detect AI-generated music (part of the container configuration: a container
        without it is never used for a scan that asks for it). ``ai_threshold``: as for the scan operator.
    :param fail_on_match: / ``fail_on_ai``: fail the task, naming the files, when a scanned track matched /
        is AI-generated - after the sync's own work is done and recorded (not retried: the verdict stands).

    Returns ``{"uploaded", "updated", "deleted", "unchanged", "failed", "replaced", "total", "uploaded_bytes",
    "failed_paths": [{"path", "reason"}], "unreadable": ["folder (reason)"], "bucket_id", "mode"}`` (with
    ``scan=True`` also ``"scan"``: ``{"container_id", "container_name", "buckets", "engine", "ai_detection",
    "scanned", "reused", "matched", "ai", "skipped", "files": [{"path", "file_id", "copyright", "matches",
    "ai_verdict", "ai_probability", "ai_likely_source"}]}``); fails at the end if any track failed (an upload
    answer without a usable file id fails its track).
    """

    template_fields: Sequence[str] = (
        "catalog", "bucket_id", "catalog_id", "mode", "extensions", "shard", "delete_missing", "max_delete_ratio",
        "max_delete", "on_unreadable", "poll_interval", "timeout", "scan", "scan_buckets", "scan_container_id",
        "ai_detection", "fail_on_match", "fail_on_ai", "ai_threshold",
    )
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
        wait_for_completion: bool = True,
        wait_for_ready: bool | None = None,
        fingerprint_extractor: Callable[[str], bytes] | None = None,
        progress_interval: float = 30.0,
        max_upload_rounds: int = 5,
        max_delete_ratio: float = DEFAULT_MAX_DELETE_RATIO,
        max_delete: int | None = None,
        on_unreadable: str = "fail",
        adopt_catalog_ids: Sequence[str | None] = (),
        shard: Any = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float | None = 6 * 3600.0,
        scan: bool = False, scan_buckets: Sequence[Any] | None = None, scan_container_id: Any = None,
        scan_region: str = "eu-west-1", scan_engine: int = 1, scan_audio_type: str = "linein",
        scan_container_name: str | None = None, ai_detection: bool = False, fail_on_match: bool = False,
        fail_on_ai: bool = False, ai_threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.catalog, self.bucket_id, self.catalog_conn_id = catalog, bucket_id, catalog_conn_id
        self.mode, self.extensions, self.recursive, self.catalog_id = mode, extensions, recursive, catalog_id
        self.metadata, self.sidecar_suffix, self.update_metadata = metadata, sidecar_suffix, update_metadata
        self.delete_missing = delete_missing
        self.concurrency = concurrency
        self.wait_for_completion = wait_for_completion if wait_for_ready is None else wait_for_ready
        self.fingerprint_extractor = fingerprint_extractor
        self.progress_interval = progress_interval
        self.max_upload_rounds = max_upload_rounds
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.max_delete_ratio = max_delete_ratio
        self.max_delete = max_delete
        self.on_unreadable = on_unreadable
        self.adopt_catalog_ids = adopt_catalog_ids
        self.shard = shard
        self.scan, self.scan_buckets, self.scan_container_id = scan, scan_buckets, scan_container_id
        self.scan_region, self.scan_engine, self.scan_audio_type = scan_region, scan_engine, scan_audio_type
        self.scan_container_name, self.ai_detection, self.ai_threshold = scan_container_name, ai_detection, ai_threshold
        self.fail_on_match, self.fail_on_ai = fail_on_match, fail_on_ai
        for argument, check in _CHECKS.items():
            self.check_argument(argument, check)
        if not any(is_templated(self.__dict__.get(a)) for a in _SCAN_TOGETHER):
            self.validate()

    def validate(self) -> None:
        """The scan arguments together (at parse time when known, again after rendering), before any request."""
        if not self.scan:
            for argument in SCAN_ONLY_ARGUMENTS:
                if self.__dict__.get(argument) not in (None, False, ""):
                    raise InvalidInputError(f"{argument} needs scan=True (without it the catalog sync scans nothing)")
            return
        if self.mode != "audio":
            raise InvalidInputError("scan=True needs mode='audio': mode='fingerprint' keeps the audio local, and the "
                                    "scan would upload it")
        if not self.wait_for_completion:
            raise InvalidInputError("scan=True needs wait_for_completion=True (the verdicts come after the wait)")
        self._scan_step().check()

    def _scan_step(self) -> CatalogScan:
        return CatalogScan(
            buckets=self.scan_buckets, container_id=self.scan_container_id, region=self.scan_region,
            engine=self.scan_engine, audio_type=self.scan_audio_type, container_name=self.scan_container_name,
            ai_detection=bool(self.ai_detection), fail_on_match=bool(self.fail_on_match),
            fail_on_ai=bool(self.fail_on_ai), ai_threshold=self.ai_threshold,
        )

    # ---- inputs ----------------------------------------------------------------------------------
    def _config(self) -> SyncConfig:
        """The run's settings (arguments already checked by ``check_rendered``)."""
        extractor: Callable[[str], bytes] | None = None
        if self.mode == "fingerprint":
            if self.fingerprint_extractor is None:
                load_pyacrcloud()
            extractor = self.fingerprint_extractor or pyacrcloud_extractor
        return SyncConfig(
            mode=self.mode, catalog_id=self.catalog_id, metadata=self.metadata, update_metadata=self.update_metadata,
            delete_missing=bool(self.delete_missing), concurrency=int(self.concurrency),
            max_upload_rounds=int(self.max_upload_rounds), extractor=extractor,
            extractor_reads_buffers=self.mode == "fingerprint" and self.fingerprint_extractor is None,
            progress_interval=float(self.progress_interval or 0),
            guard=DeletionGuard(float(self.max_delete_ratio), self.max_delete),
            shard=parse_shard(self.shard), on_unreadable=str(self.on_unreadable),
            adopt=tuple(self.adopt_catalog_ids or ()),
        )

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

    def _walk(self, root: Any, config: SyncConfig) -> CatalogWalk:
        return CatalogWalk(root=root, extensions=check_extensions(self.extensions), recursive=self.recursive,
                           sidecar_suffix=self.sidecar_suffix, shard=config.shard)

    def scan_catalog(self, root: ObjectStoragePath) -> dict[str, CatalogEntry]:
        """Every track of the catalog (of this shard), by relative path (the run itself streams the walk)."""
        return {e.rel: e for e in sorted(self._walk(root, self._config()), key=lambda e: e.rel)}

    # ---- execute -----------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        """Walk the catalog, plan against the bucket, check the deletion guard, upload and update, wait
        for the uploads (in the triggerer when deferrable), then tidy the bucket; returns the summary."""
        self.check_rendered()
        config = self._config()
        root = self._root()
        bucket = self.hook.default_bucket(self.bucket_id)
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="bucket_id", value=int(bucket))
        self.push_link(context, AcrCloudConsoleLink, console_url(self.hook, "buckets", bucket))
        run = SyncRun(self.hook, bucket, root, config, self.log)
        walk = self._walk(root, config)
        failures: list[dict[str, str]] = []
        plan = run.plan(walk, run.index(), failures)
        unreadable = run.keep_unknown(plan, walk, failures)  # unknown, never vanished
        self._log_plan(root, bucket, walk, plan)
        run.check_guard(plan, walk)  # before anything is uploaded or deleted
        self._scan_before_uploads(context, plan)
        uploaded, sent = run.upload_all(plan.uploads, failures)
        candidates = self._scan_after_uploads(context, root, plan, uploaded, failures)
        self.report_files(bucket, {**{str(i): rel for rel, i, _, _ in plan.updates}, **{str(i): r for r, i in uploaded.items()}})
        summary = {key: 0 for key in _SUMMARY_KEYS} | {
            "bucket_id": int(bucket), "mode": self.mode, "total": walk.yielded, "unchanged": plan.unchanged,
            "unreadable": unreadable[:FAILED_PATHS_LIMIT],
            "uploaded": len(uploaded), "uploaded_bytes": sent, "updated": run.update_all(plan.updates, failures),
        }
        pending = {**plan.processing, **{str(i): rel for rel, i in uploaded.items()}}
        tidy: dict[str, Any] = {"converge": {rel: list(local) for rel, local in plan.converge.items()},
                "missing": list(plan.missing) if self.delete_missing else []}
        if len(plan.converge) > SAVED_PATHS_LIMIT:  # too many to save for a resume: tidy every multi-file path
            tidy = {**tidy, "converge": {}, "everything": True}
        vanished: list[str] = []
        if self.wait_for_completion and pending:
            target = file_state_target(bucket, list(pending), fail_fast=False)
            if self.deferrable:
                self._save(context, {"summary": summary, "failures": failures, "pending": pending, **tidy,
                                     "scan_candidates": candidates})
                self.defer(
                    trigger=FILE_STATE.trigger(conn_id=self.conn_id, target=target, poll_interval=float(self.poll_interval),
                                               timeout=self.timeout),
                    method_name="execute_complete",
                )
            result = wait_until_done(  # quiet: a line on each state change and every 5 polls
                lambda: FILE_STATE.poll(self.hook, target), first=None,
                poll_interval=float(self.poll_interval), timeout=self.timeout,
                describe=f"{len(pending)} upload(s) in bucket {bucket}", logger=self.log,
            )
            vanished = self._add_processing_failures(result.payload, pending, failures)
        self._converge(run, tidy, summary, failures, vanished)
        return self._after_sync(context, summary, failures, candidates)

    def _log_plan(self, root: Any, bucket: str, walk: CatalogWalk, plan: Plan) -> None:
        shard = parse_shard(self.shard)
        self.log.info(
            "Catalog %s: %d track(s)%s; bucket %s holds %d of its track(s) in %d file(s)", redact_url(str(root)),
            walk.yielded, f" in shard {shard[0]}/{shard[1]} (of {walk.tracks})" if shard[1] > 1 else "", bucket,
            plan.in_bucket, plan.files_in_bucket,
        )
        self.log.info(
            "Plan: %d to upload, %d metadata update(s), %d unchanged, %d to tidy, %d path(s) without source%s,"
            " %d path(s) kept under parts of the catalog that could not be read",
            len(plan.uploads), len(plan.updates), plan.unchanged, len(plan.converge), len(plan.missing),
            " (deleted once checked gone again)" if self.delete_missing else " (kept; delete_missing=False)", len(plan.kept),
        )

    def _converge(self, run: SyncRun, tidy: dict[str, Any], summary: dict[str, Any], failures: list[dict[str, str]],
                  vanished: list[str]) -> None:
        """Tidy the bucket; an upload that vanished while we waited (a concurrent run kept an equal file of a
        lower id) is fine only if a ready file of the track's current content is confirmed."""
        paths = {rel: Local(*value) for rel, value in (tidy.get("converge") or {}).items()}
        replaced, deleted, confirmed = run.converge(
            paths, tidy.get("missing") or [], failures, verify=vanished, everything=bool(tidy.get("everything")),
        )
        summary["replaced"] = summary.get("replaced", 0) + replaced
        summary["deleted"] = summary.get("deleted", 0) + deleted
        failures.extend(
            {"path": rel, "reason": "its upload vanished from the bucket and no ready copy of it was found"}
            for rel in vanished if rel not in confirmed
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the deferred wait: the saved plan state, the trigger event, then tidy and summarise."""
        saved = self._saved(context)
        summary, failures, pending = saved["summary"], list(saved["failures"]), saved.get("pending") or {}
        self.report_files(summary["bucket_id"], pending)
        vanished: list[str] = []
        if isinstance(event, dict) and event.get("status") == "failed":
            vanished = self._add_processing_failures(event.get("payload") or {}, pending, failures)
        else:
            validate_event(event, describe=f"ACRCloud catalog sync into bucket {summary['bucket_id']}")
        if saved.get("converge") or saved.get("missing") or saved.get("everything") or vanished:
            self.check_rendered()
            run = SyncRun(self.hook, str(summary["bucket_id"]), self._root(), self._config(), self.log)
            self._converge(run, saved, summary, failures, vanished)
        if self.scan:
            self.check_rendered()
        return self._after_sync(context, summary, failures, dict(saved.get("scan_candidates") or {}))

    def _saved(self, context: Context) -> dict[str, Any]:
        store = context.get("task_state_store")
        saved: Any = store.get(self.summary_key) if store is not None else None
        if not saved:
            ti = context.get("ti")
            saved = ti.xcom_pull(task_ids=self.task_id, key="sync_state") if ti is not None else None
        if not isinstance(saved, dict):
            raise AirflowException("Catalog sync resumed without its saved summary; re-run the task")
        return saved

    # ---- the optional scan (operators/acrcloud_sync_scan.py) ------------------------------------------------
    def _scan_before_uploads(self, context: Context, plan: Plan) -> None:
        if self.scan:
            remember_planned(context.get("task_state_store"), [t.entry.rel for t in plan.uploads], self.log)

    def _scan_after_uploads(self, context: Context, root: Any, plan: Plan, uploaded: dict[str, int],
                            failures: list[dict[str, str]]) -> dict[str, str]:
        if not self.scan:
            return {}
        done = {t.entry.rel: t.entry.sha256 for t in plan.uploads if t.entry.rel in uploaded and t.entry.sha256}
        return scan_candidates(context.get("task_state_store"), root, done, {f["path"] for f in failures})

    def _after_sync(self, context: Context, summary: dict[str, Any], failures: list[dict[str, str]],
                    candidates: dict[str, str]) -> dict[str, Any]:
        """The sync's own work is done and recorded: scan what it uploaded (``scan=True``), then finish."""
        if not self.scan:
            return self._finish(context, summary, failures)
        record = self._scan_step().submit(self.hook, self._root(), candidates, self.log)
        if record["files"]:
            cid = record["container_id"]
            target = scan_target(cid, [f["file_id"] for f in record["files"]], record.get("region"))
            if self.deferrable:
                self._save(context, {"summary": summary, "failures": failures, "scan_record": record})
                self.defer(
                    trigger=SCAN_STATUS.trigger(conn_id=self.conn_id, target=target, poll_interval=float(self.poll_interval),
                                                timeout=self.timeout),
                    method_name="execute_scan_complete",
                )
            result = wait_until_done(
                lambda: SCAN_STATUS.poll(self.hook, target), first=None, poll_interval=float(self.poll_interval),
                timeout=self.timeout, describe=f"the scan of {len(record['files'])} synced track(s) in container {cid}",
                logger=self.log,
            )
            if result.state == "failed":
                raise JobFailedError(f"Catalog sync done and recorded in bucket {summary['bucket_id']}; the scan of "
                                     f"its tracks failed: {result.message}", details=result.payload)
        return self._scan_finish(context, summary, failures, record)

    def execute_scan_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the deferred scan wait: the saved summary and scan record, the event, then the verdicts."""
        saved = self._saved(context)
        record = saved.get("scan_record")
        if not isinstance(record, dict):
            raise AirflowException("Catalog sync resumed without its scan record; re-run the task")
        summary = saved["summary"]
        validate_event(event, describe=f"the scan of the tracks synced into bucket {summary['bucket_id']}")
        self.check_rendered()
        return self._scan_finish(context, summary, list(saved["failures"]), record)

    def _scan_finish(self, context: Context, summary: dict[str, Any], failures: list[dict[str, str]],
                     record: dict[str, Any]) -> dict[str, Any]:
        """The verdicts into the result and the lineage facts, then the sync's end (and the ``fail_on_*`` rules)."""
        step = self._scan_step()
        out = step.collect(self.hook, record)
        report = self.task_report
        for item in record["files"][:LINEAGE_FILES]:
            lineage.add_datasets(report.outputs, lineage.acrcloud_container_file(record["container_id"], item["file_id"]))
        report.facts.update(scan_container_id=record["container_id"], verdicts=[scan_facts(s) for s in out[:LINEAGE_FILES]])
        return self._finish(context, {**summary, "scan": step.section(record, out)}, failures, gate=step.gate(out))

    # ---- helpers -----------------------------------------------------------------------------------
    def report_files(self, bucket: Any, written: dict[str, str]) -> None:
        """Lineage: each catalog track this run uploaded or updated -> its bucket file (``{file id: path}``;
        at most :data:`LINEAGE_FILES` pairs - a whole catalog would not fit an event)."""
        root = to_storage_path(self.catalog, self.catalog_conn_id)
        report = self.task_report
        for file_id, rel in sorted(written.items(), key=lambda item: item[1])[:LINEAGE_FILES]:
            lineage.add_datasets(report.inputs, lineage.path_dataset(root / rel))
            lineage.add_datasets(report.outputs, lineage.acrcloud_bucket_file(bucket, file_id))
        report.facts.update(bucket_id=int(bucket), mode=self.mode, catalog=redact_url(str(root)),
                            files_written=len(written), files_in_lineage=min(len(written), LINEAGE_FILES))

    def _save(self, context: Context, state: dict[str, Any]) -> None:
        store = context.get("task_state_store")
        if store is not None:
            store.set(self.summary_key, state)
        elif context.get("ti") is not None:
            context["ti"].xcom_push(key="sync_state", value=state)

    @staticmethod
    def _add_processing_failures(payload: dict[str, Any], pending: dict[str, str], failures: list[dict[str, str]]) -> list[str]:
        """Record processing errors; returns the paths whose file is no longer in the bucket (checked later)."""
        vanished: list[str] = []
        for item in payload.get("failed") or []:
            path = pending.get(str(item.get("id")))
            reason = str(item.get("reason") or "failed")
            if path is not None and item.get("state") is None:  # no record: not in the bucket any more
                vanished.append(path)
                continue
            failures.append({"path": path or f"file {item.get('id')}", "reason": reason})
        return vanished

    def _finish(self, context: Context, summary: dict[str, Any], failures: list[dict[str, str]],
                gate: str | None = None) -> dict[str, Any]:
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
                if not failures and not gate:  # kept otherwise: a retry scans (or judges) the same tracks again
                    store.delete(SCAN_STATE_KEY)
        verdict = f"the sync is done and recorded in bucket {summary['bucket_id']}, but {gate}" if gate else ""
        if failures:
            sample = "; ".join(f"{f['path']}: {f['reason']}" for f in failures[:5])
            message = f"Catalog sync: {len(failures)} track(s) failed ({sample})" + (f"; {verdict}" if gate else "")
            if any(f["path"] == DELETIONS_HELD for f in failures):  # a retry would delete max_delete more
                raise AirflowFailException(message + "; not retried: max_delete bounds the whole task")
            raise AirflowException(message)
        if gate:  # the verdict stands: a retry scans nothing new and would pass
            raise AirflowFailException(f"Catalog sync scan: {verdict} (not retried: the verdict stands)")
        return summary


__all__ = ["AUDIO_EXTENSIONS", "MARKER_KEYS", "AcrCloudCatalogSyncOperator", "CatalogEntry", "pyacrcloud_extractor"]
