"""Identification secrets (issue 12 §3) and bounds: the ``access_secret`` and the per-request HMAC signature
never reach exception text (chained ones too) or logs, whatever a hostile identify host sends back; the
console token never goes to the identify host; hostile identify answers give clear errors.

Class of defect: a server echoing what it received (signature in a form field, in any encoding), and a
credential sent to a second origin.
"""

from __future__ import annotations

import re
import traceback

import pytest

from airflow_provider_music.core import InvalidInputError, MusicApiError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from tests.support.hooks import make_hook
from tests.support.hostile import HOSTILE_JSON, HostileServer, json_body, send, token_encodings

TOKEN = "console-token-4f1b2c9d8e7a6b5c"
SECRET = "acr-secret-Zx9Yw8Vu7Ts6Rq5P"
WAV = b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + bytes(28) + b"data" + bytes(4) + bytes(2000)


def signature_of(body: bytes) -> str:
    found = re.search(rb'name="signature"\r\n\r\n([^\r]+)\r\n', body)
    assert found, "the request carries a signature field"
    return found.group(1).decode()


def echo(encoding: str, status: int):
    def behaviour(h, r):
        sig = signature_of(r.body)
        text = token_encodings(sig)[encoding].replace("\n", "\\n")
        body = f'{{"status": {{"code": 3001, "msg": "bad signature {text}"}}, "echo": "{text}"}}'
        send(h, status, body.encode(), "application/json")
    return behaviour


@pytest.fixture
def servers():
    with HostileServer() as console, HostileServer() as ident:
        yield console, ident


def hook_for(monkeypatch, console, ident) -> AcrCloudHook:
    return make_hook(monkeypatch, AcrCloudHook, console.url + "/api/", TOKEN, {
        "identify_host": ident.url, "access_key": "acr-key-123456", "access_secret": SECRET,
    })


def everything(exc: BaseException, capsys, caplog) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc.__dict__) + capsys.readouterr().out + caplog.text


@pytest.mark.parametrize("encoding", ["raw", "quote", "pct_lower", "base64", "base64_unpadded", "json_u_upper",
                                      "json_slash", "split_newline", "truncated"])
@pytest.mark.parametrize("status", [200, 400, 500])
def test_an_echoed_signature_never_reaches_the_error(servers, monkeypatch, capsys, caplog, encoding, status):
    console, ident = servers
    ident.route("/v1/identify", echo(encoding, status))
    hook = hook_for(monkeypatch, console, ident)
    with caplog.at_level("DEBUG"), pytest.raises(MusicApiError) as exc:
        hook.identify(WAV)
    signature = signature_of(ident.requests[-1].body)
    text = everything(exc.value, capsys, caplog)
    assert signature not in text and SECRET not in text and TOKEN not in text
    for key, form in token_encodings(signature).items():
        if key != "truncated":
            assert form.replace("\n", "") not in text.replace("\n", ""), key


def test_the_console_token_never_goes_to_the_identify_host(servers, monkeypatch):
    console, ident = servers
    ident.route("/v1/identify", json_body({"status": {"code": 1001, "msg": "No result"}}))
    hook_for(monkeypatch, console, ident).identify(WAV)
    request = ident.requests[-1]
    assert not request.credentials() and TOKEN.encode() not in request.body and SECRET.encode() not in request.body


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_hostile_identify_answers_are_clear_errors(servers, monkeypatch, name):
    console, ident = servers
    ident.route("/v1/identify", json_body(HOSTILE_JSON[name]))
    with pytest.raises(MusicApiError) as exc:
        hook_for(monkeypatch, console, ident).identify(WAV)
    assert "identify" in str(exc.value).lower() or "POST" in str(exc.value)


@pytest.mark.parametrize("answer", [[], "ok", {"status": "ok"}, {"status": {"code": "x"}}, {"status": {"code": 1e300}},
                                    {"status": {"code": 0}, "metadata": []}, {"status": None}])
def test_wrong_shapes_of_identify_answers(servers, monkeypatch, answer):
    console, ident = servers
    ident.route("/v1/identify", json_body(answer))
    try:
        result = hook_for(monkeypatch, console, ident).identify(WAV)
    except MusicApiError:
        return
    assert isinstance(result, dict)


def test_identify_checks_the_sample_is_audio(servers, monkeypatch, tmp_path):
    console, ident = servers
    text = tmp_path / "notes.txt"
    text.write_text("not audio at all")
    with pytest.raises(InvalidInputError, match="sample"):
        hook_for(monkeypatch, console, ident).identify(str(text))
    assert not ident.requests
