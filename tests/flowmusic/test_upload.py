"""FlowMusic ``upload_file`` keeps its promise for every source (issue 21 §3): the detected format must be the
declared type (file, seekable file object and pipe alike), and a stream of unknown size never sends more than
the type's cap (it stops before the cap is passed on the wire)."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from airflow_provider_music.contract import flowmusic as fm
from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.testing.audio import m4a_clip, sine_wav
from airflow_provider_music.testing.flowmusic_store import silent_mp3

FILES = "/v1/flowmusic/files"
SAMPLES = {
    "WAV": sine_wav(0.2),
    "MPEG audio (MP3)": silent_mp3()[10:],
    "MP3 (ID3)": silent_mp3(),
    "MP4 audio (M4A)": m4a_clip(),
    "AAC (ADTS)": b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(400),
    "PNG": b"\x89PNG\r\n\x1a\n" + bytes(400),
    "JPEG": b"\xff\xd8\xff\xe0" + bytes(400),
    "WebP": b"RIFF\x00\x01\x00\x00WEBPVP8 " + bytes(400),
}


def _pipe(data: bytes):
    """A non-seekable stream of unknown size (what a subprocess or a socket gives)."""
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as out:
            try:
                out.write(data)
            except BrokenPipeError:
                pass

    threading.Thread(target=feed, daemon=True).start()
    return os.fdopen(read_fd, "rb")


def _source(kind: str, data: bytes, tmp_path, name: str):
    if kind == "path":
        path = tmp_path / name
        path.write_bytes(data)
        return path
    if kind == "file":
        path = tmp_path / name
        path.write_bytes(data)
        return open(path, "rb")  # noqa: SIM115 - closed by the test's end
    return _pipe(data)


CASES = [(ctype, container) for ctype in fm.UPLOAD_TYPES for container in SAMPLES]


@pytest.mark.parametrize("kind", ["path", "file", "pipe"])
@pytest.mark.parametrize(("ctype", "container"), CASES, ids=[f"{t}<-{c}" for t, c in CASES])
def test_declared_type_must_match_the_content(music_emulator, tmp_path, kind, ctype, container):
    source = _source(kind, SAMPLES[container], tmp_path, "upload.bin")
    hook = FlowMusicHook()
    if container in fm.UPLOAD_CONTAINERS[ctype]:
        asset = hook.upload_file(source, content_type=ctype)
        assert asset["id"] and music_emulator.count("POST", FILES) == 1
        return
    with pytest.raises(InvalidInputError, match=rf"is {container.replace('(', '.').replace(')', '.')} but is "
                                                rf"declared {ctype}") as err:
        hook.upload_file(source, content_type=ctype)
    assert music_emulator.count("POST", FILES) == 0
    assert "starts with" not in str(err.value)  # the detected type is named, never the bytes


def test_wav_bytes_declared_mpeg_are_not_sent(music_emulator, tmp_path):
    """The reported case: WAV bytes with content_type audio/mpeg (and a .mp3 name)."""
    path = tmp_path / "song.mp3"
    path.write_bytes(sine_wav(0.2))
    with pytest.raises(InvalidInputError, match="is WAV but is declared audio/mpeg: pass content_type='audio/wav'"):
        FlowMusicHook().upload_file(path)
    assert music_emulator.count("POST", FILES) == 0


class _WireCounter:
    """A TCP server that reads a request to the end (or until the client leaves) and never answers: counts the
    bytes of the body that reached the wire."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1/flowmusic/"
        self.data = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        conn.settimeout(20)
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.data += chunk

    def body_bytes(self) -> int:
        """Payload bytes of the (chunked) body received."""
        head, _, rest = self.data.partition(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
        total = 0
        while rest:
            line, _, rest = rest.partition(b"\r\n")
            size = int(line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            total += len(rest[:size])
            rest = rest[size + 2:]
        return total


def test_unsized_stream_stops_before_the_cap(monkeypatch, set_connection):
    cap = 300 * 1024
    monkeypatch.setitem(fm.UPLOAD_TYPES, "audio/wav", cap)
    server = _WireCounter()
    set_connection("flowmusic_default", "flowmusic", host=server.url, extra={"retry_limit": 1})
    stream = _pipe(sine_wav(0.2)[:44] + bytes(5 * cap))  # a WAV header, then far more than the cap
    with pytest.raises(InvalidInputError, match=r"larger than 307200 bytes .*stopped before the limit was passed"):
        FlowMusicHook().upload_file(stream, content_type="audio/wav")
    server.thread.join(timeout=20)
    sent = server.body_bytes()
    assert 0 < sent <= cap  # something was streamed, nothing over the cap


def test_unsized_stream_under_the_cap_goes_through(music_emulator):
    data = sine_wav(1.0)
    asset = FlowMusicHook().upload_file(_pipe(data), content_type="audio/wav")
    assert asset["kind"] == "audio"
    store = music_emulator.state.apis["flowmusic"].store
    assert [a.size for a in store.assets.values()] == [len(data)]  # the head read for the check was sent first
