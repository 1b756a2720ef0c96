"""ACRCloud file scanning I/O: containers and the files scanned in them (mixed into :class:`AcrCloudHook`).

FsFiles live on ``api-<region>.acrcloud.com`` in the newer docs revision (see
:func:`~airflow_provider_music.contract.acrcloud_fs.fs_base_url`). :meth:`ensure_scan_container` is the
copyright gate's guarantee: it returns a container that scans exactly the requested buckets and engine,
or raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_music.contract.acrcloud import (
    IDS_PER_REQUEST,
    MAX_PER_PAGE,
    answer_was_lost,
    audio_content_type,
    bucket_path,
    chunked,
    data_list,
    data_object,
    has_next_page,
    join_ids,
    page_of,
    split_ids,
    to_int,
)
from airflow_provider_music.contract.acrcloud_fs import (
    FS_DATA_TYPES,
    ScanConfig,
    container_mismatches,
    fs_base_url,
    fs_file_id,
    parse_fs_files_status,
)
from airflow_provider_music.core import (
    InvalidInputError,
    MusicApiError,
    PollResult,
    check_audio_content,
    clean_params,
    resolve_source,
    safe_file_name,
)
from airflow_provider_music.core.errors import LostAnswerError
from airflow_provider_music.core.validation import path_segment
from airflow_provider_music.hooks.base import MusicApiHook


class ScanContainerMismatchError(MusicApiError):
    """A file-scanning container does not scan exactly the buckets/engine asked for (never scan in it)."""


class AcrCloudFileScanningMixin(MusicApiHook):
    """Containers (``/fs-containers``) and FsFiles (``/fs-containers/:cid/files``)."""

    # ---- containers -------------------------------------------------------------------------------
    def list_fs_containers(
        self, *, page: int | None = None, per_page: int | None = None, region: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """``GET /fs-containers`` (one page), optionally filtered by ``region`` and ``name``."""
        params = clean_params({"page": page, "per_page": per_page, "region": region, "name": name})
        return page_of(self.request_json("GET", "fs-containers", params=params), describe="GET fs-containers")

    def iter_fs_containers(self, *, name: str | None = None, region: str | None = None) -> Iterator[dict[str, Any]]:
        """Every container (pages fetched lazily), optionally filtered by ``name`` (substring) and region."""
        number = 1
        while True:
            page = self.list_fs_containers(page=number, per_page=MAX_PER_PAGE, name=name, region=region)
            yield from page["data"]
            if not has_next_page(page, number, MAX_PER_PAGE):
                return
            number += 1

    def get_fs_container(self, container_id: Any) -> dict[str, Any]:
        """``GET /fs-containers/{id}``: the file-scanning container."""
        cid = bucket_path(container_id, argument="container_id")
        return data_object(self.request_json("GET", f"fs-containers/{cid}"), describe=f"GET fs-containers/{cid}")

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
        if not name or not isinstance(name, str):
            raise InvalidInputError("name is required")
        if not buckets or not isinstance(buckets, (list, tuple)):
            raise InvalidInputError("buckets must be a non-empty list of bucket ids or names")
        config = ScanConfig.build(region=region, buckets=buckets, engine=engine, audio_type=audio_type)
        if callback_url is not None and urlsplit(str(callback_url)).scheme not in ("http", "https"):
            raise InvalidInputError(f"callback_url must be an http(s) URL, got {callback_url!r}")
        body = config.create_body(name, callback_url=callback_url)
        body["buckets"] = list(buckets)
        if policy is not None:
            body["policy"] = policy
        body.update({k: v for k, v in options.items() if v is not None})
        return data_object(self.request_json("POST", "fs-containers", json_body=body), describe="POST fs-containers")

    def update_fs_container(self, container_id: Any, **fields: Any) -> dict[str, Any]:
        """``PUT /fs-containers/{id}`` with the fields given (``None`` values left out; at least one)."""
        cid = bucket_path(container_id, argument="container_id")
        body = {k: v for k, v in fields.items() if v is not None}
        if not body:
            raise InvalidInputError("update_fs_container needs at least one field")
        result = self.request_json("PUT", f"fs-containers/{cid}", json_body=body)
        return data_object(result, describe=f"PUT fs-containers/{cid}")

    def delete_fs_container(self, container_id: Any) -> None:
        """``DELETE /fs-containers/{id}`` (the container and its scanned files)."""
        self.request_json("DELETE", f"fs-containers/{bucket_path(container_id, argument='container_id')}")

    # ---- the copyright gate: a container for exactly one configuration -----------------------------
    def verify_scan_container(self, container: dict[str, Any], config: ScanConfig) -> dict[str, Any]:
        """``container`` if it scans exactly ``config``; else :class:`ScanContainerMismatchError`."""
        problems = container_mismatches(container, config)
        if problems:
            raise ScanContainerMismatchError(
                f"file-scanning container {container.get('id')} ({container.get('name')!r}) does not scan "
                f"what was asked ({config.describe()}): {'; '.join(problems)}. Its results are no check of what was asked: a scan against "
                "other buckets could report 'no match' for a known recording.",
                request_may_have_been_processed=False,
            )
        return container

    def find_scan_containers(self, name: str) -> list[dict[str, Any]]:
        """Containers named exactly ``name``, lowest id first."""
        found = [c for c in self.iter_fs_containers(name=name) if c.get("name") == name]
        return sorted(found, key=lambda c: to_int(c.get("id"), 0))

    def ensure_scan_container(
        self, config: ScanConfig, *, name: str | None = None, callback_url: str | None = None
    ) -> dict[str, Any]:
        """The container scanning exactly ``config``: found by name (default: derived from a hash of the
        configuration) or created, then verified. Two first uses at once converge on the lowest id (the
        duplicate this call created is deleted); a lost create answer is looked up, never re-sent blindly."""
        name = name or config.container_name()
        existing = self.find_scan_containers(name)
        if existing:
            return self.verify_scan_container(existing[0], config)
        body = config.create_body(name, callback_url=callback_url)
        created: dict[str, Any] | None = None
        lost: MusicApiError | None = None
        try:
            created = data_object(self.request_json("POST", "fs-containers", json_body=body), describe="POST fs-containers")
        except MusicApiError as exc:
            if not answer_was_lost(exc):
                raise
            lost = exc
            self.log.warning("Answer to creating container %r lost (%s); looking it up", name, exc)
        existing = self.find_scan_containers(name)
        if not existing:
            raise LostAnswerError.after(
                f"file-scanning container {name!r}", check="the File Scanning containers in the ACRCloud console",
                cause=lost or "the new container is not listed", note="Not created again.",
            )
        chosen = existing[0]
        if created is not None and to_int(created.get("id")) != to_int(chosen.get("id")):
            self.log.info("Container %s (%s) was created at the same time; using %s", created.get("id"), name, chosen.get("id"))
            try:
                self.delete_fs_container(created["id"])
            except MusicApiError as exc:
                self.log.warning("Could not delete the duplicate container %s: %s", created.get("id"), exc)
        else:
            self.log.info("Created file-scanning container %s (%s) for %s", chosen.get("id"), name, config.describe())
        return self.verify_scan_container(chosen, config)

    # ---- files --------------------------------------------------------------------------------------
    def fs_base(self, region: Any = None) -> str:
        """Base URL of FsFiles: ``fs_base_url`` extra, else ``api-<region>`` on ACRCloud (container's region,
        else the connection's ``region`` extra), else the connection's host."""
        settings = self.settings
        return fs_base_url(
            settings.base_url, region=region or settings.extra("region"), explicit=settings.extra("fs_base_url")
        )

    def upload_fs_file(
        self,
        container_id: Any,
        *,
        data_type: str = "audio",
        source: Any = None,
        url: str | None = None,
        name: str | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        """Submit a file (``audio``/``fingerprint``, streamed) or a link (``audio_url``/``platforms``) for scanning."""
        cid = bucket_path(container_id, argument="container_id")
        if data_type not in FS_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FS_DATA_TYPES)}, got {data_type!r}")
        path = f"{self.fs_base(region)}fs-containers/{cid}/files"
        fields: dict[str, Any] = {"data_type": data_type}
        if name:
            fields["name"] = str(name)
        if data_type in ("audio", "fingerprint"):
            if url is not None:
                raise InvalidInputError(f"data_type={data_type!r} uploads a file: do not pass url")
            upload = resolve_source(source, argument="source")
            if data_type == "audio":
                check_audio_content(upload)
            body = self.upload_multipart(
                "POST", path, fields=fields, file_field="file", source=upload,
                filename=safe_file_name(upload.name, "upload"), content_type=audio_content_type(upload.name),
            )
        else:
            if source is not None:
                raise InvalidInputError(f"data_type={data_type!r} takes no source file")
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https", "ftp"):
                raise InvalidInputError(f"url is required for data_type={data_type!r} (an http, https or ftp URL)")
            body = self.request_json("POST", path, json_body={**fields, "url": url})
        describe = f"POST fs-containers/{cid}/files"
        record = data_object(body, describe=describe)
        record["id"] = fs_file_id(record, describe=describe)
        self.log.info("Submitted %s for scanning in container %s: file id %s", data_type, cid, record["id"])
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
        region: str | None = None,
    ) -> dict[str, Any]:
        """``GET fs-containers/{id}/files`` (one page) on the container's regional host; ``with_result``
        adds each file's results, ``state`` and ``search`` filter."""
        cid = bucket_path(container_id, argument="container_id")
        params = clean_params(
            {"page": page, "per_page": per_page, "search": search, "with_result": 1 if with_result else None, "state": state}
        )
        body = self.request_json("GET", f"{self.fs_base(region)}fs-containers/{cid}/files", params=params)
        return page_of(body, describe=f"GET fs-containers/{cid}/files")

    def get_fs_files(self, container_id: Any, ids: Any, *, region: str | None = None) -> list[dict[str, Any]]:
        """Scanned files with their results (``data`` object or list both accepted)."""
        cid = bucket_path(container_id, argument="container_id")
        out: list[dict[str, Any]] = []
        for batch in chunked(split_ids(ids, argument="file_ids"), IDS_PER_REQUEST):
            joined = ",".join(path_segment(i, "file_ids") for i in batch)
            body = self.request_json("GET", f"{self.fs_base(region)}fs-containers/{cid}/files/{joined}")
            out.extend(data_list(body, describe=f"GET fs-containers/{cid}/files/:ids"))
        return out

    def delete_fs_files(self, container_id: Any, ids: Any, *, region: str | None = None) -> None:
        """``DELETE fs-containers/{id}/files/{ids}`` (comma-joined ids, checked first)."""
        cid = bucket_path(container_id, argument="container_id")
        joined = join_ids(ids, argument="file_ids")
        self.request_json("DELETE", f"{self.fs_base(region)}fs-containers/{cid}/files/{joined}")

    def rescan_fs_files(self, container_id: Any, ids: Any, *, region: str | None = None) -> Any:
        """``PUT fs-containers/{id}/files/{ids}/rescan``: scan the files again (paid like a new scan)."""
        cid = bucket_path(container_id, argument="container_id")
        joined = join_ids(ids, argument="file_ids")
        return self.request_json("PUT", f"{self.fs_base(region)}fs-containers/{cid}/files/{joined}/rescan")

    def fs_files_status(self, container_id: Any, file_ids: Any, region: str | None = None) -> PollResult:
        """The scan of ``file_ids`` as a :class:`PollResult`: ``success`` once every file has results
        (state 1, or -1 "no results"), ``failed`` on -2/-3; the sync twin of :meth:`afs_files_status`."""
        requested = split_ids(file_ids, argument="file_ids")
        records = self.get_fs_files(container_id, requested, region=region)
        return parse_fs_files_status(records, requested, container_id=to_int(container_id))

    async def afs_files_status(self, container_id: Any, file_ids: Any, region: str | None = None) -> PollResult:
        """Async twin of :meth:`fs_files_status` (same host rule, same parsing)."""
        cid = bucket_path(container_id, argument="container_id")
        requested = split_ids(file_ids, argument="file_ids")
        settings = await self.aget_settings()
        base = fs_base_url(settings.base_url, region=region or settings.extra("region"), explicit=settings.extra("fs_base_url"))
        records: list[dict[str, Any]] = []
        for batch in chunked(requested, IDS_PER_REQUEST):
            body = await self.arequest_json("GET", f"{base}fs-containers/{cid}/files/{','.join(batch)}")
            records.extend(data_list(body, describe=f"GET fs-containers/{cid}/files/:ids"))
        return parse_fs_files_status(records, requested, container_id=int(cid))


__all__ = ["AcrCloudFileScanningMixin", "ScanContainerMismatchError"]
