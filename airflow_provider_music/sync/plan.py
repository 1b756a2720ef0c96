"""Pure planning of a catalog sync: local track facts + bucket records -> actions. No I/O here.

A bucket file belongs to catalog path ``p`` when its ``user_defined`` holds ``catalog_path == p`` and the
sync's ``catalog_id`` (no ``catalog_id`` at all for a sync without one: another catalog's labelled files are
never the sync's, unless it names their label in ``adopt``). Per path the planner decides one of:

* ``UNCHANGED``: a record matches the local size + mtime (no read of the audio);
* ``VERIFY``: a record has the local size but another mtime: hash the track, then :func:`decide_hashed`;
* ``TOUCHED``: same bytes (sha256), new mtime: refresh the marker, no upload;
* ``UPLOAD``: new or changed track.

Convergence rules (what makes overlapping runs safe), applied by :func:`converge` after uploads:

* the *keeper* of a path is the record with the LOWEST id among the records of the current local content
  that are not in error: every run picks the same keeper from the same records, whatever it uploaded;
* other records of the path are deleted only once the keeper is confirmed present AND ready;
* nothing is deleted for a path whose local file changed since the run looked at it, nor for a path
  without a current keeper (a newer version may still be on its way from another run).
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from airflow_provider_music.core import InvalidInputError

#: Keys the catalog sync writes into each file's ``user_defined`` (its marker).
MARKER_KEYS = ("catalog_path", "catalog_size", "catalog_mtime", "catalog_sha256", "catalog_id")
UPLOAD_MARKER_KEY = "airflow_upload_key"
FILE_READY, FILE_ERROR = 1, -1

UNCHANGED, VERIFY, TOUCHED, UPLOAD = "unchanged", "verify", "touched", "upload"


class Rec(NamedTuple):
    """Compact view of one bucket file of the catalog (a 1M-file bucket must fit in memory)."""

    id: int
    state: int
    size: Any
    mtime: Any
    sha: bytes | None  # the 32 raw bytes of catalog_sha256 (half the memory of the hex text)
    meta: int  # digest of (title, user_defined without markers): "is the metadata up to date?"
    own: bool = True  # labelled with the sync's own catalog_id (False: adopted from another label)

    @property
    def sha_hex(self) -> str | None:
        """The catalog sha256 as hex text, or ``None``."""
        return self.sha.hex() if self.sha is not None else None


class Local(NamedTuple):
    """What the run knows about one local track."""

    size: int
    mtime: float
    sha: str | None = None


def meta_digest(title: Any, user_defined: Mapping[str, Any] | None) -> int:
    """A 64-bit digest of a file's title and its ``user_defined`` without the sync's own markers."""
    ud = {k: v for k, v in (user_defined or {}).items() if k not in MARKER_KEYS and k != UPLOAD_MARKER_KEY}
    text = json.dumps(title) + ("\x00" + json.dumps(ud, sort_keys=True, default=str) if ud else "")
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _int(value: Any, default: int) -> int:
    """A whole number from an answer (``7``, ``7.0``, ``"7"``); ``True``, ``1.5``, NaN, text -> ``default``.
    Never truncated: ``1.5`` is no file id to keep or delete, nor a ready state."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return int(number) if math.isfinite(number) and number.is_integer() else default


def whole(value: Any, default: int = 0) -> int:
    """Public form of the strict integer rule (the executor reads ids and states of ``GET files/:ids``)."""
    return _int(value, default)


def record_of(
    raw: Mapping[str, Any], catalog_id: str | None, adopt: Iterable[str | None] = ()
) -> tuple[str, Rec] | None:
    """``(catalog_path, Rec)`` of a listed bucket file, or None when the file is not the sync's.

    The sync's files carry its ``catalog_id`` (none at all when it has none); files of the labels in ``adopt``
    (``None``: unlabelled files) are taken over explicitly. Any other label is another catalog's: never touched.
    """
    ud = raw.get("user_defined")
    if not isinstance(ud, Mapping):
        return None
    path = ud.get("catalog_path")
    if not isinstance(path, str) or not path:
        return None
    label = ud.get("catalog_id")
    if label == "":
        label = None  # unlabelled
    elif label is not None and not isinstance(label, str):
        return None  # 0, False, [], {}: no label this package writes, so another's (never "unlabelled")
    own = label == (catalog_id or None)
    if not own and label not in adopt:
        return None
    file_id = _int(raw.get("id"), 0)
    if file_id <= 0:  # no usable id: it can be neither kept nor deleted
        return None
    sha = ud.get("catalog_sha256")
    rec = Rec(
        id=file_id, state=_int(raw.get("state"), 0), size=ud.get("catalog_size"),
        mtime=ud.get("catalog_mtime"), sha=_sha_bytes(sha),
        meta=meta_digest(raw.get("title"), ud), own=own,
    )
    return path, rec


def _sha_bytes(value: Any) -> bytes | None:
    if not isinstance(value, str) or len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def same_mtime(a: Any, b: Any) -> bool:
    """Are two modification times equal within a millisecond (``False`` when either is not a number)?"""
    try:
        return abs(float(a) - float(b)) < 1e-3
    except (TypeError, ValueError):
        return False


def is_current(rec: Rec, local: Local) -> bool:
    """Does ``rec`` hold the local content? (size + mtime, or the same sha256 when the run hashed it)."""
    if rec.size == local.size and same_mtime(rec.mtime, local.mtime):
        return True
    return local.sha is not None and rec.size == local.size and rec.sha_hex == local.sha


def keeper(recs: Iterable[Rec], local: Local) -> Rec | None:
    """The one record of the current content every run agrees to keep: the lowest id not in error."""
    current = [r for r in recs if r.state != FILE_ERROR and is_current(r, local)]
    return min(current, key=lambda r: r.id) if current else None


def decide(local: Local, recs: Sequence[Rec]) -> tuple[str, Rec | None]:
    """First decision, from the listing only: ``(UNCHANGED, keeper)``, ``(VERIFY, None)`` or ``(UPLOAD, None)``."""
    keep = keeper(recs, local)
    if keep is not None:
        return UNCHANGED, keep
    if any(r.size == local.size and r.state != FILE_ERROR and r.sha for r in recs):
        return VERIFY, None
    return UPLOAD, None


def decide_hashed(local: Local, recs: Sequence[Rec]) -> tuple[str, Rec | None]:
    """Second decision once the track is hashed: ``(TOUCHED, keeper)`` or ``(UPLOAD, None)``."""
    same = [r for r in recs if r.size == local.size and r.state != FILE_ERROR and r.sha_hex == local.sha]
    if same:
        return TOUCHED, min(same, key=lambda r: r.id)
    return UPLOAD, None


def needs_convergence(recs: Sequence[Rec], keep: Rec | None) -> bool:
    """Anything to clean up for this path (duplicates, old versions, errors, a keeper not ready yet)?"""
    return len(recs) > 1 or (keep is not None and keep.state != FILE_READY)


def converge(recs: Iterable[Rec], local: Local) -> tuple[Rec | None, list[Rec]]:
    """``(keeper, deletable)``: records to delete once the keeper is confirmed present and ready."""
    recs = list(recs)
    keep = keeper(recs, local)
    if keep is None:
        return None, []
    return keep, [r for r in recs if r.id != keep.id]


# ---- parts of the catalog the walk could not read -----------------------------------------------------------
def hidden_by(path: str, unknown: set[str] | frozenset[str]) -> str | None:
    """The part of ``unknown`` (relative folders or links; ``""`` is the whole catalog) that ``path`` lies under,
    or None. A bucket file under an unknown part is never "vanished": nobody saw whether its source is there."""
    if not unknown:
        return None
    if "" in unknown:
        return ""
    prefix = ""
    for part in path.split("/"):
        prefix = f"{prefix}/{part}" if prefix else part
        if prefix in unknown:
            return prefix
    return None


# ---- sharding ----------------------------------------------------------------------------------------
def parse_shard(value: Any) -> tuple[int, int]:
    """``"i/K"``, ``(i, K)``, ``[i, K]`` or None -> ``(i, K)`` with ``0 <= i < K``; else InvalidInputError."""
    if value is None or value == "":
        return 0, 1
    parts: Any = value
    if isinstance(value, str):
        parts = value.split("/")
    if not isinstance(parts, (list, tuple)) or len(parts) != 2:
        raise InvalidInputError(f"shard must be 'i/K' (e.g. '0/4') or None, got {value!r}")
    try:
        index, count = (int(str(p).strip()) for p in parts)
    except ValueError:
        raise InvalidInputError(f"shard must be 'i/K' with integers, got {value!r}") from None
    if not 1 <= count <= 10_000 or not 0 <= index < count:
        raise InvalidInputError(f"shard must be 'i/K' with 0 <= i < K <= 10000, got {value!r}")
    return index, count


def shard_of(path: str, count: int) -> int:
    """Stable shard of a catalog path (the same in every process and Python version)."""
    return zlib.crc32(path.encode("utf-8", "surrogatepass")) % count if count > 1 else 0


# ---- deletion limits ---------------------------------------------------------------------------------
def check_ratio(value: Any, argument: str) -> float:
    """A share from 0 to 1 (numeric strings accepted)."""
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{argument} must be a number from 0 to 1, got {value!r}") from None
    if isinstance(value, bool) or math.isnan(ratio) or not 0.0 <= ratio <= 1.0:
        raise InvalidInputError(f"{argument} must be a number from 0 to 1, got {value!r}")
    return ratio


def check_count(value: Any, argument: str, *, allow_none: bool = True) -> int | None:
    """A non-negative integer count (numeric strings accepted), or None for "no limit"."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidInputError(f"{argument} must be a whole number >= 0{' or None' if allow_none else ''}, got {value!r}")
    try:
        count = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"{argument} must be a whole number >= 0{' or None' if allow_none else ''}, got {value!r}") from None
    if count < 0:
        raise InvalidInputError(f"{argument} must be a whole number >= 0, got {value!r}")
    return count
