"""Operator unit tests with a faked API (requests_mock): validation, sanitising, crash safety, links."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.contract.audioshake import DASHBOARD_URL, classify_source, source_label
from airflow_provider_music.core import (
    InvalidInputError,
    JobTimeoutError,
    MusicApiError,
)
from airflow_provider_music.hooks.audioshake_api import LostAnswerError
from airflow_provider_music.operators.audioshake import (
    LEDGER_KEY,
    LINK_XCOM_KEY,
    AudioShakeJobLink,
    AudioShakeStemSeparationOperator,
    AudioShakeUploadOperator,
)
from airflow_provider_music.testing.audio import sine_wav
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore

JOBS = "https://groovy.audioshake.ai"
TASKS = "https://api.audioshake.ai"
ASSET = "clksq2o6c1506f7ofcyvzpdh8"


@pytest.fixture
def song(tmp_path: Path) -> Path:
    path = tmp_path / "track.wav"
    path.write_bytes(sine_wav(0.05))
    return path


@pytest.fixture
def jobs_api(set_connection, requests_mock):
    """A fake legacy API: every job completes at once with outputs named by ``names``."""
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    counter = itertools.count(1)
    jobs: dict[str, dict] = {}
    names: dict[str, list[str]] = {}

    def create(request, context):
        meta = request.json()["metadata"]
        job_id = f"job-{next(counter):04d}"
        jobs[job_id] = meta
        return {"job": {"id": job_id, "status": "created", "metadata": meta}}

    def get(request, context):
        job_id = request.path.rsplit("/", 1)[-1]
        meta = jobs.get(job_id) or {"name": "vocals", "format": "wav"}
        outputs = [{"name": n, "id": f"o-{i}", "format": meta["format"], "link": f"https://cdn.example.com/{job_id}/{i}?sig=zz"}
                   for i, n in enumerate(names.get(meta["name"], [f"{meta['name']}.{meta['format']}"]))]
        status = names.get("__status__", "completed")
        return {"job": {"id": job_id, "status": status, "metadata": meta, "statusInfo": {}, "outputAssets": outputs}}

    requests_mock.post(f"{JOBS}/upload/", json={"id": ASSET, "name": "track.wav", "format": "wav"})
    requests_mock.post(f"{JOBS}/job/", json=create)
    requests_mock.get(requests_mock_matcher(f"{JOBS}/job/"), json=get)
    requests_mock.get(requests_mock_matcher("https://cdn.example.com/"), content=b"RIFF-stem-bytes")
    return names


def requests_mock_matcher(prefix: str):
    import re

    return re.compile(re.escape(prefix) + ".+")


def op(tmp_path, source, **kwargs) -> AudioShakeStemSeparationOperator:
    kwargs.setdefault("stems", ["vocals", "drums"])
    kwargs.setdefault("timeout", 5)
    return AudioShakeStemSeparationOperator(task_id="sep", source=source, destination=str(tmp_path / "out"),
                                            poll_interval=0.01, **kwargs)


# ---- helpers --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("https://x.com/a.mp3", "url"),
        ("s3://bucket/a.wav", "file"),
        ("/tmp/a.wav", "file"),
        ("a.wav", "file"),
        (ASSET, "asset"),
        ("sh", "file"),
    ],
)
def test_classify_source(source, kind):
    assert classify_source(source)[0] == kind


def test_source_label():
    assert source_label("url", "https://x.com/dir/My%20Song.mp3?sig=1") == "My Song"
    assert source_label("asset", ASSET) == ASSET
    assert source_label("file", "/a/b/../track.final.wav") == "track.final"
    assert source_label("file", "/a/b.wav", "../../up") == "up"
    from airflow_provider_music.operators.audioshake import labelled_sources

    labels = [label for _, _, label in labelled_sources(["clksq2o6c1506f7ofcyvzpdh8", "CLKSQ2O6C1506F7OFCYVZPDH8"], None)]
    assert labels == ["clksq2o6c1506f7ofcyvzpdh8", "CLKSQ2O6C1506F7OFCYVZPDH8_2"]  # never one folder for two sources


# ---- validation before any request ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stems": ["vocals", "kazoo"]}, "stems must be AudioShake models"),
        ({"stems": ["vocals", "vocals"]}, "must not repeat"),
        ({"stems": []}, "non-empty list"),
        ({"format": "ogg"}, "format for model 'vocals'"),
        ({"stems": ["transcription"], "lyrics_format": "wav"}, "lyrics_format for model 'transcription'"),
        ({"language": "english"}, "2-letter"),
        ({"residual": "yes"}, "residual must be True or False"),
        ({"job_options": {"max_track_length": 5}}, "max_track_length must be >= 20"),
        ({"job_options": ["x"]}, "job_options must be a dict"),
        ({"stems": ["strings"]}, "stems must be one of the AudioShake jobs API models"),  # Tasks-only model
    ],
)
def test_invalid_input_fails_before_any_request(jobs_api, requests_mock, tmp_path, song, make_context, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        op(tmp_path, str(song), **kwargs).execute(make_context())
    assert requests_mock.call_count == 0


def test_missing_source_and_unwritable_destination(jobs_api, requests_mock, tmp_path, make_context):
    with pytest.raises(InvalidInputError, match="file not found"):
        op(tmp_path, str(tmp_path / "nope.wav")).execute(make_context())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidInputError, match="not a directory"):
        AudioShakeStemSeparationOperator(task_id="s", source=ASSET, destination=str(blocker / "sub")).execute(
            make_context())
    assert requests_mock.call_count == 0


def test_tasks_api_rejects_plain_http_source(set_connection, requests_mock, tmp_path, make_context):
    set_connection("audioshake_default", "audioshake", extra={"api": "tasks"})
    with pytest.raises(InvalidInputError, match="HTTPS"):
        op(tmp_path, "http://example.com/a.mp3").execute(make_context())
    with pytest.raises(InvalidInputError, match="lyrics_format for model 'transcription'"):
        op(tmp_path, ASSET, stems=["transcription"], lyrics_format="all").execute(make_context())
    assert requests_mock.call_count == 0


# ---- legacy flow with a faked API -----------------------------------------------------------------
def test_legacy_flow_result_and_xcoms(jobs_api, requests_mock, tmp_path, song, make_context):
    ctx = make_context()
    result = op(tmp_path, str(song), residual=True, job_options={"max_track_length": 30}).execute(ctx)
    out = tmp_path / "out" / "track"
    assert result.pop("cost")["amount"] == "unknown"  # the legacy Jobs API reports no cost (tests/audioshake/test_cost.py)
    assert result == {  # a local destination gives plain local paths (no file://)
        "asset_id": ASSET,
        "url": None,
        "jobs": {"vocals": "job-0001", "drums": "job-0002"},
        "outputs": {"vocals": f"{out}/vocals.wav", "drums": f"{out}/drums.wav"},
        "files": {"vocals": [f"{out}/vocals.wav"], "drums": [f"{out}/drums.wav"]},
    }
    creates = [r.json() for r in requests_mock.request_history if r.method == "POST" and r.path == "/job/"]
    assert creates[0]["metadata"] == {"format": "wav", "name": "vocals", "residual": True, "maxTrackLength": 30}
    assert ctx["ti"].xcom_pushed["jobs"] == result["jobs"] and ctx["ti"].xcom_pushed["asset_id"] == ASSET
    assert ctx["ti"].xcom_pushed[LINK_XCOM_KEY] == DASHBOARD_URL  # a page a person can use, not an API endpoint
    assert (out / "vocals.wav").read_bytes() == b"RIFF-stem-bytes"


def test_malicious_names_from_the_api_cannot_escape(jobs_api, tmp_path, song, make_context):
    jobs_api["vocals"] = ["../../x.wav", "../vocals.wav"]
    jobs_api["drums"] = ["/etc/x.wav", "..", "x.wav"]
    result = op(tmp_path, str(song)).execute(make_context())
    out = tmp_path / "out" / "track"
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 5 and "x.wav" in names  # 5 outputs, 5 files: distinct outputs never overwrite
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "out" / "x.wav").exists()
    assert "/track/vocals" in result["outputs"]["vocals"]
    assert all(str(out) in p for paths in result["files"].values() for p in paths)


def test_lyrics_with_language_and_all_format(jobs_api, requests_mock, tmp_path, song, make_context):
    jobs_api["alignment"] = ["alignment.json", "alignment.srt", "alignment.txt"]
    result = op(tmp_path, str(song), stems=["alignment"], lyrics_format="all", language="de").execute(make_context())
    create = next(r.json() for r in requests_mock.request_history if r.path == "/job/")
    assert create["metadata"] == {"format": "all", "name": "alignment", "language": "de"}
    assert result["outputs"]["alignment"].endswith("alignment.json") and len(result["files"]["alignment"]) == 3


def test_legacy_ambiguous_create_keeps_what_exists(jobs_api, requests_mock, tmp_path, song, make_context):
    """A 500 on POST /job/ may have created the job: never re-sent (not even by the next try), the asset and
    earlier jobs are kept, and the error says what to check."""
    store = FakeTaskStateStore()
    original = requests_mock.post(f"{JOBS}/job/", json=lambda r, c: {"job": {"id": "job-0001"}})
    requests_mock.post(f"{JOBS}/job/", [
        {"json": {"job": {"id": "job-0001", "status": "created"}}},
        {"status_code": 500, "json": {"statusCode": 500, "error": "Internal", "message": "boom"}},
    ])
    del original
    with pytest.raises(LostAnswerError, match="may have been created; ids unknown.*callbackUrl"):
        op(tmp_path, str(song)).execute(make_context(store))
    saved = store.get(LEDGER_KEY)["sources"][0]
    assert saved["asset_id"] == ASSET and saved["units"] == {"vocals": "job-0001"} and "drums" in saved["pending"]
    assert sum(1 for r in requests_mock.request_history if r.path == "/job/") == 2
    with pytest.raises(LostAnswerError, match="earlier attempt"):  # the next try does not re-send it either
        op(tmp_path, str(song)).execute(make_context(store))
    assert sum(1 for r in requests_mock.request_history if r.path == "/job/") == 2
    assert sum(1 for r in requests_mock.request_history if r.path == "/upload/") == 1
    requests_mock.post(f"{JOBS}/job/", json={"job": {"id": "job-0002", "status": "created"}})
    op(tmp_path, str(song), recreate_on_lost_answer=True).execute(make_context(store))  # explicit opt-in
    assert sum(1 for r in requests_mock.request_history if r.path == "/job/") == 3


def test_extra_link_reads_xcom():
    link = AudioShakeJobLink()
    with mock.patch("airflow_provider_music.operators.base.XCom.get_value", return_value="https://x/job/1") as gv:
        assert link.get_link(mock.MagicMock(), ti_key="key") == "https://x/job/1"
    gv.assert_called_once_with(key=LINK_XCOM_KEY, ti_key="key")
    with mock.patch("airflow_provider_music.operators.base.XCom.get_value", return_value=None):
        assert link.get_link(mock.MagicMock(), ti_key="key") == ""
    assert AudioShakeStemSeparationOperator.operator_extra_links[0].name == "AudioShake dashboard"


def test_template_fields():
    assert {"source", "destination", "stems", "format", "language", "residual"} <= set(
        AudioShakeStemSeparationOperator.template_fields)
    assert {"source", "name"} <= set(AudioShakeUploadOperator.template_fields)


def test_upload_operator_file(jobs_api, requests_mock, song, make_context):
    ctx = make_context()
    assert AudioShakeUploadOperator(task_id="u", source=str(song)).execute(ctx) == ASSET
    assert ctx["ti"].xcom_pushed["asset"] == {"id": ASSET}


def test_upload_operator_missing_file(jobs_api, requests_mock, tmp_path, make_context):
    with pytest.raises(InvalidInputError):
        AudioShakeUploadOperator(task_id="u", source=str(tmp_path / "no.wav")).execute(make_context())
    assert requests_mock.call_count == 0


# ---- Tasks flow with a faked API ------------------------------------------------------------------
@pytest.fixture
def tasks_api(set_connection, requests_mock):
    set_connection("audioshake_default", "audioshake", extra={"api": "tasks"})
    tasks: dict[str, dict] = {}

    def task_json(task):
        return {**task, "targets": [
            {**t, "status": "completed", "output": [{"name": t["model"], "format": t["formats"][0],
                                                     "link": f"https://cdn.example.com/{task['id']}/{t['model']}"}]}
            for t in task["targets"]]}

    def create(request, context):
        body = request.json()
        task = {"id": f"task-{len(tasks) + 1}", "metadata": body.get("metadata"), "targets": body["targets"]}
        tasks[task["id"]] = task
        return task_json(task)

    requests_mock.post(f"{TASKS}/assets", json={"id": ASSET, "name": "track.wav", "format": "wav"})
    requests_mock.get(f"{TASKS}/assets", json=[])  # the look-first before an upload finds nothing
    requests_mock.post(f"{TASKS}/tasks", json=create)
    requests_mock.get(requests_mock_matcher(f"{TASKS}/tasks/"),
                      json=lambda r, c: task_json(tasks[r.path.rsplit("/", 1)[-1]]))
    requests_mock.get(f"{TASKS}/tasks", json=lambda r, c: [task_json(t) for t in reversed(list(tasks.values()))])
    requests_mock.get(requests_mock_matcher("https://cdn.example.com/"), content=b"stem")
    return tasks


def test_tasks_flow(tasks_api, requests_mock, tmp_path, song, make_context):
    ctx = make_context()
    result = op(tmp_path, str(song), stems=["vocals", "alignment"], language="en",
                job_options={"variant": None}).execute(ctx)
    assert result["tasks"] == {"vocals": "task-1", "alignment": "task-1"}
    assert result["outputs"]["alignment"].endswith("/track/alignment.json")
    body = next(r.json() for r in requests_mock.request_history if r.method == "POST" and r.path == "/tasks")
    assert body["targets"] == [{"model": "vocals", "formats": ["wav"]},
                               {"model": "alignment", "formats": ["json"], "language": "en"}]
    assert body["metadata"].startswith("airflow:") and body["assetId"] == ASSET
    assert ctx["ti"].xcom_pushed[LINK_XCOM_KEY] == DASHBOARD_URL


def test_tasks_ambiguous_create_is_found_by_marker(tasks_api, requests_mock, tmp_path, song, make_context):
    """POST /tasks times out after AudioShake created the task: the marker finds it, nothing is paid twice."""
    real_create = requests_mock.post(f"{TASKS}/tasks", json=lambda r, c: None)
    created = {}

    def create_then_fail(request, context):
        body = request.json()
        created["task"] = {"id": "task-1", "metadata": body["metadata"], "targets": body["targets"]}
        tasks_api["task-1"] = created["task"]
        context.status_code = 502
        return {"message": "gateway timeout"}

    del real_create
    requests_mock.post(f"{TASKS}/tasks", json=create_then_fail)
    result = op(tmp_path, str(song)).execute(make_context())
    assert result["tasks"] == {"vocals": "task-1", "drums": "task-1"}
    assert sum(1 for r in requests_mock.request_history if r.method == "POST" and r.path == "/tasks") == 1


def test_tasks_pending_marker_after_crash_is_adopted(tasks_api, requests_mock, tmp_path, song, make_context):
    """The worker died after POST /tasks was sent but before the id was saved: the retry finds the task."""
    store = FakeTaskStateStore()
    marker = "airflow:earlier-attempt"
    tasks_api["task-9"] = {"id": "task-9", "metadata": marker,
                           "targets": [{"model": "vocals", "formats": ["wav"]}, {"model": "drums", "formats": ["wav"]}]}
    store.set(LEDGER_KEY, {"api": "tasks", "sources": [
        {"label": "track", "asset_id": ASSET, "url": None, "units": {}, "pending": {"vocals": marker, "drums": marker}}]})
    result = op(tmp_path, str(song)).execute(make_context(store))
    assert result["tasks"] == {"vocals": "task-9", "drums": "task-9"}
    assert not any(r.method == "POST" for r in requests_mock.request_history)


def test_tasks_ambiguous_create_not_found_raises(tasks_api, requests_mock, tmp_path, song, make_context):
    requests_mock.post(f"{TASKS}/tasks", status_code=500, json={"message": "boom"})
    store = FakeTaskStateStore()
    with pytest.raises(LostAnswerError, match="may have been created; ids unknown: check GET /tasks"):
        op(tmp_path, str(song)).execute(make_context(store))
    assert store.get(LEDGER_KEY)["sources"][0]["pending"]["vocals"].startswith("airflow:")
    assert sum(1 for r in requests_mock.request_history if r.method == "POST" and r.path == "/tasks") == 1


# ---- deferrable edge cases ------------------------------------------------------------------------
def test_deferrable_defers_with_persisted_ids_and_handles_events(jobs_api, tmp_path, song, make_context):
    store = FakeTaskStateStore()
    jobs_api["__status__"] = "processing"  # still running at the first poll: defer
    operator = op(tmp_path, str(song), deferrable=True, timeout=60)
    ctx = make_context(store)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    trig = deferred.value.trigger
    assert trig.target == {"jobs": {"track/vocals": "job-0001", "track/drums": "job-0002"}, "tasks": None,
                           "wait_all": True}
    assert trig.deadline is not None and trig.poll_interval == 0.01
    assert store.get("audioshake_separation")["sources"][0]["units"] == {"vocals": "job-0001", "drums": "job-0002"}
    assert ctx["ti"].xcom_pushed[LINK_XCOM_KEY] == DASHBOARD_URL
    json.dumps(deferred.value.kwargs)  # serialisable
    jobs_api["__status__"] = "completed"
    with pytest.raises(JobTimeoutError):
        op(tmp_path, str(song), deferrable=True).execute_complete(make_context(store), {"status": "timeout", "message": "late"},
                                                                 **deferred.value.kwargs)
    with pytest.raises(MusicApiError, match="invalid trigger event"):
        op(tmp_path, str(song), deferrable=True).execute_complete(make_context(store), None, **deferred.value.kwargs)
    result = op(tmp_path, str(song), deferrable=True).execute_complete(make_context(store), {"status": "success"},
                                                                      **deferred.value.kwargs)
    assert set(result["outputs"]) == {"vocals", "drums"}


def test_resume_without_ids_is_an_error(jobs_api, tmp_path, song, make_context):
    with pytest.raises(MusicApiError, match="without the job record"):
        op(tmp_path, str(song), deferrable=True).execute_complete(make_context(), {"status": "success"})


def test_token_never_logged_or_returned(jobs_api, tmp_path, song, make_context, caplog):
    caplog.set_level(logging.DEBUG, logger="airflow.task")
    ctx = make_context()
    result = op(tmp_path, str(song)).execute(ctx)
    assert SECRET_TOKEN not in caplog.text and "sig=zz" not in caplog.text
    assert SECRET_TOKEN not in json.dumps(result) and SECRET_TOKEN not in json.dumps(ctx["ti"].xcom_pushed)
    assert "sig=zz" not in json.dumps(result)
