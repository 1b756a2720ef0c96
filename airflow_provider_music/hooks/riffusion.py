"""Hook for the Riffusion API as resold by useapi.net (``https://api.useapi.net/v1/riffusion/``).

Every endpoint of the useapi.net Riffusion v1 contract has one method here. The hook accepts both
documented response revisions (February 17 and February 25, 2025):

* create-prompt / create-compose return ``{"job_id": ...}`` or ``{"jobs": [{"id": ...}, ...]}``;
  :meth:`RiffusionHook.create_prompt` / :meth:`RiffusionHook.create_compose` always return a list of ids.
* upload-audio returns ``{"job_id"}`` or ``{"id", "audio_upload_id", "transcription_job_id", "is_flagged"}``;
  :meth:`RiffusionHook.upload_audio` always returns the normalised dict.
* status spellings ``complete`` / ``completed`` are both accepted.

API-specific errors: HTTP 596 ("pending error": the account cookie could not be refreshed) raises
:class:`RiffusionAccountPendingError` and a moderated prompt raises :class:`RiffusionModerationError`;
neither is retried. 429 (the account's ``maxJobs`` queue is full) is retried by the core policy, waiting at
least :attr:`RiffusionHook.rate_limit_min_wait` seconds as the vendor recommends.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.core import (
    InvalidInputError,
    MusicApiError,
    MusicApiHook,
    PollResult,
    ValidationError,
    check_audio_content,
    error_from_response,
    redact_url,
    resolve_source,
    to_storage_path,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

DEFAULT_BASE_URL = "https://api.useapi.net/v1/riffusion/"
SHARE_URL_TEMPLATE = "https://www.riffusion.com/riff/{id}"
UPLOAD_WARN_BYTES = 50 * 1024 * 1024
MAX_URL_LENGTH = 1024

#: Audio content types accepted by POST music/upload-audio, by file extension.
AUDIO_CONTENT_TYPES = {"mp3": "audio/mpeg", "m4a": "audio/mp4", "wav": "audio/wav"}
ALLOWED_AUDIO_CONTENT_TYPES = ("audio/mp4", "audio/x-m4a", "audio/mpeg", "audio/wav", "audio/wave")
#: Image content types accepted by POST music/upload-image, by file extension.
IMAGE_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
DOWNLOAD_FORMATS = ("mp3", "wav", "stems")
#: Song fields that the API sends as JSON-encoded strings.
JSON_STRING_FIELDS = ("lyrics_timestamped", "conditions", "simple_waveform")
#: Small song fields kept in XCom / trigger events (never the waveform or timestamped lyrics).
SONG_SUMMARY_FIELDS = (
    "id", "title", "status", "duration_s", "download_url", "share_url", "image_url", "created_at",
    "audio_upload_id", "image_id", "lyrics", "sound",
)
SUMMARY_TEXT_LIMIT = 1000
SONG_DONE = ("completed", "complete")
SONG_FAILED = ("failed", "error")
UPLOAD_PENDING = ("pending", "processing")


class RiffusionAccountPendingError(MusicApiError, AirflowFailException):
    """HTTP 596: useapi.net could not refresh the Riffusion account cookie. Retrying cannot fix it."""


class RiffusionModerationError(ValidationError):
    """The prompt or lyrics were rejected by moderation (``is_flagged`` / ``reason: moderation``)."""


class RiffusionCopyrightMatchError(MusicApiError, AirflowFailException):
    """An uploaded audio file matched copyrighted material (Audible Magic) or was flagged."""


def _check_int(name: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInputError(f"{name} must be an integer between {low} and {high}, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise InvalidInputError(f"{name} must be an integer between {low} and {high}, got {value!r}") from None
    if not number.is_integer() or not low <= number <= high:
        raise InvalidInputError(f"{name} must be an integer between {low} and {high}, got {value!r}")
    return int(number)


def _check_text(name: str, value: Any, *, required: bool = False, max_length: int | None = None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise InvalidInputError(f"{name} is required: give a non-empty string")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    if max_length is not None and len(value) > max_length:
        raise InvalidInputError(f"{name} must be at most {max_length} characters, got {len(value)}")
    return value


def _check_reply_url(value: Any) -> str | None:
    url = _check_text("reply_url (replyUrl)", value, max_length=MAX_URL_LENGTH)
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise InvalidInputError(f"reply_url (replyUrl) must be an http(s) URL, got {redact_url(url)!r}")
    return url


def _check_id(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} is required: give the id string returned by the API, got {value!r}")
    if any(c in value for c in "/?#&\x00") or len(value) > 256:
        raise InvalidInputError(
            f"{name} is not a valid Riffusion id: {value!r} (at most 256 characters, without '/', '?', '#', '&' or NUL)"
        )
    return value.strip()


def normalize_job_ids(ids: Any, *, argument: str = "job_ids") -> list[str]:
    """A job id, a list of ids, or a compose result dict -> a non-empty list of id strings."""
    if isinstance(ids, Mapping):
        ids = ids.get("song_ids") or ids.get("job_ids")
    if isinstance(ids, str):
        text = ids.strip()
        if text.startswith("["):
            try:
                ids = json.loads(text.replace("'", '"'))
            except ValueError:
                raise InvalidInputError(f"{argument}: cannot parse {ids!r} as a list of ids") from None
        else:
            ids = [text]
    if not isinstance(ids, Sequence) or isinstance(ids, (bytes, bytearray)) or not ids:
        raise InvalidInputError(f"{argument} must be a song/job id or a non-empty list of ids, got {ids!r}")
    return [_check_id(f"{argument}[{i}]", value) for i, value in enumerate(ids)]


def parse_create_response(body: Any) -> list[str]:
    """``{"job_id"}`` (Feb 17 revision) or ``{"jobs": [{"id"}, ...]}`` (later revision) -> list of ids."""
    ids: list[str] = []
    if isinstance(body, Mapping):
        jobs = body.get("jobs")
        if isinstance(jobs, list):
            for job in jobs:
                if isinstance(job, Mapping) and job.get("id"):
                    ids.append(str(job["id"]))
                elif isinstance(job, str) and job:
                    ids.append(job)
        if not ids and body.get("job_id"):
            ids.append(str(body["job_id"]))
        if not ids and body.get("id"):
            ids.append(str(body["id"]))
    if not ids:
        from airflow_provider_music.core import InvalidResponseError

        raise InvalidResponseError(
            f"Riffusion create answered without a job id (expected 'job_id' or 'jobs'): {str(body)[:200]}",
            request_may_have_been_processed=True,
        )
    return ids


def decode_song(song: Mapping[str, Any], *, decode_json_fields: bool = False) -> dict[str, Any]:
    """Copy a song; decode the JSON-encoded string fields when asked."""
    out = dict(song)
    if decode_json_fields:
        for name in JSON_STRING_FIELDS:
            value = out.get(name)
            if isinstance(value, str) and value.strip()[:1] in ("{", "["):
                try:
                    out[name] = json.loads(value)
                except ValueError:
                    pass  # keep the raw string: the API sometimes elides these fields ("{…}")
    return out


def song_summary(song: Mapping[str, Any]) -> dict[str, Any]:
    """The small, XCom-safe part of a song (title, duration, status, download and share URLs)."""
    out = {k: song.get(k) for k in SONG_SUMMARY_FIELDS if song.get(k) is not None}
    for key in ("lyrics", "sound"):  # keep XCom and trigger events small
        text = out.get(key)
        if isinstance(text, str) and len(text) > SUMMARY_TEXT_LIMIT:
            out[key] = text[:SUMMARY_TEXT_LIMIT] + "…"
    if out.get("id") and not out.get("share_url"):
        out["share_url"] = SHARE_URL_TEMPLATE.format(id=out["id"])
    status = out.get("status")
    if isinstance(status, str) and status.lower() == "complete":
        out["status"] = "completed"
    return out


def _song_failure_reason(song: Mapping[str, Any]) -> str:
    for key in ("error", "reason", "failure_reason", "status_reason", "message"):
        if song.get(key):
            return str(song[key])[:500]
    return "Riffusion reported status 'failed'"


def parse_song_status(job_ids: Sequence[str], songs_by_job: Mapping[str, Sequence[Mapping[str, Any]]]) -> PollResult:
    """Combine ``GET music?id=`` answers for every job id into one :class:`PollResult`."""
    songs: list[dict[str, Any]] = []
    seen: set[str] = set()
    missing = []
    for job_id in job_ids:
        found = songs_by_job.get(job_id) or []
        if not found:
            missing.append(job_id)
        for song in found:
            sid = str(song.get("id") or job_id)
            if sid not in seen:
                seen.add(sid)
                songs.append(dict(song))
    summaries = [song_summary(s) for s in songs]
    payload: dict[str, Any] = {
        "job_ids": list(job_ids),
        "song_ids": [s.get("id") for s in summaries if s.get("id")],
        "songs": summaries,
    }
    for song in songs:
        status = str(song.get("status") or "").lower()
        if status in SONG_FAILED:
            title = f" ({song.get('title')})" if song.get("title") else ""
            return PollResult("failed", f"song {song.get('id')}{title} failed: {_song_failure_reason(song)}", payload)
    done = sum(1 for s in songs if str(s.get("status") or "").lower() in SONG_DONE)
    if not missing and songs and done == len(songs):
        return PollResult("success", f"{done} song(s) completed", payload)
    message = f"{done} of {len(songs)} song(s) completed"
    if missing:
        message += f"; not visible yet: {', '.join(missing)}"
    return PollResult("running", message, payload)


def parse_upload(body: Any, requested_id: str | None = None) -> dict[str, Any]:
    """Normalise POST/GET upload-audio answers of both revisions into one dict.

    Keys: ``id`` (what GET upload-audio takes), ``audio_upload_id`` (what create-compose takes),
    ``transcription_job_id``, ``status``, ``lyrics``, ``is_flagged``, ``matches`` (Audible Magic),
    ``audible_magic_status``, ``audible_magic_description``.
    """
    if not isinstance(body, Mapping):
        from airflow_provider_music.core import InvalidResponseError

        raise InvalidResponseError(f"Riffusion upload-audio answered with an unexpected body: {str(body)[:200]}")
    upload_id = body.get("id") or body.get("job_id") or requested_id
    audio_upload_id = body.get("audio_upload_id") or body.get("storage_name")
    transcription_job_id = body.get("transcription_job_id")
    if upload_id and ":" in str(upload_id):
        head, _, tail = str(upload_id).partition(":")
        audio_upload_id = audio_upload_id or head
        transcription_job_id = transcription_job_id or tail
    audio_upload_id = audio_upload_id or upload_id
    status = body.get("status")
    lyrics = body.get("lyrics") if body.get("lyrics") is not None else body.get("transcribed_lyrics")
    raw_am = body.get("audible_magic_response")
    am: Mapping[str, Any] = raw_am if isinstance(raw_am, Mapping) else {}
    matches = []
    for match in am.get("matches") or []:
        if not isinstance(match, Mapping):
            continue
        raw_meta = match.get("metadata")
        meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
        matches.append(
            {
                "title": meta.get("Title"),
                "artist": meta.get("Artist"),
                "isrc": meta.get("ISRC"),
                "label": meta.get("Label"),
                "am_item_id": match.get("amItemID"),
                "match_type": match.get("matchType"),
                "rule_code": match.get("ruleCode"),
            }
        )
    return {
        "id": str(upload_id) if upload_id else None,
        "audio_upload_id": str(audio_upload_id) if audio_upload_id else None,
        "transcription_job_id": transcription_job_id,
        "status": str(status).lower() if status is not None else None,
        "lyrics": lyrics,
        "is_flagged": bool(body.get("is_flagged")) if body.get("is_flagged") is not None else None,
        "matches": matches,
        "audible_magic_status": am.get("statusCode"),
        "audible_magic_description": am.get("statusDescription"),
        "name": body.get("name"),
    }


def parse_upload_status(upload: Mapping[str, Any]) -> PollResult:
    """``pending`` -> running; ``failed`` -> failed; anything else (``complete``/``completed``) -> success."""
    status = upload.get("status")
    payload = dict(upload)
    if status is None:
        return PollResult("running", "no status reported yet", payload)
    if status in UPLOAD_PENDING:
        return PollResult("running", f"upload {upload.get('id')} is {status}", payload)
    if status in ("failed", "error"):
        return PollResult("failed", f"upload {upload.get('id')} processing failed", payload)
    return PollResult("success", f"upload {upload.get('id')} is {status}", payload)


def copyright_problem(upload: Mapping[str, Any]) -> str | None:
    """A message when Audible Magic matched the upload or it was flagged, else None."""
    matches = upload.get("matches") or []
    if matches:
        titles = ", ".join(
            f"{m.get('title') or 'unknown title'}" + (f" by {m['artist']}" if m.get("artist") else "") for m in matches
        )
        return f"Audible Magic matched {len(matches)} copyrighted work(s): {titles}"
    if upload.get("is_flagged"):
        return "the upload was flagged (is_flagged=true) by Riffusion's copyright check"
    return None


def default_reply_ref(dag_id: str, task_id: str, run_id: str, map_index: int | None = -1) -> str:
    """The deterministic ``replyRef`` of one task instance (same for every try)."""
    index = -1 if map_index is None else map_index
    ref = f"airflow:{dag_id}:{task_id}:{run_id}:{index}"
    if len(ref) > MAX_URL_LENGTH:
        import hashlib

        ref = "airflow:" + hashlib.sha256(ref.encode()).hexdigest()
    return ref


def _parse_started(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / (1000.0 if value > 1e11 else 1.0)
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _safe_name(text: str, *, fallback: str = "song", limit: int = 80) -> str:
    """A file-name fragment: no separators, no dot-only names, no control characters."""
    cleaned = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._ -]+", "_", text or "")).strip(" ._-")
    cleaned = re.sub(r"\s+", "_", cleaned)[:limit].strip("._-")
    return cleaned or fallback


class RiffusionHook(MusicApiHook):
    """Talk to the Riffusion API of useapi.net.

    Connection: type ``riffusion``; password = useapi.net API token; host = base URL (default
    ``https://api.useapi.net/v1/riffusion/``); extra ``user_id`` = default Riffusion account for calls
    that take one (needed when several accounts are configured at useapi.net).

    :param conn_id: Airflow connection id (default ``riffusion_default``).
    """

    conn_name_attr = "conn_id"
    default_conn_name = "riffusion_default"
    conn_type = "riffusion"
    hook_name = "Riffusion (useapi.net)"
    default_base_url = DEFAULT_BASE_URL
    #: Seconds to wait after a 429 without ``Retry-After`` (the docs say "wait 10..30 seconds").
    rate_limit_min_wait = 10.0

    # ---- errors -------------------------------------------------------------------------------
    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        base = error_from_response(method, url, status, headers, text)
        details = base.details if isinstance(base.details, Mapping) else {}
        common: dict[str, Any] = {
            "method": base.method, "path": base.path, "status": status,
            "api_message": base.api_message, "details": base.details,
        }
        if status == 596:
            return RiffusionAccountPendingError(
                f"{method} {base.path} failed with HTTP 596 (Riffusion account pending error): useapi.net could "
                "not refresh the Riffusion account cookie. Log in to riffusion.com, copy a fresh cookie and POST it "
                "once to the 'accounts' endpoint (RiffusionHook.create_account(cookie=..., max_jobs=...)) before "
                f"making new calls. API said: {base.api_message}",
                request_may_have_been_processed=False,
                **common,
            )
        if 400 <= status < 500 and (details.get("reason") == "moderation" or details.get("is_flagged") is True):
            return RiffusionModerationError(
                f"{method} {base.path} was rejected by Riffusion moderation (HTTP {status}, "
                f"reason={details.get('reason')!r}): change the prompt or lyrics; retrying the same request "
                "cannot succeed",
                **common,
            )
        if status == 429 and base.retry_after is None:
            base.retry_after = self.rate_limit_min_wait
        return base

    # ---- helpers ------------------------------------------------------------------------------
    def _user_id(self, user_id: str | None) -> str | None:
        if user_id is not None:
            return _check_text("user_id", user_id)
        value = self.settings.extra("user_id")
        return str(value) if value else None

    async def _auser_id(self, user_id: str | None) -> str | None:
        if user_id is not None:
            return _check_text("user_id", user_id)
        value = (await self.aget_settings()).extra("user_id")
        return str(value) if value else None

    @staticmethod
    def _query(**params: Any) -> dict[str, Any]:
        return {k: v for k, v in params.items() if v is not None}

    def check_connection(self) -> None:
        """GET scheduler/available: cheap, authenticated, no side effects."""
        self.get_scheduler_available()

    # ---- accounts -----------------------------------------------------------------------------
    def list_accounts(self) -> dict[str, Any]:
        """GET accounts: configured Riffusion accounts keyed by ``user_id`` (JWTs come back redacted)."""
        return self.request_json("GET", "accounts") or {}

    def get_account(self, user_id: str) -> dict[str, Any]:
        """GET accounts/{user_id}."""
        return self.request_json("GET", f"accounts/{_check_id('user_id', user_id)}") or {}

    def create_account(self, cookie: str, max_jobs: int = 6) -> dict[str, Any]:
        """POST accounts: add or refresh an account from a riffusion.com cookie (post each cookie once)."""
        _check_text("cookie", cookie, required=True)
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(cookie)  # a riffusion.com session cookie is a credential
        jobs = _check_int("max_jobs (maxJobs)", max_jobs, 1, 10)
        return self.request_json("POST", "accounts", json_body={"cookie": cookie, "maxJobs": jobs}) or {}

    def delete_account(self, user_id: str) -> None:
        """DELETE accounts/{user_id}."""
        self.request("DELETE", f"accounts/{_check_id('user_id', user_id)}")

    # ---- music --------------------------------------------------------------------------------
    def list_music(
        self, offset: int = 0, limit: int = 10, user_id: str | None = None, *, decode_json_fields: bool = False
    ) -> list[dict[str, Any]]:
        """GET music: the account's songs, newest first."""
        off = _check_int("offset", offset, 0, 10**9)
        lim = _check_int("limit", limit, 1, 1000)
        body = self.request_json("GET", "music/", params=self._query(user_id=self._user_id(user_id), offset=off, limit=lim))
        return [decode_song(s, decode_json_fields=decode_json_fields) for s in _song_list(body)]

    def get_music(
        self, job_or_song_id: str, user_id: str | None = None, *, decode_json_fields: bool = False
    ) -> list[dict[str, Any]]:
        """GET music?id=: the song(s) of a job id or a song id (always a list; empty when unknown)."""
        ident = _check_id("job_or_song_id", job_or_song_id)
        body = self.request_json("GET", "music/", params=self._query(user_id=self._user_id(user_id), id=ident))
        return [decode_song(s, decode_json_fields=decode_json_fields) for s in _song_list(body)]

    async def aget_music(self, job_or_song_id: str, user_id: str | None = None) -> list[dict[str, Any]]:
        ident = _check_id("job_or_song_id", job_or_song_id)
        params = self._query(user_id=await self._auser_id(user_id), id=ident)
        return [dict(s) for s in _song_list(await self.arequest_json("GET", "music/", params=params))]

    def delete_music(self, music_id: str, user_id: str | None = None) -> None:
        """DELETE music?id=: delete a song (empty 200 answer)."""
        ident = _check_id("music_id", music_id)
        self.request("DELETE", "music/", params=self._query(user_id=self._user_id(user_id), id=ident))

    def create_prompt(
        self,
        prompt: str,
        *,
        instrumental: bool | None = None,
        model: str | None = None,
        user_id: str | None = None,
        reply_url: str | None = None,
        reply_ref: str | None = None,
        max_jobs: int | None = None,
    ) -> list[str]:
        """POST music/create-prompt: generate songs from a description. Returns the job ids (usually two).

        Not idempotent and costs credits: see :meth:`create_with_recovery` for crash-safe submission.
        """
        body: dict[str, Any] = {"prompt": _check_text("prompt", prompt, required=True)}
        if instrumental is not None:
            if not isinstance(instrumental, bool):
                raise InvalidInputError(f"instrumental must be true or false, got {instrumental!r}")
            body["instrumental"] = instrumental
        body.update(self._common_create_fields(model, user_id, reply_url, reply_ref, max_jobs))
        return parse_create_response(self.request_json("POST", "music/create-prompt", json_body=body))

    def build_compose_body(
        self,
        prompts: str | Sequence[str | Mapping[str, Any]],
        *,
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
    ) -> dict[str, Any]:
        """Validate create-compose arguments and build its JSON body (no request)."""
        if isinstance(prompts, (str, Mapping)):
            prompts = [prompts]
        if not isinstance(prompts, Sequence) or not 1 <= len(prompts) <= 3:
            raise InvalidInputError(f"prompts must hold 1 to 3 prompts (prompt_1..prompt_3), got {prompts!r}")
        body: dict[str, Any] = {}
        for n, item in enumerate(prompts, start=1):
            spec: Mapping[str, Any] = {"prompt": item} if isinstance(item, str) else item
            if not isinstance(spec, Mapping):
                raise InvalidInputError(f"prompt_{n} must be a string or a dict with 'prompt', got {item!r}")
            unknown = set(spec) - {"prompt", "strength", "start", "end"}
            if unknown:
                raise InvalidInputError(
                    f"prompt_{n}: unknown key(s) {sorted(unknown)}; allowed: prompt, strength, start, end"
                )
            body[f"prompt_{n}"] = _check_text(f"prompt_{n}", spec.get("prompt"), required=True)
            strength = _check_int(f"prompt_{n}_strength", spec.get("strength"), 20, 100)
            start = _check_int(f"prompt_{n}_start", spec.get("start"), 0, 100)
            end = _check_int(f"prompt_{n}_end", spec.get("end"), 0, 100)
            if start is not None and end is not None and start >= end:
                raise InvalidInputError(f"prompt_{n}_start ({start}) must be lower than prompt_{n}_end ({end})")
            for key, value in (("strength", strength), ("start", start), ("end", end)):
                if value is not None:
                    body[f"prompt_{n}_{key}"] = value
        if lyrics is not None:
            body["lyrics"] = _check_text("lyrics", lyrics, required=True)
        if title is not None:
            body["title"] = _check_text("title", title, required=True, max_length=200)
        for name, value in (("lyrics_strength", lyrics_strength), ("lyrics_weirdness", lyrics_weirdness)):
            checked = _check_int(name, value, 0, 100)
            if checked is not None:
                body[name] = checked
        if audio_upload_id is not None:
            body["audio_upload_id"] = _check_id("audio_upload_id", audio_upload_id)
        if image_id is not None:
            body["image_id"] = _check_id("image_id", image_id)
        body.update(self._common_create_fields(model, user_id, reply_url, reply_ref, max_jobs))
        return body

    def create_compose(self, prompts: str | Sequence[str | Mapping[str, Any]], **kwargs: Any) -> list[str]:
        """POST music/create-compose: up to three timed prompts (``{"prompt", "strength" 20-100, "start"
        0-100, "end" 0-100}``), optional lyrics, title, ``audio_upload_id``, ``image_id``. Returns job ids.
        """
        body = self.build_compose_body(prompts, **kwargs)
        return parse_create_response(self.request_json("POST", "music/create-compose", json_body=body))

    def _common_create_fields(
        self, model: str | None, user_id: str | None, reply_url: str | None, reply_ref: str | None, max_jobs: int | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if model is not None:
            out["model"] = _check_text("model", model, required=True)
        uid = user_id if user_id is not None else self.settings.extra("user_id")
        if uid:
            out["user_id"] = _check_text("user_id", str(uid))
        url = _check_reply_url(reply_url)
        if url:
            out["replyUrl"] = url
        ref = _check_text("reply_ref (replyRef)", reply_ref, max_length=MAX_URL_LENGTH)
        if ref:
            out["replyRef"] = ref
        jobs = _check_int("max_jobs (maxJobs)", max_jobs, 1, 10)
        if jobs is not None:
            out["maxJobs"] = jobs
        return out

    def create_with_recovery(
        self,
        mode: str,
        *,
        reply_ref: str,
        look_before: bool = True,
        recovery_attempts: int = 3,
        recovery_wait: float = 1.0,
        **kwargs: Any,
    ) -> list[str]:
        """Create songs at most once per ``reply_ref``.

        ``look_before``: first look in ``GET scheduler`` for running jobs carrying ``reply_ref`` (a retry
        after a crash reconnects to them). When the create POST fails in a way that may have reached the
        server, look again before giving up; never re-POST automatically.
        """
        if mode not in ("prompt", "compose"):
            raise InvalidInputError(f"mode must be 'prompt' or 'compose', got {mode!r}")
        import time

        if look_before:
            existing = self.find_jobs_by_reply_ref(reply_ref)
            if existing:
                self.log.info("Found running Riffusion job(s) %s with replyRef %s: not creating again", existing, reply_ref)
                return existing
        started = time.time()
        try:
            if mode == "prompt":
                return self.create_prompt(reply_ref=reply_ref, **kwargs)
            return self.create_compose(reply_ref=reply_ref, **kwargs)
        except MusicApiError as exc:
            if not exc.request_may_have_been_processed or isinstance(exc, ValidationError):
                raise
            from airflow_provider_music import core

            for attempt in range(recovery_attempts):
                found = self.find_jobs_by_reply_ref(reply_ref, started_after=started - 60)
                if found:
                    self.log.warning(
                        "Create failed ambiguously (%s) but job(s) %s with replyRef %s exist: using them", exc, found, reply_ref
                    )
                    return found
                if attempt + 1 < recovery_attempts:
                    core._sleep(recovery_wait)
            exc.message = (
                f"{exc.message}. The create request may have been processed, but no running job with replyRef "
                f"{reply_ref!r} was found in GET scheduler; not re-posting automatically to avoid paying twice"
            )
            raise

    def find_jobs_by_reply_ref(self, reply_ref: str, *, started_after: float | None = None) -> list[str]:
        """Job ids that ``GET scheduler`` lists as running with ``replyRef == reply_ref``."""
        ids = []
        for job in self.get_scheduler():
            if job.get("replyRef") != reply_ref or not job.get("job_id"):
                continue
            started = _parse_started(job.get("started"))
            if started_after is not None and started is not None and started < started_after:
                continue
            ids.append(str(job["job_id"]))
        return ids

    # ---- lyrics and images ----------------------------------------------------------------------
    def generate_lyrics(self, prompt: str, lyrics: str | None = None, user_id: str | None = None) -> str:
        """POST music/generate-lyrics ("Ghostwriter"): returns the generated lyrics text."""
        body: dict[str, Any] = {"prompt": _check_text("prompt", prompt, required=True)}
        if lyrics is not None:
            body["lyrics"] = _check_text("lyrics", lyrics, required=True)
        uid = self._user_id(user_id)
        if uid:
            body["user_id"] = uid
        answer = self.request_json("POST", "music/generate-lyrics", json_body=body) or {}
        return str(answer.get("lyrics") or "")

    def upload_image(self, source: Any, content_type: str | None = None, user_id: str | None = None) -> dict[str, Any]:
        """POST music/upload-image (raw body): returns ``{"image_id", "url", ...}`` for create-compose."""
        src = resolve_source(source)
        ctype = content_type or IMAGE_CONTENT_TYPES.get(_extension(src.name))
        if ctype is None or ctype not in IMAGE_CONTENT_TYPES.values():
            raise InvalidInputError(
                f"content_type: cannot upload {src.name!r} as {ctype!r}; allowed: png, jpg/jpeg, gif, webp "
                f"({', '.join(sorted(set(IMAGE_CONTENT_TYPES.values())))})"
            )
        params = self._query(user_id=self._user_id(user_id))
        return self.upload_raw("POST", "music/upload-image/", src, content_type=ctype, params=params) or {}

    def generate_image(self, prompt: str, user_id: str | None = None) -> dict[str, Any]:
        """POST music/generate-image: a 512x512 cover; returns ``{"image_id", "url"}``."""
        body: dict[str, Any] = {"prompt": _check_text("prompt", prompt, required=True)}
        uid = self._user_id(user_id)
        if uid:
            body["user_id"] = uid
        return self.request_json("POST", "music/generate-image", json_body=body) or {}

    # ---- audio uploads --------------------------------------------------------------------------
    def upload_audio(
        self, source: Any, file_name: str | None = None, content_type: str | None = None, user_id: str | None = None
    ) -> dict[str, Any]:
        """POST music/upload-audio: stream an mp3/m4a/wav file as the raw body.

        Returns the normalised upload (see :func:`parse_upload`): poll :meth:`upload_status` with ``id``,
        then give ``audio_upload_id`` to :meth:`create_compose`.
        """
        src = resolve_source(source)
        ext = _extension(src.name)
        if content_type is None:
            content_type = AUDIO_CONTENT_TYPES.get(ext)
            if content_type is None:
                raise InvalidInputError(
                    f"source: cannot tell the audio type of {src.name!r}; use a .mp3, .m4a or .wav file or pass "
                    f"content_type (one of {', '.join(ALLOWED_AUDIO_CONTENT_TYPES)})"
                )
        elif content_type not in ALLOWED_AUDIO_CONTENT_TYPES:
            raise InvalidInputError(
                f"content_type must be one of {', '.join(ALLOWED_AUDIO_CONTENT_TYPES)}, got {content_type!r}"
            )
        check_audio_content(src)
        name = file_name if file_name is not None else src.name
        name = _check_text("file_name", name, required=True, max_length=255) or ""
        stem, dot, suffix = name.rpartition(".")
        if dot and suffix.lower() in AUDIO_CONTENT_TYPES and stem:
            name = stem  # the API wants the name without its extension
        if src.size is not None and src.size > UPLOAD_WARN_BYTES:
            self.log.warning(
                "Uploading %s (%.1f MB): useapi.net recommends audio files under 50 MB", src.name, src.size / 2**20
            )
        params = self._query(file_name=name, user_id=self._user_id(user_id))
        body = self.upload_raw("POST", "music/upload-audio/", src, content_type=content_type, params=params)
        upload = parse_upload(body)
        if not upload.get("id"):
            from airflow_provider_music.core import InvalidResponseError

            raise InvalidResponseError(f"Riffusion upload-audio answered without an id: {str(body)[:200]}")
        return upload

    def get_upload_audio(self, upload_id: str, user_id: str | None = None) -> dict[str, Any]:
        """GET music/upload-audio?id=: processing state, transcribed lyrics and Audible Magic result."""
        ident = _check_id("upload_id", upload_id)
        body = self.request_json("GET", "music/upload-audio/", params=self._query(id=ident, user_id=self._user_id(user_id)))
        return parse_upload(body, ident)

    async def aget_upload_audio(self, upload_id: str, user_id: str | None = None) -> dict[str, Any]:
        ident = _check_id("upload_id", upload_id)
        params = self._query(id=ident, user_id=await self._auser_id(user_id))
        return parse_upload(await self.arequest_json("GET", "music/upload-audio/", params=params), ident)

    # ---- status methods used by operators, sensors and triggers --------------------------------
    def upload_status(self, upload_id: str, user_id: str | None = None) -> PollResult:
        return parse_upload_status(self.get_upload_audio(upload_id, user_id))

    async def aupload_status(self, upload_id: str, user_id: str | None = None) -> PollResult:
        return parse_upload_status(await self.aget_upload_audio(upload_id, user_id))

    def song_status(self, job_ids: Sequence[str] | str, user_id: str | None = None) -> PollResult:
        ids = normalize_job_ids(job_ids)
        return parse_song_status(ids, {i: self.get_music(i, user_id) for i in ids})

    async def asong_status(self, job_ids: Sequence[str] | str, user_id: str | None = None) -> PollResult:
        ids = normalize_job_ids(job_ids)
        return parse_song_status(ids, {i: await self.aget_music(i, user_id) for i in ids})

    # ---- downloads ------------------------------------------------------------------------------
    def download_music(
        self, music_id: str, destination: Any, *, download_format: str = "mp3", user_id: str | None = None
    ) -> ObjectStoragePath:
        """GET music/download?download_format=mp3|wav: stream the song to ``destination`` (a file path)."""
        ident = _check_id("music_id", music_id)
        if download_format not in ("mp3", "wav"):
            raise InvalidInputError(
                f"download_format must be 'mp3' or 'wav' here (use download_stems for 'stems'), got {download_format!r}"
            )
        params = self._query(id=ident, user_id=self._user_id(user_id), download_format=download_format)
        return self.download("music/download/", destination, params=params)

    def get_stems(self, music_id: str, user_id: str | None = None) -> dict[str, str]:
        """GET music/download?download_format=stems: ``{stem name: url}`` (the JSON shape is undocumented;
        ``{"stems": [{"name", "url"}]}``, a list of such objects and a plain ``{name: url}`` are accepted)."""
        ident = _check_id("music_id", music_id)
        params = self._query(id=ident, user_id=self._user_id(user_id), download_format="stems")
        return parse_stems(self.request_json("GET", "music/download/", params=params))

    def download_stems(self, music_id: str, destination_dir: Any, user_id: str | None = None) -> dict[str, ObjectStoragePath]:
        """Download every stem of a song into ``destination_dir``; returns ``{stem: path}``."""
        folder = to_storage_path(destination_dir)
        out: dict[str, ObjectStoragePath] = {}
        for name, url in self.get_stems(music_id, user_id).items():
            ext = _extension(url.split("?", 1)[0]) or "wav"
            out[name] = self.download(url, folder / f"{_safe_name(name, fallback='stem')}.{_safe_name(ext, fallback='wav')}")
        return out

    def download_url(self, url: str, destination: Any) -> ObjectStoragePath:
        """Stream a song's ``download_url`` (m4a, on another host: the token is not sent there)."""
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            raise InvalidInputError(f"url must be an http(s) URL, got {url!r}")
        return self.download(url, destination)

    # ---- scheduler ------------------------------------------------------------------------------
    def get_scheduler(self) -> list[dict[str, Any]]:
        """GET scheduler: jobs being executed (``job_id``, ``user_id``, ``started``, ``replyRef`` ...)."""
        body = self.request_json("GET", "scheduler")
        return [dict(j) for j in body if isinstance(j, Mapping)] if isinstance(body, list) else []

    def get_scheduler_available(self) -> dict[str, Any]:
        """GET scheduler/available: executing jobs and free capacity per account."""
        return self.request_json("GET", "scheduler/available") or {}

    def delete_scheduler_job(self, job_id: str) -> None:
        """DELETE scheduler/{job_id}: stop tracking a job (frees a maxJobs slot; the job keeps running)."""
        self.request("DELETE", f"scheduler/{_check_id('job_id', job_id)}")


def parse_stems(body: Any) -> dict[str, str]:
    items: Any = body
    if isinstance(body, Mapping) and "stems" in body:
        items = body["stems"]
    out: dict[str, str] = {}
    if isinstance(items, Mapping):
        for name, value in items.items():
            url = value.get("url") or value.get("download_url") if isinstance(value, Mapping) else value
            if isinstance(url, str) and url:
                out[str(name)] = url
    elif isinstance(items, list):
        for n, value in enumerate(items):
            if not isinstance(value, Mapping):
                continue
            url = value.get("url") or value.get("download_url") or value.get("audio_url")
            name = value.get("name") or value.get("stem") or value.get("type") or f"stem{n + 1}"
            if isinstance(url, str) and url:
                out[str(name)] = url
    if not out:
        from airflow_provider_music.core import InvalidResponseError

        raise InvalidResponseError(f"Riffusion stems answer has no stem URLs: {str(body)[:200]}")
    return out


def _song_list(body: Any) -> list[Mapping[str, Any]]:
    if body is None:
        return []
    if isinstance(body, Mapping):  # tolerate a single object or {"items": [...]}
        for key in ("items", "songs", "music", "data"):
            if isinstance(body.get(key), list):
                body = body[key]
                break
        else:
            body = [body]
    if not isinstance(body, list):
        from airflow_provider_music.core import InvalidResponseError

        raise InvalidResponseError(f"Riffusion GET music answered with an unexpected body: {str(body)[:200]}")
    return [s for s in body if isinstance(s, Mapping)]


def _extension(name: str) -> str:
    base = os.path.basename(name or "")
    return base.rpartition(".")[2].lower() if "." in base else ""


def song_file_name(song: Mapping[str, Any], ext: str) -> str:
    """``<title>-<id>.<ext>`` made safe (no separators, no ``..``, no NUL)."""
    ident = _safe_name(str(song.get("id") or ""), fallback="unknown", limit=64)
    title = _safe_name(str(song.get("title") or ""), fallback="song")
    return f"{title}-{ident}.{_safe_name(ext, fallback='bin', limit=8)}"
