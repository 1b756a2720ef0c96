"""The content check of every upload: its first bytes must be a known container of an allowed kind.

Whatever the file is called, a ``.txt`` (or an HTML error page saved as ``song.mp3``) fails before any
request with an :class:`InvalidInputError` naming the argument. Callers state the kinds they accept
(``audio`` by default; ``video`` and ``image`` where the API takes them).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_music.core.errors import InvalidInputError

if TYPE_CHECKING:
    from airflow_provider_music.core.files import UploadSource

AUDIO, VIDEO, IMAGE = "audio", "video", "image"
KINDS = frozenset({AUDIO, VIDEO, IMAGE})
HEAD_BYTES = 4096
_AV = frozenset({AUDIO, VIDEO})

#: (offset, magic, container name, kinds) for the fixed-position signatures.
_SIGNATURES: tuple[tuple[int, bytes, str, frozenset[str]], ...] = (
    (0, b"RF64", "WAV (RF64)", frozenset({AUDIO})),
    (0, b"BW64", "WAV (BW64)", frozenset({AUDIO})),
    (0, b"ID3", "MP3 (ID3)", frozenset({AUDIO})),
    (0, b"fLaC", "FLAC", frozenset({AUDIO})),
    (0, b"OggS", "Ogg", _AV),
    (0, b"caff", "CAF", frozenset({AUDIO})),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM", _AV),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF (WMA/WMV)", _AV),
    (0, b"\x89PNG\r\n\x1a\n", "PNG", frozenset({IMAGE})),
    (0, b"\xff\xd8\xff", "JPEG", frozenset({IMAGE})),
    (0, b"GIF87a", "GIF", frozenset({IMAGE})),
    (0, b"GIF89a", "GIF", frozenset({IMAGE})),
)
_RIFF_FORMS = {b"WAVE": ("WAV", frozenset({AUDIO})), b"AVI ": ("AVI", frozenset({VIDEO})),
               b"WEBP": ("WebP", frozenset({IMAGE}))}  # fmt: skip
_AIFF_FORMS = {b"AIFF": "AIFF", b"AIFC": "AIFF-C"}
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
_IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis")
_VIDEO_BRANDS = (b"qt  ",)


def sniff_container(head: bytes) -> tuple[str, frozenset[str]] | None:
    """``(container name, kinds)`` of the bytes a file starts with, or ``None`` when not recognised."""
    for offset, magic, name, kinds in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name, kinds
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_FORMS:
        return _RIFF_FORMS[head[8:12]]
    if head[:4] == b"FORM" and head[8:12] in _AIFF_FORMS:
        return _AIFF_FORMS[head[8:12]], frozenset({AUDIO})
    if head[4:8] == b"ftyp":
        return _iso_media(head[8:12])
    return _frame_sync(head.lstrip(b"\x00"))


def _iso_media(brand: bytes) -> tuple[str, frozenset[str]]:
    if brand in _AUDIO_BRANDS:
        return "MP4 audio (M4A)", frozenset({AUDIO})
    if brand in _IMAGE_BRANDS:
        return "HEIF/AVIF image", frozenset({IMAGE})
    if brand in _VIDEO_BRANDS:
        return "QuickTime (MOV)", _AV
    return "MP4", _AV


def _frame_sync(head: bytes) -> tuple[str, frozenset[str]] | None:
    """MPEG audio or ADTS AAC frame headers (after any zero padding some encoders write)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    if head[1] & 0xF6 == 0xF0:  # ADTS: 12-bit sync, layer 00
        return ("AAC (ADTS)", frozenset({AUDIO})) if (head[2] >> 2) & 0x0F < 13 else None
    version, layer = (head[1] >> 3) & 0x03, (head[1] >> 1) & 0x03
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x03
    if version == 1 or layer == 0 or bitrate == 0x0F or rate == 0x03:
        return None
    return "MPEG audio (MP3)", frozenset({AUDIO})


def _normalise_kinds(allowed: str | Iterable[str], argument: str) -> frozenset[str]:
    kinds = frozenset([allowed] if isinstance(allowed, str) else allowed)
    if not kinds or not kinds <= KINDS:
        raise InvalidInputError(f"allowed kinds for {argument} must be among {sorted(KINDS)}, got {sorted(kinds)}")
    return kinds


def check_upload_content(
    upload: UploadSource, *, argument: str = "source", allowed: str | Iterable[str] = AUDIO
) -> str:
    """Read the first bytes of ``upload`` and fail unless they are a known container of an ``allowed`` kind.

    Returns the container's name. Works for every source: paths and ``ObjectStoragePath`` are reopened,
    seekable file objects are rewound, and a pipe's first bytes are kept and sent ahead of the rest.
    """
    kinds = _normalise_kinds(allowed, argument)
    head = _peek(upload)
    found = sniff_container(head)
    if found is not None and found[1] & kinds:
        return found[0]
    wanted = " or ".join(sorted(kinds))
    # the detected type only, never the bytes: a secrets file passed by mistake must not reach the log
    what = (f"a {found[0]} file ({'/'.join(sorted(found[1]))})" if found
            else f"not a known {wanted} format (it looks like {describe_content(head)})")
    raise InvalidInputError(f"{argument}: {upload.name!r} is {what}; give {wanted} ({_examples(kinds)})")


#: (prefix, description) of common non-media files, for the error of a refused upload.
_OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "a ZIP archive"), (b"\x1f\x8b", "gzip data"),
    (b"%PDF-", "a PDF document"), (b"\x7fELF", "an ELF executable"), (b"MZ", "a Windows executable"),
    (b"BZh", "bzip2 data"), (b"\xfd7zXZ\x00", "xz data"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"-----BEGIN ", "a PEM key or certificate"),
)


def describe_content(head: bytes) -> str:
    """What the first bytes of a file look like, in words that quote none of them (``"text"``, ``"JSON
    text"``, ``"an HTML page"``, ``"a ZIP archive"``, ``"binary data of an unknown format"``...)."""
    if not head:
        return "empty"
    for prefix, description in _OTHER_SIGNATURES:
        if head.startswith(prefix):
            return description
    text = _as_text(head)
    if text is None:
        return "binary data of an unknown format"
    start = text.lstrip("\ufeff \t\r\n")[:64].lower()
    if start.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    if start.startswith("<?xml") or start.startswith("<"):
        return "XML/markup text"
    if start.startswith(("{", "[")):
        return "JSON text"
    if start.startswith("#!"):
        return "a script (text)"
    return "text"


def _as_text(head: bytes) -> str | None:
    """``head`` as text when it is (UTF-8/UTF-16 with a BOM, or mostly printable), else ``None``."""
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[2:].decode(codec, "replace")
    sample = head[:1024].decode("utf-8", "replace")
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in sample)
    return sample if sample and printable / len(sample) > 0.95 else None


def _examples(kinds: frozenset[str]) -> str:
    names = {AUDIO: "WAV, MP3, AAC, M4A/MP4, FLAC, AIFF, OGG, CAF, WebM", VIDEO: "MP4, MOV, WebM/MKV, AVI",
             IMAGE: "PNG, JPEG, GIF, WebP"}  # fmt: skip
    return "; ".join(names[k] for k in sorted(kinds))


def _peek(upload: UploadSource) -> bytes:
    if upload.reopenable:
        with upload.open() as fobj:
            return _read_head(fobj)
    fobj = upload._opener()
    seekable = False
    try:
        seekable = bool(fobj.seekable())
    except (AttributeError, OSError):
        seekable = False
    head = _read_head(fobj)
    if not seekable:  # a pipe: what was read must still be sent, first
        upload._opener = _prefixed_opener(head, fobj)
    return head


def _read_head(fobj: IO[bytes]) -> bytes:
    head = b""
    while len(head) < HEAD_BYTES:
        chunk = fobj.read(HEAD_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _prefixed_opener(head: bytes, fobj: IO[bytes]) -> Any:
    reader = _PrefixedReader(head, fobj)
    return lambda: reader


class _PrefixedReader(io.RawIOBase):
    """``head`` then the rest of ``fobj``: a pipe whose first bytes were already read for the check."""

    def __init__(self, head: bytes, fobj: IO[bytes]) -> None:
        self._head, self._fobj = head, fobj
        self.name = getattr(fobj, "name", "upload")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._fobj.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._fobj.read(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def check_audio_content(
    upload: UploadSource, *, argument: str = "source", allowed: str | Iterable[str] = AUDIO
) -> str:
    """:func:`check_upload_content` (the historical name): every upload is checked, whatever its name."""
    return check_upload_content(upload, argument=argument, allowed=allowed)
