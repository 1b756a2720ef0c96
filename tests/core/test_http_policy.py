"""The HTTP core as one policy and two thin drivers (issue 20 §1): what the policy decides is the same for
``requests`` and ``aiohttp``, and a successful request costs no retry machinery and leaves no cyclic garbage.

* A successful request (sync or async) builds no ``tenacity`` retrier and leaves ~0 objects for the cyclic
  garbage collector (a retrier per request left 44 and drove full collections in a busy triggerer).
* The request target the policy builds without ``requests`` (:func:`wire_target`) is byte for byte what
  ``requests`` prepares, and the async driver puts on the wire exactly what the sync one does, for hostile
  ids (``..``, ``/``, ``?``, ``%``, ``:``, ``@``, unicode) and query parameters.
* JSON too deep for the parser is an ``InvalidResponseError`` naming the call, whatever the stack depth.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import tenacity

from airflow_provider_music.core.errors import InvalidResponseError, ServerError
from airflow_provider_music.core.http import wire_target
from airflow_provider_music.core.parsing import loads_strict
from tests.support.hooks import hook_cases, make_hook
from tests.support.hostile import HostileServer, send

TOKEN = "tok-Http-Policy-0123456789abcdef"
HOSTILE_IDS = ["..", ".", "a/b", "a?b", "a#b", "100%", "%41", "%zz", "a%2Fb", "job:1@x", "user@host:80",
               "caf\u00e9", "\u00fc/../x", "a b", "~user", "a;b=c,d", "a+b&c", "\u65e5\u672c"]
RAW_PATHS = ["jobs/a b", "jobs/caf\u00e9", "jobs/%7Euser", "jobs/%3a", "jobs/a%2fb", "jobs/x/../y", "jobs/./y",
             "jobs/%zz", "jobs/100%", "jobs/a|b", 'jobs/a"b', "jobs/[x]", "jobs/a^b`c{d}"]
PARAMS = [None, {"q": "a b/c?d&e", "n": 3, "t": True, "z": None, "l": ["x", "y"], "u": "\u00e9%", "f": 1.5}]

_SERVER = """
import sys
from aiohttp import web
async def answer(request):
    return web.Response(body=b'{"jobid": "j1", "status": "running", "items": [{"a": 1}, {"a": 2}]}',
                        content_type="application/json")
async def main():
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
import asyncio
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def json_server() -> Iterator[str]:
    """A keep-alive JSON server in another process (its own garbage is not counted here)."""
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}/v1/"
    finally:
        proc.kill()
        proc.wait()


def _hook(monkeypatch, base_url):
    cls = next(c for _, c, _ in hook_cases())
    return make_hook(monkeypatch, cls, base_url, TOKEN)


def _garbage_per_request(run_many, n: int) -> float:
    run_many(5)  # warm: sessions, connections, caches
    gc.collect()
    gc.disable()
    try:
        run_many(n)
        found = gc.collect()
    finally:
        gc.enable()
    return found / n


def test_successful_requests_leave_no_cyclic_garbage(monkeypatch, json_server):
    hook = _hook(monkeypatch, json_server)
    path = "jobs/" + quote("job:1@x", safe="")

    def sync_many(n: int) -> None:
        for _ in range(n):
            hook.request_json("GET", path, params={"n": 1})

    async def async_many(n: int) -> None:
        async with hook.async_session():
            for _ in range(n):
                await hook.arequest_json("GET", path, params={"n": 1})

    assert _garbage_per_request(sync_many, 100) < 1
    assert _garbage_per_request(lambda n: asyncio.run(async_many(n)), 200) < 1


def test_first_attempt_builds_no_retrier_and_a_failure_builds_one(monkeypatch, json_server):
    built: list[str] = []
    for cls in (tenacity.Retrying, tenacity.AsyncRetrying):
        original = cls.__init__

        def counting(self, *args, _original=original, **kwargs):
            built.append(type(self).__name__)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    hook = _hook(monkeypatch, json_server)
    hook.request_json("GET", "jobs/j1")
    asyncio.run(hook.arequest_json("GET", "jobs/j1"))
    assert built == []

    with HostileServer() as api:
        answers = iter([500, 200])
        api.route("/*", lambda h, r: send(h, next(answers), b'{"ok": true}', "application/json"))
        flaky = _hook(monkeypatch, api.url + "/v1/")
        assert flaky.request_json("GET", "jobs/j1") == {"ok": True}
        api.route("/*", lambda h, r: send(h, 500, b'{"error": "down"}', "application/json"))
        with pytest.raises(ServerError):
            asyncio.run(flaky.arequest_json("GET", "jobs/j1"))
    assert built == ["Retrying", "AsyncRetrying"]


@pytest.mark.parametrize("params", PARAMS, ids=["no-params", "params"])
def test_wire_target_is_what_requests_prepares(params):
    import requests

    bases = ["https://api.example.com/v1/", "http://127.0.0.1:8080/api/", "https://API.Example.com/v1/",
             "https://h.example/v1/../v2/", "https://user:pw@h.example/v1/"]
    paths = RAW_PATHS + ["jobs/" + quote(i, safe="") for i in HOSTILE_IDS] + ["jobs/" + i for i in HOSTILE_IDS]
    fast = 0
    for base in bases:
        for path in paths:
            url = base + path
            mine = wire_target(url, params)
            if mine is None:
                continue  # left to requests itself
            prepared = requests.PreparedRequest()
            prepared.prepare_url(url, dict(params) if params else None)
            assert mine == prepared.url, url
            fast += 1
    assert fast >= len(HOSTILE_IDS) * 2  # every encoded id on a plain base takes the fast path


def test_sync_and_async_put_the_same_bytes_on_the_wire_for_hostile_ids(monkeypatch):
    paths = RAW_PATHS + ["jobs/" + quote(i, safe="") for i in HOSTILE_IDS]
    with HostileServer() as api:
        seen: list[str] = []

        def record(handler, request):
            seen.append(handler.path)
            send(handler, 200, b'{"ok": true}', "application/json")

        api.route("/*", record)
        hook = _hook(monkeypatch, api.url + "/v1/")
        for path in paths:
            for params in PARAMS:
                seen.clear()
                hook.request_json("GET", path, params=params)
                asyncio.run(hook.arequest_json("GET", path, params=params))
                assert len(seen) == 2 and seen[0] == seen[1], (path, params, seen)
                assert "%3A" in seen[0] or ":" not in path  # ids stay encoded


def test_json_too_deep_for_the_parser_names_the_call():
    deep = b"[" * 100_000 + b"]" * 100_000

    def at_depth(n: int):
        return at_depth(n - 1) if n else loads_strict(deep, "GET /v1/jobs/j1")

    for stack in (0, sys.getrecursionlimit() - 60):
        with pytest.raises(InvalidResponseError, match="GET /v1/jobs/j1: JSON nested too deeply") as info:
            at_depth(stack)
        assert info.value.method == "GET" and info.value.path == "/v1/jobs/j1"
    assert loads_strict(json.dumps([[[{"a": [1]}]]] * 50), "GET /x") == [[[{"a": [1]}]]] * 50
