"""Fixtures of the AudioShake tests."""

from __future__ import annotations

import pytest

from airflow_provider_music.testing.emulator import connection_json


def audioshake_conn(emu, api: str = "jobs", *, token: str | None = None) -> str:
    """AIRFLOW_CONN JSON for the emulator's AudioShake API (``EmulatorServer.connection`` cannot take
    ``api=`` as an extra because its first parameter is also called ``api``)."""
    return connection_json("audioshake", emu.url, token=token or emu.token, extra={"api": api})


@pytest.fixture(params=["jobs", "tasks"])
def api(request, music_emulator, monkeypatch):
    """Run a test against both AudioShake APIs of the emulator."""
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, request.param))
    return request.param
