"""A rejected upload names what the file looks like, never what it contains (issue 19 §5).

A secrets file passed by mistake was rejected with ``it starts with 'export AIRFLOW_H'``: the error (task
log, UI) carried the file's first bytes. The class under test: for every content kind a check can refuse
(text, scripts, JSON, HTML, archives, binary noise, images where audio is wanted, empty files) and for
every upload path of every hook and operator, no piece of the content is in the error.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_music.core.content import check_upload_content, describe_content
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.core.files import resolve_source

SECRETS_FILE = b"export AIRFLOW_HOME=/srv/af\nexport AIRFLOW_CONN_X='x://:hunter2pass@db'\nTOKEN=zq9XwV\n"
CONTENTS: dict[str, bytes] = {
    "secrets_env": SECRETS_FILE,
    "shell_script": b"#!/bin/sh\nexec curl -H 'Authorization: Bearer abcd1234' https://x\n",
    "json": json.dumps({"api_key": "k-77xq-secret", "user": "jane"}).encode(),
    "html": b"<!DOCTYPE html><html><body>Forbidden: session qwerty42</body></html>",
    "xml": b"<?xml version='1.0'?><creds><pw>xyzzy-99</pw></creds>",
    "pem": b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
    "zip": b"PK\x03\x04\x14\x00secret-name.txtSECRETDATA",
    "gzip": b"\x1f\x8b\x08\x00hidden-gz-bytes",
    "pdf": b"%PDF-1.7\n%\xe2\xe3 confidential-report",
    "binary": bytes(range(7, 250, 3)) * 3,
    "utf8_text": "password=ünïcode-secret\n".encode(),
    "png_for_audio": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDRpixelsecret",
    "empty": b"",
    "short": b"pw=x",
}


def _pieces(content: bytes) -> set[str]:
    """Every 4+ character run of the content as text (raw, escaped), which an error must not quote."""
    text = content.decode("latin-1")
    escaped = text.encode("unicode_escape").decode("ascii")
    runs = set(re.findall(r"[\x20-\x7e]{4,}", text)) | set(re.findall(r"[\x20-\x7e]{6,}", escaped))
    return {r for r in runs if r.strip() and not r.isdigit()}


def _assert_no_content(message: str, content: bytes) -> None:
    allowed = {"file", "text", "data"}  # words our own message may use
    leaked = sorted(p for p in _pieces(content) if p in message and p.lower().strip() not in allowed)
    assert not leaked, f"content quoted in the error: {leaked} in {message!r}"


@pytest.mark.parametrize("kinds", ["audio", "video", "image", ("audio", "video")])
@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_a_refused_upload_names_a_type_never_the_content(tmp_path, name, kinds):
    content = CONTENTS[name]
    if kinds == "image" and name == "png_for_audio":
        return  # a PNG is an image
    path = tmp_path / "song.wav"
    path.write_bytes(content)
    for source in (path, io.BytesIO(content)):
        with pytest.raises(InvalidInputError) as caught:
            check_upload_content(resolve_source(source), allowed=kinds)
        message = str(caught.value)
        _assert_no_content(message, content)
        assert "starts with" not in message
        assert re.search(r"\b(is|looks like)\b", message), message


def test_the_description_names_the_detected_type():
    assert describe_content(SECRETS_FILE) == "text"
    assert describe_content(CONTENTS["json"]) == "JSON text"
    assert describe_content(CONTENTS["html"]) == "an HTML page"
    assert describe_content(CONTENTS["pem"]) == "a PEM key or certificate"
    assert describe_content(CONTENTS["zip"]) == "a ZIP archive"
    assert describe_content(CONTENTS["gzip"]) == "gzip data"
    assert describe_content(CONTENTS["pdf"]) == "a PDF document"
    assert describe_content(b"") == "empty"
    assert describe_content(CONTENTS["binary"]) == "binary data of an unknown format"


# ---- every upload path of every hook and operator ----------------------------------------------------
def _paths(music_emulator: Any, tmp_path: Path) -> dict[str, Callable[[Path], Any]]:
    from airflow_provider_music.hooks.acrcloud import AcrCloudHook
    from airflow_provider_music.hooks.audioshake import AudioShakeHook, AudioShakeTasksHook
    from airflow_provider_music.hooks.flowmusic import FlowMusicHook
    from airflow_provider_music.hooks.riffusion import RiffusionHook
    from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator

    def stems(path: Path) -> Any:
        op = AudioShakeStemSeparationOperator(task_id="s", source=str(path), destination=str(tmp_path / "out"))
        return op.validate()

    return {
        "acrcloud.upload_file": lambda p: AcrCloudHook().upload_file("1", data_type="audio", source=p),
        "acrcloud.identify": lambda p: AcrCloudHook().identify(p),
        "acrcloud_fs.upload_fs_file": lambda p: AcrCloudHook().upload_fs_file("1", source=p),
        "audioshake.jobs.upload": lambda p: AudioShakeHook().backend.upload(p),
        "audioshake.tasks.upload": lambda p: AudioShakeTasksHook().backend.upload(p),
        "riffusion.upload_audio": lambda p: RiffusionHook().upload_audio(p),
        "riffusion.upload_image": lambda p: RiffusionHook().upload_image(p, content_type="image/png"),
        "flowmusic.upload_file": lambda p: FlowMusicHook().upload_file(p, content_type="audio/wav"),
        "audioshake.operator.validate": stems,
    }


def test_every_upload_path_refuses_a_secrets_file_without_quoting_it(music_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_TASKS_DEFAULT", json.dumps(
        {"conn_type": "audioshake_tasks", "host": music_emulator.url + "/", "password": music_emulator.token}))
    monkeypatch.setattr("airflow_provider_music.hooks.audioshake.AudioShakeTasksHook.default_conn_name",
                        "audioshake_tasks_default")
    path = tmp_path / "song.wav"
    path.write_bytes(SECRETS_FILE)
    os.utime(path)
    before = sum(music_emulator.state.request_counts.values())
    for label, upload in _paths(music_emulator, tmp_path).items():
        with pytest.raises(InvalidInputError) as caught:
            upload(path)
        _assert_no_content(str(caught.value), SECRETS_FILE)
        assert "export" not in str(caught.value) and "AIRFLOW_H" not in str(caught.value), label
        assert "looks like text" in str(caught.value), f"{label} refused it for another reason: {caught.value}"
    assert sum(music_emulator.state.request_counts.values()) == before, "a refused file was sent"
