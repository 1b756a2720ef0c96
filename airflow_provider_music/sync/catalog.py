"""The local catalog side of the sync: a streaming walk (sizes and mtimes from listings; no file opened),
track hashing and reading, metadata from sidecars."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.acrcloud import check_user_defined
from airflow_provider_music.sync.plan import MARKER_KEYS, UPLOAD_MARKER_KEY, Local, shard_of

AUDIO_EXTENSIONS = (
    ".mp3", ".wav", ".flac", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma", ".aif", ".aiff", ".ape", ".amr", ".mp4",
)
#: Tracks up to this size are read ONCE per sync: hashed and uploaded from memory (peak memory of the
#: uploads: ``concurrency`` x this). Larger tracks are hashed, then streamed (two reads of the track).
SYNC_MEMORY_LIMIT = 32 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(slots=True)
class CatalogEntry:
    """One local track. ``path`` (an ``ObjectStoragePath``) is built only when the track is read."""

    rel: str
    size: int
    mtime: float
    root: Any = None
    sidecar: str | None = None
    sha256: str | None = None
    _path: Any = field(default=None, repr=False)

    @property
    def path(self) -> Any:
        """The track's full path (the root joined with ``rel``, built once)."""
        if self._path is None:
            self._path = self.root / self.rel
        return self._path

    @property
    def local(self) -> Local:
        """What the planner compares with the bucket: size, mtime and (when known) sha256."""
        return Local(self.size, self.mtime, self.sha256)


def check_extensions(value: Any) -> tuple[str, ...]:
    """``['.mp3', 'wav']`` -> ``('.mp3', '.wav')``; anything else -> InvalidInputError naming ``extensions``."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)) or not value:
        raise InvalidInputError(f"extensions must be a non-empty list such as ['.mp3', '.wav'], got {value!r}")
    out = []
    for ext in value:
        if not isinstance(ext, str) or not ext.strip(".").strip() or "/" in ext or "\x00" in ext:
            raise InvalidInputError(f"extensions: each item must be a file extension such as '.mp3', got {ext!r}")
        ext = ext.strip().lower()
        out.append(ext if ext.startswith(".") else "." + ext)
    return tuple(out)


def info_mtime(info: dict[str, Any]) -> float:
    """The modification time of an fsspec ``info`` dict, whatever key and type the file system uses (0.0 if none)."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    return 0.0


@dataclass(frozen=True, slots=True)
class Unknown:
    """A part of the catalog the walk could not see into: nothing recorded under ``rel`` may count as vanished.

    ``rel`` is a folder (``""``: the whole catalog) or a dangling symbolic link; ``track``: the link's name is
    a track's name."""

    rel: str
    reason: str
    link: bool = False
    track: bool = False

    def __str__(self) -> str:
        return f"{self.rel or '.'} ({self.reason})"


@dataclass
class CatalogWalk:
    """Walks a catalog folder lazily, one directory listing at a time; counts what it saw.

    ``unknown`` collects the folders that could not be listed and the dangling links (the walk goes on);
    ``skipped`` the second paths to a folder already walked (a symlink loop or a second link: walked once).
    ``tracks`` counts every track that matched the extensions (all shards), ``yielded`` the tracks of this shard.
    """

    root: Any
    extensions: Sequence[str]
    recursive: bool = True
    sidecar_suffix: str | None = ".json"
    shard: tuple[int, int] = (0, 1)
    unknown: list[Unknown] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tracks: int = 0
    yielded: int = 0

    @property
    def unreadable(self) -> list[str]:
        """The folders and files the walk could not read, as strings (their bucket files are kept)."""
        return [str(u) for u in self.unknown]

    def __iter__(self) -> Iterator[CatalogEntry]:
        """Depth-first, one ``fs.ls`` per folder (``fs.walk`` drops ``on_error`` below the top folder)."""
        base = self.root.path.rstrip("/")
        stack = [(base, "")]
        seen = {self._real(base)}  # folders already walked: a symlink loop (or a second link) is walked once
        while stack:
            folder, prefix = stack.pop()
            try:
                listing = self.root.fs.ls(folder, detail=True)
            except OSError as exc:  # permission denied, I/O error, a prefix that cannot be listed: unknown
                self.unknown.append(Unknown(prefix, type(exc).__name__))
                continue
            files: dict[str, Any] = {}
            for info in listing:
                name = str(info.get("name", "")).rstrip("/").rsplit("/", 1)[-1]
                if not name or name in (".", ".."):
                    continue
                rel = f"{prefix}/{name}" if prefix else name
                if info.get("islink"):  # local symlinks list as "other": follow them (tracks and folders)
                    info = self._follow(f"{folder}/{name}", rel, info)
                    if info is None:
                        continue
                if info.get("type") == "directory":
                    real = self._real(f"{folder}/{name}")
                    if self.recursive and not name.startswith(".") and real in seen:
                        self.skipped.append(rel)  # its tracks were walked under another path
                    elif self.recursive and not name.startswith("."):
                        seen.add(real)
                        stack.append((f"{folder}/{name}", rel))
                else:
                    files[name] = info
            yield from self._entries(prefix, files)

    def _real(self, folder: str) -> str:
        return os.path.realpath(folder) if getattr(self.root, "protocol", "file") in ("file", "local", "") else folder

    def _follow(self, full: str, rel: str, info: dict[str, Any]) -> dict[str, Any] | None:
        """The target's info; a broken link is unknown (it may lead to an unmounted share)."""
        try:
            return {**self.root.fs.info(full), "name": info.get("name")}
        except OSError as exc:
            track = rel.lower().endswith(tuple(self.extensions))
            self.unknown.append(Unknown(rel, f"{type(exc).__name__}: broken link", link=True, track=track))
            return None

    def _entries(self, prefix: str, files: dict[str, Any]) -> Iterator[CatalogEntry]:
        names = files
        index, count = self.shard
        for name, info in names.items():
            rel = f"{prefix}/{name}" if prefix else name
            if name.startswith(".") or not name.lower().endswith(tuple(self.extensions)) or "\x00" in rel:
                continue
            if (info.get("type") or "file") != "file" or rel.startswith("../"):
                continue
            self.tracks += 1
            if shard_of(rel, count) != index:
                continue
            self.yielded += 1
            yield CatalogEntry(rel=rel, size=int(info.get("size") or 0), mtime=info_mtime(info), root=self.root,
                               sidecar=self._sidecar(prefix, name, names))

    def _sidecar(self, prefix: str, name: str, names: dict[str, Any]) -> str | None:
        if not self.sidecar_suffix:
            return None
        for cand in (name + self.sidecar_suffix, os.path.splitext(name)[0] + self.sidecar_suffix):
            if cand in names and cand != name:
                return f"{prefix}/{cand}" if prefix else cand
        return None


def stat_local(root: Any, rel: str) -> Local | None:
    """Size and mtime of a track now (None when it is gone): the convergence re-checks before deleting."""
    try:
        info = root.fs.info(f"{root.path.rstrip('/')}/{rel}")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Local(int(info.get("size") or 0), info_mtime(info))


# ---- reading tracks ------------------------------------------------------------------------------------
def open_track(path: Any) -> IO[bytes]:
    """Every read of catalog audio goes through here (hashing, fingerprinting)."""
    return path.open("rb")


def sha256_of(path: Any) -> str:
    """The hex sha256 of a track, read in blocks."""
    digest = hashlib.sha256()
    with open_track(path) as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_track(path: Any, limit: int | None = None) -> tuple[str, bytes | None]:
    """One read of a track: ``(sha256, bytes)``, or ``(sha256, None)`` when it is larger than ``limit``
    (default ``SYNC_MEMORY_LIMIT``)."""
    limit = SYNC_MEMORY_LIMIT if limit is None else limit
    digest = hashlib.sha256()
    kept: list[bytes] | None = []
    total = 0
    with open_track(path) as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
            total += len(chunk)
            if kept is not None and total > limit:
                kept = None  # too large to keep: hash only, the upload streams the file
            elif kept is not None:
                kept.append(chunk)
    return digest.hexdigest(), (b"".join(kept) if kept is not None else None)


def memory_source(name: str, data: bytes) -> Any:
    """An upload source over bytes already read (reopenable: each attempt starts at byte 0)."""
    from airflow_provider_music.core import UploadSource

    return UploadSource(name=name, size=len(data), _opener=lambda: io.BytesIO(data))


# ---- metadata --------------------------------------------------------------------------------------------
def desired_metadata(
    entry: CatalogEntry, metadata: Callable[[str], dict[str, Any] | None] | None
) -> tuple[str, dict[str, Any]]:
    """(title, user_defined without markers) from the callable or the sidecar; title defaults to the stem."""
    stem = os.path.splitext(os.path.basename(entry.rel))[0]
    if metadata is None and entry.sidecar is None:
        return stem, {}
    meta: dict[str, Any] | None = None
    if metadata is not None:
        meta = metadata(entry.rel)
    elif entry.sidecar is not None:
        sidecar = entry.root / entry.sidecar
        try:
            meta = json.loads(sidecar.read_text())
        except (ValueError, OSError) as exc:
            raise InvalidInputError(f"sidecar {sidecar} is not valid JSON: {exc}") from None
    meta = dict(meta or {})
    title = meta.pop("title", None)
    user_defined = meta.pop("user_defined") if "user_defined" in meta else meta
    user_defined = dict(check_user_defined(user_defined, argument=f"metadata of {entry.rel}") or {})
    for key in (*MARKER_KEYS, UPLOAD_MARKER_KEY):
        user_defined.pop(key, None)
    return (str(title) if title is not None else stem), user_defined


def markers(entry: CatalogEntry, catalog_id: str | None) -> dict[str, Any]:
    """The ``user_defined`` markers the sync puts on a bucket file: catalog path, size, mtime, sha256 and catalog id."""
    out: dict[str, Any] = {
        "catalog_path": entry.rel, "catalog_size": entry.size, "catalog_mtime": entry.mtime,
        "catalog_sha256": entry.sha256,
    }
    if catalog_id:
        out["catalog_id"] = catalog_id
    return out
