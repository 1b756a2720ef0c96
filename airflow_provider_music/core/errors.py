"""The provider's error hierarchy and the mapping of HTTP error answers onto it.

Every error names the method and the path (never the query string) and the API's own message, scrubbed
of credentials (:mod:`airflow_provider_music.core.redaction`).
"""

from __future__ import annotations

import email.utils
import functools
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_music.core.redaction import redact, redact_data


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
        message = redact(message)  # every registered credential, in every encoding
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.api_message = redact(api_message)
        self.details = redact_data(details)
        self.retry_after = retry_after
        self.request_may_have_been_processed = request_may_have_been_processed

    def __str__(self) -> str:
        return redact(self.message)


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


class BudgetExceededError(InvalidInputError):
    """The budget guard (``max_cost``) refused a paid submission before anything was sent: the estimate is
    above ``max_cost``, or the account has fewer credits left than the estimate. Never retried (a retry
    would be refused the same way); the message names the numbers and the argument."""


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


class LocalFileError(MusicApiError, AirflowFailException):
    """A local or object-storage file could not be read or written (ENAMETOOLONG, EACCES, ENOSPC, EISDIR, ...).

    Never a network error and never retried: the same write would fail the same way. ``argument`` names
    the operator/hook argument the path came from, ``file_path`` the path itself.
    """

    def __init__(self, message: str, *, argument: str | None = None, file_path: str | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("request_may_have_been_processed", False)
        super().__init__(message, **kwargs)
        self.argument = argument
        self.file_path = file_path


@functools.lru_cache(maxsize=16384)
def _split(url: str) -> SplitResult:
    """``urlsplit`` remembered for many more URLs than its own 128-entry cache: a triggerer polls thousands
    of job URLs, each named in every error and checked for its origin on every poll."""
    return urlsplit(url)


def redact_url(url: str) -> str:
    """Return ``url`` without query string, fragment or userinfo (signed links carry secrets there)."""
    parts = _split(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def path_of(url: str) -> str:
    """The path of ``url`` (no query string: it may hold a signature)."""
    return _split(url).path or "/"



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
    path = path_of(url)
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



@functools.lru_cache(maxsize=4096)
def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased (the unit credentials are scoped to)."""
    parts = _split(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}"


# --------------------------------------------------------------------------------------------------
# Lost answers (was core/lost.py)
# --------------------------------------------------------------------------------------------------
# One rule for lost answers: when may a paid create have happened although no answer came back?
#
# Every API of this provider charges for its creates (songs, stem separations, uploads) and none has an
# idempotency key. When a create fails *ambiguously* the work may exist, so it is never sent again blindly:
# the caller looks for it first, and when it cannot be found fails with :class:`LostAnswerError`
# ("... may have been created; ids unknown: check ...").
#
# The rule (:func:`answer_lost`), the same for every API:
#
# * **definite** (nothing was created; safe to report, or to send again): an error whose
#   ``request_may_have_been_processed`` is False (connect failures, refused, 429, 503, bad input), any other
#   4xx answer (400, 401, 403, 404, 409, 422, ...: the server read the request and refused it);
# * **ambiguous** (the work may exist): no status at all (connection dropped after sending, read timeout,
#   total deadline, truncated or unreadable body), 408 and 499 (the server or a proxy gave up while the
#   request was in flight), 5xx other than 503, a 2xx/3xx whose body could not be read, and a
#   :class:`LostAnswerError` itself.

#: Allowance for clock skew between Airflow and an API when comparing creation times (lookup windows).
CLOCK_SKEW = 120.0
#: 4xx answers given while the request may already be in processing: the server or a proxy timed out.
AMBIGUOUS_CLIENT_STATUSES = frozenset({408, 499})
#: 5xx answers given before any processing (overload, maintenance).
DEFINITE_SERVER_STATUSES = frozenset({503})


class LostAnswerError(MusicApiError, AirflowFailException):
    """A paid create (or upload) may have been carried out, its answer was lost, and the work was not found.

    Never retried (by the hook or by Airflow): a second create could be paid twice. The message says
    "may have been created; ids unknown: check <where>" so a person can look before re-running.
    Slices subclass it for their own names (``RiffusionLostAnswerError``, ...).
    """

    retryable = False

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("request_may_have_been_processed", True)
        super().__init__(message, **kwargs)

    @classmethod
    def after(cls, what: str, *, check: str, cause: BaseException | str | None = None, note: str = "",
              **kwargs: Any) -> LostAnswerError:
        """``"<what> may have been created; ids unknown: check <check>. The answer was lost (<cause>). <note>"``."""
        message = f"{what} may have been created; ids unknown: check {check}."
        if cause is not None:
            reason = cause.message if isinstance(cause, MusicApiError) else str(cause)
            message += f" The answer was lost ({reason})."
        if note:
            message += f" {note}"
        return cls(message, **kwargs)


def answer_lost(exc: BaseException) -> bool:
    """True when ``exc`` may hide a create the server carried out (see the module docstring for the rule)."""
    if isinstance(exc, LostAnswerError):
        return True
    if not getattr(exc, "request_may_have_been_processed", False):
        return False
    if isinstance(exc, ValidationError):  # 400/422 and bad input: read and refused
        return False
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or isinstance(status, bool):
        return True  # no answer at all
    if status in AMBIGUOUS_CLIENT_STATUSES:
        return True
    if 400 <= status < 500 or status in DEFINITE_SERVER_STATUSES:
        return False
    return True  # 5xx (not 503), or a 2xx/3xx whose body could not be read
