"""The connection forms, as the running Airflow version's API server builds them (no browser).

Airflow 3.2+ build the form from ``conn-fields`` / ``ui-field-behaviour`` in ``get_provider_info()``;
3.0 and 3.1 call ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` on each hook class, found
in the class's own ``__dict__`` only. Both paths must give every connection type of the package its
labelled fields, a description for every extra field and no "null" choice. The browser check of the
same forms is ``tests/ui/browser`` (``make test-ui``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any
from unittest import mock

import pytest

from airflow_provider_music.get_provider_info import get_provider_info
from airflow_provider_music.hooks.connection_form import FORM_METHODS, install_connection_form

CONN_TYPES = {entry["connection-type"]: entry for entry in get_provider_info()["connection-types"]}
STAND_INS = ("wtforms", "flask_babel", "flask_appbuilder")


def hook_class(entry: dict[str, Any]) -> type:
    module, _, name = entry["hook-class-name"].rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_every_package_hook_is_listed():
    assert {"riffusion", "acrcloud", "audioshake"} <= set(CONN_TYPES)


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
