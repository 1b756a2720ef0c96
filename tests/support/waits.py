"""The three waits of every API, driven the same way for the "unknown state" class (issue 21 §5).

* :func:`operator_wait` - ``execute`` with a sync wait (``deferrable=False``);
* :func:`operator_deferred` - ``execute`` -> ``TaskDeferred`` -> the trigger's one event -> ``execute_complete``;
* :func:`sensor_poke` - a sensor's ``execute`` in poke mode (Airflow's own loop).

Each returns what the task returns, or raises what it raises. :func:`unknown_warnings` counts the WARNING
lines about unknown states that a wait logged (once per state per wait, never once per poll).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred


def trigger_event(trigger: Any) -> dict[str, Any]:
    async def go() -> list[Any]:
        return [event async for event in trigger.run()]

    events = asyncio.run(go())
    assert len(events) == 1
    return events[0].payload


def operator_wait(op: Any, context: dict[str, Any]) -> Any:
    assert not op.deferrable
    return op.execute(context)


def operator_deferred(op: Any, context: dict[str, Any]) -> Any:
    assert op.deferrable
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    event = trigger_event(deferred.value.trigger)
    return op.execute_complete(context, event=event, **(deferred.value.kwargs or {}))


def sensor_poke(sensor: Any, context: dict[str, Any]) -> Any:
    assert not sensor.deferrable and sensor.mode == "poke"
    return sensor.execute(context)


def sensor_deferred(sensor: Any, context: dict[str, Any]) -> Any:
    assert sensor.deferrable
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    event = trigger_event(deferred.value.trigger)
    return sensor.execute_complete(context, event)


WAITS = {"operator": operator_wait, "deferred": operator_deferred}


class _RecordingLogger:
    """Forwards to the wait's logger and records WARNING lines (task loggers are structlog: no caplog)."""

    def __init__(self, logger: Any, lines: list[str]) -> None:
        self._logger, self._lines = logger, lines

    def warning(self, msg: str, *args: Any) -> None:
        self._lines.append(msg % args if args else msg)
        self._logger.warning(msg, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


def record_wait_warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every WARNING that a wait's progress logger writes from now on (operator, sensor and trigger waits)."""
    from airflow_provider_music.triggers.base import Progress

    lines: list[str] = []
    original = Progress.__init__

    def init(self: Any, describe: str, logger: Any, **kwargs: Any) -> None:
        original(self, describe, _RecordingLogger(logger, lines), **kwargs)

    monkeypatch.setattr(Progress, "__init__", init)
    return lines


def unknown_warnings(lines: list[str], state: str) -> list[str]:
    """The WARNING lines naming the unknown ``state``."""
    return [line for line in lines if "unknown state" in line and repr(state) in line]


def no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trigger events fire at once (``[music] settle_seconds = 0``): no scheduler runs in these tests."""
    monkeypatch.setenv("AIRFLOW__MUSIC__SETTLE_SECONDS", "0")


@pytest.fixture(autouse=True)
def _no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Autouse where imported: trigger events fire at once."""
    no_settle(monkeypatch)


@pytest.fixture
def wait_warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The wait warnings of the test (see :func:`record_wait_warnings`)."""
    return record_wait_warnings(monkeypatch)
