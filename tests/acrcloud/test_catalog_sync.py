"""AcrCloudCatalogSyncOperator against the emulator: the nightly catalog fingerprinting job."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.sync import catalog as ops
from airflow_provider_music.sync import execute as sync_execute
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav

pytestmark = pytest.mark.integration


def write_track(path: Path, index: int, seconds: float = 0.05) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sine_wav(seconds, freq=200 + index * 7, sample_rate=8000))


def make_catalog(root: Path, count: int, seconds: float = 0.05) -> list[Path]:
    paths = []
    for i in range(count):
        path = root / f"artist{i % 5}" / f"track{i:03d}.wav"
        write_track(path, i, seconds)
        paths.append(path)
    (root / "README.txt").write_text("not audio")
    return paths


@pytest.fixture
def emu(music_emulator):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    return music_emulator


@pytest.fixture
def bucket(emu) -> int:
    return AcrCloudHook().create_bucket("catalog", region="eu-west-1")["id"]


def bucket_paths(emu, bucket: int) -> Counter:
    return Counter(f.user_defined.get("catalog_path") for f in store_of(emu.state).files_in(bucket))


def sync(make_context, catalog: Path, bucket: int, **kwargs):
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("progress_interval", 0)
    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, **kwargs)
    return op.execute(make_context())


def uploads(emu, bucket: int) -> int:
    return emu.count("POST", f"/api/buckets/{bucket}/files")


def test_sync_200_then_nothing_to_do(emu, bucket, tmp_path, make_context, monkeypatch):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 200)
    first = sync(make_context, catalog, bucket)
    assert first["uploaded"] == 200 and first["unchanged"] == 0 and first["failed"] == 0
    assert first["failed_paths"] == []
    paths = bucket_paths(emu, bucket)
    assert len(paths) == 200 and set(paths.values()) == {1}
    rec = next(iter(store_of(emu.state).files_in(bucket)))
    assert set(rec.user_defined) >= {"catalog_path", "catalog_size", "catalog_mtime", "catalog_sha256"}
    assert rec.user_defined["catalog_sha256"] == hashlib.sha256((catalog / rec.user_defined["catalog_path"]).read_bytes()).hexdigest()
    assert rec.title == Path(rec.user_defined["catalog_path"]).stem
    assert all(f.state(emu.state.now(), 0.05) == 1 for f in store_of(emu.state).files_in(bucket))

    # second run: no upload, and not one byte of audio read (size + mtime decide)
    def no_read(path):
        raise AssertionError(f"audio read: {path}")

    monkeypatch.setattr(ops, "open_track", no_read)
    received = store_of(emu.state).bytes_received
    lists_before = emu.count("GET", f"/api/buckets/{bucket}/files")
    second = sync(make_context, catalog, bucket)
    assert second["uploaded"] == 0 and second["unchanged"] == 200 and second["updated"] == 0
    assert uploads(emu, bucket) == 200
    assert store_of(emu.state).bytes_received == received
    assert emu.count("GET", f"/api/buckets/{bucket}/files") - lists_before == 2  # 200 files, 100 per page


def test_changed_touched_and_deleted_sources(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 30)
    sync(make_context, catalog, bucket)
    assert uploads(emu, bucket) == 30

    # 3 tracks get new content -> exactly 3 uploads; the old versions are replaced
    for i, path in enumerate(paths[:3]):
        write_track(path, 1000 + i, seconds=0.06)
    result = sync(make_context, catalog, bucket)
    assert result["uploaded"] == 3 and result["replaced"] == 3 and result["unchanged"] == 27
    assert uploads(emu, bucket) == 33
    counts = bucket_paths(emu, bucket)
    assert len(counts) == 30 and set(counts.values()) == {1}

    # 2 tracks only touched (same bytes, new mtime): no upload, the marker is refreshed
    for path in paths[3:5]:
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 100))
    result = sync(make_context, catalog, bucket)
    assert result["uploaded"] == 0 and result["updated"] == 2
    assert uploads(emu, bucket) == 33
    assert sync(make_context, catalog, bucket)["unchanged"] == 30

    # 2 sources vanish: kept by default, deleted with delete_missing
    for path in paths[-2:]:
        path.unlink()
    kept = sync(make_context, catalog, bucket)
    assert kept["deleted"] == 0 and len(bucket_paths(emu, bucket)) == 30
    deleted = sync(make_context, catalog, bucket, delete_missing=True)
    assert deleted["deleted"] == 2 and deleted["uploaded"] == 0
    assert len(bucket_paths(emu, bucket)) == 28


def test_interrupted_run_then_rerun_uploads_each_track_once(emu, bucket, tmp_path, make_context, monkeypatch):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 200)

    class WorkerKilled(BaseException):
        pass

    real_upload = AcrCloudHook.upload_file
    calls = {"n": 0}

    def dying_upload(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 100:
            raise WorkerKilled
        return real_upload(self, *args, **kwargs)

    monkeypatch.setattr(AcrCloudHook, "upload_file", dying_upload)
    with pytest.raises(WorkerKilled):
        sync(make_context, catalog, bucket)
    half = uploads(emu, bucket)
    assert 0 < half < 200
    monkeypatch.setattr(AcrCloudHook, "upload_file", real_upload)
    result = sync(make_context, catalog, bucket)
    assert result["uploaded"] == 200 - half and result["failed"] == 0
    counts = bucket_paths(emu, bucket)
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert uploads(emu, bucket) == 200


def test_lost_upload_answers_do_not_duplicate(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 40)
    emu.state.settings["acrcloud.lost_response_rate"] = 0.3  # stored, but answered with HTTP 500
    result = sync(make_context, catalog, bucket)
    assert result["uploaded"] == 40 and result["failed"] == 0
    counts = bucket_paths(emu, bucket)
    assert len(counts) == 40 and set(counts.values()) == {1}
    assert uploads(emu, bucket) == 40


def test_twenty_percent_faults_every_track_exactly_once(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 200)
    errors = emu.add_fault(path=r"^/api/buckets/\d+/files", status=500, rate=0.1)
    limits = emu.add_fault(path=r"^/api/buckets/\d+/files", status=429, rate=0.111, retry_after="0")
    # answers lost after the upload was stored: a dropped connection (frame fault) and a 500 (emulator setting)
    dropped = emu.add_fault(path=r"^/api/buckets/\d+/files$", method="POST", drop=True, after=True, rate=0.05)
    emu.state.settings["acrcloud.lost_response_rate"] = 0.05
    result = sync(make_context, catalog, bucket, max_upload_rounds=8)
    assert dropped.hits > 0
    assert errors.hits > 10 and limits.hits > 10
    assert result["failed"] == 0 and result["uploaded"] == 200
    counts = bucket_paths(emu, bucket)
    assert len(counts) == 200 and set(counts.values()) == {1}
    emu.state.clear_faults()
    assert sync(make_context, catalog, bucket)["unchanged"] == 200


def test_fingerprint_mode_with_pyacrcloud(emu, bucket, tmp_path, make_context):
    pytest.importorskip("acrcloud")
    import acrcloud  # noqa: F401
    import acrcloud_extr_tool

    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 6, seconds=1.0)
    result = sync(make_context, catalog, bucket, mode="fingerprint")
    assert result["uploaded"] == 6 and result["failed"] == 0
    audio_bytes = sum(p.stat().st_size for p in paths)
    assert 0 < result["uploaded_bytes"] < audio_bytes / 5  # fingerprints, not audio
    files = store_of(emu.state).files_in(bucket)
    assert {f.data_type for f in files} == {"fingerprint"}
    by_path = {f.user_defined["catalog_path"]: f for f in files}
    first = paths[0]
    fp = acrcloud_extr_tool.create_fingerprint_by_file(str(first), 0, 0, True)
    assert by_path[first.relative_to(catalog).as_posix()].sha256 == hashlib.sha256(fp).hexdigest()
    # the copyright check still finds the original audio through its fingerprint
    hook = AcrCloudHook()
    container = hook.create_fs_container("scan", region="eu-west-1", buckets=[bucket])
    scan = hook.upload_fs_file(container["id"], source=first)
    from airflow_provider_music.operators.base import wait_until_done

    done = wait_until_done(lambda: hook.fs_files_status(container["id"], scan["id"]), first=None, poll_interval=0.05,
                           timeout=10, describe="scan", logger=logging.getLogger(__name__))
    assert done.state == "success" and done.payload["files"][0]["state"] == 1


def test_fingerprint_mode_with_injected_extractor(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 5)
    seen = []

    def fake_extractor(local_path: str) -> bytes:
        seen.append(local_path)
        return b"FP:" + hashlib.sha1(Path(local_path).read_bytes()).digest()  # noqa: S324

    result = sync(make_context, catalog, bucket, mode="fingerprint", fingerprint_extractor=fake_extractor)
    assert result["uploaded"] == 5 and len(seen) == 5
    assert result["uploaded_bytes"] == 5 * 23
    assert {f.data_type for f in store_of(emu.state).files_in(bucket)} == {"fingerprint"}


def test_extractor_failure_fails_only_that_track(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 4)

    def flaky(local_path: str) -> bytes:
        if local_path.endswith("track002.wav"):
            raise RuntimeError("cannot decode")
        return b"FP"

    context = make_context()
    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, mode="fingerprint",
                                     fingerprint_extractor=flaky, poll_interval=0.05)
    with pytest.raises(Exception, match="1 track\\(s\\) failed.*track002.wav.*cannot decode"):
        op.execute(context)
    summary = context["ti"].xcom_pushed["sync_summary"]
    assert summary["uploaded"] == 3 and summary["failed"] == 1
    assert summary["failed_paths"][0]["path"] == "artist2/track002.wav"
    assert len(bucket_paths(emu, bucket)) == 3


def test_processing_errors_fail_at_the_end_and_heal_next_night(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 4)
    emu.state.settings["acrcloud.error_rate"] = 1.0
    context = make_context()
    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, poll_interval=0.05)
    with pytest.raises(Exception, match="4 track\\(s\\) failed.*state -1"):
        op.execute(context)
    assert context["ti"].xcom_pushed["sync_summary"]["uploaded"] == 4
    emu.state.settings["acrcloud.error_rate"] = 0.0
    healed = sync(make_context, catalog, bucket)
    assert healed["uploaded"] == 4 and healed["replaced"] == 4
    assert set(bucket_paths(emu, bucket).values()) == {1}


def test_metadata_from_sidecar_and_callable(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 3)
    sidecar = paths[0].with_suffix(".json")
    sidecar.write_text(json.dumps({"title": "Song Zero", "user_defined": {"isrc": "QZ0000000001"}}))
    sync(make_context, catalog, bucket)
    files = {f.user_defined["catalog_path"]: f for f in store_of(emu.state).files_in(bucket)}
    zero = files["artist0/track000.wav"]
    assert zero.title == "Song Zero" and zero.user_defined["isrc"] == "QZ0000000001"

    sidecar.write_text(json.dumps({"title": "Song Zero (remaster)", "artist": "A"}))
    result = sync(make_context, catalog, bucket)
    assert result["updated"] == 1 and result["uploaded"] == 0
    assert zero.title == "Song Zero (remaster)" and zero.user_defined["artist"] == "A"
    assert "isrc" not in zero.user_defined and zero.user_defined["catalog_path"] == "artist0/track000.wav"

    result = sync(make_context, catalog, bucket, metadata=lambda rel: {"title": rel.upper(), "user_defined": {"label": "L"}})
    assert result["updated"] == 3
    assert all(f.user_defined["label"] == "L" for f in store_of(emu.state).files_in(bucket))


def test_catalog_id_isolates_catalogs(emu, bucket, tmp_path, make_context):
    a, b = tmp_path / "a", tmp_path / "b"
    make_catalog(a, 3)
    make_catalog(b, 2)
    sync(make_context, a, bucket, catalog_id="label-a")
    result = sync(make_context, b, bucket, catalog_id="label-b", delete_missing=True)
    assert result["uploaded"] == 2 and result["deleted"] == 0  # label-a files are not ours to delete
    assert len(store_of(emu.state).files_in(bucket)) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "video"}, "mode"),
        ({"concurrency": 0}, "concurrency"),
        ({"extensions": ".wav"}, "extensions"),
        ({"catalog": "/no/such/folder"}, "folder not found"),
        ({"mode": "fingerprint", "fingerprint_extractor": "nope"}, "callable"),
        ({"poll_interval": 0}, "poll_interval"),
    ],
)
def test_validation_before_any_request(emu, bucket, tmp_path, make_context, kwargs, match):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 1)
    kwargs = {"catalog": str(catalog), **kwargs}
    with pytest.raises(InvalidInputError, match=match):  # at DAG parse time (construction) or before any request
        AcrCloudCatalogSyncOperator(task_id="sync", bucket_id=bucket, **kwargs).execute(make_context())
    assert emu.count("GET", f"/api/buckets/{bucket}/files") == 0


@pytest.mark.asyncio
async def test_deferrable_sync_keeps_summary_and_reports_processing_errors(emu, bucket, tmp_path, make_context):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_music.triggers.acrcloud import AcrCloudFileStateTrigger
    from tests.conftest import FakeTaskStateStore

    catalog = tmp_path / "catalog"
    make_catalog(catalog, 6)
    store = FakeTaskStateStore()
    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, deferrable=True,
                                     poll_interval=0.05)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(make_context(store))
    trigger = exc.value.trigger
    assert isinstance(trigger, AcrCloudFileStateTrigger)
    assert trigger.target["fail_fast"] is False and len(trigger.target["ids"].split(",")) == 6
    assert store.get(op.summary_key)["summary"]["uploaded"] == 6  # saved before deferring
    events = [e async for e in trigger.run()]
    fresh = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, deferrable=True)
    result = fresh.execute_complete(make_context(store), events[0].payload)
    assert result["uploaded"] == 6 and result["failed"] == 0

    # a processing error reported by the trigger names the catalog path
    failed_event = {"status": "failed", "message": "1 failed", "target": trigger.target,
                    "payload": {"failed": [{"id": int(trigger.target["ids"].split(",")[0]), "state": -1,
                                             "reason": "processing failed (state -1)"}]}}
    store.set(op.summary_key, {"summary": result, "failures": [], "pending": {trigger.target["ids"].split(",")[0]: "artist0/track000.wav"}})
    with pytest.raises(Exception, match="artist0/track000.wav: processing failed"):
        fresh.execute_complete(make_context(store), failed_event)


def test_progress_logged_at_a_steady_cadence(monkeypatch):
    from unittest import mock

    clock = {"t": 0.0}
    monkeypatch.setattr(sync_execute.time, "monotonic", lambda: clock["t"])
    log = mock.MagicMock()
    progress = sync_execute.Progress(log=log, total_files=10, total_bytes=10_000_000, interval=30.0)
    for _ in range(10):
        clock["t"] += 10.0  # one file every 10 s -> one line every 30 s
        progress.add(1_000_000)
    assert log.info.call_count == 3
    args = log.info.call_args.args
    assert args[1:5] == (9, 10, 9.0, 10.0)  # files done/total, MB done/total
    progress.final()
    assert log.info.call_args.args[1] == 10
