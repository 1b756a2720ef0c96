"""AudioShake hook: stem separation and lyric transcription through the legacy Jobs API or the Tasks API.

One hook, one interface (:class:`~airflow_provider_music.hooks.audioshake_api.AudioShakeApi`), two
implementations chosen by the connection (:func:`api_of`):

* connection type ``audioshake`` - :class:`~airflow_provider_music.hooks.audioshake_jobs.JobsApi`, the legacy
  "Groovy" Jobs API at ``https://groovy.audioshake.ai`` with ``Authorization: Bearer <token>`` (a host of
  ``api.audioshake.ai`` selects the Tasks API instead).
* connection type ``audioshake_tasks`` (URI ``audioshake-tasks://``) -
  :class:`~airflow_provider_music.hooks.audioshake_tasks.TasksApi`, the Tasks API at
  ``https://api.audioshake.ai`` with ``x-api-key: <key>``.

The API is never chosen by an ordinary word in an extra any more: Airflow masks connection extras in task
logs, so the former extra ``api: tasks`` turned the word "tasks" into ``***`` in every log line and
``api: jobs`` logged "Skipping masking ... too short". The extra is still read (deprecated, one warning).

``hook.backend`` is the connection's implementation; ``hook.jobs`` / ``hook.tasks`` give an API's own
endpoints (and refuse when the connection uses the other API). Validators, parsers and status interpretation
live in :mod:`airflow_provider_music.contract.audioshake`; this module does I/O only.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_music.contract.audioshake import (
    APIS,
    JOBS_BASE_URL,
    TASKS_BASE_URL,
    api_from_extras,
    default_base_url,
    normalise_ids,
    validate_public_url,
)
from airflow_provider_music.core.errors import ConfigurationError, MusicApiError, error_from_response
from airflow_provider_music.core.settings import ApiSettings, build_base_url, extras_get
from airflow_provider_music.hooks.audioshake_api import AudioShakeApi
from airflow_provider_music.hooks.audioshake_jobs import JobsApi
from airflow_provider_music.hooks.audioshake_tasks import TasksApi
from airflow_provider_music.hooks.base import MusicApiHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_music.core.parsing import PollResult

IMPLEMENTATIONS: dict[str, type[AudioShakeApi]] = {"jobs": JobsApi, "tasks": TasksApi}
#: Connection type of each API (``audioshake`` is also the type of connections made before the Tasks type).
CONN_TYPES = {"jobs": "audioshake", "tasks": "audioshake_tasks"}
#: The host of the Tasks API: a connection of type ``audioshake`` pointing there uses the Tasks API.
TASKS_HOST = urlsplit(TASKS_BASE_URL).hostname
#: Extras read only for backward compatibility, deliberately without a form field (tests/ui exempt them).
LEGACY_EXTRAS = ("api",)
_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


def api_of(settings: ApiSettings) -> str:
    """``jobs`` or ``tasks`` for a connection: its type, else the deprecated extra ``api``, else its host."""
    declared = _declared_api(settings)
    if declared is not None:
        return declared
    return "tasks" if urlsplit(settings.base_url).hostname == TASKS_HOST else "jobs"


def _declared_api(settings: ApiSettings) -> str | None:
    legacy = extras_get(settings.extras, "api")
    if settings.conn_type == CONN_TYPES["tasks"]:
        if legacy is not None and api_from_extras(settings.extras) != "tasks":
            raise ConfigurationError(
                f"AudioShake connection {settings.conn_id!r} has type 'audioshake_tasks' (the Tasks API) but the "
                f"extra api={legacy!r}: remove the extra (the type chooses the API)"
            )
        return "tasks"
    return None if legacy is None else api_from_extras(settings.extras)


def _warn_legacy_extra(hook: MusicApiHook, settings: ApiSettings) -> None:
    if extras_get(settings.extras, "api") is None:
        return
    with _WARNED_LOCK:
        if settings.conn_id in _WARNED:
            return
        _WARNED.add(settings.conn_id)
    api = api_from_extras(settings.extras)
    hook.log.warning(
        "AudioShake connection %s chooses its API with the deprecated extra 'api' (Airflow masks connection "
        "extras in task logs, which hides ordinary words or warns about short values): give it the type %s "
        "and remove the extra (docs/audioshake.md, 'Migrating from the api extra')",
        settings.conn_id, CONN_TYPES[api],
    )


class AudioShakeHook(MusicApiHook):
    """Talk to AudioShake: the legacy Jobs API or the Tasks API, per the connection (:func:`api_of`).

    Connection: type ``audioshake`` (Jobs API) or ``audioshake_tasks`` (Tasks API); password = API token
    (legacy JWT or Tasks API key); optional host / extra ``base_url`` to point elsewhere (emulator, staging).

    :param audioshake_conn_id: the AudioShake connection (default ``audioshake_default``).
    """

    conn_name_attr = "audioshake_conn_id"
    default_conn_name = "audioshake_default"
    conn_type = "audioshake"
    hook_name = "AudioShake"
    default_base_url = JOBS_BASE_URL
    accepted_conn_types = (CONN_TYPES["jobs"], CONN_TYPES["tasks"])

    def __init__(self, audioshake_conn_id: str | None = None, **kwargs: Any) -> None:
        conn_id = kwargs.pop("conn_id", None) or audioshake_conn_id
        super().__init__(conn_id, **kwargs)
        self.audioshake_conn_id = self.conn_id

    # ---- connection -------------------------------------------------------------------------
    def _make_settings(self, conn: Any) -> ApiSettings:
        """The core's settings (invalid extras JSON raises there), with the API's own default base URL."""
        settings = super()._make_settings(conn)
        base_url = build_base_url(  # no host: the declared API's own (the Jobs API when nothing is declared)
            getattr(conn, "host", None), getattr(conn, "port", None), getattr(conn, "schema", None),
            settings.extras, default_base_url(_declared_api(settings) or "jobs"),
        )
        settings = dataclasses.replace(settings, base_url=base_url)
        _warn_legacy_extra(self, settings)
        return settings

    @property
    def api(self) -> str:
        """``jobs`` (legacy) or ``tasks``, from the connection."""
        return api_of(self.settings)

    @property
    def backend(self) -> AudioShakeApi:
        """The connection's API behind the common interface."""
        return self._backend_for(self.settings)

    async def abackend(self) -> AudioShakeApi:
        """:attr:`backend` resolved without blocking the event loop (triggers)."""
        return self._backend_for(await self.aget_settings())

    def _backend_for(self, settings: ApiSettings) -> AudioShakeApi:
        api = api_of(settings)
        cached = getattr(self, "_backend", None)
        if cached is None or cached.name != api:
            self._backend = cached = IMPLEMENTATIONS[api](self)
        return cached

    @property
    def jobs(self) -> JobsApi:
        """The legacy Jobs API's endpoints (the connection must use ``api=jobs``)."""
        return self._require(JobsApi)

    @property
    def tasks(self) -> TasksApi:
        """The Tasks API's endpoints (the connection must use ``api=tasks``)."""
        return self._require(TasksApi)

    def _require(self, cls: type[Any]) -> Any:
        backend = self.backend
        if not isinstance(backend, cls):
            raise ConfigurationError(
                f"AudioShakeHook.{cls.name} needs a {cls.name!r} API connection (type {CONN_TYPES[cls.name]!r}; "
                f"formerly extra api={cls.name!r}); connection {self.conn_id!r} uses the {backend.name!r} API"
            )
        return backend

    def auth_headers(self, settings: ApiSettings) -> dict[str, str]:
        """``x-api-key`` for the Tasks API, ``Authorization: Bearer`` for the legacy Jobs API."""
        if api_of(settings) == "tasks":
            return {"x-api-key": settings.token}
        return {"Authorization": f"Bearer {settings.token}"}

    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        """Fastify-style bodies ``{statusCode, error, message}``: report the message, not the reason phrase."""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str) and isinstance(body.get("error"), str):
            rest = {k: v for k, v in body.items() if k not in ("error", "message")}
            text = json.dumps({"message": f"{body['error']}: {body['message']}", **rest})
        return error_from_response(method, url, status, headers, text)

    def check_connection(self) -> None:
        """Cheap authenticated call: ``GET /usage`` (jobs) or ``GET /tasks?take=1`` (tasks)."""
        self.backend.check_connection()

    # ---- status (sync and async twins, used by the sensor and the trigger) ----------------------
    def _units(self, api: str, jobs: Any, tasks: Any) -> dict[str, str]:
        given = {"jobs": normalise_ids(jobs, argument="jobs"), "tasks": normalise_ids(tasks, argument="tasks")}
        other = APIS[1 - APIS.index(api)]
        if given[other]:
            raise ConfigurationError(
                f"AudioShake {other} ids were given but connection {self.conn_id!r} uses the {api!r} API"
            )
        return given[api]

    def separation_status(self, jobs: Any = None, tasks: Any = None, wait_all: bool = True) -> PollResult:
        """State of legacy ``jobs`` or Tasks API ``tasks`` (ids, lists or ``{label: id}`` dicts).

        With ``tasks={"vocals": "task1"}`` only the ``vocals`` target of ``task1`` counts; with plain task
        ids every target of each task counts.
        """
        backend = self.backend
        return backend.status(self._units(backend.name, jobs, tasks), wait_all=wait_all)

    async def aseparation_status(self, jobs: Any = None, tasks: Any = None, wait_all: bool = True) -> PollResult:
        """Async twin of :meth:`separation_status` (for triggers)."""
        backend = await self.abackend()
        return await backend.astatus(self._units(backend.name, jobs, tasks), wait_all=wait_all)

    # ---- files ------------------------------------------------------------------------------
    def download_asset(self, link: str, destination: Any) -> ObjectStoragePath:
        """Stream an output link (signed, possibly on another host) to ``destination`` atomically."""
        validate_public_url(link, argument="link")
        return self.download(link, destination)


class AudioShakeTasksHook(AudioShakeHook):
    """:class:`AudioShakeHook` for a connection of type ``audioshake_tasks`` (the Tasks API).

    Both classes accept both connection types (the API comes from the connection); this one exists so the
    Tasks API has its own connection type, form and ``conn.get_hook()`` in Airflow.
    """

    conn_type = CONN_TYPES["tasks"]
    hook_name = "AudioShake (Tasks API)"
    default_base_url = TASKS_BASE_URL


__all__ = ["CONN_TYPES", "IMPLEMENTATIONS", "LEGACY_EXTRAS", "AudioShakeHook", "AudioShakeTasksHook", "api_of"]
