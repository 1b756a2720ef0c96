"""AudioShake under hostile conditions (issue 12): lost answers never lead to a second upload or a second paid
job, every upload's content is checked, ids cannot address another endpoint, distinct outputs never overwrite
each other, mapped sources, plain local paths, the connection argument and the extra link."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from airflow_provider_music.contract.audioshake import DASHBOARD_URL
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.audioshake_api import LostAnswerError
from airflow_provider_music.operators.audioshake import (
    LINK_XCOM_KEY,
    AudioShakeLink,
    AudioShakeStemSeparationOperator,
    AudioShakeUploadOperator,
)
from airflow_provider_music.sensors.audioshake import AudioShakeJobSensor
from airflow_provider_music.testing.audio import sine_wav, write_sine_wav
from tests.conftest import FakeTaskStateStore

UPLOAD = {"jobs": r"^/upload/?$", "tasks": r"^/assets$"}
CREATE = {"jobs": r"^/job/?$", "tasks": r"^/tasks$"}
LOST = [pytest.param({"status": 502}, id="lost-502"), pytest.param({"drop": True}, id="lost-drop")]


@pytest.fixture
def song(tmp_path: Path) -> Path:
    return write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.2, freq=330.0)


def _op(tmp_path: Path, source, **kwargs) -> AudioShakeStemSeparationOperator:
    kwargs.setdefault("stems", ["vocals", "drums"])
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 20)
    return AudioShakeStemSeparationOperator(task_id="sep", source=source, destination=str(tmp_path / "out"), **kwargs)


def _store(emu):
    return emu.state.apis["audioshake"]


def _posts(emu, api: str, what: dict[str, str]) -> int:
    path = what[api].strip("^$").replace("/?", "/")
    return sum(n for key, n in emu.state.request_counts.items() if key.startswith("POST ") and
               key.split(" ", 1)[1].rstrip("/") == path.rstrip("/"))


# ---- lost answers: uploads ----------------------------------------------------------------------------
@pytest.mark.parametrize("fault", LOST)
def test_lost_upload_answer_is_looked_up_or_fails_clearly(api, music_emulator, tmp_path, song, make_context, fault):
    """Tasks: the asset list (marked name) finds the upload. Legacy: no list exists: a clear error, one asset."""
    music_emulator.state.add_fault(path=UPLOAD[api], method="POST", after=True, times=1, **fault)
    if api == "tasks":
        result = _op(tmp_path, str(song)).execute(make_context())
        assert set(result["outputs"]) == {"vocals", "drums"}
    else:
        with pytest.raises(LostAnswerError, match=r"may have been created; ids unknown: check your own records \(the legacy Jobs API cannot list"):
            _op(tmp_path, str(song)).execute(make_context())
        assert music_emulator.count("POST", "/job/") == 0
    assert len(_store(music_emulator).assets) == 1  # never uploaded twice


def test_legacy_lost_upload_recreate_is_an_explicit_opt_in(music_emulator, tmp_path, song, make_context):
    music_emulator.state.add_fault(path=UPLOAD["jobs"], method="POST", status=502, after=True, times=1)
    result = _op(tmp_path, str(song), recreate_on_lost_answer=True).execute(make_context())
    assert set(result["outputs"]) == {"vocals", "drums"} and len(_store(music_emulator).assets) == 2


def test_tasks_lost_upload_with_two_candidates_fails_clearly(music_emulator, monkeypatch, tmp_path, song):
    from tests.audioshake.conftest import audioshake_conn

    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))
    tasks = AudioShakeHook().tasks
    tasks.upload_asset(str(song))  # an earlier upload of the same name, in the lookup window
    music_emulator.state.add_fault(path=UPLOAD["tasks"], method="POST", status=502, after=True, times=1)
    with pytest.raises(LostAnswerError, match="2 assets match"):
        tasks.upload_asset(str(song))
    assert len(_store(music_emulator).assets) == 2


def test_tasks_upload_of_a_previous_try_is_reused(music_emulator, monkeypatch, tmp_path, song, make_context):
    """Airflow < 3.3 (no task_state_store): a retry after a crash finds its own marked upload and task."""
    from tests.audioshake.conftest import audioshake_conn

    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))
    ctx = make_context()
    ctx.pop("task_state_store")
    first = _op(tmp_path, str(song)).execute(ctx)
    again = _op(tmp_path, str(song)).execute(ctx)
    assert again["tasks"] == first["tasks"] and music_emulator.count("POST", "/tasks") == 1


# ---- lost answers: creates ----------------------------------------------------------------------------
@pytest.mark.parametrize("fault", LOST)
def test_lost_create_answer_never_pays_twice(api, music_emulator, tmp_path, song, make_context, fault):
    music_emulator.state.add_fault(path=CREATE[api], method="POST", after=True, times=1, **fault)
    store = FakeTaskStateStore()
    if api == "tasks":  # found again by the task's metadata marker
        result = _op(tmp_path, str(song)).execute(make_context(store))
        assert set(result["outputs"]) == {"vocals", "drums"} and len(_store(music_emulator).tasks) == 1
        return
    with pytest.raises(LostAnswerError, match="'vocals' may have been created; ids unknown"):
        _op(tmp_path, str(song)).execute(make_context(store))
    with pytest.raises(LostAnswerError, match="earlier attempt"):  # the next Airflow try does not re-send it
        _op(tmp_path, str(song)).execute(make_context(store))
    assert len(_store(music_emulator).jobs) == 1 and len(_store(music_emulator).assets) == 1


def test_definite_4xx_on_create_is_not_a_lost_answer(music_emulator, tmp_path, song, make_context):
    music_emulator.state.add_fault(path=CREATE["jobs"], method="POST", status=400, times=1,
                                   body='{"statusCode": 400, "error": "Bad Request", "message": "asset is locked for editing"}')
    store = FakeTaskStateStore()
    with pytest.raises(Exception, match="asset is locked") as err:
        _op(tmp_path, str(song)).execute(make_context(store))
    assert not isinstance(err.value, LostAnswerError)
    result = _op(tmp_path, str(song)).execute(make_context(store))  # nothing pending: the retry just works
    assert set(result["outputs"]) == {"vocals", "drums"}


# ---- content of every upload --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["notes.txt", "song.wav", "song.mp3", "song", "lyrics.json"])
def test_non_media_uploads_are_refused_before_any_request(api, music_emulator, tmp_path, make_context, name):
    path = tmp_path / name
    path.write_text("la la la, these are lyrics and not audio\n" * 3)
    with pytest.raises(InvalidInputError, match="source"):
        _op(tmp_path, str(path)).execute(make_context())
    with pytest.raises(InvalidInputError, match="source"):
        AudioShakeUploadOperator(task_id="u", source=str(path)).execute(make_context())
    with pytest.raises(InvalidInputError):
        AudioShakeHook().backend.upload(io.BytesIO(path.read_bytes()), filename="x.wav")
    assert dict(music_emulator.state.request_counts) == {}


def test_video_containers_are_accepted(api, music_emulator, tmp_path):
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 256)
    assert AudioShakeHook().backend.upload(str(mp4))["id"]


def test_emulator_fails_jobs_on_non_media_sources(api, music_emulator, tmp_path, song, make_context):
    """The emulator does what AudioShake would: a text file separated into 'stems' is a failure, not 4 files."""
    backend = AudioShakeHook().backend
    music_emulator.state.job_seconds = 0.0
    with pytest.raises(InvalidInputError):  # the hook refuses it, so push it past the check on purpose
        backend.upload(io.BytesIO(b"plain text"), filename="t.wav")
    from airflow_provider_music.testing.audioshake import Asset

    _store(music_emulator).assets["cltextasset000000000000001"] = Asset(
        id="cltextasset000000000000001", name="t.txt", format="txt", path=None, media=False)
    with pytest.raises(Exception, match="failed"):
        _op(tmp_path, "cltextasset000000000000001").execute(make_context())


# ---- ids -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ident", ["..", "%2e%2e", "../usage", "a/b", "abc?x=1", "abc#x", "None", "{'a': 1}", " "])
def test_hostile_ids_are_refused_before_any_request(api, music_emulator, make_context, ident):
    key = "job_ids" if api == "jobs" else "audioshake_task_id"
    with pytest.raises(InvalidInputError):
        AudioShakeJobSensor(task_id="s", **{key: ident}).execute(make_context())
    with pytest.raises(InvalidInputError):
        AudioShakeHook().separation_status(**{api: [ident]})
    assert dict(music_emulator.state.request_counts) == {}


# ---- outputs --------------------------------------------------------------------------------------------
def test_distinct_outputs_with_equal_names_never_overwrite(api, music_emulator, tmp_path, song, make_context):
    music_emulator.state.settings["audioshake.output_names"] = {s: "stem.wav" for s in ("vocals", "drums", "bass")}
    result = _op(tmp_path, str(song), stems=["vocals", "drums", "bass"]).execute(make_context())
    paths = [p for paths in result["files"].values() for p in paths]
    assert len(set(paths)) == 3 and all(Path(p).is_file() for p in paths)
    assert len({Path(p).read_bytes() for p in paths}) == 3  # three different stems on disk


def test_mapped_list_of_sources(api, music_emulator, tmp_path, make_context):
    """A mapped download's output: a list of paths (and lists of lists), same file names in two folders."""
    a = write_sine_wav(tmp_path / "a" / "take.wav", seconds=0.2)
    b = write_sine_wav(tmp_path / "b" / "take.wav", seconds=0.3)
    result = _op(tmp_path, [[str(a)], [str(b)]], stems=["vocals"]).execute(make_context())
    assert isinstance(result, list) and len(result) == 2
    folders = {Path(r["outputs"]["vocals"]).parent.name for r in result}
    assert folders == {"take", "take_2"}
    assert all(not r["outputs"]["vocals"].startswith("file://") for r in result)  # plain local paths
    assert len(_store(music_emulator).assets) == 2
    single = _op(tmp_path, str(a), stems=["vocals"], source_name="single").execute(make_context())
    assert isinstance(single, dict) and Path(single["outputs"]["vocals"]).parent.name == "single"


def test_upload_operator_takes_a_list(api, music_emulator, tmp_path, song, make_context):
    other = write_sine_wav(tmp_path / "other.wav", seconds=0.1)
    ids = AudioShakeUploadOperator(task_id="u", source=[str(song), str(other)]).execute(make_context())
    assert isinstance(ids, list) and len(set(ids)) == 2


# ---- interface ----------------------------------------------------------------------------------------
def test_connection_argument_is_audioshake_conn_id(music_emulator, tmp_path, song, make_context):
    with pytest.raises(InvalidInputError, match="audioshake_conn_id"):
        AudioShakeStemSeparationOperator(task_id="s", source=str(song), destination=str(tmp_path), conn_id="x")
    op = _op(tmp_path, str(song), audioshake_conn_id="audioshake_default", stems=["bass"])
    assert op.audioshake_conn_id == "audioshake_default" and "audioshake_conn_id" in op.template_fields
    assert "bass" in op.execute(make_context())["outputs"]
    assert AudioShakeHook.conn_name_attr == "audioshake_conn_id"


def test_extra_link_opens_the_dashboard_and_never_reads_missing_xcom(music_emulator, tmp_path, song, make_context):
    ctx = make_context()
    op = _op(tmp_path, str(song), stems=["bass"])
    op.execute(ctx)
    assert ctx["ti"].xcom_pushed[LINK_XCOM_KEY] == DASHBOARD_URL
    assert AudioShakeLink().get_link(op, ti_key=None) == DASHBOARD_URL
    fresh = _op(tmp_path, str(song))
    assert AudioShakeLink().get_link(fresh, ti_key=None) == ""  # failed before pushing: no XCom lookup


@pytest.mark.parametrize("bad", [{"stems": ["kazoo"]}, {"residual": "maybe"}, {"language": "english"},
                                 {"write_destination": "s3://bucket"}, {"poll_interval": float("nan")},
                                 {"timeout": float("inf")}, {"recreate_on_lost_answer": "sure"}])
def test_parse_time_checks_name_the_argument(tmp_path, bad):
    argument = next(iter(bad)) if next(iter(bad)) != "stems" else "stems"
    with pytest.raises(InvalidInputError, match=argument):
        _op(tmp_path, "clksq2o6c1506f7ofcyvzpdh8", **bad)


def test_templated_numbers_are_accepted(music_emulator, tmp_path, song, make_context):
    op = _op(tmp_path, str(song), stems=["bass"], poll_interval="0.02", timeout="30",
             job_options={"max_track_length": "25"})
    assert "bass" in op.execute(make_context())["outputs"]


def test_write_destination_needs_the_tasks_api(music_emulator, tmp_path, song, make_context):
    with pytest.raises(InvalidInputError, match="write_destination needs the Tasks API"):
        _op(tmp_path, str(song), write_destination={"bucket": "b"}).execute(make_context())
    assert dict(music_emulator.state.request_counts) == {}


def test_source_bytes_checked_even_when_sent_as_file_object(api, music_emulator):
    backend = AudioShakeHook().backend
    assert backend.upload(io.BytesIO(sine_wav(0.05)), filename="x.wav")["id"]


# ---- connection settings --------------------------------------------------------------------------------
def test_invalid_extras_json_raises_and_defaults_are_not_mutated(monkeypatch):
    import json

    from airflow_provider_music.core.errors import ConfigurationError

    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", json.dumps(
        {"conn_type": "audioshake", "password": "t", "extra": "{not json"}))
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        AudioShakeHook().settings  # noqa: B018
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", json.dumps(
        {"conn_type": "audioshake", "password": "t", "extra": {"api": "tasks"}}))
    hook = AudioShakeHook()
    assert hook.settings.base_url == "https://api.audioshake.ai/" and hook.backend.name == "tasks"
    assert AudioShakeHook.default_base_url == "https://groovy.audioshake.ai/" and "default_base_url" not in vars(hook)
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", json.dumps(
        {"conn_type": "audioshake", "password": "t", "extra": {"api": "graphql"}}))
    with pytest.raises(ConfigurationError, match="'jobs' or 'tasks'"):
        AudioShakeHook().settings  # noqa: B018


# ---- async twins never drift ----------------------------------------------------------------------------
TWIN_ANSWERS = [
    {"job": {"id": "job-1", "status": "completed", "metadata": {"name": "vocals"}}},
    {"job": {"id": "job-1", "status": "failed", "statusInfo": {"code": 7, "message": "bad"}}},
    {"job": {"id": "job-1", "status": "mystery"}},
    {"id": "task-1", "targets": [{"model": "vocals", "status": "error", "error": {"message": "x"}}]},
    {"id": "task-1", "targets": "nope"},
    [], "text", None, {"something": 1},
]


@pytest.mark.parametrize("answer", TWIN_ANSWERS)
@pytest.mark.parametrize("api", ["jobs", "tasks"])
def test_sync_and_async_status_agree(set_connection, monkeypatch, api, answer):
    import asyncio

    set_connection("audioshake_default", "audioshake", extra={"api": api})
    from airflow_provider_music.core.parsing import parsing

    def answer_for(method, path, parse):  # what the base hook does with ``parse=``
        with parsing(f"{method} /{path}"):
            return parse(answer) if parse else answer

    monkeypatch.setattr(AudioShakeHook, "request_json", lambda self, method, path, parse=None, **kw: answer_for(
        method, path, parse))

    async def areq(self, method, path, parse=None, **kw):
        return answer_for(method, path, parse)

    monkeypatch.setattr(AudioShakeHook, "arequest_json", areq)
    ids = {"vocals": "job-1" if api == "jobs" else "task-1"}

    def outcome(call):
        try:
            result = call()
        except Exception as exc:  # the same class of error, sync and async
            return type(exc).__name__
        return result.state, result.message

    sync = outcome(lambda: AudioShakeHook().separation_status(**{api: ids}))
    async_ = outcome(lambda: asyncio.run(AudioShakeHook().aseparation_status(**{api: ids})))
    assert sync == async_
    assert sync[0] != "success" or answer in TWIN_ANSWERS[:1]


def test_tasks_retry_without_store_reuses_the_earlier_upload(music_emulator, monkeypatch, tmp_path, song, make_context):
    """Airflow < 3.3: the first try uploaded, then its create failed; the retry looks first and reuses the asset."""
    from tests.audioshake.conftest import audioshake_conn

    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", audioshake_conn(music_emulator, "tasks"))
    music_emulator.state.add_fault(path=CREATE["tasks"], method="POST", status=400, times=1,
                                   body='{"statusCode": 400, "error": "Bad Request", "message": "try later"}')
    ctx = make_context()
    ctx.pop("task_state_store")
    with pytest.raises(Exception, match="try later"):
        _op(tmp_path, str(song)).execute(ctx)
    result = _op(tmp_path, str(song)).execute(ctx)
    assert set(result["outputs"]) == {"vocals", "drums"}
    assert len(_store(music_emulator).assets) == 1 and music_emulator.count("POST", "/assets") == 1
    changed = write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.3)  # same name, new content: a new upload
    _op(tmp_path, str(changed), stems=["bass"]).execute(ctx)
    assert music_emulator.count("POST", "/assets") == 2
