"""Hostile answers and inputs for the ACRCloud slice (issue 12 §4, §6).

Classes: the batched readiness poller gives EVERY waiter an event for any answer shape (NaN, Infinity,
1e999, huge ints, missing ids, wrong types, a list where an object belongs, a crash inside the batcher);
parsers raise InvalidResponseError naming the call, never a built-in error; ids with ``..``, ``/``, ``?``,
percent escapes or template leftovers are refused before any request.
"""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from airflow_provider_music.contract.acrcloud import (
    bucket_path,
    data_list,
    data_object,
    join_ids,
    page_of,
    parse_dump_status,
    parse_files_status,
    record_key,
    to_float,
    to_int,
)
from airflow_provider_music.contract.acrcloud_fs import parse_fs_files_status, summarize_scan
from airflow_provider_music.core import InvalidInputError, InvalidResponseError, MusicApiError, NotFoundError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.hooks.acrcloud_batch import FilePollBatcher

BIG = 10**30
HOSTILE_IDS = [float("nan"), float("inf"), -float("inf"), 1e999, BIG, -5, True, None, [20], {"id": 20}, "20/../x", ""]
HOSTILE_STATES = [float("nan"), float("inf"), 1e999, "ready", None, [1], {"s": 1}, 7, -9, BIG]


# ---- numbers and ids (pure) ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e999, BIG, -BIG, "1e999", "nan", True, [1]])
def test_to_int_never_raises_and_rejects_non_finite(value):
    assert to_int(value, "default") == "default"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "inf", "-inf", 1e999, [1], True])
def test_to_float_rejects_non_finite(value):
    assert to_float(value) is None


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_record_key_of_hostile_ids_is_none(value):
    assert record_key(value) is None


@pytest.mark.parametrize("ids", ["..", "../13", "12,../13", "a/b", "a?b", "%2e%2e", "a%2Fb", "None", "null", "a b",
                                 "x" * 65, [1.5], [None], [True], [-1], {"a": 1}, 10**30, "\x00"])
def test_join_ids_refuses_hostile_ids(ids):
    with pytest.raises(InvalidInputError, match="ids"):
        join_ids(ids)


@pytest.mark.parametrize("value", ["..", "1/2", "1?x", "%31", "abc", "-1", 0, 1.0, True, None, "1" * 30, "１２"])
def test_bucket_path_refuses_non_ids(value):
    with pytest.raises(InvalidInputError, match="bucket_id"):
        bucket_path(value)


# ---- parsers: InvalidResponseError naming the call -------------------------------------------------------
@pytest.mark.parametrize("body", [{"data": [1, 2]}, {"data": "x"}, {"data": 5}, {"data": [[{"id": 1}]]}, {"data": True}])
def test_data_list_wrong_types_name_the_call(body):
    with pytest.raises(InvalidResponseError, match="GET buckets/1/files/:ids"):
        data_list(body, describe="GET buckets/1/files/:ids")


@pytest.mark.parametrize("body", [[], [{"id": 1}], "text", 5, {"data": [], "links": [1], "meta": "x"}])
def test_page_of_hostile_envelopes(body):
    try:
        page = page_of(body, describe="GET buckets")
    except InvalidResponseError as exc:
        assert "GET buckets" in str(exc)
    else:
        assert isinstance(page["links"], dict) and isinstance(page["meta"], dict)


def test_data_object_empty_names_the_call():
    with pytest.raises(InvalidResponseError, match="POST buckets/1/files"):
        data_object({"data": []}, describe="POST buckets/1/files")


@pytest.mark.parametrize("state", HOSTILE_STATES)
def test_files_status_unknown_states_are_never_ready(state):
    result = parse_files_status([{"id": 20, "state": state}], ["20"], bucket_id=1)
    # an unknown state never counts as ready: the wait goes on (warned once), and its timeout names the state
    assert result.state == "running" and result.unknown and "unknown state" in result.message
    json.dumps(result.payload, allow_nan=False)  # the event payload stays JSON


@pytest.mark.parametrize("rid", HOSTILE_IDS)
def test_files_status_hostile_ids_read_as_missing(rid):
    result = parse_files_status([{"id": rid, "state": 1}], ["20"], bucket_id=1)
    assert result.state == "failed" and "not found" in result.message


@pytest.mark.parametrize("state", HOSTILE_STATES)
def test_scan_status_unknown_states_are_never_a_verdict(state):
    result = parse_fs_files_status([{"id": "u-1", "state": state}], ["u-1"], container_id=1)
    assert result.state == "running" and result.unknown and "unknown state" in result.message  # never "clean"
    json.dumps(result.payload, allow_nan=False)


@pytest.mark.parametrize("results", [[1], "x", {"music": "x"}, {"music": {"a": 1}}])
def test_summarize_scan_wrong_types(results):
    with pytest.raises(InvalidResponseError):
        summarize_scan({"id": "u", "state": 1, "results": results})


@pytest.mark.parametrize("body", [[], "x", {"data": [1]}, {"status": 1}, {"status": 1, "down_url": 5},
                                  {"status": 1, "down_url": "u", "task_id": "../x"}])
def test_dump_status_hostile(body):
    with pytest.raises(InvalidResponseError, match="dump of bucket 7"):
        parse_dump_status(body, bucket_id=7)


# ---- the batched poller: every waiter gets an event -------------------------------------------------------
class FakeHook:
    conn_id = "acrcloud_default"

    def __init__(self, answer):
        self.answer = answer

    async def aget_files(self, bucket, ids):
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer(ids) if callable(self.answer) else self.answer


HOSTILE_BATCHES = [
    [{"id": 1e999, "state": 1}],
    [{"id": float("inf"), "state": 1}, {"id": float("nan"), "state": 1}],
    [{"id": BIG, "state": 1}],
    [{"state": 1}],
    [{"id": [1], "acr_id": {"x": 1}}],
    [{"id": "1", "state": float("nan")}],
    [{"id": "2", "acr_id": 1e999}],
]


@pytest.mark.asyncio
@pytest.mark.parametrize("records", HOSTILE_BATCHES)
async def test_batcher_settles_every_waiter_for_hostile_records(records):
    batcher = FilePollBatcher()
    hook = FakeHook(records)
    waits = [batcher.fetch(hook, "5", [str(i)]) for i in range(1, 6)]
    results = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), timeout=5)
    assert len(results) == 5
    for ids, got in zip(range(1, 6), results, strict=True):
        assert not isinstance(got, BaseException)
        parsed = parse_files_status(got, [str(ids)], bucket_id=5)
        assert parsed.state in ("failed", "running", "success")


class Boom(Exception):
    pass


@pytest.mark.asyncio
@pytest.mark.parametrize("error", [Boom("bug"), OverflowError("int too large"), RecursionError(), InvalidResponseError("x")])
async def test_batcher_hands_any_failure_to_every_waiter(error):
    batcher = FilePollBatcher()
    waits = [batcher.fetch(FakeHook(error), "5", [str(i)]) for i in range(3)]
    results = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), timeout=5)
    assert all(isinstance(r, type(error)) for r in results)


@pytest.mark.asyncio
async def test_batcher_not_found_is_retried_per_waiter():
    def answer(ids):
        if "bad" in ids and len(ids) > 1:
            raise NotFoundError("GET buckets/5/files: 404")
        if ids == ["bad"]:
            raise NotFoundError("GET buckets/5/files/bad: 404")
        return [{"id": int(i), "state": 1} for i in ids]

    class Hook(FakeHook):
        async def aget_files(self, bucket, ids):
            return answer(ids)

    batcher = FilePollBatcher()
    hook = Hook(None)
    good, bad = await asyncio.gather(batcher.fetch(hook, "5", ["1"]), batcher.fetch(hook, "5", ["bad"]),
                                     return_exceptions=True)
    assert good == [{"id": 1, "state": 1}] and isinstance(bad, NotFoundError)


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [
    {"data": [{"id": 1e999, "state": 1}]}, {"data": [1, 2]}, {"data": "x"}, [{"id": 1}], {"data": {"id": math.inf}},
    {"data": [{"id": 20, "state": math.nan}]},
])
async def test_afiles_status_through_the_hook_always_answers(body, monkeypatch):
    hook = AcrCloudHook()

    async def fake_request(method, path, **kwargs):
        return body

    monkeypatch.setattr(hook, "arequest_json", fake_request)
    try:
        result = await asyncio.wait_for(hook.afiles_status(5, [20]), timeout=5)
    except MusicApiError as exc:
        assert isinstance(exc, InvalidResponseError) and "buckets/5/files" in str(exc)
    else:  # never ready: a missing file fails, a state not listed keeps the wait going (issue 21 §5)
        assert result.state == "failed" or (result.state == "running" and result.unknown)
