"""Parsing API answers safely: strict JSON, shape checks, and one guard turning parser crashes into
:class:`InvalidResponseError` naming the call.

* :func:`loads_strict` - JSON without ``NaN`` / ``Infinity`` / ``1e999`` (non-finite numbers are rejected),
  nesting deeper than the parser's own recursion bound and invalid UTF-8 become ``InvalidResponseError``.
* :func:`expect_dict`, :func:`expect_list`, :func:`expect_str` - shape checks for slice parsers.
* :func:`parsing` - ``with parsing("GET /v1/songs/{id}"):`` (or ``@parsing(...)``) converts ``TypeError``,
  ``AttributeError``, ``KeyError``, ``IndexError``, ``ValueError``, ``OverflowError`` and ``RecursionError``
  raised while interpreting an answer into ``InvalidResponseError(call=...)``.
* Describe-only values (issue 21 §2: once paid work exists, what only DESCRIBES - titles, durations, names,
  costs, lyrics - never fails the task; what DECIDES - ids, states, URLs - stays strict):
  :func:`seconds_of`, :func:`number_of`, :func:`text_of`, :func:`format_seconds` convert or return ``None``
  (never raise); :func:`describe_only` applies them to a record's fields and logs what it dropped.
* What a status answer means: :class:`PollResult` (shared by operators, sensors and triggers; the sync wait
  is ``operators.base.wait_until_done``) and :func:`unknown_state`, the one note for a state not known.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_music.core.errors import InvalidResponseError, MusicApiError
from airflow_provider_music.core.redaction import describe_body

log = logging.getLogger(__name__)
PARSER_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError, RecursionError)


def _split_call(call: str) -> tuple[str | None, str | None]:
    method, _, path = call.partition(" ")
    return (method, path) if path else (None, call or None)


def invalid_response(call: str, problem: str) -> InvalidResponseError:
    """An :class:`InvalidResponseError` for ``call`` (``"GET /v1/x"``); the message is scrubbed of secrets."""
    method, path = _split_call(call)
    return InvalidResponseError(f"{call}: {problem}", method=method, path=path)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range {text[:40]}")
    return value


#: built once: ``json.loads`` with hooks builds a new decoder (and scanner) per call
_STRICT = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def loads_strict(content: bytes | str, call: str) -> Any:
    """Decode JSON strictly; every way a body can be hostile is an ``InvalidResponseError`` naming ``call``."""
    try:
        text = content.decode("utf-8") if isinstance(content, (bytes, bytearray)) else content
    except UnicodeDecodeError:
        raise invalid_response(call, "the answer is not valid UTF-8") from None
    try:
        return _STRICT.decode(text)
    except RecursionError:  # the parser's own depth bound: no pass over the text before parsing
        failure = invalid_response(call, f"JSON nested too deeply to parse ({len(text)} characters)")
    except (ValueError, OverflowError) as exc:
        problem = str(exc) if "non-finite" in str(exc) or "out of range" in str(exc) else "malformed JSON"
        failure = invalid_response(call, f"expected JSON, got {problem} ({len(text)} characters)")
    raise failure


def expect_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``InvalidResponseError`` naming ``what`` (e.g. the call)."""
    if not isinstance(value, dict):
        raise invalid_response(what, f"expected a JSON object, got {_kind(value)}")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    """``value`` if it is a JSON array, else ``InvalidResponseError`` naming ``what``."""
    if not isinstance(value, list):
        raise invalid_response(what, f"expected a JSON array, got {_kind(value)}")
    return value


def expect_str(value: Any, what: str, *, allow_empty: bool = False) -> str:
    """``value`` if it is a (non-empty unless ``allow_empty``) string, else ``InvalidResponseError``."""
    if not isinstance(value, str) or (not allow_empty and not value):
        raise invalid_response(what, f"expected a non-empty string, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {describe_body(value, 80)}"


class parsing(contextlib.ContextDecorator):  # noqa: N801 - used like a function: ``with parsing(call):``
    """Turn a crash while interpreting an answer of ``call`` into ``InvalidResponseError`` naming it.

    Provider errors pass through unchanged. Usable as ``with parsing("GET /v1/x"):`` and ``@parsing("...")``.
    """

    def __init__(self, call: str) -> None:
        self.call = call

    def __enter__(self) -> parsing:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, MusicApiError) or not isinstance(exc, PARSER_ERRORS):
            return False
        raise invalid_response(self.call, f"unexpected answer ({type(exc).__name__}: {describe_body(exc, 120)})") from None


# ---- describe-only values: converted or dropped, never fatal ---------------------------------------------
_CLOCK = re.compile(r"^(?:(\d{1,4}):)?(\d{1,4}):(\d{1,2}(?:\.\d+)?)$")
#: Longest describe-only text kept (titles, lyrics, names): longer ones are cut with an ellipsis.
TEXT_LIMIT = 1000


def number_of(value: Any) -> float | None:
    """A finite number from a number or a numeric text (``"12.5"``); ``None`` for anything else (booleans,
    NaN, infinities, objects, lists, unparsable text). Never raises."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value) if isinstance(value, int | float) else None
    except (ValueError, OverflowError):
        return None
    return number if number is not None and math.isfinite(number) else None


def seconds_of(value: Any) -> float | None:
    """Seconds (>= 0) from a number, a numeric text (``"12.5"``, ``"12.5 s"``) or a clock text (``"3:20"``,
    ``"1:02:03"``); ``None`` for anything else. Never raises."""
    if isinstance(value, str):
        text = value.strip().lower().removesuffix("s").strip()
        clock = _CLOCK.match(text)
        if clock:
            hours, minutes, secs = clock.groups()
            value = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        else:
            value = text
    seconds = number_of(value)
    return seconds if seconds is not None and seconds >= 0 else None


def format_seconds(value: Any) -> str:
    """``"200"`` for 200.0 or ``"3:20"``; ``"?"`` when the value says nothing usable (never raises)."""
    seconds = seconds_of(value)
    return "?" if seconds is None else f"{seconds:.0f}"


def text_of(value: Any, limit: int = TEXT_LIMIT) -> str | None:
    """A text from a string (cut to ``limit`` with an ellipsis) or a finite number; ``None`` otherwise."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    number = number_of(value) if isinstance(value, int | float) else None
    return None if number is None else str(value)[:40]


def describe_only(
    record: Any, fields: dict[str, Callable[[Any], Any]], *, what: str, logger: Any = log,
) -> dict[str, Any]:
    """``{name: convert(record[name])}`` for the describe-only ``fields`` present in ``record``; a value the
    converter cannot use is dropped with one WARNING naming ``what`` and the field (the task goes on)."""
    out: dict[str, Any] = {}
    source = record if isinstance(record, dict) else {}
    for name, convert in fields.items():
        value = source.get(name)
        if value is None:
            continue
        converted = convert(value)
        if converted is None:
            logger.warning("%s: ignoring %s = %s (describe-only, not usable)", what, name, _kind(value))
            continue
        out[name] = converted
    return out


# ---- what a status answer means ------------------------------------------------------------------
PollState = Literal["running", "success", "failed"]


@dataclass
class PollResult:
    """The state of one or more remote jobs at one poll. ``payload`` must stay small and JSON-primitive.

    ``unknown`` lists states this package does not know (see :func:`unknown_state`): such a result is
    ``running`` - never a success, never a failure the service may still turn into one - and every wait
    (operator, sensor, trigger: ``triggers.base.Progress``) warns once per note; a timeout names them, as
    the message holds them too.
    """

    state: PollState
    message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        """Has the job ended (success or failure), i.e. is the state anything but ``running``?"""
        return self.state != "running"


def unknown_state(what: str, value: Any, known: Any = ()) -> str:
    """The note for a state this package does not know: ``upload u1: unknown state 'rejected' (known: ...)``.

    The one convention of every API: an unknown state keeps the wait going (with a warning) until the job
    reaches a known state or the deadline, whose timeout error names the state.
    """
    shown = f" (known: {', '.join(str(k) for k in known)})" if known else ""
    where = f"{what}: " if what else ""
    return f"{where}unknown state {str(value)[:50]!r}{shown}: not a success, polling on until the deadline"


def parse_iso(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time (``Z`` or offset; a naive time is UTC), else ``None``."""
    import datetime as dt

    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
