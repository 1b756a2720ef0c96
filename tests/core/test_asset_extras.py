"""Issue 22 §2: ``outlets=[Asset(...)]`` is all an operator needs; its asset event's ``extra`` carries ids,
paths, durations and cost from ``task_report`` and the return value (operators/assets.py, filled once in
``MusicOperator.post_execute``). Here: the builder's rules (small, JSON-primitive, no secret, no query string).
In real Airflow (``airflow dags test``: after ``execute`` and after ``execute_complete``, one event per mapped
instance): tests/core/test_lifecycle_dagtest.py; the example pair: tests/example_dags."""

from __future__ import annotations

import json

import pytest

from airflow_provider_music.core.report import Cost, DatasetRef, TaskReport
from airflow_provider_music.operators.assets import MAX_BYTES, MAX_ITEMS, asset_extra, compact
from tests.conftest import SECRET_TOKEN

TASK = {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1}


def test_extra_holds_paths_ids_durations_and_cost_from_report_and_result():
    report = TaskReport(
        outputs=[DatasetRef("file://host", "/songs/a.wav"), DatasetRef("s3://label", "stems/a/vocals.wav"),
                 DatasetRef("flowmusic://acct", "clip/c1")],
        facts={"clip_ids": ["c1"], "model": "lyria"},
        cost=Cost(12.0, "credits", "accounts/usage"),
    )
    result = {"files": ["/songs/a.wav", "/songs/b.wav"], "songs": [{"id": "s1", "duration_s": 31.2}]}
    extra = asset_extra(report, result, task=TASK)
    assert extra["paths"] == ["/songs/a.wav", "s3://label/stems/a/vocals.wav", "/songs/b.wav"]
    assert extra["outputs"][2] == {"namespace": "flowmusic://acct", "name": "clip/c1"}
    assert extra["facts"] == {"clip_ids": ["c1"], "model": "lyria"}
    assert extra["cost"] == {"amount": 12.0, "unit": "credits", "source": "accounts/usage"}
    assert extra["result"]["songs"] == [{"id": "s1", "duration_s": 31.2}]
    assert extra["task"] == TASK
    json.dumps(extra, allow_nan=False)  # JSON-primitive


@pytest.mark.parametrize("secret_key", ["token", "api_key", "password", "Cookie", "x_signature", "email", "refresh_token"])
def test_secret_named_keys_never_reach_the_extra(secret_key):
    extra = asset_extra(TaskReport(facts={secret_key: "v-secret", "ok": 1}), {secret_key: "v-secret", "id": "j1"},
                        task=TASK)
    assert "v-secret" not in json.dumps(extra) and extra["facts"] == {"ok": 1} and extra["result"] == {"id": "j1"}


def test_links_lose_query_strings_and_credentials_registered_secrets_masked():
    from airflow_provider_music.core.redaction import register_secret

    register_secret(SECRET_TOKEN)
    value = {"audio_url": f"https://cdn.test/a.mp3?X-Goog-Signature={SECRET_TOKEN}", "owner": "bob@example.com",
             "store": f"s3://key:{SECRET_TOKEN}@bucket/a.wav", "note": f"made with {SECRET_TOKEN}", "nan": float("nan")}
    small = compact(value)
    assert small["audio_url"] == "https://cdn.test/a.mp3"
    assert "owner" not in small and "nan" not in small
    assert SECRET_TOKEN not in json.dumps(small)
    assert small["store"] == "s3://bucket/a.wav"


def test_extra_stays_small_whatever_the_result():
    huge = {"songs": [{"id": f"s{i}", "lyrics": "la " * 5000} for i in range(500)], "files": [f"/s/{i}.wav" for i in range(500)]}
    extra = asset_extra(TaskReport(facts={"k": list(range(1000))}), huge, task=TASK)
    assert len(json.dumps(extra)) <= MAX_BYTES
    assert len(extra["paths"]) <= MAX_ITEMS and extra["paths"][0] == "/s/0.wav"
    assert len(extra["facts"]["k"]) == MAX_ITEMS


def test_http_links_are_not_paths_and_unknown_objects_are_left_out():
    extra = asset_extra(TaskReport(), ["https://x.test/a.wav", "/ok.wav", object(), "relative.wav"], task=TASK)
    assert extra["paths"] == ["/ok.wav"]
    assert extra["result"] == ["https://x.test/a.wav", "/ok.wav", "relative.wav"]


@pytest.mark.parametrize("count", [MAX_ITEMS + 1, 500, 3000])
def test_more_files_than_the_extra_holds_are_counted_never_dropped_silently(count):
    """A consumer acting on ``paths`` must know when the event names only some of the files."""
    result = {"files": [f"/songs/{i}.wav" for i in range(count)]}
    extra = asset_extra(TaskReport(), result, task=TASK)
    assert extra["paths_total"] == count and extra["paths_truncated"] is True
    assert extra["paths"] == [f"/songs/{i}.wav" for i in range(len(extra["paths"]))]
    assert len(json.dumps(extra)) <= MAX_BYTES


def test_all_files_named_means_no_truncation_flag():
    extra = asset_extra(TaskReport(), {"files": [f"/songs/{i}.wav" for i in range(MAX_ITEMS)]}, task=TASK)
    assert len(extra["paths"]) == MAX_ITEMS and extra["paths_total"] == MAX_ITEMS and "paths_truncated" not in extra


def test_vendor_ids_holding_an_at_sign_are_kept_email_addresses_are_not():
    """FlowMusic clip ids embed the account (``user:...-composer@example.com-clip:...``): they are ids, kept."""
    clip = "user:a1b2c3d4-composer@example.com-clip:083a8264-1f"
    extra = asset_extra(TaskReport(facts={"clip_ids": [clip], "account": "bob@example.com"}),
                        {"clip_ids": [clip], "owner": "bob@example.com"}, task=TASK)
    assert extra["facts"]["clip_ids"] == [clip] and extra["result"]["clip_ids"] == [clip]
    assert "bob@example.com" not in json.dumps(extra)
