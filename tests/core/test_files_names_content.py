"""core.files names / core.content / LocalFileError: distinct safe names (bytes-capped), the content check of
every upload, and local filesystem errors that are never network errors and never retried."""

from __future__ import annotations

import errno
import io
import os
from typing import Any

import pytest

from airflow_provider_music.core.content import check_upload_content, sniff_container
from airflow_provider_music.core.errors import InvalidInputError, LocalFileError
from airflow_provider_music.core.files import (
    NAME_MAX_BYTES,
    atomic_write,
    distinct_file_name,
    output_location,
    resolve_source,
    safe_file_name,
    to_storage_path,
)

# ---- names ---------------------------------------------------------------------------------------------
GROUPS = [
    ["vocals", "../vocals", "vocals?", "..\\..\\vocals", "/vocals", "vocals*", " vocals", ".vocals", "vo\x00cals"],
    ["abc?1", "abc*1", "abc|1", "abc:1", "abc\"1"],
    ["x" * 64 + "A", "x" * 64 + "B", "x" * 300 + "1", "x" * 300 + "2", "é" * 200 + "1", "é" * 200 + "2"],
    ["", None, ".", "..", "/"],
    ["Song", "song"],
]


@pytest.mark.parametrize("group", GROUPS, ids=["stems", "songs", "long-ids", "empty", "case"])
@pytest.mark.parametrize("suffix", ["", ".wav"])
def test_distinct_inputs_give_distinct_names(group, suffix):
    names = [distinct_file_name(v, "stem", suffix=suffix) for v in group]
    assert len(set(names)) == len({"" if v is None else str(v) for v in group}), names  # None is no name
    assert len({n.lower() for n in names}) == len(set(names))  # case-insensitive disks too
    for name in names:
        assert "/" not in name and "\\" not in name and name not in (".", "..") and not name.startswith(".")
        assert len(name.encode()) <= NAME_MAX_BYTES and name.endswith(suffix)
    assert names == [distinct_file_name(v, "stem", suffix=suffix) for v in group]  # stable


def test_unchanged_names_stay_as_they_are():
    assert distinct_file_name("vocals", suffix=".wav") == "vocals.wav"
    assert distinct_file_name("my song.mp3") == "my song.mp3"
    assert distinct_file_name("Song", case_sensitive=True) == "Song"
    assert distinct_file_name("Song").lower() != distinct_file_name("song").lower()  # one file on macOS otherwise
    assert distinct_file_name("../x.mp3").endswith(".mp3") and distinct_file_name("../x.mp3").startswith("x-")


@pytest.mark.parametrize("name", ["é" * 300 + ".wav", "🎵" * 100 + ".mp3", "日本語" * 100, "a" * 1000])
def test_safe_file_name_caps_utf8_bytes(name, tmp_path):
    safe = safe_file_name(name)
    assert len(safe.encode()) <= NAME_MAX_BYTES
    (tmp_path / f".{safe}.12345678.part").write_bytes(b"x")  # the atomic write's temp name fits too
    (tmp_path / safe).write_bytes(b"x")


# ---- local file errors ---------------------------------------------------------------------------------
def _write(dest: Any) -> None:
    with atomic_write(to_storage_path(dest), argument="output_dir") as fh:
        fh.write(b"RIFF")


def test_name_too_long_is_a_local_file_error(tmp_path):
    with pytest.raises(LocalFileError, match="output_dir: cannot write .*ENAMETOOLONG") as info:
        _write(tmp_path / ("é" * 300 + ".wav"))
    assert not info.value.retryable and info.value.argument == "output_dir"


def test_destination_is_a_directory(tmp_path):
    (tmp_path / "taken.wav").mkdir()
    with pytest.raises(LocalFileError, match="EISDIR|is a directory|Is a directory"):
        _write(tmp_path / "taken.wav")
    assert [p.name for p in tmp_path.iterdir()] == ["taken.wav"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(LocalFileError, match="EACCES"):
            _write(locked / "x.wav")
    finally:
        locked.chmod(0o700)


def test_disk_full_while_downloading_is_not_retried(monkeypatch, tmp_path):
    from airflow_provider_music.core import download as dl
    from tests.support.hooks import hook_classes, make_hook
    from tests.support.hostile import HostileServer, send

    def full(fh: Any, data: bytes, dest: Any, argument: str) -> None:
        from airflow_provider_music.core.files import local_file_error

        raise local_file_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), dest, argument, "write")

    monkeypatch.setattr(dl, "_write", full)
    with HostileServer() as cdn:
        cdn.route("/a.wav", lambda h, r: send(h, 200, b"RIFF" + b"\0" * 100, "audio/wav"))
        hook = make_hook(monkeypatch, hook_classes()[0], cdn.url + "/", "tok-files-123456")
        with pytest.raises(LocalFileError, match="ENOSPC"):
            hook.download(cdn.url + "/a.wav", tmp_path / "a.wav", argument="destination_dir")
        assert len(cdn.requests) == 1  # never retried
    assert list(tmp_path.iterdir()) == []


def test_text_to_path_rule_and_output_location(tmp_path):
    assert to_storage_path(str(tmp_path / "a.wav")).protocol in ("file", "local")
    assert output_location(tmp_path / "a.wav") == str(tmp_path / "a.wav")
    assert output_location("s3://bucket/key.wav") == "s3://bucket/key.wav"
    for bad in (None, "", "  ", 5, b"/tmp/x", "a\x00b"):
        with pytest.raises(InvalidInputError, match="destination"):
            to_storage_path(bad, argument="destination")


# ---- the content check of every upload -----------------------------------------------------------------
CONTAINERS = {
    "wav": (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio"), "rf64": (b"RF64\xff\xff\xff\xffWAVE", "audio"),
    "bw64": (b"BW64\xff\xff\xff\xffWAVE", "audio"), "id3": (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio"),
    "mp3-frame": (b"\xff\xfb\x90\x64\x00\x00", "audio"), "mp3-padded": (b"\x00\x00\xff\xfb\x90\x64", "audio"),
    "adts": (b"\xff\xf1\x50\x80\x02\x1f\xfc", "audio"), "flac": (b"fLaC\x00\x00\x00\x22", "audio"),
    "aiff": (b"FORM\x00\x00\x00\x00AIFFCOMM", "audio"), "aifc": (b"FORM\x00\x00\x00\x00AIFCFVER", "audio"),
    "ogg": (b"OggS\x00\x02\x00\x00", "audio"), "m4a": (b"\x00\x00\x00\x20ftypM4A \x00\x00", "audio"),
    "mp4": (b"\x00\x00\x00\x18ftypisom\x00\x00", "audio"), "mov": (b"\x00\x00\x00\x14ftypqt  ", "video"),
    "webm": (b"\x1a\x45\xdf\xa3\x9f\x42\x86", "audio"), "caf": (b"caff\x00\x01\x00\x00", "audio"),
    "asf": (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9", "audio"), "avi": (b"RIFF\x00\x00\x00\x00AVI LIST", "video"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00", "image"), "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
    "gif": (b"GIF89a\x01\x00", "image"), "webp": (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image"),
}  # fmt: skip
NOT_MEDIA = {"text": b"hello, this is a text file\n", "html": b"<!DOCTYPE html><html>", "json": b'{"a": 1}',
             "zip": b"PK\x03\x04\x14\x00", "pdf": b"%PDF-1.7\n", "zeros": b"\x00" * 64, "short": b"ab",
             "mp3-bad-sync": b"\xff\xff\xff\xff", "riff-other": b"RIFF\x00\x00\x00\x00CDXA"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_known_containers_accepted_for_their_kind(name, tmp_path):
    head, kind = CONTAINERS[name]
    path = tmp_path / "upload.bin"  # the name says nothing: the bytes decide
    path.write_bytes(head + b"\0" * 64)
    assert sniff_container(head + b"\0" * 64) is not None
    assert check_upload_content(resolve_source(str(path)), allowed=kind)
    others = {"audio", "video", "image"} - set(sniff_container(head + b"\0" * 64)[1])
    for other in others:
        with pytest.raises(InvalidInputError, match="^audio_file"):
            check_upload_content(resolve_source(str(path)), argument="audio_file", allowed=other)


@pytest.mark.parametrize("name", sorted(NOT_MEDIA))
@pytest.mark.parametrize("file_name", ["notes.txt", "song.mp3", "track.wav", "noext"])
def test_anything_else_fails_naming_the_argument(name, file_name, tmp_path):
    path = tmp_path / file_name
    path.write_bytes(NOT_MEDIA[name])
    with pytest.raises(InvalidInputError, match=r"^source_path: '.*' is .*; give audio"):
        check_upload_content(resolve_source(str(path)), argument="source_path")


def test_file_objects_and_pipes_are_checked_and_still_sent_whole(tmp_path):
    data = b"ID3\x04\x00" + bytes(range(256)) * 40
    seekable = resolve_source(io.BytesIO(data))
    check_upload_content(seekable)
    with seekable.open() as fobj:
        assert fobj.read() == data

    class Pipe(io.RawIOBase):
        def __init__(self, payload: bytes) -> None:
            self._buf = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, b: Any) -> int:
            chunk = self._buf.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    pipe = resolve_source(io.BufferedReader(Pipe(data)))
    check_upload_content(pipe)
    with pipe.open() as fobj:
        assert fobj.read() == data
    with pytest.raises(InvalidInputError):
        check_upload_content(resolve_source(io.BufferedReader(Pipe(b"plain text" * 10))))


def test_allowed_kinds_are_validated():
    with pytest.raises(InvalidInputError, match="allowed kinds"):
        check_upload_content(resolve_source(io.BytesIO(b"RIFF")), allowed="pdf")


# ---- claim_folder: one winner per name, also under a race ---------------------------------------------------


def test_claim_folder_has_exactly_one_winner_under_a_race(tmp_path):
    import threading

    from airflow_provider_music.core.files import claim_folder, to_storage_path

    for round_ in range(20):
        target = to_storage_path(tmp_path / f"round{round_}" / "out" / "song")
        barrier = threading.Barrier(8)
        wins: list[bool] = []

        def claim(target=target, barrier=barrier, wins=wins) -> None:
            barrier.wait()
            wins.append(claim_folder(target))

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(wins) == [False] * 7 + [True], (round_, wins)


def test_claim_folder_names_the_argument_when_it_cannot_create(tmp_path):
    from airflow_provider_music.core.errors import LocalFileError
    from airflow_provider_music.core.files import claim_folder, to_storage_path

    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(LocalFileError, match="destination"):
        claim_folder(to_storage_path(blocker / "sub"))
