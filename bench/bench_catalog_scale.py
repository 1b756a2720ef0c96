"""Catalog sync at label scale: 100,000 and 1,000,000 tiny tracks (issue 16, part 3).

For each size N: the first sync (real uploads, N <= --first-sync-max; larger buckets are seeded straight into
the emulator's store with the markers a sync writes, since ~200 uploads/s would take hours), then a no-op
re-sync with K = 1 shard and with K = 2 shards (two concurrent processes, ``shard="0/2"`` and ``"1/2"``: a
mapped task on two workers). Each sync runs in a fresh child process: its wall time and peak RSS are its own.

The emulator runs in its own process with one bench-only change: ``GET /api/buckets/:id/files`` (id order,
no filter) slices a cached per-bucket list instead of scanning and sorting the whole store on every page (the
stock emulator is O(bucket) per page: at 1M files ~0.5 s per page, 10,000 pages: the emulator, not the
sync, would be measured).

    python bench/bench_catalog_scale.py                        # N = 100,000 and 1,000,000, K = 1 and 2
    python bench/bench_catalog_scale.py --sizes 100000 --shards 1 2
    python bench/bench_catalog_scale.py --smoke                # N = 300
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, TOKEN, EmulatorProcess, bench_env, print_table, write_results  # noqa: E402

NOOP_TARGET_S, RSS_TARGET_MB = 600.0, 1024.0
FILES_PER_FOLDER = 1000


# ---------------------------------------------------------------------------------------------------
# catalog
# ---------------------------------------------------------------------------------------------------
def track_rel(i: int) -> str:
    return f"artist{i // FILES_PER_FOLDER:04d}/track{i:07d}.wav"


def make_catalog(root: Path, n: int) -> int:
    """N tiny WAV files in folders of 1,000 (reuses an existing catalog of the same size); returns bytes."""
    from bench_catalog_sync import tiny_wav

    marker = root / ".complete"
    if marker.exists() and marker.read_text() == str(n):
        return int(json.loads((root / ".bytes").read_text()))
    total = 0
    for i in range(n):
        path = root / track_rel(i)
        if i % FILES_PER_FOLDER == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        data = tiny_wav(i, 40)
        path.write_bytes(data)
        total += len(data)
    (root / ".bytes").write_text(json.dumps(total))
    marker.write_text(str(n))
    return total


def seed_records(root: Path) -> list[dict[str, Any]]:
    """What a completed first sync leaves in the bucket, per track: its markers (path, size, mtime, sha256)."""
    out = []
    for folder in sorted(os.scandir(root), key=lambda e: e.name):
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder.path), key=lambda e: e.name):
            st = entry.stat()
            with open(entry.path, "rb") as fh:
                sha = hashlib.sha256(fh.read()).hexdigest()
            rel = f"{folder.name}/{entry.name}"
            out.append({"title": entry.name.rsplit(".", 1)[0], "user_defined": {
                "catalog_path": rel, "catalog_size": st.st_size, "catalog_mtime": st.st_mtime, "catalog_sha256": sha}})
    return out


# ---------------------------------------------------------------------------------------------------
# the emulator, with an indexed listing and an optional seeded bucket
# ---------------------------------------------------------------------------------------------------
def install_fast_listing() -> None:
    from airflow_provider_music.testing import acrcloud as acr

    original = acr.AcrCloudConsoleApi.list_files
    cache: dict[int, tuple[tuple[int, int], list[Any]]] = {}

    async def list_files(self: Any, bucket_id: int, request: Any) -> Any:
        q = request.query_params
        if any(q.get(k) for k in ("search", "keyword", "state")) or (q.get("sort") or "id") != "id" \
                or (q.get("order") or "asc") != "asc":
            return await original(self, bucket_id, request)
        with self.state.lock:
            if bucket_id not in self.store.buckets:
                return self.not_found("Bucket")
            key = (len(self.store.files), self.store.next_file)
            hit = cache.get(bucket_id)
            if hit is None or hit[0] != key:  # files are kept in id order (ids only grow)
                hit = (key, [f for f in self.store.files.values() if f.bucket_id == bucket_id])
                cache[bucket_id] = hit
            return self.paginate(request, hit[1], self.file_json)

    from fastapi import Request

    list_files.__annotations__ = {"bucket_id": int, "request": Request}  # what FastAPI reads (not strings)
    acr.AcrCloudConsoleApi.list_files = list_files  # type: ignore[method-assign]


def seed_bucket(state: Any, records: list[dict[str, Any]]) -> int:
    from airflow_provider_music.testing import acrcloud as acr
    from airflow_provider_music.testing.acrcloud_common import BucketFile

    store = acr.store_of(state)
    bid = store.next_bucket
    store.next_bucket += 1
    store.buckets[bid] = {"id": bid, "uid": 1, "name": "bench-seeded", "type": "File", "node": "127.0.0.1-871",
                          "state": 1, "region": "eu-west-1", "metadata_template": None, "labels": [], "net_type": 1,
                          "created_at": "2026-01-01 00:00:00", "updated_at": "2026-01-01 00:00:00",
                          "access_permission": "private"}
    created = state.now() - 3600
    for rec in records:
        fid = store.next_file
        store.next_file += 1
        ud = rec["user_defined"]
        store.files[fid] = BucketFile(id=fid, bucket_id=bid, acr_id=uuid.uuid4().hex, title=rec["title"],
                                      user_defined=ud, data_type="audio", duration=0.005, created=created,
                                      final_state=1, sha256=ud["catalog_sha256"], size=ud["catalog_size"],
                                      updated=created)
    return bid


def run_emulator(args: argparse.Namespace) -> int:
    import uvicorn

    from airflow_provider_music.testing.emulator import EmulatorState, bind_socket, create_app, url_for

    install_fast_listing()
    state = EmulatorState(tokens={TOKEN}, job_seconds=0.2, settings={"acrcloud.job_seconds": 0.2})
    sock = bind_socket("127.0.0.1", 0)
    state.base_url = url_for("127.0.0.1", sock.getsockname()[1])
    app = create_app(state)
    seeded = seed_bucket(state, seed_records(Path(args.seed))) if args.seed else 0
    print(f"music emulator listening on {state.base_url} seeded={seeded}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", access_log=False)).run(sockets=[sock])
    return 0


class BenchEmulator(EmulatorProcess):
    """This script's ``--emulator`` mode in its own process (loopback); ``seeded``: the pre-filled bucket."""

    def __init__(self, seed: Path | None = None) -> None:
        super().__init__()
        self.seed = seed
        self.seeded = 0

    def __enter__(self) -> BenchEmulator:
        cmd = [sys.executable, __file__, "--emulator"] + (["--seed", str(self.seed)] if self.seed else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=bench_env(), cwd=str(ROOT))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url, seeded = line.split(" on ", 1)[1].split()
        self.seeded = int(seeded.split("=", 1)[1])
        return self


# ---------------------------------------------------------------------------------------------------
# one sync in a child process
# ---------------------------------------------------------------------------------------------------
def child(spec_path: str) -> int:
    import logging
    from unittest import mock

    spec = json.loads(Path(spec_path).read_text())
    logging.disable(logging.INFO)
    from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator

    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=spec["catalog"], bucket_id=spec["bucket"],
                                     shard=spec["shard"], poll_interval=0.5, progress_interval=3600,
                                     deferrable=False, concurrency=8, timeout=7200)
    ti = mock.MagicMock()
    ti.map_index, ti.try_number, ti.dag_id, ti.task_id, ti.run_id = -1, 1, "bench", "sync", "manual__bench"
    t0 = time.monotonic()
    summary = op.execute({"ti": ti, "task_instance": ti, "run_id": "manual__bench"})
    wall = time.monotonic() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(spec["out"]).write_text(json.dumps({
        "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0, "cpu_s": usage.ru_utime + usage.ru_stime,
        "summary": {k: v for k, v in summary.items() if k != "failed_paths"},
    }))
    return 0


def run_syncs(emu: BenchEmulator, catalog: Path, bucket: int, shards: int, tmp: str, label: str) -> list[dict[str, Any]]:
    """``shards`` concurrent child processes (one per shard); each row: its wall time, peak RSS, summary."""
    procs = []
    t0 = time.monotonic()
    for i in range(shards):
        spec = os.path.join(tmp, f"{label}-{shards}-{i}.json")
        out = spec + ".out"
        Path(spec).write_text(json.dumps({"catalog": str(catalog), "bucket": bucket, "out": out,
                                          "shard": f"{i}/{shards}" if shards > 1 else None}))
        procs.append((subprocess.Popen([sys.executable, __file__, "--child", spec], env=bench_env(emu.url),
                                       cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), out))
    rows = []
    for proc, out in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{label} sync failed:\n{err[-3000:]}")
        rows.append(json.loads(Path(out).read_text()))
    wall = time.monotonic() - t0
    return [{**r, "all_shards_wall_s": wall} for r in rows]


def measure(n: int, shards: list[int], first_max: int, tmp: str, keep: Path) -> list[dict[str, Any]]:
    catalog = keep / f"catalog-{n}"
    t0 = time.monotonic()
    total_bytes = make_catalog(catalog, n)
    print(f"  N={n}: catalog ready ({time.monotonic() - t0:.0f} s, {total_bytes} bytes)", flush=True)
    rows: list[dict[str, Any]] = []
    seed = catalog if n > first_max else None
    t0 = time.monotonic()
    with BenchEmulator(seed) as emu:
        print(f"  N={n}: emulator up ({time.monotonic() - t0:.0f} s{', seeded' if seed else ''})", flush=True)
        bucket = emu.seeded or emu.call("POST", "/api/buckets", {"name": f"bench-{n}", "region": "eu-west-1",
                                                                 "type": "File"})["data"]["id"]
        if seed is None:
            (first,) = run_syncs(emu, catalog, bucket, 1, tmp, "first")
            rows.append(_row("first sync", n, 1, first, tracks_per_s=round(n / first["wall_s"], 1)))
            print(f"  N={n}: first sync {first['wall_s']:.0f} s", flush=True)
        for k in shards:
            results = run_syncs(emu, catalog, bucket, k, tmp, "noop")
            row = _row("no-op re-sync", n, k, results[0])
            row["wall_s"] = round(max(r["wall_s"] for r in results), 1)  # the slowest shard's sync
            row["procs_wall_s"] = round(results[0]["all_shards_wall_s"], 1)  # incl. interpreter starts
            row["peak_rss_mb"] = round(max(r["peak_rss_mb"] for r in results), 1)
            row["cpu_s"] = round(sum(r["cpu_s"] for r in results), 1)
            row["unchanged"] = sum(r["summary"].get("unchanged", 0) for r in results)
            row["uploaded"] = sum(r["summary"].get("uploaded", 0) for r in results)
            rows.append(row)
            print(f"  N={n}: no-op K={k} {row['wall_s']} s, {row['peak_rss_mb']} MB", flush=True)
        rows[-1]["emulator_cpu_s"] = round(emu.cpu_seconds(), 1)
    return rows


def _row(run: str, n: int, k: int, r: dict[str, Any], **extra: Any) -> dict[str, Any]:
    s = r["summary"]
    return {"run": run, "n": n, "shards": k, "wall_s": round(r["wall_s"], 1), "peak_rss_mb": round(r["peak_rss_mb"], 1),
            "cpu_s": round(r["cpu_s"], 1), "uploaded": s.get("uploaded"), "unchanged": s.get("unchanged"),
            "failed": s.get("failed"), **extra}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--shards", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--first-sync-max", type=int, default=100_000,
                        help="larger catalogs are seeded into the emulator instead of uploaded")
    parser.add_argument("--catalog-dir", default=os.path.join(tempfile.gettempdir(), "music-bench-catalog-scale"),
                        help="where catalogs are generated (kept between runs)")
    parser.add_argument("--smoke", action="store_true", help="N = 300 (first sync) and 400 (seeded)")
    parser.add_argument("--out", default=None, help="results folder (default bench/results)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    if args.emulator:
        return run_emulator(args)
    sizes, first_max = ([300, 400], 300) if args.smoke else (args.sizes, args.first_sync_max)
    keep = Path(args.catalog_dir)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="music-bench-scale-") as tmp:
        for n in sizes:
            rows += measure(n, args.shards, first_max, tmp, keep)
    for r in rows:
        if r["run"] == "no-op re-sync":
            r["target_met"] = r["wall_s"] < NOOP_TARGET_S and r["peak_rss_mb"] < RSS_TARGET_MB and not r["uploaded"]
    print_table(rows, ["run", "n", "shards", "wall_s", "tracks_per_s", "peak_rss_mb", "cpu_s", "uploaded", "unchanged",
                       "failed", "emulator_cpu_s", "target_met"],
                title="Catalog sync at scale (each sync a fresh process; K shards = K concurrent processes)")
    path = write_results("bench_catalog_scale" + ("_smoke" if args.smoke else ""), {
        "rows": rows, "targets": {"noop_s": NOOP_TARGET_S, "rss_mb": RSS_TARGET_MB}}, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
