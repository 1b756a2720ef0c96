"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Each API keeps its own block below; ``get_provider_info`` merges them and adds the connection fields
every API shares (timeouts, retries). The ``conn-fields`` and ``ui-field-behaviour`` entries drive the
connection form on Airflow 3.2+ without importing the hooks; on 3.0 and 3.1 the hooks'
``get_connection_form_widgets`` / ``get_ui_field_behaviour`` (in ``core.MusicApiHook``) are derived from
this same metadata, so there is one source of truth.
"""

from __future__ import annotations

from typing import Any

PACKAGE = "airflow_provider_music"

_RIFFUSION: dict[str, Any] = {
    "integrations": [
        {
            "integration-name": "Riffusion (useapi.net)",
            "external-doc-url": "https://useapi.net/docs/api-riffusion-v1",
            "tags": ["software"],
        }
    ],
    "hooks": [
        {"integration-name": "Riffusion (useapi.net)", "python-modules": [f"{PACKAGE}.hooks.riffusion"]}
    ],
    "operators": [
        {"integration-name": "Riffusion (useapi.net)", "python-modules": [f"{PACKAGE}.operators.riffusion"]}
    ],
    "sensors": [
        {"integration-name": "Riffusion (useapi.net)", "python-modules": [f"{PACKAGE}.sensors.riffusion"]}
    ],
    "triggers": [
        {"integration-name": "Riffusion (useapi.net)", "python-modules": [f"{PACKAGE}.triggers.riffusion"]}
    ],
    "connection-types": [
        {
            "hook-class-name": f"{PACKAGE}.hooks.riffusion.RiffusionHook",
            "hook-name": "Riffusion (useapi.net)",
            "connection-type": "riffusion",
            "conn-fields": {
                "user_id": {
                    "label": "Default Riffusion user_id",
                    "schema": {"type": ["string", "null"]},
                    "description": "Account used when a call gives no user_id (required by useapi.net "
                    "when several Riffusion accounts are configured). Optional.",
                },
            },
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "login"],
                "relabeling": {"host": "Base URL", "password": "useapi.net API token"},
                "placeholders": {
                    "host": "https://api.useapi.net/v1/riffusion/",
                    "password": "user:1234-abcdefgh (useapi.net token)",
                    "user_id": "optional: Riffusion account user_id",
                },
            },
        }
    ],
    "extra-links": [f"{PACKAGE}.operators.riffusion.RiffusionSongLink"],
}

_ACRCLOUD: dict[str, Any] = {
    "integrations": [
        {
            "integration-name": "ACRCloud",
            "external-doc-url": "https://docs.acrcloud.com/reference/console-api",
            "tags": ["software"],
        }
    ],
    "hooks": [{"integration-name": "ACRCloud", "python-modules": [f"{PACKAGE}.hooks.acrcloud", f"{PACKAGE}.hooks.acrcloud_fs", f"{PACKAGE}.hooks.acrcloud_batch"]}],
    "operators": [{"integration-name": "ACRCloud", "python-modules": [f"{PACKAGE}.operators.acrcloud", f"{PACKAGE}.operators.acrcloud_scan", f"{PACKAGE}.operators.acrcloud_sync"]}],
    "sensors": [{"integration-name": "ACRCloud", "python-modules": [f"{PACKAGE}.sensors.acrcloud"]}],
    "triggers": [{"integration-name": "ACRCloud", "python-modules": [f"{PACKAGE}.triggers.acrcloud"]}],
    "connection-types": [
        {
            "hook-class-name": f"{PACKAGE}.hooks.acrcloud.AcrCloudHook",
            "hook-name": "ACRCloud",
            "connection-type": "acrcloud",
            "conn-fields": {
                "bucket_id": {
                    "label": "Default bucket id",
                    "schema": {"type": ["string", "null"]},
                    "description": "Bucket used when an operator does not name one, e.g. 8891. Optional.",
                },
                "region": {
                    "label": "Region",
                    "schema": {
                        "type": "string",
                        "enum": ["eu-west-1", "us-west-2", "ap-southeast-1"],
                        "default": "eu-west-1",
                    },
                    "description": "ACRCloud region of your buckets and projects.",
                },
                "identify_host": {
                    "label": "Identify host",
                    "schema": {"type": ["string", "null"]},
                    "description": "Recognition project host, e.g. identify-eu-west-1.acrcloud.com. "
                    "Needed only for identification.",
                },
                "access_key": {
                    "label": "Project access key",
                    "schema": {"type": ["string", "null"]},
                    "description": "access_key of the recognition project. Needed only for identification.",
                },
                "access_secret": {
                    "label": "Project access secret",
                    "schema": {"type": ["string", "null"], "format": "password"},
                    "description": "access_secret of the recognition project (stored like a password).",
                },
            },
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "login"],
                "relabeling": {"host": "Base URL", "password": "Console API token"},
                "placeholders": {
                    "host": "https://api-v2.acrcloud.com/api",
                    "password": "personal access token from Account > Developer Settings",
                    "bucket_id": "8891",
                    "region": "eu-west-1",
                    "identify_host": "identify-eu-west-1.acrcloud.com",
                    "access_key": "recognition project access_key",
                },
            },
        }
    ],
    "extra-links": [f"{PACKAGE}.operators.acrcloud.AcrCloudConsoleLink"],
}

_AUDIOSHAKE: dict[str, Any] = {
    "integrations": [
        {
            "integration-name": "AudioShake",
            "external-doc-url": "https://developer.audioshake.ai/",
            "tags": ["service"],
        }
    ],
    "hooks": [{"integration-name": "AudioShake", "python-modules": [f"{PACKAGE}.hooks.audioshake", f"{PACKAGE}.hooks.audioshake_api", f"{PACKAGE}.hooks.audioshake_jobs", f"{PACKAGE}.hooks.audioshake_tasks"]}],
    "operators": [{"integration-name": "AudioShake", "python-modules": [f"{PACKAGE}.operators.audioshake"]}],
    "sensors": [{"integration-name": "AudioShake", "python-modules": [f"{PACKAGE}.sensors.audioshake"]}],
    "triggers": [{"integration-name": "AudioShake", "python-modules": [f"{PACKAGE}.triggers.audioshake"]}],
    "connection-types": [
        {
            "hook-class-name": f"{PACKAGE}.hooks.audioshake.AudioShakeHook",
            "hook-name": "AudioShake",
            "connection-type": "audioshake",
            "conn-fields": {
                "api": {
                    "label": "API",
                    "schema": {"type": "string", "default": "jobs", "enum": ["jobs", "tasks"]},
                    "description": "jobs: legacy Jobs API (groovy.audioshake.ai, Bearer token); "
                    "tasks: Tasks API (api.audioshake.ai, x-api-key)",
                },
            },
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "login"],
                "relabeling": {"password": "API token / API key", "host": "Base URL (optional)"},
                "placeholders": {
                    "host": "https://groovy.audioshake.ai (jobs) or https://api.audioshake.ai (tasks)",
                    "password": "JWT token (jobs API) or x-api-key (tasks API)",
                    "api": "jobs",
                },
            },
        }
    ],
    "extra-links": [f"{PACKAGE}.operators.audioshake.AudioShakeLink"],
}

_FLOWMUSIC: dict[str, Any] = {
    "integrations": [
        {
            "integration-name": "FlowMusic (useapi.net)",
            "external-doc-url": "https://useapi.net/docs/api-flowmusic-v1",
            "tags": ["software"],
        }
    ],
    "hooks": [{"integration-name": "FlowMusic (useapi.net)", "python-modules": [f"{PACKAGE}.hooks.flowmusic"]}],
    "operators": [
        {"integration-name": "FlowMusic (useapi.net)", "python-modules": [f"{PACKAGE}.operators.flowmusic"]}
    ],
    "sensors": [{"integration-name": "FlowMusic (useapi.net)", "python-modules": [f"{PACKAGE}.sensors.flowmusic"]}],
    "triggers": [
        {"integration-name": "FlowMusic (useapi.net)", "python-modules": [f"{PACKAGE}.triggers.flowmusic"]}
    ],
    "connection-types": [
        {
            "hook-class-name": f"{PACKAGE}.hooks.flowmusic.FlowMusicHook",
            "hook-name": "FlowMusic (useapi.net)",
            "connection-type": "flowmusic",
            "conn-fields": {
                "email": {
                    "label": "Default FlowMusic account e-mail",
                    "schema": {"type": ["string", "null"]},
                    "description": "Account used when a call names none; empty: useapi.net picks an account "
                    "with free capacity. Optional.",
                },
                "sync_timeout": {
                    "label": "Read timeout of held calls (seconds)",
                    "schema": {"type": ["number", "null"], "default": 300},
                    "description": "Sync generation and stems hold the answer 40-150 s, e.g. 300. Optional.",
                },
            },
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "login"],
                "relabeling": {"host": "Base URL", "password": "useapi.net API token"},
                "placeholders": {
                    "host": "https://api.useapi.net/v1/flowmusic/",
                    "password": "user:1234-abcdefgh (useapi.net token)",
                    "email": "optional: jane@example.com",
                    "sync_timeout": "300",
                },
            },
        }
    ],
}

#: Connection extras read by the shared HTTP core for every API (see ``core.settings_from_connection``).
COMMON_CONN_FIELDS: dict[str, Any] = {
    "timeout": {
        "label": "Read timeout (seconds)",
        "schema": {"type": ["number", "null"], "default": 60},
        "description": "Longest wait for the next bytes of an answer, e.g. 60.",
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "schema": {"type": ["number", "null"], "default": 10},
        "description": "Longest wait to open a connection, e.g. 10.",
    },
    "retry_limit": {
        "label": "Max attempts per request",
        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 1},
        "description": "429, 5xx and connection errors are retried with exponential backoff and "
        "Retry-After, e.g. 5.",
    },
    "retry_total_timeout": {
        "label": "Max seconds retrying one request",
        "schema": {"type": ["number", "null"], "default": 300},
        "description": "Deadline for one request including its retries, e.g. 300.",
    },
}

_LIST_KEYS = ("integrations", "hooks", "operators", "sensors", "triggers", "connection-types", "extra-links")


def get_provider_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "package-name": "airflow-provider-music",
        "name": "Music AI (Riffusion, ACRCloud, AudioShake)",
        "description": "Hooks, operators, sensors and deferrable triggers for Riffusion (useapi.net), "
        "ACRCloud and AudioShake, with an offline emulator of the three APIs.",
    }
    for block in (_RIFFUSION, _ACRCLOUD, _AUDIOSHAKE, _FLOWMUSIC):
        for key in _LIST_KEYS:
            if block.get(key):
                info.setdefault(key, []).extend(block[key])
    info["connection-types"] = [
        {**conn, "conn-fields": {**conn.get("conn-fields", {}), **COMMON_CONN_FIELDS}}
        for conn in info.get("connection-types", [])
    ]
    return info
