"""Upload throughput and client memory: the hooks' raw and multipart uploads against curl, side by side.

A WAV of SIZE is uploaded to the emulator (its own process) through each hook's upload path and with
curl to the same route: raw (``RiffusionHook.upload_audio`` vs ``curl -T``) and multipart
(``AcrCloudHook.upload_file`` / ``AudioShakeHook.upload_file`` vs ``curl -F file=@...``), and to
``/_emulator/sink`` (no API logic) with the core's ``upload_raw`` / ``upload_multipart``. Each upload runs
in a fresh child process so its peak RSS growth is its own. Rounds are interleaved; medians reported.

    python bench/bench_upload.py                # 1 GiB and 100 MiB, 5 rounds (~7 min)
    python bench/bench_upload.py --smoke        # 2 MiB, 1 round, 2 cases
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, TOKEN, EmulatorProcess, bench_env, median, print_table, write_results  # noqa: E402

MIB = 1024 * 1024
CURL = "/usr/bin/curl"
RSS_TARGET_MB = 64.0
TARGETS = {"raw": 0.9, "multipart": 0.8}

# name -> (kind, route, hook)
CASES = {
    "riffusion upload-audio": ("raw", "/v1/riffusion/music/upload-audio?file_name=bench", "riffusion"),
    "acrcloud bucket file": ("multipart", "/api/buckets/{bucket}/files", "acrcloud"),
    "audioshake upload": ("multipart", "/upload/", "audioshake"),
    "sink raw": ("raw", "/_emulator/sink", "core-raw"),
    "sink multipart": ("multipart", "/_emulator/sink", "core-multipart"),
}


def make_wav(path: Path, size: int) -> None:
    """A valid 16-bit PCM WAV header followed by (sparse, fast to create) silence."""
    data = size - 44
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header += b"data" + struct.pack("<I", data)
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(size)


CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.path.join(sys.argv[4], "bench"))
from _common import current_rss_mb, peak_rss_mb
hook_kind, path, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.core import resolve_source
import urllib3  # noqa: F401 - imported before the baseline, like any loaded library
import logging; logging.disable(logging.WARNING)
hooks = {"riffusion": RiffusionHook, "acrcloud": AcrCloudHook, "audioshake": AudioShakeHook}
hook = hooks.get(hook_kind, RiffusionHook)()
hook.get_conn(); hook.settings
rss0 = current_rss_mb()
t0 = time.perf_counter(); c0 = time.process_time()
if hook_kind == "riffusion":
    hook.upload_audio(path)
elif hook_kind == "acrcloud":
    hook.upload_file(bucket, data_type="audio", source=path, title="bench")
elif hook_kind == "audioshake":
    hook.jobs.upload_file(path)
elif hook_kind == "core-raw":
    hook.upload_raw("POST", sys.argv[5] + "/_emulator/sink", resolve_source(path), content_type="audio/wav")
else:
    hook.upload_multipart("POST", sys.argv[5] + "/_emulator/sink", fields={"name": "bench"}, file_field="file",
                          source=resolve_source(path), content_type="audio/wav")
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "cpu": time.process_time() - c0, "rss_growth_mb": max(0.0, peak_rss_mb() - rss0)}))
"""


def hook_upload(emu: EmulatorProcess, hook: str, path: Path, bucket: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", CHILD, hook, str(path), bucket, str(ROOT), emu.url],
                         capture_output=True, text=True, env=bench_env(emu.url), cwd=str(ROOT))
    if out.returncode:
        raise RuntimeError(f"hook upload {hook} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def curl_upload(emu: EmulatorProcess, kind: str, route: str, path: Path) -> dict[str, Any]:
    cmd = [CURL, "-sS", "--fail", "-o", "/dev/null", "-H", f"Authorization: Bearer {TOKEN}", "-H", "Expect:"]
    if kind == "raw":
        cmd += ["-X", "POST", "-H", "Content-Type: audio/wav", "-T", str(path)]
    else:
        cmd += ["-F", "data_type=audio", "-F", "title=bench", "-F", f"file=@{path};type=audio/wav"]
    cmd.append(emu.url + route)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"curl failed ({proc.returncode}): {proc.stderr.read().decode() if proc.stderr else ''}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", type=int, nargs="*", default=[1024, 100])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--smoke", action="store_true", help="2 MiB, one round")
    parser.add_argument("--out", default=None, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    sizes, rounds = ([2], 1) if args.smoke else (args.sizes_mib, args.rounds)
    # smoke: one raw and one multipart hook path (the sink cases and audioshake run the same core code)
    cases = [c for c in args.cases if c in ("riffusion upload-audio", "acrcloud bucket file")] if args.smoke else args.cases
    rows = []
    with tempfile.TemporaryDirectory(prefix="music-bench-upload-") as tmp, EmulatorProcess(job_seconds=0.5) as emu:
        for size_mib in sizes:
            path = Path(tmp) / f"bench-{size_mib}.wav"
            make_wav(path, size_mib * MIB)
            for name in cases:
                kind, route, hook = CASES[name]
                ours: list[dict[str, Any]] = []
                theirs: list[dict[str, Any]] = []
                for round_no in range(rounds):
                    # interleaved, and who goes first alternates: both see the same machine state
                    for who in ("hook", "curl") if round_no % 2 == 0 else ("curl", "hook"):
                        emu.reset()  # frees the emulator's spool (disk) between uploads
                        bucket = ""
                        if hook == "acrcloud":
                            bucket = str(emu.call("POST", "/api/buckets", {"name": "b", "region": "eu-west-1",
                                                                           "type": "File"})["data"]["id"])
                        if who == "hook":
                            ours.append(hook_upload(emu, hook, path, bucket))
                        else:
                            theirs.append(curl_upload(emu, kind, route.format(bucket=bucket), path))
                size_mb = size_mib * MIB / 1e6
                ours_mbs = median([size_mb / r["wall"] for r in ours])
                curl_mbs = median([size_mb / r["wall"] for r in theirs])
                ratio = ours_mbs / curl_mbs
                growth = max(r["rss_growth_mb"] for r in ours)
                rows.append({
                    "size_mib": size_mib, "case": name, "kind": kind,
                    "hook_MBps": round(ours_mbs, 1), "curl_MBps": round(curl_mbs, 1), "ratio": round(ratio, 2),
                    "target": TARGETS[kind], "hook_cpu_s": round(median([r["cpu"] for r in ours]), 2),
                    "curl_cpu_s": round(median([r["cpu"] for r in theirs]), 2),
                    "hook_rss_growth_mb": round(growth, 1), "curl_rss_mb": round(max(r["rss_mb"] for r in theirs), 1),
                    "target_met": ratio >= TARGETS[kind] and growth < RSS_TARGET_MB,
                })
                print(f"  {size_mib} MiB {name}: hook {ours_mbs:.0f} MB/s, curl {curl_mbs:.0f} MB/s", flush=True)
            path.unlink()
    print_table(rows, ["size_mib", "case", "kind", "hook_MBps", "curl_MBps", "ratio", "target", "hook_cpu_s",
                       "curl_cpu_s", "hook_rss_growth_mb", "curl_rss_mb", "target_met"],
                title=f"Uploads to the emulator (own process), median of {rounds} interleaved rounds")
    path_out = write_results("bench_upload" + ("_smoke" if args.smoke else ""),
                             {"rounds": rounds, "rows": rows, "rss_target_mb": RSS_TARGET_MB, "targets": TARGETS},
                             args.out)
    print(f"\nwrote {path_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
