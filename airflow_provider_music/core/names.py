"""Safe and distinct file names: the one name sanitiser of the package.

:func:`safe_file_name` reduces any text to one path component that cannot escape its folder and fits the
255-byte component limit of common filesystems (counted in UTF-8 bytes, leaving room for the temporary
suffix of an atomic write). :func:`distinct_file_name` adds a short stable hash whenever sanitising or
truncating changed the name, so distinct ids/names (``vocals``, ``../vocals``, ``vocals?``; ids sharing a
long prefix) never map to the same file.
"""

from __future__ import annotations

import hashlib
from typing import Any

#: Most filesystems limit one path component to 255 bytes; atomic writes add ``.<name>.<8 hex>.part``.
COMPONENT_MAX_BYTES = 255
TEMP_SUFFIX_BYTES = 16
NAME_MAX_BYTES = COMPONENT_MAX_BYTES - TEMP_SUFFIX_BYTES
_RESERVED = '\x00:*?"<>|'
HASH_CHARS = 10


def _clip_bytes(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    return data[: max(0, max_bytes)].decode("utf-8", "ignore")


def safe_file_name(name: Any, fallback: str = "file", *, max_length: int = 200, max_bytes: int = NAME_MAX_BYTES) -> str:
    """Reduce a name from an API or a user to one safe path component.

    Keeps the last path segment only (``../../x.wav`` -> ``x.wav``, ``C:\\a\\b`` -> ``b``), drops NUL,
    control and reserved characters and leading dots, caps the length at ``max_length`` characters and
    ``max_bytes`` UTF-8 bytes (keeping a short extension) and falls back to ``fallback`` when nothing is
    left. The result can never escape the folder it is joined to. Distinct inputs may give the same
    result: use :func:`distinct_file_name` when outputs must not overwrite each other.
    """
    text = str(name or "").replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if ch.isprintable() and ch not in _RESERVED).strip().lstrip(".").strip()
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be file names
    if not text:
        return fallback
    if len(text) <= max_length and len(text.encode("utf-8")) <= max_bytes:
        return text
    stem, dot, ext = text.rpartition(".")
    keep = f".{ext}" if dot and stem and len(ext) <= 10 else ""
    body = stem if keep else text
    body = _clip_bytes(body[: max_length - len(keep)], max_bytes - len(keep.encode("utf-8")))
    return (body + keep) if body.strip() else fallback


def name_hash(value: Any) -> str:
    """A short stable hash of ``value``'s text (the same in every process and run)."""
    return hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def distinct_file_name(
    name: Any, fallback: str = "file", *, suffix: str = "", max_bytes: int = NAME_MAX_BYTES, case_sensitive: bool = False
) -> str:
    """A safe file name that differs for different ``name`` values.

    When :func:`safe_file_name` keeps ``name`` as it is, that is the result (plus ``suffix``, e.g. ``.wav``).
    When it had to change it (path parts, reserved characters, truncation, empty), ``-<hash>`` of the
    original text is added before the extension, so ``vocals``, ``../vocals`` and ``vocals?`` give three
    files, and ids sharing their first 200 characters stay apart. Unless ``case_sensitive``, a name with
    upper-case letters gets the hash too (``X`` and ``x`` are one file on macOS and Windows disks).
    """
    text = "" if name is None else str(name)
    room = max_bytes - len(suffix.encode("utf-8"))
    base = safe_file_name(text, fallback, max_bytes=room)
    if text and base == text and (case_sensitive or base == base.lower()):
        return base + suffix
    tag = f"-{name_hash(text)}"
    base = safe_file_name(text, fallback, max_bytes=room - len(tag))
    stem, dot, ext = base.rpartition(".")
    if dot and stem and len(ext) <= 10 and not suffix:
        return f"{stem}{tag}.{ext}"
    return f"{base}{tag}{suffix}"
