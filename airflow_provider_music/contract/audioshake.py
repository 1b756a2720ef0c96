"""AudioShake contract (pure, no I/O): constants, validators, request bodies, response parsers and status
interpretation of the legacy Jobs API (``jobs``: ``/upload/``, ``/job/``) and the Tasks API (``tasks``:
``/assets``, ``/tasks``). Used by the hook, the operators, the sensor/trigger and the emulator."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_music.core.errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    redact_url,
)
from airflow_provider_music.core.files import safe_file_name
from airflow_provider_music.core.parsing import PollResult, describe_only, number_of, unknown_state
from airflow_provider_music.core.validation import validate_id, validate_number

JOBS_BASE_URL = "https://groovy.audioshake.ai/"
TASKS_BASE_URL = "https://api.audioshake.ai/"
APIS = ("jobs", "tasks")
#: The page a person uses to see tasks, usage, API keys and webhooks (the Tasks API's dashboard). The legacy
#: Jobs API has no web page per job, so links of both APIs open the dashboard.
DASHBOARD_URL = "https://dashboard.audioshake.ai/"

#: Separation models of the legacy ``POST /job/`` enum (``metadata.name``).
STEM_MODELS = frozenset({
    "instrumental", "vocals", "drums", "bass", "other", "guitar", "other-x-guitar", "wind", "speech",
    "music", "dialogue", "piano", "music_fx", "music_removal"})  # fmt: skip
#: Lyric models (transcription / alignment): text formats and a ``language``.
LYRIC_MODELS = frozenset({"transcription", "alignment"})
#: Music detection (JSON output only).
DETECTION_MODELS = frozenset({"music_detection"})
#: Models only the Tasks API documents.
TASKS_ONLY_MODELS = frozenset({
    "strings", "vocals_lead", "vocals_backing", "guitar_electric", "guitar_acoustic", "effects", "multi_voice"})  # fmt: skip
JOBS_MODELS = STEM_MODELS | LYRIC_MODELS | DETECTION_MODELS
TASKS_MODELS = JOBS_MODELS | TASKS_ONLY_MODELS
DEFAULT_STEMS = ("vocals", "drums", "bass", "other")
AUDIO_FORMATS = ("wav", "flac", "mp3", "aiff", "mp4")
JOBS_LYRIC_FORMATS = ("json", "txt", "srt", "all")
TASKS_LYRIC_FORMATS = ("json", "txt", "srt")
DETECTION_FORMATS = ("json",)

LANGUAGES = frozenset(
    "af ar az be bg bs ca cs cy da de el en es et fa fi fr gl he hi hr hu hy id is it ja kk kn ko lt lv mi "
    "mk mr ms ne nl no pl pt ro ru sk sl sr sv sw ta th tl tr uk ur vi zh auto".split())
TASK_VARIANTS = ("high_quality", "two_speaker", "n_speaker")
MAX_TARGETS = 20
STATISTICS_NAMES = ("usage", "distribution")

JOB_RUNNING = frozenset({"created", "processing", "queued", "pending", "started", "running"})
JOB_DONE = frozenset({"completed"})
JOB_FAILED = frozenset({"failed", "error", "errored", "cancelled", "canceled"})

#: ``POST /job/`` keywords an operator's ``job_options`` may set (legacy API).
JOB_OPTIONS = frozenset({
    "callback_url", "residual", "language", "max_track_length", "preview", "watermark_interval",
    "custom_property", "other_source_assets", "extra_metadata"})  # fmt: skip
StateItem = tuple[str, str, str, str]  # (label, id, running|success|failed, message)


# ---- connection ---------------------------------------------------------------------------------
def api_from_extras(extras: Mapping[str, Any]) -> str:
    """``jobs`` (default) or ``tasks`` from a connection's extras (``api`` or ``extra__audioshake__api``)."""
    value = extras.get("api") or extras.get("extra__audioshake__api") or "jobs"
    api = str(value).strip().lower()
    if api not in APIS:
        raise ConfigurationError(f"AudioShake connection extra 'api' must be 'jobs' or 'tasks', got {value!r}")
    return api


def default_base_url(api: str) -> str:
    return {"jobs": JOBS_BASE_URL, "tasks": TASKS_BASE_URL}[api]


# ---- validators ---------------------------------------------------------------------------------
def model_family(model: str) -> str:
    """``audio`` (stems), ``lyrics`` (transcription/alignment) or ``detection`` (music_detection)."""
    if model in LYRIC_MODELS:
        return "lyrics"
    if model in DETECTION_MODELS:
        return "detection"
    return "audio"


def allowed_formats(model: str, api: str = "jobs") -> tuple[str, ...]:
    lyrics = {"jobs": JOBS_LYRIC_FORMATS, "tasks": TASKS_LYRIC_FORMATS}[api]
    return {"lyrics": lyrics, "detection": DETECTION_FORMATS, "audio": AUDIO_FORMATS}[model_family(model)]


def validate_model(model: Any, api: str = "jobs", *, argument: str = "name") -> str:
    models = {"jobs": JOBS_MODELS, "tasks": TASKS_MODELS}[api]
    if not isinstance(model, str) or model not in models:
        raise InvalidInputError(f"{argument} must be one of the AudioShake {api} API models {sorted(models)}, got {model!r}")
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


def _bounded_id(value: Any, argument: str, low: int, high: int, what: str) -> str:
    if not isinstance(value, str) or not low <= len(value.strip()) <= high:
        shown = repr(value) if not isinstance(value, str) else repr(value[:80])
        raise InvalidInputError(f"{argument} must be {what} of {low} to {high} characters, got {shown}")
    return str(validate_id(value, argument, max_length=high))


def validate_asset_id(asset_id: Any, *, argument: str = "asset_id") -> str:
    """An asset id: 8..30 characters (cuids in practice), none of ``/ \\ ? #``, ``..`` or ``%XX``."""
    return _bounded_id(asset_id, argument, 8, 30, "an AudioShake asset id")


def validate_job_id(job_id: Any, *, argument: str = "job_id") -> str:
    """A job / task id: 3..60 characters (the documented bounds), none of ``/ \\ ? #``, ``..`` or ``%XX``."""
    return _bounded_id(job_id, argument, 3, 60, "an id")


def validate_public_url(url: Any, *, argument: str, https_only: bool = False) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    schemes = ("https",) if https_only else ("http", "https")
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        kind = "HTTPS" if https_only else "http(s)"
        raise InvalidInputError(f"{argument} must be a public {kind} URL, got {redact_url(str(url))!r}")
    return str(url)


def boolean(value: Any, *, argument: str) -> bool:
    """``True``/``False``; the strings ``"true"``/``"false"`` (rendered templates) are accepted."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise InvalidInputError(f"{argument} must be true or false, got {value!r}")
    return value


def model_list(value: Any, *, argument: str = "stems") -> list[str]:
    """Stems as a list, a JSON list string or a comma-separated string; no repeats, at least one."""
    value = list(value) if isinstance(value, tuple) else value
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        except ValueError:
            raise InvalidInputError(f"{argument}: not a valid JSON list: {text[:100]!r}") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{argument} must be a non-empty list of model names, got {value!r}")
    if len(set(value)) != len(value):
        raise InvalidInputError(f"{argument} must not repeat a model: {list(value)}")
    return list(value)


def stem_formats(stems: Sequence[str], api: str, *, audio_format: Any, lyrics_format: Any) -> dict[str, str]:
    """``{stem: output format}`` after validating every model and format for ``api``."""
    formats: dict[str, str] = {}
    for stem in stems:
        validate_model(stem, api, argument="stems")
        family = model_family(stem)
        fmt = audio_format if family == "audio" else lyrics_format if family == "lyrics" else "json"
        formats[stem] = validate_format(stem, fmt, api, argument="lyrics_format" if family == "lyrics" else "format")
    return formats


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
        out["residual"] = boolean(out["residual"], argument=f"{where}.residual")
    if out.get("variant") is not None and out["variant"] not in TASK_VARIANTS:
        raise InvalidInputError(f"{where}.variant must be one of {list(TASK_VARIANTS)}, got {out['variant']!r}")
    if out.get("language") is not None:
        out["language"] = validate_language(out["language"], argument=f"{where}.language")
    if out.get("transcriptUrl") is not None:
        validate_public_url(out["transcriptUrl"], argument=f"{where}.transcriptUrl")
    if out.get("transcriptAssetId") is not None:
        validate_asset_id(out["transcriptAssetId"], argument=f"{where}.transcriptAssetId")
    return {k: v for k, v in out.items() if v is not None}


# ---- request bodies -----------------------------------------------------------------------------
def _job_metadata_options(metadata: dict[str, Any], name: str, options: Mapping[str, Any]) -> None:
    if options.get("language") is not None:
        if model_family(name) != "lyrics":
            raise InvalidInputError(f"language only applies to transcription/alignment jobs, not {name!r}")
        metadata["language"] = validate_language(options["language"])
    for key, wire in (("residual", "residual"), ("preview", "preview")):
        if options.get(key) is not None:
            metadata[wire] = boolean(options[key], argument=key)
    for key, wire, minimum in (("max_track_length", "maxTrackLength", 20), ("watermark_interval", "watermarkInterval", 10)):
        if options.get(key) is not None:
            metadata[wire] = validate_number(options[key], key, minimum=minimum)
    prop = options.get("custom_property")
    if prop is not None:
        if not isinstance(prop, str) or len(prop) > 1000:
            raise InvalidInputError("custom_property must be a string of at most 1000 characters")
        metadata["customProperty"] = prop
    for key, value in (options.get("extra_metadata") or {}).items():
        if key in metadata:
            raise InvalidInputError(f"extra_metadata must not repeat {key!r}; use the named argument")
        metadata[key] = value


def build_job_body(asset_id: str, *, name: str, format: str, **options: Any) -> dict[str, Any]:  # noqa: A002
    """The validated legacy ``POST /job/`` body. ``options``: the keys of :data:`JOB_OPTIONS`."""
    unknown = sorted(set(options) - JOB_OPTIONS)
    if unknown:
        raise InvalidInputError(f"job_options: unknown option(s) {unknown} for the legacy Jobs API; allowed: {sorted(JOB_OPTIONS)}")
    validate_asset_id(asset_id)
    validate_model(name, "jobs")
    metadata: dict[str, Any] = {"format": validate_format(name, format, "jobs"), "name": name}
    _job_metadata_options(metadata, name, options)
    body: dict[str, Any] = {"assetId": asset_id, "metadata": metadata}
    if options.get("callback_url") is not None:
        body["callbackUrl"] = validate_public_url(options["callback_url"], argument="callback_url")
    others = options.get("other_source_assets")
    if others is not None:
        if not isinstance(others, list) or not all(
            isinstance(a, Mapping) and a.get("id") and a.get("type") == "transcription" for a in others
        ):
            raise InvalidInputError("other_source_assets must be a list of {'id': ..., 'type': 'transcription'}")
        body["otherSourceAssets"] = others
    return body


def validate_write_destination(value: Any) -> dict[str, Any]:
    """``writeDestination`` of ``POST /tasks``: a dict naming the customer storage (e.g. an S3 bucket)."""
    if not isinstance(value, Mapping) or not value:
        raise InvalidInputError(f"write_destination must be a non-empty dict (e.g. {{'bucket': ..., 'region': ...}}), got {value!r}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInputError("write_destination must hold JSON values only") from None
    return dict(value)


def build_task_body(
    asset_id_or_url: str,
    targets: Sequence[Mapping[str, Any]],
    *,
    metadata: str | None = None,
    write_destination: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The validated ``POST /tasks`` body (``assetId`` or a public HTTPS ``url``, 1..20 targets)."""
    body: dict[str, Any] = {}
    if isinstance(asset_id_or_url, str) and asset_id_or_url.startswith(("http://", "https://")):
        body["url"] = validate_public_url(asset_id_or_url, argument="url", https_only=True)
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
    if write_destination is not None:
        body["writeDestination"] = validate_write_destination(write_destination)
    return body


def job_options_for(stem: str, options: Mapping[str, Any] | None, *, residual: Any, language: Any) -> dict[str, Any]:
    """``POST /job/`` options of one stem: ``residual`` for audio models, ``language`` for lyric models."""
    out = dict(options or {})
    if residual is not None and model_family(stem) == "audio":
        out["residual"] = residual
    if language is not None and model_family(stem) == "lyrics":
        out["language"] = language
    return out


# ---- response parsing ---------------------------------------------------------------------------
def _short(body: Any) -> str:
    """The shape of an unexpected answer, never its content (it may echo secrets)."""
    if isinstance(body, Mapping):
        return f"an object with keys {sorted(str(k)[:40] for k in body)[:10]}"
    return f"a {type(body).__name__}" + (f" of {len(body)} items" if isinstance(body, list) else "")


def unwrap_job(body: Any, *, job_id: str | None = None) -> dict[str, Any]:
    """``{"job": {...}}`` (documented) or a flat job object -> the job dict."""
    if isinstance(body, Mapping) and isinstance(body.get("job"), Mapping):
        return dict(body["job"])
    if isinstance(body, Mapping) and ("status" in body or "id" in body):
        return dict(body)
    raise InvalidResponseError(f"AudioShake GET job/{job_id or ''} answer is not a job object ({_short(body)})")


def answered_id(value: Any, check: Callable[..., str], call: str, what: str) -> str:
    """An id AudioShake sent back, held to the users' rule ``check``; one a later call would refuse is an
    :class:`InvalidResponseError` now: after a create, a lost answer (looked for, never created again blindly)."""
    try:
        return check(value, argument=what)
    except InvalidInputError as exc:
        raise InvalidResponseError(f"AudioShake {call} answered an unusable {what}: {exc}") from None


def parse_created_job(body: Any) -> dict[str, Any]:
    job = unwrap_job(body)
    if not isinstance(job.get("id"), str) or not job["id"]:
        raise InvalidResponseError("AudioShake POST /job/ answer has no job id")
    answered_id(job["id"], validate_job_id, "POST /job/", "job id")
    return job


def parse_asset(body: Any, *, call: str) -> dict[str, Any]:
    """An upload answer (``{id, name, format, link}``, possibly wrapped in ``asset``)."""
    if isinstance(body, Mapping) and isinstance(body.get("asset"), Mapping):
        body = body["asset"]
    if not isinstance(body, Mapping) or not isinstance(body.get("id"), str) or not body["id"]:
        raise InvalidResponseError(f"AudioShake {call} answer has no asset id ({_short(body)})")
    answered_id(body["id"], validate_asset_id, call, "asset id")
    return dict(body)


def parse_list(body: Any, *, key: str, call: str) -> list[dict[str, Any]]:
    """A list answer (bare, or wrapped as ``{key: [...]}``); non-object items are dropped."""
    if isinstance(body, Mapping) and isinstance(body.get(key), list):
        body = body[key]
    if not isinstance(body, list):
        raise InvalidResponseError(f"AudioShake {call} answer is not a list ({_short(body)})")
    return [dict(item) for item in body if isinstance(item, Mapping)]


def parse_task(body: Any, task_id: str) -> dict[str, Any]:
    if isinstance(body, Mapping) and isinstance(body.get("task"), Mapping):
        body = body["task"]
    if not isinstance(body, Mapping) or not isinstance(body.get("targets", []), list):
        raise InvalidResponseError(f"AudioShake task {task_id} answer is not a task object ({_short(body)})")
    return dict(body)


def parse_created_task(body: Any) -> dict[str, Any]:
    task = parse_task(body, "(new)")
    if not isinstance(task.get("id"), str) or not task["id"]:
        raise InvalidResponseError("AudioShake POST /tasks answer has no task id")
    answered_id(task["id"], validate_job_id, "POST /tasks", "task id")
    return task


def parse_statistics(body: Any) -> list[dict[str, Any]]:
    """``GET /tasks/statistics``: ``[{month, totalTargets, totalMinutes}]`` (``totalMinutes``: float or None)."""
    rows = parse_list(body, key="statistics", call="GET /tasks/statistics")
    for row in rows:  # usage only describes: a figure that is no finite number is None (logged), never fatal
        row["totalMinutes"] = describe_only({"totalMinutes": row.get("totalMinutes") or 0}, {"totalMinutes": number_of},
                                            what="AudioShake GET /tasks/statistics").get("totalMinutes")
    return rows


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
    """Downloadable outputs of a job: ``outputAssets`` and ``stemAssets``, top level or under ``sourceAsset``
    (duplicates dropped, entries without a link skipped)."""
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    holders: list[Any] = [job, job["sourceAsset"]] if isinstance(job.get("sourceAsset"), Mapping) else [job]
    for holder in holders:
        for key in ("outputAssets", "stemAssets"):
            items = holder.get(key)
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, Mapping) or not isinstance(item.get("link"), str) or not item["link"]:
                    continue
                ident = f"{item.get('id') or ''}|{item.get('name') or ''}|{item['link'].split('?')[0]}"
                if ident not in seen:
                    seen.add(ident)
                    found.append(dict(item))
    return found


def task_outputs(target: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Outputs of one Tasks API target as ``{name, format, link}`` (name gets its extension)."""
    found = []
    items = target.get("output")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("link"), str) and item["link"]:
            out = dict(item)
            name, fmt = str(out.get("name") or target.get("model") or "output"), str(out.get("format") or "")
            if fmt and not name.lower().endswith("." + fmt.lower()):
                name = f"{name}.{fmt}"
            out["name"] = name
            found.append(out)
    return found


def task_targets(task: Mapping[str, Any], model: str | None = None) -> list[dict[str, Any]]:
    """The task's targets (of one ``model`` when given)."""
    targets = task.get("targets")
    found = [dict(t) for t in (targets if isinstance(targets, list) else []) if isinstance(t, Mapping)]
    return [t for t in found if t.get("model") == model] if model is not None else found


# ---- status interpretation ----------------------------------------------------------------------
def _status_info_message(info: Any) -> str:
    if isinstance(info, Mapping):
        parts = [str(p) for p in (info.get("code"), info.get("message")) if p not in (None, "")]
        return " ".join(parts)[:500]
    return str(info or "")[:500]


def interpret_status(status_value: Any, error_info: Any) -> tuple[str, str]:
    """``(running|success|failed, message)`` from an API status; unknown statuses never count as success."""
    status = str(status_value or "").lower()[:60]
    if status in JOB_DONE:
        return "success", status
    if status in JOB_FAILED:
        return "failed", _status_info_message(error_info) or status
    if status in JOB_RUNNING:
        return "running", status
    return "running", unknown_state("", status or None, sorted(JOB_DONE | JOB_FAILED) + ["processing"])


def job_state(job: Mapping[str, Any]) -> tuple[str, str]:
    """State of one legacy job (failure details in ``statusInfo``)."""
    return interpret_status(job.get("status"), job.get("statusInfo"))


def target_state(target: Mapping[str, Any]) -> tuple[str, str]:
    """State of one Tasks API target (``error`` and ``failed`` both fail; details in ``error``)."""
    return interpret_status(target.get("status"), target.get("error"))


def job_item(label: str, ident: str, job: Mapping[str, Any]) -> StateItem:
    """One legacy job as a state item; a plain id (label == id) is labelled with the job's model."""
    state, message = job_state(job)
    if label == ident:
        label = str(job_metadata(job).get("name") or ident)
    return label, ident, state, message


def task_items(task_map: Mapping[str, str], fetched: Mapping[str, Mapping[str, Any]]) -> list[StateItem]:
    """State items of Tasks API targets: ``{model: task_id}`` (or ``{"<source>/<model>": task_id}``) counts
    that model only, ``{id: id}`` every target of the task."""
    items: list[StateItem] = []
    for label, ident in task_map.items():
        model = None if label == ident else label.rsplit("/", 1)[-1]
        targets = task_targets(fetched[ident], model)
        if model is not None and not targets:
            items.append((label, ident, "failed", f"task has no target for model {model!r}"))
            continue
        for target in targets:
            state, message = target_state(target)
            items.append((label if model else str(target.get("model") or label), ident, state, message))
        if not targets:
            items.append((label, ident, "running", "task has no targets yet"))
    return items


def combine_states(items: Sequence[StateItem], *, wait_all: bool = True) -> PollResult:
    """Combine ``(label, id, state, message)`` of jobs/targets into one :class:`PollResult`. ``wait_all`` waits
    until every item is terminal before reporting a failure (an operator still downloads the stems that
    succeeded); otherwise the first failure is reported at once (sensors)."""
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
        unknown = tuple(f"AudioShake {label} ({ident}): {m}" for label, ident, state, m in items
                        if state == "running" and m.startswith("unknown state"))
        return PollResult("running", f"{len(items) - len(running)} of {len(items)} done; waiting for {detail}", payload,
                          unknown=unknown)
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


# ---- lost-answer lookups ------------------------------------------------------------------------
def matching_assets(assets: Sequence[Mapping[str, Any]], *, name: str, size: int | None,
                    since: float | None) -> list[dict[str, Any]]:
    """Assets of ``GET /assets`` that may be the upload whose answer was lost: same name, same size (when
    the listing gives one) and created at or after ``since`` (epoch seconds, when the listing gives a time)."""
    found = []
    for asset in assets:
        if asset.get("name") != name:
            continue
        listed_size = asset.get("size") if asset.get("size") is not None else asset.get("fileSize")
        if size is not None and isinstance(listed_size, int) and listed_size != size:
            continue
        created = parse_time(asset.get("createdAt"))
        if since is None or created is None or created >= since:
            found.append(dict(asset))
    return found


def parse_time(value: Any) -> float | None:
    """ISO-8601 (``2023-08-01T20:37:06.656Z``) -> epoch seconds, or ``None``."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if isinstance(value, str) else None
    except ValueError:
        return None


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.strip().startswith(("http://", "https://"))


#: File names an operator treats as files to upload even when they look like an asset id.
_FILE_SUFFIXES = (".wav", ".mp3", ".flac", ".aif", ".aiff", ".m4a", ".mp4", ".mov", ".aac", ".ogg", ".json", ".txt")


def classify_source(source: Any) -> tuple[str, Any]:
    """``("url" | "file" | "asset", value)``: a public URL, something to upload, or an existing asset id."""
    if source is None or source == "":
        raise InvalidInputError("source is required: a path, an ObjectStoragePath, a public URL or an asset id")
    if not isinstance(source, str):
        return "file", source
    text = source.strip()
    if is_url(text):
        return "url", text
    if "://" in text or os.path.exists(text) or "/" in text or "\\" in text or text.lower().endswith(_FILE_SUFFIXES):
        return "file", text
    if re.fullmatch(r"[A-Za-z0-9_-]{8,30}", text):
        return "asset", text
    return "file", text


def source_label(kind: str, value: Any, explicit: str | None = None) -> str:
    """The folder name of a source's outputs: file stem, URL file stem or asset id (one safe path component)."""
    if explicit:
        return safe_file_name(explicit, "source")
    if kind == "url":
        raw = unquote(PurePosixPath(urlsplit(value).path).name)
    elif kind == "asset":
        raw = value
    elif isinstance(value, (str, os.PathLike)):
        raw = os.path.basename(os.fspath(value).rstrip("/"))
    else:  # ObjectStoragePath or a binary file object
        raw = getattr(value, "name", "") or ""
    stem = os.path.splitext(os.path.basename(str(raw or "")))[0]
    return safe_file_name(stem, "source")  # readable; equal labels of one run are told apart by the operator
