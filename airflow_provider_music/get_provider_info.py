"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Each API keeps its own block below; ``get_provider_info`` merges them. The ``conn-fields`` and
``ui-field-behaviour`` entries drive the connection form on Airflow 3.2+ without importing the hooks;
the hooks keep ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` for 3.0 and 3.1.
"""

from __future__ import annotations

from typing import Any

PACKAGE = "airflow_provider_music"

_RIFFUSION: dict[str, Any] = {}

_ACRCLOUD: dict[str, Any] = {}

_AUDIOSHAKE: dict[str, Any] = {}

_LIST_KEYS = ("integrations", "hooks", "operators", "sensors", "triggers", "connection-types", "extra-links")


def get_provider_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "package-name": "airflow-provider-music",
        "name": "Music AI (Riffusion, ACRCloud, AudioShake)",
        "description": "Hooks, operators, sensors and deferrable triggers for Riffusion (useapi.net), "
        "ACRCloud and AudioShake, with an offline emulator of the three APIs.",
    }
    for block in (_RIFFUSION, _ACRCLOUD, _AUDIOSHAKE):
        for key in _LIST_KEYS:
            if block.get(key):
                info.setdefault(key, []).extend(block[key])
    return info
