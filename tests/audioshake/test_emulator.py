"""Contract fidelity (issue 15): the seed's own example body through the hook, the emulator's answers against
the seed's shape, Tasks statistics, writeDestination, the asset list, and callbacks / webhooks."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_music.contract.audioshake import job_metadata, job_outputs, job_state
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.testing.audio import write_sine_wav
from tests.audioshake.conftest import audioshake_conn

SEED = json.loads((Path(__file__).parent / "data" / "seed_get_job_example.json").read_text())
JOBS = "https://groovy.audioshake.ai"
TASKS = "https://api.audioshake.ai"


@pytest.fixture
def song(tmp_path: Path) -> Path:
    return write_sine_wav(tmp_path / "song.wav", seconds=0.2)


@pytest.fixture
def tasks_conn(music_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))
    return music_emulator


# ---- the seed's example through the hook -----------------------------------------------------------
def test_seed_example_body_parses(set_connection, requests_mock):
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    requests_mock.get(f"{JOBS}/job/clksrfob8000bf7of6xkscy8m", json=SEED)
    job = AudioShakeHook().jobs.get_job("clksrfob8000bf7of6xkscy8m")
    assert job["id"] == "string" and set(job) == set(SEED["job"])
    state, message = job_state(job)
    assert state == "running" and message.startswith("unknown state 'string'")  # never success
    assert job_metadata(job)["name"] == "string" and job_metadata(job)["format"] == "wav"
    assert [o["name"] for o in job_outputs(job)] == ["string"]  # stemAssets and outputAssets: one asset


def test_seed_example_with_stem_metadata_only(set_connection, requests_mock):
    set_connection("audioshake_default", "audioshake", extra={"api": "jobs"})
    body = {"job": {k: v for k, v in SEED["job"].items() if k != "metadata"}}
    requests_mock.get(f"{JOBS}/job/abc", json=body)
    assert job_metadata(AudioShakeHook().jobs.get_job("abc"))["name"] == "string"  # stemName -> name


# ---- the emulator against the seed's shape ----------------------------------------------------------
@pytest.mark.parametrize("finished", [False, True])
def test_emulator_job_has_the_seed_shape(music_emulator, song, finished):
    music_emulator.state.settings["audioshake.job_seconds"] = 0 if finished else 30
    jobs = AudioShakeHook().jobs
    job_id = jobs.create_job(jobs.upload_file(str(song))["id"], name="vocals", format="wav")["id"]
    job = jobs.get_job(job_id)
    seed = SEED["job"]
    expected = set(seed) if finished else set(seed) - {"stemAssets", "outputAssets"}
    assert expected <= set(job), expected - set(job)
    assert set(job["metadata"]) <= set(seed["metadata"]) and job["metadata"]["name"] == "vocals"
    assert set(job["stemMetadata"]) <= set(seed["stemMetadata"]) and job["stemMetadata"]["stemName"] == "vocals"
    if finished:
        item, seed_item = job["outputAssets"][0], seed["outputAssets"][0]
        assert set(item) == set(seed_item) and set(item["jobs"][0]["stemAssets"][0]) == set(
            seed_item["jobs"][0]["stemAssets"][0])
        assert job["stemAssets"] == job["outputAssets"] and "duration" in job["statusInfo"]


# ---- Tasks: statistics, writeDestination, assets -----------------------------------------------------
def test_tasks_statistics(tasks_conn, song):
    tasks = AudioShakeHook().tasks
    asset = tasks.upload_asset(str(song))["id"]
    tasks.create_task(asset, [{"model": "vocals", "formats": ["wav"]}, {"model": "bass", "formats": ["wav"]}])
    rows = tasks.statistics()
    assert rows[0]["month"] == time.strftime("%Y-%m", time.gmtime()) and rows[0]["totalTargets"] == 2
    assert isinstance(rows[0]["totalMinutes"], float)
    assert tasks.statistics("distribution")
    with pytest.raises(InvalidInputError, match="usage"):
        tasks.statistics("everything")
    raw = requests.get(f"{tasks_conn.url}/tasks/statistics", params={"name": "usage"},
                       headers={"x-api-key": tasks_conn.token}, timeout=5)
    assert raw.status_code == 200 and isinstance(raw.json()[0]["totalMinutes"], str)  # as documented


def test_write_destination_is_sent_and_kept(tasks_conn, song, tmp_path, make_context):
    from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator

    tasks = AudioShakeHook().tasks
    asset = tasks.upload_asset(str(song))["id"]
    where = {"bucket": "my-bucket", "region": "us-east-1", "prefix": "stems/"}
    task = tasks.create_task(asset, [{"model": "bass", "formats": ["wav"]}], write_destination=where)
    assert tasks_conn.state.apis["audioshake"].tasks[task["id"]]["writeDestination"] == where
    with pytest.raises(InvalidInputError, match="write_destination"):
        tasks.create_task(asset, [{"model": "bass", "formats": ["wav"]}], write_destination="s3://x")
    op = AudioShakeStemSeparationOperator(task_id="s", source=asset, destination=str(tmp_path), stems=["bass"],
                                          write_destination=where, poll_interval=0.02)
    op.execute(make_context())
    stored = list(tasks_conn.state.apis["audioshake"].tasks.values())[-1]
    assert stored["writeDestination"] == where


def test_list_assets(tasks_conn, song):
    tasks = AudioShakeHook().tasks
    asset = tasks.upload_asset(str(song))
    listed = tasks.list_assets()
    assert [a["id"] for a in listed] == [asset["id"]] and listed[0]["name"] == "song.wav"


def test_tasks_models_and_emulator_404_shape(tasks_conn):
    tasks = AudioShakeHook().tasks
    assert {"vocals", "multi_voice", "music_detection"} <= {m["id"] for m in tasks.list_models()}
    raw = requests.get(f"{tasks_conn.url}/tasks/missing-task", headers={"x-api-key": tasks_conn.token}, timeout=5)
    assert raw.status_code == 404 and set(raw.json()) == {"statusCode", "error", "message"}


# ---- callbacks and webhooks ------------------------------------------------------------------------------
def test_legacy_callback_url_gets_the_finished_job(music_emulator, song, listener):
    music_emulator.state.settings["audioshake.fail_stems"] = ["drums"]
    jobs = AudioShakeHook().jobs
    asset = jobs.upload_file(str(song))["id"]
    ok = jobs.create_job(asset, name="vocals", format="wav", callback_url=listener.url)["id"]
    bad = jobs.create_job(asset, name="drums", format="wav", callback_url=listener.url)["id"]
    got = {body["job"]["id"]: body["job"] for body in listener.wait(2)}
    assert got[ok]["status"] == "completed" and got[ok]["outputAssets"]
    assert got[bad]["status"] == "failed" and "failed" in got[bad]["statusInfo"]["message"]
    # what GET /job/{id} shows; signed links carry ``Expires=<now + 1 h>``, which moves on between the two reads
    unexpire = lambda job: json.loads(re.sub(r"Expires=\d+", "Expires=X", json.dumps(job)))  # noqa: E731
    assert unexpire(got[ok]) == unexpire({**jobs.get_job(ok), "updatedAt": got[ok]["updatedAt"]})


def test_callbacks_go_to_loopback_only(music_emulator, song):
    jobs = AudioShakeHook().jobs
    jobs.create_job(jobs.upload_file(str(song))["id"], name="vocals", format="wav",
                    callback_url="https://example.com/webhook")
    records = music_emulator.state.callbacks.wait(1)
    assert records and records[0]["url"] == "https://example.com/webhook" and records[0]["api"] == "audioshake"
    assert records[0]["state"] == "refused" and records[0]["http_status"] is None  # never sent off the machine


def test_tasks_webhook_gets_the_task_per_target(tasks_conn, song, listener):
    tasks_conn.state.settings["audioshake.webhook_url"] = listener.url
    tasks = AudioShakeHook().tasks
    task = tasks.create_task(tasks.upload_asset(str(song))["id"],
                             [{"model": "vocals", "formats": ["wav"]}, {"model": "bass", "formats": ["wav"]}],
                             metadata="run-1")
    bodies = listener.wait(2)
    assert len(bodies) == 2 and all(b["id"] == task["id"] and b["metadata"] == "run-1" for b in bodies)
    assert all(t["status"] == "completed" and t["output"] for t in bodies[0]["targets"])
