"""The copyright gate (issue 12 §1): a scan is checked against exactly the buckets and engine asked for.

Class of defect: a container reused by name whose configuration differs from the request. Cases: changed
buckets, changed engine, reordered buckets (same configuration), a container edited behind our back, an
explicit container id that scans other buckets, two DAGs using a configuration for the first time at once.
"""

from __future__ import annotations

import threading

import pytest

from airflow_provider_music.contract.acrcloud_fs import ScanConfig, container_mismatches
from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook, ScanContainerMismatchError
from airflow_provider_music.operators.acrcloud import AcrCloudScanFileOperator
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav

pytestmark = pytest.mark.integration


@pytest.fixture
def known(hook, tmp_path):
    """A track stored in a private bucket "known-catalog" (not in the ACRCloud Music DB)."""
    bucket = hook.create_bucket("known-catalog", region="eu-west-1")["id"]
    path = tmp_path / "known.wav"
    path.write_bytes(sine_wav(0.5, freq=410, sample_rate=8000))
    hook.upload_file(bucket, data_type="audio", source=str(path), title="Known Song")
    return bucket, path


def scan(make_context, source, **kwargs):
    op = AcrCloudScanFileOperator(task_id="scan", source=str(source), poll_interval=0.05, **kwargs)
    return op.execute(make_context())


# ---- configuration (pure) ---------------------------------------------------------------------------
def test_config_key_ignores_order_and_id_spelling():
    a = ScanConfig.build(region="eu-west-1", buckets=["ACRCloud Music", 8881])
    b = ScanConfig.build(region="eu-west-1", buckets=["8881", "ACRCloud Music", 8881])
    assert a == b and a.key() == b.key() and a.container_name() == b.container_name()


@pytest.mark.parametrize("change", [
    {"buckets": ["ACRCloud Music", "known-catalog"]}, {"engine": 3}, {"region": "us-west-2"}, {"audio_type": "recorded"},
])
def test_config_key_changes_with_every_setting(change):
    base = {"region": "eu-west-1", "buckets": ["ACRCloud Music"], "engine": 1, "audio_type": "linein"}
    assert ScanConfig.build(**base).key() != ScanConfig.build(**{**base, **change}).key()


@pytest.mark.parametrize("bad", [
    {"buckets": []}, {"buckets": [None]}, {"buckets": [True]}, {"buckets": [-3]}, {"engine": 5}, {"engine": True},
    {"region": "mars-1"}, {"audio_type": "noisy"},
])
def test_config_rejects_bad_values(bad):
    with pytest.raises(InvalidInputError):
        ScanConfig.build(**{"region": "eu-west-1", "buckets": ["ACRCloud Music"], **bad})


@pytest.mark.parametrize(("container", "problem"), [
    ({"buckets": [{"id": 23, "name": "ACRCloud Music"}], "engine": 1}, "bucket '8881'"),
    ({"buckets": [{"id": 23, "name": "ACRCloud Music"}, {"id": 8881, "name": "x"}, {"id": 9, "name": "y"}],
      "engine": 1}, "also scans"),
    ({"buckets": [{"id": 23, "name": "ACRCloud Music"}, {"id": 8881, "name": "x"}], "engine": 2}, "engine"),
    ({"buckets": [{"id": 23, "name": "ACRCloud Music"}, {"id": 8881, "name": "x"}], "engine": 1,
      "region": "us-west-2"}, "region"),
])
def test_mismatches_are_named(container, problem):
    config = ScanConfig.build(region="eu-west-1", buckets=["ACRCloud Music", 8881])
    assert any(problem in p for p in container_mismatches(container, config))


def test_matching_container_by_id_or_name():
    config = ScanConfig.build(region="eu-west-1", buckets=[23, "mine"])
    container = {"buckets": [{"id": 23, "name": "ACRCloud Music"}, {"id": 5, "name": "mine"}], "engine": "1",
                 "region": "eu-west-1", "audio_type": "linein"}
    assert container_mismatches(container, config) == []


# ---- against the emulator ------------------------------------------------------------------------------
def test_changed_buckets_get_their_own_container_and_find_the_match(emu, hook, known, make_context):
    bucket, path = known
    first = scan(make_context, path, buckets=["ACRCloud Music"])
    assert first["matched"] is False and first["buckets"] == ["ACRCloud Music"]
    second = scan(make_context, path, buckets=["ACRCloud Music", "known-catalog"])
    assert second["matched"] is True and second["custom_files"][0]["title"] == "Known Song"
    assert second["container_id"] != first["container_id"]
    assert sorted(second["buckets"]) == ["ACRCloud Music", "known-catalog"]
    assert second["source"] == str(path) and second["container_name"].startswith("airflow-scan-")


def test_reordered_buckets_reuse_the_container(emu, hook, known, make_context):
    bucket, path = known
    a = scan(make_context, path, buckets=["ACRCloud Music", bucket])
    b = scan(make_context, path, buckets=[str(bucket), "ACRCloud Music"])
    assert a["container_id"] == b["container_id"] and a["matched"] and b["matched"]
    assert len(store_of(emu.state).containers) == 1


def test_changed_engine_gets_its_own_container(emu, hook, known, make_context):
    bucket, path = known
    afp = scan(make_context, path, buckets=[bucket], engine=1)
    cover = scan(make_context, path, buckets=[bucket], engine=2)
    assert afp["container_id"] != cover["container_id"] and cover["engine"] == 2
    assert afp["custom_files"] and not cover["custom_files"] and cover["cover_songs"]


def test_container_edited_behind_our_back_fails_before_upload(emu, hook, known, make_context):
    bucket, path = known
    first = scan(make_context, path, buckets=["ACRCloud Music", bucket])
    hook.update_fs_container(first["container_id"], buckets=["ACRCloud Music"])
    uploads = len(store_of(emu.state).fs_files)
    with pytest.raises(ScanContainerMismatchError, match="not scanned by the container"):
        scan(make_context, path, buckets=["ACRCloud Music", bucket])
    assert len(store_of(emu.state).fs_files) == uploads


def test_explicit_container_id_is_verified_when_buckets_are_given(emu, hook, known, make_context):
    bucket, path = known
    other = hook.create_fs_container("mine", region="eu-west-1", buckets=["ACRCloud Music"])
    with pytest.raises(ScanContainerMismatchError):
        scan(make_context, path, container_id=other["id"], buckets=["ACRCloud Music", bucket])
    result = scan(make_context, path, container_id=other["id"])  # no buckets asked: reports what it scanned
    assert result["buckets"] == ["ACRCloud Music"] and result["container_id"] == other["id"]


def test_named_container_with_other_settings_is_refused(emu, hook, known, make_context):
    bucket, path = known
    config = ScanConfig.build(region="eu-west-1", buckets=[bucket])
    hook.create_fs_container(config.container_name("team"), region="eu-west-1", buckets=["ACRCloud Music"])
    with pytest.raises(ScanContainerMismatchError):
        scan(make_context, path, buckets=[bucket], container_name="team")


def test_two_dags_first_use_at_once_converge_on_one_container(emu, known):
    bucket, _ = known
    config = ScanConfig.build(region="eu-west-1", buckets=["ACRCloud Music", bucket])
    barrier, results, errors = threading.Barrier(4), [], []

    def first_use() -> None:
        try:
            barrier.wait()
            results.append(AcrCloudHook().ensure_scan_container(config)["id"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    named = [c for c in store_of(emu.state).containers.values() if c["name"] == config.container_name()]
    assert [c["id"] for c in named] == results[:1]


def test_lost_create_answer_is_looked_up_not_resent(emu, hook):
    emu.state.add_fault(path=r"^/api/fs-containers$", method="POST", status=500, after=True, times=1)
    config = ScanConfig.build(region="eu-west-1", buckets=["ACRCloud Music"])
    container = hook.ensure_scan_container(config)
    assert container["name"] == config.container_name()
    assert len(store_of(emu.state).containers) == 1


def test_scan_logs_container_and_buckets(emu, hook, known, make_context, caplog, capsys):
    bucket, path = known
    with caplog.at_level("INFO"):
        result = scan(make_context, path, buckets=[bucket])
    text = caplog.text + capsys.readouterr().out
    assert f"container {result['container_id']}" in text and "known-catalog" in text


@pytest.mark.asyncio
async def test_container_changed_while_scanning_fails_at_the_end(emu, hook, known, make_context):
    from airflow.providers.common.compat.sdk import TaskDeferred

    bucket, path = known
    op = AcrCloudScanFileOperator(task_id="scan", source=str(path), buckets=["ACRCloud Music", bucket],
                                  deferrable=True, poll_interval=0.05)
    ctx = make_context()
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    cid = exc.value.kwargs["record"]["container_id"]
    hook.update_fs_container(cid, buckets=["ACRCloud Music"])  # someone edits it while the scan runs
    events = [e async for e in exc.value.trigger.run()]
    with pytest.raises(ScanContainerMismatchError):
        op.execute_complete(ctx, events[0].payload, **exc.value.kwargs)
