"""A completed, paid FlowMusic job never fails on its own answer (issue 21 §2).

Every describe-only field (title, duration, seed, times, image link, job error text, e-mail, operation) gets
hostile values through every path that reads a job: GET jobs/{jobid} (get_job), the sync and async status,
sync generate and edit answers, the operator (its summary line) and a resumed task. None of them may fail, and
a resumed task never pays again. What decides (ids, URLs) is strict: see test_hostile.py.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from airflow_provider_music.contract import flowmusic as fm
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.operators.flowmusic import FlowMusicEditOperator, FlowMusicGenerateOperator
from airflow_provider_music.testing import flowmusic_store
from tests.conftest import FakeTaskStateStore

MUSIC = "/v1/flowmusic/music"
WAIT = {"poll_interval": 0.05, "timeout": 20}

#: Hostile values of the describe-only clip fields.
ODD_VALUES = ["3:20", "12.5", "1:02:03", "12.5 s", "", "n/a", "-5", "1e400", "NaN", None, True, -3, 1.5e308,
              10**400, {"seconds": 200}, [200], "x" * 20_000]  # fmt: skip
CLIP_FIELDS = ("title", "duration_s", "seed", "created_at", "image_url", "lyrics", "stem")
JOB_FIELDS = ("email", "operation", "created_at", "completed_at", "duration_ms")


@pytest.fixture
def odd_answers(music_emulator, monkeypatch):
    """Make the emulator answer ``field = value`` in every clip (``clip.<field>``) or job record (``<field>``)."""
    chosen: dict[str, object] = {}
    clip_json, job_json = flowmusic_store.Clip.as_json, flowmusic_store.Job.as_json

    def odd_clip(self, cdn):
        out = clip_json(self, cdn)
        out.update({k.removeprefix("clip."): v for k, v in chosen.items() if k.startswith("clip.")})
        return out

    def odd_job(self, now, clips):
        out = job_json(self, now, clips)
        out.update({k: v for k, v in chosen.items() if not k.startswith("clip.")})
        return out

    monkeypatch.setattr(flowmusic_store.Clip, "as_json", odd_clip)
    monkeypatch.setattr(flowmusic_store.Job, "as_json", odd_job)
    return chosen


def _cases():
    for field in CLIP_FIELDS:
        for value in ODD_VALUES:
            yield f"clip.{field}", value
    for field in JOB_FIELDS:
        for value in ODD_VALUES[:6] + [{"x": 1}, [1], 10**400]:
            yield field, value
    yield "error", {"code": {"x": 1}, "message": ["m"]}
    yield "error", 12


CASES = list(_cases())
IDS = [f"{field}={json.dumps(value, default=str)[:20]}" for field, value in CASES]


def _check(summary: dict) -> None:
    """A job summary: ids present, XCom-safe, every describe-only value usable or absent."""
    json.dumps(summary, allow_nan=False)
    assert summary["clip_ids"] == [c["clip"] for c in summary["clips"]] and summary["clip_ids"]
    for clip in summary["clips"]:
        assert clip.get("duration_s") is None or isinstance(clip["duration_s"], float)
        assert fm.clip_line(clip)  # the summary line of a clip never fails


def _generate_done(emulator) -> str:
    emulator.state.settings["flowmusic.job_seconds"] = 0.0
    hook = FlowMusicHook()
    return hook.generate("lo-fi piano")["jobid"]


@pytest.mark.parametrize(("field", "value"), CASES, ids=IDS)
def test_every_read_of_a_paid_job_survives_odd_descriptions(music_emulator, odd_answers, field, value):
    jobid = _generate_done(music_emulator)
    odd_answers[field] = value
    hook = FlowMusicHook()
    _check(hook.get_job(jobid))
    result = hook.job_status(jobid)
    assert result.state == "success", result.message
    _check(result.payload)

    async def status():
        async with hook.async_session():
            return await hook.ajob_status(jobid)

    assert asyncio.run(status()).state == "success"
    _check(hook.generate("second song", mode="sync"))
    clip = hook.get_job(jobid)["clip_ids"][0]
    _check(hook.edit("cover", clip, mode="sync", params={"instruction": "jazz"}))
    assert len(hook.split_stems(clip)) == 4
    assert hook.list_music()["clips"]


@pytest.mark.parametrize(("field", "value"), [("clip.duration_s", "3:20"), ("clip.duration_s", "12.5"),
                                              ("clip.duration_s", {"s": 1}), ("clip.title", ["x"]),
                                              ("clip.seed", "abc"), ("duration_ms", "long")])
@pytest.mark.parametrize("deferrable", [False, True])
def test_operator_summary_line_survives_odd_descriptions(music_emulator, odd_answers, make_context, caplog, capsys,
                                                          field, value, deferrable):
    odd_answers[field] = value
    op = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", deferrable=deferrable, **WAIT)
    ctx = make_context()
    caplog.set_level(logging.INFO)
    if deferrable:
        from airflow.providers.common.compat.sdk import TaskDeferred

        from tests.flowmusic.test_operators import resume

        with pytest.raises(TaskDeferred) as exc:
            op.execute(ctx)
        song = resume(op, ctx, exc)
    else:
        song = op.execute(ctx)
    _check(song)
    logged = caplog.text + capsys.readouterr().out
    summary = [line for line in logged.splitlines() if "FlowMusic job finished in" in line]
    assert len(summary) == 1
    if value == "3:20":
        assert "(200 s)" in summary[0]
    edit = FlowMusicEditOperator(task_id="cover", operation="cover", clip=song,
                                 edit_params={"instruction": "jazz"}, **WAIT).execute(make_context())
    _check(edit)


@pytest.mark.parametrize(("field", "value"), [("clip.duration_s", "3:20"), ("clip.title", {"t": 1}),
                                              ("clip.seed", -1), ("completed_at", 5)])
def test_resumed_task_meets_the_same_odd_answer_and_pays_once(music_emulator, odd_answers, make_context, monkeypatch,
                                                              field, value):
    """A try that dies after the create resumes the stored job: same odd answer, success, one POST music."""
    store = FakeTaskStateStore()
    odd_answers[field] = value
    first = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", **WAIT)
    ctx = make_context(store)
    ctx["ti"].try_number = 1

    def die(self, *args, **kwargs):
        raise SystemExit("worker killed after the job completed")

    with monkeypatch.context() as m:
        m.setattr(FlowMusicGenerateOperator, "finish", die)
        with pytest.raises(SystemExit):
            first.execute(ctx)
    again = make_context(store)
    again["ti"].try_number = 2
    song = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", **WAIT).execute(again)
    _check(song)
    assert music_emulator.count("POST", MUSIC) == 1


@pytest.mark.parametrize(("text", "seconds"), [("3:20", 200.0), ("12.5", 12.5), ("1:02:03", 3723.0),
                                               ("12.5 s", 12.5), (173.03, 173.03), (0, 0.0)])
def test_seconds_of_reads_the_spellings_a_service_may_use(text, seconds):
    assert fm.seconds_of(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ODD_VALUES[4:])
def test_format_seconds_never_raises(value):
    assert fm.format_seconds(value) == "?" or fm.format_seconds(value).isdigit()
