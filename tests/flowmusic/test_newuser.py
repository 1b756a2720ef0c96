"""What a new user's scheduled-compose DAG does (held-out review from README + docs/flowmusic.md alone):
optional selectors from ``Param(None)`` render as ``"None"``, mapped generations, two runs of the same DAG at
once - nothing paid twice, distinct outputs."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_music.operators.flowmusic import FlowMusicDownloadOperator, FlowMusicGenerateOperator

MUSIC = "/v1/flowmusic/music"
WAIT = {"poll_interval": 0.05, "timeout": 30}


def _rendered(op, context, **values):
    """What Airflow does before execute: the templated fields take their rendered values."""
    for key, value in values.items():
        setattr(op, key, value)
    return op.execute(context)


@pytest.mark.parametrize("rendered_none", ["None", "", " None "])
def test_optional_arguments_rendered_from_none_params_are_absent(music_emulator, make_context, rendered_none):
    op = FlowMusicGenerateOperator(task_id="one", prompt="{{ params.mood }} piano", account_email="{{ params.account }}",
                                   model="{{ params.model }}", lyrics="{{ params.lyrics }}", reply_ref="{{ params.ref }}",
                                   instrumental="{{ params.instrumental }}", **WAIT)
    result = _rendered(op, make_context(), prompt="calm piano", account_email=rendered_none, model=rendered_none,
                       lyrics=rendered_none, reply_ref=rendered_none, instrumental=rendered_none)
    body = music_emulator.state.apis["flowmusic"].store.create_bodies[-1]
    assert result["status"] == "completed"
    assert not {"email", "model", "lyrics", "instrumental"} & {k for k, v in body.items() if v not in (None, False)}
    assert body["replyRef"] == "airflow:test_dag/test_task/manual__test/-1"  # never a shared "None" marker


def test_two_runs_at_once_pay_once_each_and_never_overwrite(music_emulator, make_context, tmp_path):
    music_emulator.state.settings["flowmusic.job_seconds"] = 0.5
    results: dict[str, dict] = {}

    def run(run_id: str) -> None:
        ctx = make_context(run_id=run_id)
        ctx["ti"].run_id = run_id
        song = FlowMusicGenerateOperator(task_id="compose", prompt="same prompt every day", **WAIT).execute(ctx)
        files = FlowMusicDownloadOperator(task_id="dl", clips=[song], destination=str(tmp_path)).execute(ctx)
        results[run_id] = {"song": song, "files": files}

    threads = [threading.Thread(target=run, args=(f"scheduled__2026-01-0{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2 and music_emulator.count("POST", MUSIC) == 2
    refs = {b["replyRef"] for b in music_emulator.state.apis["flowmusic"].store.create_bodies}
    assert len(refs) == 2  # one marker per run: a retry of one never adopts the other's job
    files = [f for r in results.values() for f in r["files"]["files"]]
    assert len(files) == len(set(files)) == 4 and all((tmp_path / f).exists() for f in files)
