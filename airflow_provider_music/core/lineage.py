"""OpenLineage dataset names: local files, object storage and the vendors' own objects (docs/lineage.md).

Pure rules, no Airflow or OpenLineage imports: operators turn what they read and wrote into
:class:`~airflow_provider_music.core.report.DatasetRef` s with these functions and add them to
``self.task_report``; ``MusicOperator.get_openlineage_facets_on_complete`` converts them. The namespaces and
names below are a public contract (lineage tools join graphs on them): keep them stable.

* Local files: namespace ``file``, name the absolute path - the OpenLineage naming spec's local file system
  (``openlineage.client.naming.dataset.LocalFileSystem``), also what Airflow's common-io provider emits for
  ``file:///`` assets. Always the FINAL path of an atomic write, never its temporary name.
* Object storage: ``ObjectStoragePath``'s own ``namespace`` (``s3://bucket``) and ``key`` (no leading slash),
  as common-io's ``FileTransferOperator`` reports them; a URL string gets the same rule; ``http(s)`` URLs
  keep their path as the name. Never a query string, fragment or credentials.
* Vendor objects: one namespace per service, naming the service (not an endpoint or an account, which go to
  the run facet), with the object's kind and id as the name: ``flowmusic://useapi.net`` ``clips/<id>``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_music.core.report import DatasetRef

LOCAL_FILES = "file"
FLOWMUSIC = "flowmusic://useapi.net"
RIFFUSION = "riffusion://useapi.net"
ACRCLOUD = "acrcloud://acrcloud.com"
AUDIOSHAKE = "audioshake://audioshake.ai"
MUREKA = "mureka://useapi.net"
_LOCAL_PROTOCOLS = ("file", "local", "")


def _segment(value: Any) -> str:
    """One id as a name segment: stripped, ``/`` and spaces escaped (ids like ``clip:ab12`` stay readable)."""
    text = str(value).strip()
    if not text:
        raise ValueError("a dataset id must not be empty")
    return quote(text, safe=":@-._~+=,!$&'()*;")


def vendor_dataset(namespace: str, *parts: Any) -> DatasetRef:
    """``DatasetRef(namespace, "kind/id[/kind/id]")`` of a vendor object: ``parts`` alternate kind and id."""
    return DatasetRef(namespace, "/".join(_segment(p) for p in parts))


def _url_dataset(text: str) -> DatasetRef:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if scheme in _LOCAL_PROTOCOLS:
        return DatasetRef(LOCAL_FILES, os.path.normpath("/" + (parts.netloc + parts.path).lstrip("/")))
    if scheme in ("http", "https"):
        return DatasetRef(f"{scheme}://{host}", parts.path or "/")
    # ObjectStoragePath.namespace / .key: "<protocol>://<bucket>" (or the protocol alone), key without "/"
    return DatasetRef(f"{scheme}://{host}" if host else scheme, parts.path.lstrip("/"))


def path_dataset(value: Any) -> DatasetRef | None:
    """The dataset of a file: a local path, a URL string or an ``ObjectStoragePath`` (duck-typed: its own
    ``namespace``/``key``); None for what names no file (a file object, an empty value)."""
    if value is None or isinstance(value, bytes):
        return None
    protocol = getattr(value, "protocol", None)
    if isinstance(protocol, str) and hasattr(value, "key") and hasattr(value, "namespace"):
        if protocol in _LOCAL_PROTOCOLS:
            return DatasetRef(LOCAL_FILES, os.path.abspath("/" + str(value.path).lstrip("/")))
        return DatasetRef(str(value.namespace), str(value.key))
    if not isinstance(value, (str, os.PathLike)):
        return None
    text = os.fspath(value)
    if not text.strip():
        return None
    if "://" in text:
        return _url_dataset(text)
    return DatasetRef(LOCAL_FILES, os.path.abspath(os.path.expanduser(text)))


def flowmusic_clip(clip_id: Any) -> DatasetRef:
    """A FlowMusic clip (``clip:<uuid>``), what generate/edit write and download/stems read."""
    return vendor_dataset(FLOWMUSIC, "clips", clip_id)


def flowmusic_asset(asset_id: Any) -> DatasetRef:
    """A FlowMusic reference asset (an uploaded image or audio file)."""
    return vendor_dataset(FLOWMUSIC, "assets", asset_id)


def flowmusic_job(job_id: Any) -> DatasetRef:
    """A FlowMusic job whose clips are not known yet (an operator that does not wait -> the job sensor)."""
    return vendor_dataset(FLOWMUSIC, "jobs", job_id)


def riffusion_song(song_id: Any) -> DatasetRef:
    """A Riffusion song."""
    return vendor_dataset(RIFFUSION, "songs", song_id)


def riffusion_upload(upload_id: Any) -> DatasetRef:
    """A Riffusion audio upload (named by its ``audio_upload_id``, what compose reads)."""
    return vendor_dataset(RIFFUSION, "uploads", upload_id)


def riffusion_job(job_id: Any) -> DatasetRef:
    """Riffusion work whose songs are not known yet (an operator that does not wait -> the song sensor)."""
    return vendor_dataset(RIFFUSION, "jobs", job_id)


def acrcloud_bucket(bucket_id: Any) -> DatasetRef:
    """An ACRCloud bucket as a whole (a dump reads it)."""
    return vendor_dataset(ACRCLOUD, "buckets", bucket_id)


def acrcloud_bucket_file(bucket_id: Any, acr_id: Any) -> DatasetRef:
    """A fingerprinted file of a bucket, named by its ``acr_id`` (stable across re-uploads of one content)."""
    return vendor_dataset(ACRCLOUD, "buckets", bucket_id, "files", acr_id)


def acrcloud_container_file(container_id: Any, file_id: Any) -> DatasetRef:
    """A File Scanning file (a scan result) of a container."""
    return vendor_dataset(ACRCLOUD, "containers", container_id, "files", file_id)


def audioshake_asset(asset_id: Any) -> DatasetRef:
    """An AudioShake asset (an uploaded source)."""
    return vendor_dataset(AUDIOSHAKE, "assets", asset_id)


def audioshake_task(task_id: Any) -> DatasetRef:
    """An AudioShake task (Tasks API) or job (legacy Jobs API) whose outputs are not downloaded yet."""
    return vendor_dataset(AUDIOSHAKE, "tasks", task_id)


def mureka_song(song_id: Any) -> DatasetRef:
    """A Mureka song (``user:<n>-mureka:<account>-song:<id>``, or the number older pages use)."""
    return vendor_dataset(MUREKA, "songs", song_id)


def mureka_upload(upload_id: Any) -> DatasetRef:
    """A Mureka upload (reference track, motif or voice), named by the id ``ref_id``/``motif_id``/``vocal_id`` take."""
    return vendor_dataset(MUREKA, "uploads", upload_id)


def mureka_job(job_id: Any) -> DatasetRef:
    """A Mureka job whose songs (or stems) are not known yet (an operator that does not wait -> the job sensor)."""
    return vendor_dataset(MUREKA, "jobs", job_id)


def mureka_stems(stems_id: Any) -> DatasetRef:
    """A Mureka stems extraction (``stems_id``) whose files were not downloaded."""
    return vendor_dataset(MUREKA, "stems", stems_id)


def add_datasets(target: list[DatasetRef], *refs: DatasetRef | None) -> None:
    """Append ``refs`` to ``target`` (a ``TaskReport`` list), skipping None and what is already there."""
    for ref in refs:
        if ref is not None and ref not in target:
            target.append(ref)


def add_paths(target: list[DatasetRef], paths: Any) -> None:
    """Append the dataset of every file in ``paths`` (one path, a list, a dict of lists, nested)."""
    if isinstance(paths, dict):
        for value in paths.values():
            add_paths(target, value)
    elif isinstance(paths, (list, tuple, set)):
        for value in paths:
            add_paths(target, value)
    else:
        add_datasets(target, path_dataset(paths))


__all__ = [
    "ACRCLOUD", "AUDIOSHAKE", "FLOWMUSIC", "LOCAL_FILES", "MUREKA", "RIFFUSION", "acrcloud_bucket",
    "acrcloud_bucket_file", "acrcloud_container_file", "add_datasets", "add_paths", "audioshake_asset",
    "audioshake_task", "flowmusic_asset", "flowmusic_clip", "flowmusic_job", "mureka_job", "mureka_song",
    "mureka_stems", "mureka_upload", "path_dataset", "riffusion_job", "riffusion_song", "riffusion_upload",
    "vendor_dataset",
]
