"""Hook for the Mureka API of useapi.net (Mureka AI by Kunlun Tech): I/O only.

One method per endpoint of ``shared/api/mureka.md``; every check, body and parser lives in
:mod:`airflow_provider_music.contract.mureka`. Errors: 402/412 (Gold or subscription), 403 ``low vip level``
(a paid plan needed), 409 (stems not ready) and 596 (session broken, account must be re-linked) are never
retried and say what to do; a 596 ``REFRESH_IN_PROGRESS`` is retried; a 429 on a create (all 10 slots busy)
waits the vendor's 10 s unless the server says otherwise, on lyrics (code 9008) 1 s. Ids are percent-encoded
in paths. Mureka has no cancel call: a submitted generation runs to its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.contract import mureka as mk
from airflow_provider_music.core import (
    ClientRequestError,
    InvalidInputError,
    MusicApiError,
    NotFoundError,
    PollResult,
    ServerError,
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


class MurekaCreditsError(ClientRequestError):
    """HTTP 402/412: not enough Mureka Gold, or the subscription expired. Retrying cannot help."""


class MurekaPlanError(ClientRequestError):
    """HTTP 403 ``low vip level``: the call needs a paid Mureka plan (edit, regenerate, stems)."""


class MurekaAccountError(MusicApiError, AirflowFailException):
    """HTTP 596: the account's Mureka session is broken; it must be re-linked (POST accounts)."""


class MurekaNotReadyError(ClientRequestError):
    """HTTP 409 from music/stems-download: the extraction is not completed yet."""


class MurekaLostCreateError(LostAnswerError):
    """A paid create may have been processed but its job was not found: failing rather than paying twice."""


_CREDITS_HINT = ("not enough Mureka Gold or the subscription expired: top up at mureka.ai, or send the work to "
                 "another account (account=...); check the balance with MurekaHook.get_profile()")
_RELINK_HINT = ("the Mureka account's session is broken: re-link it (POST accounts with email+password or "
                "token+refresh_token, MurekaHook.add_account(...)) before new calls")


def _advice(status: int, text: str) -> tuple[type[MusicApiError], str] | None:
    """The Mureka-specific class and advice for an error status, if any."""
    if status in (402, 412):
        return MurekaCreditsError, _CREDITS_HINT
    if status == 403 and "vip" in text.lower():
        return MurekaPlanError, "this call needs an active paid Mureka plan (edit, regenerate and stems do)"
    if status == 596:
        return MurekaAccountError, _RELINK_HINT
    if status == 409:
        return MurekaNotReadyError, "the stems extraction is not completed yet: wait for its job, then download"
    return None


async def _list_jobs(hook: MurekaHook) -> Any:
    return await hook.arequest_json("GET", "jobs")


#: The triggerer's waits on one connection share ONE ``GET jobs`` per refresh period; a job it lists is
#: running, any other job gets its own ``GET jobs/{jobid}`` (see ``core/poller.py``).
JOBS_LISTING = ListingPoller("Mureka GET jobs", _list_jobs, mk.listed_jobs)


def _unnamed(exc: MusicApiError, jobid: str) -> None:
    """Take the job id out of a status error: the waits name the job once around it."""
    if not isinstance(jobid, str) or not jobid:
        return
    from urllib.parse import quote

    for ident in (jobid, quote(jobid, safe="")):
        exc.message = exc.message.replace(ident, "{jobid}")
        exc.api_message = exc.api_message.replace(ident, "{jobid}") if exc.api_message else exc.api_message
        exc.path = exc.path.replace(ident, "{jobid}") if exc.path else exc.path
    exc.args = (exc.message,)


class MurekaHook(MusicApiHook):
    """Talk to the Mureka API of useapi.net.

    Connection: type ``mureka``; password = useapi.net API token (the same token as FlowMusic); host = base URL
    (default ``https://api.useapi.net/v1/mureka/``); extra ``account`` = default Mureka account id (required by
    the API when several accounts are configured); extra ``sync_timeout`` = read timeout of held calls
    (``async: false`` generation; default 300 s); extra ``price_per_song`` = Gold per song of the budget
    estimate (default: the documented prices, ``contract/mureka_cost.py``); extra ``max_cost`` = default budget.

    :param mureka_conn_id: Airflow connection id (default ``mureka_default``).
    """

    conn_name_attr = "mureka_conn_id"
    default_conn_name = "mureka_default"
    conn_type = "mureka"
    hook_name = "Mureka (useapi.net)"
    default_base_url = mk.DEFAULT_BASE_URL
    #: Seconds to wait after a 429 on a create without ``Retry-After`` (the vendor's script waits 10 s).
    rate_limit_min_wait = 10.0
    #: Seconds between lyrics calls the API asks for (its 429 carries code 9008).
    lyrics_pause = 1.0

    def __init__(self, mureka_conn_id: str | None = None, *, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(mureka_conn_id or conn_id, **kwargs)
        self.mureka_conn_id = self.conn_id

    # ---- errors ---------------------------------------------------------------------------------
    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        """402/412 Gold, 403 plan, 596 session (``REFRESH_IN_PROGRESS``: retried), 409 not ready, each with
        what to do; a 429 on a create waits :attr:`rate_limit_min_wait`, on lyrics :attr:`lyrics_pause`."""
        base = error_from_response(method, url, status, headers, text)
        common = {"method": base.method, "path": base.path, "status": status, "api_message": base.api_message,
                  "details": base.details}
        if status == 596 and "REFRESH_IN_PROGRESS" in text:
            return ServerError(f"{method} {base.path} failed with HTTP 596: the account's session is being "
                               f"refreshed; retrying. API said: {base.api_message}", retry_after=5.0,
                               request_may_have_been_processed=False, **common)
        advice = _advice(status, text)
        if advice is not None:
            cls, hint = advice
            return cls(f"{method} {base.path} failed with HTTP {status}: {hint}. API said: {base.api_message}",
                       request_may_have_been_processed=False, **common)
        if status == 429 and base.retry_after is None and method.upper() == "POST":
            lyrics = str(base.path or "").rstrip("/").endswith("lyrics-generate")
            base.retry_after = self.lyrics_pause if lyrics else self.rate_limit_min_wait
        return base

    # ---- helpers --------------------------------------------------------------------------------
    def _account(self, account: Any) -> str | None:
        if not mk.unset(account):
            return mk.check_account("account", account)
        return mk.check_account("connection extra 'account'", self.settings.extra("account"))

    def _held_seconds(self) -> float:
        """How long the API may hold a sync (``async: false``) generation: extra ``sync_timeout`` (300 s)."""
        held = mk.check_number("connection extra 'sync_timeout'", self.settings.extra("sync_timeout"), 1, None)
        return float(held or 300.0)

    def _post_job(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        held = body.get("async") is not True
        answer = self.request_json("POST", path, json_body=dict(body), hold=self._held_seconds() if held else None)
        return mk.parse_job(answer, what=f"POST {path}")

    def check_connection(self) -> None:
        """GET jobs (cheap, authenticated, no side effects), then :meth:`check_account`."""
        self.list_jobs()
        self.check_account()

    def check_account(self, account: str | None = None) -> dict[str, dict[str, Any]]:
        """Pre-flight: refuse an account in error state (its calls answer 596) before paid work."""
        chosen = self._account(account)
        accounts = {chosen: self.get_account(chosen)} if chosen else self.list_accounts()
        broken = {a: str(r.get("error"))[:200] for a, r in accounts.items() if r.get("error")}
        if broken and (chosen or len(broken) == len(accounts)):
            where = "; ".join(f"{a}: {reason}" for a, reason in broken.items())
            raise MurekaAccountError(f"Mureka account in error state ({where}): every call on it answers 596. "
                                     f"{_RELINK_HINT[0].upper()}{_RELINK_HINT[1:]}")
        return accounts

    # ---- accounts and profile -------------------------------------------------------------------
    def list_accounts(self) -> dict[str, dict[str, Any]]:
        """GET accounts: configured accounts keyed by id (credentials removed); ``{}`` when none (404)."""
        try:
            return mk.parse_accounts(self.request_json("GET", "accounts"))
        except NotFoundError:  # "Configuration not found. To create configuration use POST /accounts."
            return {}

    def get_account(self, account: str) -> dict[str, Any]:
        """GET accounts/{account}: one stored record (``error`` when its session is broken)."""
        ident = mk.check_account("account", account, required=True)
        return mk.public_account(self.request_json("GET", f"accounts/{mk.path_id(ident, 'account')}"))

    @secret_arguments("password", "token", "refresh_token")  # scrubbed from every error/log, masked by Airflow
    def add_account(self, *, email: str | None = None, password: str | None = None, token: str | None = None,
                    refresh_token: str | None = None) -> dict[str, dict[str, Any]]:
        """POST accounts: link an account by ``email`` + ``password`` (recommended) or ``token`` (+
        ``refresh_token``). Returns the records keyed by account id, without credentials."""
        from airflow.providers.common.compat.sdk import mask_secret

        if not mk.unset(email):  # the password is used with an email only
            if not mk.unset(token):
                raise InvalidInputError("add_account takes email and password, or token: not both")
            body = {"email": mk.check_text("email", email, required=True, max_length=254),
                    "password": mk.check_text("password", password, required=True, max_length=1024)}
        elif not mk.unset(token):
            body = {"token": mk.check_text("token", token, required=True, max_length=8192)}
            if not mk.unset(refresh_token):
                body["refresh_token"] = mk.check_text("refresh_token", refresh_token, max_length=8192)
        else:
            raise InvalidInputError("add_account needs email and password, or token (and refresh_token)")
        for key in ("password", "token", "refresh_token"):
            if body.get(key):
                mask_secret(str(body[key]))
        answer = self.request_json("POST", "accounts", json_body=body, idempotent=True)  # links, never pays
        if isinstance(answer, Mapping) and "account" in answer and not isinstance(answer.get("account"), Mapping):
            record = mk.public_account(answer)
            return {str(record["account"]): record}
        return mk.parse_accounts(answer)

    def delete_account(self, account: str) -> None:
        """DELETE accounts/{account}."""
        ident = mk.check_account("account", account, required=True)
        self.request("DELETE", f"accounts/{mk.path_id(ident, 'account')}")

    def get_profile(self, account: str | None = None) -> dict[str, Any]:
        """GET profile: plan and Gold balance (``credits``), live from Mureka."""
        chosen = self._account(account)
        return mk.parse_profile(self.request_json("GET", "profile", params={"account": chosen} if chosen else None))

    def price_per_song(self) -> float | None:
        """Connection extra ``price_per_song``: Gold one song is expected to cost (budget estimate; a generation
        gives two), or None (the documented prices of :mod:`~.contract.mureka_cost`)."""
        price = mk.check_number("connection extra 'price_per_song'", self.settings.extra("price_per_song"), 0, None)
        return None if price is None else float(price)

    def account_of(self, account: Any = None) -> str | None:
        """``account`` checked, else the connection's ``account`` extra, else None (the API's only account)."""
        return self._account(account)

    def gold_left(self, account: str | None = None) -> tuple[float | None, str]:
        """GET profile: the account's Gold balance (``credits``, live) and the account id it names."""
        profile = self.get_profile(account)
        left = profile.get("credits")
        gold = float(left) if isinstance(left, (int, float)) and not isinstance(left, bool) else None
        return gold, str(profile.get("account") or account or "")

    # ---- generation -----------------------------------------------------------------------------
    def send_create(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST music/create | create-advanced | create-instrumental with a body from
        :func:`~.contract.mureka.build_create_body`; the connection's ``account`` extra when the body has none."""
        default = None if body.get("account") else self._account(None)
        return self._post_job(mk.CREATE_PATHS[kind], {**body, "account": default} if default else body)

    def create(self, kind: str = "create", *, async_: bool = True, account: str | None = None,
               **kwargs: Any) -> dict[str, Any]:
        """Generate two songs (paid, not idempotent: the operators make it crash-safe with ``replyRef``).

        ``kind``: ``create`` (``prompt``), ``advanced`` (``lyrics``, ``title``, ``desc``, ``vocal_id``,
        ``ref_id``, ``motif_id``, ``vocal_gender``, ``character_id``) or ``instrumental`` (``prompt``,
        ``title``, ``ref_id``); also ``model``, ``reply_url``, ``reply_ref``. ``async_=False`` holds the call
        until the songs exist. Returns :func:`~.contract.mureka_answers.job_summary`."""
        body = mk.build_create_body(kind, async_=async_, account=self._account(account), **kwargs)
        return self.send_create(kind, body)

    def send_edit(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST music/extend | regenerate | edit | remix with a body from :func:`~.contract.mureka.build_edit_body`."""
        return self._post_job(mk.EDIT_PATHS[operation], body)

    def edit_song(self, operation: str, song_id: Any, *, async_: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Extend, regenerate, edit or remix a song (paid; runs on the song's own account) -> job summary."""
        return self.send_edit(operation, mk.build_edit_body(operation, song_id, async_=async_, **kwargs))

    def extend(self, song_id: Any, lyrics: str, **kwargs: Any) -> dict[str, Any]:
        """POST music/extend: continue the song from its end with new ``lyrics`` (two songs)."""
        return self.edit_song("extend", song_id, lyrics=lyrics, **kwargs)

    def regenerate(self, song_id: Any, start_ms: int, **kwargs: Any) -> dict[str, Any]:
        """POST music/regenerate: rewrite everything from ``start_ms`` to the end (two songs; paid plan)."""
        return self.edit_song("regenerate", song_id, start_ms=start_ms, **kwargs)

    def remix(self, song_id: Any, **kwargs: Any) -> dict[str, Any]:
        """POST music/remix: a new style (``desc``) and/or ``lyrics`` for a song (two songs)."""
        return self.edit_song("remix", song_id, **kwargs)

    def extract_stems(self, song_id: Any, *, all_stems: bool = True, async_: bool = True,
                      **kwargs: Any) -> dict[str, Any]:
        """POST music/stems (100 Gold all stems, 20 vocals + instrumental; charged on every call): a job, or
        the stems at once -> job summary (``stems_id`` once done)."""
        return self.send_stems(mk.build_stems_body(song_id, all_stems=all_stems, async_=async_, **kwargs))

    def send_stems(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST music/stems with a body from :func:`~.contract.mureka.build_stems_body` -> job summary."""
        return self._post_job("music/stems", body)

    def download_stems_links(self, stems_id: str, *, stem_name: str | None = None,
                             daw: str | None = None) -> dict[str, str]:
        """POST music/stems-download (free): live links (zips, one stem's wav/midi, or a DAW session).

        Links keep their query: download them at once, never store them."""
        body = mk.build_stems_download_body(stems_id, stem_name=stem_name, daw=daw)
        return mk.parse_stems_download(self.request_json("POST", "music/stems-download", json_body=body,
                                                         idempotent=True))

    def download_package_link(self, song_id: Any, kind: str = "stem") -> dict[str, Any]:
        """POST music/download: the stems ZIP (``stem``, Premier plan) or license (``license``) live link."""
        body = mk.build_download_body(song_id, kind)
        return mk.parse_download(self.request_json("POST", "music/download", json_body=body, idempotent=True))

    def generate_lyrics(self, prompt: str | None = None, *, account: str | None = None) -> dict[str, Any]:
        """POST music/lyrics-generate (free; at most one call a second) -> ``{"lyrics": ...}``."""
        body = mk.build_lyrics_body(prompt, account=self._account(account))
        return mk.parse_lyrics(self.request_json("POST", "music/lyrics-generate", json_body=body, idempotent=True))

    # ---- uploads --------------------------------------------------------------------------------
    def upload(self, source: Any, kind: str = "reference", *, title: str | None = None, genre: str | None = None,
               mood: str | None = None, url: str | None = None, account: str | None = None) -> dict[str, Any]:
        """POST files (``reference``: public on mureka.ai; ``title``, ``genre``, ``mood`` required) |
        files/motif (``motif``) | files/vocal (``vocal``, ``title``): a raw MP3 body, checked before sending.
        Returns ``{id, url, duration_s, ...}`` (``ref_id`` / ``motif_id`` / ``vocal_id``)."""
        path, params = mk.upload_params(kind, title=title, genre=genre, mood=mood, url=url,
                                        account=self._account(account))
        src = resolve_source(source)
        mk.check_upload(src.name, src.size)
        mk.check_upload(src.name, None, check_upload_content(src, allowed=("audio",)))
        src = capped_source(src, mk.UPLOAD_MAX_BYTES, what="Mureka's MP3 upload")
        return mk.parse_upload(self.upload_raw("POST", path, src, content_type="audio/mpeg", params=params))

    def _listing(self, path: str, account: Any, **params: Any) -> dict[str, Any]:
        query = {"account": self._account(account), **params}
        body = self.request_json("GET", path, params={k: v for k, v in query.items() if v is not None})
        if not isinstance(body, Mapping):
            raise mk.invalid_answer(f"GET {path}", body)
        return dict(body)

    def list_uploads(self, *, account: str | None = None, last_id: Any = None) -> dict[str, Any]:
        """GET files: your reference uploads ``{list: [{id, url, title, genre, mood, ...}], last_id, more}``."""
        return self._listing("files", account, last_id=last_id)

    def delete_upload(self, upload_id: Any, *, account: str | None = None) -> None:
        """DELETE files?id=: remove a reference upload (cannot be undone)."""
        chosen = self._account(account)
        params = {"id": mk.check_id("upload_id", upload_id), **({"account": chosen} if chosen else {})}
        self.request("DELETE", "files", params=params)

    def list_refs(self, *, account: str | None = None, mood: str | None = None, genre: str | None = None,
                  last_id: Any = None) -> dict[str, Any]:
        """GET music/refs: Mureka's library of reference songs (``ref_id`` values)."""
        return self._listing("music/refs", account, mood=mood, genre=genre, last_id=last_id)

    def list_vocals(self, *, account: str | None = None, mine: bool | None = None,
                    last_id: Any = None) -> dict[str, Any]:
        """GET music/vocals: voices for ``vocal_id`` (``mine=True``: your uploads only)."""
        flag = mk.check_bool("mine", mine)
        return self._listing("music/vocals", account, mine=None if flag is None else str(flag).lower(),
                             last_id=last_id)

    def moods_and_genres(self, *, account: str | None = None) -> dict[str, Any]:
        """GET music/moods-and-genres: the ``genre``/``mood`` tags of uploads and ``desc``."""
        return self._listing("music/moods-and-genres", account)

    # ---- jobs -----------------------------------------------------------------------------------
    def list_jobs(self) -> dict[str, Any]:
        """GET jobs: running jobs per account (``total``, ``accounts``, ``availableAccounts``)."""
        body = self.request_json("GET", "jobs")
        mk.running_jobs(body)  # shape check
        return dict(body)

    def running_jobs(self) -> list[dict[str, Any]]:
        """GET jobs flattened: ``[{jobid, account, verb, elapsed}]``."""
        return mk.running_jobs(self.request_json("GET", "jobs"))

    def get_job_record(self, jobid: str) -> dict[str, Any]:
        """GET jobs/{jobid}: the raw job record (with its ``request`` echo; 404 after 7 days)."""
        body = self.request_json("GET", f"jobs/{mk.path_id(jobid, 'jobid')}")
        if not isinstance(body, Mapping):
            raise mk.invalid_answer("GET jobs/{jobid}", body)
        return dict(body)

    def get_job(self, jobid: str) -> dict[str, Any]:
        """GET jobs/{jobid} -> job summary (ids, state, songs with query-less URLs)."""
        return mk.parse_job(self.get_job_record(jobid))

    def job_status(self, jobid: str) -> PollResult:
        """One poll of a job: running, success (payload = job summary) or failed."""
        try:
            return mk.job_poll_result(self.get_job_record(jobid))
        except MusicApiError as exc:
            if exc.retryable:
                _unnamed(exc, jobid)
            raise

    async def ajob_status(self, jobid: str) -> PollResult:
        """Async twin of :meth:`job_status` for the triggerer: waits share one ``GET jobs`` per period
        (:data:`JOBS_LISTING`); a listed job is running with no request of its own, any other gets its GET."""
        try:
            ident = mk.check_id("jobid", jobid)
            if await JOBS_LISTING.lookup(self, (self.conn_id,), ident, [ident]) is not None:
                return PollResult("running", "created", {"jobid": ident, "status": "created"})
            return mk.job_poll_result(await self.arequest_json("GET", f"jobs/{mk.path_id(ident, 'jobid')}"))
        except MusicApiError as exc:
            _unnamed(exc, jobid)
            raise

    def find_job(self, reply_ref: str, body: Mapping[str, Any], *, created_after: float | None = None) -> str | None:
        """The running job created with ``reply_ref`` (or, when the echo lacks it, the same request created
        after ``created_after``): GET jobs, then each candidate's GET jobs/{jobid} ``request`` echo."""
        for job in self.running_jobs():
            record = self.get_job_record(job["jobid"])
            ref = mk.job_reply_ref(record)
            created = mk.parse_iso(record.get("created"))
            recent = created_after is None or created is None or created >= created_after
            if ref == reply_ref or (ref is None and recent and mk.request_matches(record, body)):
                return str(job["jobid"])
        return None

    # ---- songs ----------------------------------------------------------------------------------
    def list_music(self, *, account: str | None = None, last_id: Any = None) -> dict[str, Any]:
        """GET music: one page of an account's songs, newest first (``more``/``last_id`` to page on)."""
        params: dict[str, Any] = {"account": self._account(account)}
        if last_id is not None:
            params["last_id"] = mk.check_id("last_id", last_id)
        body = self.request_json("GET", "music", params={k: v for k, v in params.items() if v is not None})
        return mk.parse_music_page(body)

    def songs_since(self, since: float | None, account: str | None = None) -> dict[str, list[str]]:
        """Songs made at or after ``since`` (epoch s) per account (first page of GET music): ``{account: ids}``.

        ``account`` None: the connection's ``account`` extra, else every configured account."""
        chosen = self._account(account)
        accounts: list[str | None] = [chosen] if chosen else [*self.list_accounts()] or [None]
        found = {str(a): mk.songs_since(self.list_music(account=a), since) for a in accounts}
        return {a: ids for a, ids in found.items() if ids}

    def _song_record(self, song_id: Any) -> Mapping[str, Any]:
        body = self.request_json("GET", f"music/{mk.path_id(mk.check_song_id('song_id', song_id), 'song_id')}")
        song = body.get("song") if isinstance(body, Mapping) else None
        if not isinstance(song, Mapping):
            raise mk.invalid_answer("GET music/{song_id}", body)
        return song

    def get_song(self, song_id: Any) -> dict[str, Any]:
        """GET music/{song_id}: the song (``{song: {...}, user, feed_id}``) -> its summary."""
        return mk.song_summary(self._song_record(song_id), what="GET music/{song_id}")

    def live_song(self, song_id: Any) -> dict[str, Any]:
        """GET music/{song_id}: the summary with the current ``mp3_url`` WITH its query, for a download now
        (never stored)."""
        song = self._song_record(song_id)
        url = song.get("mp3_url")
        live = {"mp3_url": url} if isinstance(url, str) and url.startswith(("http://", "https://")) else {}
        return {**mk.song_summary(song, what="GET music/{song_id}"), **live}

    def delete_song(self, song_id: Any) -> None:
        """DELETE music/{song_id}: permanently delete one song from its account."""
        self.request("DELETE", f"music/{mk.path_id(mk.check_song_id('song_id', song_id), 'song_id')}")

    def download_url(self, url: str, destination: Any) -> ObjectStoragePath:
        """Stream a public ``mp3_url`` or a ZIP/WAV link (another origin: the token is not sent)."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"url must be an http(s) URL, got {url!r}"[:200])
        return self.download(url, destination)
