"""Operators of the Riffusion (useapi.net) integration: upload audio, compose songs, download songs.

Built on :mod:`airflow_provider_music.operators.base`: each operator states only what differs (the
request, how an earlier try's work is found, the output). Pure rules come from
:mod:`airflow_provider_music.contract.riffusion`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract.riffusion import (
    OPERATOR_DOWNLOAD_FORMATS,
    copyright_problem,
    default_reply_ref,
    normalize_job_ids,
    share_url,
    song_state,
)
from airflow_provider_music.contract.riffusion_files import song_file_name
from airflow_provider_music.core import lineage
from airflow_provider_music.core.errors import CLOCK_SKEW, InvalidInputError, MusicApiError
from airflow_provider_music.core.files import ensure_writable_destination, to_storage_path
from airflow_provider_music.core.parsing import PollResult, format_seconds
from airflow_provider_music.hooks.riffusion import (
    RiffusionCopyrightMatchError,
    RiffusionHook,
    RiffusionLostAnswerError,
)
from airflow_provider_music.operators.base import (
    MusicJobOperator,
    MusicLink,
    MusicOperator,
    check_flag,
    created_after,
    is_retry,
)
from airflow_provider_music.operators.cost import RiffusionCost
from airflow_provider_music.triggers.riffusion import SONG_STATUS, UPLOAD_STATUS, song_target, upload_target

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

SHARE_URL_XCOM_KEY = "riffusion_share_url"
DOWNLOAD_FORMATS = OPERATOR_DOWNLOAD_FORMATS
COMPOSE_MODES = ("prompt", "compose")


class RiffusionSongLink(MusicLink):
    """Opens the first song's page on riffusion.com (where a person can listen, share and download)."""

    name = "Riffusion song"
    key = SHARE_URL_XCOM_KEY


def _upload_of(record: dict[str, Any]) -> dict[str, Any]:
    """The upload of a record (records of the pre-base operator nest it under ``upload``)."""
    nested = record.get("upload")
    return nested if isinstance(nested, dict) else record


def _local_or_url(path: Any) -> str:
    """A plain local path for local files (not ``file://``), the URL for remote storage."""
    protocol = getattr(path, "protocol", "")
    return str(path.path) if protocol in ("file", "local", "") and hasattr(path, "path") else str(path)


# --------------------------------------------------------------------------------------------------
# Upload audio
# --------------------------------------------------------------------------------------------------
class RiffusionBaseOperator(MusicOperator):
    """Base of every Riffusion operator and sensor: the ``riffusion_conn_id`` argument and the typed hook.

    :param riffusion_conn_id: the Riffusion connection (templated; default ``riffusion_default``). Another API's
        connection argument, or ``conn_id=``, fails with an error naming this one.
    """

    hook_class = RiffusionHook
    hook: RiffusionHook

    def __init__(self, *, riffusion_conn_id: str = RiffusionHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(riffusion_conn_id=riffusion_conn_id, **kwargs)


class RiffusionUploadAudioOperator(RiffusionBaseOperator, MusicJobOperator):
    """Upload an mp3/m4a/wav file to Riffusion and (optionally) wait until it is processed.

    Returns the normalised upload: ``id``, ``audio_upload_id``, ``transcription_job_id``, ``status``,
    ``lyrics``, ``is_flagged``, ``created_at``, ``user_id``, ``type``, ``matches`` (Audible Magic, every
    documented field), ``audible_magic_status``, ``unknown_media_file_duration`` ...; give
    ``audio_upload_id`` to :class:`RiffusionComposeOperator`. XCom ``upload_id`` and ``audio_upload_id``
    are pushed right after the upload. A status this package does not know (``rejected``, ``moderated``,
    ...) never counts as success: the wait goes on with one warning per status, and at ``timeout`` the task
    fails naming it (the docs call any status but ``pending`` usable: check the upload yourself then).

    :param source: local path or ``ObjectStoragePath`` (or ``s3://...`` string with ``source_conn_id``). Templated.
    :param file_name: name without extension shown in Riffusion (default: the file's name). Templated.
    :param content_type: override the type guessed from the extension (``audio/mpeg``, ``audio/mp4``,
        ``audio/x-m4a``, ``audio/wav``, ``audio/wave``).
    :param user_id: Riffusion account (default: the connection's ``user_id`` extra). Templated.
    :param fail_on_copyright_match: fail (without retries) when Audible Magic matched or the upload is flagged.
    :param recreate_on_lost_answer: when an upload's answer was lost (useapi.net cannot list uploads, so it cannot be
        found), upload again instead of failing with "may have been processed; upload id unknown".
    :param riffusion_conn_id: connection id (default ``riffusion_default``). Templated.

    Waiting: ``wait_for_completion``, ``deferrable``, ``poll_interval`` (10 s), ``timeout`` (600 s: the docs
    say a file pending after 10 minutes never completes).
    """

    status_check = UPLOAD_STATUS
    state_key = "riffusion_upload"
    default_poll_interval = 10.0
    default_timeout = 600.0
    template_fields: Sequence[str] = ("source", "file_name", "user_id", "source_conn_id")

    def __init__(
        self,
        *,
        source: Any,
        file_name: str | None = None,
        content_type: str | None = None,
        user_id: str | None = None,
        source_conn_id: str | None = None,
        fail_on_copyright_match: bool = False,
        recreate_on_lost_answer: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source, self.file_name, self.content_type = source, file_name, content_type
        self.user_id, self.source_conn_id = user_id, source_conn_id
        self.fail_on_copyright_match = check_flag("fail_on_copyright_match", fail_on_copyright_match)
        self.recreate_on_lost_answer = check_flag("recreate_on_lost_answer", recreate_on_lost_answer)

    def _source(self) -> Any:
        if isinstance(self.source, str) and "://" in self.source and self.source_conn_id:
            return to_storage_path(self.source, conn_id=self.source_conn_id)
        return self.source

    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Upload the audio (journalled); an earlier try whose upload answer was lost fails the task
        instead of uploading again, unless ``recreate_on_lost_answer``."""
        journal = self.attempts(context)
        earlier = journal.earlier()
        if earlier and earlier.get("source") == str(self.source) and not self.recreate_on_lost_answer:
            raise RiffusionLostAnswerError.after(
                f"Riffusion upload-audio of {str(self.source)[:200]!r} (an earlier try sent it at "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(float(earlier.get('at') or 0)))} and got no answer)",
                check="the account's uploads at riffusion.com (useapi.net cannot list uploads)",
                note="Not uploading again automatically; recreate_on_lost_answer=True uploads again",
            )
        upload = journal.send(lambda: self.hook.upload_audio(
            self._source(), self.file_name, self.content_type, self.user_id, recreate_on_lost_answer=self.recreate_on_lost_answer
        ), source=str(self.source))
        record = {k: v for k, v in upload.items() if k != "raw"}
        record["user_id"] = record.get("user_id") or self.user_id
        return record

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status target: the upload (and its account's ``user_id``)."""
        return upload_target(_upload_of(record)["id"], record.get("user_id") or self.user_id)

    def announce(self, record: dict[str, Any], context: Context) -> None:
        """Push ``upload_id`` and ``audio_upload_id`` before waiting."""
        upload = _upload_of(record)
        self.push(context, "upload_id", upload["id"])
        self.push(context, "audio_upload_id", upload.get("audio_upload_id") or upload["id"])

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> dict[str, Any]:
        """The upload merged with its final status; ``fail_on_copyright_match`` fails the task on a match."""
        merged = dict(_upload_of(record))
        for key, value in (result.payload if result is not None else {}).items():
            if value is not None or key not in merged:
                merged[key] = value
        self.report(record, merged)  # the verdict reaches lineage even when a match fails the task
        if self.fail_on_copyright_match:
            problem = copyright_problem(merged)
            if problem:
                raise RiffusionCopyrightMatchError(f"Riffusion upload {merged.get('id')}: {problem}", details=merged)
        return merged

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: the audio file -> the upload (named by its ``audio_upload_id``); the Audible Magic verdict."""
        upload = dict(output) if isinstance(output, dict) else _upload_of(record)
        lineage.add_datasets(self.task_report.inputs, lineage.path_dataset(self._source()))
        lineage.add_datasets(self.task_report.outputs, upload_dataset(upload))
        self.task_report.facts.update(upload_id=upload.get("id"), account=record.get("user_id") or self.user_id)
        if isinstance(output, dict):
            self.task_report.facts.update(upload_facts(output))

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """The upload's id, status, flag and matches, for the summary line."""
        matches = len(output.get("matches") or [])
        return [f"upload {output.get('id')} {output.get('status')}, flagged={output.get('is_flagged')}, {matches} match(es)"]


# --------------------------------------------------------------------------------------------------
# Compose (create-prompt / create-compose)
# --------------------------------------------------------------------------------------------------
class RiffusionComposeOperator(RiffusionCost, RiffusionBaseOperator, MusicJobOperator):
    """Generate songs with Riffusion (two songs per call) and wait for them.

    ``mode="prompt"`` calls create-prompt with ``prompt`` (and ``instrumental``); ``mode="compose"``
    calls create-compose with ``prompts`` (1-3 items: a string or ``{"prompt", "strength" 20-100,
    "start" 0-100, "end" 0-100}``), ``lyrics``, ``title``, ``lyrics_strength``, ``lyrics_weirdness``,
    ``audio_upload_id`` and ``image_id``. Prompts and lyrics are limited to 10,000 characters.

    Every create costs credits and the API has no idempotency key. The operator sends a deterministic
    ``replyRef`` (``airflow:<dag>:<task>:<run>:<map_index>`` unless ``reply_ref`` is given) and never
    creates blindly a second time: a later try reconnects to the stored job ids (Airflow 3.3+), or finds
    the earlier try's work through the API (running jobs by ``replyRef``, finished songs by the request
    and time window); a create whose answer was lost and whose work cannot be found fails with
    "may have been created; ids unknown: check ..." unless ``recreate_on_lost_answer=True``.

    Returns ``{"job_ids", "song_ids", "songs": [{"id", "title", "duration_s", "download_url" (without
    query string), "share_url", "image_url", "status", ...}], "user_id"}``: give it to
    :class:`RiffusionDownloadOperator` as ``song_ids=compose.output`` (mapped composes too).
    """

    status_check = SONG_STATUS
    state_key = "riffusion_compose_jobs"
    default_poll_interval = 15.0
    default_timeout = 1800.0
    operator_extra_links = (RiffusionSongLink(),)
    template_fields: Sequence[str] = (
        "prompt", "prompts", "instrumental", "lyrics", "title", "lyrics_strength", "lyrics_weirdness",
        "audio_upload_id", "image_id", "model", "user_id", "reply_url", "reply_ref", "max_jobs",
    )
    template_fields_renderers = {"prompts": "json"}

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
        recreate_on_lost_answer: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in COMPOSE_MODES:
            raise InvalidInputError(f"mode must be 'prompt' (create-prompt) or 'compose' (create-compose), got {mode!r}")
        self.mode = mode
        self.prompt, self.prompts, self.instrumental = prompt, prompts, instrumental
        self.lyrics, self.title = lyrics, title
        self.lyrics_strength, self.lyrics_weirdness = lyrics_strength, lyrics_weirdness
        self.audio_upload_id, self.image_id, self.model = audio_upload_id, image_id, model
        self.user_id, self.reply_url, self.reply_ref, self.max_jobs = user_id, reply_url, reply_ref, max_jobs
        self.recreate_on_lost_answer = check_flag("recreate_on_lost_answer", recreate_on_lost_answer)

    # ---- inputs -----------------------------------------------------------------------------
    def _create_kwargs(self) -> dict[str, Any]:
        common = {"model": self.model, "user_id": self.user_id, "reply_url": self.reply_url, "max_jobs": self.max_jobs}
        if self.mode == "prompt":
            if self.prompts is not None:
                raise InvalidInputError("prompts is for mode='compose'; give prompt for mode='prompt'")
            if not isinstance(self.prompt, str) or not self.prompt.strip():
                raise InvalidInputError("prompt is required for mode='prompt': describe the song")
            return {"prompt": self.prompt, "instrumental": self.instrumental, **common}
        prompts = [self.prompt] if self.prompt is not None and self.prompts is None else self.prompts
        if prompts is None:
            raise InvalidInputError("prompts is required for mode='compose' (1 to 3 prompts)")
        if self.instrumental is not None:
            raise InvalidInputError("instrumental is for mode='prompt'; in compose mode omit lyrics for instrumental music")
        return {
            "prompts": prompts, "lyrics": self.lyrics, "title": self.title,
            "lyrics_strength": self.lyrics_strength, "lyrics_weirdness": self.lyrics_weirdness,
            "audio_upload_id": self.audio_upload_id, "image_id": self.image_id, **common,
        }

    def validate(self) -> None:
        """Build the create body (every check of ``mode``'s arguments) without sending it."""
        self.hook.create_body(self.mode, reply_ref=self.reply_ref, **self._create_kwargs())  # every check, no request

    def _reply_ref(self, context: Context) -> str:
        if self.reply_ref:
            return str(self.reply_ref)
        ti = context.get("ti")
        dag_id = getattr(ti, "dag_id", None) or self.dag_id
        run_id = getattr(ti, "run_id", None) or context.get("run_id") or "manual"
        map_index = getattr(ti, "map_index", -1)
        return default_reply_ref(str(dag_id), str(self.task_id), str(run_id), map_index if isinstance(map_index, int) else -1)

    # ---- lifecycle --------------------------------------------------------------------------
    def find_existing(self, context: Context) -> dict[str, Any] | None:
        """On a later try, the work of an earlier one: running jobs with our ``replyRef`` and finished songs
        of the same request created since the recorded attempt (or the DAG run) started."""
        earlier = self.attempts(context).earlier()
        if not is_retry(context) and earlier is None:
            return None  # a first try has no earlier work (a retry or a clear raises try_number)
        since = float(earlier["at"]) - CLOCK_SKEW if earlier and earlier.get("at") else created_after(context)
        body = self.hook.create_body(self.mode, reply_ref=self._reply_ref(context), **self._create_kwargs())
        ids = self.hook.find_created(body, since=since)
        if ids:
            self.log.info("Found Riffusion work %s of an earlier try: not creating again", ids)
            return {"job_ids": ids, "user_id": self.user_id}
        if earlier is not None and not self.recreate_on_lost_answer:
            raise RiffusionLostAnswerError.after(
                f"Riffusion create-{self.mode} (an earlier try sent it and got no answer)",
                check=self.hook.lost_create_hint(body, float(earlier.get("at") or 0)),
                note="Not creating again automatically; recreate_on_lost_answer=True creates again",
            )
        return None

    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Create the songs (journalled, with a replyRef marker; a lost answer is looked up, never re-sent
        blindly); the record holds the job ids."""
        reply_ref = self._reply_ref(context)
        job_ids = self.attempts(context).send(lambda: self.hook.create_with_recovery(
            self.mode, reply_ref=reply_ref, look_before=False, recreate_on_lost_answer=self.recreate_on_lost_answer, **self._create_kwargs()
        ), reply_ref=reply_ref)
        self.log.info("Riffusion %s job(s) %s (replyRef %s)", self.mode, job_ids, reply_ref)
        return {"job_ids": job_ids, "user_id": self.user_id}

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status target: the job ids (and ``user_id``)."""
        return song_target(record["job_ids"], record.get("user_id"))

    def announce(self, record: dict[str, Any], context: Context) -> None:
        """Push ``job_ids`` and the first song's share link before waiting."""
        self.push(context, "job_ids", list(record["job_ids"]))
        self.push_link(context, RiffusionSongLink, share_url(record["job_ids"][0]))

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> dict[str, Any]:
        """``{job_ids, user_id, song_ids, songs}`` from the final status (empty lists when not waiting)."""
        out: dict[str, Any] = {"job_ids": list(record["job_ids"]), "user_id": record.get("user_id"), "song_ids": [], "songs": []}
        if result is None:
            return out
        songs = [s for s in result.payload.get("songs") or [] if isinstance(s, dict)]
        out["songs"] = songs
        out["song_ids"] = [s["id"] for s in songs if isinstance(s.get("id"), str)]
        self.push(context, "song_ids", out["song_ids"])
        if songs and songs[0].get("share_url"):
            self.push_link(context, RiffusionSongLink, songs[0]["share_url"])
        return out

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: the reference upload (if any) -> the songs (the jobs while they are unknown)."""
        report = self.task_report
        if isinstance(self.audio_upload_id, str) and self.audio_upload_id.strip():
            lineage.add_datasets(report.inputs, lineage.riffusion_upload(self.audio_upload_id.split(":")[0]))
        report.facts.update(job_ids=list(record["job_ids"]), mode=self.mode, model=self.model or "default",
                            account=record.get("user_id") or self.user_id)
        if isinstance(output, dict):
            songs = list(output.get("song_ids") or [])
            report.facts["song_ids"] = songs
            lineage.add_datasets(report.outputs, *(lineage.riffusion_song(s) for s in songs))
            if not songs:  # not waited for: the song sensor takes it from here
                lineage.add_datasets(report.outputs, *(lineage.riffusion_job(j) for j in record["job_ids"]))

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """Title, duration and share link of each song, for the summary line."""
        return [
            f"{s.get('title') or s.get('id')} ({format_seconds(s.get('duration_s'))} s) {s.get('share_url') or ''}".strip()
            for s in output["songs"]
        ] or [f"jobs {', '.join(record['job_ids'])}"]


# --------------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------------
class RiffusionDownloadOperator(RiffusionBaseOperator):
    """Download completed songs to a folder (local or any ``ObjectStoragePath``).

    One file per song named ``<title>-<song id>.<ext>`` (safe, and distinct for distinct ids). Formats:
    ``m4a`` (the song's ``download_url``, re-read by id at download time so a signed link is fresh and never
    stored; the API token is never sent to that host), ``mp3`` / ``wav`` (GET music/download) or ``stems``
    (a folder ``<title>-<id>/`` with one distinct file per stem). Returns the written files: plain local
    paths for a local destination, URLs for remote storage.

    :param song_ids: a song or job id, a list of ids, a compose result (``compose.output``) or a list of
        compose results (a mapped compose). Templated.
    :param destination: folder (path, ``file://``/``s3://`` URL or ``ObjectStoragePath``); default
        ``<tmp>/riffusion``. Templated.
    :param download_format: ``m4a`` (default), ``mp3``, ``wav`` or ``stems``.
    :param user_id: Riffusion account (default: the connection's ``user_id`` extra). Templated.
    :param destination_conn_id: object-storage connection of a remote destination URL. Templated.
    :param riffusion_conn_id: connection id (default ``riffusion_default``). Templated.
    """

    template_fields: Sequence[str] = ("song_ids", "destination", "user_id", "destination_conn_id")

    def __init__(
        self,
        *,
        song_ids: Any,
        destination: Any = None,
        download_format: str = "m4a",
        user_id: str | None = None,
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
        self.destination_conn_id = destination_conn_id

    def validate(self) -> None:
        """``song_ids`` are valid ids, before any request."""
        normalize_job_ids(self.song_ids, argument="song_ids")

    def execute(self, context: Context) -> list[str]:
        """Download every song into ``destination`` (default: a temp folder); returns the file paths."""
        self.check_rendered()
        ids = normalize_job_ids(self.song_ids, argument="song_ids")
        dest = self.destination or os.path.join(tempfile.gettempdir(), "riffusion")
        if isinstance(dest, str) and "://" in dest and self.destination_conn_id:
            dest = to_storage_path(dest, conn_id=self.destination_conn_id)
        folder = ensure_writable_destination(dest)
        songs = self._completed_songs(ids)
        report = self.task_report
        lineage.add_datasets(report.inputs, *(lineage.riffusion_song(s["id"]) for s in songs if s.get("id")))
        report.facts.update(song_ids=[s.get("id") for s in songs], format=self.download_format, account=self.user_id)
        written: list[str] = []
        for song in songs:
            written.extend(_local_or_url(p) for p in self._download_song(song, folder))
        lineage.add_paths(report.outputs, written)
        self.log.info("Downloaded %d file(s) of %d song(s) to %s", len(written), len(songs), _local_or_url(folder))
        return written

    def _completed_songs(self, ids: list[str]) -> list[dict[str, Any]]:
        """Re-read every song by id (fresh signed ``download_url``s) and check all are completed first."""
        out: list[dict[str, Any]] = []
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
                if song_state(song) != "success":
                    raise MusicApiError(
                        f"Riffusion song {sid[:100]} is {str(song.get('status') or 'in an unknown state')[:50]}, not "
                        "completed: wait for it (RiffusionSongSensor or RiffusionComposeOperator) before downloading"
                    )
                out.append(song)
        return out

    def _download_song(self, song: dict[str, Any], folder: Any) -> list[Any]:
        fmt = self.download_format
        if fmt == "stems":
            sub = _inside(folder, song_file_name(song, "d").rsplit(".", 1)[0])
            return list(self.hook.download_stems(str(song["id"]), sub, self.user_id).values())
        target = _inside(folder, song_file_name(song, fmt))
        if fmt == "m4a":
            url = song.get("download_url")
            if not isinstance(url, str) or not url:
                raise MusicApiError(f"Riffusion song {str(song.get('id'))[:100]} has no download_url")
            return [self.hook.download_url(url, target)]
        return [self.hook.download_music(str(song["id"]), target, download_format=fmt, user_id=self.user_id)]


def upload_dataset(upload: dict[str, Any]) -> Any:
    """The lineage dataset of an upload: named by ``audio_upload_id`` (what compose reads), else its id's first part."""
    ident = upload.get("audio_upload_id") or str(upload.get("id") or "").split(":")[0]
    return lineage.riffusion_upload(ident) if ident else None


def upload_facts(upload: dict[str, Any]) -> dict[str, Any]:
    """The processing status and Audible Magic verdict of an upload, for the lineage run facet."""
    matches = len(upload.get("matches") or [])
    return {"status": upload.get("status"), "is_flagged": upload.get("is_flagged"), "matches": matches,
            "copyright": "match" if matches or upload.get("is_flagged") else "no match"}


def _inside(folder: Any, name: str) -> Any:
    """``folder / name``, refusing anything that would leave ``folder``."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidInputError(f"unsafe output file name {name!r}")
    path = folder / name
    if not str(path).startswith(str(folder).rstrip("/") + "/"):
        raise InvalidInputError(f"unsafe output file name {name!r}")
    return path
