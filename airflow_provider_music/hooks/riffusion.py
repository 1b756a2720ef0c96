"""Hook for the Riffusion API as resold by useapi.net (``https://api.useapi.net/v1/riffusion/``): I/O only.

Every endpoint of the useapi.net Riffusion v1 contract has one method here. Validators, answer parsers,
status interpretation and output names are pure code in :mod:`airflow_provider_music.contract.riffusion`
(and ``riffusion_requests`` / ``riffusion_files``), shared with the operators, sensors, triggers and the
emulator. Both documented response revisions (February 17 and February 25, 2025) are accepted.

API-specific errors: HTTP 596 ("pending error": the account cookie could not be refreshed) raises
:class:`RiffusionAccountPendingError` and a moderated prompt raises :class:`RiffusionModerationError`;
neither is retried. 429 (the account's ``maxJobs`` queue is full) is retried by the core policy, waiting at
least :attr:`RiffusionHook.rate_limit_min_wait` seconds as the vendor recommends. A create or upload whose
answer was lost is never sent again blindly: :class:`RiffusionLostAnswerError` (the provider's one
:class:`~airflow_provider_music.core.errors.LostAnswerError`, decided by :func:`~airflow_provider_music.core.errors.answer_lost`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.contract.riffusion import (
    DEFAULT_BASE_URL,
    UPLOAD_WARN_BYTES,
    api_id,
    audio_content_type,
    check_id,
    check_int,
    check_prompt,
    check_text,
    decode_song,
    image_content_type,
    listed_scheduler_jobs,
    normalize_job_ids,
    parse_create_response,
    parse_song_status,
    parse_upload,
    parse_upload_status,
    song_list,
    upload_file_name,
)
from airflow_provider_music.contract.riffusion_files import parse_stems, stem_file_names
from airflow_provider_music.contract.riffusion_requests import (
    CREATE_MODES,
    build_compose_body,
    build_prompt_body,
    request_markers,
    scheduler_jobs_for,
    song_matches_request,
)
from airflow_provider_music.core.content import check_upload_content
from airflow_provider_music.core.errors import (
    CLOCK_SKEW,
    InvalidInputError,
    InvalidResponseError,
    LostAnswerError,
    MusicApiError,
    ValidationError,
    answer_lost,
    error_from_response,
    redact_url,
)
from airflow_provider_music.core.files import check_audio_content, resolve_source, to_storage_path
from airflow_provider_music.core.parsing import PollResult
from airflow_provider_music.core.poller import ListingPoller
from airflow_provider_music.core.redaction import secret_arguments
from airflow_provider_music.core.validation import path_segment
from airflow_provider_music.hooks.base import MusicApiHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

#: Pages of ``GET music`` (newest first) searched for the songs of a lost create.
RECOVERY_PAGES = 5
RECOVERY_PAGE_SIZE = 20


class RiffusionAccountPendingError(MusicApiError, AirflowFailException):
    """HTTP 596: useapi.net could not refresh the Riffusion account cookie. Retrying cannot fix it."""


class RiffusionModerationError(ValidationError):
    """The prompt or lyrics were rejected by moderation (``is_flagged`` / ``reason: moderation``)."""


class RiffusionCopyrightMatchError(MusicApiError, AirflowFailException):
    """An uploaded audio file matched copyrighted material (Audible Magic) or was flagged."""


class RiffusionLostAnswerError(LostAnswerError):
    """A paid create (or an upload) may have been carried out, but its answer was lost and the work could not
    be found. Never retried automatically: a second create would be paid twice."""


async def _list_scheduler(hook: RiffusionHook) -> Any:
    return await hook.arequest_json("GET", "scheduler")


#: The triggerer's song waits on one connection share ONE ``GET scheduler`` per refresh period (see
#: :class:`~airflow_provider_music.core.poller.ListingPoller`): jobs it lists (under the wait's account) are
#: executing; any other wait asks GET music?id= for each of its ids, as before.
SCHEDULER_LISTING = ListingPoller("Riffusion GET scheduler", _list_scheduler, listed_scheduler_jobs)


def _strip_queries(text: str) -> str:
    return re.sub(r"\?[^\s'\"<>]*", "", text)


class RiffusionHook(MusicApiHook):
    """Talk to the Riffusion API of useapi.net.

    Connection: type ``riffusion``; password = useapi.net API token; host = base URL (default
    ``https://api.useapi.net/v1/riffusion/``); extra ``user_id`` = default Riffusion account for calls
    that take one (needed when several accounts are configured at useapi.net).

    :param riffusion_conn_id: Airflow connection id (default ``riffusion_default``).
    """

    hook_name = "Riffusion (useapi.net)"
    default_base_url = DEFAULT_BASE_URL
    conn_type = "riffusion"
    conn_name_attr = "riffusion_conn_id"
    default_conn_name = "riffusion_default"
    #: Seconds to wait after a 429 without ``Retry-After`` (the docs say "wait 10..30 seconds").
    rate_limit_min_wait = 10.0

    def __init__(self, riffusion_conn_id: str | None = None, **kwargs: Any) -> None:
        conn_id = kwargs.pop("conn_id", None) or riffusion_conn_id
        super().__init__(conn_id, **kwargs)
        self.riffusion_conn_id = self.conn_id

    # ---- errors -------------------------------------------------------------------------------
    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        """The Riffusion error for an answer >= 400: 596 account pending, moderation, a 429 waiting
        :attr:`rate_limit_min_wait`; else the core's mapping."""
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
                f"reason={str(details.get('reason'))[:50]!r}): change the prompt or lyrics; retrying the same request "
                "cannot succeed",
                **common,
            )
        if status == 429 and base.retry_after is None:
            base.retry_after = self.rate_limit_min_wait
        return base

    # ---- helpers ------------------------------------------------------------------------------
    def _user_id(self, user_id: str | None) -> str | None:
        value = user_id if user_id is not None else self.settings.extra("user_id")
        return check_id("user_id", value) if value else None

    async def _auser_id(self, user_id: str | None) -> str | None:
        value = user_id if user_id is not None else (await self.aget_settings()).extra("user_id")
        return check_id("user_id", value) if value else None

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
        return self.request_json("GET", f"accounts/{path_segment(check_id('user_id', user_id), 'user_id')}") or {}

    @secret_arguments("cookie")  # scrubbed from every error/log, masked by Airflow
    def create_account(self, cookie: str, max_jobs: int = 6) -> dict[str, Any]:
        """POST accounts: add or refresh an account from a riffusion.com cookie (post each cookie once)."""
        check_text("cookie", cookie, required=True)
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(cookie)  # a riffusion.com session cookie is a credential
        jobs = check_int("max_jobs (maxJobs)", max_jobs, 1, 10)
        return self.request_json("POST", "accounts", json_body={"cookie": cookie, "maxJobs": jobs}) or {}

    def delete_account(self, user_id: str) -> None:
        """DELETE accounts/{user_id}."""
        self.request("DELETE", f"accounts/{path_segment(check_id('user_id', user_id), 'user_id')}")

    # ---- music --------------------------------------------------------------------------------
    def list_music(
        self, offset: int = 0, limit: int = 10, user_id: str | None = None, *, decode_json_fields: bool = False
    ) -> list[dict[str, Any]]:
        """GET music: the account's songs, newest first."""
        off = check_int("offset", offset, 0, 10**9)
        lim = check_int("limit", limit, 1, 1000)
        body = self.request_json("GET", "music/", params=self._query(user_id=self._user_id(user_id), offset=off, limit=lim))
        return [decode_song(s, decode_json_fields=decode_json_fields) for s in song_list(body)]

    def get_music(
        self, job_or_song_id: str, user_id: str | None = None, *, decode_json_fields: bool = False
    ) -> list[dict[str, Any]]:
        """GET music?id=: the song(s) of a job id or a song id (always a list; empty when unknown)."""
        ident = check_id("job_or_song_id", job_or_song_id)
        return self._get_music(ident, user_id, decode_json_fields=decode_json_fields)

    def _get_music(self, ident: str, user_id: str | None, *, decode_json_fields: bool = False) -> list[dict[str, Any]]:
        body = self.request_json("GET", "music/", params=self._query(user_id=self._user_id(user_id), id=ident))
        return [decode_song(s, decode_json_fields=decode_json_fields) for s in song_list(body)]

    async def aget_music(self, job_or_song_id: str, user_id: str | None = None) -> list[dict[str, Any]]:
        """Async GET music?id=: the raw song records of a job or song id (empty while not visible)."""
        ident = check_id("job_or_song_id", job_or_song_id)
        params = self._query(user_id=await self._auser_id(user_id), id=ident)
        return [dict(s) for s in song_list(await self.arequest_json("GET", "music/", params=params))]

    def delete_music(self, music_id: str, user_id: str | None = None) -> None:
        """DELETE music?id=: delete a song (empty 200 answer)."""
        ident = check_id("music_id", music_id)
        self.request("DELETE", "music/", params=self._query(user_id=self._user_id(user_id), id=ident))

    # ---- creating songs -----------------------------------------------------------------------
    def build_compose_body(self, prompts: Any, **kwargs: Any) -> dict[str, Any]:
        """Validate create-compose arguments and build its JSON body (no request)."""
        return build_compose_body(prompts, **kwargs)

    def create_prompt(self, prompt: str, **kwargs: Any) -> list[str]:
        """POST music/create-prompt: generate songs from a description. Returns the job ids (usually two).

        Keyword arguments: ``instrumental``, ``model``, ``user_id``, ``reply_url``, ``reply_ref``,
        ``max_jobs``. Not idempotent and costs credits: see :meth:`create_with_recovery`.
        """
        kwargs["user_id"] = self._user_id(kwargs.get("user_id"))
        body = build_prompt_body(prompt, **kwargs)
        return parse_create_response(self.request_json("POST", "music/create-prompt", json_body=body))

    def create_compose(self, prompts: Any, **kwargs: Any) -> list[str]:
        """POST music/create-compose: up to three timed prompts (``{"prompt", "strength" 20-100, "start"
        0-100, "end" 0-100}``), optional lyrics, title, ``audio_upload_id``, ``image_id``. Returns job ids.
        """
        kwargs["user_id"] = self._user_id(kwargs.get("user_id"))
        body = build_compose_body(prompts, **kwargs)
        return parse_create_response(self.request_json("POST", "music/create-compose", json_body=body))

    def create_body(self, mode: str, **kwargs: Any) -> dict[str, Any]:
        """The checked JSON body of a create (``mode`` ``prompt`` or ``compose``) - no request."""
        if mode not in CREATE_MODES:
            raise InvalidInputError(f"mode must be 'prompt' or 'compose', got {mode!r}")
        kwargs["user_id"] = self._user_id(kwargs.get("user_id"))
        if mode == "prompt":
            return build_prompt_body(kwargs.pop("prompt", None), **kwargs)
        return build_compose_body(kwargs.pop("prompts", None), **kwargs)

    def create_with_recovery(
        self,
        mode: str,
        *,
        reply_ref: str,
        look_before: bool = True,
        since: float | None = None,
        recreate_on_lost_answer: bool = False,
        recovery_attempts: int = 3,
        recovery_wait: float = 2.0,
        **kwargs: Any,
    ) -> list[str]:
        """Create songs at most once per ``reply_ref``; never a blind second create.

        ``look_before``: first look for the work of an earlier try - running jobs carrying ``reply_ref``
        (``GET scheduler``) and finished songs of the same request created since ``since`` (``GET music``).
        When the create's answer is lost, look for its work the same way; when it cannot be found, raise
        :class:`RiffusionLostAnswerError` ("may have been created; ids unknown: check ...") unless
        ``recreate_on_lost_answer`` (then create once more, possibly paying twice).
        """
        body = self.create_body(mode, reply_ref=reply_ref, **kwargs)
        if look_before:
            existing = self.find_created(body, since=since)
            if existing:
                self.log.info("Found Riffusion work %s of an earlier try (replyRef %s): not creating again", existing, reply_ref)
                return existing
        started = time.time()
        try:
            return self._post_create(mode, body)
        except MusicApiError as exc:
            if not answer_lost(exc):
                raise
            return self._recover(mode, body, started, exc, recreate_on_lost_answer, recovery_attempts, recovery_wait)

    def _post_create(self, mode: str, body: Mapping[str, Any]) -> list[str]:
        return parse_create_response(self.request_json("POST", f"music/create-{mode}", json_body=dict(body)))

    def _recover(
        self, mode: str, body: Mapping[str, Any], started: float, exc: MusicApiError, recreate_on_lost_answer: bool,
        attempts: int, wait: float,
    ) -> list[str]:
        from airflow_provider_music import core

        problem = ""
        for attempt in range(max(1, attempts)):
            try:
                found = self.find_created(body, since=started - CLOCK_SKEW)
            except MusicApiError as lookup_error:
                found, problem = [], f"; looking for it failed: {lookup_error}"
            if found:
                self.log.warning("Create answer lost (%s) but its work %s exists: using it", exc, found)
                return found
            if attempt + 1 < attempts:
                core._sleep(wait)
        where = self.lost_create_hint(body, started)
        if recreate_on_lost_answer:
            self.log.warning("Create answer lost (%s) and nothing found (%s): creating again (recreate_on_lost_answer)", exc, where)
            return self._post_create(mode, body)
        raise RiffusionLostAnswerError.after(
            f"Riffusion create-{mode}", check=f"{where}{problem}", cause=exc,
            note="Not creating again automatically to avoid paying twice (recreate_on_lost_answer=True creates again)",
            method="POST", path=f"music/create-{mode}", status=exc.status,
        ) from exc

    @staticmethod
    def lost_create_hint(body: Mapping[str, Any], started: float) -> str:
        """Where to look for a create whose answer was lost: its ``replyRef`` and when it was sent."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        ref = body.get("replyRef")
        return f"GET scheduler for replyRef {ref!r} and GET music for songs created around {when}"

    def find_jobs_by_reply_ref(self, reply_ref: str, *, started_after: float | None = None) -> list[str]:
        """Job ids that ``GET scheduler`` lists as running with ``replyRef == reply_ref``."""
        return scheduler_jobs_for(self.get_scheduler(), reply_ref, started_after)

    def find_created(self, body: Mapping[str, Any], *, since: float | None) -> list[str]:
        """Ids of the work ``body`` created: running jobs with its ``replyRef`` (``GET scheduler``) and, when
        ``since`` is known, finished songs showing the request's prompt/title/lyrics created after it."""
        ref = body.get("replyRef")
        ids = self.find_jobs_by_reply_ref(str(ref), started_after=since) if ref else []
        if since is None:
            return ids
        songs = self._songs_since(since, body.get("user_id"))
        markers = request_markers(body)
        until = time.time() + CLOCK_SKEW
        matched = [api_id(s["id"]) for s in songs if isinstance(s.get("id"), str) and song_matches_request(s, markers, since, until)]
        if len(matched) > 2 and not ids:
            raise RiffusionLostAnswerError.after(
                f"Riffusion create (several songs match the request: {', '.join(matched[:6])})",
                check=f"GET music for songs created since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(since))} "
                "and keep the right ones",
                note="Not creating again automatically",
            )
        return list(dict.fromkeys(ids + matched))

    def _songs_since(self, since: float, user_id: str | None) -> list[dict[str, Any]]:
        from airflow_provider_music.contract.riffusion import parse_started

        out: list[dict[str, Any]] = []
        for page in range(RECOVERY_PAGES):
            songs = self.list_music(page * RECOVERY_PAGE_SIZE, RECOVERY_PAGE_SIZE, user_id)
            out.extend(songs)
            oldest = min((parse_started(s.get("created_at")) or 0.0 for s in songs), default=0.0)
            if len(songs) < RECOVERY_PAGE_SIZE or oldest < since:
                break
        return out

    # ---- lyrics and images ----------------------------------------------------------------------
    def generate_lyrics(self, prompt: str, lyrics: str | None = None, user_id: str | None = None) -> str:
        """POST music/generate-lyrics ("Ghostwriter"): returns the generated lyrics text."""
        body: dict[str, Any] = {"prompt": check_prompt("prompt", prompt)}
        if lyrics is not None:
            body["lyrics"] = check_prompt("lyrics", lyrics)
        uid = self._user_id(user_id)
        if uid:
            body["user_id"] = uid
        answer = self.request_json("POST", "music/generate-lyrics", json_body=body)
        return str(answer.get("lyrics") or "") if isinstance(answer, Mapping) else ""

    def upload_image(self, source: Any, content_type: str | None = None, user_id: str | None = None) -> dict[str, Any]:
        """POST music/upload-image (raw body): returns ``{"image_id", "url", ...}`` for create-compose."""
        src = resolve_source(source)
        ctype = image_content_type(src.name, content_type)
        check_upload_content(src, argument="source", allowed="image")
        params = self._query(user_id=self._user_id(user_id))
        return self.upload_raw("POST", "music/upload-image/", src, content_type=ctype, params=params) or {}

    def generate_image(self, prompt: str, user_id: str | None = None) -> dict[str, Any]:
        """POST music/generate-image: a 512x512 cover; returns ``{"image_id", "url"}``."""
        body: dict[str, Any] = {"prompt": check_prompt("prompt", prompt)}
        uid = self._user_id(user_id)
        if uid:
            body["user_id"] = uid
        return self.request_json("POST", "music/generate-image", json_body=body) or {}

    # ---- audio uploads --------------------------------------------------------------------------
    def upload_audio(
        self,
        source: Any,
        file_name: str | None = None,
        content_type: str | None = None,
        user_id: str | None = None,
        *,
        recreate_on_lost_answer: bool = False,
    ) -> dict[str, Any]:
        """POST music/upload-audio: stream an mp3/m4a/wav file as the raw body.

        Returns the normalised upload (see :func:`~airflow_provider_music.contract.riffusion.parse_upload`):
        poll :meth:`upload_status` with ``id``, then give ``audio_upload_id`` to :meth:`create_compose`.
        useapi.net cannot list uploads, so when the answer is lost the upload is not repeated
        (:class:`RiffusionLostAnswerError`) unless ``recreate_on_lost_answer``.
        """
        src = resolve_source(source)
        ctype = audio_content_type(src.name, content_type)
        check_audio_content(src)
        name = upload_file_name(file_name, src.name)
        if src.size is not None and src.size > UPLOAD_WARN_BYTES:
            self.log.warning("Uploading %s (%.1f MB): useapi.net recommends audio files under 50 MB", src.name, src.size / 2**20)
        params = self._query(file_name=name, user_id=self._user_id(user_id))
        try:
            body = self.upload_raw("POST", "music/upload-audio/", src, content_type=ctype, params=params)
        except MusicApiError as exc:
            if not answer_lost(exc):
                raise
            if not recreate_on_lost_answer:
                raise RiffusionLostAnswerError.after(
                    f"Riffusion upload-audio of {src.name!r}",
                    check="the account's uploads at riffusion.com (useapi.net cannot list uploads)", cause=exc,
                    note="Not uploading again automatically (recreate_on_lost_answer=True uploads again)",
                    method="POST", path="music/upload-audio/", status=exc.status,
                ) from exc
            self.log.warning("upload-audio answer lost (%s): uploading again (recreate_on_lost_answer)", exc)
            body = self.upload_raw("POST", "music/upload-audio/", src, content_type=ctype, params=params)
        upload = parse_upload(body)
        if not upload.get("id"):
            raise InvalidResponseError("Riffusion upload-audio answered without an id", method="POST", path="music/upload-audio/")
        return upload

    def get_upload_audio(self, upload_id: str, user_id: str | None = None) -> dict[str, Any]:
        """GET music/upload-audio?id=: processing state, transcribed lyrics and Audible Magic result.

        Every documented field is kept: normalised keys (``created_at``, ``user_id``, ``type``,
        ``unknown_media_file_duration``, matches with ``album_upc``, ``album_release_date``,
        ``song_length_seconds``, ``match_time_in_reference``, ``match_duration_in_unknown`` ...) plus ``raw``.
        """
        ident = check_id("upload_id", upload_id)
        body = self.request_json("GET", "music/upload-audio/", params=self._query(id=ident, user_id=self._user_id(user_id)))
        return parse_upload(body, ident)

    async def aget_upload_audio(self, upload_id: str, user_id: str | None = None) -> dict[str, Any]:
        """Async twin of :meth:`get_upload_audio`."""
        ident = check_id("upload_id", upload_id)
        params = self._query(id=ident, user_id=await self._auser_id(user_id))
        return parse_upload(await self.arequest_json("GET", "music/upload-audio/", params=params), ident)

    # ---- status methods used by operators, sensors and triggers --------------------------------
    def upload_status(self, upload_id: str, user_id: str | None = None) -> PollResult:
        """One poll of an audio upload: running while ``pending`` (or an unknown state), then success/failed."""
        return parse_upload_status(self.get_upload_audio(upload_id, user_id))

    async def aupload_status(self, upload_id: str, user_id: str | None = None) -> PollResult:
        """Async twin of :meth:`upload_status` (per upload: the scheduler does not list uploads)."""
        return parse_upload_status(await self.aget_upload_audio(upload_id, user_id))

    def song_status(self, job_ids: Sequence[str] | str, user_id: str | None = None) -> PollResult:
        """One poll of songs (GET music?id= per id): success when every song completed, failed when one failed."""
        ids = normalize_job_ids(job_ids)
        return parse_song_status(ids, {i: self._get_music(i, user_id) for i in ids})

    async def asong_status(self, job_ids: Sequence[str] | str, user_id: str | None = None) -> PollResult:
        """Async twin of :meth:`song_status`, for the triggerer: the waits of one event loop on this connection
        share one ``GET scheduler`` per refresh period (:data:`SCHEDULER_LISTING`). A wait's first poll asks
        GET music?id= for each id (the scheduler shows no state: the wait learns its songs' state, an unknown
        one is warned about, and a timeout names it); after that, every id listed (under ``user_id`` when the
        wait names an account) -> running with that state, no request of its own; otherwise GET music?id= for
        each id, as before. A listing never makes a song done."""
        ids = normalize_job_ids(job_ids)
        user = await self._auser_id(user_id)
        key, wait = (self.conn_id,), (tuple(ids), user)
        seen = SCHEDULER_LISTING.note(key, wait)  # what this wait's own GET saw last (None: first poll)
        if seen is not None:  # the scheduler has no status field: a wait reads its songs' state once first
            entries = await SCHEDULER_LISTING.lookup(self, key, wait, ids)
            if entries is not None and all(user is None or e["account"] == user for e in entries):
                return PollResult("running", seen.message, {"job_ids": ids}, unknown=seen.unknown)
        result = parse_song_status(ids, {i: await self.aget_music(i, user) for i in ids})
        SCHEDULER_LISTING.keep(key, wait, None if result.done else result)
        return result

    # ---- downloads ------------------------------------------------------------------------------
    def download_music(
        self, music_id: str, destination: Any, *, download_format: str = "mp3", user_id: str | None = None
    ) -> ObjectStoragePath:
        """GET music/download?download_format=mp3|wav: stream the song to ``destination`` (a file path)."""
        ident = check_id("music_id", music_id)
        if download_format not in ("mp3", "wav"):
            raise InvalidInputError(
                f"download_format must be 'mp3' or 'wav' here (use download_stems for 'stems'), got {download_format!r}"
            )
        params = self._query(id=ident, user_id=self._user_id(user_id), download_format=download_format)
        return self.download("music/download/", destination, params=params)

    def get_stems(self, music_id: str, user_id: str | None = None) -> dict[str, str]:
        """GET music/download?download_format=stems: ``{stem name: url}`` (the JSON shape is undocumented;
        ``{"stems": [{"name", "url"}]}``, a list of such objects and a plain ``{name: url}`` are accepted)."""
        ident = check_id("music_id", music_id)
        params = self._query(id=ident, user_id=self._user_id(user_id), download_format="stems")
        return parse_stems(self.request_json("GET", "music/download/", params=params))

    def download_stems(self, music_id: str, destination_dir: Any, user_id: str | None = None) -> dict[str, ObjectStoragePath]:
        """Download every stem of a song into ``destination_dir``; returns ``{stem: path}``. Stems with
        names that clean to the same text (``vocals``, ``../vocals``, ``vocals?``) get distinct files."""
        folder = to_storage_path(destination_dir)
        stems = self.get_stems(music_id, user_id)
        names = stem_file_names(stems)
        return {name: self.download_url(url, folder / names[name]) for name, url in stems.items()}

    def download_url(self, url: str, destination: Any) -> ObjectStoragePath:
        """Stream a song's ``download_url`` (m4a, on another host: the token is not sent there). Errors
        never carry the URL's query string (signed links)."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"url must be an http(s) URL, got {redact_url(str(url))!r}")
        try:
            return self.download(url, destination)
        except MusicApiError as exc:
            # drop the chain: urllib3/aiohttp errors below it quote the signed query string
            exc.message = _strip_queries(exc.message)
            exc.args = (exc.message, *exc.args[1:])
            exc.__cause__ = exc.__context__ = None
            exc.__suppress_context__ = True
            raise

    # ---- scheduler ------------------------------------------------------------------------------
    def get_scheduler(self) -> list[dict[str, Any]]:
        """GET scheduler: jobs being executed (``job_id``, ``user_id``, ``started``, ``replyRef`` ...)."""
        body = self.request_json("GET", "scheduler")
        return [dict(j) for j in body if isinstance(j, Mapping)] if isinstance(body, list) else []

    def get_scheduler_available(self) -> dict[str, Any]:
        """GET scheduler/available: executing jobs and free capacity per account."""
        body = self.request_json("GET", "scheduler/available")
        return dict(body) if isinstance(body, Mapping) else {}

    def delete_scheduler_job(self, job_id: str) -> None:
        """DELETE scheduler/{job_id}: stop tracking a job (frees a maxJobs slot; the job keeps running)."""
        self.request("DELETE", f"scheduler/{path_segment(check_id('job_id', job_id), 'job_id')}")
