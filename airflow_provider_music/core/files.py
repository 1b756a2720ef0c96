"""Files: upload sources, the one str/URL -> ``ObjectStoragePath`` rule, atomic writes, local file errors.

Safe and distinct file names (the one name sanitiser of the package, last section); the upload content check
(:mod:`.content`) is re-exported here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_music.core.content import check_audio_content, check_upload_content  # noqa: F401 - re-export
from airflow_provider_music.core.errors import InvalidInputError, LocalFileError

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

Source = Any  # str | os.PathLike | ObjectStoragePath | binary file object


@dataclass
class UploadSource:
    """A validated upload source that can be (re)opened for each attempt without reading it whole."""

    name: str
    size: int | None
    _opener: Callable[[], IO[bytes]] = field(repr=False)
    reopenable: bool = True

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """Open the source for one attempt (closed afterwards unless it is a caller's file object)."""
        fobj = self._opener()
        try:
            yield fobj
        finally:
            if self.reopenable:
                fobj.close()


def to_storage_path(value: Any, conn_id: str | None = None, *, argument: str = "path") -> ObjectStoragePath:
    """THE text -> path rule: ``str | os.PathLike | ObjectStoragePath`` -> ``ObjectStoragePath``.

    A text with ``://`` is a URL (``s3://``, ``gs://``, ``file://``); anything else is a local path,
    ``~`` expanded and made absolute. ``conn_id`` is the object-storage connection for URLs.
    """
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        return value
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise InvalidInputError(f"{argument} must be a path or URL, got {type(value).__name__}")
    text = os.fspath(value)
    if not text.strip() or "\x00" in text:
        raise InvalidInputError(f"{argument} must be a non-empty path or URL, got {text[:100]!r}")
    if "://" not in text:
        text = "file://" + os.path.abspath(os.path.expanduser(text))
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def output_location(path: Any) -> str:
    """What operators return for a written file: a plain local path for local files, else the URL
    without query string or credentials (``s3://bucket/key``)."""
    from airflow_provider_music.core.errors import redact_url

    storage = to_storage_path(path)
    if storage.protocol in ("file", "local", ""):
        return str(storage.path)
    text = str(storage)
    return redact_url(text) if "?" in text or "@" in text else text


def resolve_source(source: Source, *, argument: str = "source", allow_empty: bool = False) -> UploadSource:
    """Validate an upload source before any network call: exists, is a file, readable, not empty."""
    if source is None or source == "":
        raise InvalidInputError(f"{argument} is required: give a local path, an ObjectStoragePath or a file object")
    if isinstance(source, UploadSource):  # already resolved (e.g. bytes read once and kept in memory)
        if source.size == 0 and not allow_empty:
            raise InvalidInputError(f"{argument}: {source.name} is empty")
        return source
    if hasattr(source, "read") and not isinstance(source, (str, os.PathLike)) and not hasattr(source, "fs"):
        return _file_object_source(source, argument, allow_empty)
    if isinstance(source, (str, os.PathLike)) and "://" not in os.fspath(source):
        local = Path(os.fspath(source)).expanduser()
        if not local.exists():
            raise InvalidInputError(f"{argument}: file not found: {local}")
        if not local.is_file():
            raise InvalidInputError(f"{argument}: not a regular file: {local}")
        if not os.access(local, os.R_OK):
            raise InvalidInputError(f"{argument}: file is not readable: {local}")
        size = local.stat().st_size
        if size == 0 and not allow_empty:
            raise InvalidInputError(f"{argument}: file is empty: {local}")
        return UploadSource(name=local.name, size=size, _opener=lambda: open(local, "rb"))
    path = to_storage_path(source)
    try:
        exists = path.exists()
        is_file = exists and path.is_file()
        remote_size: int | None = int(path.stat().st_size) if is_file else None
    except PermissionError:
        raise InvalidInputError(f"{argument}: file is not readable: {path}") from None
    if not exists:
        raise InvalidInputError(f"{argument}: file not found: {path}")
    if not is_file:
        raise InvalidInputError(f"{argument}: not a regular file: {path}")
    if remote_size == 0 and not allow_empty:
        raise InvalidInputError(f"{argument}: file is empty: {path}")
    return UploadSource(name=path.name, size=remote_size, _opener=lambda: path.open("rb"))


def _file_object_source(fobj: Any, argument: str, allow_empty: bool) -> UploadSource:
    import io

    mode = getattr(fobj, "mode", "rb")
    if isinstance(fobj, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise InvalidInputError(f"{argument}: file object must be opened in binary mode ('rb')")
    name = os.path.basename(str(getattr(fobj, "name", "upload") or "upload"))
    size: int | None = None
    start = 0
    seekable = False
    try:
        seekable = bool(fobj.seekable())
    except (AttributeError, OSError):
        seekable = False
    if seekable:
        start = fobj.tell()
        fobj.seek(0, os.SEEK_END)
        size = fobj.tell() - start
        fobj.seek(start)
        if size == 0 and not allow_empty:
            raise InvalidInputError(f"{argument}: file object is empty")

    def reopen() -> IO[bytes]:
        if seekable:
            fobj.seek(start)
        return fobj

    return UploadSource(name=name, size=size, _opener=reopen, reopenable=False)


def ensure_writable_destination(destination: Any, *, argument: str = "destination") -> ObjectStoragePath:
    """Normalise a destination folder/file and fail early when it cannot be written."""
    path = to_storage_path(destination)
    if path.protocol in ("file", "local", ""):
        local = Path(path.path)
        probe = local
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise InvalidInputError(f"{argument}: {probe} exists and is not a directory")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise InvalidInputError(f"{argument}: {local} is not writable")
    return path


def local_file_error(exc: OSError, path: Any, argument: str, action: str) -> LocalFileError:
    """A :class:`LocalFileError` for ``exc`` raised while ``action``-ing ``path`` (never retried)."""
    reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
    code = errno.errorcode.get(exc.errno or 0, "")
    shown = str(path)
    shown = shown if len(shown) <= 300 else shown[:150] + "..." + shown[-100:]
    return LocalFileError(
        f"{argument}: cannot {action} {shown}: {reason}{f' ({code})' if code else ''}",
        argument=argument, file_path=str(path),
    )


def claim_folder(folder: ObjectStoragePath, *, argument: str = "destination") -> bool:
    """Create ``folder`` for this caller alone: True when it was created now, False when it already existed.

    A local folder is claimed atomically (``os.mkdir``: of two tasks racing for one name exactly one wins;
    fsspec's local ``mkdir`` checks-then-creates and lets both win). Object stores have no folders to
    claim: the folder counts as taken when anything is already stored under it.
    """
    try:
        if folder.protocol in ("file", "local", ""):
            local = Path(str(folder.path))
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.mkdir(local)
            except FileExistsError:
                return False
            return True
        if folder.exists():
            return False
        folder.mkdir(parents=True, exist_ok=True)
        return True
    except OSError as exc:
        raise local_file_error(exc, folder, argument, "create") from None


@contextlib.contextmanager
def atomic_write(destination: ObjectStoragePath, *, argument: str = "destination") -> Iterator[IO[bytes]]:
    """Write to a temporary sibling and move it into place only when the block succeeds.

    Errors of the filesystem itself (creating the folder, opening, renaming) are :class:`LocalFileError`
    naming ``argument``; errors raised by the block propagate unchanged. Nothing is left behind on failure.
    """
    tmp = destination.parent / f".{destination.name}.{uuid.uuid4().hex[:8]}.part"
    failure: LocalFileError | None = None
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fh = tmp.fs.open(tmp.path, "wb")  # not tmp.open(): Airflow's hook lineage would name the temporary file
    except OSError as exc:
        failure = local_file_error(exc, destination, argument, "write")
    if failure is not None:
        raise failure
    try:
        with fh:
            yield fh
        _move_into_place(tmp, destination, argument)
        _hook_lineage_output(destination)
    except BaseException:
        with contextlib.suppress(Exception):
            if tmp.exists():
                tmp.unlink()
        raise


def _hook_lineage_output(path: ObjectStoragePath) -> None:
    """Airflow's hook-level lineage names the final file of an atomic write (docs/lineage.md)."""
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    get_hook_lineage_collector().add_output_asset(context=path, uri=str(path))


def _move_into_place(tmp: ObjectStoragePath, destination: ObjectStoragePath, argument: str) -> None:
    try:
        if destination.protocol in ("file", "local", ""):
            os.replace(tmp.path, destination.path)
        else:
            tmp.rename(destination)
    except OSError as exc:
        failure = local_file_error(exc, destination, argument, "write")
    else:
        return
    raise failure


def capped_source(source: UploadSource, limit: int, *, argument: str = "source", what: str = "the API's") -> UploadSource:
    """``source`` that can never send more than ``limit`` bytes: reading fails with an
    :class:`InvalidInputError` BEFORE handing out the block that would pass the limit, so nothing over the
    cap leaves, also for a stream of unknown size (a pipe) that the size check before sending cannot see."""
    opener = source._opener

    def open_capped() -> IO[bytes]:
        return _CappedReader(opener(), limit, f"{argument}: {source.name!r} is larger than {limit} bytes "
                                              f"({limit / 2**20:.0f} MB), {what} limit: the upload was stopped "
                                              "before the limit was passed", source.size)  # type: ignore[return-value]

    return UploadSource(name=source.name, size=source.size, _opener=open_capped, reopenable=source.reopenable)


class _CappedReader:
    """Reads ``fobj`` in blocks; raises before returning a block that would pass ``limit`` bytes in total."""

    def __init__(self, fobj: IO[bytes], limit: int, message: str, size: int | None) -> None:
        self._fobj, self._left, self._message, self._size = fobj, limit, message, size
        self.name = getattr(fobj, "name", "upload")

    def __len__(self) -> int:  # requests: a known size goes out as Content-Length, else chunked
        return self._size or 0

    def __bool__(self) -> bool:  # requests sends ``data or {}``: an unsized stream is still a body
        return True

    def __iter__(self) -> Iterator[bytes]:
        from airflow_provider_music.core.bodies import UPLOAD_BLOCK

        return iter(lambda: self.read(UPLOAD_BLOCK), b"")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        data = self._fobj.read(want) or b""
        if len(data) > self._left:
            raise InvalidInputError(self._message)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._fobj.close()


# --------------------------------------------------------------------------------------------------
# Safe and distinct file names (was core/names.py)
# --------------------------------------------------------------------------------------------------
# Safe and distinct file names: the one name sanitiser of the package.
#
# :func:`safe_file_name` reduces any text to one path component that cannot escape its folder and fits the
# 255-byte component limit of common filesystems (counted in UTF-8 bytes, leaving room for the temporary
# suffix of an atomic write). :func:`distinct_file_name` adds a short stable hash whenever sanitising or
# truncating changed the name, so distinct ids/names (``vocals``, ``../vocals``, ``vocals?``; ids sharing a
# long prefix) never map to the same file.

#: Most filesystems limit one path component to 255 bytes; atomic writes add ``.<name>.<8 hex>.part``.
COMPONENT_MAX_BYTES = 255
TEMP_SUFFIX_BYTES = 16
NAME_MAX_BYTES = COMPONENT_MAX_BYTES - TEMP_SUFFIX_BYTES
_RESERVED = '\x00:*?"<>|'
HASH_CHARS = 10


def _clip_bytes(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    return data[: max(0, max_bytes)].decode("utf-8", "ignore")


def safe_file_name(name: Any, fallback: str = "file", *, max_length: int = 200, max_bytes: int = NAME_MAX_BYTES) -> str:
    """Reduce a name from an API or a user to one safe path component.

    Keeps the last path segment only (``../../x.wav`` -> ``x.wav``, ``C:\\a\\b`` -> ``b``), drops NUL,
    control and reserved characters and leading dots, caps the length at ``max_length`` characters and
    ``max_bytes`` UTF-8 bytes (keeping a short extension) and falls back to ``fallback`` when nothing is
    left. The result can never escape the folder it is joined to. Distinct inputs may give the same
    result: use :func:`distinct_file_name` when outputs must not overwrite each other.
    """
    text = str(name or "").replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if ch.isprintable() and ch not in _RESERVED).strip().lstrip(".").strip()
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be file names
    if not text:
        return fallback
    if len(text) <= max_length and len(text.encode("utf-8")) <= max_bytes:
        return text
    stem, dot, ext = text.rpartition(".")
    keep = f".{ext}" if dot and stem and len(ext) <= 10 else ""
    body = stem if keep else text
    body = _clip_bytes(body[: max_length - len(keep)], max_bytes - len(keep.encode("utf-8")))
    return (body + keep) if body.strip() else fallback


def name_hash(value: Any) -> str:
    """A short stable hash of ``value``'s text (the same in every process and run)."""
    return hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def distinct_file_name(
    name: Any, fallback: str = "file", *, suffix: str = "", max_bytes: int = NAME_MAX_BYTES, case_sensitive: bool = False
) -> str:
    """A safe file name that differs for different ``name`` values.

    When :func:`safe_file_name` keeps ``name`` as it is, that is the result (plus ``suffix``, e.g. ``.wav``).
    When it had to change it (path parts, reserved characters, truncation, empty), ``-<hash>`` of the
    original text is added before the extension, so ``vocals``, ``../vocals`` and ``vocals?`` give three
    files, and ids sharing their first 200 characters stay apart. Unless ``case_sensitive``, a name with
    upper-case letters gets the hash too (``X`` and ``x`` are one file on macOS and Windows disks).
    """
    text = "" if name is None else str(name)
    room = max_bytes - len(suffix.encode("utf-8"))
    base = safe_file_name(text, fallback, max_bytes=room)
    if text and base == text and (case_sensitive or base == base.lower()):
        return base + suffix
    tag = f"-{name_hash(text)}"
    base = safe_file_name(text, fallback, max_bytes=room - len(tag))
    stem, dot, ext = base.rpartition(".")
    if dot and stem and len(ext) <= 10 and not suffix:
        return f"{stem}{tag}.{ext}"
    return f"{base}{tag}{suffix}"
