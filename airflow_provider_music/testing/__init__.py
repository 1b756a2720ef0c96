"""Testing helpers: the offline API emulator, its thread runner and the ``music_emulator`` pytest fixture.

Needs the ``testing`` extra (``pip install airflow-provider-music[testing]``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EmulatorServer", "EmulatorState", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "EmulatorServer":
        from airflow_provider_music.testing.server import EmulatorServer

        return EmulatorServer
    if name in ("EmulatorState", "create_app"):
        from airflow_provider_music.testing import emulator

        return getattr(emulator, name)
    raise AttributeError(name)
