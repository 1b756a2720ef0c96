"""The base hook of every API of this provider: connection settings, sync and async JSON requests with
one retry policy, streaming uploads and atomic, size-checked downloads.

The HTTP work itself is done by :mod:`airflow_provider_music.core` (transport, aio, files); this class
holds what is per hook: the connection, the keep-alive session, the credential headers and error mapping.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_music.core.aio import asend_json, shared_client_session
from airflow_provider_music.core.bodies import MultipartBody
from airflow_provider_music.core.deadline import Bounds, TransferRule, call_bounds
from airflow_provider_music.core.download import DownloadLimits, write_download
from airflow_provider_music.core.errors import (
    ConfigurationError,
    MusicApiError,
    error_from_response,
    origin,
    path_of,
    redact_url,
)
from airflow_provider_music.core.files import UploadSource, to_storage_path
from airflow_provider_music.core.http import IDEMPOTENT_METHODS, Call, decode_json
from airflow_provider_music.core.parsing import parsing
from airflow_provider_music.core.redaction import redact
from airflow_provider_music.core.retry import RetryPolicy
from airflow_provider_music.core.settings import ApiSettings, settings_from_connection, shared_lookup
from airflow_provider_music.core.transport import DOWNLOAD_CHUNK, BodyFactory, new_session, send_once
from airflow_provider_music.hooks.connection_form import connection_type_info, install_connection_form

#: Connection types that name no API: refused with a message saying which type to set.
GENERIC_CONN_TYPES = frozenset({"http", "https", "generic"})

if TYPE_CHECKING:
    import aiohttp
    import requests
    from airflow.providers.common.compat.sdk import ObjectStoragePath


class MusicApiHook(BaseHook):
    """Base hook for the token-authenticated JSON APIs of this provider.

    Subclasses set ``conn_name_attr``, ``default_conn_name``, ``conn_type``, ``hook_name`` and
    ``default_base_url``, and may override :meth:`auth_headers` and :meth:`map_error`.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "music_default"
    conn_type = "music"
    hook_name = "Music API"
    default_base_url = "https://example.invalid/"
    #: Connection types this hook accepts (default: its own ``conn_type``); see :meth:`check_conn_type`.
    accepted_conn_types: tuple[str, ...] = ()


    def __init__(self, conn_id: str | None = None, *, retry_policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        self._retry_override = retry_policy
        self._settings: ApiSettings | None = None
        self._session: requests.Session | None = None

    # ---- connection -------------------------------------------------------------------------
    def _make_settings(self, conn: Any) -> ApiSettings:
        """The settings of this hook from ``conn`` (checked type first) and the constructor's overrides."""
        self.check_conn_type(conn)
        settings = settings_from_connection(conn, conn_id=self.conn_id, default_base_url=self.default_base_url)
        if self._retry_override is not None:
            settings = ApiSettings(**{**settings.__dict__, "retry": self._retry_override})
        return settings

    @property
    def settings(self) -> ApiSettings:
        """Settings from the connection (sync lookup; never call from a trigger's event loop)."""
        if self._settings is None:
            self._settings = self._make_settings(self._lookup_connection())
        return self._settings

    def _lookup_connection(self) -> Any:
        from airflow.providers.common.compat.sdk import AirflowNotFoundException

        try:
            return self.get_connection(self.conn_id)
        except AirflowNotFoundException:
            raise ConfigurationError(
                f"Connection {self.conn_id!r} is not defined: create it in the UI or set "
                f"AIRFLOW_CONN_{self.conn_id.upper()}"
            ) from None

    def check_conn_type(self, conn: Any) -> None:
        """Refuse, before any request, a connection made for another API (or a generic ``http`` one).

        An empty type (a JSON ``AIRFLOW_CONN_*`` without ``conn_type``) says nothing against this API and is
        accepted; a URI always sets one (its scheme, ``-`` read as ``_``: ``audioshake-tasks://``).
        """
        found = str(getattr(conn, "conn_type", None) or "").strip()
        accepted = self.accepted_conn_types or (self.conn_type,)
        if not found or found.lower().replace("-", "_") in accepted:
            return
        wanted = " or ".join(repr(t) for t in accepted)
        why = ("a generic HTTP connection says nothing about which API it is for"
               if found.lower() in GENERIC_CONN_TYPES else "that type belongs to another hook")
        raise ConfigurationError(
            f"{type(self).__name__} needs a connection of type {wanted}, but connection {self.conn_id!r} has "
            f"type {found!r} ({why}): pass the id of a {wanted} connection, or set the connection's type to "
            f"{accepted[0]!r} (in a URI: {accepted[0].replace('_', '-')}://...)"
        )

    async def aget_settings(self) -> ApiSettings:
        """Settings resolved without blocking the event loop (for triggers).

        Many triggers share ONE connection lookup (core/settings.py); the settings are then made by
        each hook from that connection, so every constructor override (``retry_policy``...) is honoured.
        """
        if self._settings is None:
            conn = await shared_lookup(self._connection_key(), self._alookup_connection)
            self._settings = self._make_settings(conn)
        return self._settings

    def _connection_key(self) -> tuple[Any, ...]:
        """What the connection lookup depends on: the connection id and how the class looks it up."""
        cls = type(self)  # hooks of different classes share the lookup unless one looks up differently
        methods = (cls.get_connection, getattr(cls, "aget_connection", None))
        return ("connection", self.conn_id, *(getattr(m, "__func__", m) for m in methods))

    async def _alookup_connection(self) -> Any:
        from airflow.providers.common.compat.connection import get_async_connection
        from airflow.providers.common.compat.sdk import AirflowNotFoundException

        try:
            return await get_async_connection(self.conn_id, hook=self)
        except AirflowNotFoundException:
            raise ConfigurationError(f"Connection {self.conn_id!r} is not defined") from None

    def get_conn(self) -> requests.Session:
        """The hook's keep-alive ``requests.Session`` (created on first use)."""
        if self._session is None:
            self._session = new_session()
        return self._session

    def close(self) -> None:
        """Close the keep-alive session (a new one is made on next use)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # ---- connection form (hooks/connection_form.py; one source: get_provider_info) -------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Airflow 3.0/3.1 read the form methods from each hook class's own __dict__ only
        super().__init_subclass__(**kwargs)
        install_connection_form(cls)

    @classmethod
    def connection_type_info(cls) -> dict[str, Any]:
        """This hook's ``connection-types`` entry of ``get_provider_info()`` (the form's one source)."""
        return connection_type_info(cls.conn_type)

    def auth_headers(self, settings: ApiSettings) -> dict[str, str]:
        """The credential headers of this API (every one is stripped on a redirect to another origin)."""
        return {"Authorization": f"Bearer {settings.token}"}

    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        """Turn an HTTP error answer into an exception. Subclasses add API-specific cases."""
        return error_from_response(method, url, status, headers, text)

    def url_for(self, path: str, settings: ApiSettings | None = None) -> str:
        """The absolute URL of ``path`` under the base URL (an absolute URL is returned as is)."""
        if "://" in path:
            return path
        base = (settings or self.settings).base_url
        return base.rstrip("/") + "/" + path.lstrip("/")

    def _same_origin(self, url: str, settings: ApiSettings) -> bool:
        """May ``url`` receive this API's credentials? (The API's own origin; subclasses may widen it.)"""
        return origin(url) == origin(settings.base_url)

    def _base_headers(self, headers: Mapping[str, str] | None) -> dict[str, str]:
        return {"Accept": "application/json", **(headers or {})}

    def _bounds(self, settings: ApiSettings, *, transfer: bool = False, hold: float | None = None) -> Bounds:
        """What bounds a call of this hook starting now (core/deadline.py ``call_bounds``): an upload or download
        its minimum rate (``min_transfer_rate`` KiB/s over ``transfer_window`` s; ``transfer_timeout`` caps it
        when set), a call the server holds up to ``hold`` s ``hold + request_timeout``, any other JSON call
        ``request_timeout`` (30 s; a poll inside a wait at most ``max(poll_interval, 15 s)``)."""
        rule = TransferRule(settings.min_transfer_rate * 1024, settings.transfer_window) if transfer else None
        return call_bounds(settings.request_timeout, hold=hold, transfer=rule, transfer_timeout=settings.transfer_timeout)

    def _call(
        self, settings: ApiSettings, method: str, path: str, headers: Mapping[str, str] | None,
        idempotent: bool | None, *, deadline: float | None, timeout: tuple[float, float] | None = None, **fields: Any,
    ) -> Call:
        """The policy's description of one logical request of this hook (the same for every attempt)."""
        method = method.upper()
        return Call(
            method=method, url=self.url_for(path, settings), deadline=deadline,
            idempotent=method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            timeout=timeout or (settings.connect_timeout, settings.read_timeout),
            headers=self._base_headers(headers), credentials=self.auth_headers(settings),
            may_authenticate=lambda target: self._same_origin(target, settings),
            max_bytes=settings.max_response_bytes, map_error=self.map_error, **fields,
        )

    # ---- sync requests ----------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        body: BodyFactory | None = None,
        idempotent: bool | None = None,
        stream: bool = False,
        handler: Callable[[requests.Response], Any] | None = None,
        timeout: tuple[float, float] | None = None,
        deadline: float | None = None,
        hold: float | None = None,
    ) -> Any:
        """Send one logical request with the retry policy, within one total deadline.

        ``body`` is a factory of a context manager yielding ``(data, extra_headers)`` per attempt, so
        streamed files are reopened for each try. ``handler`` runs inside the retry loop on the 2xx
        response (parse JSON, stream a download); its :class:`MusicApiError` are retried like HTTP ones.
        The body is read (bounded by ``max_response_bytes``) before ``handler`` sees it unless ``stream``.
        The call is bounded by its kind (:meth:`_bounds`): ``hold`` (seconds) marks a call the server holds
        open that long (its read timeout and total grow with it); uploads (``body``) and streams keep a
        minimum rate instead of a fixed total. The kind's deadline is capped by any
        :func:`~airflow_provider_music.core.deadline.deadline_scope`; ``deadline`` (epoch seconds) replaces it.
        Returns the handler's result, or the response when no handler is given.
        """
        settings = self.settings
        transfer = stream or body is not None
        kind = self._bounds(settings, transfer=transfer, hold=hold)
        if hold is not None and timeout is None:
            timeout = (settings.connect_timeout, max(settings.read_timeout, hold))
        own = deadline is None or transfer  # download() passes its transfer deadline: the same bound
        deadline = kind.deadline if deadline is None else deadline
        call = self._call(settings, method, path, headers, idempotent, deadline=deadline,
                          timeout=timeout, params=params, json_body=json_body, data=data, body=body, stream=stream,
                          bound=kind.bound if own else None, transfer=kind.rule)
        session = self.get_conn()
        return settings.retry.run(lambda: send_once(session, call, handler), call, self.log)

    def request_json(self, method: str, path: str, *, parse: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
        """``request`` and decode the JSON body strictly (an empty body gives ``None``).

        ``parse(body)`` (optional) interprets the answer under :class:`~airflow_provider_music.core.parsing.parsing`:
        a wrong shape (``TypeError``, ``KeyError``, ...) becomes an ``InvalidResponseError`` naming the call.
        """
        method_u = method.upper()
        body = self.request(method, path, handler=lambda resp: decode_json(method_u, resp.url, resp.content), **kwargs)
        return body if parse is None else self._parse(method_u, path, parse, body)

    def _parse(self, method: str, path: str, parse: Callable[[Any], Any], body: Any) -> Any:
        with parsing(f"{method} {path_of(self.url_for(path))}"):
            return parse(body)

    # ---- streaming uploads ------------------------------------------------------------------
    def upload_raw(
        self,
        method: str,
        path: str,
        source: UploadSource,
        *,
        content_type: str,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = False,
    ) -> Any:
        """Stream ``source`` as the raw request body and return the decoded JSON answer."""

        @contextlib.contextmanager
        def body() -> Iterator[tuple[Any, Mapping[str, str]]]:
            with source.open() as fobj:
                extra = {"Content-Type": content_type}
                if source.size is not None:
                    extra["Content-Length"] = str(source.size)
                yield fobj, extra

        return self.request_json(
            method, path, params=params, body=body, idempotent=idempotent and source.reopenable
        )

    def upload_multipart(
        self,
        method: str,
        path: str,
        *,
        fields: Mapping[str, str],
        file_field: str | None = None,
        source: UploadSource | None = None,
        filename: str | None = None,
        content_type: str = "application/octet-stream",
        params: Mapping[str, Any] | None = None,
        idempotent: bool = False,
    ) -> Any:
        """Stream a multipart/form-data body (text ``fields`` plus at most one file) without buffering it."""
        reopenable = source is None or source.reopenable
        body = multipart_body_factory(fields, file_field, source, filename, content_type)
        return self.request_json(method, path, params=params, body=body, idempotent=idempotent and reopenable)

    # ---- streaming download -----------------------------------------------------------------
    def download(
        self,
        url_or_path: str,
        destination: Any,
        *,
        params: Mapping[str, Any] | None = None,
        chunk_size: int = DOWNLOAD_CHUNK,
        expected_size: int | None = None,
        argument: str = "destination",
    ) -> ObjectStoragePath:
        """Stream a GET answer to ``destination`` (file path / ``ObjectStoragePath``) atomically.

        Bytes go to a temporary sibling, moved into place only when complete: of exactly the announced
        ``Content-Length`` (or ``expected_size``, the size the API reported), never more than
        ``max_download_bytes``, and bounded even when the server compresses against our request (see
        :mod:`airflow_provider_music.core.download`). The token only goes to the API's own origin; local
        write errors are a :class:`LocalFileError` naming ``argument``, never retried. Each attempt keeps the
        connection's minimum rate (``min_transfer_rate`` over ``transfer_window``), not a fixed total.
        """
        settings = self.settings
        dest = to_storage_path(destination, argument=argument)
        safe = redact_url(self.url_for(url_or_path, settings))
        kind = self._bounds(settings, transfer=True)
        deadline = kind.deadline
        limits = DownloadLimits(method="GET", path=path_of(safe), max_bytes=settings.max_download_bytes,
                                expected_size=expected_size, deadline=deadline, argument=argument)
        step = kind.rule.read_size(chunk_size) if kind.rule is not None else chunk_size

        def handler(resp: requests.Response) -> ObjectStoragePath:
            written = write_download(resp, dest, limits, step)
            self.log.info("Downloaded %s (%d bytes) to %s", redact(safe), written, dest)  # a token in the path too
            return dest

        return self.request("GET", url_or_path, params=params, handler=handler, stream=True, deadline=deadline)

    # ---- async requests (triggers) ----------------------------------------------------------
    @contextlib.asynccontextmanager
    async def async_session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """Hold the loop's shared session open (triggers wrap their whole run in this)."""
        settings = await self.aget_settings()
        async with shared_client_session(settings.base_url) as session:
            yield session

    async def arequest_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Async twin of :meth:`request_json` on the loop's shared aiohttp session: the same policy
        (:mod:`airflow_provider_music.core.http`), retries, errors and ``parse``."""
        settings = await self.aget_settings()
        kind = self._bounds(settings)
        call = self._call(settings, method, path, headers, idempotent, deadline=kind.deadline, bound=kind.bound,
                          params=params, json_body=json_body)
        async with shared_client_session(settings.base_url) as session:
            body = await settings.retry.arun(functools.partial(asend_json, session, call), call, self.log)
        return body if parse is None else self._parse(call.method, path, parse, body)

    # ---- connection test --------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Airflow's "Test" button: ``(ok, message)`` from :meth:`check_connection`, never the token."""
        try:
            self.check_connection()
        except Exception as exc:  # the UI shows the message; never the token
            return False, str(exc)
        return True, f"Connection to {redact_url(self.settings.base_url)} works"

    def check_connection(self) -> None:
        """A cheap authenticated call; subclasses implement it."""
        raise NotImplementedError


def multipart_body_factory(
    fields: Mapping[str, Any],
    file_field: str | None,
    source: UploadSource | None,
    filename: str | None,
    content_type: str = "application/octet-stream",
) -> BodyFactory:
    """A ``body=`` factory for :meth:`MusicApiHook.request`: a streamed multipart body, reopened per attempt."""

    @contextlib.contextmanager
    def body() -> Iterator[tuple[Any, Mapping[str, str]]]:
        parts: dict[str, str] = {k: str(v) for k, v in fields.items() if v is not None}
        with contextlib.ExitStack() as stack:
            fobj = stack.enter_context(source.open()) if source is not None else None
            size = source.size if source is not None else 0
            name = filename or (source.name if source is not None else "")
            streamed = MultipartBody(parts, (file_field or "file") if fobj else None, name, fobj, size, content_type)
            if streamed.len is None:  # unknown size (a pipe): chunked transfer encoding
                yield iter(streamed), {"Content-Type": streamed.content_type}
            else:
                yield streamed, {"Content-Type": streamed.content_type, "Content-Length": str(streamed.len)}

    return body
