"""Shared test fixtures. No metadata DB is needed: connections come from AIRFLOW_CONN_* variables."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any
from unittest import mock

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="music-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import pytest

#: A distinctive token: tests assert it never shows up in logs, exceptions or return values.
SECRET_TOKEN = "tok-SECRET-5f1c9e2a-do-not-log"


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make retry back-off instant; the list records every wait the retry policy asked for."""
    from airflow_provider_music import core

    waits: list[float] = []

    async def fake_async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(core, "_sleep", waits.append)
    monkeypatch.setattr(core, "_async_sleep", fake_async_sleep)
    return waits


@pytest.fixture(autouse=True)
def isolated_secret_registry():
    """Secrets registered by one test (a connection password like "nope") must not redact the next test's text."""
    from airflow_provider_music.core import redaction

    with redaction._REGISTRY_LOCK:
        saved = set(redaction._REGISTRY)
    yield
    with redaction._REGISTRY_LOCK:
        redaction._REGISTRY.clear()
        redaction._REGISTRY.update(saved)


@pytest.fixture(autouse=True)
def fresh_connection_cache():
    """Triggers share resolved connections per process (core.settings.shared_lookup); tests change connections."""
    from airflow_provider_music.core.settings import clear_settings_cache

    clear_settings_cache()
    yield
    clear_settings_cache()


@pytest.fixture
def set_connection(monkeypatch: pytest.MonkeyPatch):
    """``set_connection(conn_id, conn_type, host=..., password=..., extra={...})`` via AIRFLOW_CONN_*."""

    def _set(conn_id: str, conn_type: str, *, host: str | None = None, password: str | None = SECRET_TOKEN,
             extra: dict[str, Any] | None = None, **fields: Any) -> None:
        value = {"conn_type": conn_type, "host": host, "password": password, "extra": extra or {}, **fields}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        from airflow_provider_music.core.settings import clear_settings_cache

        clear_settings_cache()  # an edited connection is seen at once (a triggerer sees it within the cache TTL)

    return _set


class FakeTaskStateStore:
    """Dict-backed stand-in for ``context['task_state_store']`` that survives a simulated crash."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture
def make_context():
    """Build a minimal task context: ``ti`` records XCom pushes, ``task_state_store`` persists across calls."""

    def _make(store: FakeTaskStateStore | None = None, **extra: Any) -> dict[str, Any]:
        ti = mock.MagicMock()
        ti.xcom_pushed = {}
        ti.xcom_push.side_effect = lambda key, value, **_: ti.xcom_pushed.__setitem__(key, value)
        ti.map_index = -1
        ti.try_number = 1
        ti.dag_id, ti.task_id, ti.run_id = "test_dag", "test_task", "manual__test"
        ctx: dict[str, Any] = {
            "ti": ti,
            "task_instance": ti,
            "run_id": "manual__test",
            "task_state_store": store if store is not None else FakeTaskStateStore(),
        }
        ctx.update(extra)
        return ctx

    return _make


@pytest.fixture
def listener():
    """A loopback listener recording JSON POSTs (callback targets): ``.url``, ``.received``, ``.wait(n)``."""
    from tests.support.listener import CallbackListener

    server = CallbackListener()
    yield server
    server.close()
