"""Batched readiness polls of ACRCloud bucket files (the triggerer's many waits share requests).

Thousands of deferred tasks waiting for one file each would otherwise make one request per file per
poll. A poll waits at most ``window`` seconds for others on the same connection and bucket, then one
request per 100 distinct ids answers all of them.

Every waiter gets an event whatever the answer: records are indexed with the contract's hostile-safe
:func:`~airflow_provider_music.contract.acrcloud.index_records` (ids as NaN, ``1e999``, lists or missing are
skipped, so the file reads "not found"), a batch answered 404 is retried waiter by waiter (one waiter's
bad id never fails the others), and any other failure - including a bug - is handed to every waiter of
the batch. A waiter left without an answer gets an :class:`InvalidResponseError` rather than hanging.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract.acrcloud import IDS_PER_REQUEST, index_records
from airflow_provider_music.core.errors import InvalidResponseError, NotFoundError

if TYPE_CHECKING:
    from airflow_provider_music.hooks.acrcloud import AcrCloudHook

Waiter = tuple[Any, list[str], "asyncio.Future[list[dict[str, Any]]]"]


class FilePollBatcher:
    """Coalesce concurrent ``afiles_status`` polls of one event loop into shared ``GET files/:ids`` calls."""

    window = 0.1
    #: batch requests in flight per event loop: a handful of pooled connections, not up to the pool's limit
    max_in_flight = 4

    def __init__(self) -> None:
        self._pending: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], list[Waiter]]] = weakref.WeakKeyDictionary()
        self._in_flight: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()

    async def fetch(self, hook: AcrCloudHook, bucket: str, ids: list[str]) -> list[dict[str, Any]]:
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
        try:
            await self._answer(loop, waiters, key[1])
        except BaseException as exc:
            self._fail(waiters, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._fail(waiters, InvalidResponseError(
                f"GET buckets/{key[1]}/files/:ids: no answer for this poll", request_may_have_been_processed=False,
            ))

    async def _answer(self, loop: Any, waiters: list[Waiter], bucket: str) -> None:
        hook = waiters[0][0]
        ids = list(dict.fromkeys(i for _, w, _ in waiters for i in w))
        limit = self._in_flight.get(loop)
        if limit is None:
            limit = self._in_flight[loop] = asyncio.Semaphore(self.max_in_flight)
        try:
            async with limit:
                records = await hook.aget_files(bucket, ids)
        except NotFoundError as exc:
            if len(waiters) == 1:
                self._fail(waiters, exc)
                return
            for one in waiters:
                try:
                    self._settle([one], await one[0].aget_files(bucket, one[1]))
                except Exception as err:
                    self._fail([one], err)
            return
        self._settle(waiters, records)

    @staticmethod
    def _settle(waiters: list[Waiter], records: list[dict[str, Any]]) -> None:
        # Each waiter gets only its own records: handing every waiter the whole batch made each of N
        # triggers parse 100 records per poll (bench_wait, N = 10,000: one core busy, events late).
        by_key = index_records(records)
        for _, ids, future in waiters:
            if not future.done():
                mine = {id(rec): rec for key in ids if (rec := by_key.get(str(key))) is not None}
                future.set_result(list(mine.values()))

    @staticmethod
    def _fail(waiters: list[Waiter], exc: BaseException) -> None:
        for _, _, future in waiters:
            if future.done():
                continue
            if isinstance(exc, Exception):
                future.set_exception(exc)
            else:  # cancellation or interpreter exit: cancel the waits rather than leave them hanging
                future.cancel()


FILE_POLL_BATCHER = FilePollBatcher()

__all__ = ["FILE_POLL_BATCHER", "FilePollBatcher"]
