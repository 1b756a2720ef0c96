"""pytest plugin (auto-loaded through the ``pytest11`` entry point): the ``music_emulator`` fixture.

``music_emulator`` starts one emulator per test session on a free loopback port, resets it before each
test and sets ``AIRFLOW_CONN_<CONN_ID>`` for every API listed in :mod:`airflow_provider_music.testing.apis`
(``riffusion_default``, ``acrcloud_default``, ``audioshake_default``, ``flowmusic_default``) for the test.
It yields the :class:`~airflow_provider_music.testing.server.EmulatorServer` (``.url``, ``.state``,
``.add_fault``, ``.count``, ``.connection``, ``.env``, ``.callbacks``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_music.testing.server import EmulatorServer


@pytest.fixture(scope="session")
def music_emulator_server() -> Iterator[EmulatorServer]:
    """One emulator for the whole test session (fast jobs: 0.2 s), stopped at the end."""
    from airflow_provider_music.testing.server import EmulatorServer

    server = EmulatorServer(job_seconds=0.2)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def music_emulator(music_emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """The session's emulator, reset before and after the test, with ``AIRFLOW_CONN_*`` set for every API."""
    music_emulator_server.reset()
    for key, value in music_emulator_server.env().items():
        monkeypatch.setenv(key, value)
    yield music_emulator_server
    music_emulator_server.reset()
