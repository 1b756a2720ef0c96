"""Emulator routes of the AudioShake APIs: the legacy Jobs API ("Groovy") and the Tasks API.

Legacy (``Authorization: Bearer``): ``POST /upload/`` (and ``/upload``), ``POST /upload/link``,
``POST /upload/audio-link``, ``POST /job/`` (and ``/job``), ``GET /job/{id}``, ``GET|POST /usage``.
Tasks (``x-api-key``): ``POST|GET /assets``, ``POST|GET /tasks``, ``GET /tasks/{id}``, ``GET /models``.
Output links (``GET /files/{id}?Signature=...``) need no token, like AudioShake's signed CDN links.

Jobs go ``created -> processing -> completed`` lazily from their creation time and
``state.job_delay("audioshake")``. Stems are real audio derived from the source (a scaled copy of a PCM
WAV source, the source bytes otherwise); lyric jobs return JSON / TXT / SRT transcripts.

Settings (``state.settings``):

* ``audioshake.fail_stems``: models that end ``failed`` (jobs) / ``error`` (tasks), e.g. ``["drums"]``.
* ``audioshake.failure_status``: the failed target status of the Tasks API (``"error"``, or ``"failed"``).
* ``audioshake.processing_status``: the in-progress status to report (e.g. an undocumented ``"queued"``).
* ``audioshake.output_layout``: ``"top"`` (``outputAssets`` + ``stemAssets`` at the top level, default) or
  ``"source"`` (``outputAssets`` + ``metadata`` inside ``sourceAsset``, as the legacy data-model page prints).
* ``audioshake.legacy_metadata``: report ``stemMetadata`` (with ``stemName``) instead of ``metadata``.
* ``audioshake.output_names``: ``{model: name}`` overrides output file names (e.g. ``"../../x.wav"``).
* ``audioshake.rate_limit``: requests per second above which the API answers 429 (off by default).
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.testing.audio import scale_wav, sine_wav

STEMS = {
    "instrumental", "vocals", "drums", "bass", "other", "guitar", "other-x-guitar", "wind", "speech", "music",
    "dialogue", "piano", "music_fx", "music_removal",
}  # fmt: skip
LYRICS = {"transcription", "alignment"}
DETECTION = {"music_detection"}
TASK_ONLY = {"strings", "vocals_lead", "vocals_backing", "guitar_electric", "guitar_acoustic", "effects", "multi_voice"}
AUDIO_FORMATS = {"wav", "flac", "mp3", "aiff", "mp4"}
LANGUAGES = set(
    "af ar az be bg bs ca cs cy da de el en es et fa fi fr gl he hi hr hu hy id is it ja kk kn ko lt lv mi "
    "mk mr ms ne nl no pl pt ro ru sk sl sr sv sw ta th tl tr uk ur vi zh auto".split()
)
STEM_FACTORS = {"vocals": 0.9, "drums": 0.6, "bass": 0.4, "other": 0.3, "instrumental": 0.7}
MIME = {
    "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "aiff": "audio/aiff", "mp4": "video/mp4",
    "json": "application/json", "txt": "text/plain", "srt": "application/x-subrip",
}  # fmt: skip
CLIENT_ID = "clemulatorclient000000001"


def cuid() -> str:
    return "cl" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(23))


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


@dataclass
class Asset:
    id: str
    name: str
    format: str
    path: str | None  # spooled source bytes (None for links registered without content)
    link: str | None = None
    created: float = field(default_factory=time.time)


@dataclass
class Output:
    id: str
    name: str
    format: str
    model: str
    source: str  # asset id
    kind: str  # audio | json | txt | srt | detection
    factor: float = 1.0
    signature: str = field(default_factory=lambda: secrets.token_urlsafe(12))


@dataclass
class Store:
    assets: dict[str, Asset] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    hits: deque[float] = field(default_factory=deque)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.assets.clear()
            self.jobs.clear()
            self.tasks.clear()
            self.outputs.clear()
            self.hits.clear()


def register(app: Any, state: Any) -> None:
    """Add the AudioShake routes to the emulator app."""
    store = Store()
    state.apis["audioshake"] = store
    state.on_reset(store.reset)

    def error(status: int, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
        reasons = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
        body = {"statusCode": status, "error": reasons.get(status, "Error"), "message": message}
        return JSONResponse(body, status_code=status, headers=headers)

    def guard(request: Request, api: str) -> JSONResponse | None:
        """Rate limit, then the API's auth header."""
        limit = state.setting("audioshake.rate_limit")
        if limit:
            now = time.monotonic()
            with store.lock:
                while store.hits and now - store.hits[0] > 1.0:
                    store.hits.popleft()
                if len(store.hits) >= float(limit):
                    return error(429, "Rate limit exceeded", headers={"Retry-After": "1"})
                store.hits.append(now)
        ok = state.bearer_ok(request) if api == "jobs" else request.headers.get("x-api-key", "") in state.tokens
        if not ok:
            hint = "Authorization: Bearer <token>" if api == "jobs" else "x-api-key"
            return error(401, f"Invalid or missing API token ({hint})")
        return None

    def base() -> str:
        return state.base_url.rstrip("/")

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def spool_file(request: Request) -> tuple[Asset | None, JSONResponse | None]:
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return None, error(400, "body must be multipart/form-data with a 'file' part")
        spooled = await state.spool_upload(upload)
        if spooled.size == 0:
            return None, error(400, "uploaded file is empty")
        name = spooled.filename or "upload"
        fmt = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
        asset = Asset(id=cuid(), name=name, format=fmt, path=spooled.path)
        asset.link = f"{base()}/files/src-{asset.id}?Signature={secrets.token_urlsafe(8)}"
        with store.lock:
            store.assets[asset.id] = asset
        return asset, None

    def asset_json(asset: Asset) -> dict[str, Any]:
        return {"name": asset.name, "id": asset.id, "fileType": MIME.get(asset.format, "application/octet-stream"),
                "format": asset.format, "link": asset.link}

    # ---- legacy: uploads ------------------------------------------------------------------
    async def upload(request: Request) -> Response:
        if (denied := guard(request, "jobs")) is not None:
            return denied
        asset, err = await spool_file(request)
        if asset is None:
            return err or error(400, "upload failed")
        return JSONResponse(asset_json(asset))

    app.add_api_route("/upload/", upload, methods=["POST"])
    app.add_api_route("/upload", upload, methods=["POST"])

    async def upload_link(request: Request) -> Response:
        if (denied := guard(request, "jobs")) is not None:
            return denied
        body = await json_body(request)
        link = body.get("link") if isinstance(body, dict) else None
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            return error(400, "body/link must be a public URL")
        name = body.get("name") or link.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "audio"
        fmt = name.rsplit(".", 1)[-1].lower() if "." in name else "wav"
        asset = Asset(id=cuid(), name=name, format=fmt, path=None, link=link)
        with store.lock:
            store.assets[asset.id] = asset
        return JSONResponse(asset_json(asset))

    app.add_api_route("/upload/link", upload_link, methods=["POST"])
    app.add_api_route("/upload/audio-link", upload_link, methods=["POST"])

    # ---- legacy: jobs ---------------------------------------------------------------------
    def check_metadata(meta: Any) -> str | None:
        if not isinstance(meta, dict):
            return "body/metadata is required"
        name, fmt = meta.get("name") or meta.get("stemName"), meta.get("format")
        if name not in STEMS | LYRICS | DETECTION:
            return f"body/metadata/name must be equal to one of the allowed values, got {name!r}"
        allowed = {"json", "txt", "srt", "all"} if name in LYRICS else {"json"} if name in DETECTION else AUDIO_FORMATS
        if fmt not in allowed:
            return f"body/metadata/format must be one of {sorted(allowed)} for {name}"
        if "language" in meta and meta["language"] not in LANGUAGES:
            return "body/metadata/language must match pattern ^[a-zA-Z]{2}$"
        if "maxTrackLength" in meta and not (isinstance(meta["maxTrackLength"], (int, float)) and meta["maxTrackLength"] >= 20):
            return "body/metadata/maxTrackLength must be >= 20"
        if "watermarkInterval" in meta and not (isinstance(meta["watermarkInterval"], (int, float)) and meta["watermarkInterval"] >= 10):
            return "body/metadata/watermarkInterval must be >= 10"
        if len(str(meta.get("customProperty", ""))) > 1000:
            return "body/metadata/customProperty must NOT have more than 1000 characters"
        return None

    async def create_job(request: Request) -> Response:
        if (denied := guard(request, "jobs")) is not None:
            return denied
        body = await json_body(request)
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object")
        asset_id = body.get("assetId")
        if not isinstance(asset_id, str) or not 8 <= len(asset_id) <= 30:
            return error(400, "body/assetId must NOT have fewer than 8 or more than 30 characters")
        meta = body.get("metadata") if "metadata" in body else body.get("stemMetadata")
        if (problem := check_metadata(meta)) is not None:
            return error(400, problem)
        if asset_id not in store.assets:
            return error(404, f"Asset {asset_id} not found")
        meta = dict(meta or {})
        meta.setdefault("name", meta.pop("stemName", None))
        job_id = cuid()
        job = {"id": job_id, "clientId": CLIENT_ID, "requestId": job_id, "licenseId": "", "assetId": asset_id,
               "metadata": meta, "callbackUrl": body.get("callbackUrl"), "created": time.time(),
               "fail": meta["name"] in (state.setting("audioshake.fail_stems") or [])}
        with store.lock:
            store.jobs[job_id] = job
        public = {k: job[k] for k in ("id", "clientId", "requestId", "metadata")}
        public.update({"callbackUrl": job["callbackUrl"], "status": "created"})
        return JSONResponse({"job": public})

    app.add_api_route("/job/", create_job, methods=["POST"])
    app.add_api_route("/job", create_job, methods=["POST"])

    def progress(created: float) -> str:
        elapsed, delay = time.time() - created, state.job_delay("audioshake")
        if elapsed >= delay:
            return "done"
        return "created" if elapsed < delay / 4 else "processing"

    def make_outputs(owner: dict[str, Any], model: str, formats: list[str], residual: bool) -> list[Output]:
        """Create (once) the outputs of a finished job/target."""
        if owner.get("outputs") is not None:
            return [store.outputs[i] for i in owner["outputs"]]
        names = state.setting("audioshake.output_names") or {}
        outs: list[Output] = []
        for fmt in formats:
            fmts = ["json", "txt", "srt"] if fmt == "all" else [fmt]
            for f in fmts:
                kind = "detection" if model in DETECTION else f if model in LYRICS else "audio"
                outs.append(Output(id=cuid(), name=names.get(model) or f"{model}.{f}", format=f, model=model,
                                   source=owner["assetId"], kind=kind, factor=STEM_FACTORS.get(model, 0.5)))
                if residual and kind == "audio":
                    outs.append(Output(id=cuid(), name=f"{model}_residual.{f}", format=f, model=model,
                                       source=owner["assetId"], kind="audio", factor=1.0 - STEM_FACTORS.get(model, 0.5)))
        with store.lock:
            for out in outs:
                store.outputs[out.id] = out
            owner["outputs"] = [o.id for o in outs]
        return outs

    def output_link(out: Output) -> str:
        return f"{base()}/files/{out.id}?Expires={int(time.time()) + 3600}&Signature={out.signature}"

    def asset_item(out: Output) -> dict[str, Any]:
        return {"name": out.name, "id": out.id, "fileType": MIME.get(out.format, "application/octet-stream"),
                "format": out.format, "link": output_link(out),
                "jobs": [{"stemAssets": [{"name": out.name, "id": out.id, "fileType": MIME.get(out.format, ""),
                                          "format": out.format, "path": f"{out.source}/{out.name}"}]}]}

    async def get_job(job_id: str, request: Request) -> Response:
        if (denied := guard(request, "jobs")) is not None:
            return denied
        if not 3 <= len(job_id) <= 60:
            return error(400, "params/id must NOT have fewer than 3 or more than 60 characters")
        job = store.jobs.get(job_id)
        if job is None:
            return error(404, f"Job {job_id} not found")
        meta = job["metadata"]
        phase = progress(job["created"])
        fail = job["fail"]  # decided at creation: a failed job stays failed
        status = {"created": "created", "processing": state.setting("audioshake.processing_status", "processing")}.get(
            phase, "failed" if fail else "completed")
        asset = store.assets[job["assetId"]]
        out: dict[str, Any] = {k: job[k] for k in ("id", "clientId", "requestId", "licenseId")}
        out.update({"createdAt": iso(job["created"]), "startedAt": iso(job["created"] + 0.01),
                    "updatedAt": iso(time.time()), "callbackUrl": job["callbackUrl"], "status": status,
                    "statusInfo": {}})
        if state.setting("audioshake.legacy_metadata"):
            out["stemMetadata"] = {**{k: v for k, v in meta.items() if k != "name"}, "stemName": meta["name"]}
        else:
            out["metadata"] = meta
        source: dict[str, Any] = asset_json(asset)
        if status == "failed":
            out["statusInfo"] = {"code": 500, "message": f"Separation of {meta['name']} failed (emulated)"}
        elif status == "completed":
            items = [asset_item(o) for o in make_outputs(job, meta["name"], [meta["format"]], bool(meta.get("residual")))]
            out["statusInfo"] = {"duration": 2.0}
            if state.setting("audioshake.output_layout", "top") == "source":
                source["outputAssets"] = items
                source["metadata"] = out.pop("metadata", meta)
            else:
                out["stemAssets"] = items
                out["outputAssets"] = items
        out["sourceAsset"] = source
        return JSONResponse({"job": out})

    app.add_api_route("/job/{job_id}", get_job, methods=["GET"])

    async def usage(request: Request) -> Response:
        if (denied := guard(request, "jobs")) is not None:
            return denied
        return JSONResponse({"clientId": CLIENT_ID, "usage": [
            {"month": time.strftime("%Y-%m"), "totalJobs": len(store.jobs), "totalMinutes": 0.1 * len(store.jobs)}]})

    app.add_api_route("/usage", usage, methods=["GET", "POST"])

    # ---- output files -----------------------------------------------------------------------
    def render(out: Output) -> tuple[bytes, str]:
        asset = store.assets.get(out.source)
        source = open(asset.path, "rb").read() if asset and asset.path else sine_wav(1.0, harmonics=3)  # noqa: SIM115
        if out.kind == "audio":
            try:
                return scale_wav(source, out.factor), "audio/wav"
            except Exception:  # not a PCM WAV: the emulator cannot separate it, so it returns the source
                return source, MIME.get(out.format, "application/octet-stream")
        words = [{"text": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(["la", "la", "love"])]
        if out.kind == "detection":
            return json.dumps([{"start_time": 0.0, "end_time": 10.0, "confidence": 0.93}]).encode(), "application/json"
        if out.kind == "txt":
            return b"la la love\n", "text/plain"
        if out.kind == "srt":
            return b"1\n00:00:00,000 --> 00:00:01,400\nla la love\n", "application/x-subrip"
        return json.dumps({"text": "la la love", "lines": [{"text": "la la love", "words": words}]}).encode(), "application/json"

    async def get_file(file_id: str, request: Request) -> Response:
        if file_id.startswith("src-"):
            asset = store.assets.get(file_id[4:])
            if asset is None or asset.path is None:
                return error(404, "file not found")
            return Response(open(asset.path, "rb").read(), media_type=MIME.get(asset.format, "application/octet-stream"))  # noqa: SIM115
        out = store.outputs.get(file_id)
        if out is None:
            return error(404, "file not found")
        if request.query_params.get("Signature") != out.signature:
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403, media_type="application/xml")
        data, media = render(out)
        return Response(data, media_type=media)

    app.add_api_route("/files/{file_id}", get_file, methods=["GET"])

    # ---- Tasks API ----------------------------------------------------------------------------
    async def post_asset(request: Request) -> Response:
        if (denied := guard(request, "tasks")) is not None:
            return denied
        asset, err = await spool_file(request)
        if asset is None:
            return err or error(400, "upload failed")
        return JSONResponse({"id": asset.id, "format": asset.format, "link": asset.link, "name": asset.name})

    async def list_assets(request: Request) -> Response:
        if (denied := guard(request, "tasks")) is not None:
            return denied
        return JSONResponse([{"id": a.id, "format": a.format, "name": a.name} for a in store.assets.values()])

    app.add_api_route("/assets", post_asset, methods=["POST"])
    app.add_api_route("/assets", list_assets, methods=["GET"])

    def task_json(task: dict[str, Any]) -> dict[str, Any]:
        phase = progress(task["created"])
        targets, pending = [], False
        for tgt in task["targets"]:
            model = tgt["model"]
            item = {k: v for k, v in tgt.items() if k not in ("outputs", "fail")}
            item.update({"cost": 4, "output": [], "duration": 2.0})
            if phase != "done":
                item["status"] = state.setting("audioshake.processing_status", "processing")
                pending = True
            elif tgt["fail"]:
                item["status"] = state.setting("audioshake.failure_status", "error")
                item["error"] = {"code": 500, "message": f"Separation of {model} failed (emulated)"}
            else:
                item["status"] = "completed"
                outs = make_outputs(tgt, model, tgt["formats"], bool(tgt.get("residual")))
                item["output"] = [{"name": o.name.rsplit(".", 1)[0] if o.name == f"{model}.{o.format}" else o.name,
                                   "format": o.format, "link": output_link(o)} for o in outs]
            item.pop("assetId", None)
            targets.append(item)
        return {"id": task["id"], "createdAt": iso(task["created"]),
                "completedAt": None if pending else iso(task["created"] + state.job_delay("audioshake")),
                "clientId": CLIENT_ID, "cost": 4 * len(targets), "assetId": task.get("assetId"),
                "url": task.get("url"), "metadata": task.get("metadata"), "targets": targets}

    async def create_task(request: Request) -> Response:
        if (denied := guard(request, "tasks")) is not None:
            return denied
        body = await json_body(request)
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object")
        if bool(body.get("url")) == bool(body.get("assetId")):
            return error(400, "exactly one of url or assetId is required")
        asset_id = body.get("assetId")
        if body.get("url"):
            if not str(body["url"]).startswith("https://"):
                return error(400, "url must be a public HTTPS URL")
            asset = Asset(id=cuid(), name=str(body["url"]).rsplit("/", 1)[-1] or "audio", format="wav", path=None,
                          link=body["url"])
            store.assets[asset.id] = asset
            asset_id = asset.id
        elif asset_id not in store.assets:
            return error(404, f"Asset {asset_id} not found")
        targets = body.get("targets")
        if not isinstance(targets, list) or not 1 <= len(targets) <= 20:
            return error(400, "targets must contain 1 to 20 items")
        clean = []
        for i, tgt in enumerate(targets):
            model = tgt.get("model") if isinstance(tgt, dict) else None
            if model not in STEMS | LYRICS | DETECTION | TASK_ONLY:
                return error(400, f"targets[{i}].model is not a known model: {model!r}")
            if not isinstance(tgt.get("formats"), list) or not tgt["formats"]:
                return error(400, f"targets[{i}].formats is required")
            fail = model in (state.setting("audioshake.fail_stems") or [])
            clean.append({**tgt, "id": cuid(), "assetId": asset_id, "fail": fail})
        task: dict[str, Any] = {"id": cuid(), "created": time.time(), "assetId": body.get("assetId"), "url": body.get("url"),
                "metadata": body.get("metadata"), "targets": clean}
        with store.lock:
            store.tasks[task["id"]] = task
        return JSONResponse(task_json(task))

    async def list_tasks(request: Request) -> Response:
        if (denied := guard(request, "tasks")) is not None:
            return denied
        try:
            skip = int(request.query_params.get("skip", 0))
            take = int(request.query_params.get("take", 10))
        except ValueError:
            return error(400, "skip and take must be integers")
        if skip < 0 or not 1 <= take <= 100:
            return error(400, "skip must be >= 0 and take 1..100")
        ordered = sorted(store.tasks.values(), key=lambda t: t["created"], reverse=True)
        return JSONResponse([task_json(t) for t in ordered[skip: skip + take]])

    async def get_task(task_id: str, request: Request) -> Response:
        if (denied := guard(request, "tasks")) is not None:
            return denied
        task = store.tasks.get(task_id)
        if task is None:
            return error(404, f"Task {task_id} not found")
        return JSONResponse(task_json(task))

    app.add_api_route("/tasks", create_task, methods=["POST"])
    app.add_api_route("/tasks", list_tasks, methods=["GET"])
    app.add_api_route("/tasks/{task_id}", get_task, methods=["GET"])

    async def models(request: Request) -> Response:
        if (denied := guard(request, "tasks")) is not None:
            return denied

        def model(mid: str, category: str, outputs: list[str]) -> dict[str, Any]:
            return {"id": mid, "name": mid.replace("_", " ").title(), "category": category,
                    "description": f"{mid} (emulated)", "access": "enabled", "creditsPerMinute": 1.0,
                    "inputs": [{"id": "audio", "description": "source audio", "required": True, "taskFields": [],
                                "formats": {"audio": ["wav", "mp3", "flac", "aiff"], "video": ["mp4", "mov"]}}],
                    "outputFormats": outputs, "limits": {"maxInputDurationSeconds": 10800}}

        items = [model(m, "instrumentStemSeparation", sorted(AUDIO_FORMATS - {"mp4"})) for m in sorted(STEMS | TASK_ONLY)]
        items += [{**model(m, "lyricTranscription", ["json", "txt", "srt"]), "supportedLanguages": sorted(LANGUAGES)}
                  for m in sorted(LYRICS)]
        items += [model("music_detection", "copyrightCompliance", ["json"])]
        return JSONResponse({"models": items})

    app.add_api_route("/models", models, methods=["GET"])
