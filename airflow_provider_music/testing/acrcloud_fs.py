"""Emulator routes of ACRCloud file scanning: containers (``/api/fs-containers``) and FsFiles.

A container scans against exactly its ``buckets`` with its ``engine``: a scan matches when the scanned
bytes (or their database fingerprint, when ``pyacrcloud`` is importable) equal a ready file of a bucket the
container references, or a track of the emulated "ACRCloud Music" database (bucket 23) when the container
references it. Engine 1 reports ``music``/``custom_files``, 2 ``cover_songs``, 3 all of them, 4 nothing
(speech only). ``PUT /fs-containers/:id`` may change buckets and engine; results are computed when the
scan finishes, against the container as it is then.

When a container has a ``callback_url``, the finished file object (as ``GET`` returns it, in a ``data``
envelope) is POSTed there once the scan is done, through the frame's loopback-only sender
(:mod:`airflow_provider_music.testing.callbacks`; deliveries are recorded in the emulator state).

AI-music detection (containers created with ``ai_detection``): every finished scan's ``results`` carry
``ai_detection`` with one entry, decided per file and deterministic. A file is AI-generated when its scan name,
upload file name or URL contains ``ai-generated``, ``ai_generated``, ``suno`` or ``udio`` (case ignored), or
its bytes contain the marker of :mod:`.acrcloud_ai` (``mark_ai_generated`` adds it to a WAV). Then ``prediction`` is
``"ai"``, ``ai_probability`` 0.90-0.99 and ``likely_source`` ``"udio"`` when the name says so, else ``"suno"``;
otherwise ``"human"``, 0.01-0.10 and no likely source (the exact probability comes from the content hash).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.contract.acrcloud import REGIONS
from airflow_provider_music.contract.acrcloud_fs import ENGINES, FS_DATA_TYPES, fs_callback_payload
from airflow_provider_music.testing.acrcloud_ai import ai_source_of
from airflow_provider_music.testing.acrcloud_common import (
    API,
    MUSIC_BUCKET_ID,
    MUSIC_BUCKET_NAME,
    AcrCloudRoutes,
    FsFile,
    audio_duration,
    db_fingerprint_sha,
    flat_user_defined,
    iso,
)
from airflow_provider_music.testing.callbacks import deliver

_EMPTY_RESULTS = ("music", "cover_songs", "custom_files", "speech", "music_speech")
_CONTAINER_FIELDS = ("name", "audio_type", "policy", "callback_url", "deepright", "music_detection", "ai_detection")
def ai_detection_item(f: ScannedFile) -> dict[str, Any]:
    """The emulated ``ai_detection`` entry of a scanned file (deterministic: marker/name and content hash)."""
    spread = int((f.sha256 or "0" * 4)[:4], 16) / 0xFFFF * 0.09
    source = f.ai_source
    probability = round((0.90 if source else 0.01) + spread, 4)
    item: dict[str, Any] = {
        "prediction": "ai" if source else "human", "likely_source": source, "ai_probability": probability,
        "duration": f.duration, "start": 0, "end": f.duration, "source_probabilities": [],
    }
    if source:
        other = "udio" if source == "suno" else "suno"
        item["source_probabilities"] = [{"source": source, "probability": round(probability * 0.9, 4)},
                                        {"source": other, "probability": round(probability * 0.1, 4)}]
    return item


@dataclass
class ScannedFile(FsFile):
    """A scanned file and what the emulated AI detection needs (the likely source, or None: human)."""

    ai_source: str | None = None


class AcrCloudFileScanningApi(AcrCloudRoutes):
    """Containers and the files scanned in them."""

    # ---- containers -------------------------------------------------------------------------------
    def container_json(self, c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "num": sum(1 for f in self.store.fs_files.values() if f.cid == c["id"]), "size": 0}

    def resolve_buckets(self, refs: Any) -> list[dict[str, Any]] | str:
        """``[{"id", "name"}]`` of bucket ids or names, or the error text for an unknown one."""
        if not isinstance(refs, list) or not refs:
            return "The buckets must be a non-empty array."
        out: list[dict[str, Any]] = []
        for ref in refs:
            if ref in (MUSIC_BUCKET_ID, str(MUSIC_BUCKET_ID), MUSIC_BUCKET_NAME):
                out.append({"id": MUSIC_BUCKET_ID, "name": MUSIC_BUCKET_NAME})
                continue
            match = [b for b in self.store.buckets.values() if str(b["id"]) == str(ref) or b["name"] == ref]
            if not match:
                return f"Unknown bucket {ref!r}."
            out.append({"id": match[0]["id"], "name": match[0]["name"]})
        return list({b["id"]: b for b in out}.values())

    @staticmethod
    def container_errors(body: dict[str, Any], *, creating: bool) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for key in ("name", "region", "buckets", "engine") if creating else ():
            if not body.get(key):
                errors[key] = [f"The {key} field is required."]
        if body.get("region") and body["region"] not in REGIONS:
            errors["region"] = ["The selected region is invalid."]
        if "engine" in body and str(body["engine"]) not in {str(e) for e in ENGINES}:
            errors["engine"] = ["The selected engine is invalid."]
        if body.get("audio_type") not in (None, "linein", "recorded"):
            errors["audio_type"] = ["The selected audio type is invalid."]
        return errors

    async def create_container(self, request: Request) -> Any:
        body, _ = await self.read_body(request)
        errors = self.container_errors(body, creating=True)
        if errors:
            return self.invalid("The given data was invalid.", errors)
        with self.state.lock:
            refs = self.resolve_buckets(body["buckets"])
            if isinstance(refs, str):
                return self.invalid("The given data was invalid.", {"buckets": [refs]})
            cid = self.store.next_container
            self.store.next_container += 1
            now = self.state.now()
            self.store.containers[cid] = {
                "id": cid, "uid": 1, "name": body["name"], "region": body["region"],
                "audio_type": body.get("audio_type") or "linein", "engine": int(body["engine"]),
                "policy": body.get("policy") or {"type": "traverse", "interval": 0, "rec_length": 10},
                "callback_url": body.get("callback_url"), "buckets": refs,
                "deepright": bool(body.get("deepright", False)), "music_detection": bool(body.get("music_detection", False)),
                "ai_detection": bool(body.get("ai_detection", False)), "created_at": iso(now), "updated_at": iso(now),
            }
            return JSONResponse({"data": self.container_json(self.store.containers[cid])}, status_code=201)

    async def list_containers(self, request: Request) -> Any:
        q = request.query_params
        with self.state.lock:
            items = sorted(self.store.containers.values(), key=lambda c: c["id"])
            if q.get("region"):
                items = [c for c in items if c["region"] == q["region"]]
            if q.get("name"):
                items = [c for c in items if q["name"].lower() in c["name"].lower()]
            return self.paginate(request, items, self.container_json)

    async def get_container(self, cid: int) -> Any:
        with self.state.lock:
            c = self.store.containers.get(cid)
            return {"data": self.container_json(c)} if c else self.not_found("Container")

    async def update_container(self, cid: int, request: Request) -> Any:
        body, _ = await self.read_body(request)
        errors = self.container_errors(body, creating=False)
        if errors:
            return self.invalid("The given data was invalid.", errors)
        with self.state.lock:
            c = self.store.containers.get(cid)
            if not c:
                return self.not_found("Container")
            if "buckets" in body:
                refs = self.resolve_buckets(body["buckets"])
                if isinstance(refs, str):
                    return self.invalid("The given data was invalid.", {"buckets": [refs]})
                c["buckets"] = refs
            if "engine" in body:
                c["engine"] = int(body["engine"])
            c.update({k: v for k, v in body.items() if k in _CONTAINER_FIELDS})
            c["updated_at"] = iso(self.state.now())
            return {"data": self.container_json(c)}

    async def delete_container(self, cid: int) -> Any:
        with self.state.lock:
            if cid not in self.store.containers:
                return self.not_found("Container")
            del self.store.containers[cid]
            for key in [k for k, f in self.store.fs_files.items() if f.cid == cid]:
                del self.store.fs_files[key]
            return Response(status_code=204)

    # ---- scanning ------------------------------------------------------------------------------
    def matches(self, f: FsFile, bucket_ids: set[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(music, custom_files) items whose stored audio equals the scanned bytes."""
        keys = {k for k in (f.sha256, f.fingerprint_sha256) if k}
        custom = [
            {"offset": 0, "played_duration": int(bf.duration), "type": "traverse",
             "result": {"bucket_id": str(bf.bucket_id), "title": bf.title, "acrid": bf.acr_id, "audio_id": bf.audio_id,
                        "score": 100, "duration_ms": int(bf.duration * 1000), "play_offset_ms": 0,
                        **flat_user_defined(bf.user_defined)}}
            for bf in self.store.files.values()
            if bf.bucket_id in bucket_ids and bf.sha256 in keys and bf.final_state == 1
        ]
        music = [
            {"offset": 0, "played_duration": t["duration_ms"] // 1000, "type": "traverse",
             "result": {"title": t["title"], "artists": t["artists"], "acrid": t["acrid"], "album": {"name": t["title"]},
                        "score": 100, "duration_ms": t["duration_ms"], "play_offset_ms": 0, "result_from": 3,
                        "external_ids": {"isrc": t["isrc"]} if t.get("isrc") else {}, "external_metadata": {}}}
            for t in self.store.music
            if MUSIC_BUCKET_ID in bucket_ids and {t["sha256"], t["fingerprint_sha256"]} & keys
        ]
        return music, custom

    def scan_result(self, f: FsFile) -> dict[str, Any]:
        container = self.store.containers.get(f.cid) or {"buckets": [], "engine": 1}
        music, custom = self.matches(f, {b["id"] for b in container["buckets"]})
        engine = int(container.get("engine") or 1)
        out: dict[str, Any] = {k: [] for k in _EMPTY_RESULTS}
        if engine in (1, 3):
            out["music"], out["custom_files"] = music, custom
        if engine in (2, 3):
            out["cover_songs"] = music + custom
        if container.get("ai_detection"):
            out["ai_detection"] = [ai_detection_item(f)] if isinstance(f, ScannedFile) else []
        return out

    def fs_state(self, f: FsFile) -> int:
        if self.state.now() < f.created + self.delay():
            return 0
        if f.forced_error:
            return -2
        if f.result is None:
            f.result = self.scan_result(f)
        return 1 if any(f.result[k] for k in ("music", "custom_files", "cover_songs")) else -1

    def fs_json(self, f: FsFile, with_result: bool = True) -> dict[str, Any]:
        st = self.fs_state(f)
        out = {
            "id": f.id, "uid": 1, "cid": f.cid, "name": f.name, "duration": f.duration, "uri": f.uri,
            "data_type": f.data_type, "engine": (self.store.containers.get(f.cid) or {}).get("engine", 1),
            "count": 0, "total": 0, "music_detected": 1 if st == 1 else 0,
            # ``acrcloud.fs_processing_state``: the state shown while scanning (plays a state added later)
            "state": self.state.setting("acrcloud.fs_processing_state", 0) if st == 0 else st,
            "created_at": iso(f.created), "updated_at": iso(f.created),
        }
        if with_result:
            done = st in (1, -1) and f.result is not None
            out["results"] = f.result if done else {k: [] for k in _EMPTY_RESULTS}
        return out

    # ---- files ---------------------------------------------------------------------------------
    @staticmethod
    def upload_errors(body: dict[str, Any], upload: Any) -> dict[str, list[str]]:
        data_type = body.get("data_type")
        if data_type not in FS_DATA_TYPES:
            return {"data_type": ["The selected data type is invalid."]}
        if data_type in ("audio", "fingerprint") and upload is None:
            return {"file": ["The file field is required."]}
        if data_type in ("audio_url", "platforms") and not body.get("url"):
            return {"url": ["The url field is required."]}
        return {}

    async def describe_upload(self, body: dict[str, Any], upload: Any) -> dict[str, Any]:
        """sha256 (+ fingerprint sha and duration for audio), name and uri of the scanned thing."""
        name = str(body.get("name") or "")
        if upload is None:
            url = str(body["url"])
            return {"sha256": hashlib.sha256(url.encode()).hexdigest(), "uri": f"audio_url:{url}", "name": name or url,
                    "ai_source": ai_source_of(f"{name} {url}")}
        spooled = await self.state.spool_upload(upload[1])
        out: dict[str, Any] = {"sha256": spooled.sha256, "uri": f"audio:{upload[1].filename}",
                               "name": name or upload[1].filename or "upload"}
        data = await asyncio.to_thread(self.read_spooled, spooled.path)
        out["ai_source"] = ai_source_of(f"{name} {upload[1].filename or ''}", data)
        if body.get("data_type") == "audio":
            out["duration"] = int(round(audio_duration(data)))
            out["fingerprint_sha256"] = await asyncio.to_thread(db_fingerprint_sha, data)
        return out

    async def fs_upload(self, cid: int, request: Request) -> Any:
        body, upload = await self.read_body(request)
        with self.state.lock:
            if cid not in self.store.containers:
                return self.not_found("Container")
        errors = self.upload_errors(body, upload)
        if errors:
            return self.invalid("The given data was invalid.", errors)
        described = await self.describe_upload(body, upload)
        with self.state.lock:
            f = ScannedFile(
                id=str(uuid.uuid4()), cid=cid, data_type=str(body["data_type"]), created=self.state.now(),
                forced_error=self.state.rng.random() < float(self.state.setting("acrcloud.fs_error_rate", 0.0)),
                **described,
            )
            self.store.fs_files[f.id] = f
            callback = self.store.containers[cid].get("callback_url")
            answer = {"data": self.fs_json(f, with_result=False)}
        if callback:
            self.schedule_callback(f.id, str(callback))
        return JSONResponse(answer, status_code=200)

    async def fs_list(self, cid: int, request: Request) -> Any:
        q = request.query_params
        with_result = q.get("with_result") == "1"
        with self.state.lock:
            if cid not in self.store.containers:
                return self.not_found("Container")
            items = [f for f in self.store.fs_files.values() if f.cid == cid]
            if q.get("search"):
                items = [f for f in items if q["search"].lower() in (f.name + f.uri).lower()]
            if q.get("state") not in (None, ""):
                items = [f for f in items if str(self.fs_state(f)) == q["state"]]
            return self.paginate(request, items, lambda f: self.fs_json(f, with_result))

    def files_of(self, cid: int, ids: str) -> list[FsFile]:
        found = (self.store.fs_files.get(k) for k in self.ids_of(ids))
        return [f for f in found if f is not None and f.cid == cid]

    async def fs_get(self, cid: int, ids: str) -> Any:
        with self.state.lock:
            rendered = [self.fs_json(f) for f in self.files_of(cid, ids)]
        if not rendered:
            return self.not_found("File")
        if len(self.ids_of(ids)) == 1 and not self.state.setting("acrcloud.fs_get_as_list", False):
            return {"data": rendered[0]}
        return {"data": rendered}

    async def fs_delete(self, cid: int, ids: str) -> Any:
        with self.state.lock:
            files = self.files_of(cid, ids)
            if not files:
                return self.not_found("File")
            for f in files:
                del self.store.fs_files[f.id]
            return Response(status_code=204)

    async def fs_rescan(self, cid: int, ids: str) -> Any:
        with self.state.lock:
            files = self.files_of(cid, ids)
            if not files:
                return self.not_found("File")
            for f in files:
                f.created, f.result, f.forced_error, f.callback_sent = self.state.now(), None, False, False
            return {"data": [self.fs_json(f, with_result=False) for f in files]}

    # ---- callbacks -------------------------------------------------------------------------------
    def schedule_callback(self, file_id: str, url: str) -> None:
        loop = asyncio.get_running_loop()
        delay = min(self.delay() + 0.05, 86400.0)
        loop.call_later(delay, lambda: asyncio.ensure_future(self.send_callback(file_id, url)))

    async def send_callback(self, file_id: str, url: str) -> None:
        """POST the finished file to the container's ``callback_url`` (loopback only), once."""
        with self.state.lock:
            f = self.store.fs_files.get(file_id)
            if f is None or f.callback_sent or self.fs_state(f) == 0:
                return
            f.callback_sent = True
            payload = fs_callback_payload(self.fs_json(f))
        outcome = await deliver(url, payload, state=self.state, api=API)
        with self.state.lock:
            self.store.callbacks.append({**outcome, "file_id": file_id})

    # ---- routing ---------------------------------------------------------------------------------
    def add_routes(self, router: APIRouter) -> None:
        router.add_api_route("/api/fs-containers", self.create_container, methods=["POST"])
        router.add_api_route("/api/fs-containers", self.list_containers, methods=["GET"])
        router.add_api_route("/api/fs-containers/{cid}", self.get_container, methods=["GET"])
        router.add_api_route("/api/fs-containers/{cid}", self.update_container, methods=["PUT"])
        router.add_api_route("/api/fs-containers/{cid}", self.delete_container, methods=["DELETE"])
        router.add_api_route("/api/fs-containers/{cid}/files", self.fs_upload, methods=["POST"])
        router.add_api_route("/api/fs-containers/{cid}/files", self.fs_list, methods=["GET"])
        router.add_api_route("/api/fs-containers/{cid}/files/{ids}", self.fs_get, methods=["GET"])
        router.add_api_route("/api/fs-containers/{cid}/files/{ids}", self.fs_delete, methods=["DELETE"])
        router.add_api_route("/api/fs-containers/{cid}/files/{ids}/rescan", self.fs_rescan, methods=["PUT"])


__all__ = ["AcrCloudFileScanningApi", "ScannedFile", "ai_detection_item"]
