"""Distinct outputs never overwrite each other across task instances (the class: mapped instances, two
tasks or two runs writing same-named sources into one destination). Within one task, equal labels were
already told apart; across instances ``destination/song/vocals.wav`` used to be written by each in turn."""

from __future__ import annotations

import threading

from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.testing.audio import write_sine_wav


def _op(tmp_path, src) -> AudioShakeStemSeparationOperator:
    return AudioShakeStemSeparationOperator(task_id="sep", source=str(src), destination=str(tmp_path / "out"),
                                            stems=["vocals"], poll_interval=0.02, timeout=20)


def test_mapped_instances_with_same_named_sources_keep_both_outputs(api, music_emulator, tmp_path, make_context):
    sources = [write_sine_wav(tmp_path / d / "song.wav", seconds=0.2 + i / 10, freq=330.0 + 110 * i)
               for i, d in enumerate("abc")]
    outs: dict[int, str] = {}

    def run(index: int) -> None:  # mapped instances run at the same time
        ctx = make_context()
        ctx["ti"].map_index = index
        outs[index] = _op(tmp_path, sources[index]).execute(ctx)["outputs"]["vocals"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(set(outs.values())) == 3, outs
    assert sum(1 for p in (tmp_path / "out").rglob("vocals.wav")) == 3
    assert any(p.endswith("/song/vocals.wav") for p in outs.values())  # the plain name when it is free


def test_second_run_on_the_same_input_does_not_overwrite_the_first(api, music_emulator, tmp_path, make_context):
    src = write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.2, freq=330.0)
    first = _op(tmp_path, src).execute(make_context())["outputs"]["vocals"]
    before = (tmp_path / "out" / "song" / "vocals.wav").stat().st_mtime_ns
    ctx = make_context()
    ctx["run_id"] = "another_run"
    second = _op(tmp_path, src).execute(ctx)["outputs"]["vocals"]
    assert first != second and (tmp_path / "out" / "song" / "vocals.wav").stat().st_mtime_ns == before
