"""Emulator of the AudioShake APIs: :class:`LegacyJobsApi` ("Groovy", ``Authorization: Bearer``) and
:class:`TasksApi` (``x-api-key``), one class each, handlers as methods, behind each API's auth dependency.

Legacy: ``POST /upload/`` (and ``/upload``), ``POST /upload/link``, ``POST /upload/audio-link``, ``POST /job/``
(and ``/job``), ``GET /job/{id}`` (``{"job": ...}`` with both ``metadata`` and ``stemMetadata``, as the seed's
example), ``GET|POST /usage``. Tasks: ``POST|GET /assets``, ``POST|GET /tasks``, ``GET /tasks/statistics``,
``GET /tasks/{id}``, ``GET /models``. Output links (``GET /files/{id}?Signature=...``) need no token, like
AudioShake's signed CDN links.

Jobs go ``created -> processing -> completed`` from their creation time and ``state.job_delay("audioshake")``.
Stems are real audio derived from the source (a scaled copy of a PCM WAV source, the source bytes otherwise); a
source that is neither audio nor video makes its jobs/targets fail. Lyric jobs return JSON / TXT / SRT.

Callbacks (loopback listeners only, through :mod:`airflow_provider_music.testing.callbacks`): a legacy job's
``callbackUrl`` gets a POST of ``{"job": ...}`` (as ``GET /job/{id}`` shows it) when the job ends; the Tasks
webhook (setting ``audioshake.webhook_url``, the Dashboard's "Webhook URL") gets a POST of the full Task object
per target that ends (``completed`` / ``error``). ``state.callbacks`` records every attempt.

Settings (``state.settings``): ``audioshake.fail_stems`` (models that fail), ``audioshake.failure_status``
(Tasks: ``error`` or ``failed``), ``audioshake.processing_status`` (and legacy ``audioshake.created_status``:
what a job shows before it processes), ``audioshake.output_layout`` (``top`` or
``source``: outputs inside ``sourceAsset`` as the legacy data-model page prints), ``audioshake.output_names``
(``{model: name}``), ``audioshake.rate_limit`` (requests per second), ``audioshake.webhook_url``,
``audioshake.credits_per_minute`` (``{model: credits}`` over the contract's price list :data:`CREDITS_PER_MINUTE`).

Cost (Tasks API): each target costs ``creditsPerMinute`` of its model (``GET /models``; ``high_quality``
variants 1.5) x the source's duration in minutes (WAV/FLAC headers of the uploaded file; 2 s for a URL source),
rounded to 4 decimals; the task's ``cost`` is the sum of its targets'. The target's ``duration`` is the source's.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.contract.audioshake import (
    AUDIO_FORMATS,
    DETECTION_MODELS,
    JOBS_LYRIC_FORMATS,
    JOBS_MODELS,
    LANGUAGES,
    LYRIC_MODELS,
    MAX_TARGETS,
    STATISTICS_NAMES,
    TASKS_MODELS,
)
from airflow_provider_music.testing.apis import BEARER, X_API_KEY
from airflow_provider_music.testing.audio import scale_wav, sine_wav
from airflow_provider_music.testing.callbacks import deliver
from airflow_provider_music.testing.emulator import require_credential

STEM_FACTORS = {"vocals": 0.9, "drums": 0.6, "bass": 0.4, "other": 0.3, "instrumental": 0.7}
MIME = {
    "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "aiff": "audio/aiff", "mp4": "video/mp4",
    "json": "application/json", "txt": "text/plain", "srt": "application/x-subrip",
}  # fmt: skip
CLIENT_ID = "clemulatorclient000000001"
#: Credits per minute of input (Tasks-era models page, contract "Duration / size / cost"); others: 1.0.
CREDITS_PER_MINUTE = {"dialogue": 1.5, "effects": 1.5, "music_fx": 1.5, "music_detection": 0.5}
#: Seconds assumed for a source whose duration the emulator cannot read (a URL source has no bytes here).
DEFAULT_SECONDS = 2.0
_MEDIA_MAGIC = (b"RIFF", b"RF64", b"ID3", b"fLaC", b"FORM", b"OggS")


class AudioShakeError(Exception):
    """An error answer ``{statusCode, error, message}`` (Fastify style)."""

    REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


async def _error_answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AudioShakeError)
    body = {"statusCode": exc.status, "error": exc.REASONS.get(exc.status, "Error"), "message": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def cuid() -> str:
    return "cl" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(23))


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def is_media(head: bytes) -> bool:
    """Audio or video container (what AudioShake accepts), judged from the first bytes."""
    return head.startswith(_MEDIA_MAGIC) or b"ftyp" in head[:12] or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


@dataclass
class Asset:
    id: str
    name: str
    format: str
    path: str | None  # spooled source bytes (None for links registered without content)
    link: str | None = None
    size: int | None = None
    media: bool = True
    created: float = field(default_factory=time.time)
    seconds: float | None = None  # duration of the audio, read once (the cost of a task depends on it)


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
            for part in (self.assets, self.jobs, self.tasks, self.outputs):
                part.clear()
            self.hits.clear()


class Shared:
    """What both APIs share: the store, rate limit, uploads, job clock, outputs, files and callbacks."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.store = Store()

    def setting(self, name: str, default: Any = None) -> Any:
        return self.state.setting(f"audioshake.{name}", default)

    def base(self) -> str:
        return str(self.state.base_url).rstrip("/")

    def rate_limit(self) -> None:
        limit, now, hits = self.setting("rate_limit"), time.monotonic(), self.store.hits
        if not limit:
            return
        with self.store.lock:
            while hits and now - hits[0] > 1.0:
                hits.popleft()
            if len(hits) >= float(limit):
                raise AudioShakeError(429, "Rate limit exceeded", headers={"Retry-After": "1"})
            hits.append(now)

    async def spool_file(self, request: Request) -> Asset:
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise AudioShakeError(400, "body must be multipart/form-data with a 'file' part")
        spooled = await self.state.spool_upload(upload)
        if spooled.size == 0:
            raise AudioShakeError(400, "uploaded file is empty")
        with open(spooled.path, "rb") as fh:
            head = fh.read(64)
        name = spooled.filename or "upload"
        fmt = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
        asset = Asset(id=cuid(), name=name, format=fmt, path=spooled.path, size=spooled.size, media=is_media(head))
        asset.link = f"{self.base()}/files/src-{asset.id}?Signature={secrets.token_urlsafe(8)}"
        with self.store.lock:
            self.store.assets[asset.id] = asset
        return asset

    @staticmethod
    def asset_json(asset: Asset) -> dict[str, Any]:
        return {"name": asset.name, "id": asset.id, "fileType": MIME.get(asset.format, "application/octet-stream"),
                "format": asset.format, "link": asset.link}

    def phase(self, created: float) -> str:
        elapsed, delay = time.time() - created, self.state.job_delay("audioshake")
        return "done" if elapsed >= delay else "created" if elapsed < delay / 4 else "processing"

    def rate(self, model: str, variant: Any = None) -> float:
        """Credits per minute of ``model`` (``audioshake.credits_per_minute`` first)."""
        custom = self.setting("credits_per_minute") or {}
        if isinstance(custom, dict) and model in custom:
            return float(custom[model])
        return 1.5 if variant == "high_quality" else CREDITS_PER_MINUTE.get(model, 1.0)

    def seconds(self, asset_id: str | None) -> float:
        """The duration of an asset's audio (read once from its bytes), else :data:`DEFAULT_SECONDS`."""
        asset = self.store.assets.get(asset_id or "")
        if asset is None or asset.path is None:
            return DEFAULT_SECONDS
        if asset.seconds is None:
            from airflow_provider_music.testing.acrcloud_common import audio_duration

            with open(asset.path, "rb") as fh:
                asset.seconds = audio_duration(fh.read()) if asset.media else DEFAULT_SECONDS
        return asset.seconds

    def fails(self, model: str, asset_id: str | None) -> bool:
        asset = self.store.assets.get(asset_id or "")
        return model in (self.setting("fail_stems") or []) or (asset is not None and not asset.media)

    def make_outputs(self, owner: dict[str, Any], model: str, formats: list[str], residual: bool) -> list[Output]:
        """Create (once) the outputs of a finished job/target."""
        if owner.get("outputs") is not None:
            return [self.store.outputs[i] for i in owner["outputs"]]
        names, outs = self.setting("output_names") or {}, []
        for f in [x for fmt in formats for x in (["json", "txt", "srt"] if fmt == "all" else [fmt])]:
            kind = "detection" if model in DETECTION_MODELS else f if model in LYRIC_MODELS else "audio"
            factor = STEM_FACTORS.get(model, 0.5)
            outs.append(Output(cuid(), names.get(model) or f"{model}.{f}", f, model, owner["assetId"], kind, factor))
            if residual and kind == "audio":
                outs.append(Output(cuid(), f"{model}_residual.{f}", f, model, owner["assetId"], "audio", 1.0 - factor))
        with self.store.lock:
            self.store.outputs.update({o.id: o for o in outs})
            owner["outputs"] = [o.id for o in outs]
        return outs

    def output_link(self, out: Output) -> str:
        return f"{self.base()}/files/{out.id}?Expires={int(time.time()) + 3600}&Signature={out.signature}"

    def render(self, out: Output) -> tuple[bytes, str]:
        asset = self.store.assets.get(out.source)
        source = open(asset.path, "rb").read() if asset and asset.path else sine_wav(1.0, harmonics=3)  # noqa: SIM115
        if out.kind == "audio":
            try:
                return scale_wav(source, out.factor), "audio/wav"
            except Exception:  # not a PCM WAV: the emulator cannot separate it, so it returns the source
                return source, MIME.get(out.format, "application/octet-stream")
        words = [{"text": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(["la", "la", "love"])]
        return {
            "detection": (json.dumps([{"start_time": 0.0, "end_time": 10.0, "confidence": 0.93}]).encode(), "application/json"),
            "txt": (b"la la love\n", "text/plain"),
            "srt": (b"1\n00:00:00,000 --> 00:00:01,400\nla la love\n", "application/x-subrip"),
        }.get(out.kind) or (json.dumps({"text": "la la love", "lines": [{"text": "la la love", "words": words}]}).encode(),
                            "application/json")

    async def get_file(self, file_id: str, request: Request) -> Response:
        """``GET /files/{id}``: a source (``src-<asset>``) or an output behind its signature."""
        if file_id.startswith("src-"):
            asset = self.store.assets.get(file_id[4:])
            if asset is None or asset.path is None:
                raise AudioShakeError(404, "file not found")
            return Response(open(asset.path, "rb").read(), media_type=MIME.get(asset.format, "application/octet-stream"))  # noqa: SIM115
        out = self.store.outputs.get(file_id)
        if out is None:
            raise AudioShakeError(404, "file not found")
        if request.query_params.get("Signature") != out.signature:
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403, media_type="application/xml")
        data, media = self.render(out)
        return Response(data, media_type=media)

    def callback_later(self, delay: float, url: str | None, payload: Callable[[], dict[str, Any] | None]) -> None:
        """POST ``payload()`` to ``url`` once ``delay`` seconds passed (loopback listeners only)."""
        if not url:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            body = payload()
            if body is not None:
                loop.create_task(self.send(url, body))

        loop.call_later(max(0.0, delay) + 0.05, fire)

    async def send(self, url: str, body: dict[str, Any]) -> None:
        """Deliver through the frame's loopback-only sender (it records every attempt)."""
        await deliver(url, body, state=self.state, api="audioshake")


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AudioShakeError(400, "body must be a JSON object")
    return body


def check_metadata(meta: Any) -> dict[str, Any]:
    """A legacy job's ``metadata`` (or ``stemMetadata``) checked like the real API's schema."""
    if not isinstance(meta, dict):
        raise AudioShakeError(400, "body/metadata is required")
    meta = dict(meta)
    name, fmt = meta.setdefault("name", meta.pop("stemName", None)), meta.get("format")
    if name not in JOBS_MODELS:
        raise AudioShakeError(400, f"body/metadata/name must be equal to one of the allowed values, got {name!r}")
    allowed = JOBS_LYRIC_FORMATS if name in LYRIC_MODELS else ("json",) if name in DETECTION_MODELS else AUDIO_FORMATS
    problems = [
        (fmt not in allowed, f"format must be one of {sorted(allowed)} for {name}"),
        ("language" in meta and meta["language"] not in LANGUAGES, "language must match pattern ^[a-zA-Z]{2}$"),
        (not _number_at_least(meta, "maxTrackLength", 20), "maxTrackLength must be >= 20"),
        (not _number_at_least(meta, "watermarkInterval", 10), "watermarkInterval must be >= 10"),
        (len(str(meta.get("customProperty", ""))) > 1000, "customProperty must NOT have more than 1000 characters"),
    ]
    for bad, message in problems:
        if bad:
            raise AudioShakeError(400, f"body/metadata/{message}")
    return meta


def _number_at_least(meta: dict[str, Any], key: str, minimum: float) -> bool:
    value = meta.get(key, minimum)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= minimum


class LegacyJobsApi:
    """The legacy Jobs API ("Groovy"): uploads, one job per model, ``{"job": ...}`` answers, callbacks."""

    def __init__(self, shared: Shared) -> None:
        self.shared, self.store = shared, shared.store

    async def upload(self, request: Request) -> Response:
        return JSONResponse(Shared.asset_json(await self.shared.spool_file(request)))

    async def upload_link(self, request: Request) -> Response:
        body = await json_body(request)
        link = body.get("link")
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise AudioShakeError(400, "body/link must be a public URL")
        name = body.get("name") or link.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "audio"
        fmt = name.rsplit(".", 1)[-1].lower() if "." in name else "wav"
        asset = Asset(id=cuid(), name=name, format=fmt, path=None, link=link)
        with self.store.lock:
            self.store.assets[asset.id] = asset
        return JSONResponse(Shared.asset_json(asset))

    async def create_job(self, request: Request) -> Response:
        body = await json_body(request)
        asset_id = body.get("assetId")
        if not isinstance(asset_id, str) or not 8 <= len(asset_id) <= 30:
            raise AudioShakeError(400, "body/assetId must NOT have fewer than 8 or more than 30 characters")
        meta = check_metadata(body.get("metadata") if "metadata" in body else body.get("stemMetadata"))
        if asset_id not in self.store.assets:
            raise AudioShakeError(404, f"Asset {asset_id} not found")
        job_id = cuid()
        job = {"id": job_id, "clientId": CLIENT_ID, "requestId": job_id, "licenseId": "", "assetId": asset_id,
               "metadata": meta, "callbackUrl": body.get("callbackUrl"), "created": time.time(),
               "fail": self.shared.fails(meta["name"], asset_id)}
        with self.store.lock:
            self.store.jobs[job_id] = job
        self.shared.callback_later(self.shared.state.job_delay("audioshake"), body.get("callbackUrl"),
                                   lambda: {"job": self.job_json(job)})
        public = {k: job[k] for k in ("id", "clientId", "requestId", "metadata", "callbackUrl")}
        return JSONResponse({"job": {**public, "status": "created"}})

    def job_json(self, job: dict[str, Any]) -> dict[str, Any]:
        """The seed's job model: ``metadata`` and ``stemMetadata`` (with ``stemName``), outputs when done."""
        meta, phase = job["metadata"], self.shared.phase(job["created"])
        processing = self.shared.setting("processing_status", "processing")
        created = self.shared.setting("created_status", "created")
        status = {"created": created, "processing": processing}.get(phase, "failed" if job["fail"] else "completed")
        out: dict[str, Any] = {k: job[k] for k in ("id", "clientId", "requestId", "licenseId")}
        out.update({"createdAt": iso(job["created"]), "startedAt": iso(job["created"] + 0.01),
                    "updatedAt": iso(time.time()), "metadata": meta,
                    "stemMetadata": {**{k: v for k, v in meta.items() if k != "name"}, "stemName": meta["name"]},
                    "callbackUrl": job["callbackUrl"], "status": status, "statusInfo": {}})
        source: dict[str, Any] = Shared.asset_json(self.store.assets[job["assetId"]])
        if status == "failed":
            out["statusInfo"] = {"code": 500, "message": f"Separation of {meta['name']} failed (emulated)", "duration": 2.0}
        elif status == "completed":
            outs = self.shared.make_outputs(job, meta["name"], [meta["format"]], bool(meta.get("residual")))
            items = [self.asset_item(o) for o in outs]
            out["statusInfo"] = {"duration": 2.0}
            if self.shared.setting("output_layout", "top") == "source":
                source.update(outputAssets=items, metadata=meta)
            else:
                out.update(stemAssets=items, outputAssets=items)
        out["sourceAsset"] = source
        return out

    def asset_item(self, out: Output) -> dict[str, Any]:
        mime = MIME.get(out.format, "application/octet-stream")
        stem = {"name": out.name, "id": out.id, "fileType": mime, "format": out.format, "path": f"{out.source}/{out.name}"}
        return {"name": out.name, "id": out.id, "fileType": mime, "format": out.format,
                "link": self.shared.output_link(out), "jobs": [{"stemAssets": [stem]}]}

    async def get_job(self, job_id: str) -> Response:
        if not 3 <= len(job_id) <= 60:
            raise AudioShakeError(400, "params/id must NOT have fewer than 3 or more than 60 characters")
        job = self.store.jobs.get(job_id)
        if job is None:
            raise AudioShakeError(404, f"Job {job_id} not found")
        return JSONResponse({"job": self.job_json(job)})

    async def usage(self) -> Response:
        jobs = len(self.store.jobs)
        return JSONResponse({"clientId": CLIENT_ID, "usage": [
            {"month": time.strftime("%Y-%m"), "totalJobs": jobs, "totalMinutes": 0.1 * jobs}]})


class TasksApi:
    """The Tasks API: assets, tasks with many targets, statistics, models, account webhook."""

    def __init__(self, shared: Shared) -> None:
        self.shared, self.store = shared, shared.store

    async def post_asset(self, request: Request) -> Response:
        asset = await self.shared.spool_file(request)
        return JSONResponse({"id": asset.id, "format": asset.format, "link": asset.link, "name": asset.name})

    async def list_assets(self) -> Response:
        assets = sorted(self.store.assets.values(), key=lambda a: a.created, reverse=True)
        return JSONResponse([{"id": a.id, "format": a.format, "name": a.name, "createdAt": iso(a.created)}
                             for a in assets if a.path is not None])

    def target_json(self, task: dict[str, Any], tgt: dict[str, Any]) -> dict[str, Any]:
        item = {k: v for k, v in tgt.items() if k not in ("outputs", "fail", "assetId")}
        seconds = self.shared.seconds(tgt["assetId"])
        cost = round(self.shared.rate(tgt["model"], tgt.get("variant")) * seconds / 60.0, 4)
        item.update({"cost": cost, "output": [], "duration": round(seconds, 3)})
        model = tgt["model"]
        if self.shared.phase(task["created"]) != "done":
            item["status"] = self.shared.setting("processing_status", "processing")
        elif tgt["fail"]:
            item["status"] = self.shared.setting("failure_status", "error")
            item["error"] = {"code": 500, "message": f"Separation of {model} failed (emulated)"}
        else:
            item["status"] = "completed"
            outs = self.shared.make_outputs(tgt, model, tgt["formats"], bool(tgt.get("residual")))
            item["output"] = [{"name": o.name.rsplit(".", 1)[0] if o.name == f"{model}.{o.format}" else o.name,
                               "format": o.format, "link": self.shared.output_link(o)} for o in outs]
        return item

    def task_json(self, task: dict[str, Any]) -> dict[str, Any]:
        targets = [self.target_json(task, t) for t in task["targets"]]
        pending = any(t["status"] not in ("completed", "error", "failed") for t in targets)
        return {"id": task["id"], "createdAt": iso(task["created"]),
                "completedAt": None if pending else iso(task["created"] + self.shared.state.job_delay("audioshake")),
                "clientId": CLIENT_ID, "cost": round(sum(t["cost"] for t in targets), 4), "assetId": task.get("assetId"),
                "url": task.get("url"), "metadata": task.get("metadata"), "targets": targets}

    def source_of(self, body: dict[str, Any]) -> str:
        if bool(body.get("url")) == bool(body.get("assetId")):
            raise AudioShakeError(400, "exactly one of url or assetId is required")
        if body.get("url"):
            if not str(body["url"]).startswith("https://"):
                raise AudioShakeError(400, "url must be a public HTTPS URL")
            asset = Asset(id=cuid(), name=str(body["url"]).rsplit("/", 1)[-1] or "audio", format="wav", path=None,
                          link=body["url"])
            self.store.assets[asset.id] = asset
            return asset.id
        if body["assetId"] not in self.store.assets:
            raise AudioShakeError(404, f"Asset {body['assetId']} not found")
        return str(body["assetId"])

    def check_targets(self, targets: Any, asset_id: str) -> list[dict[str, Any]]:
        if not isinstance(targets, list) or not 1 <= len(targets) <= MAX_TARGETS:
            raise AudioShakeError(400, f"targets must contain 1 to {MAX_TARGETS} items")
        clean = []
        for i, tgt in enumerate(targets):
            model = tgt.get("model") if isinstance(tgt, dict) else None
            if model not in TASKS_MODELS:
                raise AudioShakeError(400, f"targets[{i}].model is not a known model: {model!r}")
            if not isinstance(tgt.get("formats"), list) or not tgt["formats"]:
                raise AudioShakeError(400, f"targets[{i}].formats is required")
            clean.append({**tgt, "id": cuid(), "assetId": asset_id, "fail": self.shared.fails(model, asset_id)})
        return clean

    async def create_task(self, request: Request) -> Response:
        body = await json_body(request)
        asset_id = self.source_of(body)
        destination = body.get("writeDestination")
        if destination is not None and not isinstance(destination, dict):
            raise AudioShakeError(400, "body/writeDestination must be an object")
        task: dict[str, Any] = {"id": cuid(), "created": time.time(), "assetId": body.get("assetId"),
                                "url": body.get("url"), "metadata": body.get("metadata"),
                                "targets": self.check_targets(body.get("targets"), asset_id)}
        if destination is not None:
            task["writeDestination"] = destination
        with self.store.lock:
            self.store.tasks[task["id"]] = task
        for _ in task["targets"]:  # the webhook fires once per target that ends
            self.shared.callback_later(self.shared.state.job_delay("audioshake"), self.shared.setting("webhook_url"),
                                       lambda: self.task_json(task))
        return JSONResponse(self.task_json(task))

    async def list_tasks(self, request: Request) -> Response:
        try:
            skip, take = int(request.query_params.get("skip", 0)), int(request.query_params.get("take", 10))
        except ValueError:
            raise AudioShakeError(400, "skip and take must be integers") from None
        if skip < 0 or not 1 <= take <= 100:
            raise AudioShakeError(400, "skip must be >= 0 and take 1..100")
        ordered = sorted(self.store.tasks.values(), key=lambda t: t["created"], reverse=True)
        return JSONResponse([self.task_json(t) for t in ordered[skip: skip + take]])

    async def statistics(self, request: Request) -> Response:
        """``GET /tasks/statistics?name=usage|distribution``: per month, targets and minutes (a string)."""
        name = request.query_params.get("name", "usage")
        if name not in STATISTICS_NAMES:
            raise AudioShakeError(400, f"querystring/name must be one of {list(STATISTICS_NAMES)}")
        months: dict[str, int] = {}
        for task in self.store.tasks.values():
            month = time.strftime("%Y-%m", time.gmtime(task["created"]))
            months[month] = months.get(month, 0) + len(task["targets"])
        return JSONResponse([{"month": m, "totalTargets": n, "totalMinutes": f"{n * 0.1:.4f}"}
                             for m, n in sorted(months.items(), reverse=True)])

    async def get_task(self, task_id: str) -> Response:
        task = self.store.tasks.get(task_id)
        if task is None:
            raise AudioShakeError(404, f"Task {task_id} not found")
        return JSONResponse(self.task_json(task))

    async def models(self) -> Response:
        def model(mid: str, category: str, outputs: list[str]) -> dict[str, Any]:
            formats = {"audio": ["wav", "mp3", "flac", "aiff"], "video": ["mp4", "mov"]}
            return {"id": mid, "name": mid.replace("_", " ").title(), "category": category,
                    "description": f"{mid} (emulated)", "access": "enabled", "creditsPerMinute": self.shared.rate(mid),
                    "inputs": [{"id": "audio", "description": "source audio", "required": True, "taskFields": [],
                                "formats": formats}], "outputFormats": outputs, "limits": {"maxInputDurationSeconds": 10800}}

        stems = sorted(TASKS_MODELS - LYRIC_MODELS - DETECTION_MODELS)
        items = [model(m, "instrumentStemSeparation", sorted(set(AUDIO_FORMATS) - {"mp4"})) for m in stems]
        items += [{**model(m, "lyricTranscription", ["json", "txt", "srt"]), "supportedLanguages": sorted(LANGUAGES)}
                  for m in sorted(LYRIC_MODELS)]
        items += [model("music_detection", "copyrightCompliance", ["json"])]
        return JSONResponse({"models": items})


def register(app: Any, state: Any) -> None:
    """Mount both AudioShake APIs (each behind its auth dependency) and the signed output files."""
    shared = Shared(state)
    state.apis["audioshake"] = shared.store
    state.on_reset(shared.store.reset)
    jobs, tasks = LegacyJobsApi(shared), TasksApi(shared)
    legacy = APIRouter(dependencies=[Depends(shared.rate_limit), Depends(require_credential(
        BEARER, deny=lambda: AudioShakeError(401, "Invalid or missing API token (Authorization: Bearer <token>)")))])
    routes: tuple[tuple[list[str], tuple[str, ...], Callable[..., Any]], ...] = (
        (["POST"], ("/upload/", "/upload"), jobs.upload), (["POST"], ("/upload/link",), jobs.upload_link),
        (["POST"], ("/upload/audio-link",), jobs.upload_link), (["POST"], ("/job/", "/job"), jobs.create_job),
        (["GET"], ("/job/{job_id}",), jobs.get_job), (["GET", "POST"], ("/usage",), jobs.usage),
    )
    for methods, paths, handler in routes:
        for path in paths:
            legacy.add_api_route(path, handler, methods=methods)
    current = APIRouter(dependencies=[Depends(shared.rate_limit), Depends(require_credential(
        X_API_KEY, deny=lambda: AudioShakeError(401, "Invalid or missing API token (x-api-key)")))])
    task_routes: tuple[tuple[str, str, Callable[..., Any]], ...] = (
        ("POST", "/assets", tasks.post_asset), ("GET", "/assets", tasks.list_assets),
        ("POST", "/tasks", tasks.create_task), ("GET", "/tasks", tasks.list_tasks),
        ("GET", "/tasks/statistics", tasks.statistics), ("GET", "/tasks/{task_id}", tasks.get_task),
        ("GET", "/models", tasks.models),
    )
    for method, path, handler in task_routes:
        current.add_api_route(path, handler, methods=[method])
    app.include_router(legacy)
    app.include_router(current)
    app.add_api_route("/files/{file_id}", shared.get_file, methods=["GET"])
    app.add_exception_handler(AudioShakeError, _error_answer)
