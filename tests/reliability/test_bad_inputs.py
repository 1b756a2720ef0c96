"""Bad-input table: every wrong input fails fast, with the exact error class, a message that names the
offending argument and what is allowed, and without a single request reaching the (emulated) API.

Each row is ``(id, call, error class, substrings of the message)``; ``call(tmp_path, ctx)`` runs a hook
method or an operator/sensor ``execute`` with the connections pointed at the ``music_emulator``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_music.contract.audioshake import build_task_body
from airflow_provider_music.core import ConfigurationError, InvalidInputError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.operators.acrcloud import (
    AcrCloudDeleteFilesOperator,
    AcrCloudDumpBucketOperator,
    AcrCloudScanFileOperator,
    AcrCloudUploadFileOperator,
)
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.operators.audioshake import (
    AudioShakeStemSeparationOperator,
    AudioShakeUploadOperator,
)
from airflow_provider_music.operators.flowmusic import (
    FlowMusicDownloadOperator,
    FlowMusicEditOperator,
    FlowMusicGenerateOperator,
)
from airflow_provider_music.operators.riffusion import (
    RiffusionComposeOperator,
    RiffusionDownloadOperator,
    RiffusionUploadAudioOperator,
)
from airflow_provider_music.sensors.acrcloud import AcrCloudFileStateSensor
from airflow_provider_music.sensors.audioshake import AudioShakeJobSensor
from airflow_provider_music.sensors.riffusion import RiffusionSongSensor
from airflow_provider_music.testing.audio import sine_wav
from tests.conftest import SECRET_TOKEN

ASSET = "clksq2o6c1506f7ofcyvzpdh8"


def wav(tmp_path, name: str = "song.wav"):
    path = tmp_path / name
    path.write_bytes(sine_wav(0.1, sample_rate=8000))
    return path


def text_file(tmp_path, name: str, content: bytes = b"this is not audio at all, just text\n"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def empty(tmp_path, name: str = "empty.wav"):
    path = tmp_path / name
    path.write_bytes(b"")
    return path


def not_writable(tmp_path):
    """A destination below a regular file: cannot be created, even by root."""
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"x")
    return str(blocker / "out")


def riff() -> RiffusionHook:
    return RiffusionHook()


def acr() -> AcrCloudHook:
    return AcrCloudHook()


def shake() -> Any:
    return AudioShakeHook().jobs  # the legacy Jobs API's endpoints (the emulator connection uses api=jobs)


def execute(op_factory: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    return lambda tmp, ctx: op_factory(tmp).execute(ctx)


T = InvalidInputError
# (id, call(tmp_path, ctx), error class, message substrings)
CASES: list[tuple[str, Callable[[Any, Any], Any], type[Exception], tuple[str, ...]]] = [
    # ---- files -------------------------------------------------------------------------------------
    ("riff-upload-missing-file", lambda t, c: riff().upload_audio(str(t / "nope.wav")), T, ("source", "file not found")),
    ("riff-upload-directory", lambda t, c: riff().upload_audio(str(t)), T, ("source", "not a regular file")),
    ("riff-upload-empty-file", lambda t, c: riff().upload_audio(str(empty(t))), T, ("source", "empty")),
    ("riff-upload-wrong-extension", lambda t, c: riff().upload_audio(str(text_file(t, "notes.txt"))), T,
     ("source", ".mp3, .m4a or .wav")),
    ("riff-upload-wrong-content-type", lambda t, c: riff().upload_audio(str(wav(t)), content_type="text/plain"), T,
     ("content_type", "audio/mpeg")),
    ("riff-upload-mp3-not-audio", lambda t, c: riff().upload_audio(str(text_file(t, "fake.mp3"))), T,
     ("source", "fake.mp3", "audio")),
    ("riff-upload-text-file-object", lambda t, c: riff().upload_audio(io.StringIO("x")), T, ("source", "binary")),
    ("riff-upload-file-name-too-long", lambda t, c: riff().upload_audio(str(wav(t)), file_name="n" * 256), T,
     ("file_name", "at most 255")),
    ("riff-upload-op-not-audio", execute(lambda t: RiffusionUploadAudioOperator(
        task_id="u", source=str(text_file(t, "fake.wav")))), T, ("source", "not", "audio", "WAV")),
    ("acr-upload-missing-file", lambda t, c: acr().upload_file(1, data_type="audio", source=str(t / "x.mp3")), T,
     ("source", "file not found")),
    ("acr-upload-empty-file", lambda t, c: acr().upload_file(1, data_type="audio", source=str(empty(t))), T,
     ("source", "empty")),
    ("acr-upload-mp3-not-audio", lambda t, c: acr().upload_file(1, data_type="audio", source=str(text_file(t, "a.mp3"))),
     T, ("source", "not", "audio", "MP3")),
    ("acr-scan-op-wav-not-audio", execute(lambda t: AcrCloudScanFileOperator(
        task_id="s", source=str(text_file(t, "gen.wav")), container_id=5)), T, ("source", "not", "audio")),
    ("shake-upload-op-missing-file", execute(lambda t: AudioShakeUploadOperator(
        task_id="u", source=str(t / "gone.wav"))), T, ("source", "file not found")),
    ("shake-upload-mp3-not-audio", lambda t, c: shake().upload_file(str(text_file(t, "x.mp3"))), T,
     ("source", "x.mp3", "audio")),
    ("shake-stems-op-empty-source", execute(lambda t: AudioShakeStemSeparationOperator(
        task_id="s", source=str(empty(t)), destination=str(t / "o"))), T, ("source", "empty")),
    # ---- models, formats, languages ------------------------------------------------------------------
    ("shake-unknown-stem", lambda t, c: shake().create_job(ASSET, name="kazoo", format="wav"), T,
     ("name", "must be one of", "vocals")),
    ("shake-op-unknown-stem", execute(lambda t: AudioShakeStemSeparationOperator(
        task_id="s", source=ASSET, stems=["vocals", "kazoo"], destination=str(t))), T, ("stems", "vocals", "kazoo")),
    ("shake-stem-wrong-format", lambda t, c: shake().create_job(ASSET, name="vocals", format="ogg"), T,
     ("format", "'vocals'", "wav", "flac")),
    ("shake-lyrics-audio-format", lambda t, c: shake().create_job(ASSET, name="transcription", format="wav"), T,
     ("format", "'transcription'", "json", "srt")),
    ("shake-op-lyrics-format", execute(lambda t: AudioShakeStemSeparationOperator(
        task_id="s", source=ASSET, stems=["alignment"], lyrics_format="mp3", destination=str(t))), T,
     ("lyrics_format", "json", "txt")),
    ("shake-tasks-target-format", lambda t, c: build_task_body(ASSET, [{"model": "drums", "formats": ["json"]}]),
     T, ("targets[0].formats", "wav")),
    ("shake-bad-language", lambda t, c: shake().create_job(ASSET, name="transcription", format="json", language="english"),
     T, ("language", "2-letter", "auto")),
    ("shake-unknown-language", lambda t, c: shake().create_job(ASSET, name="alignment", format="json", language="xx"),
     T, ("language", "must be one of", "en")),
    ("shake-language-on-stem", lambda t, c: shake().create_job(ASSET, name="vocals", format="wav", language="en"), T,
     ("language", "transcription/alignment")),
    # ---- numeric ranges ------------------------------------------------------------------------------
    ("riff-max-jobs-high", lambda t, c: riff().create_prompt("x", max_jobs=11), T, ("max_jobs", "between 1 and 10")),
    ("riff-max-jobs-zero", execute(lambda t: RiffusionComposeOperator(task_id="c", prompt="x", max_jobs=0)), T,
     ("max_jobs", "between 1 and 10")),
    ("riff-strength-low", lambda t, c: riff().create_compose([{"prompt": "x", "strength": 10}]), T,
     ("prompt_1_strength", "between 20 and 100")),
    ("riff-start-after-end", lambda t, c: riff().create_compose([{"prompt": "x", "start": 60, "end": 40}]), T,
     ("prompt_1_start", "lower than", "prompt_1_end")),
    ("riff-lyrics-weirdness", execute(lambda t: RiffusionComposeOperator(
        task_id="c", mode="compose", prompts=["x"], lyrics_weirdness=101)), T, ("lyrics_weirdness", "between 0 and 100")),
    ("riff-strength-not-int", lambda t, c: riff().create_compose([{"prompt": "x", "strength": "loud"}]), T,
     ("prompt_1_strength", "integer between 20 and 100")),
    ("shake-max-track-length", lambda t, c: shake().create_job(ASSET, name="vocals", format="wav", max_track_length=10),
     T, ("max_track_length", ">= 20")),
    ("shake-watermark-interval", lambda t, c: shake().create_job(ASSET, name="vocals", format="wav",
                                                                 watermark_interval=5), T, ("watermark_interval", ">= 10")),
    ("shake-op-job-options-typo", execute(lambda t: AudioShakeStemSeparationOperator(
        task_id="s", source=ASSET, stems=["vocals"], job_options={"max_track_lenght": 60}, destination=str(t))), T,
     ("job_options", "max_track_lenght", "max_track_length")),
    ("shake-too-many-targets", lambda t, c: build_task_body(ASSET, [{"model": "vocals", "formats": ["wav"]}] * 21),
     T, ("targets", "at most 20")),
    ("acr-sync-concurrency", execute(lambda t: AcrCloudCatalogSyncOperator(task_id="s", catalog=str(t), concurrency=0)),
     T, ("concurrency", "1 to 32")),
    ("acr-upload-op-poll-interval", execute(lambda t: AcrCloudUploadFileOperator(
        task_id="u", source=str(wav(t)), bucket_id=1, poll_interval=0)), T, ("poll_interval", "> 0")),
    # ---- strings over their limits -------------------------------------------------------------------
    ("riff-reply-url-too-long", lambda t, c: riff().create_prompt("x", reply_url="https://a.example/" + "p" * 1024), T,
     ("reply_url", "at most 1024")),
    ("riff-reply-url-scheme", lambda t, c: riff().create_prompt("x", reply_url="ftp://a.example/cb"), T,
     ("reply_url", "http(s)")),
    ("riff-title-too-long", lambda t, c: riff().create_compose(["x"], title="t" * 201), T, ("title", "at most 200")),
    ("riff-too-many-prompts", lambda t, c: riff().create_compose(["a", "b", "c", "d"]), T, ("prompts", "1 to 3")),
    ("riff-prompt-unknown-key", lambda t, c: riff().create_compose([{"prompt": "a", "weight": 3}]), T,
     ("prompt_1", "weight", "allowed: prompt, strength, start, end")),
    ("riff-op-empty-prompt", execute(lambda t: RiffusionComposeOperator(task_id="c", prompt="  ")), T, ("prompt",)),
    ("shake-custom-property", lambda t, c: shake().create_job(ASSET, name="vocals", format="wav",
                                                             custom_property="p" * 1001), T,
     ("custom_property", "at most 1000")),
    # ---- ACRCloud data types, user_defined, ids ------------------------------------------------------
    ("acr-unknown-data-type", lambda t, c: acr().upload_file(1, data_type="video", source=str(wav(t))), T,
     ("data_type", "audio, fingerprint, audio_url, acrid")),
    ("acr-audio-without-file", lambda t, c: acr().upload_file(1, data_type="audio"), T, ("source", "required")),
    ("acr-audio-url-without-url", lambda t, c: acr().upload_file(1, data_type="audio_url"), T,
     ("url", "http, https or ftp")),
    ("acr-acrid-without-acrid", lambda t, c: acr().upload_file(1, data_type="acrid"), T, ("acrid", "required")),
    ("acr-op-acrid-without-acrid", execute(lambda t: AcrCloudUploadFileOperator(
        task_id="u", bucket_id=1, data_type="acrid")), T, ("acrid", "required")),
    ("acr-user-defined-not-json", lambda t, c: acr().upload_file(1, data_type="acrid", acrid="a" * 32,
                                                                 user_defined="{isrc: X"), T,
     ("user_defined", "JSON", "dict")),
    ("acr-user-defined-list", lambda t, c: acr().update_file(1, 2, user_defined=[1, 2]), T,
     ("user_defined", "dict (JSON object)")),
    ("acr-op-user-defined-not-json", execute(lambda t: AcrCloudUploadFileOperator(
        task_id="u", bucket_id=1, source=str(wav(t)), user_defined="not json")), T, ("user_defined", "JSON")),
    ("acr-empty-id-list", lambda t, c: acr().get_files(1, []), T, ("ids", "at least one")),
    ("acr-op-delete-empty-ids", execute(lambda t: AcrCloudDeleteFilesOperator(task_id="d", bucket_id=1, ids="")), T,
     ("ids", "at least one")),
    ("acr-malformed-id", lambda t, c: acr().get_files(1, "12,../13"), T, ("ids", "'../13'", "digits, letters")),
    ("acr-bucket-not-int", lambda t, c: acr().list_files("abc"), T, ("bucket_id", "positive integer")),
    ("acr-sensor-empty-ids", execute(lambda t: AcrCloudFileStateSensor(task_id="s", bucket_id=1, ids=[])), T,
     ("ids", "at least one")),
    ("acr-region", lambda t, c: acr().create_fs_container("c", region="mars-1", buckets=[1]), T,
     ("region", "eu-west-1")),
    ("acr-identify-data-type", lambda t, c: acr().identify(str(wav(t)), data_type="video"), T,
     ("data_type", "'audio' or 'fingerprint'")),
    ("riff-sensor-empty-ids", execute(lambda t: RiffusionSongSensor(task_id="s", job_ids=[])), T,
     ("job_ids", "non-empty list")),
    ("riff-malformed-id", lambda t, c: riff().get_music("abc/../def"), T, ("job_or_song_id", "'/'")),
    ("riff-download-op-malformed-id", execute(lambda t: RiffusionDownloadOperator(
        task_id="d", song_ids=["ok-id", "bad?id"], destination=str(t))), T, ("song_ids[1]", "'?'")),
    ("shake-sensor-malformed-id", execute(lambda t: AudioShakeJobSensor(task_id="s", job_ids="ab")), T,
     ("job_ids", "3 to 60 characters")),
    ("shake-sensor-no-ids", execute(lambda t: AudioShakeJobSensor(task_id="s", job_ids=[])), T,
     ("job_ids", "audioshake_task_id")),
    ("shake-asset-id-malformed", lambda t, c: shake().create_job("short", name="vocals", format="wav"), T,
     ("asset_id", "8 to 30 characters")),
    # ---- destinations --------------------------------------------------------------------------------
    ("riff-download-dest-not-writable", execute(lambda t: RiffusionDownloadOperator(
        task_id="d", song_ids=["abc"], destination=not_writable(t))), T, ("destination", "not a directory")),
    ("acr-dump-dest-not-writable", execute(lambda t: AcrCloudDumpBucketOperator(
        task_id="d", bucket_id=1, destination=not_writable(t) + "/")), T, ("destination", "not a directory")),
    ("shake-stems-dest-not-writable", execute(lambda t: AudioShakeStemSeparationOperator(
        task_id="s", source=ASSET, destination=not_writable(t))), T, ("destination", "not a directory")),
    # ---- FlowMusic -------------------------------------------------------------------------------------
    ("flow-upload-gif", lambda t, c: FlowMusicHook().upload_file(str(text_file(t, "a.gif", b"GIF89a"))), T,
     ("source", ".jpg, .png, .webp")),
    ("flow-upload-wav-not-audio", lambda t, c: FlowMusicHook().upload_file(str(text_file(t, "fake.wav"))), T,
     ("source", "fake.wav")),
    ("flow-upload-empty", lambda t, c: FlowMusicHook().upload_file(str(empty(t))), T, ("source", "empty")),
    ("flow-jobid-traversal", lambda t, c: FlowMusicHook().get_job("job:../x/y"), T, ("jobid",)),
    ("flow-generate-nan-poll", execute(lambda t: FlowMusicGenerateOperator(
        task_id="g", prompt="x", poll_interval=float("nan"))), T, ("poll_interval",)),
    ("flow-generate-lyrics-and-instrumental", execute(lambda t: FlowMusicGenerateOperator(
        task_id="g", prompt="x", lyrics="[Verse] la", instrumental="true")), T, ("instrumental", "lyrics")),
    ("flow-edit-strength-range", execute(lambda t: FlowMusicEditOperator(
        task_id="e", operation="cover", clip="user:1-clip:x", edit_params={"strength": "1.5"})), T, ("strength", "1")),
    ("flow-download-dest-not-writable", execute(lambda t: FlowMusicDownloadOperator(
        task_id="d", clips="job:1", destination=not_writable(t))), T, ("destination", "not a directory")),
]


@pytest.mark.parametrize(("call", "error", "parts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_fast_without_requests(music_emulator, make_context, tmp_path, call, error, parts):
    with pytest.raises(Exception) as info:
        call(tmp_path, make_context())
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    assert SECRET_TOKEN not in message and "emulator-token" not in message
    assert dict(music_emulator.state.request_counts) == {}, "a request reached the API"


def test_table_is_large_enough():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(music_emulator, tmp_path):
    path = wav(tmp_path)
    path.chmod(0)
    try:
        with pytest.raises(InvalidInputError, match="source: file is not readable"):
            RiffusionHook().upload_audio(str(path))
    finally:
        path.chmod(0o600)
    assert dict(music_emulator.state.request_counts) == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write any folder")
def test_destination_without_write_permission(music_emulator, make_context, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InvalidInputError, match="destination: .* is not writable"):
            RiffusionDownloadOperator(task_id="d", song_ids=["abc"], destination=str(folder / "x")).execute(make_context())
    finally:
        folder.chmod(0o700)
    assert dict(music_emulator.state.request_counts) == {}


# ---- connections -------------------------------------------------------------------------------------
CONNECTION_CASES = [
    ("riffusion", lambda cid, t: RiffusionComposeOperator(task_id="c", prompt="x", riffusion_conn_id=cid)),
    ("acrcloud", lambda cid, t: AcrCloudUploadFileOperator(task_id="u", bucket_id=1, source=str(wav(t)),
                                                          acrcloud_conn_id=cid)),
    ("audioshake", lambda cid, t: AudioShakeStemSeparationOperator(task_id="s", source=ASSET, destination=str(t),
                                                                  audioshake_conn_id=cid)),
    ("flowmusic", lambda cid, t: FlowMusicGenerateOperator(task_id="g", prompt="x", flowmusic_conn_id=cid)),
]


@pytest.mark.parametrize(("conn_type", "factory"), CONNECTION_CASES, ids=[c[0] for c in CONNECTION_CASES])
def test_missing_connection(music_emulator, make_context, tmp_path, conn_type, factory):
    with pytest.raises(ConfigurationError) as info:
        factory("music_missing_conn", tmp_path).execute(make_context())
    assert type(info.value) is ConfigurationError
    assert "'music_missing_conn' is not defined" in str(info.value)
    assert "AIRFLOW_CONN_MUSIC_MISSING_CONN" in str(info.value)
    assert dict(music_emulator.state.request_counts) == {}


@pytest.mark.parametrize(("conn_type", "factory"), CONNECTION_CASES, ids=[c[0] for c in CONNECTION_CASES])
def test_connection_without_token(music_emulator, monkeypatch, make_context, tmp_path, conn_type, factory):
    extra = {"api": "jobs"} if conn_type == "audioshake" else {}
    monkeypatch.setenv("AIRFLOW_CONN_NO_TOKEN", json.dumps(
        {"conn_type": conn_type, "host": music_emulator.url + "/", "extra": extra}))
    with pytest.raises(ConfigurationError) as info:
        factory("no_token", tmp_path).execute(make_context())
    assert type(info.value) is ConfigurationError
    assert "'no_token' has no API token" in str(info.value) and "password" in str(info.value)
    assert dict(music_emulator.state.request_counts) == {}
