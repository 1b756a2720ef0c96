"""Catalog sync reads each new or changed track once (hash and upload from the same bytes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.sync import catalog as ops
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(music_emulator) -> int:
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    return AcrCloudHook().create_bucket("reads", region="eu-west-1")["id"]


@pytest.fixture
def reads(monkeypatch) -> dict[str, int]:
    """Bytes read per track through the operator's one reader (``open_track``)."""
    counted: dict[str, int] = {}
    real = ops.open_track

    class Counting:
        def __init__(self, fh, name):
            self.fh, self.name = fh, name

        def read(self, *args):
            data = self.fh.read(*args)
            counted[self.name] = counted.get(self.name, 0) + len(data)
            return data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(ops, "open_track", lambda path: Counting(real(path), path.name))
    return counted


def make_catalog(root: Path, count: int) -> dict[str, bytes]:
    tracks = {}
    for i in range(count):
        data = sine_wav(0.05, freq=300 + i * 11, sample_rate=8000)
        (root / f"t{i}.wav").parent.mkdir(parents=True, exist_ok=True)
        (root / f"t{i}.wav").write_bytes(data)
        tracks[f"t{i}.wav"] = data
    return tracks


def sync(make_context, catalog: Path, bucket: int) -> dict:
    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, poll_interval=0.05,
                                     progress_interval=0)
    return op.execute(make_context())


def test_new_and_resized_tracks_are_read_once(music_emulator, bucket, tmp_path, make_context, reads):
    catalog = tmp_path / "catalog"
    tracks = make_catalog(catalog, 6)
    assert sync(make_context, catalog, bucket)["uploaded"] == 6
    assert reads == {name: len(data) for name, data in tracks.items()}
    for rec in store_of(music_emulator.state).files_in(bucket):  # the marker is the hash of the bytes sent
        assert rec.user_defined["catalog_sha256"] == hashlib.sha256(tracks[rec.user_defined["catalog_path"]]).hexdigest()

    reads.clear()
    longer = sine_wav(0.07, freq=999, sample_rate=8000)
    (catalog / "t0.wav").write_bytes(longer)  # a new size: changed for sure, no read to decide
    result = sync(make_context, catalog, bucket)
    assert result["uploaded"] == 1 and result["replaced"] == 1 and result["unchanged"] == 5
    assert reads == {"t0.wav": len(longer)}


def test_tracks_over_the_memory_limit_stream(music_emulator, bucket, tmp_path, make_context, reads, monkeypatch):
    monkeypatch.setattr(ops, "SYNC_MEMORY_LIMIT", 100)  # every test track is "large": hashed, then streamed
    catalog = tmp_path / "catalog"
    tracks = make_catalog(catalog, 3)
    assert sync(make_context, catalog, bucket)["uploaded"] == 3
    assert reads == {name: len(data) for name, data in tracks.items()}  # the hash pass; the upload streams
    for rec in store_of(music_emulator.state).files_in(bucket):
        assert rec.user_defined["catalog_sha256"] == hashlib.sha256(tracks[rec.user_defined["catalog_path"]]).hexdigest()
