from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav


def write_track(path: Path, index: int, seconds: float = 0.05) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sine_wav(seconds, freq=200 + index * 7, sample_rate=8000))


def make_catalog(root: Path, count: int) -> list[Path]:
    paths = [root / f"artist{i % 5}" / f"track{i:03d}.wav" for i in range(count)]
    for i, path in enumerate(paths):
        write_track(path, i)
    return paths


def files(emu, bucket: int) -> list:
    return list(store_of(emu.state).files_in(bucket))


def bucket_paths(emu, bucket: int) -> Counter:
    return Counter(f.user_defined.get("catalog_path") for f in files(emu, bucket))


def sync_op(catalog: Path, bucket: int, **kwargs) -> AcrCloudCatalogSyncOperator:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("progress_interval", 0)
    return AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, **kwargs)


@pytest.fixture
def emu(music_emulator):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    return music_emulator


@pytest.fixture
def bucket(emu) -> int:
    return AcrCloudHook().create_bucket("catalog", region="eu-west-1")["id"]
