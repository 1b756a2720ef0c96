"""What upstream operators hand downstream ones: one rule for "a path, a list of paths, or a mapped result".

Download operators return a list of paths (Riffusion) or ``{"files": [...], ...}`` (FlowMusic); a mapped
task's XCom renders to a lazy sequence of those. Operators that take files (stems, scans, uploads) accept
any of these shapes through :func:`flatten_paths`, so ``.expand(source=download.output)`` and
``source=download.output`` work whatever produced the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_music.core.errors import InvalidInputError

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
