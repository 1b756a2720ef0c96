"""The shared HTTP core used by every hook of this provider, split by concern.

The HTTP core (one policy, two thin drivers; the walk of one GET is in docs/architecture.md):

* :mod:`.http` - the policy, sans I/O: builds each hop (URL in wire form, headers, credentials only to
  their origin, timeouts), follows redirects, maps error answers and transport failures, decodes JSON,
  never retries a create that may have been processed.
* :mod:`.transport` - the sync driver (``requests``): keep-alive session, one attempt of a call.
* :mod:`.aio` - the async driver (``aiohttp``): one shared session per loop and origin, one attempt.
* :mod:`.retry` - :class:`RetryPolicy`: when to retry (``Retry-After``, backoff, the deadline); the first
  attempt runs with no retrier, ``tenacity`` takes over after a retryable failure.
* :mod:`.deadline` - the bound of each call by its kind (JSON, held, transfer rate), ``deadline_scope`` for
  outer deadlines and a wait's poll interval, the sync watchdog.
* :mod:`.bodies` - bounded reads of answers (decoded bytes counted) and the streamed multipart body;
  :mod:`.download` - bounded, atomic downloads.
* :mod:`.errors` - the error hierarchy, the mapping of HTTP error answers onto it, the lost-answer rule.
* :mod:`.parsing` - strict JSON, ``expect_dict``/``expect_list``, ``parsing(call)`` guard for parsers,
  :class:`PollResult` and the unknown-state rule.
* :mod:`.redaction` - scrubbing secrets out of server text and of the HTTP libraries' log records.

Around it:

* :mod:`.settings` - reading a connection into typed :class:`ApiSettings`; one lookup shared by triggers.
* :mod:`.files` - upload sources, the one str/URL -> ``ObjectStoragePath`` rule, safe names, atomic writes;
  :mod:`.content` - the content check of every upload.
* :mod:`.poller` - shared polls in the triggerer: waits on one API and connection share requests.
* :mod:`.validation` - argument validators shared by every slice.

The base hook :class:`MusicApiHook` lives in :mod:`airflow_provider_music.hooks.base`; it is re-exported
here lazily (``from airflow_provider_music.core import MusicApiHook`` keeps working). New code imports
from the submodules: ``from airflow_provider_music.core.errors import InvalidInputError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_music.core.aio import _ASYNC_SESSIONS, shared_client_session
from airflow_provider_music.core.bodies import UPLOAD_BLOCK, DeadlineExceededError, MultipartBody
from airflow_provider_music.core.content import check_audio_content, check_upload_content, sniff_container
from airflow_provider_music.core.deadline import deadline_scope, request_deadline, scope_deadline
from airflow_provider_music.core.errors import (
    ApiConnectionError,
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    JobFailedError,
    JobTimeoutError,
    LocalFileError,
    MusicApiError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
    WatchedJobFailedError,
    error_from_response,
    origin,
    parse_retry_after,
    path_of,
    redact_url,
)
from airflow_provider_music.core.files import (
    Source,
    UploadSource,
    atomic_write,
    distinct_file_name,
    ensure_writable_destination,
    output_location,
    resolve_source,
    safe_file_name,
    to_storage_path,
)
from airflow_provider_music.core.http import ERROR_BODY_LIMIT, IDEMPOTENT_METHODS, clean_params
from airflow_provider_music.core.parsing import (
    PollResult,
    PollState,
    expect_dict,
    expect_list,
    expect_str,
    loads_strict,
    parsing,
)
from airflow_provider_music.core.redaction import describe_body, redact, register_secret
from airflow_provider_music.core.retry import RetryPolicy
from airflow_provider_music.core.settings import (
    ApiSettings,
    build_base_url,
    extras_get,
    settings_from_connection,
)
from airflow_provider_music.core.transport import DOWNLOAD_CHUNK

if TYPE_CHECKING:
    from airflow_provider_music.hooks.base import MusicApiHook

log = logging.getLogger(__name__)

#: THE test seam of every wait: the retry policy (and the sync wait loops) look these up at each sleep;
#: tests patch ``airflow_provider_music.core._sleep`` / ``_async_sleep`` to make retries instant.
_sleep: Callable[[float], None] = time.sleep
_async_sleep: Callable[[float], Any] = asyncio.sleep

__all__ = [
    "DeadlineExceededError", "check_upload_content", "sniff_container", "deadline_scope", "request_deadline",
    "scope_deadline", "output_location", "distinct_file_name", "expect_dict", "expect_list", "expect_str",
    "loads_strict", "parsing", "describe_body", "register_secret", "DOWNLOAD_CHUNK", "ERROR_BODY_LIMIT", "IDEMPOTENT_METHODS", "UPLOAD_BLOCK",
    "ApiConnectionError", "ApiSettings", "AuthenticationError", "ClientRequestError", "ConfigurationError",
    "InvalidInputError", "InvalidResponseError", "JobFailedError", "JobTimeoutError", "LocalFileError",
    "MultipartBody", "MusicApiError", "MusicApiHook", "NotFoundError", "PollResult", "PollState",
    "RateLimitError", "RetryPolicy", "ServerError", "Source", "UploadSource", "ValidationError",
    "WatchedJobFailedError", "_ASYNC_SESSIONS", "atomic_write", "build_base_url", "check_audio_content",
    "clean_params", "ensure_writable_destination", "error_from_response", "extras_get", "origin",
    "parse_retry_after", "path_of", "redact", "redact_url", "resolve_source", "safe_file_name",
    "settings_from_connection", "shared_client_session", "to_storage_path", ]  # fmt: skip


def __getattr__(name: str) -> Any:
    """``MusicApiHook`` is imported lazily: ``hooks.base`` itself imports this package."""
    if name == "MusicApiHook":
        from airflow_provider_music.hooks.base import MusicApiHook

        return MusicApiHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
