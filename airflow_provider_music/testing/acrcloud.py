"""Emulator routes of the Acrcloud API (filled in by the Acrcloud slice)."""

from __future__ import annotations

from typing import Any


def register(app: Any, state: Any) -> None:
    """Add this API's routes to the emulator app."""
