"""Pure Riffusion output naming: stems answers, song and stem file names that never collide.

Two different API names (``abc?1`` / ``abc*1``, ``vocals`` / ``../vocals`` / ``vocals?``, ids sharing 64
leading characters) always give two different, safe file names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_music.contract.riffusion import extension, preview
from airflow_provider_music.core.errors import InvalidResponseError, redact_url


# ---- stems and output names -------------------------------------------------------------------------
def parse_stems(body: Any) -> dict[str, str]:
    """``{stem name: url}`` from the (undocumented) stems answer: ``{"stems": [{"name", "url"}]}``, a list of
    such objects or a plain ``{name: url}``. Two stems with one name both survive (``vocals``, ``vocals-2``)."""
    items: Any = body["stems"] if isinstance(body, Mapping) and "stems" in body else body
    pairs: list[tuple[str, Any]] = []
    if isinstance(items, Mapping):
        for name, value in items.items():
            url = (value.get("url") or value.get("download_url")) if isinstance(value, Mapping) else value
            pairs.append((str(name), url))
    elif isinstance(items, list):
        for n, value in enumerate(items):
            if isinstance(value, Mapping):
                url = value.get("url") or value.get("download_url") or value.get("audio_url")
                name = value.get("name") or value.get("stem") or value.get("type") or f"stem{n + 1}"
                pairs.append((str(name), url))
    out: dict[str, str] = {}
    for name, url in pairs:
        if isinstance(url, str) and re.match(r"^https?://", url):
            key, n = name, 1
            while key in out:
                n += 1
                key = f"{name}-{n}"
            out[key] = url
    if not out:
        raise InvalidResponseError(f"Riffusion stems answer has no stem URLs: {redact_url(preview(body, 200))}")
    return out


def safe_name(text: str, *, fallback: str = "song", limit: int = 80) -> str:
    """A file-name fragment: ASCII letters, digits, ``._ -``; no separators, no dot-only names."""
    cleaned = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._ -]+", "_", text or "")).strip(" ._-")
    cleaned = re.sub(r"\s+", "_", cleaned)[:limit].strip("._-")
    return cleaned or fallback


def faithful_name(text: str, *, fallback: str, limit: int = 64) -> str:
    """:func:`safe_name`, plus a short hash of the original when cleaning changed it: two different names
    (``abc?1`` / ``abc*1``, ``vocals`` / ``../vocals``, ids sharing 64 leading characters, ``X`` / ``x`` on a
    case-insensitive disk) never give one file name."""
    cleaned = safe_name(text, fallback=fallback, limit=limit)
    if cleaned == text and cleaned == cleaned.lower():  # upper case: ``X`` and ``x`` clash on macOS/Windows
        return cleaned
    return f"{cleaned}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def song_file_name(song: Mapping[str, Any], ext: str) -> str:
    """``<title>-<id>.<ext>`` made safe and faithful to the id (distinct ids -> distinct names)."""
    ident = faithful_name(str(song.get("id") or ""), fallback="unknown", limit=64)
    title = safe_name(str(song.get("title") or ""), fallback="song", limit=80)
    return f"{title}-{ident}.{safe_name(ext, fallback='bin', limit=8)}"


def stem_file_names(stems: Mapping[str, str]) -> dict[str, str]:
    """``{stem name: file name}``: one distinct, safe file name per stem (``../vocals`` != ``vocals``)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name, url in stems.items():
        ext = safe_name(extension(url.split("?", 1)[0]) or "wav", fallback="wav", limit=8)
        base = faithful_name(name, fallback="stem", limit=64)
        candidate, n = f"{base}.{ext}", 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{base}-{n}.{ext}"
        used.add(candidate.lower())
        out[name] = candidate
    return out
