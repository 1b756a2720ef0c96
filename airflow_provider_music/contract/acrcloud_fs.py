"""ACRCloud file scanning contract: containers, their configuration, FsFiles states and results (pure).

The copyright gate depends on one rule kept here: **a scan is checked against exactly the buckets and
engine settings asked for**. :class:`ScanConfig` is that configuration; :meth:`ScanConfig.container_name`
derives a container name from a stable hash of it (one container per configuration, so two DAGs asking
for different buckets never share a container), and :func:`container_mismatches` compares a container
the API returned with the configuration (bucket set by id or name, engine, region, audio type, AI detection)
so that a mismatch is an error, never a silent "no match". ``ai_detection`` is part of the configuration: a
container without it is never used for a scan that asks for it, nor one with it for a scan that does not
(:func:`container_ai_detection`); what its results say is read by :mod:`.acrcloud_ai`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_music.contract.acrcloud import (
    AUDIO_TYPES,
    PAYLOAD_FILES_LIMIT,
    check_region,
    record_key,
    to_int,
)
from airflow_provider_music.core.errors import InvalidInputError, InvalidResponseError
from airflow_provider_music.core.parsing import PollResult, unknown_state

FS_DATA_TYPES = ("audio", "fingerprint", "audio_url", "platforms")
#: File-scanning states: 0 processing, 1 results, -1 no results, -2/-3 error.
FS_PROCESSING, FS_READY, FS_NO_RESULT = 0, 1, -1
FS_ERROR_STATES = (-2, -3)
FS_KNOWN_STATES = (FS_PROCESSING, FS_READY, FS_NO_RESULT, *FS_ERROR_STATES)
#: Engines: 1 audio fingerprinting, 2 cover songs, 3 both, 4 speech to text.
ENGINES = (1, 2, 3, 4)
#: The engine lists of a scan result that hold matches.
MATCH_LISTS = ("music", "custom_files", "cover_songs")
DEFAULT_SCAN_BUCKETS = ("ACRCloud Music",)
DEFAULT_CONTAINER_PREFIX = "airflow-scan"


def _bucket_ref(ref: Any) -> str:
    """A bucket reference (id or name) in canonical text form: ``8881`` and ``"8881"`` are one bucket."""
    if isinstance(ref, bool) or ref is None:
        raise InvalidInputError(f"buckets: {ref!r} is not a bucket id or name")
    if isinstance(ref, int):
        if ref <= 0:
            raise InvalidInputError(f"buckets: bucket ids are positive integers, got {ref}")
        return str(ref)
    if isinstance(ref, str) and ref.strip() and len(ref) <= 200 and "\x00" not in ref:
        text = ref.strip()
        return str(int(text)) if text.isdigit() and text.isascii() else text
    raise InvalidInputError(f"buckets: {str(ref)[:80]!r} is not a bucket id or name")


def _listed(text: str) -> list[Any]:
    """``'["ACRCloud Music", 8881]'`` (JSON or a Python list repr, what a template renders) -> the list."""
    import ast

    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, list):
        raise InvalidInputError(f"buckets: {text[:80]!r} is neither a bucket name nor a list of bucket ids or names")
    return value


@dataclass(frozen=True)
class ScanConfig:
    """What a scan is checked against. Bucket order does not matter; ``8881`` equals ``"8881"``."""

    region: str
    buckets: tuple[str, ...]
    engine: int = 1
    audio_type: str = "linein"
    ai_detection: bool = False

    @classmethod
    def build(
        cls, *, region: Any, buckets: Any = None, engine: Any = 1, audio_type: Any = "linein", ai_detection: Any = False,
    ) -> ScanConfig:
        """Check and normalise the scan arguments (region, buckets, engine, audio type, AI detection) into a config;
        :class:`InvalidInputError` naming the argument otherwise."""
        check_region(region)
        if not isinstance(ai_detection, bool):
            raise InvalidInputError(f"ai_detection must be True or False, got {str(ai_detection)[:40]!r}")
        if buckets is None:
            buckets = DEFAULT_SCAN_BUCKETS
        if isinstance(buckets, str) and buckets.strip().startswith("["):  # a templated list rendered as text
            buckets = _listed(buckets)
        if isinstance(buckets, (str, int)):
            buckets = [buckets]
        if not isinstance(buckets, Sequence) or not buckets:
            raise InvalidInputError("buckets must be a non-empty list of bucket ids or names")
        engine_no = to_int(engine)
        if engine_no not in ENGINES or isinstance(engine, bool):
            raise InvalidInputError(f"engine must be 1, 2, 3 or 4, got {engine!r}")
        if audio_type not in AUDIO_TYPES:
            raise InvalidInputError(f"audio_type must be 'linein' or 'recorded', got {audio_type!r}")
        refs = tuple(sorted({_bucket_ref(b) for b in buckets}))
        return cls(region=str(region), buckets=refs, engine=engine_no, audio_type=str(audio_type),
                   ai_detection=ai_detection)

    def key(self) -> str:
        """A stable hash of the configuration (same on every worker and Python version). ``ai_detection`` enters
        only when on: the containers of scans without it keep the names they had before it existed."""
        fields: dict[str, Any] = {
            "region": self.region, "buckets": list(self.buckets), "engine": self.engine, "audio_type": self.audio_type,
        }
        if self.ai_detection:
            fields["ai_detection"] = True
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def container_name(self, prefix: str = DEFAULT_CONTAINER_PREFIX) -> str:
        """The container name of this config: ``prefix`` plus :meth:`key`, a stable hash of the configuration."""
        return f"{prefix}-{self.key()}"

    def create_body(self, name: str, *, callback_url: str | None = None) -> dict[str, Any]:
        """The ``POST fs-containers`` body that creates a container ``name`` for this config."""
        body: dict[str, Any] = {
            "name": name, "region": self.region, "audio_type": self.audio_type, "engine": self.engine,
            "buckets": [int(b) if b.isdigit() else b for b in self.buckets],
        }
        if callback_url:
            body["callback_url"] = callback_url
        if self.ai_detection:
            body["ai_detection"] = True
        return body

    def describe(self) -> str:
        """This config in words, for log lines and errors."""
        ai = ", ai_detection on" if self.ai_detection else ""
        return f"buckets {list(self.buckets)}, engine {self.engine}, region {self.region}, audio_type {self.audio_type}{ai}"


#: How a container answer spells its ``ai_detection`` flag (True/False hash as 1/0; anything else is unreadable).
_FLAG_VALUES: dict[Any, bool] = {1: True, 0: False, "true": True, "false": False, "1": True, "0": False}


def container_ai_detection(container: Mapping[str, Any]) -> bool | None:
    """The container's ``ai_detection`` flag: absent or null is off (containers made before the flag, or a
    server that omits false); ``None`` when the value is unreadable."""
    raw = container.get("ai_detection")
    if raw is None:
        return False
    if isinstance(raw, str):
        raw = raw.strip().lower()
    elif isinstance(raw, float) and raw in (0.0, 1.0):
        raw = int(raw)
    return _FLAG_VALUES.get(raw) if isinstance(raw, bool | int | str) else None


def ai_flag_problem(container: Mapping[str, Any], wanted: bool) -> str | None:
    """Why ``container`` does not match ``ai_detection=wanted`` (``None``: it does). Both ways count: a container
    without it gives no AI verdict; one with it runs (and bills) a detection the scan did not ask for."""
    flag = container_ai_detection(container)
    if flag is None:
        return f"ai_detection is {str(container.get('ai_detection'))[:40]!r} (unreadable), asked for {wanted}"
    if flag != wanted:
        return f"ai_detection is {'on' if flag else 'off'}, asked for {'on' if wanted else 'off'}"
    return None


def container_buckets(container: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``buckets`` of a container answer as ``[{"id", "name"}]`` (ids or names alone are accepted)."""
    raw = container.get("buckets")
    if not isinstance(raw, list):
        raise InvalidResponseError(
            f"file-scanning container {container.get('id')}: 'buckets' is missing or not a list",
            request_may_have_been_processed=False,
        )
    out: list[dict[str, Any]] = []
    for item in raw:
        if isinstance(item, dict):
            out.append({"id": to_int(item.get("id")), "name": item.get("name")})
        elif isinstance(item, (int, str)) and not isinstance(item, bool):
            try:
                ref = _bucket_ref(item)
            except InvalidInputError:
                ref = None
            if ref is None:
                raise InvalidResponseError(f"file-scanning container {container.get('id')}: unreadable bucket "
                                           f"{str(item)[:40]!r}", request_may_have_been_processed=False)
            out.append({"id": int(ref), "name": None} if ref.isdigit() else {"id": None, "name": ref})
        else:  # an entry we cannot read may be a bucket the container scans: no verdict on the container
            raise InvalidResponseError(
                f"file-scanning container {container.get('id')}: unreadable bucket entry {str(item)[:40]!r}",
                request_may_have_been_processed=False,
            )
    return out


def container_id_of(container: Mapping[str, Any]) -> int:
    """The numeric id of a container answer, or :class:`InvalidResponseError` (never a built-in error)."""
    cid = to_int(container.get("id"))
    if cid is None or cid <= 0:
        raise InvalidResponseError(
            f"file-scanning container answer has no usable id ({str(container.get('id'))[:40]!r})",
            request_may_have_been_processed=False,
        )
    return int(cid)


def _ref_matches(ref: str, bucket: Mapping[str, Any]) -> bool:
    return (ref.isdigit() and bucket.get("id") == int(ref)) or (bucket.get("name") is not None and bucket["name"] == ref)


def container_mismatches(container: Mapping[str, Any], config: ScanConfig) -> list[str]:
    """What differs between a container answer and ``config`` (empty: the container scans exactly that)."""
    problems: list[str] = []
    buckets = container_buckets(container)
    for ref in config.buckets:
        if not any(_ref_matches(ref, b) for b in buckets):
            problems.append(f"bucket {ref!r} is not scanned by the container")
    for bucket in buckets:
        if not any(_ref_matches(ref, bucket) for ref in config.buckets):
            problems.append(f"the container also scans bucket {bucket.get('name') or bucket.get('id')!r}")
    engine = to_int(container.get("engine"))
    if engine != config.engine:
        problems.append(f"engine is {container.get('engine')!r}, asked for {config.engine}")
    if container.get("region") not in (None, config.region):
        problems.append(f"region is {container.get('region')!r}, asked for {config.region!r}")
    if container.get("audio_type") not in (None, config.audio_type):
        problems.append(f"audio_type is {container.get('audio_type')!r}, asked for {config.audio_type!r}")
    ai = ai_flag_problem(container, config.ai_detection)
    if ai:
        problems.append(ai)
    return problems


def fs_base_url(base_url: str, *, region: Any = None, explicit: Any = None) -> str:
    """Host of FsFiles (the files inside a container).

    The newer revision of the FsFiles docs puts them on ``https://api-<region>.acrcloud.com/api`` (region =
    the container's region); the older one on ``api-v2``. The ``fs_base_url`` extra wins; otherwise, when
    the connection points at ACRCloud's own Console host, the region (container's, else the connection's
    ``region`` extra) selects ``api-<region>``; any other host (a proxy, the emulator) is used as is.
    """
    if explicit:
        return str(explicit).rstrip("/") + "/"
    host = (urlsplit(base_url).hostname or "").lower()
    if region and host == "api-v2.acrcloud.com":
        return f"https://api-{check_region(region)}.acrcloud.com/api/"
    return base_url


def fs_file_id(record: Mapping[str, Any], *, describe: str) -> str:
    """The id of an uploaded scan file (``id``, some clients also read ``file_id``)."""
    key = record_key(record.get("id", record.get("file_id")))
    if key is None:
        raise InvalidResponseError(f"{describe}: the answer holds no file id", request_may_have_been_processed=True)
    return key


def parse_fs_files_status(records: list[dict[str, Any]], requested: list[str], *, container_id: Any) -> PollResult:
    """File-scanning poll result: 0 processing; 1 (results) and -1 (no results) done; -2/-3 failed. A state the
    docs do not list is never a verdict: the wait goes on (one warning per state) until the deadline."""
    by_id: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = record_key(rec.get("id")) if isinstance(rec, dict) else None
        if key is not None:
            by_id.setdefault(key, rec)
    files: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    unknown: list[str] = []  # never "clean", never failed: polled on (with a warning) until the deadline
    processing = 0
    for key in requested:
        found = by_id.get(key)
        if found is None:
            failed.append({"id": key, "reason": "not found in the container"})
            continue
        state = to_int(found.get("state"))
        name = found.get("name") if isinstance(found.get("name"), str) else None
        files.append({"id": key, "state": state, "name": name})
        if state == FS_PROCESSING:
            processing += 1
        elif state in FS_ERROR_STATES:
            failed.append({"id": key, "state": state, "reason": f"scan error (state {state})"})
        elif state not in (FS_READY, FS_NO_RESULT):
            unknown.append(unknown_state(f"scan file {key}", found.get("state"), FS_KNOWN_STATES))
    payload = {"container_id": container_id, "files": files[:PAYLOAD_FILES_LIMIT], "failed": failed[:PAYLOAD_FILES_LIMIT]}
    done = len(requested) - processing - len(failed) - len(unknown)
    message = f"{done} of {len(requested)} scan(s) done, {len(failed)} failed"
    if failed:
        reasons = "; ".join(f"{f['id']}: {f['reason']}" for f in failed[:5])
        return PollResult("failed", f"{message} ({reasons})", payload)
    if processing or unknown:
        notes = "".join(f"; {note}" for note in unknown[:5])
        return PollResult("running", message + notes, payload, unknown=tuple(unknown[:5]))
    return PollResult("success", message, payload)


def summarize_scan(record: Mapping[str, Any]) -> dict[str, Any]:
    """The matches of one scanned file: each engine item flattened to ``{offset, played_duration, **result}``."""
    results = record.get("results")
    if results is None:
        results = {}
    if not isinstance(results, dict):
        raise InvalidResponseError(
            f"scan file {record_key(record.get('id'))}: 'results' is {type(results).__name__}, not an object",
            request_may_have_been_processed=False,
        )
    out: dict[str, Any] = {}
    for engine in MATCH_LISTS:
        items = results.get(engine) or []
        if not isinstance(items, list):
            raise InvalidResponseError(
                f"scan file {record_key(record.get('id'))}: results.{engine} is not a list",
                request_may_have_been_processed=False,
            )
        flat_items = []
        for item in items:
            if not isinstance(item, dict):  # a match we cannot read is never dropped into a "no match"
                raise InvalidResponseError(
                    f"scan file {record_key(record.get('id'))}: results.{engine} holds a {type(item).__name__},"
                    " not an object", request_may_have_been_processed=False,
                )
            flat = dict(item.get("result") or {}) if isinstance(item.get("result"), dict) else {}
            flat.update({k: item[k] for k in ("offset", "played_duration", "type") if k in item})
            flat_items.append(flat)
        out[engine] = flat_items
    out.update({
        "file_id": record_key(record.get("id")),
        "container_id": to_int(record.get("cid")),
        "state": to_int(record.get("state")),
        "matched": any(out[e] for e in MATCH_LISTS),
    })
    return out


def scan_verdict(record: Mapping[str, Any], *, container_id: Any, engine: Any) -> dict[str, Any]:
    """:func:`summarize_scan` of a FINISHED scan, or :class:`InvalidResponseError` (fail closed) when the
    answer cannot be a verdict on what was asked: a state other than 1 (results) / -1 (no results), a file
    of another container or engine, or state 1 ("results recognized") without a readable match."""
    summary = summarize_scan(record)
    where = f"scan file {summary['file_id']} in container {container_id}"
    state = summary["state"]
    problem = None
    if state not in (FS_READY, FS_NO_RESULT):
        problem = f"its state is {str(record.get('state'))[:40]!r}, not a finished scan (1 or -1)"
    elif summary["container_id"] is not None and summary["container_id"] != to_int(container_id):
        problem = f"the answer names container {summary['container_id']}"
    elif record.get("engine") is not None and to_int(record.get("engine")) != to_int(engine):
        problem = f"it was scanned with engine {str(record.get('engine'))[:20]!r}, asked for {engine}"
    elif state == FS_READY and not summary["matched"] and to_int(engine) != 4:
        problem = "state 1 (results recognized) but no music, custom_files or cover_songs result was returned"
    if problem:
        raise InvalidResponseError(
            f"{where}: {problem}; the scan result is no verdict (not reported as 'no match')",
            request_may_have_been_processed=False,
        )
    return summary


def fs_callback_payload(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a container's ``callback_url`` receives when a scan finishes: the file object as ``GET`` returns
    it, in the ``data`` envelope (no stored doc shows the payload; this follows the digest's guidance)."""
    return {"data": dict(record)}


__all__ = [
    "DEFAULT_CONTAINER_PREFIX", "DEFAULT_SCAN_BUCKETS", "ai_flag_problem", "container_ai_detection", "container_id_of", "ENGINES", "FS_DATA_TYPES", "FS_ERROR_STATES",
    "FS_NO_RESULT", "FS_PROCESSING", "FS_READY", "ScanConfig", "container_buckets", "container_mismatches",
    "fs_base_url", "fs_callback_payload", "fs_file_id", "parse_fs_files_status", "scan_verdict", "summarize_scan",
]
