"""Database fingerprints made locally with ``pyacrcloud`` (extra ``fingerprint``): audio never leaves."""

from __future__ import annotations

import threading
from typing import Any

from airflow_provider_music.core import ConfigurationError, JobFailedError

_FP_LOCK = threading.Lock()


def load_pyacrcloud() -> Any:
    """pyacrcloud's extractor module; a :class:`ConfigurationError` saying how to install it when missing."""
    try:
        import acrcloud  # noqa: F401 - puts acrcloud_extr_tool on sys.path
        import acrcloud_extr_tool
    except ImportError:
        raise ConfigurationError(
            "mode='fingerprint' needs pyacrcloud: pip install 'airflow-provider-music[fingerprint]' "
            "(Linux x86-64/aarch64 or macOS), or pass fingerprint_extractor="
        ) from None
    return acrcloud_extr_tool


def _fingerprint(make: Any) -> bytes:
    with _FP_LOCK:
        fp = make(load_pyacrcloud())
    if not fp:
        raise JobFailedError("pyacrcloud made no fingerprint (silent, too short or undecodable audio)")
    return bytes(fp)


def pyacrcloud_extractor(local_path: str) -> bytes:
    """ACRCloud database fingerprint of a local audio file, made with ``pyacrcloud`` (extra ``fingerprint``)."""
    return _fingerprint(lambda tool: tool.create_fingerprint_by_file(local_path, 0, 0, True))


def pyacrcloud_fingerprint_of_bytes(data: bytes) -> bytes:
    """``pyacrcloud_extractor`` for a track already read (the catalog sync reads each new track once)."""
    return _fingerprint(lambda tool: tool.create_fingerprint_by_filebuffer(data, 0, 0, True))
