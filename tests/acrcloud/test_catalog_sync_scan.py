"""The catalog sync's optional scan step (issue 23 §1): copyright + AI screen of exactly the tracks a run uploaded.

Classes of defect: a scan request when the scan is off, the whole catalog (or the same content) scanned again,
a scan lost after a crash or a failed try, a ``fail_on_*`` verdict that loses or redoes the sync's work, a
container of another AI setting reused, arguments checked too late or named wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook, ScanContainerMismatchError
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.operators.acrcloud_sync_scan import SCAN_STATE_KEY, CatalogScan
from airflow_provider_music.sync.execute import SyncRun
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav
from tests.conftest import FakeTaskStateStore

pytestmark = pytest.mark.integration


@pytest.fixture
def emu(music_emulator):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    return music_emulator


@pytest.fixture
def bucket(emu) -> int:
    return AcrCloudHook().create_bucket("catalog", region="eu-west-1")["id"]


@pytest.fixture
def catalog(tmp_path) -> Path:
    """Two human tracks and one named like a Suno export (the emulator's AI verdict follows the name)."""
    root = tmp_path / "catalog"
    for i, rel in enumerate(("a/one.wav", "a/two.wav", "b/suno-demo.wav")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(sine_wav(0.3, freq=300 + 40 * i, sample_rate=8000))
    return root


def make_op(catalog: Path, bucket: int, **kwargs) -> AcrCloudCatalogSyncOperator:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("progress_interval", 0)
    return AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, **kwargs)


def scan_uploads(emu) -> int:
    return sum(emu.count("POST", f"/api/fs-containers/{cid}/files") for cid in store_of(emu.state).containers)


def bucket_uploads(emu, bucket: int) -> int:
    return emu.count("POST", f"/api/buckets/{bucket}/files")


def retry_context(make_context, store):
    ctx = make_context(store)
    ctx["ti"].try_number = 2
    return ctx


# ---- off by default -----------------------------------------------------------------------------------------
def test_scan_is_off_by_default(emu, bucket, catalog, make_context):
    result = make_op(catalog, bucket).execute(make_context())
    assert result["uploaded"] == 3 and "scan" not in result
    assert store_of(emu.state).containers == {} and scan_uploads(emu) == 0
    assert not any("fs-containers" in key for key in emu.state.request_counts)


# ---- exactly the new and changed tracks, once ------------------------------------------------------------------
def test_new_and_changed_tracks_are_scanned_once_and_a_rerun_scans_nothing(emu, bucket, catalog, make_context):
    first = make_op(catalog, bucket, scan=True).execute(make_context())
    assert first["scan"]["scanned"] == 3 and scan_uploads(emu) == 3
    assert {f["path"] for f in first["scan"]["files"]} == {"a/one.wav", "a/two.wav", "b/suno-demo.wav"}

    before = dict(emu.state.request_counts)
    again = make_op(catalog, bucket, scan=True).execute(make_context())  # nothing new: nothing scanned
    assert again["unchanged"] == 3 and again["scan"]["scanned"] == 0 and scan_uploads(emu) == 3
    assert not [k for k, n in emu.state.request_counts.items() if "fs-containers" in k and n != before.get(k)]

    (catalog / "a/two.wav").write_bytes(sine_wav(0.4, freq=777, sample_rate=8000))  # changed
    (catalog / "c").mkdir()
    (catalog / "c/new.wav").write_bytes(sine_wav(0.3, freq=888, sample_rate=8000))  # new
    third = make_op(catalog, bucket, scan=True).execute(make_context())
    assert third["uploaded"] == 2 and scan_uploads(emu) == 5
    assert sorted(f["path"] for f in third["scan"]["files"]) == ["a/two.wav", "c/new.wav"]


def test_same_content_already_scanned_in_the_container_is_not_scanned_again(emu, bucket, catalog, make_context, tmp_path):
    make_op(catalog, bucket, scan=True).execute(make_context())
    other = AcrCloudHook().create_bucket("mirror", region="eu-west-1")["id"]  # same tracks, another bucket
    result = make_op(catalog, other, scan=True).execute(make_context())
    assert result["uploaded"] == 3 and result["scan"]["scanned"] == 3 and result["scan"]["reused"] == 3
    assert scan_uploads(emu) == 3


# ---- verdicts ------------------------------------------------------------------------------------------------
def test_ai_verdicts_probability_and_source_in_the_result_and_lineage(emu, bucket, catalog, make_context):
    op = make_op(catalog, bucket, scan=True, ai_detection=True)
    result = op.execute(make_context())
    section = result["scan"]
    by_path = {f["path"]: f for f in section["files"]}
    assert by_path["b/suno-demo.wav"]["ai_verdict"] == "ai" and by_path["b/suno-demo.wav"]["ai_probability"] >= 0.9
    assert by_path["b/suno-demo.wav"]["ai_likely_source"] == "suno"
    assert by_path["a/one.wav"]["ai_verdict"] == "human" and by_path["a/one.wav"]["copyright"] == "no match"
    assert section["ai"] == 1 and section["matched"] == 0 and section["ai_detection"] is True
    container = store_of(emu.state).containers[section["container_id"]]
    assert container["ai_detection"] is True
    verdicts = {v["source"]: v for v in op.task_report.facts["verdicts"]}
    assert verdicts["b/suno-demo.wav"]["ai_verdict"] == "ai"
    assert make_context()["task_state_store"].get(SCAN_STATE_KEY) is None


def test_fail_on_ai_fails_after_the_sync_is_recorded_and_the_verdict_stands_on_retry(emu, bucket, catalog, make_context):
    store = FakeTaskStateStore()
    ctx = make_context(store)
    with pytest.raises(AirflowFailException, match=r"b/suno-demo\.wav \(0\.9\d, likely source suno\)"):
        make_op(catalog, bucket, scan=True, ai_detection=True, fail_on_ai=True).execute(ctx)
    assert len(store_of(emu.state).files_in(bucket)) == 3  # the sync's work is in the bucket
    summary = ctx["ti"].xcom_pushed["sync_summary"]
    assert summary["uploaded"] == 3 and summary["scan"]["ai"] == 1
    uploads, scans = bucket_uploads(emu, bucket), scan_uploads(emu)
    with pytest.raises(AirflowFailException, match="suno-demo"):  # a retry: nothing redone, same verdict
        make_op(catalog, bucket, scan=True, ai_detection=True, fail_on_ai=True).execute(retry_context(make_context, store))
    assert bucket_uploads(emu, bucket) == uploads and scan_uploads(emu) == scans


def test_fail_on_match_names_the_matched_files(emu, bucket, catalog, make_context):
    store_of(emu.state).add_music_track((catalog / "a/one.wav").read_bytes(), title="Known", artist="Someone")
    with pytest.raises(AirflowFailException, match=r"1 synced track\(s\) matched known recordings: a/one\.wav"):
        make_op(catalog, bucket, scan=True, fail_on_match=True).execute(make_context())
    assert len(store_of(emu.state).files_in(bucket)) == 3


# ---- a scan lost to a crash is done by the retry -------------------------------------------------------------
def test_crash_before_the_scan_the_retry_scans_what_the_first_try_uploaded(emu, bucket, catalog, make_context,
                                                                         monkeypatch):
    store = FakeTaskStateStore()
    real = CatalogScan.submit

    def crash(*args, **kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(CatalogScan, "submit", crash)
    with pytest.raises(RuntimeError):
        make_op(catalog, bucket, scan=True).execute(make_context(store))
    monkeypatch.setattr(CatalogScan, "submit", real)
    result = make_op(catalog, bucket, scan=True).execute(retry_context(make_context, store))
    assert result["uploaded"] == 0 and result["scan"]["scanned"] == 3 and scan_uploads(emu) == 3


def test_crash_during_the_uploads_the_retry_still_scans_them(emu, bucket, catalog, make_context, monkeypatch):
    store = FakeTaskStateStore()
    real = SyncRun.upload_all

    def upload_then_crash(self, tasks, failures):
        real(self, tasks, failures)
        raise RuntimeError("killed after the uploads")

    monkeypatch.setattr(SyncRun, "upload_all", upload_then_crash)
    with pytest.raises(RuntimeError):
        make_op(catalog, bucket, scan=True).execute(make_context(store))
    monkeypatch.setattr(SyncRun, "upload_all", real)
    result = make_op(catalog, bucket, scan=True).execute(retry_context(make_context, store))
    assert result["uploaded"] == 0 and result["scan"]["scanned"] == 3


# ---- the container rule --------------------------------------------------------------------------------------
def test_a_container_without_ai_detection_is_never_reused_for_an_ai_scan(emu, bucket, catalog, make_context):
    plain = make_op(catalog, bucket, scan=True).execute(make_context())["scan"]
    (catalog / "c").mkdir()
    (catalog / "c/new.wav").write_bytes(sine_wav(0.3, freq=888, sample_rate=8000))
    ai = make_op(catalog, bucket, scan=True, ai_detection=True).execute(make_context())["scan"]
    containers = store_of(emu.state).containers
    assert plain["container_id"] != ai["container_id"]
    assert containers[plain["container_id"]]["ai_detection"] is False and containers[ai["container_id"]]["ai_detection"]


def test_explicit_container_without_ai_fails_before_any_scan_upload_but_after_the_sync(emu, bucket, catalog, make_context):
    hook = AcrCloudHook()
    from airflow_provider_music.contract.acrcloud_fs import ScanConfig

    plain = hook.ensure_scan_container(ScanConfig.build(region="eu-west-1"))
    with pytest.raises(ScanContainerMismatchError, match="ai_detection"):
        make_op(catalog, bucket, scan=True, scan_container_id=plain["id"], ai_detection=True).execute(make_context())
    assert len(store_of(emu.state).files_in(bucket)) == 3 and scan_uploads(emu) == 0


# ---- deferrable ----------------------------------------------------------------------------------------------
def test_deferrable_sync_defers_for_the_bucket_then_for_the_scan(emu, bucket, catalog, make_context):
    import time

    from airflow.providers.common.compat.sdk import TaskDeferred

    store = FakeTaskStateStore()
    op = make_op(catalog, bucket, scan=True, ai_detection=True, deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute(make_context(store))
    time.sleep(0.1)
    with pytest.raises(TaskDeferred) as scan_wait:
        op.execute_complete(make_context(store), {"status": "success", "payload": {}})
    assert scan_wait.value.method_name == "execute_scan_complete"
    time.sleep(0.1)
    result = make_op(catalog, bucket, scan=True, ai_detection=True, deferrable=True).execute_scan_complete(
        make_context(store), {"status": "success", "payload": {}})
    assert result["uploaded"] == 3 and result["scan"]["scanned"] == 3 and result["scan"]["ai"] == 1


# ---- arguments, at parse time ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "named"), [
    ({"ai_detection": True}, "ai_detection needs scan=True"),
    ({"fail_on_match": True}, "fail_on_match needs scan=True"),
    ({"scan_buckets": ["ACRCloud Music"]}, "scan_buckets needs scan=True"),
    ({"scan": True, "fail_on_ai": True}, "fail_on_ai=True needs ai_detection=True"),
    ({"scan": True, "mode": "fingerprint", "fingerprint_extractor": lambda p: b"x"}, "needs mode='audio'"),
    ({"scan": True, "wait_for_completion": False}, "needs wait_for_completion=True"),
    ({"scan": True, "scan_engine": 7}, "scan_engine"),
    ({"scan": True, "scan_region": "mars-1"}, "scan_region"),
    ({"scan": True, "scan_buckets": []}, "scan_buckets"),
    ({"scan": True, "ai_detection": True, "ai_threshold": 2}, "ai_threshold"),
    ({"scan": "yes"}, "scan"),
    ({"scan": True, "fail_on_ai": "maybe", "ai_detection": True}, "fail_on_ai"),
])
def test_bad_scan_arguments_fail_at_parse_time_naming_the_argument(tmp_path, kwargs, named):
    with pytest.raises(InvalidInputError, match=named.replace("(", r"\(").replace(")", r"\)")):
        AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(tmp_path), bucket_id=1, **kwargs)


def test_templated_scan_arguments_are_checked_after_rendering(emu, tmp_path):
    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(tmp_path), bucket_id=1, mode="{{ params.mode }}",
                                     scan="{{ params.screen }}", ai_detection="{{ params.screen }}")
    assert {"scan", "ai_detection", "fail_on_ai", "fail_on_match", "ai_threshold"} <= set(op.template_fields)
    op.mode, op.scan, op.ai_detection = "fingerprint", "True", "True"  # as rendered
    with pytest.raises(InvalidInputError, match="needs mode='audio'"):
        op.check_rendered()
