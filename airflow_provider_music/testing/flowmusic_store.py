"""State of the FlowMusic emulator: accounts, jobs, clips, assets and the audio they serve.

Pure bookkeeping (no HTTP): :mod:`airflow_provider_music.testing.flowmusic` holds the routes. Jobs move
``pending -> completed | failed`` lazily from their creation time; nothing runs in the background except
``replyUrl`` callbacks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_music.testing.audio import scale_wav, sine_wav

DEFAULT_EMAIL = "composer@example.com"
DEFAULT_USER_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
STEM_FACTORS = {"drums": 0.3, "bass": 0.4, "vocals": 0.5, "other": 0.2}


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FlowMusicError(Exception):
    """An error answer of the emulated API: ``{"error": message, "code": status}`` (or ``body``)."""

    def __init__(self, status: int, message: str, *, body: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error": message, "code": status}
        self.headers = headers or {}


@dataclass
class Account:
    email: str
    user_id: str
    max_jobs: int = 12
    credits: float = 5000.0
    tier: str = "plus"
    error: str | None = None
    token_hash: str = ""
    added: float = 0.0
    spent: list[dict[str, Any]] = field(default_factory=list)

    def record(self, now: float, tokens: int, title: str, conversation: str = "") -> None:
        self.spent.append({"at": now, "tokens": tokens, "title": title, "conversation": conversation})

    def as_json(self, *, live: bool = False, error: str | None = None) -> dict[str, Any]:
        """The account record; ``error`` (or the account's own) = the reason of its error state: shown as the
        service shows it (and then no live balances)."""
        out: dict[str, Any] = {
            "email": self.email, "tier": self.tier, "subscription_plan": f"{self.tier}-monthly",
            "provider": "g1_entitlement", "user_id": self.user_id, "maxJobs": self.max_jobs,
            "added": iso(self.added), "refreshed_at": iso(self.added), "refreshed_count": 0,
            "access_token": "eyJ…redacted…zmQ", "access_token_expires_at": iso(self.added + 3600),
            "refresh_token": "l6e…redacted…z4v", "session_id": str(uuid.uuid5(uuid.NAMESPACE_OID, self.email)),
        }  # fmt: skip
        reason = self.error or error
        if reason:
            out["error"] = reason
        elif live:
            out["credits_remaining"] = int(self.credits)
            out["tokens_remaining"] = int(self.credits * 12)
        return out


@dataclass
class Clip:
    clip: str
    key: str  # the uuid part: names the CDN files
    email: str
    title: str
    lyrics: str | None
    seed: int
    created: float
    freq: float
    factor: float = 1.0
    stem: str | None = None
    duration: float = 2.0
    #: the song (a Flow Music "conversation") the clip belongs to: charges of GET accounts/usage name it
    conversation: str = ""
    #: the job that makes the clip: the service shows a clip (GET music, downloads, edits) once it completed
    job: Job | None = None

    def visible(self, now: float) -> bool:
        return self.job is None or self.job.status(now) == "completed"

    def as_json(self, cdn: str) -> dict[str, Any]:
        return {
            "clip": self.clip, "title": self.title, "duration_s": self.duration, "lyrics": self.lyrics, "seed": self.seed,
            "lyrics_timing": [[0.0, 2.0]] if self.lyrics else None, "created_at": iso(self.created),
            "audio_url": f"{cdn}/{self.key}.m4a", "wav_url": f"{cdn}/{self.key}.wav",
            "image_url": f"{cdn}/{self.key}.jpg",
        }  # fmt: skip


@dataclass
class Job:
    jobid: str
    email: str
    created: float
    delay: float
    request: dict[str, Any]
    outcome: str
    clips: list[str]
    operation: str | None = None
    cost: int = 0
    failure: dict[str, str] | None = None
    cancelled_at: float | None = None
    callback_sent: bool = False

    def status(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "failed"
        return "pending" if now - self.created < self.delay else self.outcome

    def finished_at(self) -> float:
        return self.cancelled_at if self.cancelled_at is not None else self.created + self.delay

    def as_json(self, now: float, clips: list[dict[str, Any]]) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {"jobid": self.jobid, "email": self.email, "request": self.request,
                               "created_at": iso(self.created), "status": status}
        if self.operation:
            out["operation"] = self.operation
        if self.request.get("replyRef"):
            out["replyRef"] = self.request["replyRef"]
        if status == "pending":
            return out
        out["completed_at"] = iso(self.finished_at())
        out["duration_ms"] = int((self.finished_at() - self.created) * 1000)
        if status == "completed":
            out["clips"] = clips
        else:
            out["error"] = self.failure or {"code": "generation_failed", "message": "Flow Music failed the job"}
        return out


@dataclass
class Asset:
    id: str
    email: str
    kind: str
    content_type: str
    size: int


class FlowMusicStore:
    """In-memory state of the FlowMusic emulator (``state.apis["flowmusic"]``)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[str, Job] = {}
        self.clips: dict[str, Clip] = {}
        self.by_key: dict[str, str] = {}
        self.stems_of: dict[str, list[str]] = {}
        self.assets: dict[str, Asset] = {}
        self.create_bodies: list[dict[str, Any]] = []
        self.audio_cache: dict[str, bytes] = {}
        #: GET jobs without a scan of every job ever made: per account, the jobs not yet past their end (in
        #: creation order), swept by a heap of end times; jobs that ended wait in ``lingering`` for the list
        self.listed: dict[str, dict[str, Job]] = {}
        self.lingering: dict[str, dict[str, Job]] = {}
        self.ends: list[tuple[float, str, str]] = []

    def reset(self, *, max_jobs: int = 12, credits: float = 5000.0, now: float = 0.0) -> None:
        self.__init__()  # type: ignore[misc]
        self.accounts[DEFAULT_EMAIL] = Account(DEFAULT_EMAIL, DEFAULT_USER_ID, max_jobs, credits, added=now)

    def break_account(self, email: str | None = None, reason: str = "refresh token rejected") -> None:
        """Put an account (default: all) in the error state: its calls answer 596 until it is re-added."""
        for acc in self.accounts.values():
            if email is None or acc.email == email:
                acc.error = reason

    def running(self, email: str, now: float) -> list[Job]:
        """The account's pending jobs, oldest first (O(jobs not yet ended), not O(every job ever made))."""
        self.sweep(now)
        return [j for j in self.listed.get(email, {}).values() if j.status(now) == "pending"]

    def busy(self, email: str, max_jobs: int, now: float) -> bool:
        """True when the account runs ``max_jobs`` jobs (the cheap upper bound first: no scan when far below)."""
        self.sweep(now)
        return len(self.listed.get(email, {})) >= max_jobs and len(self.running(email, now)) >= max_jobs

    def shown_in_list(self, email: str, now: float, linger: float) -> list[Job]:
        """What GET jobs shows for an account: pending jobs, then jobs ended less than ``linger`` s ago."""
        pending = self.running(email, now)
        gone = self.lingering.get(email, {})
        for jobid in [j for j, job in gone.items() if job.finished_at() + linger <= now]:
            del gone[jobid]
        return pending + [job for job in gone.values() if job.jobid in self.jobs]

    def sweep(self, now: float) -> None:
        """Move the jobs whose end time passed out of ``listed`` (a job whose delay grew goes back in the heap)."""
        while self.ends and self.ends[0][0] <= now:
            _, email, jobid = heapq.heappop(self.ends)
            job = self.listed.get(email, {}).get(jobid)
            if job is None:
                continue
            if job.status(now) == "pending":  # its delay was raised since: it ends later
                heapq.heappush(self.ends, (max(job.finished_at(), now + 1e-3), email, jobid))
                continue
            del self.listed[email][jobid]
            if job.cancelled_at is None:  # a cancelled job leaves the list at once (its slot is freed)
                self.lingering.setdefault(email, {})[jobid] = job

    def reheap(self) -> None:
        """Rebuild the end times after delays changed (``flowmusic.job_seconds`` lowered)."""
        self.ends = [(j.finished_at(), e, j.jobid) for e, jobs in self.listed.items() for j in jobs.values()]
        heapq.heapify(self.ends)

    def unlist(self, job: Job) -> None:
        """A cancelled job leaves GET jobs at once."""
        self.listed.get(job.email, {}).pop(job.jobid, None)

    def new_job(self, acc: Account, now: float, **kwargs: Any) -> Job:
        """Record a job of ``acc`` created at ``now`` (listed by GET jobs until it ends)."""
        jobid = f"job:{uuid.uuid4()}-user:{acc.user_id}-{acc.email}-bot:flowmusic"
        job = Job(jobid=jobid, email=acc.email, created=now, **kwargs)
        self.jobs[jobid] = job
        self.listed.setdefault(acc.email, {})[jobid] = job
        heapq.heappush(self.ends, (job.finished_at(), acc.email, jobid))
        return job

    def new_clip(self, acc_email: str, user_id: str, now: float, *, title: str, lyrics: str | None = None,
                 seed: int | None = None, freq: float | None = None, factor: float = 1.0,
                 stem: str | None = None, conversation: str = "") -> Clip:
        key = str(uuid.uuid4())
        digest = int(hashlib.sha256(key.encode()).hexdigest()[:6], 16)
        clip = Clip(clip=f"user:{user_id}-{acc_email}-clip:{key}", key=key, email=acc_email, title=title,
                    lyrics=lyrics, seed=digest % 100000 if seed is None else seed, created=now,
                    freq=freq or 196.0 + digest % 300, factor=factor, stem=stem,
                    conversation=conversation or str(uuid.uuid4()))
        self.clips[clip.clip] = clip
        self.by_key[key] = clip.clip
        return clip

    def new_asset(self, acc: Account, kind: str, content_type: str, size: int) -> Asset:
        asset = Asset(f"user:{acc.user_id}:{uuid.uuid4()}", acc.email, kind, content_type, size)
        self.assets[asset.id] = asset
        return asset

    def audio(self, clip: Clip) -> bytes:
        """A real 2 s WAV for a clip (a stem is its parent's tone, scaled)."""
        cache = f"{clip.freq}:{clip.factor}"
        if cache not in self.audio_cache:
            base = sine_wav(2.0, freq=clip.freq, harmonics=3)
            self.audio_cache[cache] = base if clip.factor == 1.0 else scale_wav(base, clip.factor)
        return self.audio_cache[cache]


def silent_mp3(frames: int = 40) -> bytes:
    """A valid MPEG-1 Layer III stream of silence behind an empty ID3v2 tag (what music/download sends)."""
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x00"
    frame = struct.pack(">I", 0xFFFB9064) + bytes(413)  # 128 kbit/s, 44.1 kHz, no padding: 417 bytes
    return tag + frame * frames
