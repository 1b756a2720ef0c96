"""Argument validators shared by every slice: ids, URL path segments, numbers, texts and lists of texts, and
what upstream operators hand downstream ones (:func:`flatten_paths`, the last section).

Every check raises :class:`~airflow_provider_music.core.errors.InvalidInputError` naming the argument, before
any network call. Values that templates render (numeric strings, ``"None"``, a dict's repr) are handled the
same way whether the value was known at DAG parse time or only after rendering.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from airflow_provider_music.core.errors import InvalidInputError, redact_url

#: Default longest id accepted (no API of this provider uses ids near this long).
MAX_ID_LENGTH = 256
#: Strings a template renders for a missing value.
_NULL_STRINGS = frozenset({"none", "null", "nil", "undefined", "nan"})
_FORBIDDEN_ID_CHARS = re.compile(r"[/\\?#\x00-\x1f\x7f\s]")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_id(value: Any, argument: str, *, max_length: int = MAX_ID_LENGTH, optional: bool = False) -> Any:
    """Check one API id and return it as ``str`` (``None`` passes only with ``optional=True``).

    Rejects: ``None``, empty or whitespace-only values, the strings ``None``/``null`` a template renders for
    a missing value, dict/list/tuple reprs, ``.`` and ``..``, ``/`` ``\\`` ``?`` ``#``, whitespace and control
    characters, any percent-encoded form (``%2e%2e``, ``%2F``), booleans and over-long values. Integers
    (ACRCloud's numeric ids) are accepted and returned as strings.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInputError(f"{argument} must be an id (a string), got {type(value).__name__} {_show(value)}")
    text = str(value).strip()
    problem = _id_problem(text, max_length)
    if problem:
        raise InvalidInputError(f"{argument}: invalid id {_show(value)}: {problem}")
    return text


def _id_problem(text: str, max_length: int) -> str | None:
    if not text:
        return "it is empty"
    if text.lower() in _NULL_STRINGS:
        return "it is the text a template renders for a missing value"
    if text[0] in "{[(" or text[-1] in "}])":
        return "it looks like the repr of a dict or list, not an id"
    if text in (".", ".."):
        return "'.' and '..' are not ids"
    if _PERCENT_ESCAPE.search(text):
        return "percent-encoded characters are not allowed in ids"
    if _FORBIDDEN_ID_CHARS.search(text):
        return "ids cannot contain '/', '\\', '?', '#', whitespace or control characters"
    if len(text) > max_length:
        return f"longer than {max_length} characters ({len(text)})"
    return None


def validate_ids(values: Any, argument: str, *, max_length: int = MAX_ID_LENGTH, allow_single: bool = True) -> list[str]:
    """A non-empty list of ids (a single id is accepted as a list of one with ``allow_single``)."""
    if allow_single and isinstance(values, (str, int)) and not isinstance(values, bool):
        values = [values]
    items = _as_list(values, argument)
    if not items:
        raise InvalidInputError(f"{argument} must hold at least one id")
    return [validate_id(item, f"{argument}[{i}]", max_length=max_length) for i, item in enumerate(items)]


def path_segment(value: Any, argument: str = "id") -> str:
    """``value`` validated as an id and percent-encoded for use as ONE URL path segment.

    A text id is checked and encoded once per process (a trigger asks for the same id every poll)."""
    if type(value) is str:
        return _text_segment(value, argument)
    return quote(validate_id(value, argument), safe="")


@functools.lru_cache(maxsize=16384)
def _text_segment(value: str, argument: str) -> str:
    return quote(validate_id(value, argument), safe="")


def validate_number(
    value: Any,
    argument: str,
    *,
    minimum: float | None = 0.0,
    exclusive_minimum: bool = False,
    maximum: float | None = None,
    optional: bool = False,
    integer: bool = False,
) -> Any:
    """A finite number (``int``, ``float`` or a numeric string) within bounds, returned as float (or int).

    NaN and infinities are rejected, and so are booleans. ``optional=True`` lets ``None`` (and an empty
    string, which templates render for None) through as ``None``.
    """
    if optional and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    number = _to_number(value, argument)
    if integer and number != int(number):
        raise InvalidInputError(f"{argument} must be a whole number, got {_show(value)}")
    if minimum is not None and (number <= minimum if exclusive_minimum else number < minimum):
        sign = ">" if exclusive_minimum else ">="
        raise InvalidInputError(f"{argument} must be {sign} {minimum:g}, got {_show(value)}")
    if maximum is not None and number > maximum:
        raise InvalidInputError(f"{argument} must be <= {maximum:g}, got {_show(value)}")
    return int(number) if integer else number


def _to_number(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInputError(f"{argument} must be a number, got {type(value).__name__} {_show(value)}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise InvalidInputError(f"{argument} must be a number, got {_show(value)}") from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{argument} must be a finite number, got {_show(value)}")
    return number


def positive_number(value: Any, argument: str, *, optional: bool = False, maximum: float | None = None) -> Any:
    """A finite number > 0 (``poll_interval``, ``timeout``)."""
    return validate_number(value, argument, minimum=0.0, exclusive_minimum=True, optional=optional, maximum=maximum)


def non_negative_number(value: Any, argument: str, *, optional: bool = False, maximum: float | None = None) -> Any:
    """A finite number >= 0."""
    return validate_number(value, argument, minimum=0.0, optional=optional, maximum=maximum)


def validate_text(
    value: Any,
    argument: str,
    *,
    max_length: int | None = None,
    optional: bool = False,
    allow_empty: bool = False,
) -> Any:
    """A string of at most ``max_length`` characters (``None`` only with ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{argument} must be a string, got {type(value).__name__} {_show(value)}")
    if not allow_empty and not value.strip():
        raise InvalidInputError(f"{argument} must not be empty")
    if max_length is not None and len(value) > max_length:
        raise InvalidInputError(f"{argument} is {len(value)} characters long; the limit is {max_length}")
    return value


def validate_str_list(
    values: Any,
    argument: str,
    *,
    optional: bool = False,
    allow_empty_list: bool = True,
    max_items: int | None = None,
    item_max_length: int | None = None,
    allow_single: bool = False,
) -> Any:
    """A list of non-empty strings; a ``None`` (or non-string) element is rejected naming its index."""
    if values is None and optional:
        return None
    if allow_single and isinstance(values, str):
        values = [values]
    items = _as_list(values, argument)
    if not items and not allow_empty_list:
        raise InvalidInputError(f"{argument} must not be empty")
    if max_items is not None and len(items) > max_items:
        raise InvalidInputError(f"{argument} holds {len(items)} items; the limit is {max_items}")
    return [validate_text(item, f"{argument}[{i}]", max_length=item_max_length) for i, item in enumerate(items)]


def _as_list(values: Any, argument: str) -> list[Any]:
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{argument} must be a list, got {type(values).__name__} {_show(values)}")
    return list(values)


# --------------------------------------------------------------------------------------------------
# Optional arguments as forms and templates spell them (the useapi.net APIs, FlowMusic and Mureka, share
# these conventions): ``None``, blank and a rendered ``"None"`` mean "not given".
# --------------------------------------------------------------------------------------------------
def unset(value: Any) -> bool:
    """Absent: ``None``, blank, or what a template renders for ``None`` (``"None"``: a ``Param(None)``)."""
    return value is None or (isinstance(value, str) and value.strip() in ("", "None"))


def check_text(name: str, value: Any, *, required: bool = False, max_length: int | None = None) -> str | None:
    """A non-empty string of at most ``max_length`` characters (``None`` when optional and :func:`unset`)."""
    if not required and unset(value):
        return None
    return validate_text(value, name, max_length=max_length)  # type: ignore[no-any-return]


def check_number(name: str, value: Any, low: float | None, high: float | None, *, integer: bool = False) -> float | None:
    """A finite number in ``[low, high]``; numeric strings (from templates or form bodies) are accepted."""
    if unset(value):
        return None
    number = validate_number(value, name, minimum=low, maximum=high, optional=True, integer=integer)
    return None if number is None else float(number)


def check_bool(name: str, value: Any) -> bool | None:
    """``True``/``False`` or their form/template spellings (``"true"``, ``"0"``...); :func:`unset` -> None."""
    if unset(value) or isinstance(value, bool):
        return None if unset(value) else value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InvalidInputError(f"{name} must be true or false, got {value!r}"[:300])


def check_choice(name: str, value: Any, choices: Sequence[str], *, required: bool = False) -> str | None:
    """``value`` if it is one of ``choices`` (``None`` when unset and not ``required``), else an error naming ``name``."""
    if unset(value) and not required:
        return None
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(choices)}, got {value!r}"[:300])
    return str(value)


def check_reply_url(value: Any) -> str | None:
    """The ``reply_url`` (``replyUrl``) if it is an http(s) URL within the length limit; ``None`` when unset."""
    url = check_text("reply_url (replyUrl)", value, max_length=2048)
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise InvalidInputError(f"reply_url (replyUrl) must be an http(s) URL, got {redact_url(url)!r}")
    return url


# --------------------------------------------------------------------------------------------------
# What upstream operators hand downstream ones (was core/inputs.py)
# --------------------------------------------------------------------------------------------------
# What upstream operators hand downstream ones: one rule for "a path, a list of paths, or a mapped result".
#
# Download operators return a list of paths (Riffusion) or ``{"files": [...], ...}`` (FlowMusic); a mapped
# task's XCom renders to a lazy sequence of those. Operators that take files (stems, scans, uploads) accept
# any of these shapes through :func:`flatten_paths`, so ``.expand(source=download.output)`` and
# ``source=download.output`` work whatever produced the files.

#: Keys of a result dict that hold the files it wrote (FlowMusic download: ``files``).
FILE_LIST_KEYS = ("files",)
_MAX_DEPTH = 4


def is_many(value: Any) -> bool:
    """True for a list of sources (a list, or the lazy sequence a mapped upstream's XCom renders to)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def many_results(value: Any) -> bool:
    """True when an operator given ``value`` should return a list (one result per file), not one result."""
    return is_many(value) or isinstance(value, Mapping)


def flatten_paths(value: Any, *, argument: str = "source", allow_empty: bool = False) -> list[Any]:
    """One path (str or ``ObjectStoragePath``), a list of them, a download result dict with a ``files``
    list, or a mapped task's list of any of these (nested) -> a flat list, order kept.

    Raises :class:`InvalidInputError` naming ``argument`` for a dict without a file list, a ``None``
    element, or (unless ``allow_empty``) nothing at all.
    """
    out: list[Any] = []
    _collect(value, argument, out, depth=0)
    if not out and not allow_empty:
        raise InvalidInputError(f"{argument} must name at least one file; got {_short(value)}")
    return out


def _collect(value: Any, argument: str, out: list[Any], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidInputError(f"{argument}: lists nested deeper than {_MAX_DEPTH} levels")
    if value is None:
        raise InvalidInputError(f"{argument}: None is not a file (did an upstream task return nothing?)")
    if isinstance(value, Mapping):
        for key in FILE_LIST_KEYS:
            if key in value and is_many(value[key]):
                _collect(value[key], argument, out, depth + 1)
                return
        raise InvalidInputError(
            f"{argument} must be a path, a list of paths or a download result with a 'files' list; "
            f"got a dict with keys {sorted(map(str, value))[:8]}"
        )
    if is_many(value):
        for item in value:
            _collect(item, argument, out, depth + 1)
        return
    out.append(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
