"""Operators of the Riffusion (useapi.net) integration: upload audio, compose songs, download songs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, BaseOperatorLink, ResumableJobMixin, XCom, conf

from airflow_provider_music.core import (
    InvalidInputError,
    JobFailedError,
    MusicApiError,
    PollResult,
    ensure_writable_destination,
    to_storage_path,
    wait_for,
)
from airflow_provider_music.hooks.riffusion import (
    SHARE_URL_TEMPLATE,
    RiffusionCopyrightMatchError,
    RiffusionHook,
    copyright_problem,
    default_reply_ref,
    normalize_job_ids,
    song_file_name,
    song_summary,
)
from airflow_provider_music.triggers.base import deadline_after, validate_event
from airflow_provider_music.triggers.riffusion import RiffusionSongTrigger, RiffusionUploadAudioTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

SHARE_URL_XCOM_KEY = "riffusion_share_url"
DOWNLOAD_FORMATS = ("m4a", "mp3", "wav", "stems")


class RiffusionSongLink(BaseOperatorLink):
    """Opens the first song's Riffusion share page (pushed to XCom before waiting)."""

    name = "Riffusion song"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        return XCom.get_value(key=SHARE_URL_XCOM_KEY, ti_key=ti_key) or ""


def _push(context: Context, key: str, value: Any) -> None:
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key=key, value=value)


def _store(context: Context) -> Any:
    return context.get("task_state_store")  # type: ignore[call-overload]


# --------------------------------------------------------------------------------------------------
# Upload audio
# --------------------------------------------------------------------------------------------------
class RiffusionUploadAudioOperator(BaseOperator):
    """Upload an mp3/m4a/wav file to Riffusion and (optionally) wait until it is processed.

    Returns ``{"id", "audio_upload_id", "transcription_job_id", "status", "lyrics", "is_flagged",
    "matches": [{"title", "artist", "isrc", ...}], "audible_magic_status", ...}``; give
    ``audio_upload_id`` to :class:`RiffusionComposeOperator`. XCom keys ``upload_id`` and
    ``audio_upload_id`` are pushed right after the upload.

    :param source: local path or ``ObjectStoragePath`` (or ``s3://...`` string with ``source_conn_id``). Templated.
    :param file_name: name without extension shown in Riffusion (default: the file's name). Templated.
    :param content_type: override the type guessed from the extension (``audio/mpeg``, ``audio/mp4``,
        ``audio/x-m4a``, ``audio/wav``, ``audio/wave``).
    :param user_id: Riffusion account (default: the connection's ``user_id`` extra). Templated.
    :param wait_for_completion: wait until the status is no longer ``pending`` (default True).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait (default 600: the docs say a file pending after 10 minutes never completes).
    :param fail_on_copyright_match: fail (without retries) when Audible Magic matched or the upload is flagged.
    """

    template_fields: Sequence[str] = ("source", "file_name", "user_id", "conn_id", "source_conn_id")

    def __init__(
        self,
        *,
        source: Any,
        file_name: str | None = None,
        content_type: str | None = None,
        user_id: str | None = None,
        conn_id: str = RiffusionHook.default_conn_name,
        source_conn_id: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float | None = 600.0,
        fail_on_copyright_match: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.file_name = file_name
        self.content_type = content_type
        self.user_id = user_id
        self.conn_id = conn_id
        self.source_conn_id = source_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.fail_on_copyright_match = fail_on_copyright_match

    @cached_property
    def hook(self) -> RiffusionHook:
        return RiffusionHook(conn_id=self.conn_id)

    def _source(self) -> Any:
        if isinstance(self.source, str) and "://" in self.source and self.source_conn_id:
            return to_storage_path(self.source, conn_id=self.source_conn_id)
        return self.source

    def execute(self, context: Context) -> dict[str, Any]:
        if self.poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be > 0 seconds, got {self.poll_interval!r}")
        store = _store(context)
        key = "riffusion_upload"
        stored = store.get(key) if store is not None else None
        upload: dict[str, Any] | None = None
        if isinstance(stored, dict) and stored.get("source") == str(self.source) and stored.get("upload"):
            previous = stored["upload"]
            try:
                status = self.hook.upload_status(previous["id"], self.user_id)
            except MusicApiError as exc:
                self.log.warning("Cannot reuse the upload %s of a previous try: %s", previous.get("id"), exc)
            else:
                if status.state != "failed":
                    self.log.info("Reusing upload %s from a previous try", previous["id"])
                    upload = previous
        if upload is None:
            upload = self.hook.upload_audio(self._source(), self.file_name, self.content_type, self.user_id)
            if store is not None:
                store.set(key, {"source": str(self.source), "upload": upload})
        _push(context, "upload_id", upload["id"])
        _push(context, "audio_upload_id", upload["audio_upload_id"])
        self.log.info("Uploaded audio: id %s (audio_upload_id %s)", upload["id"], upload["audio_upload_id"])
        if not self.wait_for_completion:
            return self._finish(upload, None)
        target = {"upload_id": upload["id"], "user_id": self.user_id}
        if self.deferrable:
            first = self.hook.upload_status(**target)
            if first.done:
                return self._finish(upload, first)
            self.defer(
                trigger=RiffusionUploadAudioTrigger(
                    conn_id=self.conn_id, target=target, poll_interval=self.poll_interval,
                    deadline=deadline_after(self.timeout),
                ),
                method_name="execute_complete",
                kwargs={"upload": upload},
            )
        result = wait_for(
            lambda: self.hook.upload_status(**target),
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            describe=f"Riffusion upload {upload['id']}",
            logger=self.log,
        )
        return self._finish(upload, result)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, upload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        checked = validate_event(event, describe="Riffusion upload")
        payload = dict(checked.get("payload") or {})
        return self._finish(upload or payload, PollResult("success", checked.get("message", ""), payload))

    def _finish(self, upload: dict[str, Any], result: PollResult | None) -> dict[str, Any]:
        merged = dict(upload)
        if result is not None:
            if result.state == "failed":
                raise JobFailedError(f"Riffusion upload {upload.get('id')} failed: {result.message}", details=result.payload)
            for k, v in result.payload.items():
                if v is not None or k not in merged:
                    merged[k] = v
        if self.fail_on_copyright_match:
            problem = copyright_problem(merged)
            if problem:
                raise RiffusionCopyrightMatchError(f"Riffusion upload {merged.get('id')}: {problem}", details=merged)
        return merged


# --------------------------------------------------------------------------------------------------
# Compose (create-prompt / create-compose)
# --------------------------------------------------------------------------------------------------
class RiffusionComposeOperator(ResumableJobMixin, BaseOperator):
    """Generate songs with Riffusion (two songs per call) and wait for them.

    ``mode="prompt"`` calls create-prompt with ``prompt`` (and ``instrumental``); ``mode="compose"``
    calls create-compose with ``prompts`` (1-3 items: a string or ``{"prompt", "strength" 20-100,
    "start" 0-100, "end" 0-100}``), ``lyrics``, ``title``, ``lyrics_strength``, ``lyrics_weirdness``,
    ``audio_upload_id`` and ``image_id``.

    Every create costs credits and the API has no idempotency key, so the operator sends a deterministic
    ``replyRef`` (``airflow:<dag>:<task>:<run>:<map_index>`` unless ``reply_ref`` is given), stores the job
    ids in ``task_state_store`` (Airflow 3.3+) before waiting or deferring, and on a retry reconnects to
    those jobs. Without a state store (older Airflow), or after an ambiguous create failure, it looks for
    running jobs with that ``replyRef`` in ``GET scheduler`` before creating.

    Returns ``{"job_ids", "song_ids", "songs": [{"id", "title", "duration_s", "download_url",
    "share_url", "image_url", "status", ...}], "user_id"}``. XCom ``job_ids`` and the share URL (extra link)
    are pushed before waiting.
    """

    template_fields: Sequence[str] = (
        "prompt", "prompts", "instrumental", "lyrics", "title", "lyrics_strength", "lyrics_weirdness",
        "audio_upload_id", "image_id", "model", "user_id", "reply_url", "reply_ref", "max_jobs", "conn_id",
    )
    template_fields_renderers = {"prompts": "json"}
    operator_extra_links = (RiffusionSongLink(),)
    external_id_key = "riffusion_compose_jobs"

    def __init__(
        self,
        *,
        mode: str = "prompt",
        prompt: str | None = None,
        prompts: Any = None,
        instrumental: bool | None = None,
        lyrics: str | None = None,
        title: str | None = None,
        lyrics_strength: int | None = None,
        lyrics_weirdness: int | None = None,
        audio_upload_id: str | None = None,
        image_id: str | None = None,
        model: str | None = None,
        user_id: str | None = None,
        reply_url: str | None = None,
        reply_ref: str | None = None,
        max_jobs: int | None = None,
        conn_id: str = RiffusionHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 15.0,
        timeout: float | None = 1800.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in ("prompt", "compose"):
            raise InvalidInputError(f"mode must be 'prompt' (create-prompt) or 'compose' (create-compose), got {mode!r}")
        self.mode = mode
        self.prompt = prompt
        self.prompts = prompts
        self.instrumental = instrumental
        self.lyrics = lyrics
        self.title = title
        self.lyrics_strength = lyrics_strength
        self.lyrics_weirdness = lyrics_weirdness
        self.audio_upload_id = audio_upload_id
        self.image_id = image_id
        self.model = model
        self.user_id = user_id
        self.reply_url = reply_url
        self.reply_ref = reply_ref
        self.max_jobs = max_jobs
        self.conn_id = conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self._result: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> RiffusionHook:
        return RiffusionHook(conn_id=self.conn_id)

    # ---- inputs -----------------------------------------------------------------------------
    def _create_kwargs(self) -> dict[str, Any]:
        common = {"model": self.model, "user_id": self.user_id, "reply_url": self.reply_url, "max_jobs": self.max_jobs}
        if self.mode == "prompt":
            if self.prompts is not None:
                raise InvalidInputError("prompts is for mode='compose'; give prompt for mode='prompt'")
            return {"prompt": self.prompt, "instrumental": self.instrumental, **common}
        if self.prompt is not None and self.prompts is None:
            self.prompts = [self.prompt]
        if self.prompts is None:
            raise InvalidInputError("prompts is required for mode='compose' (1 to 3 prompts)")
        if self.instrumental is not None:
            raise InvalidInputError("instrumental is for mode='prompt'; in compose mode omit lyrics for instrumental music")
        return {
            "prompts": self.prompts, "lyrics": self.lyrics, "title": self.title,
            "lyrics_strength": self.lyrics_strength, "lyrics_weirdness": self.lyrics_weirdness,
            "audio_upload_id": self.audio_upload_id, "image_id": self.image_id, **common,
        }

    def _validate(self) -> tuple[dict[str, Any], str, bool]:
        if self.poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be > 0 seconds, got {self.poll_interval!r}")
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidInputError(f"timeout must be > 0 seconds or None, got {self.timeout!r}")
        kwargs = self._create_kwargs()
        # validate everything before any request (no HTTP here)
        if self.mode == "prompt":
            if not isinstance(kwargs["prompt"], str) or not kwargs["prompt"].strip():
                raise InvalidInputError("prompt is required for mode='prompt': describe the song")
            self.hook._common_create_fields(self.model, self.user_id, self.reply_url, self.reply_ref, self.max_jobs)
        else:
            self.hook.build_compose_body(reply_ref=self.reply_ref, **kwargs)
        return kwargs, self.reply_ref or "", self.reply_ref is None

    def _reply_ref(self, context: Context) -> str:
        if self.reply_ref:
            return self.reply_ref
        ti = context.get("ti")
        dag_id = getattr(ti, "dag_id", None) or self.dag_id
        run_id = getattr(ti, "run_id", None) or context.get("run_id") or "manual"
        map_index = getattr(ti, "map_index", -1)
        if not isinstance(map_index, int):
            map_index = -1
        return default_reply_ref(str(dag_id), str(self.task_id), str(run_id), map_index)

    # ---- ResumableJobMixin hooks ----------------------------------------------------------------
    def submit_job(self, context: Context) -> dict[str, Any]:
        kwargs, _, derived = self._validate()
        reply_ref = self._reply_ref(context)
        job_ids = self.hook.create_with_recovery(self.mode, reply_ref=reply_ref, look_before=derived, **kwargs)
        self.log.info("Riffusion %s job(s) %s (replyRef %s)", self.mode, job_ids, reply_ref)
        return {"job_ids": job_ids, "user_id": self.user_id}

    def get_job_status(self, external_id: Any, context: Context) -> str:
        return self._status(external_id).state

    def is_job_active(self, status: str) -> bool:
        return status == "running"

    def is_job_succeeded(self, status: str) -> bool:
        return status == "success"

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        self._announce(external_id, context)
        if not self.wait_for_completion:
            self._result = self._build_result(external_id, None)
            return self._result
        result = wait_for(
            lambda: self._status(external_id),
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            describe=f"Riffusion songs {external_id['job_ids']}",
            logger=self.log,
        )
        self._result = self._build_result(external_id, result, context)
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        if self._result is not None:
            return self._result
        self._announce(external_id, context)
        return self._build_result(external_id, self._status(external_id), context)

    # ---- execution ------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        self._validate()
        if not self.deferrable:
            return self.execute_resumable(context)
        store = _store(context)
        external_id: dict[str, Any] | None = None
        stored = store.get(self.external_id_key) if store is not None else None
        if stored:
            status = self._status(stored)
            if status.state == "running":
                self.log.info("Reconnecting to Riffusion job(s) %s from a previous try", stored["job_ids"])
                external_id = stored
            elif status.state == "success":
                self.log.info("Riffusion job(s) %s already completed in a previous try", stored["job_ids"])
                self._announce(stored, context)
                return self._build_result(stored, status, context)
        if external_id is None:
            external_id = self.submit_job(context)
            if store is not None:
                store.set(self.external_id_key, external_id)  # before deferring: a retry reconnects
        self._announce(external_id, context)
        if not self.wait_for_completion:
            return self._build_result(external_id, None)
        first = self._status(external_id)
        if first.done:
            return self._build_result(external_id, first, context)
        self.defer(
            trigger=RiffusionSongTrigger(
                conn_id=self.conn_id,
                target={"job_ids": list(external_id["job_ids"]), "user_id": external_id.get("user_id")},
                poll_interval=self.poll_interval,
                deadline=deadline_after(self.timeout),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        checked = validate_event(event, describe="Riffusion songs")
        target = checked.get("target") or {}
        payload = checked.get("payload") or {}
        external_id = {"job_ids": target.get("job_ids") or payload.get("job_ids"), "user_id": target.get("user_id")}
        return self._build_result(external_id, PollResult("success", str(checked.get("message") or ""), payload), context)

    # ---- helpers --------------------------------------------------------------------------------
    def _status(self, external_id: Any) -> PollResult:
        return self.hook.song_status(normalize_job_ids(external_id["job_ids"]), external_id.get("user_id"))

    def _announce(self, external_id: Any, context: Context) -> None:
        ids = list(external_id["job_ids"])
        _push(context, "job_ids", ids)
        _push(context, SHARE_URL_XCOM_KEY, SHARE_URL_TEMPLATE.format(id=ids[0]))

    def _build_result(self, external_id: Any, result: PollResult | None, context: Context | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_ids": list(external_id["job_ids"]),
            "user_id": external_id.get("user_id"),
            "song_ids": [],
            "songs": [],
        }
        if result is None:
            return out
        if result.state == "failed":
            raise JobFailedError(f"Riffusion generation failed: {result.message}", details=result.payload)
        songs = [song_summary(s) for s in result.payload.get("songs") or []]
        out["songs"] = songs
        out["song_ids"] = [s["id"] for s in songs if s.get("id")]
        if context is not None:
            _push(context, "song_ids", out["song_ids"])
            if songs and songs[0].get("share_url"):
                _push(context, SHARE_URL_XCOM_KEY, songs[0]["share_url"])
        return out


# --------------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------------
class RiffusionDownloadOperator(BaseOperator):
    """Download completed songs to a folder (local or any ``ObjectStoragePath``).

    One file per song named ``<title>-<song id>.<ext>`` (sanitised: no separators, no ``..``). Formats:
    ``m4a`` (the song's ``download_url``; the API token is never sent to that host), ``mp3`` / ``wav``
    (GET music/download) or ``stems`` (a folder ``<title>-<id>/`` with one file per stem).
    Returns the list of written paths (strings).

    :param song_ids: song or job id(s), or the dict returned by :class:`RiffusionComposeOperator`. Templated.
    :param destination: folder (path, ``file://``/``s3://`` URL or ``ObjectStoragePath``); default
        ``<tmp>/riffusion``. Templated.
    """

    template_fields: Sequence[str] = ("song_ids", "destination", "user_id", "conn_id", "destination_conn_id")

    def __init__(
        self,
        *,
        song_ids: Any,
        destination: Any = None,
        download_format: str = "m4a",
        user_id: str | None = None,
        conn_id: str = RiffusionHook.default_conn_name,
        destination_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if download_format not in DOWNLOAD_FORMATS:
            raise InvalidInputError(f"download_format must be one of {', '.join(DOWNLOAD_FORMATS)}, got {download_format!r}")
        self.song_ids = song_ids
        self.destination = destination
        self.download_format = download_format
        self.user_id = user_id
        self.conn_id = conn_id
        self.destination_conn_id = destination_conn_id

    @cached_property
    def hook(self) -> RiffusionHook:
        return RiffusionHook(conn_id=self.conn_id)

    def execute(self, context: Context) -> list[str]:
        ids = normalize_job_ids(self.song_ids, argument="song_ids")
        dest = self.destination or os.path.join(tempfile.gettempdir(), "riffusion")
        if isinstance(dest, str) and "://" in dest and self.destination_conn_id:
            dest = to_storage_path(dest, conn_id=self.destination_conn_id)
        folder = ensure_writable_destination(dest)
        written: list[str] = []
        seen: set[str] = set()
        for ident in ids:
            songs = self.hook.get_music(ident, self.user_id)
            if not songs:
                raise MusicApiError(f"Riffusion song {ident!r} not found (GET music returned no song)")
            for song in songs:
                sid = str(song.get("id") or ident)
                if sid in seen:
                    continue
                seen.add(sid)
                status = str(song.get("status") or "").lower()
                if status not in ("completed", "complete"):
                    raise MusicApiError(
                        f"Riffusion song {sid} is {status or 'in an unknown state'}, not completed: wait for it "
                        "(RiffusionSongSensor or RiffusionComposeOperator) before downloading"
                    )
                written.extend(self._download_song(song, folder))
        self.log.info("Downloaded %d file(s) to %s", len(written), folder)
        return written

    def _download_song(self, song: dict[str, Any], folder: Any) -> list[str]:
        fmt = self.download_format
        if fmt == "stems":
            sub = _inside(folder, song_file_name(song, "d").rsplit(".", 1)[0])
            return [str(p) for p in self.hook.download_stems(str(song["id"]), sub, self.user_id).values()]
        target = _inside(folder, song_file_name(song, fmt))
        if fmt == "m4a":
            url = song.get("download_url")
            if not url:
                raise MusicApiError(f"Riffusion song {song.get('id')} has no download_url")
            return [str(self.hook.download_url(str(url), target))]
        return [str(self.hook.download_music(str(song["id"]), target, download_format=fmt, user_id=self.user_id))]


def _inside(folder: Any, name: str) -> Any:
    """``folder / name``, refusing anything that would leave ``folder``."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidInputError(f"unsafe output file name {name!r}")
    path = folder / name
    if not str(path).startswith(str(folder).rstrip("/") + "/"):
        raise InvalidInputError(f"unsafe output file name {name!r}")
    return path
