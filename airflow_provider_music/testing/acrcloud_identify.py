"""Emulator route of ACRCloud identification (``POST /v1/identify``, HMAC-SHA1 signed form; no bearer).

Keys: the ``acrcloud.access_keys`` setting plus every base project's ``access_key``/``access_secret``. A
project's key matches only the project's buckets; the settings' keys match every bucket and the
emulated "ACRCloud Music" database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_music.contract.acrcloud import identify_signature
from airflow_provider_music.testing.acrcloud_common import (
    DEFAULT_ACCESS_KEYS,
    AcrCloudRoutes,
    db_fingerprint_sha,
    flat_user_defined,
    plain,
)


def identify_status(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"status": {"msg": msg, "code": code, "version": "1.0"}})


class AcrCloudIdentifyApi(AcrCloudRoutes):
    """``/v1/identify``."""

    def keys(self) -> dict[str, tuple[str, set[int] | None]]:
        """access_key -> (secret, bucket ids it may match or None for all)."""
        out: dict[str, tuple[str, set[int] | None]] = {
            k: (v, None) for k, v in self.state.setting("acrcloud.access_keys", DEFAULT_ACCESS_KEYS).items()
        }
        for project in self.store.projects.values():
            out[project["access_key"]] = (project["access_secret"], {b["id"] for b in project["buckets"]})
        return out

    @staticmethod
    def sample_of(body: dict[str, Any], upload: Any) -> bytes | None:
        if upload is not None:
            upload[1].file.seek(0)
            return bytes(upload[1].file.read())
        if body.get("sample"):  # protocol 2: base64 in a urlencoded form
            try:
                return base64.b64decode(str(body["sample"]))
            except (ValueError, binascii.Error):
                return None
        return None

    def matches(self, digests: set[str], buckets: set[int] | None) -> dict[str, Any]:
        now, delay = self.state.now(), self.delay()
        custom = [
            {"acrid": bf.acr_id, "title": bf.title, "audio_id": bf.audio_id, "bucket_id": str(bf.bucket_id),
             "score": 100, "duration_ms": int(bf.duration * 1000), "play_offset_ms": 0, **flat_user_defined(bf.user_defined)}
            for bf in self.store.files.values()
            if bf.sha256 in digests and bf.state(now, delay) == 1 and (buckets is None or bf.bucket_id in buckets)
        ]
        music = [
            {"acrid": t["acrid"], "title": t["title"], "artists": t["artists"], "album": {"name": t["title"]},
             "score": 100, "duration_ms": t["duration_ms"], "play_offset_ms": 0, "result_from": 3,
             "external_ids": {"isrc": t["isrc"]} if t.get("isrc") else {}, "external_metadata": {}}
            for t in self.store.music
            if buckets is None and {t["sha256"], t["fingerprint_sha256"]} & digests
        ]
        return {k: v for k, v in (("music", music), ("custom_files", custom)) if v}

    async def identify(self, request: Request) -> Any:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return identify_status(3002, "Invalid ContentType; valid Content-Type is multipart/form-data")
        body, upload = await self.read_body(request)
        with self.state.lock:
            keys = self.keys()
        access_key = str(body.get("access_key") or "")
        if access_key not in keys:
            return identify_status(3001, "Missing/Invalid Access Key")
        data_type, timestamp = str(body.get("data_type") or "audio"), str(body.get("timestamp") or "")
        if data_type not in ("audio", "fingerprint") or not timestamp or str(body.get("signature_version", "1")) != "1":
            return identify_status(3006, "Invalid arguments")
        secret, buckets = keys[access_key]
        expected = identify_signature(access_key, secret, data_type, timestamp)
        if not hmac.compare_digest(expected, str(body.get("signature") or "")):
            return identify_status(3014, "Invalid Signature")
        data = self.sample_of(body, upload)
        if data is None:
            return identify_status(3006, "Invalid arguments: sample is required")
        digests = {hashlib.sha256(data).hexdigest(), db_fingerprint_sha(data) if data_type == "audio" else ""} - {""}
        with self.state.lock:
            found = self.matches(digests, buckets)
        if not found:
            return identify_status(1001, "No result")
        return JSONResponse({"status": {"msg": "Success", "code": 0, "version": "1.0"}, "result_type": 0,
                             "cost_time": 0.01, "metadata": {"timestamp_utc": plain(self.state.now()), **found}})

    def add_routes(self, router: APIRouter) -> None:
        router.add_api_route("/v1/identify", self.identify, methods=["POST"])


__all__ = ["AcrCloudIdentifyApi", "identify_status"]
