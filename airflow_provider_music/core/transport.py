"""The sync driver (``requests``): the keep-alive session and one attempt of a :class:`~.http.Call`.

It only moves bytes: the policy (:mod:`.http`) says what each hop sends, whether an answer is a redirect
to follow, what an error answer means and what a failure is. What is ``requests``-specific stays here: the
large-block adapter, the urllib3 connections the deadline watchdog (:mod:`.deadline`) can shut down, and
telling a connect-phase failure (provably never sent) from one after the request left.
``requests`` is imported inside functions so that importing operators (every DAG file does) stays cheap.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_music.core.bodies import UPLOAD_BLOCK, read_sync
from airflow_provider_music.core.deadline import RequestWatch, attach_connection, progress, request_sent
from airflow_provider_music.core.errors import MusicApiError
from airflow_provider_music.core.http import Call, Hop
from airflow_provider_music.core.redaction import install_log_scrubber

if TYPE_CHECKING:
    import requests

DOWNLOAD_CHUNK = 1024 * 1024

# urllib3 logs request URLs (signed queries included) at DEBUG: scrub its records from the start
install_log_scrubber()

BodyFactory = Callable[[], contextlib.AbstractContextManager[tuple[Any, Mapping[str, str]]]]


def requests_connect_phase(exc: BaseException) -> bool:
    """True when the request provably never reached the server."""
    import requests
    import urllib3.exceptions as u3

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (u3.NewConnectionError, u3.ConnectTimeoutError, ConnectionRefusedError)):
            return True
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException) and id(reason) not in seen:
            cur = reason
        elif cur.args and isinstance(cur.args[0], BaseException):
            cur = cur.args[0]
        else:
            cur = cur.__cause__ or cur.__context__
    return False


_LARGE_BLOCK_ADAPTER: Any = None


def large_block_adapter(**kwargs: Any) -> requests.adapters.HTTPAdapter:
    """An ``HTTPAdapter`` that sends request bodies in 1 MiB blocks instead of urllib3's 16 KiB.

    Streamed multipart bodies pay a per-read cost; with large reads a multipart upload costs about as
    little CPU as a raw one (measured: 5x less client CPU for a 512 MiB multipart upload). Built on first
    use so that importing this module does not import ``requests`` (bench/bench_import.py).
    """
    global _LARGE_BLOCK_ADAPTER
    if _LARGE_BLOCK_ADAPTER is None:
        import requests

        class _LargeBlockAdapter(requests.adapters.HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kw: Any) -> None:
                kw.setdefault("blocksize", UPLOAD_BLOCK)
                super().init_poolmanager(*args, **kw)
                self.poolmanager.pool_classes_by_scheme = watched_pool_classes()

        _LARGE_BLOCK_ADAPTER = _LargeBlockAdapter
    return _LARGE_BLOCK_ADAPTER(**kwargs)


_WATCHED_POOLS: dict[str, Any] = {}


def watched_pool_classes() -> dict[str, Any]:
    """urllib3 pool classes whose connections register with the running request's deadline watch."""
    if not _WATCHED_POOLS:
        from urllib3.connection import HTTPConnection, HTTPSConnection
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        class _WatchedHTTPConnection(HTTPConnection):
            def request(self, *args: Any, **kwargs: Any) -> None:
                attach_connection(self)
                super().request(*args, **kwargs)
                request_sent()  # urllib3 returns once the whole body is out

            def send(self, data: Any) -> None:
                super().send(data)
                progress(len(data) if isinstance(data, (bytes, bytearray, memoryview)) else 0)

        class _WatchedHTTPSConnection(HTTPSConnection):
            def request(self, *args: Any, **kwargs: Any) -> None:
                attach_connection(self)
                super().request(*args, **kwargs)
                request_sent()

            def send(self, data: Any) -> None:
                super().send(data)
                progress(len(data) if isinstance(data, (bytes, bytearray, memoryview)) else 0)

        class _HTTPPool(HTTPConnectionPool):
            ConnectionCls = _WatchedHTTPConnection

        class _HTTPSPool(HTTPSConnectionPool):
            ConnectionCls = _WatchedHTTPSConnection

        _WATCHED_POOLS.update(http=_HTTPPool, https=_HTTPSPool)
    return dict(_WATCHED_POOLS)


def new_session() -> requests.Session:
    """A keep-alive ``requests.Session`` with the large-block adapter mounted for http and https."""
    import requests

    session = requests.Session()
    adapter = large_block_adapter(pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def send_once(session: requests.Session, call: Call, handler: Callable[[requests.Response], Any] | None) -> Any:
    """One attempt with ``requests``: send each hop the policy asks for, read the body bounded, run
    ``handler`` on the 2xx response. Every failure leaves as the policy's error (no chained cause)."""
    import requests
    import urllib3.exceptions as u3

    with RequestWatch(call.deadline, call.transfer) as watch:
        try:
            return _attempt(session, call, handler)
        except MusicApiError as err:
            failure = err
        except (requests.RequestException, u3.HTTPError) as exc:
            failure = call.transport_failure(exc, connect_phase=requests_connect_phase(exc))
        except OSError as exc:  # urllib3 wraps socket errors: a bare OSError is the handler's own file I/O
            failure = _os_error(exc, call)
    raise call.failure(failure, deadline_fired=watch.why == "deadline", too_slow=watch.why == "rate")


#: errno values that are about the local filesystem, never the network.
_LOCAL_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.EEXIST, errno.EMFILE, errno.EFBIG})


def _os_error(exc: OSError, call: Call) -> MusicApiError:
    if exc.errno in _LOCAL_ERRNOS:
        from airflow_provider_music.core.files import local_file_error

        return local_file_error(exc, exc.filename or "(a local file)", "destination", "write")
    return call.transport_failure(exc, connect_phase=False)


def _attempt(session: requests.Session, call: Call, handler: Callable[[requests.Response], Any] | None) -> Any:
    hop = call.first_hop()
    while True:
        with contextlib.ExitStack() as stack:
            resp = _send_hop(session, call, hop, stack)
        with contextlib.closing(resp):
            following = call.follow(hop, resp.status_code, resp.headers)
            if following is None:
                return _answer(resp, call, hop, handler)
        hop = following


def _send_hop(session: requests.Session, call: Call, hop: Hop, stack: contextlib.ExitStack) -> requests.Response:
    hdrs = call.hop_headers(hop)
    payload = json_body = None
    if hop.resend_body:
        payload, json_body = call.data, call.json_body
        if call.body is not None:
            payload, extra = stack.enter_context(call.body())
            hdrs.update(extra)
    return session.request(
        hop.method, hop.url, params=call.hop_params(hop), json=json_body, data=payload,
        headers=hdrs, timeout=call.hop_timeout(), stream=True, allow_redirects=False,
    )


def _answer(resp: requests.Response, call: Call, hop: Hop, handler: Callable[[requests.Response], Any] | None) -> Any:
    """The final answer: an error mapped from its bounded body; a 2xx streamed to ``handler`` as is
    (downloads) or read bounded first."""
    encoding = resp.headers.get("Content-Encoding")
    if resp.status_code >= 400:
        body = b""
        with contextlib.suppress(Exception):  # an unreadable error body still gives the status's error
            body = read_sync(resp.raw, encoding, call.error_buffer(hop), call.deadline)
        raise call.error(hop, resp.status_code, resp.headers, body)
    if not call.stream:
        resp._content = read_sync(resp.raw, encoding, call.body_buffer(hop), call.deadline)
        resp._content_consumed = True  # type: ignore[attr-defined]
    return resp if handler is None else handler(resp)
