"""bench_triggerer.py's issue 20 columns: the bare aiohttp floor, the cyclic-garbage probe, ms per poll.

The floor and the probe run as child processes against a real emulator process (seconds each); the
arithmetic of ms per poll (our requests = the emulator's minus the floor's) is checked without one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import _common
    import bench_triggerer

    return bench_triggerer, _common


@pytest.fixture(scope="module")
def emulated_files():
    """One emulator process for the module, 4 pending ACRCloud bucket files: (emulator, bucket, ids, env)."""
    sys.path.insert(0, str(BENCH))
    try:
        import _common
    finally:
        sys.path.remove(str(BENCH))
    with _common.EmulatorProcess(job_seconds=3600) as emu:
        bucket = emu.call("POST", "/api/buckets", {"name": "b", "region": "eu-west-1", "type": "File"})["data"]["id"]
        ids = [emu.call("POST", f"/api/buckets/{bucket}/files",
                        {"data_type": "acrid", "acrid": f"acrid{i:08d}", "title": f"t{i}"})["data"]["id"] for i in range(4)]
        yield emu, bucket, ids, _common.bench_env(emu.url)


@pytest.fixture
def files(emulated_files, bench, monkeypatch):
    emu, bucket, ids, env = emulated_files
    for key, value in env.items():
        if key.startswith(("AIRFLOW_CONN_", "AIRFLOW_HOME")):
            monkeypatch.setenv(key, value)
    return emu, bucket, ids


def run_floor(bt, tmp_path, urls, headers, interval=0.2):
    start = time.time() + 2 * interval
    spec = {"urls": urls, "headers": headers, "interval": interval, "window_start": start,
            "window_end": start + 1.0, "stop_at": start + 1.2}
    return bt.finish_probe(*bt.start_probe("floor", spec, str(tmp_path)), timeout=60)


@pytest.mark.slow
def test_floor_polls_every_job_each_interval_in_its_window(bench, files, tmp_path):
    bt, _ = bench
    emu, bucket, ids = files
    urls = [bt.floor_request("acrcloud", i, {"bucket_id": bucket}, emu.url) for i in ids]
    before = bt.api_gets(type("Dep", (), {"emulator": emu.url})())
    out = run_floor(bt, tmp_path, urls, bt.floor_headers("acrcloud"))
    assert out["errors"] == 0 and out["n"] == 4
    assert 12 <= out["polls"] <= 28, out  # 4 jobs x ~5 polls in the 1 s window at 0.2 s
    assert out["cpu_s"] > 0 and out["gc_per_poll"] is not None
    assert bt.api_gets(type("Dep", (), {"emulator": emu.url})()) - before >= out["polls"]  # every poll hit the emulator


@pytest.mark.slow
def test_floor_counts_answers_it_could_not_use_as_errors(bench, files, tmp_path):
    """A floor polling with the wrong credential (or URL) must say so, never pass for a fast floor."""
    bt, _ = bench
    emu, bucket, ids = files
    urls = [bt.floor_request("acrcloud", i, {"bucket_id": bucket}, emu.url) for i in ids]
    out = run_floor(bt, tmp_path, urls, {"x-api-key": "emulator-token"})  # the AudioShake Tasks header here
    assert out["polls"] > 0 and out["errors"] == out["polls"]
    row = {"n": 4}
    bt.per_poll(row, {"reqs": 2 * out["polls"], "cpu": 0.1, "window": 1.0}, out, 0.2)
    assert "ratio" not in row and row["floor_errors"] == out["errors"]


def test_ms_per_poll_subtracts_the_floor_and_counts_a_listing_per_job(bench):
    bt, _ = bench
    floor = {"n": 100, "polls": 400, "errors": 0, "cpu_s": 0.2, "window_s": 60.0, "gc_per_poll": 0.0, "peak_rss_mb": 50}
    per_job = {"n": 100}
    bt.per_poll(per_job, {"reqs": 800, "cpu": 0.4, "window": 60.0}, floor, 15.0, idle_pct=0.1)  # 400 ours
    assert per_job["requests"] == 400 and per_job["req_per_job_min"] == 4.0
    assert per_job["ms_per_poll"] == per_job["ms_per_req"] == 1.0 and per_job["floor_ms"] == 0.5
    assert per_job["ratio"] == 2.0
    assert per_job["ms_per_poll_net"] == 0.85 and per_job["ratio_net"] == 1.7  # 0.06 s of the 0.4: the idle triggerer
    listing = {"n": 100}
    bt.per_poll(listing, {"reqs": 404, "cpu": 0.1, "window": 60.0}, floor, 15.0)  # 4 list requests for 400 checks
    assert listing["requests"] == 4 and listing["ms_per_poll"] == listing["ms_per_check"] == 0.25
    assert listing["ratio"] == 0.5


@pytest.mark.slow
def test_garbage_probe_counts_cyclic_garbage_of_our_triggers_and_the_floor(bench, files, tmp_path):
    bt, _ = bench
    emu, bucket, ids = files
    args = type("Args", (), {"gc_probe": 3, "probe_interval": 0.3, "probe_window": 1.0})()
    out = bt.gc_probe("acrcloud", ids, {"bucket_id": bucket}, emu.url, args, str(tmp_path))
    ours, floor = out["ours"], out["floor"]
    assert out["k"] == 3 and ours["fired_early"] == 0 and floor["errors"] == 0
    assert ours["requests"] > 0 and floor["requests"] >= 3
    assert ours["gc_per_req"] is not None and floor["gc_per_req"] is not None
    assert ours["cpu_ms_per_req"] > 0 and floor["cpu_ms_per_req"] > 0
