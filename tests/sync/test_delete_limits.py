"""Deletion limits count what they promise (issue 21 §1).

Classes of defect: ``max_delete_ratio`` counted in files, so copies of surviving tracks dilute the share of
tracks deleted; ``max_delete`` checked on the plan only, while the convergence deletes from a fresh listing.
The ratio counts tracks (distinct catalog paths), numerator and denominator; ``max_delete`` is a hard cap on
every file the run deletes (vanished tracks first, then old versions and copies of the tracks it keeps), and
the run that reaches it stops deleting, leaves the rest for the next run and fails saying the numbers.
"""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.sync.execute import SyncRun
from airflow_provider_music.sync.guard import DeletionGuard, DeletionGuardError
from airflow_provider_music.testing.audio import sine_wav
from tests.sync.conftest import bucket_paths, files, make_catalog, sync_op, write_track

pytestmark = pytest.mark.integration


def copy_records(emu, bucket, paths, copies):
    """``copies`` more files of each catalog path in ``paths``, with the sync's markers (as a concurrent run or an
    interrupted convergence leaves them)."""
    hook = AcrCloudHook()
    by_path = {f.user_defined["catalog_path"]: f for f in files(emu, bucket)}
    for rel in paths:
        original = by_path[rel]
        for n in range(copies):
            hook.upload_file(bucket, data_type="audio", source=_wav(hash(rel) % 97 + n), title=original.title,
                             user_defined=dict(original.user_defined))


def _wav(index):
    import io

    data = io.BytesIO(sine_wav(0.05, freq=300 + index, sample_rate=8000))
    data.name = "copy.wav"
    return data


def deleted_ids(monkeypatch) -> list:
    seen: list = []
    real = AcrCloudHook.delete_files

    def counting(self, bucket_id, ids, **kwargs):
        seen.extend(ids)
        return real(self, bucket_id, ids, **kwargs)

    monkeypatch.setattr(AcrCloudHook, "delete_files", counting)
    return seen


def test_ratio_counts_tracks_not_files(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 40)
    sync_op(catalog, bucket).execute(make_context())
    survivors = [p.relative_to(catalog).as_posix() for p in paths[:10]]
    copy_records(emu, bucket, survivors, 3)  # 10 tracks x 4 files + 30 tracks x 1 file = 70 files
    assert len(files(emu, bucket)) == 70
    for path in paths[10:]:
        path.unlink()  # 30 of 40 tracks (75 %), 30 of 70 files (43 %)
    with pytest.raises(DeletionGuardError, match=r"30 track\(s\).*75% of the 40 catalog track\(s\).*max_delete_ratio=0.5"):
        sync_op(catalog, bucket, delete_missing=True).execute(make_context())
    assert len(files(emu, bucket)) == 70


@pytest.mark.parametrize(("missing", "files_", "in_bucket", "allowed"), [
    (20, 20, 40, True), (21, 21, 40, False), (30, 30, 40, False), (1, 9, 2, True),
])
def test_guard_share_is_of_tracks(missing, files_, in_bucket, allowed):
    def check():
        DeletionGuard(0.5).check(missing=missing, missing_files=files_, in_bucket=in_bucket, local_tracks=5, where="b")

    if allowed:
        check()
    else:
        with pytest.raises(DeletionGuardError, match="track"):
            check()


def test_max_delete_counts_files_up_front(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 10)
    sync_op(catalog, bucket).execute(make_context())
    copy_records(emu, bucket, [paths[0].relative_to(catalog).as_posix()], 3)
    paths[0].unlink()  # one track, four files
    with pytest.raises(DeletionGuardError, match=r"4 file\(s\).*max_delete=3"):
        sync_op(catalog, bucket, delete_missing=True, max_delete=3).execute(make_context())
    assert len(files(emu, bucket)) == 13


def test_max_delete_is_a_hard_cap_on_the_convergence(emu, bucket, tmp_path, make_context, monkeypatch):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 20)
    sync_op(catalog, bucket).execute(make_context())
    gone = [p.relative_to(catalog).as_posix() for p in paths[:3]]
    for path in paths[:3]:
        path.unlink()
    real_plan = SyncRun.plan

    def plan_then_more_copies(self, *args, **kwargs):  # more files of the vanished tracks appear after the plan
        plan = real_plan(self, *args, **kwargs)
        copy_records(emu, bucket, gone, 2)  # 3 + 6 = 9 files of vanished tracks at convergence
        return plan

    monkeypatch.setattr(SyncRun, "plan", plan_then_more_copies)
    deleted = deleted_ids(monkeypatch)
    context = make_context()
    with pytest.raises(AirflowFailException, match=r"max_delete=3 reached: 3 file\(s\) deleted, 6 more"):
        sync_op(catalog, bucket, delete_missing=True, max_delete=3).execute(context)
    assert len(deleted) == 3 and len(files(emu, bucket)) == 20 + 6 - 3
    assert context["ti"].xcom_pushed["sync_summary"]["deleted"] == 3
    monkeypatch.setattr(SyncRun, "plan", real_plan)
    assert sync_op(catalog, bucket, delete_missing=True).execute(make_context())["deleted"] == 6  # next run


def test_old_versions_and_copies_count_too(emu, bucket, tmp_path, make_context, monkeypatch):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 10)
    sync_op(catalog, bucket).execute(make_context())
    for i, path in enumerate(paths[:5]):
        write_track(path, 500 + i, seconds=0.06)  # 5 new versions: 5 old files to replace
    paths[9].unlink()  # 1 vanished track: deleted first
    deleted = deleted_ids(monkeypatch)
    with pytest.raises(AirflowException, match=r"max_delete=3 reached: 3 file\(s\) deleted, 3 more"):
        sync_op(catalog, bucket, delete_missing=True, max_delete=3).execute(make_context())
    assert len(deleted) == 3
    assert paths[9].relative_to(catalog).as_posix() not in bucket_paths(emu, bucket)
    healed = sync_op(catalog, bucket, delete_missing=True).execute(make_context())
    assert healed["replaced"] == 3 and set(bucket_paths(emu, bucket).values()) == {1}


def test_max_delete_zero_deletes_nothing_at_all(emu, bucket, tmp_path, make_context, monkeypatch):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 4)
    sync_op(catalog, bucket).execute(make_context())
    write_track(paths[0], 77, seconds=0.06)
    deleted = deleted_ids(monkeypatch)
    with pytest.raises(AirflowException, match="max_delete=0 reached"):
        sync_op(catalog, bucket, max_delete=0).execute(make_context())
    assert deleted == [] and len(files(emu, bucket)) == 5
