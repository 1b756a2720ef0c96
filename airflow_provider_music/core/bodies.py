"""Bodies: request bodies streamed out (:class:`MultipartBody`), response bodies read bounded in.

Responses: decoded bytes are counted, so a gzip bomb stops at the cap. urllib3 (>= 2.6, CVE-2025-66471) and
aiohttp (>= 3.13.3, GHSA-6mq8-rvhq-8wgg) decode ``gzip`` / ``deflate`` themselves with a bounded output per
read: ``HTTPResponse.read(amt)`` returns at most ``amt`` decoded bytes and keeps the rest compressed, and
aiohttp inflates at most one read buffer (64 KiB) per step and stops while its buffer is full. So a 1 MB
gzip body announcing 1 GiB never allocates more than the cap plus one step
(tests/reliability/test_hostile_transport_bounds.py). An encoding we did not ask for is refused before any read. Endless
chunked bodies stop at the cap too, and every read checks the deadline.

Requests: :class:`MultipartBody` streams a ``multipart/form-data`` body in :data:`UPLOAD_BLOCK` blocks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from typing import IO, Any

from airflow_provider_music.core.deadline import progress
from airflow_provider_music.core.errors import ApiConnectionError, InvalidResponseError

#: Decoded bytes asked for per read (the libraries return at most this much).
READ_STEP = 64 * 1024
#: ``Accept-Encoding`` of JSON calls (encodings the libraries decode) and of downloads (none).
JSON_ACCEPT_ENCODING = "gzip, deflate"
DOWNLOAD_ACCEPT_ENCODING = "identity"
#: ``Content-Encoding`` values read: urllib3 decodes all of them; aiohttp passes ``x-gzip`` through undecoded.
SYNC_ENCODINGS = frozenset({"identity", "", "gzip", "x-gzip", "deflate"})
ASYNC_ENCODINGS = frozenset({"identity", "", "gzip", "deflate"})


class DeadlineExceededError(ApiConnectionError):
    """A request did not finish within its total deadline (``request_timeout``, ``sync_timeout`` +
    ``request_timeout`` for a held call, ``transfer_timeout``, or the deadline of the trigger or wait that made
    it), or a transfer fell below its minimum rate (``min_transfer_rate`` / ``transfer_window``)."""


def checked_encoding(value: str | None, *, method: str, path: str, accepted: frozenset[str] = SYNC_ENCODINGS) -> str:
    """The answer's ``Content-Encoding`` (lower case), refused unless ``accepted``: the libraries pass an
    unknown one through undecoded, and we never asked for it."""
    encoding = (value or "identity").strip().lower()
    if encoding not in accepted:
        raise InvalidResponseError(
            f"{method} {path}: unsupported Content-Encoding {encoding[:40]!r} (not requested)",
            method=method, path=path,
        )
    return encoding


def corrupt_body(method: str, path: str, encoding: str) -> InvalidResponseError:
    """The error of a body its ``Content-Encoding`` cannot decode."""
    return InvalidResponseError(f"{method} {path}: corrupt {encoding} body", method=method, path=path)


def read_decoded(raw: Any, amt: int, method: str, path: str, encoding: str) -> bytes:
    """At most ``amt`` decoded bytes of a urllib3 response (``b""`` at the end); a corrupt body raises."""
    import urllib3.exceptions as u3

    try:
        return raw.read(amt, decode_content=True)  # type: ignore[no-any-return]
    except u3.DecodeError:
        raise corrupt_body(method, path, encoding) from None


def check_deadline(deadline: float | None, method: str, path: str) -> None:
    """Raise the deadline's error when ``deadline`` (epoch seconds) has passed."""
    if deadline is not None and time.time() >= deadline:
        raise deadline_error(method, path)


def deadline_error(method: str, path: str, bound: str | None = None) -> DeadlineExceededError:
    """The :class:`DeadlineExceededError` of ``method path``; ``bound`` says what set the deadline (else the
    settings that may have)."""
    why = bound or "connection extra 'request_timeout' / 'transfer_timeout'"
    return DeadlineExceededError(
        f"{method} {path}: no complete answer before the request's total deadline ({why}; or the waiting "
        "task's timeout)",
        method=method, path=path,
    )


def too_large(method: str, path: str, limit: int, what: str = "answer") -> InvalidResponseError:
    """The non-retryable error of an answer past its byte cap (names the extra that raises it)."""
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
        """Append ``piece``; past ``limit`` raise (JSON) or keep what fits and mark the buffer full."""
        room = self.limit - len(self.data)
        if len(piece) > room:
            if not self.truncate:
                raise too_large(self.method, self.path, self.limit)
            self.data += piece[:room]
            self.full = True
            return
        self.data += piece


def read_sync(raw: Any, encoding: str | None, buffer: CappedBuffer, deadline: float | None) -> bytes:
    """Read a urllib3 response decoded by urllib3 (at most :data:`READ_STEP` decoded bytes per read) and
    collect it, bounded; progress counts the bytes received."""
    method, path = buffer.method, buffer.path
    name = checked_encoding(encoding, method=method, path=path)
    wire = raw.tell()
    while not buffer.full:
        check_deadline(deadline, method, path)
        piece = read_decoded(raw, READ_STEP, method, path, name)
        progress(raw.tell() - wire)
        wire = raw.tell()
        if not piece:
            break
        buffer.add(piece)
    return bytes(buffer.data)


async def read_async(content: Any, encoding: str | None, buffer: CappedBuffer) -> bytes:
    """Async twin of :func:`read_sync` on an aiohttp ``StreamReader`` of a request made with
    ``auto_decompress=True``. Always ``read(n)``: ``read()`` lifts aiohttp's per-step decompression limit."""
    import aiohttp
    from aiohttp.http_exceptions import ContentEncodingError

    name = checked_encoding(encoding, method=buffer.method, path=buffer.path, accepted=ASYNC_ENCODINGS)
    while not buffer.full:
        try:
            piece = await content.read(READ_STEP)
        except aiohttp.ClientPayloadError as exc:
            if isinstance(exc.__cause__, ContentEncodingError):
                raise corrupt_body(buffer.method, buffer.path, name) from None
            raise
        if not piece:
            break
        buffer.add(piece)
    return bytes(buffer.data)


# ---- request bodies ---------------------------------------------------------------------------------
#: Request bodies are sent in blocks of this size (see ``transport.large_block_adapter``).
UPLOAD_BLOCK = 1024 * 1024


class MultipartBody:
    """A ``multipart/form-data`` body that streams its file part in large blocks.

    The text fields and the file part's headers, then the file read straight from its handle (one copy
    per block, as for a raw upload; never more than the announced size), then the closing boundary.
    ``requests_toolbelt``'s ``MultipartEncoder`` copies every block through a ``BytesIO`` and stats the
    file on each read (bench/bench_upload.py, 1 GiB: 1.4 s client CPU vs 0.4 s raw, 0.73-0.87x ``curl -F``)
    and cannot send a file of unknown size.
    """

    def __init__(
        self, fields: Mapping[str, str], file_field: str | None, filename: str = "", fobj: IO[bytes] | None = None,
        size: int | None = 0, content_type: str = "application/octet-stream",
    ) -> None:
        """``file_field=None`` (or no ``fobj``) sends the text fields only."""
        import io

        from urllib3.fields import RequestField

        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = bytearray()
        for name, value in fields.items():
            text = RequestField(name=name, data=value)
            text.make_multipart()
            head += f"--{boundary}\r\n{text.render_headers()}".encode() + value.encode() + b"\r\n"
        if file_field is None or fobj is None:
            fobj, size, tail = io.BytesIO(b""), 0, f"--{boundary}--\r\n".encode()
        else:
            part = RequestField(name=file_field, data=b"", filename=filename)
            part.make_multipart(content_type=content_type)
            head += f"--{boundary}\r\n{part.render_headers()}".encode()
            tail = f"\r\n--{boundary}--\r\n".encode()
        #: ``None`` when the file's size is unknown (a pipe): then sent chunked, as ``iter(body)``
        self.len = None if size is None else len(head) + size + len(tail)
        self._file_left = size
        self._pieces: list[Any] = [io.BytesIO(bytes(head)), fobj, io.BytesIO(tail)]

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(UPLOAD_BLOCK), b"")

    def read(self, size: int | None = -1) -> bytes:
        """File-like read: the next bytes of the body (at most ``size``; all of it for ``-1``)."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(UPLOAD_BLOCK), b""))
        while self._pieces:
            piece = self._pieces[0]
            if len(self._pieces) == 2:  # the file: never more than the announced size
                if self._file_left is None:
                    chunk = piece.read(size)
                else:
                    chunk = piece.read(min(size, self._file_left)) if self._file_left else b""
                    self._file_left -= len(chunk)
            else:
                chunk = piece.read(size)
            if chunk:
                return chunk
            self._pieces.pop(0)
        return b""

