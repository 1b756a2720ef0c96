"""AudioShake operators: upload a source, and separate it into stems (or lyrics) saved as files.

``AudioShakeStemSeparationOperator`` follows the dbt Cloud pattern: submit -> push ids/link to XCom ->
wait (``wait_for`` or a deferred :class:`AudioShakeJobTrigger`) -> download. It is crash-safe: the asset
id and every created job/task id are written to ``task_state_store`` as soon as they exist, so an Airflow
retry reuses them instead of paying for the same separation again, and after a partial failure only the
failed stems are submitted again.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import (
    BaseOperator,
    BaseOperatorLink,
    ResumableJobMixin,
    XCom,
    conf,
)

from airflow_provider_music.core import (
    InvalidInputError,
    JobFailedError,
    MusicApiError,
    NotFoundError,
    check_audio_content,
    ensure_writable_destination,
    redact_url,
    resolve_source,
    safe_file_name,
    to_storage_path,
    wait_for,
)
from airflow_provider_music.hooks.audioshake import (
    AudioShakeHook,
    job_outputs,
    job_state,
    model_family,
    target_state,
    task_outputs,
    validate_format,
    validate_language,
    validate_model,
)
from airflow_provider_music.triggers.audioshake import AudioShakeJobTrigger
from airflow_provider_music.triggers.base import deadline_after, validate_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath
    from airflow.sdk.types import TaskInstanceKey

LINK_XCOM_KEY = "audioshake_url"
DEFAULT_STEMS = ("vocals", "drums", "bass", "other")
_ASSET_ID = re.compile(r"[A-Za-z0-9_-]{8,30}")
#: ``create_job`` keywords that ``job_options`` may set on the legacy Jobs API.
_JOB_OPTIONS = frozenset(
    name for name in inspect.signature(AudioShakeHook.build_job_body).parameters if name not in ("asset_id", "name", "format")
)
_AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".aif", ".aiff", ".m4a", ".mp4", ".mov", ".aac", ".ogg", ".json", ".txt")


def classify_source(source: Any) -> tuple[str, Any]:
    """``("url" | "file" | "asset", value)``: a public URL, something to upload, or an existing asset id."""
    if source is None or source == "":
        raise InvalidInputError("source is required: a path, an ObjectStoragePath, a public URL or an asset id")
    if not isinstance(source, str):
        return "file", source
    text = source.strip()
    if text.startswith(("http://", "https://")):
        return "url", text
    if "://" in text or os.path.exists(text) or "/" in text or "\\" in text or text.lower().endswith(_AUDIO_SUFFIXES):
        return "file", text
    if _ASSET_ID.fullmatch(text):
        return "asset", text
    return "file", text


def source_label(kind: str, value: Any, explicit: str | None = None) -> str:
    """The folder name of a source's outputs: file stem, URL file stem or asset id."""
    if explicit:
        return safe_file_name(explicit, "source")
    if kind == "url":
        raw = PurePosixPath(urlsplit(value).path).name
    elif kind == "asset":
        raw = value
    elif isinstance(value, (str, os.PathLike)):
        raw = os.path.basename(os.fspath(value).rstrip("/"))
    else:  # ObjectStoragePath or a binary file object
        raw = getattr(value, "name", "") or ""
    stem = os.path.splitext(os.path.basename(str(raw or "")))[0]
    return safe_file_name(stem, "source")


def _as_list(value: Any, argument: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{argument} must be a non-empty list of model names, got {value!r}")
    if len(set(value)) != len(value):
        raise InvalidInputError(f"{argument} must not repeat a model: {list(value)}")
    return list(value)


class AudioShakeJobLink(BaseOperatorLink):
    """Extra link to the AudioShake job / task resource (pushed to XCom before waiting)."""

    name = "AudioShake job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return XCom.get_value(key=LINK_XCOM_KEY, ti_key=ti_key) or ""


class AudioShakeUploadOperator(BaseOperator):
    """Upload a file to AudioShake, or register a public link (legacy Jobs API); return the asset id.

    :param source: local path, ``ObjectStoragePath`` (``s3://...``) or a public ``https://`` URL. URLs are
        registered with ``POST /upload/link`` on the legacy API; the Tasks API takes URLs directly in
        ``AudioShakeStemSeparationOperator`` instead, so a URL is rejected there.
    :param name: asset name for a link upload (default: from the URL).
    :param conn_id: AudioShake connection id.
    """

    template_fields: Sequence[str] = ("source", "name", "conn_id")
    ui_color = "#f2e6ff"

    def __init__(self, *, source: Any, name: str | None = None, conn_id: str = "audioshake_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.name = name
        self.conn_id = conn_id

    def execute(self, context: Context) -> str:
        if isinstance(self.source, str) and self.source.strip().startswith(("http://", "https://")):
            hook = AudioShakeHook(conn_id=self.conn_id)
            if hook.api == "tasks":
                raise InvalidInputError(
                    "source: the Tasks API has no link upload; pass the URL as `source` of "
                    "AudioShakeStemSeparationOperator (it is sent as the task's `url`)"
                )
            asset = hook.upload_link(self.source.strip(), name=self.name)
        else:
            resolve_source(self.source)  # fail before any request
            hook = AudioShakeHook(conn_id=self.conn_id)
            asset = hook.upload_file(self.source) if hook.api == "jobs" else hook.upload_asset(self.source)
        self.log.info("AudioShake asset %s (%s)", asset["id"], asset.get("name"))
        context["ti"].xcom_push(key="asset", value={k: asset.get(k) for k in ("id", "name", "format")})
        return str(asset["id"])


class AudioShakeStemSeparationOperator(ResumableJobMixin, BaseOperator):
    """Separate a source into stems (or transcribe / align lyrics) and save every output as a file.

    Legacy Jobs API: one job per stem on one uploaded asset. Tasks API: one task with one target per stem.
    Outputs are written to ``destination/<source name>/<output name>`` (names from the API are sanitised).

    :param source: local path, ``ObjectStoragePath``, public URL or an existing AudioShake asset id.
    :param destination: folder (path or ``ObjectStoragePath``) for the outputs.
    :param stems: models to run, e.g. ``["vocals", "drums", "bass", "other"]`` or ``["transcription"]``.
    :param format: audio format of stems (``wav``, ``flac``, ``mp3``, ``aiff``, ``mp4``).
    :param lyrics_format: format of ``transcription`` / ``alignment`` outputs (``json``, ``txt``, ``srt``;
        legacy also ``all``).
    :param residual: also return a residual file per stem.
    :param language: language of lyric models (2-letter code or ``auto``).
    :param source_name: folder name for the outputs (default: the source's file name without extension).
    :param job_options: extra ``create_job`` keyword arguments (legacy, e.g. ``{"max_track_length": 60}``)
        or extra target fields (Tasks, e.g. ``{"variant": "high_quality"}``).
    :param conn_id: AudioShake connection id (extra ``api`` selects jobs or tasks).
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait for all stems before failing (``None``: forever).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param durable: persist ids in ``task_state_store`` so retries reuse them (default True).

    Returns ``{"asset_id", "jobs": {stem: job_id}}`` (legacy) or ``{"asset_id", "url", "task_id",
    "tasks": {stem: task_id}}`` (Tasks), plus ``"outputs": {stem: path}`` and ``"files": {stem: [paths]}``.
    """

    template_fields: Sequence[str] = (
        "source", "destination", "stems", "format", "lyrics_format", "residual", "language", "source_name",
        "job_options", "conn_id",
    )  # fmt: skip
    template_fields_renderers = {"job_options": "json"}
    operator_extra_links = (AudioShakeJobLink(),)
    external_id_key = "audioshake_separation"
    ui_color = "#f2e6ff"

    def __init__(
        self,
        *,
        source: Any,
        destination: Any,
        stems: Sequence[str] | str = DEFAULT_STEMS,
        format: str = "wav",  # noqa: A002 - the API's name
        lyrics_format: str = "json",
        residual: bool | None = None,
        language: str | None = None,
        source_name: str | None = None,
        job_options: dict[str, Any] | None = None,
        conn_id: str = "audioshake_default",
        poll_interval: float = 15.0,
        timeout: float | None = 3600.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.destination = destination
        self.stems = list(stems) if isinstance(stems, tuple) else stems
        self.format = format
        self.lyrics_format = lyrics_format
        self.residual = residual
        self.language = language
        self.source_name = source_name
        self.job_options = job_options
        self.conn_id = conn_id
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.deferrable = deferrable
        self._result: dict[str, Any] | None = None
        self._result_for: str | None = None

    # ---- preparation -------------------------------------------------------------------------
    @property
    def hook(self) -> AudioShakeHook:
        if getattr(self, "_hook", None) is None:
            self._hook = AudioShakeHook(conn_id=self.conn_id)
        return self._hook

    def _prepare(self) -> None:
        """Validate every input before any request; fix the output folder."""
        api = self.hook.api
        self._api = api
        self._stems = _as_list(self.stems, "stems")
        self._formats: dict[str, str] = {}
        for stem in self._stems:
            validate_model(stem, api, argument="stems")
            family = model_family(stem)
            fmt = self.format if family == "audio" else self.lyrics_format if family == "lyrics" else "json"
            self._formats[stem] = validate_format(stem, fmt, api, argument="lyrics_format" if family == "lyrics" else "format")
        if self.language is not None:
            validate_language(self.language)
        if self.residual is not None and not isinstance(self.residual, bool):
            raise InvalidInputError(f"residual must be true or false, got {self.residual!r}")
        if self.job_options is not None and not isinstance(self.job_options, dict):
            raise InvalidInputError(f"job_options must be a dict, got {type(self.job_options).__name__}")
        if api == "jobs" and self.job_options:
            unknown = sorted(set(self.job_options) - _JOB_OPTIONS)
            if unknown:
                raise InvalidInputError(
                    f"job_options: unknown option(s) {unknown} for the legacy Jobs API; allowed: {sorted(_JOB_OPTIONS)}"
                )
        self._kind, self._value = classify_source(self.source)
        if self._kind == "file":
            check_audio_content(resolve_source(self._value))
        elif self._kind == "url" and api == "tasks" and not self._value.startswith("https://"):
            raise InvalidInputError("source: the Tasks API only accepts public HTTPS URLs")
        dest = ensure_writable_destination(self.destination)
        self._out_dir: ObjectStoragePath = dest / source_label(self._kind, self._value, self.source_name)
        if api == "jobs":  # the full create bodies are valid (job_options included) before anything is paid
            for stem in self._stems:
                self.hook.build_job_body("x" * 8, name=stem, format=self._formats[stem], **self._job_kwargs(stem))
        else:
            self.hook.build_task_body("x" * 8, [self._target_for(s) for s in self._stems])

    def _job_kwargs(self, stem: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.job_options or {})
        if self.residual is not None and model_family(stem) == "audio":
            kwargs["residual"] = self.residual
        if self.language is not None and model_family(stem) == "lyrics":
            kwargs["language"] = self.language
        return kwargs

    def _target_for(self, stem: str) -> dict[str, Any]:
        target: dict[str, Any] = {"model": stem, "formats": [self._formats[stem]], **(self.job_options or {})}
        if self.residual is not None and model_family(stem) == "audio":
            target["residual"] = self.residual
        if self.language is not None and model_family(stem) == "lyrics":
            target["language"] = self.language
        return target

    # ---- task_state_store --------------------------------------------------------------------
    def _stored(self, context: Context) -> dict[str, Any] | None:
        store = context.get("task_state_store") if self.durable else None
        value = store.get(self.external_id_key) if store is not None else None
        if isinstance(value, dict) and value.get("api") == self._api:
            return value
        return None

    def _save(self, context: Context, sub: dict[str, Any]) -> None:
        store = context.get("task_state_store") if self.durable else None
        if store is not None:
            store.set(self.external_id_key, json.loads(json.dumps(sub)))

    def _units(self, sub: dict[str, Any]) -> dict[str, str]:
        return dict(sub.get("jobs") or {}) if self._api == "jobs" else dict(sub.get("tasks") or {})

    def _target(self, sub: dict[str, Any]) -> dict[str, Any]:
        units = {s: i for s, i in self._units(sub).items() if s in self._stems}
        key = "jobs" if self._api == "jobs" else "tasks"
        return {key: units, "wait_all": True}

    # ---- submission --------------------------------------------------------------------------
    def _reusable(self, sub: dict[str, Any]) -> dict[str, str]:
        """Stored jobs/targets that did not fail (still running or completed): reused, not paid again."""
        keep: dict[str, str] = {}
        units = {s: i for s, i in self._units(sub).items() if s in self._stems}
        tasks_seen: dict[str, dict[str, Any] | None] = {}
        for stem, ident in units.items():
            try:
                if self._api == "jobs":
                    state, _ = job_state(self.hook.get_job(ident))
                else:
                    if ident not in tasks_seen:
                        tasks_seen[ident] = self.hook.get_task(ident)
                    targets = [t for t in (tasks_seen[ident] or {}).get("targets", []) if t.get("model") == stem]
                    state = target_state(targets[0])[0] if targets else "failed"
            except NotFoundError:
                state = "failed"
            if state != "failed":
                keep[stem] = ident
            else:
                self.log.warning("AudioShake %s %s for %r failed earlier; submitting it again", self._api[:-1], ident, stem)
        return keep

    def submit_job(self, context: Context) -> dict[str, Any]:
        """Upload (once) and create jobs / a task for the stems that have none yet. Persists as it goes."""
        previous = self._stored(context) or {}
        sub: dict[str, Any] = {
            "api": self._api,
            "asset_id": previous.get("asset_id"),
            "url": previous.get("url"),  # redacted: the real URL is the operator's source
        }
        units = self._reusable(previous) if previous else {}
        sub["jobs" if self._api == "jobs" else "tasks"] = units
        if previous.get("pending_marker"):
            sub["pending_marker"] = previous["pending_marker"]
        if not sub["asset_id"] and not sub["url"]:
            self._obtain_source(sub)
            self._save(context, sub)
        missing = [s for s in self._stems if s not in units]
        if not missing:
            self.log.info("Reusing AudioShake %s %s for every stem", self._api, units)
        elif self._api == "jobs":
            for stem in missing:
                try:
                    job = self.hook.create_job(
                        sub["asset_id"], name=stem, format=self._formats[stem], **self._job_kwargs(stem)
                    )
                except MusicApiError as exc:
                    if exc.request_may_have_been_processed:
                        self.log.warning(
                            "POST /job/ for %r failed after it may have reached AudioShake (%s). The legacy API "
                            "cannot list jobs, so it is not resent now; a retry creates it if still missing.",
                            stem,
                            exc,
                        )
                    raise
                units[stem] = str(job["id"])
                self._save(context, sub)
        else:
            self._create_task(context, sub, units, missing)
        return sub

    def _obtain_source(self, sub: dict[str, Any]) -> None:
        if self._kind == "asset":
            sub["asset_id"] = self._value
        elif self._kind == "url" and self._api == "tasks":
            sub["url"] = redact_url(self._value)
        elif self._kind == "url":
            sub["asset_id"] = str(self.hook.upload_link(self._value, name=self.source_name)["id"])
        else:
            upload = self.hook.upload_file if self._api == "jobs" else self.hook.upload_asset
            sub["asset_id"] = str(upload(self._value)["id"])
        self.log.info("AudioShake source: asset %s url %s", sub.get("asset_id"), redact_url(sub["url"]) if sub.get("url") else None)

    def _create_task(self, context: Context, sub: dict[str, Any], units: dict[str, str], missing: list[str]) -> None:
        """One task for the missing stems, tagged with a marker so an ambiguous create can be found again."""
        marker = sub.get("pending_marker")
        if marker:
            found = self.hook.find_task(marker)
            if found is not None:
                self.log.info("Found AudioShake task %s created by an earlier attempt", found["id"])
                self._adopt_task(sub, units, missing, found)
                return
        marker = f"airflow:{self.dag_id}/{self.task_id}/{context.get('run_id')}/{uuid.uuid4().hex[:12]}"
        sub["pending_marker"] = marker
        self._save(context, sub)
        source = sub.get("asset_id") or self._value  # the URL itself (sub["url"] is redacted)
        try:
            task = self.hook.create_task(source, [self._target_for(s) for s in missing], metadata=marker)
        except MusicApiError as exc:
            if not exc.request_may_have_been_processed:
                raise
            found = self.hook.find_task(marker)
            if found is None:
                raise
            self.log.warning("POST /tasks failed (%s) but the task was created: %s", exc, found["id"])
            task = found
        self._adopt_task(sub, units, missing, task)
        self._save(context, sub)

    @staticmethod
    def _adopt_task(sub: dict[str, Any], units: dict[str, str], missing: list[str], task: dict[str, Any]) -> None:
        for stem in missing:
            units[stem] = str(task["id"])
        sub.pop("pending_marker", None)

    # ---- ResumableJobMixin -------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        self._prepare()
        if self.deferrable:
            return self._execute_deferrable(context)
        return self.execute_resumable(context)

    def get_job_status(self, external_id: Any, context: Context) -> str:
        if not isinstance(external_id, dict) or external_id.get("api") != self._api:
            return "incomplete"
        if not (external_id.get("asset_id") or external_id.get("url")) or set(self._stems) - set(self._units(external_id)):
            return "incomplete"
        try:
            result = self.hook.separation_status(**self._target(external_id))
        except NotFoundError:
            return "failed"
        return {"running": "running", "success": "completed"}.get(result.state, "failed")

    def is_job_active(self, status: str) -> bool:
        return status == "running"

    def is_job_succeeded(self, status: str) -> bool:
        return status == "completed"

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        self._push_xcoms(context, external_id)
        wait_for(
            lambda: self.hook.separation_status(**self._target(external_id)),
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            describe=self._describe(external_id),
            logger=self.log,
        )
        # ResumableJobMixin returns this value directly when it reconnects to running jobs.
        return self.get_job_result(external_id, context)

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        key = json.dumps(external_id, sort_keys=True)
        if self._result is not None and self._result_for == key:
            return self._result
        self._push_xcoms(context, external_id)
        result = self._download(external_id)
        self._result, self._result_for = result, key
        return result

    # ---- deferrable --------------------------------------------------------------------------
    def _execute_deferrable(self, context: Context) -> Any:
        sub = self._stored(context)
        status = self.get_job_status(sub, context) if sub else "incomplete"
        if status == "completed":
            return self.get_job_result(sub, context)
        if status != "running":
            sub = self.submit_job(context)
            self._save(context, sub)  # persisted before deferring: a retry reconnects instead of paying again
        assert sub is not None
        self._push_xcoms(context, sub)
        self.defer(
            trigger=AudioShakeJobTrigger(
                conn_id=self.conn_id,
                target=self._target(sub),
                poll_interval=self.poll_interval,
                deadline=deadline_after(self.timeout),
            ),
            method_name="execute_complete",
            kwargs={"submission": sub},
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, submission: dict[str, Any] | None = None) -> Any:
        self._prepare_light()
        sub = submission or self._stored(context)
        if not sub:
            raise MusicApiError("AudioShake: resumed without the submitted job ids")
        if not (isinstance(event, dict) and event.get("status") == "failed"):
            validate_event(event, describe=self._describe(sub))
        # success, or a failure of some stems: download what succeeded, then fail naming the failed stems
        return self.get_job_result(sub, context)

    def _prepare_light(self) -> None:
        """Re-derive settings after a deferral (a fresh operator instance) without re-validating the source."""
        self._api = self.hook.api
        self._stems = _as_list(self.stems, "stems")
        self._formats = {}
        for stem in self._stems:
            family = model_family(stem)
            self._formats[stem] = self.format if family == "audio" else self.lyrics_format if family == "lyrics" else "json"
        kind, value = classify_source(self.source)
        self._out_dir = to_storage_path(self.destination) / source_label(kind, value, self.source_name)

    # ---- results -----------------------------------------------------------------------------
    def _describe(self, sub: dict[str, Any]) -> str:
        return f"AudioShake {self._api} {self._units(sub)}"

    def _push_xcoms(self, context: Context, sub: dict[str, Any]) -> None:
        ti = context.get("ti")
        if ti is None:
            return
        units = self._units(sub)
        ti.xcom_push(key="asset_id", value=sub.get("asset_id"))
        ti.xcom_push(key="jobs" if self._api == "jobs" else "tasks", value=units)
        first = next(iter(units.values()), None)
        if first:
            path = f"job/{first}" if self._api == "jobs" else f"tasks/{first}"
            ti.xcom_push(key=LINK_XCOM_KEY, value=redact_url(self.hook.url_for(path)))

    def _download(self, sub: dict[str, Any]) -> dict[str, Any]:
        units = {s: i for s, i in self._units(sub).items() if s in self._stems}
        outputs: dict[str, str] = {}
        files: dict[str, list[str]] = {}
        failures: list[str] = []
        used: set[str] = set()
        tasks: dict[str, dict[str, Any]] = {}
        for stem, ident in units.items():
            fallback = f"{stem}.{self._formats.get(stem, 'bin')}"
            if self._api == "jobs":
                job = self.hook.get_job(ident)
                state, message = job_state(job)
                items = job_outputs(job)
            else:
                if ident not in tasks:
                    tasks[ident] = self.hook.get_task(ident)
                targets = [t for t in tasks[ident].get("targets", []) if isinstance(t, dict) and t.get("model") == stem]
                state, message = target_state(targets[0]) if targets else ("failed", "no target for this model")
                items = task_outputs(targets[0]) if targets else []
            if state != "success":
                failures.append(f"{stem} ({ident}): {message}")
                continue
            if not items:
                failures.append(f"{stem} ({ident}): completed without any output link")
                continue
            paths, saved = [], []
            for item in items:
                name = safe_file_name(item.get("name"), fallback)
                if name in used:
                    name = safe_file_name(f"{stem}_{name}", fallback)
                n = 1
                while name in used:
                    base, ext = os.path.splitext(name)
                    name, n = f"{base}_{n}{ext}", n + 1
                used.add(name)
                saved.append(name)
                target_path = self._out_dir / name
                if not str(target_path).startswith(str(self._out_dir).rstrip("/") + "/"):  # defence in depth
                    raise InvalidInputError(f"AudioShake output name {item.get('name')!r} escapes the destination")
                self.log.info("Downloading %s output %s from %s", stem, name, redact_url(str(item["link"])))
                paths.append(str(self.hook.download_asset(str(item["link"]), target_path)))
            files[stem] = paths
            main = [p for p, n in zip(paths, saved, strict=True) if os.path.splitext(n)[0] == stem]
            outputs[stem] = (main or paths)[0]
        result: dict[str, Any] = {"asset_id": sub.get("asset_id")}
        if self._api == "jobs":
            result["jobs"] = units
        else:
            result["url"] = sub.get("url")
            result["tasks"] = units
            ids = list(dict.fromkeys(units.values()))
            result["task_id"] = ids[0] if len(ids) == 1 else ids
        result["outputs"] = outputs
        result["files"] = files
        if failures:
            done = ", ".join(outputs) or "none"
            raise JobFailedError(
                f"AudioShake failed for {len(failures)} of {len(units)} stem(s): {'; '.join(failures)} "
                f"(downloaded: {done}); a retry resubmits only the failed stem(s)",
                details={"failed": failures, "outputs": outputs},
            )
        return result


__all__ = [
    "AudioShakeJobLink",
    "AudioShakeStemSeparationOperator",
    "AudioShakeUploadOperator",
]
