"""Hook for the FlowMusic API of useapi.net (Google Flow Music / Lyria 3 Pro): I/O only.

One method per endpoint of ``shared/api/flowmusic.md``; every check, body and parser lives in
:mod:`airflow_provider_music.contract.flowmusic`. Errors: 402 (no credits), 422 (moderation, no lyrics,
AI-provenance image) and 596 (account needs re-adding) are never retried and say what to do; 429 on a
create (all slots busy) is retried after the vendor's advised 10 s unless the server says otherwise. Job, clip and
account ids are percent-encoded in paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.contract import flowmusic as fm
from airflow_provider_music.contract import flowmusic_lookup as lookup
from airflow_provider_music.core import (
    ClientRequestError,
    InvalidInputError,
    MusicApiError,
    PollResult,
    ValidationError,
    check_upload_content,
    error_from_response,
    resolve_source,
)
from airflow_provider_music.core.errors import LostAnswerError
from airflow_provider_music.core.files import capped_source
from airflow_provider_music.core.poller import ListingPoller
from airflow_provider_music.core.redaction import secret_arguments
from airflow_provider_music.hooks.base import MusicApiHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath


class FlowMusicCreditsError(ClientRequestError):
    """HTTP 402: the FlowMusic account has too few credits. Retrying cannot help."""


class FlowMusicModerationError(ValidationError):
    """HTTP 422 (or a 500 from files/generate): the prompt, lyrics or image was refused."""


class FlowMusicAccountError(MusicApiError, AirflowFailException):
    """HTTP 596: the account's Google session is broken; it must be re-added with a fresh refresh token."""


class FlowMusicNotReadyError(ClientRequestError):
    """HTTP 409 from music/download: the job is not completed yet."""


class FlowMusicLostCreateError(LostAnswerError):
    """A paid create may have been processed but its job was not found: failing rather than paying twice.

    The FlowMusic name of :class:`~airflow_provider_music.core.errors.LostAnswerError` (same rule, never retried)."""


def _advice(status: int, path: str) -> tuple[type[MusicApiError], str] | None:
    """The FlowMusic-specific class and advice for an error status, if any."""
    if status == 402:
        return FlowMusicCreditsError, (
            "the FlowMusic account has insufficient credits: top up at flowmusic.app, wait for the daily "
            "allowance, or send the work to another account (email=...); check credits_remaining with "
            "FlowMusicHook.get_account(email)")
    if status == 596:
        return FlowMusicAccountError, (
            "the FlowMusic account is in an error state: re-add it with a fresh flowmusic.app refresh token "
            "(POST accounts, FlowMusicHook.add_account(refresh_token=...)) before new calls")
    if status == 409:
        return FlowMusicNotReadyError, "the job is not completed yet: wait for it, then download"
    if status == 422 and path.endswith("music/lyrics"):
        return FlowMusicModerationError, "no lyrics were produced: try another prompt, or generate with POST music"
    if status == 422 and path.endswith("/files"):
        return FlowMusicModerationError, (
            "the image declares AI provenance: upload it with strip_metadata=True (the default)")
    if status == 422:
        return FlowMusicModerationError, (
            "the request was moderated (the model declined to generate audio): change the prompt or lyrics; "
            "the same request cannot succeed")
    if status >= 500 and path.endswith("files/generate"):
        return FlowMusicModerationError, "Flow Music declined the image prompt (usually moderation): change it"
    return None


async def _list_jobs(hook: FlowMusicHook) -> Any:
    return await hook.arequest_json("GET", "jobs")


#: The triggerer's waits on one connection share ONE ``GET jobs`` per refresh period (see
#: :class:`~airflow_provider_music.core.poller.ListingPoller`): a job it lists as pending is running; any
#: other job gets its own ``GET jobs/{jobid}``.
JOBS_LISTING = ListingPoller("FlowMusic GET jobs", _list_jobs, fm.listed_jobs)

_ID_PARENTS = {"jobs": "{jobid}", "accounts": "{email}"}


def _id_once(url: str, text: str) -> str:
    """``url`` with its id segment said once in an error line: ``{jobid}`` when the API's answer names the id
    itself, else the id as is (never raw AND percent-encoded)."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    segments = parts.path.split("/")
    for n in range(1, len(segments)):
        label = _ID_PARENTS.get(segments[n - 1])
        if label and segments[n] and segments[n] != "usage":
            ident = unquote(segments[n])
            segments[n] = label if ident in text else ident
    return urlunsplit(parts._replace(path="/".join(segments)))


def _unnamed(exc: MusicApiError, jobid: str) -> None:
    """Take the job id out of an error of a status or cancel call: the operator, sensor and trigger that make
    these calls name the job once around the error (``Polling FlowMusic job jobid=... failed: ...``)."""
    if not isinstance(jobid, str) or not jobid:  # refused before any request: nothing to take out
        return
    exc.message = exc.message.replace(jobid, "{jobid}")
    exc.api_message = exc.api_message.replace(jobid, "{jobid}") if exc.api_message else exc.api_message
    exc.path = exc.path.replace(jobid, "{jobid}") if exc.path else exc.path
    exc.args = (exc.message,)


class FlowMusicHook(MusicApiHook):
    """Talk to the FlowMusic API of useapi.net.

    Connection: type ``flowmusic``; password = useapi.net API token; host = base URL (default
    ``https://api.useapi.net/v1/flowmusic/``); extra ``email`` = default account (otherwise the API
    picks one with free capacity); extra ``sync_timeout`` = read timeout of calls the API holds open
    (sync generation, stems; default 300 s).

    :param flowmusic_conn_id: Airflow connection id (default ``flowmusic_default``).
    """

    conn_name_attr = "flowmusic_conn_id"
    default_conn_name = "flowmusic_default"
    conn_type = "flowmusic"
    hook_name = "FlowMusic (useapi.net)"
    default_base_url = fm.DEFAULT_BASE_URL
    #: Seconds to wait after a 429 on a create without ``Retry-After`` ("all slots busy": the vendor's script
    #: waits 10 s). A 429 on a read (no published rate quota) uses the retry policy's own back-off.
    rate_limit_min_wait = 10.0

    def __init__(self, flowmusic_conn_id: str | None = None, *, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(flowmusic_conn_id or conn_id, **kwargs)
        self.flowmusic_conn_id = self.conn_id

    # ---- errors ---------------------------------------------------------------------------------
    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        """The FlowMusic error for an answer >= 400: 402 credits, 422 moderation, 596 account, 409 not ready (each
        with what to do), a 429 on a create waiting :attr:`rate_limit_min_wait`; else the core's mapping."""
        base = error_from_response(method, _id_once(url, text), status, headers, text)
        advice = _advice(status, str(base.path or "").rstrip("/"))
        if advice is not None:
            cls, hint = advice
            return cls(
                f"{method} {base.path} failed with HTTP {status}: {hint}. API said: {base.api_message}",
                method=base.method, path=base.path, status=status, api_message=base.api_message,
                details=base.details, request_may_have_been_processed=status not in (402, 409, 422, 596),
            )
        if status == 429 and base.retry_after is None and method.upper() == "POST":  # capacity: all slots busy
            base.retry_after = self.rate_limit_min_wait
        return base

    # ---- helpers --------------------------------------------------------------------------------
    def _email(self, email: str | None) -> str | None:
        if email is not None:
            return fm.check_email("email", email)
        return fm.check_email("connection extra 'email'", self.settings.extra("email"))

    def _held_seconds(self) -> float:
        """How long the API may hold a call open (sync generation, edits, stems, lyrics, images): extra
        ``sync_timeout``. Such a call may take that plus ``request_timeout`` (hooks/base.py ``hold=``)."""
        held = fm.check_number("connection extra 'sync_timeout'", self.settings.extra("sync_timeout"), 1, None)
        return float(held or 300.0)

    def _post_job(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        held = body.get("mode", "sync") == "sync"
        answer = self.request_json("POST", path, json_body=dict(body), hold=self._held_seconds() if held else None)
        return fm.parse_job(answer, what=f"POST {path}")

    def send_generate(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST music with a body from :func:`~.contract.flowmusic.build_generate_body` -> job summary.

        Without ``email`` in the body, the connection's ``email`` extra (if any) picks the account."""
        default = None if body.get("email") else self._email(None)
        return self._post_job("music", {**body, "email": default} if default else body)

    def send_edit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST music/edit with a body from :func:`~.contract.flowmusic.build_edit_body` -> job summary."""
        return self._post_job("music/edit", body)

    def check_connection(self) -> None:
        """GET jobs (cheap, authenticated, no side effects), then :meth:`check_account`."""
        self.list_jobs()
        self.check_account()

    def check_account(self, email: str | None = None) -> dict[str, dict[str, Any]]:
        """Pre-flight: refuse an account in error state (its every call would answer 596) before paid work.

        ``email`` (else the connection's ``email`` extra) must be healthy; without either, at least one
        account must be (the API picks a healthy one). Returns the accounts checked, keyed by e-mail."""
        chosen = self._email(email)
        accounts = {chosen: self.get_account(chosen)} if chosen else self.list_accounts()
        broken = {e: str(a.get("error"))[:200] for e, a in accounts.items() if a.get("error")}
        if broken and (chosen or len(broken) == len(accounts)):
            where = "; ".join(f"{e}: {reason}" for e, reason in broken.items())
            raise FlowMusicAccountError(
                f"FlowMusic account in error state ({where}): every call on it answers 596. Re-add it with a "
                "fresh flowmusic.app refresh token (POST accounts, FlowMusicHook.add_account(refresh_token=...))"
                + ("" if chosen else " or add a healthy account"))
        return accounts

    # ---- accounts -------------------------------------------------------------------------------
    def list_accounts(self) -> dict[str, dict[str, Any]]:
        """GET accounts: configured accounts keyed by e-mail (tokens removed)."""
        return fm.parse_accounts(self.request_json("GET", "accounts"))

    def get_account(self, email: str) -> dict[str, Any]:
        """GET accounts/{email}: one account with live ``credits_remaining`` / ``tokens_remaining``."""
        ident = fm.check_email("email", email, required=True) or ""
        return fm.public_account(self.request_json("GET", f"accounts/{fm.path_id(ident, 'email')}"))

    @secret_arguments("refresh_token")  # scrubbed from every error/log, masked by Airflow
    def add_account(self, refresh_token: str, max_jobs: int | None = None) -> dict[str, Any]:
        """POST accounts: add or refresh an account from a flowmusic.app refresh token."""
        token = fm.check_text("refresh_token", refresh_token, required=True) or ""
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(token)  # a Google session refresh token is a credential
        body: dict[str, Any] = {"refresh_token": token}
        jobs = fm.check_number("max_jobs (maxJobs)", max_jobs, 1, 16, integer=True)
        if jobs is not None:
            body["maxJobs"] = int(jobs)
        return fm.public_account(self.request_json("POST", "accounts", json_body=body))

    def update_account(self, email: str, max_jobs: int) -> dict[str, Any]:
        """POST accounts ``{email, maxJobs}``: change an account's concurrency, nothing else."""
        ident = fm.check_email("email", email, required=True)
        jobs = fm.check_number("max_jobs (maxJobs)", max_jobs, 1, 16, integer=True)
        if jobs is None:
            raise InvalidInputError("max_jobs (maxJobs) is required: an integer between 1 and 16")
        body = {"email": ident, "maxJobs": int(jobs)}
        return fm.public_account(self.request_json("POST", "accounts", json_body=body, idempotent=True))

    def delete_account(self, email: str) -> None:
        """DELETE accounts/{email} (204)."""
        ident = fm.check_email("email", email, required=True) or ""
        self.request("DELETE", f"accounts/{fm.path_id(ident, 'email')}")

    def get_usage(self, email: str) -> dict[str, Any]:
        """GET accounts/usage?email=: daily usage events and the spend summary (credits = tokens / 12)."""
        ident = fm.check_email("email", email, required=True)
        body = self.request_json("GET", "accounts/usage", params={"email": ident})
        if not isinstance(body, Mapping):
            raise fm.invalid_answer("accounts/usage", body)
        return dict(body)

    # ---- cost (operators' budget guard and cost report) -----------------------------------------
    def price_per_song(self) -> float | None:
        """Connection extra ``price_per_song``: credits one generation or edit is expected to cost (budget
        estimate), or None (the price list of :mod:`~.contract.flowmusic_cost`)."""
        price = fm.check_number("connection extra 'price_per_song'", self.settings.extra("price_per_song"), 0, None)
        return None if price is None else float(price)

    def credits_remaining(self, email: str) -> float | None:
        """GET accounts/{email} ``credits_remaining`` (live), or None when the API shows none."""
        left = self.get_account(email).get("credits_remaining")
        return float(left) if isinstance(left, (int, float)) and not isinstance(left, bool) else None

    def account_email(self, email: Any = None) -> str | None:
        """``email`` checked, else the connection's ``email`` extra, else None (the API picks an account)."""
        return self._email(email if isinstance(email, str) and email else None)

    # ---- music ----------------------------------------------------------------------------------
    def generate(self, prompt: str, *, mode: str = "async", email: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """POST music: a song (an A/B pair of clips). ``mode="async"`` answers 201 with a pending job.

        Costs credits and is not idempotent: the operators make it crash-safe (see ``replyRef``).
        Keyword arguments: ``lyrics``, ``instrumental``, ``ghostwriter``, ``ref_images``, ``ref_audios``,
        ``model``, ``reply_url``, ``reply_ref``. Returns :func:`~.contract.flowmusic.job_summary`.
        """
        return self.send_generate(fm.build_generate_body(prompt, mode=mode, email=self._email(email), **kwargs))

    def edit(self, operation: str, clip: str, *, mode: str = "async", params: Mapping[str, Any] | None = None,
             **kwargs: Any) -> dict[str, Any]:
        """POST music/edit: ``effect``/``extend``/``replace``/``cover``/``remix`` on a clip -> job summary.

        ``params`` holds the operation's own fields (``instruction``, ``strength``, ``gain_db``...);
        keyword arguments: ``seed``, ``title``, ``model``, ``reply_url``, ``reply_ref``.
        """
        if operation == "stems":
            raise InvalidInputError("operation 'stems' is synchronous and gives four clips: use split_stems()")
        return self.send_edit(fm.build_edit_body(operation, clip, params=params, mode=mode, **kwargs))

    def split_stems(self, clip: str, *, live_urls: bool = False) -> list[dict[str, Any]]:
        """POST music/edit ``stems`` (always synchronous): the four stem clips, each with ``stem``.

        URLs lose their query unless ``live_urls`` (for an immediate download: never store those)."""
        body = fm.build_edit_body("stems", clip)
        answer = self.request_json("POST", "music/edit", json_body=body, hold=self._held_seconds(),
                                   idempotent=True)  # asking again returns the same stems at once
        stems = fm.parse_stems(answer)
        live = lookup.live_clip_urls(answer) if live_urls else {}
        return [{**s, **live.get(s["clip"], {})} for s in stems]

    def clip_urls(self, jobid: str) -> dict[str, dict[str, str]]:
        """GET jobs/{jobid}: the clips' current ``wav_url``/``audio_url`` WITH their query (signed URLs).

        For an immediate download only: never put these in XCom, events or logs."""
        record = self.get_job_record(jobid)
        fm.parse_job(record, what="GET jobs/{jobid}")  # shape check: a job record, not any JSON object
        return lookup.live_clip_urls(record)

    def write_lyrics(self, prompt: str, *, structure: str | None = None, email: str | None = None) -> dict[str, Any]:
        """POST music/lyrics (free): ``{title, lyrics, sound_prompt, ...}``."""
        body = fm.build_lyrics_body(prompt, structure=structure, email=self._email(email))
        return fm.parse_lyrics(self.request_json("POST", "music/lyrics", json_body=body, idempotent=True,
                                                 hold=self._held_seconds()))

    def list_music(self, *, email: str | None = None, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """GET music: one page of an account's clips, newest first (``next`` = next offset or None)."""
        params = {
            "email": self._email(email),
            "limit": int(fm.check_number("limit", limit, 1, 100, integer=True) or 20),
            "offset": int(fm.check_number("offset", offset, 0, None, integer=True) or 0),
        }
        body = self.request_json("GET", "music", params={k: v for k, v in params.items() if v is not None})
        return fm.parse_music_page(body)

    def download_mp3(self, clip_or_job_id: str, destination: Any) -> ObjectStoragePath:
        """GET music/download?id=&format=mp3: stream the mp3 of a clip (or a completed job's first clip)."""
        ident = fm.check_id("clip_or_job_id", clip_or_job_id)
        return self.download("music/download", destination, params={"id": ident, "format": "mp3"})

    def download_url(self, url: str, destination: Any) -> ObjectStoragePath:
        """Stream a clip's public ``wav_url`` / ``audio_url`` (another origin: the token is not sent)."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"url must be an http(s) URL, got {url!r}"[:200])
        return self.download(url, destination)

    # ---- files ----------------------------------------------------------------------------------
    def upload_file(self, source: Any, *, content_type: str | None = None, email: str | None = None,
                    strip_metadata: bool | None = None) -> dict[str, Any]:
        """POST files: stream an image (jpeg/png/webp, 20 MB) or audio (mp3/wav/m4a/aac, 40 MB) as the body.

        Type, size and first bytes are checked before anything is sent (the detected format must be the
        declared ``content_type``); a stream of unknown size is stopped before it passes the type's cap.
        Returns ``{id, url, kind, ...}`` for ``ref_images`` / ``ref_audios`` (usable only on the account it
        was uploaded to).
        """
        src = resolve_source(source)
        ctype = fm.upload_content_type(src.name, content_type)
        fm.check_upload_size(src.name, src.size, ctype)
        # every source, a pipe too (its first bytes are kept and sent first): the detected container must be
        # the declared type, and no more than the type's cap is ever sent (a stream of unknown size stops there)
        container = check_upload_content(src, allowed=("audio", "image"))
        fm.check_upload_match(src.name, container, ctype)
        src = capped_source(src, fm.UPLOAD_TYPES[ctype], what=f"FlowMusic's {ctype} upload")
        params: dict[str, Any] = {"email": self._email(email)}
        strip = fm.check_bool("strip_metadata", strip_metadata)
        if strip is not None:
            params["stripMetadata"] = "true" if strip else "false"
        clean = {k: v for k, v in params.items() if v is not None}
        return fm.parse_asset(self.upload_raw("POST", "files", src, content_type=ctype, params=clean))

    def generate_image(self, prompt: str, *, email: str | None = None) -> dict[str, Any]:
        """POST files/generate: a 1024x1024 reference image -> ``{id, url, ...}``."""
        body: dict[str, Any] = {"prompt": fm.check_text("prompt", prompt, required=True, max_length=2000)}
        chosen = self._email(email)
        if chosen:
            body["email"] = chosen
        return fm.parse_asset(self.request_json("POST", "files/generate", json_body=body, hold=self._held_seconds()))

    # ---- jobs -----------------------------------------------------------------------------------
    def list_jobs(self) -> dict[str, Any]:
        """GET jobs: running jobs and ``maxJobs`` per account e-mail."""
        body = self.request_json("GET", "jobs")
        fm.running_jobs(body)  # shape check
        return dict(body or {})

    def running_jobs(self) -> list[dict[str, Any]]:
        """GET jobs flattened: ``[{jobid, email, status, created_at, operation}]``."""
        return fm.running_jobs(self.request_json("GET", "jobs"))

    def get_job_record(self, jobid: str) -> dict[str, Any]:
        """GET jobs/{jobid}: the raw job record (with its ``request`` echo)."""
        body = self.request_json("GET", f"jobs/{fm.path_id(jobid, 'jobid')}")
        if not isinstance(body, Mapping):
            raise fm.invalid_answer("GET jobs/{jobid}", body)
        return dict(body)

    def get_job(self, jobid: str) -> dict[str, Any]:
        """GET jobs/{jobid} -> job summary (ids, state, clips with query-less URLs)."""
        return fm.parse_job(self.get_job_record(jobid))

    async def aget_job_record(self, jobid: str) -> dict[str, Any]:
        """Async GET jobs/{jobid}: the raw job record (its final record once the job left GET jobs)."""
        return await self.arequest_json("GET", f"jobs/{fm.path_id(jobid, 'jobid')}")

    def job_status(self, jobid: str) -> PollResult:
        """One poll of a job: running, success (payload = job summary) or failed.

        Error lines name the job id once. The wait loops around the ``JOB_STATUS`` calls name the job
        themselves where they catch an error (a retryable one here, every one in the trigger and on cancel),
        so those errors leave the id to them; an error that ends the task names it itself."""
        try:
            return fm.job_poll_result(self.get_job_record(jobid))
        except MusicApiError as exc:
            if exc.retryable:  # logged as "Polling FlowMusic job jobid=... failed, will poll again: ..."
                _unnamed(exc, jobid)
            raise

    async def ajob_status(self, jobid: str) -> PollResult:
        """Async twin of :meth:`job_status`, for the triggerer: the waits of one event loop on this connection
        share one ``GET jobs`` per refresh period (:data:`JOBS_LISTING`). Listed as ``pending`` -> running, with
        no request of its own; not listed (finished, newer than the list, or the list failed or was
        unreadable) -> its own GET jobs/{jobid}, as before. A listing never makes a job done."""
        try:
            ident = fm.check_id("jobid", jobid)
            if await JOBS_LISTING.lookup(self, (self.conn_id,), ident, [ident]) is not None:
                return PollResult("running", "pending", {"jobid": ident, "status": "pending"})
            return fm.job_poll_result(await self.aget_job_record(ident))
        except MusicApiError as exc:
            _unnamed(exc, jobid)
            raise

    def cancel_job(self, jobid: str) -> None:
        """DELETE jobs/{jobid}: cancel a running job and free its slot (credits are spent anyway)."""
        try:
            self.request("DELETE", f"jobs/{fm.path_id(jobid, 'jobid')}")
        except MusicApiError as exc:
            _unnamed(exc, jobid)
            raise

    async def acancel_job(self, jobid: str) -> None:
        """Async twin of :meth:`cancel_job` (the trigger's ``on_kill``)."""
        try:
            await self.arequest_json("DELETE", f"jobs/{fm.path_id(jobid, 'jobid')}")
        except MusicApiError as exc:
            _unnamed(exc, jobid)
            raise

    def find_job(self, reply_ref: str, body: Mapping[str, Any], *, created_after: float | None = None) -> str | None:
        """The job created with ``reply_ref`` (or, when the echo lacks it, the same request) after a time.

        GET jobs lists running jobs without their ``replyRef``; each candidate inside the time window is
        read with GET jobs/{jobid} and matched on its ``request`` echo.
        """
        for job in self.running_jobs():
            created = fm.parse_iso(job.get("created_at"))
            if created_after is not None and created is not None and created < created_after:
                continue
            record = self.get_job_record(job["jobid"])
            ref = fm.job_reply_ref(record)
            if ref == reply_ref or (ref is None and fm.request_matches(record, body)):
                return job["jobid"]
        return None

    def charges_since(self, since: float | None, email: str | None = None) -> dict[str, list[str]]:
        """Accounts charged at or after ``since`` (epoch s) per GET accounts/usage: ``{email: [times]}``.

        ``email`` None: the connection's ``email`` extra, else every account (the API may have picked any)."""
        chosen = self._email(email)
        emails = [chosen] if chosen else list(self.list_accounts())
        found = {e: lookup.charges_since(self.get_usage(e), since) for e in emails}
        return {e: times for e, times in found.items() if times}
