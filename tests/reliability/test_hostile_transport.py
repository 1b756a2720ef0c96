"""Issue 12 at the transport depth, for EVERY hook class (discovered), sync AND async, against real hostile
local servers (tests/support/hostile.py):

* credential headers (whatever ``auth_headers()`` returns) never follow a redirect to another origin
  (301/302/303/307/308); same-origin redirects keep them;
* a token echoed by the server in any encoding never reaches an exception, its chain or its traceback;
* no exception chain carries a URL query string.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import pytest

from airflow_provider_music.core.errors import InvalidResponseError, MusicApiError
from airflow_provider_music.core.parsing import expect_dict
from airflow_provider_music.hooks.base import MusicApiHook
from tests.support.hooks import hook_cases, make_hook
from tests.support.hostile import (
    HostileServer,
    Origins,
    echo_credentials,
    json_body,
    redirect_to,
    token_encodings,
)

pytestmark = pytest.mark.integration

TOKEN = "tok-HOSTILE/7d3a91c2e5b8+never-show"
SIGNED_QUERY = "X-Signature=" + TOKEN + "&Expires=1"
REDIRECTS = (301, 302, 303, 307, 308)
ECHO_STATUSES = (400, 401, 404, 409, 500)  # validation, auth, not found, client, server (retried)


def _distinct_auth_cases() -> list[Any]:
    """One case per hook class and distinct set of credential headers (e.g. AudioShake jobs vs tasks)."""
    cases, seen = [], set()
    for label, cls, extras in hook_cases():
        hook = cls.__new__(cls)
        try:
            from airflow_provider_music.core.settings import ApiSettings

            names = frozenset(MusicApiHook.auth_headers.__get__(hook)(ApiSettings("x", "http://x/", TOKEN, extras)))
            names = frozenset(cls.auth_headers(hook, ApiSettings("x", "http://x/", TOKEN, extras)))
        except Exception:  # noqa: BLE001 - a hook needing more state: test it anyway
            names = frozenset({label})
        if (cls, names) not in seen:
            seen.add((cls, names))
            cases.append(pytest.param(cls, extras, id=label))
    return cases


HOOK_CASES = _distinct_auth_cases()


def _chain_text(exc: BaseException) -> str:
    parts, seen, cur = [], set(), exc
    stack: list[BaseException | None] = [cur]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        parts.append(f"{type(item).__name__}: {item} {item.args!r} {vars(item)!r}")
        stack += [item.__cause__, item.__context__]
    parts.append("".join(traceback.format_exception(exc)))
    return "\n".join(parts)


def _assert_clean(exc: BaseException, *needles: str) -> None:
    text = _chain_text(exc)
    for needle in (TOKEN, TOKEN[:8], *needles):
        assert needle not in text, f"{needle!r} leaked:\n{text[:3000]}"
    assert exc.__cause__ is None and exc.__context__ is None, (exc.__cause__, exc.__context__)


def _call(hook: MusicApiHook, method: str, path: str, *, use_async: bool, json_body: Any = None) -> Any:
    if use_async:
        return asyncio.run(hook.arequest_json(method, path, json_body=json_body))
    return hook.request_json(method, path, json_body=json_body)


# ---- 1. credentials never follow a redirect to another origin -------------------------------------------
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize(("cls", "extras"), HOOK_CASES)
def test_credentials_stripped_on_cross_origin_redirect(monkeypatch, cls, extras, status, use_async):
    with Origins() as o:
        hook = make_hook(monkeypatch, cls, o.a.url + "/v1/", TOKEN, extras)
        credentials = hook.auth_headers(hook.settings)
        assert credentials, f"{cls.__name__} sends no credential header?"
        o.a.route("/v1/start", redirect_to(o.b.url + "/landing?next=1", status))
        o.b.route("/landing", json_body({"ok": True}))
        method = "POST" if status in (307, 308) else "GET"
        answer = _call(hook, method, "start", use_async=use_async, json_body={"k": 1} if method == "POST" else None)
        assert answer == {"ok": True}
        first, landed = o.a.requests[0], o.b.requests[0]
        for name, value in credentials.items():
            assert first.headers.get(name.lower()) == value  # the API itself got them
            assert name.lower() not in landed.headers, f"{name} sent to another origin on {status}"
        assert not landed.credentials(), landed.headers
        assert TOKEN not in repr(landed.headers) + landed.body.decode("latin-1")
        if status in (307, 308):
            assert landed.method == "POST" and landed.body == b'{"k": 1}'  # body re-sent, credentials not


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize(("cls", "extras"), HOOK_CASES)
def test_credentials_kept_on_same_origin_redirect(monkeypatch, cls, extras, status, use_async):
    with HostileServer() as api:
        hook = make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, extras)
        credentials = hook.auth_headers(hook.settings)
        api.route("/v1/start", redirect_to("/v1/moved?x=1", status))
        api.route("/v1/moved", json_body({"ok": True}))
        assert _call(hook, "GET", "start", use_async=use_async) == {"ok": True}
        moved = api.requests[1]
        for name, value in credentials.items():
            assert moved.headers.get(name.lower()) == value


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_redirect_chain_back_to_api_origin_after_foreign_hop(monkeypatch, use_async):
    """A -> B -> A: credentials go to A again (decided per hop), never to B."""
    cls, extras = HOOK_CASES[0].values
    with Origins() as o:
        hook = make_hook(monkeypatch, cls, o.a.url + "/v1/", TOKEN, extras)
        o.a.route("/v1/start", redirect_to(o.b.url + "/hop", 302))
        o.b.route("/hop", redirect_to(o.a.url + "/v1/end", 302))
        o.a.route("/v1/end", json_body({"ok": 1}))
        assert _call(hook, "GET", "start", use_async=use_async) == {"ok": 1}
        assert not o.b.requests[0].credentials()
        assert o.a.requests[-1].credentials()


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_localhost_alias_is_another_origin(monkeypatch, use_async):
    cls, extras = HOOK_CASES[0].values
    with HostileServer() as api:
        hook = make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, extras)
        api.route("/v1/start", redirect_to(api.alias_url() + "/v1/alias", 307))
        api.route("/v1/alias", json_body({"ok": 1}))
        assert _call(hook, "GET", "start", use_async=use_async) == {"ok": 1}
        assert not api.requests[1].credentials()


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_redirect_loop_and_bad_location_are_clean_errors(monkeypatch, use_async):
    cls, extras = HOOK_CASES[0].values
    with HostileServer() as api:
        hook = make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, extras)
        api.route("/v1/loop", redirect_to(f"/v1/loop?sig={TOKEN}", 302))
        api.route("/v1/ftp", redirect_to(f"ftp://elsewhere/x?sig={TOKEN}", 302))
        for path in ("loop", "ftp"):
            with pytest.raises(InvalidResponseError) as info:
                _call(hook, "GET", path, use_async=use_async)
            _assert_clean(info.value, "sig=")


# ---- 2. echoed tokens are scrubbed in every encoding ------------------------------------------------------
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("encoding", sorted(token_encodings(TOKEN)))
@pytest.mark.parametrize(("cls", "extras"), HOOK_CASES)
def test_echoed_token_scrubbed_in_every_encoding(monkeypatch, cls, extras, encoding, use_async):
    with HostileServer() as api:
        hook = make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, extras)
        for status in ECHO_STATUSES:
            api.route(f"/v1/echo{status}", echo_credentials(status, encoding, as_json=status % 2 == 0))
            with pytest.raises(MusicApiError) as info:
                _call(hook, "GET", f"echo{status}", use_async=use_async)
            _assert_clean(info.value, *_forms(encoding))


def _forms(encoding: str) -> list[str]:
    form = token_encodings(TOKEN)[encoding]
    if encoding.startswith("basic"):  # the token's part of a longer base64 run
        return [form[8:-4]]
    return [form] if encoding != "truncated" else [form]


@pytest.mark.parametrize("encoding", sorted(token_encodings(TOKEN)))
def test_unexpected_shape_messages_are_scrubbed(monkeypatch, encoding):
    cls, extras = HOOK_CASES[0].values
    with HostileServer() as api:
        make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, extras).settings  # registers the token
        body = [{"echo": token_encodings(TOKEN)[encoding]}]
        with pytest.raises(InvalidResponseError) as info:
            expect_dict(body, "GET /v1/things")
        _assert_clean(info.value, *_forms(encoding))
        err = InvalidResponseError(f"GET /v1/x answered {str(body)[:60]}")  # a slice's own str(body)[:n]
        _assert_clean(err, *_forms(encoding))


# ---- no URL query in any chain --------------------------------------------------------------------------
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_connection_errors_carry_no_query_and_no_chain(monkeypatch, use_async):
    cls, extras = HOOK_CASES[0].values
    with HostileServer() as api:
        dead = api.url
    hook = make_hook(monkeypatch, cls, dead + "/v1/", TOKEN, extras)
    signed = dead + "/v1/file.mp3?" + SIGNED_QUERY  # (not on the raising line: tracebacks quote source lines)
    with pytest.raises(MusicApiError) as info:
        _call(hook, "GET", signed, use_async=use_async)
    _assert_clean(info.value, "X-Signature", "Expires=")


def test_download_dropped_mid_body_carries_no_query(monkeypatch, tmp_path):
    from tests.support.hostile import send

    def drop(h: Any, r: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000000")
        h.end_headers()
        h.wfile.write(b"RIFF" + b"\0" * 1000)
        h.close_connection = True

    cls, extras = HOOK_CASES[0].values
    with HostileServer() as cdn:
        cdn.route("/file.wav", drop)
        cdn.route("/ok", lambda h, r: send(h, 200, b"x"))
        hook = make_hook(monkeypatch, cls, cdn.url + "/v1/", TOKEN, extras)
        signed = cdn.url + "/file.wav?" + SIGNED_QUERY
        with pytest.raises(MusicApiError) as info:
            hook.download(signed, tmp_path / "out.wav")
        _assert_clean(info.value, "X-Signature", "Expires=")
        assert list(tmp_path.iterdir()) == []
