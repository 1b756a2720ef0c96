"""The shared HTTP core used by every hook of this provider.

One module, one job: talk to a token-authenticated JSON API safely.

* :class:`ApiSettings` - base URL, token, timeouts and retry policy read from an Airflow connection.
* The error hierarchy (:class:`MusicApiError` and subclasses) and :func:`error_from_response`.
* :class:`RetryPolicy` - one tenacity policy for sync and async calls (429, 5xx, connection errors;
  exponential backoff with jitter; ``Retry-After`` honoured; bounded in attempts and total time).
* :class:`MusicApiHook` - the base hook: ``request`` / ``request_json`` (requests, keep-alive session),
  ``arequest_json`` (aiohttp, one shared session per event loop and origin), streaming ``upload_raw`` /
  ``upload_multipart`` and an atomic, size-checked ``download``.
* :class:`PollResult` and :func:`wait_for` - the sync twin of the trigger poll loop.

Heavy optional imports (aiohttp, requests-toolbelt) happen inside the functions that need them so that
DAG files importing operators stay cheap to parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import random
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import tenacity
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseHook

if TYPE_CHECKING:
    import aiohttp
    import requests
    from airflow.providers.common.compat.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: Patched by tests to make retries instant; referenced at call time.
_sleep: Callable[[float], None] = time.sleep
_async_sleep: Callable[[float], Any] = asyncio.sleep

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ERROR_BODY_LIMIT = 64 * 1024
DOWNLOAD_CHUNK = 1024 * 1024
UPLOAD_BLOCK = 1024 * 1024


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------
class MusicApiError(AirflowException):
    """Base class of every error raised by this provider's hooks.

    ``retryable`` says whether the HTTP layer may retry the request; ``request_may_have_been_processed``
    is True when the server may have acted on a request (a create may exist even though we got an error).
    Messages name the method, the path (never the query string) and the API's own message; never the token.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        api_message: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
        request_may_have_been_processed: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.api_message = api_message
        self.details = details
        self.retry_after = retry_after
        self.request_may_have_been_processed = request_may_have_been_processed

    def __str__(self) -> str:
        return self.message


class ConfigurationError(MusicApiError, AirflowFailException):
    """The Airflow connection is missing or incomplete (for example no token)."""


class AuthenticationError(MusicApiError, AirflowFailException):
    """401/403: the token is missing, wrong, expired or lacks permission. Retrying cannot fix it."""


class ValidationError(MusicApiError, AirflowFailException):
    """400/422: the API rejected the request's parameters. ``field_errors`` maps field -> messages."""

    def __init__(self, message: str, *, field_errors: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field_errors = dict(field_errors or {})


class InvalidInputError(ValidationError, ValueError):
    """Bad input detected before any request was sent."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("request_may_have_been_processed", False)
        super().__init__(message, **kwargs)


class ClientRequestError(MusicApiError, AirflowFailException):
    """Any other 4xx answer (402, 405, 409, 413, ...): the request itself is wrong; retrying cannot fix it."""


class NotFoundError(MusicApiError):
    """404: the resource does not exist (yet)."""


class RateLimitError(MusicApiError):
    """429: too many requests. ``retry_after`` holds the server's hint in seconds, if any."""

    retryable = True


class ServerError(MusicApiError):
    """5xx: the API failed. Retried by the core; raised when retries are exhausted."""

    retryable = True


class ApiConnectionError(MusicApiError):
    """The request did not complete: connection refused/reset, timeout, truncated body."""

    retryable = True


class InvalidResponseError(MusicApiError):
    """A 2xx answer that is not what the API documents (HTML, truncated JSON, wrong size)."""

    retryable = True


class JobFailedError(MusicApiError):
    """A remote job (song, stem, fingerprint, scan) ended in a failed state."""


class WatchedJobFailedError(JobFailedError, AirflowFailException):
    """A job that a sensor only watches failed: retrying the sensor cannot change the outcome."""


class JobTimeoutError(MusicApiError):
    """A remote job did not reach a terminal state before the deadline."""


def redact_url(url: str) -> str:
    """Return ``url`` without query string, fragment or userinfo (signed links carry secrets there)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date. Returns seconds (>= 0) or None."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _api_message_from_body(text: str, content_type: str | None) -> tuple[str, Mapping[str, Any] | None, Any]:
    """Extract the API's own message (and field errors) from an error body."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            body = json.loads(stripped)
        except ValueError:
            return f"malformed JSON error body ({len(text)} bytes)", None, None
        if isinstance(body, dict):
            message: Any = None
            for key in ("error", "message", "msg", "detail", "reason"):
                value = body.get(key)
                if isinstance(value, dict):
                    value = value.get("message") or value.get("msg")
                if value:
                    message = value
                    break
            if isinstance(body.get("status"), dict) and not message:  # ACRCloud identify style
                message = body["status"].get("msg")
            errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
            if message is None:
                message = json.dumps(body)[:500]
            return str(message)[:1000], errors, body
        return json.dumps(body)[:500], None, body
    if stripped.lower().startswith(("<!doctype", "<html")) or (content_type or "").startswith("text/html"):
        return f"HTML error page ({len(text)} bytes)", None, None
    return (stripped[:500] or "empty body"), None, None


def error_from_response(
    method: str,
    url: str,
    status: int,
    headers: Mapping[str, str],
    text: str,
) -> MusicApiError:
    """Map an HTTP error answer to the provider's exception hierarchy."""
    path = _path_of(url)
    api_message, field_errors, details = _api_message_from_body(text, headers.get("Content-Type"))
    message = f"{method} {path} failed with HTTP {status}: {api_message}"
    if field_errors:
        message += f" (fields: {json.dumps(field_errors)[:500]})"
    common: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "api_message": api_message,
        "details": details,
    }
    if status in (401, 403):
        return AuthenticationError(message + " - check the API token in the connection's password", **common)
    if status in (400, 422):
        return ValidationError(message, field_errors=field_errors, **common)
    if status == 404:
        return NotFoundError(message, **common)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after is None and isinstance(details, dict) and details.get("retryAfter") is not None:
        retry_after = parse_retry_after(str(details["retryAfter"]))
    if status == 429:
        return RateLimitError(
            message, retry_after=retry_after, request_may_have_been_processed=False, **common
        )
    if status >= 500:
        # 503 is answered before processing (overload / maintenance); other 5xx may have acted.
        return ServerError(
            message, retry_after=retry_after, request_may_have_been_processed=(status != 503), **common
        )
    return ClientRequestError(message, **common)


def _transport_error(exc: BaseException, method: str, url: str, *, connect_phase: bool) -> ApiConnectionError:
    kind = type(exc).__name__
    return ApiConnectionError(
        f"{method} {_path_of(url)} failed: {kind} talking to {redact_url(url)}",
        method=method,
        path=_path_of(url),
        request_may_have_been_processed=not connect_phase,
    )


def _guard(err: MusicApiError, idempotent: bool) -> MusicApiError:
    """A non-idempotent request (a create) that may have reached the server is never retried blindly."""
    if not idempotent and err.request_may_have_been_processed:
        err.retryable = False
    return err


def _requests_connect_phase(exc: requests.RequestException) -> bool:
    """True when the request provably never reached the server."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        import urllib3.exceptions as u3

        seen: set[int] = set()
        cur: BaseException | None = exc
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            if isinstance(cur, (u3.NewConnectionError, u3.ConnectTimeoutError, ConnectionRefusedError)):
                return True
            reason = getattr(cur, "reason", None)
            if isinstance(reason, BaseException) and id(reason) not in seen:
                cur = reason
                continue
            if cur.args and isinstance(cur.args[0], BaseException):
                cur = cur.args[0]
                continue
            cur = cur.__cause__ or cur.__context__
    return False


# --------------------------------------------------------------------------------------------------
# Retry policy
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry. The same policy drives sync (requests) and async (aiohttp) calls.

    Waits grow exponentially from ``initial_wait`` up to ``max_wait`` with random jitter; a server's
    ``Retry-After`` is used instead when given (capped at ``max_retry_after``). Retrying stops after
    ``max_attempts`` attempts or when the next wait would pass ``total_timeout`` seconds since the first.
    """

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 120.0
    total_timeout: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInputError(f"retry_limit must be >= 1, got {self.max_attempts}")

    def compute_wait(self, attempt_number: int, exc: BaseException | None) -> float:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after) + random.uniform(0, min(self.jitter, 1.0))
        backoff = min(self.max_wait, self.initial_wait * (2 ** (attempt_number - 1)))
        return min(self.max_wait, backoff + random.uniform(0, self.jitter))

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.compute_wait(retry_state.attempt_number, exc)

    def tenacity_kwargs(self, describe: str, logger: logging.Logger | Any) -> dict[str, Any]:
        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
            logger.warning(
                "Retrying %s in %.1f s (attempt %d of %d failed: %s)",
                describe,
                wait,
                retry_state.attempt_number,
                self.max_attempts,
                exc,
            )

        return {
            "retry": tenacity.retry_if_exception(lambda e: isinstance(e, MusicApiError) and e.retryable),
            "wait": self._wait,
            "stop": tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.total_timeout),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def retrying(self, describe: str, logger: Any) -> tenacity.Retrying:
        return tenacity.Retrying(sleep=lambda s: _sleep(s), **self.tenacity_kwargs(describe, logger))

    def async_retrying(self, describe: str, logger: Any) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(sleep=lambda s: _async_sleep(s), **self.tenacity_kwargs(describe, logger))


# --------------------------------------------------------------------------------------------------
# Connection settings
# --------------------------------------------------------------------------------------------------
def _coerce_float(name: str, value: Any, default: float, *, minimum: float = 0.0) -> float:
    if value is None or value == "":
        return default
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"Connection extra {name!r} must be a number, got {value!r}") from None
    if result < minimum:
        raise ConfigurationError(f"Connection extra {name!r} must be >= {minimum}, got {value!r}")
    return result


def _coerce_int(name: str, value: Any, default: int, *, minimum: int = 0) -> int:
    return int(_coerce_float(name, value, default, minimum=minimum))


def coerce_bool(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ApiSettings:
    """Everything a hook needs from its connection. The token is excluded from ``repr``."""

    conn_id: str
    base_url: str
    token: str = field(repr=False)
    extras: Mapping[str, Any] = field(default_factory=dict, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

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
    retry = RetryPolicy(
        max_attempts=_coerce_int("retry_limit", extras_get(extras, "retry_limit"), 5, minimum=1),
        initial_wait=_coerce_float("retry_initial_wait", extras_get(extras, "retry_initial_wait"), 1.0),
        max_wait=_coerce_float("retry_max_wait", extras_get(extras, "retry_max_wait"), 30.0),
        total_timeout=_coerce_float("retry_total_timeout", extras_get(extras, "retry_total_timeout"), 300.0),
    )
    return ApiSettings(
        conn_id=conn_id,
        base_url=build_base_url(
            getattr(conn, "host", None), getattr(conn, "port", None), getattr(conn, "schema", None), extras, default_base_url
        ),
        token=str(token),
        extras=extras,
        connect_timeout=_coerce_float("connect_timeout", extras_get(extras, "connect_timeout"), 10.0, minimum=0.001),
        read_timeout=_coerce_float("timeout", extras_get(extras, "timeout"), 60.0, minimum=0.001),
        retry=retry,
    )


# --------------------------------------------------------------------------------------------------
# Files: upload sources and destinations
# --------------------------------------------------------------------------------------------------
Source = Any  # str | os.PathLike | ObjectStoragePath | binary file object


@dataclass
class UploadSource:
    """A validated upload source that can be (re)opened for each attempt without reading it whole."""

    name: str
    size: int | None
    _opener: Callable[[], IO[bytes]] = field(repr=False)
    reopenable: bool = True

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        fobj = self._opener()
        try:
            yield fobj
        finally:
            if self.reopenable:
                fobj.close()


def to_storage_path(value: Any, conn_id: str | None = None) -> ObjectStoragePath:
    """``str | os.PathLike | ObjectStoragePath`` -> ``ObjectStoragePath`` (a plain path means local)."""
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        return value
    text = os.fspath(value)
    if "://" not in text:
        text = "file://" + os.path.abspath(os.path.expanduser(text))
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def resolve_source(source: Source, *, argument: str = "source", allow_empty: bool = False) -> UploadSource:
    """Validate an upload source before any network call: exists, is a file, readable, not empty."""
    if source is None or source == "":
        raise InvalidInputError(f"{argument} is required: give a local path, an ObjectStoragePath or a file object")
    if isinstance(source, UploadSource):  # already resolved (e.g. bytes read once and kept in memory)
        if source.size == 0 and not allow_empty:
            raise InvalidInputError(f"{argument}: {source.name} is empty")
        return source
    if hasattr(source, "read") and not isinstance(source, (str, os.PathLike)) and not hasattr(source, "fs"):
        return _file_object_source(source, argument, allow_empty)
    if isinstance(source, (str, os.PathLike)) and "://" not in os.fspath(source):
        local = Path(os.fspath(source)).expanduser()
        if not local.exists():
            raise InvalidInputError(f"{argument}: file not found: {local}")
        if not local.is_file():
            raise InvalidInputError(f"{argument}: not a regular file: {local}")
        if not os.access(local, os.R_OK):
            raise InvalidInputError(f"{argument}: file is not readable: {local}")
        size = local.stat().st_size
        if size == 0 and not allow_empty:
            raise InvalidInputError(f"{argument}: file is empty: {local}")
        return UploadSource(name=local.name, size=size, _opener=lambda: open(local, "rb"))
    path = to_storage_path(source)
    try:
        exists = path.exists()
        is_file = exists and path.is_file()
        remote_size: int | None = int(path.stat().st_size) if is_file else None
    except PermissionError:
        raise InvalidInputError(f"{argument}: file is not readable: {path}") from None
    if not exists:
        raise InvalidInputError(f"{argument}: file not found: {path}")
    if not is_file:
        raise InvalidInputError(f"{argument}: not a regular file: {path}")
    if remote_size == 0 and not allow_empty:
        raise InvalidInputError(f"{argument}: file is empty: {path}")
    return UploadSource(name=path.name, size=remote_size, _opener=lambda: path.open("rb"))


def _file_object_source(fobj: Any, argument: str, allow_empty: bool) -> UploadSource:
    import io

    mode = getattr(fobj, "mode", "rb")
    if isinstance(fobj, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise InvalidInputError(f"{argument}: file object must be opened in binary mode ('rb')")
    name = os.path.basename(str(getattr(fobj, "name", "upload") or "upload"))
    size: int | None = None
    start = 0
    seekable = False
    try:
        seekable = bool(fobj.seekable())
    except (AttributeError, OSError):
        seekable = False
    if seekable:
        start = fobj.tell()
        fobj.seek(0, os.SEEK_END)
        size = fobj.tell() - start
        fobj.seek(start)
        if size == 0 and not allow_empty:
            raise InvalidInputError(f"{argument}: file object is empty")

    def reopen() -> IO[bytes]:
        if seekable:
            fobj.seek(start)
        return fobj

    return UploadSource(name=name, size=size, _opener=reopen, reopenable=False)


#: Extensions that promise audio, and the format named in the error when the bytes are not audio.
AUDIO_FORMAT_BY_EXTENSION = {
    "wav": "WAV", "wave": "WAV", "mp3": "MP3", "m4a": "M4A", "mp4": "MP4", "flac": "FLAC", "aif": "AIFF",
    "aiff": "AIFF", "ogg": "OGG", "oga": "OGG", "opus": "OGG",
}  # fmt: skip
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"BW64", b"ID3", b"fLaC", b"FORM", b"OggS")


def _looks_like_audio(head: bytes) -> bool:
    if b"ftyp" in head[:12]:  # MP4 / M4A / MOV
        return True
    head = head.lstrip(b"\x00")  # some encoders pad the start
    if not head or head.startswith(_AUDIO_MAGIC):  # only padding so far: cannot tell, let the API decide
        return True
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # MPEG / ADTS frame sync


def check_audio_content(upload: UploadSource, *, argument: str = "source") -> None:
    """Fail before any request when a file named like audio (``.mp3``, ``.wav``, ...) does not hold audio.

    Only the first 4 KiB are read, and only from sources that can be reopened (paths, ``ObjectStoragePath``);
    a file object is sent as is. Any known audio container is accepted whatever the extension says.
    """
    ext = upload.name.rpartition(".")[2].lower() if "." in upload.name else ""
    expected = AUDIO_FORMAT_BY_EXTENSION.get(ext)
    if expected is None or not upload.reopenable:
        return
    with upload.open() as fobj:
        head = fobj.read(4096)
    if not _looks_like_audio(head):
        preview = head[:16].decode("latin-1").encode("unicode_escape").decode("ascii")
        raise InvalidInputError(
            f"{argument}: {upload.name!r} is not {expected} audio (it starts with '{preview}'); give a real audio "
            "file (WAV, MP3, M4A/MP4, FLAC, AIFF or OGG)"
        )


def safe_file_name(name: Any, fallback: str = "file", *, max_length: int = 200) -> str:
    """Reduce a name from an API or a user to one safe path component.

    Keeps the last path segment only (``../../x.wav`` -> ``x.wav``, ``C:\\a\\b`` -> ``b``), drops NUL,
    control and reserved characters and leading dots, caps the length (keeping the extension) and falls
    back to ``fallback`` when nothing is left. The result can never escape the folder it is joined to.
    """
    text = str(name or "").replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if ch.isprintable() and ch not in '\x00:*?"<>|').strip().lstrip(".").strip()
    if not text:
        return fallback
    if len(text) > max_length:
        stem, dot, ext = text.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        text = (stem if keep else text)[: max_length - len(keep) - 1] + (f".{keep}" if keep else "")
    return text


def ensure_writable_destination(destination: Any, *, argument: str = "destination") -> ObjectStoragePath:
    """Normalise a destination folder/file and fail early when it cannot be written."""
    path = to_storage_path(destination)
    if path.protocol in ("file", "local", ""):
        local = Path(path.path)
        probe = local
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise InvalidInputError(f"{argument}: {probe} exists and is not a directory")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise InvalidInputError(f"{argument}: {local} is not writable")
    return path


@contextlib.contextmanager
def atomic_write(destination: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """Write to a temporary sibling and move it into place only when the block succeeds."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.parent / f".{destination.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        with tmp.open("wb") as fh:
            yield fh
        if destination.protocol in ("file", "local", ""):
            os.replace(tmp.path, destination.path)
        else:
            tmp.rename(destination)
    except BaseException:
        with contextlib.suppress(Exception):
            if tmp.exists():
                tmp.unlink()
        raise


# --------------------------------------------------------------------------------------------------
# Polling results (shared by operators, sensors and triggers)
# --------------------------------------------------------------------------------------------------
PollState = Literal["running", "success", "failed"]


@dataclass
class PollResult:
    """The state of one or more remote jobs at one poll. ``payload`` must stay small and JSON-primitive."""

    state: PollState
    message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state != "running"


def wait_for(
    check: Callable[[], PollResult],
    *,
    poll_interval: float,
    timeout: float | None,
    describe: str,
    logger: Any = log,
) -> PollResult:
    """Synchronously call ``check`` until it reports a terminal state or ``timeout`` seconds pass.

    Returns the terminal result (``success`` or ``failed``); raises :class:`JobTimeoutError` on timeout.
    Transient API errors are retried by the hook; exhausted retryable errors are logged and polling
    continues until the deadline, so one outage does not lose a long-running job.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            result = check()
        except MusicApiError as exc:
            if not exc.retryable:
                raise
            logger.warning("Polling %s failed, will poll again: %s", describe, exc)
        else:
            if result.done:
                return result
            logger.info("Waiting for %s: %s", describe, result.message or result.state)
        if deadline is not None and time.monotonic() >= deadline:
            raise JobTimeoutError(f"Timed out after {timeout:.0f} s waiting for {describe}")
        pause = poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - time.monotonic()))
        _sleep(pause)


# --------------------------------------------------------------------------------------------------
# Async session sharing
# --------------------------------------------------------------------------------------------------
@dataclass
class _SharedSession:
    session: aiohttp.ClientSession
    users: int = 0


_ASYNC_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _SharedSession]] = (
    weakref.WeakKeyDictionary()
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@contextlib.asynccontextmanager
async def shared_client_session(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    """Lease the event loop's pooled ``aiohttp.ClientSession`` for ``base_url``'s origin.

    Every trigger in a triggerer shares one loop, so thousands of waiting jobs share one connection
    pool. The session is closed when its last user leaves.
    """
    import aiohttp

    loop = asyncio.get_running_loop()
    per_loop = _ASYNC_SESSIONS.setdefault(loop, {})
    key = _origin(base_url)
    entry = per_loop.get(key)
    if entry is None or entry.session.closed:
        connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
        entry = _SharedSession(session=aiohttp.ClientSession(connector=connector))
        per_loop[key] = entry
    entry.users += 1
    try:
        yield entry.session
    finally:
        entry.users -= 1
        if entry.users <= 0 and per_loop.get(key) is entry:
            del per_loop[key]
            await entry.session.close()


def _large_block_adapter(**kwargs: Any) -> requests.adapters.HTTPAdapter:
    """An ``HTTPAdapter`` that sends request bodies in 1 MiB blocks instead of urllib3's 16 KiB.

    Streamed multipart bodies pay a per-read cost; with large reads a multipart upload costs about as
    little CPU as a raw one (measured: 5x less client CPU for a 512 MiB multipart upload). Built on first
    use so that importing this module (every DAG file does, through the operators) does not import
    ``requests`` (about 50 ms of DAG parse time, bench/bench_import.py).
    """
    global _LARGE_BLOCK_ADAPTER
    if _LARGE_BLOCK_ADAPTER is None:
        import requests

        class _LargeBlockAdapter(requests.adapters.HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kw: Any) -> None:
                kw.setdefault("blocksize", UPLOAD_BLOCK)
                super().init_poolmanager(*args, **kw)

        _LARGE_BLOCK_ADAPTER = _LargeBlockAdapter
    return _LARGE_BLOCK_ADAPTER(**kwargs)


_LARGE_BLOCK_ADAPTER: Any = None


class _MultipartBody:
    """A ``multipart/form-data`` body that streams its file part in large blocks.

    The text fields and the file part's headers, then the file read straight from its handle (one copy
    per block, as for a raw upload; never more than the announced size), then the closing boundary.
    ``requests_toolbelt``'s ``MultipartEncoder`` copies every block through a ``BytesIO`` and stats the
    file on each read (bench/bench_upload.py, 1 GiB: 1.4 s client CPU vs 0.4 s raw, 0.73-0.87x ``curl -F``)
    and cannot send a file of unknown size.
    """

    def __init__(
        self, fields: Mapping[str, str], file_field: str, filename: str, fobj: IO[bytes], size: int | None,
        content_type: str,
    ) -> None:
        import io

        from urllib3.fields import RequestField

        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = bytearray()
        for name, value in fields.items():
            text = RequestField(name=name, data=value)
            text.make_multipart()
            head += f"--{boundary}\r\n{text.render_headers()}".encode() + value.encode() + b"\r\n"
        part = RequestField(name=file_field, data=b"", filename=filename)
        part.make_multipart(content_type=content_type)
        head += f"--{boundary}\r\n{part.render_headers()}".encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        #: ``None`` when the file's size is unknown (a pipe): then sent chunked, as ``iter(body)``
        self.len = None if size is None else len(head) + size + len(tail)
        self._file_left = size
        self._pieces: list[Any] = [io.BytesIO(bytes(head)), fobj, io.BytesIO(tail)]

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(UPLOAD_BLOCK), b"")

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(UPLOAD_BLOCK), b""))
        while self._pieces:
            piece = self._pieces[0]
            if len(self._pieces) == 2:  # the file: never more than the announced size
                if self._file_left is None:
                    chunk = piece.read(size)
                else:
                    chunk = piece.read(min(size, self._file_left)) if self._file_left else b""
                    self._file_left -= len(chunk)
            else:
                chunk = piece.read(size)
            if chunk:
                return chunk
            self._pieces.pop(0)
        return b""


# --------------------------------------------------------------------------------------------------
# The base hook
# --------------------------------------------------------------------------------------------------
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

    def __init__(self, conn_id: str | None = None, *, retry_policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        self._retry_override = retry_policy
        self._settings: ApiSettings | None = None
        self._session: requests.Session | None = None

    # ---- connection -------------------------------------------------------------------------
    def _make_settings(self, conn: Any) -> ApiSettings:
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

    async def aget_settings(self) -> ApiSettings:
        """Settings resolved without blocking the event loop (for triggers)."""
        if self._settings is None:
            from airflow.providers.common.compat.connection import get_async_connection
            from airflow.providers.common.compat.sdk import AirflowNotFoundException

            try:
                conn = await get_async_connection(self.conn_id, hook=self)
            except AirflowNotFoundException:
                raise ConfigurationError(f"Connection {self.conn_id!r} is not defined") from None
            self._settings = self._make_settings(conn)
        return self._settings

    def get_conn(self) -> requests.Session:
        """The hook's keep-alive ``requests.Session`` (created on first use)."""
        if self._session is None:
            import requests

            session = requests.Session()
            adapter = _large_block_adapter(pool_connections=4, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # ---- connection form ----------------------------------------------------------------------
    @classmethod
    def connection_type_info(cls) -> dict[str, Any]:
        """This hook's ``connection-types`` entry of ``get_provider_info()`` (the form's one source)."""
        from airflow_provider_music.get_provider_info import get_provider_info

        for entry in get_provider_info().get("connection-types", []):
            if entry["connection-type"] == cls.conn_type:
                return entry
        return {}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Connection form for Airflow 3.0/3.1, built from ``conn-fields`` (3.2+ reads those directly)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, PasswordField, StringField

        widgets: dict[str, Any] = {}
        for name, spec in cls.connection_type_info().get("conn-fields", {}).items():
            schema = spec.get("schema", {})
            kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
            label = lazy_gettext(spec.get("label", name))
            if schema.get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget())
            elif "boolean" in kinds:
                widgets[name] = BooleanField(label)
            elif "integer" in kinds:
                widgets[name] = IntegerField(label, widget=BS3TextFieldWidget())
            else:
                widgets[name] = StringField(label, widget=BS3TextFieldWidget())
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields, from ``ui-field-behaviour`` in provider info."""
        behaviour = cls.connection_type_info().get("ui-field-behaviour", {})
        return {
            "hidden_fields": list(behaviour.get("hidden-fields", [])),
            "relabeling": dict(behaviour.get("relabeling", {})),
            "placeholders": dict(behaviour.get("placeholders", {})),
        }

    def auth_headers(self, settings: ApiSettings) -> dict[str, str]:
        return {"Authorization": f"Bearer {settings.token}"}

    def map_error(self, method: str, url: str, status: int, headers: Mapping[str, str], text: str) -> MusicApiError:
        """Turn an HTTP error answer into an exception. Subclasses add API-specific cases."""
        return error_from_response(method, url, status, headers, text)

    def url_for(self, path: str, settings: ApiSettings | None = None) -> str:
        if "://" in path:
            return path
        base = (settings or self.settings).base_url
        return base.rstrip("/") + "/" + path.lstrip("/")

    def _same_origin(self, url: str, settings: ApiSettings) -> bool:
        return _origin(url) == _origin(settings.base_url)

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
        body: Callable[[], contextlib.AbstractContextManager[tuple[Any, Mapping[str, str]]]] | None = None,
        idempotent: bool | None = None,
        stream: bool = False,
        handler: Callable[[requests.Response], Any] | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        """Send one logical request with the retry policy.

        ``body`` is a factory of a context manager yielding ``(data, extra_headers)`` per attempt, so
        streamed files are reopened for each try. ``handler`` runs inside the retry loop on the 2xx
        response (parse JSON, stream a download); its :class:`MusicApiError` are retried like HTTP ones.
        Returns the handler's result, or the response when no handler is given.
        """
        import requests

        settings = self.settings
        method = method.upper()
        url = self.url_for(path, settings)
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        session = self.get_conn()
        send_auth = self._same_origin(url, settings)
        describe = f"{method} {_path_of(url)}"

        def attempt() -> Any:
            hdrs = {"Accept": "application/json"}
            if send_auth:
                hdrs.update(self.auth_headers(settings))
            hdrs.update(headers or {})
            with contextlib.ExitStack() as stack:
                payload = data
                if body is not None:
                    payload, extra = stack.enter_context(body())
                    hdrs.update(extra)
                try:
                    resp = session.request(
                        method,
                        url,
                        params=params,
                        json=json_body,
                        data=payload,
                        headers=hdrs,
                        timeout=timeout or (settings.connect_timeout, settings.read_timeout),
                        stream=stream or handler is not None,
                    )
                except requests.RequestException as exc:
                    connect = _requests_connect_phase(exc)
                    raise _guard(_transport_error(exc, method, url, connect_phase=connect), idempotent) from exc
            with contextlib.closing(resp):
                if resp.status_code >= 400:
                    text = resp.raw.read(ERROR_BODY_LIMIT, decode_content=True) if resp.raw else b""
                    raise _guard(
                        self.map_error(
                            method, url, resp.status_code, resp.headers,
                            _scrub(text.decode("utf-8", "replace"), settings.token),
                        ),
                        idempotent,
                    )
                if handler is None:
                    resp.content  # noqa: B018 - read the body before the connection returns to the pool
                    return resp
                try:
                    return handler(resp)
                except MusicApiError as err:
                    raise _guard(err, idempotent) from None
                except (requests.RequestException, OSError) as exc:
                    if isinstance(exc, (PermissionError, FileNotFoundError)):
                        raise
                    raise _guard(_transport_error(exc, method, url, connect_phase=False), idempotent) from exc

        for try_ in settings.retry.retrying(describe, self.log):
            with try_:
                return attempt()
        raise AssertionError("unreachable")  # pragma: no cover

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and decode the JSON body (an empty body gives ``None``)."""
        method_u = method.upper()
        return self.request(method, path, handler=lambda resp: _decode_json(method_u, resp.url, resp.content), **kwargs)

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
        from requests_toolbelt import MultipartEncoder

        @contextlib.contextmanager
        def body() -> Iterator[tuple[Any, Mapping[str, str]]]:
            parts: dict[str, Any] = {k: str(v) for k, v in fields.items() if v is not None}
            if source is None:
                encoder = MultipartEncoder(fields=parts)
                yield encoder, {"Content-Type": encoder.content_type}
                return
            with source.open() as fobj:
                streamed = _MultipartBody(parts, file_field or "file", filename or source.name, fobj, source.size,
                                          content_type)
                if streamed.len is None:  # unknown size (a pipe): chunked transfer encoding
                    yield iter(streamed), {"Content-Type": streamed.content_type}
                else:
                    yield streamed, {"Content-Type": streamed.content_type, "Content-Length": str(streamed.len)}

        reopenable = source is None or source.reopenable
        return self.request_json(method, path, params=params, body=body, idempotent=idempotent and reopenable)

    # ---- streaming download -----------------------------------------------------------------
    def download(
        self,
        url_or_path: str,
        destination: Any,
        *,
        params: Mapping[str, Any] | None = None,
        chunk_size: int = DOWNLOAD_CHUNK,
    ) -> ObjectStoragePath:
        """Stream a GET answer to ``destination`` (file path / ``ObjectStoragePath``) atomically.

        Bytes go to a temporary sibling; it is moved into place only when complete and, when the server
        sent ``Content-Length``, of exactly that size. The token is only sent to the API's own origin.
        """
        dest = to_storage_path(destination)
        safe = redact_url(self.url_for(url_or_path))

        def handler(resp: requests.Response) -> ObjectStoragePath:
            expected = resp.headers.get("Content-Length")
            written = 0
            with atomic_write(dest) as fh:
                for chunk in resp.iter_content(chunk_size):
                    fh.write(chunk)
                    written += len(chunk)
                if expected is not None and "Content-Encoding" not in resp.headers and int(expected) != written:
                    raise InvalidResponseError(
                        f"GET {_path_of(safe)}: incomplete download ({written} of {expected} bytes)",
                        method="GET",
                        path=_path_of(safe),
                    )
            self.log.info("Downloaded %s (%d bytes) to %s", safe, written, dest)
            return dest

        return self.request("GET", url_or_path, params=params, handler=handler)

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
    ) -> Any:
        """Async twin of :meth:`request_json` on the shared aiohttp session, same retries and errors."""
        import aiohttp

        settings = await self.aget_settings()
        method = method.upper()
        url = self.url_for(path, settings)
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        hdrs = {"Accept": "application/json"}
        if self._same_origin(url, settings):
            hdrs.update(self.auth_headers(settings))
        hdrs.update(headers or {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
        )
        clean_params = {k: str(v) for k, v in (params or {}).items() if v is not None}

        async def attempt(session: aiohttp.ClientSession) -> Any:
            try:
                async with session.request(
                    method, url, params=clean_params, json=json_body, headers=hdrs, timeout=timeout
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    resp_headers = dict(resp.headers)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                connect = isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))
                raise _guard(_transport_error(exc, method, url, connect_phase=connect), idempotent) from exc
            if status >= 400:
                text = raw[:ERROR_BODY_LIMIT].decode("utf-8", "replace")
                raise _guard(self.map_error(method, url, status, resp_headers, _scrub(text, settings.token)), idempotent)
            try:
                return _decode_json(method, url, raw)
            except MusicApiError as err:
                raise _guard(err, idempotent) from None

        async with shared_client_session(settings.base_url) as session:
            async for try_ in settings.retry.async_retrying(f"{method} {_path_of(url)}", self.log):
                with try_:
                    return await attempt(session)
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- connection test --------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        try:
            self.check_connection()
        except Exception as exc:  # the UI shows the message; never the token
            return False, str(exc)
        return True, f"Connection to {redact_url(self.settings.base_url)} works"

    def check_connection(self) -> None:
        """A cheap authenticated call; subclasses implement it."""
        raise NotImplementedError


def _scrub(text: str, token: str) -> str:
    """An error body with the token removed: some APIs echo the credential they rejected."""
    return text.replace(token, "***") if token and len(token) >= 4 else text


def _decode_json(method: str, url: str, content: bytes) -> Any:
    if not content or not content.strip():
        return None
    try:
        return json.loads(content)
    except ValueError:
        text = content[:200].decode("utf-8", "replace").strip()
        kind = "an HTML page" if text.lower().startswith(("<!doctype", "<html")) else "malformed JSON"
        raise InvalidResponseError(
            f"{method} {_path_of(url)}: expected JSON, got {kind} ({len(content)} bytes)",
            method=method,
            path=_path_of(url),
        ) from None


def clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values and render booleans the way the APIs expect (``true``/``false``)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out
