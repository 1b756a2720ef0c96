"""The catalog sync's optional scan step (``scan=True``): the copyright check (and, with ``ai_detection``,
the AI-music screen) of exactly the tracks a sync run uploaded (new or changed content).

It reuses the scan operator's pieces (:mod:`airflow_provider_music.operators.acrcloud_scan`): the container
chosen by configuration and verified before and after (a container without ``ai_detection`` is never used
for a scan that asks for it), the fail-closed verdicts and the lineage facts. A scan is named after the
content it scans (``<path> [sha256:<hex>]``) and looked up by that hash in the container before any upload:
the same content is never scanned twice in one container, whichever run or try uploaded it. The candidates
are kept in ``task_state_store`` from before the bucket uploads until the task succeeds, so a retry after a
crash (or a failed scan) scans what the earlier try uploaded, and a ``fail_on_*`` verdict stands on every try.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from airflow_provider_music.contract.acrcloud import MAX_PER_PAGE, to_int
from airflow_provider_music.contract.acrcloud_fs import ScanConfig, container_id_of
from airflow_provider_music.core import InvalidInputError, MusicApiError
from airflow_provider_music.core.errors import LostAnswerError, answer_lost
from airflow_provider_music.operators.acrcloud_scan import (
    ai_rule,
    bucket_names,
    gated,
    scan_container,
    scan_facts,
    scan_summaries,
    verify_container_after,
)
from airflow_provider_music.sync import catalog as cat

#: ``task_state_store`` key of the scan step (candidates, then the scan record).
SCAN_STATE_KEY = "acrcloud_catalog_sync_scan"
#: Most scanned files the sync's result lists one by one (the counts cover every file).
SCAN_FILES_LIMIT = 100
#: Most planned uploads remembered before uploading (a crash mid-upload: a retry scans them); above it a crash
#: during the uploads leaves those tracks unscanned (logged).
SAVED_PLANNED_LIMIT = 10_000
#: Arguments that mean nothing without ``scan=True`` (set without it: refused, naming the argument).
SCAN_ONLY_ARGUMENTS = ("scan_buckets", "scan_container_id", "scan_container_name", "ai_detection", "fail_on_match",
                       "fail_on_ai", "ai_threshold")
_FINISHED, _PROCESSING = (1, -1), 0


def scan_name(rel: str, sha256: str) -> str:
    """The scan's name in the container: the catalog path and the content's hash (what a rerun looks up)."""
    return f"{rel} [sha256:{sha256}]"


@dataclass(frozen=True)
class CatalogScan:
    """The scan settings of one catalog sync (the operator's ``scan_*`` / AI arguments)."""

    buckets: Any = None
    container_id: Any = None
    region: str = "eu-west-1"
    engine: Any = 1
    audio_type: str = "linein"
    container_name: str | None = None
    ai_detection: bool = False
    fail_on_match: bool = False
    fail_on_ai: bool = False
    ai_threshold: float | None = None

    def config(self, region: Any = None) -> ScanConfig:
        """The configuration the container must scan (``scan_*`` arguments named in errors)."""
        try:
            return ScanConfig.build(region=region or self.region, buckets=self.buckets, engine=self.engine,
                                    audio_type=self.audio_type, ai_detection=self.ai_detection)
        except InvalidInputError as exc:  # name the sync's argument: buckets -> scan_buckets
            text = str(exc)
            raise InvalidInputError(f"scan_{text}" if text.startswith(_SCAN_WORDS) else text) from None

    def check(self) -> None:
        """Everything checkable without a request."""
        if self.fail_on_ai and not self.ai_detection:
            raise InvalidInputError("fail_on_ai=True needs ai_detection=True (without it no scan says what is AI)")
        if self.container_id in (None, "") or self.buckets is not None:
            self.config()

    # ---- submit ---------------------------------------------------------------------------------------
    def submit(self, hook: Any, root: Any, candidates: dict[str, str], log: Any) -> dict[str, Any]:
        """Upload each candidate (``{path: sha256}``) to the verified container, unless a scan of the same
        content is already there (then its result is used). A track whose content changed since it was synced
        is skipped (its next sync uploads and scans it). Nothing to scan: no request at all."""
        if not candidates:
            return {"container_id": None, "region": None, "container_name": None, "engine": None, "buckets": None,
                    "files": [], "skipped": []}
        container = scan_container(hook, container_id=self.container_id, buckets=self.buckets,
                                   config_for=self.config, container_name=self.container_name,
                                   ai_detection=self.ai_detection)
        cid, region = container_id_of(container), container.get("region")
        files: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for rel, sha in sorted(candidates.items()):
            file_id = self._earlier(hook, cid, region, sha)
            reused = file_id is not None
            if file_id is None:
                file_id = self._upload(hook, cid, region, root, rel, sha, skipped)
            if file_id is not None:
                files.append({"file_id": file_id, "name": scan_name(rel, sha), "source": rel, "reused": reused})
        log.info("Catalog scan in container %s (%r, engine %s%s) against %s: %d new scan(s), %d earlier scan(s) of"
                 " the same content reused, %d skipped", cid, container.get("name"), container.get("engine"),
                 ", AI detection on" if self.ai_detection else "", bucket_names(container),
                 len([f for f in files if not f["reused"]]), len([f for f in files if f["reused"]]), len(skipped))
        return {"container_id": cid, "region": region, "container_name": container.get("name"),
                "engine": to_int(container.get("engine")), "buckets": bucket_names(container), "files": files,
                "skipped": skipped}

    @staticmethod
    def _earlier(hook: Any, cid: int, region: Any, sha: str) -> str | None:
        """A scan of this content already in the container (finished first, then one still running), or None;
        a failed scan (-2/-3) is not reused."""
        suffix = f"[sha256:{sha}]"
        page = hook.list_fs_files(cid, search=sha, per_page=MAX_PER_PAGE, region=region)
        found = [(to_int(f.get("state")) != _FINISHED[0] and to_int(f.get("state")) != _FINISHED[1], str(f["id"]))
                 for f in page["data"]
                 if f.get("id") is not None and isinstance(f.get("name"), str) and f["name"].endswith(suffix)
                 and to_int(f.get("state")) in (*_FINISHED, _PROCESSING)]
        return min(found)[1] if found else None

    def _upload(self, hook: Any, cid: int, region: Any, root: Any, rel: str, sha: str,
                skipped: list[dict[str, str]]) -> str | None:
        try:
            now, data = cat.read_track(root / rel)
        except OSError as exc:
            skipped.append({"path": rel, "reason": f"cannot read it any more ({type(exc).__name__})"})
            return None
        if now != sha:
            skipped.append({"path": rel, "reason": "changed since it was synced (its next sync scans it)"})
            return None
        source = cat.memory_source(os.path.basename(rel), data) if data is not None else root / rel
        name = scan_name(rel, sha)
        try:
            return str(hook.upload_fs_file(cid, data_type="audio", source=source, name=name, region=region)["id"])
        except MusicApiError as exc:
            if not answer_lost(exc):
                raise
            found = self._earlier(hook, cid, region, sha)  # the content's hash names it: look before re-sending
            if found is None:
                raise LostAnswerError.after(f"scan {name!r} of container {cid}", cause=exc,
                                            check=f"the files of container {cid} in the ACRCloud console",
                                            note="Not uploaded again; a retry looks it up by its hash.") from None
            return found

    # ---- results --------------------------------------------------------------------------------------
    def collect(self, hook: Any, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The verdict of each scanned file, after checking the container still scans what was asked."""
        if not record["files"]:
            return []
        verify_container_after(hook, record["container_id"], container_id=self.container_id, buckets=self.buckets,
                               config_for=self.config, ai_detection=self.ai_detection)
        return scan_summaries(hook, record, ai_detection=self.ai_detection, ai_threshold=self.ai_threshold)

    def section(self, record: dict[str, Any], out: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``scan`` section of the sync's result: per file the verdicts (at most ``SCAN_FILES_LIMIT``), counts."""
        files = []
        for summary in out[:SCAN_FILES_LIMIT]:
            facts = scan_facts(summary)
            files.append({"path": facts.pop("source"), **facts})
        return {
            "container_id": record["container_id"], "container_name": record.get("container_name"),
            "buckets": record.get("buckets"), "engine": record.get("engine"), "ai_detection": self.ai_detection,
            "scanned": len(out), "reused": len([f for f in record["files"] if f.get("reused")]),
            "matched": len([s for s in out if s["matched"]]),
            "ai": len([s for s in out if s.get("ai_verdict") == "ai"]) if self.ai_detection else None,
            "skipped": list(record.get("skipped") or [])[:SCAN_FILES_LIMIT], "files": files,
        }

    def gate(self, out: list[dict[str, Any]]) -> str | None:
        """``fail_on_match`` / ``fail_on_ai``: one message naming the files (at most 20 each), or None."""
        matched, generated = gated(out, fail_on_match=self.fail_on_match, fail_on_ai=self.fail_on_ai)
        reasons = []
        if matched:
            names = ", ".join(
                f"{s['source']} ({len(s['music']) + len(s['custom_files']) + len(s['cover_songs'])} match(es))"
                for s in matched[:20])
            reasons.append(f"{len(matched)} synced track(s) matched known recordings: {names}")
        if generated:
            names = ", ".join(f"{s['source']} ({s['ai_probability']:.2f}, likely source {s['ai_likely_source']})"
                              for s in generated[:20])
            reasons.append(f"{len(generated)} synced track(s) detected as AI-generated "
                           f"({ai_rule(self.ai_threshold)}): {names}")
        return "; ".join(reasons) or None


_SCAN_WORDS = ("buckets", "engine", "audio_type", "region")


def load_state(store: Any) -> dict[str, Any]:
    """The scan step's saved state (``candidates``, ``planned``, ``record``), or an empty one."""
    saved = store.get(SCAN_STATE_KEY) if store is not None else None
    return dict(saved) if isinstance(saved, dict) else {}


def save_state(store: Any, state: dict[str, Any]) -> None:
    """Keep the scan step's state for a retry or a resume (no store, before Airflow 3.3: nothing kept)."""
    if store is not None:
        store.set(SCAN_STATE_KEY, state)


def remember_planned(store: Any, rels: list[str], log: Any) -> None:
    """Before the bucket uploads: remember the tracks about to be uploaded (a retry after a crash during the
    uploads finds them in the bucket, unchanged, and still scans them)."""
    state = load_state(store)
    planned = set(state.get("planned") or ()) | set(rels)
    if len(planned) > SAVED_PLANNED_LIMIT:
        log.warning("%d track(s) to upload: too many to remember for the scan step (a crash during the uploads "
                    "leaves the uploaded ones unscanned)", len(planned))
        planned = set(state.get("planned") or ())
    save_state(store, {**state, "planned": sorted(planned)})


def scan_candidates(store: Any, root: Any, uploaded: dict[str, str], failed: set[str]) -> dict[str, str]:
    """After the bucket uploads: ``{path: sha256}`` to scan - this try's uploads, and those an earlier try
    uploaded (remembered) and did not scan; saved until the task succeeds."""
    state = load_state(store)
    candidates = {**dict(state.get("candidates") or {}), **uploaded}
    for rel in state.get("planned") or ():  # an earlier try's upload (it stopped before its scan)
        if rel not in candidates and rel not in failed:
            with contextlib.suppress(OSError):  # gone since: nothing to scan
                candidates[rel] = cat.sha256_of(root / rel)
    save_state(store, {"candidates": candidates})
    return candidates


__all__ = ["SCAN_STATE_KEY", "CatalogScan", "load_state", "remember_planned", "save_state", "scan_candidates",
           "scan_name"]
