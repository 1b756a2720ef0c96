"""Unit tests of AudioShakeHook: every method, every validation rule, both APIs, every response quirk."""

from __future__ import annotations

import io
import json
import logging

import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.contract.audioshake import (
    combine_states,
    job_metadata,
    job_outputs,
    job_state,
    normalise_ids,
    target_state,
    task_outputs,
    unwrap_job,
)
from airflow_provider_music.core import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    NotFoundError,
    RetryPolicy,
    ValidationError,
)
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.audioshake_api import LostAnswerError
from airflow_provider_music.testing.audio import sine_wav
from tests.conftest import SECRET_TOKEN

JOBS = "https://groovy.audioshake.ai"
TASKS = "https://api.audioshake.ai"
ASSET = "clksq2o6c1506f7ofcyvzpdh8"
JOB = "clksrfob8000bf7of6xkscy8m"


@pytest.fixture
def jobs_hook(set_connection):
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    return AudioShakeHook(retry_policy=RetryPolicy(max_attempts=2))


@pytest.fixture
def tasks_hook(set_connection):
    set_connection("audioshake_default", "audioshake", extra={"api": "tasks"})
    return AudioShakeHook(retry_policy=RetryPolicy(max_attempts=2))


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(sine_wav(0.05))
    return path


def seed_job(**overrides):
    """The seed's completed job, as printed in the legacy data-model page."""
    job = {
        "id": JOB, "clientId": "client", "createdAt": "2023-08-01T20:37:06.656Z",
        "startedAt": "2023-08-01T20:37:07.839Z", "updatedAt": "2023-08-01T20:37:28.392Z", "requestId": JOB,
        "licenseId": "", "callbackUrl": "https://example.com/cb", "status": "completed", "statusInfo": {},
        "metadata": {"format": "wav", "name": "vocals"},
        "outputAssets": [{"name": "vocals.wav", "id": "o1", "fileType": "audio/wav", "format": "wav",
                          "link": "https://cdn.audioshake.ai/o1/vocals.wav?Signature=s3cr3t"}],
    }  # fmt: skip
    job.update(overrides)
    return {"job": job}


# ---- connection ---------------------------------------------------------------------------------
def test_jobs_connection_defaults_and_bearer(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/usage", json={"clientId": "c", "usage": []})
    assert jobs_hook.api == "jobs" and jobs_hook.settings.base_url == f"{JOBS}/"
    assert jobs_hook.test_connection() == (True, f"Connection to {JOBS}/ works")
    headers = requests_mock.last_request.headers
    assert headers["Authorization"] == f"Bearer {SECRET_TOKEN}" and "x-api-key" not in headers


def test_tasks_connection_defaults_and_api_key(tasks_hook, requests_mock):
    requests_mock.get(f"{TASKS}/tasks", json=[])
    assert tasks_hook.settings.base_url == f"{TASKS}/"
    assert tasks_hook.test_connection()[0] is True
    headers = requests_mock.last_request.headers
    assert headers["x-api-key"] == SECRET_TOKEN and "Authorization" not in headers
    assert requests_mock.last_request.qs == {"skip": ["0"], "take": ["1"]}


def test_connection_test_falls_back_to_post_usage(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/usage", status_code=405, json={"message": "Method Not Allowed"})
    requests_mock.post(f"{JOBS}/usage", json={"clientId": "c", "usage": []})
    assert jobs_hook.test_connection()[0] is True
    assert [r.method for r in requests_mock.request_history] == ["GET", "POST"]


def test_default_api_is_jobs_and_prefixed_extra(set_connection):
    set_connection("audioshake_default", "audioshake")
    assert AudioShakeHook().api == "jobs"
    set_connection("audioshake_default", "audioshake", extra={"extra__audioshake__api": "TASKS"})
    assert AudioShakeHook().api == "tasks"


def test_invalid_api_extra(set_connection):
    set_connection("audioshake_default", "audioshake", extra={"api": "graphql"})
    with pytest.raises(ConfigurationError, match="'jobs' or 'tasks'"):
        AudioShakeHook().api  # noqa: B018


def test_host_overrides_base_url(set_connection):
    set_connection("emu", "audioshake", host="http://127.0.0.1:9/", extra={"api": "tasks"})
    assert AudioShakeHook(conn_id="emu").settings.base_url == "http://127.0.0.1:9/"


def test_failed_connection_test_hides_token(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/usage", status_code=401,
                      json={"statusCode": 401, "error": "Unauthorized", "message": "invalid token"})
    ok, message = jobs_hook.test_connection()
    assert not ok and "Unauthorized: invalid token" in message and SECRET_TOKEN not in message


def test_ui_field_behaviour():
    behaviour = AudioShakeHook.get_ui_field_behaviour()
    assert "login" in behaviour["hidden_fields"] and "password" in behaviour["relabeling"]


def test_methods_of_the_other_api_are_refused(jobs_hook, requests_mock):
    with pytest.raises(ConfigurationError, match="api='tasks'"):
        jobs_hook.tasks.get_task("task-1")
    assert requests_mock.call_count == 0


# ---- legacy uploads -----------------------------------------------------------------------------
def test_upload_file_streams_multipart(jobs_hook, requests_mock, wav):
    requests_mock.post(f"{JOBS}/upload/", json={"name": "song.wav", "id": ASSET, "fileType": "audio/wav",
                                                "format": "wav", "link": "https://x/y"})
    asset = jobs_hook.jobs.upload_file(str(wav))
    assert asset["id"] == ASSET
    req = requests_mock.last_request
    assert req.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(req.headers["Content-Length"]) > 100  # streamed encoder with a known length (not buffered)


def test_upload_file_object_and_missing_file(jobs_hook, requests_mock, tmp_path):
    requests_mock.post(f"{JOBS}/upload/", json={"id": ASSET})
    assert jobs_hook.jobs.upload_file(io.BytesIO(sine_wav(0.05)), filename="x.mp3")["id"] == ASSET
    with pytest.raises(InvalidInputError, match="file not found"):
        jobs_hook.jobs.upload_file(str(tmp_path / "nope.wav"))
    assert requests_mock.call_count == 1


def test_upload_answer_without_id(jobs_hook, requests_mock, wav):
    requests_mock.post(f"{JOBS}/upload/", json={"name": "x"})
    with pytest.raises(LostAnswerError, match="may have been created; ids unknown.*no asset id") as err:
        jobs_hook.jobs.upload_file(str(wav))
    assert isinstance(err.value, AirflowFailException)  # a person checks first: no blind Airflow retry
    assert requests_mock.call_count == 1  # the asset exists (200) but its id is unknown: never uploaded twice


@pytest.mark.parametrize(("audio", "path"), [(False, "/upload/link"), (True, "/upload/audio-link")])
def test_upload_link(jobs_hook, requests_mock, audio, path):
    requests_mock.post(f"{JOBS}{path}", json={"name": "song", "id": ASSET, "format": "mp3"})
    assert jobs_hook.jobs.upload_link("https://example.com/a.mp3", name="song", audio=audio)["id"] == ASSET
    assert requests_mock.last_request.json() == {"link": "https://example.com/a.mp3", "name": "song"}


@pytest.mark.parametrize("link", ["ftp://x/a.mp3", "not a url", "", None, "https://"])
def test_upload_link_rejects_bad_links(jobs_hook, requests_mock, link):
    with pytest.raises(InvalidInputError, match="link must be a public http"):
        jobs_hook.jobs.upload_link(link)
    assert requests_mock.call_count == 0


# ---- legacy jobs --------------------------------------------------------------------------------
def test_create_job_body(jobs_hook, requests_mock):
    requests_mock.post(f"{JOBS}/job/", json={"job": {"id": JOB, "status": "created", "metadata": {}}})
    job = jobs_hook.jobs.create_job(
        ASSET, name="vocals", format="wav", callback_url="https://example.com/hook", residual=True,
        max_track_length=20, preview=False, watermark_interval=10, custom_property="x" * 1000,
    )
    assert job["id"] == JOB
    assert requests_mock.last_request.json() == {
        "assetId": ASSET,
        "callbackUrl": "https://example.com/hook",
        "metadata": {"format": "wav", "name": "vocals", "residual": True, "preview": False, "maxTrackLength": 20,
                     "watermarkInterval": 10, "customProperty": "x" * 1000},
    }


def test_create_job_without_status_in_answer_and_lyrics(jobs_hook, requests_mock):
    requests_mock.post(f"{JOBS}/job/", json={"job": {"id": JOB, "assetId": ASSET}})  # music-detection example
    assert jobs_hook.jobs.create_job(ASSET, name="alignment", format="json", language="auto")["id"] == JOB
    assert requests_mock.last_request.json()["metadata"] == {"format": "json", "name": "alignment", "language": "auto"}
    jobs_hook.jobs.create_job(ASSET, name="music_detection", format="json")


def test_create_job_answer_without_id(jobs_hook, requests_mock):
    requests_mock.post(f"{JOBS}/job/", json={"job": {"status": "created"}})
    with pytest.raises(InvalidResponseError, match="no job id"):
        jobs_hook.jobs.create_job(ASSET, name="vocals", format="wav")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"asset_id": "short"}, "8 to 30"),
        ({"asset_id": "x" * 31}, "8 to 30"),
        ({"name": "kazoo"}, "name must be one of"),
        ({"name": "strings"}, "name must be one of"),  # Tasks-only model
        ({"format": "ogg"}, "format for model 'vocals'"),
        ({"format": "json"}, "format for model 'vocals'"),
        ({"name": "transcription", "format": "wav"}, "format for model 'transcription'"),
        ({"name": "music_detection", "format": "srt"}, "format for model 'music_detection'"),
        ({"name": "transcription", "format": "json", "language": "eng"}, "2-letter"),
        ({"name": "transcription", "format": "json", "language": "qq"}, "must be one of"),
        ({"language": "en"}, "only applies to transcription"),
        ({"max_track_length": 19}, "max_track_length must be >= 20"),
        ({"max_track_length": "thirty"}, "max_track_length must be a number"),
        ({"watermark_interval": 9.5}, "watermark_interval must be >= 10"),
        ({"custom_property": "x" * 1001}, "at most 1000"),
        ({"residual": "yes"}, "residual must be true or false"),
        ({"preview": 1}, "preview must be true or false"),
        ({"callback_url": "file:///etc/passwd"}, "callback_url"),
        ({"other_source_assets": [{"id": "a"}]}, "other_source_assets"),
        ({"extra_metadata": {"name": "drums"}}, "must not repeat"),
    ],
)
def test_create_job_validation(jobs_hook, requests_mock, kwargs, match):
    args = {"asset_id": ASSET, "name": "vocals", "format": "wav", **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        jobs_hook.jobs.create_job(args.pop("asset_id"), **args)
    assert requests_mock.call_count == 0


def test_create_job_legacy_all_format_and_other_source_assets(jobs_hook, requests_mock):
    requests_mock.post(f"{JOBS}/job/", json={"job": {"id": JOB}})
    jobs_hook.jobs.create_job(ASSET, name="alignment", format="all", language="en",
                         other_source_assets=[{"id": "t" * 10, "type": "transcription"}])
    assert requests_mock.last_request.json()["otherSourceAssets"] == [{"id": "t" * 10, "type": "transcription"}]


def test_create_job_server_error_is_not_blindly_retried(jobs_hook, requests_mock):
    requests_mock.post(f"{JOBS}/job/", status_code=500, json={"statusCode": 500, "error": "Internal", "message": "boom"})
    with pytest.raises(Exception) as err:
        jobs_hook.jobs.create_job(ASSET, name="vocals", format="wav")
    assert err.value.request_may_have_been_processed is True
    assert requests_mock.call_count == 1  # a non-idempotent create that may have happened is not repeated


def test_create_job_fastify_400(jobs_hook, requests_mock):
    requests_mock.post(f"{JOBS}/job/", status_code=400,
                       json={"statusCode": 400, "error": "Bad Request", "message": "body/assetId must NOT have fewer"})
    with pytest.raises(ValidationError, match="Bad Request: body/assetId must NOT have fewer"):
        jobs_hook.jobs.create_job(ASSET, name="vocals", format="wav")


def test_get_job_returns_seed_model(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/job/{JOB}", json=seed_job())
    job = jobs_hook.jobs.get_job(JOB)
    assert job["status"] == "completed" and job["outputAssets"][0]["name"] == "vocals.wav"


def test_get_job_flat_answer_and_bad_answer(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/job/{JOB}", json={"id": JOB, "status": "processing"})
    assert jobs_hook.jobs.get_job(JOB)["status"] == "processing"
    requests_mock.get(f"{JOBS}/job/{JOB}", json=["nope"])
    with pytest.raises(InvalidResponseError, match="not a job object"):
        jobs_hook.jobs.get_job(JOB)


@pytest.mark.parametrize("job_id", ["ab", "x" * 61, None, 12345])
def test_get_job_id_bounds(jobs_hook, requests_mock, job_id):
    with pytest.raises(InvalidInputError, match="3 to 60"):
        jobs_hook.jobs.get_job(job_id)
    assert requests_mock.call_count == 0


def test_get_job_quotes_the_id_and_maps_404(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/job/job%3A1", status_code=404, json={"statusCode": 404, "error": "Not Found",
                                                                      "message": "job not found"})
    with pytest.raises(NotFoundError, match="job not found"):
        jobs_hook.jobs.get_job("job:1")
    assert requests_mock.last_request.path == "/job/job%3a1"


@pytest.mark.parametrize("job_id", ["../usage", "..", "%2e%2e", "a/b", "abc?x=1", "abc#f", "None", "{'a': 1}"])
def test_hostile_ids_never_reach_another_endpoint(jobs_hook, requests_mock, job_id):
    with pytest.raises(InvalidInputError):
        jobs_hook.jobs.get_job(job_id)
    assert requests_mock.call_count == 0


def test_download_asset_streams_without_token_to_cdn(jobs_hook, requests_mock, tmp_path, caplog):
    link = "https://cdn.audioshake.ai/o1/vocals.wav?Signature=s3cr3t"
    requests_mock.get(link, content=b"RIFFdata", headers={"Content-Length": "8"})
    caplog.set_level(logging.INFO)
    path = jobs_hook.download_asset(link, tmp_path / "out" / "vocals.wav")
    assert (tmp_path / "out" / "vocals.wav").read_bytes() == b"RIFFdata" and path.name == "vocals.wav"
    assert "Authorization" not in requests_mock.last_request.headers
    assert "s3cr3t" not in caplog.text and SECRET_TOKEN not in caplog.text
    with pytest.raises(InvalidInputError):
        jobs_hook.download_asset("file:///etc/passwd", tmp_path / "x")


# ---- Tasks API ----------------------------------------------------------------------------------
def test_upload_asset(tasks_hook, requests_mock, wav):
    requests_mock.post(f"{TASKS}/assets", json={"id": ASSET, "format": "wav", "link": "https://cdn/x", "name": "song.wav"})
    assert tasks_hook.tasks.upload_asset(str(wav))["id"] == ASSET
    assert requests_mock.last_request.headers["x-api-key"] == SECRET_TOKEN


def test_create_task_with_asset_and_url(tasks_hook, requests_mock):
    requests_mock.post(f"{TASKS}/tasks", json={"id": "task-1", "targets": []})
    targets = [{"model": "vocals", "formats": "wav", "residual": True, "variant": "high_quality"},
               {"model": "alignment", "formats": ["json", "srt"], "language": "EN"},
               {"model": "strings", "formats": ["flac"]}]
    assert tasks_hook.tasks.create_task(ASSET, targets, metadata="marker")["id"] == "task-1"
    assert requests_mock.last_request.json() == {
        "assetId": ASSET, "metadata": "marker",
        "targets": [{"model": "vocals", "formats": ["wav"], "residual": True, "variant": "high_quality"},
                    {"model": "alignment", "formats": ["json", "srt"], "language": "en"},
                    {"model": "strings", "formats": ["flac"]}],
    }  # fmt: skip
    tasks_hook.tasks.create_task("https://example.com/a.mp3", [{"model": "bass", "formats": ["wav"]}])
    assert requests_mock.last_request.json()["url"] == "https://example.com/a.mp3"


@pytest.mark.parametrize(
    ("source", "targets", "match"),
    [
        ("http://example.com/a.mp3", [{"model": "bass", "formats": ["wav"]}], "HTTPS"),
        ("short", [{"model": "bass", "formats": ["wav"]}], "8 to 30"),
        (ASSET, [], "non-empty list"),
        (ASSET, "vocals", "non-empty list"),
        (ASSET, [{"model": "bass", "formats": ["wav"]}] * 21, "at most 20"),
        (ASSET, ["bass"], "must be a dict"),
        (ASSET, [{"model": "kazoo", "formats": ["wav"]}], "model must be one of"),
        (ASSET, [{"model": "bass"}], "formats must be a non-empty list"),
        (ASSET, [{"model": "bass", "formats": ["json"]}], "formats for model 'bass'"),
        (ASSET, [{"model": "transcription", "formats": ["all"]}], "formats for model 'transcription'"),
        (ASSET, [{"model": "bass", "formats": ["wav"], "residual": "yes"}], "residual"),
        (ASSET, [{"model": "bass", "formats": ["wav"], "variant": "best"}], "variant"),
        (ASSET, [{"model": "alignment", "formats": ["json"], "language": "english"}], "2-letter"),
        (ASSET, [{"model": "alignment", "formats": ["json"], "transcriptUrl": "ftp://x"}], "transcriptUrl"),
    ],
)
def test_create_task_validation(tasks_hook, requests_mock, source, targets, match):
    with pytest.raises(InvalidInputError, match=match):
        tasks_hook.tasks.create_task(source, targets)
    assert requests_mock.call_count == 0


def test_create_task_metadata_must_be_string(tasks_hook):
    with pytest.raises(InvalidInputError, match="metadata must be a string"):
        tasks_hook.tasks.create_task(ASSET, [{"model": "bass", "formats": ["wav"]}], metadata={"a": 1})


def test_twenty_targets_are_fine(tasks_hook, requests_mock):
    requests_mock.post(f"{TASKS}/tasks", json={"id": "task-1"})
    tasks_hook.tasks.create_task(ASSET, [{"model": "bass", "formats": ["wav"]}] * 20)


def test_get_task_list_tasks_find_task_list_models(tasks_hook, requests_mock):
    task = {"id": "task-1", "metadata": "m", "targets": [{"model": "bass", "status": "processing"}]}
    requests_mock.get(f"{TASKS}/tasks/task-1", json=task)
    requests_mock.get(f"{TASKS}/tasks", json=[task])
    requests_mock.get(f"{TASKS}/models", json={"models": [{"id": "vocals"}]})
    assert tasks_hook.tasks.get_task("task-1") == task
    assert tasks_hook.tasks.list_tasks(skip=5, take=100) == [task]
    assert requests_mock.last_request.qs == {"skip": ["5"], "take": ["100"]}
    assert tasks_hook.tasks.find_task("m")["id"] == "task-1" and tasks_hook.tasks.find_task("other") is None
    assert tasks_hook.tasks.list_models() == [{"id": "vocals"}]


def test_list_tasks_wrapped_answer_and_bad_answers(tasks_hook, requests_mock):
    requests_mock.get(f"{TASKS}/tasks", json={"tasks": [{"id": "a"}]})
    assert tasks_hook.tasks.list_tasks() == [{"id": "a"}]
    requests_mock.get(f"{TASKS}/tasks", json={"oops": 1})
    with pytest.raises(InvalidResponseError):
        tasks_hook.tasks.list_tasks()
    requests_mock.get(f"{TASKS}/models", json={"oops": 1})
    with pytest.raises(InvalidResponseError):
        tasks_hook.tasks.list_models()
    requests_mock.get(f"{TASKS}/tasks/task-1", json={"task": {"id": "task-1", "targets": []}})
    assert tasks_hook.tasks.get_task("task-1")["id"] == "task-1"
    requests_mock.get(f"{TASKS}/tasks/task-1", json={"id": "task-1", "targets": "nope"})
    with pytest.raises(InvalidResponseError):
        tasks_hook.tasks.get_task("task-1")


@pytest.mark.parametrize(("skip", "take"), [(-1, 10), (0, 0), (0, 101), ("x", 10), (0, True), (0.5, 10)])
def test_list_tasks_bounds(tasks_hook, requests_mock, skip, take):
    with pytest.raises(InvalidInputError):
        tasks_hook.tasks.list_tasks(skip=skip, take=take)
    assert requests_mock.call_count == 0


def test_tasks_auth_error(tasks_hook, requests_mock):
    requests_mock.get(f"{TASKS}/tasks/task-1", status_code=401, json={"message": "bad key"})
    with pytest.raises(AuthenticationError):
        tasks_hook.tasks.get_task("task-1")


# ---- parsing quirks -----------------------------------------------------------------------------
def test_outputs_top_level_stem_assets_and_source_asset():
    link = "https://cdn/x.wav?sig=1"
    top = {"outputAssets": [{"name": "a.wav", "id": "1", "link": link}],
           "stemAssets": [{"name": "a.wav", "id": "1", "link": link}, {"name": "b.wav", "id": "2", "link": "https://cdn/b"}]}
    assert [o["name"] for o in job_outputs(top)] == ["a.wav", "b.wav"]  # duplicates dropped
    nested = {"sourceAsset": {"outputAssets": [{"name": "instrumental.wav", "id": "3", "link": link}],
                              "metadata": {"format": "wav", "name": "instrumental"}}}
    assert [o["name"] for o in job_outputs(nested)] == ["instrumental.wav"]
    assert job_metadata(nested) == {"format": "wav", "name": "instrumental"}
    nested_stems = {"sourceAsset": {"stemAssets": [{"name": "c.wav", "link": link}, {"name": "nolink"}]}}
    assert [o["name"] for o in job_outputs(nested_stems)] == ["c.wav"]


def test_metadata_and_legacy_stem_metadata():
    assert job_metadata({"metadata": {"name": "drums", "format": "wav"}})["name"] == "drums"
    assert job_metadata({"stemMetadata": {"stemName": "bass", "format": "wav"}})["name"] == "bass"
    assert job_metadata({}) == {}


@pytest.mark.parametrize(
    ("job", "state"),
    [
        ({"status": "created"}, "running"),
        ({"status": "processing"}, "running"),
        ({"status": "completed"}, "success"),
        ({"status": "failed", "statusInfo": {"code": 500, "message": "bad audio"}}, "failed"),
        ({"status": "error"}, "failed"),
        ({"status": "mystery"}, "running"),
        ({}, "running"),
    ],
)
def test_job_state(job, state):
    assert job_state(job)[0] == state


def test_job_state_messages():
    assert job_state({"status": "failed", "statusInfo": {"code": 500, "message": "bad audio"}})[1] == "500 bad audio"
    assert job_state({"status": "failed", "statusInfo": None})[1] == "failed"
    assert "unknown state 'mystery'" in job_state({"status": "mystery"})[1]


@pytest.mark.parametrize(
    ("target", "state"),
    [
        ({"status": "processing"}, "running"),
        ({"status": "completed"}, "success"),
        ({"status": "error", "error": {"code": 1, "message": "x"}}, "failed"),
        ({"status": "failed"}, "failed"),
        ({"status": "warming_up"}, "running"),
    ],
)
def test_target_state(target, state):
    assert target_state(target)[0] == state


def test_task_outputs_add_extension():
    target = {"model": "bass", "output": [{"name": "bass", "format": "wav", "link": "https://cdn/b"},
                                          {"name": "bass.mp3", "format": "mp3", "link": "https://cdn/c"},
                                          {"name": "nolink", "format": "wav"}]}
    assert [o["name"] for o in task_outputs(target)] == ["bass.wav", "bass.mp3"]


def test_unwrap_job_rejects_junk():
    with pytest.raises(InvalidResponseError):
        unwrap_job({"something": 1})


def test_combine_states():
    running = combine_states([("a", "1", "success", "completed"), ("b", "2", "running", "processing")])
    assert running.state == "running" and "b=processing" in running.message
    partial = [("a", "1", "failed", "boom"), ("b", "2", "running", "processing")]
    assert combine_states(partial).state == "running"  # wait for b before reporting
    assert combine_states(partial, wait_all=False).state == "failed"
    done = combine_states([("a", "1", "failed", "boom"), ("b", "2", "success", "completed")])
    assert done.state == "failed" and "a (1): boom" in done.message
    assert combine_states([("a", "1", "success", "")]).state == "success"
    assert combine_states([]).state == "failed"
    json.dumps(done.payload)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", {"abc": "abc"}),
        ("abc, def", {"abc": "abc", "def": "def"}),
        ('["abc"]', {"abc": "abc"}),
        ('{"vocals": "abc"}', {"vocals": "abc"}),
        (["abc"], {"abc": "abc"}),
        ({"vocals": "abc"}, {"vocals": "abc"}),
        (None, {}),
    ],
)
def test_normalise_ids(value, expected):
    assert normalise_ids(value, argument="jobs") == expected


@pytest.mark.parametrize("value", ["[broken", 42, ["ab"]])
def test_normalise_ids_rejects(value):
    with pytest.raises(InvalidInputError):
        normalise_ids(value, argument="jobs")


# ---- status twins ---------------------------------------------------------------------------------
def test_separation_status_jobs(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/job/{JOB}", json=seed_job())
    requests_mock.get(f"{JOBS}/job/job-2", json={"job": {"id": "job-2", "status": "failed",
                                                          "metadata": {"name": "drums", "format": "wav"},
                                                          "statusInfo": {"code": 3, "message": "no drums"}}})
    result = jobs_hook.separation_status(jobs=[JOB, "job-2"])
    assert result.state == "failed" and "drums (job-2): 3 no drums" in result.message
    assert set(result.payload["items"]) == {"vocals", "drums"}
    assert "Signature" not in json.dumps(result.payload)  # never a signed link in events / XCom


def test_separation_status_tasks_per_model(tasks_hook, requests_mock):
    requests_mock.get(f"{TASKS}/tasks/task-1", json={"id": "task-1", "targets": [
        {"model": "vocals", "status": "completed"}, {"model": "drums", "status": "error", "error": {"message": "x"}}]})
    requests_mock.get(f"{TASKS}/tasks/task-2", json={"id": "task-2", "targets": [{"model": "drums", "status": "completed"}]})
    assert tasks_hook.separation_status(tasks={"vocals": "task-1", "drums": "task-2"}).state == "success"
    assert tasks_hook.separation_status(tasks=["task-1"]).state == "failed"
    assert tasks_hook.separation_status(tasks={"bass": "task-2"}).state == "failed"  # no such target
    requests_mock.get(f"{TASKS}/tasks/task-3", json={"id": "task-3", "targets": []})
    assert tasks_hook.separation_status(tasks="task-3").state == "running"


@pytest.mark.asyncio
async def test_aseparation_status_jobs_and_tasks(set_connection, monkeypatch):
    """The async twin parses exactly like the sync one (transport is tested against the emulator)."""
    answers = {
        f"job/{JOB}": seed_job(),
        "job/job-2": {"job": {"id": "job-2", "status": "processing"}},
        "tasks/task-1": {"id": "task-1", "targets": [{"model": "bass", "status": "completed"}]},
    }
    calls = []

    async def fake(self, method, path, parse=None, **kwargs):
        calls.append((method, path))
        return parse(answers[path]) if parse else answers[path]

    monkeypatch.setattr(AudioShakeHook, "arequest_json", fake)
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    result = await AudioShakeHook().aseparation_status(jobs={"vocals": JOB, "drums": "job-2"})
    assert result.state == "running" and "drums=processing" in result.message
    with pytest.raises(ConfigurationError, match="tasks ids were given"):  # one API per connection
        await AudioShakeHook().aseparation_status(tasks=["task-1"])
    set_connection("audioshake_default", "audioshake", extra={"api": "tasks"})
    result = await AudioShakeHook().aseparation_status(tasks=["task-1"])
    assert result.state == "success"
    assert calls == [("GET", f"job/{JOB}"), ("GET", "job/job-2"), ("GET", "tasks/task-1")]


@pytest.mark.asyncio
async def test_async_twins_against_emulator(music_emulator, tmp_path, monkeypatch):
    from airflow_provider_music.testing.audio import write_sine_wav
    from tests.audioshake.conftest import audioshake_conn

    song = write_sine_wav(tmp_path / "a.wav", seconds=0.2)
    music_emulator.state.settings["audioshake.job_seconds"] = 30
    hook = AudioShakeHook()
    asset = hook.jobs.upload_file(str(song))["id"]
    job = hook.jobs.create_job(asset, name="vocals", format="wav")
    async with hook.async_session():
        assert (await hook.jobs.aget_job(job["id"]))["id"] == job["id"]
        assert (await hook.aseparation_status(jobs=[job["id"]])).state == "running"
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))
    tasks_hook = AudioShakeHook()
    asset = tasks_hook.tasks.upload_asset(str(song))["id"]
    task = tasks_hook.tasks.create_task(asset, [{"model": "bass", "formats": ["wav"]}])
    assert (await tasks_hook.tasks.aget_task(task["id"]))["targets"][0]["model"] == "bass"
    with pytest.raises(NotFoundError):
        await tasks_hook.tasks.aget_task("missing-task")


def test_no_token_leaks_in_errors(jobs_hook, requests_mock):
    requests_mock.get(f"{JOBS}/job/{JOB}", exc=requests.exceptions.ConnectTimeout)
    with pytest.raises(Exception) as err:
        jobs_hook.jobs.get_job(JOB)
    assert SECRET_TOKEN not in str(err.value)
