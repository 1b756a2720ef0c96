"""Bounded reading of response bodies: decoded bytes are counted, so a gzip bomb stops at the cap.

The transports ask urllib3 / aiohttp for the raw (still encoded) bytes and decode them here, at most
:data:`DECODE_STEP` bytes of output at a time; a 1 MB gzip body announcing 1 GiB never allocates more than
the cap plus one step. Endless chunked bodies stop at the cap too, and every read checks the deadline.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from typing import Any

from airflow_provider_music.core.errors import ApiConnectionError, InvalidResponseError

#: Raw bytes requested per read, and the most decoded output produced per decompression step.
READ_STEP = 64 * 1024
DECODE_STEP = 256 * 1024
#: ``Accept-Encoding`` of JSON calls (encodings decoded here) and of downloads (none).
JSON_ACCEPT_ENCODING = "gzip, deflate"
DOWNLOAD_ACCEPT_ENCODING = "identity"


class DeadlineExceededError(ApiConnectionError):
    """A request did not finish within its total deadline (``request_timeout`` / ``transfer_timeout`` extra,
    or the deadline of the trigger or wait that made it)."""


class BodyDecoder:
    """Incremental, bounded ``Content-Encoding`` decoder (identity, gzip, x-gzip, deflate)."""

    def __init__(self, encoding: str | None, *, method: str, path: str) -> None:
        self.encoding = (encoding or "identity").strip().lower()
        self._method, self._path = method, path
        if self.encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
            raise InvalidResponseError(
                f"{method} {path}: unsupported Content-Encoding {self.encoding[:40]!r} (not requested)",
                method=method, path=path,
            )
        self._raw_deflate = False
        self._started = False
        self._d = self._new() if self.encoding not in ("identity", "") else None

    def _new(self) -> Any:
        if self.encoding == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of ``data``, each at most :data:`DECODE_STEP` bytes (bounded memory)."""
        if self._d is None:
            if data:
                yield data
            return
        if self.encoding == "deflate" and not self._started and data:
            # "deflate" is zlib-wrapped by the RFC, raw DEFLATE by some servers: tell them apart by the header
            self._started = True
            zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            if not zlib_header:
                self._raw_deflate = True
                self._d = self._new()
        pending = data
        while True:
            try:
                out = self._d.decompress(pending, DECODE_STEP)
            except zlib.error:
                raise InvalidResponseError(
                    f"{self._method} {self._path}: corrupt {self.encoding} body", method=self._method, path=self._path
                ) from None
            if out:
                yield out
            pending = self._d.unconsumed_tail
            if self._d.eof and self._d.unused_data:  # another gzip member follows
                pending = self._d.unused_data
                self._d = self._new()
                continue
            if not pending and len(out) < DECODE_STEP:
                return

    def finish(self) -> bytes:
        """Whatever the decoder still holds (small: everything was fed with bounded output)."""
        return self._d.flush() if self._d is not None else b""


def check_deadline(deadline: float | None, method: str, path: str) -> None:
    if deadline is not None and time.time() >= deadline:
        raise deadline_error(method, path)


def deadline_error(method: str, path: str) -> DeadlineExceededError:
    return DeadlineExceededError(
        f"{method} {path}: no complete answer before the request's total deadline "
        "(connection extra 'request_timeout' / 'transfer_timeout', or the waiting task's timeout)",
        method=method, path=path,
    )


def too_large(method: str, path: str, limit: int, what: str = "answer") -> InvalidResponseError:
    err = InvalidResponseError(
        f"{method} {path}: the {what} is larger than {limit} bytes (decoded); raise the connection extra "
        "'max_response_bytes' if it is expected",
        method=method, path=path,
    )
    err.retryable = False
    return err


class CappedBuffer:
    """Collects decoded bytes up to ``limit``; past it either raises (JSON) or stops quietly (error bodies)."""

    def __init__(self, limit: int, *, method: str, path: str, truncate: bool = False) -> None:
        self.limit, self.truncate = limit, truncate
        self.method, self.path = method, path
        self.data = bytearray()
        self.full = False

    def add(self, piece: bytes) -> None:
        room = self.limit - len(self.data)
        if len(piece) > room:
            if not self.truncate:
                raise too_large(self.method, self.path, self.limit)
            self.data += piece[:room]
            self.full = True
            return
        self.data += piece


def _take(decoder: BodyDecoder, buffer: CappedBuffer, chunk: bytes) -> bool:
    """Feed one raw chunk (``b""`` = end of body); True when reading should stop."""
    if not chunk:
        buffer.add(decoder.finish())
        return True
    for piece in decoder.feed(chunk):
        buffer.add(piece)
        if buffer.full:
            return True
    return False


def read_sync(raw: Any, encoding: str | None, buffer: CappedBuffer, deadline: float | None) -> bytes:
    """Read a urllib3 response's raw bytes (not decoded by urllib3), decode and collect them, bounded."""
    decoder = BodyDecoder(encoding, method=buffer.method, path=buffer.path)
    done = False
    while not done:
        check_deadline(deadline, buffer.method, buffer.path)
        done = _take(decoder, buffer, raw.read(READ_STEP, decode_content=False))
    return bytes(buffer.data)


async def read_async(content: Any, encoding: str | None, buffer: CappedBuffer) -> bytes:
    """Async twin of :func:`read_sync` on an aiohttp ``StreamReader`` (session with ``auto_decompress=False``)."""
    decoder = BodyDecoder(encoding, method=buffer.method, path=buffer.path)
    done = False
    while not done:
        done = _take(decoder, buffer, await content.read(READ_STEP))
    return bytes(buffer.data)
