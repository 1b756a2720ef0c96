"""The async shared-session pool: one pooled ``aiohttp.ClientSession`` per event loop and origin."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_music.core.bodies import JSON_ACCEPT_ENCODING, CappedBuffer, deadline_error, read_async
from airflow_provider_music.core.deadline import seconds_left
from airflow_provider_music.core.errors import (
    InvalidResponseError,
    MusicApiError,
    error_from_response,
    origin,
    path_of,
    redact_url,
)
from airflow_provider_music.core.redaction import redact
from airflow_provider_music.core.redirects import (
    CREDENTIAL_HEADERS,
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    Hop,
    next_hop,
)
from airflow_provider_music.core.transport import (
    ERROR_BODY_LIMIT,
    decode_json,
    detach,
    guard,
    transport_error,
)

if TYPE_CHECKING:
    import aiohttp
    import yarl


@dataclass
class _SharedSession:
    session: aiohttp.ClientSession
    users: int = 0


_ASYNC_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _SharedSession]] = (
    weakref.WeakKeyDictionary()
)



@contextlib.asynccontextmanager
async def shared_client_session(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    """Lease the event loop's pooled ``aiohttp.ClientSession`` for ``base_url``'s origin.

    Every trigger in a triggerer shares one loop, so thousands of waiting jobs share one connection
    pool. The session is closed when its last user leaves.
    """
    import aiohttp

    loop = asyncio.get_running_loop()
    per_loop = _ASYNC_SESSIONS.setdefault(loop, {})
    key = origin(base_url)
    entry = per_loop.get(key)
    if entry is None or entry.session.closed:
        connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
        # bodies are decoded by core.bodies, bounded (a gzip bomb stops at the cap)
        entry = _SharedSession(session=aiohttp.ClientSession(connector=connector, auto_decompress=False))
        per_loop[key] = entry
    entry.users += 1
    try:
        yield entry.session
    finally:
        entry.users -= 1
        if entry.users <= 0 and per_loop.get(key) is entry:
            del per_loop[key]
            await entry.session.close()



@dataclass
class AsyncCall:
    """One logical async JSON request as the hook describes it (the same for every attempt).

    Credentials go only to URLs ``may_authenticate`` accepts, hop by hop, as in the sync transport.
    """

    method: str
    url: str
    idempotent: bool
    connect_timeout: float
    read_timeout: float
    headers: dict[str, str]
    deadline: float | None = None
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    may_authenticate: Callable[[str], bool] = field(default=lambda url: False, repr=False)
    params: Mapping[str, Any] = field(default_factory=dict)
    json_body: Any = None
    max_bytes: int = 32 * 1024 * 1024
    map_error: Callable[[str, str, int, Mapping[str, str], str], MusicApiError] | None = field(default=None, repr=False)

    def headers_for(self, url: str) -> dict[str, str]:
        if self.may_authenticate(url):
            return {**self.headers, **self.credentials, "Accept-Encoding": JSON_ACCEPT_ENCODING}
        secret = CREDENTIAL_HEADERS | {name.lower() for name in self.credentials}
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in secret}
        return {**hdrs, "Accept-Encoding": JSON_ACCEPT_ENCODING}


def wire_url(url: str, params: Mapping[str, Any] | None = None) -> yarl.URL:
    """The URL exactly as the sync transport puts it on the wire (``requests``' own encoding of the URL
    and of ``params``), marked as already encoded so that yarl does not re-normalise it: an id placed in a
    path as ``job%3A1%40x`` must not leave as ``job:1@x``."""
    import requests
    import yarl

    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, dict(params) if params else None)
    return yarl.URL(str(prepared.url), encoded=True)


async def asend_json(session: aiohttp.ClientSession, call: AsyncCall) -> Any:
    """One attempt of an async JSON request within the call's deadline: follow redirects (credentials
    only to allowed origins), map an error answer, read and decode a 2xx body bounded."""
    import aiohttp

    left = seconds_left(call.deadline)
    try:
        async with asyncio.timeout(None if left == float("inf") else left):
            return await _attempt(session, call)
    except MusicApiError as err:
        failure = err
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        connect = isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))
        failure = transport_error(exc, call.method, call.url, connect_phase=connect)
    if call.deadline is not None and time.time() >= call.deadline and failure.retryable:
        failure = deadline_error(call.method, path_of(call.url))
    raise detach(guard(failure, call.idempotent))


async def _attempt(session: aiohttp.ClientSession, call: AsyncCall) -> Any:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=call.connect_timeout, sock_read=call.read_timeout)
    hop = Hop(call.method, call.url)
    for _ in range(MAX_REDIRECTS + 1):
        target = wire_url(hop.url, call.params if hop.url == call.url else None)
        async with session.request(
            hop.method, target,
            json=call.json_body if hop.resend_body else None, headers=call.headers_for(hop.url),
            timeout=timeout, allow_redirects=False,
        ) as resp:
            location = resp.headers.get("Location")
            if resp.status in REDIRECT_STATUSES and location:
                hop = next_hop(hop, resp.status, location)
                continue
            encoding = resp.headers.get("Content-Encoding")
            if resp.status >= 400:
                buffer = CappedBuffer(ERROR_BODY_LIMIT, method=call.method, path=path_of(hop.url), truncate=True)
                text = (await read_async(resp.content, encoding, buffer)).decode("utf-8", "replace")
                mapper = call.map_error or error_from_response
                raise mapper(call.method, hop.url, resp.status, dict(resp.headers), redact(text))
            buffer = CappedBuffer(call.max_bytes, method=call.method, path=path_of(hop.url))
            raw = await read_async(resp.content, encoding, buffer)
        return decode_json(call.method, hop.url, raw)
    raise InvalidResponseError(
        f"{call.method} {path_of(call.url)}: more than {MAX_REDIRECTS} redirects (last to {redact_url(hop.url)})",
        method=call.method, path=path_of(call.url),
    )
