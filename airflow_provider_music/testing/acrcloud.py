"""Emulator routes of the ACRCloud Console API (``/api/...``), the Metadata API and identification.

Built from the vendor docs (seed ``acrcloud-console-buckets-audio-files.txt``) and the contract digest:

* buckets CRUD; audio files: upload (multipart or JSON; ``user_defined`` JSON string or object; answer
  200 with ``duration`` as a string), list (``links``/``meta`` exactly as the docs: ``per_page`` a string,
  links carrying only ``page``), get by ids/acr_ids (``data`` list), update, delete, move (documented
  ``PUT /buckets/:target/files/:ids/move``, the docs' curl without ``/move``, and the CLI's POST variant),
  dump at ``/buckets/:id/dump`` and ``/buckets/:id/files/dump`` (status 0 -> 1, ``down_url`` served). File
  durations are those of the uploaded audio (WAV/FLAC headers, else pyacrcloud's decoder; fingerprints:
  the audio they cover), in uploads, lists, gets and dumps alike;
* base projects (``/api/base-projects``: create with ``access_key``/``access_secret`` that ``/v1/identify``
  then accepts, list, get, update, delete, bucket status) and the Metadata API
  (``/api/external-metadata/tracks`` by ``isrc``, ``acr_id``, ``source_url`` or ``query``);
* file-scanning containers and their files (:mod:`.acrcloud_fs`);
* ``/v1/identify`` with HMAC-SHA1 signature verification (status 3001 / 3014 / 1001 / 0).

File states are computed lazily: ``0`` until ``job_delay("acrcloud")`` seconds after upload, then ``1`` (or
``-1`` for a configurable fraction). Settings (``state.settings``):

``acrcloud.error_rate`` (0.0) fraction of uploads ending in state -1;
``acrcloud.lost_response_rate`` (0.0) fraction of uploads stored but answered with HTTP 500 (lost answer);
``acrcloud.upload_status`` (200) status of a successful upload (the docs say 200; 201 also seen);
``acrcloud.max_per_page`` (100); ``acrcloud.per_page_as_string`` (True, as in the docs' example);
``acrcloud.fs_get_as_list`` (False: ``data`` is an object for one id); ``acrcloud.fs_error_rate`` (0.0);
``acrcloud.access_keys`` ({"emulator-access-key": "emulator-access-secret"}).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.contract.acrcloud import BUCKET_TYPES, FILE_DATA_TYPES, REGIONS
from airflow_provider_music.testing.acrcloud_common import (
    API,
    DEFAULT_ACCESS_KEYS,
    MUSIC_BUCKET_ID,
    MUSIC_BUCKET_NAME,
    AcrCloudRoutes,
    AcrStore,
    BucketFile,
    Unauthenticated,
    audio_duration,
    fingerprint_duration,
    iso,
    parse_user_defined_field,
    plain,
    unauthenticated_handler,
)
from airflow_provider_music.testing.acrcloud_fs import AcrCloudFileScanningApi
from airflow_provider_music.testing.acrcloud_identify import AcrCloudIdentifyApi
from airflow_provider_music.testing.acrcloud_projects import AcrCloudProjectsApi


class AcrCloudConsoleApi(AcrCloudRoutes):
    """Buckets, their audio files and dumps."""

    # ---- rendering -----------------------------------------------------------------------------
    def file_json(self, f: BucketFile, *, duration_as_string: bool = False) -> dict[str, Any]:
        return {
            "id": f.id, "uid": 1, "bucket_id": f.bucket_id, "acr_id": f.acr_id,
            "state": f.state(self.state.now(), self.delay()), "title": f.title, "user_defined": f.user_defined,
            "duration": f"{f.duration:.6f}" if duration_as_string else int(f.duration + 0.5),
            "audio_id": f.audio_id, "created_at": iso(f.created), "updated_at": iso(f.updated or f.created),
        }

    def bucket_json(self, b: dict[str, Any]) -> dict[str, Any]:
        files = self.store.files_in(b["id"])
        return {**b, "num": len(files), "size": str(sum(f.size for f in files))}

    def find_files(self, bucket_id: int | None, keys: list[str]) -> list[BucketFile]:
        # by id: a dict lookup; by acr_id: one pass (was keys x files, too slow for 10,000-file benchmarks)
        by_acr = {f.acr_id: f for f in self.store.files.values()} if any(not k.isdigit() for k in keys) else {}
        out: dict[int, BucketFile] = {}
        for key in keys:
            f = self.store.files.get(int(key)) if key.isdigit() and len(key) < 19 else None
            f = f or by_acr.get(key)
            if f is not None and (bucket_id is None or f.bucket_id == bucket_id):
                out.setdefault(f.id, f)
        return list(out.values())

    # ---- buckets -------------------------------------------------------------------------------
    async def create_bucket(self, request: Request) -> Any:
        body, _ = await self.read_body(request)
        errors = {}
        if not body.get("name"):
            errors["name"] = ["The name field is required."]
        if body.get("region") not in REGIONS:
            errors["region"] = ["The selected region is invalid."]
        if body.get("type") not in BUCKET_TYPES:
            errors["type"] = ["The selected type is invalid."]
        if errors:
            return self.invalid("The given data was invalid.", errors)
        labels = body.get("labels") or []
        if isinstance(labels, str):
            labels = [x for x in labels.split(",") if x]
        with self.state.lock:
            bid = self.store.next_bucket
            self.store.next_bucket += 1
            now = self.state.now()
            self.store.buckets[bid] = {
                "id": bid, "uid": 1, "name": body["name"], "type": body["type"], "node": "127.0.0.1-871", "state": 1,
                "region": body["region"], "metadata_template": body.get("metadata_template"), "labels": labels,
                "net_type": int(body.get("net_type") or 1), "created_at": plain(now), "updated_at": plain(now),
                "access_permission": "private",
            }
            return JSONResponse({"data": self.bucket_json(self.store.buckets[bid])}, status_code=201)

    async def list_buckets(self, request: Request) -> Any:
        q = request.query_params
        with self.state.lock:
            items = sorted(self.store.buckets.values(), key=lambda b: b["id"])
            if q.get("region"):
                items = [b for b in items if b["region"] == q["region"]]
            if q.get("type"):
                items = [b for b in items if b["type"] == q["type"]]
            if q.get("search"):
                items = [b for b in items if q["search"].lower() in b["name"].lower()]
            return self.paginate(request, items, self.bucket_json)

    async def get_bucket(self, bucket_id: int) -> Any:
        with self.state.lock:
            b = self.store.buckets.get(bucket_id)
            return {"data": self.bucket_json(b)} if b else self.not_found("Bucket")

    async def update_bucket(self, bucket_id: int, request: Request) -> Any:
        body, _ = await self.read_body(request)
        with self.state.lock:
            b = self.store.buckets.get(bucket_id)
            if not b:
                return self.not_found("Bucket")
            b.update({k: body[k] for k in ("name", "labels", "metadata_template") if k in body})
            b["updated_at"] = plain(self.state.now())
            return {"data": self.bucket_json(b)}

    async def delete_bucket(self, bucket_id: int) -> Any:
        with self.state.lock:
            if bucket_id not in self.store.buckets:
                return self.not_found("Bucket")
            del self.store.buckets[bucket_id]
            for f in self.store.files_in(bucket_id):
                del self.store.files[f.id]
            return Response(status_code=204)

    # ---- dump (both paths; registered before /files/{ids}) ---------------------------------------
    async def dump(self, bucket_id: int) -> Any:
        with self.state.lock:
            b = self.store.buckets.get(bucket_id)
            if not b:
                return self.not_found("Bucket")
            now = self.state.now()
            task = self.store.dumps.get(bucket_id)
            if task is None or now - task["created"] > 86400:
                task = {"created": now, "task_id": uuid.uuid4().hex[:10], "snapshot": None}
                self.store.dumps[bucket_id] = task
            ready = now >= task["created"] + self.delay()
            if ready and task["snapshot"] is None:
                files = sorted(self.store.files_in(bucket_id), key=lambda f: f.id)
                task["snapshot"] = [self.file_json(f) for f in files]
            return {
                "status": 1 if ready else 0, "down_url": f"{self.state.base_url}/api/buckets/{bucket_id}/down/{task['task_id']}",
                "id": bucket_id, "name": b["name"], "task_id": task["task_id"],
            }

    async def download_dump(self, bucket_id: int, task_id: str) -> Any:
        with self.state.lock:
            task = self.store.dumps.get(bucket_id)
            if not task or task["task_id"] != task_id or task["snapshot"] is None:
                return self.not_found("Dump")
            data = json.dumps(task["snapshot"]).encode()
        return Response(data, media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{bucket_id}-{task_id}.json"'})

    # ---- audio files ---------------------------------------------------------------------------
    @staticmethod
    def upload_errors(body: dict[str, Any], upload: Any) -> dict[str, list[str]]:
        data_type = body.get("data_type")
        errors: dict[str, list[str]] = {}
        if data_type not in FILE_DATA_TYPES:
            errors["data_type"] = ["The selected data type is invalid."]
        if data_type in ("audio", "fingerprint") and (upload is None or upload[0] != "file"):
            errors["file"] = ["The file field is required when data type is audio or fingerprint."]
        for field_name, kind in (("url", "audio_url"), ("acrid", "acrid")):
            if data_type == kind and not body.get(field_name):
                errors[field_name] = [f"The {field_name} field is required when data type is {kind}."]
        return errors

    async def measure(self, data_type: str, body: dict[str, Any], upload: Any) -> tuple[str, int, float]:
        """(sha256, size, duration in seconds) of what was uploaded."""
        if upload is None:
            source = str(body.get("url") or body.get("acrid"))
            return hashlib.sha256(source.encode()).hexdigest(), 0, 30.0
        spooled = await self.state.spool_upload(upload[1])
        data = await asyncio.to_thread(self.read_spooled, spooled.path)
        probe = audio_duration if data_type == "audio" else fingerprint_duration
        return spooled.sha256, spooled.size, await asyncio.to_thread(probe, data)

    async def upload_file(self, bucket_id: int, request: Request) -> Any:
        body, upload = await self.read_body(request)
        if body.get("__invalid__"):
            return self.invalid("The request body is not valid JSON.")
        with self.state.lock:
            if bucket_id not in self.store.buckets:
                return self.not_found("Bucket")
        errors = self.upload_errors(body, upload)
        user_defined, problem = parse_user_defined_field(body.get("user_defined"))
        if problem:
            errors["user_defined"] = [problem]
        if errors:
            return self.invalid("The given data was invalid.", errors)
        sha, size, duration = await self.measure(str(body["data_type"]), body, upload)
        with self.state.lock:
            self.store.bytes_received += size
            self.store.uploads += 1
            fid = self.store.next_file
            self.store.next_file += 1
            now = self.state.now()
            final = -1 if self.state.rng.random() < float(self.state.setting("acrcloud.error_rate", 0.0)) else 1
            f = BucketFile(
                id=fid, bucket_id=bucket_id, acr_id=uuid.uuid4().hex, title=str(body.get("title") or ""),
                user_defined=user_defined or {}, data_type=str(body["data_type"]), duration=duration, created=now,
                final_state=final, sha256=sha, size=size, audio_id=str(body.get("audio_id") or ""), updated=now,
            )
            self.store.files[fid] = f
            lost = self.state.rng.random() < float(self.state.setting("acrcloud.lost_response_rate", 0.0))
        if lost:
            return JSONResponse({"message": "Server Error"}, status_code=500)
        record = {**self.file_json(f, duration_as_string=True), "state": 0}
        return JSONResponse({"data": record}, status_code=int(self.state.setting("acrcloud.upload_status", 200)))

    async def list_files(self, bucket_id: int, request: Request) -> Any:
        q = request.query_params
        sort, order = q.get("sort") or "id", q.get("order") or "asc"
        if sort not in ("id", "status") or order not in ("asc", "desc"):
            return self.invalid("The selected sort or order is invalid.")
        with self.state.lock:
            if bucket_id not in self.store.buckets:
                return self.not_found("Bucket")
            now, d = self.state.now(), self.delay()
            items = self.store.files_in(bucket_id)
            search = q.get("search") or q.get("keyword")
            if search:
                items = [f for f in items if search.lower() in f.title.lower()]
            if q.get("state") not in (None, ""):
                try:
                    wanted = int(q["state"])
                except ValueError:
                    return self.invalid("The selected state is invalid.")
                items = [f for f in items if f.state(now, d) == wanted]
            key = (lambda f: f.id) if sort == "id" else (lambda f: (f.state(now, d), f.id))
            items.sort(key=key, reverse=order == "desc")
            return self.paginate(request, items, self.file_json)

    async def get_files(self, bucket_id: int, ids: str) -> Any:
        with self.state.lock:
            if bucket_id not in self.store.buckets:
                return self.not_found("Bucket")
            return {"data": [self.file_json(f) for f in self.find_files(bucket_id, self.ids_of(ids))]}

    def move(self, target: int, keys: list[str]) -> Any:
        with self.state.lock:
            if target not in self.store.buckets:
                return self.not_found("Bucket")
            files = self.find_files(None, keys)
            if not files:
                return self.not_found("Files")
            for f in files:
                f.bucket_id, f.updated = target, self.state.now()
            return {"data": [self.file_json(f) for f in files]}

    async def move_files(self, bucket_id: int, ids: str) -> Any:
        return self.move(bucket_id, self.ids_of(ids))

    async def move_files_cli(self, bucket_id: int, request: Request) -> Any:
        body, _ = await self.read_body(request)
        ids, target = body.get("ids") or [], body.get("target_bucket_id")
        if not ids or not isinstance(ids, list) or not str(target or "").isdigit():
            return self.invalid("The given data was invalid.", {"ids": ["required"], "target_bucket_id": ["required"]})
        return self.move(int(str(target)), [str(i) for i in ids])

    async def update_file(self, bucket_id: int, ids: str, request: Request) -> Any:
        body, _ = await self.read_body(request)
        if body.get("__invalid__"):
            return self.invalid("The request body is not valid JSON.")
        keys = self.ids_of(ids)
        if not body:  # the docs' "move" curl example is a body-less PUT on this path: treat it as a move
            return self.move(bucket_id, keys)
        if len(keys) != 1:
            return self.invalid("Only one file can be updated at a time.")
        user_defined, problem = parse_user_defined_field(body.get("user_defined"))
        if problem:
            return self.invalid("The given data was invalid.", {"user_defined": [problem]})
        with self.state.lock:
            files = self.find_files(bucket_id, keys)
            if not files:
                return self.not_found("File")
            f = files[0]
            if "title" in body:
                f.title = str(body["title"])
            if body.get("user_defined") is not None:
                f.user_defined = user_defined or {}
            f.updated = self.state.now()
            return {"data": self.file_json(f)}

    def delete_keys(self, bucket_id: int, keys: list[str]) -> Any:
        with self.state.lock:
            files = self.find_files(bucket_id, keys)
            if not files:
                return self.not_found("Files")
            for f in files:
                del self.store.files[f.id]
            return Response(status_code=204)

    async def delete_files(self, bucket_id: int, ids: str) -> Any:
        return self.delete_keys(bucket_id, self.ids_of(ids))

    async def delete_files_cli(self, bucket_id: int, request: Request) -> Any:
        body, _ = await self.read_body(request)
        ids = body.get("ids")
        return self.delete_keys(bucket_id, [str(i) for i in ids] if isinstance(ids, list) else [])

    # ---- routing ---------------------------------------------------------------------------------
    def add_routes(self, router: APIRouter) -> None:
        add = router.add_api_route
        add("/api/buckets", self.create_bucket, methods=["POST"])
        add("/api/buckets", self.list_buckets, methods=["GET"])
        add("/api/buckets/{bucket_id}", self.get_bucket, methods=["GET"])
        add("/api/buckets/{bucket_id}", self.update_bucket, methods=["PUT"])
        add("/api/buckets/{bucket_id}", self.delete_bucket, methods=["DELETE"])
        add("/api/buckets/{bucket_id}/dump", self.dump, methods=["GET"])
        add("/api/buckets/{bucket_id}/files/dump", self.dump, methods=["GET"])
        add("/api/buckets/{bucket_id}/down/{task_id}", self.download_dump, methods=["GET"])
        add("/api/buckets/{bucket_id}/files", self.upload_file, methods=["POST"])
        add("/api/buckets/{bucket_id}/files", self.list_files, methods=["GET"])
        add("/api/buckets/{bucket_id}/files", self.delete_files_cli, methods=["DELETE"])
        add("/api/buckets/{bucket_id}/files/move", self.move_files_cli, methods=["POST"])
        add("/api/buckets/{bucket_id}/files/{ids}/move", self.move_files, methods=["PUT"])
        add("/api/buckets/{bucket_id}/files/{ids}", self.get_files, methods=["GET"])
        add("/api/buckets/{bucket_id}/files/{ids}", self.update_file, methods=["PUT"])
        add("/api/buckets/{bucket_id}/files/{ids}", self.delete_files, methods=["DELETE"])


def store_of(state: Any) -> AcrStore:
    return state.apis[API]  # type: ignore[no-any-return]


def register(app: FastAPI, state: Any) -> None:
    """Add the ACRCloud routes to the emulator app: Console (bearer auth), file scanning, identify."""
    store = AcrStore()
    state.apis[API] = store
    state.on_reset(store.reset)
    console = AcrCloudConsoleApi(state, store)
    router = APIRouter(dependencies=[Depends(console.require_bearer)])
    console.add_routes(router)
    AcrCloudFileScanningApi(state, store).add_routes(router)
    AcrCloudProjectsApi(state, store).add_routes(router)
    app.include_router(router)
    open_router = APIRouter()
    AcrCloudIdentifyApi(state, store).add_routes(open_router)
    app.include_router(open_router)
    app.add_exception_handler(Unauthenticated, unauthenticated_handler)


__all__ = ["DEFAULT_ACCESS_KEYS", "MUSIC_BUCKET_ID", "MUSIC_BUCKET_NAME", "AcrStore", "register", "store_of"]
