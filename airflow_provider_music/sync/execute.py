"""Carrying a catalog sync out with the ACRCloud hook: index the bucket (streamed), plan while walking the
catalog, upload with bounded concurrency (lost answers recovered by listing, never by a blind re-upload),
update metadata, then converge (delete only what a confirmed, ready keeper replaces)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_music.core import InvalidInputError, InvalidResponseError, JobFailedError, MusicApiError
from airflow_provider_music.hooks.acrcloud import IDS_PER_REQUEST, MAX_PER_PAGE, AcrCloudHook
from airflow_provider_music.sync import catalog as cat
from airflow_provider_music.sync.fingerprint import pyacrcloud_fingerprint_of_bytes
from airflow_provider_music.sync.guard import DELETIONS_HELD, DeleteBudget, DeletionGuard
from airflow_provider_music.sync.plan import (
    FILE_READY,
    TOUCHED,
    UNCHANGED,
    UPLOAD,
    VERIFY,
    Local,
    Rec,
    converge,
    decide,
    decide_hashed,
    hidden_by,
    meta_digest,
    needs_convergence,
    record_of,
    same_mtime,
    shard_of,
    whole,
)

Failures = list[dict[str, str]]


@dataclass
class SyncConfig:
    """The options of one catalog sync run (the operator's arguments, checked)."""

    mode: str = "audio"
    catalog_id: str | None = None
    metadata: Callable[[str], dict[str, Any] | None] | None = None
    update_metadata: bool = True
    delete_missing: bool = False
    concurrency: int = 4
    max_upload_rounds: int = 5
    extractor: Callable[[str], bytes] | None = None
    extractor_reads_buffers: bool = False  # the built-in pyacrcloud extractor: fingerprint bytes already read
    progress_interval: float = 30.0
    guard: DeletionGuard = field(default_factory=DeletionGuard)
    shard: tuple[int, int] = (0, 1)
    on_unreadable: str = "fail"  # "fail" | "warn": see SyncRun.keep_unknown
    adopt: tuple[str | None, ...] = ()  # other catalog_id labels managed as the run's own (explicit)


@dataclass(slots=True)
class Upload:
    """One track to upload, with its title and ``user_defined`` metadata."""

    entry: cat.CatalogEntry
    title: str
    user_defined: dict[str, Any]


@dataclass
class Plan:
    """What a run does. ``converge`` holds the paths to tidy after uploads; ``missing`` vanished sources;
    ``kept`` the paths without a source in the walk that lie under a part it could not read (never deleted)."""

    uploads: list[Upload] = field(default_factory=list)
    updates: list[tuple[str, int, str, dict[str, Any]]] = field(default_factory=list)
    converge: dict[str, Local] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)  # path -> number of files
    kept: dict[str, int] = field(default_factory=dict)  # path -> number of files
    processing: dict[str, str] = field(default_factory=dict)  # id -> path: keepers not ready yet
    unchanged: int = 0
    in_bucket: int = 0  # tracks (distinct catalog paths) of this catalog (shard) in the bucket
    files_in_bucket: int = 0


@dataclass
class Progress:
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
        """Count one finished file of ``size`` bytes; log when the interval has passed."""
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
        """Log the final progress line."""
        with self.lock:
            self._emit(time.monotonic())


class SyncRun:
    """One run of the sync against one bucket (one shard of the catalog)."""

    def __init__(self, hook: AcrCloudHook, bucket: str, root: Any, config: SyncConfig, log: Any) -> None:
        self.hook = hook
        self.bucket = bucket
        self.root = root
        self.cfg = config
        self.log = log
        self.budget = DeleteBudget(config.guard.max_delete)  # every delete of the run goes through it

    # ---- listing ---------------------------------------------------------------------------------------
    def index(self, only: Iterable[str] | None = None) -> dict[str, tuple[Rec, ...]]:
        """The catalog's files in the bucket, streamed page by page (``only``: keep just these paths)."""
        wanted = set(only) if only is not None else None
        index_, count = self.cfg.shard
        out: dict[str, tuple[Rec, ...]] = {}
        for raw in self.hook.iter_files(self.bucket, per_page=MAX_PER_PAGE):
            found = record_of(raw, self.cfg.catalog_id, self.cfg.adopt)
            if found is None:
                continue
            path, rec = found
            if (wanted is not None and path not in wanted) or shard_of(path, count) != index_:
                continue
            if any(r.id == rec.id for r in out.get(path, ())):  # a page repeated a record: one file, once
                continue
            out[path] = (*out.get(path, ()), rec)  # a tuple: most paths hold one file
        return out

    # ---- planning (streams the walk; reads audio only to tell a touched track from a changed one) ----------
    def plan(self, walk: Iterable[cat.CatalogEntry], index: dict[str, tuple[Rec, ...]], failures: Failures) -> Plan:
        """Compare the walked tracks with the bucket ``index`` (consumed): what to upload, update, keep and delete.
        A track that cannot be planned is added to ``failures`` and skipped."""
        plan = Plan(in_bucket=len(index), files_in_bucket=sum(len(v) for v in index.values()))
        for entry in walk:
            recs = index.pop(entry.rel, ())
            try:
                self._plan_one(plan, entry, recs)
            except Exception as exc:  # a bad sidecar or metadata callable, an unreadable track: this track only
                failures.append({"path": entry.rel, "reason": f"{type(exc).__name__}: {exc}"})
        plan.missing = {path: len(recs) for path, recs in index.items()}
        return plan

    def _plan_one(self, plan: Plan, entry: cat.CatalogEntry, recs: tuple[Rec, ...]) -> None:
        title, user_defined = cat.desired_metadata(entry, self.cfg.metadata)
        action, keep = decide(entry.local, recs)
        if action == VERIFY:
            try:
                entry.sha256 = cat.sha256_of(entry.path)
            except OSError as exc:
                raise OSError(f"cannot read: {exc}") from None
            action, keep = decide_hashed(entry.local, recs)
        if action == UPLOAD or keep is None:
            plan.uploads.append(Upload(entry, title, user_defined))
            plan.converge[entry.rel] = entry.local  # another run may upload it too: keep one
            return
        if needs_convergence(recs, keep):
            plan.converge[entry.rel] = entry.local
        if keep.state != FILE_READY:  # uploaded by an interrupted or concurrent run: wait for it too
            plan.processing[str(keep.id)] = entry.rel
        if action == TOUCHED:  # same bytes, new mtime: refresh the marker (and metadata), no upload
            entry.sha256 = entry.sha256 or keep.sha_hex
            plan.updates.append((entry.rel, keep.id, title, {**user_defined, **cat.markers(entry, self.cfg.catalog_id)}))
            return
        assert action == UNCHANGED
        if (self.cfg.update_metadata and keep.meta != meta_digest(title, user_defined)) or not keep.own:
            entry.sha256 = keep.sha_hex
            plan.updates.append((entry.rel, keep.id, title, {**user_defined, **cat.markers(entry, self.cfg.catalog_id)}))
            return
        plan.unchanged += 1

    def keep_unknown(self, plan: Plan, walk: cat.CatalogWalk, failures: Failures) -> list[str]:
        """A part of the catalog the walk could not read is unknown, never vanished: every bucket file recorded
        under it is kept. Returns the parts reported as unreadable: folders that could not be listed, dangling
        links named like tracks, and dangling links the bucket holds catalog files under (a dangling link that
        hides nothing of the bucket only gets a warning: it cannot wedge every night). ``on_unreadable="fail"``:
        no file is deleted as vanished in this run (as rclone skips deletions after a read error) and each
        part fails the run at its end; ``"warn"``: the rest is tidied, a warning names the parts."""
        parts = {u.rel: u for u in walk.unknown}
        hidden = frozenset(parts) | frozenset(walk.skipped)
        under: dict[str, int] = {}
        for path in list(plan.missing):
            part = hidden_by(path, hidden)
            if part is None:
                continue
            plan.kept[path] = plan.missing.pop(path)
            under[part] = under.get(part, 0) + plan.kept[path]
        counted = [u for u in parts.values() if not u.link or u.track or under.get(u.rel)]
        for u in parts.values():
            if u not in counted:
                self.log.warning("Ignoring %s: the bucket holds no catalog file under it", u)
        if not counted:
            return []
        if self.cfg.on_unreadable == "fail" and plan.missing:
            self.log.warning("on_unreadable='fail': the %d other track(s) without source are not deleted in this run"
                             " either (part of the catalog could not be read)", len(plan.missing))
            plan.kept.update(plan.missing)
            plan.missing = {}
        for u in counted:
            reason = (f"cannot read this part of the catalog ({u.reason}); the {under.get(u.rel, 0)} bucket"
                      " file(s) recorded under it were kept")
            if self.cfg.on_unreadable == "fail":
                failures.append({"path": u.rel or ".", "reason": reason})
            else:
                self.log.warning("%s: %s (on_unreadable='warn')", u.rel or ".", reason)
        return [str(u) for u in counted]

    def check_guard(self, plan: Plan, walk: cat.CatalogWalk) -> None:
        """Apply the deletion guard to the planned deletions (only when ``delete_missing`` is on)."""
        if not self.cfg.delete_missing:
            return
        index_, count = self.cfg.shard
        where = f"bucket {self.bucket}" + (f" (shard {index_}/{count})" if count > 1 else "")
        self.cfg.guard.check(
            missing=len(plan.missing), missing_files=sum(plan.missing.values()), in_bucket=plan.in_bucket,
            local_tracks=walk.tracks, where=where,
        )

    # ---- metadata updates ---------------------------------------------------------------------------------
    def update_all(self, updates: list[tuple[str, int, str, dict[str, Any]]], failures: Failures) -> int:
        """Update the title and ``user_defined`` of bucket files in parallel; returns how many succeeded."""
        done = 0
        with ThreadPoolExecutor(max_workers=self.cfg.concurrency, thread_name_prefix="acrcloud-update") as pool:
            futures = {
                pool.submit(self.hook.update_file, self.bucket, rec_id, title=title, user_defined=ud): rel
                for rel, rec_id, title, ud in updates
            }
            for future in as_completed(futures):
                try:
                    future.result()
                    done += 1
                except MusicApiError as exc:
                    failures.append({"path": futures[future], "reason": f"metadata update failed: {exc}"})
        return done

    # ---- uploads ----------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _local_copy(self, entry: cat.CatalogEntry) -> Iterator[str]:
        """A local path of the track (the file itself when local; else a temporary copy)."""
        if entry.path.protocol in ("file", "local", ""):
            yield entry.path.path
            return
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(suffix=os.path.splitext(entry.rel)[1]) as tmp:
            with cat.open_track(entry.path) as src:
                for chunk in iter(lambda: src.read(1024 * 1024), b""):
                    digest.update(chunk)
                    tmp.write(chunk)
            tmp.flush()
            if entry.sha256 is None:
                entry.sha256 = digest.hexdigest()
            yield tmp.name

    def _fingerprint(self, entry: cat.CatalogEntry) -> bytes:
        data = None
        if self.cfg.extractor_reads_buffers and entry.size <= cat.SYNC_MEMORY_LIMIT:  # one read: hash + fingerprint
            entry.sha256, data = cat.read_track(entry.path)
        if data is not None:
            fp = pyacrcloud_fingerprint_of_bytes(data)
        else:
            assert self.cfg.extractor is not None
            with self._local_copy(entry) as local:  # a custom extractor reads the path itself
                if entry.sha256 is None:  # remote tracks were hashed while copied
                    entry.sha256 = cat.sha256_of(entry.path)
                fp = self.cfg.extractor(local)
        if not isinstance(fp, (bytes, bytearray)) or not fp:
            raise JobFailedError("the fingerprint extractor returned no bytes")
        return bytes(fp)

    def upload_one(self, task: Upload) -> tuple[dict[str, Any], int]:
        """Upload one track (its audio, or its fingerprint in fingerprint mode) with the sync's markers;
        returns the new bucket file and the bytes read."""
        entry = task.entry
        if self.cfg.extractor is None:
            source: Any = entry.path
            if entry.sha256 is None:  # a new track: read it once, hash it and send the same bytes
                entry.sha256, data = cat.read_track(entry.path)
                if data is not None:
                    source = cat.memory_source(os.path.basename(entry.rel), data)
            ud = {**task.user_defined, **cat.markers(entry, self.cfg.catalog_id)}
            record = self.hook.upload_file(self.bucket, data_type="audio", source=source, title=task.title, user_defined=ud)
            return record, entry.size
        fp = self._fingerprint(entry)
        source = io.BytesIO(fp)
        source.name = os.path.basename(entry.rel) + ".fp"  # type: ignore[misc]
        ud = {**task.user_defined, **cat.markers(entry, self.cfg.catalog_id)}
        record = self.hook.upload_file(self.bucket, data_type="fingerprint", source=source, title=task.title, user_defined=ud)
        return record, len(fp)

    def _round(self, todo: list[Upload], uploaded: dict[str, int], failures: Failures, progress: Progress,
               sent: list[int]) -> list[Upload]:
        """One round of uploads, at most ``2 x concurrency`` in flight; returns the tasks whose answer was lost."""
        lost: list[Upload] = []
        queue = iter(todo)
        running: dict[Future[tuple[dict[str, Any], int]], Upload] = {}
        pool = ThreadPoolExecutor(max_workers=self.cfg.concurrency, thread_name_prefix="acrcloud-upload")
        try:
            while True:
                while len(running) < 2 * self.cfg.concurrency and (task := next(queue, None)) is not None:
                    running[pool.submit(self.upload_one, task)] = task
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    self._settle(future, running.pop(future), uploaded, failures, progress, sent, lost)
        finally:
            # on a kill or crash, do not start the queued uploads (a re-run picks them up)
            pool.shutdown(wait=True, cancel_futures=True)
        return lost

    @staticmethod
    def _settle(future: Future[tuple[dict[str, Any], int]], task: Upload, uploaded: dict[str, int],
                failures: Failures, progress: Progress, sent: list[int], lost: list[Upload]) -> None:
        try:
            record, size = future.result()
            file_id = whole(record.get("id"))  # > 0: contract.acrcloud.parse_uploaded_file checked it
        except InvalidResponseError as exc:  # a 2xx the client cannot use: the file may exist, never re-sent blindly
            failures.append({"path": task.entry.rel, "reason": f"InvalidResponseError: {exc}"})
            progress.add(0)
            return
        except MusicApiError as exc:
            if exc.request_may_have_been_processed and not isinstance(exc, (JobFailedError, InvalidInputError)):
                lost.append(task)
                return
            failures.append({"path": task.entry.rel, "reason": str(exc)})
            progress.add(0)
            return
        except Exception as exc:  # unreadable file, extractor error: this track fails, others go on
            failures.append({"path": task.entry.rel, "reason": f"{type(exc).__name__}: {exc}"})
            progress.add(0)
            return
        uploaded[task.entry.rel] = file_id
        sent[0] += size
        progress.add(task.entry.size)

    def upload_all(self, tasks: list[Upload], failures: Failures) -> tuple[dict[str, int], int]:
        """Upload every task; returns ``({path: file id}, bytes sent)`` of the tracks now in the bucket."""
        uploaded: dict[str, int] = {}
        sent = [0]
        if not tasks:
            return uploaded, 0
        progress = Progress(log=self.log, total_files=len(tasks), total_bytes=sum(t.entry.size for t in tasks),
                            interval=float(self.cfg.progress_interval))
        todo = list(tasks)
        for round_no in range(1, self.cfg.max_upload_rounds + 1):
            lost = self._round(todo, uploaded, failures, progress, sent)
            if not lost:
                break
            # Answers were lost: the files may be in the bucket. One listing tells which.
            self.log.warning("%d upload answer(s) lost in round %d; checking the bucket", len(lost), round_no)
            index = self.index(only=[t.entry.rel for t in lost])
            todo = []
            for task in lost:
                found = [r for r in index.get(task.entry.rel, ()) if r.sha_hex == task.entry.sha256 and r.size == task.entry.size]
                if found:
                    uploaded[task.entry.rel] = min(r.id for r in found)
                    sent[0] += task.entry.size
                else:
                    todo.append(task)
            if todo and round_no == self.cfg.max_upload_rounds:
                failures.extend({"path": t.entry.rel, "reason": "upload failed repeatedly (server errors)"} for t in todo)
        progress.final()
        return uploaded, sent[0]

    # ---- convergence and deletions ---------------------------------------------------------------------------
    def converge(
        self, paths: dict[str, Local], missing: Iterable[str], failures: Failures, verify: Iterable[str] = (),
        everything: bool = False,
    ) -> tuple[int, int, set[str]]:
        """Delete older versions, duplicates and errors whose keeper is confirmed ready, and (with
        ``delete_missing``) files whose source is still gone. Returns ``(replaced, deleted, confirmed)``:
        ``confirmed`` the paths of ``verify`` that hold a ready file of their current content.
        ``everything``: also tidy every path of the bucket holding several files (``paths`` too large to keep)."""
        missing = [p for p in missing if self._stat(p) is None] if self.cfg.delete_missing else []
        verify = set(verify)
        if not paths and not missing and not verify and not everything:
            return 0, 0, set()
        fresh = self.index(only=None if everything else [*paths, *missing, *verify])
        todo: dict[str, Local | None] = {p: None for p in verify}
        if everything:
            todo.update((p, None) for p, recs in fresh.items() if len(recs) > 1)
        todo.update(paths)
        candidates: dict[int, tuple[str, list[int]]] = {}
        for rel, local in todo.items():
            now = self._stat(rel)
            if not isinstance(now, Local):  # vanished during the run, or cannot be checked: the next run decides
                continue
            if local is None or now.size != local.size or not same_mtime(now.mtime, local.mtime):
                local = now  # changed during the run: only a file of the content there NOW may be kept
            keep, others = converge(fresh.get(rel, ()), local)
            if keep is not None and (others or rel in verify):
                candidates[keep.id] = (rel, [r.id for r in others])
        ready = self._ready(list(candidates))
        replaced = [i for keep_id, (_, ids) in candidates.items() if keep_id in ready for i in ids]
        waiting = len(candidates) - len([k for k in candidates if k in ready])
        if waiting:
            self.log.info("%d track(s) keep older copies until their new version is ready (next run)", waiting)
        gone = [r.id for p in missing for r in fresh.get(p, ())]
        confirmed = {rel for keep_id, (rel, _) in candidates.items() if keep_id in ready and rel in verify}
        deleted = self._delete(gone, failures)  # vanished tracks first: the guard sized max_delete for them
        replaced_count = self._delete(replaced, failures)
        if (held := self.budget.report()) is not None:
            self.log.warning("Catalog sync: %s", held)
            failures.append({"path": DELETIONS_HELD, "reason": held})
        return replaced_count, deleted, confirmed

    def _stat(self, rel: str) -> Local | None | bool:
        """The track now; None when it is gone; False when it cannot be checked (then nothing is deleted)."""
        try:
            return cat.stat_local(self.root, rel)
        except OSError as exc:
            self.log.warning("Cannot check %s (%s): its files are left as they are", rel, type(exc).__name__)
            return False

    def _ready(self, ids: list[int]) -> set[int]:
        """The ids confirmed present and ready right now (one ``GET files/:ids`` per 100)."""
        ready: set[int] = set()
        asked = set(ids)
        for start in range(0, len(ids), IDS_PER_REQUEST):
            for raw in self.hook.get_files(self.bucket, ids[start:start + IDS_PER_REQUEST]):
                if whole(raw.get("state")) == FILE_READY and whole(raw.get("id")) in asked:
                    ready.add(whole(raw.get("id")))
        return ready

    def _delete(self, ids: list[int], failures: Failures) -> int:
        """THE one delete of the sync: every file goes through the run's ``max_delete`` budget."""
        ids = sorted(set(ids))  # a listing that repeats a record must not count (or send) it twice
        ids = ids[: self.budget.take(len(ids))]
        if not ids:
            return 0
        try:
            self.hook.delete_files(self.bucket, ids)
        except MusicApiError as exc:
            failures.append({"path": "(deletions)", "reason": f"deleting {len(ids)} file(s) failed: {exc}"})
            return 0
        return len(ids)
