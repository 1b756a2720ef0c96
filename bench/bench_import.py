"""DAG parse cost: time and modules added by importing each operator module on top of ``airflow.sdk``.

Each sample is a fresh interpreter that imports ``airflow.sdk`` (what every DAG file does), then times
the import of one operator module. Target: median under 50 ms, and none of ``requests_toolbelt``,
``aiohttp``, ``fastapi``, ``pyacrcloud`` imported at parse time.

    python bench/bench_import.py            # 20 interpreters per module
    python bench/bench_import.py --smoke    # 1 interpreter, first module
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bench_env, median, print_table, write_results  # noqa: E402

MODULES = [
    "airflow_provider_music.operators.riffusion",
    "airflow_provider_music.operators.acrcloud",
    "airflow_provider_music.operators.audioshake",
]
SENSORS = [
    "airflow_provider_music.sensors.riffusion",
    "airflow_provider_music.sensors.acrcloud",
    "airflow_provider_music.sensors.audioshake",
]
FORBIDDEN = ("requests_toolbelt", "aiohttp", "fastapi", "pyacrcloud", "acrcloud", "acrcloud_extr_tool",
             "uvicorn", "starlette")
TARGET_MS = 50.0

PROBE = """
import json, sys, time
import airflow.sdk
before = set(sys.modules)
t0 = time.perf_counter()
import importlib
importlib.import_module(sys.argv[1])
elapsed = time.perf_counter() - t0
added = sorted(set(sys.modules) - before)
print(json.dumps({"ms": elapsed * 1000, "added": added}))
"""


def sample(module: str, pycache: str | None) -> dict:
    """One fresh interpreter. ``pycache``: a bytecode cache folder (as after ``pip install``, which compiles
    .pyc files); ``None``: no bytecode at all (every module compiled from source, the cold worst case)."""
    env = bench_env()
    with tempfile.TemporaryDirectory(prefix="music-bench-nopyc-") as empty:
        if pycache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = empty
        out = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True,
                             env=env, cwd=str(ROOT), check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="fresh interpreters per module")
    parser.add_argument("--modules", nargs="*", default=MODULES)
    parser.add_argument("--sensors", action="store_true", help="also measure the sensor modules")
    parser.add_argument("--cold-runs", type=int, default=3, help="interpreters without any bytecode (informative)")
    parser.add_argument("--smoke", action="store_true", help="1 interpreter (+ warm-up), first module only, no cold run")
    parser.add_argument("--out", default=None, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    modules = list(args.modules) + (SENSORS if args.sensors else [])
    runs, cold_runs = args.runs, args.cold_runs
    if args.smoke:
        runs, cold_runs, modules = 1, 0, modules[:1]
    pycache_dir = tempfile.TemporaryDirectory(prefix="music-bench-pyc-")
    pycache = pycache_dir.name
    rows = []
    print(f"{len(modules)} module(s) x ({runs} + {cold_runs} cold + 1 warm-up) fresh interpreters "
          "(about 1-3 s each)", flush=True)
    for module in modules:
        sample(module, pycache)  # warm-up: writes the bytecode cache
        samples = [sample(module, pycache) for _ in range(runs)]
        cold = [sample(module, None)["ms"] for _ in range(cold_runs)]
        times = [s["ms"] for s in samples]
        added = samples[-1]["added"]
        heavy = sorted({m.split(".")[0] for s in samples for m in s["added"]} & set(FORBIDDEN))
        ms = median(times)
        rows.append({
            "module": module.replace("airflow_provider_music.", ""),
            "median_ms": round(ms, 1),
            "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1),
            "cold_no_pyc_ms": round(median(cold), 1) if cold else None,
            "modules_added": len(added),
            "forbidden_imported": ",".join(heavy) or "-",
            "target_met": ms < TARGET_MS and not heavy,
            "added_top": sorted({m.split(".")[0] for m in added}),
        })
        print(f"  {rows[-1]['module']}: median {ms:.1f} ms, forbidden {rows[-1]['forbidden_imported']}", flush=True)
    pycache_dir.cleanup()
    print_table(rows, ["module", "median_ms", "min_ms", "max_ms", "cold_no_pyc_ms", "modules_added",
                       "forbidden_imported", "target_met"],
                title=f"DAG parse cost on top of airflow.sdk, bytecode cached as after pip install "
                      f"({runs} fresh interpreters each; target < {TARGET_MS:.0f} ms)")
    path = write_results("bench_import" + ("_smoke" if args.smoke else ""),
                         {"runs": runs, "target_ms": TARGET_MS, "rows": rows}, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
