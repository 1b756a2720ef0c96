"""The shared HTTP core: settings, retries, error mapping, uploads, downloads, secrets."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from airflow_provider_music import core
from airflow_provider_music.core import (
    ApiConnectionError,
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    MusicApiHook,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from tests.conftest import SECRET_TOKEN

BASE = "http://api.test/v1/"


class DemoHook(MusicApiHook):
    conn_name_attr = "demo_conn_id"
    default_conn_name = "demo_default"
    conn_type = "demo"
    hook_name = "Demo"
    default_base_url = "https://demo.example/v1/"


@pytest.fixture
def hook(set_connection):
    set_connection("demo_default", "demo", host=BASE, extra={"retry_limit": "4", "timeout": "7"})
    return DemoHook()


# ---- settings ----------------------------------------------------------------------------------
def test_settings_from_json_connection(hook):
    s = hook.settings
    assert s.base_url == BASE
    assert s.token == SECRET_TOKEN
    assert s.read_timeout == 7.0 and s.connect_timeout == 10.0
    assert s.retry.max_attempts == 4
    assert SECRET_TOKEN not in repr(s)


def test_settings_from_uri_host_port_schema(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DEMO_DEFAULT", "demo://:tok@127.0.0.1:8080/v1%2Friffusion?scheme=http&timeout=3")
    s = DemoHook().settings
    assert s.base_url == "http://127.0.0.1:8080/v1/riffusion/"
    assert s.read_timeout == 3.0


def test_default_base_url_when_no_host(set_connection):
    set_connection("demo_default", "demo", host=None)
    assert DemoHook().settings.base_url == "https://demo.example/v1/"


def test_legacy_prefixed_extras_and_base_url_extra(set_connection):
    set_connection("demo_default", "demo", extra={"extra__demo__timeout": "9", "base_url": "http://x.test/api"})
    s = DemoHook().settings
    assert s.read_timeout == 9.0 and s.base_url == "http://x.test/api/"


def test_missing_token_is_configuration_error(set_connection, requests_mock):
    set_connection("demo_default", "demo", host=BASE, password=None)
    with pytest.raises(ConfigurationError, match="no API token"):
        DemoHook().request_json("GET", "ping")
    assert requests_mock.call_count == 0


def test_missing_connection_is_configuration_error(requests_mock):
    with pytest.raises(ConfigurationError, match="not defined"):
        DemoHook(conn_id="nope_conn").request_json("GET", "ping")
    assert requests_mock.call_count == 0


def test_bad_extra_number(set_connection):
    set_connection("demo_default", "demo", extra={"timeout": "soon"})
    with pytest.raises(ConfigurationError, match="'timeout' must be a number"):
        DemoHook().settings


# ---- requests, headers, timeouts --------------------------------------------------------------
def test_auth_header_timeout_and_keepalive_session(hook, requests_mock, monkeypatch):
    requests_mock.get(BASE + "ping", json={"ok": True})
    seen = {}
    real = requests.Session.request

    def spy(self, method, url, **kwargs):
        seen["timeout"] = kwargs["timeout"]
        return real(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    assert hook.request_json("GET", "ping") == {"ok": True}
    assert hook.request_json("GET", "/ping") == {"ok": True}
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"
    assert seen["timeout"] == (10.0, 7.0)
    assert hook.get_conn() is hook.get_conn()


def test_token_not_sent_to_other_origins(hook, requests_mock, tmp_path):
    requests_mock.get("https://cdn.other.test/file.wav?sig=abc", content=b"RIFF1234")
    hook.download("https://cdn.other.test/file.wav?sig=abc", tmp_path / "f.wav")
    assert "Authorization" not in requests_mock.last_request.headers


# ---- retries -----------------------------------------------------------------------------------
def test_retry_429_honours_retry_after_seconds(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "jobs", [
        {"status_code": 429, "headers": {"Retry-After": "7"}, "json": {"error": "slow down"}},
        {"status_code": 200, "json": [1]},
    ])
    assert hook.request_json("GET", "jobs") == [1]
    assert requests_mock.call_count == 2
    assert 7.0 <= instant_retries[0] <= 8.0


def test_retry_429_honours_retry_after_http_date(hook, requests_mock, instant_retries):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    requests_mock.get(BASE + "jobs", [{"status_code": 429, "headers": {"Retry-After": when}}, {"json": []}])
    hook.request_json("GET", "jobs")
    assert 15 <= instant_retries[0] <= 22


def test_retry_429_without_retry_after_backs_off_exponentially(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "jobs", [{"status_code": 429}] * 3 + [{"json": []}])
    hook.request_json("GET", "jobs")
    assert len(instant_retries) == 3
    assert 1 <= instant_retries[0] <= 2 and 2 <= instant_retries[1] <= 3 and 4 <= instant_retries[2] <= 5


def test_retry_5xx_then_success(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "jobs", [{"status_code": 502, "text": "<html>bad gateway</html>"}, {"json": {"a": 1}}])
    assert hook.request_json("GET", "jobs") == {"a": 1}
    assert len(instant_retries) == 1


def test_retry_connection_error_then_success(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "jobs", [{"exc": requests.exceptions.ConnectionError("reset")}, {"json": {}}])
    assert hook.request_json("GET", "jobs") == {}
    assert requests_mock.call_count == 2


def test_gives_up_after_bound(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "jobs", status_code=503, json={"error": "maintenance"})
    with pytest.raises(ServerError, match="GET /v1/jobs failed with HTTP 503: maintenance"):
        hook.request_json("GET", "jobs")
    assert requests_mock.call_count == 4  # retry_limit from the connection
    assert len(instant_retries) == 3


def test_gives_up_when_total_time_would_be_exceeded(set_connection, requests_mock, instant_retries):
    set_connection("demo_default", "demo", host=BASE, extra={"retry_limit": 50, "retry_total_timeout": 0})
    requests_mock.get(BASE + "jobs", status_code=500)
    with pytest.raises(ServerError):
        DemoHook().request_json("GET", "jobs")
    assert requests_mock.call_count == 1


@pytest.mark.parametrize("status,exc", [(400, ValidationError), (401, AuthenticationError), (403, AuthenticationError),
                                        (404, NotFoundError), (422, ValidationError), (402, ClientRequestError)])
def test_no_retry_on_client_errors(hook, requests_mock, instant_retries, status, exc):
    requests_mock.get(BASE + "jobs", status_code=status, json={"error": "nope", "code": status})
    with pytest.raises(exc):
        hook.request_json("GET", "jobs")
    assert requests_mock.call_count == 1
    assert instant_retries == []


def test_non_idempotent_post_not_retried_after_500(hook, requests_mock):
    requests_mock.post(BASE + "create", status_code=500, json={"error": "boom"})
    with pytest.raises(ServerError) as info:
        hook.request_json("POST", "create", json_body={"prompt": "x"})
    assert requests_mock.call_count == 1
    assert info.value.request_may_have_been_processed is True


def test_non_idempotent_post_retried_after_429_and_503(hook, requests_mock):
    requests_mock.post(BASE + "create", [{"status_code": 429}, {"status_code": 503}, {"json": {"job_id": "j1"}}])
    assert hook.request_json("POST", "create", json_body={}) == {"job_id": "j1"}
    assert requests_mock.call_count == 3


def test_non_idempotent_post_retried_after_connect_error_only(hook, requests_mock):
    requests_mock.post(BASE + "create", [{"exc": requests.exceptions.ConnectTimeout("no route")}, {"json": {"ok": 1}}])
    assert hook.request_json("POST", "create", json_body={}) == {"ok": 1}
    requests_mock.post(BASE + "create2", [{"exc": requests.exceptions.ReadTimeout("slow")}, {"json": {"ok": 1}}])
    with pytest.raises(ApiConnectionError) as info:
        hook.request_json("POST", "create2", json_body={})
    assert info.value.request_may_have_been_processed


def test_truncated_json_and_html_success_bodies(hook, requests_mock, instant_retries):
    requests_mock.get(BASE + "a", [{"text": '{"id": 1'}, {"text": "<!DOCTYPE html><p>oops"}, {"json": {"id": 1}}])
    assert hook.request_json("GET", "a") == {"id": 1}
    requests_mock.get(BASE + "b", text="<html>proxy</html>")
    with pytest.raises(InvalidResponseError, match="expected JSON, got an HTML page"):
        hook.request_json("GET", "b")


# ---- error mapping -----------------------------------------------------------------------------
def test_error_message_has_method_path_status_api_message_and_no_query(hook, requests_mock):
    requests_mock.get(BASE + "music/", status_code=400, json={"error": "limit must be <= 100", "code": 400})
    with pytest.raises(ValidationError) as info:
        hook.request_json("GET", "music/", params={"user_id": "u1", "limit": 500})
    msg = str(info.value)
    assert msg == "GET /v1/music/ failed with HTTP 400: limit must be <= 100"
    assert info.value.status == 400 and info.value.api_message == "limit must be <= 100"


def test_laravel_validation_errors_are_carried(hook, requests_mock):
    requests_mock.post(BASE + "files", status_code=422,
                       json={"message": "The given data was invalid.", "errors": {"data_type": ["is invalid"]}})
    with pytest.raises(ValidationError) as info:
        hook.request_json("POST", "files", json_body={})
    assert info.value.field_errors == {"data_type": ["is invalid"]}
    assert "data_type" in str(info.value)


def test_error_classes_fail_without_airflow_retries():
    from airflow.providers.common.compat.sdk import AirflowFailException

    for cls in (AuthenticationError, ValidationError, InvalidInputError, ConfigurationError, ClientRequestError):
        assert issubclass(cls, AirflowFailException)
    for cls in (ServerError, RateLimitError, ApiConnectionError, NotFoundError):
        assert not issubclass(cls, AirflowFailException)
    assert issubclass(InvalidInputError, ValueError)


def test_retry_after_parsing():
    assert core.parse_retry_after("3") == 3.0
    assert core.parse_retry_after("-5") == 0.0
    assert core.parse_retry_after("soon") is None
    assert core.parse_retry_after(None) is None


def test_retry_policy_caps_retry_after():
    policy = RetryPolicy(max_retry_after=10)
    assert policy.compute_wait(1, RateLimitError("x", retry_after=3600)) <= 11


# ---- uploads -----------------------------------------------------------------------------------
def test_upload_raw_streams_file_and_retries_with_fresh_body(hook, requests_mock, tmp_path):
    src = tmp_path / "song.wav"
    src.write_bytes(b"RIFF" + b"x" * 1000)
    bodies = []

    def record(request, context):
        body = request.body.read() if hasattr(request.body, "read") else request.body
        bodies.append(body)
        if len(bodies) == 1:
            context.status_code = 503
            return ""
        return json.dumps({"id": "u1"})

    requests_mock.post(BASE + "upload", text=record)
    source = core.resolve_source(str(src))
    assert hook.upload_raw("POST", "upload", source, content_type="audio/wav") == {"id": "u1"}
    assert bodies[0] == bodies[1] == src.read_bytes()
    assert requests_mock.last_request.headers["Content-Type"] == "audio/wav"
    assert requests_mock.last_request.headers["Content-Length"] == str(src.stat().st_size)


def test_upload_multipart_fields_and_file(hook, requests_mock, tmp_path):
    src = tmp_path / "a.mp3"
    src.write_bytes(b"ID3" + b"\x00" * 100)
    captured = {}

    def record(request, context):
        captured["body"] = request.body.read() if hasattr(request.body, "read") else request.body
        return json.dumps({"data": {"id": 1}})

    requests_mock.post(BASE + "files", text=record)
    hook.upload_multipart("POST", "files", fields={"title": "A", "data_type": "audio"}, file_field="file",
                          source=core.resolve_source(src), content_type="audio/mpeg")
    req = requests_mock.last_request
    body = captured["body"]
    assert b'name="title"' in body and b"A" in body and b'filename="a.mp3"' in body
    assert req.headers["Content-Type"].startswith("multipart/form-data; boundary=")


@pytest.mark.parametrize("make,message", [
    (lambda p: str(p / "missing.wav"), "file not found"),
    (lambda p: str(p), "not a regular file"),
    (lambda p: (p / "empty.wav").write_bytes(b"") or str(p / "empty.wav"), "file is empty"),
    (lambda p: None, "source is required"),
    (lambda p: io.StringIO("text"), "binary mode"),
])
def test_resolve_source_rejects_bad_input(tmp_path, make, message):
    with pytest.raises(InvalidInputError, match=message):
        core.resolve_source(make(tmp_path))


def test_resolve_source_object_storage_and_file_object(tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    f = tmp_path / "x.wav"
    f.write_bytes(b"12345")
    src = core.resolve_source(ObjectStoragePath(f"file://{f}"))
    assert src.size == 5 and src.name == "x.wav"
    with src.open() as fh:
        assert fh.read() == b"12345"
    buf = io.BytesIO(b"abcdef")
    buf.seek(2)
    fsrc = core.resolve_source(buf)
    assert fsrc.size == 4 and not fsrc.reopenable
    with fsrc.open() as fh:
        assert fh.read() == b"cdef"
    with fsrc.open() as fh:
        assert fh.read() == b"cdef"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.wav", "x.wav"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\evil.wav", "evil.wav"),
        ("..", "vocals.wav"),
        ("", "vocals.wav"),
        (None, "vocals.wav"),
        ("a\x00b.wav", "ab.wav"),
        (".hidden.wav", "hidden.wav"),
        ("C:\\temp\\y.wav", "y.wav"),
        ("ok name.wav", "ok name.wav"),
    ],
)
def test_safe_file_name(name, expected):
    assert core.safe_file_name(name, "vocals.wav") == expected


def test_safe_file_name_caps_length_and_keeps_extension():
    name = core.safe_file_name("x" * 500 + ".wav")
    assert len(name) == 200 and name.endswith(".wav")



def test_ensure_writable_destination(tmp_path):
    assert core.ensure_writable_destination(tmp_path / "new" / "dir").path.endswith("new/dir")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidInputError, match="not a directory"):
        core.ensure_writable_destination(blocker / "sub")


# ---- downloads ---------------------------------------------------------------------------------
def test_download_writes_final_file(hook, requests_mock, tmp_path):
    requests_mock.get(BASE + "dl", content=b"A" * 5000, headers={"Content-Length": "5000"})
    dest = hook.download("dl", tmp_path / "out" / "a.wav")
    assert (tmp_path / "out" / "a.wav").read_bytes() == b"A" * 5000
    assert str(dest).endswith("a.wav")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.wav"]


def test_interrupted_download_leaves_no_file(hook, requests_mock, tmp_path, instant_retries):
    class Broken(io.BytesIO):
        def read(self, *args, **kwargs):
            data = super().read(*args, **kwargs)
            if not data:
                raise requests.exceptions.ChunkedEncodingError("connection broken mid-body")
            return data

    requests_mock.get(BASE + "dl", body=Broken(b"B" * 100), headers={"Content-Length": "100000"})
    with pytest.raises((ApiConnectionError, InvalidResponseError)):
        hook.download("dl", tmp_path / "a.wav")
    assert list(tmp_path.iterdir()) == []
    assert requests_mock.call_count == 4  # retried, each attempt cleaned up


def test_short_download_is_rejected(hook, requests_mock, tmp_path):
    requests_mock.get(BASE + "dl", content=b"C" * 10, headers={"Content-Length": "20"})
    with pytest.raises(InvalidResponseError, match="incomplete download"):
        hook.download("dl", tmp_path / "c.wav")
    assert list(tmp_path.iterdir()) == []


# ---- secrets -----------------------------------------------------------------------------------
def test_token_absent_from_logs_errors_and_results(hook, requests_mock, caplog, capsys, tmp_path):
    caplog.set_level(logging.DEBUG)
    # requests_mock's own DEBUG line (test scaffolding; Airflow 3.0 also prints it to stderr) is not ours
    caplog.set_level(logging.WARNING, logger="requests_mock")
    seen: list[str] = []
    requests_mock.get(BASE + "ok", json={"fine": True})
    requests_mock.get(BASE + "retry", [{"status_code": 429}, {"status_code": 500}, {"json": {}}])
    requests_mock.get(BASE + "auth", status_code=401, json={"error": "Unauthorized", "code": 401})
    requests_mock.get(BASE + "dl?sig=SIGNED", content=b"x")
    requests_mock.get(BASE + "down", status_code=500)
    seen.append(repr(hook.request_json("GET", "ok")))
    seen.append(repr(hook.request_json("GET", "retry")))
    seen.append(str(hook.download("dl?sig=SIGNED", tmp_path / "x.bin")))
    for path, exc in (("auth", AuthenticationError), ("down", ServerError)):
        with pytest.raises(exc) as info:
            hook.request_json("GET", path)
        seen.extend([str(info.value), repr(info.value), repr(info.value.__dict__)])
    seen.append(repr(hook.settings))
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(("requests_mock", "urllib3", "fsspec"))]
    captured = capsys.readouterr()
    seen.extend([*ours, captured.out, captured.err])  # Airflow 3 routes hook logs through structlog (stdout)
    assert any("Retrying GET /v1/retry" in s for s in seen)
    assert all(SECRET_TOKEN not in s for s in seen)
    assert all("SIGNED" not in s for s in [*ours, captured.out, captured.err])


def test_test_connection_reports_without_token(hook):
    ok, message = hook.test_connection()
    assert ok is False and SECRET_TOKEN not in message
