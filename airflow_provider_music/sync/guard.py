"""Deletion guard of the catalog sync, in the spirit of rclone's ``--max-delete``.

With ``delete_missing=True`` a run deletes the bucket files whose catalog source vanished. An unmounted mount
point, a folder that cannot be read or an ``extensions`` filter that matches nothing look exactly like "every
track vanished", so before anything is uploaded or deleted the run refuses (and deletes nothing) when:

* some folder of the catalog could not be read, or the catalog holds no track at all;
* it would delete more than ``max_delete_ratio`` of the catalog's files in the bucket (of this shard's files
  when the catalog is sharded), or more than ``max_delete`` files.

Raise the limits explicitly to allow a big clean-up (``max_delete_ratio=1.0``, ``max_delete=None``).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_music.core import ValidationError

#: Default share of the catalog's bucket files one run may delete as "source vanished".
DEFAULT_MAX_DELETE_RATIO = 0.5


class DeletionGuardError(ValidationError):
    """The catalog sync refused to delete: the catalog looks unreadable/empty or too much would go."""

    def __init__(self, message: str) -> None:
        super().__init__(message, request_may_have_been_processed=False)


@dataclass(frozen=True)
class DeletionGuard:
    max_delete_ratio: float = DEFAULT_MAX_DELETE_RATIO
    max_delete: int | None = None

    def check(
        self, *, missing: int, in_bucket: int, local_tracks: int, unreadable: list[str], where: str
    ) -> None:
        """Raise :class:`DeletionGuardError` unless deleting ``missing`` of ``in_bucket`` files is safe."""
        if not missing:
            return
        prefix = f"delete_missing: refusing to delete {missing} file(s) of {where}"
        if unreadable:
            shown = ", ".join(unreadable[:3])
            raise DeletionGuardError(
                f"{prefix}: part of the catalog could not be read ({shown}); nothing was uploaded or deleted"
            )
        if local_tracks == 0:
            raise DeletionGuardError(
                f"{prefix}: the catalog holds no track (an unmounted folder, or an extensions filter that matches"
                " nothing?); nothing was uploaded or deleted"
            )
        if self.max_delete is not None and missing > self.max_delete:
            raise DeletionGuardError(
                f"{prefix}: more than max_delete={self.max_delete}; raise max_delete to allow it. Nothing was"
                " uploaded or deleted"
            )
        share = missing / max(in_bucket, 1)
        if share > self.max_delete_ratio:
            raise DeletionGuardError(
                f"{prefix} ({share:.0%} of the {in_bucket} catalog file(s) there): more than"
                f" max_delete_ratio={self.max_delete_ratio}; raise max_delete_ratio (up to 1.0) to allow it."
                " Nothing was uploaded or deleted"
            )
