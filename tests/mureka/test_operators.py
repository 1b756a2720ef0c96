"""Mureka operators against the emulator: generate -> edit -> stems -> download, deferrable or not, crash/resume
without paying twice, lost create answers, bad inputs, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import zipfile

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.core import InvalidInputError, JobFailedError
from airflow_provider_music.hooks.mureka import (
    MurekaAccountError,
    MurekaCreditsError,
    MurekaLostCreateError,
    MurekaPlanError,
)
from airflow_provider_music.operators.mureka import (
    MurekaDownloadOperator,
    MurekaEditOperator,
    MurekaGenerateOperator,
    MurekaLyricsOperator,
    MurekaStemsOperator,
    MurekaUploadOperator,
)
from airflow_provider_music.testing.flowmusic_store import silent_mp3
from airflow_provider_music.triggers.mureka import MurekaJobTrigger
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore

CREATE = "/v1/mureka/music/create"
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
    kwargs.setdefault("task_id", "compose")
    return MurekaGenerateOperator(prompt=kwargs.pop("prompt", "lo-fi piano"), **{**WAIT, **kwargs})


def store(emulator):
    return emulator.state.apis["mureka"].store


@pytest.mark.parametrize("deferrable", [False, True])
def test_pipeline_generate_edit_stems_download(music_emulator, make_context, tmp_path, deferrable):
    ctx = make_context()
    op = generate(deferrable=deferrable)
    if deferrable:
        with pytest.raises(TaskDeferred) as exc:
            op.execute(ctx)
        assert isinstance(exc.value.trigger, MurekaJobTrigger)
        song = resume(op, ctx, exc)
    else:
        song = op.execute(ctx)
    assert song["status"] == "completed" and len(song["song_ids"]) == 2
    assert [s["version"] for s in song["songs"]] == ["1", "2"]
    assert ctx["ti"].xcom_pushed["jobid"] == song["jobid"] and song["jobid"].endswith("-bot:mureka")
    remix = MurekaEditOperator(task_id="remix", operation="remix", song=song, song_index=1, desc="jazz, upbeat",
                               **WAIT).execute(make_context())
    assert remix["verb"] == "music/remix" and len(remix["song_ids"]) == 2
    files = MurekaDownloadOperator(task_id="dl", songs=[song, remix], destination=str(tmp_path / "out")).execute(ctx)
    assert len(files["files"]) == 4 and len(set(files["files"])) == 4
    for path in files["files"]:
        assert not path.startswith("file://") and path.endswith(".mp3")
        assert open(path, "rb").read() == silent_mp3()
    stems = MurekaStemsOperator(task_id="stems", song=song, destination=str(tmp_path / "stems"), **WAIT).execute(ctx)
    assert stems["stems_id"] and "vocal" in stems["stems"] and set(stems["files"]) == {"audio_zip", "midi_zip"}
    with zipfile.ZipFile(stems["files"]["audio_zip"]) as archive:
        assert "vocal.wav" in archive.namelist()
    assert all("?" not in str(v) for v in json.dumps(stems).split('"'))  # no signed query kept


def test_lyrics_then_advanced_with_uploaded_reference(music_emulator, make_context, tmp_path):
    lyrics = MurekaLyricsOperator(task_id="lyrics", prompt="a road trip home").execute(make_context())
    ref = tmp_path / "ref.mp3"
    ref.write_bytes(silent_mp3())
    state = FakeTaskStateStore()
    up = {"source": str(ref), "title": "Ref", "genre": "pop", "mood": "relaxed"}
    asset = MurekaUploadOperator(task_id="up", **up).execute(make_context(state))
    again = MurekaUploadOperator(task_id="up", **up).execute(make_context(state))
    assert again == asset and len(store(music_emulator).uploads) == 1  # not uploaded twice
    song = generate(kind="advanced", prompt=None, lyrics=lyrics["lyrics"], title="Road", ref_id=asset,
                    model="V9.5").execute(make_context())
    sent = store(music_emulator).create_bodies[-1]
    assert str(sent["ref_id"]) == asset["id"] and sent["lyrics"] == lyrics["lyrics"] and sent["model"] == "V9.5"
    assert song["status"] == "completed"


def test_no_wait_returns_the_job_and_marker_is_the_task_instance(music_emulator, make_context):
    out = generate(wait_for_completion=False).execute(make_context())
    assert out["status"] == "created" and out["jobid"].endswith("bot:mureka")
    body = store(music_emulator).create_bodies[-1]
    assert body["replyRef"] == "airflow:test_dag/test_task/manual__test/-1" and body["async"] is True
    assert "account" not in body  # one account configured: the API picks it


# ---- crash safety --------------------------------------------------------------------------------
def test_retry_after_crash_reconnects_from_the_store(music_emulator, make_context):
    music_emulator.state.settings["mureka.job_seconds"] = 1e6
    state = FakeTaskStateStore()
    first = generate(wait_for_completion=False).execute(make_context(state))
    music_emulator.state.settings["mureka.job_seconds"] = 0.0
    out = generate().execute(make_context(state))
    assert out["jobid"] == first["jobid"] and music_emulator.state.count("POST", CREATE) == 1


def test_retry_without_store_finds_the_running_job_by_reply_ref(music_emulator, make_context):
    music_emulator.state.settings["mureka.job_seconds"] = 1e6
    first = generate(wait_for_completion=False, durable=True).execute(make_context(None))
    ctx = make_context()
    ctx.pop("task_state_store")
    ctx["ti"].try_number = 2
    op = generate(wait_for_completion=False)
    assert op.execute(ctx)["jobid"] == first["jobid"]
    assert music_emulator.state.count("POST", CREATE) == 1


def test_retry_without_store_after_a_finished_job_fails_closed(music_emulator, make_context):
    generate().execute(make_context())
    ctx = make_context()
    ctx.pop("task_state_store")
    ctx["ti"].try_number = 2
    with pytest.raises(MurekaLostCreateError, match="may have been created"):
        generate().execute(ctx)
    assert music_emulator.state.count("POST", CREATE) == 1


def test_lost_create_answer_is_found_not_resent(music_emulator, make_context):
    music_emulator.state.settings["mureka.job_seconds"] = 0.5
    music_emulator.state.add_fault(path=f"^{CREATE}$", method="POST", status=502, after=True, times=1)
    out = generate().execute(make_context())
    assert out["status"] == "completed" and music_emulator.state.count("POST", CREATE) == 1


def test_lost_create_answer_without_job_fails_and_keeps_the_note(music_emulator, make_context, monkeypatch):
    music_emulator.state.add_fault(path=f"^{CREATE}$", method="POST", status=502, after=True, times=1)
    music_emulator.state.settings["mureka.job_seconds"] = 0.0  # finished before the lookup: not in GET jobs
    state = FakeTaskStateStore()
    with pytest.raises(MurekaLostCreateError, match="may have been created"):
        generate().execute(make_context(state))
    assert state.get("mureka_generate_job_attempt")  # the next try knows a create may have happened
    with pytest.raises(MurekaLostCreateError):
        generate().execute(make_context(state))
    assert music_emulator.state.count("POST", CREATE) == 1


def test_failed_job_fails_the_task(music_emulator, make_context):
    music_emulator.state.settings["mureka.job_outcome"] = "failed"
    with pytest.raises(JobFailedError, match="Generation failed"):
        generate().execute(make_context())


# ---- service refusals ----------------------------------------------------------------------------
def test_not_enough_gold_is_412_not_retried(music_emulator, make_context):
    music_emulator.state.settings["mureka.gold"] = 10
    music_emulator.state.reset() if False else store(music_emulator).accounts["12345678901234"].__setattr__("gold", 10)
    with pytest.raises(MurekaCreditsError, match="Gold"):
        generate().execute(make_context())
    assert music_emulator.state.count("POST", CREATE) == 1


def test_free_plan_cannot_edit(music_emulator, make_context):
    song = generate().execute(make_context())
    store(music_emulator).accounts["12345678901234"].plan = "free"
    with pytest.raises(MurekaPlanError, match="paid Mureka plan"):
        MurekaEditOperator(task_id="e", operation="edit", song=song, lyrics="new words", **WAIT).execute(make_context())


def test_broken_account_is_596_not_retried(music_emulator, make_context):
    music_emulator.state.settings["mureka.account_error"] = "Session refresh failed 2026-01-19T14:31:15.000Z"
    with pytest.raises(MurekaAccountError, match="re-link"):
        generate().execute(make_context())
    assert music_emulator.state.count("POST", CREATE) == 1


# ---- bad inputs and secrets ----------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "bogus"}, "kind"),
    ({"account": "jane@example.com"}, "numeric id"),
    ({"vocal_gender": "robot"}, "vocal_gender"),
])
def test_bad_arguments_fail_at_parse_time(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        generate(**kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "advanced", "prompt": None}, "lyrics"),
    ({"kind": "create", "lyrics": "la"}, "does not take lyrics"),
    ({"kind": "advanced", "prompt": None, "lyrics": "la", "motif_id": "m1", "desc": "pop"}, "motif_id"),
    ({"prompt": "x" * 3001}, "3000"),
])
def test_bad_requests_fail_before_any_call(music_emulator, make_context, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        generate(**kwargs).execute(make_context())
    assert not store(music_emulator).create_bodies


def test_edit_needs_its_fields_before_any_call(music_emulator, make_context):
    with pytest.raises(InvalidInputError, match="start_ms"):
        MurekaEditOperator(task_id="e", operation="regenerate", song="user:777-mureka:1-song:2").execute(make_context())
    with pytest.raises(InvalidInputError, match="does not take model"):
        MurekaEditOperator(task_id="e", operation="edit", song="s1", model="V9").execute(make_context())
    assert music_emulator.state.request_counts == {} or not store(music_emulator).create_bodies


def test_no_secret_in_logs_results_or_errors(music_emulator, make_context, monkeypatch, caplog, set_connection):
    url = music_emulator.url + "/v1/mureka/"
    music_emulator.state.tokens.add(SECRET_TOKEN)
    set_connection("mureka_default", "mureka", host=url, password=SECRET_TOKEN)
    caplog.set_level(logging.DEBUG)
    out = generate().execute(make_context())
    music_emulator.state.settings["mureka.account_error"] = "broken"
    with pytest.raises(MurekaAccountError) as exc:
        generate(task_id="again").execute(make_context())
    blob = json.dumps(out) + str(exc.value) + caplog.text
    assert SECRET_TOKEN not in blob


# ---- resume paths ------------------------------------------------------------------------------------
def test_resume_from_the_event_alone_as_dags_test_does(music_emulator, make_context):
    ctx = make_context()
    op = generate(deferrable=True)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    event = run_trigger(exc.value.trigger)
    fresh = generate(deferrable=True)  # a new process: nothing in memory, no defer kwargs
    out = fresh.execute_complete(make_context(), event=event)
    assert out["status"] == "completed" and out["jobid"] == event["carry"]["record"]["jobid"]


def test_retry_after_a_crash_while_deferred_reconnects(music_emulator, make_context):
    music_emulator.state.settings["mureka.job_seconds"] = 1e6
    state = FakeTaskStateStore()
    with pytest.raises(TaskDeferred):
        generate(deferrable=True).execute(make_context(state))
    music_emulator.state.settings["mureka.job_seconds"] = 0.0  # the triggerer died; the job finished meanwhile
    out = generate(deferrable=True).execute(make_context(state))
    assert out["status"] == "completed" and music_emulator.state.count("POST", CREATE) == 1


def test_edit_and_stems_are_crash_safe_too(music_emulator, make_context):
    song = generate().execute(make_context())
    state = FakeTaskStateStore()
    music_emulator.state.settings["mureka.job_seconds"] = 1e6
    edit = {"task_id": "extend", "operation": "extend", "song": song, "lyrics": "[Verse]\nmore", **WAIT}
    first = MurekaEditOperator(**edit, wait_for_completion=False).execute(make_context(state))
    music_emulator.state.settings["mureka.job_seconds"] = 0.0
    assert MurekaEditOperator(**edit).execute(make_context(state))["jobid"] == first["jobid"]
    assert music_emulator.state.count("POST", "/v1/mureka/music/extend") == 1
    stems_state = FakeTaskStateStore()
    MurekaStemsOperator(task_id="s", song=song, all_stems=False, **WAIT).execute(make_context(stems_state))
    again = MurekaStemsOperator(task_id="s", song=song, all_stems=False, **WAIT).execute(make_context(stems_state))
    assert music_emulator.state.count("POST", "/v1/mureka/music/stems") == 1 and set(again["stems"]) == {
        "vocal", "instrumental"}


def test_stems_answered_at_once_need_no_wait(music_emulator, make_context, tmp_path, monkeypatch):
    from airflow_provider_music.hooks.mureka import MurekaHook

    song = generate().execute(make_context())
    made = MurekaHook().extract_stems(song["song_ids"][0], async_=False)  # a real stems_id in the emulator
    direct = {k: v for k, v in made.items() if k in ("stems_id", "bpm", "stems")} | {"jobid": None, "status": None}
    monkeypatch.setattr(MurekaHook, "send_stems", lambda self, body: direct)
    state = FakeTaskStateStore()
    out = MurekaStemsOperator(task_id="s", song=song, destination=str(tmp_path), **WAIT).execute(make_context(state))
    assert out["stems_id"] == made["stems_id"] and set(out["files"]) == {"audio_zip", "midi_zip"}
    again = MurekaStemsOperator(task_id="s", song=song, **WAIT).execute(make_context(state))  # a retry: stored
    assert again["stems_id"] == made["stems_id"]


def test_download_takes_job_ids_song_ids_and_dicts(music_emulator, make_context, tmp_path):
    song = generate().execute(make_context())
    out = MurekaDownloadOperator(task_id="d", songs=[song["jobid"], song["song_ids"][0], song["songs"][1]],
                                 destination=str(tmp_path)).execute(make_context())
    assert len(out["files"]) == 4 and out["song_ids"][2] == song["song_ids"][0]
    with pytest.raises(InvalidInputError, match="songs"):
        MurekaDownloadOperator(task_id="d", songs=[True], destination=str(tmp_path)).execute(make_context())


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "reference", "title": "T", "mood": "calm"}, "genre"),
    ({"kind": "motif", "title": "T"}, "motif"),
    ({"kind": "vocal"}, "title"),
])
def test_upload_arguments_are_checked_before_reading(music_emulator, make_context, tmp_path, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        MurekaUploadOperator(task_id="u", source=str(tmp_path / "absent.mp3"), **kwargs).execute(make_context())
    assert not store(music_emulator).uploads
