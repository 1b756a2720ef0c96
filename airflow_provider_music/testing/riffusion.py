"""Emulator of the Riffusion API of useapi.net (``/v1/riffusion/``): the whole API as one class.

Built from the vendor docs (``seeds/riffusion-*.txt``) and the contract digest; requests are checked with the
pure code the hook uses (:mod:`airflow_provider_music.contract.riffusion`). Settings (``state.settings`` or
``PATCH /_emulator/settings``), all optional:

* ``riffusion.revision``: ``"2025-02-25"`` (default: ``{"jobs": [...]}`` from create, the full upload shapes),
  ``"2025-02-17"`` (``{"job_id", "user_id"}`` from create, ``{"job_id"}`` from upload-audio, the short upload
  status) or ``"mixed"``: upload-audio answers the Feb 17 ``{"job_id"}`` and GET upload-audio the full Feb 25
  status model for that id (both seeds at once, as the service behaved during the transition).
* ``riffusion.job_seconds``: seconds a song / upload stays ``processing`` / ``pending`` (or the global delay).
* ``riffusion.song_outcome``: ``"completed"`` (default) or ``"failed"``.
* ``riffusion.processing_status`` / ``riffusion.upload_pending_status``: the status GET music / GET
  upload-audio show while a song processes / an upload is pending (default ``processing`` / ``pending``);
  e.g. ``"mastering"`` plays a state added to the service later, which clients must not take as an end.
* ``riffusion.upload_outcome``: ``"complete"`` (default), ``"failed"``, ``"pending"`` (never completes) or any
  other text (e.g. ``"rejected"``) sent as the status.
* ``riffusion.audible_magic``: ``"no_match"`` (default) or ``"match"``; ``riffusion.upload_flagged``: bool.
* ``riffusion.moderation_terms``: prompt/lyrics words answered with the moderation error (``["forbidden"]``).
* ``riffusion.pending_error``: true -> every account answers 596 (or ``store.mark_broken(user_id)``).
* ``riffusion.max_jobs``: ``maxJobs`` of the default account (default 6). ``store.add_account()`` adds more.
* ``riffusion.lose_create_answers``: N -> the next N creates are processed but answered 502 (ambiguous).
* ``riffusion.download_signature``: a secret added to every ``download_url`` as a signed query string.
* ``riffusion.cdn_base_url``: origin of ``download_url`` / stem URLs (default: the emulator on its other
  loopback name, so it is a different origin, like api.riffusion.com in production).

Accounts, as documented: with several accounts ``user_id`` is required on GET/DELETE music, uploads and
downloads, and optional on create-prompt/create-compose/generate-*: without it an account with free capacity
is chosen (429 only when every account is full). ``replyUrl`` gets one POST per song when it completes or
fails - the song as GET music shows it plus ``job_id`` and ``replyRef`` - to loopback addresses only, through
the frame's sender (:mod:`airflow_provider_music.testing.callbacks`; ``store.callbacks`` holds the deliveries). Songs are computed from their creation time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.contract import riffusion as rc
from airflow_provider_music.contract.riffusion_requests import build_compose_body, build_prompt_body
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.testing.apis import BEARER
from airflow_provider_music.testing.callbacks import send_callback
from airflow_provider_music.testing.emulator import require_credential
from airflow_provider_music.testing.riffusion_store import (
    DEFAULT_USER_ID,
    STEMS,
    Account,
    RiffusionError,
    RiffusionStore,
    Song,
    Upload,
    account_json,
    iso,
    song_json,
    upload_post_json,
    upload_status_json,
)

LATER = "2025-02-25"
LEGACY = "2025-02-17"
MIXED = "mixed"
PREFIX = "/v1/riffusion"
CDN_PREFIX = "/_cdn/riffusion"
CONFIG_MISSING = "Configuration not found. To create configuration use POST accounts."
COMPOSE_KEYS = ("prompts", "lyrics", "title", "lyrics_strength", "lyrics_weirdness", "audio_upload_id", "image_id")


class RiffusionApi:
    """The Riffusion API of useapi.net: one method per route; state in :class:`RiffusionStore`."""

    def __init__(self, state: Any, store: RiffusionStore | None = None) -> None:
        self.state, self.store = state, store or RiffusionStore()
        self.reset()

    def reset(self) -> None:
        """Back to one default account and no songs (the frame calls this on ``POST /_emulator/reset``)."""
        self.store.reset(int(self.setting("max_jobs", 6)))

    def setting(self, name: str, default: Any = None) -> Any:
        return self.state.setting(f"riffusion.{name}", default)

    # ---- shared checks --------------------------------------------------------------------------
    def account(self, user_id: str | None) -> str:
        """The account of a GET/DELETE/upload call: ``user_id`` is required when several are configured."""
        if user_id:
            if user_id not in self.store.accounts:
                raise RiffusionError(400, f"Unable to find configuration for user_id {user_id}. Use POST accounts.")
            uid = user_id
        elif not self.store.accounts:
            raise RiffusionError(404, CONFIG_MISSING)
        elif len(self.store.accounts) > 1:
            raise RiffusionError(400, "Parameter user_id is required when multiple accounts configured")
        else:
            uid = next(iter(self.store.accounts))
        return self.usable(uid)

    def usable(self, uid: str) -> str:
        if uid in self.store.broken or self.setting("pending_error"):
            raise RiffusionError(596, rc.PENDING_ERROR_MESSAGE, body={"error": rc.PENDING_ERROR_MESSAGE})
        return uid

    def account_with_capacity(self, user_id: str | None, max_jobs: int | None) -> str:
        """The account of a create: the given one, else a random account with free capacity (429 if none)."""
        if user_id:
            uid = self.account(user_id)
            if self.free_slots(self.store.accounts[uid], max_jobs) > 0:
                return uid
            candidates = []
        else:
            if not self.store.accounts:
                raise RiffusionError(404, CONFIG_MISSING)
            candidates = [a.user_id for a in self.store.accounts.values() if self.free_slots(a, max_jobs) > 0]
            if candidates:
                return self.usable(self.state.rng.choice(candidates))
        raise RiffusionError(429, "All configured accounts are busy (executing jobs >= maxJobs). Wait in a loop for "
                                  "at least 10..30 seconds and retry again.")

    def free_slots(self, acc: Account, max_jobs: int | None) -> int:
        running = {s.generation_id for s in self.executing(acc.user_id)}
        return (max_jobs or acc.max_jobs) - len(running)

    def revision(self) -> str:
        return str(self.setting("revision", LATER))

    def delay(self) -> float:
        return float(self.state.job_delay("riffusion"))

    def cdn(self, request: Request) -> str:
        explicit = self.setting("cdn_base_url")
        if explicit:
            return str(explicit).rstrip("/") + CDN_PREFIX
        base = (self.state.base_url or str(request.base_url)).rstrip("/")
        if "127.0.0.1" in base:
            base = base.replace("127.0.0.1", "localhost")
        elif "localhost" in base:
            base = base.replace("localhost", "127.0.0.1")
        return base + CDN_PREFIX

    def song_state(self, song: Song) -> str:
        return "processing" if self.state.now() - song.created < self.delay() else song.outcome

    def executing(self, user_id: str | None = None) -> list[Song]:
        """Songs still processing and tracked (oldest first): only songs made within ``job_seconds`` are read."""
        delay, now = self.delay(), self.state.now()
        return [s for s in self.store.made_since(now - delay - 1.0) if not s.untracked and now - s.created < delay
                and (user_id is None or s.user_id == user_id)]

    @staticmethod
    async def read_body(request: Request) -> dict[str, Any]:
        """A create body: JSON, or form fields (the docs allow ``multipart/form-data``)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return {key: value for key, value in (await request.form()).multi_items() if isinstance(value, str)}
        payload: Any = None
        with contextlib.suppress(ValueError):
            payload = json.loads((await request.body()).strip() or b"{}")
        if isinstance(payload, dict):
            return payload
        raise RiffusionError(400, "Request body must be a JSON object")

    def moderated(self, *texts: Any) -> bool:
        terms = self.setting("moderation_terms", ["forbidden"]) or []
        blob = " ".join(str(t) for t in texts if t).lower()
        return any(str(term).lower() in blob for term in terms)

    # ---- accounts -------------------------------------------------------------------------------
    def get_accounts(self) -> Any:
        if not self.store.accounts:
            raise RiffusionError(404, CONFIG_MISSING)
        now = self.state.now()
        return {uid: account_json(acc, now, uid in self.store.broken) for uid, acc in self.store.accounts.items()}

    def get_account(self, user_id: str) -> Any:
        acc = self.store.accounts.get(user_id)
        if acc is None:
            raise RiffusionError(404, CONFIG_MISSING)
        return account_json(acc, self.state.now(), user_id in self.store.broken)

    async def post_accounts(self, request: Request) -> Any:
        body = await self.read_body(request)
        cookie = body.get("cookie")
        if not isinstance(cookie, str) or not cookie.strip():
            raise RiffusionError(400, "Parameter cookie is required")
        if body.get("maxJobs") is None:
            raise RiffusionError(400, "Parameter maxJobs is required")
        max_jobs = _checked(rc.check_max_jobs, body.get("maxJobs")) or 1
        digest = hashlib.sha256(cookie.encode()).hexdigest()
        existing = next((a for a in self.store.accounts.values() if a.cookie_hash == digest), None)
        if existing:
            uid = existing.user_id
        elif DEFAULT_USER_ID in self.store.broken or not self.store.accounts:
            uid = DEFAULT_USER_ID  # a fresh cookie for the default (broken or deleted) account
        else:
            uid = str(uuid.uuid5(uuid.NAMESPACE_OID, digest))
        acc = Account(uid, max_jobs, digest)
        self.store.accounts[uid] = acc
        if not existing:
            self.store.broken.discard(uid)  # a fresh cookie fixes the pending error; the same cookie twice does not
        return JSONResponse(account_json(acc, self.state.now(), uid in self.store.broken), status_code=201)

    def delete_account(self, user_id: str) -> Any:
        if self.store.accounts.pop(user_id, None) is None:
            raise RiffusionError(404, CONFIG_MISSING)
        return Response(status_code=204)

    # ---- music ----------------------------------------------------------------------------------
    def get_music(self, request: Request, user_id: str | None = None, offset: str = "0", limit: str = "10",
                  id: str | None = None) -> Any:
        uid = self.account(user_id)
        try:
            off, lim = int(offset), int(limit)
        except ValueError:
            raise RiffusionError(400, "offset and limit must be integers") from None
        if off < 0 or lim < 1:
            raise RiffusionError(400, "offset must be >= 0 and limit >= 1")
        cdn, sign = self.cdn(request), self.signature()
        if id is not None:
            return [song_json(s, self.shown_state(s), cdn, sign) for s in self.store.songs_for(id) if s.user_id == uid]
        songs = [s for s in self.store.songs.values() if s.user_id == uid]
        songs.sort(key=lambda s: s.created, reverse=True)
        return [song_json(s, self.shown_state(s), cdn, sign) for s in songs[off: off + lim]]

    def shown_state(self, song: Song) -> str:
        """The status GET music shows (``riffusion.processing_status`` while the song processes)."""
        state = self.song_state(song)
        return str(self.setting("processing_status", state)) if state == "processing" else state

    def signature(self) -> str:
        """``riffusion.download_signature``: a secret put in every ``download_url``'s query (signed links)."""
        secret = self.setting("download_signature")
        return f"?X-Amz-Expires=3600&X-Amz-Signature={secret}" if secret else ""

    def delete_music(self, user_id: str | None = None, id: str | None = None) -> Any:
        uid = self.account(user_id)
        if not id:
            raise RiffusionError(400, "Parameter id is required")
        song = self.store.songs.get(id)
        if song is None or song.user_id != uid:
            raise RiffusionError(404, f"Unable to locate music id {id}")
        del self.store.songs[id]
        return Response(status_code=200)

    async def create_prompt(self, request: Request) -> Any:
        return await self.create(request, "prompt")

    async def create_compose(self, request: Request) -> Any:
        return await self.create(request, "compose")

    def check_create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """The body checked with the hook's own rules (the emulator's 400s name the same limits)."""
        common = {"model": body.get("model"), "reply_url": body.get("replyUrl"), "reply_ref": body.get("replyRef"),
                  "max_jobs": body.get("maxJobs") if body.get("maxJobs") != "" else None}
        if kind == "prompt":
            return _checked(build_prompt_body, body.get("prompt"), instrumental=_bool(body.get("instrumental")), **common)
        specs = []
        for n in (1, 2, 3):
            spec = {key: body.get(f"prompt_{n}_{key}") for key in rc.PROMPT_INT_RANGES}
            spec = {key: value for key, value in spec.items() if value not in (None, "")}
            if body.get(f"prompt_{n}") is not None or n == 1:
                specs.append({"prompt": body.get(f"prompt_{n}"), **spec})
        extra = {k: body.get(k) for k in COMPOSE_KEYS[1:] if body.get(k) not in (None, "")}
        return _checked(build_compose_body, specs, **extra, **common)

    async def create(self, request: Request, kind: str) -> Any:
        raw = await self.read_body(request)
        body = {**self.check_create(kind, raw), **({"user_id": raw["user_id"]} if raw.get("user_id") else {})}
        if body.get("audio_upload_id") and not any(
                u.audio_upload_id == body["audio_upload_id"] for u in self.store.uploads.values()):
            raise RiffusionError(400, f"Unable to locate audio_upload_id {body['audio_upload_id']}")
        texts = [body.get(k) for k in ("prompt", "prompt_1", "prompt_2", "prompt_3", "lyrics", "title")]
        if self.moderated(*texts):
            raise RiffusionError(422, "moderation", body={"is_flagged": True, "reason": "moderation",
                                                          "musician_replacement_data": None})
        uid = self.account_with_capacity(body.get("user_id"), body.get("maxJobs"))
        self.store.create_bodies.append(dict(raw))
        songs = self.new_songs(uid, body, str(body.get("prompt") or body.get("prompt_1")))
        if body.get("replyUrl"):
            asyncio.get_running_loop().call_later(self.delay() + 0.05, self.fire_callbacks, songs[0].generation_id)
        lose = int(self.setting("lose_create_answers", 0) or 0)
        if lose > 0:  # the job exists, but the client gets a gateway error (ambiguous failure)
            self.state.settings["riffusion.lose_create_answers"] = lose - 1
            return Response("<html><body>502 Bad Gateway</body></html>", status_code=502, media_type="text/html")
        if self.revision() == LEGACY:
            return {"job_id": songs[0].generation_id, "user_id": uid}
        return {"jobs": [{"id": s.id} for s in songs]}

    def new_songs(self, uid: str, body: dict[str, Any], sound: str) -> list[Song]:
        generation, now = str(uuid.uuid4()), self.state.now()
        title = str(body.get("title") or " ".join(sound.split()[:3]).title() or "Untitled")
        lyrics = str(body.get("lyrics") or ("[Instrumental]" if body.get("instrumental") else "la la la"))
        songs = []
        for n in range(2):
            song = Song(
                id=str(uuid.uuid4()), generation_id=generation, user_id=uid, created=now,
                title=title if n == 0 else f"{title} (Take 2)", sound=sound, lyrics=lyrics,
                outcome=str(self.setting("song_outcome", "completed")), reply_url=body.get("replyUrl"),
                reply_ref=body.get("replyRef"), audio_upload_id=body.get("audio_upload_id"),
                image_id=body.get("image_id"),
            )
            song.job_id = generation if self.revision() == LEGACY else song.id
            self.store.add_song(song)
            songs.append(song)
        return songs

    async def generate_lyrics(self, request: Request) -> Any:
        body = await self.read_body(request)
        self.account_with_capacity(body.get("user_id") or None, 10**6)
        prompt = _checked(rc.check_prompt, "prompt", body.get("prompt"))
        base = str(body.get("lyrics") or "")
        return {"lyrics": f"[Verse]\n{prompt.strip()} in the night\n{base}\n[Chorus]\nSing it loud".strip()}

    # ---- images ---------------------------------------------------------------------------------
    async def upload_image(self, request: Request, user_id: str | None = None) -> Any:
        uid = self.account(user_id)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in rc.IMAGE_CONTENT_TYPES.values():
            raise RiffusionError(400, f"Content-Type must be one of {', '.join(sorted(set(rc.IMAGE_CONTENT_TYPES.values())))}")
        spooled = await self.state.spool_request_body(request)
        if spooled.size == 0:
            raise RiffusionError(400, "Request body is empty")
        image_id = str(uuid.uuid4())
        self.store.images[image_id] = spooled.path
        key = f"riffs/{uid}/image/{image_id}.jpg"
        return {"Key": key, "Id": str(uuid.uuid4()), "image_id": image_id,
                "url": f"https://api.riffusion.com/storage/v1/object/public/{key}"}

    async def generate_image(self, request: Request) -> Any:
        body = await self.read_body(request)
        uid = self.account_with_capacity(body.get("user_id") or None, 10**6)
        prompt = _checked(rc.check_prompt, "prompt", body.get("prompt"))
        if self.moderated(prompt):
            raise RiffusionError(422, "moderation", body={"is_flagged": True, "reason": "moderation"})
        image_id = str(uuid.uuid4())
        self.store.images[image_id] = ""
        return {"image_id": image_id,
                "url": f"https://api.riffusion.com/storage/v1/object/public/riffs/{uid}/image/{image_id}.jpg"}

    # ---- audio uploads --------------------------------------------------------------------------
    async def upload_audio(self, request: Request, user_id: str | None = None, file_name: str | None = None) -> Any:
        uid = self.account(user_id)
        if not file_name:
            raise RiffusionError(400, "Parameter file_name is required")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in rc.ALLOWED_AUDIO_CONTENT_TYPES:
            raise RiffusionError(400, f"Content-Type must be one of {', '.join(rc.ALLOWED_AUDIO_CONTENT_TYPES)}")
        spooled = await self.state.spool_request_body(request)
        if spooled.size == 0:
            raise RiffusionError(400, "Request body is empty")
        matched = self.setting("audible_magic", "no_match") == "match"
        revision = self.revision()
        upload = Upload(
            audio_upload_id=str(uuid.uuid4()), transcription_job_id=str(uuid.uuid4()), user_id=uid,
            created=self.state.now(), name=file_name, content_type=ctype, size=spooled.size,
            outcome=str(self.setting("upload_outcome", "complete")), matched=matched,
            flagged=bool(self.setting("upload_flagged", matched)),
            post_shape=LATER if revision == LATER else LEGACY, get_shape=LEGACY if revision == LEGACY else LATER,
        )
        self.store.uploads[upload.audio_upload_id] = upload
        return upload_post_json(upload)

    def get_upload_audio(self, user_id: str | None = None, id: str | None = None) -> Any:
        uid = self.account(user_id)
        if not id:
            raise RiffusionError(400, "Parameter id is required")
        upload = self.store.uploads.get(id.split(":", 1)[0])
        if upload is None or upload.user_id != uid:
            raise RiffusionError(400, f"Unable to locate uploaded audio id {id}")
        pending = upload.outcome == "pending" or self.state.now() - upload.created < self.delay()
        return upload_status_json(upload, str(self.setting("upload_pending_status", "pending")) if pending else upload.outcome)

    # ---- downloads ------------------------------------------------------------------------------
    def download(self, request: Request, user_id: str | None = None, id: str | None = None,
                 download_format: str | None = None) -> Any:
        uid = self.account(user_id)
        if not id:
            raise RiffusionError(400, "Parameter id is required")
        if download_format not in rc.DOWNLOAD_FORMATS:
            raise RiffusionError(400, f"Parameter download_format must be one of {', '.join(rc.DOWNLOAD_FORMATS)}")
        song = self.store.find_song(id)
        if song is None or song.user_id != uid:
            raise RiffusionError(400, f"Unable to locate music id {id}")
        if self.song_state(song) != "completed":
            raise RiffusionError(400, f"Music {id} is {self.song_state(song)}, not completed")
        if download_format == "stems":
            cdn = self.cdn(request)
            return {"stems": [{"name": name, "url": f"{cdn}/{song.id}/stems/{name}.wav"} for name, _ in STEMS]}
        media = "audio/mpeg" if download_format == "mp3" else "audio/wav"
        return Response(self.store.audio_for(song.id), media_type=media)  # WAV bytes for both

    def cdn_song(self, song_id: str, request: Request) -> Any:
        self.store.cdn_requests.append({"path": request.url.path, "authorization": request.headers.get("authorization")})
        song = self.store.songs.get(song_id)
        if song is None or self.song_state(song) != "completed":
            return JSONResponse({"error": "Not found", "code": 404}, status_code=404)
        return Response(self.store.audio_for(song.id), media_type="audio/mp4")

    def cdn_stem(self, song_id: str, name: str, request: Request) -> Any:
        self.store.cdn_requests.append({"path": request.url.path, "authorization": request.headers.get("authorization")})
        factor = dict(STEMS).get(name)
        if song_id not in self.store.songs or factor is None:
            return JSONResponse({"error": "Not found", "code": 404}, status_code=404)
        return Response(self.store.audio_for(song_id, factor), media_type="audio/wav")

    # ---- scheduler ------------------------------------------------------------------------------
    def scheduler_entries(self) -> list[dict[str, Any]]:
        """GET scheduler: one entry per tracked job still executing, oldest first (no pagination, as the
        service). A job leaves when its songs end or after DELETE scheduler/{job_id}; ``job_id`` is the song
        id (the 2025-02-25 revision) or the generation id (2025-02-17), as create answered it."""
        out: dict[str, dict[str, Any]] = {}
        for song in self.executing():
            elapsed = int(self.state.now() - song.created)
            entry = {"job_id": song.job_id, "user_id": song.user_id, "started": iso(song.created),
                     "elapsed": f"{elapsed // 60:02d}:{elapsed % 60:02d}"}
            entry.update({k: v for k, v in (("replyUrl", song.reply_url), ("replyRef", song.reply_ref)) if v})
            out.setdefault(song.job_id, entry)
        return list(out.values())

    def get_scheduler(self) -> Any:
        """GET scheduler: see :meth:`scheduler_entries`."""
        return self.scheduler_entries()

    def get_scheduler_available(self) -> Any:
        available = []
        for acc in self.store.accounts.values():
            running = len({s.generation_id for s in self.executing(acc.user_id)})
            available.append({"user_id": acc.user_id, "maxJobs": acc.max_jobs, "executing": running,
                              "available": max(0, acc.max_jobs - running)})
        return {"executing": self.scheduler_entries(), "available": available}

    def delete_scheduler(self, job_id: str) -> Any:
        """DELETE scheduler/{job_id}: stop tracking a running job (it leaves GET scheduler, keeps running)."""
        hits = [s for s in self.executing() if job_id in (s.id, s.generation_id)]
        if not hits:
            raise RiffusionError(404, "Unable to locate running job_id")
        for song in hits:
            song.untracked = True
        return Response(status_code=204)

    # ---- replyUrl callbacks ---------------------------------------------------------------------
    def fire_callbacks(self, generation_id: str) -> None:
        """POST each finished song of a generation to its ``replyUrl`` (retried later while processing)."""
        songs = [s for s in self.store.songs.values() if s.generation_id == generation_id and s.reply_url]
        loop = asyncio.get_running_loop()
        if any(self.song_state(s) == "processing" for s in songs):
            loop.call_later(0.1, self.fire_callbacks, generation_id)
            return
        cdn = (self.state.base_url or "http://127.0.0.1").rstrip("/") + CDN_PREFIX
        for song in songs:
            payload = {**song_json(song, self.song_state(song), cdn), "job_id": song.job_id, "replyRef": song.reply_ref}
            self.store.callbacks.append(
                send_callback(str(song.reply_url), payload, state=self.state, api="riffusion"))


def _checked(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a contract check; its error becomes the API's 400."""
    try:
        return func(*args, **kwargs)
    except InvalidInputError as exc:
        raise RiffusionError(400, str(exc)) from None


def _bool(value: Any) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


async def _error_answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RiffusionError)
    return JSONResponse(exc.body, status_code=exc.status)


#: Every route of the API: (methods, path under ``/v1/riffusion``, handler). Paths answer with and without "/".
ROUTES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("GET", "/accounts", RiffusionApi.get_accounts), ("GET", "/accounts/{user_id}", RiffusionApi.get_account),
    ("POST", "/accounts", RiffusionApi.post_accounts), ("DELETE", "/accounts/{user_id}", RiffusionApi.delete_account),
    ("GET", "/music", RiffusionApi.get_music), ("DELETE", "/music", RiffusionApi.delete_music),
    ("POST", "/music/create-prompt", RiffusionApi.create_prompt),
    ("POST", "/music/create-compose", RiffusionApi.create_compose),
    ("POST", "/music/generate-lyrics", RiffusionApi.generate_lyrics),
    ("POST", "/generate-lyrics", RiffusionApi.generate_lyrics),  # the doc's own curl example omits "music/"
    ("POST", "/music/upload-image", RiffusionApi.upload_image),
    ("POST", "/music/generate-image", RiffusionApi.generate_image),
    ("POST", "/music/upload-audio", RiffusionApi.upload_audio),
    ("GET", "/music/upload-audio", RiffusionApi.get_upload_audio),
    ("GET", "/music/download", RiffusionApi.download), ("GET", "/scheduler", RiffusionApi.get_scheduler),
    ("GET", "/scheduler/available", RiffusionApi.get_scheduler_available),
    ("DELETE", "/scheduler/{job_id}", RiffusionApi.delete_scheduler),
)  # fmt: skip


def register(app: Any, state: Any) -> None:
    """Mount the Riffusion API (behind its auth dependency) and its public CDN on the emulator app."""
    api = RiffusionApi(state)
    state.apis["riffusion"] = api.store
    state.on_reset(api.reset)
    auth = require_credential(BEARER, deny=lambda: RiffusionError(401, "Unauthorized"))  # the frame's shared check
    routes = APIRouter(prefix=PREFIX, dependencies=[Depends(auth)])
    for method, path, func in ROUTES:
        for variant in dict.fromkeys((path, path.rstrip("/") + "/")):
            routes.add_api_route(variant, func.__get__(api), methods=[method], include_in_schema=variant == path)
    app.include_router(routes)
    app.add_api_route(CDN_PREFIX + "/{song_id}.m4a", api.cdn_song, methods=["GET"])
    app.add_api_route(CDN_PREFIX + "/{song_id}/stems/{name}.wav", api.cdn_stem, methods=["GET"])
    app.add_exception_handler(RiffusionError, _error_answer)
