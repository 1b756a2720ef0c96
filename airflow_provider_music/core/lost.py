"""One rule for lost answers: when may a paid create have happened although no answer came back?

Every API of this provider charges for its creates (songs, stem separations, uploads) and none has an
idempotency key. When a create fails *ambiguously* the work may exist, so it is never sent again blindly:
the caller looks for it first, and when it cannot be found fails with :class:`LostAnswerError`
("... may have been created; ids unknown: check ...").

The rule (:func:`answer_lost`), the same for every API:

* **definite** (nothing was created; safe to report, or to send again): an error whose
  ``request_may_have_been_processed`` is False (connect failures, refused, 429, 503, bad input), any other
  4xx answer (400, 401, 403, 404, 409, 422, ...: the server read the request and refused it);
* **ambiguous** (the work may exist): no status at all (connection dropped after sending, read timeout,
  total deadline, truncated or unreadable body), 408 and 499 (the server or a proxy gave up while the
  request was in flight), 5xx other than 503, a 2xx/3xx whose body could not be read, and a
  :class:`LostAnswerError` itself.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.core.errors import MusicApiError, ValidationError

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


__all__ = ["AMBIGUOUS_CLIENT_STATUSES", "CLOCK_SKEW", "DEFINITE_SERVER_STATUSES", "LostAnswerError", "answer_lost"]
