"""ACRCloud hook: Console API (buckets, audio files, dumps, base projects, file scanning), the Metadata API
and identification. I/O only.

Built on :class:`~airflow_provider_music.hooks.base.MusicApiHook`: retries, streaming multipart uploads,
atomic downloads and the error hierarchy come from the core. Every validator, parser and status rule is in
:mod:`airflow_provider_music.contract.acrcloud` (shared by the sync and async methods, the operators and
the emulator); file scanning is in :mod:`airflow_provider_music.hooks.acrcloud_fs`.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_music.contract.acrcloud import (
    BUCKET_TYPES,
    DEFAULT_BASE_URL,
    DUMP_PATHS,
    FILE_DATA_TYPES,
    FILE_ERROR,
    FILE_PROCESSING,
    FILE_READY,
    IDENTIFY_DATA_TYPES,
    IDS_PER_REQUEST,
    MAX_PER_PAGE,
    PAYLOAD_FILES_LIMIT,
    REGIONS,
    answer_was_lost,
    audio_content_type,
    bucket_path,
    check_identify_status,
    check_listing_page,
    check_positive_page,
    check_region,
    check_user_defined,
    chunked,
    compact_file,
    data_list,
    data_object,
    dump_data,
    dump_paths,
    has_next_page,
    identify_host,
    identify_signature,
    join_ids,
    link_upload_body,
    normalize_file,
    page_meta,
    page_of,
    parse_dump_status,
    parse_files_status,
    parse_uploaded_file,
    parse_user_defined,
    split_ids,
    to_float,
    to_int,
    unwrap_data,
)
from airflow_provider_music.contract.acrcloud_fs import (
    FS_DATA_TYPES,
    FS_ERROR_STATES,
    FS_NO_RESULT,
    FS_PROCESSING,
    FS_READY,
    parse_fs_files_status,
)
from airflow_provider_music.contract.acrcloud_projects import metadata_base_url, metadata_params, project_body
from airflow_provider_music.core import (
    ConfigurationError,
    InvalidInputError,
    MusicApiError,
    NotFoundError,
    PollResult,
    check_audio_content,
    clean_params,
    redact_url,
    resolve_source,
    safe_file_name,
)
from airflow_provider_music.core.redaction import redact, redact_data, register_secret
from airflow_provider_music.core.validation import path_segment
from airflow_provider_music.hooks.acrcloud_batch import FILE_POLL_BATCHER
from airflow_provider_music.hooks.acrcloud_fs import AcrCloudFileScanningMixin, ScanContainerMismatchError


class AcrCloudHook(AcrCloudFileScanningMixin):
    """ACRCloud Console API, Metadata API and identification.

    Connection (type ``acrcloud``): password = Console API bearer token; host = base URL (default
    ``https://api-v2.acrcloud.com/api``). Extras: ``bucket_id`` (default bucket), ``region`` (also selects
    the FsFiles host ``api-<region>``), ``identify_host``, ``access_key`` and ``access_secret`` (a
    recognition project's keys, for :meth:`identify`), ``dump_path`` (``dump`` as documented or
    ``files/dump`` as the official CLI), ``fs_base_url`` (host of file-scanning files, overriding the
    region rule), ``metadata_base_url`` (default ``https://eu-api-v2.acrcloud.com/api``), ``console_url``
    (base of the task-page console link). Each has a labelled field in the connection form
    (``get_provider_info``); a connection of another type fails before any request.
    """

    conn_name_attr = "acrcloud_conn_id"
    default_conn_name = "acrcloud_default"
    conn_type = "acrcloud"
    hook_name = "ACRCloud"
    default_base_url = DEFAULT_BASE_URL

    def __init__(self, acrcloud_conn_id: str | None = None, *, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(acrcloud_conn_id or conn_id, **kwargs)
        self.acrcloud_conn_id = self.conn_id

    # ---- settings helpers -------------------------------------------------------------------
    def default_bucket(self, bucket_id: Any = None) -> str:
        """``bucket_id`` or the connection's default bucket (validated)."""
        if bucket_id is None or bucket_id == "":
            bucket_id = self.settings.extra("bucket_id")
            if bucket_id in (None, ""):
                raise InvalidInputError("bucket_id is required: pass it or set the 'bucket_id' extra of the connection")
        return bucket_path(bucket_id)

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
        """One cheap authenticated call (the first bucket): raises when the connection does not work."""
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
        if region is not None:
            check_region(region)
        params = clean_params({"page": page, "per_page": per_page, "region": region, "type": type, "search": search})
        return page_of(self.request_json("GET", "buckets", params=params), describe="GET buckets")

    def iter_buckets(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every bucket (pages fetched lazily)."""
        number = 1
        while True:
            page = self.list_buckets(page=number, per_page=MAX_PER_PAGE, **filters)
            yield from page["data"]
            if not has_next_page(page, number, MAX_PER_PAGE):
                return
            number += 1

    def get_bucket(self, bucket_id: Any) -> dict[str, Any]:
        """``GET /buckets/{id}``: the bucket record."""
        bucket = bucket_path(bucket_id)
        return data_object(self.request_json("GET", f"buckets/{bucket}"), describe=f"GET buckets/{bucket}")

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
        check_region(region)
        if type not in BUCKET_TYPES:
            raise InvalidInputError(f"type must be one of {', '.join(BUCKET_TYPES)}, got {type!r}")
        if net_type is not None and net_type not in (0, 1, 2):
            raise InvalidInputError(f"net_type must be 0, 1 or 2, got {net_type!r}")
        if isinstance(metadata_template, dict):
            metadata_template = json.dumps(metadata_template)
        fields = {"name": name, "region": region, "type": type, "net_type": net_type, "labels": labels,
                  "metadata_template": metadata_template}
        body = {k: v for k, v in fields.items() if v is not None}
        return data_object(self.request_json("POST", "buckets", json_body=body), describe="POST buckets")

    def update_bucket(
        self, bucket_id: Any, *, name: str | None = None, labels: list[str] | None = None, metadata_template: Any = None
    ) -> dict[str, Any]:
        """``PUT /buckets/{id}`` with the fields given (at least one of ``name``, ``labels``,
        ``metadata_template``; a dict template is sent as JSON text). Returns the updated bucket."""
        if isinstance(metadata_template, dict):
            metadata_template = json.dumps(metadata_template)
        body = {k: v for k, v in {"name": name, "labels": labels, "metadata_template": metadata_template}.items() if v is not None}
        if not body:
            raise InvalidInputError("update_bucket needs at least one of name, labels, metadata_template")
        path = f"buckets/{bucket_path(bucket_id)}"
        return data_object(self.request_json("PUT", path, json_body=body), describe=f"PUT {path}")

    def delete_bucket(self, bucket_id: Any) -> None:
        """``DELETE /buckets/{id}`` (the bucket and its files)."""
        self.request_json("DELETE", f"buckets/{bucket_path(bucket_id)}")

    def find_buckets(self, name: str, *, region: str | None = None, type: str | None = None) -> list[dict[str, Any]]:  # noqa: A002
        """Buckets named exactly ``name`` (lowest id first), walking every page."""
        found = [b for b in self.iter_buckets(search=name, region=region, type=type) if b.get("name") == name]
        return sorted(found, key=lambda b: to_int(b.get("id"), 0))

    def ensure_bucket(self, name: str, *, region: str, type: str = "File", **options: Any) -> tuple[dict[str, Any], bool]:  # noqa: A002
        """The bucket named ``name`` (created when missing): ``(bucket, created)``.

        A lost create answer is looked up, never re-sent; two runs creating it at once converge on the
        lowest id (the other is left for a person to remove: deleting a bucket is never automatic)."""
        found = self.find_buckets(name, region=region, type=type)
        if found:
            return found[0], False
        try:
            created: dict[str, Any] | None = self.create_bucket(name, region=region, type=type, **options)
        except MusicApiError as exc:
            if not answer_was_lost(exc):
                raise
            self.log.warning("Answer to creating bucket %r lost (%s); looking it up", name, exc)
            created = None
        found = self.find_buckets(name, region=region, type=type)
        if not found:
            raise MusicApiError(f"bucket {name!r} may have been created; its id is unknown: check the ACRCloud console")
        if created is not None and to_int(created.get("id")) != to_int(found[0].get("id")):
            self.log.warning("Bucket %r exists %d times (created at the same time); using id %s",
                             name, len(found), found[0].get("id"))
        return found[0], True

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
        ``user_defined`` as an object. This POST is not retried once it may have reached the server: when
        :func:`~airflow_provider_music.contract.acrcloud.answer_was_lost` says so, look for the file before
        uploading again (a definite answer such as 404 "unknown bucket" is not a lost one).
        """
        bucket = self.default_bucket(bucket_id)
        if data_type not in FILE_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FILE_DATA_TYPES)}, got {data_type!r}")
        ud = check_user_defined(user_defined)
        if title is not None and not isinstance(title, str):
            raise InvalidInputError(f"title must be a string, got {type(title).__name__}")
        path = f"buckets/{bucket}/files"
        if data_type in ("audio", "fingerprint"):
            body = self._upload_file_bytes(path, data_type, source, url or acrid, title, ud, filename)
        else:
            body = self.request_json("POST", path, json_body=link_upload_body(data_type, source, url, acrid, title, ud))
        record = parse_uploaded_file(body, describe=f"POST {path}")
        self.log.info(
            "Uploaded %s to ACRCloud bucket %s: file id %s, acr_id %s", data_type, bucket, record.get("id"), record.get("acr_id"),
        )
        return record

    def _upload_file_bytes(
        self, path: str, data_type: str, source: Any, link: Any, title: str | None, ud: dict[str, Any] | None,
        filename: str | None,
    ) -> Any:
        if link is not None:
            raise InvalidInputError(f"data_type={data_type!r} uploads a file: do not pass url or acrid")
        upload = resolve_source(source, argument="source")
        if data_type == "audio":
            check_audio_content(upload)
        fields = {"data_type": data_type}
        if title is not None:
            fields["title"] = title
        if ud is not None:
            fields["user_defined"] = json.dumps(ud)
        content_type = "application/octet-stream" if data_type == "fingerprint" else audio_content_type(upload.name)
        return self.upload_multipart(
            "POST", path, fields=fields, file_field="file", source=upload,
            filename=safe_file_name(filename or upload.name, "upload"), content_type=content_type,
        )

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
        check_positive_page("page", page)
        check_positive_page("per_page", per_page)
        params = clean_params({"search": search, "sort": sort, "order": order, "page": page, "per_page": per_page, "state": state})
        body = self.request_json("GET", f"buckets/{bucket}/files", params=params)
        return page_of(body, describe=f"GET buckets/{bucket}/files", normalize=True)

    def iter_file_pages(self, bucket_id: Any, *, per_page: int = MAX_PER_PAGE, **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """A bucket's files page by page, each page fetched only when the previous one was consumed."""
        number, previous = 1, None
        while True:
            page = self.list_files(bucket_id, page=number, per_page=per_page, **filters)
            check_listing_page(page, number, previous, describe=f"GET buckets/{bucket_id}/files")
            if page["data"]:
                yield page["data"]
            if not has_next_page(page, number, per_page):
                return
            previous = page
            number += 1

    def iter_files(self, bucket_id: Any, *, per_page: int = MAX_PER_PAGE, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every file of a bucket, lazily (pages walked by number: ``links`` drop ``per_page`` in the docs)."""
        for page in self.iter_file_pages(bucket_id, per_page=per_page, **filters):
            yield from page

    def get_files(self, bucket_id: Any, ids: Any) -> list[dict[str, Any]]:
        """Files by ids or acr_ids (batched, ``IDS_PER_REQUEST`` per call)."""
        bucket = self.default_bucket(bucket_id)
        out: list[dict[str, Any]] = []
        for batch in chunked(split_ids(ids), IDS_PER_REQUEST):
            joined = ",".join(path_segment(i, "ids") for i in batch)
            body = self.request_json("GET", f"buckets/{bucket}/files/{joined}")
            out.extend(normalize_file(r) for r in data_list(body, describe=f"GET buckets/{bucket}/files/:ids"))
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
        if title is not None and not isinstance(title, str):
            raise InvalidInputError(f"title must be a string, got {type(title).__name__}")
        body: dict[str, Any] = {}
        if title is not None:
            body["title"] = title
        if ud is not None:
            body["user_defined"] = ud
        result = self.request_json("PUT", f"buckets/{bucket}/files/{file_id}", json_body=body)
        return normalize_file(data_object(result, describe=f"PUT buckets/{bucket}/files/{file_id}"))

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
        bucket = bucket_path(target_bucket_id, argument="target_bucket_id")
        out: list[dict[str, Any]] = []
        for batch in chunked(split_ids(ids), IDS_PER_REQUEST):
            body = self.request_json("PUT", f"buckets/{bucket}/files/{','.join(batch)}/move")
            if isinstance(unwrap_data(body), (dict, list)):
                out.extend(normalize_file(r) for r in data_list(body, describe=f"PUT buckets/{bucket}/files/:ids/move"))
        return out

    # ---- dump ---------------------------------------------------------------------------------
    def dump_files(self, bucket_id: Any) -> dict[str, Any]:
        """Start (or look up today's) dump of a bucket: ``{"status", "down_url", "id", "name", "task_id"}``.

        The documented path is ``/buckets/:id/dump``; the official CLI uses ``/buckets/:id/files/dump``.
        Unless the ``dump_path`` extra pins one, the other is tried when the first answers 404.
        """
        bucket = self.default_bucket(bucket_id)
        paths = dump_paths(self.settings.extra("dump_path"))
        for index, sub in enumerate(paths):
            try:
                return dump_data(self.request_json("GET", f"buckets/{bucket}/{sub}"), bucket_id=int(bucket))
            except NotFoundError:
                if index == len(paths) - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def dump_status(self, bucket_id: Any) -> PollResult:
        """The dump of ``bucket_id`` (default: the connection's bucket) as a :class:`PollResult`:
        ``success`` once the dump file is ready."""
        bucket = self.default_bucket(bucket_id)
        return parse_dump_status(self.dump_files(bucket), bucket_id=int(bucket))

    async def adump_status(self, bucket_id: Any) -> PollResult:
        """Async twin of :meth:`dump_status`: same path rule (``dump_path`` checked), same parsing."""
        bucket = bucket_path(bucket_id)
        settings = await self.aget_settings()
        paths = dump_paths(settings.extra("dump_path"))
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
        if to_int(data.get("status")) != 1 or not isinstance(data.get("down_url"), str):
            raise MusicApiError(f"dump of bucket {bucket_id} is not ready yet (status {data.get('status')!r})")
        self.log.info("Downloading dump %s of bucket %s from %s", data.get("task_id"), bucket_id, redact_url(data["down_url"]))
        return self.download(str(data["down_url"]), destination)

    # ---- file status (sensors / triggers / operators) ------------------------------------------
    def files_status(self, bucket_id: Any, ids: Any, fail_fast: bool = True) -> PollResult:
        """Are the files ready? (state 1 all -> success; -1, unknown or missing -> failed; else running)."""
        bucket = self.default_bucket(bucket_id)
        requested = split_ids(ids)
        records = self.get_files(bucket, requested)
        return parse_files_status(records, requested, bucket_id=int(bucket), fail_fast=fail_fast)

    async def afiles_status(self, bucket_id: Any, ids: Any, fail_fast: bool = True) -> PollResult:
        """Async twin of :meth:`files_status`. Polls of many triggers in one event loop (the triggerer)
        for the same bucket are coalesced into shared ``GET files/:ids`` requests of up to 100 ids."""
        bucket = bucket_path(bucket_id)
        requested = split_ids(ids)
        records = await FILE_POLL_BATCHER.fetch(self, bucket, requested)
        return parse_files_status(records, requested, bucket_id=int(bucket), fail_fast=fail_fast)

    async def aget_files(self, bucket: str, ids: list[str]) -> list[dict[str, Any]]:
        """Raw file records by ids (async; used by the poll batcher)."""
        bucket = bucket_path(bucket)
        records: list[dict[str, Any]] = []
        for batch in chunked(ids, IDS_PER_REQUEST):
            joined = ",".join(path_segment(i, "ids") for i in batch)
            body = await self.arequest_json("GET", f"buckets/{bucket}/files/{joined}")
            records.extend(data_list(body, describe=f"GET buckets/{bucket}/files/:ids"))
        return records

    # ---- base projects (identification credentials for custom buckets) --------------------------
    def list_base_projects(self, *, page: int | None = None, per_page: int | None = None) -> dict[str, Any]:
        """``GET /base-projects`` (one page); each project's access secret is registered for redaction."""
        params = clean_params({"page": page, "per_page": per_page})
        listed = page_of(self.request_json("GET", "base-projects", params=params), describe="GET base-projects")
        for project in listed.get("data") or ():
            _register_project_secret(project)
        return listed

    def get_base_project(self, project_id: Any) -> dict[str, Any]:
        """``GET /base-projects/{id}``: the project (its access secret registered for redaction)."""
        pid = bucket_path(project_id, argument="project_id")
        return _register_project_secret(
            data_object(self.request_json("GET", f"base-projects/{pid}"), describe=f"GET base-projects/{pid}"))

    def create_base_project(
        self, name: str, *, region: str, buckets: list[Any], type: str = "AVR",  # noqa: A002
        audio_type: str | None = None, external_ids: Any = None,
    ) -> dict[str, Any]:
        """Create a base project; the answer carries ``access_key`` and ``access_secret`` (a secret)."""
        body = project_body(name=name, region=region, type=type, buckets=buckets, audio_type=audio_type,
                            external_ids=external_ids)
        return _register_project_secret(
            data_object(self.request_json("POST", "base-projects", json_body=body), describe="POST base-projects"))

    def update_base_project(
        self, project_id: Any, *, name: str | None = None, buckets: list[Any] | None = None, audio_type: str | None = None
    ) -> dict[str, Any]:
        """``PUT /base-projects/{id}`` with the fields given (``name``, ``buckets``, ``audio_type``)."""
        pid = bucket_path(project_id, argument="project_id")
        body = project_body(name=name, buckets=buckets, audio_type=audio_type, creating=False)
        result = self.request_json("PUT", f"base-projects/{pid}", json_body=body)
        return _register_project_secret(data_object(result, describe=f"PUT base-projects/{pid}"))

    def delete_base_project(self, project_id: Any) -> None:
        """``DELETE /base-projects/{id}``."""
        self.request_json("DELETE", f"base-projects/{bucket_path(project_id, argument='project_id')}")

    def base_project_bucket_status(self, project_id: Any) -> Any:
        """``GET /base-projects/{id}/bucket-status``: the state of the project's buckets."""
        pid = bucket_path(project_id, argument="project_id")
        return unwrap_data(self.request_json("GET", f"base-projects/{pid}/bucket-status"))

    # ---- Metadata API ----------------------------------------------------------------------------
    def get_track_metadata(self, **query: Any) -> list[dict[str, Any]]:
        """``GET /external-metadata/tracks`` by exactly one of ``source_url``, ``isrc``, ``acr_id`` or ``query``
        (plus ``platforms``, ``include_works``); returns the ``data`` records."""
        params = metadata_params(**query)
        settings = self.settings
        base = metadata_base_url(settings.base_url, explicit=settings.extra("metadata_base_url"))
        body = self.request_json("GET", f"{base}external-metadata/tracks", params=params)
        return data_list(body, describe="GET external-metadata/tracks")

    # ---- identification ---------------------------------------------------------------------------
    def identify(self, sample: Any, data_type: str = "audio", *, timestamp: str | None = None) -> dict[str, Any]:
        """Recognise ``sample`` (audio or a recognition fingerprint) with the documented HMAC-SHA1 signature.

        Returns the answer (``status``, ``metadata``); "no result" (1001) is a normal answer with no matches.
        """
        if data_type not in IDENTIFY_DATA_TYPES:
            raise InvalidInputError(f"data_type must be 'audio' or 'fingerprint', got {data_type!r}")
        if isinstance(sample, (bytes, bytearray)):
            sample = io.BytesIO(bytes(sample))
        upload = resolve_source(sample, argument="sample")
        if data_type == "audio":
            check_audio_content(upload, argument="sample")
        access_key = self.settings.extra("access_key")
        access_secret = self.settings.extra("access_secret")
        if not access_key or not access_secret:
            raise ConfigurationError("identify needs the 'access_key' and 'access_secret' extras of the connection")
        url = identify_host(self.settings.extra("identify_host"), self.settings.extra("region"))
        stamp = str(timestamp) if timestamp is not None else str(int(time.time()))
        fields = {
            "access_key": str(access_key),
            "sample_bytes": str(upload.size if upload.size is not None else ""),
            "timestamp": stamp,
            "signature": identify_signature(str(access_key), str(access_secret), data_type, stamp),
            "data_type": data_type,
            "signature_version": "1",
        }
        with scrubbed(fields["signature"]):  # a server echoing the signature must not put it in our errors
            answer = self.upload_multipart(
                "POST", url, fields=fields, file_field="sample", source=upload,
                filename=safe_file_name(upload.name, "upload"), idempotent=True,
            )
            return check_identify_status(answer)


@contextlib.contextmanager
def scrubbed(secret: str) -> Iterator[None]:
    """Remove ``secret`` (in every encoding) from a :class:`MusicApiError` leaving the block. For per-request
    secrets (the identify signature) that are not registered: the registry would grow with every call."""
    try:
        yield
    except MusicApiError as exc:
        exc.message = redact(exc.message, secret)
        exc.api_message = redact(exc.api_message, secret)
        exc.details = redact_data(exc.details, secret)
        exc.args = tuple(redact(a, secret) if isinstance(a, str) else a for a in exc.args)
        raise exc from None


__all__ = [
    "DUMP_PATHS", "FILE_DATA_TYPES", "FILE_ERROR", "FILE_PROCESSING", "FILE_READY", "FS_DATA_TYPES",
    "FS_ERROR_STATES", "FS_NO_RESULT", "FS_PROCESSING", "FS_READY", "MAX_PER_PAGE", "PAYLOAD_FILES_LIMIT",
    "REGIONS", "AcrCloudHook", "ScanContainerMismatchError", "check_identify_status", "check_user_defined",
    "compact_file", "identify_signature", "join_ids", "normalize_file", "page_meta", "parse_dump_status",
    "parse_files_status", "parse_fs_files_status", "parse_user_defined", "split_ids", "to_float", "to_int",
]


def _register_project_secret(project: Any) -> Any:
    """A base project's ``access_secret`` is a credential: scrubbed from every later log line and error."""
    if isinstance(project, dict):
        register_secret(project.get("access_secret"))
    return project
