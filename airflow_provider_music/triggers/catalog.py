"""An event trigger for Airflow's ``AssetWatcher``: new or changed tracks under a catalog path.

``CatalogChangeTrigger`` lists the catalog (a local folder or any ``ObjectStoragePath``, ``s3://...`` with
``catalog_conn_id``) once per ``poll_interval`` with the catalog sync's own walk
(:class:`~airflow_provider_music.sync.catalog.CatalogWalk`: same extensions filter, hidden files and
``.part`` files skipped, unreadable folders reported as unknown) and fires one event when tracks are new or
changed (size or mtime, the sync's rule)::

    Asset("label_catalog", uri="file:///srv/catalog", watchers=[
        AssetWatcher(name="catalog_changes", trigger=CatalogChangeTrigger(catalog="/srv/catalog"))])

Supported on Airflow 3.0 to 3.3 (``AssetWatcher`` and ``BaseEventTrigger`` came with 3.0; the trigger is
imported through ``apache-airflow-providers-common-compat``). Tested there in a real scheduler + triggerer.

**Durable state.** The trigger's kwargs are fixed when the DAG is parsed, so what it has seen lives in a small
JSON state file: ``<state_path>/<key>.json`` (``key``: a digest of the catalog, connection, extensions and
``recursive``), by default under ``$AIRFLOW_HOME/music_catalog_watch/``. A file, not an Airflow Variable:
it works the same on every supported version from inside the triggerer (no API round trip from async code
per poll), it is written atomically, and ``state_path`` may be object storage (``s3://ops/watch-state/``
with ``state_conn_id``) when triggerers run on several hosts. Delete the file to start from a new baseline.

**Exactly one event per change, across triggerer restarts.**

* The first listing (no state file) records a baseline silently: existing tracks are not "new".
* A change is committed to the state file a moment (``min(poll_interval, 5 s)``) after its event was handed
  to the triggerer, so a triggerer that stops later never fires it again, and a change made while the
  triggerer was down is found by the first listings after the restart and fires once.
* Each event carries ``change_id``, a digest of the changed tracks and their sizes/mtimes: the same change
  always gets the same id. Only a triggerer killed within that moment after an event fires the change again -
  with the same ``change_id``, so a consumer can recognise the duplicate.
* With ``wait_for_stable`` (default) a track counts only once two consecutive listings saw the same size and
  mtime: a file still being copied does not fire twice.

**Never "everything changed".** Tracks that vanish are kept in the state (deletions never fire, and a track
that comes back unchanged is not new): an unmounted share, an unreadable folder or a listing error fires
nothing and changes no state; when the catalog comes back, only what really changed fires. A folder the walk
could not read is logged as unknown.

Event payload (small, JSON): ``{"catalog", "change_id", "digest" (of the whole state after the change),
"counts": {"new", "changed", "tracks", "unknown"}, "paths": first max_paths changed paths relative to the
catalog, "truncated"}``; Airflow stores it as the asset event's ``extra["payload"]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.triggers.base import TriggerEvent

from airflow_provider_music.core.errors import InvalidInputError, redact_url
from airflow_provider_music.core.files import atomic_write, to_storage_path
from airflow_provider_music.core.validation import positive_number
from airflow_provider_music.sync.catalog import AUDIO_EXTENSIONS, CatalogWalk, check_extensions

log = logging.getLogger(__name__)
STATE_VERSION = 1
#: how long after an event its change is committed to the state file (the triggerer stores the event first)
COMMIT_DELAY = 5.0
DEFAULT_MAX_PATHS = 20
#: ``{relative path: [size, mtime]}``
Snapshot = dict[str, list[float]]


# ---- pure part: listing -> change ---------------------------------------------------------------------------
@dataclass
class Listing:
    """One walk of the catalog: the tracks seen and the parts that could not be read."""

    tracks: Snapshot
    unknown: list[str] = field(default_factory=list)

    @property
    def blind(self) -> bool:
        """The catalog itself could not be listed (unmounted, unreadable, gone): nothing may be concluded."""
        return any(part.split(" (", 1)[0] == "." for part in self.unknown)


@dataclass(frozen=True)
class Change:
    """New or changed tracks (stable ones) against the committed state."""

    new: dict[str, list[float]]
    changed: dict[str, list[float]]

    @property
    def tracks(self) -> dict[str, list[float]]:
        """Every track of the change (new and changed), with its ``[size, mtime]``."""
        return {**self.new, **self.changed}

    @property
    def change_id(self) -> str:
        """The same tracks at the same sizes and mtimes always give the same id (a duplicate is recognisable)."""
        return digest(self.tracks)[:32]


def digest(snapshot: Mapping[str, Any]) -> str:
    """SHA-256 of ``snapshot`` as canonical JSON (sorted keys): equal contents, equal digests."""
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def find_change(seen: Snapshot, listing: Listing, previous: Snapshot | None) -> Change | None:
    """Tracks of ``listing`` that are new or changed against ``seen``; with ``previous`` (the last listing,
    ``wait_for_stable``; ``{}`` before the first) only those that look the same in both. Vanished tracks are
    no change; a blind listing (the catalog itself unreadable) is none either."""
    if listing.blind:
        return None
    new: dict[str, list[float]] = {}
    changed: dict[str, list[float]] = {}
    for rel, stat in listing.tracks.items():
        if seen.get(rel) == stat or (previous is not None and previous.get(rel) != stat):
            continue
        (changed if rel in seen else new)[rel] = stat
    return Change(new, changed) if new or changed else None


def event_payload(catalog: str, change: Change, seen_after: Snapshot, listing: Listing, max_paths: int) -> dict[str, Any]:
    """The trigger event's payload: counts, ``change_id``, state digest, up to ``max_paths`` changed paths."""
    paths = sorted(change.tracks)
    return {
        "catalog": catalog, "change_id": change.change_id, "digest": digest(seen_after)[:32],
        "counts": {"new": len(change.new), "changed": len(change.changed), "tracks": len(listing.tracks),
                   "unknown": len(listing.unknown)},
        "paths": paths[:max_paths], "truncated": len(paths) > max_paths,
    }


# ---- the trigger ----------------------------------------------------------------------------------------------
class CatalogChangeTrigger(BaseEventTrigger):
    """Fires when tracks under ``catalog`` are new or changed (for ``AssetWatcher``; see the module docstring).

    :param catalog: folder to watch: a path or URL (``s3://label/catalog/``); fixed at DAG parse time.
    :param catalog_conn_id: object-storage connection for a URL catalog.
    :param extensions: track extensions (the catalog sync's default list).
    :param recursive: watch sub-folders too (default True).
    :param poll_interval: seconds between listings (one listing each; default 60).
    :param state_path: folder of the state file (path or URL); default ``$AIRFLOW_HOME/music_catalog_watch``.
    :param state_conn_id: object-storage connection for a URL ``state_path``.
    :param max_paths: changed paths named in an event (the counts cover all); default 20.
    :param wait_for_stable: count a track once two listings saw it with the same size and mtime (default True).
    """

    def __init__(
        self, *, catalog: str, catalog_conn_id: str | None = None, extensions: Any = AUDIO_EXTENSIONS,
        recursive: bool = True, poll_interval: float = 60.0, state_path: str | None = None,
        state_conn_id: str | None = None, max_paths: int = DEFAULT_MAX_PATHS, wait_for_stable: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(catalog, str) or not catalog.strip():
            raise InvalidInputError(f"catalog must be a folder path or URL (a string), got {catalog!r}")
        self.catalog = catalog
        self.catalog_conn_id = catalog_conn_id
        self.extensions = list(check_extensions(extensions))
        self.recursive = bool(recursive)
        self.poll_interval = float(positive_number(poll_interval, "poll_interval", maximum=86400.0))
        if state_path is not None and (not isinstance(state_path, str) or not state_path.strip()):
            raise InvalidInputError(f"state_path must be a folder path or URL, got {state_path!r}")
        self.state_path = state_path
        self.state_conn_id = state_conn_id
        if isinstance(max_paths, bool) or not isinstance(max_paths, int) or not 0 <= max_paths <= 1000:
            raise InvalidInputError(f"max_paths must be an integer from 0 to 1000, got {max_paths!r}")
        self.max_paths = max_paths
        self.wait_for_stable = bool(wait_for_stable)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs (fixed at DAG parse time; Airflow identifies the watcher's trigger by them)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"catalog": self.catalog, "catalog_conn_id": self.catalog_conn_id, "extensions": self.extensions,
             "recursive": self.recursive, "poll_interval": self.poll_interval, "state_path": self.state_path,
             "state_conn_id": self.state_conn_id, "max_paths": self.max_paths,
             "wait_for_stable": self.wait_for_stable},
        )

    # ---- where things are ----------------------------------------------------------------------------------
    @property
    def display(self) -> str:
        """The catalog as logs and events name it (no credentials, no query string)."""
        return redact_url(self.catalog) if "://" in self.catalog else self.catalog

    @property
    def state_key(self) -> str:
        """Names the state file: a digest of what is watched (catalog, connection, extensions, recursive)."""
        what = [self.catalog, self.catalog_conn_id, sorted(self.extensions), self.recursive]
        return "catalog-" + digest({"watch": what})[:24]

    def state_file(self) -> Any:
        """``<state_path>/<state_key>.json`` (an ``ObjectStoragePath``)."""
        folder = self.state_path or os.path.join(
            os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"), "music_catalog_watch")
        return to_storage_path(folder, self.state_conn_id, argument="state_path") / f"{self.state_key}.json"

    # ---- blocking I/O (run in a thread) --------------------------------------------------------------------
    def list_catalog(self) -> Listing:
        """One walk of the catalog (the sync's walk); an unreachable catalog is one unknown part, ``.``."""
        try:
            root = to_storage_path(self.catalog, self.catalog_conn_id, argument="catalog")
        except (OSError, ValueError) as exc:
            return Listing({}, [f". ({type(exc).__name__})"])
        walk = CatalogWalk(root=root, extensions=self.extensions, recursive=self.recursive, sidecar_suffix=None)
        try:
            tracks = {e.rel: [e.size, e.mtime] for e in walk}
        except OSError as exc:  # a listing that broke half-way: nothing may be concluded from it
            return Listing({}, [f". ({type(exc).__name__})"])
        return Listing(tracks, walk.unreadable)

    def load_state(self) -> Snapshot | None:
        """The committed snapshot; None when there is none yet (or it is not ours / not readable as JSON)."""
        path = self.state_file()
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            log.warning("Catalog watch state %s is not valid JSON (%s): recording a new baseline", path, exc)
            return None
        seen = data.get("seen") if isinstance(data, dict) and data.get("version") == STATE_VERSION else None
        return {str(k): list(v) for k, v in seen.items()} if isinstance(seen, dict) else None

    def save_state(self, seen: Snapshot, change_id: str | None) -> None:
        """Commit ``seen`` (atomically: a temporary sibling moved into place)."""
        body = {"version": STATE_VERSION, "catalog": self.display, "digest": digest(seen)[:32],
                "last_change_id": change_id, "seen": seen}
        with atomic_write(self.state_file(), argument="state_path") as fh:
            fh.write(json.dumps(body, sort_keys=True).encode())

    # ---- the loop ----------------------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        """One listing per ``poll_interval``; one event per change, committed after it was handed over."""
        log.info("Watching catalog %s every %.0f s (state: %s)", self.display, self.poll_interval,
                 redact_url(str(self.state_file())))
        seen, previous = await self._baseline()
        while True:
            listing = await asyncio.to_thread(self.list_catalog)
            self._log_unknown(listing)
            change = find_change(seen, listing, previous if self.wait_for_stable else None)
            if not listing.blind:
                previous = listing.tracks
            if change is not None:
                after = {**seen, **change.tracks}
                payload = event_payload(self.display, change, after, listing, self.max_paths)
                log.info("Catalog %s: %d new, %d changed track(s) (change %s)", self.display,
                         len(change.new), len(change.changed), change.change_id)
                yield TriggerEvent(payload)
                await asyncio.sleep(min(self.poll_interval, COMMIT_DELAY))
                await self._commit(after, change.change_id)
                seen = after
            await asyncio.sleep(self.poll_interval)

    async def _baseline(self) -> tuple[Snapshot, Snapshot]:
        """The committed state (and no listing yet: nothing is stable), or a first listing recorded silently
        (retried while the catalog is blind)."""
        while True:
            try:
                seen = await asyncio.to_thread(self.load_state)
            except Exception as exc:  # the state folder is unreachable: never guess, try again
                log.warning("Catalog watch state of %s not readable (%s); trying again", self.display, exc)
                await asyncio.sleep(self.poll_interval)
                continue
            if seen is not None:
                return seen, {}
            listing = await asyncio.to_thread(self.list_catalog)
            if not listing.blind:
                await self._commit(listing.tracks, None)
                log.info("Catalog %s: baseline of %d track(s) recorded", self.display, len(listing.tracks))
                return listing.tracks, listing.tracks
            self._log_unknown(listing)
            await asyncio.sleep(self.poll_interval)

    async def _commit(self, seen: Snapshot, change_id: str | None) -> None:
        while True:
            try:
                await asyncio.to_thread(self.save_state, seen, change_id)
                return
            except Exception as exc:  # OSError, LocalFileError: the state must be written before going on
                log.warning("Could not write the catalog watch state of %s (%s); trying again", self.display, exc)
                await asyncio.sleep(min(self.poll_interval, COMMIT_DELAY))

    def _log_unknown(self, listing: Listing) -> None:
        """Warn when the unreadable parts change (not on every poll while a share stays unmounted)."""
        unknown = sorted(listing.unknown)
        if unknown != self.__dict__.get("_unknown_logged", []):
            self._unknown_logged = unknown
            if unknown:
                log.warning("Catalog %s: %s not readable; nothing there counts as changed or vanished",
                            self.display, ", ".join(unknown[:5]))
            else:
                log.info("Catalog %s: readable again", self.display)
