"""A bucket listing the sync cannot trust is never read as "bucket empty" or "track gone" (issue 12 §2).

Class of defect: the index of the bucket is incomplete or odd and the sync acts on it. Cases: a 5xx on page
3, an empty page before ``last_page``, a page that repeats the previous one, a page that answers another
page number, a page that drops entries or repeats a record, ids that are bools or fractions (never
truncated into another file's id), and catalog folders with symlinks: loops, linked tracks, broken links.
"""

from __future__ import annotations

import os

import pytest
from airflow.providers.common.compat.sdk import AirflowException

import airflow_provider_music.sync.execute as sync_execute
from airflow_provider_music.contract.acrcloud import check_listing_page
from airflow_provider_music.core import InvalidResponseError, MusicApiError, ServerError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.sync import plan as P
from airflow_provider_music.sync.catalog import CatalogWalk
from tests.sync.conftest import bucket_paths, files, make_catalog, sync_op, write_track


def page(ids, *, current=None, last=None):
    meta = {k: v for k, v in {"current_page": current, "last_page": last}.items() if v is not None}
    return {"data": [{"id": i} for i in ids], "meta": meta, "links": {}}


# ---- pure: when is a listing page no proof ----------------------------------------------------------------
@pytest.mark.parametrize(("number", "current", "previous", "problem"), [
    (2, page([], last=3), None, "empty"),
    (2, page([1, 2], current=1, last=3), None, "got page 1"),
    (2, page([1, 2]), page([1, 2]), "repeats"),
])
def test_inconsistent_pages_are_errors(number, current, previous, problem):
    with pytest.raises(InvalidResponseError, match=problem):
        check_listing_page(current, number, previous, describe="GET buckets/1/files")


@pytest.mark.parametrize(("number", "current", "previous"), [
    (1, page([]), None), (3, page([], last=3), None), (2, page([3, 4], current=2, last=2), page([1, 2])),
    (1, page([], last=0), None),
])
def test_consistent_pages_pass(number, current, previous):
    check_listing_page(current, number, previous, describe="GET buckets/1/files")


@pytest.mark.parametrize("file_id", [True, False, 1.5, "1.5", 2.000001, "7a"])
def test_ids_are_never_truncated_into_another_file(file_id):
    assert P.record_of({"id": file_id, "state": 1, "user_defined": {"catalog_path": "a.wav"}}, None) is None


@pytest.mark.parametrize(("state", "ready"), [(1, True), ("1", True), (1.0, True), (1.5, False), (True, False),
                                              (None, False), ("ready", False)])
def test_only_a_whole_ready_state_counts(state, ready):
    assert (P.whole(state) == P.FILE_READY) is ready


# ---- the operator against a hostile listing ---------------------------------------------------------------
@pytest.fixture
def synced(emu, bucket, tmp_path, make_context, monkeypatch):
    monkeypatch.setattr(sync_execute, "MAX_PER_PAGE", 4)  # 14 tracks = 4 pages
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 14)
    sync_op(catalog, bucket).execute(make_context())
    assert len(files(emu, bucket)) == 14
    return catalog, paths


def hostile_listing(monkeypatch, change):
    real = AcrCloudHook.list_files

    def list_files(self, bucket_id, **kwargs):
        return change(kwargs.get("page") or 1, real(self, bucket_id, **kwargs))

    monkeypatch.setattr(AcrCloudHook, "list_files", list_files)


def unchanged(emu, bucket, before):
    assert sorted(f.id for f in files(emu, bucket)) == before


def fail_on_3(number, pg):
    if number == 3:
        raise ServerError("502 Bad Gateway", status=502)
    return pg


@pytest.mark.integration
@pytest.mark.parametrize("change", [
    fail_on_3,
    lambda n, pg: {**pg, "data": []} if n == 2 else pg,                              # empty before last_page
    lambda n, pg: {**pg, "meta": {**pg["meta"], "current_page": 1}} if n == 2 else pg,  # page 1 again
])
def test_a_broken_listing_fails_the_run_and_touches_nothing(emu, bucket, synced, make_context, monkeypatch, change):
    catalog, paths = synced
    for path in paths[:3]:
        path.unlink()
    before = sorted(f.id for f in files(emu, bucket))
    hostile_listing(monkeypatch, change)
    op = sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1.0)
    with pytest.raises(MusicApiError):
        op.execute(make_context())
    unchanged(emu, bucket, before)


@pytest.mark.integration
@pytest.mark.parametrize("change", [
    lambda n, pg: {**pg, "data": pg["data"][1:]} if n == 2 else pg,                  # drops an entry
    lambda n, pg: {**pg, "data": pg["data"] + pg["data"][:2]},                       # repeats records
])
def test_odd_pages_still_end_with_every_track_exactly_once(emu, bucket, synced, make_context, monkeypatch, change):
    catalog, _ = synced
    keepers = {f.user_defined["catalog_path"]: f.id for f in files(emu, bucket)}
    real = AcrCloudHook.list_files
    hostile_listing(monkeypatch, change)
    sync_op(catalog, bucket, delete_missing=True).execute(make_context())  # at worst: a track uploaded again
    monkeypatch.setattr(AcrCloudHook, "list_files", real)
    assert min(bucket_paths(emu, bucket).values()) == 1
    sync_op(catalog, bucket, delete_missing=True).execute(make_context())  # the next run converges
    counts = bucket_paths(emu, bucket)
    assert set(counts.values()) == {1} and len(counts) == 14
    assert {f.user_defined["catalog_path"]: f.id for f in files(emu, bucket)} == keepers  # the oldest copy stays


# ---- symlinks in the catalog ---------------------------------------------------------------------------------
class Root:
    def __init__(self, path):
        import fsspec

        self.fs, self.path, self.protocol = fsspec.filesystem("file"), str(path), "file"


def test_symlink_loop_is_walked_once_and_linked_tracks_are_followed(tmp_path):
    make_catalog(tmp_path / "cat", 5)
    os.symlink(tmp_path / "cat", tmp_path / "cat" / "artist0" / "loop")       # a loop
    os.symlink(tmp_path / "cat" / "artist1", tmp_path / "cat" / "again")      # a second way to one folder
    write_track(tmp_path / "elsewhere" / "linked.wav", 99)
    os.symlink(tmp_path / "elsewhere" / "linked.wav", tmp_path / "cat" / "linked.wav")
    walk = CatalogWalk(root=Root(tmp_path / "cat"), extensions=(".wav",))
    rels = [e.rel for e in walk]
    assert len(rels) == len(set(rels)) == 6 and "linked.wav" in rels and not walk.unreadable
    assert next(e for e in CatalogWalk(root=Root(tmp_path / "cat"), extensions=(".wav",)) if e.rel == "linked.wav").size > 0


@pytest.mark.integration
def test_a_broken_track_link_blocks_deletions(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 4)
    os.symlink(tmp_path / "mnt" / "gone.wav", catalog / "gone.wav")  # a dropped mount behind a link
    with pytest.raises(AirflowException, match="broken link"):  # the link is reported, the other tracks synced
        sync_op(catalog, bucket).execute(make_context())
    assert len(bucket_paths(emu, bucket)) == 4
    (catalog / "artist0" / "track000.wav").unlink()
    with pytest.raises(AirflowException, match="gone.wav.*broken link"):  # on_unreadable="fail": no deletion
        sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1.0).execute(make_context())
    assert len(bucket_paths(emu, bucket)) == 4
