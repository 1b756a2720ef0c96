"""AudioShake hook: stem separation and lyric transcription through the legacy Jobs API or the Tasks API.

One hook, two APIs, chosen by the connection extra ``api``:

* ``jobs`` (default) - the legacy "Groovy" Jobs API at ``https://groovy.audioshake.ai`` with
  ``Authorization: Bearer <token>``: ``POST /upload/`` -> ``POST /job/`` (one model per job) -> ``GET /job/{id}``.
* ``tasks`` - the current Tasks API at ``https://api.audioshake.ai`` with ``x-api-key: <key>``:
  ``POST /assets`` -> ``POST /tasks`` (many targets per task) -> ``GET /tasks/{id}``.

Every input is validated against the documented enums and bounds before a request is sent. Status
parsing is pure (:func:`job_state`, :func:`target_state`, :func:`combine_states`) and shared by the sync
``separation_status`` and async ``aseparation_status`` twins that operators, the sensor and the trigger use.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow_provider_music.core import (
    ApiSettings,
    ClientRequestError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    MusicApiError,
    MusicApiHook,
    NotFoundError,
    PollResult,
    check_audio_content,
    error_from_response,
    redact_url,
    resolve_source,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

JOBS_BASE_URL = "https://groovy.audioshake.ai/"
TASKS_BASE_URL = "https://api.audioshake.ai/"
APIS = ("jobs", "tasks")

#: Separation models of the legacy ``POST /job/`` enum (``metadata.name``).
STEM_MODELS = frozenset(
    {
        "instrumental", "vocals", "drums", "bass", "other", "guitar", "other-x-guitar", "wind", "speech",
        "music", "dialogue", "piano", "music_fx", "music_removal",
    }
)  # fmt: skip
#: Lyric models (transcription / alignment): text formats and a ``language``.
LYRIC_MODELS = frozenset({"transcription", "alignment"})
#: Music detection (JSON output only).
DETECTION_MODELS = frozenset({"music_detection"})
#: Models only the Tasks API documents.
TASKS_ONLY_MODELS = frozenset(
    {"strings", "vocals_lead", "vocals_backing", "guitar_electric", "guitar_acoustic", "effects", "multi_voice"}
)
JOBS_MODELS = STEM_MODELS | LYRIC_MODELS | DETECTION_MODELS
TASKS_MODELS = JOBS_MODELS | TASKS_ONLY_MODELS

AUDIO_FORMATS = ("wav", "flac", "mp3", "aiff", "mp4")
JOBS_LYRIC_FORMATS = ("json", "txt", "srt", "all")
TASKS_LYRIC_FORMATS = ("json", "txt", "srt")
DETECTION_FORMATS = ("json",)

LANGUAGES = frozenset(
    "af ar az be bg bs ca cs cy da de el en es et fa fi fr gl he hi hr hu hy id is it ja kk kn ko lt lv mi "
    "mk mr ms ne nl no pl pt ro ru sk sl sr sv sw ta th tl tr uk ur vi zh auto".split()
)
TASK_VARIANTS = ("high_quality", "two_speaker", "n_speaker")
MAX_TARGETS = 20

JOB_RUNNING = frozenset({"created", "processing", "queued", "pending", "started", "running"})
JOB_DONE = frozenset({"completed", "complete", "succeeded", "success", "done"})
JOB_FAILED = frozenset({"failed", "error", "errored", "cancelled", "canceled"})


# --------------------------------------------------------------------------------------------------
# Validation helpers (pure)
# --------------------------------------------------------------------------------------------------
def model_family(model: str) -> str:
    """``audio`` (stems), ``lyrics`` (transcription/alignment) or ``detection`` (music_detection)."""
    if model in LYRIC_MODELS:
        return "lyrics"
    if model in DETECTION_MODELS:
        return "detection"
    return "audio"


def allowed_formats(model: str, api: str = "jobs") -> tuple[str, ...]:
    family = model_family(model)
    if family == "lyrics":
        return JOBS_LYRIC_FORMATS if api == "jobs" else TASKS_LYRIC_FORMATS
    if family == "detection":
        return DETECTION_FORMATS
    return AUDIO_FORMATS


def validate_model(model: Any, api: str = "jobs", *, argument: str = "name") -> str:
    models = JOBS_MODELS if api == "jobs" else TASKS_MODELS
    if not isinstance(model, str) or model not in models:
        raise InvalidInputError(
            f"{argument} must be one of the AudioShake {api} API models {sorted(models)}, got {model!r}"
        )
    return model


def validate_format(model: str, fmt: Any, api: str = "jobs", *, argument: str = "format") -> str:
    allowed = allowed_formats(model, api)
    if not isinstance(fmt, str) or fmt.lower() not in allowed:
        raise InvalidInputError(f"{argument} for model {model!r} must be one of {list(allowed)}, got {fmt!r}")
    return fmt.lower()


def validate_language(language: Any, *, argument: str = "language") -> str:
    if not isinstance(language, str) or not (language == "auto" or re.fullmatch(r"[a-zA-Z]{2}", language)):
        raise InvalidInputError(f"{argument} must be a 2-letter language code or 'auto', got {language!r}")
    if language.lower() not in LANGUAGES:
        raise InvalidInputError(f"{argument} must be one of {sorted(LANGUAGES)}, got {language!r}")
    return language.lower()


def validate_asset_id(asset_id: Any, *, argument: str = "asset_id") -> str:
    if not isinstance(asset_id, str) or not 8 <= len(asset_id) <= 30:
        raise InvalidInputError(f"{argument} must be an AudioShake asset id of 8 to 30 characters, got {asset_id!r}")
    return asset_id


def validate_job_id(job_id: Any, *, argument: str = "job_id") -> str:
    if not isinstance(job_id, str) or not 3 <= len(job_id) <= 60:
        raise InvalidInputError(f"{argument} must be an id of 3 to 60 characters, got {job_id!r}")
    return job_id


def validate_public_url(url: Any, *, argument: str) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise InvalidInputError(f"{argument} must be a public http(s) URL, got {redact_url(str(url))!r}")
    return url


def _number(value: Any, *, argument: str, minimum: float) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{argument} must be a number >= {minimum:g}, got {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{argument} must be >= {minimum:g}, got {value!r}")
    return value


def _boolean(value: Any, *, argument: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{argument} must be true or false, got {value!r}")
    return value


def validate_target(target: Any, *, index: int = 0) -> dict[str, Any]:
    """Validate one Tasks API target ``{model, formats, residual?, variant?, language?, ...}``."""
    where = f"targets[{index}]"
    if not isinstance(target, Mapping):
        raise InvalidInputError(f"{where} must be a dict with 'model' and 'formats', got {target!r}")
    out = dict(target)
    model = validate_model(out.get("model"), "tasks", argument=f"{where}.model")
    formats = out.get("formats")
    if isinstance(formats, str):
        formats = [formats]
    if not isinstance(formats, list) or not formats:
        raise InvalidInputError(f"{where}.formats must be a non-empty list of formats, got {formats!r}")
    out["formats"] = [validate_format(model, f, "tasks", argument=f"{where}.formats") for f in formats]
    if out.get("residual") is not None:
        _boolean(out["residual"], argument=f"{where}.residual")
    if out.get("variant") is not None and out["variant"] not in TASK_VARIANTS:
        raise InvalidInputError(f"{where}.variant must be one of {list(TASK_VARIANTS)}, got {out['variant']!r}")
    if out.get("language") is not None:
        out["language"] = validate_language(out["language"], argument=f"{where}.language")
    if out.get("transcriptUrl") is not None:
        validate_public_url(out["transcriptUrl"], argument=f"{where}.transcriptUrl")
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------------------------------------
# Response parsing (pure)
# --------------------------------------------------------------------------------------------------
def unwrap_job(body: Any, *, job_id: str | None = None) -> dict[str, Any]:
    """``{"job": {...}}`` (documented) or a flat job object -> the job dict."""
    if isinstance(body, Mapping) and isinstance(body.get("job"), Mapping):
        return dict(body["job"])
    if isinstance(body, Mapping) and ("status" in body or "id" in body):
        return dict(body)
    raise InvalidResponseError(f"AudioShake job {job_id or ''} answer is not a job object: {str(body)[:200]}")


def job_metadata(job: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` or the legacy ``stemMetadata`` (top level or under ``sourceAsset``), ``stemName`` -> ``name``."""
    candidates: list[Any] = [job.get("metadata"), job.get("stemMetadata")]
    source = job.get("sourceAsset")
    if isinstance(source, Mapping):
        candidates += [source.get("metadata"), source.get("stemMetadata")]
    for meta in candidates:
        if isinstance(meta, Mapping) and meta:
            out = dict(meta)
            if "name" not in out and out.get("stemName"):
                out["name"] = out["stemName"]
            return out
    return {}


def job_outputs(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Downloadable outputs of a job: ``outputAssets`` and ``stemAssets``, top level or under ``sourceAsset``.

    Duplicates (the same asset listed in several places) are dropped; entries without a link are skipped.
    """
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    holders: list[Any] = [job]
    if isinstance(job.get("sourceAsset"), Mapping):
        holders.append(job["sourceAsset"])
    for holder in holders:
        for key in ("outputAssets", "stemAssets"):
            items = holder.get(key)
            if not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, Mapping) or not item.get("link"):
                    continue
                ident = str(item.get("id") or "") + "|" + str(item.get("name") or "") + "|" + str(item["link"]).split("?")[0]
                if ident in seen:
                    continue
                seen.add(ident)
                found.append(dict(item))
    return found


def _status_info_message(info: Any) -> str:
    if isinstance(info, Mapping):
        code, message = info.get("code"), info.get("message")
        parts = [str(p) for p in (code, message) if p not in (None, "")]
        return " ".join(parts)
    return str(info or "")


def _state(status_value: Any, error_info: Any) -> tuple[str, str]:
    """``(running|success|failed, message)`` from an API status; unknown statuses count as running."""
    status = str(status_value or "").lower()
    if status in JOB_DONE:
        return "success", status
    if status in JOB_FAILED:
        return "failed", _status_info_message(error_info) or status
    if status in JOB_RUNNING:
        return "running", status
    return "running", f"unknown status {status or 'none'!r}, treated as still running"


def job_state(job: Mapping[str, Any]) -> tuple[str, str]:
    """State of one legacy job (failure details in ``statusInfo``)."""
    return _state(job.get("status"), job.get("statusInfo"))


def target_state(target: Mapping[str, Any]) -> tuple[str, str]:
    """State of one Tasks API target (``error`` and ``failed`` both fail; details in ``error``)."""
    return _state(target.get("status"), target.get("error"))


def task_outputs(target: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Outputs of one Tasks API target as ``{name, format, link}`` (name gets its extension)."""
    found = []
    for item in target.get("output") or []:
        if isinstance(item, Mapping) and item.get("link"):
            out = dict(item)
            name, fmt = str(out.get("name") or target.get("model") or "output"), str(out.get("format") or "")
            if fmt and not name.lower().endswith("." + fmt.lower()):
                name = f"{name}.{fmt}"
            out["name"] = name
            found.append(out)
    return found


def combine_states(items: Sequence[tuple[str, str, str, str]], *, wait_all: bool = True) -> PollResult:
    """Combine ``(label, id, state, message)`` of several jobs/targets into one :class:`PollResult`.

    ``wait_all`` waits until every item is terminal before reporting a failure (so an operator can still
    download the stems that succeeded); otherwise the first failure is reported at once (sensors).
    """
    states = {label: {"id": ident, "state": state, "message": message} for label, ident, state, message in items}
    payload = {"items": states}
    failed = [(label, ident, message) for label, ident, state, message in items if state == "failed"]
    running = [label for label, _, state, _ in items if state == "running"]
    if not items:
        return PollResult("failed", "nothing to wait for", payload)
    if failed and (not wait_all or not running):
        text = "; ".join(f"{label} ({ident}): {message}" for label, ident, message in failed)
        return PollResult("failed", f"AudioShake {len(failed)} of {len(items)} failed: {text}", payload)
    if running:
        detail = ", ".join(f"{label}={states[label]['message']}" for label in running)
        return PollResult("running", f"{len(items) - len(running)} of {len(items)} done; waiting for {detail}", payload)
    return PollResult("success", f"all {len(items)} completed", payload)


def normalise_ids(value: Any, *, argument: str) -> dict[str, str]:
    """``"id"``, ``"a,b"``, a JSON list/dict string, a list or a ``{label: id}`` dict -> ``{label: id}``."""
    if value is None or value == "" or value == [] or value == {}:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{")):
            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidInputError(f"{argument}: not valid JSON: {text[:100]!r}") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        pairs = [(str(v), v) for v in value]
    else:
        raise InvalidInputError(f"{argument} must be an id, a list of ids or a {{label: id}} dict, got {value!r}")
    return {label: validate_job_id(ident, argument=argument) for label, ident in pairs}


# --------------------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------------------
class AudioShakeHook(MusicApiHook):
    """Talk to AudioShake (legacy Jobs API or Tasks API, per the connection extra ``api``).

    Connection: password = API token (legacy JWT or Tasks API key); extra ``api`` = ``jobs`` | ``tasks``;
    optional host / extra ``base_url`` to point elsewhere (emulator, staging).
    """

    conn_name_attr = "conn_id"
    default_conn_name = "audioshake_default"
    conn_type = "audioshake"
    hook_name = "AudioShake"
    default_base_url = JOBS_BASE_URL

    # ---- connection -------------------------------------------------------------------------
    def _make_settings(self, conn: Any) -> ApiSettings:
        raw = getattr(conn, "extra", None) or {}
        try:
            extras = raw if isinstance(raw, Mapping) else json.loads(raw)
        except ValueError:
            extras = {}
        api = self._api_from_extras(extras if isinstance(extras, Mapping) else {})
        self.default_base_url = TASKS_BASE_URL if api == "tasks" else JOBS_BASE_URL
        return super()._make_settings(conn)

    @staticmethod
    def _api_from_extras(extras: Mapping[str, Any]) -> str:
        value = extras.get("api") or extras.get("extra__audioshake__api") or "jobs"
        api = str(value).strip().lower()
        if api not in APIS:
            raise ConfigurationError(f"AudioShake connection extra 'api' must be 'jobs' or 'tasks', got {value!r}")
        return api

    @staticmethod
    def api_of(settings: ApiSettings) -> str:
        return AudioShakeHook._api_from_extras(settings.extras)

    @property
    def api(self) -> str:
        """``jobs`` (legacy) or ``tasks``, from the connection."""
        return self.api_of(self.settings)

    def auth_headers(self, settings: ApiSettings) -> dict[str, str]:
        if self.api_of(settings) == "tasks":
            return {"x-api-key": settings.token}
        return {"Authorization": f"Bearer {settings.token}"}

    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        """Fastify-style bodies ``{statusCode, error, message}``: report the message, not the reason phrase."""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str) and isinstance(body.get("error"), str):
            text = json.dumps({"message": f"{body['error']}: {body['message']}", **{k: v for k, v in body.items() if k not in ("error", "message")}})
        return error_from_response(method, url, status, headers, text)

    def _require(self, api: str, method: str) -> None:
        if self.api != api:
            other = "tasks" if api == "jobs" else "jobs"
            raise ConfigurationError(
                f"AudioShakeHook.{method} needs a connection with extra api={api!r}; connection "
                f"{self.conn_id!r} uses the {other!r} API"
            )

    def check_connection(self) -> None:
        """Cheap authenticated call: ``GET /usage`` (jobs) or ``GET /tasks?take=1`` (tasks)."""
        if self.api == "tasks":
            self.list_tasks(skip=0, take=1)
            return
        try:  # the usage doc's curl uses POST, public clients use GET: accept either
            self.request_json("GET", "usage")
        except (NotFoundError, ClientRequestError) as exc:
            if exc.status not in (404, 405):
                raise
            self.request_json("POST", "usage", idempotent=True)

    # ---- legacy Jobs API --------------------------------------------------------------------
    def upload_file(self, source: Any, *, filename: str | None = None) -> dict[str, Any]:
        """``POST /upload/``: stream a local path / ``ObjectStoragePath`` / binary file object as multipart."""
        self._require("jobs", "upload_file")
        return self._upload(source, "upload/", filename)

    def upload_link(self, link: str, name: str | None = None, *, audio: bool = False) -> dict[str, Any]:
        """``POST /upload/link`` (or ``/upload/audio-link`` with ``audio=True``): register a public URL."""
        validate_public_url(link, argument="link")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidInputError(f"name must be a non-empty string, got {name!r}")
        self._require("jobs", "upload_link")
        body = {"link": link, **({"name": name} if name else {})}
        self.log.info("Registering AudioShake asset from %s", redact_url(link))
        return self._asset(self.request_json("POST", "upload/audio-link" if audio else "upload/link", json_body=body))

    def create_job(
        self,
        asset_id: str,
        *,
        name: str,
        format: str,  # noqa: A002 - the API's field name
        callback_url: str | None = None,
        residual: bool | None = None,
        language: str | None = None,
        max_track_length: float | None = None,
        preview: bool | None = None,
        watermark_interval: float | None = None,
        custom_property: str | None = None,
        other_source_assets: list[dict[str, Any]] | None = None,
        extra_metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /job/``: one model on one asset. Returns the job (``{"job": ...}`` unwrapped).

        When the create fails after it may have reached AudioShake, the raised error has
        ``request_may_have_been_processed=True``: the job may exist (the legacy API has no way to look it up).
        """
        body = self.build_job_body(
            asset_id,
            name=name,
            format=format,
            callback_url=callback_url,
            residual=residual,
            language=language,
            max_track_length=max_track_length,
            preview=preview,
            watermark_interval=watermark_interval,
            custom_property=custom_property,
            other_source_assets=other_source_assets,
            extra_metadata=extra_metadata,
        )
        self._require("jobs", "create_job")
        job = unwrap_job(self.request_json("POST", "job/", json_body=body))
        if not job.get("id"):
            raise InvalidResponseError(f"AudioShake POST /job/ answer has no job id: {str(job)[:200]}")
        self.log.info("Created AudioShake job %s (%s, %s) on asset %s", job["id"], name, format, asset_id)
        return job

    @staticmethod
    def build_job_body(
        asset_id: str,
        *,
        name: str,
        format: str,  # noqa: A002
        callback_url: str | None = None,
        residual: bool | None = None,
        language: str | None = None,
        max_track_length: float | None = None,
        preview: bool | None = None,
        watermark_interval: float | None = None,
        custom_property: str | None = None,
        other_source_assets: list[dict[str, Any]] | None = None,
        extra_metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The validated ``POST /job/`` body (pure; raises :class:`InvalidInputError`)."""
        validate_asset_id(asset_id)
        validate_model(name, "jobs")
        metadata: dict[str, Any] = {"format": validate_format(name, format, "jobs"), "name": name}
        family = model_family(name)
        if language is not None:
            if family != "lyrics":
                raise InvalidInputError(f"language only applies to transcription/alignment jobs, not {name!r}")
            metadata["language"] = validate_language(language)
        if residual is not None:
            metadata["residual"] = _boolean(residual, argument="residual")
        if preview is not None:
            metadata["preview"] = _boolean(preview, argument="preview")
        if max_track_length is not None:
            metadata["maxTrackLength"] = _number(max_track_length, argument="max_track_length", minimum=20)
        if watermark_interval is not None:
            metadata["watermarkInterval"] = _number(watermark_interval, argument="watermark_interval", minimum=10)
        if custom_property is not None:
            if not isinstance(custom_property, str) or len(custom_property) > 1000:
                raise InvalidInputError("custom_property must be a string of at most 1000 characters")
            metadata["customProperty"] = custom_property
        for key, value in (extra_metadata or {}).items():
            if key in metadata:
                raise InvalidInputError(f"extra_metadata must not repeat {key!r}; use the named argument")
            metadata[key] = value
        body: dict[str, Any] = {"assetId": asset_id, "metadata": metadata}
        if callback_url is not None:
            validate_public_url(callback_url, argument="callback_url")
            body["callbackUrl"] = callback_url
        if other_source_assets is not None:
            if not isinstance(other_source_assets, list) or not all(
                isinstance(a, Mapping) and a.get("id") and a.get("type") == "transcription" for a in other_source_assets
            ):
                raise InvalidInputError("other_source_assets must be a list of {'id': ..., 'type': 'transcription'}")
            body["otherSourceAssets"] = other_source_assets
        return body

    def get_job(self, job_id: str) -> dict[str, Any]:
        """``GET /job/{id}``: the seed's job model (unwrapped from ``{"job": ...}``)."""
        validate_job_id(job_id)
        self._require("jobs", "get_job")
        return unwrap_job(self.request_json("GET", f"job/{quote(job_id, safe='')}"), job_id=job_id)

    async def aget_job(self, job_id: str) -> dict[str, Any]:
        validate_job_id(job_id)
        return unwrap_job(await self.arequest_json("GET", f"job/{quote(job_id, safe='')}"), job_id=job_id)

    def download_asset(self, link: str, destination: Any) -> ObjectStoragePath:
        """Stream an output link (signed, possibly on another host) to ``destination`` atomically."""
        validate_public_url(link, argument="link")
        return self.download(link, destination)

    # ---- Tasks API --------------------------------------------------------------------------
    def upload_asset(self, source: Any, *, filename: str | None = None) -> dict[str, Any]:
        """``POST /assets``: stream a file as multipart ``file``; returns ``{id, format, link, name}``."""
        self._require("tasks", "upload_asset")
        return self._upload(source, "assets", filename)

    @staticmethod
    def build_task_body(
        asset_id_or_url: str, targets: Sequence[Mapping[str, Any]], *, metadata: str | None = None
    ) -> dict[str, Any]:
        """The validated ``POST /tasks`` body (pure)."""
        body: dict[str, Any] = {}
        if isinstance(asset_id_or_url, str) and asset_id_or_url.startswith(("http://", "https://")):
            body["url"] = validate_public_url(asset_id_or_url, argument="url")
            if not asset_id_or_url.startswith("https://"):
                raise InvalidInputError("url must be a public HTTPS URL (the Tasks API accepts HTTPS only)")
        else:
            body["assetId"] = validate_asset_id(asset_id_or_url, argument="asset_id_or_url")
        if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence) or not targets:
            raise InvalidInputError(f"targets must be a non-empty list of target dicts, got {targets!r}")
        if len(targets) > MAX_TARGETS:
            raise InvalidInputError(f"targets: at most {MAX_TARGETS} targets per task, got {len(targets)}")
        body["targets"] = [validate_target(t, index=i) for i, t in enumerate(targets)]
        if metadata is not None:
            if not isinstance(metadata, str):
                raise InvalidInputError(f"metadata must be a string, got {type(metadata).__name__}")
            body["metadata"] = metadata
        return body

    def create_task(
        self, asset_id_or_url: str, targets: Sequence[Mapping[str, Any]], *, metadata: str | None = None
    ) -> dict[str, Any]:
        """``POST /tasks`` with an asset id (or a public HTTPS URL) and 1..20 targets; returns the Task."""
        body = self.build_task_body(asset_id_or_url, targets, metadata=metadata)
        self._require("tasks", "create_task")
        task = self.request_json("POST", "tasks", json_body=body)
        if not isinstance(task, Mapping) or not task.get("id"):
            raise InvalidResponseError(f"AudioShake POST /tasks answer has no task id: {str(task)[:200]}")
        self.log.info("Created AudioShake task %s with %d target(s)", task["id"], len(body["targets"]))
        return dict(task)

    def get_task(self, task_id: str) -> dict[str, Any]:
        """``GET /tasks/{id}``: the flat Task object."""
        validate_job_id(task_id, argument="task_id")
        self._require("tasks", "get_task")
        return self._task(self.request_json("GET", f"tasks/{quote(task_id, safe='')}"), task_id)

    async def aget_task(self, task_id: str) -> dict[str, Any]:
        validate_job_id(task_id, argument="task_id")
        return self._task(await self.arequest_json("GET", f"tasks/{quote(task_id, safe='')}"), task_id)

    def list_tasks(self, skip: int = 0, take: int = 10) -> list[dict[str, Any]]:
        """``GET /tasks?skip=&take=`` (skip >= 0, take 1..100), newest first."""
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise InvalidInputError(f"skip must be an integer >= 0, got {skip!r}")
        if isinstance(take, bool) or not isinstance(take, int) or not 1 <= take <= 100:
            raise InvalidInputError(f"take must be an integer from 1 to 100, got {take!r}")
        self._require("tasks", "list_tasks")
        body = self.request_json("GET", "tasks", params={"skip": skip, "take": take})
        if isinstance(body, Mapping) and isinstance(body.get("tasks"), list):
            body = body["tasks"]
        if not isinstance(body, list):
            raise InvalidResponseError(f"AudioShake GET /tasks answer is not a list: {str(body)[:200]}")
        return [dict(t) for t in body if isinstance(t, Mapping)]

    def find_task(self, metadata: str, *, max_pages: int = 3) -> dict[str, Any] | None:
        """The newest task whose ``metadata`` equals ``metadata`` (used after an ambiguous create)."""
        for page in range(max_pages):
            tasks = self.list_tasks(skip=page * 100, take=100)
            for task in tasks:
                if task.get("metadata") == metadata:
                    return task
            if len(tasks) < 100:
                break
        return None

    def list_models(self) -> list[dict[str, Any]]:
        """``GET /models``: the models the account can use (``{"models": [...]}`` unwrapped)."""
        self._require("tasks", "list_models")
        body = self.request_json("GET", "models")
        models = body.get("models") if isinstance(body, Mapping) else body
        if not isinstance(models, list):
            raise InvalidResponseError(f"AudioShake GET /models answer has no model list: {str(body)[:200]}")
        return models

    # ---- status (sync and async twins) --------------------------------------------------------
    def separation_status(
        self,
        jobs: Any = None,
        tasks: Any = None,
        wait_all: bool = True,
    ) -> PollResult:
        """State of legacy ``jobs`` and/or Tasks API ``tasks`` (ids, lists or ``{label: id}`` dicts).

        With ``tasks={"vocals": "task1"}`` only the ``vocals`` target of ``task1`` counts; with plain task
        ids every target of each task counts.
        """
        job_map, task_map = normalise_ids(jobs, argument="jobs"), normalise_ids(tasks, argument="tasks")
        items = [self._job_item(label, ident, self.get_job(ident)) for label, ident in job_map.items()]
        fetched = {ident: self.get_task(ident) for ident in dict.fromkeys(task_map.values())}
        items += self._task_items(task_map, fetched)
        return combine_states(items, wait_all=wait_all)

    async def aseparation_status(
        self,
        jobs: Any = None,
        tasks: Any = None,
        wait_all: bool = True,
    ) -> PollResult:
        """Async twin of :meth:`separation_status` (for triggers)."""
        job_map, task_map = normalise_ids(jobs, argument="jobs"), normalise_ids(tasks, argument="tasks")
        job_bodies = await asyncio.gather(*(self.aget_job(ident) for ident in job_map.values()))
        items = [self._job_item(label, ident, job) for (label, ident), job in zip(job_map.items(), job_bodies, strict=True)]
        task_ids = list(dict.fromkeys(task_map.values()))
        task_bodies = await asyncio.gather(*(self.aget_task(ident) for ident in task_ids))
        items += self._task_items(task_map, dict(zip(task_ids, task_bodies, strict=True)))
        return combine_states(items, wait_all=wait_all)

    @staticmethod
    def _job_item(label: str, ident: str, job: Mapping[str, Any]) -> tuple[str, str, str, str]:
        state, message = job_state(job)
        if label == ident:  # a plain list of ids: label each job with its model
            label = str(job_metadata(job).get("name") or ident)
        return label, ident, state, message

    @staticmethod
    def _task_items(task_map: Mapping[str, str], fetched: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
        items: list[tuple[str, str, str, str]] = []
        for label, ident in task_map.items():
            targets = [t for t in (fetched[ident].get("targets") or []) if isinstance(t, Mapping)]
            if label != ident:  # {model: task_id}: only that model's target
                targets = [t for t in targets if t.get("model") == label]
                if not targets:
                    items.append((label, ident, "failed", f"task has no target for model {label!r}"))
                    continue
            for target in targets:
                state, message = target_state(target)
                items.append((str(target.get("model") or label), ident, state, message))
            if not targets:
                items.append((label, ident, "running", "task has no targets yet"))
        return items

    # ---- internals --------------------------------------------------------------------------
    def _upload(self, source: Any, path: str, filename: str | None) -> dict[str, Any]:
        upload = resolve_source(source)
        check_audio_content(upload)
        name = filename or upload.name
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.log.info("Uploading %s (%s bytes) to AudioShake", name, upload.size if upload.size is not None else "?")
        body = self.upload_multipart(
            "POST", path, fields={}, file_field="file", source=upload, filename=name, content_type=content_type
        )
        return self._asset(body)

    @staticmethod
    def _asset(body: Any) -> dict[str, Any]:
        if isinstance(body, Mapping) and isinstance(body.get("asset"), Mapping):
            body = body["asset"]
        if not isinstance(body, Mapping) or not body.get("id"):
            raise InvalidResponseError(f"AudioShake upload answer has no asset id: {str(body)[:200]}")
        return dict(body)

    @staticmethod
    def _task(body: Any, task_id: str) -> dict[str, Any]:
        if isinstance(body, Mapping) and isinstance(body.get("task"), Mapping):
            body = body["task"]
        if not isinstance(body, Mapping) or not isinstance(body.get("targets", []), list):
            raise InvalidResponseError(f"AudioShake task {task_id} answer is not a task object: {str(body)[:200]}")
        return dict(body)

