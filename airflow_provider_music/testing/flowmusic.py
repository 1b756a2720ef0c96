"""Emulator routes of the FlowMusic API of useapi.net (``/v1/flowmusic/``): the whole API as one class.

Requests are checked with the same pure code the hook uses (:mod:`airflow_provider_music.contract.flowmusic`),
so the emulator and the client cannot drift. Bodies are accepted as JSON or as form fields (the vendor's
Postman collection sends every value as a string). Settings (``state.settings`` or
``PATCH /_emulator/settings``), all optional:

* ``flowmusic.job_seconds``: seconds a job stays ``pending`` (default: the emulator's ``job_seconds``); lowering it
  also shortens the jobs still pending.
* ``flowmusic.max_jobs`` (12) and ``flowmusic.credits`` (5000): of the default account ``composer@example.com``.
* ``flowmusic.song_cost`` (5 credits per generation or edit; effects, stems and lyrics are free) and
  ``flowmusic.prices`` (``{model: credits}``, e.g. ``{"lyria-3.5": 8}``; a model not listed costs ``song_cost``).
* ``flowmusic.accounts`` (``{email: credits}``): more accounts (or the default one) with these balances, set
  when the value changes (reset or ``PATCH``); ``credits_remaining`` and 402 follow each account's balance.
* ``flowmusic.moderation_terms`` (``["forbidden"]``): prompt/lyrics words answered 422; image prompts 500.
* ``flowmusic.no_lyrics_terms`` (``["nolyrics"]``): music/lyrics prompts answered 422 ``no_lyrics``.
* ``flowmusic.account_error``: a reason string -> every account answers 596 (or ``store.break_account``).
* ``flowmusic.job_outcome`` (``completed``) / ``flowmusic.failure_code``: make jobs fail with that code.
* ``flowmusic.retention_seconds`` (7 days): finished jobs then answer 404.
* ``flowmusic.list_linger_seconds`` (0): how long an ended job stays in GET jobs with its final status.
* ``flowmusic.retry_after``: ``Retry-After`` sent with 429 (default: none, as documented).
* ``flowmusic.cdn_base_url``: origin of ``audio_url``/``wav_url`` (default: the emulator on its other
  loopback name, a different origin like storage.googleapis.com).

``audio_url`` serves a real m4a (AAC in MPEG-4, a packaged 2 s tone: the same for every clip), ``wav_url`` a
real WAV of the clip's own tone, music/download a valid silent mp3. As the service: an account in error state
shows its ``error`` in GET accounts and GET accounts/{email}; a clip is listed, downloadable and editable only
once its job completed; Trim ``end_s`` and replace ``mask_end_s`` past the clip's duration answer 400; GET
accounts/usage names the song (``conversation_id``/``conversation_title``) of every charge. ``replyUrl`` callbacks go through
:mod:`airflow_provider_music.testing.callbacks` (loopback only, recorded in ``state.callbacks``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.contract import flowmusic as fm
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.testing.apis import BEARER
from airflow_provider_music.testing.audio import m4a_clip
from airflow_provider_music.testing.callbacks import send_callback
from airflow_provider_music.testing.emulator import require_credential
from airflow_provider_music.testing.flowmusic_store import (
    Account,
    FlowMusicError,
    FlowMusicStore,
    Job,
    iso,
    silent_mp3,
)

PREFIX = "/v1/flowmusic"
CDN_PREFIX = "/_cdn/flowmusic"
WEEK = 7 * 24 * 3600.0
_MAGIC = {"audio/wav": (b"RIFF",), "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")}


def checked(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a contract check; its error becomes the API's 400."""
    try:
        return func(*args, **kwargs)
    except InvalidInputError as exc:
        raise FlowMusicError(400, str(exc)) from None


class FlowMusicApi:
    """The FlowMusic API: one method per route; state in :class:`FlowMusicStore`."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.store = FlowMusicStore()
        self.reset()

    def reset(self) -> None:
        self.store.reset(max_jobs=int(self.setting("max_jobs", 12)), credits=float(self.setting("credits", 5000)),
                         now=self.state.now())
        self.applied_accounts: dict[str, Any] = {}

    def apply_accounts(self) -> None:
        """``flowmusic.accounts`` ``{email: credits}``: add the accounts not there yet, set every balance (only
        when the setting changed, so spending is not undone by an unrelated ``PATCH``)."""
        wanted = self.setting("accounts") or {}
        if not isinstance(wanted, dict) or wanted == self.applied_accounts:
            return
        for n, (email, credits) in enumerate(wanted.items(), start=len(self.store.accounts) + 1):
            acc = self.store.accounts.get(email) or Account(email, f"00000000-0000-4000-9000-{n:012d}",
                                                            added=self.state.now())
            acc.credits = float(credits)
            self.store.accounts[email] = acc
        self.applied_accounts = dict(wanted)

    def price(self, model: Any) -> float:
        """Credits per generation or edit: ``flowmusic.prices`` of the model, else ``flowmusic.song_cost``."""
        prices, default = self.setting("prices") or {}, float(self.setting("song_cost", 5))
        return float(prices.get(model or fm.MODELS[0], default)) if isinstance(prices, dict) else default

    def setting(self, name: str, default: Any = None) -> Any:
        return self.state.setting(f"flowmusic.{name}", default)

    # ---- shared checks --------------------------------------------------------------------------
    def authorize(self, request: Request) -> None:
        if not self.state.bearer_ok(request):
            raise FlowMusicError(401, "Unauthorized")

    def cdn(self, request: Request) -> str:
        explicit = self.setting("cdn_base_url")
        base = str(explicit or self.state.base_url or request.base_url).rstrip("/")
        if not explicit:
            swap = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
            base = next((base.replace(a, b) for a, b in swap.items() if a in base), base)
        return base + CDN_PREFIX

    def error_of(self, acc: Account) -> str | None:
        """Why an account is in error state (its own reason, or ``flowmusic.account_error``), else None."""
        reason = acc.error or self.setting("account_error")
        return (reason if isinstance(reason, str) else "refresh token rejected") if reason else None

    def healthy(self, acc: Account) -> Account:
        reason = self.error_of(acc)
        if reason:
            raise FlowMusicError(596, f"Account {acc.email} in error state: {reason}")
        return acc

    def shown_clip(self, ident: str) -> Any:
        """A clip the service shows (its job completed), else None: pending clips are not there yet."""
        clip = self.store.clips.get(ident)
        return clip if clip is not None and clip.visible(self.state.now()) else None

    def account(self, email: str | None) -> Account:
        acc = self.store.accounts.get(email or "")
        if acc is None:
            raise FlowMusicError(404, f"Account {email} is not configured. Use POST accounts.")
        return acc

    def pick(self, email: str | None, *, slot: bool) -> Account:
        """The account a call runs on: the named one, or one with free capacity (429 when none)."""
        now = self.state.now()
        if email:
            acc = self.healthy(self.account(email))
            if slot and self.store.busy(acc.email, acc.max_jobs, now):
                raise self.busy(f"Account {acc.email} is running {acc.max_jobs} of {acc.max_jobs} jobs")
            return acc
        if not self.store.accounts:
            raise FlowMusicError(404, "No FlowMusic accounts configured. Use POST accounts.")
        usable = [a for a in self.store.accounts.values() if not (a.error or self.setting("account_error"))]
        if not usable:
            return self.healthy(next(iter(self.store.accounts.values())))
        free = [a for a in usable if not slot or not self.store.busy(a.email, a.max_jobs, now)]
        if not free:
            raise self.busy("All accounts busy: every account is at maxJobs")
        return free[0]

    def busy(self, message: str) -> FlowMusicError:
        advised = self.setting("retry_after")
        return FlowMusicError(429, message, headers={"Retry-After": str(advised)} if advised is not None else None)

    def moderate(self, *texts: Any, status: int = 422) -> None:
        terms = self.setting("moderation_terms", ["forbidden"]) or []
        blob = " ".join(str(t) for t in texts if t).lower()
        if any(str(term).lower() in blob for term in terms):
            message = ('FlowMusic image generation failed (500): "Internal Server Error"' if status == 500
                       else "Prompt moderated: the model declined to generate audio")
            raise FlowMusicError(status, message)

    def charge(self, acc: Account, cost: float, title: str, conversation: str) -> None:
        if cost <= 0:
            return
        if acc.credits < cost:
            raise FlowMusicError(402, f"Account {acc.email} has insufficient credits ({int(acc.credits)} left)")
        acc.credits -= cost
        acc.record(self.state.now(), int(cost * 12), title, conversation)

    async def read_body(self, request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            return {k: v for k, v in form.items() if isinstance(v, str)}
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise FlowMusicError(400, "Request body must be JSON or form data") from None
        if not isinstance(body, dict):
            raise FlowMusicError(400, "Request body must be a JSON object")
        return body

    def job_json(self, job: Job, request: Request) -> dict[str, Any]:
        clips = [self.store.clips[c].as_json(self.cdn(request)) for c in job.clips]
        return job.as_json(self.state.now(), clips)

    def find_job(self, jobid: str) -> Job:
        job = self.store.jobs.get(jobid)
        now = self.state.now()
        retention = float(self.setting("retention_seconds", WEEK))
        if job is not None and job.status(now) != "pending" and now - job.finished_at() > retention:
            del self.store.jobs[jobid]
            job = None
        if job is None:
            raise FlowMusicError(404, f"Job {jobid} not found (expired or never existed)")
        return job

    # ---- accounts -------------------------------------------------------------------------------
    async def get_accounts(self) -> Any:
        return {email: acc.as_json(error=self.error_of(acc)) for email, acc in self.store.accounts.items()}

    async def get_account(self, email: str) -> Any:
        acc = self.account(email)
        return acc.as_json(live=True, error=self.error_of(acc))

    async def post_accounts(self, request: Request) -> Any:
        body = await self.read_body(request)
        jobs = checked(fm.check_number, "maxJobs", body.get("maxJobs"), 1, 16, integer=True)
        if body.get("email") is not None and body.get("refresh_token") is None:
            if jobs is None or set(body) - {"email", "maxJobs"}:
                raise FlowMusicError(400, "Update mode takes exactly email and maxJobs (1-16)")
            acc = self.account(str(body["email"]))
            acc.max_jobs = int(jobs)
            return JSONResponse(acc.as_json(), status_code=200)
        token = body.get("refresh_token")
        if not isinstance(token, str) or len(token.strip()) < 10:
            raise FlowMusicError(400, "Parameter refresh_token is required (at least 10 characters)")
        import hashlib

        digest = hashlib.sha256(token.encode()).hexdigest()
        found = next((a for a in self.store.accounts.values() if a.token_hash == digest or a.error), None)
        created = found is None
        acc = found or Account("", "")
        if found is None:
            n = len(self.store.accounts) + 1
            acc = Account(f"account{n}@example.com", f"00000000-0000-4000-8000-{n:012d}", added=self.state.now(),
                          credits=float(self.setting("credits", 5000)))
            self.store.accounts[acc.email] = acc
        acc.token_hash, acc.error = digest, None
        if jobs is not None:
            acc.max_jobs = int(jobs)
        return JSONResponse(acc.as_json(), status_code=201 if created else 200)

    async def delete_account(self, email: str) -> Response:
        self.account(email)
        del self.store.accounts[email]
        return Response(status_code=204)

    async def get_usage(self, email: str | None = None) -> Any:
        if not email:
            raise FlowMusicError(400, "Parameter email is required")
        acc = self.account(email)
        days: dict[tuple[str, str], dict[str, Any]] = {}  # one row per UTC day and song, as the service
        songs: dict[str, dict[str, Any]] = {}
        for item in acc.spent:
            day, song = _day(item["at"]), item["conversation"]
            row = days.setdefault((day, song), {
                "type": "producer-usage", "amount": 0, "conversation_id": song, "conversation_title": item["title"],
                "event_at": day, "max_created_at": "", "_account_email": acc.email})
            row["amount"] += item["tokens"]
            row["max_created_at"] = iso(item["at"])
            spend = songs.setdefault(song, {"conversation_id": song, "title": item["title"], "email": acc.email,
                                            "tokens": 0, "credits": 0})
            spend["tokens"] += item["tokens"]
            spend["credits"] = spend["tokens"] // 12
        tokens = sum(i["tokens"] for i in acc.spent)
        summary = {"by_type_tokens": {"producer-usage": tokens}, "by_type_credits": {"producer-usage": tokens // 12},
                   "total_charged_credits": tokens // 12, "total_received_tokens": 0,
                   "per_conversation": list(songs.values())}
        return {"email": acc.email, "events": list(days.values()), "summary": summary}

    # ---- music ----------------------------------------------------------------------------------
    async def post_music(self, request: Request) -> Any:
        raw = await self.read_body(request)
        refs = {kind: [raw[f"{kind}{n}"] for n in range(1, fm.MAX_REFS + 1) if raw.get(f"{kind}{n}")]
                for kind in ("refImage", "refAudio")}
        body = checked(
            fm.build_generate_body, raw.get("prompt"), lyrics=raw.get("lyrics"), instrumental=raw.get("instrumental"),
            ghostwriter=raw.get("ghostwriter"), ref_images=refs["refImage"] or None,
            ref_audios=refs["refAudio"] or None, email=raw.get("email"), reply_url=raw.get("replyUrl"),
            reply_ref=raw.get("replyRef"), mode=raw.get("mode"), model=raw.get("model"),
        )
        self.check_model(body)
        self.moderate(body["prompt"], body.get("lyrics"))
        acc = self.pick(body.get("email"), slot=True)
        for kind in ("refImage", "refAudio"):
            for ident in refs[kind]:
                asset = self.store.assets.get(ident)
                if asset is None or asset.email != acc.email:
                    raise FlowMusicError(400, f"{ident} is not an asset of account {acc.email}")
        title = " ".join(body["prompt"].split()[:3]).title() or "Untitled"
        song = str(uuid.uuid4())
        self.charge(acc, self.price(body.get("model")), title, song)
        self.store.create_bodies.append(dict(body))
        lyrics = body.get("lyrics") or (None if body.get("instrumental") else "[Verse]\nla la la")
        clips = [self.store.new_clip(acc.email, acc.user_id, self.state.now(), title=f"{title} ({ab})", lyrics=lyrics,
                                     conversation=song) for ab in ("A", "B")]
        return await self.start_job(request, acc, body, [c.clip for c in clips])

    def check_model(self, body: dict[str, Any]) -> None:
        if body.get("model") is not None and body["model"] not in fm.MODELS:
            raise FlowMusicError(400, f"Parameter model must be one of {', '.join(fm.MODELS)}")

    async def start_job(self, request: Request, acc: Account, body: dict[str, Any], clips: list[str],
                        operation: str | None = None, cost: int = 0) -> Any:
        """Record a job; ``async`` answers 201 at once, ``sync`` holds the answer until it is done."""
        delay = self.state.job_delay("flowmusic")
        outcome = str(self.setting("job_outcome", "completed"))
        failure = {"code": str(self.setting("failure_code", "generation_failed")), "message": "Flow Music failed"}
        job = self.store.new_job(acc, self.state.now(), delay=delay, request=body, outcome=outcome, clips=clips,
                                 operation=operation, cost=cost, failure=failure if outcome == "failed" else None)
        for ident in clips:
            self.store.clips[ident].job = job  # shown (GET music, downloads, edits) once the job completed
        if body.get("replyUrl"):
            asyncio.get_running_loop().call_later(delay, self.schedule_callback, job.jobid)
        if body.get("mode") == "async":
            return JSONResponse(self.job_json(job, request), status_code=201)
        while job.status(self.state.now()) == "pending":  # hold the answer like the real API
            await asyncio.sleep(max(0.01, job.created + delay - self.state.now()))
        return JSONResponse(self.job_json(job, request), status_code=200)

    async def post_edit(self, request: Request) -> Any:
        raw = await self.read_body(request)
        op = raw.get("operation")
        common = {"operation", "clip", "seed", "title", "mode", "replyUrl", "replyRef", "model"}
        params = {k: v for k, v in raw.items() if k not in common}
        body = checked(fm.build_edit_body, op, raw.get("clip"), seed=raw.get("seed"), title=raw.get("title"),
                       params=params, mode=raw.get("mode"), model=raw.get("model"), reply_url=raw.get("replyUrl"),
                       reply_ref=raw.get("replyRef"))
        self.check_model(body)
        source = self.shown_clip(body["clip"])
        if source is None:
            raise FlowMusicError(404, f"Clip {body['clip']} not found")
        checked(fm.check_within_clip, body, source.duration)
        if op == "stems":
            return await self.stems(request, source)
        self.moderate(body.get("instruction"), body.get("lyrics"), body.get("prompt"))
        acc = self.pick(source.email, slot=True)
        cost = 0 if op == "effect" else self.price(body.get("model"))
        self.charge(acc, cost, source.title, source.conversation)
        self.store.create_bodies.append(dict(body))
        clip = self.store.new_clip(acc.email, acc.user_id, self.state.now(), title=body.get("title") or
                                   f"{source.title} ({op})", lyrics=body.get("lyrics") or source.lyrics,
                                   freq=source.freq * (1.5 if op == "cover" else 1.0), conversation=source.conversation)
        return await self.start_job(request, acc, body, [clip.clip], operation=op)

    async def stems(self, request: Request, source: Any) -> Any:
        acc = self.healthy(self.account(source.email))
        if source.clip not in self.store.stems_of:
            await asyncio.sleep(min(self.state.job_delay("flowmusic"), 2.0))
            made = [self.store.new_clip(acc.email, acc.user_id, self.state.now(), title=f"{source.title} - {name}",
                                        freq=source.freq, factor=factor, stem=name, conversation=source.conversation)
                    for name, factor in (("drums", 0.3), ("bass", 0.4), ("vocals", 0.5), ("other", 0.2))]
            self.store.stems_of[source.clip] = [c.clip for c in made]
        cdn = self.cdn(request)
        return {"clip": source.clip, "email": acc.email,
                "clips": [self.store.clips[c].as_json(cdn) for c in self.store.stems_of[source.clip]]}

    async def post_lyrics(self, request: Request) -> Any:
        raw = await self.read_body(request)
        body = checked(fm.build_lyrics_body, raw.get("prompt"), structure=raw.get("structure"), email=raw.get("email"))
        acc = self.pick(body.get("email"), slot=False)
        terms = self.setting("no_lyrics_terms", ["nolyrics"]) or []
        if any(str(t).lower() in body["prompt"].lower() for t in terms):
            return JSONResponse({"email": acc.email, "error": {"code": "no_lyrics", "message": "No lyrics produced"},
                                 "agent_text": "I could not write lyrics for that."}, status_code=422)
        words = body["prompt"].split()
        return {"email": acc.email, "title": " ".join(words[:3]).title(),
                "lyrics": f"[Verse 1]\n{' '.join(words[:8])}\n[Chorus]\n{' '.join(words[-6:])}",
                "sound_prompt": f"Indie folk, warm acoustic guitar, 80 BPM, about {' '.join(words[:4])}",
                "source": "lyrics-create", "audio_create_song_fired": False, "credits_burned": 0}

    async def get_music(self, request: Request, email: str | None = None, limit: str = "20", offset: str = "0") -> Any:
        lim = checked(fm.check_number, "limit", limit, 1, 100, integer=True)
        off = checked(fm.check_number, "offset", offset, 0, None, integer=True)
        acc = self.pick(email, slot=False)
        now = self.state.now()
        clips = sorted((c for c in self.store.clips.values() if c.email == acc.email and c.visible(now)),
                       key=lambda c: -c.created)
        lim, off = int(lim or 20), int(off or 0)
        cdn = self.cdn(request)
        page = [{k: v for k, v in c.as_json(cdn).items() if k in ("clip", "title", "lyrics", "duration_s",
                                                                    "image_url", "audio_url", "wav_url")}
                for c in clips[off: off + lim]]
        return {"email": acc.email, "clips": page, "limit": lim, "offset": off,
                "next": off + lim if off + lim < len(clips) else None}

    async def get_download(self, id: str | None = None, format: str = "mp3") -> Any:
        if not id or format != "mp3":
            raise FlowMusicError(400, "Parameter id not a valid clip ID or jobid")
        clip = self.shown_clip(id)
        if clip is None and id in self.store.jobs:
            job = self.find_job(id)
            if job.status(self.state.now()) != "completed":
                raise FlowMusicError(409, f"Job {id} is not completed")
            clip = self.store.clips[job.clips[0]]
        if clip is None:
            raise FlowMusicError(400, "Parameter id not a valid clip ID or jobid")
        self.healthy(self.account(clip.email))
        return Response(silent_mp3(), media_type="audio/mpeg",
                        headers={"Content-Disposition": f'attachment; filename="{clip.clip}.mp3"'})

    # ---- files ----------------------------------------------------------------------------------
    async def post_files(self, request: Request, email: str | None = None, stripMetadata: str = "true") -> Any:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in fm.UPLOAD_TYPES:
            raise FlowMusicError(400, f"Content-Type ({ctype or 'none'}) not supported. Valid values: "
                                      f"{', '.join(fm.UPLOAD_TYPES)}")
        acc = self.pick(email, slot=False)
        spooled = await self.state.spool_request_body(request)
        if spooled.size > fm.UPLOAD_TYPES[ctype]:
            raise FlowMusicError(413, f"File too large ({spooled.size} bytes) for {ctype}")
        with open(spooled.path, "rb") as fh:
            head, start = fh.read(64), fh.read(65536)
        if not head:
            raise FlowMusicError(400, "Empty body")
        image = ctype.startswith("image/")
        try:
            fm.check_image_head("body", head, ctype) if image else self.check_audio_head(head, ctype)
        except InvalidInputError:
            raise FlowMusicError(400, f"File content does not match Content-Type {ctype}") from None
        strip = checked(fm.check_bool, "stripMetadata", stripMetadata)
        if image and strip is False and b"c2pa" in head + start:
            raise FlowMusicError(422, "Image declares AI provenance metadata; upload with stripMetadata=true")
        asset = self.store.new_asset(acc, "image" if image else "audio", ctype, spooled.size)
        out: dict[str, Any] = {"id": asset.id, "url": f"{self.cdn(request)}/assets/{asset.id.rsplit(':', 1)[-1]}",
               "kind": asset.kind, "assetType": asset.kind, "email": acc.email}
        if image:
            out["metadata_stripped"] = bool(strip is not False)
        else:
            out.update(clip_id=None, operation_id=None, is_flagged=False, duration_s=2.0)
        return out

    @staticmethod
    def check_audio_head(head: bytes, ctype: str) -> None:
        magic = _MAGIC.get(ctype)
        if magic and not head.startswith(magic):
            raise InvalidInputError("audio magic mismatch")
        if ctype in ("audio/mp4", "audio/x-m4a", "audio/aac") and b"ftyp" not in head[:12] and head[:2] != b"\xff\xf1":
            raise InvalidInputError("audio magic mismatch")

    async def post_files_generate(self, request: Request) -> Any:
        raw = await self.read_body(request)
        prompt = checked(fm.check_text, "prompt", raw.get("prompt"), required=True, max_length=fm.SHORT_PROMPT_MAX)
        acc = self.pick(checked(fm.check_email, "email", raw.get("email")), slot=False)
        self.moderate(prompt, status=500)
        asset = self.store.new_asset(acc, "image", "image/jpeg", 0)
        return {"id": asset.id, "url": f"{self.cdn(request)}/assets/{asset.id.rsplit(':', 1)[-1]}.jpg",
                "kind": "image", "assetType": "image", "email": acc.email, "width": 1024, "height": 1024,
                "model": "google-generative-ai"}

    # ---- jobs -----------------------------------------------------------------------------------
    async def get_jobs(self) -> Any:
        """GET jobs: per account with jobs, ``running`` / ``maxJobs`` / ``jobs[]`` (oldest first), ``{}`` when
        nothing runs. A job leaves the list when it ends (a cancelled one at once); with
        ``flowmusic.list_linger_seconds`` an ended job stays listed that long with its final ``status``, as the
        digest's model allows (``status: pending|completed|failed``). No pagination (the service has none)."""
        now, out = self.state.now(), {}
        linger = float(self.setting("list_linger_seconds", 0) or 0)
        for email, acc in self.store.accounts.items():
            shown = self.store.shown_in_list(email, now, linger)
            if shown:
                running = sum(1 for j in shown if j.status(now) == "pending")
                out[email] = {"running": running, "maxJobs": acc.max_jobs, "jobs": [
                    {"jobid": j.jobid, "status": j.status(now), "created_at": iso(j.created),
                     **({"operation": j.operation} if j.operation else {})} for j in shown]}
        return out

    async def get_job(self, request: Request, jobid: str) -> Any:
        """GET jobs/{jobid}: the job record (404 once expired)."""
        return self.job_json(self.find_job(jobid), request)

    async def delete_job(self, jobid: str) -> Response:
        """DELETE jobs/{jobid}: a pending job fails with ``user_cancelled`` and leaves GET jobs at once (204)."""
        job = self.find_job(jobid)
        if job.status(self.state.now()) == "pending":
            job.cancelled_at = self.state.now()
            job.failure = {"code": "user_cancelled", "message": "Job cancelled by user"}
            self.store.unlist(job)  # frees its slot: it leaves GET jobs at once
            if job.request.get("replyUrl"):
                self.schedule_callback(job.jobid)
        return Response(status_code=204)

    def apply_job_seconds(self) -> None:
        """A lowered ``flowmusic.job_seconds`` also shortens the jobs still pending (as the other APIs, which
        read it on every poll): a job created ``t`` seconds ago finishes when ``t`` reaches the new value."""
        delay, now = self.state.job_delay("flowmusic"), self.state.now()
        for job in self.store.jobs.values():
            if job.delay > delay and job.status(now) == "pending":
                job.delay = max(delay, now - job.created)  # already past the new value: finished now, not earlier
                if job.request.get("replyUrl") and not job.callback_sent:
                    asyncio.get_running_loop().call_later(max(0.0, job.created + delay - now),
                                                          self.schedule_callback, job.jobid)
        self.store.reheap()

    # ---- callbacks and CDN ----------------------------------------------------------------------
    def schedule_callback(self, jobid: str) -> None:
        job = self.store.jobs.get(jobid)
        if job is None or job.callback_sent:
            return
        if job.status(self.state.now()) == "pending":  # timers may fire a hair early: try again
            asyncio.get_running_loop().call_later(0.02, self.schedule_callback, jobid)
            return
        job.callback_sent = True
        payload = job.as_json(self.state.now(), [self.store.clips[c].as_json(self.cdn_default()) for c in job.clips])
        send_callback(str(job.request["replyUrl"]), payload, state=self.state, api="flowmusic")  # loopback only

    def cdn_default(self) -> str:
        return str(self.setting("cdn_base_url") or self.state.base_url).rstrip("/") + CDN_PREFIX

    async def get_cdn(self, name: str) -> Response:
        key, _, ext = name.rpartition(".")
        clip = self.shown_clip(self.store.by_key.get(key, ""))
        if clip is None or ext not in ("wav", "m4a", "jpg"):
            return Response(status_code=404)
        if ext == "jpg":
            return Response(b"\xff\xd8\xff\xe0" + bytes(60), media_type="image/jpeg")
        if ext == "m4a":
            return Response(m4a_clip(), media_type="audio/mp4")
        return Response(self.store.audio(clip), media_type="audio/wav")


def _day(ts: float) -> str:
    return iso(ts)[:10] + "T00:00:00"


async def _error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlowMusicError)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


ROUTES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("GET", "/accounts", FlowMusicApi.get_accounts), ("GET", "/accounts/usage", FlowMusicApi.get_usage),
    ("GET", "/accounts/{email}", FlowMusicApi.get_account), ("POST", "/accounts", FlowMusicApi.post_accounts),
    ("DELETE", "/accounts/{email}", FlowMusicApi.delete_account), ("POST", "/music", FlowMusicApi.post_music),
    ("POST", "/music/edit", FlowMusicApi.post_edit), ("POST", "/music/lyrics", FlowMusicApi.post_lyrics),
    ("GET", "/music", FlowMusicApi.get_music), ("GET", "/music/download", FlowMusicApi.get_download),
    ("POST", "/files", FlowMusicApi.post_files), ("POST", "/files/generate", FlowMusicApi.post_files_generate),
    ("GET", "/jobs", FlowMusicApi.get_jobs), ("GET", "/jobs/{jobid}", FlowMusicApi.get_job),
    ("DELETE", "/jobs/{jobid}", FlowMusicApi.delete_job),
)  # fmt: skip


def register(app: Any, state: Any) -> None:
    """Add the FlowMusic routes (and its public CDN) to the emulator app."""
    api = FlowMusicApi(state)
    state.apis["flowmusic"] = api
    state.on_reset(api.reset)
    state.on_settings(api.apply_job_seconds)
    state.on_settings(api.apply_accounts)
    auth = require_credential(BEARER, deny=lambda: FlowMusicError(401, "Unauthorized"))
    router = APIRouter(dependencies=[Depends(auth)])
    for method, path, func in ROUTES:
        handler = func.__get__(api)  # bound: FastAPI sees the route's own parameters only
        router.add_api_route(path, handler, methods=[method])
        router.add_api_route(path + "/", handler, methods=[method], include_in_schema=False)
    app.include_router(router, prefix=PREFIX)
    app.add_api_route(CDN_PREFIX + "/{name}", api.get_cdn, methods=["GET"])
    app.add_exception_handler(FlowMusicError, _error_response)
