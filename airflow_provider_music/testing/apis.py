"""THE list of APIs the emulator serves, in one place (data, no FastAPI import).

Adding an API to the emulator = one :class:`EmulatedApi` entry here plus its module with a
``register(app, state)`` function. Everything else derives from this list: the routes mounted by
:func:`~airflow_provider_music.testing.emulator.create_app`, the ``AIRFLOW_CONN_*`` lines printed at start
and by ``--print-env``, :meth:`EmulatorServer.env() <airflow_provider_music.testing.server.EmulatorServer.env>`
and the ``music_emulator`` pytest fixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOKEN = "emulator-token"


@dataclass(frozen=True)
class Credential:
    """How an API's token arrives: in ``header``, after ``scheme`` (``"Bearer"``) when one is set."""

    header: str = "Authorization"
    scheme: str | None = "Bearer"

    def token_from(self, headers: Mapping[str, str]) -> str | None:
        """The token carried by ``headers`` (any case), or ``None``."""
        value = next((v for k, v in headers.items() if k.lower() == self.header.lower()), None)
        if value is None:
            return None
        if self.scheme is None:
            return value
        prefix = f"{self.scheme} "
        return value[len(prefix) :] if value[: len(prefix)].lower() == prefix.lower() else None


BEARER = Credential()
X_API_KEY = Credential(header="x-api-key", scheme=None)


@dataclass(frozen=True)
class EmulatedApi:
    """One API of the emulator.

    :param name: short name (``riffusion``), also the emulator settings prefix (``riffusion.job_seconds``).
    :param module: module whose ``register(app, state)`` adds the routes.
    :param prefix: path the API is mounted under (what the connection's base URL points at).
    :param conn_type: Airflow connection type of the API's hook.
    :param conn_id: default connection id of the hook (``<conn_id>`` -> ``AIRFLOW_CONN_<CONN_ID>``).
    :param credentials: how the token arrives (several for an API with several auth schemes).
    :param extras: extras of the emulator connection, given the emulator's base URL.
    """

    name: str
    module: str
    prefix: str
    conn_type: str
    conn_id: str
    credentials: tuple[Credential, ...] = (BEARER,)
    extras: Callable[[str], dict[str, Any]] = field(default=lambda base_url: {}, repr=False)

    def base_url(self, emulator_url: str) -> str:
        return emulator_url.rstrip("/") + self.prefix

    def connection(self, emulator_url: str, *, token: str = DEFAULT_TOKEN, **extra: Any) -> dict[str, Any]:
        """The connection (as ``AIRFLOW_CONN_*`` JSON fields) pointing this API's hook at the emulator."""
        return {"conn_type": self.conn_type, "host": self.base_url(emulator_url), "password": token,
                "extra": {**self.extras(emulator_url), **extra}}

    @property
    def env_name(self) -> str:
        return f"AIRFLOW_CONN_{self.conn_id.upper()}"


def _acrcloud_extras(base_url: str) -> dict[str, Any]:
    return {"identify_host": base_url, "access_key": "emulator-access-key", "access_secret": "emulator-access-secret"}


APIS: tuple[EmulatedApi, ...] = (
    EmulatedApi("riffusion", "airflow_provider_music.testing.riffusion", "/v1/riffusion/", "riffusion",
                "riffusion_default"),
    EmulatedApi("acrcloud", "airflow_provider_music.testing.acrcloud", "/api/", "acrcloud", "acrcloud_default",
                extras=_acrcloud_extras),
    EmulatedApi("audioshake", "airflow_provider_music.testing.audioshake", "/", "audioshake", "audioshake_default",
                credentials=(BEARER, X_API_KEY)),  # type audioshake: the Jobs API (audioshake_tasks: Tasks)
    EmulatedApi("flowmusic", "airflow_provider_music.testing.flowmusic", "/v1/flowmusic/", "flowmusic",
                "flowmusic_default"),
    EmulatedApi("mureka", "airflow_provider_music.testing.mureka", "/v1/mureka/", "mureka", "mureka_default"),
)


def api(name: str) -> EmulatedApi:
    """The entry named ``name`` (``KeyError`` naming the known ones otherwise)."""
    for entry in APIS:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown emulated API {name!r}; known: {', '.join(a.name for a in APIS)}")


def connection_json(name: str, base_url: str, *, token: str = DEFAULT_TOKEN, extra: dict[str, Any] | None = None) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value pointing a connection of API ``name`` at the emulator at ``base_url``.

    ``extra`` replaces the API's default emulator extras (pass ``{**default_connection_extras(...), ...}``
    to add to them).
    """
    entry = api(name)
    value = entry.connection(base_url, token=token)
    value["extra"] = dict(extra or {})
    return json.dumps(value)


def default_connection_extras(name: str, base_url: str) -> dict[str, Any]:
    """Extras the API's default connection needs to work against the emulator."""
    return api(name).extras(base_url)


def env_for(base_url: str, *, token: str = DEFAULT_TOKEN) -> dict[str, str]:
    """``AIRFLOW_CONN_<CONN_ID>`` for every API, pointing at the emulator at ``base_url``."""
    return {entry.env_name: json.dumps(entry.connection(base_url, token=token)) for entry in APIS}


def export_lines(base_url: str, *, token: str = DEFAULT_TOKEN) -> list[str]:
    """Shell lines ``export AIRFLOW_CONN_...='...'`` for every API (safe for ``eval``)."""
    import shlex

    return [f"export {name}={shlex.quote(value)}" for name, value in env_for(base_url, token=token).items()]
