"""The core's streaming multipart encoder (known length, large reads straight from the file)."""

from __future__ import annotations

import io
import json
import os

from airflow_provider_music import core

BASE = "https://api.example.test/v1/"


class SinkHook(core.MusicApiHook):
    conn_type = "sink"
    default_conn_name = "sink_default"
    hook_name = "Sink"


def parts_of(body: bytes, content_type: str) -> dict[str, tuple[dict[str, str], bytes]]:
    """A strict RFC 7578 splitter (no third-party decoder): boundary lines, part headers, content."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    assert body.startswith(b"--" + boundary + b"\r\n") and body.endswith(b"\r\n--" + boundary + b"--\r\n")
    out = {}
    for raw in body[len(boundary) + 4 : -(len(boundary) + 8)].split(b"\r\n--" + boundary + b"\r\n"):
        head, _, content = raw.partition(b"\r\n\r\n")
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        name = headers["Content-Disposition"].split('name="', 1)[1].split('"', 1)[0]
        out[name] = (headers, content)
    return out


def test_body_is_valid_multipart_of_the_announced_length():
    data = os.urandom(3 * 1024 * 1024 + 7)
    body = core.MultipartBody({"title": 'Ünï "q"', "user_defined": '{"k": "v"}'}, "file", 'a"b\r\nc é.wav',
                              io.BytesIO(data), len(data), "audio/wav")
    raw = b"".join(iter(lambda: body.read(core.UPLOAD_BLOCK), b""))
    assert len(raw) == body.len
    parts = parts_of(raw, body.content_type)
    assert parts["title"][1].decode() == 'Ünï "q"'
    assert json.loads(parts["user_defined"][1]) == {"k": "v"}
    headers, content = parts["file"]
    assert content == data and headers["Content-Type"] == "audio/wav"
    assert 'filename="a%22b%0D%0Ac é.wav"' in headers["Content-Disposition"]  # no header injection


def test_file_longer_than_announced_is_cut_to_the_announced_size():
    body = core.MultipartBody({}, "file", "f.wav", io.BytesIO(b"x" * 10 + b"grown"), 10, "audio/wav")
    raw = body.read()
    assert len(raw) == body.len
    assert parts_of(raw, body.content_type)["file"][1] == b"x" * 10


def test_hook_upload_multipart_known_and_unknown_length(requests_mock, tmp_path, set_connection):
    set_connection("sink_default", "sink", host=BASE)
    src = tmp_path / "a.wav"
    src.write_bytes(b"RIFF" + os.urandom(5000))
    seen = []

    def record(request, context):
        body = request.body.read() if hasattr(request.body, "read") else b"".join(request.body)
        seen.append((request.headers["Content-Type"], request.headers.get("Content-Length"), body))
        return json.dumps({"ok": True})

    requests_mock.post(BASE + "files", text=record)
    hook = SinkHook()
    hook.upload_multipart("POST", "files", fields={"t": "1"}, file_field="file", source=core.resolve_source(src),
                          content_type="audio/wav")

    class Pipe(io.RawIOBase):  # not seekable: unknown length, the generic encoder is used
        def __init__(self, data: bytes) -> None:
            self.buf = io.BytesIO(data)
            self.name = "p.wav"

        def readable(self) -> bool:
            return True

        def readinto(self, b):  # type: ignore[no-untyped-def]
            return self.buf.readinto(b)

    hook.upload_multipart("POST", "files", fields={"t": "1"}, file_field="file",
                          source=core.resolve_source(io.BufferedReader(Pipe(src.read_bytes()))), content_type="audio/wav")
    assert [length is None for _, length, _ in seen] == [False, True]  # the pipe goes chunked
    for content_type, length, body in seen:
        assert length is None or int(length) == len(body)
        parts = parts_of(body, content_type)
        assert parts["file"][1] == src.read_bytes() and parts["t"][1] == b"1"
