"""`make demo`: run the example pipelines end to end in real Airflow against the offline emulator.

1. prepares an Airflow home under .demo/ (SQLite, ``airflow db migrate``),
2. starts the emulator in its own process on a free loopback port,
3. points every API's connection at it through ``AIRFLOW_CONN_*``,
4. generates a small catalog of real audio files (WAV tones) with sidecar metadata,
5. runs ``example_music_pipeline`` (songs composed with FlowMusic, split with AudioShake, scanned and
   fingerprinted with ACRCloud), ``example_stems_comparison`` (AudioShake vs FlowMusic stems) and
   ``example_nightly_catalog_fingerprint`` with ``airflow dags test``,
6. stops the emulator and prints task states, the files written with their sizes, and what the pipeline
   cost per task and in total (``cost-report.json``).

Exit code 1 if any task failed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
DAGS = ("example_music_pipeline", "example_stems_comparison", "example_nightly_catalog_fingerprint")


def make_catalog(folder: Path, count: int = 12) -> list[Path]:
    """Generate ``count`` short WAV tracks (different tones) and sidecar JSON metadata for half of them."""
    from airflow_provider_music.testing.audio import sine_wav

    folder.mkdir(parents=True, exist_ok=True)
    tracks = []
    for i in range(count):
        album = folder / f"album-{i // 4 + 1}"
        album.mkdir(exist_ok=True)
        path = album / f"track-{i + 1:02d}.wav"
        if not path.exists():
            path.write_bytes(sine_wav(1.5 + (i % 3) * 0.5, freq=220.0 + 55 * i, harmonics=1 + i % 4))
        if i % 2 == 0:
            sidecar = path.with_suffix(".json")
            sidecar.write_text(json.dumps({"title": f"Demo Track {i + 1}", "user_defined": {"artist": "Demo Band", "isrc": f"XX-DEM-26-{i + 1:05d}"}}))
        tracks.append(path)
    return tracks


def start_emulator(job_seconds: float) -> tuple[subprocess.Popen[str], str]:
    """The emulator on a free loopback port (``--port 0``: never the default 8590 a user's own emulator may hold)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_music.testing.emulator", "--host", "127.0.0.1", "--port", "0",
         "--job-seconds", str(job_seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:  # its one-line reason is on stderr (the terminal)
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, line.split()[-1]


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def main() -> int:
    from airflow_provider_music.testing.apis import DEFAULT_TOKEN, env_for
    from airflow_provider_music.testing.dagtest import AirflowHome

    started = time.monotonic()
    output = DEMO / "output"
    shutil.rmtree(output, ignore_errors=True)
    catalog = DEMO / "catalog"
    tracks = make_catalog(catalog)
    home = AirflowHome(DEMO / "airflow-home", dags_folder=ROOT / "example_dags")
    print("== preparing the Airflow home (SQLite) ...", flush=True)
    home.migrate()
    emulator, url = start_emulator(job_seconds=1.0)
    print(f"== emulator running at {url}", flush=True)
    env = env_for(url, token=DEFAULT_TOKEN)  # every emulated API (FlowMusic, Riffusion, ACRCloud, AudioShake)
    env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] = "True"
    results = []
    try:
        confs = {
            "example_music_pipeline": {"output_dir": str(output), "reference_track": str(tracks[0]),
                                       "composer": "flowmusic"},
            "example_stems_comparison": {"output_dir": str(output)},
            "example_nightly_catalog_fingerprint": {"output_dir": str(output), "catalog_dir": str(catalog)},
        }
        for dag_id in DAGS:
            print(f"== airflow dags test {dag_id}", flush=True)
            conf = confs[dag_id]
            result = home.dags_test(dag_id, env=env, conf=conf)
            results.append(result)
            log = DEMO / f"{dag_id}.log"
            log.write_text(result.output)
            print(f"   {'OK' if result.ok else 'FAILED'} in {result.seconds:.0f} s (full log: {log.relative_to(ROOT)})")
            for task, state in result.states.items():
                print(f"   {state:>8}  {task}")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    print("\n== files written")
    total = 0
    for path in sorted(p for p in output.rglob("*") if p.is_file()):
        total += path.stat().st_size
        print(f"   {human(path.stat().st_size):>9}  {path.relative_to(ROOT)}")
    print(f"   {human(total):>9}  total, in {output.relative_to(ROOT)}/")
    for report in output.rglob("comparison/report.json"):
        stems = json.loads(report.read_text())
        print("\n== AudioShake vs FlowMusic stems: " + ", ".join(
            f"{name} corr {item.get('correlation')}" for name, item in stems.items()))
    for report in output.rglob("sync-report.json"):
        counts = json.loads(report.read_text()).get("counts", {})
        print("\n== catalog sync report: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for report in output.rglob("cost-report.json"):
        spent = json.loads(report.read_text())
        print("\n== what example_music_pipeline cost (per task; 'unknown' where the service reports no number)")
        for task_id, item in sorted(spent.get("tasks", {}).items()):
            print(f"   {task_id:<28} {item}")
        print(f"   {'total':<28} {spent.get('total')}")
    ok = all(r.ok for r in results)
    print(f"\n== demo {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
