"""Nightly screen of new catalog tracks: copyright matches and AI-generated music (ACRCloud file scanning).

Labels and distributors screen incoming tracks before release. Every night at 03:00 UTC:

1. ``new_tracks`` lists the audio files of the catalog folder that were not screened yet (or changed since:
   size and modification time are compared with ``<output_dir>/ai-screen/screened.json``), at most
   ``max_tracks`` a night; nothing new skips the scan;
2. ``screen`` (``AcrCloudScanFileOperator`` with ``ai_detection=True``) scans them in one container for
   exactly this configuration (ACRCloud Music + AI detection): per file a copyright verdict (matches) and an
   AI verdict (``ai`` / ``human``, the probability, the likely source). An unreadable AI answer fails the
   task rather than passing a track as human;
3. ``write_report`` writes ``<output_dir>/ai-screen/<run>/report.json`` and ``report.csv`` (each atomically)
   and only then records the screened tracks, so a failed night screens the same tracks again.

Add ``fail_on_ai=True`` (and ``fail_on_match=True``) to the scan to make it a release gate instead of a report.
Runs offline against the emulator (``airflow dags test example_nightly_ai_screen``): the demo catalog has two
human tracks, one named like a Suno export and one carrying the emulator's AI marker (see docs/acrcloud.md).
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_music.operators.acrcloud import AcrCloudScanFileOperator

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".m4a", ".aac", ".ogg")
#: None: the service's own "ai" prediction or a probability >= 0.5 flags a track (a number: only the probability)
AI_THRESHOLD = None
REPORT_COLUMNS = ("path", "file_id", "matches", "titles", "ai_verdict", "ai_probability", "ai_likely_source")


def _signature(path: str) -> str:
    """What "changed since the last screen" compares: size and modification time."""
    stat = os.stat(path)
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _index(output_dir: str) -> tuple[str, dict[str, str]]:
    """The screened-tracks index (path -> signature) and where it lives."""
    import json

    path = os.path.join(output_dir, "ai-screen", "screened.json")
    if not os.path.exists(path):
        return path, {}
    with open(path) as fh:
        return path, json.load(fh)

with DAG(
    dag_id="example_nightly_ai_screen",
    description="Nightly screen of new catalog tracks for copyright matches and AI-generated music, with a report",
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "acrcloud", "ai-detection"],
    params={
        "catalog_dir": Param("", type="string", description="Catalog folder; empty: a generated demo catalog"),
        "output_dir": Param(DEFAULT_OUTPUT, type="string", description="Where the reports and the index go"),
        "max_tracks": Param(200, type="integer", minimum=1, description="Tracks screened per night at most"),
    },
) as dag:

    @task
    def catalog_folder(params: dict) -> str:
        """The catalog to screen (demo convenience: 4 short tracks, 2 of them AI-generated for the emulator)."""
        if params["catalog_dir"]:
            return params["catalog_dir"]
        from airflow_provider_music.testing.acrcloud_ai import mark_ai_generated
        from airflow_provider_music.testing.audio import sine_wav

        folder = os.path.join(params["output_dir"], "inputs", "ai-screen-catalog")
        demo = {"album-1/track-01.wav": (330.0, False), "album-1/track-02.wav": (392.0, False),
                "incoming/suno-sketch-03.wav": (440.0, False), "incoming/track-04.wav": (494.0, True)}
        for name, (freq, marked) in demo.items():
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                data = sine_wav(1.0, freq=freq, sample_rate=8000)
                with open(path, "wb") as fh:
                    fh.write(mark_ai_generated(data) if marked else data)
        return folder

    @task
    def new_tracks(folder: str, params: dict, ti=None) -> list[str]:
        """Audio files not screened yet (or changed since), sorted, at most ``max_tracks``. A folder that cannot
        be read (an unmounted share, permissions) fails the night: its tracks would silently go unscreened.
        Each track's signature as listed goes to XCom ``signatures``: the report records what was scanned."""
        _, screened = _index(params["output_dir"])

        def unreadable(error: OSError) -> None:
            raise RuntimeError(f"cannot read {error.filename!r} under the catalog: {error.strerror}")

        found: dict[str, str] = {}
        for root, _, names in os.walk(folder, onerror=unreadable, followlinks=True):
            for name in names:
                path = os.path.join(root, name)
                if name.lower().endswith(AUDIO_SUFFIXES) and screened.get(path) != (sig := _signature(path)):
                    found[path] = sig
        chosen = sorted(found)[: int(params["max_tracks"])]
        ti.xcom_push(key="signatures", value={path: found[path] for path in chosen})
        return chosen

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def anything_new(tracks: list[str]) -> bool:
        return bool(tracks)

    tracks = new_tracks(catalog_folder())

    screen = AcrCloudScanFileOperator(
        task_id="screen",
        source=tracks,
        buckets=["ACRCloud Music"],
        ai_detection=True,
        ai_threshold=AI_THRESHOLD,
        container_name="nightly-ai-screen",
        poll_interval=2,
        retries=2,
    )

    @task(trigger_rule="none_failed")
    def write_report(tracks: list[str], params: dict, ti=None, run_id: str | None = None) -> str:
        """report.json + report.csv for the night (atomic writes), then the screened tracks are recorded."""
        import csv
        import io
        import json

        from airflow_provider_music.core import atomic_write, safe_file_name, to_storage_path

        results = ti.xcom_pull(task_ids="screen") or []  # nothing new: the scan was skipped
        rows = [{
            "path": r["source"], "file_id": r["file_id"],
            "matches": len(r["music"]) + len(r["custom_files"]) + len(r["cover_songs"]),
            "titles": "; ".join(m.get("title") or "?" for m in r["music"] + r["custom_files"] + r["cover_songs"]),
            "ai_verdict": r["ai_verdict"], "ai_probability": r["ai_probability"],
            "ai_likely_source": r["ai_likely_source"],
        } for r in results]
        counts = {"tracks": len(rows), "matched": sum(1 for r in rows if r["matches"]),
                  "ai": sum(1 for r in rows if r["ai_verdict"] == "ai"),
                  "human": sum(1 for r in rows if r["ai_verdict"] == "human")}
        folder = os.path.join(params["output_dir"], "ai-screen", safe_file_name(run_id or "run", "run"))
        body = {"run_id": run_id, "ai_threshold": AI_THRESHOLD, "counts": counts, "tracks": rows}
        with atomic_write(to_storage_path(os.path.join(folder, "report.json"))) as fh:
            fh.write(json.dumps(body, indent=2).encode())
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=REPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        with atomic_write(to_storage_path(os.path.join(folder, "report.csv"))) as fh:
            fh.write(text.getvalue().encode())
        index_path, screened = _index(params["output_dir"])
        listed = ti.xcom_pull(task_ids="new_tracks", key="signatures") or {}  # as scanned, not as now
        screened.update({r["path"]: listed[r["path"]] for r in rows if r["path"] in listed})
        with atomic_write(to_storage_path(index_path)) as fh:
            fh.write(json.dumps(screened, indent=2, sort_keys=True).encode())
        return os.path.join(folder, "report.json")

    anything_new(tracks) >> screen >> write_report(tracks)
