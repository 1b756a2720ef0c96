"""The async driver (``aiohttp``): one pooled ``ClientSession`` per event loop and origin, and one attempt
of a JSON :class:`~.http.Call`.

It only moves bytes, as the sync driver (:mod:`.transport`) does: the policy (:mod:`.http`) builds each hop
(URL in wire form, headers, credentials), decides whether an answer is a redirect, maps errors and failures.
The whole attempt runs under ``asyncio.timeout`` until the call's deadline.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_music.core.bodies import read_async
from airflow_provider_music.core.deadline import seconds_left
from airflow_provider_music.core.errors import InvalidResponseError, MusicApiError, origin, path_of
from airflow_provider_music.core.http import Call, Hop

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



class shared_client_session:  # noqa: N801 - used as a function: `async with shared_client_session(url) as s:`
    """Lease the event loop's pooled ``aiohttp.ClientSession`` for ``base_url``'s origin.

    Every trigger in a triggerer shares one loop, so thousands of waiting jobs share one connection
    pool. The session is closed when its last user leaves. (A class, not a generator: every poll of every
    wait takes a lease.)
    """

    __slots__ = ("_base_url", "_entry", "_key", "_per_loop")

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url

    async def __aenter__(self) -> aiohttp.ClientSession:
        import aiohttp

        self._per_loop = per_loop = _ASYNC_SESSIONS.setdefault(asyncio.get_running_loop(), {})
        self._key = key = origin(self._base_url)
        entry = per_loop.get(key)
        if entry is None or entry.session.closed:
            connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
            # no decoding by default: resp.read()/json()/text() inflate without bound (aiohttp lifts its
            # per-step limit for a read of everything); asend_json decodes per request, read bounded by core.bodies
            entry = _SharedSession(session=aiohttp.ClientSession(connector=connector, auto_decompress=False))
            per_loop[key] = entry
        entry.users += 1
        self._entry = entry
        return entry.session

    async def __aexit__(self, *exc: object) -> None:
        entry = self._entry
        entry.users -= 1
        if entry.users <= 0 and self._per_loop.get(self._key) is entry:
            del self._per_loop[self._key]
            await entry.session.close()


@functools.lru_cache(maxsize=64)
def client_timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    """The (immutable) ``aiohttp.ClientTimeout`` of a hop: no total (``asend_json`` bounds the attempt)."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


def hop_url(call: Call, hop: Hop) -> yarl.URL:
    """The hop's URL for aiohttp, marked as already encoded so that yarl does not re-normalise it (an id
    placed in a path as ``job%3A1%40x`` must not leave as ``job:1@x``): the policy's wire form, or, for a
    URL only ``requests`` can put in that form (a raw redirect target), ``requests``' own encoding."""
    import yarl

    target = call.hop_target(hop)
    if target is None:
        import requests

        prepared = requests.PreparedRequest()
        params = call.hop_params(hop)
        prepared.prepare_url(hop.url, dict(params) if params else None)
        target = str(prepared.url)
    return yarl.URL(target, encoded=True)


async def asend_json(session: aiohttp.ClientSession, call: Call) -> Any:
    """One async attempt of a JSON :class:`~.http.Call` within its deadline: send each hop the policy asks
    for, read the final body bounded and hand it to the policy. Failures leave as the policy's error."""
    import aiohttp

    left = seconds_left(call.deadline)
    try:
        async with asyncio.timeout(None if left == float("inf") else left):
            return await _attempt(session, call)
    except MusicApiError as err:
        failure = err
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        connect = isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))
        failure = _undecodable(exc, call) or call.transport_failure(exc, connect_phase=connect)
    raise call.failure(failure)


def _undecodable(exc: BaseException, call: Call) -> MusicApiError | None:
    """aiohttp refuses, while reading the headers, an encoding it has no decoder for (``br``/``zstd`` without
    their modules): the same error as an encoding :func:`~.bodies.checked_encoding` refuses."""
    from aiohttp.http_exceptions import ContentEncodingError

    cause = exc.__cause__
    while cause is not None and not isinstance(cause, ContentEncodingError):
        cause = cause.__cause__
    if cause is None:
        return None
    return InvalidResponseError(f"{call.describe}: unsupported Content-Encoding (not requested)",
                                method=call.method, path=path_of(call.url))


async def _attempt(session: aiohttp.ClientSession, call: Call) -> Any:
    timeout = client_timeout(*call.timeout)
    hop = call.first_hop()
    while True:
        async with session.request(
            hop.method, hop_url(call, hop), json=call.json_body if hop.resend_body else None,
            headers=call.hop_headers(hop), timeout=timeout, allow_redirects=False, auto_decompress=True,
        ) as resp:
            following = call.follow(hop, resp.status, resp.headers)
            if following is None:
                failed = resp.status >= 400
                buffer = call.error_buffer(hop) if failed else call.body_buffer(hop)
                body = await read_async(resp.content, resp.headers.get("Content-Encoding"), buffer)
                if failed:
                    raise call.error(hop, resp.status, resp.headers, body)
                return call.decode(hop, body)
        hop = following
