"""The connection form of every hook of this package, built from ``get_provider_info()`` (one source).

Airflow 3.2+ reads ``conn-fields`` / ``ui-field-behaviour`` from the provider info and never imports a
hook for its form. Airflow 3.0 and 3.1 call ``get_connection_form_widgets`` / ``get_ui_field_behaviour``
instead, and only when the hook class defines them *itself* (they look in ``hook_class.__dict__``, not
through inheritance). :func:`install_connection_form` therefore puts both classmethods into the
``__dict__`` of each hook class; :class:`~airflow_provider_music.hooks.base.MusicApiHook` calls it for
every subclass, so a new hook gets its form by declaring ``conn_type`` and a ``connection-types`` entry.

Airflow 3.0/3.1's API server swaps the WTForms field classes for its own stand-ins before calling the
methods (3.0 only when WTForms is importable: install ``wtforms`` there, the FAB provider brings it), so
only ``wtforms`` is imported here: no Flask-AppBuilder, no Flask-Babel.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T", bound=type)

#: The two methods Airflow 3.0/3.1 look up in each hook class's own ``__dict__``.
FORM_METHODS = ("get_connection_form_widgets", "get_ui_field_behaviour")


def connection_type_info(conn_type: str) -> dict[str, Any]:
    """The ``connection-types`` entry of ``get_provider_info()`` for ``conn_type`` (``{}`` if none)."""
    from airflow_provider_music.get_provider_info import get_provider_info

    for entry in get_provider_info().get("connection-types", []):
        if entry["connection-type"] == conn_type:
            return entry
    return {}


def _validators(schema: dict[str, Any]) -> list[Any]:
    """``Optional()`` plus ``any_of(choices)`` for an enum (never a ``None`` choice: no "null" option)."""
    try:
        from wtforms.validators import Optional, any_of
    except ImportError:  # a stand-in ``wtforms`` module without submodules (unit tests)
        return []
    validators: list[Any] = [Optional()]
    choices = [value for value in schema.get("enum", []) if value is not None]
    if choices:
        validators.append(any_of(choices))
    return validators


def _field_kwargs(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"validators": _validators(schema), "description": spec.get("description", "")}
    if schema.get("default") is not None:
        kwargs["default"] = schema["default"]
    return kwargs


def form_widgets(conn_type: str) -> dict[str, Any]:
    """WTForms fields for the extras of ``conn_type`` (what Airflow 3.0/3.1 render as extra fields)."""
    from wtforms import BooleanField, IntegerField, PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in connection_type_info(conn_type).get("conn-fields", {}).items():
        schema = spec.get("schema", {})
        kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
        if schema.get("format") == "password":
            field_class: Any = PasswordField
        elif "boolean" in kinds:
            field_class = BooleanField
        elif "integer" in kinds:
            field_class = IntegerField
        else:
            field_class = StringField
        widgets[name] = field_class(spec.get("label", name), **_field_kwargs(spec, schema))
    return widgets


def field_behaviour(conn_type: str) -> dict[str, Any]:
    """Hidden, relabelled and placeholder fields of ``conn_type``, in the shape Airflow's hooks return."""
    behaviour = connection_type_info(conn_type).get("ui-field-behaviour", {})
    return {
        "hidden_fields": list(behaviour.get("hidden-fields", [])),
        "relabeling": dict(behaviour.get("relabeling", {})),
        "placeholders": dict(behaviour.get("placeholders", {})),
    }


def _get_connection_form_widgets(cls: Any) -> dict[str, Any]:
    return form_widgets(cls.conn_type)


def _get_ui_field_behaviour(cls: Any) -> dict[str, Any]:
    return field_behaviour(cls.conn_type)


def install_connection_form(cls: T) -> T:
    """Put ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` into ``cls.__dict__``.

    Usable as a class decorator; a class that defines either method itself keeps its own.
    """
    if "get_connection_form_widgets" not in cls.__dict__:
        setattr(cls, "get_connection_form_widgets", classmethod(_get_connection_form_widgets))  # noqa: B010
    if "get_ui_field_behaviour" not in cls.__dict__:
        setattr(cls, "get_ui_field_behaviour", classmethod(_get_ui_field_behaviour))  # noqa: B010
    return cls
