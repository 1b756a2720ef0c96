"""Pure contract code of the Riffusion API of useapi.net: constants, validators, answer parsers, status
interpretation, summaries and output names.

No I/O and no Airflow imports beyond the error classes: the hook, the operators, the sensors/triggers and
the emulator all use this module, so a rule (a limit, a status spelling, a file name) lives in one place.

Status interpretation fails closed: a song or upload state this module does not know (``rejected``,
``moderated``, ``copyright_blocked``, ...) is never reported as success.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_music.core.errors import (
    InvalidInputError,
    InvalidResponseError,
    redact_url,
)
from airflow_provider_music.core.parsing import (
    PollResult,
    describe_only,
    number_of,
    seconds_of,
    text_of,
    unknown_state,
)
from airflow_provider_music.core.validation import validate_id

DEFAULT_BASE_URL = "https://api.useapi.net/v1/riffusion/"
SHARE_URL_TEMPLATE = "https://www.riffusion.com/riff/{id}"
UPLOAD_WARN_BYTES = 50 * 1024 * 1024
#: ``replyUrl`` / ``replyRef``: "max length 1024" (create-prompt and create-compose docs).
MAX_URL_LENGTH = 1024
#: The Riffusion docs state no limit for prompts and lyrics; we refuse texts over 10,000 characters before
#: sending (the limit useapi.net's own client of the successor FlowMusic API checks) - a 10 MB prompt is a bug.
MAX_PROMPT_LENGTH = 10_000
MAX_LYRICS_LENGTH = 10_000
MAX_TITLE_LENGTH = 200
MAX_ID_LENGTH = 256
MAX_FILE_NAME_LENGTH = 255
MAX_JOBS_RANGE = (1, 10)
#: Integer fields of create-compose and their documented ranges (``n`` = 1..3 for the prompt fields).
COMPOSE_INT_RANGES = {"lyrics_strength": (0, 100), "lyrics_weirdness": (0, 100)}
PROMPT_INT_RANGES = {"strength": (20, 100), "start": (0, 100), "end": (0, 100)}

#: Audio content types accepted by POST music/upload-audio, by file extension.
AUDIO_CONTENT_TYPES = {"mp3": "audio/mpeg", "m4a": "audio/mp4", "wav": "audio/wav"}
ALLOWED_AUDIO_CONTENT_TYPES = ("audio/mp4", "audio/x-m4a", "audio/mpeg", "audio/wav", "audio/wave")
#: Image content types accepted by POST music/upload-image, by file extension.
IMAGE_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
#: ``download_format`` values of GET music/download.
DOWNLOAD_FORMATS = ("mp3", "wav", "stems")
#: Formats of the download operator: ``m4a`` is the song's own ``download_url``.
OPERATOR_DOWNLOAD_FORMATS = ("m4a", "mp3", "wav", "stems")
#: Song fields that the API sends as JSON-encoded strings.
JSON_STRING_FIELDS = ("lyrics_timestamped", "conditions", "simple_waveform")
#: Small song fields kept in XCom / trigger events (never the waveform or timestamped lyrics).
SONG_SUMMARY_FIELDS = (
    "id", "title", "status", "duration_s", "download_url", "share_url", "image_url", "created_at",
    "audio_upload_id", "image_id", "lyrics", "sound",
)
URL_FIELDS = ("download_url", "share_url", "image_url")
SUMMARY_TEXT_LIMIT = 1000
SONG_DONE = ("completed", "complete")
SONG_FAILED = ("failed", "error")
SONG_RUNNING = ("processing", "pending", "queued", "running", "in_progress", "submitted")
UPLOAD_DONE = ("complete", "completed")
UPLOAD_PENDING = ("pending", "processing")
UPLOAD_FAILED = ("failed", "error")
PENDING_ERROR_MESSAGE = (
    "Your Riffusion account has pending error. Please address this issue at "
    "https://useapi.net/docs/api-riffusion-v1/post-riffusion-accounts before making any new API calls."
)

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


# ---- validators -------------------------------------------------------------------------------------
def check_int(name: str, value: Any, low: int, high: int) -> int | None:
    """An integer in ``[low, high]`` (numeric strings from templates accepted; NaN/inf/bool refused)."""
    if value is None:
        return None
    message = f"{name} must be an integer between {low} and {high}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInputError(message)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InvalidInputError(message) from None
    if not number.is_integer() or not low <= number <= high:
        raise InvalidInputError(message)
    return int(number)


def check_text(name: str, value: Any, *, required: bool = False, max_length: int | None = None) -> str | None:
    """A non-empty string of at most ``max_length`` characters (``None``/blank allowed unless required)."""
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise InvalidInputError(f"{name} is required: give a non-empty string")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {preview(value)}")
    if max_length is not None and len(value) > max_length:
        raise InvalidInputError(f"{name} must be at most {max_length} characters, got {len(value)}")
    return value


def check_prompt(name: str, value: Any, *, required: bool = True) -> str | None:
    return check_text(name, value, required=required, max_length=MAX_PROMPT_LENGTH)


def check_lyrics(value: Any, *, name: str = "lyrics") -> str | None:
    return check_text(name, value, required=value is not None, max_length=MAX_LYRICS_LENGTH)


def check_reply_url(value: Any) -> str | None:
    url = check_text("reply_url (replyUrl)", value, max_length=MAX_URL_LENGTH)
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise InvalidInputError(f"reply_url (replyUrl) must be an http(s) URL, got {redact_url(url)!r}")
    return url


def check_id(name: str, value: Any) -> str:
    """An id given by a user or a template: refused before any request when it cannot be a Riffusion id.

    The shared rules (:func:`~airflow_provider_music.core.validation.validate_id`: no ``None``/``null``, dict
    or list reprs, ``.``/``..``, percent-encoded text, ``/``, ``?``, ``#``, whitespace) plus Riffusion's
    shape: ids are UUIDs (uploads ``<uuid>:<uuid>``), so only letters, digits, ``-``, ``_``, ``:`` and ``.``.
    """
    text = str(validate_id(value, name, max_length=MAX_ID_LENGTH))
    if not _ID_PATTERN.match(text) or ".." in text:
        raise InvalidInputError(
            f"{name}: invalid id {preview(text)}: a Riffusion id holds letters, digits, '-', '_', ':' and '.' "
            "(no '..', '&', '%' or other punctuation)"
        )
    return text


def api_id(value: Any, *, what: str = "song id") -> str:
    """An id the API sent back, held to the same shape as ids users give (:func:`check_id`).

    Such ids travel on: into trigger targets, XCom, file names and later calls. One that a later step would
    refuse (``..``, ``/``, ``?``, ``#``, whitespace, over-long, not a string) is refused here, as an
    :class:`InvalidResponseError` naming what it was: after a create, that makes the answer a lost one
    (the work is looked for, never created again blindly).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    try:
        return check_id(what, value)
    except InvalidInputError:
        raise InvalidResponseError(
            f"Riffusion sent an unusable {what}: {preview(value)} (expected letters, digits, '-', '_', ':' or '.')"
        ) from None


def check_max_jobs(value: Any) -> int | None:
    return check_int("max_jobs (maxJobs)", value, *MAX_JOBS_RANGE)


def normalize_job_ids(ids: Any, *, argument: str = "job_ids") -> list[str]:
    """Ids from what upstream tasks produce -> a non-empty list of distinct id strings.

    Accepts one id, a list of ids, a compose result dict (its ``song_ids``, else its ``job_ids``), a list of
    compose results (a mapped compose) and a JSON/Python list rendered by a template.
    """
    flat = [check_id(f"{argument}[{i}]", value) for i, value in enumerate(_flatten_ids(ids, argument))]
    if not flat:
        raise InvalidInputError(f"{argument} must be a song/job id or a non-empty list of ids, got {preview(ids)}")
    return list(dict.fromkeys(flat))


def _flatten_ids(ids: Any, argument: str, depth: int = 0) -> list[Any]:
    if depth > 3:
        raise InvalidInputError(f"{argument}: ids nested too deeply: {preview(ids)}")
    if isinstance(ids, Mapping):
        picked = ids.get("song_ids") or ids.get("job_ids")
        if picked is None:
            raise InvalidInputError(f"{argument}: a dict must carry 'song_ids' or 'job_ids', got keys {sorted(map(str, ids))}")
        return _flatten_ids(picked, argument, depth + 1)
    if isinstance(ids, str):
        text = ids.strip()
        if text.startswith("["):
            return _flatten_ids(_parse_list_text(text, argument), argument, depth + 1)
        return [text]
    if isinstance(ids, (bytes, bytearray)) or not isinstance(ids, Iterable):
        return [ids]
    out: list[Any] = []
    for item in ids:
        out.extend(_flatten_ids(item, argument, depth + 1) if isinstance(item, (Mapping, list, tuple)) else [item])
    return out


def _parse_list_text(text: str, argument: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise InvalidInputError(f"{argument}: cannot parse {preview(text)} as a list of ids") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{argument}: {preview(text)} is not a list of id strings")
    return value


def preview(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def default_reply_ref(dag_id: str, task_id: str, run_id: str, map_index: int | None = -1) -> str:
    """The deterministic ``replyRef`` of one task instance (same for every try)."""
    index = -1 if map_index is None else map_index
    ref = f"airflow:{dag_id}:{task_id}:{run_id}:{index}"
    if len(ref) > MAX_URL_LENGTH:
        ref = "airflow:" + hashlib.sha256(ref.encode()).hexdigest()
    return ref


# ---- create answers and songs ----------------------------------------------------------------------
def parse_create_response(body: Any) -> list[str]:
    """``{"job_id"}`` (Feb 17 revision) or ``{"jobs": [{"id"}, ...]}`` (later revision) -> list of ids."""
    ids: list[str] = []
    if isinstance(body, Mapping):
        jobs = body.get("jobs")
        if isinstance(jobs, list):
            for job in jobs:
                value = job.get("id") if isinstance(job, Mapping) else job
                if isinstance(value, str) and value:
                    ids.append(value)
        for key in ("job_id", "id"):
            if not ids and isinstance(body.get(key), str) and body[key]:
                ids.append(body[key])
    if not ids:
        raise InvalidResponseError(
            f"Riffusion create answered without a job id (expected 'job_id' or 'jobs'): {preview(body, 200)}",
            request_may_have_been_processed=True,
        )
    return [api_id(i, what="job id") for i in ids]


def song_list(body: Any) -> list[Mapping[str, Any]]:
    """GET music answers: a JSON array (tolerates one object or ``{"items": [...]}``)."""
    if body is None:
        return []
    if isinstance(body, Mapping):
        for key in ("items", "songs", "music", "data"):
            if isinstance(body.get(key), list):
                body = body[key]
                break
        else:
            body = [body]
    if not isinstance(body, list):
        raise InvalidResponseError(f"Riffusion GET music answered with an unexpected body: {preview(body, 200)}")
    return [s for s in body if isinstance(s, Mapping)]


def decode_song(song: Mapping[str, Any], *, decode_json_fields: bool = False) -> dict[str, Any]:
    """Copy a song; decode the JSON-encoded string fields when asked."""
    out = dict(song)
    if decode_json_fields:
        for name in JSON_STRING_FIELDS:
            value = out.get(name)
            if isinstance(value, str) and value.strip()[:1] in ("{", "["):
                try:
                    out[name] = json.loads(value)
                except (ValueError, RecursionError):
                    pass  # keep the raw string: the API sometimes elides these fields ("{…}")
    return out


#: Song fields that only describe (issue 21 §2): converted or dropped with a warning, never fatal.
_SONG_DESCRIBE = {
    "title": lambda v: text_of(v, 300), "duration_s": seconds_of, "created_at": lambda v: text_of(v, 64),
    "lyrics": lambda v: text_of(v, SUMMARY_TEXT_LIMIT), "sound": lambda v: text_of(v, SUMMARY_TEXT_LIMIT),
    "image_id": lambda v: text_of(v, 200), "audio_upload_id": lambda v: text_of(v, 200),
}


def song_summary(song: Mapping[str, Any]) -> dict[str, Any]:
    """The small, XCom-safe part of a song. URLs lose their query string (signed links carry tokens there):
    the download operator re-reads the song by id to get a fresh signed ``download_url``. What only describes
    (title, duration, lyrics, ...) is converted or dropped with a warning; the ``id`` and ``status`` decide
    (:class:`InvalidResponseError` naming the field)."""
    ident, status = song.get("id"), song.get("status")
    what = f"Riffusion song {str(ident)[:100]}"
    if ident is not None and not isinstance(ident, str):
        raise InvalidResponseError(f"{what}: 'id' is {type(ident).__name__}, not an id string")
    if status is not None and not isinstance(status, str):
        raise InvalidResponseError(f"{what}: 'status' is {type(status).__name__} {preview(status, 60)}, not a text")
    out: dict[str, Any] = {k: v for k, v in (("id", ident), ("status", status)) if v is not None}
    out.update(describe_only(dict(song), _SONG_DESCRIBE, what=what))
    for key in URL_FIELDS:
        url = song.get(key)
        if isinstance(url, str):
            out[key] = redact_url(url)
    if isinstance(ident, str) and not out.get("share_url"):
        out["share_url"] = share_url(ident)
    if isinstance(status, str) and status.lower() == "complete":
        out["status"] = "completed"
    return out


def share_url(song_id: str) -> str:
    """The riffusion.com page of a song (what a person opens)."""
    from urllib.parse import quote

    return SHARE_URL_TEMPLATE.format(id=quote(str(song_id), safe=""))


def song_state(song: Mapping[str, Any]) -> str:
    """``running``, ``success`` or ``failed`` for one song. A status this package does not know is ``running``
    (never a success, never a failure the service may still finish): see :func:`song_unknown`. A status that
    is no text at all is an :class:`InvalidResponseError` naming the field (it decides)."""
    status = song.get("status")
    if status is not None and not isinstance(status, str):
        raise InvalidResponseError(f"Riffusion song {str(song.get('id'))[:100]}: 'status' is "
                                   f"{type(status).__name__} {preview(status, 60)}, not a text")
    status = (status or "").lower()
    if status in SONG_DONE:
        return "success"
    if status in SONG_FAILED:
        return "failed"
    return "running"


def song_unknown(song: Mapping[str, Any]) -> str | None:
    """The warning note for a song whose status this package does not know, else None."""
    status = str(song.get("status") or "").lower()
    if not status or status in SONG_DONE + SONG_FAILED + SONG_RUNNING:
        return None
    return unknown_state(f"song {str(song.get('id'))[:100]}", song.get("status"), SONG_DONE + SONG_FAILED + ("processing",))


def song_failure_reason(song: Mapping[str, Any]) -> str:
    for key in ("error", "reason", "failure_reason", "status_reason", "message"):
        if song.get(key):
            return str(song[key])[:500]
    return f"Riffusion reported status {str(song.get('status') or '')[:50]!r}"


def parse_song_status(job_ids: Sequence[str], songs_by_job: Mapping[str, Sequence[Mapping[str, Any]]]) -> PollResult:
    """Combine ``GET music?id=`` answers for every job id into one :class:`PollResult`."""
    songs: list[Mapping[str, Any]] = []
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
                songs.append(song)
    summaries = [song_summary(s) for s in songs]
    payload: dict[str, Any] = {
        "job_ids": list(job_ids),
        "song_ids": [s["id"] for s in summaries if isinstance(s.get("id"), str)],
        "songs": summaries,
    }
    for song in songs:
        if song_state(song) == "failed":
            title = f" ({str(song.get('title'))[:100]})" if song.get("title") else ""
            return PollResult("failed", f"song {song.get('id')}{title} failed: {song_failure_reason(song)}", payload)
    done = sum(1 for s in songs if song_state(s) == "success")
    if not missing and songs and done == len(songs):
        return PollResult("success", f"{done} song(s) completed", payload)
    message = f"{done} of {len(songs)} song(s) completed"
    if missing:
        message += f"; not visible yet: {', '.join(missing)}"
    unknown = tuple(note for note in map(song_unknown, songs) if note)
    if unknown:
        message += "; " + "; ".join(unknown)
    return PollResult("running", message, payload, unknown=unknown)


def listed_scheduler_jobs(body: Any) -> dict[str, Any]:
    """GET scheduler -> ``{job_id: {"account": user_id}}`` of the jobs it shows executing (the shared poller's
    index). Entries with a hostile ``job_id`` (``NaN``, a list, an object), listed twice under different
    accounts, or past :data:`~.core.poller.MAX_LISTED` are left out: their waits ask GET music?id= themselves.
    An answer that is not a list raises :class:`InvalidResponseError` (every wait then asks by itself)."""
    from airflow_provider_music.core.poller import listed_running

    if not isinstance(body, list):
        raise InvalidResponseError(f"GET scheduler: expected a JSON array, got {type(body).__name__}")
    return listed_running(((e, e.get("user_id") if isinstance(e, Mapping) else None) for e in body), job_id="job_id")


def parse_started(value: Any) -> float | None:
    """``started`` / ``created_at``: an ISO string or epoch seconds/milliseconds -> epoch seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            return None
        return number / (1000.0 if number > 1e11 else 1.0)
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    return None


# ---- uploads ----------------------------------------------------------------------------------------
_MATCH_META_FIELDS = {
    "Title": "title", "Artist": "artist", "ISRC": "isrc", "Label": "label", "Vendor": "vendor",
    "AlbumUPC": "album_upc", "ContentCategory": "content_category", "AlbumReleaseDate": "album_release_date",
    "SongLengthInSeconds": "song_length_seconds",
}
_MATCH_FIELDS = {
    "amItemID": "am_item_id", "matchType": "match_type", "ruleCode": "rule_code",
    "matchTimeInUnknown": "match_time_in_unknown", "matchTimeInReference": "match_time_in_reference",
    "matchDurationInUnknown": "match_duration_in_unknown",
}
_UPLOAD_TEXT_FIELDS = ("created_at", "user_id", "name", "type", "storage_name")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _scalar(value: Any) -> Any:
    """A describe-only value kept only when it is a text or a finite number (else None)."""
    return number_of(value) if isinstance(value, int | float) and not isinstance(value, bool) else text_of(value, 300)


def parse_match(match: Mapping[str, Any]) -> dict[str, Any]:
    """One Audible Magic match -> snake_case keys (every documented field; describe-only: text or number)."""
    meta = _mapping(match.get("metadata"))
    out: dict[str, Any] = {new: _scalar(meta.get(old)) for old, new in _MATCH_META_FIELDS.items()}
    out.update({new: _scalar(match.get(old)) for old, new in _MATCH_FIELDS.items()})
    return out


def _unreadable_copyright(body: Mapping[str, Any], am: Mapping[str, Any]) -> list[str]:
    """Copyright fields present but unreadable: the copyright gate never reads them as "no match"."""
    raw = am.get("matches")
    bad = [] if raw is None or (isinstance(raw, list) and all(isinstance(m, Mapping) for m in raw)) else [
        "audible_magic_response.matches"]
    if body.get("audible_magic_response") is not None and not isinstance(body.get("audible_magic_response"), Mapping):
        bad.append("audible_magic_response")
    if body.get("is_flagged") is not None and not isinstance(body.get("is_flagged"), bool):
        bad.append("is_flagged")
    return bad


def parse_upload(body: Any, requested_id: str | None = None) -> dict[str, Any]:
    """Normalise POST/GET upload-audio answers of both revisions into one dict.

    Keys: ``id`` (what GET upload-audio takes), ``audio_upload_id`` (what create-compose takes),
    ``transcription_job_id``, ``status``, ``lyrics``, ``is_flagged``, ``created_at``, ``user_id``, ``name``,
    ``type``, ``storage_name``, ``matches`` (Audible Magic, every documented field),
    ``audible_magic_status``, ``audible_magic_description``, ``unknown_asset_id``,
    ``unknown_media_file_duration``, and ``raw``: the answer exactly as received.
    """
    if not isinstance(body, Mapping):
        raise InvalidResponseError(f"Riffusion upload-audio answered with an unexpected body: {preview(body, 200)}")
    upload_id = _text(body.get("id")) or _text(body.get("job_id")) or requested_id
    audio_upload_id = _text(body.get("audio_upload_id")) or _text(body.get("storage_name"))
    transcription_job_id = _text(body.get("transcription_job_id"))
    if upload_id and ":" in upload_id:
        head, _, tail = upload_id.partition(":")
        audio_upload_id = audio_upload_id or head
        transcription_job_id = transcription_job_id or tail
    status = body.get("status")
    lyrics = body.get("lyrics") if body.get("lyrics") is not None else body.get("transcribed_lyrics")
    am = _mapping(body.get("audible_magic_response"))
    raw_matches = am.get("matches")
    matches = [parse_match(m) for m in raw_matches if isinstance(m, Mapping)] if isinstance(raw_matches, list) else []
    out: dict[str, Any] = {
        "id": upload_id,
        "audio_upload_id": audio_upload_id or upload_id,
        "transcription_job_id": transcription_job_id,
        "status": str(status).lower()[:100] if status is not None else None,
        "lyrics": lyrics if isinstance(lyrics, str) else None,
        "is_flagged": body["is_flagged"] if isinstance(body.get("is_flagged"), bool) else None,
        "matches": matches,
        "audible_magic_status": _scalar(am.get("statusCode")),
        "audible_magic_description": text_of(am.get("statusDescription"), 300),
        "unknown_asset_id": text_of(am.get("unknownAssetID"), 200),
        "unknown_media_file_duration": seconds_of(am.get("unknownMediaFileDuration")),
    }
    out.update({key: text_of(body.get(key), 300) for key in _UPLOAD_TEXT_FIELDS})  # describe-only
    unreadable = _unreadable_copyright(body, am)
    if unreadable:
        out["copyright_unreadable"] = unreadable
    out["raw"] = dict(body)
    return out


def _text(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


def upload_state(status: Any) -> str:
    """``running``, ``success`` or ``failed`` for an upload status. The docs call every status but ``pending``
    usable, but a status this package does not know is no proof of a usable upload: it is ``running`` (polled
    on with a warning) until a known status or the deadline, whose timeout names it."""
    text = str(status).lower()
    if text in UPLOAD_DONE:
        return "success"
    if text in UPLOAD_FAILED:
        return "failed"
    return "running"


def parse_upload_status(upload: Mapping[str, Any]) -> PollResult:
    """``pending`` -> running; ``complete``/``completed`` -> success; ``failed`` -> failed; every state this
    package does not know (``rejected``, ``moderated``, ...) -> running with a warning: never a success."""
    status = upload.get("status")
    payload = {k: v for k, v in upload.items() if k != "raw"}
    state = upload_state(status)
    ident = upload.get("id")
    if status is None:
        return PollResult("running", "no status reported yet", payload)
    if state == "success":
        return PollResult("success", f"upload {ident} is {status}", payload)
    if state == "failed":
        return PollResult("failed", f"upload {ident} processing failed", payload)
    if str(status).lower() in UPLOAD_PENDING:
        return PollResult("running", f"upload {ident} is {status}", payload)
    note = unknown_state(f"upload {ident}", status, ("pending",) + UPLOAD_DONE + UPLOAD_FAILED)
    return PollResult("running", note + " (the docs call any status but pending usable: check the upload, then "
                      "pass its id to create-compose yourself if it is)", payload, unknown=(note,))


def copyright_problem(upload: Mapping[str, Any]) -> str | None:
    """A message when Audible Magic matched the upload or it was flagged, else None."""
    matches = [m for m in upload.get("matches") or [] if isinstance(m, Mapping)]
    if matches:
        titles = ", ".join(
            f"{m.get('title') or 'unknown title'}" + (f" by {m['artist']}" if m.get("artist") else "") for m in matches
        )
        return f"Audible Magic matched {len(matches)} copyrighted work(s): {titles}"
    if upload.get("is_flagged"):
        return "the upload was flagged (is_flagged=true) by Riffusion's copyright check"
    unreadable = upload.get("copyright_unreadable")
    if unreadable:  # fail closed: an answer the check cannot read is never "no match"
        return f"the copyright answer is unreadable ({', '.join(map(str, unreadable))}): not reported as no match"
    return None


def upload_file_name(name: Any, source_name: str) -> str:
    """The ``file_name`` query value: the given name (or the source's), without an audio extension."""
    text = check_text("file_name", name if name is not None else source_name, required=True,
                      max_length=MAX_FILE_NAME_LENGTH) or ""
    stem, dot, suffix = text.rpartition(".")
    if dot and suffix.lower() in AUDIO_CONTENT_TYPES and stem:
        return stem
    return text


def audio_content_type(file_name: str, content_type: str | None) -> str:
    """The upload's content type: given (checked) or guessed from the extension."""
    if content_type is not None:
        if content_type not in ALLOWED_AUDIO_CONTENT_TYPES:
            raise InvalidInputError(
                f"content_type must be one of {', '.join(ALLOWED_AUDIO_CONTENT_TYPES)}, got {content_type!r}"
            )
        return content_type
    guessed = AUDIO_CONTENT_TYPES.get(extension(file_name))
    if guessed is None:
        raise InvalidInputError(
            f"source: cannot tell the audio type of {file_name!r}; use a .mp3, .m4a or .wav file or pass "
            f"content_type (one of {', '.join(ALLOWED_AUDIO_CONTENT_TYPES)})"
        )
    return guessed


def image_content_type(file_name: str, content_type: str | None) -> str:
    ctype = content_type or IMAGE_CONTENT_TYPES.get(extension(file_name))
    if ctype is None or ctype not in IMAGE_CONTENT_TYPES.values():
        raise InvalidInputError(
            f"content_type: cannot upload {file_name!r} as {ctype!r}; allowed: png, jpg/jpeg, gif, webp "
            f"({', '.join(sorted(set(IMAGE_CONTENT_TYPES.values())))})"
        )
    return ctype


def extension(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    return base.rpartition(".")[2].lower() if "." in base else ""
