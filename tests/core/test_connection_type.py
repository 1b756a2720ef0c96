"""A connection of the wrong type fails before any request, naming the type expected and the type found.

``AcrCloudHook(acrcloud_conn_id="flowmusic_default")`` used to fail with ``404 GET /v1/flowmusic/buckets``
(issue 19 §5). For every hook class and every connection type of another API (and a generic ``http``),
sync and async: a ConfigurationError naming both types, and the server never hears of it. An empty type
(a JSON ``AIRFLOW_CONN_*`` without ``conn_type``) and the hook's own type(s) are accepted, also spelt with
``-`` as a URI must (``audioshake-tasks://``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airflow_provider_music.core.errors import ConfigurationError
from airflow_provider_music.get_provider_info import get_provider_info
from tests.support.hooks import hook_classes
from tests.support.hostile import HostileServer, json_body

ALL_TYPES = sorted(c["connection-type"] for c in get_provider_info()["connection-types"])


def _accepted(cls: type[Any]) -> tuple[str, ...]:
    return cls.accepted_conn_types or (cls.conn_type,)


WRONG = [(cls, other) for cls in hook_classes() for other in [*ALL_TYPES, "http"] if other not in _accepted(cls)]
RIGHT = [(cls, t) for cls in hook_classes() for t in [*_accepted(cls), ""]]


def _set(monkeypatch: pytest.MonkeyPatch, conn_type: str, url: str) -> None:
    value: dict[str, Any] = {"host": url, "password": "tok-type-check-1234", "extra": {"retry_limit": 1}}
    if conn_type:
        value["conn_type"] = conn_type
    monkeypatch.setenv("AIRFLOW_CONN_TYPE_CHECK", json.dumps(value))


def test_every_hook_is_checked_against_every_other_type():
    assert len(hook_classes()) >= 4 and len(WRONG) >= len(hook_classes()) * 3


@pytest.mark.parametrize(("cls", "found"), WRONG, ids=[f"{c.__name__}-{t}" for c, t in WRONG])
def test_wrong_type_fails_before_any_request_naming_both_types(monkeypatch, cls, found):
    with HostileServer() as server:
        server.route("/*", json_body({"data": [], "jobs": []}))
        _set(monkeypatch, found, server.url + "/")
        with pytest.raises(ConfigurationError) as sync_error:
            cls("type_check").check_connection()
        with pytest.raises(ConfigurationError) as async_error:
            asyncio.run(cls("type_check").aget_settings())
        assert server.requests == [], "a request was sent before the connection type was checked"
    for error in (sync_error.value, async_error.value):
        text = str(error)
        assert repr(found) in text and repr(_accepted(cls)[0]) in text and "type_check" in text, text
        assert cls.__name__ in text


@pytest.mark.parametrize(("cls", "conn_type"), RIGHT, ids=[f"{c.__name__}-{t or 'empty'}" for c, t in RIGHT])
def test_own_and_empty_types_are_accepted(monkeypatch, cls, conn_type):
    _set(monkeypatch, conn_type, "http://127.0.0.1:9/")
    assert cls("type_check").settings.base_url.startswith("http://127.0.0.1:9/")
    if conn_type:
        _set(monkeypatch, conn_type.upper().replace("_", "-"), "http://127.0.0.1:9/")
        assert cls("type_check").settings.token == "tok-type-check-1234"


def test_the_generic_http_type_is_refused_with_what_to_set(monkeypatch):
    from airflow_provider_music.hooks.acrcloud import AcrCloudHook

    monkeypatch.setenv("AIRFLOW_CONN_TYPE_CHECK", "https://:tok-type-check-1234@api-v2.acrcloud.com/api")
    with pytest.raises(ConfigurationError, match=r"type 'https' \(a generic HTTP connection.*acrcloud://"):
        AcrCloudHook("type_check").settings  # noqa: B018
