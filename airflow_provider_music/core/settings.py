"""Reading an Airflow connection into typed :class:`ApiSettings` (base URL, token, timeouts, retries)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_music.core.errors import ConfigurationError
from airflow_provider_music.core.redaction import register_secret
from airflow_provider_music.core.retry import RetryPolicy

DEFAULT_REQUEST_TIMEOUT = 300.0
DEFAULT_TRANSFER_TIMEOUT = 3600.0
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_DOWNLOAD_BYTES = 8 * 1024 * 1024 * 1024

#: Extras holding credentials besides the password (scrubbed from errors like the token).
_SECRET_EXTRA = re.compile(r"secret|passw|token|api_?key|access_?key|private_?key|passphrase|cookie|credential",
                           re.IGNORECASE)

#: Extras read here that are another spelling of a standard connection field, which the form shows (labelled)
#: instead: ``base_url`` / ``scheme`` of the host (Base URL), ``api_key`` / ``token`` of the password.
#: Every other extra a hook reads has its own labelled field in ``get_provider_info`` (tests/ui check it).
FIELD_ALIASES: Mapping[str, str] = {"base_url": "host", "scheme": "host", "api_key": "password", "token": "password"}


def _coerce_float(name: str, value: Any, default: float, *, minimum: float = 0.0) -> float:
    if value is None or value == "":
        return default
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"Connection extra {name!r} must be a number, got {value!r}") from None
    if not math.isfinite(result):
        raise ConfigurationError(f"Connection extra {name!r} must be a finite number, got {value!r}")
    if result < minimum:
        raise ConfigurationError(f"Connection extra {name!r} must be >= {minimum}, got {value!r}")
    return result


def _coerce_int(name: str, value: Any, default: int, *, minimum: int = 0) -> int:
    return int(_coerce_float(name, value, default, minimum=minimum))


@dataclass(frozen=True)
class ApiSettings:
    """Everything a hook needs from its connection. The token is excluded from ``repr``."""

    conn_id: str
    base_url: str
    token: str = field(repr=False)
    #: The connection's type as Airflow gives it (``None`` when the connection sets none).
    conn_type: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Total seconds one logical JSON request may take, retries included (extra ``request_timeout``).
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: Total seconds one upload or download may take, retries included (extra ``transfer_timeout``).
    transfer_timeout: float = DEFAULT_TRANSFER_TIMEOUT
    #: Largest decoded JSON answer read (extra ``max_response_bytes``); error bodies are cut at 64 KiB.
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: Largest download written when the server announces no size (extra ``max_download_bytes``).
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES

    def extra(self, name: str, default: Any = None) -> Any:
        return extras_get(self.extras, name, default)


def extras_get(extras: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """Read an extra in its plain or legacy ``extra__<type>__<name>`` form."""
    if name in extras and extras[name] not in (None, ""):
        return extras[name]
    for key, value in extras.items():
        if key.startswith("extra__") and key.endswith(f"__{name}") and value not in (None, ""):
            return value
    return default


def _parse_extra(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError("Connection extra is not valid JSON") from None
    if not isinstance(value, dict):
        raise ConfigurationError("Connection extra must be a JSON object")
    return value


def build_base_url(host: str | None, port: int | None, schema: str | None, extras: Mapping[str, Any], default: str) -> str:
    """Base URL from the connection: extra ``base_url``, a full URL in host, or host[:port][/schema]."""
    explicit = extras_get(extras, "base_url")
    if explicit:
        url = str(explicit)
    elif host and "://" in host:
        url = host
        if port and not urlsplit(host).port:
            parts = urlsplit(host)
            url = urlunsplit((parts.scheme, f"{parts.hostname}:{port}", parts.path, "", ""))
    elif host:
        scheme = extras_get(extras, "scheme", "https")
        url = f"{scheme}://{host}{':' + str(port) if port else ''}/{(schema or '').lstrip('/')}"
    else:
        url = default
    if not url.endswith("/"):
        url += "/"
    return url


def settings_from_connection(conn: Any, *, conn_id: str, default_base_url: str) -> ApiSettings:
    extras = _parse_extra(getattr(conn, "extra", None))
    token = getattr(conn, "password", None) or extras_get(extras, "api_key") or extras_get(extras, "token")
    if not token:
        raise ConfigurationError(
            f"Connection {conn_id!r} has no API token: put the token in the connection's password field."
        )
    register_secret(str(token))
    for key, value in extras.items():
        if _SECRET_EXTRA.search(str(key)) and isinstance(value, str):
            register_secret(value)
    retry = RetryPolicy(
        max_attempts=_coerce_int("retry_limit", extras_get(extras, "retry_limit"), 5, minimum=1),
        initial_wait=_coerce_float("retry_initial_wait", extras_get(extras, "retry_initial_wait"), 1.0),
        max_wait=_coerce_float("retry_max_wait", extras_get(extras, "retry_max_wait"), 30.0),
        total_timeout=_coerce_float("retry_total_timeout", extras_get(extras, "retry_total_timeout"), 300.0),
    )
    return ApiSettings(
        conn_id=conn_id,
        conn_type=(str(getattr(conn, "conn_type", None) or "").strip().lower().replace("-", "_") or None),
        base_url=build_base_url(
            getattr(conn, "host", None), getattr(conn, "port", None), getattr(conn, "schema", None), extras, default_base_url
        ),
        token=str(token),
        extras=extras,
        connect_timeout=_coerce_float("connect_timeout", extras_get(extras, "connect_timeout"), 10.0, minimum=0.001),
        read_timeout=_coerce_float("timeout", extras_get(extras, "timeout"), 60.0, minimum=0.001),
        retry=retry,
        **_limits(extras),
    )


def _limits(extras: Mapping[str, Any]) -> dict[str, Any]:
    # every extra name is a literal here: tests/ui derive the list of extras the form must label from them
    return {
        "request_timeout": _coerce_float("request_timeout", extras_get(extras, "request_timeout"),
                                         DEFAULT_REQUEST_TIMEOUT, minimum=0.001),
        "transfer_timeout": _coerce_float("transfer_timeout", extras_get(extras, "transfer_timeout"),
                                          DEFAULT_TRANSFER_TIMEOUT, minimum=0.001),
        "max_response_bytes": _coerce_int("max_response_bytes", extras_get(extras, "max_response_bytes"),
                                          DEFAULT_MAX_RESPONSE_BYTES, minimum=1),
        "max_download_bytes": _coerce_int("max_download_bytes", extras_get(extras, "max_download_bytes"),
                                          DEFAULT_MAX_DOWNLOAD_BYTES, minimum=1),
    }


