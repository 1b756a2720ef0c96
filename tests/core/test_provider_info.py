"""get_provider_info(): valid against Airflow's schema, every module/class importable, discoverable."""

from __future__ import annotations

import importlib
import importlib.resources
import json
import os
import pathlib
import subprocess
import sys

import jsonschema

from airflow_provider_music.get_provider_info import get_provider_info

PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[2] / "airflow_provider_music"


def _import_string(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_matches_runtime_schema():
    schema = json.loads((importlib.resources.files("airflow") / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "airflow-provider-music"


def test_every_named_module_and_class_imports():
    info = get_provider_info()
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(key, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for conn in info.get("connection-types", []):
        hook = _import_string(conn["hook-class-name"])
        assert hook.conn_type == conn["connection-type"]
        assert callable(hook.get_ui_field_behaviour)
    for link in info.get("extra-links", []):
        _import_string(link)


def test_every_module_in_role_folders_is_listed():
    info = get_provider_info()
    listed = {m for key in ("hooks", "operators", "sensors", "triggers") for e in info.get(key, []) for m in e["python-modules"]}
    for role in ("hooks", "operators", "sensors", "triggers"):
        for path in (PACKAGE_DIR / role).glob("*.py"):
            # shared machinery of every API, no integration of its own
            if path.name in ("__init__.py", "base.py", "connection_form.py", "mapping.py", "resume.py", "cost.py",
                             "lineage.py", "assets.py") or path.stem.endswith("_cost"):  # *_cost: an API's cost rules
                continue
            assert f"airflow_provider_music.{role}.{path.stem}" in listed, path


def test_airflow_discovers_the_provider(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "airflow", "providers", "get", "airflow-provider-music"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "airflow-provider-music" in out.stdout


def test_legacy_connection_form_is_derived_from_provider_info():
    """Airflow 3.0/3.1 call get_connection_form_widgets with wtforms/FAB mocked; 3.2+ read conn-fields."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    hooks, widgets, behaviours = HookMetaService._get_hooks_with_mocked_fab()
    info = get_provider_info()
    for conn in info["connection-types"]:
        hook = _import_string(conn["hook-class-name"])
        behaviour = hook.get_ui_field_behaviour()
        assert behaviour["hidden_fields"] == conn["ui-field-behaviour"]["hidden-fields"]
        assert "password" in behaviour["relabeling"]
        assert {"timeout", "connect_timeout", "retry_limit", "retry_total_timeout"} <= set(conn["conn-fields"])


def test_legacy_widget_methods_run_under_airflow_mocks(monkeypatch):
    import sys
    from unittest import mock

    for name in ("wtforms", "flask_babel", "flask_appbuilder", "flask_appbuilder.fieldwidgets"):
        monkeypatch.setitem(sys.modules, name, mock.MagicMock())
    for conn in get_provider_info()["connection-types"]:
        hook = _import_string(conn["hook-class-name"])
        assert set(hook.get_connection_form_widgets()) == set(conn["conn-fields"])
