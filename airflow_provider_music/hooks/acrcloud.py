"""ACRCloud hook: Console API (buckets, audio files, dumps, file-scanning containers) and identification.

Built on :class:`~airflow_provider_music.core.MusicApiHook`: retries, streaming multipart uploads, atomic
downloads and the error hierarchy come from the core. This module adds the ACRCloud endpoints, their
documented quirks (``duration`` string or number, ``per_page`` string or number, ``user_defined`` as a
JSON string in multipart and an object in JSON bodies, ``data`` object or list, 200 or 201 on create)
and the status functions used by operators, sensors and triggers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_music.core import (
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    MusicApiError,
    MusicApiHook,
    NotFoundError,
    PollResult,
    RateLimitError,
    ServerError,
    ValidationError,
    check_audio_content,
    clean_params,
    redact_url,
    resolve_source,
    safe_file_name,
)

FILE_DATA_TYPES = ("audio", "fingerprint", "audio_url", "acrid")
FS_DATA_TYPES = ("audio", "fingerprint", "audio_url", "platforms")
IDENTIFY_DATA_TYPES = ("audio", "fingerprint")
REGIONS = ("eu-west-1", "us-west-2", "ap-southeast-1")
BUCKET_TYPES = ("File", "Live", "LiveRec", "LiveTimeshift")
DUMP_PATHS = ("dump", "files/dump")

#: Audio-file states (``state`` of a bucket file).
FILE_PROCESSING, FILE_READY, FILE_ERROR = 0, 1, -1
#: File-scanning states: 0 processing, 1 results, -1 no results, -2/-3 error.
FS_PROCESSING, FS_READY, FS_NO_RESULT = 0, 1, -1
FS_ERROR_STATES = (-2, -3)

#: Largest ``per_page`` used when walking pages (ACRCloud's maximum is undocumented; 100 is safe).
MAX_PER_PAGE = 100
#: Ids per ``GET .../files/:ids`` request.
IDS_PER_REQUEST = 100
#: At most this many file records are put in a poll payload (it ends up in XCom / trigger events).
PAYLOAD_FILES_LIMIT = 100

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ACR_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$")


# --------------------------------------------------------------------------------------------------
# Pure helpers (quirk handling); unit tested without HTTP
# --------------------------------------------------------------------------------------------------
def join_ids(ids: Any, *, argument: str = "ids") -> str:
    """Ids given as an int, an acr_id, a comma-joined string or a list of those -> ``"1,2,abc..."``."""
    items: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, bool) or value is None:
            raise InvalidInputError(f"{argument}: {value!r} is not a file id or acr_id")
        if isinstance(value, int):
            if value < 0:
                raise InvalidInputError(f"{argument}: ids must be positive, got {value}")
            items.append(str(value))
            return
        if isinstance(value, str):
            for part in value.split(","):
                part = part.strip()
                if not part:
                    continue
                if not _ID_RE.match(part):
                    raise InvalidInputError(
                        f"{argument}: {part!r} is not a file id or acr_id (digits, letters, '-' or '_')"
                    )
                items.append(part)
            return
        raise InvalidInputError(f"{argument}: expected ints, strings or a list of them, got {type(value).__name__}")

    if isinstance(ids, (list, tuple, set, frozenset)):
        for value in ids:
            add(value)
    else:
        add(ids)
    unique = list(dict.fromkeys(items))
    if not unique:
        raise InvalidInputError(f"{argument} must name at least one file id or acr_id")
    return ",".join(unique)


def split_ids(ids: Any, *, argument: str = "ids") -> list[str]:
    return join_ids(ids, argument=argument).split(",")


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def to_int(value: Any, default: int | None = None) -> int | None:
    """``"20"`` / ``20`` / ``20.0`` -> 20; anything else -> ``default``."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def to_float(value: Any) -> float | None:
    """``"78.524082"`` / ``79`` -> float; anything else -> None."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_user_defined(value: Any) -> dict[str, Any]:
    """``user_defined`` comes back as an object; tolerate a JSON string, ``null`` or ``[]`` (empty PHP array)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
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
        except ValueError:
            raise InvalidInputError(
                f"{argument}: not valid JSON text; give a dict or a JSON object string such as '{{\"isrc\": \"...\"}}'"
            ) from None
    if not isinstance(user_defined, dict):
        raise InvalidInputError(f"{argument} must be a dict (JSON object), got {type(user_defined).__name__}")
    try:
        json.dumps(user_defined, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{argument} must be JSON-serialisable: {exc}") from None
    return user_defined


def normalize_file(record: Mapping[str, Any]) -> dict[str, Any]:
    """One bucket-file record with stable types: ids and state int, duration float, user_defined dict."""
    out = dict(record)
    for key in ("id", "uid", "bucket_id", "state"):
        if key in out:
            out[key] = to_int(out[key], out[key])
    if "duration" in out:
        out["duration"] = to_float(out["duration"])
    out["user_defined"] = parse_user_defined(out.get("user_defined"))
    return out


def compact_file(record: Mapping[str, Any]) -> dict[str, Any]:
    """The small, XCom-friendly view of a file record."""
    return {
        "id": record.get("id"),
        "acr_id": record.get("acr_id"),
        "bucket_id": record.get("bucket_id"),
        "state": record.get("state"),
        "title": record.get("title"),
        "duration": record.get("duration"),
    }


def unwrap_data(body: Any) -> Any:
    """``{"data": X}`` -> X; a body without the envelope is returned as is."""
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    return body


def data_list(body: Any) -> list[dict[str, Any]]:
    """``data`` as a list whether the API sent an object, a list or nothing."""
    data = unwrap_data(body)
    if data is None:
        return []
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    raise InvalidResponseError(f"expected an object or a list in 'data', got {type(data).__name__}")


def data_object(body: Any, *, describe: str) -> dict[str, Any]:
    """``data`` as one object whether the API sent an object or a one-element list."""
    items = data_list(body)
    if not items:
        raise InvalidResponseError(f"{describe}: the answer holds no record")
    return items[0]


def page_meta(body: Any) -> dict[str, Any]:
    """``meta`` with ints (``per_page`` is a string in the docs' example)."""
    meta = dict(body.get("meta") or {}) if isinstance(body, dict) else {}
    for key in ("current_page", "from", "last_page", "per_page", "to", "total"):
        if key in meta:
            meta[key] = to_int(meta[key])
    return meta


def identify_signature(access_key: str, access_secret: str, data_type: str, timestamp: str) -> str:
    """The documented HMAC-SHA1 signature of ``/v1/identify`` (signature_version 1)."""
    string_to_sign = "\n".join(["POST", "/v1/identify", access_key, data_type, "1", str(timestamp)])
    digest = hmac.new(access_secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_files_status(
    records: list[dict[str, Any]], requested: list[str], *, bucket_id: Any = None, fail_fast: bool = True
) -> PollResult:
    """Poll result of bucket files: success when all are ready (state 1), failed on state -1 or a missing file.

    ``fail_fast=False`` keeps waiting for the others when one fails and reports failure only at the end.
    """
    by_key: dict[str, dict[str, Any]] = {}
    for rec in records:
        norm = normalize_file(rec)
        by_key[str(norm.get("id"))] = norm
        if norm.get("acr_id"):
            by_key[str(norm["acr_id"])] = norm
    found: dict[Any, dict[str, Any]] = {}
    missing: list[str] = []
    for key in requested:
        match = by_key.get(key)
        if match is None:
            missing.append(key)
        else:
            found[match.get("id")] = match
    ready = [r for r in found.values() if r.get("state") == FILE_READY]
    errored = [r for r in found.values() if r.get("state") == FILE_ERROR]
    processing = [r for r in found.values() if r.get("state") not in (FILE_READY, FILE_ERROR)]
    failed = [{**compact_file(r), "reason": "processing failed (state -1)"} for r in errored]
    failed += [{"id": key, "reason": "not found in the bucket"} for key in missing]
    payload: dict[str, Any] = {
        "bucket_id": bucket_id,
        "total": len(requested),
        "ready": len(ready),
        "processing": len(processing),
        "failed": failed[:PAYLOAD_FILES_LIMIT],
        "failed_count": len(failed),
    }
    if len(found) <= PAYLOAD_FILES_LIMIT:
        payload["files"] = [compact_file(r) for r in found.values()]
    message = f"{len(ready)} of {len(requested)} file(s) ready, {len(processing)} processing, {len(failed)} failed"
    if failed and (fail_fast or not processing):
        reasons = "; ".join(f"{f['id']}: {f['reason']}" for f in failed[:5])
        return PollResult("failed", f"{message} ({reasons})", payload)
    if processing:
        return PollResult("running", message, payload)
    return PollResult("success", message, payload)


def parse_dump_status(body: Any, *, bucket_id: Any) -> PollResult:
    """Dump answer (``status`` 0 -> 1, ``down_url``, ``task_id``; with or without a ``data`` envelope)."""
    data = unwrap_data(body)
    if not isinstance(data, dict):
        raise InvalidResponseError(f"dump of bucket {bucket_id}: unexpected answer {type(data).__name__}")
    status = to_int(data.get("status"), 0)
    payload = {"bucket_id": bucket_id, "task_id": data.get("task_id"), "status": status}
    if status == 1:
        if not data.get("down_url"):
            raise InvalidResponseError(f"dump of bucket {bucket_id} is ready but has no down_url")
        return PollResult("success", f"dump {data.get('task_id')} of bucket {bucket_id} is ready", payload)
    if status is not None and status < 0:
        return PollResult("failed", f"dump {data.get('task_id')} of bucket {bucket_id} failed (status {status})", payload)
    return PollResult("running", f"dump {data.get('task_id')} of bucket {bucket_id} in progress", payload)


def parse_fs_files_status(records: list[dict[str, Any]], requested: list[str], *, container_id: Any) -> PollResult:
    """File-scanning poll result: 0 processing; 1 (results) and -1 (no results) done; -2/-3 failed."""
    by_id = {str(r.get("id")): r for r in records}
    files: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    processing = 0
    for key in requested:
        rec = by_id.get(key)
        if rec is None:
            failed.append({"id": key, "reason": "not found in the container"})
            continue
        state = to_int(rec.get("state"), 0)
        files.append({"id": key, "state": state, "name": rec.get("name")})
        if state in FS_ERROR_STATES:
            failed.append({"id": key, "state": state, "reason": f"scan error (state {state})"})
        elif state not in (FS_READY, FS_NO_RESULT):
            processing += 1
    payload = {"container_id": container_id, "files": files[:PAYLOAD_FILES_LIMIT], "failed": failed[:PAYLOAD_FILES_LIMIT]}
    message = f"{len(requested) - processing - len(failed)} of {len(requested)} scan(s) done, {len(failed)} failed"
    if failed:
        reasons = "; ".join(f"{f['id']}: {f['reason']}" for f in failed[:5])
        return PollResult("failed", f"{message} ({reasons})", payload)
    if processing:
        return PollResult("running", message, payload)
    return PollResult("success", message, payload)


def _bucket_path(bucket_id: Any, *, argument: str = "bucket_id") -> str:
    value = to_int(bucket_id)
    if value is None or value <= 0 or (isinstance(bucket_id, str) and not bucket_id.strip().isdigit()):
        raise InvalidInputError(f"{argument} must be a positive integer bucket id, got {bucket_id!r}")
    return str(value)


# --------------------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------------------
class AcrCloudHook(MusicApiHook):
    """ACRCloud Console API and identification.

    Connection (type ``acrcloud``): password = Console API bearer token; host = base URL (default
    ``https://api-v2.acrcloud.com/api``). Extras: ``bucket_id`` (default bucket), ``region``,
    ``identify_host``, ``access_key`` and ``access_secret`` (a recognition project's keys, for
    :meth:`identify`), ``dump_path`` (``dump`` as documented or ``files/dump`` as the official CLI),
    ``fs_base_url`` (host of file-scanning files when it differs, e.g. ``https://api-eu-west-1.acrcloud.com/api``).
    """

    conn_name_attr = "conn_id"
    default_conn_name = "acrcloud_default"
    conn_type = "acrcloud"
    hook_name = "ACRCloud"
    default_base_url = "https://api-v2.acrcloud.com/api/"

    # ---- settings helpers -------------------------------------------------------------------
    def default_bucket(self, bucket_id: Any = None) -> str:
        """``bucket_id`` or the connection's default bucket (validated)."""
        if bucket_id is None or bucket_id == "":
            bucket_id = self.settings.extra("bucket_id")
            if bucket_id in (None, ""):
                raise InvalidInputError(
                    "bucket_id is required: pass it or set the 'bucket_id' extra of the connection"
                )
        return _bucket_path(bucket_id)

    def _same_origin(self, url: str, settings: Any) -> bool:
        """The bearer token also goes to ACRCloud's regional API hosts (``down_url``, FsFiles), never elsewhere."""
        if super()._same_origin(url, settings):
            return True
        target = urlsplit(url)
        base = urlsplit(settings.base_url)
        host = (target.hostname or "").lower()
        return (
            target.scheme == "https"
            and base.scheme == "https"
            and (base.hostname or "").lower().endswith((".acrcloud.com", ".acrcloud.cn"))
            and host.endswith((".acrcloud.com", ".acrcloud.cn"))
            and not host.startswith("identify-")
        )

    def check_connection(self) -> None:
        self.list_buckets(per_page=1)

    # ---- buckets ----------------------------------------------------------------------------
    def list_buckets(
        self,
        *,
        page: int | None = None,
        per_page: int | None = None,
        region: str | None = None,
        type: str | None = None,  # noqa: A002 - the API's parameter name
        search: str | None = None,
    ) -> dict[str, Any]:
        """One page of buckets: ``{"data": [...], "links": {...}, "meta": {...}}`` (meta values as ints)."""
        if region is not None and region not in REGIONS:
            raise InvalidInputError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
        params = clean_params({"page": page, "per_page": per_page, "region": region, "type": type, "search": search})
        body = self.request_json("GET", "buckets", params=params) or {}
        return {"data": data_list(body), "links": body.get("links") or {}, "meta": page_meta(body)}

    def get_bucket(self, bucket_id: Any) -> dict[str, Any]:
        return data_object(self.request_json("GET", f"buckets/{_bucket_path(bucket_id)}"), describe="get bucket")

    def create_bucket(
        self,
        name: str,
        *,
        region: str,
        type: str = "File",  # noqa: A002
        net_type: int | None = None,
        labels: list[str] | None = None,
        metadata_template: Any = None,
    ) -> dict[str, Any]:
        """Create a bucket (201 documented; any 2xx accepted)."""
        if not name or not isinstance(name, str):
            raise InvalidInputError("name is required (a non-empty string)")
        if region not in REGIONS:
            raise InvalidInputError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
        if type not in BUCKET_TYPES:
            raise InvalidInputError(f"type must be one of {', '.join(BUCKET_TYPES)}, got {type!r}")
        if net_type is not None and net_type not in (0, 1, 2):
            raise InvalidInputError(f"net_type must be 0, 1 or 2, got {net_type!r}")
        if isinstance(metadata_template, dict):
            metadata_template = json.dumps(metadata_template)
        body = {
            k: v
            for k, v in {
                "name": name,
                "region": region,
                "type": type,
                "net_type": net_type,
                "labels": labels,
                "metadata_template": metadata_template,
            }.items()
            if v is not None
        }
        return data_object(self.request_json("POST", "buckets", json_body=body), describe="create bucket")

    def update_bucket(
        self, bucket_id: Any, *, name: str | None = None, labels: list[str] | None = None, metadata_template: Any = None
    ) -> dict[str, Any]:
        if isinstance(metadata_template, dict):
            metadata_template = json.dumps(metadata_template)
        body = {k: v for k, v in {"name": name, "labels": labels, "metadata_template": metadata_template}.items() if v is not None}
        if not body:
            raise InvalidInputError("update_bucket needs at least one of name, labels, metadata_template")
        path = f"buckets/{_bucket_path(bucket_id)}"
        return data_object(self.request_json("PUT", path, json_body=body), describe="update bucket")

    def delete_bucket(self, bucket_id: Any) -> None:
        self.request_json("DELETE", f"buckets/{_bucket_path(bucket_id)}")

    # ---- audio files ------------------------------------------------------------------------
    def upload_file(
        self,
        bucket_id: Any,
        *,
        data_type: str,
        source: Any = None,
        url: str | None = None,
        acrid: str | None = None,
        title: str | None = None,
        user_defined: Any = None,
        filename: str | None = None,
    ) -> dict[str, Any]:
        """Add a file to a bucket and return its (normalised) record.

        ``audio`` / ``fingerprint`` stream ``source`` (path, ``ObjectStoragePath`` or binary file object) as
        multipart with ``user_defined`` as a JSON string; ``audio_url`` / ``acrid`` send a JSON body with
        ``user_defined`` as an object. This POST is not retried once it may have reached the server: on an
        error with ``request_may_have_been_processed`` look for the file before uploading again.
        """
        bucket = self.default_bucket(bucket_id)
        if data_type not in FILE_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FILE_DATA_TYPES)}, got {data_type!r}")
        ud = check_user_defined(user_defined)
        if title is not None and not isinstance(title, str):
            raise InvalidInputError(f"title must be a string, got {type(title).__name__}")
        path = f"buckets/{bucket}/files"
        if data_type in ("audio", "fingerprint"):
            if url is not None or acrid is not None:
                raise InvalidInputError(f"data_type={data_type!r} uploads a file: do not pass url or acrid")
            upload = resolve_source(source, argument="source")
            if data_type == "audio":
                check_audio_content(upload)
            fields = {"data_type": data_type}
            if title is not None:
                fields["title"] = title
            if ud is not None:
                fields["user_defined"] = json.dumps(ud)
            content_type = "application/octet-stream" if data_type == "fingerprint" else _audio_content_type(upload.name)
            body = self.upload_multipart(
                "POST", path, fields=fields, file_field="file", source=upload,
                filename=safe_file_name(filename or upload.name, "upload"), content_type=content_type,
            )
        else:
            if source is not None:
                raise InvalidInputError(f"data_type={data_type!r} takes no source file")
            payload: dict[str, Any] = {"data_type": data_type}
            if data_type == "audio_url":
                if not url or not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https", "ftp"):
                    raise InvalidInputError("url is required for data_type='audio_url' (an http, https or ftp URL)")
                payload["url"] = url
            else:
                if not acrid or not isinstance(acrid, str) or not _ID_RE.match(acrid):
                    raise InvalidInputError("acrid is required for data_type='acrid' (an ACRCloud Music acrid)")
                payload["acrid"] = acrid
            if title is not None:
                payload["title"] = title
            if ud is not None:
                payload["user_defined"] = ud
            body = self.request_json("POST", path, json_body=payload)
        record = normalize_file(data_object(body, describe=f"upload to bucket {bucket}"))
        self.log.info(
            "Uploaded %s to ACRCloud bucket %s: file id %s, acr_id %s",
            data_type, bucket, record.get("id"), record.get("acr_id"),
        )
        return record

    def list_files(
        self,
        bucket_id: Any,
        *,
        search: str | None = None,
        sort: str | None = None,
        order: str | None = None,
        page: int | None = None,
        per_page: int | None = None,
        state: int | None = None,
    ) -> dict[str, Any]:
        """One page of a bucket's files: ``{"data": [records], "links": {...}, "meta": {... ints}}``."""
        bucket = self.default_bucket(bucket_id)
        if sort is not None and sort not in ("id", "status"):
            raise InvalidInputError(f"sort must be 'id' or 'status', got {sort!r}")
        if order is not None and order not in ("asc", "desc"):
            raise InvalidInputError(f"order must be 'asc' or 'desc', got {order!r}")
        if state is not None and to_int(state) not in (FILE_PROCESSING, FILE_READY, FILE_ERROR):
            raise InvalidInputError(f"state must be 0 (processing), 1 (ready) or -1 (error), got {state!r}")
        for name, value in (("page", page), ("per_page", per_page)):
            if value is not None and (to_int(value) or 0) < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
        params = clean_params(
            {"search": search, "sort": sort, "order": order, "page": page, "per_page": per_page, "state": state}
        )
        body = self.request_json("GET", f"buckets/{bucket}/files", params=params) or {}
        return {
            "data": [normalize_file(r) for r in data_list(body)],
            "links": body.get("links") or {},
            "meta": page_meta(body),
        }

    def iter_files(self, bucket_id: Any, *, per_page: int = MAX_PER_PAGE, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every file of a bucket, walking pages by number (``links`` drop ``per_page`` in the docs' example)."""
        page = 1
        while True:
            result = self.list_files(bucket_id, page=page, per_page=per_page, **filters)
            yield from result["data"]
            meta = result["meta"]
            last_page = meta.get("last_page")
            if not result["data"]:
                return
            if last_page is not None:
                if page >= last_page:
                    return
            elif not (result["links"] or {}).get("next") and len(result["data"]) < per_page:
                return
            page += 1

    def get_files(self, bucket_id: Any, ids: Any) -> list[dict[str, Any]]:
        """Files by ids or acr_ids (batched, ``IDS_PER_REQUEST`` per call)."""
        bucket = self.default_bucket(bucket_id)
        out: list[dict[str, Any]] = []
        for batch in chunked(split_ids(ids), IDS_PER_REQUEST):
            body = self.request_json("GET", f"buckets/{bucket}/files/{quote(','.join(batch), safe=',')}")
            out.extend(normalize_file(r) for r in data_list(body))
        return out

    def update_file(self, bucket_id: Any, id: Any, *, title: str | None = None, user_defined: Any = None) -> dict[str, Any]:  # noqa: A002
        """Update a file's title and/or user_defined (only metadata can change)."""
        bucket = self.default_bucket(bucket_id)
        file_id = join_ids(id, argument="id")
        if "," in file_id:
            raise InvalidInputError("id must name exactly one file (id or acr_id)")
        ud = check_user_defined(user_defined)
        if title is None and ud is None:
            raise InvalidInputError("update_file needs title and/or user_defined")
        body: dict[str, Any] = {}
        if title is not None:
            body["title"] = title
        if ud is not None:
            body["user_defined"] = ud
        result = self.request_json("PUT", f"buckets/{bucket}/files/{file_id}", json_body=body)
        return normalize_file(data_object(result, describe=f"update file {file_id}"))

    def delete_files(self, bucket_id: Any, ids: Any, *, missing_ok: bool = True) -> list[str]:
        """Delete files by ids/acr_ids (batched). Already-deleted files are fine unless ``missing_ok=False``."""
        bucket = self.default_bucket(bucket_id)
        deleted: list[str] = []
        for batch in chunked(split_ids(ids), IDS_PER_REQUEST):
            try:
                self.request_json("DELETE", f"buckets/{bucket}/files/{','.join(batch)}")
            except NotFoundError:
                if not missing_ok:
                    raise
                self.log.info("Files %s were already gone from bucket %s", ",".join(batch), bucket)
            deleted.extend(batch)
        return deleted

    def move_files(self, target_bucket_id: Any, ids: Any) -> list[dict[str, Any]]:
        """Move files to ``target_bucket_id`` (``PUT /buckets/:target/files/:ids/move`` as documented)."""
        bucket = _bucket_path(target_bucket_id, argument="target_bucket_id")
        out: list[dict[str, Any]] = []
        for batch in chunked(split_ids(ids), IDS_PER_REQUEST):
            body = self.request_json("PUT", f"buckets/{bucket}/files/{','.join(batch)}/move")
            try:
                out.extend(normalize_file(r) for r in data_list(body))
            except InvalidResponseError:
                pass
        return out

    # ---- dump ---------------------------------------------------------------------------------
    def _dump_paths(self) -> list[str]:
        configured = self.settings.extra("dump_path")
        if configured:
            if configured not in DUMP_PATHS:
                raise ConfigurationError(f"Connection extra 'dump_path' must be one of {DUMP_PATHS}, got {configured!r}")
            return [configured]
        return list(DUMP_PATHS)

    def dump_files(self, bucket_id: Any) -> dict[str, Any]:
        """Start (or look up today's) dump of a bucket: ``{"status", "down_url", "id", "name", "task_id"}``.

        The documented path is ``/buckets/:id/dump``; the official CLI uses ``/buckets/:id/files/dump``.
        Unless the ``dump_path`` extra pins one, the other is tried when the first answers 404.
        """
        bucket = self.default_bucket(bucket_id)
        paths = self._dump_paths()
        for index, sub in enumerate(paths):
            try:
                body = self.request_json("GET", f"buckets/{bucket}/{sub}")
            except NotFoundError:
                if index == len(paths) - 1:
                    raise
                continue
            data = unwrap_data(body)
            if not isinstance(data, dict):
                raise InvalidResponseError(f"dump of bucket {bucket}: unexpected answer")
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def dump_status(self, bucket_id: Any) -> PollResult:
        bucket = self.default_bucket(bucket_id)
        return parse_dump_status(self.dump_files(bucket), bucket_id=int(bucket))

    async def adump_status(self, bucket_id: Any) -> PollResult:
        bucket = _bucket_path(bucket_id)
        settings = await self.aget_settings()
        configured = settings.extra("dump_path")
        paths = [configured] if configured else list(DUMP_PATHS)
        for index, sub in enumerate(paths):
            try:
                body = await self.arequest_json("GET", f"buckets/{bucket}/{sub}")
            except NotFoundError:
                if index == len(paths) - 1:
                    raise
                continue
            return parse_dump_status(body, bucket_id=int(bucket))
        raise AssertionError("unreachable")  # pragma: no cover

    def download_dump(self, bucket_id: Any, destination: Any) -> Any:
        """Download a ready dump to ``destination`` (path / ``ObjectStoragePath``); returns the path."""
        data = self.dump_files(bucket_id)
        if to_int(data.get("status")) != 1 or not data.get("down_url"):
            raise MusicApiError(f"dump of bucket {bucket_id} is not ready yet (status {data.get('status')!r})")
        self.log.info("Downloading dump %s of bucket %s from %s", data.get("task_id"), bucket_id, redact_url(data["down_url"]))
        return self.download(str(data["down_url"]), destination)

    # ---- file status (sensors / triggers / operators) ------------------------------------------
    def files_status(self, bucket_id: Any, ids: Any, fail_fast: bool = True) -> PollResult:
        """Are the files ready? (state 1 all -> success; -1 or missing -> failed; else running)."""
        bucket = self.default_bucket(bucket_id)
        requested = split_ids(ids)
        records = self.get_files(bucket, requested)
        return parse_files_status(records, requested, bucket_id=int(bucket), fail_fast=fail_fast)

    async def afiles_status(self, bucket_id: Any, ids: Any, fail_fast: bool = True) -> PollResult:
        """Async twin of :meth:`files_status`. Polls of many triggers in one event loop (the triggerer)
        for the same bucket are coalesced into shared ``GET files/:ids`` requests of up to 100 ids."""
        bucket = _bucket_path(bucket_id)
        requested = split_ids(ids)
        records = await _FILE_POLL_BATCHER.fetch(self, bucket, requested)
        return parse_files_status(records, requested, bucket_id=int(bucket), fail_fast=fail_fast)

    async def _aget_files(self, bucket: str, ids: list[str]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for batch in chunked(ids, IDS_PER_REQUEST):
            body = await self.arequest_json("GET", f"buckets/{bucket}/files/{','.join(batch)}")
            records.extend(data_list(body))
        return records

    # ---- file scanning: containers --------------------------------------------------------------
    def list_fs_containers(
        self, *, page: int | None = None, per_page: int | None = None, region: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        params = clean_params({"page": page, "per_page": per_page, "region": region, "name": name})
        body = self.request_json("GET", "fs-containers", params=params) or {}
        return {"data": data_list(body), "links": body.get("links") or {}, "meta": page_meta(body)}

    def get_fs_container(self, container_id: Any) -> dict[str, Any]:
        cid = _bucket_path(container_id, argument="container_id")
        return data_object(self.request_json("GET", f"fs-containers/{cid}"), describe="get container")

    def create_fs_container(
        self,
        name: str,
        *,
        region: str,
        buckets: list[Any],
        audio_type: str = "linein",
        engine: int = 1,
        policy: dict[str, Any] | None = None,
        callback_url: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Create a file-scanning container scanning against ``buckets`` (ids or names, e.g. ``"ACRCloud Music"``)."""
        if not name:
            raise InvalidInputError("name is required")
        if region not in REGIONS:
            raise InvalidInputError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
        if audio_type not in ("linein", "recorded"):
            raise InvalidInputError(f"audio_type must be 'linein' or 'recorded', got {audio_type!r}")
        if engine not in (1, 2, 3, 4):
            raise InvalidInputError(f"engine must be 1, 2, 3 or 4, got {engine!r}")
        if not buckets or not isinstance(buckets, (list, tuple)):
            raise InvalidInputError("buckets must be a non-empty list of bucket ids or names")
        body: dict[str, Any] = {"name": name, "region": region, "audio_type": audio_type, "buckets": list(buckets), "engine": engine}
        if policy is not None:
            body["policy"] = policy
        if callback_url is not None:
            body["callback_url"] = callback_url
        body.update({k: v for k, v in options.items() if v is not None})
        return data_object(self.request_json("POST", "fs-containers", json_body=body), describe="create container")

    def update_fs_container(self, container_id: Any, **fields: Any) -> dict[str, Any]:
        cid = _bucket_path(container_id, argument="container_id")
        body = {k: v for k, v in fields.items() if v is not None}
        if not body:
            raise InvalidInputError("update_fs_container needs at least one field")
        return data_object(self.request_json("PUT", f"fs-containers/{cid}", json_body=body), describe="update container")

    def delete_fs_container(self, container_id: Any) -> None:
        self.request_json("DELETE", f"fs-containers/{_bucket_path(container_id, argument='container_id')}")

    # ---- file scanning: files -------------------------------------------------------------------
    def _fs_base(self) -> str:
        explicit = self.settings.extra("fs_base_url")
        return str(explicit).rstrip("/") + "/" if explicit else self.settings.base_url

    def upload_fs_file(
        self,
        container_id: Any,
        *,
        data_type: str = "audio",
        source: Any = None,
        url: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Submit a file (``audio``/``fingerprint``, streamed) or a link (``audio_url``/``platforms``) for scanning."""
        cid = _bucket_path(container_id, argument="container_id")
        if data_type not in FS_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FS_DATA_TYPES)}, got {data_type!r}")
        path = f"{self._fs_base()}fs-containers/{cid}/files"
        if data_type in ("audio", "fingerprint"):
            if url is not None:
                raise InvalidInputError(f"data_type={data_type!r} uploads a file: do not pass url")
            upload = resolve_source(source, argument="source")
            if data_type == "audio":
                check_audio_content(upload)
            fields = {"data_type": data_type}
            if name:
                fields["name"] = name
            body = self.upload_multipart(
                "POST", path, fields=fields, file_field="file", source=upload,
                filename=safe_file_name(upload.name, "upload"), content_type=_audio_content_type(upload.name),
            )
        else:
            if source is not None:
                raise InvalidInputError(f"data_type={data_type!r} takes no source file")
            if not url or urlsplit(url).scheme not in ("http", "https", "ftp"):
                raise InvalidInputError(f"url is required for data_type={data_type!r} (an http, https or ftp URL)")
            payload = {"data_type": data_type, "url": url}
            if name:
                payload["name"] = name
            body = self.request_json("POST", path, json_body=payload)
        record = data_object(body, describe=f"scan upload to container {cid}")
        if "id" not in record and "file_id" in record:
            record["id"] = record["file_id"]
        self.log.info("Submitted %s for scanning in container %s: file id %s", data_type, cid, record.get("id"))
        return record

    def list_fs_files(
        self,
        container_id: Any,
        *,
        page: int | None = None,
        per_page: int | None = None,
        search: str | None = None,
        with_result: bool = False,
        state: int | None = None,
    ) -> dict[str, Any]:
        cid = _bucket_path(container_id, argument="container_id")
        params = clean_params(
            {"page": page, "per_page": per_page, "search": search, "with_result": 1 if with_result else None, "state": state}
        )
        body = self.request_json("GET", f"{self._fs_base()}fs-containers/{cid}/files", params=params) or {}
        return {"data": data_list(body), "links": body.get("links") or {}, "meta": page_meta(body)}

    def get_fs_files(self, container_id: Any, ids: Any) -> list[dict[str, Any]]:
        """Scanned files with their results (``data`` object or list both accepted)."""
        cid = _bucket_path(container_id, argument="container_id")
        out: list[dict[str, Any]] = []
        for batch in chunked(split_ids(ids, argument="file_ids"), IDS_PER_REQUEST):
            body = self.request_json("GET", f"{self._fs_base()}fs-containers/{cid}/files/{','.join(batch)}")
            out.extend(data_list(body))
        return out

    def delete_fs_files(self, container_id: Any, ids: Any) -> None:
        cid = _bucket_path(container_id, argument="container_id")
        self.request_json("DELETE", f"{self._fs_base()}fs-containers/{cid}/files/{join_ids(ids, argument='file_ids')}")

    def rescan_fs_files(self, container_id: Any, ids: Any) -> Any:
        cid = _bucket_path(container_id, argument="container_id")
        return self.request_json(
            "PUT", f"{self._fs_base()}fs-containers/{cid}/files/{join_ids(ids, argument='file_ids')}/rescan"
        )

    def fs_files_status(self, container_id: Any, file_ids: Any) -> PollResult:
        requested = split_ids(file_ids, argument="file_ids")
        return parse_fs_files_status(self.get_fs_files(container_id, requested), requested, container_id=to_int(container_id))

    async def afs_files_status(self, container_id: Any, file_ids: Any) -> PollResult:
        cid = _bucket_path(container_id, argument="container_id")
        requested = split_ids(file_ids, argument="file_ids")
        settings = await self.aget_settings()
        explicit = settings.extra("fs_base_url")
        base = str(explicit).rstrip("/") + "/" if explicit else settings.base_url
        records: list[dict[str, Any]] = []
        for batch in chunked(requested, IDS_PER_REQUEST):
            records.extend(data_list(await self.arequest_json("GET", f"{base}fs-containers/{cid}/files/{','.join(batch)}")))
        return parse_fs_files_status(records, requested, container_id=int(cid))

    # ---- identification ---------------------------------------------------------------------------
    def _identify_url(self) -> str:
        host = self.settings.extra("identify_host")
        if not host:
            region = self.settings.extra("region")
            if not region:
                raise ConfigurationError(
                    "identify needs the 'identify_host' (or 'region') extra of the connection, "
                    "e.g. identify-eu-west-1.acrcloud.com"
                )
            host = f"identify-{region}.acrcloud.com"
        host = str(host)
        if "://" not in host:
            host = "https://" + host
        return host.rstrip("/") + "/v1/identify"

    def identify(self, sample: Any, data_type: str = "audio", *, timestamp: str | None = None) -> dict[str, Any]:
        """Recognise ``sample`` (audio or a recognition fingerprint) with the documented HMAC-SHA1 signature.

        Returns the answer (``status``, ``metadata``); "no result" (1001) is a normal answer with no matches.
        """
        if data_type not in IDENTIFY_DATA_TYPES:
            raise InvalidInputError(f"data_type must be 'audio' or 'fingerprint', got {data_type!r}")
        if isinstance(sample, (bytes, bytearray)):
            import io

            sample = io.BytesIO(bytes(sample))
        upload = resolve_source(sample, argument="sample")
        access_key = self.settings.extra("access_key")
        access_secret = self.settings.extra("access_secret")
        if not access_key or not access_secret:
            raise ConfigurationError("identify needs the 'access_key' and 'access_secret' extras of the connection")
        url = self._identify_url()
        stamp = str(timestamp) if timestamp is not None else str(int(time.time()))
        fields = {
            "access_key": str(access_key),
            "sample_bytes": str(upload.size if upload.size is not None else ""),
            "timestamp": stamp,
            "signature": identify_signature(str(access_key), str(access_secret), data_type, stamp),
            "data_type": data_type,
            "signature_version": "1",
        }
        import contextlib

        from requests_toolbelt import MultipartEncoder

        @contextlib.contextmanager
        def body() -> Iterator[tuple[Any, Mapping[str, str]]]:
            with upload.open() as fobj:
                encoder = MultipartEncoder(
                    fields={**fields, "sample": (safe_file_name(upload.name, "upload"), fobj, "application/octet-stream")}
                )
                yield encoder, {"Content-Type": encoder.content_type, "Content-Length": str(encoder.len)}

        def handler(resp: Any) -> dict[str, Any]:
            try:
                answer = json.loads(resp.content)
            except ValueError:
                raise InvalidResponseError("POST /v1/identify: expected JSON", method="POST", path="/v1/identify") from None
            return check_identify_status(answer)

        return self.request("POST", url, body=body, handler=handler, idempotent=upload.reopenable)


class _FilePollBatcher:
    """Coalesce concurrent ``afiles_status`` polls of one event loop into shared ``GET files/:ids`` calls.

    Thousands of deferred tasks waiting for one file each would otherwise make one request per file per
    poll. A poll waits at most ``window`` seconds for others on the same connection and bucket, then one
    request per 100 distinct ids answers all of them. A batch answered 404 (one bad id may spoil the
    request) is retried id-set by id-set, so one waiter's bad id never fails the others.
    """

    window = 0.1
    #: batch requests in flight per event loop: a handful of pooled connections, not up to the pool's limit
    max_in_flight = 4

    def __init__(self) -> None:
        import weakref

        self._pending: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], list[Any]]] = weakref.WeakKeyDictionary()
        self._in_flight: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    async def fetch(self, hook: AcrCloudHook, bucket: str, ids: list[str]) -> list[dict[str, Any]]:
        import asyncio

        loop = asyncio.get_running_loop()
        per_loop = self._pending.setdefault(loop, {})
        key = (hook.conn_id, bucket)
        future: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        waiters = per_loop.get(key)
        if waiters is None:
            waiters = per_loop[key] = []
            loop.call_later(self.window, lambda: asyncio.ensure_future(self._flush(loop, key)))
        waiters.append((hook, ids, future))
        if len({i for _, w, _ in waiters for i in w}) >= IDS_PER_REQUEST:
            asyncio.ensure_future(self._flush(loop, key))
        return await future

    async def _flush(self, loop: Any, key: tuple[str, str]) -> None:
        waiters = self._pending.get(loop, {}).pop(key, None)
        if not waiters:
            return
        hook, bucket = waiters[0][0], key[1]
        ids = list(dict.fromkeys(i for _, w, _ in waiters for i in w))
        import asyncio

        limit = self._in_flight.get(loop)
        if limit is None:
            limit = self._in_flight[loop] = asyncio.Semaphore(self.max_in_flight)
        try:
            async with limit:
                records = await hook._aget_files(bucket, ids)
        except NotFoundError as exc:
            if len(waiters) == 1:
                self._settle(waiters, exc=exc)
                return
            for one in waiters:
                try:
                    self._settle([one], records=await one[0]._aget_files(bucket, one[1]))
                except Exception as err:
                    self._settle([one], exc=err)
            return
        except BaseException as exc:
            self._settle(waiters, exc=exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._settle(waiters, records=records)

    @staticmethod
    def _settle(waiters: list[Any], *, records: list[dict[str, Any]] | None = None, exc: BaseException | None = None) -> None:
        # Each waiter gets only its own records: handing every waiter the whole batch made each of N
        # triggers parse 100 records per poll (bench_wait, N = 10,000: one core busy, events late).
        by_key: dict[str, list[dict[str, Any]]] = {}
        for rec in records or []:
            raw_id = rec.get("id")
            for key in {str(raw_id), str(to_int(raw_id, raw_id)), str(rec.get("acr_id") or "")} - {"", "None"}:
                by_key.setdefault(key, []).append(rec)
        for _, ids, future in waiters:
            if future.done():
                continue
            if exc is not None:
                future.set_exception(exc)
            else:
                mine = {id(rec): rec for key in ids for rec in by_key.get(str(key), [])}
                future.set_result(list(mine.values()))


_FILE_POLL_BATCHER = _FilePollBatcher()


def check_identify_status(answer: Any) -> dict[str, Any]:
    """Map ``status.code`` of an identify answer: 0 and 1001 are answers; the rest raise."""
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), dict):
        raise InvalidResponseError("POST /v1/identify: answer has no 'status' object", method="POST", path="/v1/identify")
    code = to_int(answer["status"].get("code"))
    msg = str(answer["status"].get("msg") or "")
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


def _audio_content_type(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    return {
        ".mp3": "audio/mpeg",
        ".wav": "audio/wav",
        ".flac": "audio/flac",
        ".m4a": "audio/mp4",
        ".aac": "audio/aac",
        ".ogg": "audio/ogg",
        ".mp4": "video/mp4",
    }.get(ext, "application/octet-stream")


__all__ = [
    "AcrCloudHook",
    "identify_signature",
    "join_ids",
    "normalize_file",
    "parse_dump_status",
    "parse_files_status",
    "parse_fs_files_status",
]
