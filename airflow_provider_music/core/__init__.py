"""The shared HTTP core used by every hook of this provider, split by concern.

* :mod:`.errors` - the error hierarchy and the mapping of HTTP error answers onto it.
* :mod:`.redaction` - scrubbing secrets out of server text.
* :mod:`.settings` - reading a connection into typed :class:`ApiSettings`.
* :mod:`.retry` - :class:`RetryPolicy`, one policy for sync and async calls.
* :mod:`.transport` - the sync session and one attempt of a request; :mod:`.multipart` the streamed
  multipart body; :mod:`.aio` the async shared-session pool and async attempt.
* :mod:`.files` - upload sources, the one str/URL -> ``ObjectStoragePath`` rule, safe names, atomic writes,
  the audio content check.
* :mod:`.polling` - :class:`PollResult` and :func:`wait_for`.
* :mod:`.validation` - argument validators shared by every slice.
* :mod:`.deadline` - total deadline per request, ``deadline_scope`` for outer deadlines (triggers).
* :mod:`.bodies` / :mod:`.download` - bounded reads (decoded bytes counted) and bounded, atomic downloads.
* :mod:`.redirects` - redirects followed by the core; credentials never leave their origin.
* :mod:`.parsing` - strict JSON, ``expect_dict``/``expect_list``, ``parsing(call)`` guard for parsers.
* :mod:`.content` - the content check of every upload; :mod:`.names` - safe and distinct file names.

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
from airflow_provider_music.core.bodies import DeadlineExceededError
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
    ensure_writable_destination,
    output_location,
    resolve_source,
    to_storage_path,
)
from airflow_provider_music.core.multipart import UPLOAD_BLOCK, MultipartBody
from airflow_provider_music.core.names import distinct_file_name, safe_file_name
from airflow_provider_music.core.parsing import expect_dict, expect_list, expect_str, loads_strict, parsing
from airflow_provider_music.core.polling import PollResult, PollState, wait_for
from airflow_provider_music.core.redaction import describe_body, redact, register_secret
from airflow_provider_music.core.retry import RetryPolicy
from airflow_provider_music.core.settings import (
    ApiSettings,
    build_base_url,
    extras_get,
    settings_from_connection,
)
from airflow_provider_music.core.transport import (
    DOWNLOAD_CHUNK,
    ERROR_BODY_LIMIT,
    IDEMPOTENT_METHODS,
    clean_params,
    decode_json,
)

if TYPE_CHECKING:
    from airflow_provider_music.hooks.base import MusicApiHook

log = logging.getLogger(__name__)

#: Every sleep of the retry policy and of :func:`wait_for` goes through these (looked up at call time):
#: tests patch ``airflow_provider_music.core._sleep`` / ``_async_sleep`` to make retries instant.
_sleep: Callable[[float], None] = time.sleep
_async_sleep: Callable[[float], Any] = asyncio.sleep

#: Old private names kept for tests that used them.
_MultipartBody = MultipartBody
_path_of = path_of
_origin = origin
_decode_json = decode_json

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
    "settings_from_connection", "shared_client_session", "to_storage_path", "wait_for",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    """``MusicApiHook`` is imported lazily: ``hooks.base`` itself imports this package."""
    if name == "MusicApiHook":
        from airflow_provider_music.hooks.base import MusicApiHook

        return MusicApiHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
