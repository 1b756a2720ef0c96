"""The sync HTTP transport: the keep-alive session, one attempt of a request, JSON decoding.

``requests`` is imported inside functions so that importing operators (every DAG file does) stays cheap.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_music.core.bodies import (
    DOWNLOAD_ACCEPT_ENCODING,
    JSON_ACCEPT_ENCODING,
    CappedBuffer,
    deadline_error,
    read_sync,
)
from airflow_provider_music.core.deadline import RequestWatch, attach_connection, seconds_left
from airflow_provider_music.core.errors import (
    ApiConnectionError,
    InvalidResponseError,
    MusicApiError,
    path_of,
    redact_url,
)
from airflow_provider_music.core.logscrub import install_log_scrubber
from airflow_provider_music.core.multipart import UPLOAD_BLOCK
from airflow_provider_music.core.parsing import invalid_response, loads_strict
from airflow_provider_music.core.redaction import redact
from airflow_provider_music.core.redirects import (
    CREDENTIAL_HEADERS,
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    Hop,
    next_hop,
)

if TYPE_CHECKING:
    import requests

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ERROR_BODY_LIMIT = 64 * 1024
DOWNLOAD_CHUNK = 1024 * 1024

# urllib3 logs request URLs (signed queries included) at DEBUG: scrub its records from the start
install_log_scrubber()

BodyFactory = Callable[[], contextlib.AbstractContextManager[tuple[Any, Mapping[str, str]]]]


def transport_error(exc: BaseException, method: str, url: str, *, connect_phase: bool) -> ApiConnectionError:
    """An :class:`ApiConnectionError` naming the method and the query-less URL (never the exception text)."""
    kind = type(exc).__name__
    return ApiConnectionError(
        f"{method} {path_of(url)} failed: {kind} talking to {redact_url(url)}",
        method=method,
        path=path_of(url),
        request_may_have_been_processed=not connect_phase,
    )


def guard(err: MusicApiError, idempotent: bool) -> MusicApiError:
    """A non-idempotent request (a create) that may have reached the server is never retried blindly."""
    if not idempotent and err.request_may_have_been_processed:
        err.retryable = False
    return err


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

        class _WatchedHTTPSConnection(HTTPSConnection):
            def request(self, *args: Any, **kwargs: Any) -> None:
                attach_connection(self)
                super().request(*args, **kwargs)

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


def decode_json(method: str, url: str, content: bytes) -> Any:
    """Decode a 2xx JSON body strictly (an empty body gives ``None``): malformed, non-finite, too deep or
    non-UTF-8 answers are an ``InvalidResponseError`` naming the call."""
    if not content or not content.strip():
        return None
    call = f"{method} {path_of(url)}"
    head = content[:200].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html")):
        raise invalid_response(call, f"expected JSON, got an HTML page ({len(content)} bytes)")
    return loads_strict(content, call)


def clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values and render booleans the way the APIs expect (``true``/``false``)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


@dataclass
class SyncCall:
    """One logical request as the hook describes it to the transport (the same for every attempt).

    ``credentials`` are the API's credential headers; they go only to URLs ``may_authenticate`` accepts,
    hop by hop (a redirect to another origin never carries them, nor any header named in ``secret_names``).
    """

    method: str
    url: str
    idempotent: bool
    timeout: tuple[float, float]
    headers: dict[str, str]
    deadline: float | None = None
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    may_authenticate: Callable[[str], bool] = field(default=lambda url: False, repr=False)
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    data: Any = None
    body: BodyFactory | None = None
    stream: bool = False
    max_bytes: int = 32 * 1024 * 1024
    map_error: Callable[[str, str, int, Mapping[str, str], str], MusicApiError] | None = field(default=None, repr=False)

    @property
    def secret_names(self) -> frozenset[str]:
        return CREDENTIAL_HEADERS | {name.lower() for name in self.credentials}

    def headers_for(self, url: str) -> dict[str, str]:
        """The headers of one hop: credentials only for an origin allowed to receive them."""
        if self.may_authenticate(url):
            return {**self.headers, **self.credentials}
        secret = self.secret_names
        return {k: v for k, v in self.headers.items() if k.lower() not in secret}

    def hop_timeout(self) -> tuple[float, float]:
        left = seconds_left(self.deadline)
        return (max(0.001, min(self.timeout[0], left)), max(0.001, min(self.timeout[1], left)))


def detach(err: MusicApiError) -> MusicApiError:
    """Cut ``err`` from the exceptions it replaced: a urllib3 ``MaxRetryError`` holds the full URL."""
    err.__cause__ = None
    err.__context__ = None
    err.__suppress_context__ = True
    return err


def send_once(session: requests.Session, call: SyncCall, handler: Callable[[requests.Response], Any] | None) -> Any:
    """One attempt: follow redirects, map an error answer, read the body bounded, run ``handler`` on it.

    Every failure leaves as a provider error without a chained cause (no URL query, no token).
    """
    import requests
    import urllib3.exceptions as u3

    deadline_fired = False
    with RequestWatch(call.deadline) as watch:
        try:
            return _attempt(session, call, handler)
        except MusicApiError as err:
            failure = err
        except (requests.RequestException, u3.HTTPError) as exc:
            connect = requests_connect_phase(exc)
            failure = transport_error(exc, call.method, call.url, connect_phase=connect)
        except OSError as exc:  # urllib3 wraps socket errors: a bare OSError is the handler's own file I/O
            failure = _os_error(exc, call)
        deadline_fired = watch.fired
    path = path_of(call.url)
    if deadline_fired or (call.deadline is not None and time.time() >= call.deadline and failure.retryable):
        failure = deadline_error(call.method, path)
    raise detach(guard(failure, call.idempotent))


#: errno values that are about the local filesystem, never the network.
_LOCAL_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.EEXIST, errno.EMFILE, errno.EFBIG})


def _os_error(exc: OSError, call: SyncCall) -> MusicApiError:
    if exc.errno in _LOCAL_ERRNOS:
        from airflow_provider_music.core.files import local_file_error

        return local_file_error(exc, exc.filename or "(a local file)", "destination", "write")
    return transport_error(exc, call.method, call.url, connect_phase=False)


def _attempt(session: requests.Session, call: SyncCall, handler: Callable[[requests.Response], Any] | None) -> Any:
    hop = Hop(call.method, call.url, resend_body=True)
    for _ in range(MAX_REDIRECTS + 1):
        with contextlib.ExitStack() as stack:
            resp = _send_hop(session, call, hop, stack)
        with contextlib.closing(resp):
            location = resp.headers.get("Location")
            if resp.status_code in REDIRECT_STATUSES and location:
                hop = next_hop(hop, resp.status_code, location)
                continue
            if resp.status_code >= 400:
                raise _error_from(resp, call, hop)
            return _finish(resp, call, hop, handler)
    raise InvalidResponseError(
        f"{call.method} {path_of(call.url)}: more than {MAX_REDIRECTS} redirects (last to {redact_url(hop.url)})",
        method=call.method, path=path_of(call.url),
    )


def _send_hop(session: requests.Session, call: SyncCall, hop: Hop, stack: contextlib.ExitStack) -> requests.Response:
    hdrs = call.headers_for(hop.url)
    payload = json_body = None
    if hop.resend_body:
        payload, json_body = call.data, call.json_body
        if call.body is not None:
            payload, extra = stack.enter_context(call.body())
            hdrs.update(extra)
    else:
        hdrs = {k: v for k, v in hdrs.items() if k.lower() not in ("content-type", "content-length")}
    hdrs.setdefault("Accept-Encoding", DOWNLOAD_ACCEPT_ENCODING if call.stream else JSON_ACCEPT_ENCODING)
    return session.request(
        hop.method, hop.url, params=call.params if hop.url == call.url else None, json=json_body, data=payload,
        headers=hdrs, timeout=call.hop_timeout(), stream=True, allow_redirects=False,
    )


def _error_from(resp: requests.Response, call: SyncCall, hop: Hop) -> MusicApiError:
    from airflow_provider_music.core.errors import error_from_response

    buffer = CappedBuffer(ERROR_BODY_LIMIT, method=call.method, path=path_of(hop.url), truncate=True)
    text = ""
    with contextlib.suppress(Exception):  # an unreadable error body still gives the status's error
        text = read_sync(resp.raw, resp.headers.get("Content-Encoding"), buffer, call.deadline).decode("utf-8", "replace")
    mapper = call.map_error or error_from_response
    return mapper(call.method, hop.url, resp.status_code, resp.headers, redact(text))


def _finish(resp: requests.Response, call: SyncCall, hop: Hop, handler: Callable[[requests.Response], Any] | None) -> Any:
    """A 2xx answer: streamed to ``handler`` as is (downloads), else read bounded first."""
    if not call.stream:
        buffer = CappedBuffer(call.max_bytes, method=call.method, path=path_of(hop.url))
        resp._content = read_sync(resp.raw, resp.headers.get("Content-Encoding"), buffer, call.deadline)
        resp._content_consumed = True  # type: ignore[attr-defined]
    return resp if handler is None else handler(resp)
