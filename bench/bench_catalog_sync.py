"""Nightly catalog sync at scale: AcrCloudCatalogSyncOperator against the emulator (its own process).

For each catalog size: first sync, no-op re-sync, re-sync with 1 % of the tracks changed. Reports wall
time, API calls by kind (the emulator's counters), bytes actually read from the catalog files (and how
many opens), bytes uploaded and the peak number of uploads in flight, next to the minimum.

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


def tone_wav(path: Path, seconds: float, period: int, sample_rate: int = 44100) -> None:
    """A real-size 16-bit mono WAV: a tone with harmonics whose period is ``period`` samples (one cycle
    computed, then repeated: instant even for 30 s at 44.1 kHz; each period gives a different track)."""
    import math
    import struct

    cycle = struct.pack(f"<{period}h", *(int(8000 * sum(math.sin(2 * math.pi * h * i / period) / h for h in range(1, 5)))
                                         for i in range(period)))
    frames = int(seconds * sample_rate)
    data = (cycle * (frames // period + 1))[: frames * 2]
    header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) + b"data" + struct.pack("<I", len(data)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + data)


def make_catalog(root: Path, n: int, frames: int = 160) -> list[Path]:
    paths = []
    for i in range(n):
        path = root / f"artist{i % 50:02d}" / f"track{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tiny_wav(i, frames))
        paths.append(path)
    return paths


class Meter:
    """Counts the bytes actually read from catalog files, their opens, and the uploads in flight.

    Every ``open()`` of a file under the catalog root in read mode (the operator's own reads and the
    core's streamed uploads, both through fsspec's local file system) returns a file whose reads are
    counted; reads done in C by the fingerprint extractor are counted as the whole file per call.
    """

    def __init__(self) -> None:
        import builtins

        self.root = ""
        self.read_bytes = 0
        self.opens = 0
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.busy = 0.0
        self._open = builtins.open
        builtins.open = self._counting_open  # type: ignore[assignment]

    def add(self, n: int) -> None:
        with self.lock:
            self.read_bytes += n

    def _counting_open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fobj = self._open(file, mode, *args, **kwargs)
        name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else ""
        if (self.root and isinstance(name, str) and name.startswith(self.root) and "w" not in mode
                and "a" not in mode and "+" not in mode and not name.endswith(".json")):
            with self.lock:
                self.opens += 1
            return _CountingFile(fobj, self)
        return fobj

    def wrap_extractor(self, module: Any) -> None:
        original = module.pyacrcloud_extractor
        meter = self

        def extractor(local_path: str) -> bytes:
            meter.add(os.stat(local_path).st_size)  # pyacrcloud reads (and decodes) the whole file in C
            with meter.lock:
                meter.opens += 1
            return original(local_path)

        module.pyacrcloud_extractor = extractor

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


class _CountingFile:
    """A file object whose reads add to a ``Meter`` (everything else is delegated)."""

    def __init__(self, fobj: Any, meter: Meter) -> None:
        object.__setattr__(self, "_f", fobj)
        object.__setattr__(self, "_meter", meter)

    def read(self, *args: Any) -> Any:
        data = self._f.read(*args)
        self._meter.add(len(data))
        return data

    def read1(self, *args: Any) -> Any:
        data = self._f.read1(*args)
        self._meter.add(len(data))
        return data

    def readinto(self, buffer: Any) -> Any:
        n = self._f.readinto(buffer)
        self._meter.add(n or 0)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._f, name, value)

    def __iter__(self) -> Any:
        return iter(self._f)

    def __enter__(self) -> _CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


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
             changed_bytes: int, mode: str = "audio", extractor: Any = None, in_bucket: int = 0) -> dict[str, Any]:
    """One sync; ``in_bucket``: files already in the bucket (the listing the sync must read: at least 1 page)."""
    from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator

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
        "list_calls": lists, "min_list_calls": max(1, math.ceil(in_bucket / PAGE)),
        "uploads": uploads, "min_uploads": changed,
        "other_calls": other, "calls": dict(kinds),
        "read_bytes": meter.read_bytes, "min_read_bytes": changed_bytes,
        "read_x_min": round(meter.read_bytes / changed_bytes, 2) if changed_bytes else None,
        "opens": meter.opens,
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
    from airflow_provider_music.operators import acrcloud_sync as ops

    meter.wrap_extractor(ops)
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
            rows.append(run_sync(emu, meter, catalog, bucket, "no-op re-sync", n, 0, 0, in_bucket=n))
            step = 100
            changed = paths[::step]
            for i, p in enumerate(changed):
                p.write_bytes(tiny_wav(10**6 + i, 170))
            changed_bytes = sum(p.stat().st_size for p in changed)
            rows.append(run_sync(emu, meter, catalog, bucket, "1% changed", n, len(changed), changed_bytes, in_bucket=n))
            print(f"  N={n}: " + ", ".join(f"{r['run']} {r['wall_s']} s" for r in rows[-3:]), flush=True)
        if fp_tracks:
            emu.reset()
            catalog = Path(tmp) / "catalog-fp"
            for i in range(fp_tracks):
                tone_wav(catalog / f"t{i:04d}.wav", 30.0, period=100 + i * 3)  # 441 Hz down to ~180 Hz
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
            r["target_met"] = (r["max_in_flight"] >= 4 or r["n"] < 4) and r["read_bytes"] <= r["min_read_bytes"]
        else:
            r["target_met"] = r["uploads"] == r["min_uploads"] and r["read_bytes"] <= r["min_read_bytes"]
    print_table(rows, ["run", "mode", "n", "wall_s", "list_calls", "min_list_calls", "uploads", "min_uploads",
                       "other_calls", "read_bytes", "min_read_bytes", "read_x_min", "opens", "uploaded_bytes", "max_in_flight",
                       "avg_in_flight", "failed", "target_met"], title="Catalog sync (emulator in its own process)")
    path = write_results("bench_catalog_sync" + ("_smoke" if args.smoke else ""), {"rows": rows}, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
