"""State of the Mureka emulator: accounts, jobs, songs, stems, uploads and the audio they serve.

Pure bookkeeping (no HTTP): :mod:`airflow_provider_music.testing.mureka` holds the routes. Jobs move
``created -> completed | failed`` lazily from their creation time; nothing runs in the background except
``replyUrl`` callbacks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import zipfile
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_music.testing.audio import sine_wav

DEFAULT_ACCOUNT = "12345678901234"
USEAPI_USER = "777"
STEMS_ALL = ("vocal", "drums", "bass", "other", "piano", "guitar")
STEMS_TWO = ("vocal", "instrumental")


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class MurekaError(Exception):
    """An error answer of the emulated API: ``{"error": message, "code": status}`` (or ``body``)."""

    def __init__(self, status: int, message: str, *, body: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error": message, "code": status}
        self.headers = headers or {}


@dataclass
class Account:
    account: str
    gold: float = 500.0
    plan: str = "premier"
    email: str = "composer@example.com"
    error: str | None = None
    auth_mode: str = "email"
    updated: float = 0.0

    def as_json(self, error: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "account": self.account, "token": "abc…secured…xyz", "updated": int(self.updated),
            "updatedUTC": iso(self.updated), "tokenIssuedDaysAgo": 0, "hasAutoRefresh": True, "email": self.email,
            "authMode": self.auth_mode,
        }  # fmt: skip
        reason = self.error or error
        if reason:
            out["error"] = reason
            out["hasAutoRefresh"] = False
        return out


@dataclass
class Song:
    song_id: str
    number: int
    account: str
    title: str
    version: str
    created: float
    freq: float
    feed_id: int
    lyrics: str | None = None
    job: Job | None = None
    deleted: bool = False

    def visible(self, now: float) -> bool:
        return not self.deleted and (self.job is None or self.job.status(now) == "completed")

    def as_json(self, cdn: str) -> dict[str, Any]:
        return {
            "song_id": self.song_id, "title": self.title, "version": self.version, "duration_milliseconds": 2000,
            "generate_at": int(self.created), "genres": ["electronic"], "moods": ["quirky"],
            "mp3_url": f"{cdn}/{self.number}.mp3", "cover": f"{cdn}/{self.number}.png",
            "share_key": f"s{self.number}", "machine_audit_state": 0, "credit_type": 1,
        }  # fmt: skip


@dataclass
class Job:
    jobid: str
    account: str
    verb: str
    created: float
    delay: float
    request: dict[str, Any]
    outcome: str
    songs: list[str] = field(default_factory=list)
    stems_id: str | None = None
    feed_id: int = 0
    sent: set[str] = field(default_factory=set)

    def status(self, now: float) -> str:
        return "created" if now - self.created < self.delay else self.outcome

    def as_json(self, now: float, songs: list[dict[str, Any]], stems: dict[str, Any] | None) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {"jobid": self.jobid, "verb": self.verb, "jobType": "music", "status": status,
                               "created": iso(self.created), "request": self.request}
        if status == "created":
            return out
        out["updated"] = iso(self.created + self.delay)
        if status == "failed":
            out["error"] = "Generation failed"
            out["errorDetails"] = "Mureka returned state 4 (failed)"
            out["response"] = {"feed_id": self.feed_id, "state": 4}
        elif stems is not None:
            out["response"] = stems
        else:
            out["response"] = {"feed_id": self.feed_id, "state": 3, "songs": songs}
        return out


@dataclass
class Stems:
    stems_id: str
    song_id: str
    names: tuple[str, ...]
    job: Job | None = None


@dataclass
class Upload:
    id: str
    account: str
    kind: str
    title: str | None
    size: int


class MurekaStore:
    """In-memory state of the Mureka emulator (``state.apis["mureka"]``)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[str, Job] = {}
        self.songs: dict[str, Song] = {}
        self.by_number: dict[int, str] = {}
        self.stems: dict[str, Stems] = {}
        self.uploads: dict[str, Upload] = {}
        self.create_bodies: list[dict[str, Any]] = []
        self.last_lyrics: dict[str, float] = {}
        self.counter = itertools.count(33445566)
        self.audio_cache: dict[float, bytes] = {}

    def reset(self, *, gold: float = 500.0, plan: str = "premier", now: float = 0.0) -> None:
        self.__init__()  # type: ignore[misc]
        self.accounts[DEFAULT_ACCOUNT] = Account(DEFAULT_ACCOUNT, gold, plan, updated=now)

    def running(self, account: str, now: float) -> list[Job]:
        return [j for j in self.jobs.values() if j.account == account and j.status(now) == "created"]

    def new_job(self, account: str, verb: str, now: float, **kwargs: Any) -> Job:
        number = next(self.counter)
        kind = "t" if verb == "speech" else "m"
        jobid = f"j{int(now * 1000) % 10**13:013d}{number}{kind}-u{USEAPI_USER}-a{account}-bot:mureka"
        job = Job(jobid=jobid, account=account, verb=verb, created=now, feed_id=number, **kwargs)
        self.jobs[jobid] = job
        return job

    def new_song(self, account: str, now: float, *, title: str, version: str, feed_id: int,
                 lyrics: str | None = None, freq: float | None = None) -> Song:
        number = next(self.counter)
        digest = int(hashlib.sha256(str(number).encode()).hexdigest()[:6], 16)
        song = Song(f"user:{USEAPI_USER}-mureka:{account}-song:{number}", number, account, title, version, now,
                    freq or 196.0 + digest % 300, feed_id, lyrics)
        self.songs[song.song_id] = song
        self.by_number[number] = song.song_id
        return song

    def song(self, ident: Any) -> Song | None:
        """A song by its string id, or by the number older pages send."""
        if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
            ident = self.by_number.get(int(ident), "")
        return self.songs.get(str(ident))

    def new_stems(self, song: Song, names: tuple[str, ...]) -> Stems:
        stems = Stems(f"{song.song_id}-stems:{next(self.counter)}", song.song_id, names)
        self.stems[stems.stems_id] = stems
        return stems

    def audio(self, freq: float) -> bytes:
        if freq not in self.audio_cache:
            self.audio_cache[freq] = sine_wav(1.0, freq=freq, harmonics=2)
        return self.audio_cache[freq]

    def stems_zip(self, stems: Stems, midi: bool = False) -> bytes:
        """A real ZIP: one WAV per stem (or one tiny MIDI file per stem)."""
        buffer = io.BytesIO()
        song = self.songs.get(stems.song_id)
        with zipfile.ZipFile(buffer, "w") as archive:
            for n, name in enumerate(stems.names):
                if midi:
                    archive.writestr(f"{name}.mid", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60")
                else:
                    archive.writestr(f"{name}.wav", self.audio((song.freq if song else 220.0) * (1 + n / 4)))
        return buffer.getvalue()
