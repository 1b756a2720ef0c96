"""Every upload whose kind the API expects is sniffed before any request, whatever its file name says:
Riffusion cover images (``upload_image``) and ACRCloud identify samples (``data_type="audio"``). A wrong
file is an InvalidInputError naming the argument, and the server never sees a request."""

from __future__ import annotations

import io

import pytest

from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.testing.audio import sine_wav
from tests.support.hooks import make_hook
from tests.support.hostile import HostileServer, json_body

TOKEN = "tok-Content-Gaps-0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
NOT_IMAGES = {
    "text.png": b"just some notes, not a picture\n",
    "html.jpg": b"<!doctype html><html><body>login</body></html>",
    "audio.png": sine_wav(0.05),
    "empty-ish.webp": b"\0\0\0\0",
}
NOT_AUDIO = {
    "text.wav": b"just some notes, not audio\n",
    "image.mp3": PNG,
    "json.m4a": b'{"status": "ok"}',
}


@pytest.mark.parametrize("name", sorted(NOT_IMAGES))
def test_riffusion_upload_image_refuses_what_is_not_an_image(monkeypatch, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(NOT_IMAGES[name])
    with HostileServer() as api:
        api.route("/*", json_body({"image_id": "i1", "url": "https://x/i1.png"}))
        hook = make_hook(monkeypatch, RiffusionHook, api.url + "/v1/", TOKEN)
        with pytest.raises(InvalidInputError, match=r"^source: .*image") as err:
            hook.upload_image(path)
        assert name in str(err.value)
        assert api.requests == []
        path.write_bytes(PNG)  # the same name holding a real PNG goes through
        assert hook.upload_image(path)["image_id"] == "i1"


@pytest.mark.parametrize("name", sorted(NOT_AUDIO))
@pytest.mark.parametrize("given", ["path", "bytes", "file"])
def test_acrcloud_identify_refuses_what_is_not_audio(monkeypatch, tmp_path, name, given):
    path = tmp_path / name
    path.write_bytes(NOT_AUDIO[name])
    sample = {"path": path, "bytes": NOT_AUDIO[name], "file": io.BytesIO(NOT_AUDIO[name])}[given]
    with HostileServer() as api:
        api.route("/*", json_body({"status": {"code": 1001, "msg": "No result"}}))
        extras = {"access_key": "ak-0123456789", "access_secret": "as-0123456789abcdef", "identify_host": api.url}
        hook = make_hook(monkeypatch, AcrCloudHook, api.url + "/", TOKEN, extras)
        with pytest.raises(InvalidInputError, match=r"^sample: .*audio"):
            hook.identify(sample, data_type="audio")
        assert api.requests == []
        assert hook.identify(sine_wav(0.05), data_type="audio")["status"]["code"] == 1001
        assert len(api.requests) == 1
