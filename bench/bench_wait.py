"""Waiting for many jobs: deferrable triggers in one asyncio loop vs poke-mode sensors.

N ACRCloud bucket files are pending in the emulator (its own process) and become ready after a delay.
(a) N ``AcrCloudFileStateTrigger`` run in one asyncio loop, as in the triggerer; (b) N
``AcrCloudFileStateSensor.poke()`` calls per poll interval (a thread pool stands in for N worker
processes). Each run is a fresh child process, so its peak RSS is its own.

    python bench/bench_wait.py                 # N = 100, 1000, 5000 (both) + 10000 triggers at 30 s
    python bench/bench_wait.py --smoke         # N = 5, 0.5 s interval
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    TOKEN,
    EmulatorProcess,
    bench_env,
    cpu_seconds,
    current_rss_mb,
    peak_rss_mb,
    percentile,
    print_table,
    total_requests,
    write_results,
)

RSS_TARGET_MB, CPU_TARGET_PCT, TARGET_INTERVAL = 300.0, 10.0, 30.0


# ---------------------------------------------------------------------------------------------------
# child process: one mode, one N
# ---------------------------------------------------------------------------------------------------
def run_triggers(jobs: list[dict[str, Any]], bucket: int, interval: float, done_after: float) -> dict[str, Any]:
    import asyncio

    from airflow_provider_music.triggers.acrcloud import AcrCloudFileStateTrigger

    rss0 = current_rss_mb()
    events: dict[str, float] = {}
    statuses: dict[str, str] = {}
    marks: dict[str, float] = {}

    async def one(trigger: Any, key: str) -> None:
        gen = trigger.run()
        try:
            event = await gen.__anext__()
        finally:
            await gen.aclose()
        events[key] = time.time()
        statuses[key] = event.payload["status"]

    async def main() -> None:
        deadline = time.time() + done_after + 10 * interval + 120
        triggers = [(AcrCloudFileStateTrigger(conn_id="acrcloud_default", target={"bucket_id": str(bucket),
                     "ids": str(j["id"])}, poll_interval=interval, deadline=deadline), str(j["id"])) for j in jobs]
        marks["start"] = time.time()
        marks["cpu_start"] = cpu_seconds()
        tasks = [asyncio.ensure_future(one(t, k)) for t, k in triggers]
        # steady-state window: from one interval after the start (the first round, which also sets up every
        # trigger, is over) until the first job completes; short runs start it half an interval in
        first_done = min(j["completes_at"] for j in jobs)
        lead = interval if first_done - time.time() > 1.5 * interval else 0.5 * min(interval, first_done - time.time())
        await asyncio.sleep(max(0.0, lead))
        marks["steady_start"], marks["cpu_steady_start"] = time.time(), cpu_seconds()
        await asyncio.sleep(max(0.0, first_done - time.time() - 0.05))
        marks["steady_end"], marks["cpu_steady_end"] = time.time(), cpu_seconds()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return {"events": events, "statuses": statuses, "marks": marks, "rss0": rss0}


def run_sensors(jobs: list[dict[str, Any]], bucket: int, interval: float, threads: int) -> dict[str, Any]:
    import logging

    from airflow_provider_music.sensors.acrcloud import AcrCloudFileStateSensor

    logging.disable(logging.INFO)  # N sensors log "still running" every poke; keep the child quiet
    rss0 = current_rss_mb()
    sensors = {str(j["id"]): AcrCloudFileStateSensor(task_id=f"wait_{j['id']}", bucket_id=bucket, ids=j["id"],
                                                     poke_interval=interval) for j in jobs}
    events: dict[str, float] = {}
    statuses: dict[str, str] = {}
    marks: dict[str, float] = {"start": time.time(), "cpu_start": cpu_seconds()}
    first_done = min(j["completes_at"] for j in jobs)

    def poke(key: str) -> None:
        try:
            result = sensors[key].poke({})
        except Exception as exc:
            events[key], statuses[key] = time.time(), f"error: {type(exc).__name__}"
            return
        if result.is_done:
            events[key], statuses[key] = time.time(), "success"

    with ThreadPoolExecutor(threads) as pool:
        next_round = time.time()
        rounds = 0
        while len(events) < len(sensors):
            pending = [k for k in sensors if k not in events]
            list(pool.map(poke, pending))
            rounds += 1
            if rounds == 1:
                marks["steady_start"], marks["cpu_steady_start"] = time.time(), cpu_seconds()
            next_round += interval
            now = time.time()
            if "steady_end" not in marks and next_round >= first_done:
                wait = max(0.0, first_done - now - 0.05)
                time.sleep(wait)
                marks["steady_end"], marks["cpu_steady_end"] = time.time(), cpu_seconds()
            time.sleep(max(0.0, next_round - time.time()))
    return {"events": events, "statuses": statuses, "marks": marks, "rss0": rss0}


def child(args: argparse.Namespace) -> int:
    spec = json.loads(Path(args.child).read_text())
    jobs, bucket = spec["jobs"], spec["bucket"]
    if spec["mode"] == "triggers":
        import airflow_provider_music.triggers.acrcloud  # noqa: F401 - imports before the clock starts
    else:
        import airflow_provider_music.sensors.acrcloud  # noqa: F401
    # every job completes `done_after` s from now (plus its creation spread): job_seconds is read lazily
    first_created = min(j["created"] for j in jobs)
    job_seconds = time.time() + spec["done_after"] - first_created
    emu = EmulatorProcess()
    emu.url = spec["emulator"]
    emu.settings_patch({"acrcloud.job_seconds": job_seconds})
    for j in jobs:
        j["completes_at"] = j["created"] + job_seconds
    if spec["mode"] == "triggers":
        out = run_triggers(jobs, bucket, spec["interval"], spec["done_after"])
    else:
        out = run_sensors(jobs, bucket, spec["interval"], spec["threads"])
    out["cpu_total"] = cpu_seconds()
    out["peak_rss_mb"] = peak_rss_mb()
    out["completes_at"] = {str(j["id"]): j["completes_at"] for j in jobs}
    Path(spec["out"]).write_text(json.dumps(out))
    return 0


# ---------------------------------------------------------------------------------------------------
# orchestrator
# ---------------------------------------------------------------------------------------------------
def _created(record: dict[str, Any]) -> float:
    text = record["created_at"].replace("Z", "+00:00")
    return dt.datetime.fromisoformat(text).timestamp()


def create_jobs(emu: EmulatorProcess, n: int) -> tuple[int, list[dict[str, Any]]]:
    import requests

    emu.reset()
    bucket = emu.call("POST", "/api/buckets", {"name": "wait-bench", "region": "eu-west-1", "type": "File"})["data"]["id"]
    session = requests.Session()
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def create(i: int) -> dict[str, Any]:
        resp = session.post(f"{emu.url}/api/buckets/{bucket}/files", headers=headers,
                            json={"data_type": "acrid", "acrid": f"acrid{i:08d}", "title": f"t{i}"}, timeout=60)
        resp.raise_for_status()
        return resp.json()["data"]

    with ThreadPoolExecutor(8) as pool:
        records = list(pool.map(create, range(n)))
    return bucket, [{"id": r["id"], "created": _created(r)} for r in records]


def measure(emu: EmulatorProcess, mode: str, n: int, interval: float, done_after: float, threads: int,
            tmp: str) -> dict[str, Any]:
    bucket, jobs = create_jobs(emu, n)
    before = emu.state()
    emu_cpu0 = emu.cpu_seconds()
    spec_path, out_path = os.path.join(tmp, f"{mode}-{n}.json"), os.path.join(tmp, f"{mode}-{n}.out.json")
    Path(spec_path).write_text(json.dumps({"mode": mode, "jobs": jobs, "bucket": bucket, "interval": interval,
                                           "done_after": done_after, "threads": threads, "out": out_path,
                                           "emulator": emu.url}))
    t0 = time.time()
    proc = subprocess.run([sys.executable, __file__, "--child", spec_path], env=bench_env(emu.url), cwd=str(ROOT),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    if proc.returncode:
        raise RuntimeError(f"{mode} N={n} child failed:\n{proc.stderr[-3000:]}")
    out = json.loads(Path(out_path).read_text())
    after = emu.state()
    requests_made = total_requests(after, "/api/buckets/") - total_requests(before, "/api/buckets/")
    latencies = [out["events"][key] - out["completes_at"][key] for key in out["events"]]
    ok = sum(1 for s in out["statuses"].values() if s == "success")
    marks = out["marks"]
    wait_s = max(out["events"].values()) - marks["start"] if out["events"] else wall
    steady = max(1e-6, marks.get("steady_end", 0) - marks.get("steady_start", 0))
    steady_cpu = marks.get("cpu_steady_end", 0) - marks.get("cpu_steady_start", 0)
    cpu_pct = 100.0 * steady_cpu / steady if "steady_end" in marks else float("nan")
    return {
        "mode": mode, "n": n, "interval_s": interval, "ok": ok,
        "cpu_s": round(out["cpu_total"], 2),
        "cpu_wait_s": round(out["cpu_total"] - marks["cpu_start"], 2),
        "steady_cpu_pct": round(cpu_pct, 2),
        "cpu_pct_at_30s": round(cpu_pct * interval / TARGET_INTERVAL, 2),
        "peak_rss_mb": round(out["peak_rss_mb"], 1),
        "rss_growth_mb": round(out["peak_rss_mb"] - out["rss0"], 1),
        "requests": requests_made,
        "req_per_job_min": round(requests_made / n / (wait_s / 60.0), 3),
        "tcp_conns": after["connections"] - before["connections"],
        "lat_p50_s": round(percentile(latencies, 0.5), 2),
        "lat_p95_s": round(percentile(latencies, 0.95), 2),
        "lat_max_s": round(max(latencies), 2) if latencies else None,
        "wait_s": round(wait_s, 1),
        "emulator_cpu_s": round(emu.cpu_seconds() - emu_cpu0, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 5000])
    parser.add_argument("--interval", type=float, default=15.0, help="poll interval of both modes (s)")
    parser.add_argument("--done-after", type=float, default=20.0, help="jobs complete this long after start (s)")
    parser.add_argument("--target-n", type=int, default=10000, help="triggers run at a 30 s interval (0: skip)")
    parser.add_argument("--threads", type=int, default=16, help="threads standing in for poke-mode workers")
    parser.add_argument("--modes", nargs="*", default=["triggers", "sensors"])
    parser.add_argument("--smoke", action="store_true", help="N=5, 0.5 s interval: seconds long")
    parser.add_argument("--out", default=None, help="results folder (default bench/results)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    plan: list[tuple[str, int, float, float]] = []
    if args.smoke:
        plan = [(m, 5, 0.5, 1.0) for m in args.modes]
    else:
        for n in args.sizes:
            plan += [(m, n, args.interval, args.done_after) for m in args.modes]
        if args.target_n:
            # jobs complete after two intervals: the steady window holds one whole poll round after the first
            plan.append(("triggers", args.target_n, TARGET_INTERVAL, 2 * TARGET_INTERVAL + 10.0))
    rows = []
    with tempfile.TemporaryDirectory(prefix="music-bench-wait-") as tmp, EmulatorProcess(job_seconds=3600) as emu:
        for mode, n, interval, done_after in plan:
            row = measure(emu, mode, n, interval, done_after, args.threads, tmp)
            rows.append(row)
            print(f"  {mode} N={n}: done in {row['wait_s']} s", flush=True)
    for row in rows:
        row["target_met"] = (row["mode"] != "triggers") or (
            row["peak_rss_mb"] < RSS_TARGET_MB and row["cpu_pct_at_30s"] < CPU_TARGET_PCT and row["tcp_conns"] <= 16)
    print_table(rows, ["mode", "n", "interval_s", "ok", "cpu_s", "steady_cpu_pct", "cpu_pct_at_30s", "peak_rss_mb",
                       "requests", "req_per_job_min", "tcp_conns", "lat_p50_s", "lat_p95_s", "lat_max_s",
                       "emulator_cpu_s"],
                title="Waiting for N ACRCloud files (triggers: one asyncio loop; sensors: poke() per interval)")
    pairs = []
    for n in sorted({r["n"] for r in rows}):
        t = next((r for r in rows if r["n"] == n and r["mode"] == "triggers" and r["interval_s"] != TARGET_INTERVAL
                  or (r["n"] == n and r["mode"] == "triggers" and args.smoke)), None)
        s = next((r for r in rows if r["n"] == n and r["mode"] == "sensors"), None)
        if t and s:
            pairs.append({"n": n, "cpu_ratio_sensors_over_triggers": round(s["cpu_wait_s"] / max(t["cpu_wait_s"], 1e-3), 1),
                          "requests_ratio": round(s["requests"] / max(t["requests"], 1), 1),
                          "tcp_conns_ratio": round(s["tcp_conns"] / max(t["tcp_conns"], 1), 1)})
    if pairs:
        print_table(pairs, ["n", "cpu_ratio_sensors_over_triggers", "requests_ratio", "tcp_conns_ratio"],
                    title="Side by side (same run): poke-mode sensors / triggers")
    path = write_results("bench_wait" + ("_smoke" if args.smoke else ""), {"rows": rows, "ratios": pairs,
                         "targets": {"rss_mb": RSS_TARGET_MB, "cpu_pct_at_30s": CPU_TARGET_PCT}}, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
