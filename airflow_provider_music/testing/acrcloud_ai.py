"""The emulator's AI-music detection rule, light enough for demo DAGs to import (no web framework).

A scanned file is "AI-generated" when its scan name, upload file name or URL contains one of
:data:`AI_NAME_HINTS` (case ignored) or its bytes contain :data:`AI_MARKER` (:func:`mark_ai_generated`
adds it to a WAV without changing the audio). The likely source is ``"udio"`` when the name says so, else
``"suno"``. :mod:`~airflow_provider_music.testing.acrcloud_fs` turns this into the ``ai_detection`` results.
"""

from __future__ import annotations

import struct

#: Bytes that make the emulator's AI detection say "AI-generated".
AI_MARKER = b"EMULATOR-AI-GENERATED"
AI_NAME_HINTS = ("ai-generated", "ai_generated", "suno", "udio")


def mark_ai_generated(data: bytes) -> bytes:
    """``data`` with :data:`AI_MARKER`: a WAV gains a private ``emAI`` chunk (still valid audio, same duration);
    anything else gets the marker appended."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return data + AI_MARKER
    chunk = b"emAI" + struct.pack("<I", len(AI_MARKER)) + AI_MARKER + (b"\x00" if len(AI_MARKER) & 1 else b"")
    body = data[8:] + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


def ai_source_of(text: str, data: bytes = b"") -> str | None:
    """The emulated likely source when ``text`` (names, URL) or ``data`` marks a file as AI-generated."""
    lowered = text.lower()
    if not (any(hint in lowered for hint in AI_NAME_HINTS) or AI_MARKER in data):
        return None
    return "udio" if "udio" in lowered else "suno"


__all__ = ["AI_MARKER", "AI_NAME_HINTS", "ai_source_of", "mark_ai_generated"]
