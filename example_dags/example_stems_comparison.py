"""AudioShake stems vs FlowMusic's own stems of the same song: one report per stem.

1. generate one song with FlowMusic (one A/B pair; the first clip is used);
2. download that clip as WAV and split it with AudioShake (upload, one job per stem, wait);
3. ask FlowMusic for the same clip's own four stems (drums, bass, vocals, other) and download them;
4. compare each stem both services produced: duration, RMS level (dBFS) and the correlation of the two
   signals, written to ``<output_dir>/comparison/report.json``.

Runs offline against the emulator (``airflow dags test example_stems_comparison``). Connections:
``flowmusic_default``, ``audioshake_default``.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.operators.flowmusic import (
    FlowMusicDownloadOperator,
    FlowMusicGenerateOperator,
    FlowMusicStemsOperator,
)

DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "airflow-provider-music")
STEMS = ["vocals", "drums", "bass", "other"]

with DAG(
    dag_id="example_stems_comparison",
    description="Compare AudioShake stems with FlowMusic's own stems of the same generated song",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "flowmusic", "audioshake"],
    params={
        "prompt": Param("funk groove with slap bass, tight drums and a soul vocal", type="string"),
        "output_dir": Param(DEFAULT_OUTPUT, type="string"),
    },
    render_template_as_native_obj=True,
) as dag:
    song = FlowMusicGenerateOperator(
        task_id="generate", prompt="{{ params.prompt }}", deferrable=True, poll_interval=2, timeout=1800
    )

    @task(multiple_outputs=False)
    def first_clip(job: dict) -> dict:
        """The A clip of the pair: the one both services split."""
        return {**job, "clips": job["clips"][:1], "clip_ids": job["clip_ids"][:1]}

    clip = first_clip(song.output)
    song_file = FlowMusicDownloadOperator(
        task_id="download_song", clips=clip, destination="{{ params.output_dir }}/comparison/song"
    )
    audioshake = AudioShakeStemSeparationOperator(
        task_id="audioshake_stems",
        source="{{ ti.xcom_pull(task_ids='download_song')['files'][0] }}",
        stems=STEMS,
        format="wav",
        destination="{{ params.output_dir }}/comparison/audioshake",
        poll_interval=2,
    )
    flowmusic = FlowMusicStemsOperator(
        task_id="flowmusic_stems", clip=clip, destination="{{ params.output_dir }}/comparison/flowmusic"
    )
    song_file >> audioshake

    def read_wav(path: str) -> tuple[list[int], int]:
        import struct
        import wave

        with wave.open(path, "rb") as wav:
            raw, rate, width = wav.readframes(wav.getnframes()), wav.getframerate(), wav.getsampwidth()
        if width != 2:
            return [], rate
        return list(struct.unpack(f"<{len(raw) // 2}h", raw[: len(raw) // 2 * 2])), rate

    def compare_wavs(first: str, second: str) -> dict:
        """Duration, RMS level (dBFS) of both files and the correlation of their samples."""
        import math

        (a, rate_a), (b, rate_b) = read_wav(first), read_wav(second)
        n = min(len(a), len(b))

        def rms_db(x: list[int]) -> float | None:
            power = sum(v * v for v in x) / len(x) if x else 0.0
            return round(20 * math.log10(math.sqrt(power) / 32768), 2) if power else None

        num = sum(a[i] * b[i] for i in range(n))
        den = math.sqrt(sum(v * v for v in a[:n]) * sum(v * v for v in b[:n]))
        return {
            "flowmusic": {"file": first, "seconds": round(len(a) / rate_a, 3), "rms_dbfs": rms_db(a)},
            "audioshake": {"file": second, "seconds": round(len(b) / rate_b, 3), "rms_dbfs": rms_db(b)},
            "correlation": round(num / den, 4) if den else None,
        }

    @task
    def compare(flowmusic_result: dict, params: dict | None = None) -> str:
        """Write the per-stem comparison report; returns its path."""
        import json

        audioshake_dir = os.path.join(params["output_dir"], "comparison", "audioshake")
        found = {os.path.splitext(name)[0]: os.path.join(root, name)
                 for root, _, files in os.walk(audioshake_dir) for name in files if name.endswith(".wav")}
        report = {}
        for stem, path in sorted(flowmusic_result["stems"].items()):
            other = found.get(stem)
            report[stem] = compare_wavs(path, other) if other else {"flowmusic": path, "audioshake": None}
        target = os.path.join(params["output_dir"], "comparison", "report.json")
        with open(target, "w") as fh:
            json.dump(report, fh, indent=2, sort_keys=True)
        return target

    audioshake >> compare(flowmusic_result=flowmusic.output)
