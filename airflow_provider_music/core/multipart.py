"""A streamed ``multipart/form-data`` request body (text fields plus at most one file)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import IO, Any

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

