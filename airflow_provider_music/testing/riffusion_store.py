"""State of the Riffusion emulator: accounts, songs, uploads, and the JSON shapes the docs show for them."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_music.contract.riffusion import PENDING_ERROR_MESSAGE
from airflow_provider_music.testing.audio import scale_wav, sine_wav

DEFAULT_USER_ID = "b511d6f4-1e33-45c3-885d-0fa094dd5d70"
STEMS = (("vocals", 0.5), ("drums", 0.3), ("bass", 0.4), ("other", 0.2))


class RiffusionError(Exception):
    """An error answer of the emulated API: ``{"error": message, "code": status}`` (or ``body``)."""

    def __init__(self, status: int, message: str, *, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error": message, "code": status}


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
    job_id: str = ""


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
    post_shape: str
    get_shape: str


@dataclass
class RiffusionStore:
    """In-memory state of the Riffusion emulator (``state.apis["riffusion"]``)."""

    accounts: dict[str, Account] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    songs: dict[str, Song] = field(default_factory=dict)
    #: generation id -> song ids (polls by job id stay O(1) with thousands of songs; see :meth:`songs_for`)
    generations: dict[str, list[str]] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    audio_cache: dict[str, bytes] = field(default_factory=dict)
    cdn_requests: list[dict[str, Any]] = field(default_factory=list)
    create_bodies: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[Any] = field(default_factory=list)  # testing.callbacks.Delivery records
    #: songs made through :meth:`add_song`, by creation time: every song shares one ``job_seconds``, so the
    #: executing ones are a suffix of this order (GET scheduler reads the suffix, not every song ever made)
    order: list[Song] = field(default_factory=list)
    created: list[float] = field(default_factory=list)

    def reset(self, max_jobs: int = 6) -> None:
        self.accounts = {DEFAULT_USER_ID: Account(DEFAULT_USER_ID, max_jobs)}
        for bucket in (self.broken, self.songs, self.generations, self.uploads, self.images, self.audio_cache):
            bucket.clear()
        for log in (self.cdn_requests, self.create_bodies, self.callbacks, self.order, self.created):
            log.clear()

    def mark_broken(self, user_id: str | None = None) -> None:
        """Make an account (default: all) answer 596 until a fresh cookie is POSTed to accounts."""
        self.broken.update([user_id] if user_id else list(self.accounts))

    def add_account(self, user_id: str | None = None, max_jobs: int = 6) -> str:
        """Configure one more account (several accounts make ``user_id`` required where the docs say so)."""
        uid = user_id or str(uuid.uuid4())
        self.accounts[uid] = Account(uid, max_jobs)
        return uid

    def add_song(self, song: Song) -> None:
        """Store a song (indexed by generation and by creation time)."""
        self.songs[song.id] = song
        self.generations.setdefault(song.generation_id, []).append(song.id)
        at = bisect.bisect_right(self.created, song.created)
        self.created.insert(at, song.created)
        self.order.insert(at, song)

    def made_since(self, since: float) -> list[Song]:
        """Songs created after ``since`` and still stored (oldest first), plus any put into ``songs`` by hand."""
        recent = [s for s in self.order[bisect.bisect_right(self.created, since):] if self.songs.get(s.id) is s]
        if len(self.songs) > len(self.order):  # songs added by hand (tests) are not in the order: look at all
            indexed = {id(s) for s in self.order}
            recent += [s for s in self.songs.values() if id(s) not in indexed and s.created > since]
        return recent

    def songs_for(self, ident: str) -> list[Song]:
        """The songs whose id or generation (job) id is ``ident``, oldest first. Songs put into ``songs`` by hand
        (tests) are found too: an unknown generation falls back to a scan."""
        ids = self.generations.get(ident)
        if ids is None and ident in self.songs:  # a song id (song and generation ids are distinct uuids)
            return [self.songs[ident]]
        if ids is None:
            found = [s for s in self.songs.values() if s.generation_id == ident]
        else:
            found = [self.songs[i] for i in ids if i in self.songs and self.songs[i].generation_id == ident]
            if ident in self.songs and self.songs[ident] not in found:
                found.insert(0, self.songs[ident])
        return found

    def find_song(self, ident: str) -> Song | None:
        return self.songs.get(ident) or next(iter(self.songs_for(ident)), None)

    def audio_for(self, song_id: str, factor: float = 1.0) -> bytes:
        key = f"{song_id}:{factor}"
        if key not in self.audio_cache:
            base = self.audio_cache.get(f"{song_id}:1.0")
            if base is None:
                seed = int(hashlib.sha256(song_id.encode()).hexdigest()[:4], 16)
                base = sine_wav(2.0, freq=220.0 + seed % 440, harmonics=3)
                self.audio_cache[f"{song_id}:1.0"] = base
            self.audio_cache[key] = base if factor == 1.0 else scale_wav(base, factor)
        return self.audio_cache[key]


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def account_json(acc: Account, now: float, broken: bool) -> dict[str, Any]:
    exp = int(now) + 604800
    out: dict[str, Any] = {
        "user_id": acc.user_id, "maxJobs": acc.max_jobs,
        "jwt": {"expires_at": exp, "expires_in": 604800, "refresh_token": "…secured…",
                "access_token": "…secured…", "expires_at_UTC": iso(exp), "token_type": "bearer",
                "user": {"id": acc.user_id}},
    }
    if broken:
        out["error"] = PENDING_ERROR_MESSAGE
    return out


def song_json(song: Song, status: str, cdn: str, signature: str = "") -> dict[str, Any]:
    """One element of GET music, as in the seed (``seeds/riffusion-get-music.txt``). ``signature``: a query
    string signing ``download_url`` (as CDNs do; the link then carries a secret)."""
    done = status == "completed"
    return {
        "id": song.id, "group_id": "", "author_id": song.user_id, "created_at": iso(song.created),
        "audio_variation": song.sound, "lyrics": song.lyrics,
        "lyrics_timestamped": json.dumps({"lines": [{"text": song.lyrics, "start": 0.0}]}) if done else None,
        "title": song.title, "image_override": None,
        "conditions": json.dumps([{"prompt": song.sound, "strength": 0.5}]),
        "sound": song.sound, "topic": song.sound,
        "image_id": song.image_id or str(uuid.uuid5(uuid.NAMESPACE_URL, song.id)),
        "simple_waveform": json.dumps([0.1, 0.5, 0.3, 0.8]) if done else None,
        "remix_parent_id": None, "duration_s": 2.0 if done else None, "privacy": "unlisted", "transform": None,
        "parent_riff_id": None, "audio_upload_id": song.audio_upload_id, "is_favorite": False,
        "favorite_count": 0, "play_count": 0, "status": status,
        "download_url": f"{cdn}/{song.id}.m4a{signature}" if done else None,
        "share_url": f"https://www.riffusion.com/riff/{song.id}",
        "image_url": f"{cdn}/{song.id}.jpeg" if done else None,
    }


AUDIBLE_MAGIC_MATCH = {
    "amItemID": "AM-0001",
    "metadata": {"ISRC": "USRC17607839", "Label": "Emulator Records", "Title": "Famous Song",
                 "Artist": "Famous Artist", "Vendor": "AM", "AlbumUPC": "000000000001",
                 "ContentCategory": "Music", "AlbumReleaseDate": "1999-01-01", "SongLengthInSeconds": "180"},
    "ruleCode": "1", "matchType": "Audio", "matchTimeInUnknown": 0.0,
    "matchTimeInReference": 12.5, "matchDurationInUnknown": 30.0,
}


def upload_status_json(upload: Upload, status: str) -> dict[str, Any]:
    """GET music/upload-audio in the shape of the upload's revision (Feb 17 short, Feb 25 full)."""
    lyrics = "" if status == "pending" else "…transcribed lyrics… la la la"
    if upload.get_shape == "2025-02-17":
        return {"is_flagged": upload.flagged, "transcribed_lyrics": lyrics, "status": status}
    am: dict[str, Any] = {"statusCode": 2005, "unknownAssetID": upload.audio_upload_id,
                          "statusDescription": "Status 2005 (2005) No match found",
                          "unknownMediaFileDuration": 158.3}
    if upload.matched and status != "pending":
        am.update(statusCode=2000, statusDescription="Status 2000 (2000) Match found", matches=[AUDIBLE_MAGIC_MATCH])
    ext = {"audio/mpeg": "mp3", "audio/wav": "wav", "audio/wave": "wav"}.get(upload.content_type, "m4a")
    return {
        "status": status, "lyrics": lyrics, "id": f"{upload.audio_upload_id}:{upload.transcription_job_id}",
        "created_at": iso(upload.created).replace("Z", "+00:00"), "user_id": upload.user_id,
        "name": f"{upload.name}.{ext}", "type": upload.content_type, "storage_name": upload.audio_upload_id,
        "audible_magic_response": am, "is_flagged": upload.flagged if status != "pending" else False,
        "audio_upload_id": upload.audio_upload_id, "transcription_job_id": upload.transcription_job_id,
    }


def upload_post_json(upload: Upload) -> dict[str, Any]:
    """POST music/upload-audio: ``{job_id}`` (Feb 17) or the Feb 25 ids."""
    if upload.post_shape == "2025-02-17":
        return {"job_id": upload.audio_upload_id}
    return {"is_flagged": upload.flagged, "id": f"{upload.audio_upload_id}:{upload.transcription_job_id}",
            "transcription_job_id": upload.transcription_job_id, "audio_upload_id": upload.audio_upload_id}
