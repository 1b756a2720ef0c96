"""ACRCloud triggers and hook against a hostile local server (real sockets; issue 12 §4, §6).

Class: a batched readiness answer of any shape - NaN, Infinity, 1e999, deep nesting, invalid UTF-8,
truncated, HTML, a list where an object belongs, ids that are not ids - gives EVERY trigger waiting on the
bucket exactly one event before its deadline; sync calls raise InvalidResponseError naming the call.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_music.core import InvalidResponseError, MusicApiError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.triggers.acrcloud import AcrCloudFileStateTrigger
from tests.support.hooks import make_hook
from tests.support.hostile import HOSTILE_JSON, HostileServer, raw_body, wrong_shapes

ACR_SHAPES = {
    "id_1e999": b'{"data": [{"id": 1e999, "state": 1}]}',
    "id_infinity": b'{"data": [{"id": Infinity, "state": 1}, {"id": 2, "state": 1}]}',
    "state_nan": b'{"data": [{"id": 1, "state": NaN}]}',
    "huge_int_id": b'{"data": [{"id": 100000000000000000000000000000000, "state": 1}]}',
    "no_ids": b'{"data": [{"state": 1}, {"state": 1}]}',
    "list_of_lists": b'{"data": [[{"id": 1, "state": 1}]]}',
    "data_string": b'{"data": "ready"}',
    "ids_as_objects": b'{"data": [{"id": {"$oid": 1}, "acr_id": [1], "state": 1}]}',
}
BODIES = {**{f"json-{k}": v for k, v in HOSTILE_JSON.items()}, **ACR_SHAPES, **dict(wrong_shapes())}


@pytest.fixture
def server():
    with HostileServer() as api:
        yield api


async def _wait_all(conn_id: str, count: int, deadline_s: float) -> list[list]:
    triggers = [
        AcrCloudFileStateTrigger(conn_id=conn_id, target={"bucket_id": "5", "ids": str(i)}, poll_interval=0.05,
                                 deadline=time.time() + deadline_s)
        for i in range(1, count + 1)
    ]

    async def run(trigger):
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(asyncio.gather(*(run(t) for t in triggers)), timeout=deadline_s + 20)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_every_waiting_trigger_gets_one_event(server, monkeypatch, name):
    server.route("/api/buckets/5/files/*", raw_body(BODIES[name]))
    make_hook(monkeypatch, AcrCloudHook, server.url + "/api/", "tok-hostile", {"retry_limit": 1})
    started = time.monotonic()
    results = asyncio.run(_wait_all("hostile_test", 3, deadline_s=3.0))
    assert time.monotonic() - started < 15
    for events in results:
        assert len(events) == 1
        payload = events[0].payload
        assert payload["status"] in ("failed", "error", "timeout")  # never "success" from a hostile answer
        assert "tok-hostile" not in json.dumps(payload)


@pytest.mark.parametrize("name", sorted(ACR_SHAPES))
def test_sync_status_fails_closed(server, monkeypatch, name):
    server.route("/api/buckets/5/files/*", raw_body(ACR_SHAPES[name]))
    hook = make_hook(monkeypatch, AcrCloudHook, server.url + "/api/", "tok-hostile", {"retry_limit": 1})
    try:
        result = hook.files_status(5, [1])
    except MusicApiError as exc:
        assert isinstance(exc, InvalidResponseError) and "buckets/5/files" in str(exc)
    else:
        assert result.state == "failed"
