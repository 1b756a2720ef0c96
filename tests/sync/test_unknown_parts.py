"""A part of the catalog the walk cannot read is *unknown*, never *vanished* (issue 21 §1).

Class of defect: a folder is skipped by the walk (permission denied, an I/O error, a dangling symlink to an
unmounted share, an object-storage prefix that cannot be listed) and the bucket files recorded under it are
read as "source vanished" and deleted. Every way a folder can be unreadable is tried; none may delete a file
recorded under it. ``on_unreadable="fail"`` (default) deletes nothing as vanished in that run and fails at the
end naming the folders; ``"warn"`` keeps what lies under them, tidies the rest and succeeds with a warning.
(Tests run as root: permission errors are simulated by making the listing raise.)
"""

from __future__ import annotations

import errno
import os
import shutil

import fsspec.implementations.local as fs_local
import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.sync.catalog import CatalogWalk
from tests.sync.conftest import bucket_paths, sync_op, write_track

pytestmark = pytest.mark.integration
TRACKS, HIDDEN = 40, "artist3"


def make_four_folders(catalog, share):
    """40 tracks, 10 per folder; ``artist3`` is a symlink to a folder on a "share" (a real folder here)."""
    for i in range(TRACKS):
        folder = f"artist{i // 10}"
        base = share if folder == HIDDEN else catalog
        write_track(base / folder / f"track{i:03d}.wav", i)
    os.symlink(share / HIDDEN, catalog / HIDDEN)


@pytest.fixture
def synced(emu, bucket, tmp_path, make_context):
    catalog, share = tmp_path / "catalog", tmp_path / "share"
    make_four_folders(catalog, share)
    sync_op(catalog, bucket).execute(make_context())
    assert len(bucket_paths(emu, bucket)) == TRACKS
    (catalog / "artist0" / "track000.wav").unlink()  # seen vanished: a legitimate deletion
    (catalog / "artist1" / "track010.wav").unlink()
    return catalog, share


def _scandir_denied(monkeypatch, catalog, share):
    real = os.scandir

    def scandir(path="."):
        if isinstance(path, (str, os.PathLike)) and os.fspath(path).rstrip("/").endswith(HIDDEN):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def _ls_io_error(monkeypatch, catalog, share):
    real = fs_local.LocalFileSystem.ls

    def ls(self, path, *args, **kwargs):
        if str(path).rstrip("/").endswith(HIDDEN):
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(fs_local.LocalFileSystem, "ls", ls)


def _share_unmounted(monkeypatch, catalog, share):
    shutil.rmtree(share)  # artist3 is now a dangling symlink to a directory


UNREADABLE = {"permission-denied": _scandir_denied, "io-error": _ls_io_error, "dangling-dir-link": _share_unmounted}


@pytest.mark.parametrize("how", list(UNREADABLE))
def test_fail_default_deletes_nothing_and_names_the_folder(emu, bucket, synced, make_context, monkeypatch, how):
    catalog, share = synced
    UNREADABLE[how](monkeypatch, catalog, share)
    context = make_context()
    with pytest.raises(AirflowException, match=f"{HIDDEN}.*cannot read"):
        sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1.0).execute(context)
    assert len(bucket_paths(emu, bucket)) == TRACKS  # not one file deleted, not even the two seen vanished
    assert sum(v for k, v in emu.state.route_counts.items() if k.startswith("DELETE")) == 0
    summary = context["ti"].xcom_pushed["sync_summary"]
    assert summary["deleted"] == 0 and [u.split(" ")[0] for u in summary["unreadable"]] == [HIDDEN]


@pytest.mark.parametrize("how", list(UNREADABLE))
def test_warn_keeps_what_lies_under_it_and_tidies_the_rest(emu, bucket, synced, make_context, monkeypatch, how):
    catalog, share = synced
    UNREADABLE[how](monkeypatch, catalog, share)
    result = sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1.0, on_unreadable="warn").execute(
        make_context())
    paths = bucket_paths(emu, bucket)
    assert result["deleted"] == 2 and result["failed"] == 0 and len(paths) == TRACKS - 2
    assert sum(1 for p in paths if p.startswith(f"{HIDDEN}/")) == 10  # every file under the folder kept
    assert result["unreadable"][0].startswith(HIDDEN)


def test_without_delete_missing_the_readable_part_still_syncs(emu, bucket, synced, make_context, monkeypatch):
    catalog, share = synced
    _share_unmounted(monkeypatch, catalog, share)
    write_track(catalog / "artist2" / "new.wav", 99)
    context = make_context()
    with pytest.raises(AirflowException, match=HIDDEN):
        sync_op(catalog, bucket).execute(context)
    assert context["ti"].xcom_pushed["sync_summary"]["uploaded"] == 1
    assert len(bucket_paths(emu, bucket)) == TRACKS + 1


def test_a_dangling_link_hiding_nothing_of_the_bucket_does_not_wedge_the_night(emu, bucket, synced, make_context):
    catalog, _ = synced
    os.symlink(catalog.parent / "old-share", catalog / "old-share")  # never held a synced track
    result = sync_op(catalog, bucket, delete_missing=True).execute(make_context())
    assert result["deleted"] == 2 and result["failed"] == 0 and result["unreadable"] == []


def test_the_root_unreadable_keeps_everything(emu, bucket, synced, make_context, monkeypatch):
    catalog, _ = synced
    real = fs_local.LocalFileSystem.ls

    def ls(self, path, *args, **kwargs):
        if str(path).rstrip("/") == str(catalog):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(fs_local.LocalFileSystem, "ls", ls)
    for on_unreadable in ("warn", "fail"):
        op = sync_op(catalog, bucket, delete_missing=True, max_delete_ratio=1.0, on_unreadable=on_unreadable)
        if on_unreadable == "fail":
            with pytest.raises(AirflowException, match="cannot read"):
                op.execute(make_context())
        else:
            assert op.execute(make_context())["deleted"] == 0
    assert len(bucket_paths(emu, bucket)) == TRACKS


def test_the_root_a_dangling_link_or_missing_is_refused_before_any_request(emu, bucket, synced, tmp_path,
                                                                          make_context):
    link = tmp_path / "mounted"
    os.symlink(tmp_path / "unmounted", link)
    for root in (link, tmp_path / "no-such-folder"):
        with pytest.raises(InvalidInputError, match="folder not found"):
            sync_op(root, bucket, delete_missing=True, max_delete_ratio=1.0).execute(make_context())
    assert len(bucket_paths(emu, bucket)) == TRACKS


def test_object_storage_prefix_that_cannot_be_listed(emu, bucket, make_context, monkeypatch):
    import fsspec
    from airflow.providers.common.compat.sdk import ObjectStoragePath
    from airflow.sdk.io import attach

    from airflow_provider_music.testing.audio import sine_wav

    memfs = fsspec.filesystem("memory")
    attach("memory", fs=memfs)
    for i in range(20):
        memfs.pipe(f"/label/cat/artist{i // 10}/t{i:02d}.wav", sine_wav(0.05, freq=300 + 7 * i, sample_rate=8000))
    root = ObjectStoragePath("memory://label/cat")
    try:
        op = sync_op("x", bucket, delete_missing=True, max_delete_ratio=1.0)
        op.catalog = root
        op.execute(make_context())
        assert len(bucket_paths(emu, bucket)) == 20
        real = type(memfs).ls

        def ls(self, path, *args, **kwargs):
            if str(path).rstrip("/").endswith("artist1"):
                raise OSError(errno.EIO, "listing failed", str(path))
            return real(self, path, *args, **kwargs)

        monkeypatch.setattr(type(memfs), "ls", ls)
        with pytest.raises(AirflowException, match="artist1.*cannot read"):
            op.execute(make_context())
        op.on_unreadable = "warn"
        assert op.execute(make_context())["deleted"] == 0
        assert len(bucket_paths(emu, bucket)) == 20
    finally:
        memfs.rm("/label", recursive=True)


class _Root:
    def __init__(self, path):
        import fsspec

        self.fs, self.path, self.protocol = fsspec.filesystem("file"), str(path), "file"


def test_the_walk_records_every_unknown_part(tmp_path, monkeypatch):
    make_four_folders(tmp_path / "c", tmp_path / "s")
    shutil.rmtree(tmp_path / "s")
    os.symlink(tmp_path / "nowhere.wav", tmp_path / "c" / "gone.wav")
    walk = CatalogWalk(root=_Root(tmp_path / "c"), extensions=(".wav",))
    assert len(list(walk)) == 30
    assert sorted((u.rel, u.link) for u in walk.unknown) == [("artist3", True), ("gone.wav", True)]
