"""Emulator routes of the Mureka API of useapi.net (``/v1/mureka/``): the whole API as one class.

Requests are checked with the same pure code the hook uses (:mod:`airflow_provider_music.contract.mureka`), so
the emulator and the client cannot drift. Bodies are accepted as JSON or as form fields (the vendor's Postman
collection sends every value as a string). Defaults follow the digest's documented shapes: ``async`` false
holds the answer until the songs exist; ``async: true`` answers 201 with the job record (``status:
"created"``); a completed job carries ``response: {feed_id, state: 3, songs: [2 songs]}``. Settings
(``state.settings`` or ``PATCH /_emulator/settings``), all optional:

* ``mureka.job_seconds``: seconds a job stays ``created`` (default: the emulator's ``job_seconds``).
* ``mureka.gold`` (500) and ``mureka.plan`` (``premier``; ``free`` refuses edit/regenerate 403, stems need
  ``premier``): of the default account ``12345678901234``.
* ``mureka.song_gold`` (12 per song, 24 a generation), ``mureka.model_gold`` (``{model: Gold per song}`` for
  models priced otherwise; the vendor documents V9.5/V9 only), ``mureka.edit_gold`` (20), ``mureka.stems_gold``
  (100 all stems / 20 two), charged when the request is accepted: not enough -> 412 ``Not enough credits``.
  ``GET profile`` ``credits`` is the live balance.
* ``mureka.max_jobs`` (10 running music jobs per account -> 429), ``mureka.retry_after`` (none).
* ``mureka.lyrics_interval`` (1 s between lyrics calls of an account -> 429 ``{"code": 9008}``).
* ``mureka.account_error``: a reason -> every account answers 596 ``{"code": "REFRESH_FAILED"}``.
* ``mureka.job_outcome`` (``completed``): ``failed`` makes jobs fail (``error``, ``errorDetails``, state 4).
* ``mureka.retention_seconds`` (7 days): older jobs answer 404.

``replyUrl`` gets the job record on ``created`` and on the final state (loopback only, through
:mod:`airflow_provider_music.testing.callbacks`). ``mp3_url`` serves a valid silent MP3; stems zips hold real WAVs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.contract import mureka as mk
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.testing.apis import BEARER
from airflow_provider_music.testing.callbacks import send_callback
from airflow_provider_music.testing.emulator import require_credential
from airflow_provider_music.testing.flowmusic_store import silent_mp3
from airflow_provider_music.testing.mureka_store import (
    STEMS_ALL,
    STEMS_TWO,
    Account,
    Job,
    MurekaError,
    MurekaStore,
    Upload,
)

PREFIX = "/v1/mureka"
CDN_PREFIX = "/_cdn/mureka"
WEEK = 7 * 24 * 3600.0
_MP3_MAGIC = (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
_CREATE_FIELDS = ("prompt", "lyrics", "title", "desc", "vocal_id", "ref_id", "motif_id", "vocal_gender",
                  "character_id")
_EDIT_FIELDS = {"lyrics": "lyrics", "start_milliseconds": "start_ms", "end_milliseconds": "end_ms",
                "keep_melody": "keep_melody", "title": "title", "desc": "desc", "vocal_gender": "vocal_gender",
                "model": "model"}


def checked(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a contract check; its error becomes the API's 400."""
    try:
        return func(*args, **kwargs)
    except InvalidInputError as exc:
        raise MurekaError(400, str(exc)) from None


def _dispatch(raw: dict[str, Any]) -> dict[str, Any]:
    return {"model": raw.get("model"), "async_": raw.get("async"), "reply_url": raw.get("replyUrl"),
            "reply_ref": raw.get("replyRef")}


class MurekaApi:
    """The Mureka API: one method per route; state in :class:`MurekaStore`."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.store = MurekaStore()
        self.reset()

    def reset(self) -> None:
        self.store.reset(gold=float(self.setting("gold", 500)), plan=str(self.setting("plan", "premier")),
                         now=self.state.now())

    def setting(self, name: str, default: Any = None) -> Any:
        return self.state.setting(f"mureka.{name}", default)

    # ---- shared checks --------------------------------------------------------------------------
    def cdn(self) -> str:
        return str(self.state.base_url or "http://127.0.0.1").rstrip("/") + CDN_PREFIX

    def cdn_for(self, request: Request) -> str:
        return str(self.state.base_url or request.base_url).rstrip("/") + CDN_PREFIX

    def error_of(self, acc: Account) -> str | None:
        reason = acc.error or self.setting("account_error")
        return (reason if isinstance(reason, str) else "Session refresh failed") if reason else None

    def healthy(self, acc: Account) -> Account:
        reason = self.error_of(acc)
        if reason:
            raise MurekaError(596, f"{reason}, manual update required", body={
                "error": f"{reason}, manual update required", "code": "REFRESH_FAILED"})
        return acc

    def account(self, ident: Any, *, required: bool = False) -> Account:
        """The named account, or the only one (400 when several are configured and none is named)."""
        if ident in (None, ""):
            if required or len(self.store.accounts) > 1:
                raise MurekaError(400, "Parameter account is required when multiple accounts are configured")
            if not self.store.accounts:
                raise MurekaError(404, "Configuration not found. To create configuration use POST /accounts.")
            return next(iter(self.store.accounts.values()))
        acc = self.store.accounts.get(str(ident))
        if acc is None:
            raise MurekaError(404, f"Account {ident} not found. To create configuration use POST /accounts.")
        return acc

    def slot(self, acc: Account) -> None:
        limit = int(self.setting("max_jobs", 10))
        if len(self.store.running(acc.account, self.state.now())) >= limit:
            advised = self.setting("retry_after")
            raise MurekaError(429, f"All {limit} generation slots of account {acc.account} are busy",
                              headers={"Retry-After": str(advised)} if advised is not None else None)

    def charge(self, acc: Account, gold: float) -> None:
        if acc.gold < gold:
            raise MurekaError(412, f"Not enough credits: requested {gold:g}, available {acc.gold:g}")
        acc.gold -= gold

    def song_gold(self, model: Any) -> float:
        """Gold per song of ``model``: ``mureka.model_gold`` for it, else ``mureka.song_gold`` (12)."""
        prices = self.setting("model_gold") or {}
        found = prices.get(str(model)) if isinstance(prices, dict) and model else None
        return float(found if found is not None else self.setting("song_gold", 12))

    def paid_plan(self, acc: Account, *, premier: bool = False) -> None:
        if acc.plan == "free" or (premier and acc.plan != "premier"):
            raise MurekaError(403, "low vip level (6335)")

    async def read_body(self, request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            return {k: v for k, v in form.items() if isinstance(v, str)}
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise MurekaError(400, "Request body must be JSON or form data") from None
        if not isinstance(body, dict):
            raise MurekaError(400, "Request body must be a JSON object")
        return body

    def job_json(self, job: Job, cdn: str | None = None) -> dict[str, Any]:
        cdn = cdn or self.cdn()
        stems = self.store.stems.get(job.stems_id or "")
        stems_json = None if stems is None else {"stems_id": stems.stems_id, "bpm": 120, "stems": [
            {"name": n, "wav": f"{cdn}/stem/{stems.stems_id.rpartition(':')[2]}/{n}.wav",
             "mp3": f"{cdn}/{self.store.songs[stems.song_id].number}.mp3"} for n in stems.names]}
        return job.as_json(self.state.now(), [self.store.songs[s].as_json(cdn) for s in job.songs], stems_json)

    def apply_job_seconds(self) -> None:
        """A lowered ``mureka.job_seconds`` also shortens the jobs still running (read on every request)."""
        delay, now = self.state.job_delay("mureka"), self.state.now()
        for job in self.store.jobs.values():
            if job.delay > delay and job.status(now) == "created":
                job.delay = max(delay, now - job.created)
                if job.request.get("replyUrl"):
                    asyncio.get_running_loop().call_later(max(0.0, job.created + job.delay - now), self.callback,
                                                          job.jobid)

    def find_job(self, jobid: str) -> Job:
        self.apply_job_seconds()
        job = self.store.jobs.get(jobid)
        if job is not None and self.state.now() - job.created > float(self.setting("retention_seconds", WEEK)):
            job = None
        if job is None:
            raise MurekaError(404, f"Job {jobid} not found (older than 7 days or never existed)")
        return job

    def shown_song(self, ident: Any) -> Any:
        song = self.store.song(ident)
        if song is None or not song.visible(self.state.now()):
            raise MurekaError(404 if song is None or not song.deleted else 400,
                              "The song has been deleted" if song is not None and song.deleted else
                              f"Song {ident} not found")
        return song

    # ---- accounts and profile ---------------------------------------------------------------------
    async def get_accounts(self) -> Any:
        if not self.store.accounts:
            raise MurekaError(404, "Configuration not found. To create configuration use POST /accounts.")
        return {a: acc.as_json(self.error_of(acc)) for a, acc in self.store.accounts.items()}

    async def get_account(self, account: str) -> Any:
        acc = self.account(account)
        return acc.as_json(self.error_of(acc))

    async def post_accounts(self, request: Request) -> Any:
        body = await self.read_body(request)
        if body.get("email") and body.get("password"):
            mode, email = "email", str(body["email"])
        elif isinstance(body.get("token"), str) and body["token"].strip():
            mode, email = "token", "token-user@example.com"
        elif body.get("sessionCookie"):
            mode, email = "cookie", "google-user@example.com"
        else:
            raise MurekaError(400, "Send email and password, or token (and refresh_token)")
        found = next((a for a in self.store.accounts.values() if a.email == email), None)
        acc = found or Account(str(98765432109876 + len(self.store.accounts)), float(self.setting("gold", 500)),
                               email=email, updated=self.state.now())
        acc.error, acc.auth_mode = None, mode
        self.store.accounts[acc.account] = acc
        return JSONResponse({acc.account: acc.as_json()}, status_code=200 if found else 201)

    async def delete_account(self, account: str) -> Response:
        self.account(account)
        del self.store.accounts[account]
        return Response(status_code=204)

    async def get_profile(self, account: str | None = None) -> Any:
        acc = self.healthy(self.account(account))
        return {"user": {"id": acc.account, "user_id": int(acc.account), "stage_name": "useapi.net", "is_vip": True,
                         "vip_level": 2, "vip_name": f"Monthly {acc.plan.title()}"},
                "country_code": "US", "credits": int(acc.gold), "credits_silver": 0,
                "feed_list_count": len({s.feed_id for s in self.store.songs.values() if s.account == acc.account}),
                "free_download_mp3_models": ["V8"], "models": {"official_models": list(mk.MODELS)}}

    # ---- generation -------------------------------------------------------------------------------
    async def post_create(self, request: Request, kind: str) -> Any:
        raw = await self.read_body(request)
        fields = {k: raw.get(k) for k in _CREATE_FIELDS}
        body = checked(mk.build_create_body, kind, **fields, account=raw.get("account"), **_dispatch(raw))
        if body.get("async") is None:
            body["async"] = False  # the documented default: hold the answer
        acc = self.healthy(self.account(body.get("account")))
        self.slot(acc)
        self.charge(acc, 2 * self.song_gold(body.get("model")))
        title = body.get("title") or " ".join(str(body.get("prompt") or "Untitled").split()[:3]).title()
        return await self.start(request, acc, body, f"music/{mk.CREATE_PATHS[kind].rpartition('/')[2]}",
                                [(title, "1"), (title, "2")], body.get("lyrics"))

    async def start(self, request: Request, acc: Account, body: dict[str, Any], verb: str,
                    takes: list[tuple[str, str]], lyrics: Any, freq: float | None = None) -> Any:
        """Record a job; ``async`` answers 201 at once, otherwise the answer is held until it is done."""
        now, delay = self.state.now(), self.state.job_delay("mureka")
        self.store.create_bodies.append(dict(body))
        job = self.store.new_job(acc.account, verb, now, delay=delay, request=dict(body),
                                 outcome=str(self.setting("job_outcome", "completed")))
        for title, version in takes:
            song = self.store.new_song(acc.account, now, title=title, version=version, feed_id=job.feed_id,
                                       lyrics=lyrics, freq=freq)
            song.job = job
            job.songs.append(song.song_id)
        return await self.answer(request, job)

    async def answer(self, request: Request, job: Job) -> Any:
        if job.request.get("replyUrl"):
            self.callback(job.jobid)
            asyncio.get_running_loop().call_later(job.delay, self.callback, job.jobid)
        if job.request.get("async") is True:
            return JSONResponse(self.job_json(job, self.cdn_for(request)), status_code=201)
        while job.status(self.state.now()) == "created":  # hold the answer like the real API
            await asyncio.sleep(max(0.01, job.created + job.delay - self.state.now()))
        record = self.job_json(job, self.cdn_for(request))
        if job.status(self.state.now()) == "failed":
            raise MurekaError(500, str(record.get("error")))
        return JSONResponse({"jobid": job.jobid, **record.get("response", {})}, status_code=200)

    async def post_create_plain(self, request: Request) -> Any:
        return await self.post_create(request, "create")

    async def post_create_advanced(self, request: Request) -> Any:
        return await self.post_create(request, "advanced")

    async def post_create_instrumental(self, request: Request) -> Any:
        return await self.post_create(request, "instrumental")

    async def post_edit(self, request: Request, operation: str) -> Any:
        raw = await self.read_body(request)
        params = {name: raw.get(key) for key, name in _EDIT_FIELDS.items()}
        if operation == "edit" and params.get("model") not in (None, ""):
            raise MurekaError(400, "Parameter model not supported")
        body = checked(mk.build_edit_body, operation, raw.get("song_id"), **params,
                       **{k: v for k, v in _dispatch(raw).items() if k != "model"})
        source = self.shown_song(body["song_id"])
        acc = self.healthy(self.account(source.account))
        if operation in ("edit", "regenerate"):
            self.paid_plan(acc)
        self.slot(acc)
        self.charge(acc, float(self.setting("edit_gold", 20)) if operation == "edit"
                    else 2 * self.song_gold(body.get("model")))
        if body.get("async") is None:
            body["async"] = False
        takes = [(body.get("title") or source.title, f"{source.version}.1")] if operation == "edit" else [
            (body.get("title") or f"{source.title} ({operation})", f"{source.version}...{n}") for n in (1, 2)]
        return await self.start(request, acc, body, f"music/{operation}", takes, body.get("lyrics") or source.lyrics,
                                freq=source.freq * (1.5 if operation == "remix" else 1.0))

    async def post_extend(self, request: Request) -> Any:
        return await self.post_edit(request, "extend")

    async def post_regenerate(self, request: Request) -> Any:
        return await self.post_edit(request, "regenerate")

    async def post_music_edit(self, request: Request) -> Any:
        return await self.post_edit(request, "edit")

    async def post_remix(self, request: Request) -> Any:
        return await self.post_edit(request, "remix")

    # ---- stems, downloads, lyrics -------------------------------------------------------------------
    async def post_stems(self, request: Request) -> Any:
        raw = await self.read_body(request)
        body = checked(mk.build_stems_body, raw.get("song_id"), all_stems=raw.get("all_stems", True),
                       **{k: v for k, v in _dispatch(raw).items() if k != "model"})
        source = self.shown_song(body["song_id"])
        acc = self.healthy(self.account(source.account))
        self.paid_plan(acc, premier=True)
        everything = body.get("all_stems") is not False
        self.charge(acc, float(self.setting("stems_gold", 100 if everything else 20)))
        if body.get("async") is None:
            body["async"] = False
        self.store.create_bodies.append(dict(body))
        job = self.store.new_job(acc.account, "music/stems", self.state.now(), delay=self.state.job_delay("mureka"),
                                 request=dict(body), outcome=str(self.setting("job_outcome", "completed")))
        stems = self.store.new_stems(source, STEMS_ALL if everything else STEMS_TWO)
        stems.job, job.stems_id = job, stems.stems_id
        return await self.answer(request, job)

    async def post_stems_download(self, request: Request) -> Any:
        raw = await self.read_body(request)
        body = checked(mk.build_stems_download_body, raw.get("stems_id"), stem_name=raw.get("stem_name"),
                       daw=raw.get("daw"))
        stems = self.store.stems.get(body["stems_id"])
        if stems is None:
            raise MurekaError(404, f"Stems {body['stems_id']} not found")
        if stems.job is not None and stems.job.status(self.state.now()) != "completed":
            raise MurekaError(409, "Stems extraction is not completed yet")
        base = f"{self.cdn_for(request)}/stem/{stems.stems_id.rpartition(':')[2]}"
        if body.get("stem_name"):
            if body["stem_name"] not in stems.names:
                raise MurekaError(400, f"Unknown stem_name {body['stem_name']}")
            return {"wav": f"{base}/{body['stem_name']}.wav", "midi": None}
        if body.get("daw"):
            return {"url": f"{base}/audio.zip"}
        return {"audio_zip": f"{base}/audio.zip?sig=emulator", "midi_zip": f"{base}/midi.zip?sig=emulator"}

    async def post_download(self, request: Request) -> Any:
        raw = await self.read_body(request)
        body = checked(mk.build_download_body, raw.get("song_id"), raw.get("type"))
        song = self.shown_song(body["song_id"])
        acc = self.healthy(self.account(song.account))
        if body["type"] == "stem":
            self.paid_plan(acc, premier=True)
            stems = self.store.new_stems(song, ("vocal", "drums", "bass", "other"))
            return {"oss_key": f"{self.cdn_for(request)}/stem/{stems.stems_id.rpartition(':')[2]}/audio.zip",
                    "paid_state": 1}
        return {"oss_key": f"{self.cdn_for(request)}/{song.number}.png", "paid_state": 1}

    async def post_lyrics(self, request: Request) -> Any:
        raw = await self.read_body(request)
        body = checked(mk.build_lyrics_body, raw.get("prompt"), account=raw.get("account"))
        acc = self.healthy(self.account(body.get("account")))
        now, last = self.state.now(), self.store.last_lyrics.get(acc.account)
        if last is not None and now - last < float(self.setting("lyrics_interval", 1.0)):
            raise MurekaError(429, "Too frequently", body={"code": 9008, "msg": "Too frequently, please try again later."})
        self.store.last_lyrics[acc.account] = now
        words = str(body.get("prompt") or "a random song about the sea").split()
        return {"lyrics": f"[Verse]\n{' '.join(words[:8])}\n[Chorus]\n{' '.join(words[-6:])}"}

    # ---- uploads ------------------------------------------------------------------------------------
    async def post_upload(self, request: Request, kind: str) -> Any:
        query = dict(request.query_params)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "audio/mpeg":
            raise MurekaError(400, f"Content-Type {ctype or 'none'} not supported: only audio/mpeg supported")
        _, params = checked(mk.upload_params, kind, title=query.get("title"), genre=query.get("genre"),
                            mood=query.get("mood"), url=query.get("url"), account=query.get("account"))
        acc = self.healthy(self.account(params.get("account")))
        spooled = await self.state.spool_request_body(request)
        with open(spooled.path, "rb") as fh:
            head = fh.read(4)
        if not head.startswith(_MP3_MAGIC):
            raise MurekaError(400, "File content is not an MP3")
        number = next(self.store.counter)
        ident = f"user:777-mureka:{acc.account}-file:{number}" if kind == "motif" else str(1122334455 + number)
        self.store.uploads[ident] = Upload(ident, acc.account, kind, params.get("title"), spooled.size)
        out: dict[str, Any] = {"id": int(ident) if kind != "motif" else ident,
                               "url": f"{self.cdn_for(request)}/{number}.mp3", "duration_milliseconds": 30000}
        return out | {k: params[k] for k in ("title", "genre", "mood") if k in params}

    async def post_files(self, request: Request) -> Any:
        return await self.post_upload(request, "reference")

    async def post_motif(self, request: Request) -> Any:
        return await self.post_upload(request, "motif")

    async def post_vocal(self, request: Request) -> Any:
        return await self.post_upload(request, "vocal")

    async def get_files(self, request: Request, account: str | None = None, last_id: str | None = None) -> Any:
        acc = self.healthy(self.account(account))
        cdn = self.cdn_for(request)
        items = [{"id": int(u.id), "url": f"{cdn}/{int(u.id) - 1122334455}.mp3", "duration_milliseconds": 30000,
                  "title": u.title, "username": "useapi.net"}
                 for u in self.store.uploads.values() if u.account == acc.account and u.kind == "reference"]
        return {"list": items, "last_id": items[-1]["id"] if items else None, "more": False}

    async def delete_files(self, id: str | None = None, account: str | None = None) -> Any:
        self.healthy(self.account(account))
        if not id or self.store.uploads.pop(str(id), None) is None:
            raise MurekaError(404, f"File {id} not found")
        return {}

    async def get_refs(self, request: Request, account: str | None = None, mood: str | None = None,
                       genre: str | None = None, last_id: str | None = None) -> Any:
        self.healthy(self.account(account))
        return {"list": [{"id": 1122334455, "url": f"{self.cdn_for(request)}/0.mp3", "duration_milliseconds": 30000,
                          "mood": mood or "relaxed", "title": "Library ref", "genre": genre or "pop"}],
                "last_id": 1122334455, "more": False}

    async def get_vocals(self, account: str | None = None, mine: str | None = None, last_id: str | None = None) -> Any:
        self.healthy(self.account(account))
        mine_only = str(mine).lower() == "true"
        items = [{"id": int(u.id), "title": u.title, "gender": 2} for u in self.store.uploads.values()
                 if u.kind == "vocal"]
        library = [] if mine_only else [{"id": 47235584950273, "title": "James", "gender": 2}]
        return {"list": items + library, "last_id": None, "more": False}

    async def get_moods_and_genres(self, account: str | None = None) -> Any:
        self.healthy(self.account(account))
        return {"genres": [{"tag": t} for t in ("pop", "electronic", "jazz", "rock")],
                "moods": [{"tag": t} for t in ("relaxed", "happy", "quirky")],
                "vocals": [{"tag": "female vocal"}, {"tag": "male vocal"}]}

    # ---- jobs and songs -----------------------------------------------------------------------------
    async def get_jobs(self, account: str | None = None) -> Any:
        """GET jobs: running jobs of every account (``account`` accepted and ignored, as Postman sends it)."""
        self.apply_job_seconds()
        now = self.state.now()
        accounts: dict[str, dict[str, Any]] = {}
        for ident in self.store.accounts:
            jobs = self.store.running(ident, now)
            if jobs:
                accounts[ident] = {"total": len(jobs), "music": len(jobs), "tts": 0, "jobs": [
                    {"jobid": j.jobid, "verb": j.verb, "elapsed": f"00:{int(now - j.created):02d}"} for j in jobs]}
        total = sum(len(self.store.running(a, now)) for a in accounts)
        return {"total": total, "music": total, "tts": 0, "accounts": accounts,
                "availableAccounts": [a for a, acc in self.store.accounts.items() if not self.error_of(acc)]}

    async def get_job(self, request: Request, jobid: str) -> Any:
        return self.job_json(self.find_job(jobid), self.cdn_for(request))

    async def get_music(self, request: Request, account: str | None = None, last_id: str | None = None) -> Any:
        acc = self.healthy(self.account(account))
        now, cdn = self.state.now(), self.cdn_for(request)
        feeds: dict[int, list[Any]] = {}
        for song in sorted(self.store.songs.values(), key=lambda s: -s.number):
            if song.account == acc.account and song.visible(now) and (not last_id or song.feed_id < int(last_id)):
                feeds.setdefault(song.feed_id, []).append(song)
        page = list(feeds.items())[:30]
        return {"list": [{"feed_id": f, "state": 3, "songs": [s.as_json(cdn) for s in sorted(songs, key=lambda s: s.number)]}
                         for f, songs in page],
                "last_id": page[-1][0] if page else None, "more": len(feeds) > len(page)}

    async def get_song(self, request: Request, song_id: str) -> Any:
        song = self.shown_song(song_id)
        return {"song": {**song.as_json(self.cdn_for(request)), "lyrics": []},
                "user": {"id": song.account, "user_id": int(song.account), "stage_name": "useapi.net"},
                "feed_id": song.feed_id}

    async def delete_song(self, song_id: str) -> Any:
        self.shown_song(song_id).deleted = True
        return {}

    # ---- callbacks and CDN ----------------------------------------------------------------------------
    def callback(self, jobid: str) -> None:
        """POST the job record to ``replyUrl`` once per status (``created``, then the final one)."""
        job = self.store.jobs.get(jobid)
        if job is None:
            return
        status = job.status(self.state.now())
        if status == "created" and job.sent:  # the final callback fired a hair early: try again
            asyncio.get_running_loop().call_later(0.02, self.callback, jobid)
            return
        if status in job.sent:
            return
        job.sent.add(status)
        send_callback(str(job.request["replyUrl"]), self.job_json(job), state=self.state, api="mureka")

    async def get_cdn(self, name: str) -> Response:
        number, _, ext = name.rpartition(".")
        ident = self.store.by_number.get(int(number)) if number.isdigit() else None
        if ext == "png" and ident:
            return Response(b"\x89PNG\r\n\x1a\n" + bytes(32), media_type="image/png")
        if ext == "mp3" and bool(ident or (number.isdigit() and any(
                u.endswith(f":{number}") or u == str(1122334455 + int(number)) for u in self.store.uploads))):
            return Response(silent_mp3(), media_type="audio/mpeg")
        return Response(status_code=404)

    async def get_stem_file(self, key: str, name: str) -> Response:
        stems = next((s for i, s in self.store.stems.items() if i.rpartition(":")[2] == key), None)
        if stems is None:
            return Response(status_code=404)
        if name in ("audio.zip", "midi.zip"):
            return Response(self.store.stems_zip(stems, midi=name == "midi.zip"), media_type="application/zip")
        stem = name.removesuffix(".wav")
        if stem in stems.names:
            return Response(self.store.audio(220.0 * (1 + stems.names.index(stem) / 4)), media_type="audio/wav")
        return Response(status_code=404)


async def _error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MurekaError)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


ROUTES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("GET", "/accounts", MurekaApi.get_accounts), ("POST", "/accounts", MurekaApi.post_accounts),
    ("GET", "/accounts/{account}", MurekaApi.get_account), ("DELETE", "/accounts/{account}", MurekaApi.delete_account),
    ("GET", "/profile", MurekaApi.get_profile),
    ("POST", "/music/create", MurekaApi.post_create_plain),
    ("POST", "/music/create-advanced", MurekaApi.post_create_advanced),
    ("POST", "/music/create-instrumental", MurekaApi.post_create_instrumental),
    ("POST", "/music/extend", MurekaApi.post_extend), ("POST", "/music/regenerate", MurekaApi.post_regenerate),
    ("POST", "/music/edit", MurekaApi.post_music_edit), ("POST", "/music/remix", MurekaApi.post_remix),
    ("POST", "/music/stems", MurekaApi.post_stems), ("POST", "/music/stems-download", MurekaApi.post_stems_download),
    ("POST", "/music/download", MurekaApi.post_download), ("POST", "/music/lyrics-generate", MurekaApi.post_lyrics),
    ("POST", "/files", MurekaApi.post_files), ("POST", "/files/motif", MurekaApi.post_motif),
    ("POST", "/files/vocal", MurekaApi.post_vocal), ("GET", "/files", MurekaApi.get_files),
    ("DELETE", "/files", MurekaApi.delete_files), ("GET", "/music/refs", MurekaApi.get_refs),
    ("GET", "/music/vocals", MurekaApi.get_vocals), ("GET", "/music/moods-and-genres", MurekaApi.get_moods_and_genres),
    ("GET", "/jobs", MurekaApi.get_jobs), ("GET", "/jobs/{jobid}", MurekaApi.get_job),
    ("GET", "/music", MurekaApi.get_music), ("GET", "/music/{song_id}", MurekaApi.get_song),
    ("DELETE", "/music/{song_id}", MurekaApi.delete_song),
)  # fmt: skip


def register(app: Any, state: Any) -> None:
    """Add the Mureka routes (and its public CDN) to the emulator app."""
    api = MurekaApi(state)
    state.apis["mureka"] = api
    state.on_reset(api.reset)
    auth = require_credential(BEARER, deny=lambda: MurekaError(401, "Unauthorized"))
    router = APIRouter(dependencies=[Depends(auth)])
    for method, path, func in ROUTES:
        handler = func.__get__(api)  # bound: FastAPI sees the route's own parameters only
        router.add_api_route(path, handler, methods=[method])
        router.add_api_route(path + "/", handler, methods=[method], include_in_schema=False)
    app.include_router(router, prefix=PREFIX)
    app.add_api_route(CDN_PREFIX + "/stem/{key}/{name}", api.get_stem_file, methods=["GET"])
    app.add_api_route(CDN_PREFIX + "/{name}", api.get_cdn, methods=["GET"])
    app.add_exception_handler(MurekaError, _error_response)
