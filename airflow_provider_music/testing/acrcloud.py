"""Emulator routes of the ACRCloud Console API (``/api/...``) and identification (``/v1/identify``).

Built from the vendor docs (seed ``acrcloud-console-buckets-audio-files.txt``) and the contract digest:

* buckets CRUD; audio files: upload (multipart or JSON; ``user_defined`` JSON string or object; answer
  200 with ``duration`` as a string), list (``links``/``meta`` exactly as the docs: ``per_page`` a string,
  links carrying only ``page``), get by ids/acr_ids (``data`` list), update, delete, move (documented
  ``PUT /buckets/:target/files/:ids/move``, the docs' curl without ``/move``, and the CLI's POST variant),
  dump at ``/buckets/:id/dump`` and ``/buckets/:id/files/dump`` (status 0 -> 1, ``down_url`` served);
* file-scanning containers and their files; a scan matches when the scanned bytes equal a file stored in a
  referenced bucket (or its database fingerprint when ``pyacrcloud`` is importable);
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

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import io
import json
import math
import uuid
import wave
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

API = "acrcloud"
MUSIC_BUCKET_ID = 23
MUSIC_BUCKET_NAME = "ACRCloud Music"
DEFAULT_ACCESS_KEYS = {"emulator-access-key": "emulator-access-secret"}


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class BucketFile:
    id: int
    bucket_id: int
    acr_id: str
    title: str
    user_defined: dict[str, Any]
    data_type: str
    duration: float
    created: float
    final_state: int
    sha256: str = ""
    size: int = 0
    audio_id: str = ""
    updated: float = 0.0

    def state(self, now: float, delay: float) -> int:
        return 0 if now < self.created + delay else self.final_state


@dataclass
class FsFile:
    id: str
    cid: int
    name: str
    data_type: str
    uri: str
    created: float
    sha256: str = ""
    fingerprint_sha256: str = ""
    duration: int = 0
    forced_error: bool = False
    result: dict[str, Any] | None = None


@dataclass
class AcrStore:
    buckets: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, BucketFile] = field(default_factory=dict)
    dumps: dict[int, dict[str, Any]] = field(default_factory=dict)
    containers: dict[int, dict[str, Any]] = field(default_factory=dict)
    fs_files: dict[str, FsFile] = field(default_factory=dict)
    music: list[dict[str, Any]] = field(default_factory=list)
    next_bucket: int = 8881
    next_file: int = 20
    next_container: int = 101
    bytes_received: int = 0
    uploads: int = 0

    def reset(self) -> None:
        fresh = AcrStore()
        self.__dict__.update(fresh.__dict__)

    # ---- helpers for tests --------------------------------------------------------------------
    def add_music_track(self, data: bytes, *, title: str, artist: str, acrid: str | None = None) -> dict[str, Any]:
        """Put a track into the emulated "ACRCloud Music" database (bucket 23)."""
        track = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "fingerprint_sha256": _db_fingerprint_sha(data),
            "title": title,
            "artists": [{"name": artist}],
            "acrid": acrid or hashlib.md5(data).hexdigest(),  # noqa: S324 - an id, not security
            "duration_ms": int(_wav_duration(data) * 1000),
        }
        self.music.append(track)
        return track

    def files_in(self, bucket_id: int) -> list[BucketFile]:
        return [f for f in self.files.values() if f.bucket_id == bucket_id]


def _wav_duration(data: bytes) -> float:
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or 1)
    except Exception:
        return round(len(data) / 16000.0, 6)


def _wav_duration_path(path: str, size: int) -> float:
    try:
        with wave.open(path, "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or 1)
    except Exception:
        return round(size / 16000.0, 6)


def _db_fingerprint_sha(data: bytes) -> str:
    """sha256 of the ACRCloud database fingerprint of ``data`` when pyacrcloud is importable, else ''."""
    try:
        import acrcloud  # noqa: F401 - puts acrcloud_extr_tool on sys.path
        import acrcloud_extr_tool
    except Exception:
        return ""
    try:
        fp = acrcloud_extr_tool.create_fingerprint_by_filebuffer(data, 0, 0, True)
    except Exception:
        return ""
    return hashlib.sha256(fp).hexdigest() if fp else ""


def store_of(state: Any) -> AcrStore:
    return state.apis[API]


def register(app: FastAPI, state: Any) -> None:
    """Add the ACRCloud routes to the emulator app."""
    store = AcrStore()
    state.apis[API] = store
    state.on_reset(store.reset)

    def unauthorized() -> JSONResponse:
        return JSONResponse({"message": "Unauthenticated."}, status_code=401)

    def invalid(message: str, errors: dict[str, list[str]] | None = None) -> JSONResponse:
        return JSONResponse({"message": message, "errors": errors or {}}, status_code=422)

    def not_found(what: str) -> JSONResponse:
        return JSONResponse({"message": f"{what} not found."}, status_code=404)

    def delay() -> float:
        return state.job_delay(API)

    def file_json(f: BucketFile, *, duration_as_string: bool = False) -> dict[str, Any]:
        now = state.now()
        return {
            "id": f.id,
            "uid": 1,
            "bucket_id": f.bucket_id,
            "acr_id": f.acr_id,
            "state": f.state(now, delay()),
            "title": f.title,
            "user_defined": f.user_defined,
            "duration": f"{f.duration:.6f}" if duration_as_string else int(math.ceil(f.duration)),
            "audio_id": f.audio_id,
            "created_at": _iso(f.created),
            "updated_at": _iso(f.updated or f.created),
        }

    def paginate(request: Request, items: list[Any], render: Any, default_per_page: int = 20) -> dict[str, Any] | JSONResponse:
        try:
            page = int(request.query_params.get("page") or 1)
            per_page = int(request.query_params.get("per_page") or default_per_page)
        except ValueError:
            return invalid("The page and per_page must be integers.")
        if page < 1 or per_page < 1:
            return invalid("The page and per_page must be at least 1.")
        per_page = min(per_page, int(state.setting("acrcloud.max_per_page", 100)))
        total = len(items)
        last_page = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        path = f"{state.base_url}{request.url.path}"

        def link(n: int | None) -> str | None:
            return None if n is None else f"{path}?page={n}"

        start = (page - 1) * per_page
        return {
            "data": [render(x) for x in chunk],
            "links": {
                "first": link(1),
                "last": link(last_page),
                "prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page < last_page else None,
            },
            "meta": {
                "current_page": page,
                "from": start + 1 if chunk else None,
                "last_page": last_page,
                "path": path,
                "per_page": str(per_page) if state.setting("acrcloud.per_page_as_string", True) else per_page,
                "to": start + len(chunk) if chunk else None,
                "total": total,
            },
        }

    async def read_body(request: Request) -> tuple[dict[str, Any], Any]:
        """JSON or form fields, plus the uploaded ``file``/``sample`` (or None)."""
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                return {"__invalid__": True}, None
            return (body if isinstance(body, dict) else {"__invalid__": True}), None
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            fields: dict[str, Any] = {}
            upload = None
            for key, value in form.multi_items():
                if hasattr(value, "filename") and hasattr(value, "file"):
                    upload = (key, value)
                else:
                    fields[key] = value
            return fields, upload
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
                return (body if isinstance(body, dict) else {"__invalid__": True}), None
            except ValueError:
                return {"__invalid__": True}, None
        return {}, None

    def ids_of(raw: str) -> list[str]:
        return [p.strip() for p in raw.split(",") if p.strip()]

    def find_files(bucket_id: int | None, keys: list[str]) -> list[BucketFile]:
        # by id: a dict lookup; by acr_id: one pass (was keys x files, too slow for 10,000-file benchmarks)
        by_acr = {f.acr_id: f for f in store.files.values()} if any(not k.isdigit() for k in keys) else {}
        out: dict[int, BucketFile] = {}
        for key in keys:
            f = store.files.get(int(key)) if key.isdigit() else None
            if f is None:
                f = by_acr.get(key)
            if f is not None and (bucket_id is None or f.bucket_id == bucket_id):
                out.setdefault(f.id, f)
        return list(out.values())

    def bucket_json(b: dict[str, Any]) -> dict[str, Any]:
        files = store.files_in(b["id"])
        return {**b, "num": len(files), "size": str(sum(f.size for f in files))}

    # ---- buckets -----------------------------------------------------------------------------------
    @app.post("/api/buckets")
    async def create_bucket(request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, _ = await read_body(request)
        errors = {}
        if not body.get("name"):
            errors["name"] = ["The name field is required."]
        if body.get("region") not in ("eu-west-1", "us-west-2", "ap-southeast-1"):
            errors["region"] = ["The selected region is invalid."]
        if body.get("type") not in ("File", "Live", "LiveRec", "LiveTimeshift"):
            errors["type"] = ["The selected type is invalid."]
        if errors:
            return invalid("The given data was invalid.", errors)
        with state.lock:
            bid = store.next_bucket
            store.next_bucket += 1
            now = state.now()
            labels = body.get("labels") or []
            if isinstance(labels, str):
                labels = [x for x in labels.split(",") if x]
            store.buckets[bid] = {
                "id": bid, "uid": 1, "name": body["name"], "type": body["type"], "node": "127.0.0.1-871", "state": 1,
                "region": body["region"], "metadata_template": body.get("metadata_template"), "labels": labels,
                "net_type": int(body.get("net_type") or 1), "created_at": _plain(now), "updated_at": _plain(now),
                "access_permission": "private",
            }
            return JSONResponse({"data": bucket_json(store.buckets[bid])}, status_code=201)

    @app.get("/api/buckets")
    async def list_buckets(request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        q = request.query_params
        with state.lock:
            items = sorted(store.buckets.values(), key=lambda b: b["id"])
            if q.get("region"):
                items = [b for b in items if b["region"] == q["region"]]
            if q.get("type"):
                items = [b for b in items if b["type"] == q["type"]]
            if q.get("search"):
                items = [b for b in items if q["search"].lower() in b["name"].lower()]
            return paginate(request, items, bucket_json)

    @app.get("/api/buckets/{bucket_id}")
    async def get_bucket(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            b = store.buckets.get(bucket_id)
            return {"data": bucket_json(b)} if b else not_found("Bucket")

    @app.put("/api/buckets/{bucket_id}")
    async def update_bucket(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, _ = await read_body(request)
        with state.lock:
            b = store.buckets.get(bucket_id)
            if not b:
                return not_found("Bucket")
            for key in ("name", "labels", "metadata_template"):
                if key in body:
                    b[key] = body[key]
            b["updated_at"] = _plain(state.now())
            return {"data": bucket_json(b)}

    @app.delete("/api/buckets/{bucket_id}")
    async def delete_bucket(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            if bucket_id not in store.buckets:
                return not_found("Bucket")
            del store.buckets[bucket_id]
            for f in store.files_in(bucket_id):
                del store.files[f.id]
            return Response(status_code=204)

    # ---- dump (both paths; registered before /files/{ids}) -------------------------------------------
    def dump(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            b = store.buckets.get(bucket_id)
            if not b:
                return not_found("Bucket")
            now = state.now()
            task = store.dumps.get(bucket_id)
            if task is None or now - task["created"] > 86400:
                task = {"created": now, "task_id": uuid.uuid4().hex[:10], "snapshot": None}
                store.dumps[bucket_id] = task
            ready = now >= task["created"] + delay()
            if ready and task["snapshot"] is None:
                task["snapshot"] = [file_json(f) for f in sorted(store.files_in(bucket_id), key=lambda f: f.id)]
            return {
                "status": 1 if ready else 0,
                "down_url": f"{state.base_url}/api/buckets/{bucket_id}/down/{task['task_id']}",
                "id": bucket_id,
                "name": b["name"],
                "task_id": task["task_id"],
            }

    @app.get("/api/buckets/{bucket_id}/dump")
    async def dump_doc(bucket_id: int, request: Request) -> Any:
        return dump(bucket_id, request)

    @app.get("/api/buckets/{bucket_id}/files/dump")
    async def dump_cli(bucket_id: int, request: Request) -> Any:
        return dump(bucket_id, request)

    @app.get("/api/buckets/{bucket_id}/down/{task_id}")
    async def download_dump(bucket_id: int, task_id: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            task = store.dumps.get(bucket_id)
            if not task or task["task_id"] != task_id or task["snapshot"] is None:
                return not_found("Dump")
            data = json.dumps(task["snapshot"]).encode()
        return Response(data, media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{bucket_id}-{task_id}.json"'})

    # ---- audio files --------------------------------------------------------------------------------
    @app.post("/api/buckets/{bucket_id}/files")
    async def upload_file(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, upload = await read_body(request)
        if body.get("__invalid__"):
            return invalid("The request body is not valid JSON.")
        with state.lock:
            if bucket_id not in store.buckets:
                return not_found("Bucket")
        data_type = body.get("data_type")
        errors: dict[str, list[str]] = {}
        if data_type not in ("audio", "fingerprint", "audio_url", "acrid"):
            errors["data_type"] = ["The selected data type is invalid."]
        if data_type in ("audio", "fingerprint") and (upload is None or upload[0] != "file"):
            errors["file"] = ["The file field is required when data type is audio or fingerprint."]
        if data_type == "audio_url" and not body.get("url"):
            errors["url"] = ["The url field is required when data type is audio_url."]
        if data_type == "acrid" and not body.get("acrid"):
            errors["acrid"] = ["The acrid field is required when data type is acrid."]
        user_defined: Any = body.get("user_defined") or {}
        if isinstance(user_defined, str):
            try:
                user_defined = json.loads(user_defined)
            except ValueError:
                errors["user_defined"] = ["The user defined must be a valid JSON string."]
        if not isinstance(user_defined, dict):
            errors["user_defined"] = ["The user defined must be a JSON object."]
        if errors:
            return invalid("The given data was invalid.", errors)
        sha = ""
        size = 0
        duration = 0.0
        if upload is not None:
            spooled = await state.spool_upload(upload[1])
            sha, size = spooled.sha256, spooled.size
            if data_type == "audio":
                duration = _wav_duration_path(spooled.path, size)
            else:
                duration = round(size / 100.0, 6)
        else:
            source = str(body.get("url") or body.get("acrid"))
            sha = hashlib.sha256(source.encode()).hexdigest()
            duration = 30.0
        with state.lock:
            store.bytes_received += size
            store.uploads += 1
            fid = store.next_file
            store.next_file += 1
            now = state.now()
            final = -1 if state.rng.random() < float(state.setting("acrcloud.error_rate", 0.0)) else 1
            f = BucketFile(
                id=fid, bucket_id=bucket_id, acr_id=uuid.uuid4().hex, title=str(body.get("title") or ""),
                user_defined=user_defined, data_type=str(data_type), duration=duration, created=now,
                final_state=final, sha256=sha, size=size, audio_id=str(body.get("audio_id") or ""), updated=now,
            )
            store.files[fid] = f
            lost = state.rng.random() < float(state.setting("acrcloud.lost_response_rate", 0.0))
        if lost:
            return JSONResponse({"message": "Server Error"}, status_code=500)
        record = file_json(f, duration_as_string=True)
        record["state"] = 0
        return JSONResponse({"data": record}, status_code=int(state.setting("acrcloud.upload_status", 200)))

    @app.get("/api/buckets/{bucket_id}/files")
    async def list_files(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        q = request.query_params
        with state.lock:
            if bucket_id not in store.buckets:
                return not_found("Bucket")
            now, d = state.now(), delay()
            items = store.files_in(bucket_id)
            search = q.get("search") or q.get("keyword")
            if search:
                items = [f for f in items if search.lower() in f.title.lower()]
            if q.get("state") not in (None, ""):
                try:
                    wanted = int(q["state"])
                except ValueError:
                    return invalid("The selected state is invalid.")
                items = [f for f in items if f.state(now, d) == wanted]
            sort = q.get("sort") or "id"
            if sort not in ("id", "status"):
                return invalid("The selected sort is invalid.")
            order = q.get("order") or "asc"
            if order not in ("asc", "desc"):
                return invalid("The selected order is invalid.")
            items.sort(key=(lambda f: f.id) if sort == "id" else (lambda f: (f.state(now, d), f.id)), reverse=order == "desc")
            return paginate(request, items, file_json)

    @app.get("/api/buckets/{bucket_id}/files/{ids}")
    async def get_files(bucket_id: int, ids: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            if bucket_id not in store.buckets:
                return not_found("Bucket")
            return {"data": [file_json(f) for f in find_files(bucket_id, ids_of(ids))]}

    def move(target: int, keys: list[str]) -> Any:
        with state.lock:
            if target not in store.buckets:
                return not_found("Bucket")
            files = find_files(None, keys)
            if not files:
                return not_found("Files")
            for f in files:
                f.bucket_id = target
                f.updated = state.now()
            return {"data": [file_json(f) for f in files]}

    @app.put("/api/buckets/{bucket_id}/files/{ids}/move")
    async def move_files(bucket_id: int, ids: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        return move(bucket_id, ids_of(ids))

    @app.post("/api/buckets/{bucket_id}/files/move")
    async def move_files_cli(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, _ = await read_body(request)
        ids = body.get("ids") or []
        target = body.get("target_bucket_id")
        if not ids or target is None:
            return invalid("The given data was invalid.", {"ids": ["required"], "target_bucket_id": ["required"]})
        return move(int(target), [str(i) for i in ids])

    @app.put("/api/buckets/{bucket_id}/files/{ids}")
    async def update_file(bucket_id: int, ids: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, _ = await read_body(request)
        if body.get("__invalid__"):
            return invalid("The request body is not valid JSON.")
        keys = ids_of(ids)
        if not body:
            # The docs' "move" curl example is a body-less PUT on this path: treat it as a move.
            return move(bucket_id, keys)
        if len(keys) != 1:
            return invalid("Only one file can be updated at a time.")
        user_defined = body.get("user_defined")
        if isinstance(user_defined, str):
            try:
                user_defined = json.loads(user_defined)
            except ValueError:
                return invalid("The given data was invalid.", {"user_defined": ["must be valid JSON"]})
        if user_defined is not None and not isinstance(user_defined, dict):
            return invalid("The given data was invalid.", {"user_defined": ["must be a JSON object"]})
        with state.lock:
            files = find_files(bucket_id, keys)
            if not files:
                return not_found("File")
            f = files[0]
            if "title" in body:
                f.title = str(body["title"])
            if user_defined is not None:
                f.user_defined = user_defined
            f.updated = state.now()
            return {"data": file_json(f)}

    @app.delete("/api/buckets/{bucket_id}/files/{ids}")
    async def delete_files(bucket_id: int, ids: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            files = find_files(bucket_id, ids_of(ids))
            if not files:
                return not_found("Files")
            for f in files:
                del store.files[f.id]
            return Response(status_code=204)

    @app.delete("/api/buckets/{bucket_id}/files")
    async def delete_files_cli(bucket_id: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, _ = await read_body(request)
        with state.lock:
            files = find_files(bucket_id, [str(i) for i in body.get("ids") or []])
            if not files:
                return not_found("Files")
            for f in files:
                del store.files[f.id]
            return Response(status_code=204)

    # ---- file scanning: containers ----------------------------------------------------------------------
    def container_json(c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "num": sum(1 for f in store.fs_files.values() if f.cid == c["id"]), "size": 0}

    @app.post("/api/fs-containers")
    async def create_container(request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, _ = await read_body(request)
        errors = {}
        for key in ("name", "region", "buckets", "engine"):
            if not body.get(key):
                errors[key] = [f"The {key} field is required."]
        if body.get("region") and body["region"] not in ("eu-west-1", "us-west-2", "ap-southeast-1"):
            errors["region"] = ["The selected region is invalid."]
        if errors:
            return invalid("The given data was invalid.", errors)
        with state.lock:
            cid = store.next_container
            store.next_container += 1
            now = state.now()
            refs = []
            for ref in body["buckets"]:
                if ref in (MUSIC_BUCKET_ID, str(MUSIC_BUCKET_ID), MUSIC_BUCKET_NAME):
                    refs.append({"id": MUSIC_BUCKET_ID, "name": MUSIC_BUCKET_NAME})
                    continue
                match = [b for b in store.buckets.values() if str(b["id"]) == str(ref) or b["name"] == ref]
                if not match:
                    return invalid("The given data was invalid.", {"buckets": [f"Unknown bucket {ref!r}."]})
                refs.append({"id": match[0]["id"], "name": match[0]["name"]})
            store.containers[cid] = {
                "id": cid, "uid": 1, "name": body["name"], "region": body["region"],
                "audio_type": body.get("audio_type") or "linein", "engine": int(body["engine"]),
                "policy": body.get("policy") or {"type": "traverse", "interval": 0, "rec_length": 10},
                "callback_url": body.get("callback_url"), "buckets": refs,
                "deepright": bool(body.get("deepright", False)), "music_detection": bool(body.get("music_detection", False)),
                "ai_detection": bool(body.get("ai_detection", False)),
                "created_at": _iso(now), "updated_at": _iso(now),
            }
            return JSONResponse({"data": container_json(store.containers[cid])}, status_code=201)

    @app.get("/api/fs-containers")
    async def list_containers(request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        q = request.query_params
        with state.lock:
            items = sorted(store.containers.values(), key=lambda c: c["id"])
            if q.get("region"):
                items = [c for c in items if c["region"] == q["region"]]
            if q.get("name"):
                items = [c for c in items if q["name"].lower() in c["name"].lower()]
            return paginate(request, items, container_json)

    @app.get("/api/fs-containers/{cid}")
    async def get_container(cid: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            c = store.containers.get(cid)
            return {"data": container_json(c)} if c else not_found("Container")

    @app.put("/api/fs-containers/{cid}")
    async def update_container(cid: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, _ = await read_body(request)
        with state.lock:
            c = store.containers.get(cid)
            if not c:
                return not_found("Container")
            for key, value in body.items():
                if key in ("name", "audio_type", "engine", "policy", "callback_url", "deepright", "music_detection", "ai_detection"):
                    c[key] = value
            c["updated_at"] = _iso(state.now())
            return {"data": container_json(c)}

    @app.delete("/api/fs-containers/{cid}")
    async def delete_container(cid: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            if cid not in store.containers:
                return not_found("Container")
            del store.containers[cid]
            for key in [k for k, f in store.fs_files.items() if f.cid == cid]:
                del store.fs_files[key]
            return Response(status_code=204)

    # ---- file scanning: files ---------------------------------------------------------------------------
    def scan_result(f: FsFile) -> dict[str, Any]:
        container = store.containers.get(f.cid) or {"buckets": []}
        bucket_ids = {b["id"] for b in container["buckets"]}
        custom: list[dict[str, Any]] = []
        music: list[dict[str, Any]] = []
        keys = {k for k in (f.sha256, f.fingerprint_sha256) if k}
        for bf in store.files.values():
            if bf.bucket_id in bucket_ids and bf.sha256 in keys and bf.final_state == 1:
                custom.append({
                    "offset": 0, "played_duration": int(bf.duration), "type": "traverse",
                    "result": {"bucket_id": str(bf.bucket_id), "title": bf.title, "acrid": bf.acr_id,
                               "audio_id": bf.audio_id, "score": 100, "duration_ms": int(bf.duration * 1000),
                               "play_offset_ms": 0, **{k: v for k, v in bf.user_defined.items() if not isinstance(v, (dict, list))}},
                })
        if MUSIC_BUCKET_ID in bucket_ids:
            for track in store.music:
                if {track["sha256"], track["fingerprint_sha256"]} & keys:
                    music.append({
                        "offset": 0, "played_duration": track["duration_ms"] // 1000, "type": "traverse",
                        "result": {"title": track["title"], "artists": track["artists"], "acrid": track["acrid"],
                                   "album": {"name": track["title"]}, "score": 100, "duration_ms": track["duration_ms"],
                                   "play_offset_ms": 0, "result_from": 3, "external_ids": {}, "external_metadata": {}},
                    })
        return {"music": music, "cover_songs": [], "custom_files": custom, "speech": [], "music_speech": []}

    def fs_state(f: FsFile) -> int:
        if state.now() < f.created + delay():
            return 0
        if f.forced_error:
            return -2
        if f.result is None:
            f.result = scan_result(f)
        return 1 if (f.result["music"] or f.result["custom_files"]) else -1

    def fs_json(f: FsFile, with_result: bool = True) -> dict[str, Any]:
        st = fs_state(f)
        out = {
            "id": f.id, "uid": 1, "cid": f.cid, "name": f.name, "duration": f.duration, "uri": f.uri,
            "data_type": f.data_type, "engine": (store.containers.get(f.cid) or {}).get("engine", 1),
            "count": 0, "total": 0, "state": st, "music_detected": 1 if st == 1 else 0,
            "created_at": _iso(f.created), "updated_at": _iso(f.created),
        }
        if with_result:
            out["results"] = f.result if (st in (1, -1) and f.result is not None) else {
                "music": [], "cover_songs": [], "custom_files": [], "speech": [], "music_speech": []}
        return out

    @app.post("/api/fs-containers/{cid}/files")
    async def fs_upload(cid: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        body, upload = await read_body(request)
        with state.lock:
            if cid not in store.containers:
                return not_found("Container")
        data_type = body.get("data_type")
        if data_type not in ("audio", "fingerprint", "audio_url", "platforms"):
            return invalid("The given data was invalid.", {"data_type": ["The selected data type is invalid."]})
        if data_type in ("audio", "fingerprint") and upload is None:
            return invalid("The given data was invalid.", {"file": ["The file field is required."]})
        if data_type in ("audio_url", "platforms") and not body.get("url"):
            return invalid("The given data was invalid.", {"url": ["The url field is required."]})
        sha = fp_sha = ""
        duration = 0
        name = str(body.get("name") or "")
        if upload is not None:
            spooled = await state.spool_upload(upload[1])
            sha = spooled.sha256
            if data_type == "audio":
                with open(spooled.path, "rb") as fh:
                    data = fh.read()
                duration = int(_wav_duration(data))
                fp_sha = _db_fingerprint_sha(data)
            name = name or upload[1].filename or "upload"
            uri = f"audio:{upload[1].filename}"
        else:
            sha = hashlib.sha256(str(body["url"]).encode()).hexdigest()
            uri = f"audio_url:{body['url']}"
            name = name or str(body["url"])
        with state.lock:
            f = FsFile(
                id=str(uuid.uuid4()), cid=cid, name=name, data_type=str(data_type), uri=uri, created=state.now(),
                sha256=sha, fingerprint_sha256=fp_sha, duration=duration,
                forced_error=state.rng.random() < float(state.setting("acrcloud.fs_error_rate", 0.0)),
            )
            store.fs_files[f.id] = f
            return JSONResponse({"data": fs_json(f, with_result=False)}, status_code=200)

    @app.get("/api/fs-containers/{cid}/files")
    async def fs_list(cid: int, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        q = request.query_params
        with_result = q.get("with_result") == "1"
        with state.lock:
            if cid not in store.containers:
                return not_found("Container")
            items = [f for f in store.fs_files.values() if f.cid == cid]
            if q.get("search"):
                items = [f for f in items if q["search"].lower() in (f.name + f.uri).lower()]
            if q.get("state") not in (None, ""):
                items = [f for f in items if str(fs_state(f)) == q["state"]]
            return paginate(request, items, lambda f: fs_json(f, with_result))

    @app.get("/api/fs-containers/{cid}/files/{ids}")
    async def fs_get(cid: int, ids: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        keys = ids_of(ids)
        with state.lock:
            files = [store.fs_files[k] for k in keys if k in store.fs_files and store.fs_files[k].cid == cid]
            if not files:
                return not_found("File")
            rendered = [fs_json(f) for f in files]
        if len(keys) == 1 and not state.setting("acrcloud.fs_get_as_list", False):
            return {"data": rendered[0]}
        return {"data": rendered}

    @app.delete("/api/fs-containers/{cid}/files/{ids}")
    async def fs_delete(cid: int, ids: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            keys = [k for k in ids_of(ids) if k in store.fs_files and store.fs_files[k].cid == cid]
            if not keys:
                return not_found("File")
            for k in keys:
                del store.fs_files[k]
            return Response(status_code=204)

    @app.put("/api/fs-containers/{cid}/files/{ids}/rescan")
    async def fs_rescan(cid: int, ids: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return unauthorized()
        with state.lock:
            files = [store.fs_files[k] for k in ids_of(ids) if k in store.fs_files and store.fs_files[k].cid == cid]
            if not files:
                return not_found("File")
            for f in files:
                f.created, f.result, f.forced_error = state.now(), None, False
            return {"data": [fs_json(f, with_result=False) for f in files]}

    # ---- identification -------------------------------------------------------------------------------
    def identify_status(code: int, msg: str) -> JSONResponse:
        return JSONResponse({"status": {"msg": msg, "code": code, "version": "1.0"}})

    @app.post("/v1/identify")
    async def identify(request: Request) -> Any:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return identify_status(3002, "Invalid ContentType; valid Content-Type is multipart/form-data")
        body, upload = await read_body(request)
        keys = state.setting("acrcloud.access_keys", DEFAULT_ACCESS_KEYS)
        access_key = str(body.get("access_key") or "")
        if access_key not in keys:
            return identify_status(3001, "Missing/Invalid Access Key")
        data_type = str(body.get("data_type") or "audio")
        timestamp = str(body.get("timestamp") or "")
        if data_type not in ("audio", "fingerprint") or not timestamp or str(body.get("signature_version", "1")) != "1":
            return identify_status(3006, "Invalid arguments")
        string_to_sign = "\n".join(["POST", "/v1/identify", access_key, data_type, "1", timestamp])
        expected = base64.b64encode(
            hmac.new(keys[access_key].encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if not hmac.compare_digest(expected, str(body.get("signature") or "")):
            return identify_status(3014, "Invalid Signature")
        if upload is not None:
            upload[1].file.seek(0)
            data = upload[1].file.read()
        elif body.get("sample"):  # protocol 2: base64 in a urlencoded form
            with contextlib.suppress(ValueError):
                data = base64.b64decode(str(body["sample"]))
        else:
            return identify_status(3006, "Invalid arguments: sample is required")
        digests = {hashlib.sha256(data).hexdigest()}
        if data_type == "audio":
            digests.add(_db_fingerprint_sha(data))
        digests.discard("")
        with state.lock:
            custom = [
                {"acrid": bf.acr_id, "title": bf.title, "audio_id": bf.audio_id, "bucket_id": str(bf.bucket_id),
                 "score": 100, "duration_ms": int(bf.duration * 1000), "play_offset_ms": 0,
                 **{k: v for k, v in bf.user_defined.items() if not isinstance(v, (dict, list))}}
                for bf in store.files.values()
                if bf.sha256 in digests and bf.final_state == 1 and bf.state(state.now(), delay()) == 1
            ]
            music = [
                {"acrid": t["acrid"], "title": t["title"], "artists": t["artists"], "album": {"name": t["title"]},
                 "score": 100, "duration_ms": t["duration_ms"], "play_offset_ms": 0, "result_from": 3,
                 "external_ids": {}, "external_metadata": {}}
                for t in store.music
                if {t["sha256"], t["fingerprint_sha256"]} & digests
            ]
        if not custom and not music:
            return identify_status(1001, "No result")
        metadata: dict[str, Any] = {"timestamp_utc": _plain(state.now())}
        if music:
            metadata["music"] = music
        if custom:
            metadata["custom_files"] = custom
        return JSONResponse({"status": {"msg": "Success", "code": 0, "version": "1.0"}, "result_type": 0,
                             "cost_time": 0.01, "metadata": metadata})
