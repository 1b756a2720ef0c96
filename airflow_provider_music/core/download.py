"""Streaming a download to a file: atomic, size-checked and bounded whatever the server encodes.

Downloads ask for ``Accept-Encoding: identity``. Without a ``Content-Encoding`` the file must have exactly
the announced ``Content-Length`` (never more is read); with one (the server ignored us), the decoded size
must match the size the API announced (``expected_size``) or, when none is known, stay within
:data:`MAX_EXPANSION` times the bytes received (plus 1 MiB) and ``max_download_bytes``: 1 MB on the wire
never writes 1 GiB. A local write error is a :class:`LocalFileError`, never a network error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_music.core.bodies import check_deadline, checked_encoding, read_decoded
from airflow_provider_music.core.deadline import progress
from airflow_provider_music.core.errors import InvalidResponseError, LocalFileError
from airflow_provider_music.core.files import atomic_write, local_file_error

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

#: Largest decoded/received ratio accepted for an encoded download of unknown size (audio barely compresses).
MAX_EXPANSION = 20
EXPANSION_SLACK = 1024 * 1024


@dataclass
class DownloadLimits:
    """The bounds of one download: the call (``method``, ``path``) for messages, the byte cap, the size the
    server announced, the absolute deadline and the argument named in local file errors."""

    method: str
    path: str
    max_bytes: int
    expected_size: int | None = None
    deadline: float | None = None
    argument: str = "destination"


class _Counter:
    def __init__(self, limits: DownloadLimits, announced: int | None, encoded: bool) -> None:
        self.limits, self.announced, self.encoded = limits, announced, encoded
        self.wire = 0
        self.written = 0

    def fail(self, what: str) -> InvalidResponseError:
        err = InvalidResponseError(f"{self.limits.method} {self.limits.path}: {what}", method=self.limits.method,
                                   path=self.limits.path)
        err.retryable = False
        return err

    def received(self, size: int) -> None:
        self.wire += size
        if not self.encoded and self.announced is not None and self.wire > self.announced:
            raise self.fail(f"the server sent more than the {self.announced} bytes it announced")

    def decoded(self, size: int) -> None:
        self.written += size
        limits = self.limits
        if limits.expected_size is not None and self.written > limits.expected_size:
            raise self.fail(f"download larger than the announced {limits.expected_size} bytes")
        if self.written > limits.max_bytes:
            raise self.fail(f"download larger than {limits.max_bytes} bytes (connection extra 'max_download_bytes')")
        if self.encoded and limits.expected_size is None and self.written > MAX_EXPANSION * self.wire + EXPANSION_SLACK:
            raise self.fail(f"{self.wire} bytes received decode to more than {self.written} bytes: refused")

    def check_complete(self) -> None:
        expected = self.limits.expected_size
        if not self.encoded and self.announced is not None and self.written != self.announced:
            raise InvalidResponseError(
                f"{self.limits.method} {self.limits.path}: incomplete download ({self.written} of {self.announced} bytes)",
                method=self.limits.method, path=self.limits.path,
            )
        if expected is not None and self.written != expected:
            raise self.fail(f"incomplete download ({self.written} of {expected} bytes)")


def _announced(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def write_download(resp: Any, dest: ObjectStoragePath, limits: DownloadLimits, chunk_size: int) -> int:
    """Stream ``resp``'s raw body into ``dest`` atomically within ``limits``; returns the bytes written.

    ``chunk_size`` is the most read at once: keep it small enough to report progress several times per
    transfer window at the minimum rate (``TransferRule.read_size``)."""
    method, path = limits.method, limits.path
    encoding = checked_encoding(resp.headers.get("Content-Encoding"), method=method, path=path)
    counter = _Counter(limits, _announced(resp.headers.get("Content-Length")), encoding not in ("identity", ""))
    raw = resp.raw
    with atomic_write(dest, argument=limits.argument) as fh:
        while True:
            check_deadline(limits.deadline, method, path)
            before = raw.tell()
            piece = read_decoded(raw, chunk_size, method, path, encoding)  # urllib3 decodes, bounded
            wire = raw.tell() - before
            progress(wire)  # the attempt's minimum-throughput rule (core/deadline.py TransferRule)
            counter.received(wire)
            if not piece:
                break
            counter.decoded(len(piece))
            _write(fh, piece, dest, limits.argument)
        counter.check_complete()
    return counter.written


def _write(fh: IO[bytes], data: bytes, dest: Any, argument: str) -> None:
    if not data:
        return
    try:
        fh.write(data)
    except OSError as exc:
        failure: LocalFileError = local_file_error(exc, dest, argument, "write")
    else:
        return
    raise failure
