"""Pure FlowMusic code for finding work an earlier try paid for, and for downloading from live URLs.

No I/O: parsers of GET accounts/usage (charges in a time window) and of the live (possibly signed) clip URLs
of a job record or stems answer. Used by :mod:`airflow_provider_music.hooks.flowmusic`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_music.contract.flowmusic import invalid_answer, parse_iso

#: GET accounts/usage event types that give tokens; every other type with an amount is a charge.
RECEIVED_TYPES = ("daily-free", "grant")


def charges_since(usage: Any, since: float | None) -> list[str]:
    """GET accounts/usage -> ``max_created_at`` of each charged day with an event at/after ``since``
    (an unreadable time counts as inside the window: a lookup must fail closed)."""
    events = usage.get("events") if isinstance(usage, Mapping) else None
    if not isinstance(events, list):
        raise invalid_answer("GET accounts/usage", usage)
    charged = [e for e in events if isinstance(e, Mapping) and e.get("type") not in RECEIVED_TYPES and e.get("amount")]
    return [str(e.get("max_created_at") or "unknown time")[:40] for e in charged
            if since is None or (when := parse_iso(e.get("max_created_at"))) is None or when >= since]


def live_clip_urls(body: Any) -> dict[str, dict[str, str]]:
    """``{clip: {"wav_url"/"audio_url": URL WITH query}}`` (signed URLs) for a download now; never stored."""
    items: Any = body.get("clips") or body.get("stems") if isinstance(body, Mapping) else body
    out: dict[str, dict[str, str]] = {}
    for clip in list(items.values()) if isinstance(items, Mapping) else items if isinstance(items, list) else []:
        if isinstance(clip, Mapping) and isinstance(clip.get("clip"), str):
            out[clip["clip"]] = {k: v for k in ("wav_url", "audio_url")
                                 if isinstance(v := clip.get(k), str) and v.startswith(("http://", "https://"))}
    return out
