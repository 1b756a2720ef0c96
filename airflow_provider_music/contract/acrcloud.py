"""ACRCloud contract: constants, validators, parsers and status interpretation (pure; no I/O).

Used alike by :mod:`airflow_provider_music.hooks.acrcloud`, the operators, sensors, triggers and the
emulator. The documented quirks live here: ``duration`` and ``per_page`` as a string or a number,
``user_defined`` as a JSON string (multipart) or an object (JSON bodies), ``data`` as an object or a list,
200 or 201 on create. File scanning (containers and their configuration) is in
:mod:`airflow_provider_music.contract.acrcloud_fs`.

Every parser takes ``describe`` (the call, e.g. ``"GET buckets/1/files/2"``) and raises
:class:`~airflow_provider_music.core.InvalidResponseError` naming it for any answer shape the docs do not
describe: a list where an object belongs, NaN/Infinity or huge numbers as ids, strings as states.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_music.core.errors import (
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    MusicApiError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from airflow_provider_music.core.parsing import PollResult, unknown_state
from airflow_provider_music.core.validation import validate_id

FILE_DATA_TYPES = ("audio", "fingerprint", "audio_url", "acrid")
IDENTIFY_DATA_TYPES = ("audio", "fingerprint")
REGIONS = ("eu-west-1", "us-west-2", "ap-southeast-1")
BUCKET_TYPES = ("File", "Live", "LiveRec", "LiveTimeshift")
DUMP_PATHS = ("dump", "files/dump")
PROJECT_TYPES = ("AVR", "LCD", "HR")
AUDIO_TYPES = ("linein", "recorded")

#: Audio-file states (``state`` of a bucket file).
FILE_PROCESSING, FILE_READY, FILE_ERROR = 0, 1, -1
FILE_STATES = (FILE_PROCESSING, FILE_READY, FILE_ERROR)

#: Largest ``per_page`` used when walking pages (ACRCloud's maximum is undocumented; 100 is safe).
MAX_PER_PAGE = 100
#: Ids per ``GET .../files/:ids`` request.
IDS_PER_REQUEST = 100
#: At most this many file records are put in a poll payload (it ends up in XCom / trigger events).
PAYLOAD_FILES_LIMIT = 100
#: Ids are at most this many characters (an acr_id is 32, a scan file id a 36-character UUID).
MAX_ID_LENGTH = 64
#: Largest id accepted as a number (JSON numbers beyond this are not ids but hostile answers).
MAX_NUMERIC_ID = 2**63 - 1

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ACR_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$")

DEFAULT_BASE_URL = "https://api-v2.acrcloud.com/api/"
CONSOLE_URL = "https://console.acrcloud.com"


# --------------------------------------------------------------------------------------------------
# Numbers and ids
# --------------------------------------------------------------------------------------------------
def to_int(value: Any, default: Any = None) -> Any:
    """``"20"`` / ``20`` / ``20.0`` -> 20; anything else (bools, 1.5, NaN, infinities, huge, text) -> ``default``."""
    if value is None or isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value if abs(value) <= MAX_NUMERIC_ID else default
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    if not math.isfinite(number) or abs(number) > MAX_NUMERIC_ID or not number.is_integer():
        return default  # 1.5 is no state, id or engine: never truncate it into one (fail closed)
    return int(number)


def to_float(value: Any) -> float | None:
    """``"78.524082"`` / ``79`` -> float; anything else (NaN and infinities too) -> None."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def record_key(value: Any) -> str | None:
    """The text form of an id in an answer (int or id-like string), or None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if 0 <= value <= MAX_NUMERIC_ID else None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and 0 <= value <= MAX_NUMERIC_ID else None
    if isinstance(value, str) and _ID_RE.match(value):
        return value
    return None


def _add_id(items: list[str], value: Any, argument: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise InvalidInputError(f"{argument}: {value!r} is not a file id or acr_id")
    if isinstance(value, int):
        if value < 0 or value > MAX_NUMERIC_ID:
            raise InvalidInputError(f"{argument}: ids must be positive integers, got {value}")
        items.append(str(value))
        return
    if not isinstance(value, str):
        raise InvalidInputError(f"{argument}: expected ints, strings or a list of them, got {type(value).__name__}")
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if not _ID_RE.match(part):
            raise InvalidInputError(
                f"{argument}: {part[:80]!r} is not a file id or acr_id (up to {MAX_ID_LENGTH} digits, "
                "letters, '-' or '_'; no '/', '..', '?' or spaces)"
            )
        validate_id(part, argument, max_length=MAX_ID_LENGTH)  # also refuses "None"/"null" from templates
        items.append(part)


def join_ids(ids: Any, *, argument: str = "ids") -> str:
    """Ids given as an int, an acr_id, a comma-joined string or a list of those -> ``"1,2,abc..."``."""
    items: list[str] = []
    if isinstance(ids, (list, tuple, set, frozenset)):
        for value in ids:
            _add_id(items, value, argument)
    else:
        _add_id(items, ids, argument)
    unique = list(dict.fromkeys(items))
    if not unique:
        raise InvalidInputError(f"{argument} must name at least one file id or acr_id")
    return ",".join(unique)


def split_ids(ids: Any, *, argument: str = "ids") -> list[str]:
    """The ids of ``ids`` (a list or a comma-separated string) as a list of strings, checked like :func:`join_ids`."""
    return join_ids(ids, argument=argument).split(",")


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    """``items`` in consecutive lists of at most ``size`` (batched API calls)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bucket_path(bucket_id: Any, *, argument: str = "bucket_id") -> str:
    """A positive integer id (bucket, container, project) as a path segment; anything else is refused."""
    if isinstance(bucket_id, bool) or isinstance(bucket_id, float):
        raise InvalidInputError(f"{argument} must be a positive integer id, got {bucket_id!r}")
    text = str(bucket_id).strip() if isinstance(bucket_id, (int, str)) else ""
    if not text.isdigit() or not text.isascii() or len(text) > 18 or int(text) <= 0:
        raise InvalidInputError(f"{argument} must be a positive integer id, got {str(bucket_id)[:80]!r}")
    return str(int(text))


def check_region(region: Any, *, argument: str = "region") -> str:
    """``region`` if it is one of ACRCloud's regions (``REGIONS``), else :class:`InvalidInputError` naming ``argument``."""
    if region not in REGIONS:
        raise InvalidInputError(f"{argument} must be one of {', '.join(REGIONS)}, got {region!r}")
    return str(region)


def check_positive_page(name: str, value: Any) -> None:
    """Refuse a page number or page size ``value`` below 1 (``None`` passes), naming argument ``name``."""
    if value is not None and (to_int(value) or 0) < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")


# --------------------------------------------------------------------------------------------------
# user_defined
# --------------------------------------------------------------------------------------------------
def parse_user_defined(value: Any) -> dict[str, Any]:
    """``user_defined`` comes back as an object; tolerate a JSON string, ``null`` or ``[]`` (empty PHP array)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return {"value": value}
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    return {}


def check_user_defined(user_defined: Any, *, argument: str = "user_defined") -> dict[str, Any] | None:
    """Validate ``user_defined`` before sending: a dict (or a JSON object string) that is JSON-serialisable."""
    if user_defined is None:
        return None
    if isinstance(user_defined, str):
        try:
            user_defined = json.loads(user_defined)
        except (ValueError, RecursionError):
            raise InvalidInputError(
                f"{argument}: not valid JSON text; give a dict or a JSON object string such as '{{\"isrc\": \"...\"}}'"
            ) from None
    if not isinstance(user_defined, dict):
        raise InvalidInputError(f"{argument} must be a dict (JSON object), got {type(user_defined).__name__}")
    try:
        json.dumps(user_defined, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"{argument} must be JSON-serialisable (no NaN or infinity): {exc}") from None
    return user_defined


# --------------------------------------------------------------------------------------------------
# Answer envelopes
# --------------------------------------------------------------------------------------------------
def _bad(describe: str, what: str) -> InvalidResponseError:
    return InvalidResponseError(f"{describe}: {what}", request_may_have_been_processed=False)


def unwrap_data(body: Any) -> Any:
    """``{"data": X}`` -> X; a body without the envelope is returned as is."""
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    return body


def data_list(body: Any, *, describe: str = "ACRCloud answer") -> list[dict[str, Any]]:
    """``data`` as a list of objects whether the API sent an object, a list or nothing."""
    data = unwrap_data(body)
    if data is None or data == "":
        return []
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        for item in data:
            if not isinstance(item, dict):
                raise _bad(describe, f"expected objects in 'data', got {type(item).__name__}")
        return data
    raise _bad(describe, f"expected an object or a list in 'data', got {type(data).__name__}")


def data_object(body: Any, *, describe: str) -> dict[str, Any]:
    """``data`` as one object whether the API sent an object or a one-element list."""
    items = data_list(body, describe=describe)
    if not items:
        raise _bad(describe, "the answer holds no record")
    return items[0]


def page_meta(body: Any) -> dict[str, Any]:
    """``meta`` with ints (``per_page`` is a string in the docs' example); anything odd is dropped."""
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return {}
    out = dict(meta)
    for key in ("current_page", "from", "last_page", "per_page", "to", "total"):
        if key in out:
            out[key] = to_int(out[key])
    return out


def page_of(body: Any, *, describe: str, normalize: bool = False) -> dict[str, Any]:
    """One page of a list endpoint: ``{"data": [...], "links": {...}, "meta": {... ints}}``."""
    if body is not None and not isinstance(body, dict):
        raise _bad(describe, f"expected an object, got {type(body).__name__}")
    records = data_list(body or {}, describe=describe)
    if normalize:
        records = [normalize_file(r) for r in records]
    links = (body or {}).get("links")
    return {"data": records, "links": links if isinstance(links, dict) else {}, "meta": page_meta(body)}


def has_next_page(page: dict[str, Any], number: int, per_page: int) -> bool:
    """Walk on? (``links`` drop ``per_page`` in the docs' example, so pages are walked by number.)"""
    if not page["data"]:
        return False
    last_page = page["meta"].get("last_page")
    if last_page is not None:
        return number < last_page
    return bool(page["links"].get("next")) or len(page["data"]) >= per_page


def check_listing_page(page: dict[str, Any], number: int, previous: dict[str, Any] | None, *, describe: str) -> None:
    """A listing that ends early or repeats itself is an error, never "the bucket ends here": a sync reading
    it as complete would upload tracks again or take files for gone. Raises :class:`InvalidResponseError`."""
    meta = page["meta"]
    last_page, current = meta.get("last_page"), meta.get("current_page")
    problem = None
    if current is not None and current != number:
        problem = f"asked for page {number}, got page {current}"
    elif not page["data"] and last_page is not None and number < last_page:
        problem = f"page {number} of {last_page} is empty"
    elif previous is not None and page["data"] and _ids(page) == _ids(previous):
        problem = f"page {number} repeats page {number - 1}"
    if problem:
        raise _bad(describe, f"the listing is inconsistent ({problem}); not taken as complete")


def _ids(page: dict[str, Any]) -> list[Any]:
    return [r.get("id") for r in page["data"]]


# --------------------------------------------------------------------------------------------------
# Bucket files
# --------------------------------------------------------------------------------------------------
def normalize_file(record: Mapping[str, Any]) -> dict[str, Any]:
    """One bucket-file record with stable types: ids and state int, duration float, user_defined dict."""
    out = dict(record)
    for key in ("id", "uid", "bucket_id", "state"):
        if key in out:  # a boolean is no id or state (True == 1): kept as text, so it never matches one
            raw = out[key]
            out[key] = to_int(raw, repr(raw) if isinstance(raw, bool) else raw)
    if "duration" in out:
        out["duration"] = to_float(out["duration"])
    out["user_defined"] = parse_user_defined(out.get("user_defined"))
    return out


def parse_uploaded_file(body: Any, *, describe: str) -> dict[str, Any]:
    """The record an upload answered, normalised; its ``id`` must be a file id (a whole number > 0).

    Strict where it decides: an id that is an object, text, a bool, a fraction or missing is an
    ``InvalidResponseError`` naming the field (the upload may have been stored: look before sending it again).
    """
    record = normalize_file(data_object(body, describe=describe))
    file_id = record.get("id")
    if isinstance(file_id, bool) or not isinstance(file_id, int) or not 0 < file_id <= MAX_NUMERIC_ID:
        shown = type(file_id).__name__ if isinstance(file_id, (dict, list)) else repr(file_id)[:40]
        raise InvalidResponseError(
            f"{describe}: field 'id' of the uploaded file is not a file id (got {shown}); the file may have been"
            " stored: look for it before uploading again",
        )
    return record


def json_scalar(value: Any, *, limit: int = 300) -> Any:
    """``value`` if it is a JSON scalar fit for XCom and events (finite numbers, short text), else None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_NUMERIC_ID else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:limit]
    return None


def compact_file(record: Mapping[str, Any]) -> dict[str, Any]:
    """The small, XCom-friendly view of a file record (JSON scalars only, whatever the answer held)."""
    return {key: json_scalar(record.get(key)) for key in ("id", "acr_id", "bucket_id", "state", "title", "duration")}


def index_records(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Records by id and acr_id (text keys); records whose id is not an id are left out."""
    by_key: dict[str, dict[str, Any]] = {}
    for rec in records:
        if not isinstance(rec, dict):
            continue
        for raw in (rec.get("id"), rec.get("acr_id")):
            key = record_key(raw)
            if key is not None:
                by_key.setdefault(key, rec)
    return by_key


def parse_files_status(
    records: list[dict[str, Any]], requested: list[str], *, bucket_id: Any = None, fail_fast: bool = True
) -> PollResult:
    """Poll result of bucket files: success when all are ready (state 1), failed on state -1 or a missing file;
    a state the docs do not list keeps the wait going (one warning per state, never a success) until the
    deadline. ``fail_fast=False`` keeps waiting for the others when one fails."""
    by_key = {k: normalize_file(r) for k, r in index_records(records).items()}
    found: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for key in requested:
        match = by_key.get(key)
        if match is None:
            missing.append(key)
        else:
            found[str(record_key(match.get("id")) or key)] = match
    ready = [r for r in found.values() if r.get("state") == FILE_READY]
    processing = [r for r in found.values() if r.get("state") == FILE_PROCESSING]
    failed = [{**compact_file(r), "reason": "processing failed (state -1)"}
              for r in found.values() if r.get("state") == FILE_ERROR]
    unknown = tuple(unknown_state(f"file {compact_file(r)['id']}", r.get("state"), FILE_STATES)
                    for r in found.values() if r.get("state") not in FILE_STATES)
    failed += [{"id": key, "reason": "not found in the bucket"} for key in missing]
    payload: dict[str, Any] = {
        "bucket_id": bucket_id, "total": len(requested), "ready": len(ready), "processing": len(processing),
        "failed": failed[:PAYLOAD_FILES_LIMIT], "failed_count": len(failed),
    }
    if len(found) <= PAYLOAD_FILES_LIMIT:
        payload["files"] = [compact_file(r) for r in found.values()]
    message = f"{len(ready)} of {len(requested)} file(s) ready, {len(processing)} processing, {len(failed)} failed"
    if failed and (fail_fast or not (processing or unknown)):
        reasons = "; ".join(f"{f['id']}: {f['reason']}" for f in failed[:5])
        return PollResult("failed", f"{message} ({reasons})", payload)
    if processing or unknown:
        notes = "".join(f"; {note}" for note in unknown[:5])
        return PollResult("running", message + notes, payload, unknown=unknown[:5])
    return PollResult("success", message, payload)


# --------------------------------------------------------------------------------------------------
# Dump
# --------------------------------------------------------------------------------------------------
def dump_paths(configured: Any) -> list[str]:
    """Paths to try for a dump: the ``dump_path`` extra, or the documented one then the CLI's."""
    if configured:
        if configured not in DUMP_PATHS:
            raise ConfigurationError(f"Connection extra 'dump_path' must be one of {DUMP_PATHS}, got {configured!r}")
        return [str(configured)]
    return list(DUMP_PATHS)


def dump_data(body: Any, *, bucket_id: Any) -> dict[str, Any]:
    """The ``data`` object of a bucket dump answer; an :class:`InvalidResponseError` for any other shape."""
    data = unwrap_data(body)
    if not isinstance(data, dict):
        raise _bad(f"dump of bucket {bucket_id}", f"unexpected answer {type(data).__name__}")
    return data


def parse_dump_status(body: Any, *, bucket_id: Any) -> PollResult:
    """Dump answer (``status`` 0 -> 1, ``down_url``, ``task_id``; with or without a ``data`` envelope)."""
    data = dump_data(body, bucket_id=bucket_id)
    raw = data.get("status")
    status = 0 if raw is None else to_int(raw)  # a boolean or text is no status: unknown below
    task_id = data.get("task_id")
    if task_id is not None and record_key(task_id) is None:
        raise _bad(f"dump of bucket {bucket_id}", f"task_id {str(task_id)[:40]!r} is not an id")
    payload = {"bucket_id": bucket_id, "task_id": task_id, "status": status}
    if status == 1:
        if not data.get("down_url") or not isinstance(data.get("down_url"), str):
            raise _bad(f"dump of bucket {bucket_id}", "the dump is ready but has no down_url")
        return PollResult("success", f"dump {task_id} of bucket {bucket_id} is ready", payload)
    if status != 0:  # the docs list 0 and 1 only: another status is no ready dump, and no proof of a failure
        note = unknown_state(f"dump {task_id} of bucket {bucket_id}", data.get("status"), (0, 1))
        return PollResult("running", note, payload, unknown=(note,))
    return PollResult("running", f"dump {task_id} of bucket {bucket_id} in progress", payload)


# --------------------------------------------------------------------------------------------------
# Identification
# --------------------------------------------------------------------------------------------------
def identify_signature(access_key: str, access_secret: str, data_type: str, timestamp: str) -> str:
    """The documented HMAC-SHA1 signature of ``/v1/identify`` (signature_version 1)."""
    string_to_sign = "\n".join(["POST", "/v1/identify", access_key, data_type, "1", str(timestamp)])
    digest = hmac.new(access_secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def identify_host(identify_host: Any, region: Any) -> str:
    """``https://<host>/v1/identify`` from the ``identify_host`` extra, else ``identify-<region>.acrcloud.com``."""
    host = identify_host
    if not host:
        if not region:
            raise ConfigurationError(
                "identify needs the 'identify_host' (or 'region') extra of the connection, "
                "e.g. identify-eu-west-1.acrcloud.com"
            )
        host = f"identify-{check_region(region)}.acrcloud.com"
    host = str(host)
    if "://" not in host:
        host = "https://" + host
    return host.rstrip("/") + "/v1/identify"


def check_identify_status(answer: Any) -> dict[str, Any]:
    """Map ``status.code`` of an identify answer: 0 and 1001 are answers; the rest raise."""
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), dict):
        raise InvalidResponseError("POST /v1/identify: answer has no 'status' object", method="POST", path="/v1/identify")
    code = to_int(answer["status"].get("code"))
    msg = str(answer["status"].get("msg") or "")[:200]
    common: dict[str, Any] = {"method": "POST", "path": "/v1/identify", "api_message": msg, "details": {"code": code}}
    text = f"POST /v1/identify: ACRCloud status {code} ({msg})"
    if code in (0, 1001):
        return answer
    if code in (3001, 3014):
        raise AuthenticationError(text + " - check access_key/access_secret of the connection", **common)
    if code in (3002, 3006, 3016):
        raise ValidationError(text, **common)
    if code == 3003:
        raise ClientRequestError(text + " - recognition quota exhausted", **common)
    if code == 3015:
        raise RateLimitError(text, request_may_have_been_processed=False, **common)
    if code == 3000:
        raise ServerError(text, **common)
    raise MusicApiError(text, **common)


# --------------------------------------------------------------------------------------------------
# Uploads and errors
# --------------------------------------------------------------------------------------------------
def audio_content_type(name: str) -> str:
    """The MIME type of an audio (or mp4 video) file by its extension; ``application/octet-stream`` if unknown."""
    ext = os.path.splitext(name)[1].lower()
    return {
        ".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".m4a": "audio/mp4",
        ".aac": "audio/aac", ".ogg": "audio/ogg", ".mp4": "video/mp4",
    }.get(ext, "application/octet-stream")


def link_upload_body(
    data_type: str, source: Any, url: Any, acrid: Any, title: str | None, ud: dict[str, Any] | None
) -> dict[str, Any]:
    """JSON body of an ``audio_url`` / ``acrid`` upload (``user_defined`` as an object, as documented)."""
    if source is not None:
        raise InvalidInputError(f"data_type={data_type!r} takes no source file")
    payload: dict[str, Any] = {"data_type": data_type}
    if data_type == "audio_url":
        if not url or not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https", "ftp"):
            raise InvalidInputError("url is required for data_type='audio_url' (an http, https or ftp URL)")
        payload["url"] = url
    else:
        payload["acrid"] = check_acrid(acrid)
    if title is not None:
        payload["title"] = title
    if ud is not None:
        payload["user_defined"] = ud
    return payload


def answer_was_lost(exc: BaseException) -> bool:
    """Could a create have happened although we got no usable answer? The provider's ONE rule
    (:func:`airflow_provider_music.core.errors.answer_lost`: no answer, 408/499, 5xx but 503, unreadable 2xx)."""
    from airflow_provider_music.core.errors import answer_lost  # the rule lives in core (imports Airflow)

    return answer_lost(exc)


def check_acrid(acrid: Any) -> str:
    """``acrid`` if it looks like an ACRCloud Music acrid (required for ``data_type='acrid'``)."""
    if not isinstance(acrid, str) or not _ID_RE.match(acrid):
        raise InvalidInputError("acrid is required for data_type='acrid' (an ACRCloud Music acrid)")
    return acrid


def is_acr_id(value: Any) -> bool:
    """Is ``value`` an ACRCloud id (``acr_id`` of a bucket file)?"""
    return isinstance(value, str) and bool(_ACR_ID_RE.match(value))


__all__ = [
    "BUCKET_TYPES", "CONSOLE_URL", "DEFAULT_BASE_URL", "DUMP_PATHS", "FILE_DATA_TYPES", "FILE_ERROR",
    "FILE_PROCESSING", "FILE_READY", "IDENTIFY_DATA_TYPES", "IDS_PER_REQUEST", "MAX_PER_PAGE",
    "PAYLOAD_FILES_LIMIT", "REGIONS", "answer_was_lost", "audio_content_type", "bucket_path", "check_listing_page",
    "check_identify_status", "check_user_defined", "chunked", "compact_file", "data_list", "data_object",
    "dump_paths", "identify_signature", "join_ids", "normalize_file", "page_meta", "page_of",
    "parse_dump_status", "parse_files_status", "parse_uploaded_file", "parse_user_defined", "split_ids", "to_float",
    "to_int",
]
