"""Reading an Airflow connection into typed :class:`ApiSettings` (base URL, token, timeouts, retries), and one
connection lookup per process for many triggers (:func:`shared_lookup`, the last section)."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_music.core.errors import ConfigurationError
from airflow_provider_music.core.redaction import register_secret
from airflow_provider_music.core.retry import RetryPolicy

#: Total seconds of a non-held JSON call, retries included (a poll inside a wait: see core/deadline.py).
DEFAULT_REQUEST_TIMEOUT = 30.0
#: Uploads and downloads have no fixed total unless ``transfer_timeout`` is set; they keep a minimum rate
#: (KiB/s) averaged over a window (seconds) instead (core/deadline.py ``TransferRule``).
DEFAULT_TRANSFER_TIMEOUT: float | None = None
DEFAULT_MIN_TRANSFER_RATE = 32.0
DEFAULT_TRANSFER_WINDOW = 60.0
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


def _optional_float(name: str, value: Any) -> float | None:
    """A number > 0 when the extra is set, else ``None`` (no bound of its own)."""
    return None if value is None or value == "" else _coerce_float(name, value, 0.0, minimum=0.001)


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
    #: Total seconds one non-held JSON request may take, retries included (extra ``request_timeout``); a poll
    #: inside a wait at most ``max(poll_interval, 10)``; a held call ``hold + request_timeout``.
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: Optional cap on the total seconds of one upload or download, retries included (extra ``transfer_timeout``).
    transfer_timeout: float | None = DEFAULT_TRANSFER_TIMEOUT
    #: Minimum rate of an upload or download attempt, KiB/s (extra ``min_transfer_rate``) ...
    min_transfer_rate: float = DEFAULT_MIN_TRANSFER_RATE
    #: ... averaged over this many seconds (extra ``transfer_window``; also the floor of any transfer).
    transfer_window: float = DEFAULT_TRANSFER_WINDOW
    #: Largest decoded JSON answer read (extra ``max_response_bytes``); error bodies are cut at 64 KiB.
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: Largest download written when the server announces no size (extra ``max_download_bytes``).
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    #: Budget guard default of the connection's paid operators (extra ``max_cost``, in the service's cost unit:
    #: credits); an operator's ``max_cost`` argument overrides it. ``None``: no guard.
    max_cost: float | None = None

    def extra(self, name: str, default: Any = None) -> Any:
        """The connection extra ``name`` (plain or legacy ``extra__<type>__<name>`` form), or ``default``."""
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
    """The :class:`ApiSettings` of an Airflow connection: token, base URL, timeouts, retry policy and
    limits from its extras, each checked; the token and secret extras are registered for redaction."""
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
        "transfer_timeout": _optional_float("transfer_timeout", extras_get(extras, "transfer_timeout")),
        "min_transfer_rate": _coerce_float("min_transfer_rate", extras_get(extras, "min_transfer_rate"),
                                           DEFAULT_MIN_TRANSFER_RATE, minimum=0.001),
        "transfer_window": _coerce_float("transfer_window", extras_get(extras, "transfer_window"),
                                         DEFAULT_TRANSFER_WINDOW, minimum=0.001),
        "max_response_bytes": _coerce_int("max_response_bytes", extras_get(extras, "max_response_bytes"),
                                          DEFAULT_MAX_RESPONSE_BYTES, minimum=1),
        "max_download_bytes": _coerce_int("max_download_bytes", extras_get(extras, "max_download_bytes"),
                                          DEFAULT_MAX_DOWNLOAD_BYTES, minimum=1),
        "max_cost": _optional_cost(extras_get(extras, "max_cost")),
    }


def _optional_cost(value: Any) -> float | None:
    """Extra ``max_cost``: a finite number >= 0 (0 allows free work only), or ``None`` when unset."""
    return None if value is None or value == "" else _coerce_float("max_cost", value, 0.0, minimum=0.0)


# --------------------------------------------------------------------------------------------------
# One connection lookup per process for many triggers (was core/settings.py)
# --------------------------------------------------------------------------------------------------
# One connection lookup per process for many triggers: a short-lived cache of resolved settings.
#
# In a triggerer every trigger builds its own hook. Resolving the connection goes through the triggerer's
# supervisor (one request/answer round trip each, plus secret masking); a thousand triggers starting at once
# queued a thousand round trips and starved the polls (bench/README.md, "waiting at scale"). Triggers of one
# connection id therefore share one lookup: a single lookup in flight per key, its result kept for
# :data:`SETTINGS_TTL` seconds (a connection edited in the UI reaches running triggers within that time).
# Failed lookups are never cached.
#
# What is shared is the *connection*, keyed on what its lookup depends on; each hook makes its own settings
# from it (``MusicApiHook.aget_settings``), so nothing a hook's constructor overrides (``retry_policy``...)
# can leak from one hook to another: a hook asking for 4 attempts once got another hook's 1.

#: Seconds a resolved connection is reused by other triggers of the same process.
SETTINGS_TTL = 60.0

_CACHE: dict[tuple[Any, ...], tuple[float, Any]] = {}
_IN_FLIGHT: dict[tuple[Any, ...], asyncio.Future[Any]] = {}


def clear_settings_cache() -> None:
    """Forget every cached connection (tests; a process that must see an edit at once)."""
    _CACHE.clear()
    _IN_FLIGHT.clear()


async def shared_lookup(key: tuple[Any, ...], lookup: Callable[[], Awaitable[Any]]) -> Any:
    """``await lookup()`` once per ``key`` and :data:`SETTINGS_TTL`; concurrent callers share one call."""
    now = time.monotonic()
    hit = _CACHE.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    loop = asyncio.get_running_loop()
    pending = _IN_FLIGHT.get(key)
    if pending is not None and pending.get_loop() is loop and not pending.done():
        return await asyncio.shield(pending)
    future: asyncio.Future[Any] = loop.create_future()
    _IN_FLIGHT[key] = future
    try:
        value = await lookup()
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: no "exception was never retrieved" warning when nobody waited
        raise
    finally:
        if _IN_FLIGHT.get(key) is future:
            del _IN_FLIGHT[key]
    _CACHE[key] = (time.monotonic() + SETTINGS_TTL, value)
    future.set_result(value)
    return value
