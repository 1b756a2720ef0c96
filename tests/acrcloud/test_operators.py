"""ACRCloud operators, sensors and triggers against the emulator (sync, deferrable, crash-resume)."""

from __future__ import annotations

import json

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_music.core import JobFailedError, JobTimeoutError, WatchedJobFailedError
from airflow_provider_music.operators.acrcloud import (
    UPLOAD_MARKER_KEY,
    AcrCloudConsoleLink,
    AcrCloudDeleteFilesOperator,
    AcrCloudDumpBucketOperator,
    AcrCloudMoveFilesOperator,
    AcrCloudScanFileOperator,
    AcrCloudUpdateFileOperator,
    AcrCloudUploadFileOperator,
)
from airflow_provider_music.sensors.acrcloud import (
    AcrCloudDumpSensor,
    AcrCloudFileStateSensor,
    AcrCloudScanSensor,
)
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav
from airflow_provider_music.triggers.acrcloud import (
    AcrCloudDumpTrigger,
    AcrCloudFileStateTrigger,
    AcrCloudScanTrigger,
)
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(hook) -> int:
    return hook.create_bucket("songs", region="eu-west-1")["id"]


@pytest.fixture
def track(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(sine_wav(0.5, freq=330, sample_rate=8000))
    return path


async def run_trigger(trigger):
    return [e async for e in trigger.run()]


# ---- upload -----------------------------------------------------------------------------------
def test_upload_operator_waits_until_ready(emu, bucket, track, make_context):
    ctx = make_context()
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), title="Song",
                                    user_defined={"isrc": "X1"}, poll_interval=0.05)
    result = op.execute(ctx)
    assert result["state"] == 1 and result["title"] == "Song" and result["bucket_id"] == bucket
    pushed = ctx["ti"].xcom_pushed
    assert pushed["file_id"] == result["id"] and pushed["acr_id"] == result["acr_id"] and pushed["bucket_id"] == bucket
    assert pushed["acrcloud_console_url"].endswith(f"/buckets/{bucket}")
    stored = store_of(emu.state).files[result["id"]]
    assert stored.user_defined["isrc"] == "X1" and stored.user_defined[UPLOAD_MARKER_KEY] == "test_dag/test_task/manual__test/-1"
    assert SECRET_TOKEN not in json.dumps(result) + json.dumps(pushed)


def test_upload_operator_processing_error_fails(emu, bucket, track, make_context):
    emu.state.settings["acrcloud.error_rate"] = 1.0
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), poll_interval=0.05)
    with pytest.raises(JobFailedError, match="state -1"):
        op.execute(make_context())


def test_upload_operator_url_without_wait(emu, bucket, make_context):
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, data_type="audio_url",
                                    url="https://host/x.mp3", wait_for_ready=False)
    assert op.execute(make_context())["state"] == 0


def test_upload_operator_validates_before_requests(emu, bucket, make_context):
    for kwargs in ({"data_type": "nope"}, {"data_type": "audio"}, {"data_type": "audio_url"},
                   {"data_type": "acrid"}, {"data_type": "audio_url", "url": "https://x/y", "user_defined": {"a": {1, 2}}}):
        with pytest.raises(Exception, match="data_type|source|url|acrid|JSON"):
            AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, **kwargs).execute(make_context())
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 0


def test_upload_lost_answer_finds_the_file_instead_of_uploading_again(emu, bucket, track, make_context):
    emu.state.settings["acrcloud.lost_response_rate"] = 1.0
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), title="Song", poll_interval=0.05)
    result = op.execute(make_context())
    assert result["state"] == 1
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 1
    assert len(store_of(emu.state).files_in(bucket)) == 1


def test_upload_retry_after_crash_reconnects(emu, bucket, track, make_context):
    store = FakeTaskStateStore()
    first = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), deferrable=True, poll_interval=0.05)
    with pytest.raises(TaskDeferred):
        first.execute(make_context(store))
    assert store.get("acrcloud_upload_file_id")["file_id"]
    # the worker died while deferred; Airflow retries the task (sync this time)
    again = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), poll_interval=0.05)
    result = again.execute(make_context(store))
    assert result["state"] == 1 and result["id"] == store.get("acrcloud_upload_file_id")["file_id"]
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 1


def test_upload_retry_without_store_finds_marker(emu, bucket, track, make_context, hook):
    hook.upload_file(bucket, data_type="audio", source=str(track), title="Song",
                     user_defined={UPLOAD_MARKER_KEY: "test_dag/test_task/manual__test/-1"})
    ctx = make_context()
    ctx.pop("task_state_store")
    ctx["ti"].try_number = 2
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), title="Song", poll_interval=0.05)
    assert op.execute(ctx)["state"] == 1
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 1


@pytest.mark.asyncio
async def test_upload_deferrable_round_trip(emu, bucket, track, make_context):
    ctx = make_context()
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), deferrable=True, poll_interval=0.05)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    trigger = exc.value.trigger
    assert isinstance(trigger, AcrCloudFileStateTrigger) and exc.value.method_name == "execute_complete"
    assert SECRET_TOKEN not in json.dumps(trigger.serialize()[1])
    events = await run_trigger(trigger)
    assert events[0].payload["status"] == "success"
    assert op.execute_complete(ctx, events[0].payload, **exc.value.kwargs)["state"] == 1


def test_console_link_reads_xcom(monkeypatch):
    from airflow_provider_music.operators import base

    monkeypatch.setattr(base.XCom, "get_value", staticmethod(lambda key, ti_key: f"url-for-{key}"))
    assert AcrCloudConsoleLink().get_link(None, ti_key=object()) == "url-for-acrcloud_console_url"


# ---- update / delete / move ---------------------------------------------------------------------
def test_update_delete_move_operators(emu, hook, bucket, make_context):
    other = hook.create_bucket("other", region="eu-west-1")["id"]
    a = hook.upload_file(bucket, data_type="audio_url", url="https://h/a.mp3", title="a")
    b = hook.upload_file(bucket, data_type="audio_url", url="https://h/b.mp3", title="b")
    c = hook.upload_file(bucket, data_type="audio_url", url="https://h/c.mp3", title="c")
    updated = AcrCloudUpdateFileOperator(task_id="u", bucket_id=bucket, file_id=a["acr_id"], title="A",
                                         user_defined={"artist": "x"}).execute(make_context())
    assert updated["title"] == "A" and updated["user_defined"] == {"artist": "x"}
    moved = AcrCloudMoveFilesOperator(task_id="m", target_bucket_id=other, ids=[b["id"]]).execute(make_context())
    assert moved == {"target_bucket_id": other, "moved": [str(b["id"])]}
    assert store_of(emu.state).files[b["id"]].bucket_id == other
    deleted = AcrCloudDeleteFilesOperator(task_id="d", bucket_id=bucket, ids=f"{a['id']},{c['acr_id']}").execute(make_context())
    assert deleted["deleted"] == [str(a["id"]), c["acr_id"]]
    assert store_of(emu.state).files_in(bucket) == []
    # deleting again is fine (already gone)
    AcrCloudDeleteFilesOperator(task_id="d", bucket_id=bucket, ids=[a["id"]]).execute(make_context())


# ---- dump ----------------------------------------------------------------------------------------
def test_dump_operator_sync_saves_file(emu, hook, bucket, tmp_path, make_context):
    hook.upload_file(bucket, data_type="audio_url", url="https://h/a.mp3", title="a")
    out = AcrCloudDumpBucketOperator(task_id="dump", bucket_id=bucket, destination=str(tmp_path / "dumps") + "/",
                                     poll_interval=0.05).execute(make_context())
    assert out.endswith(".json") and f"bucket-{bucket}-dump-" in out
    data = json.loads(open(out.replace("file://", "")).read())
    assert data[0]["title"] == "a"


@pytest.mark.asyncio
async def test_dump_operator_deferrable(emu, hook, bucket, tmp_path, make_context):
    ctx = make_context()
    op = AcrCloudDumpBucketOperator(task_id="dump", bucket_id=bucket, destination=str(tmp_path / "d.json"),
                                    deferrable=True, poll_interval=0.05)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    assert isinstance(exc.value.trigger, AcrCloudDumpTrigger)
    events = await run_trigger(exc.value.trigger)
    assert events[0].payload["status"] == "success"
    out = op.execute_complete(ctx, events[0].payload, **exc.value.kwargs)
    assert out.endswith("d.json") and json.loads((tmp_path / "d.json").read_text()) == []


# ---- scan ----------------------------------------------------------------------------------------
def test_scan_operator_finds_catalog_match(emu, hook, bucket, track, tmp_path, make_context):
    hook.upload_file(bucket, data_type="audio", source=str(track), title="Original", user_defined={"artist": "Me"})
    ctx = make_context()
    result = AcrCloudScanFileOperator(task_id="scan", source=str(track), buckets=[bucket], poll_interval=0.05).execute(ctx)
    assert result["matched"] and result["state"] == 1
    assert result["custom_files"][0]["title"] == "Original" and result["custom_files"][0]["artist"] == "Me"
    assert ctx["ti"].xcom_pushed["file_id"] == result["file_id"]
    # a different song: no match; the container is reused by name
    fresh = tmp_path / "new.wav"
    fresh.write_bytes(sine_wav(0.5, freq=990, sample_rate=8000))
    clean = AcrCloudScanFileOperator(task_id="scan", source=str(fresh), buckets=[bucket], poll_interval=0.05).execute(make_context())
    assert not clean["matched"] and clean["state"] == -1 and clean["container_id"] == result["container_id"]
    assert len(store_of(emu.state).containers) == 1
    with pytest.raises(JobFailedError, match="matched"):
        AcrCloudScanFileOperator(task_id="scan", source=str(track), container_id=result["container_id"],
                                 fail_on_match=True, poll_interval=0.05).execute(make_context())


def test_scan_operator_music_database_and_errors(emu, track, make_context):
    store_of(emu.state).add_music_track(track.read_bytes(), title="Hit", artist="Star")
    result = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05).execute(make_context())
    assert result["music"][0]["title"] == "Hit" and result["music"][0]["artists"] == [{"name": "Star"}]
    emu.state.settings["acrcloud.fs_error_rate"] = 1.0
    with pytest.raises(JobFailedError, match="scan error"):
        AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05).execute(make_context())


@pytest.mark.asyncio
async def test_scan_operator_deferrable_and_resume(emu, track, make_context):
    store = FakeTaskStateStore()
    ctx = make_context(store)
    op = AcrCloudScanFileOperator(task_id="scan", source=str(track), deferrable=True, poll_interval=0.05)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    assert isinstance(exc.value.trigger, AcrCloudScanTrigger) and store.get("acrcloud_scan_file")
    events = await run_trigger(exc.value.trigger)
    result = op.execute_complete(ctx, events[0].payload, **exc.value.kwargs)
    assert result["state"] == -1 and not result["matched"]
    # an Airflow retry after the scan finished returns the stored result without scanning again
    again = AcrCloudScanFileOperator(task_id="scan", source=str(track), deferrable=True, poll_interval=0.05)
    assert again.execute(make_context(store))["file_id"] == result["file_id"]
    assert len(store_of(emu.state).fs_files) == 1


# ---- sensors ---------------------------------------------------------------------------------------
def test_file_state_sensor_poke_and_failure(emu, hook, bucket, make_context):
    emu.state.settings["acrcloud.job_seconds"] = 30
    f = hook.upload_file(bucket, data_type="audio_url", url="https://h/a.mp3")
    sensor = AcrCloudFileStateSensor(task_id="s", bucket_id=bucket, ids=[f["acr_id"]], poke_interval=0.05)
    assert not sensor.poke(make_context()).is_done
    emu.state.settings["acrcloud.job_seconds"] = 0
    done = sensor.poke(make_context())
    assert done.is_done and done.xcom_value["ready"] == 1
    emu.state.settings["acrcloud.error_rate"] = 1.0
    bad = hook.upload_file(bucket, data_type="audio_url", url="https://h/b.mp3")
    with pytest.raises(WatchedJobFailedError):
        AcrCloudFileStateSensor(task_id="s", bucket_id=bucket, ids=[f["id"], bad["id"]]).poke(make_context())


@pytest.mark.asyncio
async def test_file_state_sensor_deferrable(emu, hook, bucket, make_context):
    f = hook.upload_file(bucket, data_type="audio_url", url="https://h/a.mp3")
    sensor = AcrCloudFileStateSensor(task_id="s", ids=f["id"], bucket_id=bucket, deferrable=True, poke_interval=0.05, timeout=30)
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute(make_context())
    events = await run_trigger(exc.value.trigger)
    assert sensor.execute_complete(make_context(), events[0].payload)["ready"] == 1
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(make_context(), {"status": "timeout", "message": "late"})


def test_dump_and_scan_sensors_poke(emu, hook, bucket, track, make_context):
    emu.state.settings["acrcloud.job_seconds"] = 30
    dump = AcrCloudDumpSensor(task_id="d", bucket_id=bucket)
    assert not dump.poke(make_context()).is_done
    container = hook.create_fs_container("c", region="eu-west-1", buckets=[bucket])
    scan = hook.upload_fs_file(container["id"], source=str(track))
    sensor = AcrCloudScanSensor(task_id="s", container_id=container["id"], file_ids=scan["id"])
    assert not sensor.poke(make_context()).is_done
    emu.state.settings["acrcloud.job_seconds"] = 0
    assert dump.poke(make_context()).is_done
    assert sensor.poke(make_context()).is_done


def test_sensor_uses_connection_default_bucket(emu, monkeypatch, hook, bucket):
    monkeypatch.setenv("AIRFLOW_CONN_ACRCLOUD_DEFAULT", emu.connection("acrcloud", bucket_id=str(bucket)))
    assert AcrCloudDumpSensor(task_id="d").target() == {"bucket_id": str(bucket)}


# ---- triggers: ready, error, timeout ---------------------------------------------------------------
@pytest.mark.asyncio
async def test_file_state_trigger_ready_error_timeout(emu, hook, bucket):
    ok = hook.upload_file(bucket, data_type="audio_url", url="https://h/a.mp3")
    events = await run_trigger(AcrCloudFileStateTrigger(
        conn_id="acrcloud_default", target={"bucket_id": str(bucket), "ids": str(ok["id"])}, poll_interval=0.05))
    assert events[0].payload["status"] == "success" and events[0].payload["payload"]["ready"] == 1

    emu.state.settings["acrcloud.error_rate"] = 1.0
    bad = hook.upload_file(bucket, data_type="audio_url", url="https://h/b.mp3")
    events = await run_trigger(AcrCloudFileStateTrigger(
        conn_id="acrcloud_default", target={"bucket_id": str(bucket), "ids": f"{ok['id']},{bad['id']}"}, poll_interval=0.05))
    assert events[0].payload["status"] == "failed" and events[0].payload["payload"]["failed"][0]["id"] == bad["id"]

    emu.state.settings["acrcloud.job_seconds"] = 60
    slow = hook.upload_file(bucket, data_type="audio_url", url="https://h/c.mp3")
    import time

    events = await run_trigger(AcrCloudFileStateTrigger(
        conn_id="acrcloud_default", target={"bucket_id": str(bucket), "ids": str(slow["id"])},
        poll_interval=0.05, deadline=time.time() + 0.3))
    assert len(events) == 1 and events[0].payload["status"] == "timeout"
    with pytest.raises(JobTimeoutError):
        from airflow_provider_music.triggers.base import validate_event

        validate_event(events[0].payload, describe="x")


@pytest.mark.asyncio
async def test_triggers_error_event_and_transient_faults(emu, hook, bucket):
    # unknown bucket -> a non-retryable 404 becomes one error event, never a token
    events = await run_trigger(AcrCloudDumpTrigger(conn_id="acrcloud_default", target={"bucket_id": "999999"}, poll_interval=0.05))
    assert events[0].payload["status"] == "error" and SECRET_TOKEN not in json.dumps(events[0].payload)
    # 5xx faults are retried and polling goes on
    emu.add_fault(path=r"/dump$", status=502, rate=1.0, times=3)
    events = await run_trigger(AcrCloudDumpTrigger(conn_id="acrcloud_default", target={"bucket_id": str(bucket)}, poll_interval=0.05))
    assert events[0].payload["status"] == "success"


def test_trigger_serialization_round_trip():
    trigger = AcrCloudScanTrigger(conn_id="c", target={"container_id": "1", "file_ids": "a"}, poll_interval=2, deadline=5.0)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_music.triggers.acrcloud.AcrCloudScanTrigger"
    assert AcrCloudScanTrigger(**kwargs).serialize() == (path, kwargs)
