"""The HTTP policy, sans I/O: what to send, what an answer means, and what a failure is.

One :class:`Call` describes a logical request the same way for the sync driver (:mod:`.transport`,
``requests``) and the async one (:mod:`.aio`, ``aiohttp``); the drivers only move bytes. The policy holds no
socket and imports neither library. It decides, hop by hop:

* **the request** - the hop's URL (:func:`wire_target`: the exact request target ``requests`` would send, built
  without re-parsing when the URL is already in wire form), its headers (credentials only to an origin
  ``may_authenticate`` accepts: a redirect to another origin never carries them, nor any header named in
  :data:`CREDENTIAL_HEADERS`), its timeouts (bounded by the deadline);
* **the answer** - a redirect is followed by the core itself (:meth:`Call.follow`; ``requests`` strips only
  ``Authorization`` across hosts and aiohttp only its own auth), an error answer is mapped onto the error
  hierarchy from a bounded error body, a 2xx JSON body is decoded strictly within ``max_bytes``;
* **the failure** - transport exceptions become :class:`ApiConnectionError` without the library's text; past
  the deadline a retryable failure becomes :class:`DeadlineExceededError`; a non-idempotent request (a
  create) whose answer may have been processed is never retried (:func:`guard`). When to retry is
  :class:`~airflow_provider_music.core.retry.RetryPolicy`'s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from airflow_provider_music.core.bodies import (
    DOWNLOAD_ACCEPT_ENCODING,
    JSON_ACCEPT_ENCODING,
    CappedBuffer,
    DeadlineExceededError,
    deadline_error,
)
from airflow_provider_music.core.deadline import TransferRule, seconds_left
from airflow_provider_music.core.errors import (
    ApiConnectionError,
    InvalidResponseError,
    MusicApiError,
    error_from_response,
    path_of,
    redact_url,
)
from airflow_provider_music.core.parsing import invalid_response, loads_strict
from airflow_provider_music.core.redaction import redact

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Error bodies are read up to this many decoded bytes (the rest is cut, never an error).
ERROR_BODY_LIMIT = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
#: Headers that carry credentials whatever the API (lower-case); a hook's ``auth_headers()`` names are added.
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token", "x-access-token",
})  # fmt: skip
ErrorMapper = Callable[[str, str, int, Mapping[str, str], str], MusicApiError]


# ---- the request target ------------------------------------------------------------------------------
#: An http(s) URL already in the form ``requests`` + urllib3 put on the wire: lower-case host, a path of
#: RFC 3986 path characters and upper-case escapes, no query, fragment or userinfo.
_WIRE_FORM = re.compile(r"https?://[a-z0-9.\-]+(?::[0-9]{1,5})?/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*")
#: What ``requests`` / urllib3 would still rewrite in such a URL: escapes of unreserved characters (unquoted)
#: and ``.`` / ``..`` segments (removed).
_REWRITTEN = re.compile(r"%(?:2[DE]|3[0-9]|[46][1-9A-F]|[57][0-9A]|5F|7E)|/\.{1,2}(?:/|$)")
_SCALAR_PARAM = (str, int, float)


def encode_params(params: Mapping[str, Any]) -> str | None:
    """``params`` as ``requests`` encodes them (``None`` dropped, lists repeated, UTF-8, ``quote_plus``);
    ``None`` when a value is of a kind whose encoding is left to ``requests`` itself."""
    pairs: list[tuple[str, Any]] = []
    for key, value in params.items():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            if item is None:
                continue
            if not isinstance(item, _SCALAR_PARAM) or not isinstance(key, str):
                return None
            pairs.append((key, item))
    return urlencode(pairs)


def wire_target(url: str, params: Mapping[str, Any] | None = None) -> str | None:
    """The URL exactly as the sync driver puts it on the wire, or ``None`` when only ``requests`` can say.

    For a URL already in wire form (every URL a hook builds from its base URL and ids encoded by
    :func:`~airflow_provider_music.core.validation.path_segment`) this is one regular-expression match: no
    URL parsing. An id placed in a path as ``job%3A1%40x`` stays so (never ``job:1@x``).
    """
    if _WIRE_FORM.fullmatch(url) is None or _REWRITTEN.search(url, url.find("/", 8)) is not None:
        return None
    if not params:
        return url
    query = encode_params(params)
    if query is None:
        return None
    return f"{url}?{query}" if query else url


def clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values and render booleans the way the APIs expect (``true``/``false``)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


# ---- hops and redirects --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hop:
    """One leg of a request: method, absolute URL, whether the request body is sent on it, and its number
    (0: the request itself; n: the n-th redirect)."""

    method: str
    url: str
    resend_body: bool = True
    number: int = 0


def next_hop(hop: Hop, status: int, location: str) -> Hop:
    """The request a redirect answer asks for (RFC 9110: 303 -> GET; 301/302 turn POST into GET)."""
    target = urljoin(hop.url, location.strip())
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidResponseError(
            f"{hop.method} {path_of(hop.url)}: redirected to an unsupported location {redact_url(target)!r}",
            method=hop.method, path=path_of(hop.url),
        )
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    if (status == 303 and hop.method != "HEAD") or (status in (301, 302) and hop.method == "POST"):
        return Hop("GET", target, resend_body=False, number=hop.number + 1)
    return Hop(hop.method, target, resend_body=hop.resend_body, number=hop.number + 1)


# ---- failures --------------------------------------------------------------------------------------------
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


def detach(err: MusicApiError) -> MusicApiError:
    """Cut ``err`` from the exceptions it replaced: a urllib3 ``MaxRetryError`` holds the full URL."""
    err.__cause__ = None
    err.__context__ = None
    err.__suppress_context__ = True
    return err


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


# ---- the call ----------------------------------------------------------------------------------------------
@dataclass
class Call:
    """One logical request as the hook describes it to a driver (the same for every attempt and hop).

    ``credentials`` are the API's credential headers; they go only to URLs ``may_authenticate`` accepts,
    hop by hop. ``body`` (sync only) is a factory of a context manager yielding ``(data, extra_headers)``
    per attempt; ``stream`` (sync only) hands the 2xx response to the handler unread (downloads).
    ``deadline`` bounds the call, retries included; ``bound`` says what set it (for the error); ``transfer``
    (sync uploads and downloads) is the minimum-throughput rule of each attempt (core/deadline.py).
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
    body: Any = None
    stream: bool = False
    max_bytes: int = 32 * 1024 * 1024
    map_error: ErrorMapper | None = field(default=None, repr=False)
    bound: str | None = None
    transfer: TransferRule | None = None

    @property
    def describe(self) -> str:
        """``"GET /v1/jobs/j1"``: how retry logs name the call (never the query string)."""
        return f"{self.method} {path_of(self.url)}"

    def first_hop(self) -> Hop:
        """The request itself, before any redirect."""
        return Hop(self.method, self.url)

    def hop_params(self, hop: Hop) -> Mapping[str, Any] | None:
        """The query parameters go with the request itself; a redirect's ``Location`` carries its own."""
        return self.params if hop.number == 0 else None

    def hop_target(self, hop: Hop) -> str | None:
        """The hop's request target in wire form (see :func:`wire_target`), or ``None``: ask ``requests``."""
        return wire_target(hop.url, self.hop_params(hop))

    def hop_headers(self, hop: Hop) -> dict[str, str]:
        """The headers of one hop: credentials only for an origin allowed to receive them; no body headers
        on a hop that sends no body; the ``Accept-Encoding`` the core decodes itself (bounded)."""
        if self.may_authenticate(hop.url):
            hdrs = {**self.headers, **self.credentials}
        else:
            secret = CREDENTIAL_HEADERS | {name.lower() for name in self.credentials}
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in secret}
        if not hop.resend_body:
            hdrs = {k: v for k, v in hdrs.items() if k.lower() not in ("content-type", "content-length")}
        hdrs["Accept-Encoding"] = DOWNLOAD_ACCEPT_ENCODING if self.stream else JSON_ACCEPT_ENCODING
        return hdrs

    def hop_timeout(self) -> tuple[float, float]:
        """(connect, read) seconds for the next hop, never past the deadline."""
        left = seconds_left(self.deadline)
        return (max(0.001, min(self.timeout[0], left)), max(0.001, min(self.timeout[1], left)))

    def follow(self, hop: Hop, status: int, headers: Mapping[str, str]) -> Hop | None:
        """The next hop when this answer is a redirect to follow, else ``None`` (the answer is final)."""
        location = headers.get("Location")
        if status not in REDIRECT_STATUSES or not location:
            return None
        if hop.number >= MAX_REDIRECTS:
            raise InvalidResponseError(
                f"{self.describe}: more than {MAX_REDIRECTS} redirects (last to {redact_url(hop.url)})",
                method=self.method, path=path_of(self.url),
            )
        return next_hop(hop, status, location)

    def error_buffer(self, hop: Hop) -> CappedBuffer:
        """Where an error answer's body goes: cut (never an error) at :data:`ERROR_BODY_LIMIT` decoded bytes."""
        return CappedBuffer(ERROR_BODY_LIMIT, method=self.method, path=path_of(hop.url), truncate=True)

    def body_buffer(self, hop: Hop) -> CappedBuffer:
        """Where a 2xx body goes: more than ``max_bytes`` decoded bytes is an error naming the call."""
        return CappedBuffer(self.max_bytes, method=self.method, path=path_of(hop.url))

    def error(self, hop: Hop, status: int, headers: Mapping[str, str], body: bytes) -> MusicApiError:
        """The error an HTTP error answer stands for (the hook's ``map_error``), its text scrubbed."""
        mapper = self.map_error or error_from_response
        return mapper(self.method, hop.url, status, headers, redact(body.decode("utf-8", "replace")))

    def decode(self, hop: Hop, body: bytes) -> Any:
        """A 2xx JSON body decoded strictly (see :func:`decode_json`)."""
        return decode_json(self.method, hop.url, body)

    def transport_failure(self, exc: BaseException, *, connect_phase: bool) -> MusicApiError:
        """A library exception as an :class:`ApiConnectionError`; ``connect_phase``: provably never sent."""
        return transport_error(exc, self.method, self.url, connect_phase=connect_phase)

    def failure(self, err: MusicApiError, *, deadline_fired: bool = False, too_slow: bool = False) -> MusicApiError:
        """What leaves an attempt: past the deadline a retryable failure is the deadline's error, a transfer cut
        below its minimum rate the rate's error (naming the settings); a create that may have been processed is
        not retryable; no chained cause (no URL query, no token)."""
        late = self.deadline is not None and time.time() >= self.deadline and err.retryable
        if deadline_fired or late:
            err = deadline_error(self.method, path_of(self.url), self.bound)
        elif too_slow and self.transfer is not None:
            err = DeadlineExceededError(f"{self.describe}: {self.transfer.describe()}", method=self.method,
                                        path=path_of(self.url))
        return detach(guard(err, self.idempotent))

