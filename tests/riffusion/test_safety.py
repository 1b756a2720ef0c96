"""Issue 12 for Riffusion, by class of defect: no second paid generation or upload, unknown states fail closed,
distinct outputs never overwrite each other, hostile ids refused before any request, bounded texts, signed URLs
never stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import traceback
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.contract.riffusion import (
    check_id,
    normalize_job_ids,
)
from airflow_provider_music.contract.riffusion_files import song_file_name, stem_file_names
from airflow_provider_music.core.errors import InvalidInputError, MusicApiError
from airflow_provider_music.hooks.riffusion import RiffusionHook, RiffusionLostAnswerError
from airflow_provider_music.operators.riffusion import (
    RiffusionComposeOperator,
    RiffusionDownloadOperator,
    RiffusionUploadAudioOperator,
)
from airflow_provider_music.sensors.riffusion import RiffusionSongSensor
from airflow_provider_music.testing.audio import write_sine_wav
from tests.conftest import FakeTaskStateStore

CREATE = "/v1/riffusion/music/create-prompt"
UPLOAD = "/v1/riffusion/music/upload-audio/"
BASE = "https://api.useapi.net/v1/riffusion/"


def _processed(emu: Any) -> int:
    return len(emu.state.apis["riffusion"].songs) // 2


def _lose_answer_and_lookups(emu: Any) -> None:
    """The create is carried out but its answer is lost; then every lookup fails (scheduler and song list)."""
    emu.add_fault(path=r"/music/create-prompt$", method="POST", status=502, after=True, times=1)
    emu.add_fault(path=r"/v1/riffusion/scheduler$", status=500)
    emu.add_fault(path=r"/v1/riffusion/music/$", method="GET", status=500)


def _retry_context(make_context: Any, store: FakeTaskStateStore | None, started: dt.datetime) -> dict[str, Any]:
    ctx = make_context(store) if store is not None else make_context(task_state_store=None)
    ctx["ti"].try_number = 2
    ctx["dag_run"] = SimpleNamespace(start_date=started)
    return ctx


# ---- 1. no second paid generation -----------------------------------------------------------------
@pytest.mark.parametrize("reply_ref", ["my-fixed-ref", None], ids=["explicit-ref", "derived-ref"])
@pytest.mark.parametrize("with_store", [True, False], ids=["store", "no-store"])
def test_lost_create_with_failing_lookup_is_never_created_twice(music_emulator, make_context, monkeypatch, reply_ref,
                                                                  with_store):
    monkeypatch.setattr("airflow_provider_music.core._sleep", lambda s: None)
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    music_emulator.state.settings["riffusion.job_seconds"] = 0.2
    _lose_answer_and_lookups(music_emulator)
    store = FakeTaskStateStore() if with_store else None
    op = RiffusionComposeOperator(task_id="c", prompt="night drive", reply_ref=reply_ref, poll_interval=0.05, timeout=20)
    with pytest.raises(RiffusionLostAnswerError, match="may have been created; ids unknown: check"):
        op.execute(make_context(store) if store is not None else make_context(task_state_store=None))
    assert music_emulator.count("POST", CREATE) == 1
    music_emulator.state.clear_faults()
    import time

    time.sleep(0.3)  # the songs finish before the retry: the scheduler no longer lists them
    retry = RiffusionComposeOperator(task_id="c", prompt="night drive", reply_ref=reply_ref, poll_interval=0.05,
                                     timeout=20)
    result = retry.execute(_retry_context(make_context, store, started))
    assert len(result["song_ids"]) == 2 and _processed(music_emulator) == 1
    assert music_emulator.count("POST", CREATE) == 1


def test_retry_with_lookups_still_failing_does_not_create(music_emulator, make_context, monkeypatch):
    monkeypatch.setattr("airflow_provider_music.core._sleep", lambda s: None)
    _lose_answer_and_lookups(music_emulator)
    store = FakeTaskStateStore()
    for attempt in (1, 2):
        ctx = make_context(store)
        ctx["ti"].try_number = attempt
        with pytest.raises(MusicApiError):
            RiffusionComposeOperator(task_id="c", prompt="x", reply_ref="r", poll_interval=0.05).execute(ctx)
    assert music_emulator.count("POST", CREATE) == 1


def test_derived_ref_retry_after_songs_finished_without_store(music_emulator, make_context, monkeypatch):
    """Airflow < 3.3: the worker died after the create; the songs finished; the retry finds them in GET music."""
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    music_emulator.state.settings["riffusion.job_seconds"] = 0.1

    def crash(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed")

    with monkeypatch.context() as m:
        m.setattr(RiffusionComposeOperator, "_wait", crash)
        m.setattr(RiffusionComposeOperator, "_first_poll", crash)
        with pytest.raises(SystemExit):
            RiffusionComposeOperator(task_id="c", prompt="lofi", poll_interval=0.05).execute(
                make_context(task_state_store=None))
    import time

    time.sleep(0.2)
    result = RiffusionComposeOperator(task_id="c", prompt="lofi", poll_interval=0.05).execute(
        _retry_context(make_context, None, started))
    assert len(result["song_ids"]) == 2 and music_emulator.count("POST", CREATE) == 1


def test_recreate_on_lost_answer_is_an_explicit_opt_in(music_emulator, make_context, monkeypatch):
    monkeypatch.setattr("airflow_provider_music.core._sleep", lambda s: None)
    music_emulator.state.settings["riffusion.job_seconds"] = 0.05
    music_emulator.add_fault(path=r"/music/create-prompt$", method="POST", status=502, after=True, times=1)
    music_emulator.add_fault(path=r"/v1/riffusion/scheduler$", status=400, times=3)  # every recovery lookup fails
    result = RiffusionComposeOperator(task_id="c", prompt="x", recreate_on_lost_answer=True, poll_interval=0.05,
                                      timeout=20).execute(make_context())
    assert len(result["song_ids"]) == 2 and music_emulator.count("POST", CREATE) == 2


def test_several_matching_generations_fail_clearly(set_connection, requests_mock):
    set_connection("riffusion_default", "riffusion", host=BASE)
    now = dt.datetime.now(dt.UTC).isoformat()
    songs = [{"id": f"s{i}", "created_at": now, "sound": "same prompt", "status": "completed"} for i in range(4)]
    requests_mock.get(BASE + "scheduler", json=[])
    requests_mock.get(BASE + "music/", json=songs)
    with pytest.raises(RiffusionLostAnswerError, match="several songs"):
        RiffusionHook().find_created({"prompt": "same prompt", "replyRef": "r"}, since=0.0)


@pytest.mark.parametrize("fault", [{"status": 502}, {"drop": True}], ids=["502", "dropped"])
def test_lost_upload_answer_is_never_uploaded_twice(music_emulator, make_context, tmp_path, fault):
    src = write_sine_wav(tmp_path / "a.wav", 0.1)
    music_emulator.add_fault(path=r"/music/upload-audio/?$", method="POST", after=True, times=1, **fault)
    store = FakeTaskStateStore()
    for attempt in (1, 2):  # the retry must not upload blindly either
        ctx = make_context(store)
        ctx["ti"].try_number = attempt
        with pytest.raises(RiffusionLostAnswerError, match="may have been created; ids unknown: check the account's uploads"):
            RiffusionUploadAudioOperator(task_id="u", source=str(src), poll_interval=0.05).execute(ctx)
    assert len(music_emulator.state.apis["riffusion"].uploads) == 1
    again = RiffusionUploadAudioOperator(task_id="u", source=str(src), poll_interval=0.05, timeout=20,
                                         recreate_on_lost_answer=True).execute(make_context(store))
    assert again["status"] == "complete" and len(music_emulator.state.apis["riffusion"].uploads) == 2


def test_definite_upload_error_does_not_block_the_retry(music_emulator, make_context, tmp_path):
    src = write_sine_wav(tmp_path / "a.wav", 0.1)
    music_emulator.add_fault(path=r"/music/upload-audio/?$", method="POST", status=400, times=1)
    store = FakeTaskStateStore()
    with pytest.raises(MusicApiError) as info:
        RiffusionUploadAudioOperator(task_id="u", source=str(src), poll_interval=0.05).execute(make_context(store))
    assert not isinstance(info.value, RiffusionLostAnswerError)
    done = RiffusionUploadAudioOperator(task_id="u", source=str(src), poll_interval=0.05, timeout=20).execute(
        make_context(store))
    assert done["status"] == "complete"


# ---- 2. unknown states are never success: see test_unknown_states.py (issue 21 §5: keep waiting, warn once,
# time out naming the state)


async def _first_event(trigger: Any) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("no event")


# ---- 3. distinct outputs never overwrite each other -------------------------------------------------
def test_stems_with_hostile_names_give_distinct_files(set_connection, requests_mock, tmp_path):
    set_connection("riffusion_default", "riffusion", host=BASE)
    names = ["vocals", "../vocals", "vocals?", "..\\..\\vocals", "vocals", "/etc/vocals"]
    requests_mock.get(BASE + "music/download/", json={"stems": [
        {"name": n, "url": f"https://cdn.example/{i}.wav?sig=s"} for i, n in enumerate(names)]})
    for i in range(len(names)):
        requests_mock.get(f"https://cdn.example/{i}.wav", content=b"RIFF" + bytes([i]) * 40)
    written = RiffusionHook().download_stems("song-1", tmp_path / "out")
    files = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert len(written) == 6 and len(files) == 6 and len({p.read_bytes() for p in files}) == 6
    assert all(p.parent == tmp_path / "out" for p in files)
    assert len(set(stem_file_names({n + str(i): "u.wav" for i, n in enumerate(names)}).values())) == 6


@pytest.mark.parametrize("ids", [("abc?1", "abc*1"), ("a" * 64 + "x", "a" * 64 + "y"), ("A:b", "A_b"), ("x", "X")])
def test_song_ids_that_clean_alike_give_distinct_files(ids):
    names = {song_file_name({"id": i, "title": "Same"}, "m4a").lower() for i in ids}
    assert len(names) == 2


def test_download_operator_keeps_every_song(set_connection, requests_mock, tmp_path, make_context):
    set_connection("riffusion_default", "riffusion", host=BASE)
    songs = [{"id": sid, "title": "Same", "status": "completed", "download_url": f"https://cdn.example/{n}.m4a"}
             for n, sid in enumerate(["abc?1", "abc*1", "a" * 70 + "1", "a" * 70 + "2"])]
    requests_mock.get(BASE + "music/", json=songs)
    for n in range(4):
        requests_mock.get(f"https://cdn.example/{n}.m4a", content=bytes([n]) * 50)
    paths = RiffusionDownloadOperator(task_id="d", song_ids=["job1"], destination=str(tmp_path)).execute(make_context())
    assert len(paths) == 4 and len(set(paths)) == 4 and all(p.startswith(str(tmp_path)) for p in paths)
    assert len({open(p, "rb").read() for p in paths}) == 4


# ---- 4. hostile ids refused before any request -------------------------------------------------------
BAD_IDS = ["..", "%2e%2e", "/", "a/b", "?", "a?b", "#", "a#b", "None", "null", "{'job_ids': ['a']}", "['a']",
           "", " ", "a b", "a&b", "..%2f", "a" * 300, ".", "a..b"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_refused_before_any_request(music_emulator, bad, make_context, tmp_path):
    hook = RiffusionHook()
    calls = [
        lambda: hook.get_music(bad), lambda: hook.delete_music(bad), lambda: hook.delete_scheduler_job(bad),
        lambda: hook.get_account(bad), lambda: hook.delete_account(bad), lambda: hook.get_upload_audio(bad),
        lambda: hook.song_status([bad]), lambda: hook.create_compose("x", audio_upload_id=bad),
        lambda: RiffusionDownloadOperator(task_id="d", song_ids=[bad], destination=str(tmp_path)).execute(make_context()),
        lambda: RiffusionSongSensor(task_id="s", job_ids=[bad]).poke({}),
        lambda: RiffusionComposeOperator(task_id="c", mode="compose", prompts=["x"], image_id=bad).execute(make_context()),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError):
            call()
    assert dict(music_emulator.state.request_counts) == {}


def test_good_ids_pass_and_mapped_inputs_flatten():
    assert check_id("song_ids[0]", " fa789d42-a1cf-482e-9dc9-3a64978370ed:a8b526c8 ") == (
        "fa789d42-a1cf-482e-9dc9-3a64978370ed:a8b526c8")
    mapped = [{"job_ids": ["j1", "j2"], "song_ids": ["s1", "s2"]}, {"job_ids": ["j3"], "song_ids": []}]
    assert normalize_job_ids(mapped) == ["s1", "s2", "j3"]
    assert normalize_job_ids('["a", "b"]') == ["a", "b"] and normalize_job_ids("['a', 'a']") == ["a"]


# ---- 5. bounded texts ------------------------------------------------------------------------------
HUGE = "x" * (10 * 1024 * 1024)


@pytest.mark.parametrize(("build", "argument"), [
    (lambda: RiffusionHook().create_prompt(HUGE), "prompt"),
    (lambda: RiffusionHook().create_compose([HUGE]), "prompt_1"),
    (lambda: RiffusionHook().create_compose(["ok", {"prompt": HUGE}]), "prompt_2"),
    (lambda: RiffusionHook().create_compose(["ok"], lyrics=HUGE), "lyrics"),
    (lambda: RiffusionHook().generate_lyrics("ok", lyrics=HUGE), "lyrics"),
    (lambda: RiffusionHook().generate_image(HUGE), "prompt"),
    (lambda: RiffusionComposeOperator(task_id="c", prompt=HUGE).execute({}), "prompt"),
    (lambda: RiffusionComposeOperator(task_id="c", mode="compose", prompts=["a"], lyrics=HUGE).execute({}), "lyrics"),
], ids=["prompt", "compose-prompt", "compose-prompt-2", "lyrics", "ghostwriter", "image", "op-prompt", "op-lyrics"])
def test_huge_texts_refused_naming_the_argument(music_emulator, build, argument):
    with pytest.raises(InvalidInputError) as info:
        build()
    assert str(info.value).startswith(argument) and "10000" in str(info.value)
    assert dict(music_emulator.state.request_counts) == {}


# ---- 6. signed download URLs are never stored ---------------------------------------------------
SECRET = "sig-SECRET-4f9a"


@pytest.mark.parametrize("deferrable", [False, True])
def test_signed_download_url_not_in_xcom_events_or_errors(music_emulator, make_context, tmp_path, deferrable):
    music_emulator.state.settings.update({"riffusion.download_signature": SECRET, "riffusion.job_seconds": 0.1})
    ctx = make_context()
    op = RiffusionComposeOperator(task_id="c", prompt="x", poll_interval=0.05, timeout=20, deferrable=deferrable)
    captured: list[Any] = []
    try:
        result = op.execute(ctx)
    except TaskDeferred as deferred:
        event = asyncio.run(_first_event(deferred.trigger))
        captured.append(event)
        result = op.execute_complete(ctx, event=event, **deferred.kwargs)
    captured += [result, ctx["ti"].xcom_pushed]
    assert SECRET not in json.dumps(captured, default=str)
    assert result["songs"][0]["download_url"].endswith(".m4a")
    # the download re-reads the song by id: the fresh signed link works without ever being stored
    paths = RiffusionDownloadOperator(task_id="d", song_ids=result, destination=str(tmp_path)).execute(make_context())
    assert len(paths) == 2 and not paths[0].startswith("file:")
    music_emulator.add_fault(path=r"^/_cdn/riffusion/", drop=True)
    with pytest.raises(MusicApiError) as info:
        RiffusionDownloadOperator(task_id="d", song_ids=result, destination=str(tmp_path / "b")).execute(make_context())
    chain = "".join(traceback.format_exception(info.value))
    assert SECRET not in chain and SECRET not in str(info.value)


# ---- 7. hostile JSON shapes never escape as built-in errors ------------------------------------------
HOSTILE_BODIES = [
    [], "text", 42, None, {"jobs": "x"}, {"jobs": [1, None, {"id": 5}]}, {"job_id": {"a": 1}}, [[1, 2]],
    {"stems": "x"}, {"stems": [{"name": ["v"], "url": 3}]}, {"status": {"x": 1}, "audible_magic_response": "s"},
    {"audible_magic_response": {"matches": "x"}}, {"audible_magic_response": {"matches": [1, {"metadata": "m"}]}},
    [{"id": ["a"], "status": ["completed"], "created_at": 1e308}], {"items": "x"}, {"id": 1.5e300},
]  # fmt: skip


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=[f"b{i}" for i in range(len(HOSTILE_BODIES))])
def test_hostile_answers_give_provider_errors(set_connection, requests_mock, body):
    set_connection("riffusion_default", "riffusion", host=BASE)
    hook = RiffusionHook()
    for method, path in (("post", "music/create-prompt"), ("get", "music/"), ("get", "music/upload-audio/"),
                         ("get", "music/download/"), ("get", "scheduler"), ("get", "scheduler/available")):
        getattr(requests_mock, method)(BASE + path, text=json.dumps(body))
    calls = [
        lambda: hook.create_prompt("x"), lambda: hook.song_status(["a"]), lambda: hook.upload_status("a"),
        lambda: hook.get_stems("a"), lambda: hook.find_jobs_by_reply_ref("r"), lambda: hook.list_music(),
        lambda: hook.get_scheduler_available(), lambda: hook.find_created({"prompt": "x", "replyRef": "r"}, since=0.0),
    ]
    for call in calls:
        try:
            call()
        except MusicApiError:
            pass  # InvalidResponseError and friends: fine; a built-in error is not
