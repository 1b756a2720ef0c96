"""Issue 22 §2: ``CatalogChangeTrigger`` as an AssetWatcher in a real scheduler + triggerer (+ dag-processor,
api-server; LocalExecutor, SQLite): new tracks -> one asset event -> one asset-triggered DAG run; a restarted
triggerer fires nothing again; a track added while the triggerer is down fires exactly once after the restart.

``make test-deployment`` runs it on Airflow 3.3; ``make test-matrix`` runs it in one cell per minor (3.0-3.3,
the lowest Python: ``.ci/matrix.py``)."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.harness import Deployment
from tests.sync.conftest import write_track

pytestmark = pytest.mark.deployment
DAG_FILE = Path(__file__).parent / "dags" / "catalog_watch.py"
CONSUMER = "catalog_watch_consumer"


@pytest.fixture(scope="module")
def watch(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog-watch")
    catalog, state = root / "catalog", root / "state"
    write_track(catalog / "album" / "existing.wav", 0)  # present before the watch starts: the baseline
    dep = Deployment(root / "deployment", dag_files=[DAG_FILE], token="tok-WATCH-3c9d1e-must-not-leak",
                     extra_env={"MUSIC_WATCH_CATALOG": str(catalog), "MUSIC_WATCH_STATE": str(state),
                                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"})  # the watcher runs at once
    try:
        dep.start()
        yield dep, catalog, state
    finally:
        dep.stop()
        for name in ("scheduler", "triggerer", "dag-processor"):
            print(f"---- {name} (tail)\n{dep.log_tail(name, 1500)}")


def query(dep: Deployment, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the metadata database directly: the same on 3.0-3.3 (their REST APIs differ in auth)."""
    with sqlite3.connect(dep.home / "airflow.db", timeout=30) as db:
        return db.execute(sql, args).fetchall()


def events(dep: Deployment) -> list[dict[str, Any]]:
    """The payloads of the watched asset's events, oldest first."""
    rows = query(dep, "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                      "WHERE a.name = 'watched_catalog' ORDER BY e.id")
    return [json.loads(extra).get("payload", {}) for (extra,) in rows]


def consumer_runs(dep: Deployment) -> list[dict[str, Any]]:
    rows = query(dep, "SELECT run_id, run_type, state FROM dag_run WHERE dag_id = ? ORDER BY id", CONSUMER)
    return [{"run_id": r, "run_type": t, "state": s} for r, t, s in rows]


def consumer_output(dep: Deployment, run_id: str) -> str | None:
    """What the consumer's task returned (its XCom), once the run succeeded."""
    states = [r["state"] for r in consumer_runs(dep) if r["run_id"] == run_id]
    if states != ["success"]:
        return None
    rows = query(dep, "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'changed_tracks'",
                 CONSUMER, run_id)
    return str(rows[0][0]) if rows else None


def wait_for(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what} not seen within {timeout} s")


def state_of(state: Path) -> dict[str, Any]:
    files = list(state.glob("catalog-*.json"))
    return json.loads(files[0].read_text()) if files else {}


def watching(dep: Deployment) -> int:
    """How many times a triggerer started the watcher (its first log line)."""
    return dep.log_tail("triggerer", 10_000_000).count("Watching catalog")


def restart_triggerer(dep: Deployment, between: Any = None) -> None:
    """Stop the triggerer (SIGTERM, as a deploy does), run ``between``, start a new one running the watcher."""
    started = watching(dep)
    dep.kill_component("triggerer", signal.SIGTERM)
    if between is not None:
        between()
    dep.start_component("triggerer")
    wait_for("the restarted triggerer running the watcher", lambda: watching(dep) > started, timeout=60)


def test_one_event_per_change_across_triggerer_restarts(watch):
    dep, catalog, state = watch
    wait_for("the watcher's baseline", lambda: state_of(state).get("seen"), timeout=90)
    assert watching(dep) == 1
    assert events(dep) == []  # the baseline fires nothing

    write_track(catalog / "album" / "new-1.wav", 1)
    write_track(catalog / "album" / "new-2.wav", 2)
    (first,) = wait_for("the first event", lambda: events(dep))
    assert first["paths"] == ["album/new-1.wav", "album/new-2.wav"] and first["counts"]["new"] == 2
    run = wait_for("the asset-triggered run", lambda: consumer_runs(dep))[0]
    assert run["run_type"] == "asset_triggered"
    wait_for("the committed change", lambda: state_of(state).get("last_change_id") == first["change_id"], 30)

    restart_triggerer(dep)  # the same change must not fire again
    time.sleep(4)  # the restarted watcher lists the catalog (1 s interval) several times
    assert len(events(dep)) == 1, events(dep)

    restart_triggerer(dep, between=lambda: write_track(catalog / "down.wav", 3))  # added while it is down
    wait_for("the event of the change made while down", lambda: len(events(dep)) >= 2)
    time.sleep(3)  # no duplicate follows
    all_events = events(dep)
    assert len(all_events) == 2, all_events
    assert all_events[1]["paths"] == ["down.wav"] and all_events[1]["change_id"] != first["change_id"]
    wait_for("the second asset-triggered run", lambda: len(consumer_runs(dep)) >= 2)
    output = wait_for("the first run's success", lambda: consumer_output(dep, run["run_id"]), timeout=120)
    assert "album/new-1.wav" in output and "album/new-2.wav" in output  # its task read the event's paths
