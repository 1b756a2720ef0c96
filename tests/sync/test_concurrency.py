"""Overlapping syncs of one catalog into one bucket (issue 12 §2): threads and processes, interleavings forced
by emulator latency faults, a track changed between the two runs' scans, a sync killed mid-way. Every run
ends with every track exactly once, holding the newest content; nothing is lost."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.sync.conftest import bucket_paths, files, make_catalog, sync_op, write_track

pytestmark = pytest.mark.integration
LIST = r"^/api/buckets/\d+/files$"


def assert_exactly_once(emu, bucket, catalog: Path, count: int) -> None:
    counts = bucket_paths(emu, bucket)
    assert len(counts) == count and set(counts.values()) == {1}, counts.most_common(3)
    for f in files(emu, bucket):
        local = catalog / f.user_defined["catalog_path"]
        assert f.user_defined["catalog_sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()


def run_threads(*ops_and_contexts, stagger: float = 0.0) -> list:
    results: list = [None] * len(ops_and_contexts)

    def go(i, op, ctx):
        try:
            results[i] = op.execute(ctx)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = []
    for i, (op, ctx) in enumerate(ops_and_contexts):
        threads.append(threading.Thread(target=go, args=(i, op, ctx)))
        threads[-1].start()
        time.sleep(stagger)
    for t in threads:
        t.join(60)
    return results


def test_two_threads_both_plan_before_either_uploads(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 30)
    emu.add_fault(path=LIST, method="GET", latency=0.4, times=2)  # both runs list the empty bucket
    results = run_threads((sync_op(catalog, bucket, concurrency=3), make_context()),
                          (sync_op(catalog, bucket, concurrency=3), make_context()))
    assert all(isinstance(r, dict) and r["failed"] == 0 for r in results), results
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 60  # both uploaded every track...
    assert_exactly_once(emu, bucket, catalog, 30)  # ...and converged to one file per track
    assert sync_op(catalog, bucket).execute(make_context())["unchanged"] == 30


def test_track_changed_between_the_two_scans(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 10)
    sync_op(catalog, bucket).execute(make_context())
    target = paths[0]
    write_track(target, 500, seconds=0.06)  # v1: run A scans this
    # A's upload is stored late (after B finished); B scans v2 and uploads it first
    emu.add_fault(path=r"^/api/buckets/\d+/files$", method="POST", latency=1.5, times=1)
    a = threading.Thread(target=lambda: results.append(sync_op(catalog, bucket, delete_missing=True).execute(make_context())))
    results: list = []
    a.start()
    time.sleep(0.6)  # A has listed, scanned v1 and sent its upload
    write_track(target, 900, seconds=0.07)  # v2
    os.utime(target, (time.time() + 5, time.time() + 5))
    results.append(sync_op(catalog, bucket, delete_missing=True).execute(make_context()))
    a.join(60)
    assert len(results) == 2 and all(r["failed"] == 0 for r in results)
    assert_exactly_once(emu, bucket, catalog, 10)  # v2 kept: the newest content, and only it


def test_delete_missing_runs_side_by_side(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 20)
    sync_op(catalog, bucket).execute(make_context())
    for path in paths[:3]:
        write_track(path, 700 + paths.index(path), seconds=0.06)
    paths[-1].unlink()
    emu.add_fault(path=LIST, method="GET", latency=0.3, times=2)
    results = run_threads((sync_op(catalog, bucket, delete_missing=True), make_context()),
                          (sync_op(catalog, bucket, delete_missing=True), make_context()), stagger=0.1)
    assert all(isinstance(r, dict) and r["failed"] == 0 for r in results), results
    assert_exactly_once(emu, bucket, catalog, 19)


SCRIPT = """
import json, sys
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=sys.argv[1], bucket_id=int(sys.argv[2]), poll_interval=0.05,
                                 progress_interval=0, concurrency=2, delete_missing=True)
print(json.dumps(op.execute({})))
"""


def spawn(tmp_path: Path, catalog: Path, bucket: int) -> subprocess.Popen:
    script = tmp_path / "run_sync.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, str(script), str(catalog), str(bucket)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 25)
    emu.add_fault(path=LIST, method="GET", latency=0.5, times=2)
    procs = [spawn(tmp_path, catalog, bucket) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    summaries = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    assert all(s["failed"] == 0 for s in summaries)
    assert_exactly_once(emu, bucket, catalog, 25)


def test_killed_mid_way_then_rerun_converges(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 30)
    emu.add_fault(path=r"^/api/buckets/\d+/files$", method="POST", latency=0.25)
    proc = spawn(tmp_path, catalog, bucket)
    deadline = time.monotonic() + 60
    while emu.count("POST", f"/api/buckets/{bucket}/files") < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    emu.state.clear_faults()
    half = len(files(emu, bucket))
    assert 0 < half < 30
    result = sync_op(catalog, bucket).execute(make_context())
    assert result["failed"] == 0 and result["uploaded"] + result["unchanged"] == 30
    assert_exactly_once(emu, bucket, catalog, 30)


def test_k1_and_k2_shards_converge_to_the_same_bucket(emu, tmp_path, make_context):
    from airflow_provider_music.hooks.acrcloud import AcrCloudHook

    hook = AcrCloudHook()
    one, two = (hook.create_bucket(name, region="eu-west-1")["id"] for name in ("k1", "k2"))
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 40)
    sync_op(catalog, one).execute(make_context())
    shards = [sync_op(catalog, two, shard=f"{i}/2").execute(make_context()) for i in range(2)]
    assert sum(s["total"] for s in shards) == 40 and all(0 < s["total"] < 40 for s in shards)
    for path in paths[:4]:
        path.unlink()
    sync_op(catalog, one, delete_missing=True).execute(make_context())
    done = [sync_op(catalog, two, shard=f"{i}/2", delete_missing=True).execute(make_context()) for i in range(2)]
    assert sum(d["deleted"] for d in done) == 4

    def state(b):
        return sorted((f.user_defined["catalog_path"], f.user_defined["catalog_sha256"]) for f in files(emu, b))

    assert state(one) == state(two) and len(state(one)) == 36


def test_track_changed_between_the_scans_of_two_processes(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 8)
    sync_op(catalog, bucket).execute(make_context())
    target = paths[3]
    write_track(target, 600, seconds=0.06)  # v1: the other process scans this
    emu.add_fault(path=r"^/api/buckets/\d+/files$", method="POST", latency=4.0, times=1)
    posts = emu.count("POST", f"/api/buckets/{bucket}/files")
    proc = spawn(tmp_path, catalog, bucket)
    deadline = time.monotonic() + 60
    while emu.count("POST", f"/api/buckets/{bucket}/files") == posts and time.monotonic() < deadline:
        time.sleep(0.05)  # its upload of v1 is in the emulator, held by the latency fault
    write_track(target, 901, seconds=0.07)  # v2, scanned by this run
    os.utime(target, (time.time() + 5, time.time() + 5))
    mine = sync_op(catalog, bucket, delete_missing=True).execute(make_context())
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert mine["failed"] == 0 and json.loads(out.strip().splitlines()[-1])["failed"] == 0
    assert_exactly_once(emu, bucket, catalog, 8)  # v2 only: the newest version survived both runs


@pytest.mark.parametrize("limit", [0, 10_000])
def test_deferrable_runs_tidy_after_resuming(emu, bucket, tmp_path, make_context, monkeypatch, limit):
    """Deferred: the tidy-up runs in execute_complete (saved paths, or every multi-file path past the limit)."""
    import asyncio

    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_music.operators import acrcloud_sync
    from tests.conftest import FakeTaskStateStore

    monkeypatch.setattr(acrcloud_sync, "SAVED_PATHS_LIMIT", limit)
    catalog = tmp_path / "catalog"
    paths = make_catalog(catalog, 12)
    sync_op(catalog, bucket).execute(make_context())
    for i, path in enumerate(paths[:4]):
        write_track(path, 800 + i, seconds=0.06)
    emu.add_fault(path=LIST, method="GET", latency=0.3, times=2)
    runs = [(sync_op(catalog, bucket, deferrable=True), FakeTaskStateStore()) for _ in range(2)]
    outcomes = run_threads(*((op, make_context(store)) for op, store in runs))  # both list, then both upload
    assert all(isinstance(o, TaskDeferred) for o in outcomes), outcomes
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 12 + 8  # both uploaded the 4 changed tracks
    results = [(op, store, deferred) for (op, store), deferred in zip(runs, outcomes)]

    async def first_event(trigger):
        async for event in trigger.run():
            return event.payload

    done = [op.execute_complete(make_context(store), asyncio.run(first_event(d.trigger)), **(d.kwargs or {}))
            for op, store, d in results]
    assert all(r["failed"] == 0 for r in done) and sum(r["replaced"] for r in done) == 8  # 4 old + 4 duplicates
    assert_exactly_once(emu, bucket, catalog, 12)
