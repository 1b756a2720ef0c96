"""Parsing API answers safely: strict JSON, shape checks, and one guard turning parser crashes into
:class:`InvalidResponseError` naming the call.

* :func:`loads_strict` - JSON without ``NaN`` / ``Infinity`` / ``1e999`` (non-finite numbers are rejected),
  deep nesting and invalid UTF-8 become ``InvalidResponseError``.
* :func:`expect_dict`, :func:`expect_list`, :func:`expect_str` - shape checks for slice parsers.
* :func:`parsing` - ``with parsing("GET /v1/songs/{id}"):`` (or ``@parsing(...)``) converts ``TypeError``,
  ``AttributeError``, ``KeyError``, ``IndexError``, ``ValueError``, ``OverflowError`` and ``RecursionError``
  raised while interpreting an answer into ``InvalidResponseError(call=...)``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from airflow_provider_music.core.errors import InvalidResponseError, MusicApiError
from airflow_provider_music.core.redaction import describe_body

F = TypeVar("F", bound=Callable[..., Any])
#: Deeper JSON than this is refused before Python's recursion limit is anywhere near.
MAX_JSON_DEPTH = 200
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


def _depth_ok(text: str) -> bool:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def loads_strict(content: bytes | str, call: str) -> Any:
    """Decode JSON strictly; every way a body can be hostile is an ``InvalidResponseError`` naming ``call``."""
    try:
        text = content.decode("utf-8") if isinstance(content, (bytes, bytearray)) else content
    except UnicodeDecodeError:
        raise invalid_response(call, "the answer is not valid UTF-8") from None
    if not _depth_ok(text):
        raise invalid_response(call, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError, OverflowError) as exc:
        problem = str(exc) if "non-finite" in str(exc) or "out of range" in str(exc) else "malformed JSON"
        failure = invalid_response(call, f"expected JSON, got {problem} ({len(text)} characters)")
    raise failure


def expect_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``InvalidResponseError`` naming ``what`` (e.g. the call)."""
    if not isinstance(value, dict):
        raise invalid_response(what, f"expected a JSON object, got {_kind(value)}")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_response(what, f"expected a JSON array, got {_kind(value)}")
    return value


def expect_str(value: Any, what: str, *, allow_empty: bool = False) -> str:
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


def parse_with(call: str, parse: Callable[[Any], Any], value: Any) -> Any:
    """``parse(value)`` under :class:`parsing` (for one-off parses)."""
    with parsing(call):
        return parse(value)


def guarded(call: str) -> Callable[[F], F]:
    """Decorator form of :class:`parsing` with ``functools.wraps`` (keeps the name for logs and docs)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with parsing(call):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
