"""Nightly catalog sync at scale: AcrCloudCatalogSyncOperator against the emulator (its own process).

For each catalog size: first sync, no-op re-sync, re-sync with 1 % of the tracks changed. Reports wall
time, API calls by kind (the emulator's counters), bytes read from the catalog (every open of a catalog
file, by its size), bytes uploaded and the peak number of uploads in flight, next to the minimum.

    python bench/bench_catalog_sync.py            # 1,000 and 10,000 tiny tracks + fingerprint mode
    python bench/bench_catalog_sync.py --smoke    # 20 tracks
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EmulatorProcess, bench_env, print_table, write_results  # noqa: E402

PAGE = 100


def tiny_wav(index: int, frames: int = 160) -> bytes:
    import struct

    data = struct.pack(f"<{frames}h", *(((index * 7919 + i * 31) % 2000) - 1000 for i in range(frames)))
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
            + b"data" + struct.pack("<I", len(data)) + data)


def make_catalog(root: Path, n: int, frames: int = 160) -> list[Path]:
    paths = []
    for i in range(n):
        path = root / f"artist{i % 50:02d}" / f"track{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tiny_wav(i, frames))
        paths.append(path)
    return paths


class Meter:
    """Counts opens of catalog files (audit hook) and uploads in flight."""

    def __init__(self) -> None:
        self.root = ""
        self.read_bytes = 0
        self.opens = 0
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.busy = 0.0
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: Any) -> None:
        if event == "open" and self.root and isinstance(args[0], str) and args[0].startswith(self.root):
            mode = args[1] or "r"
            if "w" not in mode and "a" not in mode and not args[0].endswith(".json"):
                try:
                    size = os.stat(args[0]).st_size
                except OSError:
                    return
                with self.lock:
                    self.read_bytes += size
                    self.opens += 1

    def wrap_upload(self, hook_cls: Any) -> None:
        original = hook_cls.upload_file
        meter = self

        def upload_file(self: Any, *args: Any, **kwargs: Any) -> Any:
            with meter.lock:
                meter.in_flight += 1
                meter.max_in_flight = max(meter.max_in_flight, meter.in_flight)
            t0 = time.monotonic()
            try:
                return original(self, *args, **kwargs)
            finally:
                with meter.lock:
                    meter.in_flight -= 1
                    meter.busy += time.monotonic() - t0

        hook_cls.upload_file = upload_file

    def reset(self, root: str) -> None:
        self.root, self.read_bytes, self.opens, self.max_in_flight, self.busy = root, 0, 0, 0, 0.0


def calls_by_kind(before: dict[str, int], after: dict[str, int]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for key, value in after.items():
        delta = value - before.get(key, 0)
        if delta <= 0 or not key.split(" ", 1)[1].startswith("/api/"):
            continue
        method, route = key.split(" ", 1)
        kinds[f"{method} {route}"] += delta
    return kinds


def run_sync(emu: EmulatorProcess, meter: Meter, catalog: Path, bucket: int, label: str, n: int, changed: int,
             changed_bytes: int, mode: str = "audio", extractor: Any = None) -> dict[str, Any]:
    from airflow_provider_music.operators.acrcloud import AcrCloudCatalogSyncOperator

    meter.reset(str(catalog))
    before = emu.state()["route_counts"]
    op = AcrCloudCatalogSyncOperator(task_id="sync", catalog=str(catalog), bucket_id=bucket, mode=mode,
                                     poll_interval=0.5, progress_interval=3600, deferrable=False,
                                     fingerprint_extractor=extractor)
    from unittest import mock

    ti = mock.MagicMock()
    ti.map_index, ti.try_number, ti.dag_id, ti.task_id, ti.run_id = -1, 1, "bench", "sync", "manual__bench"
    t0 = time.monotonic()
    summary = op.execute({"ti": ti, "task_instance": ti, "run_id": "manual__bench"})
    wall = time.monotonic() - t0
    kinds = calls_by_kind(before, emu.state()["route_counts"])
    uploads = kinds.get("POST /api/buckets/{bucket_id}/files", 0)
    lists = kinds.get("GET /api/buckets/{bucket_id}/files", 0)
    other = sum(kinds.values()) - uploads - lists
    return {
        "run": label, "mode": mode, "n": n, "wall_s": round(wall, 2),
        "list_calls": lists, "min_list_calls": math.ceil(n / PAGE) if n else 1,
        "uploads": uploads, "min_uploads": changed,
        "other_calls": other, "calls": dict(kinds),
        "read_bytes": meter.read_bytes, "min_read_bytes": changed_bytes,
        "uploaded_bytes": summary.get("uploaded_bytes"),
        "max_in_flight": meter.max_in_flight,
        "avg_in_flight": round(meter.busy / wall, 2) if wall else 0.0,
        "failed": summary.get("failed"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--fingerprint-tracks", type=int, default=50, help="tracks of 30 s, 44.1 kHz for mode=fingerprint")
    parser.add_argument("--smoke", action="store_true", help="20 tracks, fingerprint mode 3 tracks")
    parser.add_argument("--out", default=None, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    sizes, fp_tracks = ([20], 3) if args.smoke else (args.sizes, args.fingerprint_tracks)
    meter = Meter()
    from airflow_provider_music.hooks.acrcloud import AcrCloudHook

    meter.wrap_upload(AcrCloudHook)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="music-bench-catalog-") as tmp, \
            EmulatorProcess(job_seconds=0.2, settings={"acrcloud.job_seconds": 0.2}) as emu:
        os.environ.update(bench_env(emu.url))
        import logging

        logging.disable(logging.INFO)
        for n in sizes:
            emu.reset()
            catalog = Path(tmp) / f"catalog-{n}"
            paths = make_catalog(catalog, n)  # generation is not measured
            total = sum(p.stat().st_size for p in paths)
            bucket = AcrCloudHook().create_bucket(f"bench-{n}", region="eu-west-1")["id"]
            rows.append(run_sync(emu, meter, catalog, bucket, "first sync", n, n, total))
            rows.append(run_sync(emu, meter, catalog, bucket, "no-op re-sync", n, 0, 0))
            step = 100
            changed = paths[::step]
            for i, p in enumerate(changed):
                p.write_bytes(tiny_wav(10**6 + i, 170))
            changed_bytes = sum(p.stat().st_size for p in changed)
            rows.append(run_sync(emu, meter, catalog, bucket, "1% changed", n, len(changed), changed_bytes))
            print(f"  N={n}: " + ", ".join(f"{r['run']} {r['wall_s']} s" for r in rows[-3:]), flush=True)
        if fp_tracks:
            emu.reset()
            from airflow_provider_music.testing.audio import write_sine_wav

            catalog = Path(tmp) / "catalog-fp"
            for i in range(fp_tracks):
                write_sine_wav(catalog / f"t{i:04d}.wav", 30.0, freq=220.0 + i * 3, sample_rate=44100, harmonics=4)
            total = sum(p.stat().st_size for p in catalog.glob("*.wav"))
            bucket = AcrCloudHook().create_bucket("bench-fp", region="eu-west-1")["id"]
            row = run_sync(emu, meter, catalog, bucket, "first sync", fp_tracks, fp_tracks, total, mode="fingerprint")
            row["audio_bytes"] = total
            row["upload_fraction"] = round((row["uploaded_bytes"] or 0) / total, 4)
            rows.append(row)
    for r in rows:
        if r["run"] == "no-op re-sync":
            r["target_met"] = r["list_calls"] == r["min_list_calls"] and r["uploads"] == 0 and r["other_calls"] == 0 \
                and r["read_bytes"] == 0
        elif r["mode"] == "fingerprint":
            r["target_met"] = r.get("upload_fraction", 1) <= 1 / 50
        elif r["run"] == "first sync":
            r["target_met"] = r["max_in_flight"] >= 4 or r["n"] < 4
        else:
            r["target_met"] = r["uploads"] == r["min_uploads"]
    print_table(rows, ["run", "mode", "n", "wall_s", "list_calls", "min_list_calls", "uploads", "min_uploads",
                       "other_calls", "read_bytes", "min_read_bytes", "uploaded_bytes", "max_in_flight",
                       "avg_in_flight", "failed", "target_met"], title="Catalog sync (emulator in its own process)")
    path = write_results("bench_catalog_sync" + ("_smoke" if args.smoke else ""), {"rows": rows}, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
