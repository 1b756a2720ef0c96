"""Async status methods never drift from their sync twins (issue 11): same answers -> same PollResult or
the same error class, for every status check of the slice and for hostile answers too."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from airflow_provider_music.core import ConfigurationError, InvalidResponseError, MusicApiError, NotFoundError
from airflow_provider_music.core.http import decode_json
from airflow_provider_music.hooks.acrcloud import AcrCloudHook

BASE = "https://api-v2.acrcloud.com/api/"
REGIONAL = "https://api-eu-west-1.acrcloud.com/api/"

FILES = [
    {"data": [{"id": 20, "state": 1}, {"id": 21, "state": 0}]},
    {"data": [{"id": 20, "state": 1}, {"id": 21, "state": -1}]},
    {"data": [{"id": 20, "state": "1"}, {"id": 21, "state": 1.0}]},
    {"data": [{"id": 20, "state": 5}]},
    {"data": [{"id": 1e999, "state": 1}]},
    {"data": "x"},
    {"data": [7]},
]
DUMPS = [
    {"status": 0, "task_id": "t1"}, {"data": {"status": 1, "down_url": "https://x/y", "task_id": "t1"}},
    {"status": 1}, {"status": -1, "task_id": "t1"}, [1, 2], {"status": "x", "task_id": "../t"},
]
SCANS = [
    {"data": {"id": "u-1", "state": 0}}, {"data": [{"id": "u-1", "state": -1}]}, {"data": {"id": "u-1", "state": -2}},
    {"data": {"id": "u-1", "state": float("nan")}}, {"data": [{"id": ["u-1"], "state": 1}]}, {"data": 5},
]


@pytest.fixture
def hook(set_connection):
    set_connection("acrcloud_default", "acrcloud", host=None, extra={"region": "eu-west-1"})
    return AcrCloudHook()


def outcome(call):
    try:
        result = call()
    except MusicApiError as exc:
        return type(exc).__name__
    return (result.state, result.message, result.payload)


def both(hook, requests_mock, monkeypatch, url_pattern, body, sync_call, async_call):
    requests_mock.get(re.compile(url_pattern), json=body)

    async def fake(method, path, **kwargs):  # the async transport decodes with the same core function
        url = hook.url_for(path)
        if not re.search(url_pattern, url):
            raise NotFoundError(f"GET {path}: 404", status=404)
        return decode_json("GET", url, json.dumps(body).encode())

    monkeypatch.setattr(hook, "arequest_json", fake)
    return outcome(sync_call), outcome(lambda: asyncio.run(async_call()))


@pytest.mark.parametrize("body", FILES)
def test_files_status_twins(hook, requests_mock, monkeypatch, body):
    sync, asy = both(hook, requests_mock, monkeypatch, r"buckets/7/files/20,21$|buckets/7/files/20$", body,
                     lambda: hook.files_status(7, [20, 21]), lambda: hook.afiles_status(7, [20, 21]))
    assert sync == asy


@pytest.mark.parametrize("body", DUMPS)
def test_dump_status_twins(hook, requests_mock, monkeypatch, body):
    sync, asy = both(hook, requests_mock, monkeypatch, r"buckets/7/dump$", body,
                     lambda: hook.dump_status(7), lambda: hook.adump_status(7))
    assert sync == asy


@pytest.mark.parametrize("body", SCANS)
def test_scan_status_twins_use_the_same_host(hook, requests_mock, monkeypatch, body):
    sync, asy = both(hook, requests_mock, monkeypatch, r"^https://api-eu-west-1\.acrcloud\.com/api/fs-containers/3/files/u-1$",
                     body, lambda: hook.fs_files_status(3, "u-1"), lambda: hook.afs_files_status(3, "u-1"))
    assert sync == asy


def test_dump_path_extra_is_checked_by_both(set_connection):
    set_connection("acrcloud_default", "acrcloud", host=None, extra={"dump_path": "../../admin"})
    hook = AcrCloudHook()
    with pytest.raises(ConfigurationError, match="dump_path"):
        hook.dump_status(7)
    with pytest.raises(ConfigurationError, match="dump_path"):
        asyncio.run(AcrCloudHook().adump_status(7))


def test_hostile_files_answer_names_the_call_in_both(hook, requests_mock, monkeypatch):
    sync, asy = both(hook, requests_mock, monkeypatch, r"buckets/7/files/20$", {"data": [[1]]},
                     lambda: hook.files_status(7, 20), lambda: hook.afiles_status(7, 20))
    assert sync == asy == InvalidResponseError.__name__
