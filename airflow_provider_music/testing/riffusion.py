"""Emulator routes of the Riffusion API of useapi.net (``/v1/riffusion/``).

Built from the vendor docs (``seeds/riffusion-*.txt``) and the contract digest. Behaviour knobs
(``state.settings``, or ``PATCH /_emulator/settings``):

* ``riffusion.revision``: ``"2025-02-25"`` (default: ``{"jobs": [...]}`` from create, the full upload
  shapes) or ``"2025-02-17"`` (``{"job_id", "user_id"}`` from create, ``{"job_id"}`` from upload-audio).
* ``riffusion.job_seconds``: seconds a song / upload stays ``processing`` / ``pending`` (or the global delay).
* ``riffusion.song_outcome``: ``"completed"`` (default) or ``"failed"``.
* ``riffusion.upload_outcome``: ``"complete"`` (default), ``"failed"`` or ``"pending"`` (never completes).
* ``riffusion.audible_magic``: ``"no_match"`` (default) or ``"match"``; ``riffusion.upload_flagged``: bool
  (default: true when matched).
* ``riffusion.moderation_terms``: prompt/lyrics words answered with the moderation error (default ``["forbidden"]``).
* ``riffusion.pending_error``: true -> every account answers 596 (or ``store.mark_broken(user_id)``).
* ``riffusion.max_jobs``: ``maxJobs`` of the default account (default 6); a full queue answers 429.
* ``riffusion.lose_create_answers``: N -> the next N creates are processed but answered 502 (ambiguous).
* ``riffusion.cdn_base_url``: origin of ``download_url`` / stem URLs (default: the emulator's own port on
  the other loopback name, so it is a different origin, like api.riffusion.com in production).

Songs are computed lazily from their creation time; nothing runs in the background. ``replyUrl``
callbacks are not sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.testing.audio import scale_wav, sine_wav

DEFAULT_USER_ID = "b511d6f4-1e33-45c3-885d-0fa094dd5d70"
LATER = "2025-02-25"
LEGACY = "2025-02-17"
PREFIX = "/v1/riffusion"
CDN_PREFIX = "/_cdn/riffusion"
AUDIO_TYPES = ("audio/mp4", "audio/x-m4a", "audio/mpeg", "audio/wav", "audio/wave")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
STEMS = (("vocals", 0.5), ("drums", 0.3), ("bass", 0.4), ("other", 0.2))
PENDING_ERROR = (
    "Your Riffusion account has pending error. Please address this issue at "
    "https://useapi.net/docs/api-riffusion-v1/post-riffusion-accounts before making any new API calls."
)


@dataclass
class Account:
    user_id: str
    max_jobs: int
    cookie_hash: str = ""


@dataclass
class Song:
    id: str
    generation_id: str
    user_id: str
    created: float
    title: str
    sound: str
    lyrics: str
    outcome: str
    reply_url: str | None = None
    reply_ref: str | None = None
    audio_upload_id: str | None = None
    image_id: str | None = None
    untracked: bool = False


@dataclass
class Upload:
    audio_upload_id: str
    transcription_job_id: str
    user_id: str
    created: float
    name: str
    content_type: str
    size: int
    outcome: str
    matched: bool
    flagged: bool
    legacy: bool


@dataclass
class RiffusionStore:
    """In-memory state of the Riffusion emulator (``state.apis["riffusion"]``)."""

    accounts: dict[str, Account] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    songs: dict[str, Song] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    audio_cache: dict[str, bytes] = field(default_factory=dict)
    cdn_requests: list[dict[str, Any]] = field(default_factory=list)
    create_bodies: list[dict[str, Any]] = field(default_factory=list)

    def reset(self, max_jobs: int = 6) -> None:
        self.accounts = {DEFAULT_USER_ID: Account(DEFAULT_USER_ID, max_jobs)}
        self.broken.clear()
        self.songs.clear()
        self.uploads.clear()
        self.images.clear()
        self.audio_cache.clear()
        self.cdn_requests.clear()
        self.create_bodies.clear()

    def mark_broken(self, user_id: str | None = None) -> None:
        """Make an account (default: all) answer 596 until a fresh cookie is POSTed to accounts."""
        self.broken.update([user_id] if user_id else list(self.accounts))


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def register(app: Any, state: Any) -> None:
    """Add this API's routes to the emulator app."""
    store = RiffusionStore()
    store.reset()
    state.apis["riffusion"] = store
    state.on_reset(lambda: store.reset(int(state.setting("riffusion.max_jobs", 6))))

    def revision() -> str:
        return str(state.setting("riffusion.revision", LATER))

    def delay() -> float:
        return state.job_delay("riffusion")

    def err(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "code": status}, status_code=status)

    def cdn_base(request: Request) -> str:
        explicit = state.setting("riffusion.cdn_base_url")
        if explicit:
            return str(explicit).rstrip("/")
        base = (state.base_url or str(request.base_url)).rstrip("/")
        if "127.0.0.1" in base:
            return base.replace("127.0.0.1", "localhost")
        if "localhost" in base:
            return base.replace("localhost", "127.0.0.1")
        return base

    def check(request: Request, user_id: str | None, *, account_bound: bool = True) -> tuple[Any, str | None]:
        """Auth + account resolution. Returns (error response or None, user_id)."""
        if not state.bearer_ok(request):
            return err(401, "Unauthorized"), None
        if not account_bound:
            return None, None
        if user_id:
            if user_id not in store.accounts:
                return err(400, f"Unable to find configuration for user_id {user_id}. Use POST accounts."), None
            uid = user_id
        elif not store.accounts:
            return err(404, "Configuration not found. To create configuration use POST accounts."), None
        elif len(store.accounts) > 1 and request.method != "POST":
            return err(400, "Parameter user_id is required when multiple accounts configured"), None
        else:
            uid = next(iter(store.accounts))
        if uid in store.broken or state.setting("riffusion.pending_error"):
            return JSONResponse({"error": PENDING_ERROR}, status_code=596), None
        return None, uid

    def song_state(song: Song) -> str:
        if state.now() - song.created < delay():
            return "processing"
        return song.outcome

    def executing(user_id: str | None = None) -> list[Song]:
        return [
            s for s in store.songs.values()
            if not s.untracked and song_state(s) == "processing" and (user_id is None or s.user_id == user_id)
        ]

    def song_json(song: Song, request: Request) -> dict[str, Any]:
        status = song_state(song)
        done = status == "completed"
        return {
            "id": song.id, "group_id": "", "author_id": song.user_id, "created_at": _iso(song.created),
            "audio_variation": song.sound, "lyrics": song.lyrics,
            "lyrics_timestamped": json.dumps({"lines": [{"text": song.lyrics, "start": 0.0}]}) if done else None,
            "title": song.title, "image_override": None,
            "conditions": json.dumps([{"prompt": song.sound, "strength": 0.5}]),
            "sound": song.sound, "topic": song.sound, "image_id": song.image_id or str(uuid.uuid5(uuid.NAMESPACE_URL, song.id)),
            "simple_waveform": json.dumps([0.1, 0.5, 0.3, 0.8]) if done else None,
            "remix_parent_id": None, "duration_s": 2.0 if done else None, "privacy": "unlisted", "transform": None,
            "parent_riff_id": None, "audio_upload_id": song.audio_upload_id, "is_favorite": False,
            "favorite_count": 0, "play_count": 0, "status": status,
            "download_url": f"{cdn_base(request)}{CDN_PREFIX}/{song.id}.m4a" if done else None,
            "share_url": f"https://www.riffusion.com/riff/{song.id}",
            "image_url": f"{cdn_base(request)}{CDN_PREFIX}/{song.id}.jpeg" if done else None,
        }

    def audio_for(song_id: str, factor: float = 1.0) -> bytes:
        key = f"{song_id}:{factor}"
        if key not in store.audio_cache:
            base = store.audio_cache.get(f"{song_id}:1.0")
            if base is None:
                seed = int(hashlib.sha256(song_id.encode()).hexdigest()[:4], 16)
                base = sine_wav(2.0, freq=220.0 + seed % 440, harmonics=3)
                store.audio_cache[f"{song_id}:1.0"] = base
            store.audio_cache[key] = base if factor == 1.0 else scale_wav(base, factor)
        return store.audio_cache[key]

    async def read_body(request: Request) -> dict[str, Any] | None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            return {k: v for k, v in form.items() if isinstance(v, str)}
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def bad_int(body: dict[str, Any], name: str, low: int, high: int) -> str | None:
        value = body.get(name)
        if value is None or value == "":
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return f"{name} must be a number between {low} and {high}"
        if not number.is_integer() or not low <= number <= high:
            return f"{name} must be between {low} and {high}"
        return None

    def moderated(*texts: Any) -> bool:
        terms = state.setting("riffusion.moderation_terms", ["forbidden"]) or []
        blob = " ".join(str(t) for t in texts if t).lower()
        return any(str(term).lower() in blob for term in terms)

    # ---- accounts ---------------------------------------------------------------------------
    def account_json(acc: Account) -> dict[str, Any]:
        exp = int(state.now()) + 604800
        return {
            "user_id": acc.user_id, "maxJobs": acc.max_jobs,
            "jwt": {"expires_at": exp, "expires_in": 604800, "refresh_token": "…secured…",
                    "access_token": "…secured…", "expires_at_UTC": _iso(exp), "token_type": "bearer",
                    "user": {"id": acc.user_id}},
            **({"error": PENDING_ERROR} if acc.user_id in store.broken else {}),
        }

    @app.get(f"{PREFIX}/accounts")
    @app.get(f"{PREFIX}/accounts/")
    def get_accounts(request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        if not store.accounts:
            return err(404, "Configuration not found. To create configuration use POST accounts.")
        return {uid: account_json(acc) for uid, acc in store.accounts.items()}

    @app.get(PREFIX + "/accounts/{user_id}")
    def get_account(user_id: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        acc = store.accounts.get(user_id)
        if acc is None:
            return err(404, "Configuration not found. To create configuration use POST accounts.")
        return account_json(acc)

    @app.post(f"{PREFIX}/accounts")
    @app.post(f"{PREFIX}/accounts/")
    async def post_accounts(request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        body = await read_body(request)
        if body is None:
            return err(400, "Request body must be JSON")
        cookie = body.get("cookie")
        if not isinstance(cookie, str) or not cookie.strip():
            return err(400, "Parameter cookie is required")
        if body.get("maxJobs") is None:
            return err(400, "Parameter maxJobs is required")
        problem = bad_int(body, "maxJobs", 1, 10)
        if problem:
            return err(400, problem)
        digest = hashlib.sha256(cookie.encode()).hexdigest()
        existing = next((a for a in store.accounts.values() if a.cookie_hash == digest), None)
        uid = existing.user_id if existing else (
            DEFAULT_USER_ID if DEFAULT_USER_ID in store.broken or not store.accounts
            else str(uuid.uuid5(uuid.NAMESPACE_OID, digest))
        )
        acc = Account(uid, int(float(body["maxJobs"])), digest)
        store.accounts[uid] = acc
        if not existing:
            store.broken.discard(uid)  # a fresh cookie fixes the pending error; the same cookie twice does not
        return JSONResponse(account_json(acc), status_code=201)

    @app.delete(PREFIX + "/accounts/{user_id}")
    def delete_account(user_id: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        if store.accounts.pop(user_id, None) is None:
            return err(404, "Configuration not found. To create configuration use POST accounts.")
        return Response(status_code=204)

    # ---- music --------------------------------------------------------------------------------
    @app.get(f"{PREFIX}/music")
    @app.get(f"{PREFIX}/music/")
    def get_music(request: Request, user_id: str | None = None, offset: str = "0", limit: str = "10",
                  id: str | None = None) -> Any:
        problem, uid = check(request, user_id)
        if problem:
            return problem
        try:
            off, lim = int(offset), int(limit)
        except ValueError:
            return err(400, "offset and limit must be integers")
        if off < 0 or lim < 1:
            return err(400, "offset must be >= 0 and limit >= 1")
        songs = [s for s in store.songs.values() if s.user_id == uid]
        if id is not None:
            return [song_json(s, request) for s in songs if id in (s.id, s.generation_id)]
        songs.sort(key=lambda s: s.created, reverse=True)
        return [song_json(s, request) for s in songs[off: off + lim]]

    @app.delete(f"{PREFIX}/music")
    @app.delete(f"{PREFIX}/music/")
    def delete_music(request: Request, user_id: str | None = None, id: str | None = None) -> Any:
        problem, uid = check(request, user_id)
        if problem:
            return problem
        if not id:
            return err(400, "Parameter id is required")
        song = store.songs.get(id)
        if song is None or song.user_id != uid:
            return err(404, f"Unable to locate music id {id}")
        del store.songs[id]
        return Response(status_code=200)

    async def create(request: Request, kind: str) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        body = await read_body(request)
        if body is None:
            return err(400, "Request body must be a JSON object")
        problem, uid = check(request, body.get("user_id") or None)
        if problem:
            return problem
        prompt_key = "prompt" if kind == "prompt" else "prompt_1"
        if not isinstance(body.get(prompt_key), str) or not body[prompt_key].strip():
            return err(400, f"Parameter {prompt_key} is required")
        checks = [("maxJobs", 1, 10)]
        if kind == "compose":
            checks += [("lyrics_strength", 0, 100), ("lyrics_weirdness", 0, 100)]
            for n in (1, 2, 3):
                checks += [(f"prompt_{n}_strength", 20, 100), (f"prompt_{n}_start", 0, 100), (f"prompt_{n}_end", 0, 100)]
        for name, low, high in checks:
            problem_text = bad_int(body, name, low, high)
            if problem_text:
                return err(400, problem_text)
        for name in ("replyUrl", "replyRef"):
            if body.get(name) is not None and len(str(body[name])) > 1024:
                return err(400, f"{name} must be at most 1024 characters")
        if body.get("audio_upload_id"):
            up = next((u for u in store.uploads.values() if u.audio_upload_id == body["audio_upload_id"]), None)
            if up is None:
                return err(400, f"Unable to locate audio_upload_id {body['audio_upload_id']}")
        texts = [body.get(k) for k in ("prompt", "prompt_1", "prompt_2", "prompt_3", "lyrics", "title")]
        if moderated(*texts):
            return JSONResponse({"is_flagged": True, "reason": "moderation", "musician_replacement_data": None},
                                status_code=422)
        assert uid is not None
        max_jobs = int(float(body["maxJobs"])) if body.get("maxJobs") not in (None, "") else store.accounts[uid].max_jobs
        running = {s.generation_id for s in executing(uid)}
        if len(running) >= max_jobs:
            return err(429, f"Account {uid} has {len(running)} executing jobs (maxJobs {max_jobs}). "
                            "Wait in a loop for at least 10..30 seconds and retry again.")
        store.create_bodies.append(dict(body))
        generation = str(uuid.uuid4())
        now = state.now()
        sound = str(body.get(prompt_key))
        title = str(body.get("title") or " ".join(sound.split()[:3]).title() or "Untitled")
        lyrics = str(body.get("lyrics") or ("[Instrumental]" if body.get("instrumental") in (True, "true") else "la la la"))
        ids = []
        for n in range(2):
            song = Song(
                id=str(uuid.uuid4()), generation_id=generation, user_id=uid, created=now,
                title=title if n == 0 else f"{title} (Take 2)", sound=sound, lyrics=lyrics,
                outcome=str(state.setting("riffusion.song_outcome", "completed")),
                reply_url=body.get("replyUrl"), reply_ref=body.get("replyRef"),
                audio_upload_id=body.get("audio_upload_id"), image_id=body.get("image_id"),
            )
            store.songs[song.id] = song
            ids.append(song.id)
        lose = int(state.setting("riffusion.lose_create_answers", 0) or 0)
        if lose > 0:  # the job exists, but the client gets a gateway error (ambiguous failure)
            state.settings["riffusion.lose_create_answers"] = lose - 1
            return Response("<html><body>502 Bad Gateway</body></html>", status_code=502, media_type="text/html")
        if revision() == LEGACY:
            return {"job_id": generation, "user_id": uid}
        return {"jobs": [{"id": i} for i in ids]}

    @app.post(f"{PREFIX}/music/create-prompt")
    @app.post(f"{PREFIX}/music/create-prompt/")
    async def create_prompt(request: Request) -> Any:
        return await create(request, "prompt")

    @app.post(f"{PREFIX}/music/create-compose")
    @app.post(f"{PREFIX}/music/create-compose/")
    async def create_compose(request: Request) -> Any:
        return await create(request, "compose")

    @app.post(f"{PREFIX}/music/generate-lyrics")
    @app.post(f"{PREFIX}/generate-lyrics")  # the doc's own curl example omits "music/"
    async def generate_lyrics(request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        body = await read_body(request)
        if body is None:
            return err(400, "Request body must be a JSON object")
        problem, _ = check(request, body.get("user_id") or None)
        if problem:
            return problem
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return err(400, "Parameter prompt is required")
        base = str(body.get("lyrics") or "")
        return {"lyrics": f"[Verse]\n{prompt.strip()} in the night\n{base}\n[Chorus]\nSing it loud".strip()}

    # ---- images -------------------------------------------------------------------------------
    @app.post(f"{PREFIX}/music/upload-image")
    @app.post(f"{PREFIX}/music/upload-image/")
    async def upload_image(request: Request, user_id: str | None = None) -> Any:
        problem, uid = check(request, user_id)
        if problem:
            return problem
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in IMAGE_TYPES:
            return err(400, f"Content-Type must be one of {', '.join(IMAGE_TYPES)}")
        spooled = await state.spool_request_body(request)
        if spooled.size == 0:
            return err(400, "Request body is empty")
        image_id = str(uuid.uuid4())
        store.images[image_id] = spooled.path
        key = f"riffs/{uid}/image/{image_id}.jpg"
        return {"Key": key, "Id": str(uuid.uuid4()), "image_id": image_id,
                "url": f"https://api.riffusion.com/storage/v1/object/public/{key}"}

    @app.post(f"{PREFIX}/music/generate-image")
    @app.post(f"{PREFIX}/music/generate-image/")
    async def generate_image(request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        body = await read_body(request)
        if body is None:
            return err(400, "Request body must be a JSON object")
        problem, uid = check(request, body.get("user_id") or None)
        if problem:
            return problem
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            return err(400, "Parameter prompt is required")
        if moderated(body["prompt"]):
            return JSONResponse({"is_flagged": True, "reason": "moderation"}, status_code=422)
        image_id = str(uuid.uuid4())
        store.images[image_id] = ""
        return {"image_id": image_id,
                "url": f"https://api.riffusion.com/storage/v1/object/public/riffs/{uid}/image/{image_id}.jpg"}

    # ---- audio uploads ------------------------------------------------------------------------
    @app.post(f"{PREFIX}/music/upload-audio")
    @app.post(f"{PREFIX}/music/upload-audio/")
    async def upload_audio(request: Request, user_id: str | None = None, file_name: str | None = None) -> Any:
        problem, uid = check(request, user_id)
        if problem:
            return problem
        if not file_name:
            return err(400, "Parameter file_name is required")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in AUDIO_TYPES:
            return err(400, f"Content-Type must be one of {', '.join(AUDIO_TYPES)}")
        spooled = await state.spool_request_body(request)
        if spooled.size == 0:
            return err(400, "Request body is empty")
        matched = state.setting("riffusion.audible_magic", "no_match") == "match"
        assert uid is not None
        upload = Upload(
            audio_upload_id=str(uuid.uuid4()), transcription_job_id=str(uuid.uuid4()), user_id=uid,
            created=state.now(), name=file_name, content_type=ctype, size=spooled.size,
            outcome=str(state.setting("riffusion.upload_outcome", "complete")), matched=matched,
            flagged=bool(state.setting("riffusion.upload_flagged", matched)), legacy=revision() == LEGACY,
        )
        store.uploads[upload.audio_upload_id] = upload
        if upload.legacy:
            return {"job_id": upload.audio_upload_id}
        return {"is_flagged": upload.flagged, "id": f"{upload.audio_upload_id}:{upload.transcription_job_id}",
                "transcription_job_id": upload.transcription_job_id, "audio_upload_id": upload.audio_upload_id}

    @app.get(f"{PREFIX}/music/upload-audio")
    @app.get(f"{PREFIX}/music/upload-audio/")
    def get_upload_audio(request: Request, user_id: str | None = None, id: str | None = None) -> Any:
        problem, uid = check(request, user_id)
        if problem:
            return problem
        if not id:
            return err(400, "Parameter id is required")
        upload = store.uploads.get(id.split(":", 1)[0])
        if upload is None or upload.user_id != uid:
            return err(400, f"Unable to locate uploaded audio id {id}")
        if upload.outcome == "pending" or state.now() - upload.created < delay():
            status = "pending"
        else:
            status = upload.outcome
        lyrics = "" if status == "pending" else "…transcribed lyrics… la la la"
        if upload.legacy:
            return {"is_flagged": upload.flagged, "transcribed_lyrics": lyrics, "status": status}
        am: dict[str, Any] = {"statusCode": 2005, "unknownAssetID": upload.audio_upload_id,
                              "statusDescription": "Status 2005 (2005) No match found",
                              "unknownMediaFileDuration": 158.3}
        if upload.matched and status != "pending":
            am.update(statusCode=2000, statusDescription="Status 2000 (2000) Match found", matches=[{
                "amItemID": "AM-0001",
                "metadata": {"ISRC": "USRC17607839", "Label": "Emulator Records", "Title": "Famous Song",
                             "Artist": "Famous Artist", "Vendor": "AM", "AlbumUPC": "000000000001",
                             "ContentCategory": "Music", "AlbumReleaseDate": "1999-01-01",
                             "SongLengthInSeconds": "180"},
                "ruleCode": "1", "matchType": "Audio", "matchTimeInUnknown": 0.0,
                "matchTimeInReference": 12.5, "matchDurationInUnknown": 30.0}])
        ext = {"audio/mpeg": "mp3", "audio/wav": "wav", "audio/wave": "wav"}.get(upload.content_type, "m4a")
        return {
            "status": status, "lyrics": lyrics, "id": f"{upload.audio_upload_id}:{upload.transcription_job_id}",
            "created_at": _iso(upload.created).replace("Z", "+00:00"), "user_id": upload.user_id,
            "name": f"{upload.name}.{ext}", "type": upload.content_type, "storage_name": upload.audio_upload_id,
            "audible_magic_response": am, "is_flagged": upload.flagged if status != "pending" else False,
            "audio_upload_id": upload.audio_upload_id, "transcription_job_id": upload.transcription_job_id,
        }

    # ---- downloads ----------------------------------------------------------------------------
    @app.get(f"{PREFIX}/music/download")
    @app.get(f"{PREFIX}/music/download/")
    def download(request: Request, user_id: str | None = None, id: str | None = None,
                 download_format: str | None = None) -> Any:
        problem, uid = check(request, user_id)
        if problem:
            return problem
        if not id:
            return err(400, "Parameter id is required")
        if download_format not in ("mp3", "wav", "stems"):
            return err(400, "Parameter download_format must be one of mp3, wav, stems")
        song = store.songs.get(id) or next(
            (s for s in store.songs.values() if s.generation_id == id), None)
        if song is None or song.user_id != uid:
            return err(400, f"Unable to locate music id {id}")
        if song_state(song) != "completed":
            return err(400, f"Music {id} is {song_state(song)}, not completed")
        if download_format == "stems":
            base = cdn_base(request)
            return {"stems": [{"name": name, "url": f"{base}{CDN_PREFIX}/{song.id}/stems/{name}.wav"}
                              for name, _ in STEMS]}
        media = "audio/mpeg" if download_format == "mp3" else "audio/wav"
        return Response(audio_for(song.id), media_type=media)  # the emulator serves WAV bytes for both

    @app.get(CDN_PREFIX + "/{song_id}.m4a")
    def cdn_song(song_id: str, request: Request) -> Any:
        store.cdn_requests.append({"path": request.url.path, "authorization": request.headers.get("authorization")})
        song = store.songs.get(song_id)
        if song is None or song_state(song) != "completed":
            return err(404, "Not found")
        return Response(audio_for(song.id), media_type="audio/mp4")

    @app.get(CDN_PREFIX + "/{song_id}/stems/{name}.wav")
    def cdn_stem(song_id: str, name: str, request: Request) -> Any:
        store.cdn_requests.append({"path": request.url.path, "authorization": request.headers.get("authorization")})
        factor = dict(STEMS).get(name)
        if song_id not in store.songs or factor is None:
            return err(404, "Not found")
        return Response(audio_for(song_id, factor), media_type="audio/wav")

    # ---- scheduler ----------------------------------------------------------------------------
    def scheduler_entries() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for song in executing():
            job_id = song.generation_id if revision() == LEGACY else song.id
            if job_id in seen:
                continue
            seen.add(job_id)
            elapsed = int(state.now() - song.created)
            entry = {"job_id": job_id, "user_id": song.user_id, "started": _iso(song.created),
                     "elapsed": f"{elapsed // 60:02d}:{elapsed % 60:02d}"}
            if song.reply_url:
                entry["replyUrl"] = song.reply_url
            if song.reply_ref:
                entry["replyRef"] = song.reply_ref
            out.append(entry)
        return out

    @app.get(f"{PREFIX}/scheduler")
    @app.get(f"{PREFIX}/scheduler/")
    def get_scheduler(request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        return scheduler_entries()

    @app.get(f"{PREFIX}/scheduler/available")
    def get_scheduler_available(request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        available = []
        for acc in store.accounts.values():
            running = len({s.generation_id for s in executing(acc.user_id)})
            available.append({"user_id": acc.user_id, "maxJobs": acc.max_jobs, "executing": running,
                              "available": max(0, acc.max_jobs - running)})
        return {"executing": scheduler_entries(), "available": available}

    @app.delete(PREFIX + "/scheduler/{job_id}")
    def delete_scheduler(job_id: str, request: Request) -> Any:
        if not state.bearer_ok(request):
            return err(401, "Unauthorized")
        hits = [s for s in executing() if job_id in (s.id, s.generation_id)]
        if not hits:
            return err(404, "Unable to locate running job_id")
        for song in hits:
            song.untracked = True
        return Response(status_code=204)
