"""What leaves the process: the async path puts exactly the sync path's bytes on the wire (ids encoded in
paths stay encoded, for every hook, on every redirect hop), and the HTTP libraries' own log records never
carry a query string (signed URLs) or a registered secret."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

import pytest

from airflow_provider_music.core.redaction import SCRUBBED_LOGGERS, QueryScrubber, install_log_scrubber
from airflow_provider_music.testing.audio import sine_wav
from tests.support.hooks import hook_cases, make_hook
from tests.support.hostile import HostileServer, send

TOKEN = "tok-Wire-Hygiene-0123456789abcdef"
SIGNATURE = "X-Goog-Signature=deadbeefcafe0123456789"
IDS = ["job:1-user:1-jane@example.com-bot:x", "a+b=c,d;e", "caf\u00e9 \u00fcber", "x~y_z.1-2", "100%"]
PARAMS = {"since": "2026-01-01T00:00:00+00:00", "q": "a b/c?d&e", "n": 3, "flag": True}


def _raw_targets(seen: list[str]):
    def behaviour(handler, request):
        seen.append(handler.path)  # the request target exactly as received
        send(handler, 200, b'{"ok": true}', "application/json")
    return behaviour


def _both_paths(api, hook, path: str, params=None) -> tuple[str, str]:
    seen: list[str] = []
    api.route("/*", _raw_targets(seen))
    hook.request_json("GET", path, params=params)
    asyncio.run(hook.arequest_json("GET", path, params=params))
    assert len(seen) == 2, seen
    return seen[0], seen[1]


@pytest.mark.parametrize(("label", "cls", "extras"), list(hook_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_async_sends_what_sync_sends_for_every_hook(monkeypatch, label, cls, extras):
    with HostileServer() as api:
        hook = make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, extras)
        for job_id in IDS:
            sync_target, async_target = _both_paths(api, hook, f"jobs/{quote(job_id, safe='')}", PARAMS)
            assert async_target == sync_target, (label, job_id)
            assert "%3A" in sync_target or ":" not in job_id  # ids stay encoded on the wire


def test_redirect_hops_are_sent_encoded_like_the_sync_path(monkeypatch):
    cls = next(c for _, c, _ in hook_cases())
    with HostileServer() as api:
        seen: list[str] = []

        def hop(handler, request):
            seen.append(handler.path)
            if request.path.startswith("/v1/start"):
                send(handler, 302, b"", headers={"Location": "/v1/next/job%3A1%40x%2Fy?s=a%3Ab"})
            else:
                send(handler, 200, b'{"ok": true}', "application/json")

        api.route("/*", hop)
        hook = make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN)
        hook.request_json("GET", "start")
        asyncio.run(hook.arequest_json("GET", "start"))
    assert seen[2:] == seen[:2] and seen[1] == "/v1/next/job%3A1%40x%2Fy?s=a%3Ab", seen


def _everything_logged(caplog) -> str:
    out = []
    for record in caplog.records:
        out += [record.getMessage(), str(record.msg), repr(record.args), record.exc_text or ""]
    return "\n".join(out)


@pytest.mark.parametrize(("label", "cls", "extras"), list(hook_cases())[:1], ids=lambda v: v if isinstance(v, str) else "")
def test_debug_logs_hold_no_signed_query_nor_token(monkeypatch, tmp_path, caplog, label, cls, extras):
    with HostileServer() as api:
        api.route("/cdn/*", lambda h, r: send(h, 200, sine_wav(0.1), "audio/wav"))
        api.route("/v1/*", lambda h, r: send(h, 200, b'{"ok": true}', "application/json"))
        hook = make_hook(monkeypatch, cls, api.url + "/v1/", TOKEN, extras)
        caplog.set_level(logging.DEBUG)
        signed = f"{api.url}/cdn/{TOKEN}/a.wav?{SIGNATURE}&token={TOKEN}"
        hook.download(signed, tmp_path / "a.wav")
        hook.request_json("GET", f"jobs/{TOKEN}", params={"sig": SIGNATURE})
        asyncio.run(hook.arequest_json("GET", f"jobs/{TOKEN}", params={"sig": SIGNATURE}))
    logged = _everything_logged(caplog)
    assert any(r.name.startswith("urllib3") and "/cdn/" in r.getMessage() for r in caplog.records), logged
    assert "deadbeef" not in logged and "Signature" not in logged
    assert TOKEN not in logged and TOKEN[:12] not in logged


def test_scrubber_covers_every_urllib3_message_shape(caplog):
    install_log_scrubber()
    install_log_scrubber()  # idempotent
    assert all(sum(isinstance(f, QueryScrubber) for f in logging.getLogger(n).filters) == 1 for n in SCRUBBED_LOGGERS)
    caplog.set_level(logging.DEBUG)
    pool = logging.getLogger("urllib3.connectionpool")
    url = f"/x.wav?{SIGNATURE}"
    pool.debug('%s://%s:%s "%s %s %s" %s %s', "https", "cdn.example", 443, "GET", url, "HTTP/1.1", 200, 10)
    pool.warning("Retrying (%r) after connection broken by '%r': %s", "Retry(total=1)", OSError("x"), url)
    pool.debug("Redirecting %s -> %s", f"https://a.example{url}", f"https://b.example/y?{SIGNATURE}")
    logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s'): %r", url, "Retry(total=0)")
    try:
        raise ValueError(f"boom https://a.example/z?{SIGNATURE}")
    except ValueError:
        pool.debug("failed %s", url, exc_info=True)
    pool.debug({"not": "a string"})
    logged = _everything_logged(caplog)
    assert "deadbeef" not in logged and "Signature" not in logged, logged
    assert '"GET /x.wav HTTP/1.1" 200' in logged and "https://b.example/y" in logged
