"""Fixtures shared by the ACRCloud tests: the emulator with a fast job clock and a hook on it."""

from __future__ import annotations

import pytest

from airflow_provider_music.hooks.acrcloud import AcrCloudHook


@pytest.fixture
def emu(music_emulator):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    return music_emulator


@pytest.fixture
def hook(emu) -> AcrCloudHook:
    return AcrCloudHook()
