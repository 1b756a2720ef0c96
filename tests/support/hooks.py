"""Discover every hook class of the package and build one pointed at a (hostile) test server.

Used by the transport-depth tests so a new API's hook is covered without editing them.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import pkgutil
from collections.abc import Iterator
from typing import Any

import airflow_provider_music.hooks as hooks_pkg
from airflow_provider_music.get_provider_info import get_provider_info
from airflow_provider_music.hooks.base import MusicApiHook


def hook_classes() -> list[type[MusicApiHook]]:
    """Every concrete ``MusicApiHook`` subclass defined in ``airflow_provider_music.hooks.*``."""
    found: dict[str, type[MusicApiHook]] = {}
    for info in pkgutil.iter_modules(hooks_pkg.__path__):
        module = importlib.import_module(f"{hooks_pkg.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, MusicApiHook) and cls is not MusicApiHook and cls.__module__ == module.__name__
                    and "Mixin" not in cls.__name__ and not inspect.isabstract(cls)
                    and cls.conn_type != MusicApiHook.conn_type):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


def connection_variants(cls: type[MusicApiHook]) -> list[dict[str, Any]]:
    """Extras combinations worth testing: every value of every enum connection field (e.g. AudioShake ``api``)."""
    for conn in get_provider_info().get("connection-types", []):
        if conn["connection-type"] == cls.conn_type:
            enums = {name: spec["schema"]["enum"] for name, spec in conn.get("conn-fields", {}).items()
                     if isinstance(spec.get("schema"), dict) and spec["schema"].get("enum")}
            if not enums:
                return [{}]
            names = sorted(enums)
            return [dict(zip(names, values, strict=True)) for values in itertools.product(*(enums[n] for n in names))]
    return [{}]


def hook_cases() -> Iterator[tuple[str, type[MusicApiHook], dict[str, Any]]]:
    for cls in hook_classes():
        for extras in connection_variants(cls):
            label = cls.__name__ + "".join(f"-{k}={v}" for k, v in extras.items())
            yield label, cls, extras


def make_hook(monkeypatch: Any, cls: type[MusicApiHook], base_url: str, token: str, extras: dict[str, Any] | None = None,
              conn_id: str = "hostile_test") -> MusicApiHook:
    """A ``cls`` hook whose connection points at ``base_url`` (token in the password), instant retries off."""
    extra = {"base_url": base_url, "timeout": 5, "connect_timeout": 2, "retry_limit": 2, **(extras or {})}
    value = {"conn_type": cls.conn_type, "password": token, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    return cls(conn_id)
