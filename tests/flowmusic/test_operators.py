"""FlowMusic operators against the emulator: generate -> edit -> stems -> download, deferrable or not,
crash/resume without paying twice, lost create answers, cancel on kill, bad inputs, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import wave
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.core import InvalidInputError, JobFailedError, MusicApiError
from airflow_provider_music.hooks.flowmusic import (
    FlowMusicAccountError,
    FlowMusicCreditsError,
    FlowMusicLostCreateError,
    FlowMusicModerationError,
)
from airflow_provider_music.operators.flowmusic import (
    FlowMusicDownloadOperator,
    FlowMusicEditOperator,
    FlowMusicGenerateOperator,
    FlowMusicLyricsOperator,
    FlowMusicStemsOperator,
    FlowMusicUploadOperator,
)
from airflow_provider_music.testing.audio import write_sine_wav
from airflow_provider_music.triggers.flowmusic import FlowMusicJobTrigger
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore

MUSIC = "/v1/flowmusic/music"
EDIT = "/v1/flowmusic/music/edit"
WAIT = {"poll_interval": 0.05, "timeout": 20}


def run_trigger(trigger):
    async def first():
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(first())


def resume(op, context, exc_info):
    deferred = exc_info.value
    event = run_trigger(deferred.trigger)
    assert json.loads(json.dumps(event)) == event
    return getattr(op, deferred.method_name)(context, event=event, **(deferred.kwargs or {}))


def generate(**kwargs):
    return FlowMusicGenerateOperator(task_id="compose", prompt=kwargs.pop("prompt", "lo-fi piano"), **{**WAIT, **kwargs})


def creates(emulator) -> int:
    return len(emulator.state.apis["flowmusic"].store.jobs)


@pytest.mark.parametrize("deferrable", [False, True])
def test_pipeline_generate_edit_stems_download(music_emulator, make_context, tmp_path, deferrable):
    ctx = make_context()
    op = generate(deferrable=deferrable)
    if deferrable:
        with pytest.raises(TaskDeferred) as exc:
            op.execute(ctx)
        assert isinstance(exc.value.trigger, FlowMusicJobTrigger)
        song = resume(op, ctx, exc)
    else:
        song = op.execute(ctx)
    assert song["status"] == "completed" and len(song["clip_ids"]) == 2
    assert ctx["ti"].xcom_pushed["jobid"] == song["jobid"]
    cover = FlowMusicEditOperator(task_id="cover", operation="cover", clip=song, clip_index=1,
                                  edit_params={"instruction": "jazz", "strength": "0.6"}, **WAIT).execute(make_context())
    assert cover["operation"] == "cover" and len(cover["clip_ids"]) == 1
    files = FlowMusicDownloadOperator(task_id="dl", clips=[song, cover], destination=str(tmp_path / "out")).execute(ctx)
    assert len(files["files"]) == 3 and len(set(files["files"])) == 3
    for path in files["files"]:
        assert not path.startswith("file://") and path.endswith(".wav")
        with wave.open(path) as wav:
            assert wav.getnframes() > 0
    mp3 = FlowMusicDownloadOperator(task_id="mp3", clips=song["jobid"], source="mp3",
                                    destination=str(tmp_path / "mp3")).execute(ctx)
    assert open(mp3["files"][0], "rb").read(3) == b"ID3"
    stems = FlowMusicStemsOperator(task_id="stems", clip=song, destination=str(tmp_path / "stems")).execute(ctx)
    assert sorted(stems["stems"]) == ["bass", "drums", "other", "vocals"]
    assert len(set(stems["stems"].values())) == 4


def test_lyrics_then_generate_with_uploaded_reference(music_emulator, make_context, tmp_path):
    lyrics = FlowMusicLyricsOperator(task_id="lyrics", prompt="a road trip home").execute(make_context())
    ref = write_sine_wav(tmp_path / "ref.wav", 0.2)
    store = FakeTaskStateStore()
    asset = FlowMusicUploadOperator(task_id="up", source=str(ref)).execute(make_context(store))
    again = FlowMusicUploadOperator(task_id="up", source=str(ref)).execute(make_context(store))
    assert again == asset and len(music_emulator.state.apis["flowmusic"].store.assets) == 1  # not uploaded twice
    song = generate(prompt=lyrics["sound_prompt"], lyrics=lyrics["lyrics"], ref_audios=[asset],
                    ghostwriter="pro", model="lyria-3.5").execute(make_context())
    sent = music_emulator.state.apis["flowmusic"].store.create_bodies[-1]
    assert sent["refAudio1"] == asset["id"] and sent["lyrics"] == lyrics["lyrics"] and sent["model"] == "lyria-3.5"
    assert song["status"] == "completed"


def test_no_wait_returns_the_job(music_emulator, make_context):
    out = generate(wait_for_completion=False).execute(make_context())
    assert out["status"] == "pending" and out["jobid"].startswith("job:")


def test_reply_ref_marker_is_the_task_instance(music_emulator, make_context):
    generate().execute(make_context())
    body = music_emulator.state.apis["flowmusic"].store.create_bodies[-1]
    assert body["replyRef"] == "airflow:test_dag/test_task/manual__test/-1" and body["mode"] == "async"


# ---- crash safety --------------------------------------------------------------------------------
def _crash_while_waiting(monkeypatch, op, ctx):
    from airflow_provider_music.operators import base

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as m:
        m.setattr(base.MusicJobOperator, "_wait", crash)
        with pytest.raises(SystemExit):
            op.execute(ctx)


@pytest.mark.parametrize("with_store", [True, False])
def test_retry_after_crash_reconnects_without_paying_twice(music_emulator, make_context, monkeypatch, with_store):
    music_emulator.state.settings["flowmusic.job_seconds"] = 1.0
    store = FakeTaskStateStore()
    context = (lambda: make_context(store)) if with_store else (lambda: make_context(task_state_store=None))
    _crash_while_waiting(monkeypatch, generate(), context())
    assert music_emulator.count("POST", MUSIC) == 1
    result = generate().execute(context())
    assert result["status"] == "completed" and music_emulator.count("POST", MUSIC) == 1
    if with_store:  # a try after success returns the same song without creating
        assert generate().execute(context())["jobid"] == result["jobid"] and music_emulator.count("POST", MUSIC) == 1


def test_retry_after_crash_while_deferred(music_emulator, make_context):
    store = FakeTaskStateStore()
    with pytest.raises(TaskDeferred) as first:
        generate(deferrable=True).execute(make_context(store))
    op = generate(deferrable=True)
    ctx = make_context(store)
    with pytest.raises(TaskDeferred) as second:
        op.execute(ctx)
    assert second.value.trigger.target == first.value.trigger.target and music_emulator.count("POST", MUSIC) == 1
    assert resume(op, ctx, second)["status"] == "completed"


def test_lost_create_answer_is_found_not_reposted(music_emulator, make_context):
    music_emulator.add_fault(path=MUSIC + "$", method="POST", status=502, after=True, times=1)
    result = generate().execute(make_context())
    assert result["status"] == "completed" and music_emulator.count("POST", MUSIC) == 1 and creates(music_emulator) == 1


@pytest.mark.parametrize("operator", ["generate", "edit"])
def test_paid_creates_go_through_the_attempt_journal(music_emulator, make_context, monkeypatch, operator):
    """FlowMusic's creates use ``AttemptJournal.send`` like every other API's (one journal, one rule), keeping
    the note after the answer (``keep_on_answer``) and the replyRef it carries."""
    from airflow_provider_music.operators.resume import AttemptJournal

    store = FakeTaskStateStore()
    song = generate().execute(make_context(store)) if operator == "edit" else None
    sends: list[dict[str, Any]] = []
    original = AttemptJournal.send

    def recording(self: Any, request: Any, **kwargs: Any) -> Any:
        sends.append(kwargs)
        return original(self, request, **kwargs)

    monkeypatch.setattr(AttemptJournal, "send", recording)
    op = generate() if song is None else FlowMusicEditOperator(
        task_id="fx", operation="effect", clip=song, edit_params={"effect": "Gain", "gain_db": 3}, **WAIT)
    op.execute(make_context(store))
    assert len(sends) == 1 and sends[0]["keep_on_answer"] is True and sends[0]["reply_ref"].startswith("airflow:")
    assert store.get(f"{op.state_key}_attempt")["reply_ref"] == sends[0]["reply_ref"]


def test_lost_create_answer_of_an_edit(music_emulator, make_context):
    song = generate().execute(make_context())
    music_emulator.add_fault(path=EDIT + "$", method="POST", drop=True, after=True, times=1)
    edited = FlowMusicEditOperator(task_id="fx", operation="effect", clip=song,
                                   edit_params={"effect": "Gain", "gain_db": 3}, **WAIT).execute(make_context())
    assert edited["operation"] == "effect" and music_emulator.count("POST", EDIT) == 1


def test_lost_create_answer_without_a_job_fails_clearly(music_emulator, make_context):
    music_emulator.add_fault(path=MUSIC + "$", method="POST", status=502, times=1)  # never reached the API
    with pytest.raises(FlowMusicLostCreateError, match="may have been created") as info:
        generate().execute(make_context())
    assert "avoid paying twice" in str(info.value) and music_emulator.count("POST", MUSIC) == 1


def test_lost_create_answer_opt_in_resubmit(music_emulator, make_context):
    music_emulator.add_fault(path=MUSIC + "$", method="POST", status=502, times=1)
    assert generate(resubmit_if_lost=True).execute(make_context())["status"] == "completed"
    assert music_emulator.count("POST", MUSIC) == 2


def test_failed_previous_job_is_submitted_again(music_emulator, make_context):
    store = FakeTaskStateStore()
    music_emulator.state.settings["flowmusic.job_outcome"] = "failed"
    with pytest.raises(JobFailedError, match="generation_failed"):
        generate().execute(make_context(store))
    music_emulator.state.settings["flowmusic.job_outcome"] = "completed"
    assert generate().execute(make_context(store))["status"] == "completed"
    assert music_emulator.count("POST", MUSIC) == 2


def test_on_kill_cancels_the_job(music_emulator, make_context, monkeypatch):
    music_emulator.state.settings["flowmusic.job_seconds"] = 30
    op = generate()
    _crash_while_waiting(monkeypatch, op, make_context())
    op.on_kill()
    job = next(iter(music_emulator.state.apis["flowmusic"].store.jobs.values()))
    assert job.failure and job.failure["code"] == "user_cancelled"
    assert music_emulator.count("DELETE", "/v1/flowmusic/jobs/{jobid}") == 1


def test_trigger_on_kill_cancels(music_emulator, make_context):
    music_emulator.state.settings["flowmusic.job_seconds"] = 30
    with pytest.raises(TaskDeferred) as exc:
        generate(deferrable=True).execute(make_context())
    asyncio.run(exc.value.trigger.on_kill())
    job = next(iter(music_emulator.state.apis["flowmusic"].store.jobs.values()))
    assert job.failure and job.failure["code"] == "user_cancelled"


# ---- errors and bad inputs -----------------------------------------------------------------------
def test_api_refusals_fail_without_retry(music_emulator, make_context):
    with pytest.raises(FlowMusicModerationError):
        generate(prompt="a forbidden song").execute(make_context())
    music_emulator.state.apis["flowmusic"].store.accounts["composer@example.com"].credits = 0
    with pytest.raises(FlowMusicCreditsError, match="top up"):
        generate().execute(make_context())
    music_emulator.state.apis["flowmusic"].store.break_account()
    with pytest.raises(FlowMusicAccountError, match="re-add"):
        generate().execute(make_context())
    assert creates(music_emulator) == 0


def test_capacity_429_is_retried(music_emulator, make_context, instant_retries):
    music_emulator.add_fault(path=MUSIC + "$", status=429, times=1)
    assert generate().execute(make_context())["status"] == "completed"
    assert instant_retries and instant_retries[0] >= 10


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: generate(ghostwriter="ultra"), "ghostwriter"), (lambda: generate(instrumental="maybe"), "instrumental"),
        (lambda: generate(poll_interval=float("nan")), "poll_interval"), (lambda: generate(timeout=-1), "timeout"),
        (lambda: generate(prompt=""), "prompt"),
        (lambda: FlowMusicEditOperator(task_id="e", operation="stems", clip="c"), "FlowMusicStemsOperator"),
        (lambda: FlowMusicEditOperator(task_id="e", operation="dance", clip="c"), "operation"),
        (lambda: FlowMusicDownloadOperator(task_id="d", clips="c", destination="/tmp", source="flac"), "source"),
        (lambda: FlowMusicUploadOperator(task_id="u", source="x.gif", content_type="image/gif"), "content_type"),
        (lambda: generate(conn_id="x"), "flowmusic_conn_id"),
    ],
)  # fmt: skip
def test_bad_arguments_fail_at_parse_time(factory, match):
    with pytest.raises(InvalidInputError, match=match):
        factory()


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: generate(prompt="{{ x }}", lyrics="la", instrumental=True), "instrumental"),
        (lambda: generate(ref_images=["a/../b"]), r"ref_images\[0\]"),
        (lambda: FlowMusicEditOperator(task_id="e", operation="extend", clip="user:1-clip:x", **WAIT), "instruction"),
        (lambda: FlowMusicEditOperator(task_id="e", operation="cover", clip={"clip_ids": []}, **WAIT), "clip"),
        (lambda: FlowMusicEditOperator(task_id="e", operation="cover", clip="c?x=1", **WAIT), "clip"),
        (lambda: FlowMusicEditOperator(task_id="e", operation="cover", clip="c", clip_index=3, **WAIT), "clip_index"),
        (lambda: FlowMusicDownloadOperator(task_id="d", clips="user:1-clip:x", destination="/tmp/x"), "source='mp3'"),
        (lambda: FlowMusicDownloadOperator(task_id="d", clips=[None], destination="/tmp/x"), "clips"),
    ],
)  # fmt: skip
def test_bad_rendered_inputs_fail_before_any_request(music_emulator, make_context, factory, match):
    with pytest.raises(InvalidInputError, match=match):
        factory().execute(make_context())
    assert sum(music_emulator.state.request_counts.values()) == 0


def test_numeric_strings_from_templates_accepted(music_emulator, make_context):
    song = generate(poll_interval="0.05", timeout="20", instrumental="true").execute(make_context())
    edit = FlowMusicEditOperator(task_id="x", operation="extend", clip=song["clip_ids"][0], seed="7",
                                 edit_params={"instruction": "outro", "extend_s": "30"}, **WAIT).execute(make_context())
    assert edit["status"] == "completed"


def test_token_never_in_logs_xcom_or_events(music_emulator, make_context, tmp_path, caplog, monkeypatch):
    from airflow_provider_music.testing.emulator import DEFAULT_TOKEN

    caplog.set_level(logging.DEBUG)
    music_emulator.state.tokens.add(SECRET_TOKEN)
    monkeypatch.setenv("AIRFLOW_CONN_FLOWMUSIC_DEFAULT", music_emulator.connection("flowmusic", token=SECRET_TOKEN))
    ctx = make_context()
    op = generate(deferrable=True)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    captured = [json.dumps(exc.value.trigger.serialize(), default=str)]
    event = run_trigger(exc.value.trigger)
    song = op.execute_complete(ctx, event=event, **exc.value.kwargs)
    files = FlowMusicDownloadOperator(task_id="d", clips=song, destination=str(tmp_path)).execute(ctx)
    music_emulator.state.apis["flowmusic"].store.break_account()
    with pytest.raises(MusicApiError) as failure:
        generate().execute(make_context())
    captured += [json.dumps(event), json.dumps(song), json.dumps(files), json.dumps(ctx["ti"].xcom_pushed),
                 caplog.text, str(failure.value), repr(failure.value.__cause__), repr(failure.value.__context__)]
    blob = "\n".join(captured)
    assert SECRET_TOKEN not in blob and DEFAULT_TOKEN not in blob


# ---- model: a typo must not pay (issue 19 §3: model="lyria-9" in .partial() parsed and generated) ----------
@pytest.mark.parametrize("cls_kwargs", [
    (FlowMusicGenerateOperator, {"prompt": "lo-fi"}),
    (FlowMusicEditOperator, {"operation": "remix", "clip": "clip-1", "edit_params": {"prompt": "x"}}),
])
def test_unknown_model_is_refused_at_parse_time_plain_and_partial(cls_kwargs):
    from airflow.sdk import DAG

    cls, kwargs = cls_kwargs
    with pytest.raises(InvalidInputError, match=r"model must be one of lyria-3-pro, lyria-3.5.*'lyria-9'"):
        cls(task_id="t", model="lyria-9", **kwargs)
    with DAG("model_partial", schedule=None), pytest.raises(InvalidInputError, match="allow_unknown_model=True"):
        cls.partial(task_id="t", model="lyria-9").expand(**{k: [v] for k, v in kwargs.items()})
    for model in ("lyria-3-pro", "lyria-3.5", "{{ params.model }}"):
        cls(task_id="t", model=model, **kwargs)
    assert cls(task_id="t", model="lyria-9", allow_unknown_model=True, **kwargs).model == "lyria-9"


def test_templated_unknown_model_fails_before_any_request(music_emulator, make_context):
    op = generate(model="{{ params.model }}")
    op.model = "lyria-9"  # what rendering gives
    with pytest.raises(InvalidInputError, match="model must be one of"):
        op.execute(make_context())
    assert creates(music_emulator) == 0
