"""Deletion guard (issue 12 §2): an empty, unmounted or unreadable catalog, a filter matching nothing, or
too large a share never deletes anything; bad limits fail at DAG parse time. (Unreadable parts of the
catalog in depth: test_unknown_parts.py; the limits counted in tracks / as a hard cap: test_delete_limits.py.)"""

from __future__ import annotations

import math

import fsspec.implementations.local as fs_local
import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.sync.guard import DeletionGuardError
from tests.sync.conftest import bucket_paths, make_catalog, sync_op

pytestmark = pytest.mark.integration


@pytest.fixture
def synced(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 20)
    sync_op(catalog, bucket).execute(make_context())
    assert len(bucket_paths(emu, bucket)) == 20
    return catalog, paths


def refused(emu, bucket, op, make_context, match):
    before = (emu.count("DELETE", f"/api/buckets/{bucket}/files"), emu.count("POST", f"/api/buckets/{bucket}/files"))
    with pytest.raises(DeletionGuardError, match=match):
        op.execute(make_context())
    assert len(bucket_paths(emu, bucket)) == 20  # nothing deleted
    route_deletes = sum(v for k, v in emu.state.route_counts.items() if k.startswith("DELETE"))
    assert route_deletes == 0
    assert before[1] == emu.count("POST", f"/api/buckets/{bucket}/files")  # nothing uploaded either


def test_empty_folder_an_unmounted_mount_point(emu, bucket, synced, tmp_path, make_context):
    empty = tmp_path / "mnt"
    empty.mkdir()
    refused(emu, bucket, sync_op(empty, bucket, delete_missing=True), make_context, "holds no track")


def test_extensions_matching_nothing(emu, bucket, synced, make_context):
    catalog, _ = synced
    refused(emu, bucket, sync_op(catalog, bucket, delete_missing=True, extensions=[".flac"]), make_context,
            "extensions filter")


def test_unreadable_folder(emu, bucket, synced, make_context, monkeypatch):
    catalog, _ = synced
    real_ls = fs_local.LocalFileSystem.ls

    def ls(self, path, *args, **kwargs):
        if str(path).rstrip("/").endswith("artist3"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_ls(self, path, *args, **kwargs)

    monkeypatch.setattr(fs_local.LocalFileSystem, "ls", ls)
    # unknown, never vanished (issue 21 §1): nothing deleted, the task fails naming the folder
    with pytest.raises(AirflowException, match="artist3.*cannot read"):
        sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1.0).execute(make_context())
    assert sum(v for k, v in emu.state.route_counts.items() if k.startswith("DELETE")) == 0
    # without delete_missing the readable part syncs and the task fails naming the unreadable folder
    with pytest.raises(Exception, match="artist3.*cannot read"):
        sync_op(catalog, bucket).execute(make_context())
    assert len(bucket_paths(emu, bucket)) == 20


def test_share_and_count_limits_then_raised_explicitly(emu, bucket, synced, make_context):
    catalog, paths = synced
    for path in paths[:11]:
        path.unlink()
    refused(emu, bucket, sync_op(catalog, bucket, delete_missing=True), make_context, "55%.*max_delete_ratio=0.5")
    refused(emu, bucket, sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1, max_delete=10),
            make_context, "max_delete=10")
    done = sync_op(catalog, bucket, delete_missing=True, max_delete_ratio="0.6").execute(make_context())
    assert done["deleted"] == 11 and len(bucket_paths(emu, bucket)) == 9


def test_everything_gone_needs_ratio_one(emu, bucket, synced, make_context):
    catalog, paths = synced
    for path in paths[1:]:
        path.unlink()
    refused(emu, bucket, sync_op(catalog, bucket, delete_missing=True), make_context, "95%")
    assert sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1.0).execute(make_context())["deleted"] == 19


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"extensions": [None]}, "extensions"),
        ({"extensions": [".wav", 3]}, "extensions"),
        ({"extensions": []}, "extensions"),
        ({"extensions": ".wav"}, "extensions"),
        ({"max_delete_ratio": math.nan}, "max_delete_ratio"),
        ({"max_delete_ratio": -0.5}, "max_delete_ratio"),
        ({"max_delete_ratio": 2}, "max_delete_ratio"),
        ({"max_delete_ratio": "lots"}, "max_delete_ratio"),
        ({"max_delete": -1}, "max_delete"),
        ({"max_delete": math.inf}, "max_delete"),
        ({"max_delete": "ten"}, "max_delete"),
        ({"shard": "2/2"}, "shard"),
        ({"shard": "a/b"}, "shard"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": "x"}, "concurrency"),
        ({"poll_interval": math.nan}, "poll_interval"),
        ({"poll_interval": "x"}, "poll_interval"),
        ({"timeout": math.inf}, "timeout"),
        ({"mode": "video"}, "mode"),
        ({"max_upload_rounds": 0}, "max_upload_rounds"),
    ],
)
def test_bad_arguments_fail_at_dag_parse_time(kwargs, argument):
    with pytest.raises(InvalidInputError, match=argument):
        AcrCloudCatalogSyncOperator(task_id="s", catalog="/c", **kwargs)


def test_templated_arguments_checked_after_rendering(emu, bucket, tmp_path, make_context):
    op = AcrCloudCatalogSyncOperator(task_id="s", catalog=str(tmp_path), bucket_id=bucket, shard="{{ params.s }}",
                                     extensions="{{ params.e }}")  # accepted at parse time
    op.shard, op.extensions = "5/2", [".wav"]  # what rendering produced
    with pytest.raises(InvalidInputError, match="shard"):
        op.execute(make_context())
    assert emu.count("GET", f"/api/buckets/{bucket}/files") == 0
    ok = AcrCloudCatalogSyncOperator(task_id="s", catalog=str(tmp_path), bucket_id=bucket, max_delete="5",
                                     max_delete_ratio="0.1", concurrency=2, poll_interval="0.5")
    assert (ok.max_delete, ok.max_delete_ratio, ok.poll_interval) == (5, 0.1, 0.5)  # numeric strings accepted


def test_connection_argument_is_acrcloud_conn_id(tmp_path):
    op = AcrCloudCatalogSyncOperator(task_id="s", catalog=str(tmp_path), acrcloud_conn_id="acr_backfill")
    assert op.conn_id == "acr_backfill" and "acrcloud_conn_id" in op.template_fields
    with pytest.raises(InvalidInputError, match="acrcloud_conn_id"):
        AcrCloudCatalogSyncOperator(task_id="s", catalog=str(tmp_path), conn_id="acr_backfill")


def test_a_source_that_cannot_be_checked_is_never_deleted(emu, bucket, synced, make_context, monkeypatch):
    from airflow_provider_music.sync import catalog as cat

    catalog, paths = synced
    paths[0].unlink()
    real = cat.stat_local

    def flaky(root, rel):
        if rel.endswith(paths[0].name):
            raise PermissionError(13, "Permission denied")
        return real(root, rel)

    monkeypatch.setattr(cat, "stat_local", flaky)
    result = sync_op(catalog, bucket, delete_missing=True).execute(make_context())
    assert result["deleted"] == 0 and len(bucket_paths(emu, bucket)) == 20
    monkeypatch.setattr(cat, "stat_local", real)
    assert sync_op(catalog, bucket, delete_missing=True).execute(make_context())["deleted"] == 1
