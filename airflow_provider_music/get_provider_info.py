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
    "operators": [{"integration-name": "ACRCloud", "python-modules": [f"{PACKAGE}.operators.acrcloud", f"{PACKAGE}.operators.acrcloud_scan", f"{PACKAGE}.operators.acrcloud_sync", f"{PACKAGE}.operators.acrcloud_sync_scan"]}],
    "sensors": [{"integration-name": "ACRCloud", "python-modules": [f"{PACKAGE}.sensors.acrcloud"]}],
    "triggers": [{"integration-name": "ACRCloud", "python-modules": [f"{PACKAGE}.triggers.acrcloud", f"{PACKAGE}.triggers.catalog"]}],
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
                "dump_path": {
                    "label": "Dump path",
                    "schema": {"type": ["string", "null"]},
                    "description": "Bucket dump endpoint: dump (documented) or files/dump (official CLI). "
                    "Empty (recommended): try dump, then files/dump on 404.",
                },
                "fs_base_url": {
                    "label": "File-scanning files base URL",
                    "schema": {"type": ["string", "null"]},
                    "description": "Host of file-scanning files, overriding the region rule (api-<region>), "
                    "e.g. https://api-v2.acrcloud.com/api. Optional.",
                },
                "metadata_base_url": {
                    "label": "Metadata API base URL",
                    "schema": {"type": ["string", "null"]},
                    "description": "Host of the Metadata API, e.g. https://eu-api-v2.acrcloud.com/api (the "
                    "default for ACRCloud's own Console host). Optional.",
                },
                "console_url": {
                    "label": "Console URL (task links)",
                    "schema": {"type": ["string", "null"]},
                    "description": "Base of the console link shown on task pages, e.g. "
                    "https://console.acrcloud.com (the default). Optional.",
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
            # One connection type per AudioShake API: the API is never an ordinary word in an extra, which
            # Airflow's log masker would hide ("tasks" -> ***) or warn about ("jobs": too short).
            "hook-class-name": f"{PACKAGE}.hooks.audioshake.AudioShakeHook",
            "hook-name": "AudioShake",
            "connection-type": "audioshake",
            "conn-fields": {},
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "login"],
                "relabeling": {"password": "API token (JWT)", "host": "Base URL (optional)"},
                "placeholders": {
                    "host": "https://groovy.audioshake.ai (an api.audioshake.ai host means the Tasks API)",
                    "password": "JWT token of the legacy Jobs API",
                },
            },
        },
        {
            "hook-class-name": f"{PACKAGE}.hooks.audioshake.AudioShakeTasksHook",
            "hook-name": "AudioShake (Tasks API)",
            "connection-type": "audioshake_tasks",
            "conn-fields": {},
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "login"],
                "relabeling": {"password": "API key (x-api-key)", "host": "Base URL (optional)"},
                "placeholders": {
                    "host": "https://api.audioshake.ai",
                    "password": "Tasks API key",
                },
            },
        },
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
                    "description": "Sync generation and stems hold the answer 40-150 s, e.g. 300; such a call may "
                    "take this plus 'request_timeout'. Optional.",
                },
                "price_per_song": {
                    "label": "Credits per generation or edit (budget estimate)",
                    "schema": {"type": ["number", "null"], "default": None},
                    "description": "What the budget guard (max_cost) expects one generation or edit to cost, in "
                    "credits; empty: the provider's price list per model (5 credits). Optional.",
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
    "extra-links": [f"{PACKAGE}.operators.flowmusic.FlowMusicSongLink"],
}

_MUREKA: dict[str, Any] = {
    "integrations": [
        {
            "integration-name": "Mureka (useapi.net)",
            "external-doc-url": "https://useapi.net/docs/api-mureka-v1",
            "tags": ["software"],
        }
    ],
    "hooks": [{"integration-name": "Mureka (useapi.net)", "python-modules": [f"{PACKAGE}.hooks.mureka"]}],
    "operators": [{"integration-name": "Mureka (useapi.net)", "python-modules": [f"{PACKAGE}.operators.mureka"]}],
    "sensors": [{"integration-name": "Mureka (useapi.net)", "python-modules": [f"{PACKAGE}.sensors.mureka"]}],
    "triggers": [{"integration-name": "Mureka (useapi.net)", "python-modules": [f"{PACKAGE}.triggers.mureka"]}],
    "connection-types": [
        {
            "hook-class-name": f"{PACKAGE}.hooks.mureka.MurekaHook",
            "hook-name": "Mureka (useapi.net)",
            "connection-type": "mureka",
            "conn-fields": {
                "account": {
                    "label": "Default Mureka account id",
                    "schema": {"type": ["string", "null"]},
                    "description": "Numeric Mureka account id used when a call names none, e.g. 12345678901234 "
                    "(required by useapi.net when several Mureka accounts are configured). Optional.",
                },
                "sync_timeout": {
                    "label": "Read timeout of held calls (seconds)",
                    "schema": {"type": ["number", "null"], "default": 300},
                    "description": "A generation with async false holds the answer 30-90 s, e.g. 300; such a call "
                    "may take this plus 'request_timeout'. Optional.",
                },
                "price_per_song": {
                    "label": "Gold per song (budget estimate)",
                    "schema": {"type": ["number", "null"], "default": None},
                    "description": "What the budget guard (max_cost) expects one song to cost, in Mureka Gold (a "
                    "generation gives two songs); empty: the documented prices (12 Gold per song on V9.5/V9). "
                    "Optional.",
                },
            },
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "login"],
                "relabeling": {"host": "Base URL", "password": "useapi.net API token"},
                "placeholders": {
                    "host": "https://api.useapi.net/v1/mureka/",
                    "password": "user:1234-abcdefgh (useapi.net token)",
                    "account": "optional: 12345678901234",
                    "sync_timeout": "300",
                },
            },
        }
    ],
    "extra-links": [f"{PACKAGE}.operators.mureka.MurekaSongLink"],
}

#: Connection extras read by the shared HTTP core for every API (see ``core.settings_from_connection``).
COMMON_CONN_FIELDS: dict[str, Any] = {
    "max_cost": {
        "label": "Budget per task (max_cost)",
        "schema": {"type": ["number", "null"], "default": None, "minimum": 0},
        "description": "Default max_cost of this connection's paid operators, in the service's unit (credits): "
                       "a submission whose estimate is higher, or above the account's remaining credits, is "
                       "refused before anything is paid. Empty: no budget guard. Optional.",
    },
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
    "retry_initial_wait": {
        "label": "First retry wait (seconds)",
        "schema": {"type": ["number", "null"], "default": 1},
        "description": "Wait before the first retry; doubles per attempt (plus jitter), e.g. 1.",
    },
    "retry_max_wait": {
        "label": "Longest retry wait (seconds)",
        "schema": {"type": ["number", "null"], "default": 30},
        "description": "Cap of the exponential backoff between attempts, e.g. 30.",
    },
    "request_timeout": {
        "label": "Total seconds per JSON request",
        "schema": {"type": ["number", "null"], "default": 30},
        "description": "Deadline of one JSON request, retries included, e.g. 30 (a poll in a wait: at most "
                       "max(poll interval, 15 s); a held call: its hold time plus this).",
    },
    "transfer_timeout": {
        "label": "Total seconds per upload/download (optional cap)",
        "schema": {"type": ["number", "null"], "default": None},
        "description": "Optional cap on one upload or download, retries included; empty: none (the minimum "
                       "rate below bounds transfers).",
    },
    "min_transfer_rate": {
        "label": "Minimum upload/download rate (KiB/s)",
        "schema": {"type": ["number", "null"], "default": 32},
        "description": "An upload or download slower than this over the transfer window is cut, e.g. 32.",
    },
    "transfer_window": {
        "label": "Transfer window (seconds)",
        "schema": {"type": ["number", "null"], "default": 60},
        "description": "Window of the minimum rate: how long a transfer may lag or stall, e.g. 60.",
    },
    "max_response_bytes": {
        "label": "Largest JSON answer (bytes)",
        "schema": {"type": ["integer", "null"], "default": 33554432, "minimum": 1},
        "description": "Decoded size limit of a JSON answer, e.g. 33554432 (32 MiB).",
    },
    "max_download_bytes": {
        "label": "Largest unsized download (bytes)",
        "schema": {"type": ["integer", "null"], "default": 8589934592, "minimum": 1},
        "description": "Limit of a download whose size the server does not announce, e.g. 8589934592 (8 GiB).",
    },
}

_LIST_KEYS = ("integrations", "hooks", "operators", "sensors", "triggers", "connection-types", "extra-links")


def get_provider_info() -> dict[str, Any]:
    """The provider's metadata for Airflow (``apache_airflow_provider`` entry point): package, hooks,
    operators, sensors, triggers, connection types with their form fields, extra links and config."""
    info: dict[str, Any] = {
        "package-name": "airflow-provider-music",
        "name": "Music AI (FlowMusic, Mureka, Riffusion, ACRCloud, AudioShake)",
        "description": "Hooks, operators, sensors and deferrable triggers for FlowMusic, Mureka and Riffusion "
        "(useapi.net), ACRCloud and AudioShake, with an offline emulator of the five APIs.",
    }
    for block in (_RIFFUSION, _ACRCLOUD, _AUDIOSHAKE, _FLOWMUSIC, _MUREKA):
        for key in _LIST_KEYS:
            if block.get(key):
                info.setdefault(key, []).extend(block[key])
    info["connection-types"] = [
        {**conn, "conn-fields": {**conn.get("conn-fields", {}), **COMMON_CONN_FIELDS}}
        for conn in info.get("connection-types", [])
    ]
    return info
