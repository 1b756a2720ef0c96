"""Deletion guard of the catalog sync, in the spirit of rclone's ``--max-delete``.

With ``delete_missing=True`` a run deletes the bucket files whose catalog source vanished. An unmounted mount
point or an ``extensions`` filter that matches nothing look exactly like "every track vanished"; a folder the
walk could not read is *unknown*, never vanished (the executor keeps every file recorded under it before the
guard is asked). Before anything is uploaded or deleted the run refuses (and deletes nothing) when:

* the catalog holds no track at all (an empty mount point, a filter matching nothing);
* it would delete more than ``max_delete_ratio`` of the catalog's *tracks* in the bucket (distinct catalog
  paths, this shard's when the catalog is sharded: copies of a surviving track do not dilute the share);
* it would delete more than ``max_delete`` *files*.

``max_delete`` is also a hard cap on every delete of the run (:class:`DeleteBudget`): old versions and copies
that the convergence removes later count too. Raise the limits explicitly to allow a big clean-up
(``max_delete_ratio=1.0``, ``max_delete=None``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from airflow_provider_music.core import ValidationError

#: Default share of the catalog's tracks in the bucket one run may delete as "source vanished".
DEFAULT_MAX_DELETE_RATIO = 0.5


class DeletionGuardError(ValidationError):
    """The catalog sync refused to delete: the catalog looks empty or too much would go."""

    def __init__(self, message: str) -> None:
        super().__init__(message, request_may_have_been_processed=False)


@dataclass(frozen=True)
class DeletionGuard:
    """The limits on what one catalog sync may delete: a share of the catalog's tracks in the bucket
    (``max_delete_ratio``) and a hard cap on files (``max_delete``, ``None``: no cap)."""

    max_delete_ratio: float = DEFAULT_MAX_DELETE_RATIO
    max_delete: int | None = None

    def check(self, *, missing: int, missing_files: int, in_bucket: int, local_tracks: int, where: str) -> None:
        """Raise :class:`DeletionGuardError` unless deleting the ``missing_files`` files of ``missing`` of the
        ``in_bucket`` catalog tracks in the bucket is safe."""
        if not missing:
            return
        prefix = f"delete_missing: refusing to delete {missing} track(s) ({missing_files} file(s)) of {where}"
        if local_tracks == 0:
            raise DeletionGuardError(
                f"{prefix}: the catalog holds no track (an unmounted folder, or an extensions filter that matches"
                " nothing?); nothing was uploaded or deleted"
            )
        if self.max_delete is not None and missing_files > self.max_delete:
            raise DeletionGuardError(
                f"{prefix}: more than max_delete={self.max_delete} file(s); raise max_delete to allow it. Nothing"
                " was uploaded or deleted"
            )
        share = missing / max(in_bucket, 1)
        if share > self.max_delete_ratio:
            raise DeletionGuardError(
                f"{prefix} ({share:.0%} of the {in_bucket} catalog track(s) there): more than"
                f" max_delete_ratio={self.max_delete_ratio}; raise max_delete_ratio (up to 1.0) to allow it."
                " Nothing was uploaded or deleted"
            )


#: The ``path`` of the failure that says ``max_delete`` held deletions back (the task then fails without retries).
DELETIONS_HELD = "(deletions)"


@dataclass
class DeleteBudget:
    """The one counter every delete of a run goes through: at most ``limit`` files (None: no limit)."""

    limit: int | None = None
    used: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, wanted: int) -> int:
        """How many of ``wanted`` files may be deleted now (the rest is counted as refused). A delete call that
        fails still counts: it may have deleted some of its files."""
        with self.lock:
            allowed = wanted if self.limit is None else max(0, min(wanted, self.limit - self.used))
            self.used += allowed
            self.refused += wanted - allowed
            return allowed

    def report(self) -> str | None:
        """What the cap held back, or None when nothing was."""
        if not self.refused:
            return None
        return (
            f"max_delete={self.limit} reached: {self.used} file(s) deleted, {self.refused} more due for deletion"
            " were left in the bucket (the next run deletes them; raise max_delete to allow more per run)"
        )
