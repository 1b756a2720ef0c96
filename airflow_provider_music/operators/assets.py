"""The ``extra`` of the asset events an operator emits: what it made, for a DAG scheduled on the asset.

An operator declares its asset the standard way, ``outlets=[Asset(...)]``; at the end of a successful run
(``MusicOperator.post_execute``, after ``execute`` or after ``execute_complete`` alike) every ``Asset`` outlet's
event gets :func:`asset_extra` - built from the task's :class:`~airflow_provider_music.core.report.TaskReport`
and its return value, never per operator::

    {"task": {"dag_id", "task_id", "run_id", "map_index"},     # who made it (map_index: one event per instance)
     "paths": ["/songs/a.wav", "s3://label/stems/b.wav"],      # the files written: local paths, storage URLs
     "paths_total": 2,                                         # how many files (``paths`` names the first 50;
                                                               #  ``"paths_truncated": true`` when it names fewer)
     "outputs": [{"namespace": "flowmusic://...", "name": "clip/..."}],  # every output dataset (lineage names)
     "facts": {"job_ids": [...], "model": "...", ...},         # vendor ids, model, verdicts (task_report.facts)
     "cost": {"amount": 12 | "unknown", "unit": "credits", "source": "..."},
     "result": {...}}                                          # the return value, compacted (ids, durations)

A consumer reads ``triggering_asset_events`` and acts on exactly those paths/ids, no XCom across DAGs.
Everything is JSON-primitive and small: strings are cut at 300 characters, lists at 50 items, dicts at 40
keys and 4 levels; http(s) URLs lose query string, fragment and credentials; keys that name a secret
(token, password, cookie, signature, ...) and e-mail addresses are left out; registered secrets are masked.
An extra larger than 16 KiB drops ``result``, then ``outputs``, then ``facts``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_music.core.errors import redact_url
from airflow_provider_music.core.redaction import redact
from airflow_provider_music.core.report import TaskReport

MAX_ITEMS = 50
MAX_KEYS = 40
MAX_TEXT = 300
MAX_DEPTH = 4
MAX_BYTES = 16 * 1024
#: files counted for ``paths_total`` (the walk of a return value stops there: bounded time on huge results)
MAX_COUNTED = 100_000
#: URL schemes of files (object storage, local): kept as paths; http(s) links are not files
STORAGE_SCHEMES = ("file", "s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "hdfs", "webhdfs", "sftp")
_SECRET_KEY = re.compile(r"token|secret|passw|api[_-]?key|apikey|authoriz|cookie|signature|credential|email|session",
                         re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_EMAIL = re.compile(r"^[^@\s:/]+@[^@\s:/]+\.[A-Za-z]{2,}$")


def compact(value: Any, depth: int = 0) -> Any:
    """``value`` as small JSON-primitive data (the rules in the module docstring); None when nothing is left."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if len(out) >= MAX_KEYS:
                break
            if not isinstance(key, str) or _SECRET_KEY.search(key):
                continue
            small = compact(item, depth + 1)
            if small is not None:
                out[key[:MAX_TEXT]] = small
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items = [compact(item, depth + 1) for item in list(value)[:MAX_ITEMS]]
        return [item for item in items if item is not None]
    if hasattr(value, "protocol") and hasattr(value, "path"):  # an ObjectStoragePath
        return _text(str(value))
    return None


def _text(value: str) -> str | None:
    if _EMAIL.match(value.strip()):
        return None  # an e-mail address (ids that merely contain one, like FlowMusic's clip ids, are kept)
    match = _SCHEME.match(value)
    if match and match.group(1).lower() not in STORAGE_SCHEMES:
        value = redact_url(value)
    elif match and ("?" in value or "@" in value.split("/", 3)[2]):
        value = redact_url(value)
    value = redact(value)
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 3] + "..."


def is_file_path(value: Any) -> bool:
    """An absolute local path or an object-storage URL (what operators return for a written file)."""
    if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
        return False
    match = _SCHEME.match(value)
    return match.group(1).lower() in STORAGE_SCHEMES if match else value.startswith("/")


def file_paths(report: TaskReport, result: Any) -> list[str]:
    """The files the task wrote: the report's file/object-storage outputs, then paths in the return value
    (all of them, up to ``MAX_COUNTED``; :func:`asset_extra` names the first ``MAX_ITEMS`` and counts the rest)."""
    found: list[str] = []
    for ref in report.outputs:
        scheme = ref.namespace.split("://", 1)[0].lower()
        if scheme == "file":
            found.append(ref.name if ref.name.startswith("/") else "/" + ref.name)
        elif scheme in STORAGE_SCHEMES:
            found.append(f"{ref.namespace.rstrip('/')}/{ref.name.lstrip('/')}")
    _collect_paths(result, found, 0)
    unique = [_text(p) for p in dict.fromkeys(found)]
    return [p for p in unique if p]


def _collect_paths(value: Any, found: list[str], depth: int) -> None:
    if depth > MAX_DEPTH or len(found) >= MAX_COUNTED:
        return
    if isinstance(value, str):
        if is_file_path(value):
            found.append(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not _SECRET_KEY.search(key):
                _collect_paths(item, found, depth + 1)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for item in value:
            if len(found) >= MAX_COUNTED:
                break
            _collect_paths(item, found, depth + 1)
    elif hasattr(value, "protocol") and hasattr(value, "path"):
        found.append(str(value))


def asset_extra(report: TaskReport, result: Any, *, task: Mapping[str, Any]) -> dict[str, Any]:
    """The ``extra`` of every asset event of one task instance (see the module docstring)."""
    paths = file_paths(report, result)
    # never a silent cut: a consumer acting on ``paths`` sees how many files there were
    extra: dict[str, Any] = {"task": compact(dict(task)), "paths": paths[:MAX_ITEMS], "paths_total": len(paths)}
    if report.outputs:
        extra["outputs"] = [{"namespace": _text(r.namespace), "name": _text(r.name)} for r in report.outputs[:MAX_ITEMS]]
    facts = compact(report.facts)
    if facts:
        extra["facts"] = facts
    if report.cost is not None:
        extra["cost"] = compact(report.cost.as_dict())
    small = compact(result)
    if small not in (None, [], {}):
        extra["result"] = small
    for key in ("result", "outputs", "facts"):
        if len(json.dumps(extra, default=str)) <= MAX_BYTES:
            break
        extra.pop(key, None)
    if len(json.dumps(extra, default=str)) > MAX_BYTES:
        extra["paths"] = extra["paths"][:10]
    if len(extra["paths"]) < len(paths):
        extra["paths_truncated"] = True
    return extra


def keeps_result(execute: Callable[..., Any]) -> Callable[..., Any]:
    """``execute`` that keeps its return value on the operator: the task SDK hands ``post_execute`` none."""

    @functools.wraps(execute)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = execute(self, *args, **kwargs)
        self._asset_result = result
        return result

    return wrapper


def fill_asset_events(operator: Any, context: Any, result: Any) -> None:
    """Update the event ``extra`` of every ``Asset`` in ``operator.outlets`` (aliases are left to the DAG
    author: an alias event needs its asset). Each mapped task instance fills its own event."""
    from airflow.sdk import Asset

    assets = [outlet for outlet in operator.outlets or () if isinstance(outlet, Asset)]
    events = context.get("outlet_events") if assets else None
    if events is None:
        return
    ti = context.get("ti")
    task = {"dag_id": operator.dag_id, "task_id": operator.task_id, "run_id": getattr(ti, "run_id", None),
            "map_index": getattr(ti, "map_index", -1)}
    extra = asset_extra(operator.task_report, result, task=task)
    for asset in assets:
        events[asset].extra.update(extra)
