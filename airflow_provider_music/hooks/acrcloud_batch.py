"""Batched readiness polls of ACRCloud bucket files (the triggerer's many waits share requests).

Thousands of deferred tasks waiting for one file each would otherwise make one request per file per
poll. A poll waits at most ``window`` seconds for others on the same connection and bucket, then one
request per 100 distinct ids answers all of them - :class:`~airflow_provider_music.core.poller.Coalescer`,
the one mechanism of every shared poll (FlowMusic's and Riffusion's listings use it too).

Every waiter gets an event whatever the answer: records are indexed with the contract's hostile-safe
:func:`~airflow_provider_music.contract.acrcloud.index_records` (ids as NaN, ``1e999``, lists or missing are
skipped, so the file reads "not found"), a batch answered 404 is retried waiter by waiter (one waiter's
bad id never fails the others), and any other failure - including a bug - is handed to every waiter of
the batch. A waiter left without an answer gets an :class:`InvalidResponseError` rather than hanging.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract.acrcloud import IDS_PER_REQUEST, index_records
from airflow_provider_music.core.errors import NotFoundError
from airflow_provider_music.core.poller import Coalescer, Waiter

if TYPE_CHECKING:
    from airflow_provider_music.hooks.acrcloud import AcrCloudHook

Records = list[dict[str, Any]]


class FilePollBatcher(Coalescer[Records]):
    """Coalesce concurrent ``afiles_status`` polls of one event loop into shared ``GET files/:ids`` calls."""

    window = 0.1

    async def fetch(self, hook: AcrCloudHook, bucket: str, ids: list[str]) -> Records:
        """The records of ``ids`` in ``bucket``, from a request shared with the other waits of the loop."""
        return await self.join((hook.conn_id, bucket), hook, ids)

    def call_name(self, key: Hashable) -> str:
        """``GET buckets/<bucket>/files/:ids`` for the batch of ``(conn_id, bucket)``."""
        return f"GET buckets/{key[1]}/files/:ids"  # type: ignore[index]

    def full(self, waiters: list[Waiter[Records]]) -> bool:
        """A batch holding 100 distinct ids (one request's worth) goes at once."""
        return len({i for w in waiters for i in w.item}) >= IDS_PER_REQUEST

    async def answer(self, key: Hashable, waiters: list[Waiter[Records]]) -> None:
        """One ``aget_files`` for every id of the batch; a 404 is retried waiter by waiter."""
        bucket = key[1]  # type: ignore[index]
        ids = list(dict.fromkeys(i for w in waiters for i in w.item))
        try:
            async with self.limit():
                records = await waiters[0].hook.aget_files(bucket, ids)
        except NotFoundError as exc:
            if len(waiters) == 1:
                self.fail(waiters, exc)
                return
            for one in waiters:
                try:
                    self._hand_out([one], await one.hook.aget_files(bucket, one.item))
                except Exception as err:
                    self.fail([one], err)
            return
        self._hand_out(waiters, records)

    def _hand_out(self, waiters: list[Waiter[Records]], records: Records) -> None:
        # Each waiter gets only its own records: handing every waiter the whole batch made each of N
        # triggers parse 100 records per poll (bench_wait, N = 10,000: one core busy, events late).
        by_key = index_records(records)
        for waiter in waiters:
            mine = {id(rec): rec for key in waiter.item if (rec := by_key.get(str(key))) is not None}
            self.settle(waiter, list(mine.values()))


FILE_POLL_BATCHER = FilePollBatcher()

__all__ = ["FILE_POLL_BATCHER", "FilePollBatcher"]
