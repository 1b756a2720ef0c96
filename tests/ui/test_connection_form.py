"""The connection forms, as the running Airflow version's API server builds them (no browser).

Airflow 3.2+ build the form from ``conn-fields`` / ``ui-field-behaviour`` in ``get_provider_info()``;
3.0 and 3.1 call ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` on each hook class, found
in the class's own ``__dict__`` only. Both paths must give every connection type of the package its
labelled fields, a description for every extra field and no "null" choice. The browser check of the
same forms is ``tests/ui/browser`` (``make test-ui``).
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import airflow_provider_music
from airflow_provider_music.get_provider_info import get_provider_info
from airflow_provider_music.hooks.connection_form import FORM_METHODS, install_connection_form

CONN_TYPES = {entry["connection-type"]: entry for entry in get_provider_info()["connection-types"]}
STAND_INS = ("wtforms", "flask_babel", "flask_appbuilder")


def hook_class(entry: dict[str, Any]) -> type:
    module, _, name = entry["hook-class-name"].rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_every_package_hook_is_listed():
    assert {"riffusion", "acrcloud", "audioshake", "audioshake_tasks", "flowmusic"} <= set(CONN_TYPES)


@pytest.mark.parametrize("conn_type", sorted(CONN_TYPES))
def test_provider_info_fields_are_described_and_have_no_null_choice(conn_type):
    entry = CONN_TYPES[conn_type]
    for name, spec in entry["conn-fields"].items():
        assert spec.get("label"), f"{conn_type}.{name} has no label"
        assert spec.get("description"), f"{conn_type}.{name}: Airflow's UI shows descriptions, not placeholders"
        assert None not in spec["schema"].get("enum", []), f"{conn_type}.{name} offers a null choice"
        if "enum" in spec["schema"]:
            assert spec["schema"].get("default") in spec["schema"]["enum"]


@pytest.mark.parametrize("conn_type", sorted(CONN_TYPES))
def test_each_hook_class_carries_its_own_form_methods(conn_type):
    cls = hook_class(CONN_TYPES[conn_type])
    for method in FORM_METHODS:
        assert method in cls.__dict__, f"{cls.__name__}.{method} is inherited: Airflow 3.0/3.1 would not see it"
    behaviour = cls.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] and behaviour["relabeling"].get("password")


def test_a_new_subclass_gets_the_form_automatically(monkeypatch):
    from airflow_provider_music.hooks.base import MusicApiHook

    class ExtraHook(MusicApiHook):
        conn_type = "riffusion"

    assert set(FORM_METHODS) <= set(ExtraHook.__dict__)
    assert ExtraHook.get_ui_field_behaviour() == hook_class(CONN_TYPES["riffusion"]).get_ui_field_behaviour()

    @install_connection_form
    class Own(MusicApiHook):
        conn_type = "acrcloud"

        @classmethod
        def get_ui_field_behaviour(cls) -> dict[str, Any]:
            return {"hidden_fields": ["x"], "relabeling": {}, "placeholders": {}}

    assert Own.get_ui_field_behaviour()["hidden_fields"] == ["x"]


def test_widgets_with_stand_in_wtforms(monkeypatch):
    """Airflow 3.1's API server replaces WTForms and FAB with stand-ins before asking the hooks."""
    for name in ("wtforms", "flask_babel", "flask_appbuilder", "flask_appbuilder.fieldwidgets"):
        monkeypatch.setitem(sys.modules, name, mock.MagicMock())
    for conn_type, entry in CONN_TYPES.items():
        widgets = hook_class(entry).get_connection_form_widgets()
        assert set(widgets) == set(entry["conn-fields"]), conn_type


def api_server_forms() -> dict[str, Any]:
    """``/ui/connections/hook_meta`` of the installed Airflow, for this package's connection types."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    # Airflow 3.1/3.2 leave stand-in modules (no __spec__) in sys.modules after a first call; a second
    # call in the same process then fails in find_spec. The API server calls it once (cached).
    for name in [n for n, m in sys.modules.items() if n.split(".")[0] in STAND_INS and isinstance(m, mock.Mock)]:
        del sys.modules[name]
    build = getattr(HookMetaService.hook_meta_data, "__wrapped__", HookMetaService.hook_meta_data)
    return {meta.connection_type: meta.model_dump() for meta in build() if meta.connection_type in CONN_TYPES}


def test_api_server_serves_labelled_described_fields_without_null():
    forms = api_server_forms()
    assert set(forms) == set(CONN_TYPES)
    for conn_type, form in forms.items():
        entry = CONN_TYPES[conn_type]
        behaviour = entry["ui-field-behaviour"]
        standard = form["standard_fields"]
        assert standard is not None, f"{conn_type}: generic Host/Login/Password form"
        assert standard["password"]["title"] == behaviour["relabeling"]["password"]
        assert standard["password"]["placeholder"] == behaviour["placeholders"]["password"]
        for hidden in behaviour["hidden-fields"]:
            assert standard["url_schema" if hidden == "schema" else hidden]["hidden"], (conn_type, hidden)
        extra = form["extra_fields"] or {}
        assert set(extra) == set(entry["conn-fields"]), f"{conn_type}: extra fields missing"
        for name, spec in entry["conn-fields"].items():
            field = extra[name]
            assert field["schema"].get("title") == spec["label"], (conn_type, name, field)
            assert field.get("description") == spec["description"], (conn_type, name, field)
            assert None not in (field["schema"].get("enum") or []), (conn_type, name, field)
            if spec["schema"].get("format") == "password":
                assert field["schema"].get("format") == "password", (conn_type, name, field)


# ---- every extra any hook reads has a labelled field (issue 19 §5) ----------------------------------------
PACKAGE_DIR = Path(airflow_provider_music.__file__).resolve().parent  # the installed package (test-matrix: the wheel)
#: Functions that ARE the extras accessors (their ``name`` argument is the caller's literal).
ACCESSORS = {"extra", "extras_get"}
APIS_BY_MODULE = {"acrcloud": ("acrcloud",), "audioshake": ("audioshake", "audioshake_tasks"),
                  "flowmusic": ("flowmusic",), "mureka": ("mureka",), "riffusion": ("riffusion",)}


def _extra_name(call: ast.Call) -> ast.expr | None:
    """The name argument of an extras read: ``x.extra(N)``, ``extras_get(e, N)``, ``<...extras...>.get(N)``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name == "extra" and call.args:
        return call.args[0]
    if name == "extras_get" and len(call.args) >= 2:
        return call.args[1]
    if name == "get" and isinstance(func, ast.Attribute) and "extras" in ast.unparse(func.value) and call.args:
        return call.args[0]
    return None


def extras_read_by_code() -> dict[str, set[str]]:
    """``{connection type: extras read}``, derived from the package's source (not listed by hand)."""
    all_types = tuple(CONN_TYPES)
    found: dict[str, set[str]] = {t: set() for t in all_types}
    dynamic: list[str] = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR)
        if rel.parts[0] == "testing":  # the emulator reads no connection
            continue
        types = next((v for k, v in APIS_BY_MODULE.items() if k in rel.stem), all_types)
        tree = ast.parse(path.read_text())
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            if func.name in ACCESSORS:
                continue
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                arg = _extra_name(call)
                if arg is None:
                    continue
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    dynamic.append(f"{rel}:{call.lineno} {ast.unparse(call)}")
                    continue
                for conn_type in types:
                    found[conn_type].add(arg.value.rpartition("__")[2])  # extra__<type>__<name> is <name>
    assert not dynamic, f"extras read by a computed name (write the name literally): {dynamic}"
    return found


def test_the_derivation_sees_the_extras_of_every_layer():
    read = extras_read_by_code()
    assert {"timeout", "retry_initial_wait", "max_download_bytes"} <= read["riffusion"]  # core/settings.py
    assert {"dump_path", "fs_base_url", "metadata_base_url", "console_url", "bucket_id"} <= read["acrcloud"]
    assert "sync_timeout" in read["flowmusic"] and "api" in read["audioshake_tasks"]


@pytest.mark.parametrize("conn_type", sorted(CONN_TYPES))
def test_every_extra_a_hook_reads_has_a_labelled_field(conn_type):
    from airflow_provider_music.core.settings import FIELD_ALIASES
    from airflow_provider_music.hooks.audioshake import LEGACY_EXTRAS

    entry = CONN_TYPES[conn_type]
    behaviour = entry["ui-field-behaviour"]
    legacy = set(LEGACY_EXTRAS) if conn_type.startswith("audioshake") else set()
    missing = []
    for name in sorted(extras_read_by_code()[conn_type] - legacy):
        if name in FIELD_ALIASES:  # shown as the standard field it spells differently: visible and labelled
            standard = FIELD_ALIASES[name]
            assert standard not in behaviour["hidden-fields"] and behaviour["relabeling"].get(standard), (name,)
        elif not entry["conn-fields"].get(name, {}).get("label"):
            missing.append(name)
    assert not missing, f"{conn_type}: extras read by the code without a labelled form field: {missing}"
