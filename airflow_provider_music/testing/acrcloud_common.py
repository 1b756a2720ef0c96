"""Shared parts of the ACRCloud emulator: the store, media probing and the routes' common helpers.

:class:`AcrCloudRoutes` is the base of both route classes (:class:`~.acrcloud.AcrCloudConsoleApi` and
:class:`~.acrcloud_fs.AcrCloudFileScanningApi`): one auth dependency (``Authorization: Bearer``, 401
``{"message": "Unauthenticated."}`` otherwise), Laravel-style 422/404 answers, pagination exactly as the
docs show it and body parsing (JSON, multipart or urlencoded).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

API = "acrcloud"
MUSIC_BUCKET_ID = 23
MUSIC_BUCKET_NAME = "ACRCloud Music"
DEFAULT_ACCESS_KEYS = {"emulator-access-key": "emulator-access-secret"}


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class BucketFile:
    id: int
    bucket_id: int
    acr_id: str
    title: str
    user_defined: dict[str, Any]
    data_type: str
    duration: float
    created: float
    final_state: int
    sha256: str = ""
    size: int = 0
    audio_id: str = ""
    updated: float = 0.0

    def state(self, now: float, delay: float) -> int:
        return 0 if now < self.created + delay else self.final_state


@dataclass
class FsFile:
    id: str
    cid: int
    name: str
    data_type: str
    uri: str
    created: float
    sha256: str = ""
    fingerprint_sha256: str = ""
    duration: int = 0
    forced_error: bool = False
    result: dict[str, Any] | None = None
    callback_sent: bool = False


@dataclass
class AcrStore:
    buckets: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, BucketFile] = field(default_factory=dict)
    dumps: dict[int, dict[str, Any]] = field(default_factory=dict)
    containers: dict[int, dict[str, Any]] = field(default_factory=dict)
    fs_files: dict[str, FsFile] = field(default_factory=dict)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    music: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    next_bucket: int = 8881
    next_file: int = 20
    next_container: int = 101
    next_project: int = 15
    bytes_received: int = 0
    uploads: int = 0

    def reset(self) -> None:
        fresh = AcrStore()
        self.__dict__.update(fresh.__dict__)

    # ---- helpers for tests --------------------------------------------------------------------
    def add_music_track(self, data: bytes, *, title: str, artist: str, acrid: str | None = None,
                        isrc: str | None = None) -> dict[str, Any]:
        """Put a track into the emulated "ACRCloud Music" database (bucket 23)."""
        track = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "fingerprint_sha256": db_fingerprint_sha(data),
            "title": title,
            "artists": [{"name": artist}],
            "acrid": acrid or hashlib.md5(data).hexdigest(),  # noqa: S324 - an id, not security
            "duration_ms": int(audio_duration(data) * 1000),
            "isrc": isrc or "",
        }
        self.music.append(track)
        return track

    def files_in(self, bucket_id: int) -> list[BucketFile]:
        return [f for f in self.files.values() if f.bucket_id == bucket_id]


# --------------------------------------------------------------------------------------------------
# Media probing: the duration of what was really uploaded
# --------------------------------------------------------------------------------------------------
def _riff_duration(data: bytes) -> float | None:
    """Duration of a RIFF/WAVE file of any codec with a constant byte rate (PCM, float, extensible)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, byte_rate, data_size = 12, 0, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt " and size >= 12:
            byte_rate = struct.unpack("<I", data[pos + 16 : pos + 20])[0]
        elif chunk == b"data":
            data_size = min(size, len(data) - pos - 8)
            break
        pos += 8 + size + (size & 1)
    if not byte_rate or data_size is None:
        return None
    return data_size / byte_rate


def _flac_duration(data: bytes) -> float | None:
    if data[:4] != b"fLaC" or len(data) < 26:
        return None
    info = int.from_bytes(data[18:26], "big")  # STREAMINFO: 20-bit rate, 3 ch, 5 bps, 36-bit samples
    rate, samples = info >> 44, info & ((1 << 36) - 1)
    return samples / rate if rate else None


def _pyacrcloud() -> Any:
    try:
        import acrcloud  # noqa: F401 - puts acrcloud_extr_tool on sys.path
        import acrcloud_extr_tool
    except Exception:
        return None
    return acrcloud_extr_tool


def _tool_seconds(measure: Any) -> float | None:
    """Seconds reported by ``measure(pyacrcloud_tool)`` (a ``get_duration_ms_by_*`` call), if it can tell."""
    tool = _pyacrcloud()
    if tool is None:
        return None
    try:
        millis = measure(tool)
    except Exception:
        return None
    return round(millis / 1000.0, 6) if isinstance(millis, (int, float)) and millis > 0 else None


def audio_duration(data: bytes) -> float:
    """Seconds of audio in ``data``: WAV and FLAC headers, else pyacrcloud's decoder, else a 128 kbit/s guess."""
    for probe in (_riff_duration, _flac_duration):
        seconds = probe(data)
        if seconds is not None and math.isfinite(seconds):
            return round(seconds, 6)
    return _tool_seconds(lambda tool: tool.get_duration_ms_by_filebuffer(data)) or round(len(data) / 16000.0, 6)


def fingerprint_duration(data: bytes) -> float:
    """Seconds of audio a database fingerprint covers (pyacrcloud reads it; else ~300 bytes per second)."""
    return _tool_seconds(lambda tool: tool.get_duration_ms_by_fpbuffer(data)) or round(len(data) / 300.0, 6)


def db_fingerprint_sha(data: bytes) -> str:
    """sha256 of the ACRCloud database fingerprint of ``data`` when pyacrcloud is importable, else ''."""
    tool = _pyacrcloud()
    if tool is None:
        return ""
    try:
        fp = tool.create_fingerprint_by_filebuffer(data, 0, 0, True)
    except Exception:
        return ""
    return hashlib.sha256(fp).hexdigest() if fp else ""


def flat_user_defined(user_defined: dict[str, Any]) -> dict[str, Any]:
    """``user_defined`` keys merged flat into a ``custom_files`` result (scalars only)."""
    return {k: v for k, v in user_defined.items() if not isinstance(v, (dict, list))}


class Unauthenticated(Exception):
    """Raised by the auth dependency; the app answers 401 ``{"message": "Unauthenticated."}``."""


async def unauthenticated_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"message": "Unauthenticated."}, status_code=401)


class AcrCloudRoutes:
    """Helpers shared by the ACRCloud route classes."""

    def __init__(self, state: Any, store: AcrStore) -> None:
        self.state = state
        self.store = store

    async def require_bearer(self, request: Request) -> None:
        """The one auth dependency of every Console route."""
        if not self.state.bearer_ok(request):
            raise Unauthenticated()

    @staticmethod
    def invalid(message: str, errors: dict[str, list[str]] | None = None) -> JSONResponse:
        return JSONResponse({"message": message, "errors": errors or {}}, status_code=422)

    @staticmethod
    def not_found(what: str) -> JSONResponse:
        return JSONResponse({"message": f"{what} not found."}, status_code=404)

    def delay(self) -> float:
        return float(self.state.job_delay(API))

    @staticmethod
    def ids_of(raw: str) -> list[str]:
        return [p.strip() for p in raw.split(",") if p.strip()]

    def page_numbers(self, request: Request, default_per_page: int) -> tuple[int, int] | JSONResponse:
        try:
            page = int(request.query_params.get("page") or 1)
            per_page = int(request.query_params.get("per_page") or default_per_page)
        except ValueError:
            return self.invalid("The page and per_page must be integers.")
        if page < 1 or per_page < 1:
            return self.invalid("The page and per_page must be at least 1.")
        return page, min(per_page, int(self.state.setting("acrcloud.max_per_page", 100)))

    def paginate(self, request: Request, items: list[Any], render: Any, default_per_page: int = 20) -> Any:
        """A Laravel page as the docs show it: ``links`` carry only ``page``, ``per_page`` a string."""
        numbers = self.page_numbers(request, default_per_page)
        if isinstance(numbers, JSONResponse):
            return numbers
        page, per_page = numbers
        last_page = max(1, math.ceil(len(items) / per_page))
        start = (page - 1) * per_page
        chunk = items[start : start + per_page]
        path = f"{self.state.base_url}{request.url.path}"

        def link(n: int) -> str:
            return f"{path}?page={n}"

        as_string = self.state.setting("acrcloud.per_page_as_string", True)
        return {
            "data": [render(x) for x in chunk],
            "links": {"first": link(1), "last": link(last_page), "prev": link(page - 1) if page > 1 else None,
                      "next": link(page + 1) if page < last_page else None},
            "meta": {"current_page": page, "from": start + 1 if chunk else None, "last_page": last_page, "path": path,
                     "per_page": str(per_page) if as_string else per_page, "to": start + len(chunk) if chunk else None,
                     "total": len(items)},
        }

    @staticmethod
    async def read_body(request: Request) -> tuple[dict[str, Any], Any]:
        """JSON or form fields, plus the uploaded ``(field, UploadFile)`` (or None)."""
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            fields: dict[str, Any] = {}
            upload = None
            for key, value in form.multi_items():
                if hasattr(value, "filename") and hasattr(value, "file"):
                    upload = (key, value)
                else:
                    fields[key] = value
            return fields, upload
        raw = await request.body()
        if not raw.strip():
            return {}, None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return {"__invalid__": True}, None
        return (body if isinstance(body, dict) else {"__invalid__": True}), None

    @staticmethod
    def read_spooled(path: str) -> bytes:
        with open(path, "rb") as fh:
            return fh.read()


def parse_user_defined_field(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """``user_defined`` of a request (JSON string in multipart, object in JSON): ``(value, error)``."""
    if value is None or value == "":
        return {}, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None, "The user defined must be a valid JSON string."
    if not isinstance(value, dict):
        return None, "The user defined must be a JSON object."
    return value, None


__all__ = [
    "API", "DEFAULT_ACCESS_KEYS", "MUSIC_BUCKET_ID", "MUSIC_BUCKET_NAME", "AcrCloudRoutes", "AcrStore", "BucketFile",
    "FsFile", "Unauthenticated", "audio_duration", "db_fingerprint_sha", "fingerprint_duration", "iso", "plain",
]
