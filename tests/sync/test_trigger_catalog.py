"""Issue 22 §2: ``CatalogChangeTrigger`` (triggers/catalog.py), the AssetWatcher event trigger on a catalog path.

One event per change, none for a baseline, none twice across restarts (the state file), none for vanished,
unmounted or unreadable parts, one for a change made while the triggerer was down; the same ``change_id`` when
a change must be fired again. Fast: the trigger runs in-process with tiny intervals (the real scheduler +
triggerer test is tests/deployment/test_catalog_watch.py)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.triggers import catalog as watch
from airflow_provider_music.triggers.catalog import CatalogChangeTrigger, Listing, find_change
from tests.sync.conftest import write_track

POLL = 0.02


@pytest.fixture(autouse=True)
def quick_commit(monkeypatch):
    monkeypatch.setattr(watch, "COMMIT_DELAY", 0.01)


def trigger(catalog: Path | str, state: Path, **kwargs: Any) -> CatalogChangeTrigger:
    return CatalogChangeTrigger(catalog=str(catalog), state_path=str(state), poll_interval=POLL, **kwargs)


def run_for(trig: CatalogChangeTrigger, seconds: float = 0.4, *, stop_after: int | None = None) -> list[dict]:
    """The events of ``trig.run()`` within ``seconds`` (the loop is then cancelled, as a triggerer stop does)."""
    events: list[dict] = []

    async def consume() -> None:
        async for event in trig.run():
            events.append(event.payload)
            if stop_after is not None and len(events) >= stop_after:
                return

    async def main() -> None:
        try:
            await asyncio.wait_for(consume(), seconds)
        except TimeoutError:
            pass

    asyncio.run(main())
    return events


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    for i in range(3):
        write_track(root / "album" / f"t{i}.wav", i)
    return root


def test_baseline_is_silent_then_one_event_names_new_and_changed_tracks(catalog, tmp_path):
    state = tmp_path / "state"
    assert run_for(trigger(catalog, state)) == []  # existing tracks are no "change"
    write_track(catalog / "album" / "t3.wav", 3)
    write_track(catalog / "album" / "t0.wav", 9, seconds=0.08)  # same name, new content
    os.utime(catalog / "album" / "t0.wav", (1e9, 1e9))
    (catalog / "notes.txt").write_text("not a track")
    (catalog / ".t5.wav.part").write_bytes(b"in flight")
    events = run_for(trigger(catalog, state))
    assert len(events) == 1, events
    (event,) = events
    assert event["counts"] == {"new": 1, "changed": 1, "tracks": 4, "unknown": 0}
    assert event["paths"] == ["album/t0.wav", "album/t3.wav"] and event["truncated"] is False
    assert event["catalog"] == str(catalog) and len(event["change_id"]) == 32 and len(event["digest"]) == 32
    json.dumps(event)
    saved = json.loads(next(state.glob("catalog-*.json")).read_text())
    assert saved["last_change_id"] == event["change_id"] and len(saved["seen"]) == 4


def test_a_restart_never_fires_the_same_change_twice_and_finds_what_changed_while_down(catalog, tmp_path):
    state = tmp_path / "state"
    run_for(trigger(catalog, state))
    write_track(catalog / "new.wav", 7)
    assert len(run_for(trigger(catalog, state))) == 1
    assert run_for(trigger(catalog, state)) == []  # restarted: the committed change is not fired again
    write_track(catalog / "while-down.wav", 8)  # added while no triggerer ran
    events = run_for(trigger(catalog, state), 0.6)
    assert [e["paths"] for e in events] == [["while-down.wav"]]


def test_killed_between_event_and_commit_fires_again_with_the_same_change_id(catalog, tmp_path, monkeypatch):
    state = tmp_path / "state"
    run_for(trigger(catalog, state))
    write_track(catalog / "new.wav", 7)
    first = run_for(trigger(catalog, state), stop_after=1)  # stopped right after the event: nothing committed
    again = run_for(trigger(catalog, state))
    assert len(first) == len(again) == 1 and first[0]["change_id"] == again[0]["change_id"]
    assert run_for(trigger(catalog, state)) == []


def test_unmounted_or_unreadable_catalog_fires_nothing_and_a_remount_is_no_change(catalog, tmp_path):
    state = tmp_path / "state"
    run_for(trigger(catalog, state))
    saved = next(state.glob("catalog-*.json")).read_text()
    catalog.rename(tmp_path / "away")  # the mount point is gone
    assert run_for(trigger(catalog, state)) == []
    catalog.mkdir()  # an empty mount point: every track "vanished"
    assert run_for(trigger(catalog, state)) == []
    assert next(state.glob("catalog-*.json")).read_text() == saved  # nothing forgotten, nothing committed
    catalog.rmdir()
    (tmp_path / "away").rename(catalog)  # mounted again, unchanged
    assert run_for(trigger(catalog, state)) == []


def test_a_folder_that_cannot_be_listed_hides_nothing_and_fires_nothing(catalog, tmp_path, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    state = tmp_path / "state"
    run_for(trigger(catalog, state))
    write_track(catalog / "album" / "t9.wav", 9)
    real_ls = LocalFileSystem.ls

    def ls(self, path, detail=True, **kwargs):
        if str(path).rstrip("/").endswith("/album"):
            raise PermissionError(13, "Permission denied", path)
        return real_ls(self, path, detail=detail, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "ls", ls)
    assert run_for(trigger(catalog, state)) == []
    monkeypatch.setattr(LocalFileSystem, "ls", real_ls)
    assert [e["paths"] for e in run_for(trigger(catalog, state))] == [["album/t9.wav"]]  # readable again


def test_a_track_still_being_written_fires_once_when_it_settles(catalog, tmp_path):
    state = tmp_path / "state"
    run_for(trigger(catalog, state))
    listing = {"a.wav": [10, 1.0]}
    assert find_change({}, Listing(listing), {}) is None  # seen once: not stable yet
    assert find_change({}, Listing({"a.wav": [20, 2.0]}), listing) is None  # still growing
    change = find_change({}, Listing({"a.wav": [20, 2.0]}), {"a.wav": [20, 2.0]})
    assert change is not None and change.new == {"a.wav": [20, 2.0]}
    assert find_change({}, Listing(listing), None) is not None  # wait_for_stable=False


def test_vanished_tracks_are_no_change_and_blind_listings_conclude_nothing():
    seen = {"a.wav": [1, 1.0], "b.wav": [2, 2.0]}
    assert find_change(seen, Listing({"a.wav": [1, 1.0]}), None) is None
    assert find_change(seen, Listing({}, [". (FileNotFoundError)"]), None) is None
    change = find_change(seen, Listing({"a.wav": [1, 1.0], "c.wav": [3, 3.0]}, ["sub (PermissionError)"]), None)
    assert change is not None and change.new == {"c.wav": [3, 3.0]}


def test_payload_names_at_most_max_paths_and_counts_all(catalog, tmp_path):
    state = tmp_path / "state"
    run_for(trigger(catalog, state, max_paths=2))
    for i in range(5):
        write_track(catalog / "more" / f"m{i}.wav", 20 + i)
    (event,) = run_for(trigger(catalog, state, max_paths=2))
    assert event["paths"] == ["more/m0.wav", "more/m1.wav"] and event["truncated"] is True
    assert event["counts"]["new"] == 5


def test_object_storage_catalog_and_state():
    import fsspec
    from airflow.sdk.io import attach

    memfs = fsspec.filesystem("memory")
    attach("memory", fs=memfs)
    memfs.pipe("/label/catalog/a.wav", b"RIFF0000")
    try:
        trig = CatalogChangeTrigger(catalog="memory://label/catalog", state_path="memory://ops/watch",
                                    poll_interval=POLL)
        assert run_for(trig) == []
        memfs.pipe("/label/catalog/sub/b.flac", b"fLaC0000")
        events = run_for(CatalogChangeTrigger(**trig.serialize()[1]))  # restarted from its kwargs
        assert [e["paths"] for e in events] == [["sub/b.flac"]]
        assert memfs.ls("/ops/watch") and run_for(CatalogChangeTrigger(**trig.serialize()[1])) == []
    finally:
        for folder in ("/label", "/ops"):
            if memfs.exists(folder):
                memfs.rm(folder, recursive=True)


def test_serialize_round_trip_and_it_is_an_event_trigger_for_asset_watchers(tmp_path):
    from airflow.providers.common.compat.triggers import BaseEventTrigger
    from airflow.sdk import Asset, AssetWatcher

    trig = trigger(tmp_path, tmp_path / "s", extensions=["wav", ".MP3"], max_paths=5)
    path, kwargs = trig.serialize()
    assert path == "airflow_provider_music.triggers.catalog.CatalogChangeTrigger"
    assert kwargs["extensions"] == [".wav", ".mp3"]
    assert CatalogChangeTrigger(**kwargs).serialize() == (path, kwargs)
    assert isinstance(trig, BaseEventTrigger)
    Asset(name="catalog", uri="file:///catalog", watchers=[AssetWatcher(name="catalog_changes", trigger=trig)])
    assert CatalogChangeTrigger(**kwargs).state_file() == trig.state_file()  # same kwargs: same state


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"catalog": ""}, "catalog"), ({"catalog": None}, "catalog"),
    ({"catalog": "/c", "poll_interval": 0}, "poll_interval"), ({"catalog": "/c", "poll_interval": "nan"}, "poll_interval"),
    ({"catalog": "/c", "extensions": "wav"}, "extensions"), ({"catalog": "/c", "max_paths": -1}, "max_paths"),
    ({"catalog": "/c", "state_path": ""}, "state_path"),
])
def test_bad_arguments_fail_at_parse_time_naming_the_argument(kwargs, argument):
    with pytest.raises(InvalidInputError, match=argument):
        CatalogChangeTrigger(**kwargs)
