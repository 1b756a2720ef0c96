"""AI-music detection (issue 23 §1) in ``AcrCloudScanFileOperator``, against the emulator.

Classes of defect: a container reused across AI settings, an AI verdict read from an answer that holds none
(fail closed), ``fail_on_ai`` not failing, arguments checked too late, a nondeterministic emulator, secrets
in results or errors.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_music.core import InvalidInputError, InvalidResponseError, JobFailedError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook, ScanContainerMismatchError
from airflow_provider_music.operators.acrcloud import AcrCloudScanFileOperator
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.acrcloud_ai import AI_MARKER, mark_ai_generated
from airflow_provider_music.testing.audio import sine_wav

pytestmark = pytest.mark.integration


@pytest.fixture
def tracks(tmp_path):
    """A human track, one named like a Suno export, one carrying the emulator's AI marker in its bytes."""
    human = tmp_path / "song.wav"
    human.write_bytes(sine_wav(0.5, freq=350, sample_rate=8000))
    named = tmp_path / "suno-demo.wav"
    named.write_bytes(sine_wav(0.5, freq=450, sample_rate=8000))
    marked = tmp_path / "take-3.wav"
    marked.write_bytes(mark_ai_generated(sine_wav(0.5, freq=550, sample_rate=8000)))
    return {"human": human, "named": named, "marked": marked}


def scan(make_context, source, **kwargs):
    op = AcrCloudScanFileOperator(task_id="scan", source=source, poll_interval=0.05, **kwargs)
    return op.execute(make_context())


# ---- the operator with and without AI detection ---------------------------------------------------------
def test_ai_scan_names_verdict_probability_and_source(emu, tracks, make_context):
    results = scan(make_context, [str(p) for p in tracks.values()], ai_detection=True)
    by_source = {r["source"]: r for r in results}
    human, named, marked = (by_source[str(tracks[k])] for k in ("human", "named", "marked"))
    assert human["ai_verdict"] == "human" and human["ai_probability"] < 0.11 and human["ai_likely_source"] is None
    for ai in (named, marked):
        assert ai["ai_verdict"] == "ai" and 0.9 <= ai["ai_probability"] <= 0.99 and ai["ai_likely_source"] == "suno"
        assert ai["ai_detection"][0]["source_probabilities"][0]["source"] == "suno"
    assert all(r["matched"] is False and "ai_problem" not in r for r in results)
    container = store_of(emu.state).containers[human["container_id"]]
    assert container["ai_detection"] is True


def test_scan_without_ai_detection_is_unchanged(emu, tracks, make_context):
    result = scan(make_context, str(tracks["named"]))
    assert not any(k.startswith("ai_") for k in result)
    container = store_of(emu.state).containers[result["container_id"]]
    assert container["ai_detection"] is False


def test_summary_line_names_the_ai_verdict(emu, tracks, make_context):
    op = AcrCloudScanFileOperator(task_id="scan", source=str(tracks["named"]), poll_interval=0.05, ai_detection=True)
    result = op.execute(make_context())
    line = op.summarize({}, result)[0]
    assert "AI: ai (0.9" in line and "likely source suno" in line


# ---- the container rule: AI setting is part of the configuration ------------------------------------------
def test_container_without_ai_is_never_reused_for_an_ai_run(emu, tracks, make_context):
    plain = scan(make_context, str(tracks["human"]))
    ai = scan(make_context, str(tracks["human"]), ai_detection=True)
    again = scan(make_context, str(tracks["human"]), ai_detection=True)
    assert plain["container_id"] != ai["container_id"] == again["container_id"]
    containers = store_of(emu.state).containers
    assert containers[plain["container_id"]]["ai_detection"] is False
    assert containers[ai["container_id"]]["ai_detection"] is True
    back = scan(make_context, str(tracks["human"]))  # and the other way round: the plain run keeps its own
    assert back["container_id"] == plain["container_id"] and len(containers) == 2


def test_named_container_with_ai_turned_off_behind_our_back_fails_before_upload(emu, hook, tracks, make_context):
    first = scan(make_context, str(tracks["human"]), ai_detection=True)
    hook.update_fs_container(first["container_id"], ai_detection=False)
    uploads = len(store_of(emu.state).fs_files)
    with pytest.raises(ScanContainerMismatchError, match="ai_detection is off, asked for on"):
        scan(make_context, str(tracks["human"]), ai_detection=True)
    assert len(store_of(emu.state).fs_files) == uploads


def test_named_container_with_ai_turned_on_is_refused_for_a_plain_run(emu, hook, tracks, make_context):
    first = scan(make_context, str(tracks["human"]))
    hook.update_fs_container(first["container_id"], ai_detection=True)
    with pytest.raises(ScanContainerMismatchError, match="ai_detection is on, asked for off"):
        scan(make_context, str(tracks["human"]))


@pytest.mark.parametrize("buckets", [None, ["ACRCloud Music"]])
def test_explicit_container_without_ai_is_refused_for_an_ai_run(emu, hook, tracks, make_context, buckets):
    other = hook.create_fs_container("mine", region="eu-west-1", buckets=["ACRCloud Music"])
    with pytest.raises(ScanContainerMismatchError, match="ai_detection is off"):
        scan(make_context, str(tracks["named"]), container_id=other["id"], buckets=buckets, ai_detection=True)
    assert not store_of(emu.state).fs_files  # nothing uploaded
    mine = hook.create_fs_container("mine-ai", region="eu-west-1", buckets=["ACRCloud Music"], ai_detection=True)
    result = scan(make_context, str(tracks["named"]), container_id=mine["id"], buckets=buckets, ai_detection=True)
    assert result["ai_verdict"] == "ai"


@pytest.mark.asyncio
async def test_ai_turned_off_while_scanning_fails_at_the_end(emu, hook, tracks, make_context):
    from airflow.providers.common.compat.sdk import TaskDeferred

    mine = hook.create_fs_container("mine-ai", region="eu-west-1", buckets=["ACRCloud Music"], ai_detection=True)
    op = AcrCloudScanFileOperator(task_id="scan", source=str(tracks["named"]), container_id=mine["id"],
                                  ai_detection=True, deferrable=True, poll_interval=0.05)
    ctx = make_context()
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    hook.update_fs_container(mine["id"], ai_detection=False)
    events = [e async for e in exc.value.trigger.run()]
    with pytest.raises(ScanContainerMismatchError, match="ai_detection is off"):
        op.execute_complete(ctx, events[0].payload, **exc.value.kwargs)


# ---- fail_on_ai -------------------------------------------------------------------------------------------
def test_fail_on_ai_fails_the_task_naming_the_file(emu, tracks, make_context):
    with pytest.raises(JobFailedError, match=r"1 file\(s\) detected as AI-generated .*suno-demo.wav.*suno") as exc:
        scan(make_context, [str(tracks["human"]), str(tracks["named"])], ai_detection=True, fail_on_ai=True)
    assert len(exc.value.details["ai_generated"]) == 1


@pytest.mark.parametrize(("threshold", "fails"), [(0.0, True), (0.5, True), (0.995, False), (1.0, False)])
def test_fail_on_ai_threshold(emu, tracks, make_context, threshold, fails):
    kwargs = {"ai_detection": True, "fail_on_ai": True, "ai_threshold": threshold}
    if fails:
        with pytest.raises(JobFailedError, match="AI-generated"):
            scan(make_context, str(tracks["marked"]), **kwargs)
    else:
        assert scan(make_context, str(tracks["marked"]), **kwargs)["ai_verdict"] == "human"


def test_human_track_passes_fail_on_ai(emu, tracks, make_context):
    assert scan(make_context, str(tracks["human"]), ai_detection=True, fail_on_ai=True)["ai_verdict"] == "human"


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"ai_threshold": 1.5}, "ai_threshold"), ({"ai_threshold": -0.1}, "ai_threshold"),
    ({"ai_threshold": float("nan")}, "ai_threshold"), ({"ai_threshold": "high"}, "ai_threshold"),
    ({"fail_on_ai": True}, "fail_on_ai"),                          # without ai_detection nothing says what is AI
    ({"ai_detection": "yes"}, "ai_detection"), ({"fail_on_ai": 1, "ai_detection": True}, "fail_on_ai"),
])
def test_bad_ai_arguments_fail_at_parse_time(kwargs, argument):
    with pytest.raises(InvalidInputError, match=argument):
        AcrCloudScanFileOperator(task_id="scan", source="/tmp/x.wav", **kwargs)
    with pytest.raises(InvalidInputError, match=argument):  # mapped tasks too, when the DAG is parsed
        AcrCloudScanFileOperator.partial(task_id="mapped", **kwargs).expand(source=["/tmp/x.wav"])


# ---- fail closed: an answer without a readable AI verdict ---------------------------------------------------
HOSTILE = [
    pytest.param(lambda r: r.pop("ai_detection", None), "holds no ai_detection", id="missing"),
    pytest.param(lambda r: r.update(ai_detection={"weird": 1}), "ai_probability", id="object-without-fields"),
    pytest.param(lambda r: r.update(ai_detection="ai"), "not a list", id="text"),
    pytest.param(lambda r: r.update(ai_detection=[]), "empty", id="empty"),
    pytest.param(lambda r: r["ai_detection"][0].update(ai_probability=float("nan")), "ai_probability", id="nan"),
    pytest.param(lambda r: r["ai_detection"][0].update(ai_probability=97), "ai_probability", id="percent"),
    pytest.param(lambda r: r["ai_detection"][0].update(ai_probability="0.02"), "ai_probability", id="text-number"),
    pytest.param(lambda r: r["ai_detection"][0].update(prediction="probably"), "prediction", id="unknown-prediction"),
]


@pytest.mark.parametrize(("spoil", "problem"), HOSTILE)
@pytest.mark.parametrize("fail_on_ai", [False, True])
def test_unreadable_ai_result_fails_closed(emu, tracks, make_context, monkeypatch, spoil, problem, fail_on_ai):
    real = AcrCloudHook.get_fs_files

    def answer(self, *args, **kwargs):
        records = real(self, *args, **kwargs)
        for rec in records:
            if rec["state"] in (1, -1):  # the finished answer (while scanning, results are empty lists)
                spoil(rec["results"])
        return records

    monkeypatch.setattr(AcrCloudHook, "get_fs_files", answer)
    with pytest.raises(InvalidResponseError, match=f"scan file .*song.wav.*{problem}.*not reported as 'not AI'"):
        scan(make_context, str(tracks["human"]), ai_detection=True, fail_on_ai=fail_on_ai)


def test_plain_scan_ignores_ai_results_it_did_not_ask_for(emu, tracks, make_context, monkeypatch):
    real = AcrCloudHook.get_fs_files
    monkeypatch.setattr(AcrCloudHook, "get_fs_files", lambda self, *a, **k: [
        {**r, "results": {**r["results"], "ai_detection": "junk"}} for r in real(self, *a, **k)])
    assert "ai_verdict" not in scan(make_context, str(tracks["human"]))


# ---- emulator determinism -----------------------------------------------------------------------------------
def test_emulator_detection_is_deterministic_per_file(emu, tracks, make_context):
    first = scan(make_context, [str(p) for p in tracks.values()], ai_detection=True)
    emu.reset()
    emu.state.settings["acrcloud.job_seconds"] = 0.05
    second = scan(make_context, [str(p) for p in tracks.values()], ai_detection=True)
    keys = ("source", "ai_verdict", "ai_probability", "ai_likely_source", "ai_prediction")
    assert [{k: r[k] for k in keys} for r in first] == [{k: r[k] for k in keys} for r in second]


@pytest.mark.parametrize(("name", "source"), [
    ("AI-Generated mix.wav", "suno"), ("my_udio_take.wav", "udio"), ("SUNO.wav", "suno"), ("plain.wav", None),
])
def test_emulator_name_rule(emu, tmp_path, make_context, name, source):
    path = tmp_path / name
    path.write_bytes(sine_wav(0.3, freq=300, sample_rate=8000))
    result = scan(make_context, str(path), ai_detection=True)
    assert result["ai_likely_source"] == source and result["ai_verdict"] == ("ai" if source else "human")


def test_marked_audio_is_still_valid_audio(tmp_path):
    from airflow_provider_music.testing.acrcloud_common import audio_duration

    plain = sine_wav(0.5, freq=350, sample_rate=8000)
    marked = mark_ai_generated(plain)
    assert AI_MARKER in marked and audio_duration(marked) == audio_duration(plain)


# ---- secrets ------------------------------------------------------------------------------------------------
def test_no_secret_in_ai_results_or_errors(emu, tracks, make_context, caplog, capsys):
    ctx = make_context()
    with caplog.at_level("DEBUG"):
        op = AcrCloudScanFileOperator(task_id="scan", source=[str(tracks["human"]), str(tracks["named"])],
                                      poll_interval=0.05, ai_detection=True, fail_on_ai=True)
        with pytest.raises(JobFailedError) as exc:
            op.execute(ctx)
    text = json.dumps(ctx["ti"].xcom_pushed) + str(exc.value) + json.dumps(exc.value.details)
    text += caplog.text + "".join(capsys.readouterr())
    assert emu.token and emu.token not in text
