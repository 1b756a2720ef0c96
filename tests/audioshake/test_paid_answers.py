"""Issue 21 §2 for AudioShake (both APIs): once the stems exist, an answer that only DESCRIBES oddly - stem
metadata of the wrong type, durations and costs as text or objects, asset names as lists or objects - never
fails the task: the outputs are downloaded, the result and the summary line are written. Driven through the
stem operator's finish/summary path against the emulator, with the job/task answers made hostile after parsing
(every field the API sends next to the deciding ones: ids, states, links)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_music.contract.audioshake import parse_statistics
from airflow_provider_music.hooks import audioshake_jobs, audioshake_tasks
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.testing.audio import write_sine_wav

ODD = {"duration_text": "3:20", "nan_text": "NaN", "object": {"a": {"b": 1}}, "list": [1, "x"], "number": 1e308,
       "bool": True, "traversal": "../../etc/passwd", "empty": ""}


def _odd_job(job: dict[str, Any], odd: Any) -> dict[str, Any]:
    job = {**job, "duration": odd, "cost": odd, "stemMetadata": odd, "statusInfo": odd, "name": odd}
    for key in ("outputAssets", "stemAssets"):
        job[key] = [{**a, "name": odd, "format": odd, "fileType": odd, "duration": odd} for a in job.get(key) or []]
    if isinstance(job.get("sourceAsset"), dict):
        job["sourceAsset"] = {**job["sourceAsset"], "name": odd}
    return job


def _odd_task(task: dict[str, Any], odd: Any) -> dict[str, Any]:
    targets = [{**t, "duration": odd, "cost": odd, "variant": odd,
                "output": [{**o, "name": odd, "type": odd} for o in t.get("output") or []]}
               for t in task.get("targets") or []]
    return {**task, "name": odd, "metadata": odd, "targets": targets}


@pytest.mark.parametrize("odd", list(ODD.values()), ids=list(ODD))
def test_separation_finishes_whatever_describe_only_fields_hold(api, music_emulator, tmp_path, make_context,
                                                                monkeypatch, odd):
    if api == "jobs":
        real = audioshake_jobs.unwrap_job
        monkeypatch.setattr(audioshake_jobs, "unwrap_job", lambda body, **kw: _odd_job(real(body, **kw), odd))
    else:
        real_task = audioshake_tasks.parse_task
        monkeypatch.setattr(audioshake_tasks, "parse_task", lambda body, ident: _odd_task(real_task(body, ident), odd))
    song = write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.2)
    op = AudioShakeStemSeparationOperator(task_id="sep", source=str(song), stems=["vocals", "drums"],
                                          destination=str(tmp_path / "out"), poll_interval=0.05, timeout=20)
    result = op.execute(make_context())
    assert sorted(result["outputs"]) == ["drums", "vocals"]
    assert len({p for p in result["outputs"].values()}) == 2  # distinct files whatever the names were
    json.dumps(result, allow_nan=False)
    assert all(path.startswith(str(tmp_path / "out")) for path in result["outputs"].values())


@pytest.mark.parametrize("minutes", ["12.5", "NaN", "inf", {"a": 1}, [1], "x", None, True])
def test_usage_figures_only_describe(minutes):
    rows = parse_statistics([{"month": "2026-01", "totalTargets": 3, "totalMinutes": minutes}])
    value = rows[0]["totalMinutes"]
    assert value is None or (isinstance(value, float) and value == value and value != float("inf"))
    json.dumps(rows, allow_nan=False)
